//! Authentication: checking a user name and password against the store,
//! with throttling and without telling an attacker anything.
//!
//! What a caller can learn from `Authenticator::verify` is success or not:
//! an unknown user name is checked against a dummy hash made with the same
//! parameters as real ones, so it costs the same time, and every failure
//! waits `failure_delay` before the answer. Failures are counted per client
//! address, per address and name, and per name (`limiter`): an address over
//! its limits is refused before any hashing; a name under attack from
//! elsewhere only makes attempts wait longer, so strangers cannot lock a
//! user out. Argon2 runs on tokio's blocking pool, never on
//! an async worker thread.
//!
//! This module never logs or stores a password; passwords arrive wrapped in
//! `Secret`, whose `Debug` is redacted. It knows nothing of IMAP commands:
//! the session maps `AuthOutcome` to responses.

pub mod cache;
pub mod limiter;
pub mod password;
mod pool;

mod secret;
pub use secret::Secret;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use limiter::{FailureLimiter, Verdict};
pub use password::{PasswordError, hash_password, verify_password};

use crate::config::AuthConfig;
use crate::store::{Store, normalize_user_name};

/// The result of one login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The password is right. `username` is the normalised name; `stamp`
    /// identifies the credential it was checked against (`LoginCheck`).
    Success {
        user_id: u64,
        username: String,
        stamp: u64,
    },
    /// Unknown user or wrong password: deliberately not told apart.
    Failed,
    /// Too many recent failures for this address or name; nothing was
    /// checked. (IMAP: `NO [UNAVAILABLE]` or `[AUTHENTICATIONFAILED]`.)
    Throttled,
    /// The store could not be read or the stored hash is unusable.
    Unavailable,
}

/// Failed logins kept for the dashboard.
pub const RECENT_FAILURES: usize = 20;

/// One failed login, as the admin dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedLogin {
    pub time: chrono::DateTime<chrono::Utc>,
    /// The name tried (normalised when valid, cut to 64 characters).
    pub user: String,
    pub peer: IpAddr,
    /// Refused unchecked by the throttle, rather than a wrong password.
    pub refused: bool,
}

/// Checks credentials. Cheap to clone; clones share the failure counts.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// Replaced by a reload (`set_config`).
    config: Mutex<AuthConfig>,
    limiter: Mutex<FailureLimiter>,
    /// Passwords verified recently, so a reconnect skips argon2.
    cache: cache::CredentialCache,
    /// When this process started, in Unix milliseconds: unlock marks older
    /// than that were made for an earlier process.
    started_ms: u64,
    /// The unlock mark last applied per user name.
    unlocks_seen: Mutex<std::collections::HashMap<String, u64>>,
    /// Verified against when the user does not exist, so that costs what a
    /// real check costs.
    dummy_hash: String,
    /// Where hashes are checked: a few threads, so a burst of logins cannot
    /// hold unbounded memory.
    hashing: pool::HashPool,
    /// The last few failed logins, newest last, for the admin dashboard.
    recent_failures: Mutex<std::collections::VecDeque<FailedLogin>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config())
            .finish_non_exhaustive()
    }
}

/// What the blocking check found.
enum Check {
    Match {
        user_id: u64,
        username: String,
        stamp: u64,
    },
    NoMatch,
}

impl Authenticator {
    /// Computes the dummy hash (one argon2 hash, tens of milliseconds), so
    /// call it at start-up, not per connection.
    pub fn new(store: Store, config: AuthConfig) -> Result<Authenticator, PasswordError> {
        Authenticator::with_capacity(store, config, limiter::DEFAULT_CAPACITY)
    }

    /// As `new`, with at most `capacity` addresses and names tracked each.
    pub fn with_capacity(
        store: Store,
        config: AuthConfig,
        capacity: usize,
    ) -> Result<Authenticator, PasswordError> {
        let mut random = [0u8; 32];
        rand::fill(&mut random);
        let dummy_hash = hash_password(&random)?;
        Ok(Authenticator {
            inner: Arc::new(Inner {
                store,
                config: Mutex::new(config),
                limiter: Mutex::new(FailureLimiter::new(&config, capacity)),
                cache: cache::CredentialCache::new(
                    config.credential_cache_ttl,
                    cache::DEFAULT_CAPACITY,
                ),
                started_ms: crate::store::unix_millis_now(),
                unlocks_seen: Mutex::new(std::collections::HashMap::new()),
                dummy_hash,
                hashing: pool::HashPool::new(pool::HashPool::default_threads())
                    .map_err(|e| PasswordError::Threads(e.to_string()))?,
                recent_failures: Mutex::new(std::collections::VecDeque::new()),
            }),
        })
    }

