//! Who is logged in now: a protocol registers each authenticated
//! connection under its user, and forgets it when the connection ends; the
//! admin panel lists a user's open sessions from here. In memory only (it
//! describes this process's connections).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// One authenticated connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginInfo {
    /// The connection id (unique over every protocol).
    pub conn_id: u64,
    pub protocol: &'static str,
    pub peer: SocketAddr,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Logins {
    by_user: Mutex<HashMap<u64, Vec<LoginInfo>>>,
}

impl Logins {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Vec<LoginInfo>>> {
        // Each update is one map operation: consistent whatever panicked.
        self.by_user.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, user_id: u64, info: LoginInfo) {
        self.map().entry(user_id).or_default().push(info);
    }

    /// Adds the login unless the user already has `max` sessions of the
    /// same protocol; then `Err` with how many they have. Checked and added
    /// under one lock, so simultaneous logins cannot pass it together.
    pub fn try_add(&self, user_id: u64, info: LoginInfo, max: usize) -> Result<(), usize> {
        let mut map = self.map();
        let list = map.entry(user_id).or_default();
        let held = list.iter().filter(|l| l.protocol == info.protocol).count();
        if held >= max {
            if list.is_empty() {
                map.remove(&user_id);
            }
            return Err(held);
        }
        list.push(info);
        Ok(())
    }

    pub fn remove(&self, user_id: u64, conn_id: u64) {
        let mut map = self.map();
        if let Some(list) = map.get_mut(&user_id) {
            list.retain(|l| l.conn_id != conn_id);
            if list.is_empty() {
                map.remove(&user_id);
            }
        }
    }

    /// The user's open sessions, oldest first.
    pub fn of(&self, user_id: u64) -> Vec<LoginInfo> {
        self.map().get(&user_id).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_list_remove() {
        let l = Logins::default();
        let peer: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let info = |conn_id| LoginInfo {
            conn_id,
            protocol: "IMAP",
            peer,
            since: Utc::now(),
        };
        l.add(7, info(1));
        l.add(7, info(2));
        assert_eq!(
            l.of(7).iter().map(|i| i.conn_id).collect::<Vec<_>>(),
            [1, 2]
        );
        l.remove(7, 1);
        assert_eq!(l.of(7).len(), 1);
        l.remove(7, 2);
        assert!(l.of(7).is_empty() && l.map().is_empty());
    }

    #[test]
    fn try_add_stops_at_the_limit_per_protocol() {
        let l = Logins::default();
        let peer: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let info = |conn_id, protocol| LoginInfo {
            conn_id,
            protocol,
            peer,
            since: Utc::now(),
        };
        assert_eq!(l.try_add(7, info(1, "IMAP"), 2), Ok(()));
        assert_eq!(l.try_add(7, info(2, "IMAP"), 2), Ok(()));
        assert_eq!(l.try_add(7, info(3, "IMAP"), 2), Err(2));
        assert_eq!(l.try_add(7, info(4, "POP3"), 2), Ok(()));
        assert_eq!(l.try_add(8, info(5, "IMAP"), 0), Err(0));
        assert!(l.of(8).is_empty() && !l.map().contains_key(&8));
        l.remove(7, 1);
        assert_eq!(l.try_add(7, info(6, "IMAP"), 2), Ok(()));
    }
}
