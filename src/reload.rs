//! Reload on SIGHUP (`systemctl reload roost`): read the configuration file
//! and the TLS certificate and key again and apply what can change while
//! the server runs, without closing a connection.
//!
//! Live: the certificate (every handshake from now on; certbot renew hooks
//! can rely on it), `[limits]`, `[imap]` plaintext_auth and timeouts (each
//! for connections accepted from now on; a session keeps the settings it
//! started with), `[auth]` (at once, failure counts kept), `[log] level`.
//! `[quota]` defaults are read by `roost user add` itself. The listen
//! addresses, the connection limits, `auth.credential_cache_secs`,
//! `data_dir`, `[search] index` and the log format take a restart: a
//! change to them is logged and left for it.
//!
//! A reload is all or nothing: a configuration that does not parse or
//! validate, or a certificate or key that does not load or match, is
//! refused with the reason logged, and everything in force stays.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::watch;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::imap::conn::ConnShared;
use crate::imap::session::SessionConfig;
use crate::tls::Tls;

/// Reads the configuration again, with the command line's overrides.
pub type LoadConfig = Box<dyn Fn() -> anyhow::Result<Config>>;

/// The per-connection settings of a listener, as `config` gives them.
pub fn session_config(config: &Config, implicit_tls: bool) -> SessionConfig {
    SessionConfig {
        frame_limits: config.frame_limits,
        parse_limits: config.parse_limits,
        plaintext_auth: config.plaintext_auth,
        timeouts: config.timeouts,
        starttls_available: !implicit_tls,
    }
}

/// What a reload changes: the configuration in force, the certificate, the
/// authenticator and each listener's shared state (which its accept loop
/// reads for every new connection).
pub struct Reloader {
    load: LoadConfig,
    current: Config,
    tls: Tls,
    auth: Authenticator,
    /// (implicit TLS, what new connections on the listener get).
    listeners: Vec<(bool, watch::Sender<Arc<ConnShared>>)>,
}

impl Reloader {
    pub fn new(load: LoadConfig, current: Config, tls: Tls, auth: Authenticator) -> Reloader {
        Reloader {
            load,
            current,
            tls,
            auth,
            listeners: Vec::new(),
        }
    }

    /// Registers a listener; its accept loop takes the latest value of the
    /// returned channel for each connection.
    pub fn listener(
        &mut self,
        implicit_tls: bool,
        shared: ConnShared,
    ) -> watch::Receiver<Arc<ConnShared>> {
        let (tx, rx) = watch::channel(Arc::new(shared));
        self.listeners.push((implicit_tls, tx));
        rx
    }

    pub fn config(&self) -> &Config {
        &self.current
    }

    /// Reloads, logging what happened; on error nothing changes.
    pub fn reload(&mut self) {
        match self.try_reload() {
            Ok(()) => {}
            Err(e) => tracing::error!(
                error = %format!("{e:#}"),
                "reload refused; the running configuration and certificate stay in force"
            ),
        }
    }

    fn try_reload(&mut self) -> anyhow::Result<()> {
        let new = (self.load)().context("reading the configuration")?;
        // The certificate is the one step that can fail: done first, so a
        // refusal leaves everything as it was.
        let fingerprint = self
            .tls
            .reload(&new)
            .context("loading the TLS certificate")?;
        for (what, changed) in restart_only(&self.current, &new) {
            if changed {
                tracing::warn!(
                    setting = what,
                    "changed in the configuration; takes a restart to apply"
                );
            }
        }
        let mut auth = new.auth;
        auth.credential_cache_ttl = self.current.auth.credential_cache_ttl;
        self.auth.set_config(auth);
        for (implicit_tls, tx) in &self.listeners {
            let old = tx.borrow().clone();
            let shared = ConnShared {
                session_cfg: Arc::new(session_config(&new, *implicit_tls)),
                tls: old.tls.clone(),
                auth: old.auth.clone(),
                mail: old.mail.clone(),
                hub: old.hub.clone(),
                shutdown: old.shutdown.clone(),
                live: old.live.clone(),
            };
            tx.send_replace(Arc::new(shared));
        }
        // The restart-only settings stay as they run, so the next reload
        // warns about them again.
        let mut applied = new;
        applied.data_dir = self.current.data_dir.clone();
        applied.imap_listen = self.current.imap_listen;
        applied.imaps_listen = self.current.imaps_listen;
        applied.search_index = self.current.search_index;
        applied.log.json = self.current.log.json;
        applied.conn_limits = self.current.conn_limits;
        applied.auth.credential_cache_ttl = self.current.auth.credential_cache_ttl;
        let log = applied.log.clone();
        self.current = applied;
        // Said under whichever filter, old or new, lets it through, so a
        // reload is in the log whether the level got quieter or louder.
        let said = tracing::enabled!(tracing::Level::INFO);
        if said {
            tracing::info!(sha256 = %fingerprint, log_level = %log.level, "configuration reloaded");
        }
        if let Err(e) = crate::logging::set_level(&log) {
            tracing::warn!(error = %e, "cannot change the log filter");
        }
        if !said {
            tracing::info!(sha256 = %fingerprint, log_level = %log.level, "configuration reloaded");
        }
        Ok(())
    }
}

/// The settings a reload cannot apply, and whether `new` changes each.
fn restart_only(old: &Config, new: &Config) -> [(&'static str, bool); 7] {
    [
        (
            "limits.max_connections, limits.max_connections_per_ip",
            old.conn_limits != new.conn_limits,
        ),
        (
            "auth.credential_cache_secs",
            old.auth.credential_cache_ttl != new.auth.credential_cache_ttl,
        ),
        ("data_dir", old.data_dir != new.data_dir),
        ("imap.listen", old.imap_listen != new.imap_listen),
        ("imap.listen_tls", old.imaps_listen != new.imaps_listen),
        ("search.index", old.search_index != new.search_index),
        ("log.format", old.log.json != new.log.json),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_only_settings_are_told_apart() {
        let old = Config::default();
        let mut new = Config::default();
        assert!(restart_only(&old, &new).iter().all(|(_, changed)| !changed));
        new.imap_listen = None;
        new.log.level = "debug".into();
        let changed: Vec<&str> = restart_only(&old, &new)
            .iter()
            .filter(|(_, c)| *c)
            .map(|(w, _)| *w)
            .collect();
        assert_eq!(changed, ["imap.listen"]);
    }
}
