//! The response encoder (RFC 3501 §7, §9), and a command encoder used by
//! tests and tools (client side).
//!
//! Everything here appends to a `Vec<u8>` and cannot fail. Choices the RFC
//! leaves open:
//!
//! - Strings: an atom where the position allows one and the bytes are all
//!   atom characters (never `NIL`, which a client might read as nil), else a
//!   quoted string when every byte is a 7-bit `QUOTED-CHAR` (no NUL, CR or
//!   LF) and there are at most [`QUOTED_MAX`] of them, else a literal. `"` and
//!   `\` are always escaped in quoted strings.
//! - `text` (RFC 3501 §9 `1*TEXT-CHAR`): CR, LF and NUL become spaces and
//!   characters outside US-ASCII become `?`, since `TEXT-CHAR` is 7-bit. An
//!   empty text is replaced by a word that fits the response: `Completed`
//!   (OK), `Failed` (NO), `Rejected` (BAD), `Logged in` (PREAUTH), `Closing`
//!   (BYE), `Ready` (continuation request).
//! - Mailbox names go through [`write_mailbox`]: `INBOX` in any case is sent
//!   as `INBOX`; a name of printable US-ASCII without `&` is its own modified
//!   UTF-7 form (RFC 3501 §5.1.3) and is written as it is; any other name is
//!   converted by `mutf7::encode`. The result is an astring.

use std::borrow::Cow;
use std::fmt::Display;
use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike};

use super::mutf7;
use super::response::{Code, Continue, Data, DataItemName, MessageDataItem, Response, StatusKind};
use super::types::{
    Command, CommandBody, FetchAttr, FetchItems, Flag, FlagFetch, FlagPerm, InitialResponse,
    ListReturn, ListSelect, Mailbox, SearchKey, Section, SectionText, SelectParams, SeqOrUid,
    SequenceSet, StatusItem, StoreKind, is_astring_char, is_atom_char, is_list_char,
};

