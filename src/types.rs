//! The mail vocabulary every layer shares: message flags, special uses,
//! sets of sequence numbers or UIDs, message sections, and what is known of
//! one stored message. Pure data; the protocols parse into it and print
//! from it, the mail service and the store adapters convert to and from it.

use std::num::NonZeroU32;

use chrono::{DateTime, FixedOffset};

/// One element of a `sequence-set`: a number or `*` (RFC 3501 §9 `seq-number`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqOrUid {
    Value(NonZeroU32),
    /// `*`: the largest number in use (the last message, or the highest UID).
    Asterisk,
}

impl SeqOrUid {
    /// Resolves `*` against the largest value in use.
    pub fn resolve(self, largest: u32) -> u32 {
        match self {
            SeqOrUid::Value(v) => v.get(),
            SeqOrUid::Asterisk => largest,
        }
    }
}

/// `seq-range = seq-number ":" seq-number`; a single number is a range of one.
/// The order of the two ends is not significant (RFC 3501 §9: `2:4` and
/// `4:2` are the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqRange {
    pub start: SeqOrUid,
    pub end: SeqOrUid,
}

impl SeqRange {
    pub fn single(v: SeqOrUid) -> SeqRange {
        SeqRange { start: v, end: v }
    }
    /// The inclusive bounds, low first, with `*` resolved.
    pub fn bounds(&self, largest: u32) -> (u32, u32) {
        let a = self.start.resolve(largest);
        let b = self.end.resolve(largest);
        (a.min(b), a.max(b))
    }
}

/// `sequence-set` (RFC 3501 §9): never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet(pub Vec<SeqRange>);

impl SequenceSet {
    /// Whether `n` is in the set, with `*` standing for `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0.iter().any(|r| {
            let (lo, hi) = r.bounds(largest);
            lo <= n && n <= hi
        })
    }
}

/// A message flag as a client may set it (`flag` in RFC 3501 §9).
/// `\Recent` is not settable and appears only in `FlagFetch`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    Answered,
    Flagged,
    Deleted,
    Seen,
    Draft,
    /// `flag-keyword = atom`; case is preserved, comparison is
    /// case-insensitive at the store.
    Keyword(String),
    /// `flag-extension = "\" atom`, other than the system flags.
    Extension(String),
}

/// A flag in a FETCH response: any `Flag`, or `\Recent`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagFetch {
    Flag(Flag),
    Recent,
}

/// `use-attr` (RFC 6154 §6): a special use of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UseAttr {
    All,
    Archive,
    Drafts,
    Flagged,
    Junk,
    Sent,
    Trash,
    /// `use-attr-ext = "\" atom`, the atom without the backslash; no
    /// server supports one yet, so CREATE refuses it with USEATTR.
    Extension(String),
}

impl UseAttr {
    /// The attribute as LIST shows it, e.g. `\Sent`.
    pub fn name(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(match self {
            UseAttr::All => "\\All",
            UseAttr::Archive => "\\Archive",
            UseAttr::Drafts => "\\Drafts",
            UseAttr::Flagged => "\\Flagged",
            UseAttr::Junk => "\\Junk",
            UseAttr::Sent => "\\Sent",
            UseAttr::Trash => "\\Trash",
            UseAttr::Extension(atom) => return format!("\\{atom}").into(),
        })
    }

    /// The attribute named by an atom without its backslash, in any case.
    pub fn from_atom(atom: &str) -> UseAttr {
        match atom.to_ascii_uppercase().as_str() {
            "ALL" => UseAttr::All,
            "ARCHIVE" => UseAttr::Archive,
            "DRAFTS" => UseAttr::Drafts,
            "FLAGGED" => UseAttr::Flagged,
            "JUNK" => UseAttr::Junk,
            "SENT" => UseAttr::Sent,
            "TRASH" => UseAttr::Trash,
            _ => UseAttr::Extension(atom.to_owned()),
        }
    }
}

