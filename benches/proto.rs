//! Parser and encoder timings for the commands a mail client sends most, with
//! `std::time::Instant` (no benchmark framework): `cargo bench --bench proto`
//! prints the median time per operation over many batches.
//!
//! Without `--bench` (`cargo test --benches`) each case runs once, a quick
//! check that the bench still works. Not a default test target: cargo
//! nextest would need the libtest command line from it.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use chrono::{FixedOffset, TimeZone};

use roost::imap::proto::encode::encode_response;
use roost::imap::proto::parse::{ParseLimits, parse_command};
use roost::imap::proto::response::{Data, MessageDataItem, Response};
use roost::imap::proto::types::{Flag, FlagFetch, Section, SectionText};

/// Batches per case; the median batch gives the figure.
const SAMPLES: usize = 51;
/// Aim for about this long per batch, so the clock's resolution is noise.
const BATCH_TIME: Duration = Duration::from_millis(5);

/// A named operation to time.
type Case<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// Median nanoseconds per call of `f`.
fn measure(mut f: impl FnMut()) -> f64 {
    // Warm up, and find how many calls fill a batch.
    let mut per_batch = 1u32;
    loop {
        let start = Instant::now();
        for _ in 0..per_batch {
            f();
        }
        if start.elapsed() >= BATCH_TIME || per_batch >= 1 << 24 {
            break;
        }
        per_batch *= 2;
    }
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(per_batch)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let limits = ParseLimits::default();

    // Thunderbird's header sync after SELECT.
    let header_fetch: &[u8] = b"5 UID fetch 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS \
        (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups \
        In-Reply-To Content-Type Reply-To)])\r\n";

    let mut append =
        b"a42 APPEND \"Sent Items\" (\\Seen) \"14-Mar-2025 09:26:53 +0100\" {10240}\r\n".to_vec();
    append.extend((0..10_240).map(|i| {
        if i % 78 == 77 {
            b'\n'
        } else {
            b'a' + (i % 26) as u8
        }
    }));
    append.extend_from_slice(b"\r\n");

    let search: &[u8] = b"a7 UID SEARCH CHARSET UTF-8 OR (UNSEEN FROM alice) NOT (OR SUBJECT \
        \"re: budget\" (SINCE 1-Feb-2024 LARGER 10000 NOT (HEADER X-Spam yes))) UID 1:* \
        UNDELETED\r\n";

    let fetch_response = Response::Data(Data::Fetch {
        seq: NonZeroU32::new(4711).expect("not zero"),
        items: vec![
            MessageDataItem::Uid(NonZeroU32::new(123_456).expect("not zero")),
            MessageDataItem::Rfc822Size(48_213),
            MessageDataItem::Flags(vec![
                FlagFetch::Flag(Flag::Seen),
                FlagFetch::Flag(Flag::Keyword("$Forwarded".into())),
                FlagFetch::Recent,
            ]),
            MessageDataItem::InternalDate(
                FixedOffset::east_opt(3600)
                    .expect("valid offset")
                    .with_ymd_and_hms(2025, 3, 14, 9, 26, 53)
                    .single()
                    .expect("valid date"),
            ),
            MessageDataItem::BodySection {
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields(vec![
                        "From".into(),
                        "To".into(),
                        "Subject".into(),
                        "Date".into(),
                        "Message-ID".into(),
                    ])),
                },
                origin: None,
                data: Some(
                    b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n\
                      Subject: Re: budget for Q2\r\nDate: Fri, 14 Mar 2025 09:26:53 +0100\r\n\
                      Message-ID: <20250314082653.4711@example.org>\r\n\r\n"
                        .to_vec(),
                ),
            },
        ],
    });

    let cases: Vec<Case> = vec![
        (
            "parse header-sync UID FETCH",
            Box::new(|| {
                black_box(parse_command(black_box(header_fetch), &limits).is_ok());
            }),
        ),
        (
            "parse APPEND with a 10 KiB literal",
            Box::new(|| {
                black_box(parse_command(black_box(&append), &limits).is_ok());
            }),
        ),
        (
            "parse nested UID SEARCH",
            Box::new(|| {
                black_box(parse_command(black_box(search), &limits).is_ok());
            }),
        ),
        (
            "encode FETCH response",
            Box::new(|| {
                let mut out = Vec::with_capacity(512);
                encode_response(&mut out, black_box(&fetch_response));
                black_box(out);
            }),
        ),
    ];

    for (name, mut f) in cases {
        if full {
            println!("{name:<40} {:>10.0} ns/op (median)", measure(&mut f));
        } else {
            f();
            println!("{name:<40} ran once");
        }
    }
    assert!(parse_command(header_fetch, &limits).is_ok());
    assert!(parse_command(&append, &limits).is_ok());
    assert!(parse_command(search, &limits).is_ok());
}
