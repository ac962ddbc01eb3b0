//! Counting failed logins so that password guessing is slowed and refused
//! early and cheaply, without letting a stranger lock a user out.
//!
//! Three counts, each in a fixed window that opens at the key's first
//! failure and lasts `window`:
//!
//! - per client address: past `max_failures_per_ip`, that address is
//!   refused for every name (it only ever hurts the address that failed);
//! - per (address, user name): past `max_failures_per_user`, that address
//!   is refused for that name;
//! - per user name, over all addresses: past `max_failures_per_user`, every
//!   attempt for the name waits longer before it is checked (one more
//!   `failure_delay` per further `max_failures_per_user` failures, at most
//!   `MAX_USER_DELAY`), but is still checked, so the right password from an
//!   address that has not been failing is always accepted. An address that
//!   logged in as the user within the window skips that wait.
//!
//! Memory is bounded: each map holds at most `capacity` keys, and when it
//! is full the key whose window opened first is forgotten to make room.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::AuthConfig;

/// Keys tracked per map by default: enough for a large attack from many
/// addresses at a few dozen bytes each, a few MiB at most.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// The longest a name under attack makes an attempt wait before it is
/// checked: slow enough to make guessing from many addresses expensive,
/// short enough that the real user still gets in.
pub const MAX_USER_DELAY: Duration = Duration::from_secs(10);

/// What to do with a login attempt before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check it after waiting this long (zero for an ordinary attempt).
    Check { wait: Duration },
    /// Refuse it unchecked: this address failed too often.
    Refuse,
}

impl Verdict {
    /// An ordinary attempt: checked at once.
    pub const NONE: Verdict = Verdict::Check {
        wait: Duration::ZERO,
    };
}

/// What the throttle holds against one name now, for an administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameLock {
    pub name: String,
    /// Failures for the name over every address in the window.
    pub failures: u32,
    /// Whether attempts for the name are slowed (from addresses not known
    /// good for it).
    pub slowed: bool,
    /// Addresses refused for this name (they failed too often with it).
    pub refused_from: Vec<IpAddr>,
}

/// Most names or addresses a listing of the locks holds.
pub const MAX_LISTED: usize = 100;

#[derive(Debug)]
pub struct FailureLimiter {
    per_ip: Counters<IpAddr>,
    per_pair: Counters<(IpAddr, String)>,
    per_user: Counters<String>,
    /// Addresses that logged in as a user within the window.
    known_good: Counters<(IpAddr, String)>,
    max_per_ip: u32,
    max_per_user: u32,
    window: Duration,
    failure_delay: Duration,
}

impl FailureLimiter {
    pub fn new(config: &AuthConfig, capacity: usize) -> FailureLimiter {
        FailureLimiter {
            per_ip: Counters::new(capacity),
            per_pair: Counters::new(capacity),
            per_user: Counters::new(capacity),
            known_good: Counters::new(capacity),
            max_per_ip: config.max_failures_per_ip,
            max_per_user: config.max_failures_per_user,
            window: config.window,
            failure_delay: config.failure_delay,
        }
    }

    /// New thresholds, window and delay (a reload); the counts stay.
    pub fn set_limits(&mut self, config: &AuthConfig) {
        self.max_per_ip = config.max_failures_per_ip;
        self.max_per_user = config.max_failures_per_user;
        self.window = config.window;
        self.failure_delay = config.failure_delay;
    }

    /// What an attempt from `ip` for `user` gets before any hashing.
    pub fn assess(&mut self, ip: IpAddr, user: &str, now: Instant) -> Verdict {
        let ip = client_key(ip);
        let pair = (ip, user.to_owned());
        if self.per_ip.count(&ip, now, self.window) >= self.max_per_ip
            || self.per_pair.count(&pair, now, self.window) >= self.max_per_user
        {
            return Verdict::Refuse;
        }
        let failures = self.per_user.count(user, now, self.window);
        if failures < self.max_per_user || self.known_good.count(&pair, now, self.window) > 0 {
            return Verdict::Check {
                wait: Duration::ZERO,
            };
        }
        let steps = 1 + (failures - self.max_per_user) / self.max_per_user.max(1);
        Verdict::Check {
            wait: self.failure_delay.saturating_mul(steps).min(MAX_USER_DELAY),
        }
    }

