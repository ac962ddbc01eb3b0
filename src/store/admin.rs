//! The administration tables: administrators, API tokens, the one-time
//! setup token and the audit log (format version 3).
//!
//! Administrators are not mail users: they live in their own table, log in
//! only to the admin panel, and a mail user's password never opens it.
//! Tokens are kept as SHA-256 digests only (a token is 32 random bytes, so
//! a fast digest is enough; the token itself is shown once, when made).
//! Like `users`, these tables are written by the CLI and the server
//! directly (small transactions, ordered by LMDB's write lock), so
//! `roost admin` works while the server runs.

use chrono::{DateTime, Utc};
use heed::RwTxn;

use super::{
    DB_ADMIN_TOKENS, DB_ADMINS, DB_AUDIT, DB_META, KEY_ADMIN_SETUP, KEY_NEXT_AUDIT_ID,
    KEY_NEXT_TOKEN_ID, Store, StoreError, corruption, decode_u64, normalize_user_name,
    take_next_id,
};

/// Record version of every admin-table record and of the setup state.
const RECORD_V1: u8 = 1;

/// Entries the audit log keeps; older ones are dropped as new ones come,
/// so the log cannot grow without bound.
pub const AUDIT_KEEP: u64 = 100_000;

/// Longest text field of an audit entry, in bytes (longer is cut at a
/// character boundary).
const AUDIT_FIELD_MAX: usize = 1024;

/// One administrator. `Debug` leaves out the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminRecord {
    pub name: String,
    pub created: DateTime<Utc>,
    /// argon2id PHC string.
    pub password_hash: String,
}

impl std::fmt::Debug for AdminRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminRecord")
            .field("name", &self.name)
            .field("created", &self.created)
            .field("password_hash", &"REDACTED")
            .finish()
    }
}

/// One API token as stored: its digest, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Never reused.
    pub id: u64,
    pub name: String,
    /// The administrator it acts as.
    pub admin: String,
    pub sha256: [u8; 32],
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
    pub revoked: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Whether the token may be used at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked.is_none() && self.expires.is_none_or(|e| now < e)
    }

    /// Its state at `now` in words, as the CLI and the panel list it:
    /// `revoked`, `expired`, `live` or `live until <time>`.
    pub fn state_text(&self, now: DateTime<Utc>) -> String {
        if self.revoked.is_some() {
            "revoked".to_owned()
        } else if !self.is_live(now) {
            "expired".to_owned()
        } else {
            self.expires.map_or("live".to_owned(), |e| {
                format!("live until {}", e.format("%Y-%m-%d %H:%M UTC"))
            })
        }
    }
}

/// One audit entry: who did what, when, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Increasing; the newest entry has the largest.
    pub id: u64,
    /// Milliseconds precision.
    pub time: DateTime<Utc>,
    /// `admin NAME`, `token NAME`, `cli`, `setup`, ...
    pub who: String,
    /// The client address, or `cli`.
    pub from: String,
    /// A short stable verb: `user.create`, `admin.login.failed`, ...
    pub action: String,
    /// What it was done to, and how it went.
    pub detail: String,
}

/// The first administrator may be made with this (see `Store::setup_admin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupToken {
    pub sha256: [u8; 32],
    pub expires: DateTime<Utc>,
}

/// Why `setup_admin` refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupRefusal {
    /// An administrator exists already: setup is over.
    Done,
    /// No setup token, a different one, or an expired one.
    BadToken,
}

/// Administrator names follow the user-name rules (a-z 0-9 . _ + @ -).
pub fn normalize_admin_name(name: &str) -> Result<String, StoreError> {
    normalize_user_name(name).map_err(|e| match e {
        StoreError::InvalidUserName { name, reason } => {
            StoreError::InvalidAdminName { name, reason }
        }
        other => other,
    })
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let len = bytes.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&bytes[..len]);
}

/// Cuts `s` to at most `max` bytes at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Reads records field by field; every read is bounds-checked.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(i64::from_be_bytes)
    }
    fn digest(&mut self) -> Option<[u8; 32]> {
        self.take(32).and_then(|b| b.try_into().ok())
    }
    fn string(&mut self) -> Option<String> {
        let len = self
            .take(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))?;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).ok().map(str::to_owned)
    }
    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

