//! What a SEARCH asks: the key tree a protocol's parser produces and the
//! matcher and planner evaluate.

use chrono::NaiveDate;

use crate::types::SequenceSet;

/// `search-key` (RFC 3501 §6.4.4, §9). String arguments are raw bytes in the
/// charset named by the command's CHARSET (US-ASCII when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(Vec<u8>),
    Before(NaiveDate),
    Body(Vec<u8>),
    Cc(Vec<u8>),
    Deleted,
    Draft,
    Flagged,
    From(Vec<u8>),
    /// Field name (ASCII) and the substring; an empty value matches every
    /// message having the field.
    Header(String, Vec<u8>),
    Keyword(String),
    Larger(u32),
    New,
    Not(Box<SearchKey>),
    Old,
    On(NaiveDate),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(NaiveDate),
    SentOn(NaiveDate),
    SentSince(NaiveDate),
    Since(NaiveDate),
    Smaller(u32),
    Subject(Vec<u8>),
    Text(Vec<u8>),
    To(Vec<u8>),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    SequenceSet(SequenceSet),
    /// RFC 7162 §3.1.5 `MODSEQ [entry-name entry-type-req] n`: MODSEQ at
    /// least n. Flags share one MODSEQ here, so the entry is ignored, as
    /// the RFC requires of such a server.
    ModSeq(u64),
    /// A parenthesised list, or the implicit AND of several top-level keys;
    /// never empty.
    And(Vec<SearchKey>),
}
