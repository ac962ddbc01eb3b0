//! SEARCH over a session's view of one mailbox: the search index narrows,
//! the reference matcher (`search::matcher`) decides.
//!
//! Per message of the view, in one store snapshot:
//! - gone from the store (expunged by another session, not yet reported):
//!   skipped, as the scan does;
//! - indexed: skipped unless the index names it a candidate for the key's
//!   text conditions; a candidate is verified by the matcher over its
//!   stored, already decoded text, with flags, sizes and dates from the
//!   store's message record (never the body);
//! - not indexed yet (just delivered, or the index is catching up):
//!   scanned from the store as without an index.
//!
//! Any failure of the index turns into a plain scan, so an index can make
//! SEARCH slower or faster, never different.

use std::num::NonZeroU32;

use super::SearchKey;
use super::index::SearchIndex;
use super::index::query::{self, IndexedDoc};
use super::index::schema::Fields;
use super::matcher::{Filter, HeadFacts, Matcher, SearchContext};
use crate::store::{Flags, MessageHead, MessageInfo, Reader, Store, StoreError};
use crate::types::{FlagFetch, MessageFacts, internal_date, message_flags};

/// The mailbox as one session sees it.
pub struct SearchScope<'v> {
    pub mailbox_id: u64,
    /// The view's UIDs, ascending: sequence number `n` is `uids[n - 1]`.
    pub uids: &'v [u32],
    /// Whether this session holds `\Recent` for a UID.
    pub recent: &'v dyn Fn(u32) -> bool,
}

/// The index's answer for one mailbox: its documents and, when the key has
/// text conditions that narrow, the candidate UIDs.
struct IndexView {
    searcher: tantivy::Searcher,
    fields: Fields,
    docs: std::sync::Arc<Vec<IndexedDoc>>,
    candidates: Option<Vec<u32>>,
    /// Per string leaf of the key (`Matcher::text_leaves`), the UIDs whose
    /// documents may satisfy it; `None` where the index cannot tell.
    leaves: Vec<Option<Vec<u32>>>,
}

/// The (sequence number, UID, MODSEQ) of every message of the view that
/// matches `key`, ascending, in one snapshot of `store`; `index`, when
/// there is one, narrows which messages are read.
pub fn search(
    store: &Store,
    index: Option<&SearchIndex>,
    scope: &SearchScope<'_>,
    key: &SearchKey,
    ctx: &SearchContext,
) -> Result<Vec<(u32, u32, u64)>, StoreError> {
    let matcher = Matcher::new(key, ctx.charset);
    let reader = store.read()?;
    if matcher.head_only() {
        return search_heads(&reader, scope, &matcher, ctx);
    }
    // Keys on flags, sizes, numbers and internal dates are answered
    // from the message records alone; the index has nothing to add.
    let index = index
        .filter(|_| matcher.needs_content() || matcher.needs_sent_date())
        .and_then(|ix| index_view(ix, scope.mailbox_id, &matcher));
    // Without candidates to narrow to, every record is needed: one
    // range read beats a lookup per message.
    let bulk: Option<Vec<MessageInfo>> = match &index {
        Some(IndexView {
            candidates: Some(_),
            ..
        }) => None,
        _ => Some(reader.messages(scope.mailbox_id)?),
    };
    let mut hits = Vec::new();
    let (mut di, mut bi) = (0usize, 0usize);
    for (i, &uid) in scope.uids.iter().enumerate() {
        let Some(seq) = u32::try_from(i + 1).ok().and_then(NonZeroU32::new) else {
            continue;
        };
        let doc = index.as_ref().and_then(|ix| {
            while ix.docs.get(di).is_some_and(|d| d.uid < uid) {
                di += 1;
            }
            ix.docs.get(di).filter(|d| d.uid == uid)
        });
        if let (Some(_), Some(ix)) = (doc, &index)
            && let Some(c) = &ix.candidates
            && c.binary_search(&uid).is_err()
        {
            continue;
        }
        let record = match &bulk {
            Some(all) => {
                while all.get(bi).is_some_and(|m| m.uid < uid) {
                    bi += 1;
                }
                all.get(bi).filter(|m| m.uid == uid).cloned()
            }
            None => reader.message(scope.mailbox_id, uid)?,
        };
        let Some(record) = record else {
            continue;
        };
        let recent = (scope.recent)(uid);
        // The index's verdict on its stored text, else a scan.
        let verdict = match (doc, &index) {
            (Some(d), Some(ix)) => verify_indexed(&matcher, ix, d, &record, seq, recent, ctx),
            _ => None,
        };
        let matched = match verdict {
            Some(m) => m,
            None => scan_one(
                &reader,
                &matcher,
                scope.mailbox_id,
                &record,
                seq,
                recent,
                ctx,
            )?,
        };
        if matched {
            hits.push((seq.get(), uid, record.modseq));
        }
    }
    Ok(hits)
}