use crate::quoting::is_quoted_char;
pub use crate::quoting::{QUOTED_MAX, write_nstring, write_string};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Appends the wire form of `r`, CRLF included.
pub fn encode_response(out: &mut Vec<u8>, r: &Response) {
    match r {
        Response::Status(s) => {
            match &s.tag {
                Some(tag) => out.extend_from_slice(tag.as_str().as_bytes()),
                None => out.push(b'*'),
            }
            out.push(b' ');
            let (keyword, filler) = match s.kind {
                StatusKind::Ok => ("OK", "Completed"),
                StatusKind::No => ("NO", "Failed"),
                StatusKind::Bad => ("BAD", "Rejected"),
                StatusKind::PreAuth => ("PREAUTH", "Logged in"),
                StatusKind::Bye => ("BYE", "Closing"),
            };
            out.extend_from_slice(keyword.as_bytes());
            out.push(b' ');
            write_resp_text(out, s.code.as_ref(), &s.text, filler);
        }
        Response::Continue(Continue::Text { code, text }) => {
            out.extend_from_slice(b"+ ");
            write_resp_text(out, code.as_ref(), text, "Ready");
        }
        Response::Continue(Continue::Base64(data)) => {
            out.extend_from_slice(b"+ ");
            out.extend_from_slice(BASE64.encode(data).as_bytes());
        }
        Response::Data(d) => {
            out.extend_from_slice(b"* ");
            write_data(out, d);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// `resp-text = ["[" resp-text-code "]" SP] text`
fn write_resp_text(out: &mut Vec<u8>, code: Option<&Code>, text: &str, filler: &str) {
    if let Some(code) = code {
        out.push(b'[');
        write_code(out, code);
        out.extend_from_slice(b"] ");
    }
    write_text(out, if text.is_empty() { filler } else { text });
}

/// `text = 1*TEXT-CHAR`; see the module doc for what is replaced.
fn write_text(out: &mut Vec<u8>, text: &str) {
    out.extend(text.chars().map(|c| match c {
        '\r' | '\n' | '\0' => b' ',
        c if c.is_ascii() => c as u8,
        _ => b'?',
    }));
}

/// `resp-text-code` (RFC 3501 §7.1, RFC 5530).
fn write_code(out: &mut Vec<u8>, code: &Code) {
    let simple = match code {
        Code::Alert => "ALERT",
        Code::BadCharset(charsets) => {
            out.extend_from_slice(b"BADCHARSET");
            if !charsets.is_empty() {
                out.extend_from_slice(b" (");
                write_list(out, charsets, |out, c| {
                    write_atom_or_string(out, c.as_bytes())
                });
                out.push(b')');
            }
            return;
        }
        Code::Capability(caps) => {
            out.extend_from_slice(b"CAPABILITY");
            for cap in caps {
                out.push(b' ');
                out.extend_from_slice(cap.as_bytes());
            }
            return;
        }
        Code::Parse => "PARSE",
        Code::PermanentFlags(flags) => {
            out.extend_from_slice(b"PERMANENTFLAGS (");
            write_list(out, flags, |out, f| match f {
                FlagPerm::Flag(f) => write_flag(out, f),
                FlagPerm::Asterisk => out.extend_from_slice(b"\\*"),
            });
            out.push(b')');
            return;
        }
        Code::ReadOnly => "READ-ONLY",
        Code::ReadWrite => "READ-WRITE",
        Code::TryCreate => "TRYCREATE",
        Code::UidNext(n) => return write_keyword_num(out, "UIDNEXT", n),
        Code::UidValidity(n) => return write_keyword_num(out, "UIDVALIDITY", n),
        Code::Unseen(n) => return write_keyword_num(out, "UNSEEN", n),
        Code::Unavailable => "UNAVAILABLE",
        Code::AuthenticationFailed => "AUTHENTICATIONFAILED",
        Code::AuthorizationFailed => "AUTHORIZATIONFAILED",
        Code::Expired => "EXPIRED",
        Code::PrivacyRequired => "PRIVACYREQUIRED",
        Code::ContactAdmin => "CONTACTADMIN",
        Code::NoPerm => "NOPERM",
        Code::InUse => "INUSE",
        Code::ExpungeIssued => "EXPUNGEISSUED",
        Code::Corruption => "CORRUPTION",
        Code::ServerBug => "SERVERBUG",
        Code::ClientBug => "CLIENTBUG",
        Code::Cannot => "CANNOT",
        Code::Limit => "LIMIT",
        Code::OverQuota => "OVERQUOTA",
        Code::AlreadyExists => "ALREADYEXISTS",
        Code::NonExistent => "NONEXISTENT",
        Code::TooBig => "TOOBIG",
        Code::UseAttr => "USEATTR",
        Code::CompressionActive => "COMPRESSIONACTIVE",
        Code::AppendUid { uidvalidity, uid } => {
            out.extend_from_slice(format!("APPENDUID {uidvalidity} {uid}").as_bytes());
            return;
        }
        Code::CopyUid {
            uidvalidity,
            source,
            destination,
        } => {
            out.extend_from_slice(format!("COPYUID {uidvalidity} ").as_bytes());
            write_uid_set(out, source);
            out.push(b' ');
            write_uid_set(out, destination);
            return;
        }
        // RFC 7162
        Code::HighestModSeq(n) => return write_keyword_num(out, "HIGHESTMODSEQ", n),
        Code::Modified(set) => {
            out.extend_from_slice(b"MODIFIED ");
            return write_uid_set(out, set);
        }
        Code::Closed => "CLOSED",
    };
    out.extend_from_slice(simple.as_bytes());
}

/// `uid-set` (RFC 4315 §4): UIDs in the order given, with runs of
/// consecutive ascending UIDs written as ranges (`1:3,7`). The order is
/// kept because COPYUID pairs the two sets position by position.
pub fn write_uid_set(out: &mut Vec<u8>, uids: &[u32]) {
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut j = i;
        while j + 1 < uids.len() && uids[j + 1] == uids[j].wrapping_add(1) && uids[j] != u32::MAX {
            j += 1;
        }
        if i > 0 {
            out.push(b',');
        }
        if j > i {
            out.extend_from_slice(format!("{start}:{}", uids[j]).as_bytes());
        } else {
            out.extend_from_slice(start.to_string().as_bytes());
        }
        i = j + 1;
    }
}

/// Untagged data, after `* ` (RFC 3501 §7.2–§7.4, RFC 2971).
fn write_data(out: &mut Vec<u8>, d: &Data) {
    match d {
        Data::Capability(caps) => {
            out.extend_from_slice(b"CAPABILITY");
            for cap in caps {
                out.push(b' ');
                out.extend_from_slice(cap.as_bytes());
            }
        }
        Data::List {
            attributes,
            delimiter,
            name,
            child_info,
        } => {
            write_mailbox_list(out, "LIST", attributes, *delimiter, name);
            if *child_info {
                // `mbox-list-extended` (RFC 5258 §6); the option is always
                // quoted there.
                out.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            }
        }
        Data::Lsub {
            attributes,
            delimiter,
            name,
        } => write_mailbox_list(out, "LSUB", attributes, *delimiter, name),
        Data::Status { name, items } => {
            out.extend_from_slice(b"STATUS ");
            write_mailbox(out, name);
            out.extend_from_slice(b" (");
            write_list(out, items, |out, (item, n)| {
                write_keyword_num(out, status_item(*item), n)
            });
            out.push(b')');
        }
        Data::Search(numbers) => {
            out.extend_from_slice(b"SEARCH");
            for n in numbers {
                out.push(b' ');
                write_num(out, n);
            }
        }
        Data::Flags(flags) => {
            out.extend_from_slice(b"FLAGS (");
            write_list(out, flags, write_flag);
            out.push(b')');
        }
        Data::Exists(n) => write_num_keyword(out, n, "EXISTS"),
        Data::Recent(n) => write_num_keyword(out, n, "RECENT"),
        Data::Expunge(n) => write_num_keyword(out, n, "EXPUNGE"),
        Data::Fetch { seq, items } => {
            write_num_keyword(out, seq, "FETCH (");
            write_list(out, items, write_message_data_item);
            out.push(b')');
        }
        Data::Id(params) => {
            out.extend_from_slice(b"ID ");
            write_id_params(out, params.as_deref());
        }
        Data::Quota { root, resources } => {
            out.extend_from_slice(b"QUOTA ");
            write_astring(out, root.as_bytes());
            out.extend_from_slice(b" (");
            write_list(out, resources, |out, (name, usage, limit)| {
                out.extend_from_slice(format!("{name} {usage} {limit}").as_bytes())
            });
            out.push(b')');
        }
        Data::QuotaRoot { mailbox, roots } => {
            out.extend_from_slice(b"QUOTAROOT ");
            write_mailbox(out, mailbox);
            for root in roots {
                out.push(b' ');
                write_astring(out, root.as_bytes());
            }
        }
        Data::Namespace { prefix, delimiter } => {
            out.extend_from_slice(b"NAMESPACE ((");
            write_string(out, prefix.as_bytes());
            out.push(b' ');
            let mut d = [0u8; 4];
            write_string(out, delimiter.encode_utf8(&mut d).as_bytes());
            out.extend_from_slice(b")) NIL NIL");
        }
        // RFC 5161, RFC 7162
        Data::Enabled(caps) => {
            out.extend_from_slice(b"ENABLED");
            for cap in caps {
                out.push(b' ');
                out.extend_from_slice(cap.as_bytes());
            }
        }
        Data::SearchModSeq { hits, modseq } => {
            out.extend_from_slice(b"SEARCH");
            for n in hits {
                out.push(b' ');
                write_num(out, n);
            }
            // `search-sort-mod-seq` only follows a non-empty result.
            if !hits.is_empty() {
                write_num(out, format_args!(" (MODSEQ {modseq})"));
            }
        }
        Data::Vanished { earlier, uids } => {
            out.extend_from_slice(if *earlier {
                b"VANISHED (EARLIER) "
            } else {
                b"VANISHED "
            });
            write_uid_set(out, uids);
        }
    }
}

/// `mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE /
/// nil) SP mailbox`
fn write_mailbox_list(
    out: &mut Vec<u8>,
    keyword: &str,
    attributes: &[String],
    delimiter: Option<char>,
    name: &str,
) {
    out.extend_from_slice(keyword.as_bytes());
    out.extend_from_slice(b" (");
    write_list(out, attributes, |out, a| {
        out.extend_from_slice(a.as_bytes())
    });
    out.extend_from_slice(b") ");
    match delimiter {
        // A delimiter that is not a QUOTED-CHAR cannot be sent; NIL (a flat
        // namespace) is the only valid answer left.
        Some(c) if c.is_ascii() && is_quoted_char(c as u8) => write_string(out, &[c as u8]),
        _ => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    write_mailbox(out, name);
}

fn status_item(item: StatusItem) -> &'static str {
    match item {
        StatusItem::Messages => "MESSAGES",
        StatusItem::Recent => "RECENT",
        StatusItem::UidNext => "UIDNEXT",
        StatusItem::UidValidity => "UIDVALIDITY",
        StatusItem::Unseen => "UNSEEN",
        StatusItem::Size => "SIZE",
        StatusItem::Deleted => "DELETED",
        StatusItem::DeletedStorage => "DELETED-STORAGE",
        StatusItem::AppendLimit => "APPENDLIMIT",
        StatusItem::HighestModSeq => "HIGHESTMODSEQ",
    }
}

/// The pieces of a FETCH response for writing one a piece at a time, so a
/// large body section can be streamed into the output in chunks instead of
/// being built whole: `* n FETCH (`, the items (separated by a space),
/// then `)` and CRLF. What they write together is exactly what
/// `encode_response` writes for the same `Data::Fetch`.
pub mod fetch_pieces {
    use super::*;

    /// `* n FETCH (`
    pub fn start(out: &mut Vec<u8>, seq: impl Display) {
        out.extend_from_slice(b"* ");
        write_num_keyword(out, seq, "FETCH (");
    }

    /// One whole `msg-att` item.
    pub fn item(out: &mut Vec<u8>, item: &MessageDataItem) {
        write_message_data_item(out, item);
    }

    /// The name of a body-data item and its space, e.g. `BODY[1.TEXT]<0> `
    /// or `RFC822 `; its data follows (`literal_head` and the bytes).
    pub fn data_item_name(out: &mut Vec<u8>, name: &DataItemName) {
        match name {
            DataItemName::BodySection { section, origin } => {
                out.extend_from_slice(b"BODY[");
                write_section(out, section);
                out.push(b']');
                if let Some(origin) = origin {
                    out.push(b'<');
                    write_num(out, origin);
                    out.push(b'>');
                }
            }
            DataItemName::Rfc822 => out.extend_from_slice(b"RFC822"),
            DataItemName::Rfc822Header => out.extend_from_slice(b"RFC822.HEADER"),
            DataItemName::Rfc822Text => out.extend_from_slice(b"RFC822.TEXT"),
        }
        out.push(b' ');
    }

    /// `{n}` CRLF: what precedes `n` octets of literal data. Data longer
    /// than `QUOTED_MAX` is always sent as a literal, so streaming it this
    /// way gives the same bytes as `write_nstring`.
    pub fn literal_head(out: &mut Vec<u8>, len: usize) {
        out.push(b'{');
        write_num(out, len);
        out.extend_from_slice(b"}\r\n");
    }

    /// `)` CRLF.
    pub fn end(out: &mut Vec<u8>) {
        out.extend_from_slice(b")\r\n");
    }
}

/// `msg-att-dynamic` / `msg-att-static` (RFC 3501 §7.4.2).
fn write_message_data_item(out: &mut Vec<u8>, item: &MessageDataItem) {
    match item {
        MessageDataItem::Flags(flags) => {
            out.extend_from_slice(b"FLAGS (");
            write_list(out, flags, |out, f| match f {
                FlagFetch::Flag(f) => write_flag(out, f),
                FlagFetch::Recent => out.extend_from_slice(b"\\Recent"),
            });
            out.push(b')');
        }
        MessageDataItem::Uid(uid) => write_keyword_num(out, "UID", uid),
        MessageDataItem::InternalDate(date) => {
            out.extend_from_slice(b"INTERNALDATE ");
            write_date_time(out, date);
        }
        MessageDataItem::Rfc822Size(n) => write_keyword_num(out, "RFC822.SIZE", n),
        MessageDataItem::Envelope(raw) => write_raw_item(out, "ENVELOPE", raw),
        MessageDataItem::Body(raw) => write_raw_item(out, "BODY", raw),
        MessageDataItem::BodyStructure(raw) => write_raw_item(out, "BODYSTRUCTURE", raw),
        MessageDataItem::BodySection {
            section,
            origin,
            data,
        } => {
            out.extend_from_slice(b"BODY[");
            write_section(out, section);
            out.push(b']');
            if let Some(origin) = origin {
                out.push(b'<');
                write_num(out, origin);
                out.push(b'>');
            }
            out.push(b' ');
            write_nstring(out, data.as_deref());
        }
        MessageDataItem::Rfc822(data) => write_nstring_item(out, "RFC822", data.as_deref()),
        MessageDataItem::Rfc822Header(data) => {
            write_nstring_item(out, "RFC822.HEADER", data.as_deref())
        }
        MessageDataItem::Rfc822Text(data) => {
            write_nstring_item(out, "RFC822.TEXT", data.as_deref())
        }
        MessageDataItem::ModSeq(n) => write_num(out, format_args!("MODSEQ ({n})")),
    }
}

fn write_raw_item(out: &mut Vec<u8>, keyword: &str, raw: &[u8]) {
    out.extend_from_slice(keyword.as_bytes());
    out.push(b' ');
    out.extend_from_slice(raw);
}

fn write_nstring_item(out: &mut Vec<u8>, keyword: &str, data: Option<&[u8]>) {
    out.extend_from_slice(keyword.as_bytes());
    out.push(b' ');
    write_nstring(out, data);
}

/// `section-spec` without the brackets, in canonical form:
/// `1.2.HEADER.FIELDS (FROM TO)`.
fn write_section(out: &mut Vec<u8>, section: &Section) {
    for (i, part) in section.part.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        write_num(out, part);
    }
    let Some(text) = &section.text else {
        return;
    };
    if !section.part.is_empty() {
        out.push(b'.');
    }
    let (keyword, fields) = match text {
        SectionText::Header => ("HEADER", None),
        SectionText::HeaderFields(f) => ("HEADER.FIELDS", Some(f)),
        SectionText::HeaderFieldsNot(f) => ("HEADER.FIELDS.NOT", Some(f)),
        SectionText::Text => ("TEXT", None),
        SectionText::Mime => ("MIME", None),
    };
    out.extend_from_slice(keyword.as_bytes());
    if let Some(fields) = fields {
        out.extend_from_slice(b" (");
        // Not bare `]`-containing astrings: they would end the section.
        write_list(out, fields, |out, f| {
            write_atom_or_string(out, f.as_bytes())
        });
        out.push(b')');
    }
}

/// `id-params-list` (RFC 2971): `NIL` or `("name" "value" ...)`.
fn write_id_params(out: &mut Vec<u8>, params: Option<&[(String, Option<String>)]>) {
    let Some(params) = params else {
        out.extend_from_slice(b"NIL");
        return;
    };
    out.push(b'(');
    write_list(out, params, |out, (name, value)| {
        write_string(out, name.as_bytes());
        out.push(b' ');
        write_nstring(out, value.as_deref().map(str::as_bytes));
    });
    out.push(b')');
}

// ---------------------------------------------------------------------------
// Helpers for the productions other layers pre-encode (ENVELOPE,
// BODYSTRUCTURE) and for the encoders here.

/// `astring = 1*ASTRING-CHAR / string`: as it is when every byte is an
/// `ASTRING-CHAR` (and it is not `NIL`), else [`write_string`].
pub fn write_astring(out: &mut Vec<u8>, s: &[u8]) {
    if is_bare(s, is_astring_char) {
        out.extend_from_slice(s);
    } else {
        write_string(out, s);
    }
}

/// `atom / string`: as it is when every byte is an `ATOM-CHAR` (and it is
/// not `NIL`), else [`write_string`]. For positions where `]` would end
/// something (response codes, section specs).
pub fn write_atom_or_string(out: &mut Vec<u8>, s: &[u8]) {
    if is_bare(s, is_atom_char) {
        out.extend_from_slice(s);
    } else {
        write_string(out, s);
    }
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time
/// SP zone DQUOTE`, e.g. `"17-Jul-1996 02:44:25 -0700"`. The day is padded
/// with a space. Years outside 0..=9999 (not representable) are clamped.
pub fn write_date_time(out: &mut Vec<u8>, date: &DateTime<FixedOffset>) {
    let offset = date.offset().local_minus_utc();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs() / 60;
    let _ = write!(
        out,
        "\"{:>2}-{}-{:04} {:02}:{:02}:{:02} {}{:02}{:02}\"",
        date.day(),
        month_name(date.month()),
        date.year().clamp(0, 9999),
        date.hour(),
        date.minute(),
        date.second().min(59),
        sign,
        offset / 60,
        offset % 60,
    );
}

/// A mailbox name (UTF-8) as an astring in modified UTF-7; `INBOX` in any
/// case is written `INBOX`.
pub fn write_mailbox(out: &mut Vec<u8>, name: &str) {
    if name.eq_ignore_ascii_case("INBOX") {
        out.extend_from_slice(b"INBOX");
    } else {
        write_astring(out, wire_name(name).as_bytes());
    }
}

/// The modified UTF-7 form of a name (RFC 3501 §5.1.3): printable US-ASCII
/// other than `&` stands for itself, so only other names need converting.
fn wire_name(name: &str) -> Cow<'_, str> {
    if name
        .bytes()
        .all(|b| (0x20..=0x7e).contains(&b) && b != b'&')
    {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(mutf7::encode(name))
    }
}

fn is_bare(s: &[u8], allowed: fn(u8) -> bool) -> bool {
    !s.is_empty() && s.iter().all(|&b| allowed(b)) && !s.eq_ignore_ascii_case(b"NIL")
}

fn write_flag(out: &mut Vec<u8>, flag: &Flag) {
    let system = match flag {
        Flag::Answered => "\\Answered",
        Flag::Flagged => "\\Flagged",
        Flag::Deleted => "\\Deleted",
        Flag::Seen => "\\Seen",
        Flag::Draft => "\\Draft",
        Flag::Keyword(k) => k,
        Flag::Extension(e) => {
            out.push(b'\\');
            e
        }
    };
    out.extend_from_slice(system.as_bytes());
}

fn month_name(month: u32) -> &'static str {
    MONTHS
        .get(month.wrapping_sub(1) as usize)
        .copied()
        .unwrap_or("Jan")
}

