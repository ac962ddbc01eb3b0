//! Differential check against imap-codec (a separately written and fuzzed
//! IMAP codec): on the same bytes, both parsers must find the same command.
//!
//! - Our wire form: every generated command that imap-codec can represent
//!   is written by `encode_command`; imap-codec must decode all of it, to
//!   the command we wrote.
//! - imap-codec's wire form: the same command, built in imap-codec's types
//!   and written by its encoder (its own choice of atom, quoted string or
//!   literal, date format, sequence-set order); our parser must accept it,
//!   and read what imap-codec reads back from those bytes.
//!
//! The two type systems are compared by mapping imap-codec's command into
//! ours (`from_theirs`): mailbox names are decoded from modified UTF-7,
//! strings compared as bytes, and the top-level SEARCH key list becomes one
//! key or an `And`, as our parser does.
//!
//! What is not compared, and why:
//! - Strings with a NUL byte. RFC 3501 `CHAR8` excludes NUL; imap-codec
//!   refuses it in literals (APPEND would need BINARY's `~{n}`), while our
//!   parser keeps whatever bytes a literal holds. `to_theirs` skips them.
//! - A LIST or LSUB reference spelled `inbox` in another case: imap-codec
//!   reads any spelling as its `Inbox` and writes `INBOX`, ours keeps the
//!   spelling. Compared case-insensitively (`meaning`).
//! - A CHARSET name with `]`: an astring in RFC 3501, which `encode_command`
//!   writes bare; imap-codec follows RFC 9051's `atom / quoted` and refuses
//!   it. No real charset name has one.
//! - Things only one side has: imap-codec's extensions (IDLE, ENABLE, MOVE,
//!   UNSELECT, SORT, ...); nothing generated here uses them. imap-codec accepts a few inputs our parser refuses on
//!   purpose (see `rejects_what_imap_codec_rejects` in `parse`); those are
//!   not generated.
//! - imap-codec's `arbitrary` generator: it needs the `arbitrary` crate,
//!   which the build does not carry; commands are built from ours instead.

mod common;

use std::borrow::Cow;
use std::num::NonZeroU32;

use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::auth::AuthMechanism;
use imap_codec::imap_types::command::{Command as TCommand, CommandBody as TBody};
use imap_codec::imap_types::core::{AString, Atom, Charset, IString, NString, Tag as TTag, Vec1};
use imap_codec::imap_types::datetime::{DateTime as TDateTime, NaiveDate as TNaiveDate};
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_codec::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItemName, Part, Section as TSection,
};
use imap_codec::imap_types::flag::{Flag as TFlag, StoreResponse, StoreType};
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox as TMailbox};
use imap_codec::imap_types::search::SearchKey as TKey;
use imap_codec::imap_types::secret::Secret as TSecret;
use imap_codec::imap_types::sequence::{
    SeqOrUid as TSeqOrUid, Sequence as TSequence, SequenceSet as TSet,
};
use imap_codec::imap_types::status::StatusDataItemName;
use proptest::prelude::*;

use roost::imap::proto::mutf7;
use roost::imap::proto::parse::{ParseLimits, parse_command};
use roost::imap::proto::types::{
    Command, CommandBody, FetchAttr, FetchItems, Flag, InitialResponse, Mailbox, SearchKey, Secret,
    Section, SectionText, SeqOrUid, SeqRange, SequenceSet, StatusItem, StoreKind, Tag,
};

use common::{command, encode};

// ---------------------------------------------------------------------------
// Ours → theirs. `None` where imap-codec cannot represent the value.

fn astring(b: &[u8]) -> Option<AString<'static>> {
    AString::try_from(b.to_vec()).ok()
}

fn istring(s: &str) -> Option<IString<'static>> {
    IString::try_from(s.to_owned()).ok()
}

fn atom(s: &str) -> Option<Atom<'static>> {
    Atom::try_from(s.to_owned()).ok()
}

fn mailbox_to(m: &Mailbox) -> Option<TMailbox<'static>> {
    match m {
        Mailbox::Inbox => Some(TMailbox::Inbox),
        Mailbox::Other(name) => TMailbox::try_from(mutf7::encode(name)).ok(),
    }
}

