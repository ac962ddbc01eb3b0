//! The command line itself (RFC 3501 §9 `command`): the tag, the command
//! name, the dispatch to each command's arguments, and the final CRLF.
//! Also the arguments that do not name mailboxes: AUTHENTICATE, LOGIN,
//! SEARCH, FETCH, STORE, COPY (via `mailbox`) and ID (RFC 2971).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nom::Parser;
use nom::bytes::complete::take_while1;
use nom::error::context;

use super::super::types::{
    CommandBody, FetchModifiers, InitialResponse, Secret, StoreKind, Tag, is_atom_char,
};
use super::core::{
    Res, astring, atom, crlf, failure, flag, flag_list, keyword_token, kw, mailbox, mod_sequence,
    nstring, paren_list, sp, sp_list, string, utf8,
};
use super::fetch::fetch_items;
use super::list::list;
use super::mailbox::{
    append, create, getquota, lsub, one_mailbox, rename, select, setquota, status,
};
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
        b"SELECT" => select(i, lim, false)?,
        b"EXAMINE" => select(i, lim, true)?,
        b"CREATE" => create(i, lim)?,
        b"DELETE" => one_mailbox(i, |mailbox| CommandBody::Delete { mailbox })?,
        b"RENAME" => rename(i)?,
        b"SUBSCRIBE" => one_mailbox(i, |mailbox| CommandBody::Subscribe { mailbox })?,
        b"UNSUBSCRIBE" => one_mailbox(i, |mailbox| CommandBody::Unsubscribe { mailbox })?,
        b"LIST" => list(i, lim)?,
        b"LSUB" => lsub(i)?,
        b"STATUS" => status(i, lim)?,
        b"APPEND" => append(i, lim)?,
        // §6.4: selected
        b"CHECK" => (i, CommandBody::Check),
        // RFC 2177, RFC 3691, RFC 2342
        b"IDLE" => (i, CommandBody::Idle),
        b"UNSELECT" => (i, CommandBody::Unselect),
        b"NAMESPACE" => (i, CommandBody::Namespace),
        b"CLOSE" => (i, CommandBody::Close),
        b"EXPUNGE" => (i, CommandBody::Expunge),
        b"SEARCH" => search(i, lim, false)?,
        b"FETCH" => fetch(i, lim, false)?,
        b"STORE" => store(i, lim, false)?,
        b"COPY" => copy(i, lim, false, false)?,
        b"UID" => uid(i, lim)?,
        // RFC 2971
        b"ID" => id(i, lim)?,
        // RFC 9208
        b"GETQUOTA" => getquota(i)?,
        b"GETQUOTAROOT" => one_mailbox(i, |mailbox| CommandBody::GetQuotaRoot { mailbox })?,
        b"SETQUOTA" => setquota(i, lim)?,
        // RFC 5161, RFC 6851
        b"ENABLE" => enable(i, lim)?,
        b"MOVE" => copy(i, lim, false, true)?,
        // RFC 4978: `compress = "COMPRESS" SP algorithm`, an atom.
        b"COMPRESS" => {
            let (i, (_, algorithm)) =
                (sp, context("expected a compression algorithm", atom)).parse(i)?;
            let algorithm = algorithm.to_ascii_uppercase();
            (i, CommandBody::Compress { algorithm })
        }
        _ => return failure(ParseErrorKind::UnknownCommand),
    };
    let (i, _) = crlf(i)?;
    if !i.is_empty() {
        return failure(ParseErrorKind::Syntax("bytes after the end of the command"));
    }
    Ok((i, body))
}

