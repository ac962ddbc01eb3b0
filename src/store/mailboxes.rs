//! Mailbox and subscription operations (RFC 3501 §6.3.3–6.3.8), applied by
//! the writer inside its transaction, and the lookups they share with
//! `messages.rs` and `read.rs`.
//!
//! Every function here validates before it writes where it can; the
//! writer also runs each operation in a nested transaction, so an error
//! part-way leaves nothing behind.

use std::ops::Bound;

use heed::{RoTxn, RwTxn};

use super::records::{self, MailboxInfo, SpecialUse};
use super::{
    DB_MAILBOX_IDS, DB_MAILBOXES, DB_META, KEY_LAST_UIDVALIDITY, KEY_NEXT_MAILBOX_ID, StoreError,
    Tables, corruption, decode_u32, take_next_id,
};

/// The hierarchy delimiter (RFC 3501 §5.1.1).
pub const DELIMITER: char = '/';

/// The longest mailbox name, in bytes: long enough for deep hierarchies,
/// and with the 8-byte user id still within LMDB's 511-byte key limit.
pub const MAX_MAILBOX_NAME_LEN: usize = 500;
const TOO_LONG: &str = "longer than 500 bytes";
const _: () = assert!(MAX_MAILBOX_NAME_LEN == 500, "TOO_LONG names the limit");

/// The name as stored and compared: the first level `INBOX` in any case
/// becomes `INBOX` (RFC 3501 §5.1: INBOX is case-insensitive); everything
/// else is kept as given (other names are case-sensitive).
///
/// Refused: empty names, empty levels (`a//b`, a leading or trailing `/`),
/// control characters, and the LIST wildcards `*` and `%`, which could not
/// be matched unambiguously (RFC 3501 §5.1).
pub fn normalize_mailbox_name(name: &str) -> Result<String, StoreError> {
    let invalid = |reason| StoreError::InvalidMailboxName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if name.len() > MAX_MAILBOX_NAME_LEN {
        return Err(invalid(TOO_LONG));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("must not contain control characters"));
    }
    if name.contains(['*', '%']) {
        return Err(invalid("must not contain * or %"));
    }
    if name.split(DELIMITER).any(str::is_empty) {
        return Err(invalid("must not have an empty level"));
    }
    let (first, rest) = match name.find(DELIMITER) {
        Some(i) => name.split_at(i),
        None => (name, ""),
    };
    if first.eq_ignore_ascii_case("INBOX") {
        Ok(format!("INBOX{rest}"))
    } else {
        Ok(name.to_owned())
    }
}

/// The names of the levels above `name`, outermost first (`a/b/c` gives
/// `a`, `a/b`).
fn superiors(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(DELIMITER).map(|(i, _)| &name[..i])
}

/// The first key after every key that starts with `prefix`, or `None` if
/// there is none (the prefix is all 0xff).
pub(super) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Deletes every row of `db` whose key starts with `prefix`.
pub(super) fn delete_prefix(
    db: super::Db,
    wtxn: &mut RwTxn<'_>,
    prefix: &[u8],
) -> Result<usize, StoreError> {
    let end = prefix_end(prefix);
    let range: (Bound<&[u8]>, Bound<&[u8]>) = (
        Bound::Included(prefix),
        match &end {
            Some(end) => Bound::Excluded(end.as_slice()),
            None => Bound::Unbounded,
        },
    );
    Ok(db.delete_range(wtxn, &range)?)
}

fn mailbox_key_text(user_id: u64, name: &str) -> String {
    format!("user {user_id} {name:?}")
}

impl Tables {
    /// The mailbox with this (normalised) name.
    pub(super) fn mailbox(
        &self,
        txn: &RoTxn<'_>,
        user_id: u64,
        name: &str,
    ) -> Result<Option<MailboxInfo>, StoreError> {
        match self.mailboxes.get(txn, &records::name_key(user_id, name))? {
            Some(bytes) => records::decode_mailbox(user_id, name, bytes)
                .map(Some)
                .map_err(|e| corruption(DB_MAILBOXES, mailbox_key_text(user_id, name), e.0)),
            None => Ok(None),
        }
    }

