//! The store: one LMDB environment (heed) under `<data_dir>/store/`.
//!
//! This module owns the on-disk format and every transaction against it. It
//! knows nothing about IMAP sequence numbers, sockets or sessions, and never
//! hashes or checks passwords (it keeps the PHC strings `auth` gives it).
//!
//! # On-disk layout (format version 3)
//!
//! Every value has an explicit byte layout, written and read by hand in this
//! module; there is no serde/bincode on disk. Integers are big-endian so
//! keys sort numerically. Named databases in the environment:
//!
//! `meta`: keys are ASCII names.
//! - `format_version` → `u32` BE. The layout version of the whole store;
//!   `3` today (version 1 had no `quotas` table; opening a version 1 store
//!   creates it and computes every user's usage from the mailbox
//!   counters; version 2 had no administration tables, which opening it
//!   creates empty). Checked by [`Store::open`]: a newer version is refused (this
//!   binary cannot read it), an older one goes through `migrate`. A store
//!   without the key is new and gets it, unless it holds users, in which
//!   case it is corrupt.
//! - `next_user_id` → `u64` BE. The id the next user gets. It only grows, so
//!   an id is never reused, even after the user is deleted: later tables
//!   (mailboxes, messages) are keyed by user id, and a new user must never
//!   inherit data left behind by an old one.
//! - `next_mailbox_id` → `u64` BE, the id the next mailbox incarnation gets;
//!   `next_body_id` → `u64` BE, the id the next stored body gets. Both only
//!   grow, for the same reason.
//! - `last_uidvalidity` → `u32` BE, the UIDVALIDITY given last. A new one is
//!   the larger of this plus one and the clock in Unix seconds, so it is
//!   unique per incarnation even across a DELETE and CREATE of one name, and
//!   a store rebuilt from scratch later still starts above the old values
//!   (RFC 3501 §2.3.1.1).
//! - `unlock/<user name>` → `u64` BE, Unix milliseconds of the user's last
//!   `roost user unlock`: a running server forgets the name's failed logins
//!   when it sees a mark newer than its own start. Deleted with the user.
//!
//! - `next_token_id`, `next_audit_id` → `u64` BE: the id the next API
//!   token and the next audit entry get; they only grow.
//! - `admin_setup` → the first-start setup token, present only while no
//!   administrator exists: version `1`, then its SHA-256 digest (32 bytes),
//!   then its expiry, Unix seconds `i64` BE. Removed in the transaction
//!   that adds the first administrator, whoever adds it.
//!
//! These three are created by [`Store::open`] when missing from a store
//! whose mail tables are still empty; missing from one that holds mail,
//! they are corruption.
//!
//! `users`: key = the normalised user name (see [`normalize_user_name`]),
//! value = a user record:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | record version, `1` |
//! | 1..9 | user id, `u64` BE |
//! | 9..17 | creation time, Unix seconds, `i64` BE |
//! | 17..19 | length n of the password hash, `u16` BE |
//! | 19..19+n | the password hash as a PHC string (ASCII) |
//!
//! Nothing may follow. A record of a version this code does not know is
//! reported as corruption rather than guessed at. The same holds for every
//! record below.
//!
//! ## Mail tables
//!
//! Keys below are byte strings; `name` is a mailbox name in UTF-8, full
//! hierarchy with `/` as delimiter and `INBOX` (the first level) in upper
//! case (see [`normalize_mailbox_name`]). A "keyword list" is a `u16` BE
//! count followed by that many keywords, each a `u16` BE length and the
//! keyword's bytes (ASCII atom characters, at most 255 bytes).
//!
//! `mailboxes`: key = user id `u64` BE ‖ name, value = a mailbox record:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | record version, `1` |
//! | 1..9 | mailbox id, `u64` BE (from `next_mailbox_id`; never reused) |
//! | 9..13 | UIDVALIDITY, `u32` BE |
//! | 13..17 | UIDNEXT, `u32` BE |
//! | 17..25 | highest MODSEQ, `u64` BE |
//! | 25 | flags: bit 0 = `\Noselect`; other bits must be 0 |
//! | 26..28 | special-use bits, `u16` BE: 0 `\All`, 1 `\Archive`, 2 `\Drafts`, 3 `\Flagged`, 4 `\Junk`, 5 `\Sent`, 6 `\Trash`; others must be 0 |
//! | 28..32 | messages, `u32` BE |
//! | 32..36 | messages without `\Seen`, `u32` BE |
//! | 36..40 | messages with `\Deleted`, `u32` BE |
//! | 40..48 | sum of the messages' sizes, `u64` BE |
//! | 48..52 | recent floor, `u32` BE: UIDs at or above it are `\Recent` for the next session that claims them |
//! | 52.. | keyword list: the keywords used in the mailbox |
//!
//! A new mailbox starts with UIDNEXT 1, highest MODSEQ 1 and recent floor
//! 1; each operation that changes messages takes the next MODSEQ and gives
//! it to every message it changes. The counters are kept exact by every
//! write. A `\Noselect` mailbox holds
//! no messages. Re-creating one, or creating a name again after DELETE,
//! gives a new mailbox id and a new UIDVALIDITY, so nothing keyed by the old
//! id is ever seen again.
//!
//! `mailbox_ids`: key = mailbox id `u64` BE, value = user id `u64` BE ‖
//! name: the way back from an id to its `mailboxes` row.
//!
//! `subscriptions`: key = user id `u64` BE ‖ name, value empty. The name
//! need not exist as a mailbox (RFC 3501 §6.3.6).
//!
//! `messages`: key = mailbox id `u64` BE ‖ UID `u32` BE, value = a message
//! record:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | record version, `1` |
//! | 1..9 | body id, `u64` BE |
//! | 9..17 | INTERNALDATE, Unix seconds, `i64` BE |
//! | 17..21 | INTERNALDATE zone, seconds east of UTC, `i32` BE |
//! | 21..25 | RFC822.SIZE, `u32` BE |
//! | 25 | system flags: bit 0 `\Answered`, 1 `\Flagged`, 2 `\Deleted`, 3 `\Seen`, 4 `\Draft`; others must be 0 |
//! | 26..34 | MODSEQ, `u64` BE |
//! | 34.. | keyword list |
//!
//! `modseqs`: key = mailbox id `u64` BE ‖ MODSEQ `u64` BE ‖ UID `u32` BE,
//! value empty. Exactly one row per message, holding its current MODSEQ
//! (the old row goes when the MODSEQ changes), so "changed since X" is a
//! range scan. The UID is in the key because one operation gives all the
//! messages it touches the same MODSEQ.
//!
//! `expunged`: key = mailbox id `u64` BE ‖ UID `u32` BE, value = the MODSEQ
//! of the expunge, `u64` BE (for QRESYNC's VANISHED, RFC 7162 §3.2.10).
//!
//! `bodies`: key = body id `u64` BE, value = the raw message bytes. Stored
//! once and shared by every message that has the body id (COPY shares).
//!
//! `body_meta`: key = body id `u64` BE, value = a body-meta record:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | record version, `1` |
//! | 1..5 | reference count, `u32` BE: messages with this body id |
//! | 5 | `1` if a sent date follows, `0` if not (then 6..18 are zero) |
//! | 6..14 | sent date (the `Date:` header), Unix seconds, `i64` BE |
//! | 14..18 | sent date zone, seconds east of UTC, `i32` BE |
//! | 18.. | four blobs, each a `u32` BE length and the bytes: ENVELOPE, BODY, BODYSTRUCTURE, part map (as `mime` made them) |
//!
//! When the reference count reaches 0 the body and its meta are deleted in
//! the same transaction.
//!
//! `quotas`: key = user id `u64` BE, value = a quota record (RFC 9208):
//!
//! | bytes | field |
//! |---|---|
//! | 0 | record version, `1` |
//! | 1 | limits set: bit 0 storage, bit 1 messages; others must be 0 |
//! | 2..10 | storage limit in KiB, `u64` BE (0 if unset) |
//! | 10..18 | message limit, `u64` BE (0 if unset) |
//! | 18..26 | usage: sum of RFC822.SIZE over all the user's mailboxes, `u64` BE |
//! | 26..34 | usage: messages over all the user's mailboxes, `u64` BE |
//!
//! Usage is kept exact by every write that adds or removes messages, in
//! the same transaction (`quota.rs`). A user id without a row has no limits
//! and no messages. The row goes with the user (`roost user del`).
//!
//! ## Administration tables (`admin.rs`)
//!
//! A "string" is a `u16` BE length and that many bytes of UTF-8.
//!
//! `admins`: key = the normalised administrator name (the user-name rules;
//! a separate namespace from `users`), value: version `1`, creation time
//! (Unix seconds, `i64` BE), the argon2id PHC string as a string.
//!
//! `admin_tokens`: key = token id `u64` BE, value:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | record version, `1` |
//! | 1..33 | SHA-256 of the token (the token itself is never stored) |
//! | 33..41 | creation time, Unix seconds, `i64` BE |
//! | 41 | bit 0: expires, bit 1: revoked; others must be 0 |
//! | 42..50 | expiry, Unix seconds `i64` BE (0 if none) |
//! | 50..58 | revocation time, Unix seconds `i64` BE (0 if live) |
//! | 58.. | the token's name, then the administrator it acts as (strings) |
//!
//! `audit`: key = entry id `u64` BE (increasing), value: version `1`, time
//! in Unix milliseconds `i64` BE, then four strings: who, from where, the
//! action, the detail (each at most 1 KiB). The newest 100,000 are kept.
//!
//! # Concurrency and durability
//!
//! LMDB allows one writer and many readers across processes, so `roost user`
//! commands work while the server has the same store open. No flag that
//! weakens that (`NO_LOCK`) or durability (`NO_SYNC`, `NO_META_SYNC`) is
//! set: a committed write transaction is on disk. Read transactions do not
//! use thread-local storage (`WithoutTls`), so they may move between threads.
//!
//! Mail is written by one thread ([`Writer`], `writer.rs`) that applies all
//! the operations queued at a time in one transaction with one fsync (group
//! commit), and answers each only after the commit. Reads ([`Reader`],
//! `read.rs`) use their own read transactions and never wait for it. The
//! one exception is [`Store::create_user`], which writes the new user's
//! default mailboxes and subscriptions in the transaction that adds the
//! user: no session can know the user's id before that commit, and LMDB
//! orders the transaction with the writer's.
//!
//! Files: `records.rs` (byte layouts), `mailboxes.rs` (mailbox and
//! subscription operations), `messages.rs` (message and body operations),
//! `writer.rs` (the writer thread), `read.rs` (the read API), `users.rs`,
//! `quota.rs` (limits and usage), `admin.rs` (administrators, tokens,
//! setup, audit).

