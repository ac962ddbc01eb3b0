//! proptest strategies for valid `Command` values, shared by the round-trip
//! and differential tests.
//!
//! The strategies only produce values the types mean to allow, and only the
//! canonical one where two values have one wire form (see
//! `initial_response` and `flag`). Character classes are written out here
//! from RFC 3501 §9 rather than taken from the code under test, so that a
//! wrong class there shows up as a failure here.

#![allow(dead_code)]

use std::num::NonZeroU32;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use roost::imap::proto::encode::encode_command;
use roost::imap::proto::types::{
    Command, CommandBody, FetchAttr, FetchItems, FetchModifiers, Flag, InitialResponse, ListReturn,
    ListSelect, Mailbox, QResync, SearchKey, Secret, Section, SectionText, SelectParams, SeqOrUid,
    SeqRange, SequenceSet, StatusItem, StoreKind, Tag, UseAttr,
};

/// `ATOM-CHAR`: CHAR (0x01–0x7f) except atom-specials (`(`, `)`, `{`, SP,
/// CTL, `%`, `*`, `"`, `\`, `]`).
pub fn atom_chars() -> Vec<char> {
    (0x21u8..=0x7e)
        .filter(|b| !b"(){%*\"\\]".contains(b))
        .map(char::from)
        .collect()
}

/// `tag = 1*<any ASTRING-CHAR except "+">`; `ASTRING-CHAR = ATOM-CHAR / "]"`.
fn tag_chars() -> Vec<char> {
    let mut chars: Vec<char> = atom_chars().into_iter().filter(|&c| c != '+').collect();
    chars.push(']');
    chars
}

fn string_of(chars: Vec<char>, len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    vec(select(chars), len).prop_map(|v| v.into_iter().collect())
}

pub fn tag() -> impl Strategy<Value = Tag> {
    string_of(tag_chars(), 1..10).prop_map(|s| Tag::new(&s).expect("tag characters only"))
}

/// An atom, sometimes one that looks like a keyword (`NIL`, `ALL`).
pub fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => string_of(atom_chars(), 1..12),
        1 => select(vec!["NIL", "nil", "ALL", "$Junk", "$Forwarded", "Work"]).prop_map(String::from),
    ]
}

/// Bytes for `astring` / `string` positions: atoms, text with the
/// characters that force quoting, 8-bit and control bytes (literals; never
/// NUL, which `CHAR8` excludes), the word `NIL`, and the edge around the
/// quoted-string length limit.
pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => atom().prop_map(String::into_bytes),
        3 => "[ -~]{0,20}".prop_map(String::into_bytes),
        2 => vec(1u8..=255, 0..24),
        1 => "\\PC{0,8}".prop_map(String::into_bytes),
        1 => select(vec!["", "NIL", "nil", "\"", "\\", "{3}", "a\r\nb", "]", "(", "%*"])
            .prop_map(|s| s.as_bytes().to_vec()),
        1 => (1020usize..1030, select(vec![b'a', b' ', b'"'])).prop_map(|(n, b)| vec![b; n]),
    ]
}

/// Printable ASCII, as header field names must be.
fn printable(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    string_of((0x20u8..=0x7e).map(char::from).collect(), len)
}

/// A mailbox name in UTF-8: ASCII names with the characters that need
/// quoting or `&-`, non-ASCII names (modified UTF-7 on the wire), control
/// characters, and every spelling of INBOX.
pub fn mailbox_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ -~]{0,16}",
        2 => "[a-zA-Z&./ -]{0,6}&[a-zA-Z&-]{0,6}",
        2 => "\\PC{0,10}",
        1 => any::<String>(),
        1 => "[iI][nN][bB][oO][xX]",
        1 => "[iI][nN][bB][oO][xX][./][a-zé]{1,5}",
        1 => select(vec!["", "NIL", "%", "*", "]", "Entwürfe", "台北/日本語", "a&b", "&-"])
            .prop_map(String::from),
    ]
}

pub fn mailbox() -> impl Strategy<Value = Mailbox> {
    mailbox_name().prop_map(Mailbox::from_utf8)
}

/// A LIST pattern: a mailbox name with wildcards mixed in.
fn list_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => mailbox_name(),
        2 => "[a-z%*./]{0,8}",
        1 => "[é%* ]{0,6}",
    ]
}

