//! The oracle test: SEARCH through the index must answer exactly what the
//! reference scan (`search::matcher::matches` over every message) answers, on
//! random mailboxes and random queries, with messages delivered, copied
//! and expunged a moment before the SEARCH (so some are indexed, some not,
//! and some documents outlive their message).

use std::num::NonZeroU32;

use base64::Engine as _;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng, SeedableRng};

use super::SearchIndex;
use crate::mailbox::{MailAccess, MailWrite, MailWriteOk};
use crate::search::SearchKey;
use crate::search::matcher::{Charset, SearchContext, matches};
use crate::search::planner::SearchScope;
use crate::store::Store;
use crate::store::testing::TempDir;
use crate::types::{Flag, SeqOrUid, SeqRange, SequenceSet, StoreKind};

/// Words across scripts, with the cases that trip simple matching: `ß`,
/// final sigma, accents that latin-1 can carry, CJK without spaces.
const WORDS: &[&str] = &[
    "hello",
    "Straße",
    "café",
    "naïve",
    "résumé",
    "ÉCOLE",
    "Zürich",
    "ça",
    "Привет",
    "мир",
    "ПОЧТА",
    "日本語",
    "テスト",
    "中文字",
    "Ελληνικά",
    "ΣΊΣΥΦΟΣ",
    "quokka",
    "foo-bar",
    "x@y.org",
    "e-mail",
    "Meeting",
    "report",
    "2024",
    "naïveté",
    "Œuvre",
    "€uro",
    "ab",
];

fn latin1_ok(s: &str) -> bool {
    s.chars().all(|c| (c as u32) < 0x100)
}

