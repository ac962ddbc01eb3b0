//! Message and body operations: APPEND, STORE, EXPUNGE, COPY, the move of
//! INBOX's messages on RENAME, and the reads of messages, MODSEQs and
//! expunge history.
//!
//! Invariants every function keeps, in the one transaction it runs in:
//! - a message has exactly one `modseqs` row, for its current MODSEQ;
//! - the mailbox counters (messages, unseen, deleted, size) match its
//!   messages, and UIDNEXT is above every UID it ever gave;
//! - a body's reference count is the number of messages naming it, and a
//!   body at 0 is deleted with its meta.

use std::ops::Bound;

use heed::{RoTxn, RwTxn};

use super::mailboxes::delete_prefix;
use super::records::{self, BodyMeta, BodyMetaIn, Flags, MailboxInfo, MessageInfo};
use super::writer::{Appended, Copied, Expunged, FlagUpdate, Moved, NewMessage, StoreMode, Stored};
use super::{
    DB_BODY_META, DB_EXPUNGED, DB_MESSAGES, DB_MODSEQS, KEY_NEXT_BODY_ID, StoreError, Tables,
    corruption, take_next_id,
};

/// The longest keyword, in bytes. Real ones (`$Forwarded`, `$MDNSent`,
/// labels) are short; the bound keeps records small.
pub const MAX_KEYWORD_LEN: usize = 255;

/// The most distinct keywords one mailbox may use. Every STORE rewrites the
/// mailbox record that lists them, so the list stays small; past it a STORE
/// or APPEND that would add one is refused (RFC 3501 lets a server's
/// PERMANENTFLAGS omit `\*`).
pub const MAX_MAILBOX_KEYWORDS: usize = 256;

/// Checks keywords (an IMAP `atom` each, RFC 3501 `flag-keyword`) and drops
/// repeats, comparing case-insensitively and keeping the first spelling.
pub(super) fn normalize_keywords(list: &[String]) -> Result<Vec<String>, StoreError> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for k in list {
        let invalid = |reason| StoreError::InvalidKeyword {
            keyword: k.clone(),
            reason,
        };
        if k.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if k.len() > MAX_KEYWORD_LEN {
            return Err(invalid("longer than 255 bytes"));
        }
        if !k
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
        {
            return Err(invalid("not an IMAP atom"));
        }
        if !has_keyword(&out, k) {
            out.push(k.clone());
        }
        if out.len() > MAX_MAILBOX_KEYWORDS {
            return Err(invalid("too many keywords"));
        }
    }
    Ok(out)
}

fn has_keyword(list: &[String], k: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(k))
}

fn same_keywords(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|k| has_keyword(b, k))
}

/// Adds `keywords` to the mailbox's list of keywords in use.
fn note_keywords(mb: &mut MailboxInfo, keywords: &[String]) -> Result<(), StoreError> {
    for k in keywords {
        if !has_keyword(&mb.keywords, k) {
            if mb.keywords.len() >= MAX_MAILBOX_KEYWORDS {
                return Err(StoreError::TooManyKeywords {
                    mailbox: mb.name.clone(),
                    limit: MAX_MAILBOX_KEYWORDS,
                });
            }
            mb.keywords.push(k.clone());
        }
    }
    Ok(())
}

/// The MODSEQ for the operation under way (RFC 7162: one per change).
fn next_modseq(mb: &mut MailboxInfo) -> Result<u64, StoreError> {
    mb.highest_modseq = mb
        .highest_modseq
        .checked_add(1)
        .ok_or_else(|| corruption(super::DB_MAILBOXES, &mb.name, "MODSEQ exhausted"))?;
    Ok(mb.highest_modseq)
}

/// Takes the next UID; UIDNEXT must stay above it, so `u32::MAX` is never
/// given.
fn next_uid(mb: &mut MailboxInfo) -> Result<u32, StoreError> {
    let uid = mb.uidnext;
    mb.uidnext = uid
        .checked_add(1)
        .ok_or_else(|| StoreError::UidsExhausted {
            mailbox: mb.name.clone(),
        })?;
    Ok(uid)
}

fn count_in(mb: &mut MailboxInfo, flags: Flags, size: u32) {
    mb.messages = mb.messages.saturating_add(1);
    if !flags.contains(Flags::SEEN) {
        mb.unseen = mb.unseen.saturating_add(1);
    }
    if flags.contains(Flags::DELETED) {
        mb.deleted = mb.deleted.saturating_add(1);
    }
    mb.size = mb.size.saturating_add(u64::from(size));
}

