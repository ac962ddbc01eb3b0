//! The corpus under `tests/mime-corpus/`: each `X.eml` has an `X.golden`
//! holding its ENVELOPE, BODY, BODYSTRUCTURE and sent date. Run with
//! `UPDATE_GOLDEN=1` to rewrite the golden files after a deliberate change,
//! then review the diff against the RFC 3501 §9 grammar by hand.

use std::borrow::Cow;
use std::num::NonZeroU32;
use std::path::PathBuf;

use super::*;
use crate::types::{Section, SectionText};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mime-corpus")
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory exists")
        .filter_map(|e| {
            let p = e.expect("readable directory entry").path();
            (p.extension()? == "eml").then(|| {
                let name = p
                    .file_stem()
                    .expect("has a stem")
                    .to_string_lossy()
                    .into_owned();
                (name, std::fs::read(&p).expect("readable corpus file"))
            })
        })
        .collect();
    out.sort();
    out
}

fn load(name: &str) -> Vec<u8> {
    std::fs::read(corpus_dir().join(format!("{name}.eml"))).expect("corpus message exists")
}

fn golden(a: &Analysis) -> Vec<u8> {
    let mut g = Vec::new();
    for (label, v) in [
        ("ENVELOPE", &a.envelope),
        ("BODY", &a.body),
        ("BODYSTRUCTURE", &a.bodystructure),
    ] {
        g.extend_from_slice(label.as_bytes());
        g.push(b' ');
        g.extend_from_slice(v);
        g.push(b'\n');
    }
    let date = a.sent_date.map_or("NIL".to_owned(), |d| d.to_rfc3339());
    g.extend_from_slice(format!("SENT-DATE {date}\n").as_bytes());
    g
}

#[test]
fn corpus_matches_golden() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let corpus = corpus();
    assert!(corpus.len() >= 15, "corpus is missing");
    for (name, raw) in corpus {
        let got = golden(&analyze(&raw));
        let path = corpus_dir().join(format!("{name}.golden"));
        if update {
            std::fs::write(&path, &got).expect("golden file writable");
            continue;
        }
        let want = std::fs::read(&path).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{name}:\n--- want\n{}\n--- got\n{}",
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&got)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatch (UPDATE_GOLDEN=1 to rewrite):\n{}",
        failures.join("\n")
    );
}

#[test]
fn truncations_never_panic_and_stay_consistent() {
    for (_, raw) in corpus() {
        for len in 0..=raw.len() {
            let cut = &raw[..len];
            let a = analyze(cut);
            let back = PartMap::from_bytes(&a.parts.to_bytes()).expect("own map decodes");
            assert_eq!(back, a.parts);
            assert_eq!(
                section(cut, &a.parts, &sec(&[], None)).as_deref(),
                Some(cut)
            );
            for path in [&[1u32][..], &[1, 1], &[2], &[2, 1], &[3]] {
                for text in [
                    None,
                    Some(SectionText::Mime),
                    Some(SectionText::Header),
                    Some(SectionText::Text),
                ] {
                    let _ = section(cut, &a.parts, &sec(path, text));
                }
            }
        }
    }
}

