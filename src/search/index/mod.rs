//! The full-text search index: derived data that makes SEARCH fast without
//! ever changing its answer.
//!
//! Design:
//! - One tantivy index in `<data_dir>/index/`; one document per message of
//!   a mailbox, keyed by (mailbox id, UID). Both are never reused, so a
//!   document is correct for as long as its message exists; COPY creates a
//!   new key and the copy is indexed from its body.
//! - Text is indexed as 3-grams of the decoded, case-folded text that the
//!   reference scan (`search::matcher`) matches against, one n-gram field per
//!   header it names (Subject, From, To, Cc, Bcc; an address field's holds
//!   its decoded text and its addresses as FROM/TO/CC/BCC see them), one for
//!   the whole header and one for the body. The same text is stored with
//!   the document.
//! - A search asks the index for candidates (documents with every n-gram
//!   of each needle), then verifies each candidate with the scan's own
//!   matcher over the stored text: exact by construction, and no MIME
//!   decoding at search time (`query`). A needle shorter than 3 characters
//!   does not narrow: every stored text of the mailbox is verified.
//! - Messages without a document (just delivered and not committed yet,
//!   or an index still catching up) are scanned from the store, so none is
//!   ever missed; documents of expunged messages are ignored because the
//!   search walks the store's snapshot, not the index.
//! - One indexing thread owns the `IndexWriter` (`writer`): deliveries,
//!   copies, expunges and mailbox deletions reach it over a channel after
//!   they are durable; it indexes deliveries in the gaps between them (a
//!   burst of APPENDs is not slowed), at a lower CPU priority, and commits
//!   in batches, off the IMAP threads.
//! - At start the thread reconciles the index with the store (adds what is
//!   missing, deletes what the store no longer has). A missing, unreadable
//!   or older-format index is replaced by an empty one first. Tantivy
//!   commits are atomic, so a SIGKILL loses at most the uncommitted batch,
//!   which the next start's reconciliation adds again.
//! - `roost index rebuild` (`rebuild`) empties and refills it; while the
//!   server runs, it leaves the request in the index directory and the
//!   server's indexing thread carries it out.

pub mod query;
pub mod rebuild;
pub mod schema;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument};
use thiserror::Error;

use crate::store::Store;
use schema::Fields;

pub use writer::Job;

/// The index format this code writes, in each commit's payload (3: the text
/// of attached messages at any depth; 4: the address fields as FROM, TO, CC
/// and BCC see them, indexed and stored). Any other
/// value (or none) means the index is rebuilt.
pub const FORMAT: &str = "roost-search-index 4";

/// The file a `roost index rebuild` leaves for the running server.
pub const REBUILD_REQUEST: &str = "rebuild-request";

/// Memory the tantivy writer may buffer before it writes a segment.
const WRITER_MEMORY: usize = 50_000_000;

#[derive(Debug, Error)]
pub enum IndexError {
    #[error("search index in {dir}: {source}")]
    Tantivy {
        dir: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },
    #[error("search index in {0} is in use by another process (is the server running?)")]
    Locked(PathBuf),
    #[error("search index in {0} is damaged")]
    Damaged(PathBuf),
    #[error("search index in {dir}: {source}")]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The index directory under a data directory.
pub fn index_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("index")
}

/// The search side of the index, and the channel to its indexing thread.
/// Cheap to clone.
#[derive(Clone)]
pub struct SearchIndex {
    inner: Arc<Inner>,
}

struct Inner {
    reader: IndexReader,
    fields: Fields,
    jobs: Mutex<mpsc::Sender<Job>>,
    /// `query::mailbox_docs` per mailbox, for the searcher generation it
    /// was read from: between two commits, a mailbox's documents are read
    /// once, not at every SEARCH.
    docs_cache: Mutex<DocsCache>,
}

/// Mailbox id → (searcher generation, its documents).
type DocsCache = HashMap<u64, (u64, Arc<Vec<query::IndexedDoc>>)>;

