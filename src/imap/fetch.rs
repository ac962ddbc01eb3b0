//! FETCH (RFC 3501 §6.4.5) for one message: which `msg-att` items
//! (§7.4.2) answer a list of fetch attributes, built from what the store
//! keeps for the message.
//!
//! Pure: no I/O, no store, no flags written. The session reads the facts of
//! a message, calls `fetch_items`, and when `FetchOutput::sets_seen` is true
//! (and the mailbox is read-write) stores `\Seen` itself, then reports the
//! new flags with `with_flags`.
//!
//! Choices:
//! - A section that does not exist in the message (`BODY[3]` of a
//!   two-part message, `BODY[1.HEADER]` of a part that is not a
//!   message/rfc822) is answered with NIL. RFC 3501 leaves this open; the
//!   `nstring` grammar allows both NIL and `""`, and NIL says "no such data"
//!   where `""` would claim an empty part exists. Dovecot answers `""`.
//! - A stored part map that does not decode answers every section that
//!   needs it with NIL. `BODY[]` and `RFC822` never need the map and are
//!   always answered from the raw bytes.
//! - `UID FETCH` puts `UID` first when the client did not ask for it
//!   (RFC 3501 §6.4.8 requires it somewhere; first is where Dovecot and
//!   Cyrus put it).

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::imap::proto::response::{DataItemName, MessageDataItem};
use crate::imap::proto::types::{FetchAttr, Flag, FlagFetch, Section, SectionText};
use crate::mime::{self, PartMap};
pub use crate::types::MessageFacts;

/// The answer to FETCH for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchOutput {
    /// The `msg-att` items, in the order the attributes were asked for
    /// (with `UID` first when `UID FETCH` added it).
    pub items: Vec<MessageDataItem>,
    /// True when an attribute that implicitly sets `\Seen` was asked for
    /// (`RFC822`, `RFC822.TEXT`, `BODY[...]` without `.PEEK`) and the
    /// message is not `\Seen` yet. The session then sets `\Seen` (unless
    /// the mailbox is read-only) and calls `with_flags` with the new flags,
    /// since RFC 3501 §6.4.5 makes the flag change visible in the response.
    pub sets_seen: bool,
}

/// One FETCH item for one message, its data borrowed from the stored
/// message where it can be, so that a large section is never copied whole:
/// the session streams `Data` items into its output a chunk at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchItem<'a> {
    /// An item that is small or pre-encoded: written whole.
    Whole(MessageDataItem),
    /// A body section or an RFC822 item; `data` is `None` for NIL.
    Data {
        name: DataItemName,
        data: Option<Cow<'a, [u8]>>,
    },
}

impl FetchItem<'_> {
    /// The item with its data copied.
    pub fn into_owned(self) -> MessageDataItem {
        match self {
            FetchItem::Whole(item) => item,
            FetchItem::Data { name, data } => name.with_data(data.map(Cow::into_owned)),
        }
    }
}

/// The part map of one message, decoded on first use and at most once per
/// message (`fetch_item` takes it so that several items share it).
pub struct LazyParts<'a> {
    bytes: &'a [u8],
    decoded: Option<Option<PartMap>>,
}

impl<'a> LazyParts<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        LazyParts {
            bytes,
            decoded: None,
        }
    }

    fn get(&mut self) -> Option<&PartMap> {
        let bytes = self.bytes;
        self.decoded
            .get_or_insert_with(|| PartMap::from_bytes(bytes).ok())
            .as_ref()
    }
}

/// Whether `attr` sets `\Seen` when fetched (RFC 3501 §6.4.5: `RFC822`,
/// `RFC822.TEXT`, `BODY[...]` without `.PEEK`).
pub fn sets_seen(attr: &FetchAttr) -> bool {
    match attr {
        FetchAttr::Rfc822 | FetchAttr::Rfc822Text => true,
        FetchAttr::BodySection { peek, .. } => !peek,
        _ => false,
    }
}

