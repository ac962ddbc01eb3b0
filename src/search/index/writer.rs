//! The indexing thread: the one owner of the tantivy `IndexWriter`.
//!
//! Jobs arrive after the store change they describe is durable. Deletions
//! are applied as they come; delivered messages wait in a backlog and are
//! indexed in the gaps between jobs (`QUIET`), so a burst of APPENDs runs
//! at full speed and is indexed right after it. Changes are committed in
//! batches: after
//! `COMMIT_IDLE` without a job, after `MAX_BATCH` changes, or `MAX_DELAY`
//! after the first uncommitted one, whichever is first. Tantivy's commits
//! are blocking and may take a while; they happen here, never on an IMAP
//! thread. Until a commit, the messages it covers are scanned by SEARCH.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tantivy::TantivyDocument;
use tantivy::collector::Collector;
use tantivy::query::AllQuery;
use tantivy::{DocId, IndexReader, IndexWriter, Score, SegmentOrdinal, SegmentReader};

use super::schema::{self, Fields};
use super::{FORMAT, REBUILD_REQUEST};
use crate::search::matcher::searchable_text;
use crate::store::Store;

const COMMIT_IDLE: Duration = Duration::from_millis(100);
/// Deliveries are indexed in the gaps between them: after this long
/// without a new job, up to `CHUNK` waiting messages are indexed, then the
/// thread listens again. A burst of APPENDs is not slowed by indexing;
/// SEARCH scans what waits.
const QUIET: Duration = Duration::from_millis(50);
const CHUNK: usize = 256;
/// Past this many waiting messages, indexing no longer waits for a gap
/// (it bounds the memory of the backlog).
const MAX_BACKLOG: usize = 50_000;
const MAX_DELAY: Duration = Duration::from_secs(1);
const MAX_BATCH: usize = 2_000;
/// How often an idle thread looks for a rebuild request.
const REQUEST_POLL: Duration = Duration::from_secs(1);

/// Work for the indexing thread.
#[derive(Debug)]
pub enum Job {
    /// Messages were appended or copied into the mailbox.
    Added { mailbox_id: u64, uids: Vec<u32> },
    /// Messages were expunged (or moved away) from the mailbox.
    Expunged { mailbox_id: u64, uids: Vec<u32> },
    /// The mailbox lost all of its messages (deleted, or INBOX renamed).
    MailboxEmptied { mailbox_id: u64 },
    /// Bring the index in line with the store, for every user or one.
    Reconcile { user_id: Option<u64> },
    /// Drop the documents (of every user or one) and index them again.
    Rebuild { user_id: Option<u64> },
    /// Commit now and answer once the commit is searchable.
    Flush(mpsc::Sender<()>),
}

pub(super) struct Worker {
    dir: PathBuf,
    writer: IndexWriter<TantivyDocument>,
    reader: IndexReader,
    fields: Fields,
    store: Store,
    /// Changes since the last commit, and when the first of them came.
    pending: usize,
    since: Option<Instant>,
    /// Delivered messages not indexed yet, oldest first.
    backlog: VecDeque<(u64, u32)>,
    /// Messages counted in the index lag (`metrics::index_lag`) that have
    /// been handled since the last commit: searchable once it succeeds.
    handled: i64,
}

impl Worker {
    pub(super) fn new(
        dir: PathBuf,
        writer: IndexWriter<TantivyDocument>,
        reader: IndexReader,
        fields: Fields,
        store: Store,
    ) -> Worker {
        Worker {
            dir,
            writer,
            reader,
            fields,
            store,
            pending: 0,
            since: None,
            backlog: VecDeque::new(),
            handled: 0,
        }
    }

    pub(super) fn run(mut self, jobs: mpsc::Receiver<Job>) {
        lower_priority();
        loop {
            if self.backlog.len() > MAX_BACKLOG {
                self.index_backlog(CHUNK);
            }
            let wait = if !self.backlog.is_empty() {
                QUIET
            } else if self.pending > 0 {
                COMMIT_IDLE
            } else {
                REQUEST_POLL
            };
            match jobs.recv_timeout(wait) {
                Ok(job) => self.handle(job),
                Err(RecvTimeoutError::Timeout) if !self.backlog.is_empty() => {
                    self.index_backlog(CHUNK);
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.commit();
                    self.check_request();
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.commit();
                    return;
                }
            }
            if self.pending >= MAX_BATCH || self.since.is_some_and(|t| t.elapsed() >= MAX_DELAY) {
                self.commit();
            }
        }
    }