/// SEARCH for a key on system flags, sizes, internal dates and numbers
/// (`Matcher::head_only`): one cursor walk over the mailbox's records,
/// reading only their fixed-size heads, merged with the view's UIDs. The
/// answer is the general path's, without its per-message allocations.
fn search_heads(
    reader: &Reader<'_>,
    scope: &SearchScope<'_>,
    matcher: &Matcher,
    ctx: &SearchContext,
) -> Result<Vec<(u32, u32, u64)>, StoreError> {
    let mut hits = Vec::new();
    // Index into the view: sequence number `i + 1`.
    let mut i = 0usize;
    reader.message_heads(scope.mailbox_id, &mut |head: MessageHead| {
        // A view UID below the record's is gone from the store (expunged
        // elsewhere, not yet reported): skipped, as the scan does.
        while scope.uids.get(i).is_some_and(|&u| u < head.uid) {
            i += 1;
        }
        if scope.uids.get(i) != Some(&head.uid) {
            // A record the view does not have yet (delivered since).
            return;
        }
        let Ok(seq) = u32::try_from(i + 1) else {
            return;
        };
        i += 1;
        let facts = HeadFacts {
            seq,
            uid: head.uid,
            answered: head.flags.contains(Flags::ANSWERED),
            flagged: head.flags.contains(Flags::FLAGGED),
            deleted: head.flags.contains(Flags::DELETED),
            seen: head.flags.contains(Flags::SEEN),
            draft: head.flags.contains(Flags::DRAFT),
            recent: (scope.recent)(head.uid),
            size: head.size,
            internal_date: (head.internal_date, head.tz_offset),
            modseq: head.modseq,
        };
        if matcher.matches_head(&facts, ctx.max_seq, ctx.max_uid) {
            hits.push((seq, head.uid, head.modseq));
        }
    })?;
    Ok(hits)
}

/// The index's documents and candidates for the mailbox; `None` (scan
/// everything) if the index cannot answer.
fn index_view(ix: &SearchIndex, mailbox_id: u64, matcher: &Matcher) -> Option<IndexView> {
    let searcher = ix.searcher();
    // A damaged index may make tantivy panic rather than fail: either way
    // this SEARCH scans instead.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let docs = ix.mailbox_docs(&searcher, mailbox_id)?;
        let (mut candidates, mut leaves) = (None, Vec::new());
        if matcher.needs_content() && !docs.is_empty() {
            for leaf in matcher.text_leaves() {
                let filter = leaf
                    .into_iter()
                    .map(|(field, needle)| Filter::Contains(field, needle))
                    .reduce(|a, b| Filter::Or(Box::new(a), Box::new(b)))
                    .unwrap_or(Filter::Any);
                leaves.push(query::candidates(
                    &searcher,
                    ix.fields(),
                    mailbox_id,
                    &filter,
                )?);
            }
            let filter = matcher.filter();
            candidates = match (&filter, leaves.as_slice()) {
                (Filter::Any, _) => None,
                // One string key, not negated: its own candidates.
                (_, [only]) => only.clone(),
                _ => query::candidates(&searcher, ix.fields(), mailbox_id, &filter)?,
            };
        }
        Ok::<_, tantivy::TantivyError>((docs, candidates, leaves))
    }))
    .unwrap_or_else(|_| {
        Err(tantivy::TantivyError::InternalError(
            "the index reader panicked".into(),
        ))
    });
    match result {
        Ok((docs, candidates, leaves)) => Some(IndexView {
            searcher,
            fields: ix.fields().clone(),
            docs,
            candidates,
            leaves,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "search index unreadable; scanning instead");
            None
        }
    }
}