fn nz() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![
        3 => 1u32..20,
        1 => 1u32..=u32::MAX,
        1 => Just(u32::MAX),
    ]
    .prop_map(|n| NonZeroU32::new(n).expect("ranges above start at 1"))
}

fn seq_or_uid() -> impl Strategy<Value = SeqOrUid> {
    prop_oneof![
        4 => nz().prop_map(SeqOrUid::Value),
        1 => Just(SeqOrUid::Asterisk),
    ]
}

pub fn sequence_set() -> impl Strategy<Value = SequenceSet> {
    vec(
        prop_oneof![
            seq_or_uid().prop_map(SeqRange::single),
            (seq_or_uid(), seq_or_uid()).prop_map(|(start, end)| SeqRange { start, end }),
        ],
        1..6,
    )
    .prop_map(SequenceSet)
}

/// A flag a client may set. `Extension` never spells a system flag (that
/// spelling is the system flag's, so it could not come back as
/// `Extension`) and never `\Recent`, which cannot be set.
pub fn flag() -> impl Strategy<Value = Flag> {
    prop_oneof![
        select(vec![
            Flag::Answered,
            Flag::Flagged,
            Flag::Deleted,
            Flag::Seen,
            Flag::Draft
        ]),
        atom().prop_map(Flag::Keyword),
        atom()
            .prop_filter("a system flag's name", |a| {
                !["answered", "flagged", "deleted", "seen", "draft", "recent"]
                    .contains(&a.to_ascii_lowercase().as_str())
            })
            .prop_map(Flag::Extension),
    ]
}

/// Every date `date-year = 4DIGIT` can write.
pub fn date() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(0, 1, 1).expect("valid date");
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
    prop_oneof![
        first.num_days_from_ce()..=last.num_days_from_ce(),
        // Recent years, where most real dates are.
        730_000i32..740_000,
    ]
    .prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).expect("day in range"))
}

/// A `date-time`: whole seconds, a zone of whole minutes within ±23:59
/// (`zone = ("+" / "-") 4DIGIT`, and a day has fewer than 24 hours of
/// offset), local date within years 0–9999.
pub fn date_time() -> impl Strategy<Value = DateTime<FixedOffset>> {
    (date(), 0u32..86_400, -(23 * 60 + 59)..=(23 * 60 + 59i32)).prop_map(
        |(day, secs, offset_min)| {
            let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).expect("in a day");
            FixedOffset::east_opt(offset_min * 60)
                .expect("within a day")
                .from_local_datetime(&day.and_time(time))
                .single()
                .expect("fixed offsets have one mapping")
        },
    )
}

fn section_text(after_part: bool) -> BoxedStrategy<SectionText> {
    let fields = || vec(printable(0..12), 1..4);
    let mut options = vec![
        Just(SectionText::Header).boxed(),
        Just(SectionText::Text).boxed(),
        fields().prop_map(SectionText::HeaderFields).boxed(),
        fields().prop_map(SectionText::HeaderFieldsNot).boxed(),
    ];
    if after_part {
        // `MIME` only after a part number (RFC 3501 §6.4.5).
        options.push(Just(SectionText::Mime).boxed());
    }
    proptest::strategy::Union::new(options).boxed()
}

pub fn section() -> impl Strategy<Value = Section> {
    prop_oneof![
        proptest::option::of(section_text(false)).prop_map(|text| Section {
            part: Vec::new(),
            text
        }),
        (vec(nz(), 1..5), proptest::option::of(section_text(true)))
            .prop_map(|(part, text)| Section { part, text }),
    ]
}

pub fn fetch_attr() -> impl Strategy<Value = FetchAttr> {
    prop_oneof![
        2 => select(vec![
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
            FetchAttr::ModSeq,
        ]),
        3 => (any::<bool>(), section(), proptest::option::of((any::<u32>(), nz()))).prop_map(
            |(peek, section, partial)| FetchAttr::BodySection {
                peek,
                section,
                partial
            }
        ),
    ]
}