    /// Carries out one job; what it entails runs here, synchronously.
    pub(super) fn handle(&mut self, job: Job) {
        match job {
            Job::Added { mailbox_id, uids } => {
                self.backlog
                    .extend(uids.into_iter().map(|u| (mailbox_id, u)));
            }
            Job::Expunged { mailbox_id, uids } => {
                for uid in uids {
                    self.writer
                        .delete_term(schema::key_term(&self.fields, mailbox_id, uid));
                    self.touch();
                }
            }
            Job::MailboxEmptied { mailbox_id } => {
                self.writer
                    .delete_term(schema::mailbox_term(&self.fields, mailbox_id));
                self.touch();
            }
            Job::Reconcile { user_id } => {
                if let Err(e) = self.reconcile(user_id) {
                    tracing::warn!(error = %e, "search index: reconciling with the store failed");
                }
            }
            Job::Rebuild { user_id } => {
                if let Err(e) = self.rebuild(user_id) {
                    tracing::warn!(error = %e, "search index: rebuild failed");
                }
            }
            Job::Flush(done) => {
                self.index_backlog(usize::MAX);
                self.commit();
                let _ = done.send(());
            }
        }
    }

    /// Indexes up to `n` waiting messages, oldest first.
    fn index_backlog(&mut self, n: usize) {
        for _ in 0..n {
            let Some((mailbox_id, uid)) = self.backlog.pop_front() else {
                return;
            };
            self.handled += 1;
            self.index_message(mailbox_id, uid);
        }
    }

    fn touch(&mut self) {
        self.pending += 1;
        self.since.get_or_insert_with(Instant::now);
        if self.pending >= MAX_BATCH {
            self.commit();
        }
    }

    /// Commits what is pending and makes it searchable.
    pub(super) fn commit(&mut self) {
        if self.pending == 0 {
            // What was handled added nothing (the messages were gone).
            self.settle_lag();
            return;
        }
        let result = self.writer.prepare_commit().and_then(|mut c| {
            c.set_payload(FORMAT);
            c.commit()
        });
        match result.and_then(|_| self.reader.reload()) {
            Ok(()) => self.settle_lag(),
            // The documents stay in the writer's queue for the next try;
            // meanwhile SEARCH scans what they cover.
            Err(e) => tracing::warn!(error = %e, "search index commit failed"),
        }
        self.pending = 0;
        self.since = None;
    }

    fn settle_lag(&mut self) {
        crate::metrics::index_lag(-std::mem::take(&mut self.handled));
    }