mod admin;
mod mailboxes;
mod messages;
mod quota;
mod read;
mod records;
mod users;
mod writer;

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use heed::types::{Bytes, Str};
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};

pub use admin::{
    AUDIT_KEEP, AdminRecord, AuditEntry, SetupRefusal, SetupToken, TokenRecord, check_token_name,
    normalize_admin_name,
};
pub use mailboxes::{MAX_MAILBOX_NAME_LEN, normalize_mailbox_name};
pub use quota::{LimitChange, Quota, QuotaResource};
pub use read::Reader;
pub use records::{BodyMeta, Flags, MailboxInfo, MessageHead, MessageInfo, SpecialUse};
pub use users::{DEFAULT_MAILBOXES, UserRecord, normalize_user_name, unix_millis_now};
pub use writer::{
    Appended, Copied, CopyResult, DeliveryCopy, Expunged, FlagUpdate, Moved, NewMessage, StoreMode,
    Stored, WriteOp, WriteResult, Writer,
};

/// The layout version this code reads and writes.
pub const FORMAT_VERSION: u32 = 3;

/// The largest the data file may grow to. LMDB maps this much address space
/// but the file only takes the space written to it (sparse), and growing it
/// later needs every process to reopen, so it is generous from the start.
const MAP_SIZE: usize = 64 << 30;

