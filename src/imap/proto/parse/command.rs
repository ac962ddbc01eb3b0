//! The command line itself (RFC 3501 §9 `command`): the tag, the command
//! name, the dispatch to each command's arguments, and the final CRLF.
//! Also the arguments that do not name mailboxes: AUTHENTICATE, LOGIN,
//! SEARCH, FETCH, STORE, COPY (via `mailbox`) and ID (RFC 2971).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nom::Parser;
use nom::bytes::complete::take_while1;
use nom::error::context;

use super::super::types::{CommandBody, InitialResponse, Secret, StoreKind, Tag, is_atom_char};
use super::core::{
    Res, astring, atom, crlf, failure, flag, flag_list, kw, mailbox, nstring, paren_list, sp,
    sp_list, string, utf8,
};
use super::fetch::fetch_items;
use super::mailbox::{append, list, one_mailbox, rename, status};
use super::search::search_args;
use super::sequence::sequence_set;
use super::{ParseErrorKind, ParseLimits};

/// `tag = 1*<any ASTRING-CHAR except "+">`, read as everything up to the
/// first SP (or CR, LF, end): that is what the client will look for in
/// our answer, so a tag is only reported when all of it is valid.
pub(crate) fn tag(i: &[u8]) -> Option<(&[u8], Tag)> {
    let end = i
        .iter()
        .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(i.len());
    let (raw, rest) = i.split_at(end);
    let tag = Tag::new(std::str::from_utf8(raw).ok()?)?;
    Some((rest, tag))
}

/// `SP command-name arguments CRLF`, after the tag, with nothing after the
/// CRLF.
pub(crate) fn command_body<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, name) = context("expected a command name", take_while1(is_atom_char)).parse(i)?;
    let (i, body) = match name.to_ascii_uppercase().as_slice() {
        // RFC 3501 §6.1: any state
        b"CAPABILITY" => (i, CommandBody::Capability),
        b"NOOP" => (i, CommandBody::Noop),
        b"LOGOUT" => (i, CommandBody::Logout),
        // §6.2: not authenticated
        b"STARTTLS" => (i, CommandBody::StartTls),
        b"AUTHENTICATE" => authenticate(i)?,
        b"LOGIN" => login(i)?,
        // §6.3: authenticated
        b"SELECT" => one_mailbox(i, |mailbox| CommandBody::Select { mailbox })?,
        b"EXAMINE" => one_mailbox(i, |mailbox| CommandBody::Examine { mailbox })?,
        b"CREATE" => one_mailbox(i, |mailbox| CommandBody::Create { mailbox })?,
        b"DELETE" => one_mailbox(i, |mailbox| CommandBody::Delete { mailbox })?,
        b"RENAME" => rename(i)?,
        b"SUBSCRIBE" => one_mailbox(i, |mailbox| CommandBody::Subscribe { mailbox })?,
        b"UNSUBSCRIBE" => one_mailbox(i, |mailbox| CommandBody::Unsubscribe { mailbox })?,
        b"LIST" => list(i, false)?,
        b"LSUB" => list(i, true)?,
        b"STATUS" => status(i, lim)?,
        b"APPEND" => append(i, lim)?,
        // §6.4: selected
        b"CHECK" => (i, CommandBody::Check),
        b"CLOSE" => (i, CommandBody::Close),
        b"EXPUNGE" => (i, CommandBody::Expunge),
        b"SEARCH" => search(i, lim, false)?,
        b"FETCH" => fetch(i, lim, false)?,
        b"STORE" => store(i, lim, false)?,
        b"COPY" => copy(i, lim, false)?,
        b"UID" => uid(i, lim)?,
        // RFC 2971
        b"ID" => id(i, lim)?,
        _ => return failure(ParseErrorKind::UnknownCommand),
    };
    let (i, _) = crlf(i)?;
    if !i.is_empty() {
        return failure(ParseErrorKind::Syntax("bytes after the end of the command"));
    }
    Ok((i, body))
}

/// `uid = "UID" SP (copy / fetch / search / store)`
fn uid<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, name) = context(
        "expected a command name after UID",
        take_while1(is_atom_char),
    )
    .parse(i)?;
    match name.to_ascii_uppercase().as_slice() {
        b"COPY" => copy(i, lim, true),
        b"FETCH" => fetch(i, lim, true),
        b"SEARCH" => search(i, lim, true),
        b"STORE" => store(i, lim, true),
        _ => failure(ParseErrorKind::UnknownCommand),
    }
}

