use std::num::NonZeroU32;

use chrono::{DateTime, FixedOffset};

use super::*;
use crate::imap::proto::types::FetchItems;
use crate::mime::Analysis;

const MSG: &[u8] = b"From: Ann <ann@example.org>\r\n\
To: bob@example.org\r\n\
Subject: parts\r\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"xx\"\r\n\
\r\n\
preamble\r\n\
--xx\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
Hello, Bob.\r\n\
--xx\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: Carl <carl@example.org>\r\n\
Subject: inner\r\n\
\r\n\
Inner body.\r\n\
--xx--\r\n";

struct Stored {
    raw: Vec<u8>,
    analysis: Analysis,
    parts: Vec<u8>,
    date: DateTime<FixedOffset>,
}

fn store(raw: &[u8]) -> Stored {
    let analysis = mime::analyze(raw);
    let parts = analysis.parts.to_bytes();
    Stored {
        raw: raw.to_vec(),
        analysis,
        parts,
        date: DateTime::parse_from_rfc3339("2024-03-01T10:00:00+01:00").unwrap(),
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn facts(s: &Stored, flags: Vec<FlagFetch>) -> MessageFacts<'_> {
    MessageFacts {
        seq: nz(3),
        uid: nz(42),
        flags,
        internal_date: s.date,
        size: s.raw.len() as u32,
        raw: &s.raw,
        envelope: &s.analysis.envelope,
        body: &s.analysis.body,
        bodystructure: &s.analysis.bodystructure,
        parts: &s.parts,
        sent_date: s.analysis.sent_date,
        modseq: 1,
    }
}

fn sec(part: &[u32], text: Option<SectionText>) -> Section {
    Section {
        part: part.iter().map(|&n| nz(n)).collect(),
        text,
    }
}

fn body(peek: bool, section: Section, partial: Option<(u32, u32)>) -> FetchAttr {
    FetchAttr::BodySection {
        peek,
        section,
        partial: partial.map(|(o, l)| (o, nz(l))),
    }
}

/// The data of the single BODY[...] item answering `attr`.
fn data(m: &MessageFacts<'_>, attr: FetchAttr) -> (Option<u32>, Option<Vec<u8>>) {
    let out = fetch_items(&[attr], m, false);
    match out.items.as_slice() {
        [MessageDataItem::BodySection { origin, data, .. }] => (*origin, data.clone()),
        other => panic!("unexpected items {other:?}"),
    }
}

fn text(d: Option<Vec<u8>>) -> Option<String> {
    d.map(|d| String::from_utf8(d).unwrap())
}

#[test]
fn every_plain_attribute() {
    let s = store(MSG);
    let m = facts(&s, vec![FlagFetch::Flag(Flag::Answered), FlagFetch::Recent]);
    let attrs = vec![
        FetchAttr::Flags,
        FetchAttr::Uid,
        FetchAttr::InternalDate,
        FetchAttr::Rfc822Size,
        FetchAttr::Envelope,
        FetchAttr::Body,
        FetchAttr::BodyStructure,
    ];
    let out = fetch_items(&attrs, &m, false);
    assert!(!out.sets_seen);
    assert_eq!(
        out.items,
        vec![
            MessageDataItem::Flags(vec![FlagFetch::Flag(Flag::Answered), FlagFetch::Recent]),
            MessageDataItem::Uid(nz(42)),
            MessageDataItem::InternalDate(s.date),
            MessageDataItem::Rfc822Size(MSG.len() as u32),
            MessageDataItem::Envelope(s.analysis.envelope.clone()),
            MessageDataItem::Body(s.analysis.body.clone()),
            MessageDataItem::BodyStructure(s.analysis.bodystructure.clone()),
        ]
    );
}

#[test]
fn macros_expand_in_order() {
    let s = store(MSG);
    let m = facts(&s, vec![]);
    let out = fetch_items(&FetchItems::Full.expand(), &m, false);
    assert_eq!(
        out.items,
        vec![
            MessageDataItem::Flags(vec![]),
            MessageDataItem::InternalDate(s.date),
            MessageDataItem::Rfc822Size(MSG.len() as u32),
            MessageDataItem::Envelope(s.analysis.envelope.clone()),
            MessageDataItem::Body(s.analysis.body.clone()),
        ]
    );
}

#[test]
fn uid_fetch_always_reports_uid_once() {
    let s = store(MSG);
    let m = facts(&s, vec![]);
    let out = fetch_items(&[FetchAttr::Flags], &m, true);
    assert_eq!(
        out.items,
        vec![MessageDataItem::Uid(nz(42)), MessageDataItem::Flags(vec![])]
    );
    let out = fetch_items(&[FetchAttr::Flags, FetchAttr::Uid], &m, true);
    assert_eq!(
        out.items,
        vec![MessageDataItem::Flags(vec![]), MessageDataItem::Uid(nz(42))]
    );
    let out = fetch_items(&[FetchAttr::Flags], &m, false);
    assert_eq!(out.items, vec![MessageDataItem::Flags(vec![])]);
}

#[test]
fn rfc822_items_keep_their_names() {
    let s = store(MSG);
    let m = facts(&s, vec![]);
    let header_end = MSG.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let out = fetch_items(
        &[
            FetchAttr::Rfc822Header,
            FetchAttr::Rfc822,
            FetchAttr::Rfc822Text,
        ],
        &m,
        false,
    );
    assert_eq!(
        out.items,
        vec![
            MessageDataItem::Rfc822Header(Some(MSG[..header_end].to_vec())),
            MessageDataItem::Rfc822(Some(MSG.to_vec())),
            MessageDataItem::Rfc822Text(Some(MSG[header_end..].to_vec())),
        ]
    );
}

#[test]
fn which_items_set_seen() {
    let s = store(MSG);
    let unseen = facts(&s, vec![FlagFetch::Recent]);
    let seen = facts(&s, vec![FlagFetch::Flag(Flag::Seen)]);
    let cases: Vec<(FetchAttr, bool)> = vec![
        (FetchAttr::Rfc822, true),
        (FetchAttr::Rfc822Text, true),
        (FetchAttr::Rfc822Header, false),
        (FetchAttr::Rfc822Size, false),
        (FetchAttr::Envelope, false),
        (FetchAttr::BodyStructure, false),
        (FetchAttr::Body, false),
        (body(false, sec(&[], None), None), true),
        (body(false, sec(&[], Some(SectionText::Header)), None), true),
        (body(false, sec(&[1], None), Some((0, 1))), true),
        (body(true, sec(&[], None), None), false),
        (body(true, sec(&[1], Some(SectionText::Mime)), None), false),
        // A section that does not exist still counts as reading the body.
        (body(false, sec(&[9], None), None), true),
    ];
    for (attr, sets) in cases {
        let out = fetch_items(std::slice::from_ref(&attr), &unseen, false);
        assert_eq!(out.sets_seen, sets, "{attr:?}");
        // Already \Seen: nothing to set.
        assert!(!fetch_items(&[attr], &seen, false).sets_seen);
    }
}

#[test]
fn with_flags_replaces_or_appends() {
    let s = store(MSG);
    let m = facts(&s, vec![FlagFetch::Recent]);
    let now = vec![FlagFetch::Flag(Flag::Seen), FlagFetch::Recent];

    let mut out = fetch_items(&[FetchAttr::Flags, FetchAttr::Rfc822Size], &m, false);
    with_flags(&mut out.items, now.clone());
    assert_eq!(
        out.items,
        vec![
            MessageDataItem::Flags(now.clone()),
            MessageDataItem::Rfc822Size(MSG.len() as u32)
        ]
    );

    let mut out = fetch_items(&[FetchAttr::Rfc822Size], &m, true);
    with_flags(&mut out.items, now.clone());
    assert_eq!(
        out.items,
        vec![
            MessageDataItem::Uid(nz(42)),
            MessageDataItem::Rfc822Size(MSG.len() as u32),
            MessageDataItem::Flags(now),
        ]
    );
}

#[test]
fn peek_answers_as_body() {
    let s = store(MSG);
    let m = facts(&s, vec![]);
    let section = sec(&[1], None);
    let out = fetch_items(&[body(true, section.clone(), None)], &m, false);
    assert_eq!(
        out.items,
        vec![MessageDataItem::BodySection {
            section,
            origin: None,
            data: Some(b"Hello, Bob.".to_vec()),
        }]
    );
}

#[test]
fn partials() {
    let s = store(MSG);
    let m = facts(&s, vec![]);
    let part1 = || sec(&[1], None); // "Hello, Bob." (11 octets)
    let cases: Vec<((u32, u32), &str)> = vec![
        ((0, 5), "Hello"),
        ((7, 3), "Bob"),
        ((7, 100), "Bob."),
        ((10, 1), "."),
        ((11, 1), ""), // origin at the end
        ((12, 5), ""), // origin beyond the end
        ((u32::MAX, u32::MAX), ""),
    ];
    for (partial, want) in cases {
        let (origin, d) = data(&m, body(true, part1(), Some(partial)));
        assert_eq!(origin, Some(partial.0), "{partial:?}");
        assert_eq!(text(d).as_deref(), Some(want), "{partial:?}");
    }
    // BODY[]<0.10>: the whole message, truncated.
    let (origin, d) = data(&m, body(false, sec(&[], None), Some((0, 10))));
    assert_eq!(origin, Some(0));
    assert_eq!(d.as_deref(), Some(&MSG[..10]));
    // A partial of a section that does not exist is still NIL.
    let (origin, d) = data(&m, body(true, sec(&[7], None), Some((0, 10))));
    assert_eq!((origin, d), (Some(0), None));
}

#[test]
fn header_fields_keep_the_names_as_sent() {
    let s = store(MSG);
    let m = facts(&s, vec![]);
    let section = sec(
        &[],
        Some(SectionText::HeaderFields(vec![
            "subject".into(),
            "FROM".into(),
            "X-Absent".into(),
        ])),
    );
    let out = fetch_items(&[body(true, section.clone(), None)], &m, false);
    assert_eq!(
        out.items,
        vec![MessageDataItem::BodySection {
            section,
            origin: None,
            data: Some(b"From: Ann <ann@example.org>\r\nSubject: parts\r\n\r\n".to_vec()),
        }]
    );

    let not = sec(
        &[],
        Some(SectionText::HeaderFieldsNot(vec![
            "Content-Type".into(),
            "mime-version".into(),
            "date".into(),
            "to".into(),
        ])),
    );
    let (_, d) = data(&m, body(true, not, None));
    assert_eq!(
        text(d).as_deref(),
        Some("From: Ann <ann@example.org>\r\nSubject: parts\r\n\r\n")
    );
    // Of the message inside part 2.
    let inner = sec(
        &[2],
        Some(SectionText::HeaderFields(vec!["Subject".into()])),
    );
    let (_, d) = data(&m, body(true, inner, None));
    assert_eq!(text(d).as_deref(), Some("Subject: inner\r\n\r\n"));
}

#[test]
fn part_sections() {
    let s = store(MSG);
    let m = facts(&s, vec![]);
    let cases: Vec<(Section, Option<&str>)> = vec![
        (
            sec(&[1], Some(SectionText::Mime)),
            Some("Content-Type: text/plain; charset=us-ascii\r\n\r\n"),
        ),
        (
            sec(&[2], Some(SectionText::Mime)),
            Some("Content-Type: message/rfc822\r\n\r\n"),
        ),
        (
            sec(&[2], None),
            Some("From: Carl <carl@example.org>\r\nSubject: inner\r\n\r\nInner body."),
        ),
        (
            sec(&[2], Some(SectionText::Header)),
            Some("From: Carl <carl@example.org>\r\nSubject: inner\r\n\r\n"),
        ),
        // The line break before the boundary belongs to the boundary.
        (sec(&[2], Some(SectionText::Text)), Some("Inner body.")),
        (sec(&[2, 1], None), Some("Inner body.")),
        // Nonexistent: NIL.
        (sec(&[3], None), None),
        (sec(&[3], Some(SectionText::Mime)), None),
        (sec(&[1, 1], None), None),
        (sec(&[1], Some(SectionText::Header)), None),
        (sec(&[1], Some(SectionText::Text)), None),
        (
            sec(&[1], Some(SectionText::HeaderFields(vec!["From".into()]))),
            None,
        ),
    ];
    for (section, want) in cases {
        let (_, d) = data(&m, body(true, section.clone(), None));
        assert_eq!(text(d).as_deref(), want, "{section:?}");
    }
}

#[test]
fn corrupt_part_map_answers_nil() {
    let s = store(MSG);
    let base = facts(&s, vec![]);
    let attrs = [
        body(true, sec(&[1], None), None),
        body(true, sec(&[], Some(SectionText::Header)), None),
        FetchAttr::Rfc822Header,
        FetchAttr::Rfc822Text,
        body(true, sec(&[], None), None),
        FetchAttr::Rfc822,
    ];
    for bad in [
        &b""[..],
        b"\x07",
        b"\x01\x00\x05\x02\x01",
        &s.parts[..s.parts.len() - 1],
    ] {
        let m = MessageFacts {
            parts: bad,
            ..base.clone()
        };
        let out = fetch_items(&attrs, &m, false);
        assert_eq!(
            out.items,
            vec![
                MessageDataItem::BodySection {
                    section: sec(&[1], None),
                    origin: None,
                    data: None
                },
                MessageDataItem::BodySection {
                    section: sec(&[], Some(SectionText::Header)),
                    origin: None,
                    data: None
                },
                MessageDataItem::Rfc822Header(None),
                MessageDataItem::Rfc822Text(None),
                // The whole message never needs the map.
                MessageDataItem::BodySection {
                    section: sec(&[], None),
                    origin: None,
                    data: Some(MSG.to_vec())
                },
                MessageDataItem::Rfc822(Some(MSG.to_vec())),
            ],
            "{bad:?}"
        );
    }
}

#[test]
fn part_map_of_another_message_never_panics() {
    // A map that decodes but does not fit the raw bytes (offsets past the
    // end) answers NIL, not a panic.
    let big = store(MSG);
    let small = store(b"Subject: x\r\n\r\nhi\r\n");
    let m = MessageFacts {
        parts: &big.parts,
        ..facts(&small, vec![])
    };
    let (_, d) = data(&m, body(true, sec(&[2], Some(SectionText::Text)), None));
    assert_eq!(d, None);
}

#[test]
fn single_part_message() {
    let s = store(b"Subject: one\r\n\r\nJust text.\r\n");
    let m = facts(&s, vec![]);
    let (_, d) = data(&m, body(true, sec(&[1], None), None));
    assert_eq!(text(d).as_deref(), Some("Just text.\r\n"));
    let (_, d) = data(&m, body(true, sec(&[2], None), None));
    assert_eq!(d, None);
    let (_, d) = data(&m, body(true, sec(&[], Some(SectionText::Text)), None));
    assert_eq!(text(d).as_deref(), Some("Just text.\r\n"));
}

mod props {
    use proptest::prelude::*;

    use super::*;

    fn any_section() -> impl Strategy<Value = Section> {
        let text = prop_oneof![
            Just(None),
            Just(Some(SectionText::Header)),
            Just(Some(SectionText::Text)),
            Just(Some(SectionText::Mime)),
            Just(Some(SectionText::HeaderFields(vec!["subject".into()]))),
            Just(Some(SectionText::HeaderFieldsNot(vec!["to".into()]))),
        ];
        (prop::collection::vec(1u32..4, 0..4), text).prop_map(|(part, text)| Section {
            part: part.into_iter().map(nz).collect(),
            text,
        })
    }

    proptest! {
        /// Whatever the raw bytes and the stored part map (its own, another
        /// message's, or garbage), FETCH answers without panicking.
        #[test]
        fn never_panics(
            raw in prop::collection::vec(any::<u8>(), 0..300),
            other in prop::collection::vec(any::<u8>(), 0..300),
            garbage in prop::collection::vec(any::<u8>(), 0..40),
            which in 0u8..3,
            sections in prop::collection::vec(any_section(), 1..6),
            partial in prop::option::of((any::<u32>(), 1u32..=u32::MAX)),
        ) {
            let mut s = store(&raw);
            s.parts = match which {
                0 => s.parts,
                1 => mime::analyze(&other).parts.to_bytes(),
                _ => garbage,
            };
            let m = facts(&s, vec![]);
            let attrs: Vec<FetchAttr> = sections
                .into_iter()
                .map(|sec| body(false, sec, partial))
                .chain([FetchAttr::Rfc822Header, FetchAttr::Rfc822Text])
                .collect();
            let out = fetch_items(&attrs, &m, true);
            prop_assert_eq!(out.items.len(), attrs.len() + 1);
        }
    }
}

#[test]
fn wire_form() {
    use crate::imap::proto::encode::encode_response;
    use crate::imap::proto::response::{Data, Response};

    let s = store(MSG);
    let m = facts(&s, vec![FlagFetch::Recent]);
    let attrs = [
        FetchAttr::Flags,
        body(true, sec(&[1], None), Some((7, 3))),
        body(
            false,
            sec(
                &[2],
                Some(SectionText::HeaderFields(vec!["subject".into()])),
            ),
            None,
        ),
        body(true, sec(&[5], None), None),
    ];
    let mut out = fetch_items(&attrs, &m, true);
    assert!(out.sets_seen);
    with_flags(
        &mut out.items,
        vec![FlagFetch::Flag(Flag::Seen), FlagFetch::Recent],
    );
    let mut wire = Vec::new();
    encode_response(
        &mut wire,
        &Response::Data(Data::Fetch {
            seq: m.seq,
            items: out.items,
        }),
    );
    assert_eq!(
        String::from_utf8(wire).unwrap(),
        "* 3 FETCH (UID 42 FLAGS (\\Seen \\Recent) BODY[1]<7> \"Bob\" \
         BODY[2.HEADER.FIELDS (subject)] {18}\r\nSubject: inner\r\n\r\n \
         BODY[5] NIL)\r\n"
    );
}