fn time(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

fn check_version(db: &'static str, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
    match bytes.first() {
        Some(&RECORD_V1) => Ok(()),
        Some(v) => Err(corruption(db, key, format!("unknown record version {v}"))),
        None => Err(corruption(db, key, "empty record")),
    }
}

pub(super) fn encode_admin(created: DateTime<Utc>, password_hash: &str) -> Vec<u8> {
    let mut out = vec![RECORD_V1];
    out.extend_from_slice(&created.timestamp().to_be_bytes());
    put_str(&mut out, password_hash);
    out
}

pub(super) fn decode_admin(name: &str, bytes: &[u8]) -> Result<AdminRecord, StoreError> {
    check_version(DB_ADMINS, name, bytes)?;
    let mut f = Fields { bytes, at: 1 };
    let parsed = (|| {
        let created = time(f.i64()?)?;
        let password_hash = f.string()?;
        f.done().then_some((created, password_hash))
    })();
    let (created, password_hash) =
        parsed.ok_or_else(|| corruption(DB_ADMINS, name, "malformed administrator record"))?;
    Ok(AdminRecord {
        name: name.to_owned(),
        created,
        password_hash,
    })
}

const TOKEN_EXPIRES: u8 = 1;
const TOKEN_REVOKED: u8 = 1 << 1;

pub(super) fn encode_token(t: &TokenRecord) -> Vec<u8> {
    let mut out = vec![RECORD_V1];
    out.extend_from_slice(&t.sha256);
    out.extend_from_slice(&t.created.timestamp().to_be_bytes());
    let mut bits = 0;
    if t.expires.is_some() {
        bits |= TOKEN_EXPIRES;
    }
    if t.revoked.is_some() {
        bits |= TOKEN_REVOKED;
    }
    out.push(bits);
    out.extend_from_slice(&t.expires.map_or(0, |e| e.timestamp()).to_be_bytes());
    out.extend_from_slice(&t.revoked.map_or(0, |r| r.timestamp()).to_be_bytes());
    put_str(&mut out, &t.name);
    put_str(&mut out, &t.admin);
    out
}

pub(super) fn decode_token(id: u64, bytes: &[u8]) -> Result<TokenRecord, StoreError> {
    check_version(DB_ADMIN_TOKENS, &id.to_string(), bytes)?;
    let mut f = Fields { bytes, at: 1 };
    let parsed = (|| {
        let sha256 = f.digest()?;
        let created = time(f.i64()?)?;
        let bits = f.u8()?;
        if bits & !(TOKEN_EXPIRES | TOKEN_REVOKED) != 0 {
            return None;
        }
        let expires = time(f.i64()?)?;
        let revoked = time(f.i64()?)?;
        let name = f.string()?;
        let admin = f.string()?;
        f.done().then_some(TokenRecord {
            id,
            name,
            admin,
            sha256,
            created,
            expires: (bits & TOKEN_EXPIRES != 0).then_some(expires),
            revoked: (bits & TOKEN_REVOKED != 0).then_some(revoked),
        })
    })();
    parsed.ok_or_else(|| corruption(DB_ADMIN_TOKENS, id, "malformed token record"))
}

pub(super) fn encode_audit(e: &AuditEntry) -> Vec<u8> {
    let mut out = vec![RECORD_V1];
    out.extend_from_slice(&e.time.timestamp_millis().to_be_bytes());
    for s in [&e.who, &e.from, &e.action, &e.detail] {
        put_str(&mut out, clip(s, AUDIT_FIELD_MAX));
    }
    out
}

pub(super) fn decode_audit(id: u64, bytes: &[u8]) -> Result<AuditEntry, StoreError> {
    check_version(DB_AUDIT, &id.to_string(), bytes)?;
    let mut f = Fields { bytes, at: 1 };
    let parsed = (|| {
        let time = DateTime::from_timestamp_millis(f.i64()?)?;
        let who = f.string()?;
        let from = f.string()?;
        let action = f.string()?;
        let detail = f.string()?;
        f.done().then_some(AuditEntry {
            id,
            time,
            who,
            from,
            action,
            detail,
        })
    })();
    parsed.ok_or_else(|| corruption(DB_AUDIT, id, "malformed audit entry"))
}

pub(super) fn encode_setup(s: &SetupToken) -> Vec<u8> {
    let mut out = vec![RECORD_V1];
    out.extend_from_slice(&s.sha256);
    out.extend_from_slice(&s.expires.timestamp().to_be_bytes());
    out
}

pub(super) fn decode_setup(bytes: &[u8]) -> Result<SetupToken, StoreError> {
    check_version(DB_META, KEY_ADMIN_SETUP, bytes)?;
    let mut f = Fields { bytes, at: 1 };
    let parsed = (|| {
        let sha256 = f.digest()?;
        let expires = time(f.i64()?)?;
        f.done().then_some(SetupToken { sha256, expires })
    })();
    parsed.ok_or_else(|| corruption(DB_META, KEY_ADMIN_SETUP, "malformed setup token"))
}

fn check_hash(phc: &str) -> Result<(), StoreError> {
    if !phc.starts_with('$') || !phc.bytes().all(|b| b.is_ascii_graphic()) || phc.len() > 4096 {
        return Err(StoreError::InvalidPasswordHash("not a PHC string"));
    }
    Ok(())
}

/// Whole seconds: that is what the records keep.
fn now_secs() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default()
}

