//! `roost index rebuild [--user U]`: empty the search index (all of it, or
//! one user's documents) and index the store's messages again.
//!
//! The index is derived data, so this is always safe. If the server is
//! running, it holds the index's writer lock; then the command leaves a
//! request file in the index directory and the server's indexing thread
//! rebuilds within a second or so, in the background (SEARCH keeps
//! answering exactly meanwhile, scanning what is not indexed yet).

use std::path::Path;

use super::writer::Worker;
use super::{IndexError, REBUILD_REQUEST, index_dir, open_reader, open_writable, schema};
use crate::store::Store;

/// What `rebuild` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebuilt {
    /// Rebuilt here; the index now has this many documents.
    Done { documents: u64 },
    /// The server holds the index: it was asked to rebuild.
    Requested,
}

/// Rebuilds the index under `data_dir` (for every user, or one).
pub fn rebuild(data_dir: &Path, store: Store, user_id: Option<u64>) -> anyhow::Result<Rebuilt> {
    let dir = index_dir(data_dir);
    let (index, writer) = match open_writable(&dir) {
        Ok(w) => w,
        Err(IndexError::Locked(_)) => {
            let request = match user_id {
                Some(u) => format!("user {u}\n"),
                None => "all\n".to_owned(),
            };
            // Written whole, then renamed: the server never reads half.
            let tmp = dir.join(format!("{REBUILD_REQUEST}.tmp"));
            std::fs::write(&tmp, request)?;
            std::fs::rename(&tmp, dir.join(REBUILD_REQUEST))?;
            return Ok(Rebuilt::Requested);
        }
        Err(e) => return Err(e.into()),
    };
    let reader = open_reader(&index, &dir)?;
    let (_, fields) = schema::schema();
    let mut worker = Worker::new(dir.clone(), writer, reader.clone(), fields, store);
    worker.rebuild(user_id)?;
    worker.commit();
    reader.reload()?;
    Ok(Rebuilt::Done {
        documents: reader.searcher().num_docs(),
    })
}