fn words(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| *WORDS.choose(rng).unwrap_or(&"x"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 2047 encoded-word, B or Q, in UTF-8 or ISO-8859-1.
fn encoded_word(rng: &mut StdRng, text: &str) -> String {
    if latin1_ok(text) && rng.random_bool(0.5) {
        let bytes: Vec<u8> = text.chars().map(|c| c as u8).collect();
        let mut q = String::new();
        for b in bytes {
            if b.is_ascii_alphanumeric() {
                q.push(b as char);
            } else if b == b' ' {
                q.push('_');
            } else {
                q.push_str(&format!("={b:02X}"));
            }
        }
        format!("=?ISO-8859-1?Q?{q}?=")
    } else {
        let b = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        format!("=?UTF-8?B?{b}?=")
    }
}

/// Quoted-printable with soft line breaks every few bytes, so that words
/// are cut in the encoded form.
fn quoted_printable(bytes: &[u8], width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for &b in bytes {
        let piece = if b == b'\n' {
            out.push_str("\r\n");
            line = 0;
            continue;
        } else if (b.is_ascii_graphic() && b != b'=') || b == b' ' {
            (b as char).to_string()
        } else {
            format!("={b:02X}")
        };
        if line + piece.len() > width {
            out.push_str("=\r\n");
            line = 0;
        }
        line += piece.len();
        out.push_str(&piece);
    }
    out
}

/// One text part: headers and body, in a random charset and encoding.
fn text_part(rng: &mut StdRng, subtype: &str, text: &str) -> String {
    let (charset, bytes): (&str, Vec<u8>) = if latin1_ok(text) && rng.random_bool(0.3) {
        let cs = if rng.random_bool(0.5) {
            "iso-8859-1"
        } else {
            "windows-1252"
        };
        (cs, text.chars().map(|c| c as u8).collect())
    } else if rng.random_bool(0.2) {
        let (b, _, _) = encoding_rs::KOI8_R.encode(text);
        if b.iter().all(|_| true) && encoding_rs::KOI8_R.decode(&b).0 == text {
            ("koi8-r", b.into_owned())
        } else {
            ("utf-8", text.as_bytes().to_vec())
        }
    } else {
        ("utf-8", text.as_bytes().to_vec())
    };
    let (cte, body) = match rng.random_range(0..3) {
        0 => ("base64", {
            let b = base64::engine::general_purpose::STANDARD.encode(&bytes);
            b.as_bytes()
                .chunks(76)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("\r\n")
        }),
        1 => (
            "quoted-printable",
            quoted_printable(&bytes, rng.random_range(8..40)),
        ),
        _ => ("8bit", String::from_utf8_lossy(&bytes).into_owned()),
    };
    // An 8bit body in a non-UTF-8 charset cannot be carried in a Rust
    // string; such bodies go as quoted-printable instead.
    let (cte, body) = if cte == "8bit" && charset != "utf-8" {
        ("quoted-printable", quoted_printable(&bytes, 60))
    } else {
        (cte, body)
    };
    format!(
        "Content-Type: text/{subtype}; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{body}\r\n"
    )
}

fn header_value(rng: &mut StdRng, text: &str) -> String {
    if rng.random_bool(0.4) {
        encoded_word(rng, text)
    } else {
        text.to_owned()
    }
}

/// A random message and its internal date.
fn message(rng: &mut StdRng) -> (String, DateTime<FixedOffset>) {
    let n = rng.random_range(1..4);
    let subject = words(rng, n);
    let name = words(rng, 2);
    let mut h = String::new();
    // FROM matches the envelope's addresses, HEADER FROM the text: some
    // senders carry comments, inside the address too, whose words only
    // HEADER and TEXT may find (RFC 3501 §6.4.4).
    let a = rng.random_range(0..5);
    match rng.random_range(0..4) {
        0 => h.push_str(&format!(
            "From: <a{a} ({})@ ({}) example.org>\r\n",
            words(rng, 1),
            words(rng, 1)
        )),
        1 => h.push_str(&format!("From: a{a}@example.org ({})\r\n", name)),
        _ => h.push_str(&format!(
            "From: {} <a{a}@example.org>\r\n",
            header_value(rng, &name)
        )),
    }
    let to = words(rng, 1);
    h.push_str(&format!(
        "To: {} <to@example.net>\r\n",
        header_value(rng, &to)
    ));
    if rng.random_bool(0.5) {
        h.push_str(&format!("Cc: c{}@example.com\r\n", rng.random_range(0..3)));
    }
    if rng.random_bool(0.3) {
        h.push_str(&format!("X-Tag: {}\r\n", words(rng, 1)));
    }
    h.push_str(&format!("Subject: {}\r\n", header_value(rng, &subject)));
    let day = rng.random_range(1..28);
    if rng.random_bool(0.9) {
        h.push_str(&format!("Date: {day} Mar 2024 23:30:00 -0800\r\n"));
    }
    h.push_str("MIME-Version: 1.0\r\n");
    let n = rng.random_range(3..12);
    let text = words(rng, n);
    // Rare kinds last: the deep and the very-many-part messages cost the
    // most to draw and to scan.
    let raw = match rng.random_range(0..40) {
        0..10 => format!("{h}{}", text_part(rng, "plain", &text)),
        10..20 => {
            let html = format!("<p>{}</p><b>{}</b> &eacute;t&eacute;", text, words(rng, 2));
            format!(
                "{h}Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n{}--b1\r\n{}--b1--\r\n",
                text_part(rng, "plain", &text),
                text_part(rng, "html", &html)
            )
        }
        20..30 => format!(
            "{h}Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\n{}--m\r\nContent-Type: text/plain; name=a.txt\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--m--\r\n",
            text_part(rng, "plain", &text),
            base64::engine::general_purpose::STANDARD.encode(words(rng, 3))
        ),
        // Attached messages nested deeper than any structure cap: their
        // text is still searched.
        30..33 => {
            let mut inner = format!(
                "Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
            );
            for i in 0..rng.random_range(30..45) {
                inner = format!(
                    "Content-Type: multipart/mixed; boundary=\"n{i}\"\r\n\r\n--n{i}\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--n{i}--\r\n"
                );
            }
            format!("{h}{inner}")
        }
        // More boundary-like lines than are parsed for structure: the
        // rest is searched as plain text.
        33 => {
            let mut body = format!("{h}Content-Type: multipart/mixed; boundary=\"t\"\r\n\r\n");
            for i in 0..10_050 {
                body.push_str(&format!("--t\r\nContent-Type: text/plain\r\n\r\np{i}\r\n"));
            }
            body.push_str(&format!(
                "--t\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--t--\r\n"
            ));
            body
        }
        _ => format!("{h}\r\n{}\r\n", text.replace("é", "e")),
    };
    let tz = FixedOffset::east_opt(rng.random_range(-12..13) * 3600).expect("offset");
    let date = tz
        .with_ymd_and_hms(
            2024,
            3,
            rng.random_range(1..28),
            rng.random_range(0..24),
            0,
            0,
        )
        .single()
        .expect("date");
    (raw, date)
}

/// A needle: a random piece of a word of the corpus (inside words, across
/// scripts), case changed at random, or a string nothing contains.
fn needle(rng: &mut StdRng) -> Vec<u8> {
    if rng.random_bool(0.1) {
        return b"zzqqxx".to_vec();
    }
    let w: Vec<char> = WORDS.choose(rng).unwrap_or(&"x").chars().collect();
    let from = rng.random_range(0..w.len());
    let to = rng.random_range(from + 1..=w.len());
    let mut s: String = w[from..to].iter().collect();
    if rng.random_bool(0.3) {
        s = s.to_uppercase();
    } else if rng.random_bool(0.3) {
        s = s.to_lowercase();
    }
    s.into_bytes()
}

fn date(rng: &mut StdRng) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, rng.random_range(1..29)).expect("date")
}

