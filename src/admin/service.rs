//! What an administrator can do, once: the panel's pages and the JSON API
//! both call these functions, so they cannot disagree.
//!
//! Every function is blocking (LMDB transactions, argon2): callers run
//! them on a blocking thread (`AdminState::run`). Every change is durable
//! when the function returns and is written to the audit log.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Authenticator, FailedLogin, hash_password};
use crate::config::QuotaDefaults;
use crate::mailbox::MailAccess;
use crate::store::{
    AuditEntry, LimitChange, Quota, Store, StoreError, WriteOp, WriteResult, Writer,
    normalize_user_name,
};

/// Longest password accepted, in bytes: IMAP passwords are octets, but a
/// megabyte of "password" is an attempt to make hashing expensive.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// ...and in characters, when it is text (as the API and the panel send).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Who did something and from where, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `admin NAME` or `token NAME (admin NAME)`.
    pub who: String,
    /// The client address.
    pub from: String,
}

/// Why an operation was refused; each maps to one problem type.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no such user: {0}")]
    NoSuchUser(String),
    #[error("user {0} already exists")]
    UserExists(String),
    /// Bad input, with the field it is about.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("the store cannot be used: {0}")]
    Store(#[source] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl AdminError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> AdminError {
        AdminError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> AdminError {
        match e {
            StoreError::NoSuchUser(n) => AdminError::NoSuchUser(n),
            StoreError::UserExists(n) => AdminError::UserExists(n),
            StoreError::InvalidUserName { reason, .. } => {
                AdminError::invalid("name", format!("invalid user name: {reason}"))
            }
            other => AdminError::Store(other),
        }
    }
}

/// A mail user as the panel and the API show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    /// The normalised (lower-case) name.
    pub name: String,
    /// RFC 3339.
    pub created: String,
    /// Messages over all the user's mailboxes.
    pub messages: u64,
    /// Bytes (sum of RFC822.SIZE) over all the user's mailboxes.
    pub storage_bytes: u64,
    pub quota: QuotaView,
}

/// Limits: `null` is unlimited.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct QuotaView {
    /// Bytes; always a multiple of 1024 (the store keeps KiB).
    pub storage_bytes: Option<u64>,
    pub messages: Option<u64>,
}

impl UserView {
    /// Percent of the storage limit used, if there is one (for bars).
    pub fn storage_percent(&self) -> Option<u64> {
        percent(self.storage_bytes, self.quota.storage_bytes)
    }
    pub fn messages_percent(&self) -> Option<u64> {
        percent(self.messages, self.quota.messages)
    }
}

fn percent(used: u64, limit: Option<u64>) -> Option<u64> {
    let limit = limit?;
    if limit == 0 {
        return Some(100);
    }
    Some((u128::from(used) * 100 / u128::from(limit)).min(100) as u64)
}

/// One mailbox of a user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailboxView {
    /// Full name, `/`-separated.
    pub name: String,
    pub messages: u32,
    pub unseen: u32,
    /// Bytes (sum of RFC822.SIZE).
    pub size_bytes: u64,
    /// RFC 6154 attributes, e.g. `\Sent`.
    pub special_use: Vec<String>,
    /// A `\Noselect` name that only holds others.
    pub noselect: bool,
}

/// A page of users.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserPage {
    /// Users matching the search, over all pages.
    pub total: usize,
    pub offset: usize,
    pub users: Vec<UserView>,
}

/// The server's state at a glance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusView {
    pub version: String,
    pub uptime_seconds: u64,
    /// Mail client connections (IMAP, and LMTP when it comes) open now.
    pub connections: u64,
    pub users: u64,
    pub messages: u64,
    /// Bytes of the LMDB data file on disk.
    pub store_bytes: u64,
    /// Bytes of the search index on disk (0 when it is off).
    pub index_bytes: u64,
    pub index_enabled: bool,
}

/// One audit entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditView {
    pub id: u64,
    /// RFC 3339, milliseconds.
    pub time: String,
    pub who: String,
    pub from: String,
    pub action: String,
    pub detail: String,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> AuditView {
        AuditView {
            id: e.id,
            time: e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            who: e.who,
            from: e.from,
            action: e.action,
            detail: e.detail,
        }
    }
}

