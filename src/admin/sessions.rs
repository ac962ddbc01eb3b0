//! Panel sign-in sessions, in memory: a restart signs everyone out, which
//! is the safe side. The cookie carries a random id; the map is keyed by
//! its digest, so the ids themselves are nowhere in memory but the cookie.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::secrets;

/// At most this many sessions; beyond, the oldest goes.
const MAX_SESSIONS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct PanelSession {
    pub admin: String,
    /// The token every form of this session carries.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

pub struct Sessions {
    map: HashMap<[u8; 32], PanelSession>,
    idle: Duration,
    max: Duration,
}

impl Sessions {
    pub fn new(idle: Duration, max: Duration) -> Sessions {
        Sessions {
            map: HashMap::new(),
            idle,
            max,
        }
    }

    /// Starts a session; returns the cookie value.
    pub fn create(&mut self, admin: &str, now: Instant) -> String {
        self.map.retain(|_, s| live(s, now, self.idle, self.max));
        if self.map.len() >= MAX_SESSIONS
            && let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| *k)
        {
            self.map.remove(&oldest);
        }
        let id = secrets::random_secret();
        self.map.insert(
            secrets::digest(&id),
            PanelSession {
                admin: admin.to_owned(),
                csrf: secrets::random_secret(),
                created: now,
                last_seen: now,
            },
        );
        id
    }

    /// The live session with this cookie value, touched.
    pub fn get(&mut self, id: &str, now: Instant) -> Option<PanelSession> {
        let key = secrets::digest(id);
        let s = self.map.get_mut(&key)?;
        if !live(s, now, self.idle, self.max) {
            self.map.remove(&key);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    pub fn remove(&mut self, id: &str) {
        self.map.remove(&secrets::digest(id));
    }
}

fn live(s: &PanelSession, now: Instant, idle: Duration, max: Duration) -> bool {
    now.saturating_duration_since(s.last_seen) < idle
        && now.saturating_duration_since(s.created) < max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_absolute_expiry_and_logout() {
        let t0 = Instant::now();
        let mut s = Sessions::new(Duration::from_secs(10), Duration::from_secs(25));
        let id = s.create("root", t0);
        assert_eq!(
            s.get(&id, t0 + Duration::from_secs(9)).map(|p| p.admin),
            Some("root".into())
        );
        assert!(
            s.get(&id, t0 + Duration::from_secs(18)).is_some(),
            "touched at 9"
        );
        assert!(
            s.get(&id, t0 + Duration::from_secs(26)).is_none(),
            "absolute limit"
        );
        let id = s.create("root", t0);
        assert!(
            s.get(&id, t0 + Duration::from_secs(11)).is_none(),
            "idle limit"
        );
        let id = s.create("root", t0);
        s.remove(&id);
        assert!(s.get(&id, t0).is_none());
        assert!(s.get("made-up", t0).is_none());
    }
}