/// Named databases the environment may hold: fourteen today, and room for the
/// tables later formats add.
const MAX_DBS: u32 = 32;

/// Concurrent read transactions across all processes. Each session may hold
/// one briefly; LMDB's default of 126 is small for a busy server.
const MAX_READERS: u32 = 1024;

const DB_META: &str = "meta";
const DB_USERS: &str = "users";
const KEY_FORMAT_VERSION: &str = "format_version";
const KEY_NEXT_USER_ID: &str = "next_user_id";
const KEY_NEXT_MAILBOX_ID: &str = "next_mailbox_id";
const KEY_NEXT_BODY_ID: &str = "next_body_id";
const KEY_LAST_UIDVALIDITY: &str = "last_uidvalidity";

const DB_MAILBOXES: &str = "mailboxes";
const DB_MAILBOX_IDS: &str = "mailbox_ids";
const DB_SUBSCRIPTIONS: &str = "subscriptions";
const DB_MESSAGES: &str = "messages";
const DB_MODSEQS: &str = "modseqs";
const DB_EXPUNGED: &str = "expunged";
const DB_BODIES: &str = "bodies";
const DB_BODY_META: &str = "body_meta";
const DB_QUOTAS: &str = "quotas";

const DB_ADMINS: &str = "admins";
const DB_ADMIN_TOKENS: &str = "admin_tokens";
const DB_AUDIT: &str = "audit";
const KEY_NEXT_TOKEN_ID: &str = "next_token_id";
const KEY_NEXT_AUDIT_ID: &str = "next_audit_id";
const KEY_ADMIN_SETUP: &str = "admin_setup";

/// The mail tables, in the order `Tables::from_array` takes them.
const MAIL_DBS: [&str; 9] = [
    DB_MAILBOXES,
    DB_MAILBOX_IDS,
    DB_SUBSCRIPTIONS,
    DB_MESSAGES,
    DB_MODSEQS,
    DB_EXPUNGED,
    DB_BODIES,
    DB_BODY_META,
    DB_QUOTAS,
];

type Table = Database<'static, Str, Bytes>;
/// A mail table: byte-string keys (see the module doc) and records.
type Db = Database<'static, Bytes, Bytes>;

/// The administration tables (`admin.rs`).
#[derive(Clone, Copy)]
struct AdminTables {
    admins: Table,
    tokens: Db,
    audit: Db,
}

