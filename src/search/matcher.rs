//! SEARCH (RFC 3501 §6.4.4) as a naive scan: whether one message matches a
//! search key, decided from the message's facts and its decoded text.
//!
//! This is the exact-semantics reference: whatever answers SEARCH faster
//! (an index) must give the same result as `matches` over every message.
//! Pure: no I/O, no store.
//!
//! Semantics chosen where RFC 3501 leaves room:
//! - Strings match as case-insensitive substrings anywhere, inside words
//!   too. Case-insensitive means simple Unicode case folding: each
//!   character lower-cased on its own (so `Σ` is `σ` wherever it stands,
//!   unlike `str::to_lowercase`), plus the characters whose fold differs
//!   from their lower case (`ς`→`σ`, `ſ`→`s`, `ϐ`→`β`, …). No
//!   normalisation (NFC/NFD), no `ß`/`ss` equivalence.
//! - Header keys (SUBJECT, HEADER) look at the top-level header only, at
//!   every occurrence of the field, in its decoded form: unfolded, RFC 2047
//!   encoded-words decoded to UTF-8. A key with an empty string matches
//!   exactly the messages that have the field.
//! - FROM, TO, CC and BCC look at "the envelope structure's" field (RFC
//!   3501 §6.4.4): the field's addresses as the envelope parses them
//!   (`mime::parse_address_list`), each written `Name <local@domain>` (or
//!   `local@domain` without a name; a group as `group:` before its
//!   members), the name decoded, comments and quoting gone. So
//!   `From: <user (comment)@ (comment) example.org>` matches
//!   `FROM user@example.org` and not `FROM comment`, while
//!   `HEADER FROM comment` still does. A field whose text yields no
//!   address is searched as its decoded text, as HEADER would, so nothing
//!   written there is unfindable. An empty string matches the messages
//!   that have the field.
//! - BODY looks at the decoded text of every text part of the message
//!   (transfer encodings undone, charsets converted to UTF-8): text/plain
//!   and any other text/* part, text attachments too, HTML parts as text
//!   (tags removed, entities decoded), and for an attached message its
//!   decoded header and its text parts. Non-text parts are not searched.
//!   Parts are searched one by one: a string never matches across two.
//! - TEXT matches when the top-level header (as `Name: value` lines,
//!   decoded as above) or the body (as BODY) does.
//! - BEFORE/ON/SINCE compare the calendar date of the internal date in
//!   its own offset, as stored; SENTBEFORE/SENTON/SENTSINCE the calendar
//!   date of the `Date:` header in the offset it was written with. A message
//!   without a readable `Date:` matches none of the SENT* keys (so it does
//!   match `NOT SENTON ...`).
//! - LARGER and SMALLER are strict, on RFC822.SIZE.
//! - KEYWORD/UNKEYWORD compare keywords ASCII case-insensitively, as the
//!   store treats them.
//! - Search strings are decoded from the command's CHARSET. Without one
//!   (US-ASCII), bytes that form valid UTF-8 are read as UTF-8, since
//!   clients send UTF-8 without naming it; other 8-bit bytes as
//!   windows-1252.
//! - Bytes a charset cannot map become U+FFFD on both sides; they only
//!   match each other.

use std::cell::OnceCell;

use chrono::NaiveDate;
use encoding_rs::Encoding;
use mail_parser::decoders::html::html_to_text;
use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderValue, Message, MessageParser, PartType};

use super::SearchKey;
use super::fold::fold;
use crate::mime::Addr;
use crate::types::{Flag, FlagFetch, MessageFacts, SequenceSet, internal_date};

/// The charset a SEARCH command's strings are written in (RFC 3501 §6.4.4
/// CHARSET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    /// The default when the command names no charset.
    UsAscii,
    /// Any other charset encoding_rs decodes: ISO-8859-x, windows-125x,
    /// KOI8, and the CJK multi-byte charsets.
    Other(&'static Encoding),
}

/// The charsets to list in `NO [BADCHARSET (...)]`. `charset_from_name`
/// accepts each of these, and the other labels encoding_rs knows for them.
pub const SUPPORTED_CHARSETS: &[&str] = &[
    "UTF-8",
    "US-ASCII",
    "ISO-8859-1",
    "ISO-8859-2",
    "ISO-8859-3",
    "ISO-8859-4",
    "ISO-8859-5",
    "ISO-8859-6",
    "ISO-8859-7",
    "ISO-8859-8",
    "ISO-8859-9",
    "ISO-8859-10",
    "ISO-8859-13",
    "ISO-8859-14",
    "ISO-8859-15",
    "ISO-8859-16",
    "WINDOWS-1250",
    "WINDOWS-1251",
    "WINDOWS-1252",
    "WINDOWS-1253",
    "WINDOWS-1254",
    "WINDOWS-1255",
    "WINDOWS-1256",
    "WINDOWS-1257",
    "WINDOWS-1258",
    "KOI8-R",
    "KOI8-U",
    "ISO-2022-JP",
    "SHIFT_JIS",
    "EUC-JP",
    "EUC-KR",
    "GB2312",
    "GBK",
    "GB18030",
    "BIG5",
];

