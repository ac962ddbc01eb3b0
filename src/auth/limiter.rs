//! Counting failed logins per client address and per user name, so password
//! guessing is refused early and cheaply.
//!
//! Each key has a fixed window: it opens at the key's first failure and
//! lasts `window`; when it ends the count starts again from zero. Memory is
//! bounded: each map holds at most `capacity` keys, and when it is full the
//! key whose window opened first is forgotten to make room.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::AuthConfig;

/// Keys tracked per map by default: enough for a large attack from many
/// addresses at a few dozen bytes each, a few MiB at most.
pub const DEFAULT_CAPACITY: usize = 65_536;

#[derive(Debug)]
pub struct FailureLimiter {
    per_ip: Counters<IpAddr>,
    per_user: Counters<String>,
    max_per_ip: u32,
    max_per_user: u32,
    window: Duration,
}

impl FailureLimiter {
    pub fn new(config: &AuthConfig, capacity: usize) -> FailureLimiter {
        FailureLimiter {
            per_ip: Counters::new(capacity),
            per_user: Counters::new(capacity),
            max_per_ip: config.max_failures_per_ip,
            max_per_user: config.max_failures_per_user,
            window: config.window,
        }
    }

    /// New thresholds and window; the counts stay.
    pub fn set_limits(&mut self, config: &AuthConfig) {
        self.max_per_ip = config.max_failures_per_ip;
        self.max_per_user = config.max_failures_per_user;
        self.window = config.window;
    }

    /// Whether an attempt from `ip` for `user` must be refused unchecked.
    pub fn is_throttled(&mut self, ip: IpAddr, user: &str, now: Instant) -> bool {
        let ip = client_key(ip);
        self.per_ip.count(&ip, now, self.window) >= self.max_per_ip
            || self.per_user.count(user, now, self.window) >= self.max_per_user
    }

    pub fn record_failure(&mut self, ip: IpAddr, user: &str, now: Instant) {
        self.per_ip.add(client_key(ip), now, self.window);
        self.per_user.add(user.to_owned(), now, self.window);
    }

    /// A correct password clears the user's count (not the address's: one
    /// good login from a shared address must not unlock guessing from it).
    pub fn record_success(&mut self, user: &str) {
        self.per_user.remove(user);
    }

    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        (self.per_ip.map.len(), self.per_user.map.len())
    }
}

/// The unit an address is counted in: an IPv4 address (IPv4-mapped IPv6
/// included), or the /64 of an IPv6 address, since one client usually has a
/// whole /64 to pick addresses from.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: Instant,
    count: u32,
}

