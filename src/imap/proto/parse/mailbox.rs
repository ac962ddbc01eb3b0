//! Arguments of the commands that name mailboxes (RFC 3501 §6.3, COPY in
//! §6.4.7): SELECT, EXAMINE, CREATE (with RFC 6154's USE), DELETE, RENAME,
//! SUBSCRIBE, UNSUBSCRIBE, LSUB, STATUS and APPEND; LIST is in `list`. Each
//! parser starts at the SP after the command name and stops before the
//! CRLF.

use nom::Parser;

use super::super::types::{
    CommandBody, QResync, SelectParams, SeqOrUid, SequenceSet, StatusItem, UseAttr,
};
use nom::bytes::complete::take_while1;

use super::core::{
    Res, astring, atom, failure, flag_list, keyword_token, list_mailbox, mailbox, mailbox_name,
    message_literal, mod_sequence, number64, nz_number, paren_list, sp, utf8,
};
use super::datetime::date_time;
use super::sequence::sequence_set;
use super::{ParseErrorKind, ParseLimits};

/// `SP mailbox`, for SELECT, EXAMINE, CREATE, DELETE, SUBSCRIBE and
/// UNSUBSCRIBE, built into the command by `make`.
pub(crate) fn one_mailbox<'a>(
    i: &'a [u8],
    make: fn(super::super::types::Mailbox) -> CommandBody,
) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    mailbox.map(make).parse(i)
}

/// `select = "SELECT" SP mailbox [select-params]` (RFC 4466 §2.4), EXAMINE
/// alike; `select-params = SP "(" select-param *(SP select-param) ")"`
/// with RFC 7162's CONDSTORE and QRESYNC, each at most once.
pub(crate) fn select<'a>(i: &'a [u8], lim: &ParseLimits, examine: bool) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, mailbox) = mailbox(i)?;
    let mut params = SelectParams::default();
    let i = match i.split_first() {
        Some((&b' ', after)) => {
            let (i, _) = paren_list(after, lim, false, |j| {
                let (j, name) = keyword_token(j)?;
                match name.to_ascii_uppercase().as_slice() {
                    b"CONDSTORE" if !params.condstore => {
                        params.condstore = true;
                        Ok((j, ()))
                    }
                    b"QRESYNC" if params.qresync.is_none() => {
                        let (j, _) = sp(j)?;
                        let (j, q) = qresync(j, lim)?;
                        params.qresync = Some(q);
                        Ok((j, ()))
                    }
                    _ => failure(ParseErrorKind::Syntax(
                        "unknown or repeated SELECT parameter",
                    )),
                }
            })?;
            i
        }
        _ => i,
    };
    let body = if examine {
        CommandBody::Examine { mailbox, params }
    } else {
        CommandBody::Select { mailbox, params }
    };
    Ok((i, body))
}

/// `"(" uidvalidity SP mod-sequence-value [SP known-uids] [SP
/// seq-match-data] ")"`; `seq-match-data = "(" known-sequence-set SP
/// known-uid-set ")"`. None of the sets may use `*` (RFC 7162 §7).
fn qresync<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, QResync> {
    let Some((&b'(', i)) = i.split_first() else {
        return failure(ParseErrorKind::Syntax("expected '(' after QRESYNC"));
    };
    let (i, (uidvalidity, _, modseq)) = (nz_number, sp, mod_sequence).parse(i)?;
    let mut q = QResync {
        uidvalidity,
        modseq,
        known_uids: None,
        seq_match: None,
    };
    let mut i = i;
    if let Some((&b' ', after)) = i.split_first()
        && after.first() != Some(&b'(')
    {
        let (after, set) = no_star_set(after, lim)?;
        q.known_uids = Some(set);
        i = after;
    }
    if let Some((&b' ', after)) = i.split_first() {
        let Some((&b'(', after)) = after.split_first() else {
            return failure(ParseErrorKind::Syntax("expected seq-match-data"));
        };
        let (after, (seqs, _, uids)) =
            (|j| no_star_set(j, lim), sp, |j| no_star_set(j, lim)).parse(after)?;
        let Some((&b')', after)) = after.split_first() else {
            return failure(ParseErrorKind::Syntax("expected ')' after seq-match-data"));
        };
        q.seq_match = Some((seqs, uids));
        i = after;
    }
    match i.split_first() {
        Some((&b')', after)) => Ok((after, q)),
        _ => failure(ParseErrorKind::Syntax(
            "expected ')' after QRESYNC parameters",
        )),
    }
}

