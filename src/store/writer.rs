//! The single mail writer: one thread that owns every write transaction
//! against the mail tables, with group commit.
//!
//! The thread blocks for the first queued operation, then takes everything
//! else already queued (up to `MAX_BATCH_OPS` operations or
//! `MAX_BATCH_BYTES` of message bodies), applies them all in one write
//! transaction, commits (one fsync for the lot), and only then answers each
//! caller. So an answer means the change is on disk, and a burst of writes
//! costs one fsync instead of one each.
//!
//! Each operation runs in a nested transaction: one that fails (a missing
//! mailbox, a name that exists) is rolled back alone and answered with its
//! error, and the others in the batch go on. A failure to begin or commit
//! the batch answers every operation in it with `StoreError::Commit`;
//! nothing of it was written.
//!
//! The writer knows nothing of IMAP sessions or sequence numbers: callers
//! (the mailbox actors, delivery, the CLI) turn its answers into responses.

use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use heed::RwTxn;
use tokio::sync::oneshot;

use super::messages::FlagChange;
use super::quota::QuotaResource;
use super::records::{Flags, SpecialUse};
use super::{Store, StoreError, Tables};

/// At most this many operations share a transaction, so one batch's
/// answers are not held back for long behind a flood.
const MAX_BATCH_OPS: usize = 512;

/// A batch stops taking appends once it holds this many bytes of message
/// data, which bounds the memory a batch pins and the size of one commit.
const MAX_BATCH_BYTES: usize = 64 << 20;

/// A message to store, with what `mime` computed for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMessage {
    /// The message exactly as received; its length is RFC822.SIZE.
    pub raw: Vec<u8>,
    /// Pre-encoded ENVELOPE, BODY and BODYSTRUCTURE, and the part map.
    pub envelope: Vec<u8>,
    pub body: Vec<u8>,
    pub bodystructure: Vec<u8>,
    pub parts: Vec<u8>,
    /// The `Date:` header (Unix seconds, zone offset), for SENT* searches.
    pub sent_date: Option<(i64, i32)>,
    /// INTERNALDATE: Unix seconds and zone offset in seconds east of UTC.
    pub internal_date: i64,
    pub tz_offset: i32,
    pub flags: Flags,
    pub keywords: Vec<String>,
}

impl NewMessage {
    fn payload_len(&self) -> usize {
        self.raw.len()
            + self.envelope.len()
            + self.body.len()
            + self.bodystructure.len()
            + self.parts.len()
    }
}

/// How STORE combines the given flags with a message's (RFC 3501 §6.4.6:
/// `FLAGS`, `+FLAGS`, `-FLAGS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

/// One write. Mailboxes are named by (user id, name) for the hierarchy
/// operations and by mailbox id for message operations, which the mailbox
/// actor already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// CREATE, with the missing levels above the name (RFC 3501 §6.3.3).
    /// Re-creating a `\Noselect` name makes it a new, selectable mailbox.
    CreateMailbox {
        user_id: u64,
        name: String,
        special_use: SpecialUse,
    },
    /// DELETE (RFC 3501 §6.3.4): a mailbox with inferiors loses its
    /// messages and stays as `\Noselect`; otherwise it goes. Subscriptions
    /// are untouched.
    DeleteMailbox {
        user_id: u64,
        name: String,
    },
    /// RENAME (RFC 3501 §6.3.5) of the name and everything below it;
    /// INBOX's messages move to a new mailbox instead.
    RenameMailbox {
        user_id: u64,
        from: String,
        to: String,
    },
    Subscribe {
        user_id: u64,
        name: String,
    },
    Unsubscribe {
        user_id: u64,
        name: String,
    },
    Append {
        mailbox_id: u64,
        message: NewMessage,
    },
    StoreFlags {
        mailbox_id: u64,
        uids: Vec<u32>,
        mode: StoreMode,
        flags: Flags,
        keywords: Vec<String>,
        /// RFC 7162 UNCHANGEDSINCE: messages with a higher MODSEQ are left
        /// alone and reported in `Stored::modified`.
        unchanged_since: Option<u64>,
    },
    /// Removes the `\Deleted` messages, all or among `uids`.
    Expunge {
        mailbox_id: u64,
        uids: Option<Vec<u32>>,
    },
    Copy {
        from_mailbox: u64,
        uids: Vec<u32>,
        to_mailbox: u64,
    },
    /// MOVE (RFC 6851): `Copy` and the expunge of the originals, atomic.
    Move {
        from_mailbox: u64,
        uids: Vec<u32>,
        to_mailbox: u64,
    },
    /// Takes the mailbox's `\Recent` messages for one session.
    ClaimRecent {
        mailbox_id: u64,
    },
    /// Removes every mailbox and subscription of the user (`roost user
    /// del`).
    DeleteUserMail {
        user_id: u64,
    },
    /// One delivered message's copies, one per recipient mailbox, in one
    /// transaction: each copy in its own nested transaction, so a copy
    /// refused (quota, a mailbox gone) leaves the others stored.
    Deliver {
        copies: Vec<DeliveryCopy>,
    },
    /// Changes nothing: answered once the writer has begun and committed
    /// a write transaction, so it shows the writer (and LMDB's write lock)
    /// is not stuck. The health check behind the systemd watchdog sends it.
    /// An empty transaction writes nothing and costs no fsync.
    Ping,
}

