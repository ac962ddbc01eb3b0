//! The mail service every protocol is a client of: what a client reads
//! (through a `MailReader`, inside one LMDB read transaction), the changes
//! it asks for (`MailWrite`, carried out through the store's single writer
//! and answered once durable), and the news of changes (`registry`: one `owner` actor per
//! watched mailbox).
//!
//! Protocols speak only these types and `crate::types`; this module is the
//! one place that knows the store's write API, so the store can change
//! without touching the protocol code.

use std::num::NonZeroU32;

use chrono::{DateTime, FixedOffset};

pub mod logins;
pub mod owner;
mod read;
pub mod registry;

pub use read::{MailRead, MailSnapshot};

use crate::mime;
use crate::search::index::{Job, SearchIndex};
use crate::search::matcher::SearchContext;
use crate::search::planner::SearchScope;
use crate::search::{SearchKey, planner};
use crate::store::{self, Store, StoreError};
use crate::types::{
    Flag, FlagFetch, MessageFacts, StoreKind, UseAttr, internal_date, message_flags,
};

/// The longest mailbox name, in bytes of UTF-8: the store's limit, the one
/// every protocol checks against.
pub use crate::store::MAX_MAILBOX_NAME_LEN;

/// What a session knows of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSummary {
    pub id: u64,
    pub name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highest_modseq: u64,
    pub noselect: bool,
    pub messages: u32,
    pub unseen: u32,
    /// Messages with \Deleted.
    pub deleted: u32,
    /// Sum of the messages' RFC822.SIZE (RFC 8438 STATUS SIZE).
    pub size: u64,
    /// UIDs at or above this are \Recent for the next session to claim them.
    pub recent_floor: u32,
    /// Keywords in use in the mailbox, for FLAGS and PERMANENTFLAGS.
    pub keywords: Vec<String>,
    /// Its special uses (RFC 6154), for LIST.
    pub special_use: Vec<UseAttr>,
}

/// One message's flags and MODSEQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    pub uid: u32,
    pub flags: Vec<Flag>,
    pub modseq: u64,
}

impl MessageSummary {
    pub fn has(&self, flag: &Flag) -> bool {
        self.flags.contains(flag)
    }
}

/// Why a mail operation failed, in the terms the session answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("Mailbox does not exist.")]
    NonExistent,
    #[error("Mailbox already exists.")]
    AlreadyExists,
    #[error("Mailbox is not selectable.")]
    NoSelect,
    #[error("INBOX cannot be deleted.")]
    InboxDelete,
    #[error("Mailbox has inferior hierarchical names.")]
    HasInferiors,
    #[error("{0}")]
    Invalid(String),
    /// RFC 9208 §4.3.1: the change would exceed a quota limit.
    #[error("Quota exceeded ({0}).")]
    OverQuota(String),
    #[error("Internal error; the change was not made.")]
    Internal(String),
}

/// A user's quota root (RFC 9208): usage and limits, `None` if unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSummary {
    /// STORAGE, in units of 1024 octets.
    pub storage_kib: u64,
    pub storage_limit_kib: Option<u64>,
    pub messages: u64,
    pub message_limit: Option<u64>,
}

impl From<StoreError> for MailError {
    fn from(e: StoreError) -> MailError {
        match e {
            StoreError::NotFound { .. } => MailError::NonExistent,
            StoreError::AlreadyExists { .. } => MailError::AlreadyExists,
            StoreError::NoSelect { .. } => MailError::NoSelect,
            StoreError::InboxDelete => MailError::InboxDelete,
            StoreError::HasInferiors { .. } => MailError::HasInferiors,
            StoreError::InvalidMailboxName { reason, .. } => {
                MailError::Invalid(format!("Invalid mailbox name: {reason}."))
            }
            StoreError::InvalidRename { reason, .. } => {
                MailError::Invalid(format!("Cannot rename: {reason}."))
            }
            StoreError::InvalidKeyword { reason, .. } => {
                MailError::Invalid(format!("Invalid keyword: {reason}."))
            }
            StoreError::OverQuota(resource) => MailError::OverQuota(resource.to_string()),
            StoreError::TooManyKeywords { limit, .. } => {
                MailError::Invalid(format!("The mailbox already uses {limit} keywords."))
            }
            other => {
                tracing::error!(error = %other, "store operation failed");
                MailError::Internal(other.to_string())
            }
        }
    }
}