    /// Whether `user` is being refused or slowed anywhere: what an admin
    /// would want to unlock.
    pub fn is_user_limited(&mut self, user: &str, now: Instant) -> bool {
        self.per_user.count(user, now, self.window) >= self.max_per_user
            || self
                .per_pair
                .map
                .iter()
                .any(|((_, u), slot)| u == user && slot.count >= self.max_per_user)
    }

    /// What is held against `user` now, if anything.
    pub fn lock_of(&mut self, user: &str, now: Instant) -> Option<NameLock> {
        let failures = self.per_user.count(user, now, self.window);
        self.per_pair.expire(now, self.window);
        let mut refused_from: Vec<IpAddr> = self
            .per_pair
            .map
            .iter()
            .filter(|((_, u), slot)| u == user && slot.count >= self.max_per_user)
            .map(|((ip, _), _)| *ip)
            .collect();
        let slowed = failures >= self.max_per_user;
        if !slowed && refused_from.is_empty() {
            return None;
        }
        refused_from.sort();
        refused_from.truncate(MAX_LISTED);
        Some(NameLock {
            name: user.to_owned(),
            failures,
            slowed,
            refused_from,
        })
    }

    /// Every name something is held against (at most `MAX_LISTED`, most
    /// failures first), and the addresses refused for every name with
    /// their failure counts.
    pub fn locks(&mut self, now: Instant) -> (Vec<NameLock>, Vec<(IpAddr, u32)>) {
        self.per_user.expire(now, self.window);
        self.per_pair.expire(now, self.window);
        self.per_ip.expire(now, self.window);
        let max = self.max_per_user;
        // One pass over each map (they hold up to `capacity` keys under an
        // attack, and logins wait on this lock meanwhile).
        let mut refused: HashMap<&str, Vec<IpAddr>> = HashMap::new();
        for ((ip, user), slot) in &self.per_pair.map {
            if slot.count >= max {
                refused.entry(user.as_str()).or_default().push(*ip);
            }
        }
        let mut names: Vec<&str> = self
            .per_user
            .map
            .iter()
            .filter(|(_, s)| s.count >= max)
            .map(|(u, _)| u.as_str())
            .chain(refused.keys().copied())
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut locks: Vec<NameLock> = names
            .into_iter()
            .map(|name| {
                let failures = self.per_user.map.get(name).map_or(0, |s| s.count);
                let mut refused_from = refused.remove(name).unwrap_or_default();
                refused_from.sort();
                refused_from.truncate(MAX_LISTED);
                NameLock {
                    name: name.to_owned(),
                    failures,
                    slowed: failures >= max,
                    refused_from,
                }
            })
            .collect();
        locks.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.name.cmp(&b.name)));
        locks.truncate(MAX_LISTED);
        let mut addresses: Vec<(IpAddr, u32)> = self
            .per_ip
            .map
            .iter()
            .filter(|(_, s)| s.count >= self.max_per_ip)
            .map(|(ip, s)| (*ip, s.count))
            .collect();
        addresses.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        addresses.truncate(MAX_LISTED);
        (locks, addresses)
    }

    pub fn record_failure(&mut self, ip: IpAddr, user: &str, now: Instant) {
        let ip = client_key(ip);
        self.per_ip.add(ip, now, self.window);
        self.per_pair.add((ip, user.to_owned()), now, self.window);
        self.per_user.add(user.to_owned(), now, self.window);
    }

    /// A correct password clears the count of this address for this name
    /// and marks it known good for the name; neither the address's own
    /// count (one good login from a shared address must not unlock guessing
    /// from it) nor the name's count over all addresses (the real user
    /// logging in must not reset an attack from elsewhere).
    pub fn record_success(&mut self, ip: IpAddr, user: &str, now: Instant) {
        let pair = (client_key(ip), user.to_owned());
        self.per_pair.remove(&pair);
        self.known_good.add(pair, now, self.window);
    }

    /// Forgets every failure counted for `user` (`roost user unlock`).
    pub fn unlock(&mut self, user: &str) {
        self.per_user.remove(user);
        self.per_pair.map.retain(|(_, u), _| u != user);
    }

    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        (self.per_ip.map.len(), self.per_user.map.len())
    }
}

