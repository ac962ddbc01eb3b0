//! What the store computes once per message, at APPEND or delivery, so that
//! FETCH is a read and not a parse: the pre-encoded ENVELOPE, BODY and
//! BODYSTRUCTURE (RFC 3501 §7.4.2), the `Date:` for the SENT* search keys,
//! and a part map that lets `BODY[section]` (RFC 3501 §6.4.5) slice the raw
//! bytes.
//!
//! This module owns MIME: nothing else in the crate parses message
//! structure for FETCH, and mail-parser is used here only for
//! `header::parse_date`, behind our own types (`search::matcher` also uses it,
//! to decode message text for the SEARCH scan). It knows nothing about storage, sessions or
//! sockets, and it never fails: malformed MIME (no header, missing or
//! unterminated boundaries, bare-LF line endings, 8-bit bytes, NULs) still
//! yields an answer.
//!
//! - `parts`: the boundary scanner and the on-disk part map.
//! - `section`: `BODY[section]` from the part map.
//! - `envelope`, `bodystructure`: the pre-encoded productions.
//! - `header`: header fields and the structured MIME values.
//! - `quote`: `string`/`nstring` until the shared encoder has them.
//!
//! Choices, made to match Dovecot (the reference server clients are tested
//! against):
//! - ENVELOPE strings are raw header values, unfolded, encoded-words not
//!   decoded. Sender and Reply-To default to From. An address without local
//!   part or domain gets `MISSING_MAILBOX` / `MISSING_DOMAIN`.
//! - BODYSTRUCTURE types, subtypes, parameters and encodings are as sent;
//!   defaults are lower case (`"text" "plain" ("charset" "us-ascii")`,
//!   `"7bit"`); RFC 2231 continuations are merged but values stay encoded
//!   (`filename*` = `utf-8''%E2%82%AC.txt`).
//! - Octet and line counts are of the raw bytes as stored, so they match
//!   what `section` returns; a store that wants CRLF sizes for bare-LF
//!   messages must convert the message before calling `analyze`.
//!
//! Where we still differ from Dovecot on the corpus, and why, is in
//! `tests/mime-corpus/DOVECOT.md`; `tests::dovecot` keeps the rest equal.
//!
//! Limits: entities nested deeper than `MAX_DEPTH`, and entities beyond the
//! first `MAX_PARTS`, are not descended into: they stay one opaque part.

mod bodystructure;
mod envelope;
mod header;
mod parts;
mod section;

pub(crate) use envelope::{Addr, parse_address_list};
pub use parts::{Part, PartKind, PartMap};
pub use section::section;

/// How deep multiparts and encapsulated messages are followed. Real mail
/// rarely nests beyond 5; 32 bounds recursion and the rescanning cost
/// (each level scans its own bytes once).
pub const MAX_DEPTH: usize = 32;

/// How many MIME entities one message may have in its part map. Bounds the
/// work and the stored size for messages built to hurt.
pub const MAX_PARTS: usize = 1000;

/// Errors reading a stored part map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MimeError {
    #[error("part map is truncated")]
    Truncated,
    #[error("part map has unknown layout version {0}")]
    UnknownVersion(u8),
    #[error("part map has unknown part kind {0}")]
    UnknownKind(u8),
    #[error("part map is corrupt: {0}")]
    Corrupt(&'static str),
}

/// Everything FETCH and SEARCH need from a message's structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// The `envelope` production, e.g. `("date" "subject" ((...)) ...)`.
    pub envelope: Vec<u8>,
    /// The `body` production without extension data (FETCH BODY).
    pub body: Vec<u8>,
    /// The `body` production with extension data (FETCH BODYSTRUCTURE).
    pub bodystructure: Vec<u8>,
    /// Byte offsets of every part, for BODY[section].
    pub parts: PartMap,
    /// The `Date:` header, for SENTBEFORE/SENTON/SENTSINCE; `None` when
    /// absent or unreadable, and what SENT* then matches is the search's
    /// decision, not this module's.
    pub sent_date: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// Analyses one raw message. Never panics and never fails; linear in the
/// size of the message (times the nesting depth, at most `MAX_DEPTH`).
pub fn analyze(raw: &[u8]) -> Analysis {
    let parts = parts::scan(raw);
    let root = parts.root();
    let header = raw.get(root.header_range()).unwrap_or_default();

    let mut envelope = Vec::with_capacity(256);
    envelope::write(&mut envelope, header);
    let mut body = Vec::with_capacity(128);
    bodystructure::write(&mut body, raw, root, parts::DefaultType::TextPlain, false);
    let mut bodystructure = Vec::with_capacity(160);
    bodystructure::write(
        &mut bodystructure,
        raw,
        root,
        parts::DefaultType::TextPlain,
        true,
    );
    let sent_date = header::find(header, b"date").and_then(header::parse_date);

    Analysis {
        envelope,
        body,
        bodystructure,
        parts,
        sent_date,
    }
}

#[cfg(test)]
mod tests;
