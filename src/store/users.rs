//! The `users` table: names, ids and password hashes.

use chrono::{DateTime, Utc};

use super::records::SpecialUse;
use super::{DB_META, DB_USERS, KEY_NEXT_USER_ID, Store, StoreError, decode_u64};

/// The mailboxes a new user starts with, all subscribed: INBOX (RFC 3501
/// §5.1) and one of each special use (RFC 6154) that is not virtual, so
/// that clients find where drafts, sent mail, trash, junk and archives go
/// without asking the user.
pub const DEFAULT_MAILBOXES: [(&str, SpecialUse); 6] = [
    ("INBOX", SpecialUse::empty()),
    ("Drafts", SpecialUse::DRAFTS),
    ("Sent", SpecialUse::SENT),
    ("Trash", SpecialUse::TRASH),
    ("Junk", SpecialUse::JUNK),
    ("Archive", SpecialUse::ARCHIVE),
];

/// One user as stored. `Debug` leaves out the password hash: it is not the
/// password, but it would let anyone who reads a log try to crack it.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Stable and never reused; other tables refer to the user by it.
    pub id: u64,
    /// The normalised name (the table key).
    pub name: String,
    pub created: DateTime<Utc>,
    /// An argon2id PHC string (`$argon2id$v=19$m=...`), as `auth` made it.
    pub password_hash: String,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("created", &self.created)
            .field("password_hash", &"REDACTED")
            .finish()
    }
}

/// The longest user name, in bytes.
pub const MAX_USER_NAME_LEN: usize = 64;

/// The user-record layout version written by this code.
const RECORD_V1: u8 = 1;
/// Version byte, id, creation time, hash length.
const RECORD_V1_HEADER: usize = 1 + 8 + 8 + 2;

/// The name as it is stored and compared: ASCII lower case, 1 to 64
/// characters of `a-z 0-9 . _ + @ -`, not starting with a dot.
///
/// Case-insensitive so `Alice` and `alice` are one account, as people expect
/// of mail logins; the small alphabet covers plain names and `user@domain`
/// while keeping names safe in file names, logs and IMAP atoms.
pub fn normalize_user_name(name: &str) -> Result<String, StoreError> {
    let invalid = |reason| StoreError::InvalidUserName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if name.len() > MAX_USER_NAME_LEN {
        return Err(invalid("longer than 64 characters"));
    }
    let lower = name.to_ascii_lowercase();
    if !lower
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._+@-".contains(&b))
    {
        return Err(invalid(
            "only letters a-z, digits and . _ + @ - are allowed",
        ));
    }
    if lower.starts_with('.') {
        return Err(invalid("must not start with a dot"));
    }
    Ok(lower)
}

/// What a PHC string must look like to be stored: the format check is
/// `auth`'s job, this only keeps the record layout sound.
fn check_hash(phc: &str) -> Result<(), StoreError> {
    if !phc.starts_with('$') {
        return Err(StoreError::InvalidPasswordHash(
            "not a PHC string (must start with `$`)",
        ));
    }
    if !phc.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(StoreError::InvalidPasswordHash("must be printable ASCII"));
    }
    if phc.len() > usize::from(u16::MAX) {
        return Err(StoreError::InvalidPasswordHash("too long"));
    }
    Ok(())
}

/// Encodes a record in the v1 layout (see the module doc of `store`).
pub(super) fn encode_record(id: u64, created: DateTime<Utc>, password_hash: &str) -> Vec<u8> {
    let hash = password_hash.as_bytes();
    // check_hash bounds the length before anything is encoded.
    let len = u16::try_from(hash.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(RECORD_V1_HEADER + hash.len());
    out.push(RECORD_V1);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&created.timestamp().to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&hash[..usize::from(len)]);
    out
}