    /// The mailbox with this id, through `mailbox_ids`.
    pub(super) fn mailbox_by_id(
        &self,
        txn: &RoTxn<'_>,
        id: u64,
    ) -> Result<Option<MailboxInfo>, StoreError> {
        let Some(row) = self.mailbox_ids.get(txn, &id.to_be_bytes())? else {
            return Ok(None);
        };
        let (user_id, name) =
            records::split_name_key(row).map_err(|e| corruption(DB_MAILBOX_IDS, id, e.0))?;
        match self.mailbox(txn, user_id, name)? {
            Some(m) if m.id == id => Ok(Some(m)),
            Some(m) => Err(corruption(
                DB_MAILBOX_IDS,
                id,
                format!("points at {:?}, which has id {}", m.name, m.id),
            )),
            None => Err(corruption(
                DB_MAILBOX_IDS,
                id,
                format!("points at missing mailbox {name:?} of user {user_id}"),
            )),
        }
    }

    /// The mailbox with this id if it can hold messages.
    pub(super) fn selectable_by_id(
        &self,
        txn: &RoTxn<'_>,
        id: u64,
    ) -> Result<MailboxInfo, StoreError> {
        match self.mailbox_by_id(txn, id)? {
            None => Err(StoreError::NotFound {
                mailbox: format!("#{id}"),
            }),
            Some(m) if m.noselect => Err(StoreError::NoSelect { mailbox: m.name }),
            Some(m) => Ok(m),
        }
    }

    /// Writes the mailbox's `mailboxes` row (not its `mailbox_ids` row).
    pub(super) fn put_mailbox(
        &self,
        wtxn: &mut RwTxn<'_>,
        m: &MailboxInfo,
    ) -> Result<(), StoreError> {
        self.mailboxes.put(
            wtxn,
            &records::name_key(m.user_id, &m.name),
            &records::encode_mailbox(m),
        )?;
        Ok(())
    }

    /// Every mailbox of the user, ordered by name.
    pub(super) fn user_mailboxes(
        &self,
        txn: &RoTxn<'_>,
        user_id: u64,
    ) -> Result<Vec<MailboxInfo>, StoreError> {
        self.mailboxes_with_prefix(txn, user_id, &user_id.to_be_bytes())
    }

    /// The mailboxes below `name` in the hierarchy, ordered by name.
    fn inferiors(
        &self,
        txn: &RoTxn<'_>,
        user_id: u64,
        name: &str,
    ) -> Result<Vec<MailboxInfo>, StoreError> {
        let prefix = records::name_key(user_id, &format!("{name}{DELIMITER}"));
        self.mailboxes_with_prefix(txn, user_id, &prefix)
    }

    fn has_inferiors(&self, txn: &RoTxn<'_>, user_id: u64, name: &str) -> Result<bool, StoreError> {
        let prefix = records::name_key(user_id, &format!("{name}{DELIMITER}"));
        Ok(self
            .mailboxes
            .prefix_iter(txn, &prefix)?
            .next()
            .transpose()?
            .is_some())
    }

    fn mailboxes_with_prefix(
        &self,
        txn: &RoTxn<'_>,
        user_id: u64,
        prefix: &[u8],
    ) -> Result<Vec<MailboxInfo>, StoreError> {
        let mut out = Vec::new();
        for row in self.mailboxes.prefix_iter(txn, prefix)? {
            let (key, bytes) = row?;
            let (_, name) = records::split_name_key(key)
                .map_err(|e| corruption(DB_MAILBOXES, format!("user {user_id}"), e.0))?;
            let m = records::decode_mailbox(user_id, name, bytes)
                .map_err(|e| corruption(DB_MAILBOXES, mailbox_key_text(user_id, name), e.0))?;
            out.push(m);
        }
        Ok(out)
    }