impl Store {
    /// Adds an administrator. Ends the first-start setup: the setup token
    /// goes in the same transaction.
    pub fn create_admin(&self, name: &str, password_hash: &str) -> Result<AdminRecord, StoreError> {
        let name = normalize_admin_name(name)?;
        check_hash(password_hash)?;
        let mut wtxn = self.inner.env.write_txn()?;
        let rec = self.insert_admin(&mut wtxn, &name, password_hash)?;
        wtxn.commit()?;
        Ok(rec)
    }

    fn insert_admin(
        &self,
        wtxn: &mut RwTxn<'_>,
        name: &str,
        password_hash: &str,
    ) -> Result<AdminRecord, StoreError> {
        let a = &self.inner.admin;
        if a.admins.get(wtxn, name)?.is_some() {
            return Err(StoreError::AdminExists(name.to_owned()));
        }
        let created = now_secs();
        a.admins
            .put(wtxn, name, &encode_admin(created, password_hash))?;
        self.inner.meta.delete(wtxn, KEY_ADMIN_SETUP)?;
        Ok(AdminRecord {
            name: name.to_owned(),
            created,
            password_hash: password_hash.to_owned(),
        })
    }

    pub fn get_admin(&self, name: &str) -> Result<Option<AdminRecord>, StoreError> {
        let name = normalize_admin_name(name)?;
        let rtxn = self.inner.env.read_txn()?;
        match self.inner.admin.admins.get(&rtxn, &name)? {
            Some(bytes) => Ok(Some(decode_admin(&name, bytes)?)),
            None => Ok(None),
        }
    }