/// The charset called `name` in a SEARCH command (any case), or `None` when
/// it is not supported: the session then answers
/// `NO [BADCHARSET (SUPPORTED_CHARSETS)]`.
///
/// Labels are the WHATWG ones encoding_rs knows, so `latin1` and
/// `ISO-8859-1` are accepted (decoded as windows-1252, its superset).
/// UTF-16 and encoding_rs's `replacement` are refused: IMAP strings cannot
/// carry the former, and the latter decodes nothing.
pub fn charset_from_name(name: &str) -> Option<Charset> {
    let name = name.trim();
    if ["US-ASCII", "ASCII", "US_ASCII", "ANSI_X3.4-1968"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
    {
        return Some(Charset::UsAscii);
    }
    let enc = Encoding::for_label(name.as_bytes())?;
    if enc == encoding_rs::UTF_8 {
        Some(Charset::Utf8)
    } else if enc == encoding_rs::UTF_16LE
        || enc == encoding_rs::UTF_16BE
        || enc == encoding_rs::REPLACEMENT
        || enc == encoding_rs::X_USER_DEFINED
    {
        None
    } else {
        Some(Charset::Other(enc))
    }
}

impl Charset {
    /// `bytes`, written in this charset, as text.
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Charset::UsAscii => match std::str::from_utf8(bytes) {
                Ok(s) => s.to_owned(),
                Err(_) => encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0
                    .into_owned(),
            },
            Charset::Other(enc) => enc.decode_without_bom_handling(bytes).0.into_owned(),
        }
    }
}

/// What a SEARCH runs against: the mailbox as the session sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchContext {
    /// The highest sequence number (the number of messages): `*` in a
    /// sequence set.
    pub max_seq: u32,
    /// The highest UID in the mailbox: `*` in a UID set.
    pub max_uid: u32,
    pub charset: Charset,
}

/// Whether message `m` matches `key` (RFC 3501 §6.4.4). Decodes the message
/// at most once, and only if the key looks at its text. To run one key over
/// many messages, build a `Matcher` once instead.
pub fn matches(key: &SearchKey, m: &MessageFacts<'_>, ctx: &SearchContext) -> bool {
    Matcher::new(key, ctx.charset).matches(m, ctx.max_seq, ctx.max_uid)
}

/// A search key prepared for running over many messages: its strings
/// decoded from the command's charset and case-folded once, its
/// conjunctions ordered so that keys on flags, sizes and dates are tried
/// before the ones that need the message decoded.
pub struct Matcher {
    key: Node,
    parser: MessageParser,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher").field("key", &self.key).finish()
    }
}

impl Matcher {
    pub fn new(key: &SearchKey, charset: Charset) -> Matcher {
        Matcher {
            key: Node::prepare(key, charset),
            // Only the MIME fields are parsed into values: the rest are
            // decoded here, from their raw bytes, when a key needs them.
            parser: MessageParser::new()
                .with_mime_headers()
                .default_header_ignore(),
        }
    }

    /// Whether the key reads the message's header or body, so that the
    /// caller knows whether `MessageFacts::raw` must be filled in.
    pub fn needs_content(&self) -> bool {
        self.key.cost() > Cost::Facts
    }

    /// Whether `m` matches; `max_seq` and `max_uid` are what `*` stands for
    /// in sequence and UID sets.
    pub fn matches(&self, m: &MessageFacts<'_>, max_seq: u32, max_uid: u32) -> bool {
        let mut ev = Eval {
            m,
            max_seq,
            max_uid,
            content: Content::new(m.raw, &self.parser),
        };
        ev.node(&self.key)
    }

    /// As `matches`, with the message's text given already decoded (as
    /// `searchable_text` made it), so `m.raw` is not read.
    pub fn matches_text(
        &self,
        m: &MessageFacts<'_>,
        text: SearchText,
        max_seq: u32,
        max_uid: u32,
    ) -> bool {
        let content = Content::new(&[], &self.parser);
        let _ = content.header.set(Header {
            fields: text.header,
            addresses: text.addresses,
        });
        let _ = content.body.set(text.body);
        let mut ev = Eval {
            m,
            max_seq,
            max_uid,
            content,
        };
        ev.node(&self.key)
    }

    /// Whether the key looks only at what the fixed part of a message
    /// record holds: system flags, \Recent, size, internal date, sequence
    /// number, UID, MODSEQ. Then `matches_head` decides, with no keyword
    /// list, body or text at hand.
    pub fn head_only(&self) -> bool {
        self.key.head_only()
    }

