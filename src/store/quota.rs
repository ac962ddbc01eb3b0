//! Per-user quota (RFC 9208): the limits an administrator sets and the
//! usage the writer keeps, in the `quotas` table.
//!
//! Each user has one quota root covering all of their mailboxes. Usage is
//! the sum of RFC822.SIZE and the number of messages over those mailboxes:
//! a COPY counts again although it shares the body, so a user's figure
//! depends only on their own mail, never on how it is stored.
//!
//! Usage is changed only through [`Tables::charge`], inside the write
//! transaction that changes the mail, so it is exact, and the limit check
//! sees every earlier write of the same batch: concurrent APPENDs cannot
//! overshoot a limit together.

use std::collections::BTreeMap;

use heed::types::Bytes;
use heed::{Database, RoTxn, RwTxn};

use super::records;
use super::{DB_QUOTAS, Reader, Store, StoreError, Tables, corruption, normalize_user_name};

/// Record version of a quota row.
const QUOTA_V1: u8 = 1;
/// Version, limit bits, storage limit, message limit, bytes, messages.
const QUOTA_V1_LEN: usize = 1 + 1 + 8 + 8 + 8 + 8;
const HAS_STORAGE_LIMIT: u8 = 1;
const HAS_MESSAGE_LIMIT: u8 = 1 << 1;

/// A user's limits and usage. A user without a row has no limits and no
/// mail: every path that stores mail charges, and charging writes the row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    /// STORAGE limit in units of 1024 octets (RFC 9208 §5.1); `None` is no
    /// limit.
    pub storage_limit_kib: Option<u64>,
    /// MESSAGE limit (RFC 9208 §5.2); `None` is no limit.
    pub message_limit: Option<u64>,
    /// Sum of RFC822.SIZE of the user's messages, in octets.
    pub used_bytes: u64,
    pub used_messages: u64,
}

impl Quota {
    /// STORAGE usage in KiB, rounded up: one byte of mail is not nothing,
    /// and a usage within the limit in bytes never shows above it.
    pub fn used_kib(&self) -> u64 {
        self.used_bytes.div_ceil(1024)
    }
}

/// Which limit a change would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaResource {
    Storage,
    Message,
}

impl std::fmt::Display for QuotaResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QuotaResource::Storage => "storage",
            QuotaResource::Message => "message",
        })
    }
}

pub(super) fn encode_quota(q: &Quota) -> Vec<u8> {
    let mut out = Vec::with_capacity(QUOTA_V1_LEN);
    out.push(QUOTA_V1);
    let mut bits = 0;
    if q.storage_limit_kib.is_some() {
        bits |= HAS_STORAGE_LIMIT;
    }
    if q.message_limit.is_some() {
        bits |= HAS_MESSAGE_LIMIT;
    }
    out.push(bits);
    out.extend_from_slice(&q.storage_limit_kib.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&q.message_limit.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&q.used_bytes.to_be_bytes());
    out.extend_from_slice(&q.used_messages.to_be_bytes());
    out
}

pub(super) fn decode_quota(bytes: &[u8]) -> Result<Quota, String> {
    if bytes.len() != QUOTA_V1_LEN {
        return Err(format!(
            "record of {} bytes, expected {QUOTA_V1_LEN}",
            bytes.len()
        ));
    }
    if bytes[0] != QUOTA_V1 {
        return Err(format!("unknown record version {}", bytes[0]));
    }
    let bits = bytes[1];
    if bits & !(HAS_STORAGE_LIMIT | HAS_MESSAGE_LIMIT) != 0 {
        return Err(format!("unknown limit bits {bits:#04x}"));
    }
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_be_bytes(b)
    };
    Ok(Quota {
        storage_limit_kib: (bits & HAS_STORAGE_LIMIT != 0).then(|| u64_at(2)),
        message_limit: (bits & HAS_MESSAGE_LIMIT != 0).then(|| u64_at(10)),
        used_bytes: u64_at(18),
        used_messages: u64_at(26),
    })
}

