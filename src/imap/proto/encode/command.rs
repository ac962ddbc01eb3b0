//! Commands (client side): the wire form a client would send, for tests
//! and tools.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{Datelike, NaiveDate};

use super::super::types::{
    Command, CommandBody, FetchAttr, FetchItems, InitialResponse, ListReturn, ListSelect, Mailbox,
    SearchKey, SelectParams, SeqOrUid, SequenceSet, StoreKind, is_list_char,
};
use super::{
    is_bare, month_name, status_item, wire_name, write_astring, write_date_time, write_flag,
    write_id_params, write_list, write_num, write_section, write_string,
};

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