    /// `matches` for a key that is `head_only`, on those facts alone and
    /// without allocating; the answer is `matches`' on the same message.
    pub fn matches_head(&self, h: &HeadFacts, max_seq: u32, max_uid: u32) -> bool {
        debug_assert!(self.head_only());
        let mut ev = HeadEval {
            h,
            max_seq,
            max_uid,
            date: None,
        };
        ev.node(&self.key)
    }

    /// Whether the key looks at the `Date:` header (SENTBEFORE/ON/SINCE).
    pub fn needs_sent_date(&self) -> bool {
        self.key.uses_sent_date()
    }

    /// Whether the key looks at anything but the message's text: flags,
    /// sizes, dates, numbers. Without such keys, a message's text alone
    /// decides, and its store record need not be read beyond existence.
    pub fn needs_facts(&self) -> bool {
        self.key.uses_facts()
    }

    /// What an index must narrow the messages to: every message that
    /// matches is in the filter's set (the filter may hold more).
    pub fn filter(&self) -> Filter {
        self.key.filter()
    }

    /// The key's string conditions, in a fixed order: leaf `i` of
    /// `prejudge` is `text_leaves()[i]`. A TEXT key is one leaf that
    /// looks at two fields.
    pub fn text_leaves(&self) -> Vec<Vec<(TextField, String)>> {
        let mut out = Vec::new();
        self.key.text_leaves(&mut out);
        out
    }

    /// Decides `m` without its text where possible: `maybe(i)` says
    /// whether string leaf `i` may hold (false only when an index proves
    /// the needle absent). `None` when the text must be looked at.
    pub fn prejudge(
        &self,
        m: &MessageFacts<'_>,
        max_seq: u32,
        max_uid: u32,
        maybe: &dyn Fn(usize) -> bool,
    ) -> Option<bool> {
        let mut ev = Eval {
            m,
            max_seq,
            max_uid,
            content: Content::new(&[], &self.parser),
        };
        let mut next = 0;
        ev.prejudge(&self.key, &mut next, maybe)
    }
}

/// What a `head_only` key reads of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadFacts {
    pub seq: u32,
    pub uid: u32,
    pub answered: bool,
    pub flagged: bool,
    pub deleted: bool,
    pub seen: bool,
    pub draft: bool,
    pub recent: bool,
    pub size: u32,
    /// INTERNALDATE as stored: Unix seconds and offset east of UTC.
    pub internal_date: (i64, i32),
    pub modseq: u64,
}

/// `Eval` for a `head_only` key, over `HeadFacts`.
struct HeadEval<'h> {
    h: &'h HeadFacts,
    max_seq: u32,
    max_uid: u32,
    /// The calendar date of the internal date, worked out on first use.
    date: Option<NaiveDate>,
}

impl HeadEval<'_> {
    fn date(&mut self) -> NaiveDate {
        *self.date.get_or_insert_with(|| {
            let (secs, off) = self.h.internal_date;
            internal_date(secs, off).date_naive()
        })
    }

    fn node(&mut self, n: &Node) -> bool {
        let h = self.h;
        match n {
            Node::All => true,
            Node::Flag(f) => match f {
                Flag::Answered => h.answered,
                Flag::Flagged => h.flagged,
                Flag::Deleted => h.deleted,
                Flag::Seen => h.seen,
                Flag::Draft => h.draft,
                // Not system flags: a SEARCH key never names these as such.
                Flag::Keyword(_) | Flag::Extension(_) => false,
            },
            Node::Recent => h.recent,
            Node::Larger(n) => h.size > *n,
            Node::Smaller(n) => h.size < *n,
            Node::Before(d) => self.date() < *d,
            Node::On(d) => self.date() == *d,
            Node::Since(d) => self.date() >= *d,
            Node::Seq(s) => s.contains(h.seq, self.max_seq),
            Node::Uid(s) => s.contains(h.uid, self.max_uid),
            Node::ModSeq(n) => h.modseq >= *n,
            Node::Not(n) => !self.node(n),
            Node::Or(a, b) => self.node(a) || self.node(b),
            Node::And(v) => v.iter().all(|n| self.node(n)),
            // Not `head_only`: the caller checked before asking.
            Node::Keyword(_)
            | Node::SentBefore(_)
            | Node::SentOn(_)
            | Node::SentSince(_)
            | Node::Header(..)
            | Node::Address(..)
            | Node::Body(_)
            | Node::Text(_) => false,
        }
    }
}

/// The decoded, case-folded text of one message that the text keys look
/// at: what a search index stores so that it can verify candidates exactly
/// without decoding MIME again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchText {
    /// The top-level header fields in order: (name as written, value
    /// decoded and folded).
    pub header: Vec<Field>,
    /// The top-level From, To, Cc and Bcc fields in order as FROM/TO/CC/BCC
    /// see them: name in lower case, value the field's envelope addresses
    /// written out and folded (`address_text`).
    pub addresses: Vec<Field>,
    /// The text of every text part, folded, each part ended by NUL.
    pub body: String,
}