/// The handles of every table, copied into each operation.
#[derive(Clone, Copy)]
pub(crate) struct Tables {
    meta: Table,
    mailboxes: Db,
    mailbox_ids: Db,
    subscriptions: Db,
    messages: Db,
    modseqs: Db,
    expunged: Db,
    bodies: Db,
    body_meta: Db,
    quotas: Db,
}

impl Tables {
    fn from_array(meta: Table, dbs: [Db; 9]) -> Tables {
        let [
            mailboxes,
            mailbox_ids,
            subscriptions,
            messages,
            modseqs,
            expunged,
            bodies,
            body_meta,
            quotas,
        ] = dbs;
        Tables {
            meta,
            mailboxes,
            mailbox_ids,
            subscriptions,
            messages,
            modseqs,
            expunged,
            bodies,
            body_meta,
            quotas,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the store directory {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store error: {0}")]
    Lmdb(#[from] heed::Error),
    #[error(
        "the store in {} has format version {found}, newer than this roost understands \
         ({supported}); run a newer roost",
        path.display()
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("the store is corrupt: {db} key {key:?}: {detail}")]
    Corruption {
        db: &'static str,
        key: String,
        detail: String,
    },
    #[error("invalid user name {name:?}: {reason}")]
    InvalidUserName { name: String, reason: &'static str },
    #[error("user {0:?} already exists")]
    UserExists(String),
    #[error("no such user: {0:?}")]
    NoSuchUser(String),
    #[error("invalid administrator name {name:?}: {reason}")]
    InvalidAdminName { name: String, reason: &'static str },
    #[error("administrator {0:?} already exists")]
    AdminExists(String),
    #[error("no such administrator: {0:?}")]
    NoSuchAdmin(String),
    #[error("invalid token name {name:?}: {reason}")]
    InvalidTokenName { name: String, reason: &'static str },
    #[error("a live token named {0:?} already exists")]
    TokenExists(String),
    #[error("no such live token: {0:?}")]
    NoSuchToken(String),
    #[error("invalid password hash: {0}")]
    InvalidPasswordHash(&'static str),
    #[error("invalid mailbox name {name:?}: {reason}")]
    InvalidMailboxName { name: String, reason: &'static str },
    #[error("invalid keyword {keyword:?}: {reason}")]
    InvalidKeyword {
        keyword: String,
        reason: &'static str,
    },
    /// The mailbox (by name, or `#id`) does not exist.
    #[error("no such mailbox: {mailbox}")]
    NotFound { mailbox: String },
    /// The name is taken (CREATE, or RENAME's target).
    #[error("mailbox already exists: {mailbox}")]
    AlreadyExists { mailbox: String },
    /// The mailbox is `\Noselect`: it holds no messages and takes none.
    #[error("mailbox {mailbox} cannot hold messages (\\Noselect)")]
    NoSelect { mailbox: String },
    #[error("INBOX cannot be deleted")]
    InboxDelete,
    /// DELETE of a `\Noselect` mailbox that still has inferiors.
    #[error("mailbox {mailbox} has inferior mailboxes")]
    HasInferiors { mailbox: String },
    #[error("cannot rename {from:?} to {to:?}: {reason}")]
    InvalidRename {
        from: String,
        to: String,
        reason: &'static str,
    },
    #[error("mailbox {mailbox} already uses {limit} keywords")]
    TooManyKeywords { mailbox: String, limit: usize },
    #[error("mailbox {mailbox} has used every UID; it must be re-created")]
    UidsExhausted { mailbox: String },
    /// The change would take the user past a quota limit (RFC 9208).
    #[error("the {0} quota would be exceeded")]
    OverQuota(QuotaResource),
    #[error("message of {size} bytes is larger than the store accepts")]
    MessageTooLarge { size: usize },
    /// The batch this operation was in could not be committed; nothing of
    /// it was written. Shared by every operation of the batch.
    #[error("commit failed: {0}")]
    Commit(#[source] Arc<heed::Error>),
    /// The writer thread has stopped, or hit a bug while applying this
    /// operation's batch (then nothing of the batch was written).
    #[error("the store writer has stopped")]
    WriterGone,
}

/// A `Corruption` error for `db`, naming the key as given.
fn corruption(
    db: &'static str,
    key: impl std::fmt::Display,
    detail: impl Into<String>,
) -> StoreError {
    StoreError::Corruption {
        db,
        key: key.to_string(),
        detail: detail.into(),
    }
}

/// A handle on the open store; cheap to clone and shared by every thread.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    env: Env<WithoutTls>,
    /// Where the environment lives (canonical), for messages and reuse.
    path: PathBuf,
    meta: Table,
    users: Table,
    tables: Tables,
    admin: AdminTables,
    /// The running writer, if any: `start_writer` hands out the one there
    /// is, so there is one writer thread per store.
    writer: Mutex<Weak<writer::Shared>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Stores open in this process, by canonical path. heed refuses to open
/// one environment twice in a process, so a second `Store::open` of the
/// same directory returns the handle already open.
static OPEN_STORES: Mutex<Vec<(PathBuf, Weak<Inner>)>> = Mutex::new(Vec::new());

impl Store {
    /// Opens (creating if needed) the store in `<data_dir>/store/`, checks
    /// its format version and creates the tables this version uses.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let dir = data_dir.as_ref().join("store");
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|source| StoreError::Io {
                path: dir.clone(),
                source,
            })?;
        let path = dir
            .canonicalize()
            .map_err(|source| StoreError::Io { path: dir, source })?;

        let mut open = OPEN_STORES.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(inner) = open
            .iter()
            .find(|(p, _)| *p == path)
            .and_then(|(_, w)| w.upgrade())
        {
            return Ok(Store { inner });
        }

        let env = open_env(&path)?;
        // Reader slots left by a process that died mid-read would keep old
        // pages from being reused until cleared.
        if let Ok(n) = env.clear_stale_readers()
            && n > 0
        {
            tracing::info!(cleared = n, "cleared stale LMDB readers");
        }
        let wtxn = env.write_txn()?;
        let (meta, users, mail, (admins, tokens, audit)) = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, StoreError> {
                let meta: Database<Str, Bytes> = opener.create_database(wtxn, Some(DB_META))?;
                let users: Database<Str, Bytes> = opener.create_database(wtxn, Some(DB_USERS))?;
                let mut mail = Vec::with_capacity(MAIL_DBS.len());
                for name in MAIL_DBS {
                    let db: Database<Bytes, Bytes> = opener.create_database(wtxn, Some(name))?;
                    mail.push(db);
                }
                let mail: [Database<Bytes, Bytes>; 9] = mail
                    .try_into()
                    .map_err(|_| corruption(DB_META, "tables", "table count"))?;
                let admins: Database<Str, Bytes> = opener.create_database(wtxn, Some(DB_ADMINS))?;
                let tokens: Database<Bytes, Bytes> =
                    opener.create_database(wtxn, Some(DB_ADMIN_TOKENS))?;
                let audit: Database<Bytes, Bytes> = opener.create_database(wtxn, Some(DB_AUDIT))?;
                init_mail_counters(wtxn, meta, &mail)?;
                check_format(wtxn, meta, users, &mail, &path)?;
                init_admin_counters(wtxn, meta, [tokens, audit])?;
                Ok(CommitOrAbort::<_, ()>::Commit((
                    meta,
                    users,
                    mail,
                    (admins, tokens, audit),
                )))
            })?
            .unwrap_commit();

        let inner = Arc::new(Inner {
            env,
            path: path.clone(),
            meta,
            users,
            tables: Tables::from_array(meta, mail),
            admin: AdminTables {
                admins,
                tokens,
                audit,
            },
            writer: Mutex::new(Weak::new()),
        });
        open.push((path, Arc::downgrade(&inner)));
        Ok(Store { inner })
    }

    /// The directory holding the LMDB files.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Writes a compacted copy of the whole environment to `file` (LMDB's
    /// own copy, `mdb_env_copy2` with `MDB_CP_COMPACT`): one read
    /// transaction, so the copy is the consistent state of one moment and
    /// holds every change committed before it began. Writers go on
    /// meanwhile. Free pages are left out.
    pub fn copy_compacted_to(&self, file: &mut std::fs::File) -> Result<(), StoreError> {
        self.inner
            .env
            .copy_to_file(file, heed::CompactionOption::Enabled)?;
        Ok(())
    }
}

/// How the store's file is used, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSpace {
    /// The data file's size on disk.
    pub file_bytes: u64,
    pub page_size: u64,
    /// Pages up to the highest one ever used.
    pub pages: u64,
    /// Of those, pages no table holds: free pages LMDB reuses before it
    /// grows the file (and the few that list them).
    pub free_pages: u64,
}

impl Store {
    /// Reads the file's size and every table's page counts, in one read
    /// transaction.
    pub fn space(&self) -> Result<StoreSpace, StoreError> {
        let env = &self.inner.env;
        let file_bytes = env.real_disk_size()?;
        let rtxn = env.read_txn()?;
        let t = &self.inner.tables;
        let a = &self.inner.admin;
        let mut used = 0u64;
        let mut page_size = 0u64;
        let mut add = |s: heed::DatabaseStat| {
            used += (s.branch_pages + s.leaf_pages + s.overflow_pages) as u64;
            page_size = u64::from(s.page_size);
        };
        for db in [self.inner.meta, self.inner.users, a.admins] {
            add(db.stat(&rtxn)?);
        }
        for db in [
            t.mailboxes,
            t.mailbox_ids,
            t.subscriptions,
            t.messages,
            t.modseqs,
            t.expunged,
            t.bodies,
            t.body_meta,
            t.quotas,
            a.tokens,
            a.audit,
        ] {
            add(db.stat(&rtxn)?);
        }
        // The unnamed database holds the named ones' records.
        add(env.unnamed_database_stat());
        drop(rtxn);
        // Page numbers start at 0; pages 0 and 1 are LMDB's meta pages.
        let pages = env.info().last_page_number as u64 + 1;
        Ok(StoreSpace {
            file_bytes,
            page_size,
            pages,
            free_pages: pages.saturating_sub(used + 2),
        })
    }
}

/// The one place the environment is opened.
#[allow(unsafe_code)]
fn open_env(path: &Path) -> Result<Env<WithoutTls>, StoreError> {
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options
        .map_size(MAP_SIZE)
        .max_dbs(MAX_DBS)
        .max_readers(MAX_READERS);
    // SAFETY: LMDB maps the data file into memory, so the file must not be
    // changed behind LMDB's back. Only LMDB itself writes it, in this and
    // other roost processes, coordinated through its lock file (we never set
    // NO_LOCK); the directory is created 0700 for the roost user and is on a
    // local file system; and heed refuses a second open of the same path in
    // this process (and `Store::open` shares the one it has).
    let env = unsafe { options.open(path)? };
    Ok(env)
}

/// Reads, initialises or migrates `meta.format_version` inside the opening
/// write transaction, so a refusal leaves the store untouched.
fn check_format(
    wtxn: &mut RwTxn<'_>,
    meta: Database<Str, Bytes>,
    users: Database<Str, Bytes>,
    mail: &[Database<Bytes, Bytes>; 9],
    path: &Path,
) -> Result<(), StoreError> {
    let found = match meta.get(wtxn, KEY_FORMAT_VERSION)? {
        None => None,
        Some(bytes) => Some(decode_u32(bytes).ok_or_else(|| StoreError::Corruption {
            db: DB_META,
            key: KEY_FORMAT_VERSION.into(),
            detail: format!("expected 4 bytes, found {}", bytes.len()),
        })?),
    };
    match found {
        None => {
            if !users.is_empty(wtxn)? {
                return Err(StoreError::Corruption {
                    db: DB_META,
                    key: KEY_FORMAT_VERSION.into(),
                    detail: "missing, but the store holds users".into(),
                });
            }
            meta.put(wtxn, KEY_FORMAT_VERSION, &FORMAT_VERSION.to_be_bytes())?;
            meta.put(wtxn, KEY_NEXT_USER_ID, &1u64.to_be_bytes())?;
            Ok(())
        }
        Some(FORMAT_VERSION) => Ok(()),
        Some(v) if v > FORMAT_VERSION => Err(StoreError::NewerFormat {
            path: path.to_path_buf(),
            found: v,
            supported: FORMAT_VERSION,
        }),
        Some(v) => migrate(wtxn, meta, mail, v),
    }
}

/// Creates the mail counters in `meta` for a store that has none yet (new,
/// or made before the mail tables existed). Missing while mail is stored,
/// they would be guessed, so that is corruption.
fn init_mail_counters(
    wtxn: &mut RwTxn<'_>,
    meta: Database<Str, Bytes>,
    mail: &[Database<Bytes, Bytes>; 9],
) -> Result<(), StoreError> {
    let [mailboxes, _, _, _, _, _, bodies, _, _] = mail;
    let counters: [(&str, &[u8], Database<Bytes, Bytes>); 3] = [
        (KEY_NEXT_MAILBOX_ID, &1u64.to_be_bytes(), *mailboxes),
        (KEY_NEXT_BODY_ID, &1u64.to_be_bytes(), *bodies),
        (KEY_LAST_UIDVALIDITY, &0u32.to_be_bytes(), *mailboxes),
    ];
    for (key, initial, guarded_by) in counters {
        if meta.get(wtxn, key)?.is_none() {
            if !guarded_by.is_empty(wtxn)? {
                return Err(corruption(
                    DB_META,
                    key,
                    "missing, but the store holds mail",
                ));
            }
            meta.put(wtxn, key, initial)?;
        }
    }
    Ok(())
}

/// Creates the token and audit counters when missing (a new store, or one
/// from before format 3); missing while their table has rows is corruption.
fn init_admin_counters(
    wtxn: &mut RwTxn<'_>,
    meta: Database<Str, Bytes>,
    [tokens, audit]: [Database<Bytes, Bytes>; 2],
) -> Result<(), StoreError> {
    for (key, table) in [(KEY_NEXT_TOKEN_ID, tokens), (KEY_NEXT_AUDIT_ID, audit)] {
        if meta.get(wtxn, key)?.is_none() {
            if !table.is_empty(wtxn)? {
                return Err(corruption(DB_META, key, "missing, but its table has rows"));
            }
            meta.put(wtxn, key, &1u64.to_be_bytes())?;
        }
    }
    Ok(())
}

/// Reads a `u64` counter from `meta`.
fn meta_u64(txn: &RoTxn<'_>, meta: Table, key: &'static str) -> Result<u64, StoreError> {
    match meta.get(txn, key)? {
        Some(bytes) => decode_u64(bytes).ok_or_else(|| {
            corruption(
                DB_META,
                key,
                format!("expected 8 bytes, found {}", bytes.len()),
            )
        }),
        None => Err(corruption(DB_META, key, "missing")),
    }
}

/// Returns the counter's value and stores it plus one.
fn take_next_id(wtxn: &mut RwTxn<'_>, meta: Table, key: &'static str) -> Result<u64, StoreError> {
    let id = meta_u64(wtxn, meta, key)?;
    let next = id
        .checked_add(1)
        .ok_or_else(|| corruption(DB_META, key, "ids exhausted"))?;
    meta.put(wtxn, key, &next.to_be_bytes())?;
    Ok(id)
}

/// Brings a store written by an older roost up to `FORMAT_VERSION` inside
/// the opening transaction, one step per version, then stores the new
/// `format_version`. Version 1 had no `quotas` table: 1 → 2 computes every
/// user's usage from the mailbox counters (which version 1 kept exact).
fn migrate(
    wtxn: &mut RwTxn<'_>,
    meta: Database<Str, Bytes>,
    mail: &[Database<Bytes, Bytes>; 9],
    from: u32,
) -> Result<(), StoreError> {
    let [mailboxes, _, _, _, _, _, _, _, quotas] = *mail;
    let mut version = from;
    while version < FORMAT_VERSION {
        match version {
            1 => quota::recount_usage(wtxn, mailboxes, quotas)?,
            // 2 → 3 adds the administration tables, which `Store::open`
            // has just created empty, and their counters (made after this).
            2 => {}
            v => {
                return Err(StoreError::Corruption {
                    db: DB_META,
                    key: KEY_FORMAT_VERSION.into(),
                    detail: format!("format version {v} was never written by roost"),
                });
            }
        }
        version += 1;
    }
    tracing::info!(from, to = FORMAT_VERSION, "migrated the store");
    meta.put(wtxn, KEY_FORMAT_VERSION, &FORMAT_VERSION.to_be_bytes())?;
    Ok(())
}

fn decode_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod mail_tests;
#[cfg(test)]
mod quota_tests;

#[cfg(test)]
pub(crate) mod testing {
    //! A scratch directory for tests that is removed when dropped.

    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(label: &str) -> TempDir {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = std::env::temp_dir().join(format!(
                "roost-test-{label}-{}-{}-{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).expect("create temp dir");
            TempDir(path)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TempDir;
    use super::*;
    use crate::store::records::SpecialUse;

    #[test]
    fn space_counts_the_file_and_its_pages() {
        let dir = TempDir::new("store-space");
        let store = Store::open(dir.path()).expect("open");
        let s = store.space().expect("space");
        assert!(
            s.page_size.is_power_of_two() && s.page_size >= 4096,
            "{s:?}"
        );
        assert!(s.pages > 2, "{s:?}");
        assert!(s.free_pages < s.pages, "{s:?}");
        assert!(s.pages * s.page_size <= s.file_bytes, "{s:?}");
        let on_disk = std::fs::metadata(dir.path().join("store").join("data.mdb"))
            .expect("data file")
            .len();
        assert_eq!(s.file_bytes, on_disk);
    }

    #[test]
    fn open_creates_layout_and_version() {
        let dir = TempDir::new("store-open");
        let store = Store::open(dir.path()).expect("open");
        assert!(dir.path().join("store").join("data.mdb").exists());
        let rtxn = store.inner.env.read_txn().expect("rtxn");
        let v = store
            .inner
            .meta
            .get(&rtxn, KEY_FORMAT_VERSION)
            .expect("get");
        assert_eq!(v, Some(&FORMAT_VERSION.to_be_bytes()[..]));
        let next = store.inner.meta.get(&rtxn, KEY_NEXT_USER_ID).expect("get");
        assert_eq!(next, Some(&[0u8, 0, 0, 0, 0, 0, 0, 1][..]));
    }

    #[test]
    fn two_stores_in_one_process() {
        let a = TempDir::new("store-a");
        let b = TempDir::new("store-b");
        let sa = Store::open(a.path()).expect("open a");
        let sb = Store::open(b.path()).expect("open b");
        sa.create_user("alice", "$argon2id$x").expect("create in a");
        assert!(sb.get_user("alice").expect("get").is_none());
        assert!(sa.get_user("alice").expect("get").is_some());
    }

    #[test]
    fn reopening_shares_or_reopens() {
        let dir = TempDir::new("store-reopen");
        let first = Store::open(dir.path()).expect("open");
        let second = Store::open(dir.path()).expect("open again while open");
        first.create_user("bob", "$argon2id$x").expect("create");
        assert!(second.get_user("bob").expect("get").is_some());
        drop(first);
        drop(second);
        let third = Store::open(dir.path()).expect("open after close");
        assert!(third.get_user("bob").expect("get").is_some());
    }

    /// A store as format version 2 wrote it (its eleven tables, no
    /// administration tables or counters) opens, keeps its users and mail,
    /// and gains empty administration tables.
    #[test]
    fn opening_a_version_2_store_keeps_users_and_adds_admin_tables() {
        let dir = TempDir::new("store-v2");
        let path = dir.path().join("store");
        std::fs::create_dir_all(&path).expect("dir");
        let alice_id = 1u64;
        {
            let env = open_env(&path).expect("env");
            let wtxn = env.write_txn().expect("wtxn");
            let (meta, users, mail) = env
                .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, StoreError> {
                    let meta: Database<Str, Bytes> = opener.create_database(wtxn, Some(DB_META))?;
                    let users: Database<Str, Bytes> =
                        opener.create_database(wtxn, Some(DB_USERS))?;
                    let mut mail = Vec::new();
                    for name in MAIL_DBS {
                        let db: Database<Bytes, Bytes> =
                            opener.create_database(wtxn, Some(name))?;
                        mail.push(db);
                    }
                    let mail: [Database<Bytes, Bytes>; 9] = mail.try_into().expect("nine");
                    Ok(CommitOrAbort::<_, ()>::Commit((meta, users, mail)))
                })
                .expect("tables")
                .unwrap_commit();
            let mut wtxn = env.write_txn().expect("wtxn");
            meta.put(&mut wtxn, KEY_FORMAT_VERSION, &2u32.to_be_bytes())
                .expect("version");
            meta.put(&mut wtxn, KEY_NEXT_USER_ID, &2u64.to_be_bytes())
                .expect("next user");
            init_mail_counters(&mut wtxn, meta, &mail).expect("counters");
            let created = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time");
            users
                .put(
                    &mut wtxn,
                    "alice",
                    &users::encode_record(alice_id, created, "$argon2id$old"),
                )
                .expect("alice");
            Tables::from_array(meta, mail)
                .create_mailbox(&mut wtxn, alice_id, "INBOX", SpecialUse::empty())
                .expect("inbox");
            wtxn.commit().expect("commit");
            env.prepare_for_closing().wait();
        }
        let store = Store::open(dir.path()).expect("open migrates");
        let alice = store.get_user("alice").expect("get").expect("kept");
        assert_eq!(
            (alice.id, alice.password_hash.as_str()),
            (1, "$argon2id$old")
        );
        let r = store.read().expect("read");
        assert_eq!(r.mailboxes(alice_id).expect("mailboxes").len(), 1);
        drop(r);
        assert!(store.list_admins().expect("admins").is_empty());
        assert!(store.list_tokens().expect("tokens").is_empty());
        assert!(
            store
                .audit_entries(None, 10, None)
                .expect("audit")
                .is_empty()
        );
        let rtxn = store.inner.env.read_txn().expect("rtxn");
        let v = store
            .inner
            .meta
            .get(&rtxn, KEY_FORMAT_VERSION)
            .expect("get");
        assert_eq!(v, Some(&3u32.to_be_bytes()[..]));
        drop(rtxn);
        store.create_admin("root", "$argon2id$x").expect("admin");
        store
            .create_admin("alice", "$argon2id$y")
            .expect("a separate namespace");
        assert_eq!(
            store
                .audit("cli", "cli", "admin.add", "root")
                .expect("audit"),
            1
        );
        let user_again = store.create_user("bob", "$argon2id$z").expect("bob");
        assert_eq!(user_again.id, 2, "user ids go on from the old counter");
    }

    #[test]
    fn newer_format_is_refused_and_left_alone() {
        let dir = TempDir::new("store-newer");
        {
            let store = Store::open(dir.path()).expect("open");
            let mut wtxn = store.inner.env.write_txn().expect("wtxn");
            store
                .inner
                .meta
                .put(
                    &mut wtxn,
                    KEY_FORMAT_VERSION,
                    &(FORMAT_VERSION + 1).to_be_bytes(),
                )
                .expect("put");
            wtxn.commit().expect("commit");
        }
        match Store::open(dir.path()) {
            Err(StoreError::NewerFormat {
                found,
                supported: FORMAT_VERSION,
                ..
            }) if found == FORMAT_VERSION + 1 => {}
            other => panic!("expected NewerFormat, got {other:?}"),
        }
    }

    #[test]
    fn corrupt_version_is_reported() {
        let dir = TempDir::new("store-corrupt");
        {
            let store = Store::open(dir.path()).expect("open");
            let mut wtxn = store.inner.env.write_txn().expect("wtxn");
            store
                .inner
                .meta
                .put(&mut wtxn, KEY_FORMAT_VERSION, b"x")
                .expect("put");
            wtxn.commit().expect("commit");
        }
        match Store::open(dir.path()) {
            Err(StoreError::Corruption { db: "meta", .. }) => {}
            other => panic!("expected Corruption, got {other:?}"),
        }
    }
}
