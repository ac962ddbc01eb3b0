//! How many connections the server holds at once, in total and per client
//! address, so that one client (or a flood of them) cannot take every
//! socket and descriptor. A connection over a limit is refused at accept,
//! before a session exists, with one log line per interval however many
//! are refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often refusals (and failed accepts) are logged at most.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// `[limits] max_connections`, `max_connections_per_ip` and
/// `max_connections_per_user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimitConfig {
    pub total: usize,
    pub per_ip: usize,
    /// Logged-in IMAP sessions of one user at once; a login past it is
    /// refused, the user's other sessions go on.
    pub per_user: usize,
}

impl Default for ConnLimitConfig {
    /// A small server: a few thousand clients; one address (an office
    /// behind NAT, a webmail) may hold a hundred; one user fifty (a desktop
    /// client opens up to five per account, and a user has a few devices).
    fn default() -> Self {
        ConnLimitConfig {
            total: 5_000,
            per_ip: 100,
            per_user: 50,
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerAddress,
}

impl Refusal {
    /// What the client is told (IMAP's `* BYE [UNAVAILABLE]` text).
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Total => "Too many connections; try again later.",
            Refusal::PerAddress => "Too many connections from your address; try again later.",
        }
    }
}

/// The live connections, counted. Cheap to clone; clones share the counts.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ConnLimitConfig,
    counts: Mutex<Counts>,
    refused: RateLimitedLog,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One connection's place in the counts, given back when dropped.
#[derive(Debug)]
pub struct ConnSlot {
    inner: Arc<Inner>,
    ip: IpAddr,
}

impl ConnLimits {
    /// Limits as configured, but never more connections in total than the
    /// open-file limit leaves room for (`fd_limit`, less a reserve for the
    /// store, the index and the listeners), so the server refuses cleanly
    /// instead of failing to accept.
    pub fn new(config: ConnLimitConfig, fd_limit: Option<u64>) -> ConnLimits {
        const RESERVE: u64 = 256;
        let mut config = config;
        if let Some(fds) = fd_limit {
            let room = usize::try_from(fds.saturating_sub(RESERVE).max(1)).unwrap_or(usize::MAX);
            if room < config.total {
                tracing::warn!(
                    configured = config.total,
                    allowed = room,
                    open_files = fds,
                    "limits.max_connections is above what the open-file limit allows; using the lower"
                );
                config.total = room;
            }
        }
        ConnLimits {
            inner: Arc::new(Inner {
                config,
                counts: Mutex::new(Counts::default()),
                refused: RateLimitedLog::default(),
            }),
        }
    }

    /// Takes a place for a connection from `ip`, or says why there is none.
    pub fn admit(&self, ip: IpAddr) -> Result<ConnSlot, Refusal> {
        let ip = crate::auth::limiter::client_key(ip);
        let mut counts = self.counts();
        if counts.total >= self.inner.config.total {
            return Err(Refusal::Total);
        }
        let here = counts.per_ip.entry(ip).or_insert(0);
        if *here >= self.inner.config.per_ip {
            return Err(Refusal::PerAddress);
        }
        *here += 1;
        counts.total += 1;
        Ok(ConnSlot {
            inner: Arc::clone(&self.inner),
            ip,
        })
    }

    /// Logs a refusal, at most once per `LOG_INTERVAL`, with how many were
    /// refused since the last line.
    pub fn log_refusal(&self, peer: std::net::SocketAddr, why: Refusal, now: Instant) {
        if let Some(count) = self.inner.refused.note(now) {
            tracing::warn!(
                %peer,
                reason = why.reason(),
                refused = count,
                max_connections = self.inner.config.total,
                max_connections_per_ip = self.inner.config.per_ip,
                "connections refused over the limits (limits.max_connections, limits.max_connections_per_ip)"
            );
        }
    }

    /// Connections held now.
    pub fn live(&self) -> usize {
        self.counts().total
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Each update is a whole step; a panic elsewhere leaves them valid.
        self.inner.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut counts = self.inner.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Counts events and says when one should be logged: the first, then at
/// most one per `LOG_INTERVAL`, each with the number since the last.
#[derive(Debug, Default)]
pub struct RateLimitedLog {
    state: Mutex<Option<Instant>>,
    pending: AtomicU64,
}

impl RateLimitedLog {
    /// Records one event; `Some(n)` when it is time to log the `n` events
    /// since the last line.
    pub fn note(&self, now: Instant) -> Option<u64> {
        let pending = self.pending.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(at) if now.saturating_duration_since(at) < LOG_INTERVAL => None,
            _ => {
                *last = Some(now);
                self.pending.fetch_sub(pending, Ordering::Relaxed);
                Some(pending)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn per_address_and_total_limits_and_slots_given_back() {
        let l = ConnLimits::new(
            ConnLimitConfig {
                total: 3,
                per_ip: 2,
                ..ConnLimitConfig::default()
            },
            None,
        );
        let a1 = l.admit(ip("192.0.2.1")).expect("first");
        let _a2 = l.admit(ip("192.0.2.1")).expect("second");
        assert_eq!(l.admit(ip("192.0.2.1")).err(), Some(Refusal::PerAddress));
        let _b = l.admit(ip("192.0.2.2")).expect("other address");
        assert_eq!(l.admit(ip("192.0.2.3")).err(), Some(Refusal::Total));
        drop(a1);
        assert_eq!(l.live(), 2);
        let _a3 = l.admit(ip("192.0.2.1")).expect("a place was given back");
    }

    #[test]
    fn ipv6_addresses_count_per_64() {
        let l = ConnLimits::new(
            ConnLimitConfig {
                total: 10,
                per_ip: 1,
                ..ConnLimitConfig::default()
            },
            None,
        );
        let _a = l.admit(ip("2001:db8::1")).expect("first");
        assert_eq!(l.admit(ip("2001:db8::2")).err(), Some(Refusal::PerAddress));
        let _b = l.admit(ip("2001:db8:0:1::1")).expect("another /64");
    }

    #[test]
    fn total_is_capped_by_the_open_file_limit() {
        let l = ConnLimits::new(
            ConnLimitConfig {
                total: 5_000,
                per_ip: 5_000,
                ..ConnLimitConfig::default()
            },
            Some(260),
        );
        let slots: Vec<_> = (0..4)
            .map(|_| l.admit(ip("192.0.2.1")).expect("room"))
            .collect();
        assert_eq!(l.admit(ip("192.0.2.1")).err(), Some(Refusal::Total));
        drop(slots);
    }

    #[test]
    fn refusals_are_logged_once_per_interval_with_the_count() {
        let log = RateLimitedLog::default();
        let t0 = Instant::now();
        assert_eq!(log.note(t0), Some(1));
        for i in 1..100 {
            assert_eq!(log.note(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(log.note(t0 + LOG_INTERVAL), Some(100));
    }
}