/// A change a session asks for. Names are UTF-8, `INBOX` canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailWrite {
    Create {
        name: String,
        /// Special uses the new mailbox gets (RFC 6154 CREATE USE).
        special_use: Vec<UseAttr>,
    },
    Delete {
        name: String,
    },
    Rename {
        from: String,
        to: String,
    },
    Subscribe {
        name: String,
    },
    Unsubscribe {
        name: String,
    },
    Append {
        mailbox: String,
        flags: Vec<Flag>,
        date: DateTime<FixedOffset>,
        message: Vec<u8>,
    },
    StoreFlags {
        mailbox_id: u64,
        uids: Vec<u32>,
        kind: StoreKind,
        flags: Vec<Flag>,
        /// RFC 7162 UNCHANGEDSINCE.
        unchanged_since: Option<u64>,
    },
    /// Removes the \Deleted messages among `uids`, or all \Deleted ones.
    Expunge {
        mailbox_id: u64,
        uids: Option<Vec<u32>>,
    },
    Copy {
        from_mailbox: u64,
        uids: Vec<u32>,
        to: String,
    },
    /// RFC 6851 MOVE: copy and expunge as one change.
    Move {
        from_mailbox: u64,
        uids: Vec<u32>,
        to: String,
    },
    /// Takes the \Recent messages of a mailbox for this session.
    ClaimRecent {
        mailbox_id: u64,
    },
}

/// What a successful `MailWrite` tells the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailWriteOk {
    Done,
    Appended {
        uidvalidity: u32,
        uid: u32,
    },
    /// The MODSEQ the change was given, the UIDs whose flags changed, and
    /// those left alone because they failed UNCHANGEDSINCE.
    Stored {
        modseq: u64,
        changed: Vec<u32>,
        modified: Vec<u32>,
    },
    /// The UIDs removed (ascending) and their octets.
    Expunged {
        uids: Vec<u32>,
        size: u64,
    },
    /// The destination's UIDVALIDITY, (source, new) UID pairs and the
    /// octets copied.
    Copied {
        uidvalidity: u32,
        pairs: Vec<(u32, u32)>,
        size: u64,
    },
    /// MOVE: as `Copied`; the sources are expunged.
    Moved {
        uidvalidity: u32,
        pairs: Vec<(u32, u32)>,
        size: u64,
    },
    /// UIDs in `from..to` are \Recent in the claiming session.
    Recent {
        from: u32,
        to: u32,
    },
}

pub type MailResult<T> = Result<T, MailError>;

/// Called with the ids of mailboxes whose change is now durable.
pub type ChangeNotifier = std::sync::Arc<dyn Fn(Vec<u64>) + Send + Sync>;

/// A SEARCH that can travel to another thread: the key and the mailbox
/// as one session sees it, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    pub mailbox_id: u64,
    /// The view's UIDs, ascending: sequence number `n` is `uids[n - 1]`.
    pub uids: Vec<u32>,
    /// The UIDs that are \Recent in this session, ascending.
    pub recent: Vec<u32>,
    pub key: SearchKey,
    pub ctx: SearchContext,
}

/// Which UIDs of each mailbox are still \Recent for the next session to
/// take them (RFC 3501 §2.3.2): UIDs at or above the floor. One process
/// serves IMAP, so this in-memory floor is the authority while it runs and a
/// claim is one lock, not a disk write; the store keeps a copy (advanced by
/// `ClaimRecent` in the background) for the next start.
#[derive(Default)]
struct RecentFloors(std::sync::Mutex<std::collections::HashMap<u64, u32>>);