/// The unit an address is counted in: an IPv4 address (IPv4-mapped IPv6
/// included), or the /64 of an IPv6 address, since one client usually has a
/// whole /64 to pick addresses from.
pub fn client_key(ip: IpAddr) -> IpAddr {
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
            credential_cache_ttl: Duration::ZERO,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn refused(l: &mut FailureLimiter, from: &str, user: &str, at: Instant) -> bool {
        l.assess(ip(from), user, at) == Verdict::Refuse
    }

    fn wait(l: &mut FailureLimiter, from: &str, user: &str, at: Instant) -> Duration {
        match l.assess(ip(from), user, at) {
            Verdict::Check { wait } => wait,
            Verdict::Refuse => panic!("{from} refused for {user}"),
        }
    }

    #[test]
    fn locks_list_slowed_names_and_refused_addresses_until_unlocked() {
        let mut l = FailureLimiter::new(&config(5, 3, 60), 64);
        let t0 = Instant::now();
        assert_eq!(l.lock_of("alice", t0), None);
        // One address fails three times for alice: refused for her.
        for _ in 0..3 {
            l.record_failure(ip("192.0.2.1"), "alice", t0);
        }
        // Two more for bob from that address: refused for every name.
        l.record_failure(ip("192.0.2.1"), "bob", t0);
        l.record_failure(ip("192.0.2.1"), "bob", t0);
        let lock = l.lock_of("alice", t0).expect("alice is held");
        assert_eq!(lock.failures, 3);
        assert!(lock.slowed);
        assert_eq!(lock.refused_from, [ip("192.0.2.1")]);
        let (names, addresses) = l.locks(t0);
        assert_eq!(
            names.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            ["alice"]
        );
        assert_eq!(addresses, [(ip("192.0.2.1"), 5)]);
        l.unlock("alice");
        assert_eq!(l.lock_of("alice", t0), None);
        assert!(l.locks(t0).0.is_empty());
        // The window ends the rest.
        assert!(l.locks(t0 + Duration::from_secs(60)).1.is_empty());
    }

    #[test]
    fn per_pair_limit_and_window() {
        let mut l = FailureLimiter::new(&config(100, 3, 60), 16);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(!refused(&mut l, "192.0.2.1", "alice", t0));
            l.record_failure(ip("192.0.2.1"), "alice", t0);
        }
        assert!(refused(&mut l, "192.0.2.1", "alice", t0));
        assert!(!refused(&mut l, "192.0.2.1", "bob", t0));
        // Still inside the window.
        assert!(refused(
            &mut l,
            "192.0.2.1",
            "alice",
            t0 + Duration::from_secs(59)
        ));
        // The window has ended: counting starts again.
        assert!(!refused(
            &mut l,
            "192.0.2.1",
            "alice",
            t0 + Duration::from_secs(60)
        ));
    }

    #[test]
    fn strangers_failing_for_a_user_never_refuse_a_clean_address() {
        let mut cfg = config(100, 3, 60);
        cfg.failure_delay = Duration::from_secs(1);
        let mut l = FailureLimiter::new(&cfg, 64);
        let t0 = Instant::now();
        // Many attackers, each under its own limits.
        for i in 0..30 {
            let from = format!("198.51.100.{i}");
            for _ in 0..2 {
                l.record_failure(ip(&from), "alice", t0);
            }
        }
        // A clean address is only slowed, never refused, and the wait is
        // capped.
        let w = wait(&mut l, "203.0.113.9", "alice", t0);
        assert!(w > Duration::ZERO && w <= MAX_USER_DELAY, "{w:?}");
        for _ in 0..10_000 {
            l.record_failure(ip("198.51.100.200"), "alice", t0);
        }
        assert_eq!(wait(&mut l, "203.0.113.9", "alice", t0), MAX_USER_DELAY);
        // Other names are not slowed.
        assert_eq!(wait(&mut l, "203.0.113.9", "bob", t0), Duration::ZERO);
    }

    #[test]
    fn known_good_address_is_not_slowed_and_success_keeps_the_user_count() {
        let mut cfg = config(100, 2, 60);
        cfg.failure_delay = Duration::from_secs(1);
        let mut l = FailureLimiter::new(&cfg, 16);
        let t0 = Instant::now();
        l.record_success(ip("192.0.2.7"), "dave", t0);
        for i in 0..4 {
            l.record_failure(ip(&format!("198.51.100.{i}")), "dave", t0);
        }
        assert_eq!(wait(&mut l, "192.0.2.7", "dave", t0), Duration::ZERO);
        assert!(wait(&mut l, "192.0.2.8", "dave", t0) > Duration::ZERO);
        // A success from the known-good address does not reset the attack.
        l.record_success(ip("192.0.2.7"), "dave", t0);
        assert!(wait(&mut l, "192.0.2.8", "dave", t0) > Duration::ZERO);
    }

    #[test]
    fn per_ip_limit_counts_unknown_names() {
        let mut l = FailureLimiter::new(&config(2, 100, 60), 16);
        let t0 = Instant::now();
        l.record_failure(ip("203.0.113.5"), "nosuchuser1", t0);
        assert!(!refused(&mut l, "203.0.113.5", "x", t0));
        l.record_failure(ip("203.0.113.5"), "nosuchuser2", t0);
        assert!(refused(&mut l, "203.0.113.5", "anyone", t0));
        assert!(!refused(&mut l, "203.0.113.6", "anyone", t0));
    }

    #[test]
    fn window_is_fixed_from_first_failure() {
        let mut l = FailureLimiter::new(&config(100, 2, 60), 16);
        let t0 = Instant::now();
        l.record_failure(ip("192.0.2.1"), "carol", t0);
        l.record_failure(ip("192.0.2.1"), "carol", t0 + Duration::from_secs(50));
        assert!(refused(
            &mut l,
            "192.0.2.1",
            "carol",
            t0 + Duration::from_secs(55)
        ));
        // Sixty seconds after the first failure the whole count goes.
        assert!(!refused(
            &mut l,
            "192.0.2.1",
            "carol",
            t0 + Duration::from_secs(60)
        ));
    }

    #[test]
    fn success_clears_the_pair_but_not_the_address() {
        let mut l = FailureLimiter::new(&config(2, 2, 60), 16);
        let t0 = Instant::now();
        l.record_failure(ip("192.0.2.1"), "dave", t0);
        l.record_success(ip("192.0.2.1"), "dave", t0);
        assert!(!refused(&mut l, "192.0.2.1", "dave", t0));
        l.record_failure(ip("192.0.2.1"), "dave", t0);
        assert!(refused(&mut l, "192.0.2.1", "erin", t0));
    }

    #[test]
    fn unlock_forgets_the_user_everywhere() {
        let mut l = FailureLimiter::new(&config(100, 2, 60), 16);
        let t0 = Instant::now();
        for _ in 0..2 {
            l.record_failure(ip("192.0.2.1"), "frank", t0);
            l.record_failure(ip("192.0.2.2"), "frank", t0);
        }
        assert!(l.is_user_limited("frank", t0));
        assert!(refused(&mut l, "192.0.2.1", "frank", t0));
        l.unlock("frank");
        assert!(!l.is_user_limited("frank", t0));
        assert_eq!(wait(&mut l, "192.0.2.1", "frank", t0), Duration::ZERO);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let mut l = FailureLimiter::new(&config(2, 100, 60), 16);
        let t0 = Instant::now();
        l.record_failure(ip("2001:db8:1:2::1"), "a", t0);
        l.record_failure(ip("2001:db8:1:2:ffff::9"), "b", t0);
        assert!(refused(&mut l, "2001:db8:1:2::77", "c", t0));
        assert!(!refused(&mut l, "2001:db8:1:3::1", "c", t0));

        l.record_failure(ip("::ffff:192.0.2.9"), "a", t0);
        l.record_failure(ip("192.0.2.9"), "a", t0);
        assert!(refused(&mut l, "192.0.2.9", "z", t0));
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
        assert!(l.is_user_limited("u99", at));
        assert!(l.is_user_limited("u96", at));
        assert!(!l.is_user_limited("u95", at));
        assert!(!l.is_user_limited("u0", at));
        assert!(refused(&mut l, "10.0.0.99", "nobody", at));
        assert!(!refused(&mut l, "10.0.0.1", "nobody", at));
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