fn set_to(s: &SequenceSet) -> Option<TSet> {
    let one = |v: SeqOrUid| match v {
        SeqOrUid::Value(n) => TSeqOrUid::Value(n),
        SeqOrUid::Asterisk => TSeqOrUid::Asterisk,
    };
    let seqs =
        s.0.iter()
            .map(|r| {
                if r.start == r.end {
                    TSequence::Single(one(r.start))
                } else {
                    TSequence::Range(one(r.start), one(r.end))
                }
            })
            .collect::<Vec<_>>();
    TSet::try_from(seqs).ok()
}

fn flag_to(f: &Flag) -> Option<TFlag<'static>> {
    Some(match f {
        Flag::Answered => TFlag::Answered,
        Flag::Flagged => TFlag::Flagged,
        Flag::Deleted => TFlag::Deleted,
        Flag::Seen => TFlag::Seen,
        Flag::Draft => TFlag::Draft,
        Flag::Keyword(k) => TFlag::Keyword(atom(k)?),
        Flag::Extension(e) => TFlag::system(atom(e)?),
    })
}

fn flags_to(flags: &[Flag]) -> Option<Vec<TFlag<'static>>> {
    flags.iter().map(flag_to).collect()
}

fn date_to(d: &chrono::NaiveDate) -> Option<TNaiveDate> {
    TNaiveDate::try_from(*d).ok()
}

fn key_to(k: &SearchKey) -> Option<TKey<'static>> {
    use SearchKey as K;
    Some(match k {
        K::ModSeq(_) => return None,
        K::All => TKey::All,
        K::Answered => TKey::Answered,
        K::Bcc(s) => TKey::Bcc(astring(s)?),
        K::Before(d) => TKey::Before(date_to(d)?),
        K::Body(s) => TKey::Body(astring(s)?),
        K::Cc(s) => TKey::Cc(astring(s)?),
        K::Deleted => TKey::Deleted,
        K::Draft => TKey::Draft,
        K::Flagged => TKey::Flagged,
        K::From(s) => TKey::From(astring(s)?),
        K::Header(f, v) => TKey::Header(astring(f.as_bytes())?, astring(v)?),
        K::Keyword(a) => TKey::Keyword(atom(a)?),
        K::Larger(n) => TKey::Larger(*n),
        K::New => TKey::New,
        K::Not(k) => TKey::Not(Box::new(key_to(k)?)),
        K::Old => TKey::Old,
        K::On(d) => TKey::On(date_to(d)?),
        K::Or(a, b) => TKey::Or(Box::new(key_to(a)?), Box::new(key_to(b)?)),
        K::Recent => TKey::Recent,
        K::Seen => TKey::Seen,
        K::SentBefore(d) => TKey::SentBefore(date_to(d)?),
        K::SentOn(d) => TKey::SentOn(date_to(d)?),
        K::SentSince(d) => TKey::SentSince(date_to(d)?),
        K::Since(d) => TKey::Since(date_to(d)?),
        K::Smaller(n) => TKey::Smaller(*n),
        K::Subject(s) => TKey::Subject(astring(s)?),
        K::Text(s) => TKey::Text(astring(s)?),
        K::To(s) => TKey::To(astring(s)?),
        K::Uid(s) => TKey::Uid(set_to(s)?),
        K::Unanswered => TKey::Unanswered,
        K::Undeleted => TKey::Undeleted,
        K::Undraft => TKey::Undraft,
        K::Unflagged => TKey::Unflagged,
        K::Unkeyword(a) => TKey::Unkeyword(atom(a)?),
        K::Unseen => TKey::Unseen,
        K::SequenceSet(s) => TKey::SequenceSet(set_to(s)?),
        K::And(keys) => TKey::And(vec1(keys.iter().map(key_to).collect::<Option<_>>()?)?),
    })
}

fn vec1<T>(v: Vec<T>) -> Option<Vec1<T>> {
    Vec1::try_from(v).ok()
}