pub fn fetch_items() -> impl Strategy<Value = FetchItems> {
    prop_oneof![
        1 => Just(FetchItems::All),
        1 => Just(FetchItems::Fast),
        1 => Just(FetchItems::Full),
        6 => vec(fetch_attr(), 1..6).prop_map(FetchItems::Attributes),
    ]
}

/// A search key without others inside.
fn leaf_key() -> impl Strategy<Value = SearchKey> {
    use SearchKey::*;
    prop_oneof![
        3 => select(vec![
            All, Answered, Deleted, Draft, Flagged, New, Old, Recent, Seen, Unanswered,
            Undeleted, Undraft, Unflagged, Unseen,
        ]),
        1 => bytes().prop_map(Bcc),
        1 => bytes().prop_map(Body),
        1 => bytes().prop_map(Cc),
        1 => bytes().prop_map(From),
        1 => bytes().prop_map(Subject),
        1 => bytes().prop_map(Text),
        1 => bytes().prop_map(To),
        1 => date().prop_map(Before),
        1 => date().prop_map(On),
        1 => date().prop_map(Since),
        1 => date().prop_map(SentBefore),
        1 => date().prop_map(SentOn),
        1 => date().prop_map(SentSince),
        1 => (printable(0..16), bytes()).prop_map(|(f, v)| Header(f, v)),
        1 => atom().prop_map(Keyword),
        1 => atom().prop_map(Unkeyword),
        1 => any::<u32>().prop_map(Larger),
        1 => any::<u32>().prop_map(Smaller),
        1 => sequence_set().prop_map(Uid),
        1 => sequence_set().prop_map(SequenceSet),
        1 => mod_sequence().prop_map(ModSeq),
    ]
}

/// `mod-sequence-valzer` (RFC 7162 §7): 0 to 2^63 - 1.
pub fn mod_sequence() -> impl Strategy<Value = u64> {
    prop_oneof![0..10u64, 0..=(i64::MAX as u64)]
}

/// A sequence set without `*`, as QRESYNC's sets are.
fn known_set() -> impl Strategy<Value = SequenceSet> {
    vec((nz(), nz()), 1..4).prop_map(|v| {
        SequenceSet(
            v.into_iter()
                .map(|(a, b)| SeqRange {
                    start: SeqOrUid::Value(a),
                    end: SeqOrUid::Value(b),
                })
                .collect(),
        )
    })
}

/// RFC 7162 SELECT / EXAMINE parameters, none most often.
pub fn select_params() -> impl Strategy<Value = SelectParams> {
    let qresync = (
        nz(),
        mod_sequence(),
        proptest::option::of(known_set()),
        proptest::option::of((known_set(), known_set())),
    )
        .prop_map(|(uidvalidity, modseq, known_uids, seq_match)| QResync {
            uidvalidity,
            modseq,
            known_uids,
            seq_match,
        });
    prop_oneof![
        3 => Just(SelectParams::default()),
        1 => (any::<bool>(), proptest::option::of(qresync))
            .prop_map(|(condstore, qresync)| SelectParams { condstore, qresync }),
    ]
}

/// RFC 7162 FETCH modifiers, none most often.
pub fn fetch_modifiers() -> impl Strategy<Value = FetchModifiers> {
    prop_oneof![
        3 => Just(FetchModifiers::default()),
        1 => (proptest::option::of(mod_sequence()), any::<bool>())
            .prop_map(|(changed_since, vanished)| FetchModifiers { changed_since, vanished }),
    ]
}

/// Search keys nested a few levels deep (NOT, OR, parenthesised lists),
/// well within the parser's default depth limit.
pub fn search_key() -> impl Strategy<Value = SearchKey> {
    leaf_key().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| SearchKey::Not(Box::new(k))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
            vec(inner, 1..4).prop_map(SearchKey::And),
        ]
    })
}

/// The criteria of a SEARCH command: one key (which may itself be a
/// parenthesised `And`, even of one key) or several, read back as `And`.
pub fn search_criteria() -> impl Strategy<Value = SearchKey> {
    vec(search_key(), 1..5).prop_map(|mut keys| {
        if keys.len() == 1 {
            keys.pop().expect("one key")
        } else {
            SearchKey::And(keys)
        }
    })
}