/// A `sequence-set` without `*`.
fn no_star_set<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, SequenceSet> {
    let (i, set) = sequence_set(i, lim)?;
    let star = set
        .0
        .iter()
        .any(|r| r.start == SeqOrUid::Asterisk || r.end == SeqOrUid::Asterisk);
    if star {
        return failure(ParseErrorKind::Syntax("'*' is not allowed in QRESYNC sets"));
    }
    Ok((i, set))
}

/// `rename = "RENAME" SP mailbox SP mailbox`
pub(crate) fn rename(i: &[u8]) -> Res<'_, CommandBody> {
    let (i, (_, from, _, to)) = (sp, mailbox, sp, mailbox).parse(i)?;
    Ok((i, CommandBody::Rename { from, to }))
}

/// `create = "CREATE" SP mailbox [create-params]` (RFC 4466 §2.2) with the
/// one parameter there is, RFC 6154's `create-param =/ "USE" SP "("
/// [use-attr *(SP use-attr)] ")"`. RFC 4466: "Any parameter not defined by
/// extensions that the server supports must be rejected with a BAD
/// response." An unknown `use-attr` is valid syntax; the session refuses
/// it with NO [USEATTR].
pub(crate) fn create<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, (_, mailbox)) = (sp, mailbox).parse(i)?;
    let (i, special_use) = match i.split_first() {
        Some((&b' ', params)) => {
            let (i, uses) = paren_list(params, lim, false, |i| create_param(i, lim))?;
            (i, uses.into_iter().flatten().collect())
        }
        _ => (i, Vec::new()),
    };
    Ok((
        i,
        CommandBody::Create {
            mailbox,
            special_use,
        },
    ))
}

/// `create-param = create-param-name [SP create-param-value]`, of which
/// only `USE` is known.
fn create_param<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, Vec<UseAttr>> {
    let (i, name) = atom(i)?;
    if !name.eq_ignore_ascii_case("USE") {
        return failure(ParseErrorKind::Syntax("unknown CREATE parameter"));
    }
    let (i, _) = sp(i)?;
    paren_list(i, lim, true, use_attr)
}

/// `use-attr = "\All" / "\Archive" / ... / use-attr-ext`,
/// `use-attr-ext = "\" atom` (RFC 6154 §6).
fn use_attr(i: &[u8]) -> Res<'_, UseAttr> {
    let Some((&b'\\', after)) = i.split_first() else {
        return failure(ParseErrorKind::Syntax(
            "expected a special-use attribute such as \\Sent",
        ));
    };
    let (i, name) = atom(after)?;
    Ok((i, UseAttr::from_atom(name)))
}

/// `lsub = "LSUB" SP mailbox SP list-mailbox`
pub(crate) fn lsub(i: &[u8]) -> Res<'_, CommandBody> {
    let (i, (_, reference, _, pattern)) = (sp, mailbox_name, sp, list_mailbox).parse(i)?;
    Ok((i, CommandBody::Lsub { reference, pattern }))
}

/// `status-att = "MESSAGES" / "RECENT" / "UIDNEXT" / "UIDVALIDITY" / "UNSEEN"`
/// `status-att =/ "SIZE"` (RFC 8438), `"DELETED" / "DELETED-STORAGE"`
/// (RFC 9208), `"APPENDLIMIT"` (RFC 7889), `"HIGHESTMODSEQ"` (RFC 7162
/// §3.1.7); LIST's STATUS return option (RFC 5819) takes the same items.
pub(crate) fn status_att(i: &[u8]) -> Res<'_, StatusItem> {
    let (i, name) = take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b'-').parse(i)?;
    let item = match name.to_ascii_uppercase().as_slice() {
        b"MESSAGES" => StatusItem::Messages,
        b"RECENT" => StatusItem::Recent,
        b"UIDNEXT" => StatusItem::UidNext,
        b"UIDVALIDITY" => StatusItem::UidValidity,
        b"UNSEEN" => StatusItem::Unseen,
        b"SIZE" => StatusItem::Size,
        b"DELETED" => StatusItem::Deleted,
        b"DELETED-STORAGE" => StatusItem::DeletedStorage,
        b"APPENDLIMIT" => StatusItem::AppendLimit,
        b"HIGHESTMODSEQ" => StatusItem::HighestModSeq,
        _ => return failure(ParseErrorKind::Syntax("unknown STATUS item")),
    };
    Ok((i, item))
}