    /// Adds (or replaces) the document of one message, if it still exists.
    fn index_message(&mut self, mailbox_id: u64, uid: u32) {
        let doc = match self.document(mailbox_id, uid) {
            Ok(Some(doc)) => doc,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, mailbox_id, uid, "search index: cannot read message");
                return;
            }
        };
        self.writer
            .delete_term(schema::key_term(&self.fields, mailbox_id, uid));
        if let Err(e) = self.writer.add_document(doc) {
            tracing::warn!(error = %e, mailbox_id, uid, "search index: cannot add message");
        }
        self.touch();
    }

    fn document(
        &self,
        mailbox_id: u64,
        uid: u32,
    ) -> Result<Option<TantivyDocument>, crate::store::StoreError> {
        let r = self.store.read()?;
        let Some(m) = r.message(mailbox_id, uid)? else {
            return Ok(None);
        };
        let (Some(raw), Some(meta)) = (r.body(m.body_id)?, r.body_meta(m.body_id)?) else {
            return Ok(None);
        };
        let text = searchable_text(raw);
        Ok(Some(schema::document(
            &self.fields,
            mailbox_id,
            uid,
            meta.sent_date,
            &text,
        )))
    }

    /// Adds the messages the index lacks and deletes the documents whose
    /// messages are gone, for every mailbox (of one user, or all).
    pub(super) fn reconcile(&mut self, user_id: Option<u64>) -> anyhow::Result<()> {
        let started = Instant::now();
        let wanted = self.store_messages(user_id)?;
        let mut have: HashMap<u64, HashSet<u32>> = HashMap::new();
        for key in self.reader.searcher().search(&AllQuery, &KeyCollector)? {
            have.entry(key >> 32)
                .or_default()
                .insert((key & 0xffff_ffff) as u32);
        }
        let (mut added, mut removed) = (0usize, 0usize);
        for (mailbox_id, indexed) in &have {
            match wanted.get(mailbox_id) {
                Some(uids) => {
                    let keep: HashSet<u32> = uids.iter().copied().collect();
                    for &uid in indexed.difference(&keep) {
                        self.writer
                            .delete_term(schema::key_term(&self.fields, *mailbox_id, uid));
                        removed += 1;
                        self.touch();
                    }
                }
                // A mailbox the store no longer has; with a user given,
                // only that user's mailboxes are known here.
                None if user_id.is_none() => {
                    self.writer
                        .delete_term(schema::mailbox_term(&self.fields, *mailbox_id));
                    removed += indexed.len();
                    self.touch();
                }
                None => {}
            }
        }
        let missing: Vec<(u64, u32)> = wanted
            .into_iter()
            .flat_map(|(mailbox_id, uids)| {
                let indexed = have.get(&mailbox_id);
                uids.into_iter()
                    .filter(move |uid| !indexed.is_some_and(|s| s.contains(uid)))
                    .map(move |uid| (mailbox_id, uid))
            })
            .collect();
        // Lagging too until committed (a rebuild is all lag at first).
        crate::metrics::index_lag(missing.len() as i64);
        for (mailbox_id, uid) in missing {
            self.handled += 1;
            self.index_message(mailbox_id, uid);
            added += 1;
        }
        self.commit();
        tracing::info!(
            added,
            removed,
            duration_ms = %crate::logging::Millis(started.elapsed()),
            "search index caught up with the store"
        );
        Ok(())
    }

    /// The UIDs of every mailbox (of one user, or all).
    fn store_messages(&self, user_id: Option<u64>) -> anyhow::Result<HashMap<u64, Vec<u32>>> {
        let users: Vec<u64> = match user_id {
            Some(u) => vec![u],
            None => self.store.list_users()?.into_iter().map(|u| u.id).collect(),
        };
        let mut out = HashMap::new();
        for user in users {
            // One short read per mailbox: a long-lived snapshot would keep
            // LMDB from reusing pages while indexing runs.
            let mailboxes: Vec<u64> = self
                .store
                .read()?
                .mailboxes(user)?
                .into_iter()
                .map(|m| m.id)
                .collect();
            for mailbox_id in mailboxes {
                let uids = self
                    .store
                    .read()?
                    .messages(mailbox_id)?
                    .into_iter()
                    .map(|m| m.uid)
                    .collect();
                out.insert(mailbox_id, uids);
            }
        }
        Ok(out)
    }

    /// Drops the documents (all, or of one user's mailboxes), commits, and
    /// indexes the store's messages again.
    pub(super) fn rebuild(&mut self, user_id: Option<u64>) -> anyhow::Result<()> {
        match user_id {
            None => {
                self.writer.delete_all_documents()?;
            }
            Some(user) => {
                for m in self.store.read()?.mailboxes(user)? {
                    self.writer
                        .delete_term(schema::mailbox_term(&self.fields, m.id));
                }
            }
        }
        self.pending += 1;
        self.commit();
        tracing::info!(?user_id, "search index: rebuilding");
        self.reconcile(user_id)
    }

    /// Carries out a rebuild that `roost index rebuild` left for the
    /// running server.
    fn check_request(&mut self) {
        let path = self.dir.join(REBUILD_REQUEST);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        let _ = std::fs::remove_file(&path);
        match parse_request(&text) {
            Some(user_id) => self.handle(Job::Rebuild { user_id }),
            None => {
                tracing::warn!(request = %text.trim(), "search index: unreadable rebuild request")
            }
        }
    }
}

/// Indexing is background work: on a busy machine, APPEND and every other
/// command go first, and the index catches up when there is time (SEARCH
/// scans what it has not reached). Linux threads have their own nice value.
#[allow(unsafe_code)]
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions; setpriority on our own
        // thread id only changes this thread's scheduling priority.
        let rc = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10)
        };
        if rc != 0 {
            tracing::debug!("search index thread keeps the normal priority");
        }
    }
}

/// `all`, or `user <id>`.
pub(super) fn parse_request(text: &str) -> Option<Option<u64>> {
    let text = text.trim();
    if text == "all" {
        return Some(None);
    }
    text.strip_prefix("user ")?.trim().parse().ok().map(Some)
}

/// Collects the key of every live document.
struct KeyCollector;

struct SegmentKeys {
    key: tantivy::columnar::Column<u64>,
    out: Vec<u64>,
}

impl Collector for KeyCollector {
    type Fruit = Vec<u64>;
    type Child = SegmentKeys;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentKeys> {
        Ok(SegmentKeys {
            key: reader.fast_fields().u64("key")?,
            out: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl tantivy::collector::SegmentCollector for SegmentKeys {
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(k) = self.key.first(doc) {
            self.out.push(k);
        }
    }

    fn harvest(self) -> Vec<u64> {
        self.out
    }
}
