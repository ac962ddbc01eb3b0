//! The process: opens the store, starts its writer, the search index, the
//! authenticator and the mail service, the worker arbiters, and each
//! protocol's listeners (given the same `Services`); tells systemd when it
//! is ready and keeps its watchdog fed (`systemd`); on SIGHUP reloads
//! (`reload`); on SIGTERM or SIGINT, makes every session say BYE and
//! returns once they are gone.

use std::os::unix::fs::DirBuilderExt as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_rt::{Arbiter, ArbiterHandle};
use anyhow::Context as _;
use tokio::sync::watch;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::conn_limits::ConnLimits;
use crate::mailbox::MailAccess;
use crate::mailbox::registry::{Changed, Registry};
use crate::reload::{LoadConfig, Reloader};
use crate::search::index::SearchIndex;
use crate::store::Store;
use crate::{systemd, tls};
use actix::{Actor as _, Addr};

/// How long shutdown waits for sessions to say BYE before exiting anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What every protocol's listeners are started with. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    /// The configuration the process started with.
    pub config: Arc<Config>,
    /// The configuration in force: a reload (SIGHUP) replaces it, and a
    /// listener takes the latest for each new connection.
    pub settings: watch::Receiver<Arc<Config>>,
    pub store: Store,
    /// The TLS server configuration (PEM files or the generated certificate).
    pub tls: Arc<tokio_rustls::rustls::ServerConfig>,
    /// The mail service: reads, durable writes, news of changes.
    pub mail: MailAccess,
    pub auth: Authenticator,
    /// The mailbox owners' registry: where a connection says which
    /// mailbox it watches for changes.
    pub mailboxes: Addr<Registry>,
    /// Turns true when the server shuts down: every session says BYE.
    pub shutdown: watch::Receiver<bool>,
    /// Live connections, counted by each connection actor, so shutdown can
    /// wait for the BYEs to go out.
    pub live: Arc<AtomicUsize>,
    /// The worker arbiters connections are spread over.
    pub workers: Arc<Vec<ArbiterHandle>>,
    /// Connection ids, unique over every protocol.
    pub next_conn_id: Arc<AtomicU64>,
    /// How many client connections may be held, in total and per address.
    pub conn_limits: ConnLimits,
    /// Logins refused over `limits.max_connections_per_user`, for a log
    /// line at most once per interval.
    pub user_limit_log: Arc<crate::conn_limits::RateLimitedLog>,
}

impl Services {
    /// The worker arbiter connection `id` runs on.
    pub fn worker(&self, id: u64) -> &ArbiterHandle {
        &self.workers[(id as usize) % self.workers.len()]
    }
}

/// Runs the server until SIGTERM or SIGINT. Must be called inside an actix
/// `System`. `reload` reads the configuration again on SIGHUP.
pub async fn run(config: Config, reload: LoadConfig) -> anyhow::Result<()> {
    let open_files = raise_fd_limit();
    let conn_limits = ConnLimits::new(config.conn_limits, open_files);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    // Held until the process ends: no second server, no restore under us.
    let _dir_lock = crate::datadir::DirLock::take(&config.data_dir)?;
    let store = Store::open(&config.data_dir)
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
    match &config.file {
        Some(file) => {
            tracing::info!(file = %file.display(), data_dir = %config.data_dir.display(), "configuration")
        }
        None => {
            tracing::info!(data_dir = %config.data_dir.display(), "configuration: built-in defaults")
        }
    }
    let tls = tls::Tls::new(&config).context("setting up TLS")?;
    let writer = store.start_writer().context("starting the store writer")?;
    let health_writer = writer.clone();
    let mailboxes = Registry::default().start();
    let notify = mailboxes.clone();
    let mut mail = MailAccess::new(store.clone(), writer).with_notifier(std::sync::Arc::new(
        move |mailbox_ids| notify.do_send(Changed { mailbox_ids }),
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

    let workers: Vec<Arbiter> = (0..worker_count()).map(|_| Arbiter::new()).collect();
    let handles: Vec<ArbiterHandle> = workers.iter().map(|a| a.handle()).collect();
    let handles = Arc::new(handles);

    let mut reloader = Reloader::new(reload, config.clone(), tls.clone(), auth.clone());
    let services = Services {
        config: Arc::new(config),
        settings: reloader.settings(),
        store,
        tls: tls.server_config(),
        mail,
        auth,
        mailboxes,
        shutdown: shutdown_rx,
        live: live.clone(),
        workers: handles,
        next_conn_id: Arc::new(AtomicU64::new(1)),
        conn_limits,
        user_limit_log: Arc::default(),
    };
    // Sockets systemd bound for us (socket activation), by name.
    let mut inherited = systemd::inherited_listeners()?;
    // Each protocol binds its own listeners here, beside IMAP's. The admin
    // listener first: the panel and its setup link are up once IMAP is.
    // Routes other parts serve on the admin listener go in the router
    // passed here: Prometheus `/metrics`, also on `[metrics] listen`.
    let index_dir = services
        .config
        .search_index
        .then(|| crate::search::index::index_dir(&services.config.data_dir));
    let metrics = crate::admin::metrics::routes(services.store.clone(), index_dir);
    crate::admin::start(&services, metrics.clone())?;
    if let Some(addr) = services.config.metrics_listen {
        crate::admin::metrics::start_listener(addr, metrics)?;
    }
    let mut accept_tasks = crate::imap::listener::spawn(&services, &mut inherited).await?;
    if accept_tasks.is_empty() {
        anyhow::bail!(
            "no IMAP listener is configured (imap.listen and imap.listen_tls are both empty)"
        );
    }
    accept_tasks.extend(crate::lmtp::listener::spawn(&services).await?);

    // Signals are caught from before READY on: a SIGTERM sent the moment
    // systemd (or a test) hears READY must stop the server gracefully, not
    // kill it with the default action.
    let signals = Signals::install()?;
    // Ready: the store is open and every listener bound.
    let users = services.store.list_users().map(|u| u.len()).unwrap_or(0);
    systemd::ready(&systemd::status_line(0, users));
    tracing::info!(users, "ready");
    let supervisor = actix_rt::spawn(systemd::supervise(
        services.store.clone(),
        health_writer,
        live.clone(),
    ));

    wait_for_signal(signals, &mut reloader, &live, &services.store).await;
    systemd::stopping();
    supervisor.abort();
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

/// The signals the server acts on, caught once installed.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
        })
    }
}

/// Returns on SIGTERM or SIGINT; reloads on every SIGHUP.
async fn wait_for_signal(
    signals: Signals,
    reloader: &mut Reloader,
    live: &AtomicUsize,
    store: &Store,
) {
    let Signals {
        mut term,
        mut int,
        mut hup,
    } = signals;
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                systemd::reloading();
                reloader.reload();
                let users = store.list_users().map(|u| u.len()).unwrap_or(0);
                systemd::ready(&systemd::status_line(live.load(Ordering::Relaxed), users));
            }
        }
    }
}