/// The searchable text of `raw`, exactly as the scan sees it: the same code
/// computes it, so a match on it is a match of the scan.
pub fn searchable_text(raw: &[u8]) -> SearchText {
    let parser = MessageParser::new()
        .with_mime_headers()
        .default_header_ignore();
    let content = Content::new(raw, &parser);
    // Header first, as TEXT computes it: the header-only parse.
    let _ = content.header();
    let _ = content.body();
    let header = content.header.into_inner().unwrap_or_default();
    SearchText {
        header: header.fields,
        addresses: header.addresses,
        body: content.body.into_inner().unwrap_or_default(),
    }
}

/// Which part of a message's text a string key is matched in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextField {
    /// Every field of the header with this name (ASCII, any case).
    Header(String),
    /// The envelope addresses of every field with this name (`from`,
    /// `to`, `cc`, `bcc`), as `SearchText::addresses` has them.
    Address(&'static str),
    /// The whole header as `name: value` lines.
    AllHeaders,
    /// The text parts.
    Body,
}

/// A necessary condition of a search key on the message's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// No condition: every message may match.
    Any,
    /// The folded needle occurs in the field.
    Contains(TextField, String),
    And(Vec<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// How much of a message a key needs, in the order they are cheap to get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cost {
    /// Flags, numbers, sizes, dates.
    Facts,
    /// The top-level header, decoded.
    Header,
    /// The decoded body.
    Body,
}

/// A search key with its strings decoded and folded.
#[derive(Debug)]
enum Node {
    All,
    Flag(Flag),
    Recent,
    Keyword(String),
    Larger(u32),
    Smaller(u32),
    Before(NaiveDate),
    On(NaiveDate),
    Since(NaiveDate),
    SentBefore(NaiveDate),
    SentOn(NaiveDate),
    SentSince(NaiveDate),
    /// A field name (ASCII) and a folded needle.
    Header(String, String),
    /// An address field's name (lower case) and a folded needle, matched
    /// against the field's envelope addresses.
    Address(&'static str, String),
    Body(String),
    Text(String),
    Seq(SequenceSet),
    Uid(SequenceSet),
    /// RFC 7162 MODSEQ: at least this.
    ModSeq(u64),
    Not(Box<Node>),
    Or(Box<Node>, Box<Node>),
    And(Vec<Node>),
}

impl Node {
    fn prepare(key: &SearchKey, cs: Charset) -> Node {
        let needle = |b: &Vec<u8>| fold(&cs.decode(b));
        let header = |name: &str, b: &Vec<u8>| Node::Header(name.to_owned(), needle(b));
        let address = |name: &'static str, b: &Vec<u8>| Node::Address(name, needle(b));
        let not = |n: Node| Node::Not(Box::new(n));
        match key {
            SearchKey::All => Node::All,
            SearchKey::Answered => Node::Flag(Flag::Answered),
            SearchKey::Deleted => Node::Flag(Flag::Deleted),
            SearchKey::Draft => Node::Flag(Flag::Draft),
            SearchKey::Flagged => Node::Flag(Flag::Flagged),
            SearchKey::Seen => Node::Flag(Flag::Seen),
            SearchKey::Recent => Node::Recent,
            SearchKey::Unanswered => not(Node::Flag(Flag::Answered)),
            SearchKey::Undeleted => not(Node::Flag(Flag::Deleted)),
            SearchKey::Undraft => not(Node::Flag(Flag::Draft)),
            SearchKey::Unflagged => not(Node::Flag(Flag::Flagged)),
            SearchKey::Unseen => not(Node::Flag(Flag::Seen)),
            // NEW = RECENT UNSEEN, OLD = NOT RECENT (RFC 3501 §6.4.4).
            SearchKey::New => Node::And(vec![Node::Recent, not(Node::Flag(Flag::Seen))]),
            SearchKey::Old => not(Node::Recent),
            SearchKey::Keyword(k) => Node::Keyword(k.clone()),
            SearchKey::Unkeyword(k) => not(Node::Keyword(k.clone())),
            SearchKey::Larger(n) => Node::Larger(*n),
            SearchKey::Smaller(n) => Node::Smaller(*n),
            SearchKey::Before(d) => Node::Before(*d),
            SearchKey::On(d) => Node::On(*d),
            SearchKey::Since(d) => Node::Since(*d),
            SearchKey::SentBefore(d) => Node::SentBefore(*d),
            SearchKey::SentOn(d) => Node::SentOn(*d),
            SearchKey::SentSince(d) => Node::SentSince(*d),
            SearchKey::From(v) => address("from", v),
            SearchKey::To(v) => address("to", v),
            SearchKey::Cc(v) => address("cc", v),
            SearchKey::Bcc(v) => address("bcc", v),
            SearchKey::Subject(v) => header("Subject", v),
            SearchKey::Header(name, v) => header(name, v),
            SearchKey::Body(v) => Node::Body(needle(v)),
            SearchKey::Text(v) => Node::Text(needle(v)),
            SearchKey::SequenceSet(s) => Node::Seq(s.clone()),
            SearchKey::Uid(s) => Node::Uid(s.clone()),
            SearchKey::ModSeq(n) => Node::ModSeq(*n),
            SearchKey::Not(k) => not(Node::prepare(k, cs)),
            SearchKey::Or(a, b) => {
                let (mut a, mut b) = (Node::prepare(a, cs), Node::prepare(b, cs));
                if b.cost() < a.cost() {
                    std::mem::swap(&mut a, &mut b);
                }
                Node::Or(Box::new(a), Box::new(b))
            }
            SearchKey::And(keys) => {
                let mut nodes: Vec<Node> = keys.iter().map(|k| Node::prepare(k, cs)).collect();
                nodes.sort_by_key(Node::cost);
                Node::And(nodes)
            }
        }
    }

