//! The store: one LMDB environment (heed) under `<data_dir>/store/`.
//!
//! This module owns the on-disk format and every transaction against it. It
//! knows nothing about IMAP sequence numbers, sockets or sessions, and never
//! hashes or checks passwords (it keeps the PHC strings `auth` gives it).
//!
//! # On-disk layout (format version 1)
//!
//! Every value has an explicit byte layout, written and read by hand in this
//! module; there is no serde/bincode on disk. Integers are big-endian so
//! keys sort numerically. Named databases in the environment:
//!
//! `meta`: keys are ASCII names.
//! - `format_version` → `u32` BE. The layout version of the whole store;
//!   `1` today. Checked by [`Store::open`]: a newer version is refused (this
//!   binary cannot read it), an older one goes through `migrate`. A store
//!   without the key is new and gets it, unless it holds users, in which
//!   case it is corrupt.
//! - `next_user_id` → `u64` BE. The id the next user gets. It only grows, so
//!   an id is never reused, even after the user is deleted: later tables
//!   (mailboxes, messages) are keyed by user id, and a new user must never
//!   inherit data left behind by an old one.
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
//! reported as corruption rather than guessed at.
//!
//! # Concurrency and durability
//!
//! LMDB allows one writer and many readers across processes, so `roost user`
//! commands work while the server has the same store open. No flag that
//! weakens that (`NO_LOCK`) or durability (`NO_SYNC`, `NO_META_SYNC`) is
//! set: a committed write transaction is on disk. Read transactions do not
//! use thread-local storage (`WithoutTls`), so they may move between threads.

mod users;

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use heed::types::{Bytes, Str};
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, RwTxn, WithoutTls};

pub use users::{UserRecord, normalize_user_name};

/// The layout version this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The largest the data file may grow to. LMDB maps this much address space
/// but the file only takes the space written to it (sparse), and growing it
/// later needs every process to reopen, so it is generous from the start.
const MAP_SIZE: usize = 64 << 30;

/// Named databases the environment may hold: `meta` and `users` today, and
/// room for mailboxes, messages, flags, bodies and their indexes later.
const MAX_DBS: u32 = 32;

/// Concurrent read transactions across all processes. Each session may hold
/// one briefly; LMDB's default of 126 is small for a busy server.
const MAX_READERS: u32 = 1024;

const DB_META: &str = "meta";
const DB_USERS: &str = "users";
const KEY_FORMAT_VERSION: &str = "format_version";
const KEY_NEXT_USER_ID: &str = "next_user_id";

type Table = Database<'static, Str, Bytes>;

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
    #[error("invalid password hash: {0}")]
    InvalidPasswordHash(&'static str),
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
        let (meta, users) = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, StoreError> {
                let meta: Database<Str, Bytes> = opener.create_database(wtxn, Some(DB_META))?;
                let users: Database<Str, Bytes> = opener.create_database(wtxn, Some(DB_USERS))?;
                check_format(wtxn, meta, users, &path)?;
                Ok(CommitOrAbort::<_, ()>::Commit((meta, users)))
            })?
            .unwrap_commit();

        let inner = Arc::new(Inner {
            env,
            path: path.clone(),
            meta,
            users,
        });
        open.push((path, Arc::downgrade(&inner)));
        Ok(Store { inner })
    }

    /// The directory holding the LMDB files.
    pub fn path(&self) -> &Path {
        &self.inner.path
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
        Some(v) => migrate(wtxn, meta, v),
    }
}

/// Brings a store written by an older roost up to `FORMAT_VERSION` inside
/// the opening transaction. Version 1 is the first format, so nothing older
/// was ever written and there is no step yet. A future format change adds
/// one step per version here (rewrite what changed from n to n + 1), then
/// stores the new `format_version`.
fn migrate(
    _wtxn: &mut RwTxn<'_>,
    _meta: Database<Str, Bytes>,
    from: u32,
) -> Result<(), StoreError> {
    Err(StoreError::Corruption {
        db: DB_META,
        key: KEY_FORMAT_VERSION.into(),
        detail: format!("format version {from} was never written by roost"),
    })
}

fn decode_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

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
        assert_eq!(v, Some(&[0u8, 0, 0, 1][..]));
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

    #[test]
    fn newer_format_is_refused_and_left_alone() {
        let dir = TempDir::new("store-newer");
        {
            let store = Store::open(dir.path()).expect("open");
            let mut wtxn = store.inner.env.write_txn().expect("wtxn");
            store
                .inner
                .meta
                .put(&mut wtxn, KEY_FORMAT_VERSION, &2u32.to_be_bytes())
                .expect("put");
            wtxn.commit().expect("commit");
        }
        match Store::open(dir.path()) {
            Err(StoreError::NewerFormat {
                found: 2,
                supported: 1,
                ..
            }) => {}
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