    /// A UIDVALIDITY never given before: the larger of the last one plus
    /// one and the clock (see the module doc of `store`).
    fn new_uidvalidity(&self, wtxn: &mut RwTxn<'_>) -> Result<u32, StoreError> {
        let last = match self.meta.get(wtxn, KEY_LAST_UIDVALIDITY)? {
            Some(bytes) => decode_u32(bytes)
                .ok_or_else(|| corruption(DB_META, KEY_LAST_UIDVALIDITY, "expected 4 bytes"))?,
            None => return Err(corruption(DB_META, KEY_LAST_UIDVALIDITY, "missing")),
        };
        let now = chrono::Utc::now().timestamp();
        let now = u32::try_from(now).unwrap_or(if now < 0 { 0 } else { u32::MAX });
        let next = last
            .checked_add(1)
            .ok_or_else(|| corruption(DB_META, KEY_LAST_UIDVALIDITY, "UIDVALIDITY exhausted"))?
            .max(now);
        self.meta
            .put(wtxn, KEY_LAST_UIDVALIDITY, &next.to_be_bytes())?;
        Ok(next)
    }

    /// Creates a mailbox incarnation under `name` with a new id and
    /// UIDVALIDITY, replacing any `mailboxes` row the name had.
    fn fresh_mailbox(
        &self,
        wtxn: &mut RwTxn<'_>,
        user_id: u64,
        name: &str,
        special_use: SpecialUse,
    ) -> Result<MailboxInfo, StoreError> {
        let id = take_next_id(wtxn, self.meta, KEY_NEXT_MAILBOX_ID)?;
        let uidvalidity = self.new_uidvalidity(wtxn)?;
        let m = MailboxInfo {
            user_id,
            name: name.to_owned(),
            id,
            uidvalidity,
            uidnext: 1,
            highest_modseq: 1,
            noselect: false,
            special_use,
            messages: 0,
            unseen: 0,
            deleted: 0,
            size: 0,
            recent_floor: 1,
            keywords: Vec::new(),
        };
        self.put_mailbox(wtxn, &m)?;
        self.mailbox_ids
            .put(wtxn, &id.to_be_bytes(), &records::name_key(user_id, name))?;
        Ok(m)
    }

    /// Creates every missing level above `name` as a mailbox (RFC 3501
    /// §6.3.3: "the server SHOULD create any superior hierarchical names").
    fn create_superiors(
        &self,
        wtxn: &mut RwTxn<'_>,
        user_id: u64,
        name: &str,
    ) -> Result<(), StoreError> {
        for superior in superiors(name) {
            if self.mailbox(wtxn, user_id, superior)?.is_none() {
                self.fresh_mailbox(wtxn, user_id, superior, SpecialUse::empty())?;
            }
        }
        Ok(())
    }

    /// CREATE. A trailing delimiter ("intends to create names under it",
    /// RFC 3501 §6.3.3) is dropped.
    pub(super) fn create_mailbox(
        &self,
        wtxn: &mut RwTxn<'_>,
        user_id: u64,
        name: &str,
        special_use: SpecialUse,
    ) -> Result<MailboxInfo, StoreError> {
        let name = normalize_mailbox_name(name.strip_suffix(DELIMITER).unwrap_or(name))?;
        let existing = self.mailbox(wtxn, user_id, &name)?;
        if let Some(old) = &existing {
            if !old.noselect {
                return Err(StoreError::AlreadyExists { mailbox: name });
            }
            // A placeholder becomes a new, selectable incarnation.
            self.mailbox_ids.delete(wtxn, &old.id.to_be_bytes())?;
        }
        self.create_superiors(wtxn, user_id, &name)?;
        let special_use = match &existing {
            Some(old) => old.special_use.union(special_use),
            None => special_use,
        };
        self.fresh_mailbox(wtxn, user_id, &name, special_use)
    }