fn key(rng: &mut StdRng, depth: u32) -> SearchKey {
    let leaf = depth == 0 || rng.random_bool(0.5);
    if !leaf {
        return match rng.random_range(0..3) {
            0 => SearchKey::Not(Box::new(key(rng, depth - 1))),
            1 => SearchKey::Or(Box::new(key(rng, depth - 1)), Box::new(key(rng, depth - 1))),
            _ => SearchKey::And(
                (0..rng.random_range(1..4))
                    .map(|_| key(rng, depth - 1))
                    .collect(),
            ),
        };
    }
    let n = |rng: &mut StdRng| needle(rng);
    match rng.random_range(0..25) {
        0..=3 => SearchKey::Text(n(rng)),
        4..=6 => SearchKey::Body(n(rng)),
        7 | 8 => SearchKey::Subject(n(rng)),
        9 => SearchKey::From(n(rng)),
        10 => SearchKey::To(n(rng)),
        11 => SearchKey::Cc(n(rng)),
        12 => SearchKey::Header(
            "X-Tag".into(),
            if rng.random_bool(0.3) {
                Vec::new()
            } else {
                n(rng)
            },
        ),
        13 => SearchKey::Seen,
        14 => SearchKey::Deleted,
        15 => SearchKey::Since(date(rng)),
        16 => SearchKey::SentBefore(date(rng)),
        17 => SearchKey::SentOn(date(rng)),
        18 => SearchKey::Larger(rng.random_range(100..1500)),
        19 => SearchKey::Recent,
        20 => {
            let lo = NonZeroU32::new(rng.random_range(1..20)).expect("nonzero");
            SearchKey::Uid(SequenceSet(vec![SeqRange {
                start: SeqOrUid::Value(lo),
                end: SeqOrUid::Asterisk,
            }]))
        }
        21 => SearchKey::ModSeq(rng.random_range(1..40)),
        22 => SearchKey::Bcc(n(rng)),
        23 => SearchKey::Header("From".into(), n(rng)),
        // Pieces of the senders' addresses as the envelope has them.
        _ => SearchKey::From(
            ["a1@example.org", "@example.org>", "a3@", "<a", "org ("]
                .choose(rng)
                .unwrap_or(&"a1@")
                .as_bytes()
                .to_vec(),
        ),
    }
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    mail: MailAccess,
    index: SearchIndex,
    user: u64,
    // Last: removed once the index is done with it.
    _dir: TempDir,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.index.flush();
    }
}

impl Fixture {
    fn new() -> Fixture {
        let dir = TempDir::new("search-oracle");
        let store = Store::open(dir.path()).expect("open store");
        let user = store
            .create_user("alice", "$argon2id$test")
            .expect("user")
            .id;
        let writer = store.start_writer().expect("writer");
        let index = SearchIndex::start(dir.path(), store.clone()).expect("index");
        let mail = MailAccess::new(store, writer).with_search_index(index.clone());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(mail.ensure_inbox(user)).expect("inbox");
        rt.block_on(mail.write(
            user,
            MailWrite::Create {
                name: "B".into(),
                special_use: Vec::new(),
            },
        ))
        .expect("create B");
        Fixture {
            rt,
            mail,
            index,
            user,
            _dir: dir,
        }
    }

    fn write(&self, op: MailWrite) -> MailWriteOk {
        self.rt
            .block_on(self.mail.write(self.user, op))
            .expect("write")
    }

    fn append(&self, rng: &mut StdRng, mailbox: &str) {
        let (raw, date) = message(rng);
        let flags = match rng.random_range(0..4) {
            0 => vec![Flag::Seen],
            1 => vec![Flag::Seen, Flag::Flagged],
            _ => Vec::new(),
        };
        self.write(MailWrite::Append {
            mailbox: mailbox.into(),
            flags,
            date,
            message: raw.into_bytes(),
        });
    }

    fn mailbox_id(&self, name: &str) -> u64 {
        self.mail
            .read(|r| r.mailbox(self.user, name))
            .expect("read")
            .expect("mailbox")
            .id
    }

    fn uids(&self, mailbox_id: u64) -> Vec<u32> {
        self.mail
            .read(|r| r.messages(mailbox_id))
            .expect("read")
            .iter()
            .map(|m| m.uid)
            .collect()
    }
}

/// The reference: the scan over every message of the view.
fn oracle(
    mail: &MailAccess,
    scope: &SearchScope<'_>,
    key: &SearchKey,
    ctx: &SearchContext,
) -> Vec<(u32, u32)> {
    mail.read(|r| {
        let mut hits = Vec::new();
        for (i, &u) in scope.uids.iter().enumerate() {
            let seq = NonZeroU32::new(i as u32 + 1).expect("seq");
            let Some(facts) = r.facts(scope.mailbox_id, u, seq, (scope.recent)(u))? else {
                continue;
            };
            if matches(key, &facts, ctx) {
                hits.push((seq.get(), u));
            }
        }
        Ok(hits)
    })
    .expect("scan")
}