/// What became of one copy of `Deliver`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyResult {
    Stored(Appended),
    /// The user's quota would be exceeded: nothing of this copy was written.
    OverQuota(QuotaResource),
    /// The mailbox is gone or cannot take messages (a race with DELETE).
    NoMailbox,
    /// Any other refusal, with the store's reason.
    Refused(String),
}

impl CopyResult {
    fn of(r: Result<Appended, StoreError>) -> CopyResult {
        match r {
            Ok(a) => CopyResult::Stored(a),
            Err(StoreError::OverQuota(q)) => CopyResult::OverQuota(q),
            Err(StoreError::NotFound { .. } | StoreError::NoSelect { .. }) => CopyResult::NoMailbox,
            Err(e) => CopyResult::Refused(e.to_string()),
        }
    }
}

/// One recipient's copy of a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryCopy {
    pub mailbox_id: u64,
    pub message: NewMessage,
}

impl WriteOp {
    /// Bytes of message data the operation carries (for batch sizing).
    fn payload_len(&self) -> usize {
        match self {
            WriteOp::Append { message: m, .. } => m.payload_len(),
            WriteOp::Deliver { copies } => copies.iter().map(|c| c.message.payload_len()).sum(),
            _ => 0,
        }
    }
}

/// The answer to `Append`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// For APPENDUID (RFC 4315).
    pub uidvalidity: u32,
    pub uid: u32,
    pub modseq: u64,
    /// The stored body, for the search index.
    pub body_id: u64,
}

/// One message as `StoreFlags` left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagUpdate {
    pub uid: u32,
    pub flags: Flags,
    pub keywords: Vec<String>,
    pub modseq: u64,
    /// Whether this STORE changed it (and so gave it a new MODSEQ).
    pub changed: bool,
}

/// The answer to `StoreFlags`. UIDs that do not exist are in neither list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Every existing message not in `modified`, UID ascending.
    pub updated: Vec<FlagUpdate>,
    /// UIDs that failed UNCHANGEDSINCE (RFC 7162 MODIFIED), ascending.
    pub modified: Vec<u32>,
    pub highest_modseq: u64,
}

/// The answer to `Expunge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expunged {
    /// Ascending.
    pub uids: Vec<u32>,
    /// The MODSEQ of the expunge (the mailbox's highest if nothing went).
    pub modseq: u64,
    /// Octets removed (RFC822.SIZE summed), for the log.
    pub size: u64,
}

/// The answer to `Copy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The destination's, for COPYUID (RFC 4315).
    pub uidvalidity: u32,
    /// (source UID, destination UID), ascending; only UIDs that existed.
    pub pairs: Vec<(u32, u32)>,
    /// The copies' MODSEQ in the destination; `None` if nothing was copied.
    pub modseq: Option<u64>,
    /// Octets copied (RFC822.SIZE summed), for the log.
    pub size: u64,
}

