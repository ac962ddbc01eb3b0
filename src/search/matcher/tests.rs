use std::num::NonZeroU32;

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::*;
use crate::mime::{self, Analysis};
use crate::types::{FlagFetch, SeqOrUid, SeqRange};

/// Test messages are written with `\n`; stored with CRLF, as delivered.
fn crlf(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 64);
    for &b in s {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

struct Msg {
    name: &'static str,
    raw: Vec<u8>,
    flags: Vec<FlagFetch>,
    internal: DateTime<FixedOffset>,
    analysis: Analysis,
    parts: Vec<u8>,
}

fn seen() -> FlagFetch {
    FlagFetch::Flag(Flag::Seen)
}
fn kw(k: &str) -> FlagFetch {
    FlagFetch::Flag(Flag::Keyword(k.into()))
}
fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn msg(name: &'static str, raw: &[u8], flags: Vec<FlagFetch>, internal: &str) -> Msg {
    let raw = crlf(raw);
    let analysis = mime::analyze(&raw);
    let parts = analysis.parts.to_bytes();
    Msg {
        name,
        raw,
        flags,
        internal: at(internal),
        analysis,
        parts,
    }
}

/// The mailbox: message i has sequence number i+1 and UID 10·(i+1).
fn mailbox() -> Vec<Msg> {
    vec![
        msg(
            "plain",
            b"From: \"Ann Example\" <ann@example.org>\n\
To: bob@example.org\n\
Cc: carl@example.org\n\
Bcc: dave@example.org\n\
Subject: Quarterly report\n\
Date: Mon, 01 Jan 2024 23:30:00 -0500\n\
X-Empty:\n\
\n\
The numbers are in.\n",
            vec![seen(), FlagFetch::Flag(Flag::Answered), FlagFetch::Recent],
            "2024-01-01T23:30:00-05:00",
        ),
        msg(
            "qp",
            b"From: Bob <bob@example.org>\n\
To: ann@example.org\n\
Subject: fox news\n\
Date: Tue, 02 Jan 2024 00:10:00 +0900\n\
MIME-Version: 1.0\n\
Content-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
The quick brown fo=\n\
x jumps =C3=BCber the lazy dog.\n",
            vec![FlagFetch::Flag(Flag::Flagged), kw("$Work")],
            "2024-01-02T00:10:00+09:00",
        ),
        msg(
            "base64",
            b"From: carl@example.org\n\
To: ann@example.org\n\
Subject: codes\n\
Date: Wed, 10 Jan 2024 12:00:00 +0000\n\
Content-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: base64\n\
\n\
U2VjcmV0IGxhdW5jaCBjb2Rlczogw5xCRVJSQVNDSFVORw0K\n",
            vec![FlagFetch::Flag(Flag::Deleted), FlagFetch::Flag(Flag::Draft)],
            "2024-01-10T12:00:00+00:00",
        ),
        msg(
            "latin1",
            b"From: dora@example.de\n\
To: ann@example.org\n\
Subject: Gruss\n\
Date: Thu, 11 Jan 2024 08:00:00 +0100\n\
Content-Type: text/plain; charset=iso-8859-1\n\
Content-Transfer-Encoding: 8bit\n\
\n\
Gr\xfc\xdfe aus M\xfcnchen\n",
            vec![FlagFetch::Recent],
            "2024-01-11T08:00:00+01:00",
        ),
        msg(
            "encword",
            b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.de>\n\
To: ann@example.org\n\
Subject: =?UTF-8?B?0J/RgNC40LI=?=\n\
\x20=?UTF-8?B?0LXRgiDDnEJFUiBhbGxlcw==?=\n\
Date: Fri, 12 Jan 2024 09:00:00 +0000\n\
\n\
Nothing to see.\n",
            vec![seen()],
            "2024-01-12T09:00:00+00:00",
        ),
        msg(
            "html",
            b"From: news@example.com\n\
To: ann@example.org\n\
Subject: Newsletter\n\
Date: Sat, 13 Jan 2024 09:00:00 +0000\n\
Content-Type: text/html; charset=utf-8\n\
\n\
<html><body><p>Hello <b>World</b> &amp; friends</p></body></html>\n",
            vec![],
            "2024-01-13T09:00:00+00:00",
        ),
        msg(
            "attach",
            b"From: ann@example.org\n\
To: team@example.org\n\
Subject: Minutes\n\
Date: Sun, 14 Jan 2024 09:00:00 +0000\n\
MIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"b1\"\n\
\n\
--b1\n\
Content-Type: text/plain\n\
\n\
See attached.\n\
--b1\n\
Content-Type: text/plain; name=notes.txt\n\
Content-Disposition: attachment; filename=notes.txt\n\
Content-Transfer-Encoding: base64\n\
\n\
TWVldGluZyBub3RlczogYnVkZ2V0IGFwcHJvdmVkDQo=\n\
--b1\n\
Content-Type: application/octet-stream\n\
Content-Transfer-Encoding: base64\n\
\n\
aGlkZGVuIGJpbmFyeSB0ZXh0\n\
--b1--\n",
            vec![seen(), kw("Project")],
            "2024-01-14T09:00:00+00:00",
        ),
        msg(
            "nodate",
            b"Received: from a.example by b.example; Mon, 15 Jan 2024 10:00:00 +0000\n\
Received: from c.example\n\
\tby d.example; Mon, 15 Jan 2024 09:59:00 +0000\n\
From: eve@example.net\n\
Subject: no date here\n\
\n\
Body without a date.\n",
            vec![seen(), FlagFetch::Recent],
            "2024-01-15T10:00:00+00:00",
        ),
    ]
}

fn facts(i: usize, m: &Msg) -> MessageFacts<'_> {
    let n = u32::try_from(i + 1).unwrap();
    MessageFacts {
        seq: NonZeroU32::new(n).unwrap(),
        uid: NonZeroU32::new(n * 10).unwrap(),
        flags: m.flags.clone(),
        internal_date: m.internal,
        size: u32::try_from(m.raw.len()).unwrap(),
        raw: &m.raw,
        envelope: &m.analysis.envelope,
        body: &m.analysis.body,
        bodystructure: &m.analysis.bodystructure,
        parts: &m.parts,
        sent_date: m.analysis.sent_date,
        modseq: 1,
    }
}