fn count_out(mb: &mut MailboxInfo, flags: Flags, size: u32) {
    mb.messages = mb.messages.saturating_sub(1);
    if !flags.contains(Flags::SEEN) {
        mb.unseen = mb.unseen.saturating_sub(1);
    }
    if flags.contains(Flags::DELETED) {
        mb.deleted = mb.deleted.saturating_sub(1);
    }
    mb.size = mb.size.saturating_sub(u64::from(size));
}

/// Sorted, without repeats.
fn sorted_uids(uids: &[u32]) -> Vec<u32> {
    let mut uids = uids.to_vec();
    uids.sort_unstable();
    uids.dedup();
    uids
}

/// What a STORE does to each message.
pub(super) struct FlagChange<'a> {
    pub(super) mode: StoreMode,
    pub(super) flags: Flags,
    pub(super) keywords: &'a [String],
    pub(super) unchanged_since: Option<u64>,
}

/// A STORE walks its messages with one cursor when the set names at least
/// one UID in this many of its span; below that, one read per UID is less
/// work than stepping over the messages between.
const DENSE_FACTOR: u64 = 8;

/// A STORE in progress: what it asks and what it did so far.
struct FlagStore<'c, 'k> {
    change: &'c FlagChange<'c>,
    /// The change's keywords, checked and without repeats.
    keywords: &'k [String],
    /// This operation's MODSEQ, taken at the first message it changes.
    modseq: Option<u64>,
    /// (old MODSEQ, UID) of each changed message: its `modseqs` row moves.
    moved: Vec<(u64, u32)>,
    updated: Vec<FlagUpdate>,
    modified: Vec<u32>,
}

/// A message a STORE looked at, with its new record.
struct Touched {
    info: MessageInfo,
    changed: bool,
    keywords_changed: bool,
}

impl Touched {
    fn into_update(self) -> FlagUpdate {
        FlagUpdate {
            uid: self.info.uid,
            flags: self.info.flags,
            keywords: self.info.keywords,
            modseq: self.info.modseq,
            changed: self.changed,
        }
    }
}

impl FlagStore<'_, '_> {
    /// The change applied to one message: `None` when UNCHANGEDSINCE keeps
    /// it as it is (noted in `modified`); else its new record, which is to
    /// be written if `changed` (an unchanged one is reported, not written:
    /// then `None` comes back only for UNCHANGEDSINCE).
    fn apply(
        &mut self,
        mb: &mut MailboxInfo,
        mut msg: MessageInfo,
    ) -> Result<Option<Touched>, StoreError> {
        if self
            .change
            .unchanged_since
            .is_some_and(|since| msg.modseq > since)
        {
            self.modified.push(msg.uid);
            return Ok(None);
        }
        let flags = self.change.flags;
        let keywords = self.keywords;
        // The keyword list the message ends with, built only when the
        // record's differs from it.
        let (new_flags, new_keywords) = match self.change.mode {
            StoreMode::Replace => {
                let new_flags = flags;
                let differ = !same_keywords(keywords, &msg.keywords);
                // A change takes the command's spelling of the keywords.
                let respell = (differ || new_flags != msg.flags) && msg.keywords != keywords;
                (new_flags, respell.then(|| keywords.to_vec()))
            }
            StoreMode::Add => {
                let missing = keywords.iter().any(|k| !has_keyword(&msg.keywords, k));
                let k = missing.then(|| {
                    let mut k = msg.keywords.clone();
                    for add in keywords {
                        if !has_keyword(&k, add) {
                            k.push(add.clone());
                        }
                    }
                    k
                });
                (msg.flags.union(flags), k)
            }
            StoreMode::Remove => {
                let present = msg.keywords.iter().any(|x| has_keyword(keywords, x));
                let k = present.then(|| {
                    let mut k = msg.keywords.clone();
                    k.retain(|x| !has_keyword(keywords, x));
                    k
                });
                (msg.flags.difference(flags), k)
            }
        };
        let changed = new_flags != msg.flags
            || new_keywords
                .as_ref()
                .is_some_and(|k| !same_keywords(k, &msg.keywords));
        let keywords_changed = changed && new_keywords.is_some();
        if changed {
            let m = match self.modseq {
                Some(m) => m,
                None => {
                    let m = next_modseq(mb)?;
                    self.modseq = Some(m);
                    m
                }
            };
            if let Some(k) = new_keywords {
                note_keywords(mb, &k)?;
                msg.keywords = k;
            }
            count_out(mb, msg.flags, msg.size);
            count_in(mb, new_flags, msg.size);
            self.moved.push((msg.modseq, msg.uid));
            msg.flags = new_flags;
            msg.modseq = m;
        }
        Ok(Some(Touched {
            info: msg,
            changed,
            keywords_changed,
        }))
    }
}