/// `AUTHENTICATE`'s initial response. `Data` with no bytes is written `=`,
/// the form of `Empty` (RFC 4959 has a single empty response), so only
/// non-empty `Data` is generated.
pub fn initial_response() -> impl Strategy<Value = Option<InitialResponse>> {
    prop_oneof![
        Just(None),
        Just(Some(InitialResponse::Empty)),
        vec(any::<u8>(), 1..40).prop_map(|d| Some(InitialResponse::Data(Secret(d)))),
    ]
}

/// The name of a SASL mechanism as the parser keeps it: an atom, upper case.
fn mechanism() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "PLAIN",
            "LOGIN",
            "XOAUTH2",
            "SCRAM-SHA-256",
            "EXTERNAL"
        ])
        .prop_map(String::from),
        atom().prop_map(|a| a.to_ascii_uppercase()),
    ]
}

/// A CHARSET name as the parser keeps it: printable, no space, upper case.
fn charset() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["UTF-8", "US-ASCII", "ISO-8859-1"]).prop_map(String::from),
        string_of(
            (0x21u8..=0x7e)
                .filter(|b| !b.is_ascii_lowercase())
                .map(char::from)
                .collect(),
            1..12
        ),
    ]
}

fn status_item() -> impl Strategy<Value = StatusItem> {
    select(vec![
        StatusItem::Messages,
        StatusItem::Recent,
        StatusItem::UidNext,
        StatusItem::UidValidity,
        StatusItem::Unseen,
        StatusItem::Size,
        StatusItem::Deleted,
        StatusItem::DeletedStorage,
        StatusItem::AppendLimit,
        StatusItem::HighestModSeq,
    ])
}

/// A special use for CREATE (RFC 6154), known or not.
fn use_attr() -> impl Strategy<Value = UseAttr> {
    prop_oneof![
        4 => select(vec!["All", "archive", "DRAFTS", "Flagged", "junk", "Sent", "tRaSh"])
            .prop_map(UseAttr::from_atom),
        1 => "X[a-zA-Z0-9-]{0,6}".prop_map(UseAttr::Extension),
    ]
}

/// LIST selection options the grammar allows: RECURSIVEMATCH only with
/// SUBSCRIBED (RFC 5258 §6).
fn list_select() -> impl Strategy<Value = ListSelect> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(subscribed, remote, recursive, special_use)| ListSelect {
            subscribed,
            remote,
            recursive_match: recursive && subscribed,
            special_use,
        },
    )
}

/// LIST return options; STATUS items are unique, as the parser makes them.
fn list_return() -> impl Strategy<Value = ListReturn> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(vec(status_item(), 1..6)),
    )
        .prop_map(|(subscribed, children, special_use, status)| ListReturn {
            subscribed,
            children,
            special_use,
            status: status.map(|items| {
                let mut unique = Vec::new();
                for item in items {
                    if !unique.contains(&item) {
                        unique.push(item);
                    }
                }
                unique
            }),
        })
}

/// An APPEND message: any bytes, NUL and bare CR/LF included, sometimes
/// larger than a quoted string could be.
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..200),
        1 => (0usize..12_000).prop_map(|n| (0..n).map(|i| (i % 251) as u8).collect()),
    ]
}

fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9 .-]{0,12}",
        1 => "\\PC{0,8}",
        1 => any::<String>(),
    ]
}