    fn text_leaves(&self, out: &mut Vec<Vec<(TextField, String)>>) {
        match self {
            Node::Header(name, needle) => {
                out.push(vec![(TextField::Header(name.clone()), needle.clone())])
            }
            Node::Address(name, needle) => {
                out.push(vec![(TextField::Address(name), needle.clone())])
            }
            Node::Body(needle) => out.push(vec![(TextField::Body, needle.clone())]),
            Node::Text(needle) => out.push(vec![
                (TextField::AllHeaders, needle.clone()),
                (TextField::Body, needle.clone()),
            ]),
            Node::Not(n) => n.text_leaves(out),
            Node::Or(a, b) => {
                a.text_leaves(out);
                b.text_leaves(out);
            }
            Node::And(v) => v.iter().for_each(|n| n.text_leaves(out)),
            _ => {}
        }
    }

    fn head_only(&self) -> bool {
        match self {
            Node::Keyword(_)
            | Node::SentBefore(_)
            | Node::SentOn(_)
            | Node::SentSince(_)
            | Node::Header(..)
            | Node::Address(..)
            | Node::Body(_)
            | Node::Text(_) => false,
            Node::Flag(f) => !matches!(f, Flag::Keyword(_) | Flag::Extension(_)),
            Node::Not(n) => n.head_only(),
            Node::Or(a, b) => a.head_only() && b.head_only(),
            Node::And(v) => v.iter().all(Node::head_only),
            Node::All
            | Node::Recent
            | Node::Larger(_)
            | Node::Smaller(_)
            | Node::Before(_)
            | Node::On(_)
            | Node::Since(_)
            | Node::Seq(_)
            | Node::Uid(_)
            | Node::ModSeq(_) => true,
        }
    }

    fn uses_sent_date(&self) -> bool {
        match self {
            Node::SentBefore(_) | Node::SentOn(_) | Node::SentSince(_) => true,
            Node::Not(n) => n.uses_sent_date(),
            Node::Or(a, b) => a.uses_sent_date() || b.uses_sent_date(),
            Node::And(v) => v.iter().any(Node::uses_sent_date),
            _ => false,
        }
    }

    fn uses_facts(&self) -> bool {
        match self {
            Node::Header(..) | Node::Address(..) | Node::Body(_) | Node::Text(_) | Node::All => {
                false
            }
            Node::Not(n) => n.uses_facts(),
            Node::Or(a, b) => a.uses_facts() || b.uses_facts(),
            Node::And(v) => v.iter().any(Node::uses_facts),
            _ => true,
        }
    }

    fn filter(&self) -> Filter {
        let contains = |f: TextField, needle: &str| Filter::Contains(f, needle.to_owned());
        match self {
            Node::Header(name, needle) => contains(TextField::Header(name.clone()), needle),
            Node::Address(name, needle) => contains(TextField::Address(name), needle),
            Node::Body(needle) => contains(TextField::Body, needle),
            Node::Text(needle) => Filter::Or(
                Box::new(contains(TextField::AllHeaders, needle)),
                Box::new(contains(TextField::Body, needle)),
            ),
            Node::Or(a, b) => match (a.filter(), b.filter()) {
                (Filter::Any, _) | (_, Filter::Any) => Filter::Any,
                (a, b) => Filter::Or(Box::new(a), Box::new(b)),
            },
            Node::And(v) => {
                let parts: Vec<Filter> = v
                    .iter()
                    .map(Node::filter)
                    .filter(|f| *f != Filter::Any)
                    .collect();
                match parts.len() {
                    0 => Filter::Any,
                    1 => parts.into_iter().next().unwrap_or(Filter::Any),
                    _ => Filter::And(parts),
                }
            }
            // NOT of a text key holds for messages without the text: no
            // narrowing from the index.
            _ => Filter::Any,
        }
    }