/// The facts the matcher needs of a message, from its record alone: no
/// body, no pre-computed MIME data; `sent` as the caller found it.
fn record_facts(
    record: &MessageInfo,
    seq: NonZeroU32,
    recent: bool,
    sent: Option<(i64, i32)>,
) -> Option<MessageFacts<'static>> {
    let uid = NonZeroU32::new(record.uid)?;
    let mut flags: Vec<FlagFetch> = message_flags(record)
        .into_iter()
        .map(FlagFetch::Flag)
        .collect();
    if recent {
        flags.push(FlagFetch::Recent);
    }
    Some(MessageFacts {
        seq,
        uid,
        flags,
        internal_date: internal_date(record.internal_date, record.tz_offset),
        size: record.size,
        raw: &[],
        envelope: &[],
        body: &[],
        bodystructure: &[],
        parts: &[],
        sent_date: sent.map(|(t, off)| internal_date(t, off)),
        modseq: record.modseq,
    })
}

/// Verifies an indexed message on its stored text; `None` if the stored
/// text cannot be read (the caller scans the message instead).
fn verify_indexed(
    matcher: &Matcher,
    ix: &IndexView,
    doc: &IndexedDoc,
    record: &MessageInfo,
    seq: NonZeroU32,
    recent: bool,
    ctx: &SearchContext,
) -> Option<bool> {
    let facts = record_facts(record, seq, recent, doc.sent)?;
    if !matcher.needs_content() {
        return Some(matcher.matches(&facts, ctx.max_seq, ctx.max_uid));
    }
    // A needle the index proves absent needs no text: `NOT BODY x` holds
    // for every message without x's n-grams.
    let maybe = |i: usize| {
        ix.leaves
            .get(i)
            .and_then(Option::as_ref)
            .is_none_or(|uids| uids.binary_search(&doc.uid).is_ok())
    };
    if let Some(known) = matcher.prejudge(&facts, ctx.max_seq, ctx.max_uid, &maybe) {
        return Some(known);
    }
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        query::stored_text(&ix.searcher, &ix.fields, doc.addr)
    }));
    let text = match read {
        Ok(Ok(Some(t))) => t,
        Ok(Ok(None)) | Err(_) => return None,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "search index: stored text unreadable");
            return None;
        }
    };
    Some(matcher.matches_text(&facts, text, ctx.max_seq, ctx.max_uid))
}

/// The scan of one message, reading from the store only what the key
/// needs: the record alone for flags, sizes and internal dates.
fn scan_one(
    reader: &Reader<'_>,
    matcher: &Matcher,
    mailbox_id: u64,
    record: &MessageInfo,
    seq: NonZeroU32,
    recent: bool,
    ctx: &SearchContext,
) -> Result<bool, StoreError> {
    if !matcher.needs_content() && !matcher.needs_sent_date() {
        return Ok(record_facts(record, seq, recent, None)
            .is_some_and(|f| matcher.matches(&f, ctx.max_seq, ctx.max_uid)));
    }
    let (Some(raw), Some(meta)) = (
        reader.body(record.body_id)?,
        reader.body_meta(record.body_id)?,
    ) else {
        return Err(StoreError::Corruption {
            db: "bodies",
            key: format!("{mailbox_id}/{}", record.uid),
            detail: "the message has no body".into(),
        });
    };
    let Some(mut facts) = record_facts(record, seq, recent, meta.sent_date) else {
        return Ok(false);
    };
    facts.raw = raw;
    Ok(matcher.matches(&facts, ctx.max_seq, ctx.max_uid))
}