fn section_to(s: &Section) -> Option<Option<TSection<'static>>> {
    let part = if s.part.is_empty() {
        None
    } else {
        Some(Part(vec1(s.part.clone())?))
    };
    let fields = |f: &[String]| -> Option<Vec1<AString<'static>>> {
        vec1(
            f.iter()
                .map(|f| astring(f.as_bytes()))
                .collect::<Option<_>>()?,
        )
    };
    Some(match (&s.text, part) {
        (None, None) => None,
        (None, Some(part)) => Some(TSection::Part(part)),
        (Some(SectionText::Header), part) => Some(TSection::Header(part)),
        (Some(SectionText::Text), part) => Some(TSection::Text(part)),
        (Some(SectionText::HeaderFields(f)), part) => {
            Some(TSection::HeaderFields(part, fields(f)?))
        }
        (Some(SectionText::HeaderFieldsNot(f)), part) => {
            Some(TSection::HeaderFieldsNot(part, fields(f)?))
        }
        (Some(SectionText::Mime), part) => Some(TSection::Mime(part?)),
    })
}

fn attr_to(a: &FetchAttr) -> Option<MessageDataItemName<'static>> {
    use MessageDataItemName as N;
    Some(match a {
        FetchAttr::Envelope => N::Envelope,
        FetchAttr::Flags => N::Flags,
        FetchAttr::InternalDate => N::InternalDate,
        FetchAttr::Rfc822 => N::Rfc822,
        FetchAttr::Rfc822Header => N::Rfc822Header,
        FetchAttr::Rfc822Size => N::Rfc822Size,
        FetchAttr::Rfc822Text => N::Rfc822Text,
        FetchAttr::Body => N::Body,
        FetchAttr::BodyStructure => N::BodyStructure,
        FetchAttr::Uid => N::Uid,
        // RFC 7162: imap-codec is built without it here.
        FetchAttr::ModSeq => return None,
        FetchAttr::BodySection {
            peek,
            section,
            partial,
        } => N::BodyExt {
            section: section_to(section)?,
            partial: *partial,
            peek: *peek,
        },
    })
}

fn status_to(i: StatusItem) -> Option<StatusDataItemName> {
    Some(match i {
        StatusItem::Messages => StatusDataItemName::Messages,
        StatusItem::Recent => StatusDataItemName::Recent,
        StatusItem::UidNext => StatusDataItemName::UidNext,
        StatusItem::UidValidity => StatusDataItemName::UidValidity,
        StatusItem::Unseen => StatusDataItemName::Unseen,
        StatusItem::Deleted => StatusDataItemName::Deleted,
        StatusItem::DeletedStorage => StatusDataItemName::DeletedStorage,
        // STATUS=SIZE is behind a feature not enabled here; APPENDLIMIT is
        // unknown to imap-codec, and its CONDSTORE is unfinished.
        StatusItem::Size | StatusItem::AppendLimit | StatusItem::HighestModSeq => return None,
    })
}

