//! The IMAP listeners: accept connections and hand each to a `Conn` actor on
//! one of the worker arbiters; on SIGTERM or SIGINT, make every session say
//! BYE and return once they are gone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_rt::{Arbiter, ArbiterHandle};
use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::conn::{Conn, ConnShared};
use super::session::SessionConfig;
use crate::auth::Authenticator;
use crate::config::Config;
use crate::conn_limits::{ConnLimits, ConnSlot, RateLimitedLog};
use crate::imap::hub::{Changed, Hub};
use crate::imap::mail::MailAccess;
use crate::search_index::SearchIndex;
use crate::store::Store;
use crate::tls;
use actix::Actor as _;

/// How long shutdown waits for sessions to say BYE before exiting anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the server until SIGTERM or SIGINT. Must be called inside an actix
/// `System`.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let open_files = raise_fd_limit();
    let limits = ConnLimits::new(config.conn_limits, open_files);
    let store = Store::open(&config.data_dir)
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
    let tls = tls::server_config(&config).context("setting up TLS")?;
    let writer = store.start_writer().context("starting the store writer")?;
    let hub = Hub::default().start();
    let notify_hub = hub.clone();
    let mut mail = MailAccess::new(store.clone(), writer).with_notifier(std::sync::Arc::new(
        move |mailbox_ids| notify_hub.do_send(Changed { mailbox_ids }),
    ));
    if config.search_index {
        let index = SearchIndex::start(&config.data_dir, store.clone())
            .context("opening the search index")?;
        mail = mail.with_search_index(index);
    }
    let auth =
        Authenticator::new(store.clone(), config.auth).context("setting up authentication")?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let live = Arc::new(AtomicUsize::new(0));
    crate::admin::start(
        &config,
        crate::admin::AdminDeps {
            store: store.clone(),
            writer: store.start_writer().context("starting the store writer")?,
            connections: live.clone(),
            tls: tls.clone(),
        },
        axum::Router::new(),
    )?;
    let next_id = Arc::new(AtomicU64::new(1));

    let workers: Vec<Arbiter> = (0..worker_count()).map(|_| Arbiter::new()).collect();
    let handles: Vec<ArbiterHandle> = workers.iter().map(|a| a.handle()).collect();
    let handles = Arc::new(handles);

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
            tls: TlsAcceptor::from(tls.clone()),
            auth: auth.clone(),
            mail: mail.clone(),
            hub: hub.clone(),
            shutdown: shutdown_rx.clone(),
            live: live.clone(),
        });
        accept_tasks.push(actix_rt::spawn(accept_loop(
            listener,
            implicit_tls,
            shared,
            limits.clone(),
            handles.clone(),
            next_id.clone(),
        )));
    }
    if accept_tasks.is_empty() {
        anyhow::bail!(
            "no IMAP listener is configured (imap.listen and imap.listen_tls are both empty)"
        );
    }

    wait_for_signal().await?;
    tracing::info!("shutting down");
    for t in &accept_tasks {
        t.abort();
    }
    let _ = shutdown_tx.send(true);
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    while live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for w in workers {
        w.stop();
    }
    tracing::info!(remaining = live.load(Ordering::SeqCst), "stopped");
    Ok(())
}

/// Every connection holds a socket, and a login shell's soft limit on open
/// files is often 1,024: thousands of idle connections would then be
/// refused at accept (EMFILE) long before memory is short. The soft limit
/// is raised to the hard one, which the systemd unit sets (LimitNOFILE).
#[allow(unsafe_code)]
fn raise_fd_limit() -> Option<u64> {
    /// Linux refuses a soft limit above fs.nr_open (1,048,576 by default),
    /// so an unlimited hard limit is not copied as it is.
    const CAP: libc::rlim_t = 1 << 20;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read or write the struct given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot read the open-file limit");
        return None;
    }
    let want = lim.rlim_max.min(CAP);
    if lim.rlim_cur < want {
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = want;
        } else {
            tracing::warn!(error = %std::io::Error::last_os_error(), "cannot raise the open-file limit");
        }
    }
    tracing::info!(open_files = lim.rlim_cur, "open-file limit");
    Some(lim.rlim_cur)
}

fn worker_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

async fn accept_loop(
    listener: TcpListener,
    implicit_tls: bool,
    shared: Arc<ConnShared>,
    limits: ConnLimits,
    workers: Arc<Vec<ArbiterHandle>>,
    next_id: Arc<AtomicU64>,
) {
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
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        // A tokio socket belongs to the runtime that registered it: move it
        // to the worker as a std socket and register it there.
        let std_tcp = match tcp.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, %peer, "could not hand over connection");
                continue;
            }
        };
        let worker = &workers[(id as usize) % workers.len()];
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

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