    pub fn set_admin_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        let name = normalize_admin_name(name)?;
        check_hash(password_hash)?;
        let a = &self.inner.admin;
        let mut wtxn = self.inner.env.write_txn()?;
        let old = match a.admins.get(&wtxn, &name)? {
            Some(bytes) => decode_admin(&name, bytes)?,
            None => return Err(StoreError::NoSuchAdmin(name)),
        };
        a.admins
            .put(&mut wtxn, &name, &encode_admin(old.created, password_hash))?;
        wtxn.commit()?;
        Ok(())
    }

    /// Removes an administrator and revokes their tokens in the same
    /// transaction: a token never outlives the one it acts as.
    pub fn delete_admin(&self, name: &str) -> Result<AdminRecord, StoreError> {
        let name = normalize_admin_name(name)?;
        let a = &self.inner.admin;
        let mut wtxn = self.inner.env.write_txn()?;
        let old = match a.admins.get(&wtxn, &name)? {
            Some(bytes) => decode_admin(&name, bytes)?,
            None => return Err(StoreError::NoSuchAdmin(name)),
        };
        a.admins.delete(&mut wtxn, &name)?;
        let now = now_secs();
        let mut revoke = Vec::new();
        for entry in a.tokens.iter(&wtxn)? {
            let (key, bytes) = entry?;
            let id = decode_u64(key).ok_or_else(|| corruption(DB_ADMIN_TOKENS, "?", "bad key"))?;
            let t = decode_token(id, bytes)?;
            if t.admin == name && t.revoked.is_none() {
                revoke.push(t);
            }
        }
        for mut t in revoke {
            t.revoked = Some(now);
            a.tokens
                .put(&mut wtxn, &t.id.to_be_bytes(), &encode_token(&t))?;
        }
        wtxn.commit()?;
        Ok(old)
    }

    /// Every administrator, ordered by name.
    pub fn list_admins(&self) -> Result<Vec<AdminRecord>, StoreError> {
        let rtxn = self.inner.env.read_txn()?;
        let mut out = Vec::new();
        for entry in self.inner.admin.admins.iter(&rtxn)? {
            let (name, bytes) = entry?;
            out.push(decode_admin(name, bytes)?);
        }
        Ok(out)
    }

    pub fn has_admins(&self) -> Result<bool, StoreError> {
        let rtxn = self.inner.env.read_txn()?;
        Ok(!self.inner.admin.admins.is_empty(&rtxn)?)
    }

    /// Records a setup token if no administrator exists; `false` (and
    /// nothing written) if one does.
    pub fn put_setup_token(&self, token: &SetupToken) -> Result<bool, StoreError> {
        let mut wtxn = self.inner.env.write_txn()?;
        if !self.inner.admin.admins.is_empty(&wtxn)? {
            return Ok(false);
        }
        self.inner
            .meta
            .put(&mut wtxn, KEY_ADMIN_SETUP, &encode_setup(token))?;
        wtxn.commit()?;
        Ok(true)
    }

    pub fn setup_token(&self) -> Result<Option<SetupToken>, StoreError> {
        let rtxn = self.inner.env.read_txn()?;
        match self.inner.meta.get(&rtxn, KEY_ADMIN_SETUP)? {
            Some(bytes) => Ok(Some(decode_setup(bytes)?)),
            None => Ok(None),
        }
    }

    /// Creates the first administrator if `sha256` is the digest of the
    /// live setup token, and uses the token up, in one transaction: two
    /// setup forms sent at once cannot both succeed.
    pub fn setup_admin(
        &self,
        sha256: &[u8; 32],
        now: DateTime<Utc>,
        name: &str,
        password_hash: &str,
    ) -> Result<Result<AdminRecord, SetupRefusal>, StoreError> {
        let name = normalize_admin_name(name)?;
        check_hash(password_hash)?;
        let mut wtxn = self.inner.env.write_txn()?;
        if !self.inner.admin.admins.is_empty(&wtxn)? {
            return Ok(Err(SetupRefusal::Done));
        }
        let token = match self.inner.meta.get(&wtxn, KEY_ADMIN_SETUP)? {
            Some(bytes) => decode_setup(bytes)?,
            None => return Ok(Err(SetupRefusal::BadToken)),
        };
        let same: bool = subtle::ConstantTimeEq::ct_eq(&token.sha256[..], &sha256[..]).into();
        if !same || now >= token.expires {
            return Ok(Err(SetupRefusal::BadToken));
        }
        let rec = self.insert_admin(&mut wtxn, &name, password_hash)?;
        wtxn.commit()?;
        Ok(Ok(rec))
    }

    /// Stores a new token's digest. Names are unique among live tokens, so
    /// `revoke NAME` means one token.
    pub fn create_token(
        &self,
        name: &str,
        admin: &str,
        sha256: [u8; 32],
        expires: Option<DateTime<Utc>>,
    ) -> Result<TokenRecord, StoreError> {
        let admin = normalize_admin_name(admin)?;
        check_token_name(name)?;
        let a = &self.inner.admin;
        let mut wtxn = self.inner.env.write_txn()?;
        if a.admins.get(&wtxn, &admin)?.is_none() {
            return Err(StoreError::NoSuchAdmin(admin));
        }
        let now = now_secs();
        for t in self.tokens_in(&wtxn)? {
            if t.name == name && t.is_live(now) {
                return Err(StoreError::TokenExists(name.to_owned()));
            }
        }
        let id = take_next_id(&mut wtxn, self.inner.meta, KEY_NEXT_TOKEN_ID)?;
        let rec = TokenRecord {
            id,
            name: name.to_owned(),
            admin,
            sha256,
            created: now,
            expires,
            revoked: None,
        };
        a.tokens
            .put(&mut wtxn, &id.to_be_bytes(), &encode_token(&rec))?;
        wtxn.commit()?;
        Ok(rec)
    }

    fn tokens_in(&self, txn: &heed::RoTxn<'_>) -> Result<Vec<TokenRecord>, StoreError> {
        let mut out = Vec::new();
        for entry in self.inner.admin.tokens.iter(txn)? {
            let (key, bytes) = entry?;
            let id = decode_u64(key)
                .ok_or_else(|| corruption(DB_ADMIN_TOKENS, format!("{key:?}"), "bad key"))?;
            out.push(decode_token(id, bytes)?);
        }
        Ok(out)
    }

    /// Every token, oldest first (revoked and expired ones included).
    pub fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rtxn = self.inner.env.read_txn()?;
        self.tokens_in(&rtxn)
    }

    /// The token with this digest, live or not.
    pub fn token_by_digest(&self, sha256: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self
            .list_tokens()?
            .into_iter()
            .find(|t| bool::from(subtle::ConstantTimeEq::ct_eq(&t.sha256[..], &sha256[..]))))
    }

    /// Revokes the token with this id (all digits) or the live token with
    /// this name. Revoking a revoked token is an error, so a typo is seen.
    pub fn revoke_token(&self, id_or_name: &str) -> Result<TokenRecord, StoreError> {
        let a = &self.inner.admin;
        let mut wtxn = self.inner.env.write_txn()?;
        let now = now_secs();
        let tokens = self.tokens_in(&wtxn)?;
        let by_id = id_or_name.parse::<u64>().ok();
        let found = tokens
            .into_iter()
            .filter(|t| t.revoked.is_none())
            .find(|t| Some(t.id) == by_id || t.name == id_or_name);
        let Some(mut t) = found else {
            return Err(StoreError::NoSuchToken(id_or_name.to_owned()));
        };
        t.revoked = Some(now);
        a.tokens
            .put(&mut wtxn, &t.id.to_be_bytes(), &encode_token(&t))?;
        wtxn.commit()?;
        Ok(t)
    }

    /// Appends to the audit log (durable when this returns) and drops the
    /// entry that falls out of the kept window.
    pub fn audit(
        &self,
        who: &str,
        from: &str,
        action: &str,
        detail: &str,
    ) -> Result<u64, StoreError> {
        let a = &self.inner.admin;
        let mut wtxn = self.inner.env.write_txn()?;
        let id = take_next_id(&mut wtxn, self.inner.meta, KEY_NEXT_AUDIT_ID)?;
        let entry = AuditEntry {
            id,
            time: Utc::now(),
            who: who.to_owned(),
            from: from.to_owned(),
            action: action.to_owned(),
            detail: detail.to_owned(),
        };
        a.audit
            .put(&mut wtxn, &id.to_be_bytes(), &encode_audit(&entry))?;
        if let Some(old) = id.checked_sub(AUDIT_KEEP) {
            a.audit.delete(&mut wtxn, &old.to_be_bytes())?;
        }
        wtxn.commit()?;
        Ok(id)
    }

    /// Up to `limit` entries older than `before` (all if `None`), newest
    /// first, optionally only those whose action starts with `action`.
    pub fn audit_entries(
        &self,
        before: Option<u64>,
        limit: usize,
        action: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rtxn = self.inner.env.read_txn()?;
        let mut out = Vec::new();
        for entry in self.inner.admin.audit.rev_iter(&rtxn)? {
            if out.len() >= limit {
                break;
            }
            let (key, bytes) = entry?;
            let id = decode_u64(key)
                .ok_or_else(|| corruption(DB_AUDIT, format!("{key:?}"), "bad key"))?;
            if before.is_some_and(|b| id >= b) {
                continue;
            }
            let e = decode_audit(id, bytes)?;
            if action.is_some_and(|p| !e.action.starts_with(p)) {
                continue;
            }
            out.push(e);
        }
        Ok(out)
    }
}

