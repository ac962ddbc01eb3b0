//! The admin listener: its own thread and tokio runtime beside the IMAP
//! arbiters, HTTP or HTTPS (the server's certificate), one router for the
//! panel, the API and whatever else is served here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio_rustls::TlsAcceptor;

use super::state::{AdminState, Peer};
use super::{api, panel};

/// Largest request body: forms and JSON are small.
const BODY_LIMIT: usize = 64 * 1024;
/// A TLS handshake must finish in this time.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the listener now, so a bad address stops `roost serve` at start
/// with a message naming the address and how to change it.
pub fn bind(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr).with_context(|| {
        format!(
            "binding the admin listener on {addr} (change it with --admin ADDR:PORT or \
             [admin] listen, or turn it off with --admin off)"
        )
    })?;
    listener
        .set_nonblocking(true)
        .context("setting the admin listener non-blocking")?;
    Ok(listener)
}

/// The whole admin site. `extra` is merged at the top level: routes other
/// parts of roost serve on the admin listener (e.g. Prometheus `/metrics`)
/// go there, outside the panel's sessions and the API's tokens.
pub fn router(state: Arc<AdminState>, extra: Router) -> Router {
    let site = Router::new()
        .merge(panel::routes())
        .nest("/api/v1", api::routes())
        .with_state(state);
    site.merge(extra)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(security_headers))
}

/// Headers on every answer: no framing, no sniffing, no referrer, and a
/// CSP that allows no inline script or style.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    resp
}

/// Serves on `listener` from a new thread until the process ends.
pub fn spawn(
    listener: std::net::TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(8)
        .thread_name("roost-admin")
        .enable_all()
        .build()
        .context("starting the admin runtime")?;
    std::thread::Builder::new()
        .name("roost-admin".into())
        .spawn(move || runtime.block_on(serve(listener, app, tls)))
        .context("starting the admin thread")?;
    Ok(())
}

async fn serve(listener: std::net::TcpListener, app: Router, tls: Option<TlsAcceptor>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot use the admin listener");
            return;
        }
    };
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let app = app.clone().layer(axum::Extension(Peer(peer)));
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(app);
            let builder = auto::Builder::new(TokioExecutor::new());
            let result = match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "admin TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    }
                }
                None => builder.serve_connection(TokioIo::new(tcp), service).await,
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "admin connection ended");
            }
        });
    }
}
