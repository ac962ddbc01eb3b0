//! The IMAP listeners: bind IMAP (STARTTLS) and IMAPS (implicit TLS), or
//! take the sockets systemd bound for them, and hand each accepted connection to a `Conn` actor on one of the worker
//! arbiters. The process around them is `crate::server`'s.

use std::collections::HashMap;
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
use crate::config::Config;
use crate::conn_limits::{ConnSlot, RateLimitedLog};
use crate::server::Services;

/// Starts accepting on every IMAP listener: the socket systemd passed under
/// the listener's name (`imap`, `imaps`; taken out of `inherited`) or else
/// the configured address, bound here. The returned tasks are aborted at
/// shutdown. None are returned when no IMAP listener is configured.
pub async fn spawn(
    services: &Services,
    inherited: &mut HashMap<String, std::net::TcpListener>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let config = &services.config;
    let mut accept_tasks = Vec::new();
    for (addr, implicit_tls) in [(config.imap_listen, false), (config.imaps_listen, true)] {
        let name = if implicit_tls { "imaps" } else { "imap" };
        let listener = match (inherited.remove(name), addr) {
            // Socket activation: systemd bound it; the configured address
            // is not used.
            (Some(socket), _) => TcpListener::from_std(socket)
                .with_context(|| format!("taking the {name} socket from systemd"))?,
            (None, None) => continue,
            (None, Some(addr)) => TcpListener::bind(addr).await.with_context(|| {
                format!(
                    "binding the IMAP{} listener on {addr}",
                    if implicit_tls { "S" } else { "" }
                )
            })?,
        };
        let addr = listener
            .local_addr()
            .context("reading the listener's address")?;
        tracing::info!(%addr, implicit_tls, "listening");
        accept_tasks.push(actix_rt::spawn(accept_loop(
            listener,
            implicit_tls,
            services.clone(),
        )));
    }
    Ok(accept_tasks)
}

/// What every connection accepted under `config` shares.
fn conn_shared(services: &Services, config: &Config, implicit_tls: bool) -> Arc<ConnShared> {
    Arc::new(ConnShared {
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
        max_user_sessions: config.conn_limits.per_user,
        user_limit_log: services.user_limit_log.clone(),
    })
}

async fn accept_loop(listener: TcpListener, implicit_tls: bool, services: Services) {
    let limits = &services.conn_limits;
    let mut settings = services.settings.clone();
    let mut shared = conn_shared(&services, &settings.borrow_and_update(), implicit_tls);
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
        // A reload since the last connection: this one gets the settings
        // in force now (open connections keep theirs).
        if settings.has_changed().unwrap_or(false) {
            shared = conn_shared(&services, &settings.borrow_and_update(), implicit_tls);
        }
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