/// The command in imap-codec's types, or `None` if it cannot say it.
fn to_theirs(c: &Command) -> Option<TCommand<'static>> {
    use CommandBody as B;
    let body = match &c.body {
        B::Capability => TBody::Capability,
        B::Noop => TBody::Noop,
        B::Logout => TBody::Logout,
        B::StartTls => TBody::StartTLS,
        B::Authenticate {
            mechanism,
            initial_response,
        } => TBody::Authenticate {
            mechanism: AuthMechanism::try_from(mechanism.clone()).ok()?,
            initial_response: initial_response.as_ref().map(|r| {
                TSecret::new(Cow::Owned(match r {
                    InitialResponse::Empty => Vec::new(),
                    InitialResponse::Data(d) => d.expose().clone(),
                }))
            }),
        },
        B::Login { username, password } => TBody::Login {
            username: astring(username)?,
            password: TSecret::new(astring(password.expose())?),
        },
        // CONDSTORE / QRESYNC parameters are left out of the comparison.
        B::Select { params, .. } | B::Examine { params, .. } if *params != Default::default() => {
            return None;
        }
        B::Fetch { modifiers, .. } if *modifiers != Default::default() => return None,
        B::Store {
            unchanged_since: Some(_),
            ..
        } => return None,
        B::Select { mailbox, .. } => TBody::Select {
            mailbox: mailbox_to(mailbox)?,
        },
        B::Examine { mailbox, .. } => TBody::Examine {
            mailbox: mailbox_to(mailbox)?,
        },
        B::Create {
            mailbox,
            special_use,
        } if special_use.is_empty() => TBody::Create {
            mailbox: mailbox_to(mailbox)?,
        },
        B::Delete { mailbox } => TBody::Delete {
            mailbox: mailbox_to(mailbox)?,
        },
        B::Rename { from, to } => TBody::Rename {
            from: mailbox_to(from)?,
            to: mailbox_to(to)?,
        },
        B::Subscribe { mailbox } => TBody::Subscribe {
            mailbox: mailbox_to(mailbox)?,
        },
        B::Unsubscribe { mailbox } => TBody::Unsubscribe {
            mailbox: mailbox_to(mailbox)?,
        },
        B::List { reference, pattern } => TBody::List {
            reference: TMailbox::try_from(mutf7::encode(reference)).ok()?,
            mailbox_wildcard: ListMailbox::try_from(mutf7::encode(pattern)).ok()?,
        },
        B::Lsub { reference, pattern } => TBody::Lsub {
            reference: TMailbox::try_from(mutf7::encode(reference)).ok()?,
            mailbox_wildcard: ListMailbox::try_from(mutf7::encode(pattern)).ok()?,
        },
        B::Status { mailbox, items } => TBody::Status {
            mailbox: mailbox_to(mailbox)?,
            item_names: Cow::Owned(
                items
                    .iter()
                    .copied()
                    .map(status_to)
                    .collect::<Option<_>>()?,
            ),
        },
        B::Append {
            mailbox,
            flags,
            date,
            message,
        } => TBody::Append {
            mailbox: mailbox_to(mailbox)?,
            flags: flags_to(flags)?,
            date: match date {
                Some(d) => Some(TDateTime::try_from(*d).ok()?),
                None => None,
            },
            message: LiteralOrLiteral8::Literal(message.clone().try_into().ok()?),
        },
        B::Check => TBody::Check,
        // Extensions the comparison leaves out.
        B::Idle | B::Unselect | B::Namespace | B::Compress { .. } => return None,
        B::Enable { .. } | B::Move { .. } => return None,
        B::Create { .. } | B::ListExtended { .. } => return None,
        B::Close => TBody::Close,
        B::Expunge => TBody::Expunge,
        B::Search {
            charset,
            criteria,
            uid,
        } => TBody::Search {
            charset: match charset {
                // RFC 3501 makes the CHARSET name an astring, so `]` may
                // stand bare (and `encode_command` writes it so);
                // imap-codec reads `charset = atom / quoted` (RFC 9051).
                Some(c) if c.contains(']') => return None,
                Some(c) => Some(Charset::try_from(c.clone()).ok()?),
                None => None,
            },
            criteria: match criteria {
                SearchKey::And(keys) if keys.len() > 1 => {
                    vec1(keys.iter().map(key_to).collect::<Option<_>>()?)?
                }
                key => Vec1::from(key_to(key)?),
            },
            uid: *uid,
        },
        B::Fetch {
            sequence_set,
            items,
            uid,
            ..
        } => TBody::Fetch {
            sequence_set: set_to(sequence_set)?,
            macro_or_item_names: match items {
                FetchItems::All => MacroOrMessageDataItemNames::Macro(Macro::All),
                FetchItems::Fast => MacroOrMessageDataItemNames::Macro(Macro::Fast),
                FetchItems::Full => MacroOrMessageDataItemNames::Macro(Macro::Full),
                FetchItems::Attributes(a) => MacroOrMessageDataItemNames::MessageDataItemNames(
                    a.iter().map(attr_to).collect::<Option<_>>()?,
                ),
            },
            uid: *uid,
        },
        B::Store {
            sequence_set,
            kind,
            silent,
            flags,
            uid,
            ..
        } => TBody::Store {
            sequence_set: set_to(sequence_set)?,
            kind: match kind {
                StoreKind::Replace => StoreType::Replace,
                StoreKind::Add => StoreType::Add,
                StoreKind::Remove => StoreType::Remove,
            },
            response: if *silent {
                StoreResponse::Silent
            } else {
                StoreResponse::Answer
            },
            flags: flags_to(flags)?,
            uid: *uid,
        },
        B::Copy {
            sequence_set,
            mailbox,
            uid,
        } => TBody::Copy {
            sequence_set: set_to(sequence_set)?,
            mailbox: mailbox_to(mailbox)?,
            uid: *uid,
        },
        B::UidExpunge { sequence_set } => TBody::ExpungeUid {
            sequence_set: set_to(sequence_set)?,
        },
        B::Id { parameters } => TBody::Id {
            parameters: match parameters {
                None => None,
                Some(p) => Some(
                    p.iter()
                        .map(|(name, value)| {
                            let value = match value {
                                Some(v) => Some(istring(v)?),
                                None => None,
                            };
                            Some((istring(name)?, NString(value)))
                        })
                        .collect::<Option<_>>()?,
                ),
            },
        },
        B::GetQuota { root } => TBody::GetQuota {
            root: astring(root.as_bytes())?,
        },
        B::GetQuotaRoot { mailbox } => TBody::GetQuotaRoot {
            mailbox: mailbox_to(mailbox)?,
        },
        // Resource names imap-codec reads into its own enum; not compared.
        B::SetQuota { .. } => return None,
    };
    Some(TCommand {
        tag: TTag::try_from(c.tag.as_str().to_owned()).ok()?,
        body,
    })
}