    /// DELETE (RFC 3501 §6.3.4). Returns the mailbox as it was and whether
    /// it stays as a `\Noselect` name.
    pub(super) fn delete_mailbox(
        &self,
        wtxn: &mut RwTxn<'_>,
        user_id: u64,
        name: &str,
    ) -> Result<(MailboxInfo, bool), StoreError> {
        let name = normalize_mailbox_name(name)?;
        if name == "INBOX" {
            return Err(StoreError::InboxDelete);
        }
        let Some(old) = self.mailbox(wtxn, user_id, &name)? else {
            return Err(StoreError::NotFound { mailbox: name });
        };
        let has_inferiors = self.has_inferiors(wtxn, user_id, &name)?;
        if has_inferiors && old.noselect {
            return Err(StoreError::HasInferiors { mailbox: name });
        }
        self.clear_mailbox(wtxn, &old)?;
        if has_inferiors {
            // A name that holds no messages serves no special use.
            let placeholder = MailboxInfo {
                noselect: true,
                special_use: SpecialUse::empty(),
                messages: 0,
                unseen: 0,
                deleted: 0,
                size: 0,
                keywords: Vec::new(),
                ..old.clone()
            };
            self.put_mailbox(wtxn, &placeholder)?;
        } else {
            self.mailboxes
                .delete(wtxn, &records::name_key(user_id, &name))?;
            self.mailbox_ids.delete(wtxn, &old.id.to_be_bytes())?;
        }
        Ok((old, has_inferiors))
    }

    /// RENAME of anything but INBOX (RFC 3501 §6.3.5): the mailbox and its
    /// inferiors keep their ids and UIDVALIDITY under the new names.
    /// Returns (id, new name) of every mailbox renamed.
    pub(super) fn rename_mailbox(
        &self,
        wtxn: &mut RwTxn<'_>,
        user_id: u64,
        from: &str,
        to: &str,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let (from, to) = check_rename(from, to)?;
        let Some(top) = self.mailbox(wtxn, user_id, &from)? else {
            return Err(StoreError::NotFound { mailbox: from });
        };
        let mut moving = vec![top];
        moving.extend(self.inferiors(wtxn, user_id, &from)?);
        let mut renamed = Vec::with_capacity(moving.len());
        for m in &moving {
            let new_name = format!("{to}{}", &m.name[from.len()..]);
            if new_name.len() > MAX_MAILBOX_NAME_LEN {
                return Err(StoreError::InvalidMailboxName {
                    name: new_name,
                    reason: TOO_LONG,
                });
            }
            if self.mailbox(wtxn, user_id, &new_name)?.is_some() {
                return Err(StoreError::AlreadyExists { mailbox: new_name });
            }
            renamed.push((m.id, new_name));
        }
        for m in &moving {
            self.mailboxes
                .delete(wtxn, &records::name_key(user_id, &m.name))?;
        }
        self.create_superiors(wtxn, user_id, &to)?;
        for (m, (id, new_name)) in moving.into_iter().zip(&renamed) {
            let m = MailboxInfo {
                name: new_name.clone(),
                ..m
            };
            self.put_mailbox(wtxn, &m)?;
            self.mailbox_ids.put(
                wtxn,
                &id.to_be_bytes(),
                &records::name_key(user_id, new_name),
            )?;
        }
        Ok(renamed)
    }

    /// Checks a RENAME of INBOX and creates its target: a new mailbox (new
    /// id and UIDVALIDITY) with the missing levels above it. The messages
    /// are moved by `messages.rs`.
    pub(super) fn inbox_rename_target(
        &self,
        wtxn: &mut RwTxn<'_>,
        user_id: u64,
        to: &str,
    ) -> Result<(MailboxInfo, MailboxInfo), StoreError> {
        let (_, to) = check_rename("INBOX", to)?;
        let Some(inbox) = self.mailbox(wtxn, user_id, "INBOX")? else {
            return Err(StoreError::NotFound {
                mailbox: "INBOX".into(),
            });
        };
        if inbox.noselect {
            return Err(StoreError::NoSelect {
                mailbox: "INBOX".into(),
            });
        }
        if self.mailbox(wtxn, user_id, &to)?.is_some() {
            return Err(StoreError::AlreadyExists { mailbox: to });
        }
        self.create_superiors(wtxn, user_id, &to)?;
        let target = self.fresh_mailbox(wtxn, user_id, &to, SpecialUse::empty())?;
        Ok((inbox, target))
    }

    pub(super) fn subscribe(
        &self,
        wtxn: &mut RwTxn<'_>,
        user_id: u64,
        name: &str,
    ) -> Result<(), StoreError> {
        let name = normalize_mailbox_name(name)?;
        self.subscriptions
            .put(wtxn, &records::name_key(user_id, &name), &[])?;
        Ok(())
    }