/// `authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]`
/// (RFC 3501 §6.2.2, with RFC 4959's initial response).
fn authenticate(i: &[u8]) -> Res<'_, CommandBody> {
    let (i, (_, mechanism)) = (sp, context("expected a mechanism name", atom)).parse(i)?;
    let mechanism = mechanism.to_ascii_uppercase();
    let (i, initial_response) = match i.split_first() {
        Some((&b' ', after)) => {
            let (i, raw) = context(
                "expected an initial response",
                take_while1(|b: u8| b.is_ascii_graphic()),
            )
            .parse(after)?;
            if raw == b"=" {
                (i, Some(InitialResponse::Empty))
            } else {
                match STANDARD.decode(raw) {
                    Ok(data) => (i, Some(InitialResponse::Data(Secret(data)))),
                    Err(_) => return failure(ParseErrorKind::InvalidBase64),
                }
            }
        }
        _ => (i, None),
    };
    Ok((
        i,
        CommandBody::Authenticate {
            mechanism,
            initial_response,
        },
    ))
}

/// `login = "LOGIN" SP userid SP password`, both `astring`.
fn login(i: &[u8]) -> Res<'_, CommandBody> {
    let (i, (_, username, _, password)) = (sp, astring, sp, astring).parse(i)?;
    Ok((
        i,
        CommandBody::Login {
            username,
            password: Secret(password),
        },
    ))
}

/// `search = "SEARCH" [SP "CHARSET" SP astring] 1*(SP search-key)`
fn search<'a>(i: &'a [u8], lim: &ParseLimits, uid: bool) -> Res<'a, CommandBody> {
    let (i, (charset, criteria)) = search_args(i, lim)?;
    Ok((
        i,
        CommandBody::Search {
            charset,
            criteria,
            uid,
        },
    ))
}

/// `fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att
/// / "(" fetch-att *(SP fetch-att) ")")`
fn fetch<'a>(i: &'a [u8], lim: &ParseLimits, uid: bool) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, sequence_set) = sequence_set(i, lim)?;
    let (i, _) = sp(i)?;
    let (i, items) = fetch_items(i, lim)?;
    Ok((
        i,
        CommandBody::Fetch {
            sequence_set,
            items,
            uid,
        },
    ))
}

/// `store = "STORE" SP sequence-set SP store-att-flags`;
/// `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list /
/// (flag *(SP flag)))`
fn store<'a>(i: &'a [u8], lim: &ParseLimits, uid: bool) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, sequence_set) = sequence_set(i, lim)?;
    let (i, _) = sp(i)?;
    let (i, kind) = match i.split_first() {
        Some((&b'+', after)) => (after, StoreKind::Add),
        Some((&b'-', after)) => (after, StoreKind::Remove),
        _ => (i, StoreKind::Replace),
    };
    let (i, _) = context("expected FLAGS", kw("FLAGS")).parse(i)?;
    let (i, silent) = match kw(".SILENT").parse(i) {
        Ok((i, _)) => (i, true),
        Err(nom::Err::Error(_)) => (i, false),
        Err(e) => return Err(e),
    };
    let (i, _) = sp(i)?;
    let (i, flags) = if i.first() == Some(&b'(') {
        flag_list(i, lim)?
    } else {
        sp_list(i, lim, flag)?
    };
    Ok((
        i,
        CommandBody::Store {
            sequence_set,
            kind,
            silent,
            flags,
            uid,
        },
    ))
}

/// `copy = "COPY" SP sequence-set SP mailbox`
fn copy<'a>(i: &'a [u8], lim: &ParseLimits, uid: bool) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, sequence_set) = sequence_set(i, lim)?;
    let (i, _) = sp(i)?;
    let (i, mailbox) = mailbox(i)?;
    Ok((
        i,
        CommandBody::Copy {
            sequence_set,
            mailbox,
            uid,
        },
    ))
}

/// RFC 2971: `id = "ID" SP id-params-list`;
/// `id-params-list = "(" string SP nstring *(SP string SP nstring) ")" / nil`.
/// Names and values must be UTF-8; at most `max_params` pairs.
fn id<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    if i.first() != Some(&b'(') {
        let (i, _) = context("expected '(' or NIL", kw("NIL")).parse(i)?;
        return Ok((i, CommandBody::Id { parameters: None }));
    }
    let (i, pairs) = paren_list(i, lim, false, |j| {
        let (j, (name, _, value)) = (string, sp, nstring).parse(j)?;
        let name = utf8(name, "ID field name is not UTF-8")?;
        let value = match value {
            Some(v) => Some(utf8(v, "ID field value is not UTF-8")?),
            None => None,
        };
        Ok((j, (name, value)))
    })?;
    Ok((
        i,
        CommandBody::Id {
            parameters: Some(pairs),
        },
    ))
}