/// `uid = "UID" SP (copy / fetch / search / store / uid-expunge / move)`
/// (`uid-expunge` from RFC 4315 §4, `move` from RFC 6851 §5)
fn uid<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, name) = context(
        "expected a command name after UID",
        take_while1(is_atom_char),
    )
    .parse(i)?;
    match name.to_ascii_uppercase().as_slice() {
        b"COPY" => copy(i, lim, true, false),
        b"MOVE" => copy(i, lim, true, true),
        b"FETCH" => fetch(i, lim, true),
        b"SEARCH" => search(i, lim, true),
        b"STORE" => store(i, lim, true),
        b"EXPUNGE" => {
            let (i, _) = sp(i)?;
            let (i, sequence_set) = sequence_set(i, lim)?;
            Ok((i, CommandBody::UidExpunge { sequence_set }))
        }
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
/// / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]`
/// (modifiers: RFC 4466 §2.4, RFC 7162 §3.1.4 and §3.2.6)
fn fetch<'a>(i: &'a [u8], lim: &ParseLimits, uid: bool) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, sequence_set) = sequence_set(i, lim)?;
    let (i, _) = sp(i)?;
    let (i, items) = fetch_items(i, lim)?;
    let (i, modifiers) = match i.split_first() {
        Some((&b' ', after)) => fetch_modifiers(after, lim)?,
        _ => (i, FetchModifiers::default()),
    };
    Ok((
        i,
        CommandBody::Fetch {
            sequence_set,
            items,
            uid,
            modifiers,
        },
    ))
}

/// `fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"`;
/// `fetch-modifier =/ "CHANGEDSINCE" SP mod-sequence-value / "VANISHED"`.
/// Each at most once.
fn fetch_modifiers<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, FetchModifiers> {
    let mut m = FetchModifiers::default();
    let mut vanished_seen = false;
    let (i, _) = paren_list(i, lim, false, |j| {
        let (j, name) = keyword_token(j)?;
        match name.to_ascii_uppercase().as_slice() {
            b"CHANGEDSINCE" if m.changed_since.is_none() => {
                let (j, _) = sp(j)?;
                let (j, n) = mod_sequence(j)?;
                m.changed_since = Some(n);
                Ok((j, ()))
            }
            b"VANISHED" if !vanished_seen => {
                vanished_seen = true;
                Ok((j, ()))
            }
            _ => failure(ParseErrorKind::Syntax("unknown or repeated FETCH modifier")),
        }
    })?;
    m.vanished = vanished_seen;
    Ok((i, m))
}

/// `store = "STORE" SP sequence-set SP store-att-flags`;
/// `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list /
/// (flag *(SP flag)))`
/// With RFC 4466 `store-modifiers = SP "(" store-modifier *(SP
/// store-modifier) ")"` before the flags; RFC 7162 defines the one
/// modifier, `"UNCHANGEDSINCE" SP mod-sequence-valzer`.
fn store<'a>(i: &'a [u8], lim: &ParseLimits, uid: bool) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, sequence_set) = sequence_set(i, lim)?;
    let (i, _) = sp(i)?;
    let (i, unchanged_since) = if i.first() == Some(&b'(') {
        let mut since = None;
        let (i, _) = paren_list(i, lim, false, |j| {
            let (j, _) = context("expected UNCHANGEDSINCE", kw("UNCHANGEDSINCE")).parse(j)?;
            let (j, _) = sp(j)?;
            let (j, n) = mod_sequence(j)?;
            if since.replace(n).is_some() {
                return failure(ParseErrorKind::Syntax("UNCHANGEDSINCE given twice"));
            }
            Ok((j, ()))
        })?;
        let (i, _) = sp(i)?;
        (i, since)
    } else {
        (i, None)
    };
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
            unchanged_since,
        },
    ))
}

/// `copy = "COPY" SP sequence-set SP mailbox`, and RFC 6851's
/// `move = "MOVE" SP sequence-set SP mailbox` when `is_move`.
fn copy<'a>(i: &'a [u8], lim: &ParseLimits, uid: bool, is_move: bool) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, sequence_set) = sequence_set(i, lim)?;
    let (i, _) = sp(i)?;
    let (i, mailbox) = mailbox(i)?;
    let body = if is_move {
        CommandBody::Move {
            sequence_set,
            mailbox,
            uid,
        }
    } else {
        CommandBody::Copy {
            sequence_set,
            mailbox,
            uid,
        }
    };
    Ok((i, body))
}