// ---------------------------------------------------------------------------
// Theirs → ours: what imap-codec read, in our terms.

type Mapped<T> = Result<T, String>;

fn bytes_of(s: &impl AsRef<[u8]>) -> Vec<u8> {
    s.as_ref().to_vec()
}

fn text_of(s: &impl AsRef<[u8]>) -> Mapped<String> {
    String::from_utf8(bytes_of(s)).map_err(|e| format!("not UTF-8: {e}"))
}

/// A mailbox name as sent: modified UTF-7, decoded as our parser does.
fn name_from(wire: &[u8]) -> Mapped<String> {
    mutf7::decode(wire).map_err(|e| e.to_string())
}

fn mailbox_from(m: &TMailbox) -> Mapped<Mailbox> {
    match m {
        TMailbox::Inbox => Ok(Mailbox::Inbox),
        TMailbox::Other(o) => Ok(Mailbox::from_utf8(name_from(o.inner().as_ref())?)),
    }
}

fn reference_from(m: &TMailbox) -> Mapped<String> {
    match m {
        TMailbox::Inbox => Ok("INBOX".into()),
        TMailbox::Other(o) => name_from(o.inner().as_ref()),
    }
}

fn set_from(s: &TSet) -> SequenceSet {
    let one = |v: &TSeqOrUid| match v {
        TSeqOrUid::Value(n) => SeqOrUid::Value(*n),
        TSeqOrUid::Asterisk => SeqOrUid::Asterisk,
    };
    SequenceSet(
        s.0.as_ref()
            .iter()
            .map(|seq| match seq {
                TSequence::Single(v) => SeqRange::single(one(v)),
                TSequence::Range(a, b) => SeqRange {
                    start: one(a),
                    end: one(b),
                },
            })
            .collect(),
    )
}

fn flag_from(f: &TFlag) -> Flag {
    match f {
        TFlag::Answered => Flag::Answered,
        TFlag::Flagged => Flag::Flagged,
        TFlag::Deleted => Flag::Deleted,
        TFlag::Seen => Flag::Seen,
        TFlag::Draft => Flag::Draft,
        TFlag::Keyword(a) => Flag::Keyword(a.as_ref().to_owned()),
        // `FlagExtension` shows its name only through `Display`: `\name`.
        TFlag::Extension(_) => {
            let shown = f.to_string();
            Flag::Extension(shown.strip_prefix('\\').unwrap_or(&shown).to_owned())
        }
    }
}