    fn cost(&self) -> Cost {
        match self {
            Node::Header(..) | Node::Address(..) => Cost::Header,
            Node::Body(_) | Node::Text(_) => Cost::Body,
            Node::Not(n) => n.cost(),
            Node::Or(a, b) => a.cost().max(b.cost()),
            Node::And(v) => v.iter().map(Node::cost).max().unwrap_or(Cost::Facts),
            _ => Cost::Facts,
        }
    }
}

struct Eval<'m, 'a, 'p> {
    m: &'m MessageFacts<'a>,
    max_seq: u32,
    max_uid: u32,
    content: Content<'a, 'p>,
}

impl Eval<'_, '_, '_> {
    /// Three-valued evaluation: string leaves are false where `maybe`
    /// says so and unknown otherwise; every leaf is visited (no short
    /// cut) so that leaf numbers stay in step with `text_leaves`.
    fn prejudge(
        &mut self,
        n: &Node,
        next: &mut usize,
        maybe: &dyn Fn(usize) -> bool,
    ) -> Option<bool> {
        match n {
            Node::Header(..) | Node::Address(..) | Node::Body(_) | Node::Text(_) => {
                let i = *next;
                *next += 1;
                if maybe(i) { None } else { Some(false) }
            }
            Node::Not(n) => self.prejudge(n, next, maybe).map(|v| !v),
            Node::Or(a, b) => {
                let (a, b) = (self.prejudge(a, next, maybe), self.prejudge(b, next, maybe));
                match (a, b) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                }
            }
            Node::And(v) => {
                let results: Vec<Option<bool>> =
                    v.iter().map(|n| self.prejudge(n, next, maybe)).collect();
                if results.contains(&Some(false)) {
                    Some(false)
                } else if results.iter().all(|r| *r == Some(true)) {
                    Some(true)
                } else {
                    None
                }
            }
            other => Some(self.node(other)),
        }
    }

    fn node(&mut self, n: &Node) -> bool {
        let m = self.m;
        let date = m.internal_date.date_naive();
        let sent = m.sent_date.map(|d| d.date_naive());
        match n {
            Node::All => true,
            Node::Flag(f) => m.has_flag(f),
            Node::Recent => m.is_recent(),
            Node::Keyword(k) => m.flags.iter().any(
                |f| matches!(f, FlagFetch::Flag(Flag::Keyword(x)) if x.eq_ignore_ascii_case(k)),
            ),
            Node::Larger(n) => m.size > *n,
            Node::Smaller(n) => m.size < *n,
            Node::Before(d) => date < *d,
            Node::On(d) => date == *d,
            Node::Since(d) => date >= *d,
            Node::SentBefore(d) => sent.is_some_and(|s| s < *d),
            Node::SentOn(d) => sent.is_some_and(|s| s == *d),
            Node::SentSince(d) => sent.is_some_and(|s| s >= *d),
            Node::Header(name, needle) => self
                .content
                .header()
                .iter()
                .any(|f| f.name.eq_ignore_ascii_case(name) && f.value.contains(needle.as_str())),
            Node::Address(name, needle) => self
                .content
                .addresses()
                .iter()
                .any(|f| f.name == *name && f.value.contains(needle.as_str())),
            Node::Body(needle) => self.content.body().contains(needle.as_str()),
            Node::Text(needle) => {
                self.content.header_text().contains(needle.as_str())
                    || self.content.body().contains(needle.as_str())
            }
            Node::Seq(s) => s.contains(m.seq.get(), self.max_seq),
            Node::Uid(s) => s.contains(m.uid.get(), self.max_uid),
            Node::ModSeq(n) => m.modseq >= *n,
            Node::Not(n) => !self.node(n),
            Node::Or(a, b) => self.node(a) || self.node(b),
            Node::And(v) => v.iter().all(|n| self.node(n)),
        }
    }
}

/// One header field, decoded and folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// As written in the message.
    pub name: String,
    /// Unfolded, RFC 2047 decoded, case-folded.
    pub value: String,
}

/// A message's top-level header as the header and address keys see it.
#[derive(Debug, Default)]
struct Header {
    fields: Vec<Field>,
    addresses: Vec<Field>,
}

/// The decoded text of one message, worked out on first use and kept for
/// the rest of one `matches` call.
struct Content<'a, 'p> {
    raw: &'a [u8],
    parser: &'p MessageParser,
    /// The whole message parsed, for BODY and TEXT.
    message: OnceCell<Option<Message<'a>>>,
    header: OnceCell<Header>,
    /// The header as `name: value` lines, NUL-separated, for TEXT.
    header_text: OnceCell<String>,
    /// The text of every text part, folded, NUL-separated.
    body: OnceCell<String>,
}

/// Between the texts of two parts or fields: a search string cannot
/// contain NUL (RFC 3501 §9 `CHAR8`), so nothing matches across it.
const SEPARATOR: char = '\0';

impl<'a, 'p> Content<'a, 'p> {
    fn new(raw: &'a [u8], parser: &'p MessageParser) -> Self {
        Content {
            raw,
            parser,
            message: OnceCell::new(),
            header: OnceCell::new(),
            header_text: OnceCell::new(),
            body: OnceCell::new(),
        }
    }

