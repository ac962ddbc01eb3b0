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
use chrono::{DateTime, Datelike, FixedOffset, Timelike};

use super::mutf7;
use super::response::{Code, Continue, Data, DataItemName, MessageDataItem, Response, StatusKind};
use super::types::{
    Flag, FlagFetch, FlagPerm, Section, SectionText, StatusItem, is_astring_char, is_atom_char,
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

mod command;
pub use command::encode_command;

#[cfg(test)]
mod tests;