fn key_from(k: &TKey) -> Mapped<SearchKey> {
    use SearchKey as K;
    Ok(match k {
        TKey::All => K::All,
        TKey::Answered => K::Answered,
        TKey::Bcc(s) => K::Bcc(bytes_of(s)),
        TKey::Before(d) => K::Before(*d.as_ref()),
        TKey::Body(s) => K::Body(bytes_of(s)),
        TKey::Cc(s) => K::Cc(bytes_of(s)),
        TKey::Deleted => K::Deleted,
        TKey::Draft => K::Draft,
        TKey::Flagged => K::Flagged,
        TKey::From(s) => K::From(bytes_of(s)),
        TKey::Header(f, v) => K::Header(text_of(f)?, bytes_of(v)),
        TKey::Keyword(a) => K::Keyword(a.as_ref().to_owned()),
        TKey::Larger(n) => K::Larger(*n),
        TKey::New => K::New,
        TKey::Not(k) => K::Not(Box::new(key_from(k)?)),
        TKey::Old => K::Old,
        TKey::On(d) => K::On(*d.as_ref()),
        TKey::Or(a, b) => K::Or(Box::new(key_from(a)?), Box::new(key_from(b)?)),
        TKey::Recent => K::Recent,
        TKey::Seen => K::Seen,
        TKey::SentBefore(d) => K::SentBefore(*d.as_ref()),
        TKey::SentOn(d) => K::SentOn(*d.as_ref()),
        TKey::SentSince(d) => K::SentSince(*d.as_ref()),
        TKey::Since(d) => K::Since(*d.as_ref()),
        TKey::Smaller(n) => K::Smaller(*n),
        TKey::Subject(s) => K::Subject(bytes_of(s)),
        TKey::Text(s) => K::Text(bytes_of(s)),
        TKey::To(s) => K::To(bytes_of(s)),
        TKey::Uid(s) => K::Uid(set_from(s)),
        TKey::Unanswered => K::Unanswered,
        TKey::Undeleted => K::Undeleted,
        TKey::Undraft => K::Undraft,
        TKey::Unflagged => K::Unflagged,
        TKey::Unkeyword(a) => K::Unkeyword(a.as_ref().to_owned()),
        TKey::Unseen => K::Unseen,
        TKey::SequenceSet(s) => K::SequenceSet(set_from(s)),
        TKey::And(keys) => K::And(keys.as_ref().iter().map(key_from).collect::<Mapped<_>>()?),
    })
}

fn part_from(p: &Option<Part>) -> Vec<NonZeroU32> {
    p.as_ref()
        .map(|p| p.0.as_ref().to_vec())
        .unwrap_or_default()
}

fn section_from(s: &Option<TSection>) -> Mapped<Section> {
    let fields = |f: &Vec1<AString>| f.as_ref().iter().map(text_of).collect::<Mapped<Vec<_>>>();
    Ok(match s {
        None => Section::default(),
        Some(TSection::Part(p)) => Section {
            part: p.0.as_ref().to_vec(),
            text: None,
        },
        Some(TSection::Header(p)) => Section {
            part: part_from(p),
            text: Some(SectionText::Header),
        },
        Some(TSection::Text(p)) => Section {
            part: part_from(p),
            text: Some(SectionText::Text),
        },
        Some(TSection::HeaderFields(p, f)) => Section {
            part: part_from(p),
            text: Some(SectionText::HeaderFields(fields(f)?)),
        },
        Some(TSection::HeaderFieldsNot(p, f)) => Section {
            part: part_from(p),
            text: Some(SectionText::HeaderFieldsNot(fields(f)?)),
        },
        Some(TSection::Mime(p)) => Section {
            part: p.0.as_ref().to_vec(),
            text: Some(SectionText::Mime),
        },
    })
}

fn attr_from(a: &MessageDataItemName) -> Mapped<FetchAttr> {
    use MessageDataItemName as N;
    Ok(match a {
        N::Envelope => FetchAttr::Envelope,
        N::Flags => FetchAttr::Flags,
        N::InternalDate => FetchAttr::InternalDate,
        N::Rfc822 => FetchAttr::Rfc822,
        N::Rfc822Header => FetchAttr::Rfc822Header,
        N::Rfc822Size => FetchAttr::Rfc822Size,
        N::Rfc822Text => FetchAttr::Rfc822Text,
        N::Body => FetchAttr::Body,
        N::BodyStructure => FetchAttr::BodyStructure,
        N::Uid => FetchAttr::Uid,
        N::BodyExt {
            section,
            partial,
            peek,
        } => FetchAttr::BodySection {
            peek: *peek,
            section: section_from(section)?,
            partial: *partial,
        },
        other => return Err(format!("no such FETCH attribute here: {other:?}")),
    })
}

fn status_from(i: &StatusDataItemName) -> Mapped<StatusItem> {
    Ok(match i {
        StatusDataItemName::Messages => StatusItem::Messages,
        StatusDataItemName::Recent => StatusItem::Recent,
        StatusDataItemName::UidNext => StatusItem::UidNext,
        StatusDataItemName::UidValidity => StatusItem::UidValidity,
        StatusDataItemName::Unseen => StatusItem::Unseen,
        StatusDataItemName::Deleted => StatusItem::Deleted,
        StatusDataItemName::DeletedStorage => StatusItem::DeletedStorage,
    })
}