/// `status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"`
pub(crate) fn status<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, (_, mailbox, _)) = (sp, mailbox, sp).parse(i)?;
    let (i, items) = paren_list(i, lim, false, status_att)?;
    Ok((i, CommandBody::Status { mailbox, items }))
}

/// `getquota = "GETQUOTA" SP quota-root-name`, `quota-root-name = astring`
/// (RFC 9208 §7)
pub(crate) fn getquota(i: &[u8]) -> Res<'_, CommandBody> {
    let (i, (_, root)) = (sp, astring).parse(i)?;
    let root = utf8(root, "the quota root name is not UTF-8")?;
    Ok((i, CommandBody::GetQuota { root }))
}

/// `setquota = "SETQUOTA" SP quota-root-name SP setquota-list`,
/// `setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"`,
/// `setquota-resource = resource-name SP resource-limit` (RFC 9208 §7)
pub(crate) fn setquota<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, (_, root, _)) = (sp, astring, sp).parse(i)?;
    let root = utf8(root, "the quota root name is not UTF-8")?;
    let (i, limits) = paren_list(i, lim, true, |i| {
        let (i, (name, _, limit)) = (atom, sp, number64).parse(i)?;
        Ok((i, (name.to_ascii_uppercase(), limit)))
    })?;
    Ok((i, CommandBody::SetQuota { root, limits }))
}