/// The names of the messages `key` matches, in mailbox order, both through
/// `matches` and through one `Matcher`.
fn hits_in(cs: Charset, key: &SearchKey) -> Vec<&'static str> {
    let mbox = mailbox();
    let max_seq = u32::try_from(mbox.len()).unwrap();
    let ctx = SearchContext {
        max_seq,
        max_uid: max_seq * 10,
        charset: cs,
    };
    let matcher = Matcher::new(key, cs);
    let mut out = Vec::new();
    for (i, m) in mbox.iter().enumerate() {
        let f = facts(i, m);
        let a = matches(key, &f, &ctx);
        assert_eq!(a, matcher.matches(&f, ctx.max_seq, ctx.max_uid), "{key:?}");
        if a {
            out.push(m.name);
        }
    }
    out
}

fn hits(key: &SearchKey) -> Vec<&'static str> {
    hits_in(Charset::UsAscii, key)
}

const ALL: &[&str] = &[
    "plain", "qp", "base64", "latin1", "encword", "html", "attach", "nodate",
];

/// Every message except `these`.
fn except(these: &[&str]) -> Vec<&'static str> {
    ALL.iter().copied().filter(|n| !these.contains(n)).collect()
}

fn s(v: &str) -> Vec<u8> {
    v.as_bytes().to_vec()
}
fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}
fn not(k: SearchKey) -> SearchKey {
    SearchKey::Not(Box::new(k))
}
fn or(a: SearchKey, b: SearchKey) -> SearchKey {
    SearchKey::Or(Box::new(a), Box::new(b))
}
fn set(ranges: &[(Option<u32>, Option<u32>)]) -> SequenceSet {
    let v = |x: Option<u32>| match x {
        Some(n) => SeqOrUid::Value(NonZeroU32::new(n).unwrap()),
        None => SeqOrUid::Asterisk,
    };
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
fn flag_keys() {
    use SearchKey::*;
    assert_eq!(hits(&All), ALL);
    assert_eq!(hits(&Answered), ["plain"]);
    assert_eq!(hits(&Unanswered), except(&["plain"]));
    assert_eq!(hits(&Deleted), ["base64"]);
    assert_eq!(hits(&Undeleted), except(&["base64"]));
    assert_eq!(hits(&Draft), ["base64"]);
    assert_eq!(hits(&Undraft), except(&["base64"]));
    assert_eq!(hits(&Flagged), ["qp"]);
    assert_eq!(hits(&Unflagged), except(&["qp"]));
    assert_eq!(hits(&Seen), ["plain", "encword", "attach", "nodate"]);
    assert_eq!(hits(&Unseen), ["qp", "base64", "latin1", "html"]);
    assert_eq!(hits(&Recent), ["plain", "latin1", "nodate"]);
    assert_eq!(hits(&Old), except(&["plain", "latin1", "nodate"]));
    assert_eq!(hits(&New), ["latin1"]);
    assert_eq!(hits(&Keyword("$work".into())), ["qp"]);
    assert_eq!(hits(&Keyword("PROJECT".into())), ["attach"]);
    assert_eq!(hits(&Keyword("Proj".into())), Vec::<&str>::new());
    assert_eq!(hits(&Unkeyword("project".into())), except(&["attach"]));
}

#[test]
fn size_keys_are_strict() {
    let mbox = mailbox();
    let size = u32::try_from(mbox[0].raw.len()).unwrap();
    let larger = hits(&SearchKey::Larger(size));
    let smaller = hits(&SearchKey::Smaller(size));
    assert!(!larger.contains(&"plain"));
    assert!(!smaller.contains(&"plain"));
    assert!(hits(&SearchKey::Larger(size - 1)).contains(&"plain"));
    assert!(hits(&SearchKey::Smaller(size + 1)).contains(&"plain"));
    for m in &mbox {
        let n = u32::try_from(m.raw.len()).unwrap();
        let name = m.name;
        assert_eq!(larger.contains(&name), n > size, "{name}");
        assert_eq!(smaller.contains(&name), n < size, "{name}");
    }
    assert_eq!(hits(&SearchKey::Larger(0)), ALL);
    assert!(hits(&SearchKey::Smaller(0)).is_empty());
}

#[test]
fn internal_date_keys_use_the_date_in_its_own_zone() {
    use SearchKey::*;
    // plain: 2024-01-01 23:30 -05:00 (2 January in UTC);
    // qp: 2024-01-02 00:10 +09:00 (1 January in UTC).
    assert_eq!(hits(&On(d(2024, 1, 1))), ["plain"]);
    assert_eq!(hits(&On(d(2024, 1, 2))), ["qp"]);
    assert_eq!(hits(&Before(d(2024, 1, 2))), ["plain"]);
    assert_eq!(hits(&Before(d(2024, 1, 1))), Vec::<&str>::new());
    assert_eq!(hits(&Since(d(2024, 1, 2))), except(&["plain"]));
    assert_eq!(hits(&Since(d(2024, 1, 1))), ALL);
    assert_eq!(hits(&Since(d(2024, 1, 15))), ["nodate"]);
    assert_eq!(hits(&Since(d(2024, 1, 16))), Vec::<&str>::new());
    assert_eq!(hits(&Before(d(2024, 1, 15))), except(&["nodate"]));
}

#[test]
fn sent_date_keys_use_the_date_header() {
    use SearchKey::*;
    assert_eq!(hits(&SentOn(d(2024, 1, 1))), ["plain"]);
    assert_eq!(hits(&SentOn(d(2024, 1, 2))), ["qp"]);
    assert_eq!(hits(&SentBefore(d(2024, 1, 2))), ["plain"]);
    assert_eq!(hits(&SentSince(d(2024, 1, 14))), ["attach"]);
    // Without a Date: no SENT* key matches, so NOT of one does.
    assert_eq!(hits(&SentSince(d(1970, 1, 1))), except(&["nodate"]));
    assert_eq!(hits(&SentBefore(d(2100, 1, 1))), except(&["nodate"]));
    assert_eq!(hits(&not(SentOn(d(2024, 1, 1)))), except(&["plain"]));
    assert!(hits(&SentOn(d(2024, 1, 15))).is_empty());
}

#[test]
fn address_and_subject_keys() {
    use SearchKey::*;
    assert_eq!(hits(&From(s("ANN"))), ["plain", "attach"]);
    assert_eq!(hits(&From(s("ann example"))), ["plain"]);
    assert_eq!(hits(&From(s("xample.de"))), ["latin1", "encword"]);
    assert_eq!(
        hits(&To(s("ann@"))),
        ["qp", "base64", "latin1", "encword", "html"]
    );
    assert_eq!(hits(&Cc(s("carl"))), ["plain"]);
    assert_eq!(hits(&Bcc(s("DAVE@example"))), ["plain"]);
    assert_eq!(hits(&Subject(s("report"))), ["plain"]);
    assert_eq!(hits(&Subject(s("uarter"))), ["plain"]);
    // The field name is not part of the value.
    assert!(hits(&Subject(s("subject"))).is_empty());
    // Encoded-words decoded, in any case.
    assert_eq!(hits(&From(s("jürgen"))), ["encword"]);
    assert_eq!(hits(&From(s("JÜRGEN <j@"))), ["encword"]);
    // One word split over two encoded-words, and the folding between.
    assert_eq!(hits(&Subject(s("привет"))), ["encword"]);
    assert_eq!(hits(&Subject(s("ПРИВЕТ über ALLES"))), ["encword"]);
    assert_eq!(hits(&Subject(s("ивет Ü"))), ["encword"]);
    assert!(hits(&Subject(s("=?UTF-8?"))).is_empty());
    // Empty string: every message that has the field.
    assert_eq!(hits(&Cc(s(""))), ["plain"]);
    assert_eq!(hits(&Subject(s(""))), ALL);
}

#[test]
fn header_key() {
    let h = |n: &str, v: &str| SearchKey::Header(n.into(), s(v));
    assert_eq!(hits(&h("x-empty", "")), ["plain"]);
    assert!(hits(&h("X-Empty", "a")).is_empty());
    assert_eq!(hits(&h("X-Missing", "")), Vec::<&str>::new());
    assert_eq!(
        hits(&h("content-type", "")),
        ["qp", "base64", "latin1", "html", "attach"]
    );
    assert_eq!(hits(&h("Content-Type", "HTML")), ["html"]);
    // Any of several occurrences, unfolded.
    assert_eq!(hits(&h("received", "a.example")), ["nodate"]);
    assert_eq!(
        hits(&h("RECEIVED", "from c.example by d.example")),
        ["nodate"]
    );
    assert_eq!(hits(&h("Received", "")), ["nodate"]);
    assert_eq!(hits(&h("subject", "PRIVET")), Vec::<&str>::new());
    assert_eq!(hits(&h("subject", "Привет")), ["encword"]);
    // Only the top-level header: a part's Content-Disposition is not it.
    assert!(hits(&h("Content-Disposition", "")).is_empty());
    assert_eq!(hits(&h("date", "0900")), ["qp"]);
}

#[test]
fn body_key() {
    let b = |v: &str| SearchKey::Body(s(v));
    assert_eq!(hits(&b("numbers ARE")), ["plain"]);
    // Quoted-printable: a soft line break inside a word, and =C3=BC.
    assert_eq!(hits(&b("brown fox jumps")), ["qp"]);
    assert_eq!(hits(&b("ÜBER THE")), ["qp"]);
    // Base64.
    assert_eq!(hits(&b("launch codes")), ["base64"]);
    assert_eq!(hits(&b("überraschung")), ["base64"]);
    assert!(hits(&b("U2VjcmV0")).is_empty());
    // ISO-8859-1 converted.
    assert_eq!(hits(&b("GRÜSSE")), Vec::<&str>::new()); // no ß/ss folding
    assert_eq!(hits(&b("grüße aus münchen")), ["latin1"]);
    assert_eq!(hits(&b("MÜNCH")), ["latin1"]);
    // HTML: text, without the tags, entities decoded.
    assert_eq!(hits(&b("hello")), ["html"]);
    assert_eq!(hits(&b("world & friends")), ["html"]);
    assert!(hits(&b("<b>")).is_empty());
    assert!(hits(&b("&amp;")).is_empty());
    // A text attachment, base64; a binary part is not searched.
    assert_eq!(hits(&b("budget approved")), ["attach"]);
    assert_eq!(hits(&b("see attached")), ["attach"]);
    assert!(hits(&b("hidden binary")).is_empty());
    // The header is not the body.
    assert!(hits(&b("Quarterly")).is_empty());
    assert!(hits(&b("numbers are in.\nsee")).is_empty());
    // Inside words.
    assert_eq!(hits(&b("umber")), ["plain"]);
    assert_eq!(hits(&b("")), ALL);
}

#[test]
fn text_key() {
    let t = |v: &str| SearchKey::Text(s(v));
    assert_eq!(hits(&t("quarterly")), ["plain"]);
    assert_eq!(hits(&t("numbers")), ["plain"]);
    assert_eq!(hits(&t("subject: minutes")), ["attach"]);
    assert_eq!(hits(&t("c.example")), ["nodate"]);
    assert_eq!(hits(&t("привет")), ["encword"]);
    assert_eq!(hits(&t("FOX")), ["qp"]);
    assert_eq!(hits(&t("budget")), ["attach"]);
    assert_eq!(hits(&t("ann")), except(&["nodate"]));
}

#[test]
fn case_folding_across_scripts() {
    assert_eq!(fold("ÜBER"), "über");
    assert_eq!(fold("ПРИВЕТ"), "привет");
    assert_eq!(fold("ΟΔΟΣ"), fold("οδος"));
    assert_eq!(fold("Straſſe"), "strasse");
    assert_eq!(fold("KELVIN \u{212A}"), "kelvin k");
    // Folding never changes ASCII non-letters.
    assert_eq!(fold("A-Z 0-9 @[]"), "a-z 0-9 @[]");
}

#[test]
fn sequence_and_uid_sets() {
    use SearchKey::*;
    let one = |n: u32| (Some(n), Some(n));
    assert_eq!(
        hits(&SequenceSet(set(&[one(1), one(3)]))),
        ["plain", "base64"]
    );
    assert_eq!(hits(&SequenceSet(set(&[(None, None)]))), ["nodate"]);
    assert_eq!(
        hits(&SequenceSet(set(&[(Some(7), None)]))),
        ["attach", "nodate"]
    );
    // Reversed ends are the same range.
    assert_eq!(
        hits(&SequenceSet(set(&[(None, Some(7))]))),
        ["attach", "nodate"]
    );
    assert!(hits(&SequenceSet(set(&[one(9)]))).is_empty());
    assert_eq!(
        hits(&Uid(set(&[one(20), (Some(75), None)]))),
        ["qp", "nodate"]
    );
    // A UID range past the highest UID still contains `*`.
    assert_eq!(hits(&Uid(set(&[(Some(1000), None)]))), ["nodate"]);
    assert!(hits(&Uid(set(&[one(25)]))).is_empty());
    assert!(hits(&Uid(set(&[one(2)]))).is_empty());
}

#[test]
fn boolean_combinations() {
    use SearchKey::*;
    assert_eq!(
        hits(&And(vec![Seen, Recent, Subject(s("date"))])),
        ["nodate"]
    );
    assert_eq!(hits(&or(Flagged, Deleted)), ["qp", "base64"]);
    assert_eq!(
        hits(&or(
            Body(s("fox")),
            or(From(s("jürgen")), Keyword("project".into()))
        )),
        ["qp", "encword", "attach"]
    );
    assert_eq!(
        hits(&not(or(Seen, not(Recent)))),
        ["latin1"] // = UNSEEN RECENT = NEW
    );
    assert_eq!(hits(&not(not(Answered))), ["plain"]);
    assert_eq!(
        hits(&And(vec![
            not(Seen),
            or(Text(s("münchen")), And(vec![Flagged, Body(s("dog"))])),
        ])),
        ["qp", "latin1"]
    );
    assert_eq!(
        hits(&And(vec![
            SequenceSet(set(&[(Some(2), Some(6))])),
            Unseen,
            not(Deleted)
        ])),
        ["qp", "latin1", "html"]
    );
}

#[test]
fn search_strings_in_their_charset() {
    let b = |v: &[u8]| SearchKey::Body(v.to_vec());
    let latin1 = charset_from_name("iso-8859-1").unwrap();
    assert_eq!(hits_in(latin1, &b(b"M\xdcNCHEN")), ["latin1"]);
    assert_eq!(hits_in(latin1, &b(b"\xfcber")), ["qp", "base64"]);
    let koi8 = charset_from_name("KOI8-R").unwrap();
    // "ПРИВЕТ" in KOI8-R.
    assert_eq!(
        hits_in(
            koi8,
            &SearchKey::Subject(b"\xf0\xf2\xe9\xf7\xe5\xf4".to_vec())
        ),
        ["encword"]
    );
    let utf8 = charset_from_name("utf-8").unwrap();
    assert_eq!(hits_in(utf8, &b("münchen".as_bytes())), ["latin1"]);
    // Without CHARSET: UTF-8 when it is UTF-8, windows-1252 otherwise.
    assert_eq!(hits(&b("münchen".as_bytes())), ["latin1"]);
    assert_eq!(hits(&b(b"m\xfcnchen")), ["latin1"]);
}

#[test]
fn charset_names() {
    assert_eq!(charset_from_name("UTF-8"), Some(Charset::Utf8));
    assert_eq!(charset_from_name("utf8"), Some(Charset::Utf8));
    assert_eq!(charset_from_name("us-ascii"), Some(Charset::UsAscii));
    assert_eq!(charset_from_name("ASCII"), Some(Charset::UsAscii));
    assert!(matches!(
        charset_from_name("Windows-1251"),
        Some(Charset::Other(e)) if e == encoding_rs::WINDOWS_1251
    ));
    for bad in [
        "UTF-16",
        "utf-16le",
        "X-UNKNOWN",
        "",
        "ISO-2022-KR",
        "x-user-defined",
    ] {
        assert_eq!(charset_from_name(bad), None, "{bad}");
    }
    for name in SUPPORTED_CHARSETS {
        assert!(charset_from_name(name).is_some(), "{name}");
    }
}

#[test]
fn needs_content() {
    use SearchKey::*;
    let m = |k: SearchKey| Matcher::new(&k, Charset::UsAscii).needs_content();
    assert!(!m(And(vec![
        Seen,
        not(Recent),
        Larger(3),
        On(d(2024, 1, 1))
    ])));
    assert!(m(or(Seen, Subject(s("x")))));
    assert!(m(not(Body(s("x")))));
}

#[test]
fn messages_mail_parser_cannot_read() {
    let cases: &[&[u8]] = &[
        b"",
        b"\r\n",
        b"\r\nbody only",
        b"no header line at all",
        b"Subject: unterminated =?utf-8?q?abc",
        b"Subject: =?x-unknown?q?abc?=\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x",
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64",
        b"\xff\xfe\x00\x01: \x80\r\n\r\n\xc3",
    ];
    let keys = [
        SearchKey::Text(s("a")),
        SearchKey::Body(s("body")),
        SearchKey::Header("Subject".into(), s("")),
        SearchKey::From(s("x")),
    ];
    for raw in cases {
        let a = mime::analyze(raw);
        let parts = a.parts.to_bytes();
        let f = MessageFacts {
            seq: NonZeroU32::MIN,
            uid: NonZeroU32::MIN,
            flags: vec![],
            internal_date: at("2024-01-01T00:00:00Z"),
            size: 0,
            raw,
            envelope: &a.envelope,
            body: &a.body,
            bodystructure: &a.bodystructure,
            parts: &parts,
            sent_date: a.sent_date,
            modseq: 1,
        };
        let ctx = SearchContext {
            max_seq: 1,
            max_uid: 1,
            charset: Charset::UsAscii,
        };
        for k in &keys {
            let _ = matches(k, &f, &ctx);
        }
    }
    let body_only = b"\r\nbody only";
    let mbox = mailbox();
    let f = MessageFacts {
        raw: body_only,
        ..facts(0, &mbox[0])
    };
    let ctx = SearchContext {
        max_seq: 1,
        max_uid: 10,
        charset: Charset::UsAscii,
    };
    assert!(matches(&SearchKey::Body(s("BODY ONLY")), &f, &ctx));
}

mod props {
    use proptest::prelude::*;

    use super::*;

    fn any_message() -> impl Strategy<Value = Vec<u8>> {
        let pieces = prop::sample::select(vec![
            &b"Subject: "[..],
            b"Content-Type: multipart/mixed; boundary=b\r\n",
            b"Content-Type: text/html; charset=iso-8859-1\r\n",
            b"Content-Type: message/rfc822\r\n",
            b"Content-Transfer-Encoding: base64\r\n",
            b"Content-Transfer-Encoding: quoted-printable\r\n",
            b"=?utf-8?q?=C3=BC?=",
            b"=?utf-8?b?w7w=?=",
            b"=?",
            b"?=",
            b"\r\n",
            b"\n",
            b"\r\n\r\n",
            b"--b\r\n",
            b"--b--\r\n",
            b"<p>",
            b"&amp;",
            b"</",
            b"=C3",
            b"=\r\n",
            b" ",
            b"\xff",
            b"\xc3",
            b"\x00",
        ]);
        prop::collection::vec(
            prop_oneof![pieces.prop_map(|p| p.to_vec()), any::<Vec<u8>>()],
            0..40,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn never_panics(raw in any_message(), needle in "[a-zü<&=]{0,3}") {
            let a = mime::analyze(&raw);
            let parts = a.parts.to_bytes();
            let f = MessageFacts {
                seq: NonZeroU32::MIN,
                uid: NonZeroU32::MIN,
                flags: vec![],
                internal_date: at("2024-01-01T00:00:00Z"),
                size: 0,
                raw: &raw,
                envelope: &a.envelope,
                body: &a.body,
                bodystructure: &a.bodystructure,
                parts: &parts,
                sent_date: a.sent_date,
                modseq: 1,
            };
            let ctx = SearchContext { max_seq: 1, max_uid: 1, charset: Charset::Utf8 };
            let n = needle.into_bytes();
            let key = SearchKey::And(vec![
                SearchKey::Not(Box::new(SearchKey::Text(n.clone()))),
                SearchKey::Header("X".into(), n.clone()),
            ]);
            let _ = matches(&key, &f, &ctx);
            let _ = matches(&SearchKey::Text(n), &f, &ctx);
        }
    }
}

/// `levels` message/rfc822 attachments inside each other, the innermost
/// with `needle` in its text; `encode` base64-encodes each level.
fn nested(levels: usize, needle: &str, encode: bool) -> Vec<u8> {
    use base64::Engine as _;
    let mut inner =
        format!("Subject: innermost\r\nContent-Type: text/plain\r\n\r\nthe {needle} is here\r\n")
            .into_bytes();
    for i in 0..levels {
        let mut outer = format!(
            "Subject: level {i}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\nContent-Type: text/plain\r\n\r\nwrapper {i}\r\n--b{i}\r\nContent-Type: message/rfc822\r\n"
        )
        .into_bytes();
        if encode {
            outer.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
            let b64 = base64::engine::general_purpose::STANDARD.encode(&inner);
            for line in b64.as_bytes().chunks(76) {
                outer.extend_from_slice(line);
                outer.extend_from_slice(b"\r\n");
            }
        } else {
            outer.extend_from_slice(b"\r\n");
            outer.extend_from_slice(&inner);
        }
        outer.extend_from_slice(format!("\r\n--b{i}--\r\n").as_bytes());
        inner = outer;
    }
    inner
}

#[test]
fn search_finds_text_nested_deeper_than_any_cap() {
    for (levels, encode) in [(40, false), (200, false), (6, true), (30, true)] {
        let raw = nested(levels, "zebrafinch", encode);
        let text = searchable_text(&raw);
        assert!(
            text.body.contains("zebrafinch"),
            "{levels} levels (base64: {encode}): innermost text not searched"
        );
        assert!(
            text.body.contains("wrapper 0"),
            "outer parts still searched"
        );
        let ctx = SearchContext {
            max_seq: 1,
            max_uid: 1,
            charset: Charset::Utf8,
        };
        let a = mime::analyze(&raw);
        let parts = a.parts.to_bytes();
        let f = MessageFacts {
            seq: NonZeroU32::MIN,
            uid: NonZeroU32::MIN,
            flags: vec![],
            internal_date: at("2024-01-01T00:00:00Z"),
            size: 0,
            raw: &raw,
            envelope: &a.envelope,
            body: &a.body,
            bodystructure: &a.bodystructure,
            parts: &parts,
            sent_date: a.sent_date,
            modseq: 1,
        };
        assert!(
            matches(&SearchKey::Body(b"ZEBRAFINCH".to_vec()), &f, &ctx),
            "{levels} {encode}"
        );
    }
}

/// Whether the one message `raw` matches `key`, through the scan and
/// through its stored searchable text (the index's verification), which
/// must agree.
fn one_matches(raw: &[u8], key: &SearchKey) -> bool {
    let m = msg("one", raw, Vec::new(), "2024-01-01T00:00:00Z");
    let f = facts(0, &m);
    let ctx = SearchContext {
        max_seq: 1,
        max_uid: 10,
        charset: Charset::Utf8,
    };
    let scan = matches(key, &f, &ctx);
    let stored = Matcher::new(key, Charset::Utf8).matches_text(&f, searchable_text(&m.raw), 1, 10);
    assert_eq!(scan, stored, "{key:?}");
    scan
}

#[test]
fn address_keys_match_the_envelope_addresses_not_comments() {
    use SearchKey::*;
    let raw = b"From: <user-from (comment)@ (comment) domain.org>\n\
        To: \"Quoted, Name\" <q@example.net> (note), plain@example.org\n\
        Cc: Team: one@example.com, =?utf-8?q?Zo=C3=AB?= <zoe@example.com>;\n\
        Subject: s\n\n\
        body\n";
    // RFC 3501 §6.4.4: "the envelope structure's FROM field".
    assert!(one_matches(raw, &From(s("user-from@domain.org"))));
    assert!(one_matches(raw, &From(s("USER-FROM@"))));
    assert!(!one_matches(raw, &From(s("comment"))));
    // HEADER still sees the field as written.
    assert!(one_matches(raw, &Header("From".into(), s("comment"))));
    // Display names decoded and unquoted; comments after an address gone.
    assert!(one_matches(raw, &To(s("quoted, name <q@example.net>"))));
    assert!(!one_matches(raw, &To(s("note"))));
    assert!(!one_matches(raw, &To(s("\"quoted"))));
    assert!(one_matches(
        raw,
        &To(s("q@example.net>, plain@example.org"))
    ));
    // A group's name, then its members.
    assert!(one_matches(raw, &Cc(s("team: one@example.com"))));
    assert!(one_matches(raw, &Cc(s("zoë <zoe@"))));
    // Each key its own field.
    assert!(!one_matches(raw, &Bcc(s(""))));
    assert!(one_matches(raw, &Cc(s(""))));
    assert!(!one_matches(raw, &From(s("plain@"))));
}

#[test]
fn an_address_field_without_addresses_is_searched_as_text() {
    use SearchKey::*;
    let raw = b"From: (nobody at all)\nTo: undisclosed-recipients:;\n\nbody\n";
    assert!(one_matches(raw, &From(s("nobody at all"))));
    assert!(one_matches(raw, &To(s("undisclosed-recipients"))));
    assert!(!one_matches(raw, &To(s(";"))));
}

/// `matches_head` (the record-only SEARCH path) answers as `matches` does,
/// over many flag sets, sizes, dates and keys on them.
#[test]
fn head_path_agrees_with_the_general_path() {
    use crate::types::internal_date;
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
    let set = |lo: u32, hi: u32| {
        SequenceSet(vec![SeqRange {
            start: SeqOrUid::Value(NonZeroU32::new(lo).expect("nonzero")),
            end: SeqOrUid::Value(NonZeroU32::new(hi).expect("nonzero")),
        }])
    };
    let keys = vec![
        SearchKey::Unseen,
        SearchKey::Flagged,
        SearchKey::Or(Box::new(SearchKey::Answered), Box::new(SearchKey::Flagged)),
        SearchKey::And(vec![SearchKey::Unseen, SearchKey::Since(d(2024, 3, 1))]),
        SearchKey::Not(Box::new(SearchKey::Deleted)),
        SearchKey::New,
        SearchKey::Old,
        SearchKey::And(vec![SearchKey::Draft, SearchKey::Larger(5000)]),
        SearchKey::Or(
            Box::new(SearchKey::Smaller(900)),
            Box::new(SearchKey::On(d(2024, 2, 29))),
        ),
        SearchKey::And(vec![SearchKey::Before(d(2024, 3, 1)), SearchKey::Seen]),
        SearchKey::Uid(set(10, 40)),
        SearchKey::SequenceSet(set(3, 7)),
        SearchKey::ModSeq(50),
        SearchKey::All,
    ];
    // A small deterministic generator: the cases stay the same each run.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for key in &keys {
        let matcher = Matcher::new(key, Charset::UsAscii);
        assert!(matcher.head_only(), "{key:?}");
        for i in 0..500u32 {
            let r = next();
            let bits = r as u8;
            let size = (r >> 8) as u32 % 10_000;
            // Around the end of February 2024, in zones either side of UTC.
            let secs = 1_709_000_000 + (r >> 24) as i64 % 400_000;
            let off = ((r >> 48) as i32 % 27 - 13) * 3600;
            let (seq, uid, modseq) = (i % 12 + 1, i % 60 + 1, (r >> 40) % 100);
            let head = HeadFacts {
                seq,
                uid,
                answered: bits & 1 != 0,
                flagged: bits & 2 != 0,
                deleted: bits & 4 != 0,
                seen: bits & 8 != 0,
                draft: bits & 16 != 0,
                recent: bits & 32 != 0,
                size,
                internal_date: (secs, off),
                modseq,
            };
            let mut flags = Vec::new();
            for (on, f) in [
                (head.answered, Flag::Answered),
                (head.flagged, Flag::Flagged),
                (head.deleted, Flag::Deleted),
                (head.seen, Flag::Seen),
                (head.draft, Flag::Draft),
            ] {
                if on {
                    flags.push(FlagFetch::Flag(f));
                }
            }
            if head.recent {
                flags.push(FlagFetch::Recent);
            }
            let facts = MessageFacts {
                seq: NonZeroU32::new(seq).expect("nonzero"),
                uid: NonZeroU32::new(uid).expect("nonzero"),
                flags,
                internal_date: internal_date(secs, off),
                size,
                raw: &[],
                envelope: &[],
                body: &[],
                bodystructure: &[],
                parts: &[],
                sent_date: None,
                modseq,
            };
            assert_eq!(
                matcher.matches_head(&head, 12, 60),
                matcher.matches(&facts, 12, 60),
                "{key:?} on {head:?}"
            );
        }
    }
    for key in [
        SearchKey::Keyword("$Junk".into()),
        SearchKey::SentSince(d(2024, 1, 1)),
        SearchKey::Subject(b"x".to_vec()),
        SearchKey::Or(
            Box::new(SearchKey::Seen),
            Box::new(SearchKey::Body(b"y".to_vec())),
        ),
    ] {
        assert!(!Matcher::new(&key, Charset::UsAscii).head_only(), "{key:?}");
    }
}