/// The answer to `Move`: what the copy did in the destination and what
/// the expunge did in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub copied: Copied,
    pub expunged: Expunged,
}

/// What an operation did, one variant per kind of `WriteOp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteResult {
    Created {
        mailbox_id: u64,
        uidvalidity: u32,
    },
    Deleted {
        mailbox_id: u64,
        /// It had inferiors and stays as a `\Noselect` name.
        noselect: bool,
        /// How many messages went with it.
        messages: u32,
    },
    /// (mailbox id, new name) of the mailbox and each inferior; ids and
    /// UIDVALIDITY are unchanged.
    Renamed {
        mailboxes: Vec<(u64, String)>,
    },
    /// RENAME of INBOX: its messages are now in a new mailbox.
    InboxRenamed {
        mailbox_id: u64,
        uidvalidity: u32,
        /// UIDs that left INBOX (sessions on INBOX see them expunged).
        expunged_from_inbox: Vec<u32>,
        inbox_modseq: u64,
    },
    Subscribed,
    Unsubscribed {
        was_subscribed: bool,
    },
    Appended(Appended),
    Stored(Stored),
    Expunged(Expunged),
    Copied(Copied),
    Moved(Moved),
    /// The UIDs that are `\Recent` for the claiming session.
    RecentClaimed(Range<u32>),
    UserMailDeleted {
        mailboxes: u32,
        messages: u64,
    },
    /// One result per copy of `Deliver`, in order.
    Delivered(Vec<CopyResult>),
    Pong,
}

/// Where an answer goes.
enum Reply {
    Async(oneshot::Sender<Result<WriteResult, StoreError>>),
    Blocking(mpsc::SyncSender<Result<WriteResult, StoreError>>),
}

impl Reply {
    fn send(self, result: Result<WriteResult, StoreError>) {
        // A caller that went away no longer wants the answer; the write
        // stands either way.
        match self {
            Reply::Async(tx) => {
                let _ = tx.send(result);
            }
            Reply::Blocking(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

struct Job {
    op: WriteOp,
    reply: Reply,
}

/// Counters the writer thread keeps, for tests, benchmarks and metrics.
#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    ops: AtomicU64,
}

/// What every `Writer` clone shares. Dropping the last one closes the
/// queue and waits for the thread to end, so that afterwards nothing holds
/// the store open behind the caller's back (a later `Store::open` of the
/// same directory then opens it afresh rather than racing its close).
pub(super) struct Shared {
    /// `Some` until drop.
    queue: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Stats>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Every caller waiting for an answer holds a `Writer`, so the
        // queue is empty by now and the thread ends after its last batch.
        drop(self.queue.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("store writer thread panicked");
        }
    }
}

/// A handle on the store's writer thread; cheap to clone, usable from any
/// thread or task.
#[derive(Clone)]
pub struct Writer {
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("commits", &self.commits())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The store's writer, started on first use. Every call while one is
    /// running returns a handle on the same thread, so the store has one
    /// writer.
    pub fn start_writer(&self) -> Result<Writer, StoreError> {
        let mut slot = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = slot.upgrade() {
            return Ok(Writer { shared });
        }
        let (queue, jobs) = mpsc::channel();
        let stats = Arc::new(Stats::default());
        let thread_stats = Arc::clone(&stats);
        let store = self.clone();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(&store, &jobs, &thread_stats))
            .map_err(|source| StoreError::Io {
                path: self.inner.path.clone(),
                source,
            })?;
        let shared = Arc::new(Shared {
            queue: Some(queue),
            thread: Some(thread),
            stats,
        });
        *slot = Arc::downgrade(&shared);
        Ok(Writer { shared })
    }
}

impl Writer {
    /// Queues the operation and waits, without blocking the runtime, until
    /// it is committed (or refused). Dropping the future does not cancel
    /// the operation.
    pub async fn submit(&self, op: WriteOp) -> Result<WriteResult, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(op, Reply::Async(tx))?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Queues `op` now and returns the wait for its answer. Operations queued
    /// one after another are applied in that order, whenever their answers
    /// are awaited; a connection uses this to keep a client's pipelined
    /// APPENDs in the order they were sent.
    pub fn submit_queued(
        &self,
        op: WriteOp,
    ) -> impl std::future::Future<Output = Result<WriteResult, StoreError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let queued = self.enqueue(op, Reply::Async(tx));
        async move {
            queued?;
            rx.await.map_err(|_| StoreError::WriterGone)?
        }
    }