    /// Returns whether the name was subscribed.
    pub(super) fn unsubscribe(
        &self,
        wtxn: &mut RwTxn<'_>,
        user_id: u64,
        name: &str,
    ) -> Result<bool, StoreError> {
        let name = normalize_mailbox_name(name)?;
        Ok(self
            .subscriptions
            .delete(wtxn, &records::name_key(user_id, &name))?)
    }

    pub(super) fn user_subscriptions(
        &self,
        txn: &RoTxn<'_>,
        user_id: u64,
    ) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for row in self
            .subscriptions
            .prefix_iter(txn, &user_id.to_be_bytes())?
        {
            let (key, _) = row?;
            let (_, name) = records::split_name_key(key)
                .map_err(|e| corruption(super::DB_SUBSCRIPTIONS, format!("user {user_id}"), e.0))?;
            out.push(name.to_owned());
        }
        Ok(out)
    }

    /// Claims `\Recent` (RFC 3501 §2.3.2): the UIDs from the recent floor up
    /// to UIDNEXT, and moves the floor to UIDNEXT.
    pub(super) fn claim_recent(
        &self,
        wtxn: &mut RwTxn<'_>,
        mailbox_id: u64,
    ) -> Result<std::ops::Range<u32>, StoreError> {
        let mut m = self.selectable_by_id(wtxn, mailbox_id)?;
        let claimed = m.recent_floor..m.uidnext;
        if m.recent_floor != m.uidnext {
            m.recent_floor = m.uidnext;
            self.put_mailbox(wtxn, &m)?;
        }
        Ok(claimed)
    }

    /// Removes every mailbox and subscription of the user, releasing the
    /// bodies. Returns (mailboxes, messages) removed.
    pub(super) fn delete_user_mail(
        &self,
        wtxn: &mut RwTxn<'_>,
        user_id: u64,
    ) -> Result<(u32, u64), StoreError> {
        let all = self.user_mailboxes(wtxn, user_id)?;
        let mut messages = 0u64;
        for m in &all {
            messages += u64::from(self.clear_mailbox(wtxn, m)?);
            self.mailbox_ids.delete(wtxn, &m.id.to_be_bytes())?;
        }
        let prefix = user_id.to_be_bytes();
        delete_prefix(self.mailboxes, wtxn, &prefix)?;
        delete_prefix(self.subscriptions, wtxn, &prefix)?;
        Ok((u32::try_from(all.len()).unwrap_or(u32::MAX), messages))
    }
}

/// Normalises both names of a RENAME and refuses the impossible ones.
fn check_rename(from: &str, to: &str) -> Result<(String, String), StoreError> {
    let from = normalize_mailbox_name(from)?;
    let to = normalize_mailbox_name(to)?;
    let invalid = |reason| StoreError::InvalidRename {
        from: from.clone(),
        to: to.clone(),
        reason,
    };
    if to == "INBOX" {
        return Err(invalid("INBOX cannot be a rename target"));
    }
    if from == to {
        return Err(StoreError::AlreadyExists { mailbox: to });
    }
    if to.starts_with(&format!("{from}{DELIMITER}")) && from != "INBOX" {
        return Err(invalid("a mailbox cannot move below itself"));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_checked() {
        let ok = |n: &str| normalize_mailbox_name(n).expect(n);
        assert_eq!(ok("inbox"), "INBOX");
        assert_eq!(ok("InBoX/Sub"), "INBOX/Sub");
        assert_eq!(ok("INBOXES"), "INBOXES");
        assert_eq!(ok("Work/inbox"), "Work/inbox");
        assert_eq!(ok("Entwürfe/日本"), "Entwürfe/日本");
        for bad in ["", "/a", "a/", "a//b", "a*", "%", "a\tb", "a\u{0}"] {
            assert!(normalize_mailbox_name(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_mailbox_name(&"x".repeat(501)).is_err());
    }

    #[test]
    fn superior_levels() {
        assert_eq!(superiors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(superiors("a").count(), 0);
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }
}