/// `STORE` data item name: `FLAGS`, `+FLAGS` or `-FLAGS` (RFC 3501 §6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    Replace,
    Add,
    Remove,
}

/// `section-spec` (RFC 3501 §9): a part path and what of it to return.
/// `BODY[]` is `Section { part: [], text: None }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// `section-part`: `1.2.3`; empty for the whole message.
    pub part: Vec<NonZeroU32>,
    pub text: Option<SectionText>,
}

/// `section-msgtext` / `section-text` (RFC 3501 §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    /// Field names as sent (ASCII); matching is case-insensitive.
    HeaderFields(Vec<String>),
    HeaderFieldsNot(Vec<String>),
    Text,
    /// `MIME`: only valid after a part number.
    Mime,
}

/// Everything FETCH and SEARCH read about one message. The mail service fills
/// it from the store; `raw` and the pre-encoded blobs borrow from the store's
/// read transaction, so building one copies nothing large.
#[derive(Debug, Clone)]
pub struct MessageFacts<'a> {
    pub seq: NonZeroU32,
    pub uid: NonZeroU32,
    /// The message's flags in this session, `\Recent` included when this
    /// session holds it.
    pub flags: Vec<FlagFetch>,
    pub internal_date: DateTime<FixedOffset>,
    /// RFC822.SIZE, as the store counts it.
    pub size: u32,
    /// The whole message as stored.
    pub raw: &'a [u8],
    /// `mime::Analysis::envelope`, written as is.
    pub envelope: &'a [u8],
    /// `mime::Analysis::body`, written as is.
    pub body: &'a [u8],
    /// `mime::Analysis::bodystructure`, written as is.
    pub bodystructure: &'a [u8],
    /// `PartMap::to_bytes`; decoded only when a section needs it.
    pub parts: &'a [u8],
    /// `mime::Analysis::sent_date`: the `Date:` header, if readable.
    pub sent_date: Option<DateTime<FixedOffset>>,
    /// RFC 7162 MODSEQ: the last change to the message.
    pub modseq: u64,
}

impl MessageFacts<'_> {
    /// Whether the message has `flag` (keywords compared case-insensitively,
    /// as the store treats them).
    pub fn has_flag(&self, flag: &Flag) -> bool {
        self.flags.iter().any(|f| match (f, flag) {
            (FlagFetch::Flag(Flag::Keyword(a)), Flag::Keyword(b))
            | (FlagFetch::Flag(Flag::Extension(a)), Flag::Extension(b)) => {
                a.eq_ignore_ascii_case(b)
            }
            (FlagFetch::Flag(a), b) => a == b,
            (FlagFetch::Recent, _) => false,
        })
    }

    /// Whether the message is `\Recent` in this session.
    pub fn is_recent(&self) -> bool {
        self.flags.contains(&FlagFetch::Recent)
    }
}

/// A stored time and zone offset as a date; an offset or time out of range
/// (a damaged record) reads as UTC or the epoch rather than failing.
pub fn internal_date(secs: i64, offset: i32) -> DateTime<FixedOffset> {
    use chrono::TimeZone;
    let tz = FixedOffset::east_opt(offset)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC is a valid offset"));
    tz.timestamp_opt(secs, 0).single().unwrap_or_else(|| {
        tz.timestamp_opt(0, 0)
            .single()
            .expect("the epoch is representable")
    })
}

/// A stored message's flags: the system flags, then its keywords.
pub fn message_flags(m: &crate::store::MessageInfo) -> Vec<Flag> {
    use crate::store::Flags;
    let mut flags = Vec::new();
    for (bit, flag) in [
        (Flags::ANSWERED, Flag::Answered),
        (Flags::FLAGGED, Flag::Flagged),
        (Flags::DELETED, Flag::Deleted),
        (Flags::SEEN, Flag::Seen),
        (Flags::DRAFT, Flag::Draft),
    ] {
        if m.flags.contains(bit) {
            flags.push(flag);
        }
    }
    flags.extend(m.keywords.iter().cloned().map(Flag::Keyword));
    flags
}