    /// `submit` for threads outside an async runtime (the CLI, tests).
    pub fn submit_blocking(&self, op: WriteOp) -> Result<WriteResult, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.enqueue(op, Reply::Blocking(tx))?;
        rx.recv().map_err(|_| StoreError::WriterGone)?
    }

    fn enqueue(&self, op: WriteOp, reply: Reply) -> Result<(), StoreError> {
        let queue = self.shared.queue.as_ref().ok_or(StoreError::WriterGone)?;
        queue
            .send(Job { op, reply })
            .map_err(|_| StoreError::WriterGone)
    }

    /// Answers once the writer thread has run a (empty) write transaction:
    /// it is taking work and LMDB's write lock is not held elsewhere.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.submit(WriteOp::Ping).await.map(|_| ())
    }

    /// Transactions committed so far.
    pub fn commits(&self) -> u64 {
        self.shared.stats.commits.load(Ordering::Relaxed)
    }

    /// Operations answered so far (applied or refused).
    pub fn ops(&self) -> u64 {
        self.shared.stats.ops.load(Ordering::Relaxed)
    }
}

/// The writer thread: one batch per loop until every handle is gone.
fn run(store: &Store, jobs: &mpsc::Receiver<Job>, stats: &Stats) {
    while let Ok(first) = jobs.recv() {
        let mut bytes = first.op.payload_len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_OPS && bytes < MAX_BATCH_BYTES {
            match jobs.try_recv() {
                Ok(job) => {
                    bytes += job.op.payload_len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let (ops, replies): (Vec<WriteOp>, Vec<Reply>) =
            batch.into_iter().map(|j| (j.op, j.reply)).unzip();
        let outcome = catch_unwind(AssertUnwindSafe(|| apply_batch(store, &ops)));
        stats.ops.fetch_add(ops.len() as u64, Ordering::Relaxed);
        match outcome {
            Ok(Ok(results)) => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                for (reply, result) in replies.into_iter().zip(results) {
                    reply.send(result);
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, ops = ops.len(), "store batch not committed");
                let e = Arc::new(e);
                for reply in replies {
                    reply.send(Err(StoreError::Commit(Arc::clone(&e))));
                }
            }
            Err(_) => {
                // A bug, not bad input: the transaction was dropped
                // (aborted) while unwinding, so nothing was written.
                tracing::error!(ops = ops.len(), "store batch panicked; nothing written");
                for reply in replies {
                    reply.send(Err(StoreError::WriterGone));
                }
            }
        }
    }
}

/// Applies every operation in one transaction, each in its own nested
/// transaction, and commits. `Err` means nothing was written.
pub(super) fn apply_batch(
    store: &Store,
    ops: &[WriteOp],
) -> Result<Vec<Result<WriteResult, StoreError>>, heed::Error> {
    let env = &store.inner.env;
    let tables = store.inner.tables;
    let mut wtxn = env.write_txn()?;
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let mut child = env.nested_write_txn(&mut wtxn)?;
        match apply(env, &tables, &mut child, op) {
            Ok(result) => {
                child.commit()?;
                results.push(Ok(result));
            }
            Err(e) => {
                child.abort();
                results.push(Err(e));
            }
        }
    }
    // The commit is where LMDB writes the pages and fsyncs: what a client
    // waiting for its OK waits on.
    let commit_started = std::time::Instant::now();
    wtxn.commit()?;
    crate::metrics::store_batch(ops.len(), commit_started.elapsed());
    Ok(results)
}

/// Each copy of a delivery in a transaction nested in `wtxn`: committed
/// into it, or rolled back alone with its error.
fn deliver(
    env: &heed::Env<heed::WithoutTls>,
    t: &Tables,
    wtxn: &mut RwTxn<'_>,
    copies: &[DeliveryCopy],
) -> Result<WriteResult, heed::Error> {
    let mut results = Vec::with_capacity(copies.len());
    for copy in copies {
        let mut child = env.nested_write_txn(wtxn)?;
        match t.append(&mut child, copy.mailbox_id, &copy.message) {
            Ok(appended) => {
                child.commit()?;
                results.push(CopyResult::Stored(appended));
            }
            Err(e) => {
                child.abort();
                results.push(CopyResult::of(Err(e)));
            }
        }
    }
    Ok(WriteResult::Delivered(results))
}

fn apply(
    env: &heed::Env<heed::WithoutTls>,
    t: &Tables,
    wtxn: &mut RwTxn<'_>,
    op: &WriteOp,
) -> Result<WriteResult, StoreError> {
    Ok(match op {
        WriteOp::CreateMailbox {
            user_id,
            name,
            special_use,
        } => {
            let m = t.create_mailbox(wtxn, *user_id, name, *special_use)?;
            WriteResult::Created {
                mailbox_id: m.id,
                uidvalidity: m.uidvalidity,
            }
        }
        WriteOp::DeleteMailbox { user_id, name } => {
            let (old, noselect) = t.delete_mailbox(wtxn, *user_id, name)?;
            WriteResult::Deleted {
                mailbox_id: old.id,
                noselect,
                messages: old.messages,
            }
        }
        WriteOp::RenameMailbox { user_id, from, to } => {
            if super::normalize_mailbox_name(from)? == "INBOX" {
                let (inbox, target) = t.inbox_rename_target(wtxn, *user_id, to)?;
                let (target, expunged, inbox_modseq) = t.move_inbox(wtxn, inbox, target)?;
                WriteResult::InboxRenamed {
                    mailbox_id: target.id,
                    uidvalidity: target.uidvalidity,
                    expunged_from_inbox: expunged,
                    inbox_modseq,
                }
            } else {
                WriteResult::Renamed {
                    mailboxes: t.rename_mailbox(wtxn, *user_id, from, to)?,
                }
            }
        }
        WriteOp::Subscribe { user_id, name } => {
            t.subscribe(wtxn, *user_id, name)?;
            WriteResult::Subscribed
        }
        WriteOp::Unsubscribe { user_id, name } => WriteResult::Unsubscribed {
            was_subscribed: t.unsubscribe(wtxn, *user_id, name)?,
        },
        WriteOp::Append {
            mailbox_id,
            message,
        } => WriteResult::Appended(t.append(wtxn, *mailbox_id, message)?),
        WriteOp::StoreFlags {
            mailbox_id,
            uids,
            mode,
            flags,
            keywords,
            unchanged_since,
        } => {
            let change = FlagChange {
                mode: *mode,
                flags: *flags,
                keywords,
                unchanged_since: *unchanged_since,
            };
            WriteResult::Stored(t.store_flags(wtxn, *mailbox_id, uids, change)?)
        }
        WriteOp::Expunge { mailbox_id, uids } => {
            WriteResult::Expunged(t.expunge(wtxn, *mailbox_id, uids.as_deref())?)
        }
        WriteOp::Copy {
            from_mailbox,
            uids,
            to_mailbox,
        } => WriteResult::Copied(t.copy(wtxn, *from_mailbox, uids, *to_mailbox)?),
        WriteOp::Move {
            from_mailbox,
            uids,
            to_mailbox,
        } => WriteResult::Moved(t.move_messages(wtxn, *from_mailbox, uids, *to_mailbox)?),
        WriteOp::ClaimRecent { mailbox_id } => {
            WriteResult::RecentClaimed(t.claim_recent(wtxn, *mailbox_id)?)
        }
        WriteOp::Deliver { copies } => deliver(env, t, wtxn, copies)?,
        WriteOp::DeleteUserMail { user_id } => {
            let (mailboxes, messages) = t.delete_user_mail(wtxn, *user_id)?;
            WriteResult::UserMailDeleted {
                mailboxes,
                messages,
            }
        }
        WriteOp::Ping => WriteResult::Pong,
    })
}
