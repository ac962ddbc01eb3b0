//! The read API: one LMDB read transaction, a consistent snapshot of the
//! store as of its start. Readers never wait for the writer and the writer
//! never waits for them; bodies and pre-computed data are borrowed straight
//! from the memory map for as long as the `Reader` lives.
//!
//! Keep a `Reader` short-lived: while it is open, LMDB cannot reuse the
//! pages its snapshot sees, so the file grows.

use heed::{RoTxn, WithoutTls};

use super::records::{BodyMeta, MailboxInfo, MessageHead, MessageInfo};
use super::{Store, StoreError, Tables, normalize_mailbox_name};

/// A snapshot of the store.
pub struct Reader<'s> {
    tables: Tables,
    txn: RoTxn<'s, WithoutTls>,
}

impl std::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a read transaction.
    pub fn read(&self) -> Result<Reader<'_>, StoreError> {
        Ok(Reader {
            tables: self.inner.tables,
            txn: self.inner.env.read_txn()?,
        })
    }
}

impl<'s> Reader<'s> {
    pub(super) fn tables(&self) -> &Tables {
        &self.tables
    }

    pub(super) fn txn_ro(&self) -> &RoTxn<'s, WithoutTls> {
        &self.txn
    }

    /// Sum of RFC822.SIZE of the messages with `\Deleted`: what an EXPUNGE
    /// would free (RFC 9208 §4.1.4 DELETED-STORAGE). A scan of the
    /// mailbox's records, done only when asked for.
    pub fn deleted_size(&self, mailbox_id: u64) -> Result<u64, StoreError> {
        self.tables.deleted_size(&self.txn, mailbox_id)
    }

    /// The transaction, for checks in tests.
    #[cfg(test)]
    pub(super) fn txn(&self) -> &RoTxn<'s, WithoutTls> {
        &self.txn
    }

    /// Every mailbox of the user (`\Noselect` ones included), by name.
    pub fn mailboxes(&self, user_id: u64) -> Result<Vec<MailboxInfo>, StoreError> {
        self.tables.user_mailboxes(&self.txn, user_id)
    }

    /// The mailbox with this name (`inbox` finds `INBOX`). A name that
    /// cannot be valid is an error, not `None`.
    pub fn mailbox(&self, user_id: u64, name: &str) -> Result<Option<MailboxInfo>, StoreError> {
        let name = normalize_mailbox_name(name)?;
        self.tables.mailbox(&self.txn, user_id, &name)
    }

    pub fn mailbox_by_id(&self, mailbox_id: u64) -> Result<Option<MailboxInfo>, StoreError> {
        self.tables.mailbox_by_id(&self.txn, mailbox_id)
    }

    /// The user's subscribed names, sorted; they need not exist.
    pub fn subscriptions(&self, user_id: u64) -> Result<Vec<String>, StoreError> {
        self.tables.user_subscriptions(&self.txn, user_id)
    }

    /// Every message of the mailbox, UID ascending.
    pub fn messages(&self, mailbox_id: u64) -> Result<Vec<MessageInfo>, StoreError> {
        self.tables.mailbox_messages(&self.txn, mailbox_id)
    }

    pub fn message(&self, mailbox_id: u64, uid: u32) -> Result<Option<MessageInfo>, StoreError> {
        self.tables.message(&self.txn, mailbox_id, uid)
    }

    /// Messages whose MODSEQ is greater than `modseq`, UID ascending
    /// (RFC 7162 CHANGEDSINCE).
    pub fn changed_since(
        &self,
        mailbox_id: u64,
        modseq: u64,
    ) -> Result<Vec<MessageInfo>, StoreError> {
        self.tables
            .changed_since(&self.txn, mailbox_id, modseq, &[])
    }

    /// `changed_since` without the UIDs in `skip` (ascending), whose
    /// records are not read.
    pub fn changed_since_except(
        &self,
        mailbox_id: u64,
        modseq: u64,
        skip: &[u32],
    ) -> Result<Vec<MessageInfo>, StoreError> {
        self.tables
            .changed_since(&self.txn, mailbox_id, modseq, skip)
    }

    /// The fixed-size head of every message of the mailbox (no keywords),
    /// UID ascending, in one cursor walk.
    pub fn message_heads(
        &self,
        mailbox_id: u64,
        each: &mut dyn FnMut(MessageHead),
    ) -> Result<(), StoreError> {
        self.tables.message_heads(&self.txn, mailbox_id, each)
    }

    /// UIDs expunged after `modseq`, ascending (RFC 7162 VANISHED).
    pub fn expunged_since(&self, mailbox_id: u64, modseq: u64) -> Result<Vec<u32>, StoreError> {
        self.tables.expunged_since(&self.txn, mailbox_id, modseq)
    }

    /// The raw message, borrowed from the snapshot.
    pub fn body(&self, body_id: u64) -> Result<Option<&[u8]>, StoreError> {
        self.tables.body(&self.txn, body_id)
    }

    /// ENVELOPE, BODY, BODYSTRUCTURE, part map and sent date of a body.
    pub fn body_meta(&self, body_id: u64) -> Result<Option<BodyMeta<'_>>, StoreError> {
        self.tables.body_meta(&self.txn, body_id)
    }
}