/// What imap-codec read, as our command.
fn from_theirs(c: &TCommand) -> Mapped<Command> {
    use CommandBody as B;
    let body = match &c.body {
        TBody::Capability => B::Capability,
        TBody::Noop => B::Noop,
        TBody::Logout => B::Logout,
        TBody::StartTLS => B::StartTls,
        TBody::Authenticate {
            mechanism,
            initial_response,
        } => B::Authenticate {
            mechanism: mechanism.as_ref().to_ascii_uppercase(),
            initial_response: initial_response.as_ref().map(|r| {
                let r = r.declassify();
                if r.is_empty() {
                    InitialResponse::Empty
                } else {
                    InitialResponse::Data(Secret(r.to_vec()))
                }
            }),
        },
        TBody::Login { username, password } => B::Login {
            username: bytes_of(username),
            password: Secret(bytes_of(password.declassify())),
        },
        TBody::Select { mailbox } => B::Select {
            params: Default::default(),
            mailbox: mailbox_from(mailbox)?,
        },
        TBody::Examine { mailbox } => B::Examine {
            params: Default::default(),
            mailbox: mailbox_from(mailbox)?,
        },
        TBody::Create { mailbox } => B::Create {
            mailbox: mailbox_from(mailbox)?,
            special_use: Vec::new(),
        },
        TBody::Delete { mailbox } => B::Delete {
            mailbox: mailbox_from(mailbox)?,
        },
        TBody::Rename { from, to } => B::Rename {
            from: mailbox_from(from)?,
            to: mailbox_from(to)?,
        },
        TBody::Subscribe { mailbox } => B::Subscribe {
            mailbox: mailbox_from(mailbox)?,
        },
        TBody::Unsubscribe { mailbox } => B::Unsubscribe {
            mailbox: mailbox_from(mailbox)?,
        },
        TBody::List {
            reference,
            mailbox_wildcard,
        } => B::List {
            reference: reference_from(reference)?,
            pattern: pattern_from(mailbox_wildcard)?,
        },
        TBody::Lsub {
            reference,
            mailbox_wildcard,
        } => B::Lsub {
            reference: reference_from(reference)?,
            pattern: pattern_from(mailbox_wildcard)?,
        },
        TBody::Status {
            mailbox,
            item_names,
        } => B::Status {
            mailbox: mailbox_from(mailbox)?,
            items: item_names.iter().map(status_from).collect::<Mapped<_>>()?,
        },
        TBody::Append {
            mailbox,
            flags,
            date,
            message,
        } => B::Append {
            mailbox: mailbox_from(mailbox)?,
            flags: flags.iter().map(flag_from).collect(),
            date: date.as_ref().map(|d| *d.as_ref()),
            message: match message {
                LiteralOrLiteral8::Literal(l) => bytes_of(l),
                LiteralOrLiteral8::Literal8(_) => return Err("literal8".into()),
            },
        },
        TBody::Check => B::Check,
        TBody::Close => B::Close,
        TBody::Expunge => B::Expunge,
        TBody::Search {
            charset,
            criteria,
            uid,
        } => {
            let mut keys = criteria
                .as_ref()
                .iter()
                .map(key_from)
                .collect::<Mapped<Vec<_>>>()?;
            B::Search {
                charset: charset.as_ref().map(|c| c.as_ref().to_ascii_uppercase()),
                criteria: if keys.len() == 1 {
                    keys.pop().expect("one key")
                } else {
                    SearchKey::And(keys)
                },
                uid: *uid,
            }
        }
        TBody::Fetch {
            sequence_set,
            macro_or_item_names,
            uid,
        } => B::Fetch {
            modifiers: Default::default(),
            sequence_set: set_from(sequence_set),
            items: match macro_or_item_names {
                MacroOrMessageDataItemNames::Macro(Macro::All) => FetchItems::All,
                MacroOrMessageDataItemNames::Macro(Macro::Fast) => FetchItems::Fast,
                MacroOrMessageDataItemNames::Macro(Macro::Full) => FetchItems::Full,
                MacroOrMessageDataItemNames::MessageDataItemNames(names) => {
                    FetchItems::Attributes(names.iter().map(attr_from).collect::<Mapped<_>>()?)
                }
                MacroOrMessageDataItemNames::Macro(m) => return Err(format!("macro {m:?}")),
            },
            uid: *uid,
        },
        TBody::Store {
            sequence_set,
            kind,
            response,
            flags,
            uid,
        } => B::Store {
            unchanged_since: None,
            sequence_set: set_from(sequence_set),
            kind: match kind {
                StoreType::Replace => StoreKind::Replace,
                StoreType::Add => StoreKind::Add,
                StoreType::Remove => StoreKind::Remove,
            },
            silent: matches!(response, StoreResponse::Silent),
            flags: flags.iter().map(flag_from).collect(),
            uid: *uid,
        },
        TBody::Copy {
            sequence_set,
            mailbox,
            uid,
        } => B::Copy {
            sequence_set: set_from(sequence_set),
            mailbox: mailbox_from(mailbox)?,
            uid: *uid,
        },
        TBody::ExpungeUid { sequence_set } => B::UidExpunge {
            sequence_set: set_from(sequence_set),
        },
        TBody::Id { parameters } => B::Id {
            parameters: match parameters {
                None => None,
                Some(p) => Some(
                    p.iter()
                        .map(|(name, value)| {
                            let value = match &value.0 {
                                Some(v) => Some(text_of(v)?),
                                None => None,
                            };
                            Ok((text_of(name)?, value))
                        })
                        .collect::<Mapped<_>>()?,
                ),
            },
        },
        TBody::GetQuota { root } => B::GetQuota {
            root: text_of(root)?,
        },
        TBody::GetQuotaRoot { mailbox } => B::GetQuotaRoot {
            mailbox: mailbox_from(mailbox)?,
        },
        other => return Err(format!("a command we do not have: {}", other.name())),
    };
    let tag = Tag::new(c.tag.as_ref()).ok_or("tag")?;
    Ok(Command { tag, body })
}

