//! What every admin request shares: the service, panel sessions, sign-in
//! throttling, and the checks of API tokens and administrator passwords.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::problem::{Kind, Problem};
use super::secrets;
use super::service::{Actor, AdminError, Service};
use super::sessions::Sessions;
use crate::auth::limiter::Verdict;
use crate::auth::{FailureLimiter, hash_password, verify_password};
use crate::config::{AdminConfig, AuthConfig};
use crate::store::Store;

/// The client's address, put on each request by the connection loop.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

pub struct AdminState {
    pub service: Service,
    pub sessions: Mutex<Sessions>,
    limiter: Mutex<FailureLimiter>,
    failure_delay: Duration,
    /// Verified against for unknown names, so they cost what a real check
    /// costs.
    dummy_hash: String,
    pub config: AdminConfig,
    /// Served over HTTPS: cookies get `Secure` and the `__Host-` prefix.
    pub https: bool,
}

/// The outcome of an administrator sign-in.
#[derive(Debug, PartialEq, Eq)]
pub enum SignIn {
    Ok(String),
    Failed,
    Throttled,
}

impl AdminState {
    pub fn new(
        service: Service,
        config: AdminConfig,
        auth: AuthConfig,
        https: bool,
    ) -> anyhow::Result<AdminState> {
        let mut random = [0u8; 32];
        rand::fill(&mut random);
        // Sign-in failures are refused per address and per (address, name),
        // and only slowed per name: someone guessing from elsewhere never
        // locks the real administrator out, and every count ends with its
        // window (`auth::limiter`).
        let limits = AuthConfig {
            max_failures_per_ip: auth.max_failures_per_ip,
            max_failures_per_user: auth.max_failures_per_user.min(10),
            ..auth
        };
        Ok(AdminState {
            service,
            sessions: Mutex::new(Sessions::new(config.session_idle, config.session_max)),
            limiter: Mutex::new(FailureLimiter::new(&limits, 4096)),
            failure_delay: auth.failure_delay,
            dummy_hash: hash_password(&random)?,
            config,
            https,
        })
    }

    /// Runs blocking work (LMDB, argon2) off the async threads.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, Problem>
    where
        T: Send + 'static,
        F: FnOnce(&Service) -> Result<T, AdminError> + Send + 'static,
    {
        let state = Arc::clone(self);
        match tokio::task::spawn_blocking(move || f(&state.service)).await {
            Ok(r) => r.map_err(Problem::from),
            Err(e) => {
                tracing::error!(error = %e, "admin task failed");
                Err(Problem::new(
                    Kind::Unavailable,
                    "the server could not do this now",
                ))
            }
        }
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, FailureLimiter> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks an administrator's password (never a mail user's: the
    /// tables are separate). Failures wait the configured delay and count.
    pub async fn sign_in(self: &Arc<Self>, name: &str, password: String, peer: IpAddr) -> SignIn {
        let key = name.to_ascii_lowercase();
        let verdict = self.limiter().assess(peer, &key, Instant::now());
        let wait = match verdict {
            Verdict::Check { wait } => wait,
            Verdict::Refuse => {
                tracing::info!(admin = %name, %peer, "admin sign-in refused: too many failures");
                let _ = self
                    .run({
                        let (who, from) = (format!("admin {key}"), peer.to_string());
                        move |s| {
                            s.audit(&Actor { who, from }, "admin.login.throttled", "");
                            Ok(())
                        }
                    })
                    .await;
                return SignIn::Throttled;
            }
        };
        // A name under attack from many addresses is slowed, not locked.
        tokio::time::sleep(wait).await;
        let state = Arc::clone(self);
        let lookup = name.to_owned();
        let checked = tokio::task::spawn_blocking(move || {
            let record = state.service.store.get_admin(&lookup).ok().flatten();
            match record {
                Some(a) => verify_password(password.as_bytes(), &a.password_hash)
                    .unwrap_or(false)
                    .then_some(a.name),
                None => {
                    let _ = verify_password(password.as_bytes(), &state.dummy_hash);
                    None
                }
            }
        })
        .await
        .ok()
        .flatten();
        let actor = Actor {
            who: format!("admin {}", name.to_ascii_lowercase()),
            from: peer.to_string(),
        };
        match checked {
            Some(admin) => {
                self.limiter().record_success(peer, &key, Instant::now());
                let _ = self
                    .run(move |s| {
                        s.audit(&actor, "admin.login", "");
                        Ok(())
                    })
                    .await;
                SignIn::Ok(admin)
            }
            None => {
                self.limiter().record_failure(peer, &key, Instant::now());
                let _ = self
                    .run(move |s| {
                        s.audit(&actor, "admin.login.failed", "");
                        Ok(())
                    })
                    .await;
                tokio::time::sleep(self.failure_delay).await;
                SignIn::Failed
            }
        }
    }

    /// The actor behind an `Authorization: Bearer` header, or the 401.
    pub fn check_token(&self, header: Option<&str>, peer: IpAddr) -> Result<Actor, Problem> {
        check_token(&self.service.store, header, peer)
    }
}

/// The actor behind an `Authorization: Bearer` header (an API token of
/// `roost admin token create`, live and unrevoked), or the 401. Also what
/// `/metrics` asks of a request from another host.
pub fn check_token(store: &Store, header: Option<&str>, peer: IpAddr) -> Result<Actor, Problem> {
    let unauthorized = |d: &str| Problem::new(Kind::Unauthorized, d);
    let Some(value) = header else {
        return Err(unauthorized(
            "send an API token: Authorization: Bearer TOKEN",
        ));
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer TOKEN`"))?;
    let found = store
        .token_by_digest(&secrets::digest(token))
        .map_err(|e| {
            tracing::error!(error = %e, "cannot read the tokens");
            Problem::new(Kind::Unavailable, "tokens cannot be checked now")
        })?;
    let Some(t) = found else {
        return Err(unauthorized("the token is not valid"));
    };
    if t.revoked.is_some() {
        return Err(unauthorized("the token has been revoked"));
    }
    if !t.is_live(Utc::now()) {
        return Err(unauthorized("the token has expired"));
    }
    Ok(Actor {
        who: format!("token {} (admin {})", t.name, t.admin),
        from: peer.to_string(),
    })
}