/// `append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal`.
/// The message must be a literal (either kind); its bytes are kept as they
/// are, NUL included.
pub(crate) fn append<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, (_, mailbox, _)) = (sp, mailbox, sp).parse(i)?;
    let (i, flags) = match i.first() {
        Some(b'(') => {
            let (i, f) = flag_list(i, lim)?;
            let (i, _) = sp(i)?;
            (i, f)
        }
        _ => (i, Vec::new()),
    };
    let (i, date) = match i.first() {
        Some(b'"') => {
            let (i, d) = date_time(i)?;
            let (i, _) = sp(i)?;
            (i, Some(d))
        }
        _ => (i, None),
    };
    if i.first() != Some(&b'{') {
        return failure(ParseErrorKind::Syntax(
            "the APPEND message must be a literal",
        ));
    }
    let (i, message) = message_literal(i)?;
    Ok((
        i,
        CommandBody::Append {
            mailbox,
            flags,
            date,
            message: message.to_vec(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::super::mutf7::Mutf7Error;
    use super::super::super::types::{Flag, Mailbox};
    use super::super::{ParseError, parse_command};
    use super::*;
    use chrono::DateTime;

    use super::super::testing::{body, error};

    fn other(s: &str) -> Mailbox {
        Mailbox::Other(s.into())
    }

    #[test]
    fn single_mailbox_commands() {
        for (input, expected) in [
            (
                &b"A142 SELECT INBOX\r\n"[..],
                CommandBody::Select {
                    params: Default::default(),
                    mailbox: Mailbox::Inbox,
                },
            ),
            (
                b"a select \"inbox\"\r\n",
                CommandBody::Select {
                    params: Default::default(),
                    mailbox: Mailbox::Inbox,
                },
            ),
            (
                b"A932 EXAMINE blurdybloop\r\n",
                CommandBody::Examine {
                    params: Default::default(),
                    mailbox: other("blurdybloop"),
                },
            ),
            (
                b"A003 CREATE owatagusiam/\r\n",
                CommandBody::Create {
                    mailbox: other("owatagusiam/"),
                    special_use: vec![],
                },
            ),
            (
                b"a CREATE {9}\r\nSent Mail\r\n",
                CommandBody::Create {
                    mailbox: other("Sent Mail"),
                    special_use: vec![],
                },
            ),
            (
                b"a CREATE {5+}\r\nInBoX\r\n",
                CommandBody::Create {
                    mailbox: Mailbox::Inbox,
                    special_use: vec![],
                },
            ),
            (
                b"A683 DELETE blurdybloop\r\n",
                CommandBody::Delete {
                    mailbox: other("blurdybloop"),
                },
            ),
            (
                b"A002 SUBSCRIBE #news.comp.mail.mime\r\n",
                CommandBody::Subscribe {
                    mailbox: other("#news.comp.mail.mime"),
                },
            ),
            (
                b"A002 UNSUBSCRIBE #news.comp.mail.mime\r\n",
                CommandBody::Unsubscribe {
                    mailbox: other("#news.comp.mail.mime"),
                },
            ),
            (
                b"a SELECT \"~peter/mail/&U,BTFw-/&ZeVnLIqe-\"\r\n",
                CommandBody::Select {
                    params: Default::default(),
                    mailbox: other("~peter/mail/台北/日本語"),
                },
            ),
            (
                b"a SELECT INBOX.Drafts\r\n",
                CommandBody::Select {
                    params: Default::default(),
                    mailbox: other("INBOX.Drafts"),
                },
            ),
            (
                b"a SELECT Entw&APw-rfe\r\n",
                CommandBody::Select {
                    params: Default::default(),
                    mailbox: other("Entwürfe"),
                },
            ),
            (
                b"a SELECT \"\"\r\n",
                CommandBody::Select {
                    params: Default::default(),
                    mailbox: other(""),
                },
            ),
        ] {
            assert_eq!(
                body(input),
                expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            body(b"A683 RENAME blurdybloop sarasoop\r\n"),
            CommandBody::Rename {
                from: other("blurdybloop"),
                to: other("sarasoop")
            }
        );
        assert_eq!(
            body(b"Z433 RENAME INBOX old-mail\r\n"),
            CommandBody::Rename {
                from: Mailbox::Inbox,
                to: other("old-mail")
            }
        );
    }

    #[test]
    fn create_with_special_use() {
        let create = |name: &str, special_use| CommandBody::Create {
            mailbox: other(name),
            special_use,
        };
        // RFC 6154 §5.3.
        assert_eq!(
            body(b"t2 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n"),
            create("MySpecial", vec![UseAttr::Drafts, UseAttr::Sent])
        );
        assert_eq!(
            body(b"t3 CREATE Everything (USE (\\All))\r\n"),
            create("Everything", vec![UseAttr::All])
        );
        assert_eq!(
            body(b"a create x (use (\\trash \\JUNK \\archive \\flagged \\Important))\r\n"),
            create(
                "x",
                vec![
                    UseAttr::Trash,
                    UseAttr::Junk,
                    UseAttr::Archive,
                    UseAttr::Flagged,
                    UseAttr::Extension("Important".into())
                ]
            )
        );
        assert_eq!(body(b"a CREATE x (USE ())\r\n"), create("x", vec![]));
        assert_eq!(
            body(b"a CREATE x (USE (\\Sent) USE (\\Trash))\r\n"),
            create("x", vec![UseAttr::Sent, UseAttr::Trash])
        );
        for input in [
            &b"a CREATE x ()\r\n"[..],
            b"a CREATE x (USE)\r\n",
            b"a CREATE x (USE \\Sent)\r\n",
            b"a CREATE x (USE (Sent))\r\n",
            b"a CREATE x (USE (\\))\r\n",
            b"a CREATE x (USE (\\Sent)\r\n",
            b"a CREATE x (FOO (bar))\r\n",
            b"a CREATE x (USE (\\Sent)) \r\n",
            b"a CREATE x  (USE (\\Sent))\r\n",
        ] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn nul_is_refused_in_string_literals_but_kept_in_messages() {
        let e = error(b"a CREATE {3}\r\na\x00b\r\n");
        assert!(
            matches!(e.kind, ParseErrorKind::Syntax(_)) && e.tag.is_some(),
            "{e:?}"
        );
        let c = parse_command(b"a APPEND x {3}\r\na\x00b\r\n", &ParseLimits::default())
            .expect("parses");
        assert!(matches!(c.body, CommandBody::Append { ref message, .. } if message == b"a\x00b"));
    }

    #[test]
    fn mailbox_name_errors() {
        let invalid = |e: ParseError| {
            matches!(e.kind, ParseErrorKind::InvalidMailboxName(Mutf7Error(_))) && e.tag.is_some()
        };
        for input in [
            &b"a SELECT \"caf\xc3\xa9\"\r\n"[..],
            b"a SELECT \"\xff\xfe\"\r\n",
            b"a SELECT {2}\r\n\xc3\x28\r\n",
            b"a SELECT &Jjo\r\n",
            b"a SELECT \"&Jjo\"\r\n",
            b"a SELECT &AGE-\r\n",
            b"a RENAME a &AGE-\r\n",
            b"a COPY 1 &Jjo\r\n",
            b"a LIST &Jjo *\r\n",
            b"a LIST \"\" &AGE-\r\n",
            b"a STATUS &Jjo (MESSAGES)\r\n",
            b"a APPEND &Jjo {1}\r\nx\r\n",
        ] {
            assert!(
                invalid(error(input)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        for input in [
            &b"a SELECT\r\n"[..],
            b"a SELECT \r\n",
            b"a SELECT a b\r\n",
            b"a SELECT (a)\r\n",
            b"a SELECT a%\r\n",
            b"a SELECT a*\r\n",
            b"a SELECT caf\xc3\xa9\r\n",
            b"a SELECT a\x00\r\n",
            b"a RENAME a\r\n",
        ] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn list_and_lsub() {
        let list = |r: &str, p: &str| CommandBody::List {
            reference: r.into(),
            pattern: p.into(),
        };
        for (input, expected) in [
            (&b"A682 LIST \"\" *\r\n"[..], list("", "*")),
            (b"A86 LIST \"\" %\r\n", list("", "%")),
            (b"A101 LIST \"\" \"\"\r\n", list("", "")),
            (
                b"A102 LIST #news.comp.mail.misc \"\"\r\n",
                list("#news.comp.mail.misc", ""),
            ),
            (
                b"A103 LIST /usr/staff/jones \"\"\r\n",
                list("/usr/staff/jones", ""),
            ),
            (b"A202 LIST ~/Mail/ %\r\n", list("~/Mail/", "%")),
            (b"a LIST inbox INBOX\r\n", list("inbox", "INBOX")),
            (b"a LIST \"\" INBOX.%]*\r\n", list("", "INBOX.%]*")),
            (
                b"a list &ZeVnLIqe-/ &U,BTFw-/*\r\n",
                list("日本語/", "台北/*"),
            ),
            (b"a LIST {0}\r\n {1+}\r\n*\r\n", list("", "*")),
        ] {
            assert_eq!(
                body(input),
                expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            body(b"A002 LSUB \"#news.\" \"comp.mail.*\"\r\n"),
            CommandBody::Lsub {
                reference: "#news.".into(),
                pattern: "comp.mail.*".into()
            }
        );
        assert_eq!(
            body(b"A003 LSUB \"#news.\" \"comp.%\"\r\n"),
            CommandBody::Lsub {
                reference: "#news.".into(),
                pattern: "comp.%".into()
            }
        );
        for input in [
            &b"a LIST\r\n"[..],
            b"a LIST \"\"\r\n",
            b"a LIST % *\r\n",
            b"a LIST \"\" (\r\n",
            b"a LIST \"\" * x\r\n",
        ] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn quota_commands() {
        use StatusItem::*;
        assert_eq!(
            body(b"a STATUS x (size DELETED deleted-storage APPENDLIMIT)\r\n"),
            CommandBody::Status {
                mailbox: other("x"),
                items: vec![Size, Deleted, DeletedStorage, AppendLimit]
            }
        );
        assert_eq!(
            body(b"G0001 GETQUOTA \"!partition/sda4\"\r\n"),
            CommandBody::GetQuota {
                root: "!partition/sda4".into()
            }
        );
        assert_eq!(
            body(b"a getquota \"\"\r\n"),
            CommandBody::GetQuota { root: "".into() }
        );
        assert_eq!(
            body(b"G0002 GETQUOTAROOT inbox\r\n"),
            CommandBody::GetQuotaRoot {
                mailbox: Mailbox::Inbox
            }
        );
        assert_eq!(
            body(b"S0001 SETQUOTA \"#user/alice\" (storage 510 MESSAGE 9223372036854775807)\r\n"),
            CommandBody::SetQuota {
                root: "#user/alice".into(),
                limits: vec![("STORAGE".into(), 510), ("MESSAGE".into(), i64::MAX as u64)]
            }
        );
        assert_eq!(
            body(b"a SETQUOTA \"\" ()\r\n"),
            CommandBody::SetQuota {
                root: "".into(),
                limits: vec![]
            }
        );
        for input in [
            &b"a GETQUOTA\r\n"[..],
            b"a GETQUOTAROOT\r\n",
            b"a SETQUOTA \"\" (STORAGE)\r\n",
            b"a SETQUOTA \"\" (STORAGE 9223372036854775808)\r\n",
            b"a SETQUOTA \"\" STORAGE 1\r\n",
        ] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn status_command() {
        use StatusItem::*;
        assert_eq!(
            body(b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n"),
            CommandBody::Status {
                mailbox: other("blurdybloop"),
                items: vec![UidNext, Messages]
            }
        );
        assert_eq!(
            body(b"a status inbox (messages recent uidnext uidvalidity unseen)\r\n"),
            CommandBody::Status {
                mailbox: Mailbox::Inbox,
                items: vec![Messages, Recent, UidNext, UidValidity, Unseen]
            }
        );
        for input in [
            &b"a STATUS inbox ()\r\n"[..],
            b"a STATUS inbox\r\n",
            b"a STATUS inbox MESSAGES\r\n",
            b"a STATUS inbox (MESSAGES\r\n",
            b"a STATUS inbox (MESSAGES))\r\n",
            b"a STATUS inbox (SIZES)\r\n",
            b"a STATUS inbox (MESSAGES  UNSEEN)\r\n",
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
        assert_eq!(
            parse_command(b"a STATUS x (MESSAGES RECENT UNSEEN)\r\n", &small).map_err(|e| e.kind),
            Err(ParseErrorKind::TooManyParams)
        );
    }

    #[test]
    fn append_command() {
        let msg = b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.COM>\r\nSubject: afternoon meeting\r\nTo: mooch@owatagu.siam.edu\r\nMessage-Id: <B27397-0100000@Blurdybloop.COM>\r\nMIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
        assert_eq!(msg.len(), 310);
        let mut wire = b"A003 APPEND saved-messages (\\Seen) {310}\r\n".to_vec();
        wire.extend_from_slice(msg);
        wire.extend_from_slice(b"\r\n");
        assert_eq!(
            body(&wire),
            CommandBody::Append {
                mailbox: other("saved-messages"),
                flags: vec![Flag::Seen],
                date: None,
                message: msg.to_vec()
            }
        );
        let date = DateTime::parse_from_rfc3339("1996-07-17T02:44:25-07:00").ok();
        for (input, expected) in [
            (
                &b"a APPEND INBOX {3+}\r\na\x00b\r\n"[..],
                CommandBody::Append {
                    mailbox: Mailbox::Inbox,
                    flags: vec![],
                    date: None,
                    message: b"a\x00b".to_vec(),
                },
            ),
            (
                b"a APPEND INBOX \"17-Jul-1996 02:44:25 -0700\" {1}\r\nx\r\n",
                CommandBody::Append {
                    mailbox: Mailbox::Inbox,
                    flags: vec![],
                    date,
                    message: b"x".to_vec(),
                },
            ),
            (
                b"a APPEND INBOX () \"17-Jul-1996 02:44:25 -0700\" {0}\r\n\r\n",
                CommandBody::Append {
                    mailbox: Mailbox::Inbox,
                    flags: vec![],
                    date,
                    message: vec![],
                },
            ),
            (
                b"a append Drafts (\\Draft $MDNSent) {4}\r\n\r\n\r\n\r\n",
                CommandBody::Append {
                    mailbox: other("Drafts"),
                    flags: vec![Flag::Draft, Flag::Keyword("$MDNSent".into())],
                    date: None,
                    message: b"\r\n\r\n".to_vec(),
                },
            ),
            (
                b"a APPEND x {5}\r\n\xff\xfe\r\n)\r\n",
                CommandBody::Append {
                    mailbox: other("x"),
                    flags: vec![],
                    date: None,
                    message: b"\xff\xfe\r\n)".to_vec(),
                },
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
            &b"a APPEND INBOX \"message\"\r\n"[..],
            b"a APPEND INBOX message\r\n",
            b"a APPEND INBOX\r\n",
            b"a APPEND INBOX (\\Seen)\r\n",
            b"a APPEND INBOX (\\Recent) {1}\r\nx\r\n",
            b"a APPEND INBOX (\\*) {1}\r\nx\r\n",
            b"a APPEND INBOX \"31-Jun-1996 02:44:25 -0700\" {1}\r\nx\r\n",
            b"a APPEND INBOX \"17-Jul-1996\" {1}\r\nx\r\n",
            b"a APPEND INBOX \"17-Jul-1996 02:44:25 -0700\" (\\Seen) {1}\r\nx\r\n",
            b"a APPEND INBOX {1}\r\nxy\r\n",
            b"a APPEND INBOX {3}\r\nx\r\n",
            b"a APPEND INBOX  {1}\r\nx\r\n",
        ] {
            assert!(
                matches!(error(input).kind, ParseErrorKind::Syntax(_)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
