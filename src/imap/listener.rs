//! The IMAP listeners: bind IMAP (STARTTLS) and IMAPS (implicit TLS) and
//! hand each accepted connection to a `Conn` actor on one of the worker
//! arbiters. The process around them is `crate::server`'s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_rt::task::JoinHandle;
use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::conn::{Conn, ConnShared};
use super::session::SessionConfig;
use crate::conn_limits::{ConnSlot, RateLimitedLog};
use crate::server::Services;

/// Binds every configured IMAP listener and starts accepting on it; the
/// returned tasks are aborted at shutdown. None are returned when no IMAP
/// listener is configured.
pub async fn spawn(services: &Services) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let config = &services.config;
    let mut accept_tasks = Vec::new();
    for (addr, implicit_tls) in [(config.imap_listen, false), (config.imaps_listen, true)] {
        let Some(addr) = addr else { continue };
        let listener = TcpListener::bind(addr).await.with_context(|| {
            format!(
                "binding the IMAP{} listener on {addr}",
                if implicit_tls { "S" } else { "" }
            )
        })?;
        tracing::info!(%addr, implicit_tls, "listening");
        let shared = Arc::new(ConnShared {
            session_cfg: Arc::new(SessionConfig {
                frame_limits: config.frame_limits,
                parse_limits: config.parse_limits,
                plaintext_auth: config.plaintext_auth,
                timeouts: config.timeouts,
                starttls_available: !implicit_tls,
            }),
            tls: TlsAcceptor::from(services.tls.clone()),
            auth: services.auth.clone(),
            mail: services.mail.clone(),
            mailboxes: services.mailboxes.clone(),
            shutdown: services.shutdown.clone(),
            live: services.live.clone(),
        });
        accept_tasks.push(actix_rt::spawn(accept_loop(
            listener,
            implicit_tls,
            shared,
            services.clone(),
        )));
    }
    Ok(accept_tasks)
}

async fn accept_loop(
    listener: TcpListener,
    implicit_tls: bool,
    shared: Arc<ConnShared>,
    services: Services,
) {
    let limits = &services.conn_limits;
    let failed_accepts = RateLimitedLog::default();
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: back off, keep
                // going, and say so once per interval, not once per try.
                if let Some(count) = failed_accepts.note(Instant::now()) {
                    tracing::warn!(error = %e, failed = count, live = limits.live(), "accept failed");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let slot = match limits.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                limits.log_refusal(peer, why, Instant::now());
                if !implicit_tls {
                    // RFC 3501 §7.1.5: BYE as the greeting; best effort,
                    // never waiting on the client. An implicit-TLS client
                    // could not read it before a handshake: it is closed.
                    let bye = format!("* BYE [UNAVAILABLE] {}\r\n", why.reason());
                    let _ = tcp.try_write(bye.as_bytes());
                }
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let id = services.next_conn_id.fetch_add(1, Ordering::Relaxed);
        // A tokio socket belongs to the runtime that registered it: move it
        // to the worker as a std socket and register it there.
        let std_tcp = match tcp.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, %peer, "could not hand over connection");
                continue;
            }
        };
        let worker = services.worker(id);
        let shared = shared.clone();
        worker.spawn(async move {
            start_conn(std_tcp, peer, implicit_tls, id, shared, slot);
        });
    }
}

fn start_conn(
    std_tcp: std::net::TcpStream,
    peer: SocketAddr,
    implicit_tls: bool,
    id: u64,
    shared: Arc<ConnShared>,
    slot: ConnSlot,
) {
    match tokio::net::TcpStream::from_std(std_tcp) {
        Ok(tcp) => Conn::start(tcp, peer, implicit_tls, id, shared, slot),
        Err(e) => tracing::warn!(error = %e, %peer, "could not register connection"),
    }
}