/// Answers one attribute (macros already expanded) for message `m`. Never
/// panics, whatever the stored bytes hold.
pub fn fetch_item<'a>(
    attr: &FetchAttr,
    m: &MessageFacts<'a>,
    parts: &mut LazyParts<'_>,
) -> FetchItem<'a> {
    let whole = FetchItem::Whole;
    match attr {
        FetchAttr::Envelope => whole(MessageDataItem::Envelope(m.envelope.to_vec())),
        FetchAttr::Flags => whole(MessageDataItem::Flags(m.flags.clone())),
        FetchAttr::InternalDate => whole(MessageDataItem::InternalDate(m.internal_date)),
        FetchAttr::Rfc822Size => whole(MessageDataItem::Rfc822Size(m.size)),
        FetchAttr::Body => whole(MessageDataItem::Body(m.body.to_vec())),
        FetchAttr::BodyStructure => whole(MessageDataItem::BodyStructure(m.bodystructure.to_vec())),
        FetchAttr::Uid => whole(MessageDataItem::Uid(m.uid)),
        FetchAttr::ModSeq => whole(MessageDataItem::ModSeq(m.modseq)),
        FetchAttr::Rfc822 => FetchItem::Data {
            name: DataItemName::Rfc822,
            data: Some(Cow::Borrowed(m.raw)),
        },
        FetchAttr::Rfc822Header => FetchItem::Data {
            name: DataItemName::Rfc822Header,
            data: section_slice(
                m.raw,
                parts,
                &Section {
                    part: Vec::new(),
                    text: Some(SectionText::Header),
                },
            ),
        },
        FetchAttr::Rfc822Text => FetchItem::Data {
            name: DataItemName::Rfc822Text,
            data: section_slice(
                m.raw,
                parts,
                &Section {
                    part: Vec::new(),
                    text: Some(SectionText::Text),
                },
            ),
        },
        FetchAttr::BodySection {
            section, partial, ..
        } => {
            let data = section_slice(m.raw, parts, section);
            let (origin, data) = match partial {
                None => (None, data),
                Some((origin, length)) => (
                    Some(*origin),
                    data.map(|d| match d {
                        Cow::Borrowed(b) => Cow::Borrowed(substring(b, *origin, *length)),
                        Cow::Owned(o) => Cow::Owned(substring(&o, *origin, *length).to_vec()),
                    }),
                ),
            };
            FetchItem::Data {
                name: DataItemName::BodySection {
                    section: section.clone(),
                    origin,
                },
                data,
            }
        }
    }
}

/// Answers `attrs` (macros already expanded with `FetchItems::expand`) for
/// message `m`, every item's data copied. `uid_command` is true for `UID
/// FETCH`, which always reports the UID (RFC 3501 §6.4.8). Never panics,
/// whatever the stored bytes hold.
pub fn fetch_items(attrs: &[FetchAttr], m: &MessageFacts<'_>, uid_command: bool) -> FetchOutput {
    let mut items = Vec::with_capacity(attrs.len() + 1);
    if uid_command && !attrs.contains(&FetchAttr::Uid) {
        items.push(MessageDataItem::Uid(m.uid));
    }
    let mut parts = LazyParts::new(m.parts);
    for attr in attrs {
        items.push(fetch_item(attr, m, &mut parts).into_owned());
    }
    FetchOutput {
        items,
        sets_seen: attrs.iter().any(sets_seen) && !m.has_flag(&Flag::Seen),
    }
}

/// Reports `flags` in `items`: replaces the `FLAGS` item if there is one
/// (it was built before `\Seen` was set), or appends one. For the session
/// after it has set `\Seen` because of `FetchOutput::sets_seen`.
pub fn with_flags(items: &mut Vec<MessageDataItem>, flags: Vec<FlagFetch>) {
    match items
        .iter_mut()
        .find(|i| matches!(i, MessageDataItem::Flags(_)))
    {
        Some(item) => *item = MessageDataItem::Flags(flags),
        None => items.push(MessageDataItem::Flags(flags)),
    }
}

/// `<origin.length>` of `data`: the octets from `origin`, at most `length`
/// of them; empty when `origin` is at or beyond the end (RFC 3501 §6.4.5).
fn substring(data: &[u8], origin: u32, length: NonZeroU32) -> &[u8] {
    let start = usize::try_from(origin)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let len = usize::try_from(length.get()).unwrap_or(usize::MAX);
    let end = start.saturating_add(len).min(data.len());
    &data[start..end]
}

/// The bytes of `section`, or `None` (NIL) when the section does not exist
/// or the part map is unreadable.
fn section_slice<'a>(
    raw: &'a [u8],
    parts: &mut LazyParts<'_>,
    section: &Section,
) -> Option<Cow<'a, [u8]>> {
    if section.part.is_empty() && section.text.is_none() {
        return Some(Cow::Borrowed(raw));
    }
    mime::section(raw, parts.get()?, section)
}

#[cfg(test)]
mod tests;