impl Tables {
    /// The user's quota row (all zero and unlimited if there is none).
    pub(super) fn quota(&self, txn: &RoTxn<'_>, user_id: u64) -> Result<Quota, StoreError> {
        match self.quotas.get(txn, &user_id.to_be_bytes())? {
            Some(bytes) => {
                decode_quota(bytes).map_err(|d| corruption(DB_QUOTAS, format!("user {user_id}"), d))
            }
            None => Ok(Quota::default()),
        }
    }

    pub(super) fn put_quota(
        &self,
        wtxn: &mut RwTxn<'_>,
        user_id: u64,
        q: &Quota,
    ) -> Result<(), StoreError> {
        self.quotas
            .put(wtxn, &user_id.to_be_bytes(), &encode_quota(q))?;
        Ok(())
    }

    /// Changes the user's usage by `bytes` octets and `messages` messages,
    /// refusing with `OverQuota` a change that adds to a resource and
    /// leaves it above its limit (RFC 9208 §4.3.1). Taking away is never
    /// refused, so EXPUNGE and DELETE work for a user over a lowered limit.
    ///
    /// Every write that adds or removes messages calls this in its own
    /// transaction. A MOVE between two mailboxes of one user changes
    /// nothing and must not be refused (RFC 6851 §4.1: MOVE may succeed
    /// where COPY would overrun the quota), so it need not call it.
    pub(super) fn charge(
        &self,
        wtxn: &mut RwTxn<'_>,
        user_id: u64,
        bytes: i64,
        messages: i64,
    ) -> Result<(), StoreError> {
        if bytes == 0 && messages == 0 {
            return Ok(());
        }
        let mut q = self.quota(wtxn, user_id)?;
        let key = || format!("user {user_id}");
        let apply = |used: u64, delta: i64| -> Result<u64, StoreError> {
            used.checked_add_signed(delta)
                .ok_or_else(|| corruption(DB_QUOTAS, key(), "usage would fall below zero"))
        };
        q.used_bytes = apply(q.used_bytes, bytes)?;
        q.used_messages = apply(q.used_messages, messages)?;
        if bytes > 0
            && let Some(limit) = q.storage_limit_kib
            && q.used_bytes > limit.saturating_mul(1024)
        {
            return Err(StoreError::OverQuota(QuotaResource::Storage));
        }
        if messages > 0
            && let Some(limit) = q.message_limit
            && q.used_messages > limit
        {
            return Err(StoreError::OverQuota(QuotaResource::Message));
        }
        self.put_quota(wtxn, user_id, &q)
    }
}

/// Recomputes every user's usage from the mailbox counters, keeping their
/// limits: the migration to the format that keeps usage. Runs in the
/// opening transaction, before `Tables` exists.
pub(super) fn recount_usage(
    wtxn: &mut RwTxn<'_>,
    mailboxes: Database<'_, Bytes, Bytes>,
    quotas: Database<'_, Bytes, Bytes>,
) -> Result<(), StoreError> {
    let mut usage: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for row in mailboxes.iter(wtxn)? {
        let (key, bytes) = row?;
        let mb = records::split_name_key(key)
            .and_then(|(user_id, name)| records::decode_mailbox(user_id, name, bytes))
            .map_err(|e| corruption(super::DB_MAILBOXES, format!("{key:?}"), e.0))?;
        let entry = usage.entry(mb.user_id).or_default();
        entry.0 = entry.0.saturating_add(mb.size);
        entry.1 = entry.1.saturating_add(u64::from(mb.messages));
    }
    let mut limits: BTreeMap<u64, Quota> = BTreeMap::new();
    for row in quotas.iter(wtxn)? {
        let (key, bytes) = row?;
        let user_id = super::decode_u64(key)
            .ok_or_else(|| corruption(DB_QUOTAS, format!("{key:?}"), "key is not a user id"))?;
        let q =
            decode_quota(bytes).map_err(|d| corruption(DB_QUOTAS, format!("user {user_id}"), d))?;
        limits.insert(user_id, q);
        usage.entry(user_id).or_default();
    }
    for (user_id, (bytes, messages)) in usage {
        let q = Quota {
            used_bytes: bytes,
            used_messages: messages,
            ..limits.get(&user_id).copied().unwrap_or_default()
        };
        quotas.put(wtxn, &user_id.to_be_bytes(), &encode_quota(&q))?;
    }
    Ok(())
}