    /// Checks `username` and `password` for a client at `peer`.
    pub async fn verify(
        &self,
        username: &[u8],
        password: Secret<Vec<u8>>,
        peer: IpAddr,
    ) -> AuthOutcome {
        let outcome = self.decide(username, password, peer).await;
        crate::metrics::login(match outcome {
            AuthOutcome::Success { .. } => crate::metrics::Login::Ok,
            AuthOutcome::Failed => crate::metrics::Login::Failed,
            AuthOutcome::Throttled => crate::metrics::Login::Throttled,
            AuthOutcome::Unavailable => crate::metrics::Login::Unavailable,
        });
        outcome
    }

    async fn decide(
        &self,
        username: &[u8],
        password: Secret<Vec<u8>>,
        peer: IpAddr,
    ) -> AuthOutcome {
        let name = std::str::from_utf8(username)
            .ok()
            .and_then(|n| normalize_user_name(n).ok());
        // Names that cannot exist are still counted, under a bounded key.
        let counter_key = match &name {
            Some(n) => n.clone(),
            None => {
                let shown = &username[..username.len().min(64)];
                String::from_utf8_lossy(shown).to_lowercase()
            }
        };

        let mut verdict = self.limiter().assess(peer, &counter_key, Instant::now());
        if verdict != Verdict::NONE && self.take_unlock(name.as_deref()) {
            verdict = self.limiter().assess(peer, &counter_key, Instant::now());
        }
        match verdict {
            Verdict::Refuse => {
                tracing::info!(user = %counter_key, %peer, "login refused: too many failures from this address");
                self.note_failure(&counter_key, peer, true);
                tokio::time::sleep(self.config().failure_delay).await;
                return AuthOutcome::Throttled;
            }
            Verdict::Check { wait } if !wait.is_zero() => {
                tracing::info!(
                    user = %counter_key, %peer, wait_ms = wait.as_millis() as u64,
                    "login slowed: many recent failures for this name"
                );
                tokio::time::sleep(wait).await;
            }
            Verdict::Check { .. } => {}
        }

        // A password verified a moment ago for this user, against the hash
        // stored now: no argon2 needed. Only the right password can match,
        // so this path tells nothing about which users exist.
        if let Some(n) = name.as_deref()
            && let Ok(Some(user)) = self.inner.store.get_user(n)
            && self.inner.cache.matches(
                &user.name,
                password.expose(),
                &user.password_hash,
                Instant::now(),
            )
        {
            self.limiter()
                .record_success(peer, &counter_key, Instant::now());
            tracing::info!(user = %user.name, %peer, cached = true, "login");
            return AuthOutcome::Success {
                user_id: user.id,
                stamp: credential_stamp(&user.password_hash),
                username: user.name,
            };
        }

        let inner = Arc::clone(&self.inner);
        let pool_inner = Arc::clone(&inner);
        let checked = pool_inner
            .hashing
            .run(move || check(&inner, name.as_deref(), password))
            .await
            .ok_or(());

        match checked {
            Ok(Ok(Check::Match {
                user_id,
                username,
                stamp,
            })) => {
                self.limiter()
                    .record_success(peer, &counter_key, Instant::now());
                tracing::info!(user = %username, %peer, "login");
                AuthOutcome::Success {
                    user_id,
                    username,
                    stamp,
                }
            }
            Ok(Ok(Check::NoMatch)) => {
                self.limiter()
                    .record_failure(peer, &counter_key, Instant::now());
                tracing::info!(user = %counter_key, %peer, "login failed");
                self.note_failure(&counter_key, peer, false);
                tokio::time::sleep(self.config().failure_delay).await;
                AuthOutcome::Failed
            }
            Ok(Err(error)) => {
                tracing::error!(user = %counter_key, %error, "cannot check a login");
                AuthOutcome::Unavailable
            }
            Err(()) => {
                tracing::error!(user = %counter_key, "login check did not finish");
                AuthOutcome::Unavailable
            }
        }
    }

