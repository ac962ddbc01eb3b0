//! The admin panel and the admin API, served by axum in the roost process
//! on their own listener (`[admin] listen`, `--admin`), beside the IMAP
//! listeners and talking to the same store.
//!
//! - `service.rs`: what an administrator can do; pages and API both call it.
//! - `panel.rs`: server-rendered pages (templates in web-admin/), panel
//!   sessions (`sessions.rs`), CSRF checks.
//! - `api.rs`: `/api/v1` JSON with Bearer tokens and its OpenAPI document;
//!   errors as problem details (`problem.rs`).
//! - `state.rs`: what requests share: sign-in throttling, token checks.
//! - `server.rs`: the listener, HTTP/HTTPS, security headers, the router.
//! - `secrets.rs`: random tokens and the digests they are stored as.
//! - `metrics.rs`: Prometheus `/metrics`, here and on `[metrics] listen`.
//!
//! Administrators are not mail users (`store::admin`); a mail password
//! never opens the panel.

pub mod api;
pub mod metrics;
pub mod panel;
pub mod problem;
pub mod secrets;
pub mod server;
pub mod service;
pub mod sessions;
pub mod state;

use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;

use crate::server::Services;
use crate::store::{SetupToken, Store};

/// How long the first-start setup link works.
const SETUP_VALID_HOURS: i64 = 24;

/// Binds the admin listener (a failure stops the start, naming the
/// address and the setting) and serves it from its own thread. Returns
/// without doing anything when the panel is off. `extra` is served on the
/// same listener, outside the panel's sessions and the API's tokens.
pub fn start(services: &Services, extra: axum::Router) -> anyhow::Result<()> {
    let config = &services.config;
    let Some(addr) = config.admin.listen else {
        tracing::info!("admin panel off");
        return Ok(());
    };
    let listener = server::bind(addr)?;
    let tls = config.admin.tls.then(|| {
        let mut tls = (*services.tls).clone();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        tokio_rustls::TlsAcceptor::from(Arc::new(tls))
    });
    let writer = services
        .store
        .start_writer()
        .context("starting the store writer")?;
    let service = service::Service::new(services, writer);
    let state = Arc::new(
        state::AdminState::new(service, config.admin, config.auth, tls.is_some())
            .context("setting up the admin panel")?,
    );
    let scheme = if tls.is_some() { "https" } else { "http" };
    offer_setup(&services.store, &format!("{scheme}://{addr}"))?;
    server::spawn(listener, server::router(state, extra), tls)?;
    tracing::info!(%addr, tls = config.admin.tls, "admin panel listening");
    Ok(())
}

/// With no administrator yet, writes a one-time setup link to the log. A
/// new start makes a new link (the old one stops working).
fn offer_setup(store: &Store, base: &str) -> anyhow::Result<()> {
    if store.has_admins()? {
        return Ok(());
    }
    let token = secrets::random_secret();
    let expires = Utc::now() + chrono::Duration::hours(SETUP_VALID_HOURS);
    if store.put_setup_token(&SetupToken {
        sha256: secrets::digest(&token),
        expires,
    })? {
        tracing::warn!(
            "no administrator yet: create one at {base}/setup?token={token} \
             (valid once, for {SETUP_VALID_HOURS} h), or with `roost admin add NAME`"
        );
    }
    Ok(())
}