/// The store as the IMAP side uses it. Cheap to clone.
#[derive(Clone)]
pub struct MailAccess {
    store: Store,
    writer: store::Writer,
    notify: Option<ChangeNotifier>,
    recent: std::sync::Arc<RecentFloors>,
    index: Option<SearchIndex>,
    /// Who is logged in now, by user.
    logins: std::sync::Arc<logins::Logins>,
}

impl MailAccess {
    pub fn new(store: Store, writer: store::Writer) -> MailAccess {
        MailAccess {
            store,
            writer,
            notify: None,
            logins: Default::default(),
            recent: Default::default(),
            index: None,
        }
    }

    /// Keeps `index` up to date with every durable change and lets SEARCH
    /// use it.
    pub fn with_search_index(mut self, index: SearchIndex) -> MailAccess {
        self.index = Some(index);
        self
    }

    /// The (sequence number, UID, MODSEQ) of every message of the view
    /// that matches `key`, ascending (`search::planner`).
    pub fn search(
        &self,
        scope: &SearchScope<'_>,
        key: &SearchKey,
        ctx: &SearchContext,
    ) -> MailResult<Vec<(u32, u32, u64)>> {
        Ok(planner::search(
            &self.store,
            self.index.as_ref(),
            scope,
            key,
            ctx,
        )?)
    }

    /// `search` for a request that owns what it reads, on the blocking
    /// pool: a scan of a big mailbox takes seconds, and the thread that
    /// asks serves other connections meanwhile.
    pub async fn search_detached(
        &self,
        request: SearchRequest,
    ) -> MailResult<Vec<(u32, u32, u64)>> {
        let mail = self.clone();
        tokio::task::spawn_blocking(move || {
            let recent = |u: u32| request.recent.binary_search(&u).is_ok();
            let scope = SearchScope {
                mailbox_id: request.mailbox_id,
                uids: &request.uids,
                recent: &recent,
            };
            mail.search(&scope, &request.key, &request.ctx)
        })
        .await
        .map_err(|e| MailError::Internal(format!("search task failed: {e}")))?
    }

    /// Takes, for the calling session, the \Recent UIDs of a mailbox below
    /// `until` that no session has taken yet. `stored_floor` is the store's
    /// copy, used the first time the mailbox is seen.
    pub fn claim_recent(
        &self,
        mailbox_id: u64,
        stored_floor: u32,
        until: u32,
    ) -> std::ops::Range<u32> {
        let mut floors = self.recent.0.lock().unwrap_or_else(|e| e.into_inner());
        let floor = floors.entry(mailbox_id).or_insert(stored_floor);
        let from = (*floor).max(stored_floor);
        let to = until.max(from);
        *floor = to;
        from..to
    }

    /// UIDs at or above this are \Recent and not yet taken.
    pub fn recent_floor(&self, mailbox_id: u64, stored_floor: u32) -> u32 {
        let floors = self.recent.0.lock().unwrap_or_else(|e| e.into_inner());
        floors
            .get(&mailbox_id)
            .copied()
            .unwrap_or(stored_floor)
            .max(stored_floor)
    }

    /// Tells `notify` about every mailbox a write changed, after the
    /// change is durable (IDLE sessions wake on it).
    pub fn with_notifier(mut self, notify: ChangeNotifier) -> MailAccess {
        self.notify = Some(notify);
        self
    }