    /// The message parsed for its structure: all of it, or for a message
    /// of very many parts, the part before `structured_end`.
    fn message(&self) -> Option<&Message<'a>> {
        self.message
            .get_or_init(|| self.parser.parse(&self.raw[..structured_end(self.raw)]))
            .as_ref()
    }

    fn header(&self) -> &[Field] {
        &self.decoded_header().fields
    }

    fn addresses(&self) -> &[Field] {
        &self.decoded_header().addresses
    }

    fn decoded_header(&self) -> &Header {
        self.header.get_or_init(|| {
            // A header-only parse unless the whole message is parsed
            // already: SUBJECT need not decode a large attachment.
            let header = |msg: &Message<'_>| Header {
                fields: decoded_header(msg),
                addresses: address_fields(msg),
            };
            match self.message.get() {
                Some(parsed) => parsed.as_ref().map(header).unwrap_or_default(),
                None => self
                    .parser
                    .parse_headers(self.raw)
                    .as_ref()
                    .map(header)
                    .unwrap_or_default(),
            }
        })
    }

    fn header_text(&self) -> &str {
        self.header_text.get_or_init(|| {
            let mut s = String::new();
            for f in self.header() {
                s.push_str(&fold(&f.name));
                s.push_str(": ");
                s.push_str(&f.value);
                s.push(SEPARATOR);
            }
            s
        })
    }

    fn body(&self) -> &str {
        self.body.get_or_init(|| {
            let mut text = String::new();
            match self.message() {
                Some(msg) => body_text(self.parser, msg, &mut text),
                // No header at all: mail-parser gives up; the bytes are
                // all body.
                None => text.push_str(&String::from_utf8_lossy(self.raw)),
            }
            // What was not parsed for structure is searched as it is:
            // flattened, never dropped.
            let rest = &self.raw[structured_end(self.raw)..];
            if !rest.is_empty() {
                text.push_str(&String::from_utf8_lossy(rest));
                text.push(SEPARATOR);
            }
            fold(&text)
        })
    }
}

/// The most boundary-like lines (starting with `--`) in a message body
/// that are parsed for MIME structure. mail-parser keeps every part it
/// finds, at some hundreds of bytes each, so a 50 MB message of a million
/// tiny parts would cost gigabytes to search; past this many, the rest of
/// the message is searched as plain text.
const MAX_STRUCTURED_BOUNDARIES: usize = 10_000;

/// Where the part of `raw` that is parsed for structure ends: the start of
/// the line that would be the boundary past `MAX_STRUCTURED_BOUNDARIES`,
/// or the end of the message.
fn structured_end(raw: &[u8]) -> usize {
    // The header is always parsed whole.
    let body_start = memchr::memmem::find(raw, b"\n\r\n")
        .or_else(|| memchr::memmem::find(raw, b"\n\n"))
        .map_or(raw.len(), |i| i + 1);
    memchr::memmem::find_iter(&raw[body_start..], b"\n--")
        .nth(MAX_STRUCTURED_BOUNDARIES)
        .map_or(raw.len(), |i| body_start + i + 1)
}

/// How many times an attached message that mail-parser left undecoded (it
/// parses at most a few levels of transfer-encoded messages inside each
/// other) is parsed again here; deeper than that, its decoded bytes are
/// searched as plain text. Bounds the recursion, never what is searched.
const MAX_REPARSE: usize = 16;

/// Appends the text of every text part of `msg` to `out`, each followed
/// by `SEPARATOR`; attached messages contribute their header and parts, at
/// any depth: they are walked with a stack of their own, not by recursion,
/// so no nesting is too deep to search.
fn body_text(parser: &MessageParser, msg: &Message<'_>, out: &mut String) {
    walk_parts(parser, msg, out, 0);
}

fn walk_parts(parser: &MessageParser, msg: &Message<'_>, out: &mut String, reparsed: usize) {
    // (message, index of its next part), depth first, in message order.
    let mut stack: Vec<(&Message<'_>, usize)> = vec![(msg, 0)];
    while let Some((m, i)) = stack.pop() {
        let Some(part) = m.parts.get(i) else {
            continue;
        };
        stack.push((m, i + 1));
        match &part.body {
            PartType::Text(t) => out.push_str(t),
            PartType::Html(h) => out.push_str(&html_to_text(h)),
            PartType::Message(inner) => {
                push_header(inner, out);
                stack.push((inner, 0));
                continue;
            }
            PartType::Binary(bytes) | PartType::InlineBinary(bytes)
                if is_attached_message(part) =>
            {
                // An attached message mail-parser did not descend into.
                match (reparsed < MAX_REPARSE)
                    .then(|| parser.parse(bytes.as_ref()))
                    .flatten()
                {
                    Some(inner) => {
                        push_header(&inner, out);
                        walk_parts(parser, &inner, out, reparsed + 1);
                        continue;
                    }
                    None => out.push_str(&String::from_utf8_lossy(bytes)),
                }
            }
            _ => continue,
        }
        out.push(SEPARATOR);
    }
}

/// Whether a part is declared an attached message (RFC 2046 §5.2.1
/// message/rfc822, RFC 6532 message/global).
fn is_attached_message(part: &mail_parser::MessagePart<'_>) -> bool {
    use mail_parser::MimeHeaders as _;
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("message")
            && ct.subtype().is_some_and(|s| {
                s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
            })
    })
}