    /// The settings in force.
    pub fn config(&self) -> AuthConfig {
        *self.inner.config.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the delay and throttling settings (a reload). The failures
    /// counted so far stay and are judged by the new limits.
    pub fn set_config(&self, config: AuthConfig) {
        *self.inner.config.lock().unwrap_or_else(|e| e.into_inner()) = config;
        self.limiter().set_limits(&config);
    }

    /// Whether logins for `user` are being refused from some address or
    /// slowed everywhere.
    pub fn is_user_limited(&self, user: &str) -> bool {
        self.limiter().is_user_limited(user, Instant::now())
    }

    /// Forgets a remembered password of `user` (its password changed or it
    /// was deleted by this process; a change made elsewhere is noticed by
    /// the stored hash no longer matching).
    pub fn forget_credentials(&self, user: &str) {
        self.inner.cache.forget(user);
    }

    /// What the throttle holds against `user` now, if anything.
    pub fn lock_of(&self, user: &str) -> Option<limiter::NameLock> {
        self.limiter().lock_of(user, Instant::now())
    }

    /// The names slowed or refused somewhere, and the addresses refused for
    /// every name, for the admin panel.
    pub fn locks(&self) -> (Vec<limiter::NameLock>, Vec<(IpAddr, u32)>) {
        self.limiter().locks(Instant::now())
    }

    /// Forgets the failures counted for `user` in this process.
    pub fn unlock(&self, user: &str) {
        self.limiter().unlock(user);
    }

    /// Applies a `roost user unlock` made since this process started (by
    /// the command line, which cannot reach this process's memory, through
    /// a mark in the store). Read only for names being limited, so an
    /// ordinary login costs no extra read. True if the name was unlocked.
    fn take_unlock(&self, name: Option<&str>) -> bool {
        let Some(name) = name else { return false };
        let mark = match self.inner.store.unlock_mark(name) {
            Ok(Some(mark)) => mark,
            Ok(None) => return false,
            Err(error) => {
                tracing::warn!(user = %name, %error, "cannot read the user's unlock mark");
                return false;
            }
        };
        if mark < self.inner.started_ms {
            return false;
        }
        let mut seen = self
            .inner
            .unlocks_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if seen.get(name) == Some(&mark) {
            return false;
        }
        seen.insert(name.to_owned(), mark);
        drop(seen);
        tracing::info!(user = %name, "login failures forgotten (roost user unlock)");
        self.limiter().unlock(name);
        true
    }

    /// The last failed logins (at most `RECENT_FAILURES`), newest first.
    pub fn recent_failures(&self) -> Vec<FailedLogin> {
        let list = self
            .inner
            .recent_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        list.iter().rev().cloned().collect()
    }

    fn note_failure(&self, user: &str, peer: IpAddr, refused: bool) {
        let mut list = self
            .inner
            .recent_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if list.len() >= RECENT_FAILURES {
            list.pop_front();
        }
        list.push_back(FailedLogin {
            time: chrono::Utc::now(),
            user: user.chars().take(64).collect(),
            peer,
            refused,
        });
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, FailureLimiter> {
        // The counts stay consistent whatever panicked while holding the
        // lock (each update is a single map operation), so poison is ignored.
        self.inner.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Identifies one credential of one user: a digest of the stored hash,
/// which changes with every new password (new salt). Sessions keep the
/// stamp they logged in with and compare it with the store's (`check_login`).
pub fn credential_stamp(password_hash: &str) -> u64 {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(password_hash.as_bytes());
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Whether a login made earlier still stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginCheck {
    Valid,
    /// The user was deleted (or deleted and made again: a new id).
    UserGone,
    /// The password was changed since.
    PasswordChanged,
}

/// Checks a login (`Success`'s name, id and stamp) against the store now:
/// an administrator may have deleted the user or changed the password, in
/// this process or with the CLI. A store that cannot be read says `Valid`:
/// sessions are not ended for a transient read error.
pub fn check_login(store: &Store, username: &str, user_id: u64, stamp: u64) -> LoginCheck {
    match store.get_user(username) {
        Ok(Some(u)) if u.id != user_id => LoginCheck::UserGone,
        Ok(Some(u)) if credential_stamp(&u.password_hash) != stamp => LoginCheck::PasswordChanged,
        Ok(Some(_)) => LoginCheck::Valid,
        Ok(None) => LoginCheck::UserGone,
        Err(error) => {
            tracing::warn!(%error, "cannot re-check a login");
            LoginCheck::Valid
        }
    }
}

/// The blocking part: look the user up and run argon2.
fn check(
    inner: &Inner,
    name: Option<&str>,
    password: Secret<Vec<u8>>,
) -> Result<Check, anyhow::Error> {
    let record = match name {
        Some(n) => inner.store.get_user(n)?,
        None => None,
    };
    match record {
        Some(user) => {
            if verify_password(password.expose(), &user.password_hash)? {
                inner.cache.insert(
                    &user.name,
                    password.expose(),
                    &user.password_hash,
                    Instant::now(),
                );
                Ok(Check::Match {
                    user_id: user.id,
                    stamp: credential_stamp(&user.password_hash),
                    username: user.name,
                })
            } else {
                Ok(Check::NoMatch)
            }
        }
        None => {
            // Same work as a real check; the answer is "no" whatever it says.
            let _ = verify_password(password.expose(), &inner.dummy_hash);
            Ok(Check::NoMatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::testing::TempDir;

    fn config(delay_ms: u64) -> AuthConfig {
        AuthConfig {
            failure_delay: Duration::from_millis(delay_ms),
            max_failures_per_ip: 100,
            max_failures_per_user: 2,
            window: Duration::from_secs(300),
            credential_cache_ttl: cache::DEFAULT_TTL,
        }
    }

    fn secret(s: &str) -> Secret<Vec<u8>> {
        Secret(s.as_bytes().to_vec())
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn success_failure_and_throttle() {
        let dir = TempDir::new("auth");
        let store = Store::open(dir.path()).expect("open");
        let user = store
            .create_user("alice", &hash_password(b"s3cret").expect("hash"))
            .expect("create");
        let auth = Authenticator::new(store, config(0)).expect("authenticator");

        assert_eq!(
            auth.verify(b"ALICE", secret("s3cret"), PEER).await,
            AuthOutcome::Success {
                user_id: user.id,
                username: "alice".into(),
                stamp: credential_stamp(&user.password_hash),
            }
        );
        assert_eq!(
            auth.verify(b"alice", secret("wrong"), PEER).await,
            AuthOutcome::Failed
        );
        // A success clears the user's count.
        assert!(matches!(
            auth.verify(b"alice", secret("s3cret"), PEER).await,
            AuthOutcome::Success { .. }
        ));
        assert_eq!(
            auth.verify(b"alice", secret("wrong"), PEER).await,
            AuthOutcome::Failed
        );
        assert_eq!(
            auth.verify(b"alice", secret("wrong"), PEER).await,
            AuthOutcome::Failed
        );
        // Over the per-user limit: refused even with the right password.
        assert_eq!(
            auth.verify(b"alice", secret("s3cret"), PEER).await,
            AuthOutcome::Throttled
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reconnect_skips_argon2_until_the_password_changes() {
        let dir = TempDir::new("auth-cache");
        let store = Store::open(dir.path()).expect("open");
        store
            .create_user("carol", &hash_password(b"first").expect("hash"))
            .expect("create");
        let cfg = AuthConfig {
            max_failures_per_user: 10,
            ..config(0)
        };
        let auth = Authenticator::new(store.clone(), cfg).expect("authenticator");
        let ok = |o: AuthOutcome| matches!(o, AuthOutcome::Success { .. });
        assert!(ok(auth.verify(b"carol", secret("first"), PEER).await));
        let start = Instant::now();
        for _ in 0..20 {
            assert!(ok(auth.verify(b"carol", secret("first"), PEER).await));
        }
        // Twenty argon2 checks would take a second or more.
        assert!(
            start.elapsed() < Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(
            auth.verify(b"carol", secret("First"), PEER).await,
            AuthOutcome::Failed,
            "a wrong password is never answered from the cache"
        );
        // Changed elsewhere (the command line): the old one stops at once.
        store
            .set_password("carol", &hash_password(b"second").expect("hash"))
            .expect("set");
        assert_eq!(
            auth.verify(b"carol", secret("first"), PEER).await,
            AuthOutcome::Failed
        );
        assert!(ok(auth.verify(b"carol", secret("second"), PEER).await));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_and_invalid_names_fail_and_count() {
        let dir = TempDir::new("auth-unknown");
        let store = Store::open(dir.path()).expect("open");
        let auth = Authenticator::new(store, config(0)).expect("authenticator");
        assert_eq!(
            auth.verify(b"nobody", secret("x"), PEER).await,
            AuthOutcome::Failed
        );
        assert_eq!(
            auth.verify(b"\xff bad name", secret("x"), PEER).await,
            AuthOutcome::Failed
        );
        assert_eq!(
            auth.verify(b"NOBODY", secret("x"), PEER).await,
            AuthOutcome::Failed
        );
        assert_eq!(
            auth.verify(b"nobody", secret("x"), PEER).await,
            AuthOutcome::Throttled
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_wait_the_delay() {
        let dir = TempDir::new("auth-delay");
        let store = Store::open(dir.path()).expect("open");
        let auth = Authenticator::new(store, config(300)).expect("authenticator");
        let start = Instant::now();
        assert_eq!(
            auth.verify(b"nobody", secret("x"), PEER).await,
            AuthOutcome::Failed
        );
        assert!(start.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unusable_stored_hash_is_unavailable() {
        let dir = TempDir::new("auth-badhash");
        let store = Store::open(dir.path()).expect("open");
        store.create_user("bob", "$md5$notargon").expect("create");
        let auth = Authenticator::new(store, config(0)).expect("authenticator");
        assert_eq!(
            auth.verify(b"bob", secret("x"), PEER).await,
            AuthOutcome::Unavailable
        );
    }
}