/// Writes the items separated by single spaces.
fn write_list<T>(out: &mut Vec<u8>, items: &[T], mut each: impl FnMut(&mut Vec<u8>, &T)) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        each(out, item);
    }
}

fn write_num(out: &mut Vec<u8>, n: impl Display) {
    let _ = write!(out, "{n}");
}

fn write_keyword_num(out: &mut Vec<u8>, keyword: &str, n: impl Display) {
    let _ = write!(out, "{keyword} {n}");
}

fn write_num_keyword(out: &mut Vec<u8>, n: impl Display, keyword: &str) {
    let _ = write!(out, "{n} {keyword}");
}

// ---------------------------------------------------------------------------
// Commands (client side).

/// Appends the wire form of a command as a client would send it: strings as
/// atoms, quoted strings or synchronizing literals (`{n}\r\n` followed by the
/// bytes, with no wait), CRLF included.
///
/// The form is canonical, so that parsing it gives `c` back: keywords in
/// upper case, a single FETCH attribute without parentheses, STORE flags in
/// parentheses, the APPEND message always a literal, empty APPEND flags
/// left out.
pub fn encode_command(out: &mut Vec<u8>, c: &Command) {
    out.extend_from_slice(c.tag.as_str().as_bytes());
    out.push(b' ');
    match &c.body {
        CommandBody::Capability => out.extend_from_slice(b"CAPABILITY"),
        CommandBody::Noop => out.extend_from_slice(b"NOOP"),
        CommandBody::Logout => out.extend_from_slice(b"LOGOUT"),
        CommandBody::StartTls => out.extend_from_slice(b"STARTTLS"),
        CommandBody::Authenticate {
            mechanism,
            initial_response,
        } => {
            out.extend_from_slice(b"AUTHENTICATE ");
            out.extend_from_slice(mechanism.as_bytes());
            match initial_response {
                None => {}
                Some(InitialResponse::Data(data)) if !data.expose().is_empty() => {
                    out.push(b' ');
                    out.extend_from_slice(BASE64.encode(data.expose()).as_bytes());
                }
                // RFC 4959: `=` is the empty initial response.
                Some(_) => out.extend_from_slice(b" ="),
            }
        }
        CommandBody::Login { username, password } => {
            out.extend_from_slice(b"LOGIN ");
            write_astring(out, username);
            out.push(b' ');
            write_string(out, password.expose());
        }
        CommandBody::Select { mailbox, params } => {
            write_command_mailbox(out, "SELECT", mailbox);
            write_select_params(out, params);
        }
        CommandBody::Examine { mailbox, params } => {
            write_command_mailbox(out, "EXAMINE", mailbox);
            write_select_params(out, params);
        }
        CommandBody::Create {
            mailbox,
            special_use,
        } => {
            write_command_mailbox(out, "CREATE", mailbox);
            if !special_use.is_empty() {
                out.extend_from_slice(b" (USE (");
                write_list(out, special_use, |out, u| {
                    out.extend_from_slice(u.name().as_bytes())
                });
                out.extend_from_slice(b"))");
            }
        }
        CommandBody::Delete { mailbox } => write_command_mailbox(out, "DELETE", mailbox),
        CommandBody::Subscribe { mailbox } => write_command_mailbox(out, "SUBSCRIBE", mailbox),
        CommandBody::Unsubscribe { mailbox } => write_command_mailbox(out, "UNSUBSCRIBE", mailbox),
        CommandBody::Rename { from, to } => {
            write_command_mailbox(out, "RENAME", from);
            out.push(b' ');
            write_mailbox_arg(out, to);
        }
        CommandBody::List { reference, pattern } => {
            write_list_command(out, "LIST", reference, pattern)
        }
        CommandBody::ListExtended {
            select,
            reference,
            patterns,
            returns,
        } => write_list_extended(out, select, reference, patterns, returns),
        CommandBody::Lsub { reference, pattern } => {
            write_list_command(out, "LSUB", reference, pattern)
        }
        CommandBody::Status { mailbox, items } => {
            write_command_mailbox(out, "STATUS", mailbox);
            out.extend_from_slice(b" (");
            write_list(out, items, |out, i| {
                out.extend_from_slice(status_item(*i).as_bytes())
            });
            out.push(b')');
        }
        CommandBody::Append {
            mailbox,
            flags,
            date,
            message,
        } => {
            write_command_mailbox(out, "APPEND", mailbox);
            if !flags.is_empty() {
                out.extend_from_slice(b" (");
                write_list(out, flags, write_flag);
                out.push(b')');
            }
            if let Some(date) = date {
                out.push(b' ');
                write_date_time(out, date);
            }
            // The message as it is, NUL bytes too: a test may send them.
            out.push(b' ');
            out.push(b'{');
            write_num(out, message.len());
            out.extend_from_slice(b"}\r\n");
            out.extend_from_slice(message);
        }
        CommandBody::GetQuota { root } => {
            out.extend_from_slice(b"GETQUOTA ");
            write_astring(out, root.as_bytes());
        }
        CommandBody::GetQuotaRoot { mailbox } => {
            write_command_mailbox(out, "GETQUOTAROOT", mailbox)
        }
        CommandBody::SetQuota { root, limits } => {
            out.extend_from_slice(b"SETQUOTA ");
            write_astring(out, root.as_bytes());
            out.extend_from_slice(b" (");
            write_list(out, limits, |out, (name, limit)| {
                out.extend_from_slice(format!("{name} {limit}").as_bytes())
            });
            out.push(b')');
        }
        CommandBody::Check => out.extend_from_slice(b"CHECK"),
        CommandBody::Idle => out.extend_from_slice(b"IDLE"),
        CommandBody::Unselect => out.extend_from_slice(b"UNSELECT"),
        CommandBody::Namespace => out.extend_from_slice(b"NAMESPACE"),
        CommandBody::Compress { algorithm } => {
            out.extend_from_slice(b"COMPRESS ");
            out.extend_from_slice(algorithm.as_bytes());
        }
        CommandBody::Close => out.extend_from_slice(b"CLOSE"),
        CommandBody::Expunge => out.extend_from_slice(b"EXPUNGE"),
        CommandBody::Search {
            charset,
            criteria,
            uid,
        } => {
            write_uid(out, *uid);
            out.extend_from_slice(b"SEARCH ");
            if let Some(charset) = charset {
                out.extend_from_slice(b"CHARSET ");
                write_astring(out, charset.as_bytes());
                out.push(b' ');
            }
            match criteria {
                // Several top-level keys are an implicit AND. A single key
                // in an `And` keeps its parentheses: the parser reads `(x)`
                // as `And([x])` and a bare `x` as `x`.
                SearchKey::And(keys) if keys.len() > 1 => write_list(out, keys, write_search_key),
                key => write_search_key(out, key),
            }
        }
        CommandBody::Fetch {
            sequence_set,
            items,
            uid,
            modifiers,
        } => {
            write_uid(out, *uid);
            out.extend_from_slice(b"FETCH ");
            write_sequence_set(out, sequence_set);
            out.push(b' ');
            match items {
                FetchItems::All => out.extend_from_slice(b"ALL"),
                FetchItems::Fast => out.extend_from_slice(b"FAST"),
                FetchItems::Full => out.extend_from_slice(b"FULL"),
                FetchItems::Attributes(attrs) if attrs.len() == 1 => {
                    write_fetch_attr(out, &attrs[0])
                }
                FetchItems::Attributes(attrs) => {
                    out.push(b'(');
                    write_list(out, attrs, write_fetch_attr);
                    out.push(b')');
                }
            }
            let mut mods = Vec::new();
            if let Some(n) = modifiers.changed_since {
                mods.push(format!("CHANGEDSINCE {n}"));
            }
            if modifiers.vanished {
                mods.push("VANISHED".to_string());
            }
            if !mods.is_empty() {
                out.extend_from_slice(format!(" ({})", mods.join(" ")).as_bytes());
            }
        }
        CommandBody::Store {
            sequence_set,
            kind,
            silent,
            flags,
            uid,
            unchanged_since,
        } => {
            write_uid(out, *uid);
            out.extend_from_slice(b"STORE ");
            write_sequence_set(out, sequence_set);
            if let Some(n) = unchanged_since {
                write_num(out, format_args!(" (UNCHANGEDSINCE {n})"));
            }
            out.extend_from_slice(match kind {
                StoreKind::Replace => b" FLAGS",
                StoreKind::Add => b" +FLAGS",
                StoreKind::Remove => b" -FLAGS",
            });
            if *silent {
                out.extend_from_slice(b".SILENT");
            }
            out.extend_from_slice(b" (");
            write_list(out, flags, write_flag);
            out.push(b')');
        }
        CommandBody::Copy {
            sequence_set,
            mailbox,
            uid,
        } => {
            write_uid(out, *uid);
            out.extend_from_slice(b"COPY ");
            write_sequence_set(out, sequence_set);
            out.push(b' ');
            write_mailbox_arg(out, mailbox);
        }
        CommandBody::UidExpunge { sequence_set } => {
            out.extend_from_slice(b"UID EXPUNGE ");
            write_sequence_set(out, sequence_set);
        }
        CommandBody::Id { parameters } => {
            out.extend_from_slice(b"ID ");
            write_id_params(out, parameters.as_deref());
        }
        CommandBody::Enable { capabilities } => {
            out.extend_from_slice(b"ENABLE");
            for c in capabilities {
                out.push(b' ');
                out.extend_from_slice(c.as_bytes());
            }
        }
        CommandBody::Move {
            sequence_set,
            mailbox,
            uid,
        } => {
            write_uid(out, *uid);
            out.extend_from_slice(b"MOVE ");
            write_sequence_set(out, sequence_set);
            out.push(b' ');
            write_mailbox_arg(out, mailbox);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// ` (CONDSTORE QRESYNC (...))`, or nothing without parameters.
fn write_select_params(out: &mut Vec<u8>, params: &SelectParams) {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    if params.condstore {
        parts.push(b"CONDSTORE".to_vec());
    }
    if let Some(q) = &params.qresync {
        let mut p = format!("QRESYNC ({} {}", q.uidvalidity, q.modseq).into_bytes();
        if let Some(known) = &q.known_uids {
            p.push(b' ');
            write_sequence_set(&mut p, known);
        }
        if let Some((seqs, uids)) = &q.seq_match {
            p.extend_from_slice(b" (");
            write_sequence_set(&mut p, seqs);
            p.push(b' ');
            write_sequence_set(&mut p, uids);
            p.push(b')');
        }
        p.push(b')');
        parts.push(p);
    }
    if !parts.is_empty() {
        out.extend_from_slice(b" (");
        write_list(out, &parts, |out, p| out.extend_from_slice(p));
        out.push(b')');
    }
}

fn write_uid(out: &mut Vec<u8>, uid: bool) {
    if uid {
        out.extend_from_slice(b"UID ");
    }
}

fn write_command_mailbox(out: &mut Vec<u8>, keyword: &str, mailbox: &Mailbox) {
    out.extend_from_slice(keyword.as_bytes());
    out.push(b' ');
    write_mailbox_arg(out, mailbox);
}

fn write_mailbox_arg(out: &mut Vec<u8>, mailbox: &Mailbox) {
    match mailbox {
        Mailbox::Inbox => out.extend_from_slice(b"INBOX"),
        // Not through `write_mailbox`: a name spelled `inbox` that is not
        // the `Inbox` variant keeps its spelling.
        Mailbox::Other(name) => write_astring(out, wire_name(name).as_bytes()),
    }
}

/// `LIST SP mailbox SP list-mailbox`
fn write_list_command(out: &mut Vec<u8>, keyword: &str, reference: &str, pattern: &str) {
    out.extend_from_slice(keyword.as_bytes());
    out.push(b' ');
    write_astring(out, wire_name(reference).as_bytes());
    out.push(b' ');
    write_list_mailbox(out, pattern);
}

/// `list-mailbox = 1*list-char / string`
fn write_list_mailbox(out: &mut Vec<u8>, pattern: &str) {
    let pattern = wire_name(pattern);
    if is_bare(pattern.as_bytes(), is_list_char) {
        out.extend_from_slice(pattern.as_bytes());
    } else {
        write_string(out, pattern.as_bytes());
    }
}

/// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
/// [SP list-return-opts]` (RFC 5258 §6), in its one canonical form: every
/// part present, the patterns in parentheses.
fn write_list_extended(
    out: &mut Vec<u8>,
    select: &ListSelect,
    reference: &str,
    patterns: &[String],
    returns: &ListReturn,
) {
    let mut opts: Vec<&str> = Vec::new();
    for (on, name) in [
        (select.subscribed, "SUBSCRIBED"),
        (select.remote, "REMOTE"),
        (select.recursive_match, "RECURSIVEMATCH"),
        (select.special_use, "SPECIAL-USE"),
    ] {
        if on {
            opts.push(name);
        }
    }
    out.extend_from_slice(b"LIST (");
    out.extend_from_slice(opts.join(" ").as_bytes());
    out.extend_from_slice(b") ");
    write_astring(out, wire_name(reference).as_bytes());
    out.extend_from_slice(b" (");
    write_list(out, patterns, |out, p| write_list_mailbox(out, p));
    out.extend_from_slice(b") RETURN (");
    let mut opts: Vec<String> = Vec::new();
    for (on, name) in [
        (returns.subscribed, "SUBSCRIBED"),
        (returns.children, "CHILDREN"),
        (returns.special_use, "SPECIAL-USE"),
    ] {
        if on {
            opts.push(name.to_string());
        }
    }
    if let Some(items) = &returns.status {
        let items: Vec<&str> = items.iter().map(|i| status_item(*i)).collect();
        opts.push(format!("STATUS ({})", items.join(" ")));
    }
    out.extend_from_slice(opts.join(" ").as_bytes());
    out.push(b')');
}

/// `sequence-set`. An empty set (which the types rule out) is written as
/// nothing, so that the command fails to parse rather than meaning
/// something else.
fn write_sequence_set(out: &mut Vec<u8>, set: &SequenceSet) {
    for (i, range) in set.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_seq(out, range.start);
        if range.end != range.start {
            out.push(b':');
            write_seq(out, range.end);
        }
    }
}

fn write_seq(out: &mut Vec<u8>, v: SeqOrUid) {
    match v {
        SeqOrUid::Value(n) => write_num(out, n),
        SeqOrUid::Asterisk => out.push(b'*'),
    }
}

/// `fetch-att` (RFC 3501 §9).
fn write_fetch_attr(out: &mut Vec<u8>, attr: &FetchAttr) {
    let keyword = match attr {
        FetchAttr::Envelope => "ENVELOPE",
        FetchAttr::Flags => "FLAGS",
        FetchAttr::InternalDate => "INTERNALDATE",
        FetchAttr::Rfc822 => "RFC822",
        FetchAttr::Rfc822Header => "RFC822.HEADER",
        FetchAttr::Rfc822Size => "RFC822.SIZE",
        FetchAttr::ModSeq => "MODSEQ",
        FetchAttr::Rfc822Text => "RFC822.TEXT",
        FetchAttr::Body => "BODY",
        FetchAttr::BodyStructure => "BODYSTRUCTURE",
        FetchAttr::Uid => "UID",
        FetchAttr::BodySection {
            peek,
            section,
            partial,
        } => {
            out.extend_from_slice(if *peek { b"BODY.PEEK[" } else { b"BODY[" });
            write_section(out, section);
            out.push(b']');
            if let Some((origin, length)) = partial {
                let _ = write!(out, "<{origin}.{length}>");
            }
            return;
        }
    };
    out.extend_from_slice(keyword.as_bytes());
}

/// `search-key` (RFC 3501 §9).
fn write_search_key(out: &mut Vec<u8>, key: &SearchKey) {
    let (keyword, arg) = match key {
        SearchKey::All => ("ALL", Arg::None),
        SearchKey::Answered => ("ANSWERED", Arg::None),
        SearchKey::Bcc(s) => ("BCC", Arg::String(s)),
        SearchKey::Before(d) => ("BEFORE", Arg::Date(d)),
        SearchKey::Body(s) => ("BODY", Arg::String(s)),
        SearchKey::Cc(s) => ("CC", Arg::String(s)),
        SearchKey::Deleted => ("DELETED", Arg::None),
        SearchKey::Draft => ("DRAFT", Arg::None),
        SearchKey::Flagged => ("FLAGGED", Arg::None),
        SearchKey::From(s) => ("FROM", Arg::String(s)),
        SearchKey::Header(field, value) => {
            out.extend_from_slice(b"HEADER ");
            write_astring(out, field.as_bytes());
            out.push(b' ');
            write_astring(out, value);
            return;
        }
        SearchKey::Keyword(k) => ("KEYWORD", Arg::Atom(k)),
        SearchKey::Larger(n) => ("LARGER", Arg::Number(*n)),
        SearchKey::New => ("NEW", Arg::None),
        SearchKey::Not(inner) => {
            out.extend_from_slice(b"NOT ");
            write_search_key(out, inner);
            return;
        }
        SearchKey::Old => ("OLD", Arg::None),
        SearchKey::On(d) => ("ON", Arg::Date(d)),
        SearchKey::Or(a, b) => {
            out.extend_from_slice(b"OR ");
            write_search_key(out, a);
            out.push(b' ');
            write_search_key(out, b);
            return;
        }
        SearchKey::Recent => ("RECENT", Arg::None),
        SearchKey::Seen => ("SEEN", Arg::None),
        SearchKey::SentBefore(d) => ("SENTBEFORE", Arg::Date(d)),
        SearchKey::SentOn(d) => ("SENTON", Arg::Date(d)),
        SearchKey::SentSince(d) => ("SENTSINCE", Arg::Date(d)),
        SearchKey::Since(d) => ("SINCE", Arg::Date(d)),
        SearchKey::Smaller(n) => ("SMALLER", Arg::Number(*n)),
        SearchKey::Subject(s) => ("SUBJECT", Arg::String(s)),
        SearchKey::Text(s) => ("TEXT", Arg::String(s)),
        SearchKey::To(s) => ("TO", Arg::String(s)),
        SearchKey::Uid(set) => {
            out.extend_from_slice(b"UID ");
            write_sequence_set(out, set);
            return;
        }
        SearchKey::Unanswered => ("UNANSWERED", Arg::None),
        SearchKey::Undeleted => ("UNDELETED", Arg::None),
        SearchKey::Undraft => ("UNDRAFT", Arg::None),
        SearchKey::Unflagged => ("UNFLAGGED", Arg::None),
        SearchKey::Unkeyword(k) => ("UNKEYWORD", Arg::Atom(k)),
        SearchKey::Unseen => ("UNSEEN", Arg::None),
        SearchKey::SequenceSet(set) => return write_sequence_set(out, set),
        SearchKey::ModSeq(n) => return write_num(out, format_args!("MODSEQ {n}")),
        // An empty AND (which the types rule out) matches everything.
        SearchKey::And(keys) if keys.is_empty() => ("ALL", Arg::None),
        SearchKey::And(keys) => {
            out.push(b'(');
            write_list(out, keys, write_search_key);
            out.push(b')');
            return;
        }
    };
    out.extend_from_slice(keyword.as_bytes());
    match arg {
        Arg::None => {}
        Arg::String(s) => {
            out.push(b' ');
            write_astring(out, s);
        }
        Arg::Atom(s) => {
            out.push(b' ');
            out.extend_from_slice(s.as_bytes());
        }
        Arg::Number(n) => write_num(out, format_args!(" {n}")),
        Arg::Date(d) => {
            // `date = date-text / DQUOTE date-text DQUOTE`, day unpadded.
            let _ = write!(
                out,
                " {}-{}-{:04}",
                d.day(),
                month_name(d.month()),
                d.year().clamp(0, 9999)
            );
        }
    }
}

enum Arg<'a> {
    None,
    String(&'a [u8]),
    Atom(&'a str),
    Number(u32),
    Date(&'a NaiveDate),
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use chrono::TimeZone;

    use super::*;
    use crate::imap::proto::frame::{FrameEvent, FrameLimits, Framer};
    use crate::imap::proto::response::StatusResponse;
    use crate::imap::proto::types::{Secret, SeqRange, Tag, UseAttr};

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("test numbers are not 0")
    }

    fn tag(s: &str) -> Tag {
        Tag::new(s).expect("valid test tag")
    }

    /// The encoded response, checked against an independent decoder.
    fn response(r: Response) -> String {
        let mut out = Vec::new();
        encode_response(&mut out, &r);
        // imap-codec knows neither ID responses nor LIST-EXTENDED data.
        if !matches!(
            r,
            Response::Data(
                Data::Id(_)
                    | Data::List {
                        child_info: true,
                        ..
                    }
            )
        ) {
            assert_oracle_accepts_response(&out);
        }
        String::from_utf8(out).expect("ASCII test output")
    }

    fn command(body: CommandBody) -> Vec<u8> {
        // Not built into the oracle: ID, STARTTLS, COMPRESS, LIST-EXTENDED
        // or CREATE-SPECIAL-USE commands.
        let is_id = match &body {
            CommandBody::Id { .. }
            | CommandBody::StartTls
            | CommandBody::Compress { .. }
            | CommandBody::ListExtended { .. } => true,
            CommandBody::Create { special_use, .. } => !special_use.is_empty(),
            _ => false,
        };
        let mut out = Vec::new();
        encode_command(
            &mut out,
            &Command {
                tag: tag("A1"),
                body,
            },
        );
        if !is_id {
            assert_oracle_accepts_command(&out);
        }
        // The framer finds exactly this command in it.
        let mut framer = Framer::new(FrameLimits::default());
        framer.push(&out);
        let mut events = Vec::new();
        while let Some(e) = framer.next_event() {
            events.push(e);
        }
        assert_eq!(events.pop(), Some(FrameEvent::Command(out.clone())));
        assert!(
            events.iter().all(|e| *e == FrameEvent::ContinuationNeeded),
            "{events:?}"
        );
        out
    }

    // imap-codec (built without its ID and STARTTLS features) must read what we write,
    // all of it.
    fn assert_oracle_accepts_response(wire: &[u8]) {
        use imap_codec::decode::Decoder;
        use imap_codec::{GreetingCodec, ResponseCodec};
        let rest = match ResponseCodec::default().decode(wire) {
            Ok((rest, _)) => rest,
            Err(e) => match GreetingCodec::default().decode(wire) {
                Ok((rest, _)) => rest,
                Err(_) => panic!(
                    "imap-codec rejects {:?}: {e:?}",
                    String::from_utf8_lossy(wire)
                ),
            },
        };
        assert!(
            rest.is_empty(),
            "imap-codec leaves {rest:?} of {:?}",
            String::from_utf8_lossy(wire)
        );
    }

    fn assert_oracle_accepts_command(wire: &[u8]) {
        use imap_codec::CommandCodec;
        use imap_codec::decode::Decoder;
        match CommandCodec::default().decode(wire) {
            Ok((rest, _)) => assert!(rest.is_empty(), "imap-codec leaves {rest:?}"),
            Err(e) => panic!(
                "imap-codec rejects {:?}: {e:?}",
                String::from_utf8_lossy(wire)
            ),
        }
    }

    fn with(f: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out);
        out
    }

    fn date(
        y: i32,
        mo: u32,
        d: u32,
        h: u32,
        mi: u32,
        s: u32,
        off_min: i32,
    ) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(off_min * 60)
            .expect("valid offset")
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid date")
    }

    fn status(tag_: Option<&str>, kind: StatusKind, code: Option<Code>, text: &str) -> Response {
        Response::Status(StatusResponse {
            tag: tag_.map(tag),
            kind,
            code,
            text: text.into(),
        })
    }

    #[test]
    fn status_responses() {
        let cases = [
            (
                status(None, StatusKind::Ok, None, "IMAP4rev1 ready"),
                "* OK IMAP4rev1 ready\r\n",
            ),
            (
                status(Some("a1"), StatusKind::No, None, "no such mailbox"),
                "a1 NO no such mailbox\r\n",
            ),
            (
                status(Some("a2"), StatusKind::Bad, None, "what?"),
                "a2 BAD what?\r\n",
            ),
            (
                status(None, StatusKind::Bye, None, "Logging out"),
                "* BYE Logging out\r\n",
            ),
            (
                status(None, StatusKind::PreAuth, None, "Hi"),
                "* PREAUTH Hi\r\n",
            ),
            (
                status(
                    Some("a3"),
                    StatusKind::Ok,
                    Some(Code::ReadWrite),
                    "SELECT completed",
                ),
                "a3 OK [READ-WRITE] SELECT completed\r\n",
            ),
            // CR, LF and NUL become spaces; non-ASCII becomes `?`.
            (
                status(None, StatusKind::Ok, None, "a\r\nb\0c é"),
                "* OK a  b c ?\r\n",
            ),
            // Empty text: a filler per kind.
            (
                status(Some("t"), StatusKind::Ok, None, ""),
                "t OK Completed\r\n",
            ),
            (
                status(Some("t"), StatusKind::No, None, ""),
                "t NO Failed\r\n",
            ),
            (
                status(Some("t"), StatusKind::Bad, None, ""),
                "t BAD Rejected\r\n",
            ),
            (
                status(None, StatusKind::PreAuth, None, ""),
                "* PREAUTH Logged in\r\n",
            ),
            (status(None, StatusKind::Bye, None, ""), "* BYE Closing\r\n"),
            (
                status(None, StatusKind::Ok, Some(Code::UidNext(5)), ""),
                "* OK [UIDNEXT 5] Completed\r\n",
            ),
        ];
        for (r, wire) in cases {
            assert_eq!(response(r), wire);
        }
    }

    #[test]
    fn every_code() {
        let cases = [
            (Code::Alert, "ALERT"),
            (Code::BadCharset(vec![]), "BADCHARSET"),
            (
                Code::BadCharset(vec!["UTF-8".into(), "US-ASCII".into()]),
                "BADCHARSET (UTF-8 US-ASCII)",
            ),
            (
                Code::BadCharset(vec!["a]b".into(), "".into()]),
                "BADCHARSET (\"a]b\" \"\")",
            ),
            (
                Code::Capability(vec![
                    "IMAP4rev1".into(),
                    "LITERAL+".into(),
                    "AUTH=PLAIN".into(),
                ]),
                "CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN",
            ),
            (Code::Parse, "PARSE"),
            (
                Code::PermanentFlags(vec![
                    FlagPerm::Flag(Flag::Answered),
                    FlagPerm::Flag(Flag::Flagged),
                    FlagPerm::Flag(Flag::Deleted),
                    FlagPerm::Flag(Flag::Seen),
                    FlagPerm::Flag(Flag::Draft),
                    FlagPerm::Flag(Flag::Keyword("$Forwarded".into())),
                    FlagPerm::Asterisk,
                ]),
                "PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)",
            ),
            (Code::PermanentFlags(vec![]), "PERMANENTFLAGS ()"),
            (Code::ReadOnly, "READ-ONLY"),
            (Code::ReadWrite, "READ-WRITE"),
            (Code::TryCreate, "TRYCREATE"),
            (Code::UidNext(4392), "UIDNEXT 4392"),
            (Code::UidValidity(3857529045), "UIDVALIDITY 3857529045"),
            (Code::Unseen(12), "UNSEEN 12"),
            (Code::Unavailable, "UNAVAILABLE"),
            (Code::AuthenticationFailed, "AUTHENTICATIONFAILED"),
            (Code::AuthorizationFailed, "AUTHORIZATIONFAILED"),
            (Code::Expired, "EXPIRED"),
            (Code::PrivacyRequired, "PRIVACYREQUIRED"),
            (Code::ContactAdmin, "CONTACTADMIN"),
            (Code::NoPerm, "NOPERM"),
            (Code::InUse, "INUSE"),
            (Code::ExpungeIssued, "EXPUNGEISSUED"),
            (Code::Corruption, "CORRUPTION"),
            (Code::ServerBug, "SERVERBUG"),
            (Code::ClientBug, "CLIENTBUG"),
            (Code::Cannot, "CANNOT"),
            (Code::Limit, "LIMIT"),
            (Code::OverQuota, "OVERQUOTA"),
            (Code::AlreadyExists, "ALREADYEXISTS"),
            (Code::NonExistent, "NONEXISTENT"),
            (Code::TooBig, "TOOBIG"),
            (Code::UseAttr, "USEATTR"),
            (Code::CompressionActive, "COMPRESSIONACTIVE"),
        ];
        for (code, wire) in cases {
            assert_eq!(
                response(status(Some("a"), StatusKind::No, Some(code), "x")),
                format!("a NO [{wire}] x\r\n")
            );
        }
    }

    /// RFC 5161 / RFC 7162 responses, which the oracle is built without.
    #[test]
    fn condstore_qresync_responses() {
        let wire = |r: Response| {
            let mut out = Vec::new();
            encode_response(&mut out, &r);
            String::from_utf8(out).expect("ASCII")
        };
        for (code, text) in [
            (
                Code::HighestModSeq(90060115205545359),
                "HIGHESTMODSEQ 90060115205545359",
            ),
            (Code::Modified(vec![7, 9, 10, 11]), "MODIFIED 7,9:11"),
            (Code::Closed, "CLOSED"),
        ] {
            assert_eq!(
                wire(status(None, StatusKind::Ok, Some(code), "x")),
                format!("* OK [{text}] x\r\n")
            );
        }
        let cases = [
            (
                Data::SearchModSeq {
                    hits: vec![2, 5],
                    modseq: 917162500,
                },
                "* SEARCH 2 5 (MODSEQ 917162500)\r\n",
            ),
            (
                Data::SearchModSeq {
                    hits: vec![],
                    modseq: 0,
                },
                "* SEARCH\r\n",
            ),
            (
                Data::Enabled(vec!["CONDSTORE".into(), "QRESYNC".into()]),
                "* ENABLED CONDSTORE QRESYNC\r\n",
            ),
            (Data::Enabled(vec![]), "* ENABLED\r\n"),
            (
                Data::Vanished {
                    earlier: true,
                    uids: vec![41, 43, 44, 45, 116],
                },
                "* VANISHED (EARLIER) 41,43:45,116\r\n",
            ),
            (
                Data::Vanished {
                    earlier: false,
                    uids: vec![405],
                },
                "* VANISHED 405\r\n",
            ),
            (
                Data::Fetch {
                    seq: NonZeroU32::new(50).expect("nz"),
                    items: vec![
                        MessageDataItem::Uid(NonZeroU32::new(8).expect("nz")),
                        MessageDataItem::ModSeq(12111230047),
                    ],
                },
                "* 50 FETCH (UID 8 MODSEQ (12111230047))\r\n",
            ),
        ];
        for (d, text) in cases {
            assert_eq!(wire(Response::Data(d)), text);
        }
    }

    #[test]
    fn continuation_requests() {
        let text = |code, text: &str| {
            Response::Continue(Continue::Text {
                code,
                text: text.into(),
            })
        };
        assert_eq!(
            response(text(None, "Ready for literal")),
            "+ Ready for literal\r\n"
        );
        assert_eq!(response(text(None, "")), "+ Ready\r\n");
        assert_eq!(response(text(Some(Code::Alert), "hm")), "+ [ALERT] hm\r\n");
        assert_eq!(
            response(Response::Continue(Continue::Base64(vec![]))),
            "+ \r\n"
        );
        assert_eq!(
            response(Response::Continue(Continue::Base64(
                b"<1896.697170952@postoffice>".to_vec()
            ))),
            "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+\r\n"
        );
    }

    #[test]
    fn data_responses() {
        let list = |name: &str, delimiter| Data::List {
            attributes: vec!["\\Noselect".into(), "\\HasChildren".into()],
            delimiter,
            name: name.into(),
            child_info: false,
        };
        let cases = [
            (
                Data::Capability(vec!["IMAP4rev1".into(), "STARTTLS".into()]),
                "* CAPABILITY IMAP4rev1 STARTTLS\r\n",
            ),
            (
                list("INBOX", Some('/')),
                "* LIST (\\Noselect \\HasChildren) \"/\" INBOX\r\n",
            ),
            (
                list("inbox", Some('.')),
                "* LIST (\\Noselect \\HasChildren) \".\" INBOX\r\n",
            ),
            (
                list("Sent Items", Some('"')),
                "* LIST (\\Noselect \\HasChildren) \"\\\"\" \"Sent Items\"\r\n",
            ),
            (
                list("a]b", Some('\\')),
                "* LIST (\\Noselect \\HasChildren) \"\\\\\" a]b\r\n",
            ),
            (
                list("NIL", None),
                "* LIST (\\Noselect \\HasChildren) NIL \"NIL\"\r\n",
            ),
            (
                list("", None),
                "* LIST (\\Noselect \\HasChildren) NIL \"\"\r\n",
            ),
            (
                Data::Lsub {
                    attributes: vec![],
                    delimiter: Some('/'),
                    name: "Lists/rust".into(),
                },
                "* LSUB () \"/\" Lists/rust\r\n",
            ),
            (
                // RFC 5258 §5 example 8, A2.
                Data::List {
                    attributes: vec!["\\NonExistent".into()],
                    delimiter: Some('/'),
                    name: "Foo".into(),
                    child_info: true,
                },
                "* LIST (\\NonExistent) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
            ),
            (
                Data::Status {
                    name: "blurdybloop".into(),
                    items: vec![(StatusItem::Messages, 231), (StatusItem::UidNext, 44292)],
                },
                "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
            ),
            (
                Data::Status {
                    name: "INBOX".into(),
                    items: vec![
                        (StatusItem::Recent, 1),
                        (StatusItem::UidValidity, 7),
                        (StatusItem::Unseen, 0),
                    ],
                },
                "* STATUS INBOX (RECENT 1 UIDVALIDITY 7 UNSEEN 0)\r\n",
            ),
            (Data::Search(vec![2, 3, 6]), "* SEARCH 2 3 6\r\n"),
            (Data::Search(vec![]), "* SEARCH\r\n"),
            (
                Data::Flags(vec![
                    Flag::Answered,
                    Flag::Flagged,
                    Flag::Deleted,
                    Flag::Seen,
                    Flag::Draft,
                    Flag::Keyword("Junk".into()),
                    Flag::Extension("Important".into()),
                ]),
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Junk \\Important)\r\n",
            ),
            (Data::Flags(vec![]), "* FLAGS ()\r\n"),
            (Data::Exists(23), "* 23 EXISTS\r\n"),
            (Data::Recent(0), "* 0 RECENT\r\n"),
            (Data::Expunge(nz(44)), "* 44 EXPUNGE\r\n"),
            (Data::Id(None), "* ID NIL\r\n"),
            (
                Data::Id(Some(vec![
                    ("name".into(), Some("Roost".into())),
                    ("version".into(), Some("0.1".into())),
                    ("os".into(), None),
                ])),
                "* ID (\"name\" \"Roost\" \"version\" \"0.1\" \"os\" NIL)\r\n",
            ),
            (Data::Id(Some(vec![])), "* ID ()\r\n"),
        ];
        for (d, wire) in cases {
            assert_eq!(response(Response::Data(d)), wire);
        }
    }

    #[test]
    fn fetch_with_every_item() {
        let items = vec![
            MessageDataItem::Flags(vec![FlagFetch::Flag(Flag::Seen), FlagFetch::Recent]),
            MessageDataItem::Uid(nz(4827313)),
            MessageDataItem::InternalDate(date(1996, 7, 7, 2, 44, 25, -7 * 60)),
            MessageDataItem::Rfc822Size(44827),
            MessageDataItem::Envelope(b"(NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL)".to_vec()),
            MessageDataItem::Body(b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1)".to_vec()),
            MessageDataItem::BodyStructure(
                b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1 NIL NIL NIL NIL)".to_vec(),
            ),
            MessageDataItem::BodySection {
                section: Section::default(),
                origin: None,
                data: Some(b"Hi\r\n".to_vec()),
            },
            MessageDataItem::BodySection {
                section: Section {
                    part: vec![nz(1), nz(2)],
                    text: Some(SectionText::HeaderFields(vec!["FROM".into(), "TO".into()])),
                },
                origin: Some(0),
                data: Some(b"abc".to_vec()),
            },
            MessageDataItem::BodySection {
                section: Section {
                    part: vec![nz(3)],
                    text: None,
                },
                origin: None,
                data: None,
            },
            MessageDataItem::Rfc822(Some(b"a\"b".to_vec())),
            MessageDataItem::Rfc822Header(None),
            MessageDataItem::Rfc822Text(Some(Vec::new())),
        ];
        assert_eq!(
            response(Response::Data(Data::Fetch { seq: nz(12), items })),
            "* 12 FETCH (FLAGS (\\Seen \\Recent) UID 4827313 \
             INTERNALDATE \" 7-Jul-1996 02:44:25 -0700\" RFC822.SIZE 44827 \
             ENVELOPE (NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL) \
             BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1) \
             BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1 NIL NIL NIL NIL) \
             BODY[] {4}\r\nHi\r\n \
             BODY[1.2.HEADER.FIELDS (FROM TO)]<0> \"abc\" BODY[3] NIL \
             RFC822 \"a\\\"b\" RFC822.HEADER NIL RFC822.TEXT \"\")\r\n"
        );
    }

    #[test]
    fn sections() {
        let s = |part: &[u32], text| Section {
            part: part.iter().map(|&n| nz(n)).collect(),
            text,
        };
        let cases = [
            (s(&[], None), ""),
            (s(&[], Some(SectionText::Header)), "HEADER"),
            (s(&[], Some(SectionText::Text)), "TEXT"),
            (s(&[1], None), "1"),
            (s(&[4, 2, 1], Some(SectionText::Mime)), "4.2.1.MIME"),
            (s(&[2], Some(SectionText::Text)), "2.TEXT"),
            (
                s(
                    &[],
                    Some(SectionText::HeaderFieldsNot(vec!["Received".into()])),
                ),
                "HEADER.FIELDS.NOT (Received)",
            ),
            (
                s(
                    &[],
                    Some(SectionText::HeaderFields(vec!["X]".into(), "NIL".into()])),
                ),
                "HEADER.FIELDS (\"X]\" \"NIL\")",
            ),
        ];
        for (section, wire) in cases {
            assert_eq!(with(|o| write_section(o, &section)), wire.as_bytes());
        }
    }

    #[test]
    fn internal_date_format() {
        let cases = [
            (
                date(1996, 7, 17, 2, 44, 25, -7 * 60),
                "\"17-Jul-1996 02:44:25 -0700\"",
            ),
            (
                date(2024, 1, 1, 0, 0, 0, 0),
                "\" 1-Jan-2024 00:00:00 +0000\"",
            ),
            (
                date(2023, 12, 9, 23, 59, 59, 5 * 60 + 30),
                "\" 9-Dec-2023 23:59:59 +0530\"",
            ),
            (
                date(2023, 2, 28, 12, 0, 7, -(9 * 60 + 30)),
                "\"28-Feb-2023 12:00:07 -0930\"",
            ),
            (
                date(33, 3, 10, 1, 2, 3, 0),
                "\"10-Mar-0033 01:02:03 +0000\"",
            ),
        ];
        for (d, wire) in cases {
            assert_eq!(with(|o| write_date_time(o, &d)), wire.as_bytes());
        }
    }

    #[test]
    fn string_choice() {
        // (bytes, astring, atom-or-string, string)
        let cases: [(&[u8], &str, &str, &str); 13] = [
            (b"", "\"\"", "\"\"", "\"\""),
            (b"INBOX", "INBOX", "INBOX", "\"INBOX\""),
            (b"NIL", "\"NIL\"", "\"NIL\"", "\"NIL\""),
            (b"nil", "\"nil\"", "\"nil\"", "\"nil\""),
            (b"a b", "\"a b\"", "\"a b\"", "\"a b\""),
            (b"a\"b", "\"a\\\"b\"", "\"a\\\"b\"", "\"a\\\"b\""),
            (b"a\\b", "\"a\\\\b\"", "\"a\\\\b\"", "\"a\\\\b\""),
            (b"a]b", "a]b", "\"a]b\"", "\"a]b\""),
            (b"(x)", "\"(x)\"", "\"(x)\"", "\"(x)\""),
            (b"a{3}", "\"a{3}\"", "\"a{3}\"", "\"a{3}\""),
            (b"a\r\nb", "{4}\r\na\r\nb", "{4}\r\na\r\nb", "{4}\r\na\r\nb"),
            (b"caf\xc3\xa9", "{5}\r\ncafé", "{5}\r\ncafé", "{5}\r\ncafé"),
            (b"a\0b", "{3}\r\na\0b", "{3}\r\na\0b", "{3}\r\na\0b"),
        ];
        for (s, astring, atom, string) in cases {
            let s_str = String::from_utf8_lossy(s);
            assert_eq!(
                with(|o| write_astring(o, s)),
                astring.as_bytes(),
                "astring {s_str:?}"
            );
            assert_eq!(
                with(|o| write_atom_or_string(o, s)),
                atom.as_bytes(),
                "atom {s_str:?}"
            );
            assert_eq!(
                with(|o| write_string(o, s)),
                string.as_bytes(),
                "string {s_str:?}"
            );
        }
        assert_eq!(with(|o| write_string(o, b"%*")), b"\"%*\"");
        assert_eq!(with(|o| write_astring(o, b"%")), b"\"%\"");
        // Long strings are literals even when safe.
        let long = vec![b'a'; QUOTED_MAX + 1];
        let mut expected = format!("{{{}}}\r\n", QUOTED_MAX + 1).into_bytes();
        expected.extend_from_slice(&long);
        assert_eq!(with(|o| write_string(o, &long)), expected);
        let max = vec![b' '; QUOTED_MAX];
        assert_eq!(with(|o| write_string(o, &max)).len(), QUOTED_MAX + 2);
        assert_eq!(with(|o| write_nstring(o, None)), b"NIL");
        assert_eq!(with(|o| write_nstring(o, Some(b"NIL"))), b"\"NIL\"");
    }

    /// `SEARCH (SEEN)` parses to a top-level `And` of one key; it used to
    /// be written back as `SEARCH SEEN`, which parses to `Seen`.
    #[test]
    fn search_with_one_parenthesised_key_round_trips() {
        use crate::imap::proto::parse::{ParseLimits, parse_command};
        let c = Command {
            tag: tag("A1"),
            body: CommandBody::Search {
                charset: None,
                criteria: SearchKey::And(vec![SearchKey::Seen]),
                uid: false,
            },
        };
        let wire = command(c.body.clone());
        assert_eq!(wire, b"A1 SEARCH (SEEN)\r\n");
        assert_eq!(parse_command(&wire, &ParseLimits::default()), Ok(c));
    }

    #[test]
    fn mailbox_names() {
        // Names that are their own modified UTF-7 form (no conversion).
        let cases = [
            ("INBOX", "INBOX"),
            ("iNbOx", "INBOX"),
            ("INBOX/Sub", "INBOX/Sub"),
            ("Sent Items", "\"Sent Items\""),
            ("[Gmail]/All", "[Gmail]/All"),
            ("50% off", "\"50% off\""),
            ("Nil", "\"Nil\""),
            ("a\"b", "\"a\\\"b\""),
            ("", "\"\""),
        ];
        for (name, wire) in cases {
            assert_eq!(
                with(|o| write_mailbox(o, name)),
                wire.as_bytes(),
                "{name:?}"
            );
        }
        assert!(matches!(wire_name("Sent"), Cow::Borrowed("Sent")));
    }

    #[test]
    fn fetch_data_is_never_quoted_unsafely() {
        for data in [&b"a\"b\\c"[..], b"\r\n", b"\0", b"\xff", b"{5}\r\n"] {
            let item = MessageDataItem::Rfc822(Some(data.to_vec()));
            let out = with(|o| write_message_data_item(o, &item));
            let value = &out[b"RFC822 ".len()..];
            if value.starts_with(b"\"") {
                let inner = &value[1..value.len() - 1];
                let mut escaped = false;
                for &b in inner {
                    assert!(escaped || (b != b'"'), "{out:?}");
                    escaped = !escaped && b == b'\\';
                    assert!(b != b'\r' && b != b'\n' && b != 0 && b < 0x80, "{out:?}");
                }
            } else {
                let mut expected = format!("{{{}}}\r\n", data.len()).into_bytes();
                expected.extend_from_slice(data);
                assert_eq!(value, expected);
            }
        }
    }

    fn set(ranges: &[(Option<u32>, Option<u32>)]) -> SequenceSet {
        let v = |n: Option<u32>| n.map_or(SeqOrUid::Asterisk, |n| SeqOrUid::Value(nz(n)));
        SequenceSet(
            ranges
                .iter()
                .map(|&(a, b)| SeqRange {
                    start: v(a),
                    end: v(b),
                })
                .collect(),
        )
    }

    fn mb(name: &str) -> Mailbox {
        Mailbox::from_utf8(name.into())
    }

    #[test]
    fn commands() {
        let all_keys = SearchKey::And(vec![
            SearchKey::All,
            SearchKey::Answered,
            SearchKey::Bcc(b"b c".to_vec()),
            SearchKey::Before(NaiveDate::from_ymd_opt(1994, 2, 1).expect("date")),
            SearchKey::Body(b"x".to_vec()),
            SearchKey::Cc(b"NIL".to_vec()),
            SearchKey::Deleted,
            SearchKey::Draft,
            SearchKey::Flagged,
            SearchKey::From(b"Smith".to_vec()),
            SearchKey::Header("Message-ID".into(), Vec::new()),
            SearchKey::Keyword("$Junk".into()),
            SearchKey::Larger(1000),
            SearchKey::New,
            SearchKey::Not(Box::new(SearchKey::And(vec![
                SearchKey::Seen,
                SearchKey::Old,
            ]))),
            SearchKey::Old,
            SearchKey::On(NaiveDate::from_ymd_opt(2020, 12, 31).expect("date")),
            SearchKey::Or(Box::new(SearchKey::Recent), Box::new(SearchKey::Seen)),
            SearchKey::Recent,
            SearchKey::Seen,
            SearchKey::SentBefore(NaiveDate::from_ymd_opt(2001, 1, 9).expect("date")),
            SearchKey::SentOn(NaiveDate::from_ymd_opt(2001, 1, 9).expect("date")),
            SearchKey::SentSince(NaiveDate::from_ymd_opt(2001, 1, 9).expect("date")),
            SearchKey::Since(NaiveDate::from_ymd_opt(2001, 1, 9).expect("date")),
            SearchKey::Smaller(5),
            SearchKey::Subject(b"caf\xc3\xa9".to_vec()),
            SearchKey::Text(b"a\"b".to_vec()),
            SearchKey::To(b"x".to_vec()),
            SearchKey::Uid(set(&[(Some(1), Some(5)), (Some(7), None)])),
            SearchKey::Unanswered,
            SearchKey::Undeleted,
            SearchKey::Undraft,
            SearchKey::Unflagged,
            SearchKey::Unkeyword("Work".into()),
            SearchKey::Unseen,
            SearchKey::SequenceSet(set(&[(None, None), (Some(2), Some(2))])),
        ]);
        let peek_header = FetchAttr::BodySection {
            peek: true,
            section: Section {
                part: vec![],
                text: Some(SectionText::HeaderFields(vec!["Subject".into()])),
            },
            partial: Some((0, nz(1024))),
        };
        let cases: Vec<(CommandBody, &[u8])> = vec![
            (CommandBody::Capability, b"A1 CAPABILITY\r\n"),
            (CommandBody::Noop, b"A1 NOOP\r\n"),
            (CommandBody::Logout, b"A1 LOGOUT\r\n"),
            (CommandBody::StartTls, b"A1 STARTTLS\r\n"),
            (
                CommandBody::Compress {
                    algorithm: "DEFLATE".into(),
                },
                b"A1 COMPRESS DEFLATE\r\n",
            ),
            (
                CommandBody::Authenticate {
                    mechanism: "PLAIN".into(),
                    initial_response: None,
                },
                b"A1 AUTHENTICATE PLAIN\r\n",
            ),
            (
                CommandBody::Authenticate {
                    mechanism: "PLAIN".into(),
                    initial_response: Some(InitialResponse::Data(Secret(b"\0u\0p".to_vec()))),
                },
                b"A1 AUTHENTICATE PLAIN AHUAcA==\r\n",
            ),
            (
                CommandBody::Authenticate {
                    mechanism: "EXTERNAL".into(),
                    initial_response: Some(InitialResponse::Empty),
                },
                b"A1 AUTHENTICATE EXTERNAL =\r\n",
            ),
            (
                CommandBody::Login {
                    username: b"fred".to_vec(),
                    password: Secret(b"pw".to_vec()),
                },
                b"A1 LOGIN fred \"pw\"\r\n",
            ),
            (
                CommandBody::Login {
                    username: b"f red".to_vec(),
                    password: Secret(b"p\xc3\xa9\r\n".to_vec()),
                },
                b"A1 LOGIN \"f red\" {5}\r\np\xc3\xa9\r\n\r\n",
            ),
            (
                CommandBody::Select {
                    params: Default::default(),
                    mailbox: mb("inbox"),
                },
                b"A1 SELECT INBOX\r\n",
            ),
            (
                CommandBody::Examine {
                    params: Default::default(),
                    mailbox: mb("Sent"),
                },
                b"A1 EXAMINE Sent\r\n",
            ),
            (
                CommandBody::Create {
                    mailbox: mb("a b"),
                    special_use: vec![],
                },
                b"A1 CREATE \"a b\"\r\n",
            ),
            (
                CommandBody::Create {
                    mailbox: mb("MySpecial"),
                    special_use: vec![UseAttr::Drafts, UseAttr::Extension("Xy".into())],
                },
                b"A1 CREATE MySpecial (USE (\\Drafts \\Xy))\r\n",
            ),
            (
                CommandBody::Delete { mailbox: mb("NIL") },
                b"A1 DELETE \"NIL\"\r\n",
            ),
            (
                CommandBody::Rename {
                    from: mb("a"),
                    to: mb("b/c"),
                },
                b"A1 RENAME a b/c\r\n",
            ),
            (
                CommandBody::Subscribe { mailbox: mb("x") },
                b"A1 SUBSCRIBE x\r\n",
            ),
            (
                CommandBody::Unsubscribe { mailbox: mb("x") },
                b"A1 UNSUBSCRIBE x\r\n",
            ),
            (
                CommandBody::List {
                    reference: "".into(),
                    pattern: "%".into(),
                },
                b"A1 LIST \"\" %\r\n",
            ),
            (
                CommandBody::Lsub {
                    reference: "#news.".into(),
                    pattern: "comp.*".into(),
                },
                b"A1 LSUB #news. comp.*\r\n",
            ),
            (
                CommandBody::List {
                    reference: "a b".into(),
                    pattern: "x y*".into(),
                },
                b"A1 LIST \"a b\" \"x y*\"\r\n",
            ),
            (
                CommandBody::ListExtended {
                    select: ListSelect::default(),
                    reference: "".into(),
                    patterns: vec!["".into()],
                    returns: ListReturn::default(),
                },
                b"A1 LIST () \"\" (\"\") RETURN ()\r\n",
            ),
            (
                CommandBody::ListExtended {
                    select: ListSelect {
                        subscribed: true,
                        remote: true,
                        recursive_match: true,
                        special_use: true,
                    },
                    reference: "a".into(),
                    patterns: vec!["INBOX".into(), "x y/%".into()],
                    returns: ListReturn {
                        subscribed: true,
                        children: true,
                        special_use: true,
                        status: Some(vec![StatusItem::Messages, StatusItem::Unseen]),
                    },
                },
                b"A1 LIST (SUBSCRIBED REMOTE RECURSIVEMATCH SPECIAL-USE) a (INBOX \"x y/%\") RETURN (SUBSCRIBED CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n",
            ),
            (
                CommandBody::Status {
                    mailbox: mb("INBOX"),
                    items: vec![
                        StatusItem::Messages,
                        StatusItem::Recent,
                        StatusItem::UidNext,
                        StatusItem::UidValidity,
                        StatusItem::Unseen,
                    ],
                },
                b"A1 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\r\n",
            ),
            (
                CommandBody::Append {
                    mailbox: mb("INBOX"),
                    flags: vec![],
                    date: None,
                    message: b"Hi".to_vec(),
                },
                b"A1 APPEND INBOX {2}\r\nHi\r\n",
            ),
            (
                CommandBody::Append {
                    mailbox: mb("saved"),
                    flags: vec![Flag::Seen, Flag::Keyword("x".into())],
                    date: Some(date(1994, 2, 7, 21, 52, 25, -8 * 60)),
                    message: b"a\r\n".to_vec(),
                },
                b"A1 APPEND saved (\\Seen x) \" 7-Feb-1994 21:52:25 -0800\" {3}\r\na\r\n\r\n",
            ),
            (CommandBody::Check, b"A1 CHECK\r\n"),
            (CommandBody::Close, b"A1 CLOSE\r\n"),
            (CommandBody::Expunge, b"A1 EXPUNGE\r\n"),
            (
                CommandBody::Search {
                    charset: None,
                    criteria: SearchKey::Unseen,
                    uid: false,
                },
                b"A1 SEARCH UNSEEN\r\n",
            ),
            (
                CommandBody::Search {
                    charset: Some("UTF-8".into()),
                    criteria: SearchKey::Subject(b"caf\xc3\xa9".to_vec()),
                    uid: true,
                },
                b"A1 UID SEARCH CHARSET UTF-8 SUBJECT {5}\r\ncaf\xc3\xa9\r\n",
            ),
            (
                CommandBody::Search {
                    charset: None,
                    criteria: all_keys,
                    uid: false,
                },
                b"A1 SEARCH ALL ANSWERED BCC \"b c\" BEFORE 1-Feb-1994 BODY x CC \"NIL\" DELETED \
                  DRAFT FLAGGED FROM Smith HEADER Message-ID \"\" KEYWORD $Junk LARGER 1000 NEW \
                  NOT (SEEN OLD) OLD ON 31-Dec-2020 OR RECENT SEEN RECENT SEEN \
                  SENTBEFORE 9-Jan-2001 SENTON 9-Jan-2001 SENTSINCE 9-Jan-2001 SINCE 9-Jan-2001 \
                  SMALLER 5 SUBJECT {5}\r\ncaf\xc3\xa9 TEXT \"a\\\"b\" TO x UID 1:5,7:* UNANSWERED \
                  UNDELETED UNDRAFT UNFLAGGED UNKEYWORD Work UNSEEN *,2\r\n",
            ),
            (
                CommandBody::Fetch {
                    modifiers: Default::default(),
                    sequence_set: set(&[(Some(1), None)]),
                    items: FetchItems::All,
                    uid: false,
                },
                b"A1 FETCH 1:* ALL\r\n",
            ),
            (
                CommandBody::Fetch {
                    modifiers: Default::default(),
                    sequence_set: set(&[(Some(2), Some(4))]),
                    items: FetchItems::Fast,
                    uid: true,
                },
                b"A1 UID FETCH 2:4 FAST\r\n",
            ),
            (
                CommandBody::Fetch {
                    modifiers: Default::default(),
                    sequence_set: set(&[(Some(3), Some(3))]),
                    items: FetchItems::Full,
                    uid: false,
                },
                b"A1 FETCH 3 FULL\r\n",
            ),
            (
                CommandBody::Fetch {
                    modifiers: Default::default(),
                    sequence_set: set(&[(Some(1), Some(1))]),
                    items: FetchItems::Attributes(vec![peek_header.clone()]),
                    uid: false,
                },
                b"A1 FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject)]<0.1024>\r\n",
            ),
            (
                CommandBody::Fetch {
                    modifiers: Default::default(),
                    sequence_set: set(&[(None, Some(4)), (Some(9), Some(9))]),
                    items: FetchItems::Attributes(vec![
                        FetchAttr::Envelope,
                        FetchAttr::Flags,
                        FetchAttr::InternalDate,
                        FetchAttr::Rfc822,
                        FetchAttr::Rfc822Header,
                        FetchAttr::Rfc822Size,
                        FetchAttr::Rfc822Text,
                        FetchAttr::Body,
                        FetchAttr::BodyStructure,
                        FetchAttr::Uid,
                        FetchAttr::BodySection {
                            peek: false,
                            section: Section::default(),
                            partial: None,
                        },
                        peek_header,
                    ]),
                    uid: false,
                },
                b"A1 FETCH *:4,9 (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE \
                  RFC822.TEXT BODY BODYSTRUCTURE UID BODY[] \
                  BODY.PEEK[HEADER.FIELDS (Subject)]<0.1024>)\r\n",
            ),
            (
                CommandBody::Store {
                    unchanged_since: None,
                    sequence_set: set(&[(Some(2), Some(4))]),
                    kind: StoreKind::Add,
                    silent: true,
                    flags: vec![Flag::Deleted],
                    uid: false,
                },
                b"A1 STORE 2:4 +FLAGS.SILENT (\\Deleted)\r\n",
            ),
            (
                CommandBody::Store {
                    unchanged_since: None,
                    sequence_set: set(&[(Some(1), Some(1))]),
                    kind: StoreKind::Remove,
                    silent: false,
                    flags: vec![Flag::Extension("X".into()), Flag::Answered],
                    uid: true,
                },
                b"A1 UID STORE 1 -FLAGS (\\X \\Answered)\r\n",
            ),
            (
                CommandBody::Store {
                    unchanged_since: None,
                    sequence_set: set(&[(Some(1), Some(1))]),
                    kind: StoreKind::Replace,
                    silent: false,
                    flags: vec![],
                    uid: false,
                },
                b"A1 STORE 1 FLAGS ()\r\n",
            ),
            (
                CommandBody::Copy {
                    sequence_set: set(&[(Some(2), Some(4))]),
                    mailbox: mb("MEETING"),
                    uid: false,
                },
                b"A1 COPY 2:4 MEETING\r\n",
            ),
            (
                CommandBody::Copy {
                    sequence_set: set(&[(Some(5), Some(5))]),
                    mailbox: mb("Inbox"),
                    uid: true,
                },
                b"A1 UID COPY 5 INBOX\r\n",
            ),
            (CommandBody::Id { parameters: None }, b"A1 ID NIL\r\n"),
            (
                CommandBody::Id {
                    parameters: Some(vec![
                        ("name".into(), Some("sodr".into())),
                        ("x".into(), None),
                    ]),
                },
                b"A1 ID (\"name\" \"sodr\" \"x\" NIL)\r\n",
            ),
        ];
        for (body, wire) in cases {
            let name = body.name();
            assert_eq!(
                String::from_utf8_lossy(&command(body)),
                String::from_utf8_lossy(wire),
                "{name}"
            );
        }
    }
}