/// An attached message's header fields, as `name: value` texts.
fn push_header(msg: &Message<'_>, out: &mut String) {
    for f in decoded_header(msg) {
        out.push_str(&f.name);
        out.push_str(": ");
        out.push_str(&f.value);
        out.push(SEPARATOR);
    }
}

/// The fields of the top-level header of `msg`, values unfolded, RFC 2047
/// decoded and folded.
fn decoded_header(msg: &Message<'_>) -> Vec<Field> {
    let raw = msg.raw_message();
    msg.headers()
        .iter()
        .map(|h| {
            let start = usize::try_from(h.offset_start).unwrap_or(usize::MAX);
            let end = usize::try_from(h.offset_end).unwrap_or(usize::MAX);
            let value = raw.get(start..end).unwrap_or_default();
            Field {
                name: h.name.as_str().to_owned(),
                value: fold(&decode_value(value)),
            }
        })
        .collect()
}

/// The fields FROM, TO, CC and BCC look at, in the order written.
const ADDRESS_FIELDS: [&str; 4] = ["from", "to", "cc", "bcc"];

/// The top-level From, To, Cc and Bcc fields of `msg`, each as
/// `address_text` writes it.
fn address_fields(msg: &Message<'_>) -> Vec<Field> {
    let raw = msg.raw_message();
    msg.headers()
        .iter()
        .filter_map(|h| {
            let name = ADDRESS_FIELDS
                .into_iter()
                .find(|n| h.name.as_str().eq_ignore_ascii_case(n))?;
            let start = usize::try_from(h.offset_start).unwrap_or(usize::MAX);
            let end = usize::try_from(h.offset_end).unwrap_or(usize::MAX);
            let value = raw.get(start..end).unwrap_or_default();
            Some(Field {
                name: name.to_owned(),
                value: fold(&address_text(value)),
            })
        })
        .collect()
}

/// An address field's value as FROM/TO/CC/BCC match it: its envelope
/// addresses (RFC 3501 §7.4.2, parsed as ENVELOPE parses them), each
/// `Name <local@domain>` or `local@domain`, the name's encoded-words
/// decoded, joined by `, `; a group as `group: ` before its members. A
/// value with no address in it is its decoded text.
fn address_text(value: &[u8]) -> String {
    let mut out = String::new();
    for a in crate::mime::parse_address_list(value) {
        let Addr::Mailbox {
            name,
            mailbox,
            host,
            ..
        } = a
        else {
            if let Addr::GroupStart(name) = a {
                if !out.is_empty() {
                    out.push_str(", ");
                }
                out.push_str(&decode_value(&name));
                out.push_str(": ");
            }
            continue;
        };
        if !out.is_empty() && !out.ends_with(": ") {
            out.push_str(", ");
        }
        // The envelope's stand-ins for a missing part are not text of
        // the message.
        let mailbox = (mailbox != b"MISSING_MAILBOX").then_some(mailbox);
        let host = (host != b"MISSING_DOMAIN").then_some(host);
        let spec = match (&mailbox, &host) {
            (Some(m), Some(h)) => format!(
                "{}@{}",
                String::from_utf8_lossy(m),
                String::from_utf8_lossy(h)
            ),
            (Some(m), None) => String::from_utf8_lossy(m).into_owned(),
            (None, Some(h)) => format!("@{}", String::from_utf8_lossy(h)),
            (None, None) => String::new(),
        };
        match name.map(|n| decode_value(&n)).filter(|n| !n.is_empty()) {
            Some(n) if spec.is_empty() => out.push_str(&n),
            Some(n) => {
                out.push_str(&n);
                out.push_str(" <");
                out.push_str(&spec);
                out.push('>');
            }
            None => out.push_str(&spec),
        }
    }
    if out.trim_end_matches([',', ':', ' ']).is_empty() {
        return decode_value(value);
    }
    out
}

/// A raw header value (folding line breaks kept) unfolded, with its
/// encoded-words decoded (RFC 2047 §6.1): adjacent encoded-words join with
/// no space between them.
fn decode_value(value: &[u8]) -> String {
    // The decoder reads up to the line break that ends the field.
    let mut line = Vec::with_capacity(value.len() + 1);
    line.extend_from_slice(value);
    if !line.ends_with(b"\n") {
        line.push(b'\n');
    }
    match MessageStream::new(&line).parse_unstructured() {
        HeaderValue::Text(t) => t.into_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