/// How many mailboxes' document lists are kept.
const DOCS_CACHE: usize = 64;

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens (or makes) the index of the store under `data_dir` and starts
    /// its indexing thread, which first reconciles it with the store.
    pub fn start(data_dir: &Path, store: Store) -> Result<SearchIndex, IndexError> {
        let dir = index_dir(data_dir);
        let (index, writer) = open_writable(&dir)?;
        let reader = open_reader(&index, &dir)?;
        let (_, fields) = schema::schema();
        let (tx, rx) = mpsc::channel();
        let worker =
            writer::Worker::new(dir.clone(), writer, reader.clone(), fields.clone(), store);
        std::thread::Builder::new()
            .name("roost-index".into())
            .spawn(move || worker.run(rx))
            .map_err(|source| IndexError::Io {
                dir: dir.clone(),
                source,
            })?;
        let index = SearchIndex {
            inner: Arc::new(Inner {
                reader,
                fields,
                jobs: Mutex::new(tx),
                docs_cache: Mutex::new(HashMap::new()),
            }),
        };
        index.send(Job::Reconcile { user_id: None });
        Ok(index)
    }

    /// Queues work for the indexing thread. A lost job costs speed, never
    /// a result: what the index lacks is scanned.
    pub fn send(&self, job: Job) {
        // Counted until a commit makes them searchable (`Worker::commit`).
        let added = match &job {
            Job::Added { uids, .. } => uids.len() as i64,
            _ => 0,
        };
        crate::metrics::index_lag(added);
        let jobs = self.inner.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if jobs.send(job).is_err() {
            crate::metrics::index_lag(-added);
            tracing::warn!("search index thread has stopped; SEARCH scans instead");
        }
    }

    /// Waits until everything queued so far is committed and searchable.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        self.send(Job::Flush(tx));
        let _ = rx.recv();
    }

    /// The committed state, for one search.
    pub fn searcher(&self) -> Searcher {
        self.inner.reader.searcher()
    }

    pub fn fields(&self) -> &Fields {
        &self.inner.fields
    }

    /// Every document of the mailbox in `searcher`, UID ascending.
    pub fn mailbox_docs(
        &self,
        searcher: &Searcher,
        mailbox_id: u64,
    ) -> tantivy::Result<Arc<Vec<query::IndexedDoc>>> {
        let generation = searcher.generation().generation_id();
        let cached = {
            let cache = self.lock_cache();
            cache
                .get(&mailbox_id)
                .filter(|(g, _)| *g == generation)
                .map(|(_, docs)| docs.clone())
        };
        if let Some(docs) = cached {
            return Ok(docs);
        }
        let docs = Arc::new(query::mailbox_docs(
            searcher,
            &self.inner.fields,
            mailbox_id,
        )?);
        let mut cache = self.lock_cache();
        if cache.len() >= DOCS_CACHE && !cache.contains_key(&mailbox_id) {
            cache.clear();
        }
        cache.insert(mailbox_id, (generation, docs.clone()));
        Ok(docs)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, DocsCache> {
        self.inner
            .docs_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// Opens the index in `dir` for writing, replacing it with an empty one if
/// it is missing, unreadable, or of another format.
fn open_writable(dir: &Path) -> Result<(Index, IndexWriter<TantivyDocument>), IndexError> {
    let tantivy_err = |source| IndexError::Tantivy {
        dir: dir.to_owned(),
        source,
    };
    let io_err = |source| IndexError::Io {
        dir: dir.to_owned(),
        source,
    };
    // Tantivy may panic, not fail, on a damaged file: that too means
    // "rebuild", never a server that cannot start.
    let existing = std::panic::catch_unwind(|| open_existing(dir))
        .unwrap_or_else(|_| Err(IndexError::Damaged(dir.to_owned())));
    match existing {
        Ok(Some(index)) => {
            let writer = take_writer(&index, dir)?;
            return Ok((index, writer));
        }
        Ok(None) => {}
        Err(IndexError::Locked(d)) => return Err(IndexError::Locked(d)),
        Err(e) => tracing::warn!(error = %e, "search index unusable; rebuilding it"),
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io_err)?;
    }
    std::fs::create_dir_all(dir).map_err(io_err)?;
    let (schema, _) = schema::schema();
    let index = Index::create_in_dir(dir, schema).map_err(tantivy_err)?;
    schema::register_tokenizer(&index).map_err(tantivy_err)?;
    let mut writer = take_writer(&index, dir)?;
    let mut commit = writer.prepare_commit().map_err(tantivy_err)?;
    commit.set_payload(FORMAT);
    commit.commit().map_err(tantivy_err)?;
    Ok((index, writer))
}

/// The index in `dir` if it is there, readable and of this format.
fn open_existing(dir: &Path) -> Result<Option<Index>, IndexError> {
    let tantivy_err = |source| IndexError::Tantivy {
        dir: dir.to_owned(),
        source,
    };
    if !dir.join("meta.json").exists() {
        return Ok(None);
    }
    let mmap = MmapDirectory::open(dir).map_err(|e| IndexError::Tantivy {
        dir: dir.to_owned(),
        source: e.into(),
    })?;
    let index = Index::open(mmap).map_err(tantivy_err)?;
    let meta = index.load_metas().map_err(tantivy_err)?;
    if meta.payload.as_deref() != Some(FORMAT) || index.schema() != schema::schema().0 {
        tracing::info!("search index has another format; rebuilding it");
        return Ok(None);
    }
    schema::register_tokenizer(&index).map_err(tantivy_err)?;
    // Opening every segment reads its files: a damaged one fails here.
    let reader = open_reader(&index, dir)?;
    let searcher = reader.searcher();
    for segment in searcher.segment_readers() {
        let ff = segment.fast_fields();
        ff.u64("uid").map_err(tantivy_err)?;
        ff.u64("key").map_err(tantivy_err)?;
    }
    Ok(Some(index))
}

fn take_writer(index: &Index, dir: &Path) -> Result<IndexWriter<TantivyDocument>, IndexError> {
    index
        .writer_with_num_threads(1, WRITER_MEMORY)
        .map_err(|e| match e {
            tantivy::TantivyError::LockFailure(..) => IndexError::Locked(dir.to_owned()),
            source => IndexError::Tantivy {
                dir: dir.to_owned(),
                source,
            },
        })
}

fn open_reader(index: &Index, dir: &Path) -> Result<IndexReader, IndexError> {
    index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(|source| IndexError::Tantivy {
            dir: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests;
