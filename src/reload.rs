//! Reload on SIGHUP (`systemctl reload roost`): read the configuration file
//! and the TLS certificate and key again and apply what can change while
//! the server runs, without closing a connection.
//!
//! Live: the certificate (every handshake from now on; certbot renew hooks
//! can rely on it), `[limits]`, `[imap]` plaintext_auth and timeouts (each
//! for connections accepted from now on, as every listener takes the
//! configuration in force for each new connection; a session keeps the
//! settings it started with), `[auth]` (at once, failure counts kept),
//! `[log] level`.
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
use crate::tls::Tls;

/// Reads the configuration again, with the command line's overrides.
pub type LoadConfig = Box<dyn Fn() -> anyhow::Result<Config>>;

/// What a reload changes: the configuration in force (published to every
/// listener, which takes the latest for each new connection), the
/// certificate and the authenticator's limits.
pub struct Reloader {
    load: LoadConfig,
    tls: Tls,
    auth: Authenticator,
    settings: watch::Sender<Arc<Config>>,
}

impl Reloader {
    pub fn new(load: LoadConfig, current: Config, tls: Tls, auth: Authenticator) -> Reloader {
        let (settings, _) = watch::channel(Arc::new(current));
        Reloader {
            load,
            tls,
            auth,
            settings,
        }
    }

    /// The configuration in force, replaced by each successful reload.
    pub fn settings(&self) -> watch::Receiver<Arc<Config>> {
        self.settings.subscribe()
    }

    /// Reloads, logging what happened; on error nothing changes.
    pub fn reload(&mut self) {
        if let Err(e) = self.try_reload() {
            tracing::error!(
                error = %crate::logging::error_chain(&e),
                "reload refused; the running configuration and certificate stay in force"
            );
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
        let current = self.settings.borrow().clone();
        for (what, changed) in restart_only(&current, &new) {
            if changed {
                tracing::warn!(
                    setting = what,
                    "changed in the configuration; takes a restart to apply"
                );
            }
        }
        // The restart-only settings stay as they run, so the next reload
        // warns about them again.
        let mut applied = new;
        applied.data_dir = current.data_dir.clone();
        applied.imap_listen = current.imap_listen;
        applied.imaps_listen = current.imaps_listen;
        applied.search_index = current.search_index;
        applied.log.json = current.log.json;
        applied.metrics_listen = current.metrics_listen;
        applied.conn_limits = current.conn_limits;
        applied.auth.credential_cache_ttl = current.auth.credential_cache_ttl;
        self.auth.set_config(applied.auth);
        let log = applied.log.clone();
        self.settings.send_replace(Arc::new(applied));
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
fn restart_only(old: &Config, new: &Config) -> [(&'static str, bool); 10] {
    [
        (
            "limits.max_connections, limits.max_connections_per_ip, limits.max_connections_per_user",
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
        ("metrics.listen", old.metrics_listen != new.metrics_listen),
        // The panel's listener and sessions, and LMTP's listeners and
        // settings, are set up once at start.
        ("admin", old.admin != new.admin),
        ("lmtp", old.lmtp != new.lmtp),
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
        new.admin.listen = None;
        new.lmtp.domains = vec!["example.org".into()];
        let changed: Vec<&str> = restart_only(&old, &new)
            .iter()
            .filter(|(_, c)| *c)
            .map(|(w, _)| *w)
            .collect();
        assert_eq!(changed, ["imap.listen", "admin", "lmtp"]);
    }
}