fn message_key_text(mailbox_id: u64, uid: u32) -> String {
    format!("mailbox {mailbox_id} uid {uid}")
}

impl Tables {
    pub(super) fn message(
        &self,
        txn: &RoTxn<'_>,
        mailbox_id: u64,
        uid: u32,
    ) -> Result<Option<MessageInfo>, StoreError> {
        match self.messages.get(txn, &records::uid_key(mailbox_id, uid))? {
            Some(bytes) => records::decode_message(uid, bytes)
                .map(Some)
                .map_err(|e| corruption(DB_MESSAGES, message_key_text(mailbox_id, uid), e.0)),
            None => Ok(None),
        }
    }

    /// Every message of the mailbox, UID ascending.
    pub(super) fn mailbox_messages(
        &self,
        txn: &RoTxn<'_>,
        mailbox_id: u64,
    ) -> Result<Vec<MessageInfo>, StoreError> {
        let mut out = Vec::new();
        for row in self.messages.prefix_iter(txn, &mailbox_id.to_be_bytes())? {
            let (key, bytes) = row?;
            let (_, uid) = records::split_uid_key(key)
                .map_err(|e| corruption(DB_MESSAGES, format!("mailbox {mailbox_id}"), e.0))?;
            let m = records::decode_message(uid, bytes)
                .map_err(|e| corruption(DB_MESSAGES, message_key_text(mailbox_id, uid), e.0))?;
            out.push(m);
        }
        Ok(out)
    }

    /// The fixed-size head of every message of the mailbox, UID ascending,
    /// handed to `each` in one cursor walk without building the keyword
    /// lists (SEARCH on flags, sizes, dates and numbers).
    pub(super) fn message_heads(
        &self,
        txn: &RoTxn<'_>,
        mailbox_id: u64,
        each: &mut dyn FnMut(records::MessageHead),
    ) -> Result<(), StoreError> {
        for row in self.messages.prefix_iter(txn, &mailbox_id.to_be_bytes())? {
            let (key, bytes) = row?;
            let (_, uid) = records::split_uid_key(key)
                .map_err(|e| corruption(DB_MESSAGES, format!("mailbox {mailbox_id}"), e.0))?;
            let head = records::decode_message_head(uid, bytes)
                .map_err(|e| corruption(DB_MESSAGES, message_key_text(mailbox_id, uid), e.0))?;
            each(head);
        }
        Ok(())
    }

    /// Sum of the sizes of the mailbox's `\Deleted` messages.
    pub(super) fn deleted_size(&self, txn: &RoTxn<'_>, mailbox_id: u64) -> Result<u64, StoreError> {
        let mut total = 0u64;
        for row in self.messages.prefix_iter(txn, &mailbox_id.to_be_bytes())? {
            let (key, bytes) = row?;
            let flags = records::message_flags(bytes)
                .map_err(|e| corruption(DB_MESSAGES, format!("{key:?}"), e.0))?;
            if flags.contains(Flags::DELETED) {
                let size = records::message_size(bytes)
                    .map_err(|e| corruption(DB_MESSAGES, format!("{key:?}"), e.0))?;
                total = total.saturating_add(u64::from(size));
            }
        }
        Ok(total)
    }

    /// Messages whose MODSEQ is above `modseq` (RFC 7162 CHANGEDSINCE),
    /// UID ascending, except the UIDs in `skip` (ascending): a session that
    /// made a change itself needs no record of it read back.
    pub(super) fn changed_since(
        &self,
        txn: &RoTxn<'_>,
        mailbox_id: u64,
        modseq: u64,
        skip: &[u32],
    ) -> Result<Vec<MessageInfo>, StoreError> {
        let Some(from) = modseq.checked_add(1) else {
            return Ok(Vec::new());
        };
        let start = records::modseq_key(mailbox_id, from, 0);
        let end = super::mailboxes::prefix_end(&mailbox_id.to_be_bytes());
        let range: (Bound<&[u8]>, Bound<&[u8]>) = (
            Bound::Included(&start[..]),
            match &end {
                Some(end) => Bound::Excluded(end.as_slice()),
                None => Bound::Unbounded,
            },
        );
        let mut out = Vec::new();
        for row in self.modseqs.range(txn, &range)? {
            let (key, _) = row?;
            let (_, row_modseq, uid) = records::split_modseq_key(key)
                .map_err(|e| corruption(DB_MODSEQS, format!("mailbox {mailbox_id}"), e.0))?;
            if skip.binary_search(&uid).is_ok() {
                continue;
            }
            let msg = self.message(txn, mailbox_id, uid)?.ok_or_else(|| {
                corruption(
                    DB_MODSEQS,
                    format!("mailbox {mailbox_id} modseq {row_modseq} uid {uid}"),
                    "names a message that does not exist",
                )
            })?;
            if msg.modseq != row_modseq {
                return Err(corruption(
                    DB_MODSEQS,
                    format!("mailbox {mailbox_id} modseq {row_modseq} uid {uid}"),
                    format!("the message has modseq {}", msg.modseq),
                ));
            }
            out.push(msg);
        }
        out.sort_unstable_by_key(|m| m.uid);
        Ok(out)
    }

