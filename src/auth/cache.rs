//! Recently verified credentials, so a client that reconnects with the
//! same password (a phone waking up, a mail client with several
//! connections) logs in without another argon2id computation.
//!
//! What is kept per user name: a keyed BLAKE2b digest of the password (the
//! key is random per process and never leaves memory, so the digest is
//! useless outside it and no password is kept), a digest of the stored
//! argon2 hash it was verified against (a password change gives a new hash
//! with a new salt, so the entry stops matching at once), and when.
//!
//! Only a right password can be answered from here: a wrong one, an
//! unknown user, an expired entry all go to argon2 as before, so the cache
//! tells an attacker nothing about which users exist.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use blake2::{Blake2b512, Digest};
use subtle::ConstantTimeEq;

/// How long a verified password is remembered.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);
/// Users remembered at most (about 200 bytes each).
pub const DEFAULT_CAPACITY: usize = 20_000;

type Digest64 = [u8; 64];

#[derive(Debug)]
pub struct CredentialCache {
    key: [u8; 32],
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    password: Digest64,
    stored_hash: Digest64,
    at: Instant,
}

impl CredentialCache {
    pub fn new(ttl: Duration, capacity: usize) -> CredentialCache {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        CredentialCache {
            key,
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn digest(&self, domain: &[u8], data: &[u8]) -> Digest64 {
        // BLAKE2 has no length-extension weakness, so a secret prefix makes
        // a MAC; the domain keeps the two uses apart.
        let mut h = Blake2b512::new();
        h.update(self.key);
        h.update(domain);
        h.update(data);
        h.finalize().into()
    }

    /// Whether `password` was verified for `user` against `stored_hash`
    /// within the time to live.
    pub fn matches(&self, user: &str, password: &[u8], stored_hash: &str, now: Instant) -> bool {
        if self.ttl.is_zero() {
            return false;
        }
        let entry = match self.entries().get(user) {
            Some(e) => *e,
            None => return false,
        };
        if now.saturating_duration_since(entry.at) >= self.ttl {
            return false;
        }
        let password = self.digest(b"password", password);
        let stored = self.digest(b"stored-hash", stored_hash.as_bytes());
        bool::from(entry.password.ct_eq(&password) & entry.stored_hash.ct_eq(&stored))
    }

    /// Remembers that `password` is right for `user` (as stored now).
    pub fn insert(&self, user: &str, password: &[u8], stored_hash: &str, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let entry = Entry {
            password: self.digest(b"password", password),
            stored_hash: self.digest(b"stored-hash", stored_hash.as_bytes()),
            at: now,
        };
        let mut entries = self.entries();
        if entries.len() >= self.capacity && !entries.contains_key(user) {
            let ttl = self.ttl;
            entries.retain(|_, e| now.saturating_duration_since(e.at) < ttl);
            if entries.len() >= self.capacity {
                // Still full of live entries: the oldest goes.
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.at)
                    .map(|(k, _)| k.clone())
                {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(user.to_owned(), entry);
    }

    /// Forgets `user` (password changed, user deleted, a wrong password
    /// seen).
    pub fn forget(&self, user: &str) {
        self.entries().remove(user);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // Every update is one map operation: a panic elsewhere leaves it valid.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_password_within_ttl_matches_only_against_the_same_stored_hash() {
        let c = CredentialCache::new(Duration::from_secs(60), 16);
        let t0 = Instant::now();
        c.insert("alice", b"secret", "$argon2id$one", t0);
        assert!(c.matches(
            "alice",
            b"secret",
            "$argon2id$one",
            t0 + Duration::from_secs(59)
        ));
        assert!(!c.matches("alice", b"Secret", "$argon2id$one", t0));
        assert!(!c.matches("bob", b"secret", "$argon2id$one", t0));
        // The password was changed: the stored hash is another.
        assert!(!c.matches("alice", b"secret", "$argon2id$two", t0));
        // Expired.
        assert!(!c.matches(
            "alice",
            b"secret",
            "$argon2id$one",
            t0 + Duration::from_secs(60)
        ));
        c.forget("alice");
        assert!(!c.matches("alice", b"secret", "$argon2id$one", t0));
    }

    #[test]
    fn bounded_and_oldest_goes_first() {
        let c = CredentialCache::new(Duration::from_secs(3600), 4);
        let t0 = Instant::now();
        for i in 0..10u64 {
            c.insert(&format!("u{i}"), b"pw", "h", t0 + Duration::from_secs(i));
            assert!(c.len() <= 4);
        }
        let at = t0 + Duration::from_secs(20);
        assert!(c.matches("u9", b"pw", "h", at));
        assert!(c.matches("u6", b"pw", "h", at));
        assert!(!c.matches("u5", b"pw", "h", at));
    }

    #[test]
    fn zero_ttl_turns_it_off() {
        let c = CredentialCache::new(Duration::ZERO, 4);
        let t0 = Instant::now();
        c.insert("alice", b"pw", "h", t0);
        assert!(!c.matches("alice", b"pw", "h", t0));
    }

    #[test]
    fn digests_are_keyed_per_process() {
        let a = CredentialCache::new(Duration::from_secs(60), 4);
        let b = CredentialCache::new(Duration::from_secs(60), 4);
        assert_ne!(a.digest(b"password", b"pw"), b.digest(b"password", b"pw"));
    }
}
