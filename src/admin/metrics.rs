//! `/metrics`: the process's Prometheus metrics (`crate::metrics`) over
//! HTTP, on the admin listener and, with `[metrics] listen`, on a listener
//! of its own.
//!
//! A scraper on this host (a loopback peer, not through a proxy) needs no
//! token; any other must send an API token (`Authorization: Bearer`), the
//! same the admin API takes. The values that cost a read (store size and
//! free pages, index size) are read per scrape, off the async threads.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::problem::{Kind, Problem};
use super::state::{Peer, check_token};
use crate::metrics::{self, Scrape};
use crate::store::Store;

/// What a scrape reads besides the counters.
#[derive(Clone)]
struct Source {
    store: Store,
    /// The search index's directory; `None` when the index is off.
    index_dir: Option<PathBuf>,
}

/// The `/metrics` route, for the admin listener's router and the metrics
/// listener alike.
pub fn routes(store: Store, index_dir: Option<PathBuf>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Source { store, index_dir })
}

/// Binds `[metrics] listen` now (a failure stops the start, naming the
/// address and the setting) and serves `routes` there from its own thread.
pub fn start_listener(addr: SocketAddr, routes: Router) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(addr).with_context(|| {
        format!("binding the metrics listener on {addr} (change or turn off [metrics] listen)")
    })?;
    listener
        .set_nonblocking(true)
        .context("setting the metrics listener non-blocking")?;
    super::server::spawn(listener, routes, None)?;
    tracing::info!(%addr, "metrics listening");
    Ok(())
}

/// Headers a reverse proxy adds: a request that has one came from
/// wherever the proxy's client is, whatever the peer address says.
const PROXY_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// Whether a request may be answered without a token: from this host, and
/// not passed on by a proxy running on it.
fn needs_no_token(peer: IpAddr, headers: &HeaderMap) -> bool {
    peer.to_canonical().is_loopback() && !PROXY_HEADERS.iter().any(|h| headers.contains_key(*h))
}

/// Whether the scraper asked for OpenMetrics (Prometheus itself does).
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"))
}

async fn scrape(
    State(source): State<Source>,
    Extension(Peer(peer)): Extension<Peer>,
    headers: HeaderMap,
) -> Response {
    let open = needs_no_token(peer.ip(), &headers);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let openmetrics = wants_openmetrics(&headers);
    let rendered = tokio::task::spawn_blocking(move || {
        if !open {
            check_token(&source.store, authorization.as_deref(), peer.ip())?;
        }
        let scrape = read_scrape(&source)?;
        Ok::<String, Problem>(metrics::render(&scrape, openmetrics))
    })
    .await;
    match rendered {
        Ok(Ok(text)) => {
            let mut resp = text.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(metrics::content_type(openmetrics)),
            );
            resp
        }
        Ok(Err(problem)) => problem.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics scrape failed");
            Problem::new(Kind::Unavailable, "the metrics cannot be read now").into_response()
        }
    }
}

/// The values read per scrape. A store that cannot be read fails the
/// scrape (the scraper sees the target down) rather than report zeros.
fn read_scrape(source: &Source) -> Result<Scrape, Problem> {
    let space = source.store.space().map_err(|e| {
        tracing::error!(error = %e, "metrics: cannot read the store's size");
        Problem::new(Kind::Unavailable, "the store cannot be read now")
    })?;
    Ok(Scrape {
        store_file_bytes: space.file_bytes,
        store_free_pages: space.free_pages,
        index_bytes: source.index_dir.as_deref().map(dir_bytes),
    })
}

/// The bytes of the files in `dir` and its subdirectories; what cannot be
/// read (a file a commit just removed) counts as nothing.
fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_a_direct_loopback_peer_goes_without_a_token() {
        let none = headers(&[]);
        for open in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"] {
            let ip: IpAddr = open.parse().expect("ip");
            assert!(needs_no_token(ip, &none), "{open}");
        }
        for closed in [
            "192.0.2.2",
            "10.0.0.1",
            "fd00::2",
            "::ffff:192.0.2.2",
            "0.0.0.0",
        ] {
            let ip: IpAddr = closed.parse().expect("ip");
            assert!(!needs_no_token(ip, &none), "{closed}");
        }
        let local: IpAddr = "127.0.0.1".parse().expect("ip");
        for h in PROXY_HEADERS {
            assert!(
                !needs_no_token(local, &headers(&[(h, "203.0.113.9")])),
                "{h}"
            );
        }
    }

    #[test]
    fn openmetrics_only_when_asked() {
        assert!(!wants_openmetrics(&headers(&[])));
        assert!(!wants_openmetrics(&headers(&[("accept", "text/plain")])));
        assert!(wants_openmetrics(&headers(&[(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        )])));
    }
}