    /// Runs `f` inside one read transaction: a consistent snapshot that
    /// never waits for the writer.
    pub fn read<T>(&self, f: impl FnOnce(&MailReader<'_>) -> MailResult<T>) -> MailResult<T> {
        let reader = self.store.read()?;
        f(&MailReader { r: &reader })
    }

    /// The id of the user with this name (any case), if there is one.
    pub fn user_id(&self, name: &str) -> MailResult<Option<u64>> {
        match store::normalize_user_name(name) {
            Ok(name) => Ok(self.store.get_user(&name)?.map(|u| u.id)),
            // A name the store could never hold names nobody.
            Err(StoreError::InvalidUserName { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The authenticated connections of this process, by user.
    pub fn logins(&self) -> &logins::Logins {
        &self.logins
    }

    /// Whether the session's login still stands (the user may have been
    /// deleted or given a new password since).
    pub fn check_login(&self, username: &str, user_id: u64, stamp: u64) -> crate::auth::LoginCheck {
        crate::auth::check_login(&self.store, username, user_id, stamp)
    }

    /// Makes sure the user has an INBOX (RFC 3501 §5.1: every user has one),
    /// creating it on first login.
    pub async fn ensure_inbox(&self, user_id: u64) -> MailResult<()> {
        if self.read(|r| r.mailbox(user_id, "INBOX"))?.is_some() {
            return Ok(());
        }
        match self
            .write(
                user_id,
                MailWrite::Create {
                    name: "INBOX".into(),
                    special_use: Vec::new(),
                },
            )
            .await
        {
            Ok(_) | Err(MailError::AlreadyExists) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Carries out a change and returns once it is on disk.
    pub async fn write(&self, user_id: u64, op: MailWrite) -> MailResult<MailWriteOk> {
        let op = self.prepare(user_id, op).await?;
        self.submit(op).await
    }

    /// Queues a prepared change with the writer at once; the returned
    /// future waits for it to be durable. Changes queued one after another
    /// are applied in that order.
    pub fn submit(
        &self,
        op: store::WriteOp,
    ) -> impl std::future::Future<Output = MailResult<MailWriteOk>> + 'static {
        let mut changed: Vec<u64> = match &op {
            store::WriteOp::Append { mailbox_id, .. }
            | store::WriteOp::StoreFlags { mailbox_id, .. }
            | store::WriteOp::Expunge { mailbox_id, .. } => vec![*mailbox_id],
            store::WriteOp::Copy { to_mailbox, .. } => vec![*to_mailbox],
            store::WriteOp::Move {
                from_mailbox,
                to_mailbox,
                ..
            } => vec![*from_mailbox, *to_mailbox],
            _ => Vec::new(),
        };
        let notify = self.notify.clone();
        let index = self.index.clone();
        let index_hint = IndexHint::of(&op);
        let queued = self.writer.submit_queued(op);
        async move {
            let result = queued.await?;
            if let Some(index) = &index {
                index_hint.send(index, &result);
            }
            if let store::WriteResult::Deleted { mailbox_id, .. } = &result {
                changed.push(*mailbox_id);
            }
            if let Some(notify) = notify
                && !changed.is_empty()
            {
                notify(changed);
            }
            Ok(from_store_result(result))
        }
    }

    /// Stores a delivered message's copies (LMTP, `roost deliver`) in one
    /// write transaction and returns, once they are durable, what became of
    /// each; then, as for APPEND, the index hears of the stored copies and
    /// sessions watching their mailboxes are woken.
    pub fn deliver(
        &self,
        copies: Vec<store::DeliveryCopy>,
    ) -> impl std::future::Future<Output = MailResult<Vec<store::CopyResult>>> + 'static {
        let mailboxes: Vec<u64> = copies.iter().map(|c| c.mailbox_id).collect();
        let notify = self.notify.clone();
        let index = self.index.clone();
        let queued = self
            .writer
            .submit_queued(store::WriteOp::Deliver { copies });
        async move {
            let results = match queued.await? {
                store::WriteResult::Delivered(results) => results,
                other => {
                    return Err(MailError::Internal(format!(
                        "the store answered a delivery with {other:?}"
                    )));
                }
            };
            let mut changed = Vec::new();
            for (mailbox_id, result) in mailboxes.iter().zip(&results) {
                if let store::CopyResult::Stored(a) = result {
                    if let Some(index) = &index {
                        index.send(Job::Added {
                            mailbox_id: *mailbox_id,
                            uids: vec![a.uid],
                        });
                    }
                    if !changed.contains(mailbox_id) {
                        changed.push(*mailbox_id);
                    }
                }
            }
            if let Some(notify) = notify
                && !changed.is_empty()
            {
                notify(changed);
            }
            Ok(results)
        }
    }

    /// Turns a change into the store's operation: looks up names and, for
    /// APPEND, analyses the message on the blocking pool. Several may run
    /// at once; only `submit` decides the order.
    pub async fn prepare(&self, user_id: u64, op: MailWrite) -> MailResult<store::WriteOp> {
        use store::WriteOp as W;
        let mailbox_id = |name: &str| -> MailResult<u64> {
            Ok(self
                .read(|r| r.mailbox(user_id, name))?
                .ok_or(MailError::NonExistent)?
                .id)
        };
        let op = match op {
            MailWrite::Create { name, special_use } => W::CreateMailbox {
                user_id,
                name,
                special_use: to_special_use(&special_use)?,
            },
            MailWrite::Delete { name } => W::DeleteMailbox { user_id, name },
            MailWrite::Rename { from, to } => W::RenameMailbox { user_id, from, to },
            MailWrite::Subscribe { name } => W::Subscribe { user_id, name },
            MailWrite::Unsubscribe { name } => W::Unsubscribe { user_id, name },
            MailWrite::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                let mailbox_id = mailbox_id(&mailbox)?;
                // Parsing a message is CPU work proportional to its size:
                // keep it off the actor thread.
                let prepared =
                    tokio::task::spawn_blocking(move || prepare_append(message, &flags, date))
                        .await
                        .map_err(|e| MailError::Internal(e.to_string()))?;
                W::Append {
                    mailbox_id,
                    message: prepared,
                }
            }
            MailWrite::StoreFlags {
                mailbox_id,
                uids,
                kind,
                flags,
                unchanged_since,
            } => {
                let (bits, keywords) = split_flags(&flags);
                let mode = match kind {
                    StoreKind::Replace => store::StoreMode::Replace,
                    StoreKind::Add => store::StoreMode::Add,
                    StoreKind::Remove => store::StoreMode::Remove,
                };
                W::StoreFlags {
                    mailbox_id,
                    uids,
                    mode,
                    flags: bits,
                    keywords,
                    unchanged_since,
                }
            }
            MailWrite::Expunge { mailbox_id, uids } => W::Expunge { mailbox_id, uids },
            MailWrite::Copy {
                from_mailbox,
                uids,
                to,
            } => W::Copy {
                from_mailbox,
                uids,
                to_mailbox: mailbox_id(&to)?,
            },
            MailWrite::Move {
                from_mailbox,
                uids,
                to,
            } => W::Move {
                from_mailbox,
                uids,
                to_mailbox: mailbox_id(&to)?,
            },
            MailWrite::ClaimRecent { mailbox_id } => W::ClaimRecent { mailbox_id },
        };
        Ok(op)
    }
}

/// Read access inside one transaction.
pub struct MailReader<'t> {
    r: &'t store::Reader<'t>,
}

impl<'t> MailReader<'t> {
    pub fn mailboxes(&self, user_id: u64) -> MailResult<Vec<MailboxSummary>> {
        Ok(self
            .r
            .mailboxes(user_id)?
            .into_iter()
            .map(summary)
            .collect())
    }

    pub fn mailbox(&self, user_id: u64, name: &str) -> MailResult<Option<MailboxSummary>> {
        Ok(self.r.mailbox(user_id, name)?.map(summary))
    }

    pub fn mailbox_by_id(&self, id: u64) -> MailResult<Option<MailboxSummary>> {
        Ok(self.r.mailbox_by_id(id)?.map(summary))
    }

    /// The user's one quota root.
    pub fn quota(&self, user_id: u64) -> MailResult<QuotaSummary> {
        let q = self.r.quota(user_id)?;
        Ok(QuotaSummary {
            storage_kib: q.used_kib(),
            storage_limit_kib: q.storage_limit_kib,
            messages: q.used_messages,
            message_limit: q.message_limit,
        })
    }

    /// Octets an EXPUNGE of the mailbox would free (a scan).
    pub fn deleted_size(&self, mailbox_id: u64) -> MailResult<u64> {
        Ok(self.r.deleted_size(mailbox_id)?)
    }

    pub fn subscriptions(&self, user_id: u64) -> MailResult<Vec<String>> {
        Ok(self.r.subscriptions(user_id)?)
    }

    /// Every message, UID ascending.
    pub fn messages(&self, mailbox_id: u64) -> MailResult<Vec<MessageSummary>> {
        Ok(self
            .r
            .messages(mailbox_id)?
            .iter()
            .map(message_summary)
            .collect())
    }

    pub fn message(&self, mailbox_id: u64, uid: u32) -> MailResult<Option<MessageSummary>> {
        Ok(self
            .r
            .message(mailbox_id, uid)?
            .as_ref()
            .map(message_summary))
    }

    /// Messages whose MODSEQ is above `modseq`, UID ascending.
    pub fn changed_since(&self, mailbox_id: u64, modseq: u64) -> MailResult<Vec<MessageSummary>> {
        let mut v: Vec<MessageSummary> = self
            .r
            .changed_since(mailbox_id, modseq)?
            .iter()
            .map(message_summary)
            .collect();
        v.sort_by_key(|m| m.uid);
        Ok(v)
    }

    /// `changed_since` without the UIDs in `skip` (ascending): what a
    /// session changed itself and has no need to hear of again.
    pub fn changed_since_except(
        &self,
        mailbox_id: u64,
        modseq: u64,
        skip: &[u32],
    ) -> MailResult<Vec<MessageSummary>> {
        let mut v: Vec<MessageSummary> = self
            .r
            .changed_since_except(mailbox_id, modseq, skip)?
            .iter()
            .map(message_summary)
            .collect();
        v.sort_by_key(|m| m.uid);
        Ok(v)
    }

    /// UIDs expunged with a MODSEQ above `modseq`, ascending.
    pub fn expunged_since(&self, mailbox_id: u64, modseq: u64) -> MailResult<Vec<u32>> {
        let mut v = self.r.expunged_since(mailbox_id, modseq)?;
        v.sort_unstable();
        Ok(v)
    }

    /// Everything FETCH and SEARCH need of one message; `None` if it is gone.
    pub fn facts(
        &self,
        mailbox_id: u64,
        uid: u32,
        seq: NonZeroU32,
        recent: bool,
    ) -> MailResult<Option<MessageFacts<'t>>> {
        let Some(m) = self.r.message(mailbox_id, uid)? else {
            return Ok(None);
        };
        let (Some(raw), Some(meta)) = (self.r.body(m.body_id)?, self.r.body_meta(m.body_id)?)
        else {
            return Err(MailError::Internal(format!("message {uid} has no body")));
        };
        let Some(uid_nz) = NonZeroU32::new(uid) else {
            return Ok(None);
        };
        let mut flags: Vec<FlagFetch> = message_summary(&m)
            .flags
            .into_iter()
            .map(FlagFetch::Flag)
            .collect();
        if recent {
            flags.push(FlagFetch::Recent);
        }
        Ok(Some(MessageFacts {
            seq,
            uid: uid_nz,
            flags,
            internal_date: internal_date(m.internal_date, m.tz_offset),
            size: m.size,
            raw,
            envelope: meta.envelope,
            body: meta.body,
            bodystructure: meta.bodystructure,
            parts: meta.parts,
            sent_date: meta.sent_date.map(|(t, off)| internal_date(t, off)),
            modseq: m.modseq,
        }))
    }
}

fn summary(m: store::MailboxInfo) -> MailboxSummary {
    MailboxSummary {
        id: m.id,
        name: m.name,
        uidvalidity: m.uidvalidity,
        uidnext: m.uidnext,
        highest_modseq: m.highest_modseq,
        noselect: m.noselect,
        messages: m.messages,
        unseen: m.unseen,
        deleted: m.deleted,
        size: m.size,
        recent_floor: m.recent_floor,
        keywords: m.keywords,
        special_use: SPECIAL_USES
            .iter()
            .filter(|(bit, _)| m.special_use.contains(*bit))
            .map(|(_, attr)| attr.clone())
            .collect(),
    }
}

/// The special uses the store can keep, in the order LIST shows them.
const SPECIAL_USES: [(store::SpecialUse, UseAttr); 7] = [
    (store::SpecialUse::ALL, UseAttr::All),
    (store::SpecialUse::ARCHIVE, UseAttr::Archive),
    (store::SpecialUse::DRAFTS, UseAttr::Drafts),
    (store::SpecialUse::FLAGGED, UseAttr::Flagged),
    (store::SpecialUse::JUNK, UseAttr::Junk),
    (store::SpecialUse::SENT, UseAttr::Sent),
    (store::SpecialUse::TRASH, UseAttr::Trash),
];

/// The store's bits for `attrs`; an extension attribute has none.
fn to_special_use(attrs: &[UseAttr]) -> MailResult<store::SpecialUse> {
    let mut bits = store::SpecialUse::empty();
    for attr in attrs {
        let (bit, _) = SPECIAL_USES
            .iter()
            .find(|(_, a)| a == attr)
            .ok_or_else(|| MailError::Invalid(format!("{} is not supported.", attr.name())))?;
        bits = bits | *bit;
    }
    Ok(bits)
}

pub(crate) fn message_summary(m: &store::MessageInfo) -> MessageSummary {
    MessageSummary {
        uid: m.uid,
        flags: message_flags(m),
        modseq: m.modseq,
    }
}

/// Splits IMAP flags into the store's system bits and keywords. Extension
/// flags (`\Foo`) are not permanent: they are dropped, as PERMANENTFLAGS
/// says only the system flags and keywords are kept.
fn split_flags(flags: &[Flag]) -> (store::Flags, Vec<String>) {
    let mut bits = store::Flags::empty();
    let mut keywords: Vec<String> = Vec::new();
    for f in flags {
        match f {
            Flag::Answered => bits.insert(store::Flags::ANSWERED),
            Flag::Flagged => bits.insert(store::Flags::FLAGGED),
            Flag::Deleted => bits.insert(store::Flags::DELETED),
            Flag::Seen => bits.insert(store::Flags::SEEN),
            Flag::Draft => bits.insert(store::Flags::DRAFT),
            Flag::Keyword(k) => {
                if !keywords.iter().any(|have| have.eq_ignore_ascii_case(k)) {
                    keywords.push(k.clone());
                }
            }
            Flag::Extension(_) => {}
        }
    }
    (bits, keywords)
}

/// A delivered message as the store takes it: analysed (MIME), no flags,
/// \Recent by being new. CPU work: call it off the actor threads.
pub fn delivered_message(raw: Vec<u8>, date: DateTime<FixedOffset>) -> store::NewMessage {
    prepare_append(raw, &[], date)
}

/// An imported message (`roost import`) as the store takes it: analysed,
/// with the flags and internal date its source kept. CPU work.
pub fn imported_message(
    raw: Vec<u8>,
    flags: &[Flag],
    date: DateTime<FixedOffset>,
) -> store::NewMessage {
    prepare_append(raw, flags, date)
}

fn prepare_append(raw: Vec<u8>, flags: &[Flag], date: DateTime<FixedOffset>) -> store::NewMessage {
    let analysis = mime::analyze(&raw);
    let (bits, keywords) = split_flags(flags);
    store::NewMessage {
        envelope: analysis.envelope,
        body: analysis.body,
        bodystructure: analysis.bodystructure,
        parts: analysis.parts.to_bytes(),
        sent_date: analysis
            .sent_date
            .map(|d| (d.timestamp(), d.offset().local_minus_utc())),
        internal_date: date.timestamp(),
        tz_offset: date.offset().local_minus_utc(),
        flags: bits,
        keywords,
        raw,
    }
}

fn from_store_result(r: store::WriteResult) -> MailWriteOk {
    use store::WriteResult as R;
    match r {
        R::Appended(a) => MailWriteOk::Appended {
            uidvalidity: a.uidvalidity,
            uid: a.uid,
        },
        R::Stored(st) => MailWriteOk::Stored {
            modseq: st.highest_modseq,
            changed: st
                .updated
                .iter()
                .filter(|u| u.changed)
                .map(|u| u.uid)
                .collect(),
            modified: st.modified,
        },
        R::Expunged(e) => MailWriteOk::Expunged {
            uids: e.uids,
            size: e.size,
        },
        R::Copied(c) => MailWriteOk::Copied {
            uidvalidity: c.uidvalidity,
            pairs: c.pairs,
            size: c.size,
        },
        R::Moved(m) => MailWriteOk::Moved {
            uidvalidity: m.copied.uidvalidity,
            pairs: m.copied.pairs,
            size: m.copied.size,
        },
        R::RecentClaimed(range) => MailWriteOk::Recent {
            from: range.start,
            to: range.end,
        },
        R::Created { .. }
        | R::Deleted { .. }
        | R::Renamed { .. }
        | R::InboxRenamed { .. }
        | R::Subscribed
        | R::Unsubscribed { .. }
        | R::UserMailDeleted { .. }
        | R::Delivered(_)
        | R::Pong => MailWriteOk::Done,
    }
}

/// What the search index must hear of a write, taken from the operation
/// before it goes to the writer and completed by its result.
enum IndexHint {
    None,
    Mailbox(u64),
    /// MOVE: added to the destination, expunged from the source.
    Move {
        from: u64,
        to: u64,
    },
    User,
}

impl IndexHint {
    fn of(op: &store::WriteOp) -> IndexHint {
        use store::WriteOp as W;
        match op {
            W::Append { mailbox_id, .. } | W::Expunge { mailbox_id, .. } => {
                IndexHint::Mailbox(*mailbox_id)
            }
            W::Copy { to_mailbox, .. } => IndexHint::Mailbox(*to_mailbox),
            W::Move {
                from_mailbox,
                to_mailbox,
                ..
            } => IndexHint::Move {
                from: *from_mailbox,
                to: *to_mailbox,
            },
            W::RenameMailbox { .. } | W::DeleteUserMail { .. } | W::DeleteMailbox { .. } => {
                IndexHint::User
            }
            _ => IndexHint::None,
        }
    }

    /// Queues the index's part of a durable change.
    fn send(&self, index: &SearchIndex, result: &store::WriteResult) {
        use store::WriteResult as R;
        match (self, result) {
            (IndexHint::Mailbox(mailbox_id), R::Appended(a)) => index.send(Job::Added {
                mailbox_id: *mailbox_id,
                uids: vec![a.uid],
            }),
            (IndexHint::Mailbox(mailbox_id), R::Copied(c)) if !c.pairs.is_empty() => {
                index.send(Job::Added {
                    mailbox_id: *mailbox_id,
                    uids: c.pairs.iter().map(|p| p.1).collect(),
                })
            }
            (IndexHint::Mailbox(mailbox_id), R::Expunged(e)) if !e.uids.is_empty() => {
                index.send(Job::Expunged {
                    mailbox_id: *mailbox_id,
                    uids: e.uids.clone(),
                })
            }
            (IndexHint::Move { from, to }, R::Moved(m)) if !m.copied.pairs.is_empty() => {
                index.send(Job::Added {
                    mailbox_id: *to,
                    uids: m.copied.pairs.iter().map(|p| p.1).collect(),
                });
                index.send(Job::Expunged {
                    mailbox_id: *from,
                    uids: m.expunged.uids.clone(),
                });
            }
            (IndexHint::User, R::Deleted { mailbox_id, .. }) => index.send(Job::MailboxEmptied {
                mailbox_id: *mailbox_id,
            }),
            // INBOX's messages moved to a new mailbox; a user's mail went:
            // rare, so the index simply reconciles with the store.
            (IndexHint::User, R::InboxRenamed { .. } | R::UserMailDeleted { .. }) => {
                index.send(Job::Reconcile { user_id: None })
            }
            _ => {}
        }
    }
}