    /// UIDs expunged with a MODSEQ above `modseq`, ascending.
    pub(super) fn expunged_since(
        &self,
        txn: &RoTxn<'_>,
        mailbox_id: u64,
        modseq: u64,
    ) -> Result<Vec<u32>, StoreError> {
        let mut out = Vec::new();
        for row in self.expunged.prefix_iter(txn, &mailbox_id.to_be_bytes())? {
            let (key, value) = row?;
            let (_, uid) = records::split_uid_key(key)
                .map_err(|e| corruption(DB_EXPUNGED, format!("mailbox {mailbox_id}"), e.0))?;
            let at = records::decode_u64_value(value)
                .map_err(|e| corruption(DB_EXPUNGED, message_key_text(mailbox_id, uid), e.0))?;
            if at > modseq {
                out.push(uid);
            }
        }
        Ok(out)
    }

    pub(super) fn body<'t>(
        &self,
        txn: &'t RoTxn<'_>,
        body_id: u64,
    ) -> Result<Option<&'t [u8]>, StoreError> {
        Ok(self.bodies.get(txn, &body_id.to_be_bytes())?)
    }

    pub(super) fn body_meta<'t>(
        &self,
        txn: &'t RoTxn<'_>,
        body_id: u64,
    ) -> Result<Option<BodyMeta<'t>>, StoreError> {
        match self.body_meta.get(txn, &body_id.to_be_bytes())? {
            Some(bytes) => records::decode_body_meta(bytes)
                .map(Some)
                .map_err(|e| corruption(DB_BODY_META, body_id, e.0)),
            None => Ok(None),
        }
    }

    /// Writes a new message row and its `modseqs` row.
    fn put_message(
        &self,
        wtxn: &mut RwTxn<'_>,
        mailbox_id: u64,
        msg: &MessageInfo,
    ) -> Result<(), StoreError> {
        self.messages.put(
            wtxn,
            &records::uid_key(mailbox_id, msg.uid),
            &records::encode_message(msg),
        )?;
        self.modseqs.put(
            wtxn,
            &records::modseq_key(mailbox_id, msg.modseq, msg.uid),
            &[],
        )?;
        Ok(())
    }

    /// Removes a message and its `modseqs` row, without touching its body
    /// or the expunge history.
    fn drop_message_rows(
        &self,
        wtxn: &mut RwTxn<'_>,
        mailbox_id: u64,
        msg: &MessageInfo,
    ) -> Result<(), StoreError> {
        self.messages
            .delete(wtxn, &records::uid_key(mailbox_id, msg.uid))?;
        let had_row = self
            .modseqs
            .delete(wtxn, &records::modseq_key(mailbox_id, msg.modseq, msg.uid))?;
        if !had_row {
            return Err(corruption(
                DB_MODSEQS,
                message_key_text(mailbox_id, msg.uid),
                format!("no row for the message's modseq {}", msg.modseq),
            ));
        }
        Ok(())
    }

    /// Reads a body's meta record for a refcount change.
    fn body_refcount(&self, txn: &RoTxn<'_>, body_id: u64) -> Result<(u32, Vec<u8>), StoreError> {
        let bytes = self
            .body_meta
            .get(txn, &body_id.to_be_bytes())?
            .ok_or_else(|| corruption(DB_BODY_META, body_id, "a message names a missing body"))?;
        let meta =
            records::decode_body_meta(bytes).map_err(|e| corruption(DB_BODY_META, body_id, e.0))?;
        Ok((meta.refcount, bytes.to_vec()))
    }

    /// One more message shares the body.
    fn retain_body(&self, wtxn: &mut RwTxn<'_>, body_id: u64) -> Result<(), StoreError> {
        let (count, bytes) = self.body_refcount(wtxn, body_id)?;
        let count = count
            .checked_add(1)
            .ok_or_else(|| corruption(DB_BODY_META, body_id, "reference count overflow"))?;
        self.body_meta.put(
            wtxn,
            &body_id.to_be_bytes(),
            &records::with_refcount(&bytes, count),
        )?;
        Ok(())
    }

    /// One message less shares the body; the last one frees it.
    fn release_body(&self, wtxn: &mut RwTxn<'_>, body_id: u64) -> Result<(), StoreError> {
        let (count, bytes) = self.body_refcount(wtxn, body_id)?;
        let key = body_id.to_be_bytes();
        match count {
            0 => return Err(corruption(DB_BODY_META, body_id, "reference count is 0")),
            1 => {
                self.body_meta.delete(wtxn, &key)?;
                self.bodies.delete(wtxn, &key)?;
            }
            n => {
                self.body_meta
                    .put(wtxn, &key, &records::with_refcount(&bytes, n - 1))?;
            }
        }
        Ok(())
    }

    /// Removes every message of a mailbox with its MODSEQ rows and expunge
    /// history, releasing the bodies and the owner's quota usage (DELETE).
    /// Returns how many there were.
    pub(super) fn clear_mailbox(
        &self,
        wtxn: &mut RwTxn<'_>,
        mb: &MailboxInfo,
    ) -> Result<u32, StoreError> {
        let mailbox_id = mb.id;
        let prefix = mailbox_id.to_be_bytes();
        let mut bodies = Vec::new();
        let mut freed = 0i64;
        for row in self.messages.prefix_iter(wtxn, &prefix)? {
            let (key, bytes) = row?;
            let (_, uid) = records::split_uid_key(key)
                .map_err(|e| corruption(DB_MESSAGES, format!("mailbox {mailbox_id}"), e.0))?;
            let msg = records::decode_message(uid, bytes)
                .map_err(|e| corruption(DB_MESSAGES, message_key_text(mailbox_id, uid), e.0))?;
            bodies.push(msg.body_id);
            freed += i64::from(msg.size);
        }
        let count = i64::try_from(bodies.len()).unwrap_or(i64::MAX);
        self.charge(wtxn, mb.user_id, -freed, -count)?;
        for body_id in &bodies {
            self.release_body(wtxn, *body_id)?;
        }
        delete_prefix(self.messages, wtxn, &prefix)?;
        delete_prefix(self.modseqs, wtxn, &prefix)?;
        delete_prefix(self.expunged, wtxn, &prefix)?;
        Ok(u32::try_from(bodies.len()).unwrap_or(u32::MAX))
    }

    /// APPEND (RFC 3501 §6.3.11) or delivery: stores the body once and
    /// adds the message at UIDNEXT.
    pub(super) fn append(
        &self,
        wtxn: &mut RwTxn<'_>,
        mailbox_id: u64,
        new: &NewMessage,
    ) -> Result<Appended, StoreError> {
        let mut mb = self.selectable_by_id(wtxn, mailbox_id)?;
        let too_large = StoreError::MessageTooLarge {
            size: new.raw.len(),
        };
        let size = u32::try_from(new.raw.len()).map_err(|_| too_large)?;
        for blob in [&new.envelope, &new.body, &new.bodystructure, &new.parts] {
            if u32::try_from(blob.len()).is_err() {
                return Err(StoreError::MessageTooLarge {
                    size: new.raw.len(),
                });
            }
        }
        self.charge(wtxn, mb.user_id, i64::from(size), 1)?;
        let keywords = normalize_keywords(&new.keywords)?;
        note_keywords(&mut mb, &keywords)?;
        let uid = next_uid(&mut mb)?;
        let modseq = next_modseq(&mut mb)?;

        let body_id = take_next_id(wtxn, self.meta, KEY_NEXT_BODY_ID)?;
        let key = body_id.to_be_bytes();
        self.bodies.put(wtxn, &key, &new.raw)?;
        let meta = BodyMetaIn {
            sent_date: new.sent_date,
            envelope: &new.envelope,
            body: &new.body,
            bodystructure: &new.bodystructure,
            parts: &new.parts,
        };
        self.body_meta
            .put(wtxn, &key, &records::encode_body_meta(1, &meta))?;

        let msg = MessageInfo {
            uid,
            body_id,
            internal_date: new.internal_date,
            tz_offset: new.tz_offset,
            size,
            flags: new.flags,
            keywords,
            modseq,
        };
        self.put_message(wtxn, mb.id, &msg)?;
        count_in(&mut mb, msg.flags, size);
        self.put_mailbox(wtxn, &mb)?;
        Ok(Appended {
            uidvalidity: mb.uidvalidity,
            uid,
            modseq,
            body_id,
        })
    }

    /// STORE (RFC 3501 §6.4.6, RFC 7162 §3.1.3 UNCHANGEDSINCE).
    ///
    /// A set that covers much of its UID span (`1:*`, a range) is walked
    /// with one cursor and each changed record is rewritten where it lies
    /// (same size unless keywords change); a sparse set is read by key.
    /// Either way the `modseqs` rows are moved after the walk, old rows in
    /// key order.
    // `put_current` is heed's one way to rewrite the row under a cursor.
    #[allow(unsafe_code)]
    pub(super) fn store_flags(
        &self,
        wtxn: &mut RwTxn<'_>,
        mailbox_id: u64,
        uids: &[u32],
        change: FlagChange<'_>,
    ) -> Result<Stored, StoreError> {
        let mut mb = self.selectable_by_id(wtxn, mailbox_id)?;
        let keywords = normalize_keywords(change.keywords)?;
        let uids = sorted_uids(uids);
        let mut st = FlagStore {
            change: &change,
            keywords: &keywords,
            modseq: None,
            moved: Vec::new(),
            updated: Vec::with_capacity(uids.len()),
            modified: Vec::new(),
        };
        let (Some(&first), Some(&last)) = (uids.first(), uids.last()) else {
            return Ok(Stored {
                updated: Vec::new(),
                modified: Vec::new(),
                highest_modseq: mb.highest_modseq,
            });
        };
        let span = u64::from(last - first) + 1;
        if (uids.len() as u64).saturating_mul(DENSE_FACTOR) >= span {
            let from = records::uid_key(mb.id, first);
            let to = records::uid_key(mb.id, last);
            let range = (Bound::Included(&from[..]), Bound::Included(&to[..]));
            let mut cursor = self.messages.range_mut(wtxn, &range)?;
            let mut want = uids.iter().copied().peekable();
            let mut buf = Vec::new();
            while let Some(row) = cursor.next() {
                let (key, bytes) = row?;
                let (_, uid) = records::split_uid_key(key)
                    .map_err(|e| corruption(DB_MESSAGES, format!("mailbox {}", mb.id), e.0))?;
                while want.next_if(|&u| u < uid).is_some() {}
                if want.next_if_eq(&uid).is_none() {
                    continue;
                }
                let msg = records::decode_message(uid, bytes)
                    .map_err(|e| corruption(DB_MESSAGES, message_key_text(mb.id, uid), e.0))?;
                let same_size = bytes.len();
                let Some(msg) = st.apply(&mut mb, msg)? else {
                    continue;
                };
                if !msg.changed {
                    st.updated.push(msg.into_update());
                    continue;
                }
                buf.clear();
                if msg.keywords_changed {
                    buf.extend_from_slice(&records::encode_message(&msg.info));
                } else {
                    // Only the flags byte and the MODSEQ differ.
                    buf.extend_from_slice(bytes);
                    records::patch_message(&mut buf, msg.info.flags, msg.info.modseq);
                }
                debug_assert!(msg.keywords_changed || buf.len() == same_size);
                // SAFETY: `buf` is owned, not borrowed from the database, and
                // the key is the one the cursor stands on.
                let key = records::uid_key(mb.id, uid);
                unsafe { cursor.put_current(&key, &buf)? };
                st.updated.push(msg.into_update());
            }
        } else {
            for uid in uids {
                let Some(msg) = self.message(wtxn, mb.id, uid)? else {
                    continue;
                };
                let Some(msg) = st.apply(&mut mb, msg)? else {
                    continue;
                };
                if msg.changed {
                    self.messages.put(
                        wtxn,
                        &records::uid_key(mb.id, uid),
                        &records::encode_message(&msg.info),
                    )?;
                }
                st.updated.push(msg.into_update());
            }
        }
        // One operation, one MODSEQ: every new row sorts after every old
        // one, so deleting the old rows first in key order keeps the walk
        // through the index local.
        let FlagStore {
            modseq,
            mut moved,
            updated,
            modified,
            ..
        } = st;
        if let Some(m) = modseq {
            moved.sort_unstable();
            for &(old, uid) in &moved {
                if !self
                    .modseqs
                    .delete(wtxn, &records::modseq_key(mb.id, old, uid))?
                {
                    return Err(corruption(
                        DB_MODSEQS,
                        message_key_text(mb.id, uid),
                        format!("no row for the message's modseq {old}"),
                    ));
                }
            }
            for &(_, uid) in &moved {
                self.modseqs
                    .put(wtxn, &records::modseq_key(mb.id, m, uid), &[])?;
            }
            self.put_mailbox(wtxn, &mb)?;
        }
        Ok(Stored {
            updated,
            modified,
            highest_modseq: mb.highest_modseq,
        })
    }

    /// EXPUNGE / UID EXPUNGE (RFC 3501 §6.4.3, RFC 4315 §2.1): removes the
    /// messages with `\Deleted`, among `uids` if given.
    pub(super) fn expunge(
        &self,
        wtxn: &mut RwTxn<'_>,
        mailbox_id: u64,
        uids: Option<&[u32]>,
    ) -> Result<Expunged, StoreError> {
        let mb = self.selectable_by_id(wtxn, mailbox_id)?;
        let mut doomed = Vec::new();
        match uids {
            Some(uids) => {
                for uid in sorted_uids(uids) {
                    if let Some(msg) = self.message(wtxn, mb.id, uid)?
                        && msg.flags.contains(Flags::DELETED)
                    {
                        doomed.push(msg);
                    }
                }
            }
            None if mb.deleted == 0 => {}
            None => {
                for row in self.messages.prefix_iter(wtxn, &mb.id.to_be_bytes())? {
                    let (key, bytes) = row?;
                    let (_, uid) = records::split_uid_key(key)
                        .map_err(|e| corruption(DB_MESSAGES, format!("mailbox {}", mb.id), e.0))?;
                    let flags = records::message_flags(bytes)
                        .map_err(|e| corruption(DB_MESSAGES, message_key_text(mb.id, uid), e.0))?;
                    if flags.contains(Flags::DELETED) {
                        let msg = records::decode_message(uid, bytes).map_err(|e| {
                            corruption(DB_MESSAGES, message_key_text(mb.id, uid), e.0)
                        })?;
                        doomed.push(msg);
                    }
                }
            }
        }
        self.remove_messages(wtxn, mb, &doomed, true)
    }

    /// Removes `doomed` from the mailbox under one new MODSEQ, recorded in
    /// the expunge history (RFC 7162 §3.2: expunges raise the mailbox's
    /// MODSEQ and remember it per UID). Nothing to remove leaves the
    /// mailbox untouched.
    fn remove_messages(
        &self,
        wtxn: &mut RwTxn<'_>,
        mut mb: MailboxInfo,
        doomed: &[MessageInfo],
        charge: bool,
    ) -> Result<Expunged, StoreError> {
        if doomed.is_empty() {
            return Ok(Expunged {
                uids: Vec::new(),
                modseq: mb.highest_modseq,
                size: 0,
            });
        }
        let modseq = next_modseq(&mut mb)?;
        let bytes: i64 = doomed.iter().map(|m| i64::from(m.size)).sum();
        if charge {
            let count = i64::try_from(doomed.len()).unwrap_or(i64::MAX);
            self.charge(wtxn, mb.user_id, -bytes, -count)?;
        }
        let mut expunged = Vec::with_capacity(doomed.len());
        for msg in doomed {
            self.drop_message_rows(wtxn, mb.id, msg)?;
            self.expunged.put(
                wtxn,
                &records::uid_key(mb.id, msg.uid),
                &modseq.to_be_bytes(),
            )?;
            self.release_body(wtxn, msg.body_id)?;
            count_out(&mut mb, msg.flags, msg.size);
            expunged.push(msg.uid);
        }
        self.put_mailbox(wtxn, &mb)?;
        Ok(Expunged {
            uids: expunged,
            modseq,
            size: u64::try_from(bytes).unwrap_or(0),
        })
    }

    /// COPY (RFC 3501 §6.4.7, RFC 4315 COPYUID): the copies share the
    /// bodies and keep flags, keywords and INTERNALDATE.
    pub(super) fn copy(
        &self,
        wtxn: &mut RwTxn<'_>,
        from_mailbox: u64,
        uids: &[u32],
        to_mailbox: u64,
    ) -> Result<Copied, StoreError> {
        self.copy_charging(wtxn, from_mailbox, uids, to_mailbox, true)
    }

    /// COPY's work; `charge` is false for a MOVE, which changes no usage.
    fn copy_charging(
        &self,
        wtxn: &mut RwTxn<'_>,
        from_mailbox: u64,
        uids: &[u32],
        to_mailbox: u64,
        charge: bool,
    ) -> Result<Copied, StoreError> {
        let src = self.selectable_by_id(wtxn, from_mailbox)?;
        let mut dst = self.selectable_by_id(wtxn, to_mailbox)?;
        let mut modseq = None;
        let mut pairs = Vec::new();
        let mut bytes = 0i64;
        for uid in sorted_uids(uids) {
            let Some(msg) = self.message(wtxn, src.id, uid)? else {
                continue;
            };
            let m = match modseq {
                Some(m) => m,
                None => {
                    let m = next_modseq(&mut dst)?;
                    modseq = Some(m);
                    m
                }
            };
            note_keywords(&mut dst, &msg.keywords)?;
            let new_uid = next_uid(&mut dst)?;
            self.retain_body(wtxn, msg.body_id)?;
            let copy = MessageInfo {
                uid: new_uid,
                modseq: m,
                ..msg
            };
            self.put_message(wtxn, dst.id, &copy)?;
            count_in(&mut dst, copy.flags, copy.size);
            bytes += i64::from(copy.size);
            pairs.push((uid, new_uid));
        }
        if modseq.is_some() {
            if charge {
                // All or nothing: a COPY past the quota stores none of it.
                let count = i64::try_from(pairs.len()).unwrap_or(i64::MAX);
                self.charge(wtxn, dst.user_id, bytes, count)?;
            }
            self.put_mailbox(wtxn, &dst)?;
        }
        Ok(Copied {
            uidvalidity: dst.uidvalidity,
            pairs,
            modseq,
            size: u64::try_from(bytes).unwrap_or(0),
        })
    }

    /// MOVE (RFC 6851 §3.3): COPY, then the originals expunged whatever
    /// their flags, in the caller's one transaction, so no other reader
    /// ever sees a message in both mailboxes or in neither. The copies get
    /// a new MODSEQ in the destination, the expunge one in the source.
    pub(super) fn move_messages(
        &self,
        wtxn: &mut RwTxn<'_>,
        from_mailbox: u64,
        uids: &[u32],
        to_mailbox: u64,
    ) -> Result<Moved, StoreError> {
        // Every mailbox of a user shares the one quota root, so a MOVE
        // leaves usage as it was and is never refused for quota (RFC 6851
        // §4.1: a MOVE may succeed where a COPY would overrun the quota).
        let copied = self.copy_charging(wtxn, from_mailbox, uids, to_mailbox, false)?;
        // Read after the copy: moving into the same mailbox changed it.
        let src = self.selectable_by_id(wtxn, from_mailbox)?;
        let mut doomed = Vec::with_capacity(copied.pairs.len());
        for &(uid, _) in &copied.pairs {
            if let Some(msg) = self.message(wtxn, src.id, uid)? {
                doomed.push(msg);
            }
        }
        let expunged = self.remove_messages(wtxn, src, &doomed, false)?;
        Ok(Moved { copied, expunged })
    }

    /// RENAME INBOX (RFC 3501 §6.3.5): moves every message of `inbox` into
    /// the new, empty `target`, with UIDs 1..n in the old order. INBOX
    /// records them as expunged. Returns the target as it ends up, the
    /// UIDs expunged from INBOX and INBOX's new highest MODSEQ.
    pub(super) fn move_inbox(
        &self,
        wtxn: &mut RwTxn<'_>,
        mut inbox: MailboxInfo,
        mut target: MailboxInfo,
    ) -> Result<(MailboxInfo, Vec<u32>, u64), StoreError> {
        let messages = self.mailbox_messages(wtxn, inbox.id)?;
        if messages.is_empty() {
            return Ok((target, Vec::new(), inbox.highest_modseq));
        }
        let inbox_modseq = next_modseq(&mut inbox)?;
        let target_modseq = next_modseq(&mut target)?;
        let mut expunged = Vec::with_capacity(messages.len());
        for msg in messages {
            self.drop_message_rows(wtxn, inbox.id, &msg)?;
            self.expunged.put(
                wtxn,
                &records::uid_key(inbox.id, msg.uid),
                &inbox_modseq.to_be_bytes(),
            )?;
            count_out(&mut inbox, msg.flags, msg.size);
            expunged.push(msg.uid);
            let moved = MessageInfo {
                uid: next_uid(&mut target)?,
                modseq: target_modseq,
                ..msg
            };
            self.put_message(wtxn, target.id, &moved)?;
            count_in(&mut target, moved.flags, moved.size);
        }
        target.keywords = inbox.keywords.clone();
        // The moved messages are not new arrivals.
        target.recent_floor = target.uidnext;
        self.put_mailbox(wtxn, &inbox)?;
        self.put_mailbox(wtxn, &target)?;
        Ok((target, expunged, inbox_modseq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_checked_and_deduplicated() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            normalize_keywords(&list(&["$Junk", "work", "$junk", "Work"])).expect("valid"),
            list(&["$Junk", "work"])
        );
        for bad in ["", "a b", "a(b", "a]", "\\Seen", "é", &"k".repeat(256)] {
            assert!(normalize_keywords(&list(&[bad])).is_err(), "{bad:?}");
        }
        assert!(same_keywords(&list(&["a", "B"]), &list(&["b", "A"])));
        assert!(!same_keywords(&list(&["a"]), &list(&["a", "b"])));
    }
}