pub fn command_body() -> impl Strategy<Value = CommandBody> {
    use CommandBody as B;
    prop_oneof![
        Just(B::Capability),
        Just(B::Noop),
        Just(B::Logout),
        Just(B::StartTls),
        (mechanism(), initial_response()).prop_map(|(mechanism, initial_response)| {
            B::Authenticate {
                mechanism,
                initial_response,
            }
        }),
        (bytes(), bytes()).prop_map(|(username, password)| B::Login {
            username,
            password: Secret(password)
        }),
        (mailbox(), select_params()).prop_map(|(mailbox, params)| B::Select { mailbox, params }),
        (mailbox(), select_params()).prop_map(|(mailbox, params)| B::Examine { mailbox, params }),
        (mailbox(), vec(use_attr(), 0..3)).prop_map(|(mailbox, special_use)| B::Create {
            mailbox,
            special_use
        }),
        mailbox().prop_map(|mailbox| B::Delete { mailbox }),
        (mailbox(), mailbox()).prop_map(|(from, to)| B::Rename { from, to }),
        mailbox().prop_map(|mailbox| B::Subscribe { mailbox }),
        mailbox().prop_map(|mailbox| B::Unsubscribe { mailbox }),
        (mailbox_name(), list_pattern())
            .prop_map(|(reference, pattern)| B::List { reference, pattern }),
        (mailbox_name(), list_pattern())
            .prop_map(|(reference, pattern)| B::Lsub { reference, pattern }),
        (
            list_select(),
            mailbox_name(),
            vec(list_pattern(), 1..4),
            list_return()
        )
            .prop_map(|(select, reference, patterns, returns)| B::ListExtended {
                select,
                reference,
                patterns,
                returns
            }),
        (mailbox(), vec(status_item(), 1..6))
            .prop_map(|(mailbox, items)| B::Status { mailbox, items }),
        (
            mailbox(),
            vec(flag(), 0..4),
            proptest::option::of(date_time()),
            message()
        )
            .prop_map(|(mailbox, flags, date, message)| B::Append {
                mailbox,
                flags,
                date,
                message
            }),
        Just(B::Check),
        Just(B::Close),
        Just(B::Expunge),
        (
            proptest::option::of(charset()),
            search_criteria(),
            any::<bool>()
        )
            .prop_map(|(charset, criteria, uid)| B::Search {
                charset,
                criteria,
                uid
            }),
        (
            sequence_set(),
            fetch_items(),
            any::<bool>(),
            fetch_modifiers()
        )
            .prop_map(|(sequence_set, items, uid, modifiers)| B::Fetch {
                sequence_set,
                items,
                uid,
                modifiers,
            }),
        (
            sequence_set(),
            select(vec![StoreKind::Replace, StoreKind::Add, StoreKind::Remove]),
            any::<bool>(),
            vec(flag(), 0..5),
            any::<bool>(),
            proptest::option::of(mod_sequence())
        )
            .prop_map(
                |(sequence_set, kind, silent, flags, uid, unchanged_since)| B::Store {
                    unchanged_since,
                    sequence_set,
                    kind,
                    silent,
                    flags,
                    uid
                }
            ),
        (sequence_set(), mailbox(), any::<bool>()).prop_map(|(sequence_set, mailbox, uid)| {
            B::Copy {
                sequence_set,
                mailbox,
                uid,
            }
        }),
        sequence_set().prop_map(|sequence_set| B::UidExpunge { sequence_set }),
        proptest::option::of(vec((id_text(), proptest::option::of(id_text())), 0..5))
            .prop_map(|parameters| B::Id { parameters }),
        id_text().prop_map(|root| B::GetQuota { root }),
        mailbox().prop_map(|mailbox| B::GetQuotaRoot { mailbox }),
        (
            id_text(),
            vec(("[A-Z][A-Z-]{0,10}", 0..=i64::MAX as u64), 0..3)
        )
            .prop_map(|(root, limits)| B::SetQuota { root, limits }),
        vec(atom(), 1..4).prop_map(|names| B::Enable {
            capabilities: names.iter().map(|n| n.to_ascii_uppercase()).collect()
        }),
        (sequence_set(), mailbox(), any::<bool>()).prop_map(|(sequence_set, mailbox, uid)| {
            B::Move {
                sequence_set,
                mailbox,
                uid,
            }
        }),
        // An upper-case atom, like an AUTHENTICATE mechanism.
        mechanism().prop_map(|algorithm| B::Compress { algorithm }),
    ]
}

pub fn command() -> impl Strategy<Value = Command> {
    (tag(), command_body()).prop_map(|(tag, body)| Command { tag, body })
}

pub fn encode(c: &Command) -> Vec<u8> {
    let mut out = Vec::new();
    encode_command(&mut out, c);
    out
}

/// `DateTime`'s `==` compares instants only; the zone is part of what a
/// client sent, so compare it too.
pub fn same_zone(a: &Command, b: &Command) -> bool {
    match (&a.body, &b.body) {
        (CommandBody::Append { date: Some(x), .. }, CommandBody::Append { date: Some(y), .. }) => {
            x.offset() == y.offset() && x.naive_local() == y.naive_local()
        }
        _ => true,
    }
}