fn pattern_from(p: &ListMailbox) -> Mapped<String> {
    match p {
        ListMailbox::Token(t) => name_from(t.as_ref()),
        ListMailbox::String(s) => name_from(s.as_ref()),
    }
}

/// Differences of spelling that are not differences of meaning: a LIST
/// reference naming INBOX in any case.
fn meaning(mut c: Command) -> Command {
    if let CommandBody::List { reference, .. } | CommandBody::Lsub { reference, .. } = &mut c.body
        && reference.eq_ignore_ascii_case("INBOX")
    {
        *reference = "INBOX".into();
    }
    c
}

fn theirs_decode(wire: &[u8]) -> Mapped<Command> {
    match CommandCodec::default().decode(wire) {
        Ok(([], c)) => from_theirs(&c),
        Ok((rest, _)) => Err(format!(
            "imap-codec leaves {:?}",
            String::from_utf8_lossy(rest)
        )),
        Err(e) => Err(format!("imap-codec refuses it: {e:?}")),
    }
}

fn check_ours_on_the_wire(c: &Command) -> Result<(), TestCaseError> {
    if to_theirs(c).is_none() {
        return Ok(());
    }
    let wire = encode(c);
    let shown = String::from_utf8_lossy(&wire).into_owned();
    let theirs = theirs_decode(&wire);
    prop_assert_eq!(
        theirs.map(meaning),
        Ok(meaning(c.clone())),
        "wire: {:?}",
        shown
    );
    Ok(())
}

fn check_theirs_on_the_wire(c: &Command) -> Result<(), TestCaseError> {
    let Some(t) = to_theirs(c) else {
        return Ok(());
    };
    let wire = CommandCodec::default().encode(&t).dump();
    let shown = String::from_utf8_lossy(&wire).into_owned();
    let ours = parse_command(&wire, &ParseLimits::default());
    prop_assert!(ours.is_ok(), "we refuse {:?}: {:?}", shown, ours);
    let ours = ours.expect("checked above");
    let theirs = theirs_decode(&wire);
    prop_assert_eq!(Ok(meaning(ours)), theirs.map(meaning), "wire: {:?}", shown);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// What we encode, imap-codec reads as the same command.
    #[test]
    fn imap_codec_reads_what_we_write(c in command()) {
        check_ours_on_the_wire(&c)?;
    }

    /// What imap-codec encodes, we read as imap-codec does.
    #[test]
    fn we_read_what_imap_codec_writes(c in command()) {
        check_theirs_on_the_wire(&c)?;
    }
}
