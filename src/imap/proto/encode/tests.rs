use std::num::NonZeroU32;

use chrono::{NaiveDate, TimeZone};

use super::*;
use crate::imap::proto::frame::{FrameEvent, FrameLimits, Framer};
use crate::imap::proto::response::StatusResponse;
use crate::imap::proto::types::{
    Command, CommandBody, FetchAttr, FetchItems, InitialResponse, ListReturn, ListSelect, Mailbox,
    SearchKey, Secret, SeqOrUid, SeqRange, SequenceSet, StoreKind, Tag, UseAttr,
};

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

fn date(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, off_min: i32) -> DateTime<FixedOffset> {
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