/// Decodes a record; `name` is its key.
pub(super) fn decode_record(name: &str, bytes: &[u8]) -> Result<UserRecord, StoreError> {
    let corrupt = |detail: String| StoreError::Corruption {
        db: DB_USERS,
        key: name.to_owned(),
        detail,
    };
    match bytes.first() {
        Some(&RECORD_V1) => {}
        Some(v) => return Err(corrupt(format!("unknown record version {v}"))),
        None => return Err(corrupt("empty record".into())),
    }
    if bytes.len() < RECORD_V1_HEADER {
        return Err(corrupt(format!(
            "record of {} bytes is too short",
            bytes.len()
        )));
    }
    let field = |range: std::ops::Range<usize>| &bytes[range];
    let id = decode_u64(field(1..9)).ok_or_else(|| corrupt("bad id".into()))?;
    let created_secs = decode_u64(field(9..17)).ok_or_else(|| corrupt("bad time".into()))?;
    let created_secs = i64::from_be_bytes(created_secs.to_be_bytes());
    let len = usize::from(u16::from_be_bytes([bytes[17], bytes[18]]));
    let rest = &bytes[RECORD_V1_HEADER..];
    if rest.len() != len {
        return Err(corrupt(format!(
            "password hash is {} bytes, the record says {len}",
            rest.len()
        )));
    }
    let password_hash = std::str::from_utf8(rest)
        .map_err(|_| corrupt("password hash is not text".into()))?
        .to_owned();
    let created = DateTime::from_timestamp(created_secs, 0)
        .ok_or_else(|| corrupt(format!("creation time {created_secs} is out of range")))?;
    Ok(UserRecord {
        id,
        name: name.to_owned(),
        created,
        password_hash,
    })
}

/// The `meta` key of a user's unlock mark.
fn unlock_key(name: &str) -> String {
    format!("unlock/{name}")
}

/// Now, in Unix milliseconds.
pub fn unix_millis_now() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

impl Store {
    /// Adds a user with a fresh id and the `DEFAULT_MAILBOXES`, subscribed,
    /// in the same transaction: a user never exists without them. Fails
    /// with `UserExists` if the (normalised) name is taken.
    ///
    /// This is the one write of mail tables outside the writer thread: it
    /// is part of creating the user, whose rows nothing else can touch
    /// before the commit, and LMDB orders it with the writer's
    /// transactions.
    pub fn create_user(&self, name: &str, password_hash: &str) -> Result<UserRecord, StoreError> {
        let name = normalize_user_name(name)?;
        check_hash(password_hash)?;
        let inner = &self.inner;
        let mut wtxn = inner.env.write_txn()?;
        if inner.users.get(&wtxn, &name)?.is_some() {
            return Err(StoreError::UserExists(name));
        }
        let id = match inner.meta.get(&wtxn, KEY_NEXT_USER_ID)? {
            Some(bytes) => decode_u64(bytes).ok_or_else(|| StoreError::Corruption {
                db: DB_META,
                key: KEY_NEXT_USER_ID.into(),
                detail: format!("expected 8 bytes, found {}", bytes.len()),
            })?,
            None => {
                return Err(StoreError::Corruption {
                    db: DB_META,
                    key: KEY_NEXT_USER_ID.into(),
                    detail: "missing".into(),
                });
            }
        };
        let next = id.checked_add(1).ok_or_else(|| StoreError::Corruption {
            db: DB_META,
            key: KEY_NEXT_USER_ID.into(),
            detail: "user ids exhausted".into(),
        })?;
        // Whole seconds: that is what the record keeps.
        let created = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
        inner
            .meta
            .put(&mut wtxn, KEY_NEXT_USER_ID, &next.to_be_bytes())?;
        inner
            .users
            .put(&mut wtxn, &name, &encode_record(id, created, password_hash))?;
        for (mailbox, special_use) in DEFAULT_MAILBOXES {
            inner
                .tables
                .create_mailbox(&mut wtxn, id, mailbox, special_use)?;
            inner.tables.subscribe(&mut wtxn, id, mailbox)?;
        }
        wtxn.commit()?;
        Ok(UserRecord {
            id,
            name,
            created,
            password_hash: password_hash.to_owned(),
        })
    }