/// RFC 5161: `enable = "ENABLE" 1*(SP capability)`; `capability = atom`.
fn enable<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, names) = sp_list(i, lim, atom)?;
    Ok((
        i,
        CommandBody::Enable {
            capabilities: names.into_iter().map(|n| n.to_ascii_uppercase()).collect(),
        },
    ))
}

/// RFC 2971: `id = "ID" SP id-params-list`;
/// `id-params-list = "(" [string SP nstring *(SP string SP nstring)] ")" / nil`.
/// RFC 2971 writes the list as `#(string SPACE nstring)`, which allows no
/// pairs at all: `ID ()` is what `encode` writes for an empty list (and
/// what imap-codec accepts). Names and values must be UTF-8; at most
/// `max_params` pairs.
fn id<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    if i.first() != Some(&b'(') {
        let (i, _) = context("expected '(' or NIL", kw("NIL")).parse(i)?;
        return Ok((i, CommandBody::Id { parameters: None }));
    }
    let (i, pairs) = paren_list(i, lim, true, |j| {
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

#[cfg(test)]
mod tests {
    use super::super::super::types::{
        FetchAttr, FetchItems, Flag, Mailbox, SearchKey, Section, SectionText, SeqOrUid, SeqRange,
        SequenceSet,
    };
    use super::super::{ParseError, parse_command};
    use super::*;
    use std::num::NonZeroU32;

    use super::super::testing::{body, error};

    fn set(ranges: &[(u32, u32)]) -> SequenceSet {
        let v = |n: u32| NonZeroU32::new(n).map_or(SeqOrUid::Asterisk, SeqOrUid::Value);
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

    #[test]
    fn tags() {
        for (input, tag) in [
            (&b"a NOOP\r\n"[..], "a"),
            (b"A001 NOOP\r\n", "A001"),
            (b"]x.1-! NOOP\r\n", "]x.1-!"),
            (b"tag$#&'/ NOOP\r\n", "tag$#&'/"),
        ] {
            assert_eq!(
                parse_command(input, &ParseLimits::default()).map(|c| c.tag),
                Ok(Tag::new(tag).unwrap())
            );
        }
        let invalid: &[&[u8]] = &[
            b"\r\n",
            b" NOOP\r\n",
            b"a+b NOOP\r\n",
            b"+ NOOP\r\n",
            b"a(b NOOP\r\n",
            b"a{1} NOOP\r\n",
            b"a\"b NOOP\r\n",
            b"a%b NOOP\r\n",
            b"a*b NOOP\r\n",
            b"a\\b NOOP\r\n",
            b"a\x00b NOOP\r\n",
            b"\x00 NOOP\r\n",
            b"t\xc3\xa9 NOOP\r\n",
            b"a\tb NOOP\r\n",
            b"",
        ];
        for input in invalid {
            assert_eq!(
                error(input),
                ParseError {
                    tag: None,
                    kind: ParseErrorKind::InvalidTag
                },
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn commands_without_arguments() {
        for (input, expected) in [
            (&b"a CAPABILITY\r\n"[..], CommandBody::Capability),
            (b"a capability\r\n", CommandBody::Capability),
            (b"a NOOP\r\n", CommandBody::Noop),
            (b"a LogOut\r\n", CommandBody::Logout),
            (b"a STARTTLS\r\n", CommandBody::StartTls),
            (b"a CHECK\r\n", CommandBody::Check),
            (b"a CLOSE\r\n", CommandBody::Close),
            (b"a EXPUNGE\r\n", CommandBody::Expunge),
        ] {
            assert_eq!(body(input), expected);
        }
        for input in [
            &b"a NOOP \r\n"[..],
            b"a NOOP x\r\n",
            b"a NOOP\r\n\r\n",
            b"a NOOP\r\nb NOOP\r\n",
            b"a NOOP\n",
        ] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn compress() {
        for (input, expected) in [
            (&b"a COMPRESS DEFLATE\r\n"[..], "DEFLATE"),
            (b"a compress deflate\r\n", "DEFLATE"),
            (b"a COMPRESS X-LZ4\r\n", "X-LZ4"),
        ] {
            assert_eq!(
                body(input),
                CommandBody::Compress {
                    algorithm: expected.into()
                }
            );
        }
        for input in [
            &b"a COMPRESS\r\n"[..],
            b"a COMPRESS \r\n",
            b"a COMPRESS DEFLATE x\r\n",
            b"a COMPRESS \"DEFLATE\"\r\n",
        ] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn authenticate() {
        let auth = |m: &str, ir: Option<InitialResponse>| CommandBody::Authenticate {
            mechanism: m.into(),
            initial_response: ir,
        };
        let data = |d: &[u8]| Some(InitialResponse::Data(Secret(d.to_vec())));
        for (input, expected) in [
            (&b"A001 AUTHENTICATE GSSAPI\r\n"[..], auth("GSSAPI", None)),
            (b"a authenticate plain\r\n", auth("PLAIN", None)),
            (b"a AUTHENTICATE X-OAUTH2.v1\r\n", auth("X-OAUTH2.V1", None)),
            (
                b"a AUTHENTICATE PLAIN =\r\n",
                auth("PLAIN", Some(InitialResponse::Empty)),
            ),
            (
                b"a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0\r\n",
                auth("PLAIN", data(b"\0fred\0secret")),
            ),
            (
                b"a AUTHENTICATE PLAIN AGE=\r\n",
                auth("PLAIN", data(b"\0a")),
            ),
            (b"a AUTHENTICATE PLAIN AA==\r\n", auth("PLAIN", data(b"\0"))),
        ] {
            assert_eq!(
                body(input),
                expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        for input in [
            &b"a AUTHENTICATE PLAIN AGE\r\n"[..],
            b"a AUTHENTICATE PLAIN AG!E\r\n",
            b"a AUTHENTICATE PLAIN ====\r\n",
            b"a AUTHENTICATE PLAIN AGE=AGE=\r\n",
            b"a AUTHENTICATE PLAIN AB==\r\n",
        ] {
            assert_eq!(
                error(input).kind,
                ParseErrorKind::InvalidBase64,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        for input in [
            &b"a AUTHENTICATE\r\n"[..],
            b"a AUTHENTICATE \r\n",
            b"a AUTHENTICATE PLAIN \r\n",
            b"a AUTHENTICATE PLAIN AGE= x\r\n",
            b"a AUTHENTICATE \"PLAIN\"\r\n",
        ] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        // The secret never shows in Debug output.
        assert!(
            !format!("{:?}", body(b"a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0\r\n")).contains("secret")
        );
    }

    #[test]
    fn login() {
        let login = |u: &[u8], p: &[u8]| CommandBody::Login {
            username: u.to_vec(),
            password: Secret(p.to_vec()),
        };
        for (input, expected) in [
            (
                &b"a001 LOGIN SMITH SESAME\r\n"[..],
                login(b"SMITH", b"SESAME"),
            ),
            (
                b"a LOGIN \"joe\" \"p a\\\"ss\"\r\n",
                login(b"joe", b"p a\"ss"),
            ),
            (
                b"A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n",
                login(b"FRED FOOBAR", b"fat man"),
            ),
            (
                b"a LOGIN {3+}\r\nj\xc3\xa9 {0+}\r\n\r\n",
                login(b"j\xc3\xa9", b""),
            ),
            (b"a LOGIN \"\" \"\"\r\n", login(b"", b"")),
            (b"a LOGIN user]x pass]\r\n", login(b"user]x", b"pass]")),
        ] {
            assert_eq!(
                body(input),
                expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert!(!format!("{:?}", body(b"a LOGIN u hunter2\r\n")).contains("hunter2"));
        for input in [
            &b"a LOGIN\r\n"[..],
            b"a LOGIN u\r\n",
            b"a LOGIN u p x\r\n",
            b"a LOGIN u  p\r\n",
            b"a LOGIN (u) p\r\n",
            b"a LOGIN u \"p\r\n",
            b"a LOGIN u p\x00\r\n",
        ] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn search_fetch_store_copy_and_uid() {
        assert_eq!(
            body(b"A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n"),
            CommandBody::Search {
                charset: None,
                criteria: SearchKey::And(vec![
                    SearchKey::Flagged,
                    SearchKey::Since(chrono::NaiveDate::from_ymd_opt(1994, 2, 1).unwrap()),
                    SearchKey::Not(Box::new(SearchKey::From(b"Smith".to_vec()))),
                ]),
                uid: false,
            }
        );
        assert_eq!(
            body(b"A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n"),
            CommandBody::Search {
                charset: Some("UTF-8".into()),
                criteria: SearchKey::Text(b"XXXXXX".to_vec()),
                uid: false
            }
        );
        assert_eq!(
            body(b"a UID SEARCH UID 1:* UNSEEN\r\n"),
            CommandBody::Search {
                charset: None,
                criteria: SearchKey::And(vec![SearchKey::Uid(set(&[(1, 0)])), SearchKey::Unseen]),
                uid: true
            }
        );
        assert_eq!(
            body(b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n"),
            CommandBody::Fetch {
                modifiers: Default::default(),
                sequence_set: set(&[(2, 4)]),
                items: FetchItems::Attributes(vec![
                    FetchAttr::Flags,
                    FetchAttr::BodySection {
                        peek: false,
                        section: Section {
                            part: vec![],
                            text: Some(SectionText::HeaderFields(vec![
                                "DATE".into(),
                                "FROM".into()
                            ]))
                        },
                        partial: None
                    }
                ]),
                uid: false
            }
        );
        assert_eq!(
            body(b"A999 UID FETCH 4827313:4828442 FLAGS\r\n"),
            CommandBody::Fetch {
                modifiers: Default::default(),
                sequence_set: set(&[(4827313, 4828442)]),
                items: FetchItems::Attributes(vec![FetchAttr::Flags]),
                uid: true
            }
        );
        assert_eq!(
            body(b"a uid fetch 1:* fast\r\n"),
            CommandBody::Fetch {
                modifiers: Default::default(),
                sequence_set: set(&[(1, 0)]),
                items: FetchItems::Fast,
                uid: true
            }
        );
        let store = |kind, silent, flags: Vec<Flag>, uid| CommandBody::Store {
            unchanged_since: None,
            sequence_set: set(&[(2, 4)]),
            kind,
            silent,
            flags,
            uid,
        };
        for (input, expected) in [
            (
                &b"A003 STORE 2:4 +FLAGS (\\Deleted)\r\n"[..],
                store(StoreKind::Add, false, vec![Flag::Deleted], false),
            ),
            (
                b"a STORE 2:4 -FLAGS.SILENT \\Seen $Junk\r\n",
                store(
                    StoreKind::Remove,
                    true,
                    vec![Flag::Seen, Flag::Keyword("$Junk".into())],
                    false,
                ),
            ),
            (
                b"a STORE 2:4 FLAGS ()\r\n",
                store(StoreKind::Replace, false, vec![], false),
            ),
            (
                b"a uid store 2:4 flags.silent (\\draft \\X)\r\n",
                store(
                    StoreKind::Replace,
                    true,
                    vec![Flag::Draft, Flag::Extension("X".into())],
                    true,
                ),
            ),
            (
                b"a STORE 2:4 +flags \\Flagged\r\n",
                store(StoreKind::Add, false, vec![Flag::Flagged], false),
            ),
        ] {
            assert_eq!(
                body(input),
                expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        for input in [
            &b"a STORE 2:4 +FLAGS (\\Recent)\r\n"[..],
            b"a STORE 2:4 +FLAGS \\Recent\r\n",
            b"a STORE 2:4 +FLAGS (\\*)\r\n",
            b"a STORE 2:4 +FLAGS\r\n",
            b"a STORE 2:4 *FLAGS (\\Seen)\r\n",
            b"a STORE 2:4 FLAGS.LOUD (\\Seen)\r\n",
            b"a STORE 2:4 +FLAGS (\\Seen\r\n",
            b"a STORE 2:4 +FLAGS \\Seen \r\n",
            b"a STORE 0 +FLAGS \\Seen\r\n",
            b"a STORE 2:4 \\Seen\r\n",
        ] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            body(b"A003 COPY 2:4 MEETING\r\n"),
            CommandBody::Copy {
                sequence_set: set(&[(2, 4)]),
                mailbox: Mailbox::Other("MEETING".into()),
                uid: false
            }
        );
        assert_eq!(
            body(b"a UID COPY 1,3:* inbox\r\n"),
            CommandBody::Copy {
                sequence_set: set(&[(1, 1), (3, 0)]),
                mailbox: Mailbox::Inbox,
                uid: true
            }
        );
        assert_eq!(body(b"a UID COPY 1 x\r\n").name(), "UID COPY");
    }

    #[test]
    fn id() {
        assert_eq!(body(b"a ID NIL\r\n"), CommandBody::Id { parameters: None });
        assert_eq!(body(b"a id nil\r\n"), CommandBody::Id { parameters: None });
        assert_eq!(
            body(b"a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")\r\n"),
            CommandBody::Id {
                parameters: Some(vec![
                    ("name".into(), Some("sodr".into())),
                    ("version".into(), Some("19.34".into())),
                    ("vendor".into(), Some("Pink Floyd Music Limited".into())),
                ])
            }
        );
        assert_eq!(
            body(b"a ID (\"os\" NIL {4}\r\nn\xc3\xa9e \"caf\xc3\xa9\")\r\n"),
            CommandBody::Id {
                parameters: Some(vec![
                    ("os".into(), None),
                    ("n\u{e9}e".into(), Some("caf\u{e9}".into()))
                ])
            }
        );
        for input in [
            &b"a ID\r\n"[..],
            b"a ID (\"name\")\r\n",
            b"a ID (name \"x\")\r\n",
            b"a ID (NIL \"x\")\r\n",
            b"a ID (\"name\" \"x\"\r\n",
            b"a ID (\"name\" \"x\" )\r\n",
            b"a ID (\"name\" \"\xff\")\r\n",
            b"a ID (\"\xc3\" NIL)\r\n",
            b"a ID NILL\r\n",
        ] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let small = ParseLimits {
            max_depth: 32,
            max_params: 2,
        };
        assert!(parse_command(b"a ID (\"a\" NIL \"b\" NIL)\r\n", &small).is_ok());
        assert_eq!(
            parse_command(b"a ID (\"a\" NIL \"b\" NIL \"c\" NIL)\r\n", &small).map_err(|e| e.kind),
            Err(ParseErrorKind::TooManyParams)
        );
    }

    /// `ID ()` is an empty parameter list, as `encode_command` writes
    /// `Id { parameters: Some(vec![]) }`; it used to be refused, so that
    /// value did not survive a round trip.
    #[test]
    fn id_with_no_parameters() {
        assert_eq!(
            body(b"a ID ()\r\n"),
            CommandBody::Id {
                parameters: Some(vec![])
            }
        );
        for input in [&b"a ID ( )\r\n"[..], b"a ID (\r\n", b"a ID ())\r\n"] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn unknown_commands_keep_the_tag() {
        for input in [
            &b"A442 XPIG-LATIN\r\n"[..],
            b"a FOO bar\r\n",
            b"a UID NOOP\r\n",
            b"a NOOPX\r\n",
            b"a NOOP.X\r\n",
        ] {
            let e = error(input);
            assert_eq!(
                e.kind,
                ParseErrorKind::UnknownCommand,
                "{:?}",
                String::from_utf8_lossy(input)
            );
            assert!(e.tag.is_some());
        }
        // A valid tag and no command: a syntax error that still has the tag.
        for input in [
            &b"a\r\n"[..],
            b"a \r\n",
            b"a (\r\n",
            b"a UID\r\n",
            b"a UID \r\n",
            b"a",
        ] {
            let e = error(input);
            assert_eq!(e.tag, Some(Tag::new("a").unwrap()), "{input:?}");
            assert!(matches!(e.kind, ParseErrorKind::Syntax(_)), "{input:?}");
        }
    }
}