fn run_case(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let fx = Fixture::new();
    let inbox = fx.mailbox_id("INBOX");
    let b = fx.mailbox_id("B");
    for _ in 0..rng.random_range(8..24) {
        fx.append(&mut rng, "INBOX");
    }
    fx.index.flush();
    // Copies are indexed as messages of their own mailbox.
    let uids = fx.uids(inbox);
    let picked: Vec<u32> = uids
        .iter()
        .copied()
        .filter(|_| rng.random_bool(0.4))
        .collect();
    if !picked.is_empty() {
        fx.write(MailWrite::Copy {
            from_mailbox: inbox,
            uids: picked,
            to: "B".into(),
        });
    }
    if rng.random_bool(0.5) {
        fx.index.flush();
    }
    // The views as a session saw them before the last changes.
    let view_inbox_before = fx.uids(inbox);
    let doomed: Vec<u32> = view_inbox_before
        .iter()
        .copied()
        .filter(|_| rng.random_bool(0.2))
        .collect();
    if !doomed.is_empty() {
        fx.write(MailWrite::StoreFlags {
            mailbox_id: inbox,
            uids: doomed.clone(),
            kind: StoreKind::Add,
            flags: vec![Flag::Deleted],
            unchanged_since: None,
        });
        fx.write(MailWrite::Expunge {
            mailbox_id: inbox,
            uids: Some(doomed),
        });
    }
    if rng.random_bool(0.3) {
        fx.index.flush();
    }
    for _ in 0..rng.random_range(0..4) {
        fx.append(&mut rng, "INBOX");
    }
    let mut view_inbox = view_inbox_before;
    view_inbox.extend(fx.uids(inbox));
    view_inbox.sort_unstable();
    view_inbox.dedup();
    let view_b = fx.uids(b);
    let recent = |u: u32| u.is_multiple_of(3);
    for _ in 0..40 {
        let k = key(&mut rng, 3);
        for (mailbox_id, uids) in [(inbox, &view_inbox), (b, &view_b)] {
            let scope = SearchScope {
                mailbox_id,
                uids,
                recent: &recent,
            };
            let ctx = SearchContext {
                max_seq: uids.len() as u32,
                max_uid: uids.last().copied().unwrap_or(0),
                charset: Charset::Utf8,
            };
            let want = oracle(&fx.mail, &scope, &k, &ctx);
            let got: Vec<(u32, u32)> = fx
                .mail
                .search(&scope, &k, &ctx)
                .expect("indexed search")
                .into_iter()
                .map(|(seq, uid, _)| (seq, uid))
                .collect();
            assert_eq!(got, want, "seed {seed}, mailbox {mailbox_id}, key {k:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn indexed_search_equals_the_scan(seed in any::<u64>()) {
        run_case(seed);
    }
}

/// A fixed case where the index is known to have every message, so the
/// indexed path (not the scan of unindexed mail) is what is compared.
#[test]
fn fully_indexed_mailbox_answers_from_the_index() {
    let mut rng = StdRng::seed_from_u64(7);
    let fx = Fixture::new();
    let inbox = fx.mailbox_id("INBOX");
    for _ in 0..30 {
        fx.append(&mut rng, "INBOX");
    }
    fx.index.flush();
    let uids = fx.uids(inbox);
    let searcher = fx.index.searcher();
    let docs = super::query::mailbox_docs(&searcher, fx.index.fields(), inbox).expect("docs");
    assert_eq!(docs.iter().map(|d| d.uid).collect::<Vec<_>>(), uids);
    let recent = |_: u32| false;
    let scope = SearchScope {
        mailbox_id: inbox,
        uids: &uids,
        recent: &recent,
    };
    let ctx = SearchContext {
        max_seq: uids.len() as u32,
        max_uid: uids.last().copied().unwrap_or(0),
        charset: Charset::Utf8,
    };
    for w in [
        "привет",
        "STRASSE",
        "straße",
        "日本",
        "ΣΊΣΥ",
        "σίσυφος",
        "éco",
        "quokk",
    ] {
        let k = SearchKey::Text(w.as_bytes().to_vec());
        let got: Vec<(u32, u32)> = fx
            .mail
            .search(&scope, &k, &ctx)
            .expect("search")
            .into_iter()
            .map(|(seq, uid, _)| (seq, uid))
            .collect();
        assert_eq!(got, oracle(&fx.mail, &scope, &k, &ctx), "{w}");
    }
}
