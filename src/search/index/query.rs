//! Reading the index for one SEARCH: which documents a mailbox has, which
//! of them may match a text filter, and their stored text.
//!
//! Everything here narrows; nothing decides. A document found is only a
//! candidate, and `search::matcher::Matcher` verifies it on the stored text.

use tantivy::collector::Collector;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader, Term};

use super::schema::{self, Fields, OWN_HEADER_FIELDS};
use crate::search::matcher::{Filter, SearchText, TextField};

/// One message's document as a search finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedDoc {
    pub uid: u32,
    pub addr: DocAddress,
    /// The `Date:` header (Unix seconds, zone offset), if the message has
    /// one. Only `mailbox_docs` fills it in.
    pub sent: Option<(i64, i32)>,
}

/// At most this many n-grams of a needle are looked up: the rarest ones
/// narrow as well as all of them would, in practice, and cost less.
const MAX_GRAMS: usize = 6;

/// Every document of `mailbox_id`, UID ascending (duplicates dropped).
pub fn mailbox_docs(
    searcher: &Searcher,
    f: &Fields,
    mailbox_id: u64,
) -> tantivy::Result<Vec<IndexedDoc>> {
    let q = TermQuery::new(
        schema::mailbox_term(f, mailbox_id),
        IndexRecordOption::Basic,
    );
    let mut docs = searcher.search(&q, &DocCollector { with_sent: true })?;
    docs.sort_by_key(|d| d.uid);
    docs.dedup_by_key(|d| d.uid);
    Ok(docs)
}

/// The UIDs of `mailbox_id` whose documents may satisfy `filter`,
/// ascending; `None` when the filter does not narrow (every message may).
pub fn candidates(
    searcher: &Searcher,
    f: &Fields,
    mailbox_id: u64,
    filter: &Filter,
) -> tantivy::Result<Option<Vec<u32>>> {
    let Some(q) = filter_query(searcher, f, filter)? else {
        return Ok(None);
    };
    let q = BooleanQuery::new(vec![
        (
            Occur::Must,
            Box::new(TermQuery::new(
                schema::mailbox_term(f, mailbox_id),
                IndexRecordOption::Basic,
            )),
        ),
        (Occur::Must, q),
    ]);
    let docs = searcher.search(&q, &DocCollector { with_sent: false })?;
    let mut uids: Vec<u32> = docs.into_iter().map(|d| d.uid).collect();
    uids.sort_unstable();
    uids.dedup();
    Ok(Some(uids))
}

/// The stored text of a document.
pub fn stored_text(
    searcher: &Searcher,
    f: &Fields,
    addr: DocAddress,
) -> tantivy::Result<Option<SearchText>> {
    let doc: tantivy::TantivyDocument = searcher.doc(addr)?;
    Ok(schema::stored_text(f, &doc))
}

/// The query for a filter; `None` where it does not narrow.
fn filter_query(
    searcher: &Searcher,
    f: &Fields,
    filter: &Filter,
) -> tantivy::Result<Option<Box<dyn Query>>> {
    Ok(match filter {
        Filter::Any => None,
        Filter::Contains(field, needle) => {
            let field = match field {
                TextField::Body => f.body,
                TextField::AllHeaders => f.header,
                TextField::Header(name) => OWN_HEADER_FIELDS
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(name))
                    .map_or(f.header, |i| f.own_headers[i]),
                // Every address field has an n-gram field of its own, which
                // holds the addresses' text too (`schema::document`).
                TextField::Address(name) => OWN_HEADER_FIELDS
                    .iter()
                    .position(|n| n == name)
                    .map_or(f.header, |i| f.own_headers[i]),
            };
            let mut terms = Vec::new();
            for g in schema::grams(needle) {
                let t = Term::from_field_text(field, &g);
                let n = searcher.doc_freq(&t)?;
                terms.push((n, t));
            }
            if terms.is_empty() {
                return Ok(None);
            }
            terms.sort_by_key(|(n, _)| *n);
            terms.truncate(MAX_GRAMS);
            let clauses: Vec<(Occur, Box<dyn Query>)> = terms
                .into_iter()
                .map(|(_, t)| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(t, IndexRecordOption::Basic));
                    (Occur::Must, q)
                })
                .collect();
            Some(Box::new(BooleanQuery::new(clauses)))
        }
        Filter::And(parts) => {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for p in parts {
                if let Some(q) = filter_query(searcher, f, p)? {
                    clauses.push((Occur::Must, q));
                }
            }
            if clauses.is_empty() {
                None
            } else {
                Some(Box::new(BooleanQuery::new(clauses)))
            }
        }
        Filter::Or(a, b) => match (filter_query(searcher, f, a)?, filter_query(searcher, f, b)?) {
            (Some(a), Some(b)) => Some(Box::new(BooleanQuery::new(vec![
                (Occur::Should, a),
                (Occur::Should, b),
            ]))),
            _ => None,
        },
    })
}

/// Collects each matching document's UID and address (and `Date:`).
struct DocCollector {
    with_sent: bool,
}

struct SegmentDocs {
    segment: SegmentOrdinal,
    uid: tantivy::columnar::Column<u64>,
    sent: Option<(
        tantivy::columnar::Column<i64>,
        tantivy::columnar::Column<i64>,
    )>,
    out: Vec<IndexedDoc>,
}

impl Collector for DocCollector {
    type Fruit = Vec<IndexedDoc>;
    type Child = SegmentDocs;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentDocs> {
        let ff = reader.fast_fields();
        let sent = if self.with_sent {
            Some((ff.i64("sent")?, ff.i64("sent_offset")?))
        } else {
            None
        };
        Ok(SegmentDocs {
            segment,
            uid: ff.u64("uid")?,
            sent,
            out: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<IndexedDoc>>) -> tantivy::Result<Vec<IndexedDoc>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl tantivy::collector::SegmentCollector for SegmentDocs {
    type Fruit = Vec<IndexedDoc>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(uid) = self.uid.first(doc).and_then(|u| u32::try_from(u).ok()) else {
            return;
        };
        let sent = self.sent.as_ref().and_then(|(secs, off)| {
            let s = secs.first(doc)?;
            let o = i32::try_from(off.first(doc)?).ok()?;
            (s != schema::NO_DATE).then_some((s, o))
        });
        self.out.push(IndexedDoc {
            uid,
            addr: DocAddress::new(self.segment, doc),
            sent,
        });
    }

    fn harvest(self) -> Vec<IndexedDoc> {
        self.out
    }
}
