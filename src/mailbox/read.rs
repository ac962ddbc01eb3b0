//! What a protocol session reads of the mail, as a trait: the session
//! depends on `MailRead`, not on LMDB, so its transcripts can run on any
//! mailbox that answers these questions. `MailAccess` answers them from the
//! store, each snapshot one LMDB read transaction.

use std::num::NonZeroU32;
use std::ops::Range;

use super::{MailAccess, MailReader, MailResult, MailboxSummary, MessageSummary, QuotaSummary};
use crate::store;
use crate::types::MessageFacts;

/// One consistent view of a user's mail: nothing written after it was
/// taken shows in it.
pub trait MailSnapshot {
    fn mailboxes(&self, user_id: u64) -> MailResult<Vec<MailboxSummary>>;
    fn mailbox(&self, user_id: u64, name: &str) -> MailResult<Option<MailboxSummary>>;
    fn mailbox_by_id(&self, id: u64) -> MailResult<Option<MailboxSummary>>;
    /// The user's one quota root.
    fn quota(&self, user_id: u64) -> MailResult<QuotaSummary>;
    /// Octets an EXPUNGE of the mailbox would free.
    fn deleted_size(&self, mailbox_id: u64) -> MailResult<u64>;
    fn subscriptions(&self, user_id: u64) -> MailResult<Vec<String>>;
    /// Every message, UID ascending.
    fn messages(&self, mailbox_id: u64) -> MailResult<Vec<MessageSummary>>;
    fn message(&self, mailbox_id: u64, uid: u32) -> MailResult<Option<MessageSummary>>;
    /// Messages whose MODSEQ is above `modseq`, UID ascending.
    fn changed_since(&self, mailbox_id: u64, modseq: u64) -> MailResult<Vec<MessageSummary>>;
    /// `changed_since` without the UIDs in `skip` (ascending), which are
    /// not read at all.
    fn changed_since_except(
        &self,
        mailbox_id: u64,
        modseq: u64,
        skip: &[u32],
    ) -> MailResult<Vec<MessageSummary>>;
    /// UIDs expunged with a MODSEQ above `modseq`, ascending.
    fn expunged_since(&self, mailbox_id: u64, modseq: u64) -> MailResult<Vec<u32>>;
    /// Everything FETCH needs of one message, borrowed from the snapshot;
    /// `None` if it is gone.
    fn facts(
        &self,
        mailbox_id: u64,
        uid: u32,
        seq: NonZeroU32,
        recent: bool,
    ) -> MailResult<Option<MessageFacts<'_>>>;
}

/// Where a session's reads come from, and the \Recent floors it claims
/// from (RFC 3501 §2.3.2: one session per message).
pub trait MailRead: Send + Sync {
    fn snapshot(&self) -> MailResult<Box<dyn MailSnapshot + '_>>;
    /// UIDs at or above this are \Recent and not yet taken.
    fn recent_floor(&self, mailbox_id: u64, stored_floor: u32) -> u32;
    /// Takes the \Recent UIDs below `until` no session has taken yet.
    fn claim_recent(&self, mailbox_id: u64, stored_floor: u32, until: u32) -> Range<u32>;
    /// Whether a session's login still stands (the user may have been
    /// deleted or given a new password since).
    fn check_login(&self, username: &str, user_id: u64, stamp: u64) -> crate::auth::LoginCheck;
}

impl dyn MailRead + '_ {
    /// Runs `f` on one snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&dyn MailSnapshot) -> MailResult<T>) -> MailResult<T> {
        let snapshot = self.snapshot()?;
        f(&*snapshot)
    }
}

/// One LMDB read transaction.
struct LmdbSnapshot<'s>(store::Reader<'s>);

impl LmdbSnapshot<'_> {
    fn reader(&self) -> MailReader<'_> {
        MailReader { r: &self.0 }
    }
}

impl MailSnapshot for LmdbSnapshot<'_> {
    fn mailboxes(&self, user_id: u64) -> MailResult<Vec<MailboxSummary>> {
        self.reader().mailboxes(user_id)
    }
    fn mailbox(&self, user_id: u64, name: &str) -> MailResult<Option<MailboxSummary>> {
        self.reader().mailbox(user_id, name)
    }
    fn mailbox_by_id(&self, id: u64) -> MailResult<Option<MailboxSummary>> {
        self.reader().mailbox_by_id(id)
    }
    fn quota(&self, user_id: u64) -> MailResult<QuotaSummary> {
        self.reader().quota(user_id)
    }
    fn deleted_size(&self, mailbox_id: u64) -> MailResult<u64> {
        self.reader().deleted_size(mailbox_id)
    }
    fn subscriptions(&self, user_id: u64) -> MailResult<Vec<String>> {
        self.reader().subscriptions(user_id)
    }
    fn messages(&self, mailbox_id: u64) -> MailResult<Vec<MessageSummary>> {
        self.reader().messages(mailbox_id)
    }
    fn message(&self, mailbox_id: u64, uid: u32) -> MailResult<Option<MessageSummary>> {
        self.reader().message(mailbox_id, uid)
    }
    fn changed_since(&self, mailbox_id: u64, modseq: u64) -> MailResult<Vec<MessageSummary>> {
        self.reader().changed_since(mailbox_id, modseq)
    }
    fn changed_since_except(
        &self,
        mailbox_id: u64,
        modseq: u64,
        skip: &[u32],
    ) -> MailResult<Vec<MessageSummary>> {
        self.reader().changed_since_except(mailbox_id, modseq, skip)
    }
    fn expunged_since(&self, mailbox_id: u64, modseq: u64) -> MailResult<Vec<u32>> {
        self.reader().expunged_since(mailbox_id, modseq)
    }
    fn facts(
        &self,
        mailbox_id: u64,
        uid: u32,
        seq: NonZeroU32,
        recent: bool,
    ) -> MailResult<Option<MessageFacts<'_>>> {
        self.reader().facts(mailbox_id, uid, seq, recent)
    }
}

impl MailRead for MailAccess {
    fn snapshot(&self) -> MailResult<Box<dyn MailSnapshot + '_>> {
        Ok(Box::new(LmdbSnapshot(self.store.read()?)))
    }
    fn recent_floor(&self, mailbox_id: u64, stored_floor: u32) -> u32 {
        MailAccess::recent_floor(self, mailbox_id, stored_floor)
    }
    fn claim_recent(&self, mailbox_id: u64, stored_floor: u32, until: u32) -> Range<u32> {
        MailAccess::claim_recent(self, mailbox_id, stored_floor, until)
    }
    fn check_login(&self, username: &str, user_id: u64, stamp: u64) -> crate::auth::LoginCheck {
        MailAccess::check_login(self, username, user_id, stamp)
    }
}