/// A change to one limit: leave it, remove it, or set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitChange {
    Keep,
    Unlimited,
    Set(u64),
}

impl LimitChange {
    fn apply(self, old: Option<u64>) -> Option<u64> {
        match self {
            LimitChange::Keep => old,
            LimitChange::Unlimited => None,
            LimitChange::Set(v) => Some(v),
        }
    }
}

impl Store {
    /// The quota of the user with this name.
    pub fn user_quota(&self, name: &str) -> Result<Quota, StoreError> {
        let user = self
            .get_user(name)?
            .ok_or_else(|| StoreError::NoSuchUser(normalize_user_name(name).unwrap_or_default()))?;
        let rtxn = self.inner.env.read_txn()?;
        self.inner.tables.quota(&rtxn, user.id)
    }

    /// Changes the user's limits and returns the quota as it now is. The
    /// writer reads the limits inside each write, so a running server
    /// applies them from its next write on. Usage is kept: this
    /// transaction and the writer's take turns (LMDB has one writer at a
    /// time across processes).
    pub fn set_user_quota(
        &self,
        name: &str,
        storage_kib: LimitChange,
        messages: LimitChange,
    ) -> Result<Quota, StoreError> {
        let name = normalize_user_name(name)?;
        let inner = &self.inner;
        let mut wtxn = inner.env.write_txn()?;
        let user = match inner.users.get(&wtxn, &name)? {
            Some(bytes) => super::users::decode_record(&name, bytes)?,
            None => return Err(StoreError::NoSuchUser(name)),
        };
        let mut q = inner.tables.quota(&wtxn, user.id)?;
        q.storage_limit_kib = storage_kib.apply(q.storage_limit_kib);
        q.message_limit = messages.apply(q.message_limit);
        inner.tables.put_quota(&mut wtxn, user.id, &q)?;
        wtxn.commit()?;
        Ok(q)
    }
}

impl Reader<'_> {
    /// The user's quota as of this snapshot.
    pub fn quota(&self, user_id: u64) -> Result<Quota, StoreError> {
        self.tables().quota(self.txn_ro(), user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The v1 quota record, byte for byte. If this has to change, the
    /// on-disk format changed: bump the record version and migrate.
    #[test]
    fn quota_v1_fixture() {
        let q = Quota {
            storage_limit_kib: Some(1024),
            message_limit: None,
            used_bytes: 5000,
            used_messages: 3,
        };
        let fixture: &[u8] = b"\x01\x01\
            \x00\x00\x00\x00\x00\x00\x04\x00\
            \x00\x00\x00\x00\x00\x00\x00\x00\
            \x00\x00\x00\x00\x00\x00\x13\x88\
            \x00\x00\x00\x00\x00\x00\x00\x03";
        assert_eq!(encode_quota(&q), fixture);
        assert_eq!(decode_quota(fixture), Ok(q));
        assert_eq!(q.used_kib(), 5);
        let both = Quota {
            message_limit: Some(0),
            ..q
        };
        assert_eq!(decode_quota(&encode_quota(&both)), Ok(both));
    }

    #[test]
    fn bad_quota_records_are_errors() {
        let good = encode_quota(&Quota::default());
        let mut version = good.clone();
        version[0] = 2;
        let mut bits = good.clone();
        bits[1] = 4;
        let mut long = good.clone();
        long.push(0);
        for bad in [&[][..], &good[..5], &version, &bits, &long] {
            assert!(decode_quota(bad).is_err(), "{bad:?}");
        }
    }
}