#[test]
fn hostile_structures_are_capped() {
    // Deep nesting: each level a multipart with one part.
    let mut m = Vec::new();
    for i in 0..200 {
        m.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    m.extend_from_slice(b"\r\ndeep\r\n");
    let a = analyze(&m);
    let mut depth = 0;
    let mut p = a.parts.root();
    while let PartKind::Multipart(c) = p.kind() {
        depth += 1;
        p = &c[0];
    }
    assert!(depth <= MAX_DEPTH);
    // Many parts.
    let mut m = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n".to_vec();
    for _ in 0..5000 {
        m.extend_from_slice(b"--x\r\n\r\np\r\n");
    }
    let a = analyze(&m);
    let PartKind::Multipart(c) = a.parts.root().kind() else {
        panic!("multipart expected")
    };
    assert!(c.len() < MAX_PARTS);
    assert!(PartMap::from_bytes(&a.parts.to_bytes()).is_ok());
    // Deeply nested message/rfc822.
    let m = b"Content-Type: message/rfc822\r\n\r\n".repeat(500);
    let a = analyze(&m);
    assert!(PartMap::from_bytes(&a.parts.to_bytes()).is_ok());
    assert!(a.bodystructure.len() < 100_000);
}

fn sec(part: &[u32], text: Option<SectionText>) -> Section {
    Section {
        part: part
            .iter()
            .map(|&n| NonZeroU32::new(n).expect("test paths are 1-based"))
            .collect(),
        text,
    }
}

fn fields(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn get(raw: &[u8], part: &[u32], text: Option<SectionText>) -> Option<String> {
    let a = analyze(raw);
    section(raw, &a.parts, &sec(part, text))
        .map(|c: Cow<'_, [u8]>| String::from_utf8_lossy(&c).into_owned())
}

#[test]
fn section_top_level() {
    let raw = load("plain");
    let s = |t| get(&raw, &[], t);
    let text = std::str::from_utf8(&raw).expect("ascii");
    let split = text.find("\r\n\r\n").expect("has a body") + 4;
    assert_eq!(s(None).as_deref(), Some(text));
    assert_eq!(
        s(Some(SectionText::Header)).as_deref(),
        Some(&text[..split])
    );
    assert_eq!(s(Some(SectionText::Text)).as_deref(), Some(&text[split..]));
    assert_eq!(s(Some(SectionText::Mime)), None);
    assert_eq!(
        s(Some(SectionText::HeaderFields(fields(&[
            "SUBJECT", "from", "x-absent"
        ]))))
        .as_deref(),
        Some("From: Alice Example <alice@example.org>\r\nSubject: Lunch\r\n on Friday?\r\n\r\n")
    );
    assert_eq!(
        s(Some(SectionText::HeaderFields(fields(&["x-absent"])))).as_deref(),
        Some("\r\n")
    );
    let not = s(Some(SectionText::HeaderFieldsNot(fields(&[
        "received",
        "return-path",
        "subject",
        "to",
        "cc",
    ]))))
    .unwrap();
    assert!(not.starts_with("Date: Tue, 4 Mar 2025 10:59:01 +0100\r\nFrom: "));
    assert!(!not.contains("Subject") && !not.contains("on Friday") && !not.contains("Received"));
    assert!(not.ends_with("Content-Transfer-Encoding: 7bit\r\n\r\n"));
    // A non-multipart message: part 1 is its body, and nothing deeper.
    assert_eq!(get(&raw, &[1], None).as_deref(), Some(&text[split..]));
    assert_eq!(get(&raw, &[2], None), None);
    assert_eq!(get(&raw, &[1, 1], None), None);
    assert_eq!(get(&raw, &[1], Some(SectionText::Header)), None);
}

#[test]
fn section_multipart_parts() {
    let raw = load("mixed-attachments");
    assert_eq!(get(&raw, &[1], None).as_deref(), Some("See the report."));
    assert_eq!(
        get(&raw, &[1], Some(SectionText::Mime)).as_deref(),
        Some(
            "Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        )
    );
    assert_eq!(
        get(&raw, &[2], None).as_deref(),
        Some("JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGgg\r\nNiAwIFI+PgpzdHJlYW0K")
    );
    assert_eq!(get(&raw, &[3], None).as_deref(), Some("iVBORw0KGgo="));
    assert_eq!(get(&raw, &[4], None), None);
    assert_eq!(get(&raw, &[2, 1], None), None);
    // HEADER/TEXT only for message/rfc822 parts.
    assert_eq!(get(&raw, &[2], Some(SectionText::Header)), None);
    assert_eq!(get(&raw, &[2], Some(SectionText::Text)), None);

    let raw = load("nested");
    assert_eq!(get(&raw, &[1, 1], None).as_deref(), Some("plain body"));
    assert_eq!(
        get(&raw, &[1, 2, 1], None).as_deref(),
        Some("<img src=\"cid:logo\">")
    );
    assert_eq!(
        get(&raw, &[1, 2, 2], None).as_deref(),
        Some("R0lGODlhAQABAAAAACw=")
    );
    assert_eq!(
        get(&raw, &[1, 2, 2], Some(SectionText::Mime)).as_deref(),
        Some(
            "Content-Type: image/gif\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        )
    );
    assert_eq!(get(&raw, &[2], None).as_deref(), Some("a,b\r\n1,2"));
    assert_eq!(get(&raw, &[1, 3], None), None);
    // A multipart part's own content is its raw body, delimiters included.
    let alt = get(&raw, &[1], None).unwrap();
    assert!(alt.starts_with("--inner\r\n") && alt.ends_with("--inner--"));
}

#[test]
fn section_encapsulated_message() {
    let raw = load("rfc822-in-multipart");
    let inner = "Date: Tue, 4 Mar 2025 10:59:01 +0100\r\nFrom: Alice Example <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: Lunch\r\nMessage-ID: <inner.1@example.org>\r\n\r\n";
    assert_eq!(
        get(&raw, &[2], None).as_deref(),
        Some(&*format!("{inner}Friday at noon?"))
    );
    assert_eq!(
        get(&raw, &[2], Some(SectionText::Header)).as_deref(),
        Some(inner)
    );
    assert_eq!(
        get(&raw, &[2], Some(SectionText::Text)).as_deref(),
        Some("Friday at noon?")
    );
    assert_eq!(
        get(&raw, &[2], Some(SectionText::Mime)).as_deref(),
        Some("Content-Type: message/rfc822\r\nContent-Description: forwarded message\r\n\r\n")
    );
    assert_eq!(
        get(
            &raw,
            &[2],
            Some(SectionText::HeaderFields(fields(&["subject"])))
        )
        .as_deref(),
        Some("Subject: Lunch\r\n\r\n")
    );
    assert_eq!(
        get(
            &raw,
            &[2],
            Some(SectionText::HeaderFieldsNot(fields(&[
                "date",
                "from",
                "to",
                "message-id"
            ])))
        )
        .as_deref(),
        Some("Subject: Lunch\r\n\r\n")
    );
    // The encapsulated message is not multipart: 2.1 is its body.
    assert_eq!(get(&raw, &[2, 1], None).as_deref(), Some("Friday at noon?"));
    assert_eq!(get(&raw, &[2, 2], None), None);

    let raw = load("rfc822-multipart-body");
    assert_eq!(get(&raw, &[1, 1], None).as_deref(), Some("plain"));
    assert_eq!(get(&raw, &[1, 2], None).as_deref(), Some("<p>html</p>"));
    assert_eq!(
        get(&raw, &[1, 2], Some(SectionText::Mime)).as_deref(),
        Some("Content-Type: text/html\r\n\r\n")
    );
    assert!(
        get(&raw, &[1], Some(SectionText::Header))
            .unwrap()
            .starts_with("From: news@example.com\r\n")
    );
    assert_eq!(get(&raw, &[1, 3], None), None);
}

#[test]
fn section_bare_lf_offsets() {
    let raw = load("lf-only");
    assert!(!raw.contains(&b'\r'));
    assert_eq!(get(&raw, &[1], None).as_deref(), Some("line one\nline two"));
    assert_eq!(
        get(&raw, &[1], Some(SectionText::Mime)).as_deref(),
        Some("Content-Type: text/plain\n\n")
    );
    assert_eq!(
        get(&raw, &[2], Some(SectionText::Header)).as_deref(),
        Some("Subject: inner\nFrom: x@example.org\n\n")
    );
    assert_eq!(
        get(&raw, &[2], Some(SectionText::Text)).as_deref(),
        Some("inner body")
    );
    assert_eq!(get(&raw, &[2, 1], None).as_deref(), Some("inner body"));
    // HEADER.FIELDS keeps the original line ending and ends with CRLF.
    assert_eq!(
        get(
            &raw,
            &[],
            Some(SectionText::HeaderFields(fields(&["subject"])))
        )
        .as_deref(),
        Some("Subject: bare LF\n\r\n")
    );
}

#[test]
fn section_malformed() {
    let raw = load("unterminated");
    assert_eq!(get(&raw, &[1], None).as_deref(), Some("one"));
    assert_eq!(get(&raw, &[2, 1], None).as_deref(), Some("two"));
    assert_eq!(get(&raw, &[2, 2], None).as_deref(), Some("<b>three\r\n"));
    let raw = load("missing-boundary");
    assert_eq!(get(&raw, &[1], None).as_deref(), Some(""));
    assert_eq!(get(&raw, &[2], None), None);
    let raw = load("no-boundary-param");
    assert_eq!(get(&raw, &[1], None).as_deref(), Some("some text\r\n"));
    let raw = load("no-header");
    assert_eq!(
        get(&raw, &[], Some(SectionText::Header)).as_deref(),
        Some("\r\n")
    );
    assert_eq!(
        get(&raw, &[1], None),
        get(&raw, &[], Some(SectionText::Text))
    );
    let raw = load("digest");
    assert_eq!(get(&raw, &[1, 1], None).as_deref(), Some("first body"));
    assert_eq!(
        get(&raw, &[1], Some(SectionText::Header)).as_deref(),
        Some("From: one@example.org\r\nSubject: first\r\n\r\n")
    );
    assert_eq!(get(&raw, &[2], Some(SectionText::Header)), None);
    // A map that does not fit the bytes gives None, not a panic.
    let a = analyze(&load("nested"));
    assert_eq!(section(b"short", &a.parts, &sec(&[2], None)), None);
}

#[test]
fn part_map_round_trip() {
    for (name, raw) in corpus() {
        let map = analyze(&raw).parts;
        let bytes = map.to_bytes();
        assert_eq!(bytes[0], 1, "{name}: layout version");
        assert_eq!(PartMap::from_bytes(&bytes).as_ref(), Ok(&map), "{name}");
    }
}

/// The stored layout must not change silently: this is version 1 of
/// `rfc822-in-multipart.eml`'s map, byte for byte.
#[test]
fn part_map_fixture() {
    let map = analyze(&load("rfc822-in-multipart")).parts;
    let want: &[u8] = &[
        1, // layout version
        1, 0, 187, 1, 242, 3, 2, // message: multipart 0..187..498, 2 parts
        0, 194, 1, 222, 1, 232, 1, // 1: single 194..222..232
        2, 241, 1, 185, 2, 231, 3, // 2: message/rfc822 241..313..487
        0, 185, 2, 216, 3, 231, 3, // 2's message: single 313..472..487
    ];
    let got = map.to_bytes();
    if got != want {
        panic!("part map layout changed: {got:?}");
    }
    assert_eq!(PartMap::from_bytes(want).as_ref(), Ok(&map));
}

#[test]
fn part_map_rejects_bad_bytes() {
    assert_eq!(PartMap::from_bytes(&[]), Err(MimeError::Truncated));
    assert_eq!(
        PartMap::from_bytes(&[2, 0, 0, 0, 0]),
        Err(MimeError::UnknownVersion(2))
    );
    assert_eq!(
        PartMap::from_bytes(&[1, 9, 0, 0, 0]),
        Err(MimeError::UnknownKind(9))
    );
    assert!(matches!(
        PartMap::from_bytes(&[1, 0, 5, 3, 9]),
        Err(MimeError::Corrupt(_))
    ));
    assert!(matches!(
        PartMap::from_bytes(&[1, 0, 0, 0, 0, 0]),
        Err(MimeError::Corrupt(_))
    ));
    assert_eq!(
        PartMap::from_bytes(&[1, 0, 0, 0]),
        Err(MimeError::Truncated)
    );
    // A child outside its parent's body.
    assert!(matches!(
        PartMap::from_bytes(&[1, 1, 0, 2, 4, 1, 0, 0, 5, 6]),
        Err(MimeError::Corrupt(_))
    ));
    // Every prefix of a valid map is rejected, never a panic.
    let good = analyze(&load("nested")).parts.to_bytes();
    for len in 0..good.len() {
        assert!(PartMap::from_bytes(&good[..len]).is_err());
    }
}

#[test]
fn sent_date() {
    let a = analyze(&load("plain"));
    assert_eq!(
        a.sent_date.map(|d| d.to_rfc3339()).as_deref(),
        Some("2025-03-04T10:59:01+01:00")
    );
    assert_eq!(analyze(&load("no-date-no-from")).sent_date, None);
}

/// What we pre-encode must be accepted by an independent IMAP grammar:
/// imap-codec parses each message's FETCH response (and those of every
/// truncation of it, which exercise the malformed paths).
#[test]
fn productions_parse_with_imap_codec() {
    use imap_codec::ResponseCodec;
    use imap_codec::decode::Decoder;

    for (name, raw) in corpus() {
        for len in (0..=raw.len()).rev() {
            let a = analyze(&raw[..len]);
            let mut line = b"* 1 FETCH (ENVELOPE ".to_vec();
            line.extend_from_slice(&a.envelope);
            line.extend_from_slice(b" BODY ");
            line.extend_from_slice(&a.body);
            line.extend_from_slice(b" BODYSTRUCTURE ");
            line.extend_from_slice(&a.bodystructure);
            line.extend_from_slice(b")\r\n");
            match ResponseCodec::default().decode(&line) {
                Ok((b"", _)) => {}
                other => panic!(
                    "{name} cut at {len}: imap-codec rejects {:?}: {}",
                    other.map(|(rest, _)| rest.len()),
                    String::from_utf8_lossy(&line)
                ),
            }
        }
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Fragments that steer random messages into the MIME paths.
    const PIECES: &[&[u8]] = &[
        b"\r\n",
        b"\n",
        b"\r",
        b"--b",
        b"--b--",
        b"--c",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b"Content-Type: multipart/digest; boundary=c\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Type: text/plain; name*0*=utf-8''%41; name*1=x; name*3=y\r\n",
        b"Content-Disposition: attachment; filename=\"a\\\"b\"\r\n",
        b"From: \"a\" <b@c>, g: d@e; (x)\r\n",
        b"To: <@r:a@b>, ,;:<>[]()\"\\\r\n",
        b" folded",
        b"Subject: \xff\x00\xe9",
        b"Date: 1 Jan 2000 00:00 +0000\r\n",
        b"x",
        b":",
        b" ",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn analyze_and_section_never_panic(picks in prop::collection::vec(0..PIECES.len(), 0..60)) {
            let raw: Vec<u8> = picks.iter().flat_map(|&i| PIECES[i].iter().copied()).collect();
            let a = analyze(&raw);
            let back = PartMap::from_bytes(&a.parts.to_bytes());
            prop_assert_eq!(back.as_ref(), Ok(&a.parts));
            for path in [&[][..], &[1u32][..], &[1, 1], &[1, 2], &[2], &[2, 1, 1]] {
                for text in [None, Some(SectionText::Mime), Some(SectionText::Header), Some(SectionText::Text),
                             Some(SectionText::HeaderFields(vec!["from".into()])),
                             Some(SectionText::HeaderFieldsNot(vec!["from".into()]))] {
                    if path.is_empty() && text == Some(SectionText::Mime) {
                        continue;
                    }
                    if let Some(s) = section(&raw, &a.parts, &sec(path, text)) {
                        // At most a CRLF added to an unterminated last line, then the
                        // empty line.
                        prop_assert!(s.len() <= raw.len() + 4);
                    }
                }
            }
        }
    }
}

mod dovecot;