/// Failure counts with their window start, plus the keys in the order their
/// windows opened (oldest first) for expiry and eviction. `order` may hold
/// stale entries for keys removed or restarted since; they are skipped, and
/// compacted away when they pile up.
#[derive(Debug)]
struct Counters<K> {
    map: HashMap<K, Slot>,
    order: VecDeque<(K, Instant)>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone> Counters<K> {
    fn new(capacity: usize) -> Counters<K> {
        Counters {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    fn count<Q>(&mut self, key: &Q, now: Instant, window: Duration) -> u32
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.expire(now, window);
        self.map.get(key).map_or(0, |s| s.count)
    }

    fn add(&mut self, key: K, now: Instant, window: Duration) {
        self.expire(now, window);
        if let Some(slot) = self.map.get_mut(&key) {
            slot.count = slot.count.saturating_add(1);
            return;
        }
        while self.map.len() >= self.capacity {
            if !self.pop_oldest() {
                break;
            }
        }
        self.map.insert(
            key.clone(),
            Slot {
                start: now,
                count: 1,
            },
        );
        self.order.push_back((key, now));
        if self.order.len() > 2 * self.capacity {
            let map = &self.map;
            self.order
                .retain(|(k, start)| map.get(k).is_some_and(|s| s.start == *start));
        }
    }

    fn remove<Q>(&mut self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove(key);
    }

    /// Drops every key whose window has ended.
    fn expire(&mut self, now: Instant, window: Duration) {
        while let Some((_, start)) = self.order.front() {
            if now.saturating_duration_since(*start) < window {
                break;
            }
            self.pop_oldest();
        }
    }

    /// Forgets the key at the front of `order` if it is live; false when
    /// `order` is empty.
    fn pop_oldest(&mut self) -> bool {
        let Some((key, start)) = self.order.pop_front() else {
            return false;
        };
        if self.map.get(&key).is_some_and(|s| s.start == start) {
            self.map.remove(&key);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(per_ip: u32, per_user: u32, window_secs: u64) -> AuthConfig {
        AuthConfig {
            failure_delay: Duration::ZERO,
            max_failures_per_ip: per_ip,
            max_failures_per_user: per_user,
            window: Duration::from_secs(window_secs),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn per_user_limit_and_window() {
        let mut l = FailureLimiter::new(&config(100, 3, 60), 16);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(!l.is_throttled(ip("192.0.2.1"), "alice", t0));
            // A different address each time: only the user count grows.
            l.record_failure(ip(&format!("192.0.2.{}", 10 + i)), "alice", t0);
        }
        assert!(l.is_throttled(ip("198.51.100.7"), "alice", t0));
        assert!(!l.is_throttled(ip("198.51.100.7"), "bob", t0));
        // Still inside the window.
        assert!(l.is_throttled(ip("198.51.100.7"), "alice", t0 + Duration::from_secs(59)));
        // The window has ended: counting starts again.
        assert!(!l.is_throttled(ip("198.51.100.7"), "alice", t0 + Duration::from_secs(60)));
    }

    #[test]
    fn per_ip_limit_counts_unknown_names() {
        let mut l = FailureLimiter::new(&config(2, 100, 60), 16);
        let t0 = Instant::now();
        l.record_failure(ip("203.0.113.5"), "nosuchuser1", t0);
        assert!(!l.is_throttled(ip("203.0.113.5"), "x", t0));
        l.record_failure(ip("203.0.113.5"), "nosuchuser2", t0);
        assert!(l.is_throttled(ip("203.0.113.5"), "anyone", t0));
        assert!(!l.is_throttled(ip("203.0.113.6"), "anyone", t0));
    }

    #[test]
    fn window_is_fixed_from_first_failure() {
        let mut l = FailureLimiter::new(&config(100, 2, 60), 16);
        let t0 = Instant::now();
        l.record_failure(ip("192.0.2.1"), "carol", t0);
        l.record_failure(ip("192.0.2.1"), "carol", t0 + Duration::from_secs(50));
        assert!(l.is_throttled(ip("192.0.2.1"), "carol", t0 + Duration::from_secs(55)));
        // Sixty seconds after the first failure the whole count goes.
        assert!(!l.is_throttled(ip("192.0.2.1"), "carol", t0 + Duration::from_secs(60)));
    }

    #[test]
    fn success_clears_the_user_but_not_the_address() {
        let mut l = FailureLimiter::new(&config(2, 2, 60), 16);
        let t0 = Instant::now();
        l.record_failure(ip("192.0.2.1"), "dave", t0);
        l.record_failure(ip("192.0.2.1"), "dave", t0);
        l.record_success("dave");
        assert!(!l.is_throttled(ip("192.0.2.2"), "dave", t0));
        assert!(l.is_throttled(ip("192.0.2.1"), "erin", t0));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let mut l = FailureLimiter::new(&config(2, 100, 60), 16);
        let t0 = Instant::now();
        l.record_failure(ip("2001:db8:1:2::1"), "a", t0);
        l.record_failure(ip("2001:db8:1:2:ffff::9"), "b", t0);
        assert!(l.is_throttled(ip("2001:db8:1:2::77"), "c", t0));
        assert!(!l.is_throttled(ip("2001:db8:1:3::1"), "c", t0));

        l.record_failure(ip("::ffff:192.0.2.9"), "a", t0);
        l.record_failure(ip("192.0.2.9"), "a", t0);
        assert!(l.is_throttled(ip("192.0.2.9"), "z", t0));
    }

    #[test]
    fn memory_is_bounded_and_oldest_goes_first() {
        let mut l = FailureLimiter::new(&config(1, 1, 3600), 4);
        let t0 = Instant::now();
        for i in 0..100u32 {
            let at = t0 + Duration::from_millis(u64::from(i));
            l.record_failure(
                IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]),
                &format!("u{i}"),
                at,
            );
            let (ips, users) = l.tracked();
            assert!(ips <= 4 && users <= 4, "{ips} {users}");
        }
        let at = t0 + Duration::from_secs(1);
        // The four newest remain, the older ones were evicted.
        assert!(l.is_throttled(ip("192.0.2.1"), "u99", at));
        assert!(l.is_throttled(ip("192.0.2.1"), "u96", at));
        assert!(!l.is_throttled(ip("192.0.2.1"), "u95", at));
        assert!(!l.is_throttled(ip("192.0.2.1"), "u0", at));
        assert!(l.is_throttled(ip("10.0.0.99"), "nobody", at));
        assert!(!l.is_throttled(ip("10.0.0.1"), "nobody", at));
    }

    #[test]
    fn stale_order_entries_are_compacted() {
        let mut c: Counters<String> = Counters::new(4);
        let t0 = Instant::now();
        for i in 0..1000 {
            let at = t0 + Duration::from_millis(i);
            c.add("k".into(), at, Duration::from_secs(60));
            c.remove("k");
            c.add(format!("x{}", i % 2), at, Duration::from_secs(60));
        }
        assert!(c.order.len() <= 2 * 4 + 1, "{}", c.order.len());
        assert!(c.map.len() <= 4);
    }
}