    /// The user with this name (case-insensitive), if any. A name that
    /// cannot be valid is an error, not `None`.
    pub fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let name = normalize_user_name(name)?;
        let rtxn = self.inner.env.read_txn()?;
        match self.inner.users.get(&rtxn, &name)? {
            Some(bytes) => Ok(Some(decode_record(&name, bytes)?)),
            None => Ok(None),
        }
    }

    /// Replaces the user's password hash.
    pub fn set_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        let name = normalize_user_name(name)?;
        check_hash(password_hash)?;
        let inner = &self.inner;
        let mut wtxn = inner.env.write_txn()?;
        let old = match inner.users.get(&wtxn, &name)? {
            Some(bytes) => decode_record(&name, bytes)?,
            None => return Err(StoreError::NoSuchUser(name)),
        };
        inner.users.put(
            &mut wtxn,
            &name,
            &encode_record(old.id, old.created, password_hash),
        )?;
        wtxn.commit()?;
        Ok(())
    }

    /// Removes the user and returns what was stored. The id is not reused.
    pub fn delete_user(&self, name: &str) -> Result<UserRecord, StoreError> {
        let name = normalize_user_name(name)?;
        let inner = &self.inner;
        let mut wtxn = inner.env.write_txn()?;
        let old = match inner.users.get(&wtxn, &name)? {
            Some(bytes) => decode_record(&name, bytes)?,
            None => return Err(StoreError::NoSuchUser(name)),
        };
        inner.users.delete(&mut wtxn, &name)?;
        inner.meta.delete(&mut wtxn, &unlock_key(&name))?;
        // Limits belong to the user; the id is never reused.
        inner
            .tables
            .quotas
            .delete(&mut wtxn, &old.id.to_be_bytes())?;
        wtxn.commit()?;
        Ok(old)
    }

    /// Records that the user's failed logins are to be forgotten
    /// (`roost user unlock`): a mark, the time in Unix milliseconds, that a
    /// running server reads when it next limits a login for the name.
    pub fn unlock_user(&self, name: &str) -> Result<u64, StoreError> {
        let name = normalize_user_name(name)?;
        let inner = &self.inner;
        let mut wtxn = inner.env.write_txn()?;
        if inner.users.get(&wtxn, &name)?.is_none() {
            return Err(StoreError::NoSuchUser(name));
        }
        let mark = unix_millis_now();
        inner
            .meta
            .put(&mut wtxn, &unlock_key(&name), &mark.to_be_bytes())?;
        wtxn.commit()?;
        Ok(mark)
    }

    /// The user's last unlock mark, if any.
    pub fn unlock_mark(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let name = normalize_user_name(name)?;
        let rtxn = self.inner.env.read_txn()?;
        let key = unlock_key(&name);
        match self.inner.meta.get(&rtxn, &key)? {
            Some(bytes) => decode_u64(bytes)
                .map(Some)
                .ok_or_else(|| StoreError::Corruption {
                    db: DB_META,
                    key,
                    detail: format!("expected 8 bytes, found {}", bytes.len()),
                }),
            None => Ok(None),
        }
    }

    /// Every user, ordered by name.
    pub fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rtxn = self.inner.env.read_txn()?;
        let mut out = Vec::new();
        for entry in self.inner.users.iter(&rtxn)? {
            let (name, bytes) = entry?;
            out.push(decode_record(name, bytes)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::TempDir;
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA";

    #[test]
    fn names_are_normalised_and_checked() {
        assert_eq!(normalize_user_name("Alice").expect("valid"), "alice");
        assert_eq!(
            normalize_user_name("bob.smith+tag@example.org").expect("valid"),
            "bob.smith+tag@example.org"
        );
        assert_eq!(normalize_user_name("a_b-c9").expect("valid"), "a_b-c9");
        assert_eq!(
            normalize_user_name(&"x".repeat(64))
                .expect("64 is fine")
                .len(),
            64
        );
        for bad in [
            "", ".hidden", "a b", "a/b", "a\0b", "émile", "a:b", "*", "%",
        ] {
            assert!(
                normalize_user_name(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        assert!(normalize_user_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn record_round_trip() {
        let created = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let bytes = encode_record(42, created, HASH);
        let rec = decode_record("carol", &bytes).expect("decode");
        assert_eq!(rec.id, 42);
        assert_eq!(rec.name, "carol");
        assert_eq!(rec.created, created);
        assert_eq!(rec.password_hash, HASH);
    }

    /// The v1 record format, byte for byte. If this test has to change, the
    /// on-disk format changed: bump the record version and migrate.
    #[test]
    fn record_v1_fixture() {
        let fixture: &[u8] = b"\x01\
            \x00\x00\x00\x00\x00\x00\x00\x07\
            \x00\x00\x00\x00\x65\x53\xf1\x00\
            \x00\x06\
            $a$b$c";
        let created = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        assert_eq!(encode_record(7, created, "$a$b$c"), fixture);
        let rec = decode_record("dave", fixture).expect("decode");
        assert_eq!(
            (rec.id, rec.created, rec.password_hash.as_str()),
            (7, created, "$a$b$c")
        );
    }

    #[test]
    fn bad_records_are_corruption() {
        let created = DateTime::from_timestamp(0, 0).expect("time");
        let good = encode_record(1, created, HASH);
        let mut wrong_version = good.clone();
        wrong_version[0] = 2;
        let mut trailing = good.clone();
        trailing.push(b'x');
        for bad in [
            &[][..],
            &good[..10],
            &wrong_version[..],
            &trailing[..],
            &good[..good.len() - 1],
        ] {
            match decode_record("eve", bad) {
                Err(StoreError::Corruption { db: "users", .. }) => {}
                other => panic!("expected corruption for {bad:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn debug_hides_the_hash() {
        let created = DateTime::from_timestamp(0, 0).expect("time");
        let rec = decode_record("frank", &encode_record(1, created, HASH)).expect("decode");
        let shown = format!("{rec:?}");
        assert!(!shown.contains("argon2"), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }

    #[test]
    fn a_new_user_has_the_default_mailboxes_subscribed() {
        let dir = TempDir::new("store-defaults");
        let store = Store::open(dir.path()).expect("open");
        let a = store.create_user("ann", HASH).expect("create");
        let r = store.read().expect("read");
        let got: Vec<(String, SpecialUse, bool)> = r
            .mailboxes(a.id)
            .expect("mailboxes")
            .into_iter()
            .map(|m| (m.name, m.special_use, m.noselect))
            .collect();
        let mut expected: Vec<(String, SpecialUse, bool)> = DEFAULT_MAILBOXES
            .iter()
            .map(|(n, u)| (n.to_string(), *u, false))
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, expected);
        let mut names: Vec<String> = expected.into_iter().map(|(n, _, _)| n).collect();
        names.sort();
        assert_eq!(r.subscriptions(a.id).expect("subscriptions"), names);
        drop(r);
        // A refused user leaves no mailboxes behind: one transaction.
        assert!(store.create_user("ANN", HASH).is_err());
        let r = store.read().expect("read");
        assert!(r.mailboxes(a.id + 1).expect("mailboxes").is_empty());
    }

    #[test]
    fn create_get_list_passwd_delete() {
        let dir = TempDir::new("store-users");
        let store = Store::open(dir.path()).expect("open");

        let a = store.create_user("Alice", HASH).expect("create alice");
        assert_eq!((a.id, a.name.as_str()), (1, "alice"));
        let b = store
            .create_user("bob", "$argon2id$other")
            .expect("create bob");
        assert_eq!(b.id, 2);

        match store.create_user("ALICE", HASH) {
            Err(StoreError::UserExists(n)) => assert_eq!(n, "alice"),
            other => panic!("expected UserExists, got {other:?}"),
        }

        let got = store.get_user("aLiCe").expect("get").expect("exists");
        assert_eq!(got, a);
        assert!(store.get_user("nobody").expect("get").is_none());
        assert!(matches!(
            store.get_user(".x"),
            Err(StoreError::InvalidUserName { .. })
        ));

        let names: Vec<String> = store
            .list_users()
            .expect("list")
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, ["alice", "bob"]);

        store
            .set_password("alice", "$argon2id$new")
            .expect("passwd");
        let got = store.get_user("alice").expect("get").expect("exists");
        assert_eq!(
            (got.id, got.created, got.password_hash.as_str()),
            (a.id, a.created, "$argon2id$new")
        );
        assert!(matches!(
            store.set_password("zed", HASH),
            Err(StoreError::NoSuchUser(_))
        ));

        let gone = store.delete_user("ALICE").expect("delete");
        assert_eq!(gone.id, 1);
        assert!(store.get_user("alice").expect("get").is_none());
        assert!(matches!(
            store.delete_user("alice"),
            Err(StoreError::NoSuchUser(_))
        ));

        // Ids are never reused, even for a re-created name.
        let again = store.create_user("alice", HASH).expect("re-create");
        assert_eq!(again.id, 3);
    }

    #[test]
    fn bad_hashes_are_refused() {
        let dir = TempDir::new("store-hash");
        let store = Store::open(dir.path()).expect("open");
        for bad in ["", "plaintext", "$with space", "$tab\there"] {
            assert!(
                matches!(
                    store.create_user("gina", bad),
                    Err(StoreError::InvalidPasswordHash(_))
                ),
                "{bad:?}"
            );
        }
        assert!(store.get_user("gina").expect("get").is_none());
    }

    #[test]
    fn writes_survive_reopen() {
        let dir = TempDir::new("store-durable");
        {
            let store = Store::open(dir.path()).expect("open");
            store.create_user("hank", HASH).expect("create");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.get_user("hank").expect("get").map(|u| u.id), Some(1));
    }
}