/// Token names: 1-64 printable ASCII characters without spaces (they
/// appear in lists and in `revoke NAME`); not all digits, which would read
/// as an id.
pub fn check_token_name(name: &str) -> Result<(), StoreError> {
    let bad = |reason| StoreError::InvalidTokenName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() || name.len() > 64 {
        return Err(bad("must be 1 to 64 characters"));
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("only printable ASCII without spaces is allowed"));
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("must not be all digits (that reads as a token id)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::TempDir;
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("time")
    }

    /// The v1 layouts, byte for byte. If this test has to change, the
    /// on-disk format changed: bump the record version and migrate.
    #[test]
    fn admin_records_v1_fixtures() {
        let admin: &[u8] = b"\x01\x00\x00\x00\x00\x65\x53\xf1\x00\x00\x06$a$b$c";
        assert_eq!(encode_admin(at(1_700_000_000), "$a$b$c"), admin);
        let rec = decode_admin("root", admin).expect("admin");
        assert_eq!(
            (rec.created, rec.password_hash.as_str()),
            (at(1_700_000_000), "$a$b$c")
        );

        let token = TokenRecord {
            id: 9,
            name: "ci".into(),
            admin: "root".into(),
            sha256: [0xab; 32],
            created: at(1_700_000_000),
            expires: Some(at(1_700_086_400)),
            revoked: None,
        };
        let mut expected = vec![1u8];
        expected.extend_from_slice(&[0xab; 32]);
        expected.extend_from_slice(b"\x00\x00\x00\x00\x65\x53\xf1\x00");
        expected.push(1);
        expected.extend_from_slice(b"\x00\x00\x00\x00\x65\x55\x42\x80");
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(b"\x00\x02ci\x00\x04root");
        assert_eq!(encode_token(&token), expected);
        assert_eq!(decode_token(9, &expected).expect("token"), token);

        let entry = AuditEntry {
            id: 3,
            time: DateTime::from_timestamp_millis(1_700_000_000_123).expect("time"),
            who: "admin root".into(),
            from: "127.0.0.1".into(),
            action: "user.create".into(),
            detail: "alice".into(),
        };
        let mut expected = vec![1u8];
        expected.extend_from_slice(&1_700_000_000_123i64.to_be_bytes());
        expected.extend_from_slice(
            b"\x00\x0aadmin root\x00\x09127.0.0.1\x00\x0buser.create\x00\x05alice",
        );
        assert_eq!(encode_audit(&entry), expected);
        assert_eq!(decode_audit(3, &expected).expect("audit"), entry);

        let setup = SetupToken {
            sha256: [7; 32],
            expires: at(1_700_000_000),
        };
        let mut expected = vec![1u8];
        expected.extend_from_slice(&[7; 32]);
        expected.extend_from_slice(b"\x00\x00\x00\x00\x65\x53\xf1\x00");
        assert_eq!(encode_setup(&setup), expected);
        assert_eq!(decode_setup(&expected).expect("setup"), setup);
    }

    #[test]
    fn bad_admin_records_are_corruption() {
        let good = encode_admin(at(0), HASH);
        let mut trailing = good.clone();
        trailing.push(0);
        let mut version = good.clone();
        version[0] = 2;
        for bad in [&[][..], &good[..5], &trailing[..], &version[..]] {
            assert!(matches!(
                decode_admin("x", bad),
                Err(StoreError::Corruption { db: "admins", .. })
            ));
        }
        assert!(matches!(
            decode_token(1, &[1, 2, 3]),
            Err(StoreError::Corruption {
                db: "admin_tokens",
                ..
            })
        ));
    }

    #[test]
    fn admins_are_not_users() {
        let dir = TempDir::new("store-admins");
        let store = Store::open(dir.path()).expect("open");
        assert!(!store.has_admins().expect("has"));
        store.create_admin("Root", HASH).expect("create");
        assert!(matches!(
            store.create_admin("root", HASH),
            Err(StoreError::AdminExists(_))
        ));
        assert!(store.get_user("root").expect("get").is_none());
        assert_eq!(
            store.get_admin("ROOT").expect("get").map(|a| a.name),
            Some("root".into())
        );
        store.set_admin_password("root", "$new").expect("passwd");
        assert_eq!(
            store
                .get_admin("root")
                .expect("get")
                .map(|a| a.password_hash),
            Some("$new".into())
        );
        assert_eq!(store.list_admins().expect("list").len(), 1);
        store.delete_admin("root").expect("delete");
        assert!(matches!(
            store.delete_admin("root"),
            Err(StoreError::NoSuchAdmin(_))
        ));
    }

    #[test]
    fn setup_token_is_used_once_and_ends_with_the_first_admin() {
        let dir = TempDir::new("store-setup");
        let store = Store::open(dir.path()).expect("open");
        let token = SetupToken {
            sha256: [1; 32],
            expires: at(2_000_000_000),
        };
        assert!(store.put_setup_token(&token).expect("put"));
        assert_eq!(
            store
                .setup_admin(&[2; 32], at(1_900_000_000), "a", HASH)
                .expect("setup"),
            Err(SetupRefusal::BadToken)
        );
        assert_eq!(
            store
                .setup_admin(&[1; 32], at(2_000_000_000), "a", HASH)
                .expect("setup"),
            Err(SetupRefusal::BadToken),
            "expired"
        );
        assert!(
            store
                .setup_admin(&[1; 32], at(1_900_000_000), "a", HASH)
                .expect("setup")
                .is_ok()
        );
        assert_eq!(store.setup_token().expect("get"), None);
        assert_eq!(
            store
                .setup_admin(&[1; 32], at(1_900_000_000), "b", HASH)
                .expect("setup"),
            Err(SetupRefusal::Done)
        );
        assert!(!store.put_setup_token(&token).expect("put"));
        // An administrator added otherwise (the CLI) ends setup too.
        let dir = TempDir::new("store-setup-cli");
        let store = Store::open(dir.path()).expect("open");
        assert!(store.put_setup_token(&token).expect("put"));
        store.create_admin("root", HASH).expect("create");
        assert_eq!(store.setup_token().expect("get"), None);
    }

    #[test]
    fn tokens_create_find_revoke() {
        let dir = TempDir::new("store-tokens");
        let store = Store::open(dir.path()).expect("open");
        assert!(matches!(
            store.create_token("ci", "root", [1; 32], None),
            Err(StoreError::NoSuchAdmin(_))
        ));
        store.create_admin("root", HASH).expect("admin");
        let a = store.create_token("ci", "root", [1; 32], None).expect("a");
        assert!(matches!(
            store.create_token("ci", "root", [2; 32], None),
            Err(StoreError::TokenExists(_))
        ));
        let b = store
            .create_token("backup", "root", [2; 32], Some(at(1)))
            .expect("b");
        assert_eq!((a.id, b.id), (1, 2));
        assert!(!b.is_live(Utc::now()), "expired");
        assert_eq!(
            store.token_by_digest(&[1; 32]).expect("find"),
            Some(a.clone())
        );
        assert_eq!(store.token_by_digest(&[3; 32]).expect("find"), None);
        let r = store.revoke_token("ci").expect("revoke by name");
        assert!(r.revoked.is_some());
        assert!(matches!(
            store.revoke_token("ci"),
            Err(StoreError::NoSuchToken(_))
        ));
        store.revoke_token("2").expect("revoke by id");
        // The name is free again once its token is revoked.
        let c = store.create_token("ci", "root", [4; 32], None).expect("c");
        assert_eq!(c.id, 3);
        store.delete_admin("root").expect("delete");
        let t = store
            .token_by_digest(&[4; 32])
            .expect("find")
            .expect("kept");
        assert!(t.revoked.is_some(), "an admin's tokens go with them");
        assert!(check_token_name("12").is_err());
        assert!(check_token_name("a b").is_err());
    }

    #[test]
    fn audit_is_newest_first_and_pages() {
        let dir = TempDir::new("store-audit");
        let store = Store::open(dir.path()).expect("open");
        for i in 0..5 {
            store
                .audit(
                    "admin root",
                    "127.0.0.1",
                    if i % 2 == 0 {
                        "user.create"
                    } else {
                        "admin.login"
                    },
                    &format!("n{i}"),
                )
                .expect("audit");
        }
        let all = store.audit_entries(None, 10, None).expect("list");
        let ids: Vec<u64> = all.iter().map(|e| e.id).collect();
        assert_eq!(ids, [5, 4, 3, 2, 1]);
        let page = store.audit_entries(Some(4), 2, None).expect("page");
        assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [3, 2]);
        let only = store
            .audit_entries(None, 10, Some("user."))
            .expect("filter");
        assert_eq!(only.len(), 3);
        let long = "é".repeat(2000);
        store
            .audit("x", "y", "z", &long)
            .expect("long detail is cut");
        let e = &store.audit_entries(None, 1, None).expect("list")[0];
        assert!(e.detail.len() <= AUDIT_FIELD_MAX && e.detail.starts_with('é'));
    }
}