/// What the admin side holds: the store, its writer and the server facts
/// the dashboard shows.
#[derive(Clone)]
pub struct Service {
    pub store: Store,
    writer: Writer,
    defaults: QuotaDefaults,
    started: Instant,
    connections: Arc<AtomicUsize>,
    data_dir: std::path::PathBuf,
    index_enabled: bool,
    /// The mail service, for who is logged in now.
    mail: MailAccess,
    /// Mail logins, for the recent failures.
    auth: Authenticator,
}

/// What the login throttle holds against one name (which need not be a
/// user: guessers try names that do not exist too).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LockView {
    pub name: String,
    /// Failed logins for the name, from every address, in the window.
    pub failures: u32,
    /// Whether logins for the name wait before they are checked (never
    /// from an address that logged in as it recently).
    pub slowed: bool,
    /// Addresses refused for this name, having failed too often with it.
    pub refused_from: Vec<String>,
}

/// An address refused for every name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefusedAddress {
    pub address: String,
    pub failures: u32,
}

/// Everything the login throttle holds now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LocksView {
    /// Most failures first, at most 100.
    pub names: Vec<LockView>,
    /// Most failures first, at most 100.
    pub addresses: Vec<RefusedAddress>,
}

impl LockView {
    fn of(l: crate::auth::limiter::NameLock) -> LockView {
        LockView {
            name: l.name,
            failures: l.failures,
            slowed: l.slowed,
            refused_from: l.refused_from.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// One open session of a user.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub protocol: &'static str,
    pub peer: String,
    /// `YYYY-MM-DD HH:MM:SS UTC`
    pub since: String,
}

impl Service {
    /// What the panel and the API act on: the process's store, its mail
    /// service and logins, and a writer of its own.
    pub fn new(services: &crate::server::Services, writer: Writer) -> Service {
        let config = &services.config;
        Service {
            store: services.store.clone(),
            writer,
            defaults: config.quota,
            started: Instant::now(),
            connections: services.live.clone(),
            data_dir: config.data_dir.clone(),
            index_enabled: config.search_index,
            mail: services.mail.clone(),
            auth: services.auth.clone(),
        }
    }

    fn view(&self, name: &str, created: DateTime<Utc>, q: &Quota) -> UserView {
        UserView {
            name: name.to_owned(),
            created: created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            messages: q.used_messages,
            storage_bytes: q.used_bytes,
            quota: QuotaView {
                storage_bytes: q.storage_limit_kib.map(|k| k.saturating_mul(1024)),
                messages: q.message_limit,
            },
        }
    }

    /// Users whose name contains `search` (case-insensitive), by name.
    pub fn list_users(
        &self,
        search: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<UserPage, AdminError> {
        let needle = search.map(str::to_ascii_lowercase).unwrap_or_default();
        let all: Vec<_> = self
            .store
            .list_users()?
            .into_iter()
            .filter(|u| u.name.contains(&needle))
            .collect();
        let total = all.len();
        let r = self.store.read()?;
        let mut users = Vec::new();
        for u in all.into_iter().skip(offset).take(limit) {
            let q = r.quota(u.id)?;
            users.push(self.view(&u.name, u.created, &q));
        }
        Ok(UserPage {
            total,
            offset,
            users,
        })
    }

    pub fn get_user(&self, name: &str) -> Result<UserView, AdminError> {
        let name = normalize_user_name(name)?;
        let u = self
            .store
            .get_user(&name)?
            .ok_or_else(|| AdminError::NoSuchUser(name.clone()))?;
        let q = self.store.read()?.quota(u.id)?;
        Ok(self.view(&u.name, u.created, &q))
    }

    /// Creates a user with the configured default quota, in one go: a
    /// user never exists without it.
    pub fn create_user(
        &self,
        actor: &Actor,
        name: &str,
        password: &[u8],
    ) -> Result<UserView, AdminError> {
        let name = normalize_user_name(name)?;
        check_password(password)?;
        if self.store.get_user(&name)?.is_some() {
            return Err(AdminError::UserExists(name));
        }
        let hash = hash_password(password).map_err(|e| AdminError::Internal(e.to_string()))?;
        let user = self.store.create_user(&name, &hash)?;
        let d = self.defaults;
        if d.storage_kib.is_some() || d.messages.is_some() {
            let set = |v: Option<u64>| v.map_or(LimitChange::Keep, LimitChange::Set);
            if let Err(e) = self
                .store
                .set_user_quota(&name, set(d.storage_kib), set(d.messages))
            {
                // Nothing half-done: without its quota the user goes again.
                let _ = self.store.delete_user(&name);
                return Err(e.into());
            }
        }
        self.audit(actor, "user.create", &user.name);
        self.get_user(&name)
    }

    pub fn set_password(
        &self,
        actor: &Actor,
        name: &str,
        password: &[u8],
    ) -> Result<(), AdminError> {
        let name = normalize_user_name(name)?;
        check_password(password)?;
        if self.store.get_user(&name)?.is_none() {
            return Err(AdminError::NoSuchUser(name));
        }
        let hash = hash_password(password).map_err(|e| AdminError::Internal(e.to_string()))?;
        self.store.set_password(&name, &hash)?;
        self.audit(actor, "user.password", &name);
        Ok(())
    }

    /// Sets both limits; `None` is unlimited. Bytes are rounded up to a
    /// whole KiB (the unit the store and IMAP's STORAGE use).
    pub fn set_quota(
        &self,
        actor: &Actor,
        name: &str,
        storage_bytes: Option<u64>,
        messages: Option<u64>,
    ) -> Result<UserView, AdminError> {
        let name = normalize_user_name(name)?;
        const MAX: u64 = i64::MAX as u64 / 1024;
        if storage_bytes.is_some_and(|b| b.div_ceil(1024) > MAX) {
            return Err(AdminError::invalid("storage_bytes", "too large"));
        }
        if messages.is_some_and(|m| m > i64::MAX as u64) {
            return Err(AdminError::invalid("messages", "too large"));
        }
        let change = |v: Option<u64>| v.map_or(LimitChange::Unlimited, LimitChange::Set);
        self.store.set_user_quota(
            &name,
            change(storage_bytes.map(|b| b.div_ceil(1024))),
            change(messages),
        )?;
        let shown = |v: Option<u64>| v.map_or("unlimited".to_owned(), |v| v.to_string());
        self.audit(
            actor,
            "user.quota",
            &format!(
                "{name}: storage {} bytes, {} messages",
                shown(storage_bytes.map(|b| b.div_ceil(1024) * 1024)),
                shown(messages)
            ),
        );
        self.get_user(&name)
    }

    /// Deletes the user and all their mail. The mail goes first, so a
    /// failure leaves a user that can be deleted again, never mail without
    /// a user.
    pub fn delete_user(&self, actor: &Actor, name: &str) -> Result<(u32, u64), AdminError> {
        let name = normalize_user_name(name)?;
        let user = self
            .store
            .get_user(&name)?
            .ok_or_else(|| AdminError::NoSuchUser(name.clone()))?;
        let gone = self
            .writer
            .submit_blocking(WriteOp::DeleteUserMail { user_id: user.id })?;
        self.store.delete_user(&name)?;
        let (mailboxes, messages) = match gone {
            WriteResult::UserMailDeleted {
                mailboxes,
                messages,
            } => (mailboxes, messages),
            _ => (0, 0),
        };
        self.audit(
            actor,
            "user.delete",
            &format!("{name} ({mailboxes} mailboxes, {messages} messages)"),
        );
        Ok((mailboxes, messages))
    }

    pub fn mailboxes(&self, name: &str) -> Result<Vec<MailboxView>, AdminError> {
        let name = normalize_user_name(name)?;
        let user = self
            .store
            .get_user(&name)?
            .ok_or_else(|| AdminError::NoSuchUser(name.clone()))?;
        let r = self.store.read()?;
        Ok(r.mailboxes(user.id)?
            .into_iter()
            .map(|m| MailboxView {
                name: m.name,
                messages: m.messages,
                unseen: m.unseen,
                size_bytes: m.size,
                special_use: m.special_use.names().map(str::to_owned).collect(),
                noselect: m.noselect,
            })
            .collect())
    }

    /// Failed mail logins since the start (the last few), newest first.
    pub fn recent_mail_failures(&self) -> Vec<FailedLogin> {
        self.auth.recent_failures()
    }

    /// What the login throttle holds against `name` now, if anything.
    pub fn lock(&self, name: &str) -> Result<Option<LockView>, AdminError> {
        let name = normalize_user_name(name)?;
        Ok(self.auth.lock_of(&name).map(LockView::of))
    }

    /// Every name and address the login throttle holds now.
    pub fn locks(&self) -> LocksView {
        let (names, addresses) = self.auth.locks();
        LocksView {
            names: names.into_iter().map(LockView::of).collect(),
            addresses: addresses
                .into_iter()
                .map(|(ip, failures)| RefusedAddress {
                    address: ip.to_string(),
                    failures,
                })
                .collect(),
        }
    }

    /// Forgets the failed logins counted for `name` (like `roost user
    /// unlock`): the addresses refused for it may try again, and its
    /// logins are no longer slowed. Addresses refused for every name stay
    /// refused until their window ends.
    pub fn unlock(&self, actor: &Actor, name: &str) -> Result<(), AdminError> {
        let name = normalize_user_name(name)?;
        self.auth.unlock(&name);
        self.audit(actor, "user.unlock", &name);
        Ok(())
    }

    /// The user's sessions open in this process now, oldest first.
    pub fn sessions(&self, name: &str) -> Result<Vec<SessionView>, AdminError> {
        let name = normalize_user_name(name)?;
        let user = self
            .store
            .get_user(&name)?
            .ok_or_else(|| AdminError::NoSuchUser(name.clone()))?;
        Ok(self
            .mail
            .logins()
            .of(user.id)
            .into_iter()
            .map(|l| SessionView {
                protocol: l.protocol,
                peer: l.peer.to_string(),
                since: l.since.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            })
            .collect())
    }

    pub fn status(&self) -> Result<StatusView, AdminError> {
        let users = self.store.list_users()?;
        let r = self.store.read()?;
        let mut messages = 0u64;
        for u in &users {
            messages += r.quota(u.id)?.used_messages;
        }
        Ok(StatusView {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_seconds: self.started.elapsed().as_secs(),
            connections: self.connections.load(Ordering::Relaxed) as u64,
            users: users.len() as u64,
            messages,
            store_bytes: disk_usage(&self.data_dir.join("store")),
            index_bytes: if self.index_enabled {
                disk_usage(&self.data_dir.join("index"))
            } else {
                0
            },
            index_enabled: self.index_enabled,
        })
    }

    pub fn audit_log(
        &self,
        before: Option<u64>,
        limit: usize,
        action: Option<&str>,
    ) -> Result<Vec<AuditView>, AdminError> {
        Ok(self
            .store
            .audit_entries(before, limit, action)?
            .into_iter()
            .map(AuditView::from)
            .collect())
    }

    /// Records an action. The change it describes is already durable; a
    /// failure to record it is logged, not reported as the change failing.
    pub fn audit(&self, actor: &Actor, action: &str, detail: &str) {
        if let Err(error) = self.store.audit(&actor.who, &actor.from, action, detail) {
            tracing::error!(%error, action, "cannot write the audit log");
        }
    }
}

fn check_password(password: &[u8]) -> Result<(), AdminError> {
    if password.is_empty() {
        return Err(AdminError::invalid(
            "password",
            "the password must not be empty",
        ));
    }
    let chars = std::str::from_utf8(password).map_or(0, |p| p.chars().count());
    if password.len() > MAX_PASSWORD_BYTES || chars > MAX_PASSWORD_CHARS {
        return Err(AdminError::invalid(
            "password",
            format!(
                "the password is longer than {MAX_PASSWORD_CHARS} characters \
                 ({MAX_PASSWORD_BYTES} bytes)"
            ),
        ));
    }
    Ok(())
}

/// Bytes the files under `dir` take on disk (LMDB's file is sparse, so its
/// length would overstate it).
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.blocks() * 512,
                Err(_) => {}
            }
        }
    }
    total
}
