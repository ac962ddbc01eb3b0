//! `BODY[section]` (RFC 3501 §6.4.5): slices of the raw message found
//! through the part map, with no parsing beyond the header lines that
//! HEADER.FIELDS filters.

use std::borrow::Cow;

use super::header;
use super::parts::{Part, PartKind, PartMap};
use crate::types::{Section, SectionText};

/// How a part was reached: the message itself (or the message inside a
/// message/rfc822 part) numbers its parts differently from a body part.
#[derive(Clone, Copy)]
enum Role<'p> {
    /// A message: its HEADER and TEXT are the message's own.
    Message(&'p Part),
    /// A body part, addressed by a part number.
    BodyPart(&'p Part),
}

/// Part `n` (1-based) of a message: the Nth body part of a multipart
/// message, or, for any other message, part 1 is the message's body.
fn message_child(msg: &Part, n: usize) -> Option<&Part> {
    match msg.kind() {
        PartKind::Multipart(children) => children.get(n - 1),
        _ => (n == 1).then_some(msg),
    }
}

/// Part `n` of a body part: a multipart's Nth child, or the numbering of the
/// message inside a message/rfc822 part. A leaf has no parts.
fn part_child(part: &Part, n: usize) -> Option<&Part> {
    match part.kind() {
        PartKind::Multipart(children) => children.get(n - 1),
        PartKind::Message(inner) => message_child(inner, n),
        PartKind::Single => None,
    }
}

fn resolve<'p>(map: &'p PartMap, path: &[std::num::NonZeroU32]) -> Option<Role<'p>> {
    let mut role = Role::Message(map.root());
    for n in path {
        let n = usize::try_from(n.get()).ok()?;
        let next = match role {
            Role::Message(m) => message_child(m, n)?,
            Role::BodyPart(p) => part_child(p, n)?,
        };
        role = Role::BodyPart(next);
    }
    Some(role)
}

/// The bytes of `section` of the message `raw`, whose part map is `parts`;
/// `None` when the section does not exist in this message (or the map does
/// not fit `raw`).
///
/// - `[]` is the whole message; `HEADER` the header with its empty line;
///   `TEXT` the body; `HEADER.FIELDS (..)`/`.NOT` the matching lines (folded
///   lines whole, in order) then an empty line.
/// - `N` is the content of part N without its MIME header; `N.MIME` that
///   header, empty line included.
/// - `N.HEADER`, `N.TEXT`, `N.HEADER.FIELDS` apply to the message inside a
///   message/rfc822 part N, and exist only for such a part.
pub fn section<'a>(raw: &'a [u8], parts: &PartMap, section: &Section) -> Option<Cow<'a, [u8]>> {
    let role = resolve(parts, &section.part)?;
    let slice = |r: std::ops::Range<usize>| raw.get(r).map(Cow::Borrowed);
    // The message whose HEADER/TEXT a text specifier refers to.
    let message = match role {
        Role::Message(m) => Some(m),
        Role::BodyPart(p) => match p.kind() {
            PartKind::Message(inner) => Some(&**inner),
            _ => None,
        },
    };
    match (&section.text, role) {
        (None, Role::Message(m)) => slice(m.start_end()),
        (None, Role::BodyPart(p)) => slice(p.body_range()),
        (Some(SectionText::Mime), Role::BodyPart(p)) => slice(p.header_range()),
        (Some(SectionText::Mime), Role::Message(_)) => None,
        (Some(SectionText::Header), _) => slice(message?.header_range()),
        (Some(SectionText::Text), _) => slice(message?.body_range()),
        (Some(SectionText::HeaderFields(names)), _) => Some(Cow::Owned(header_fields(
            raw.get(message?.header_range())?,
            names,
            true,
        ))),
        (Some(SectionText::HeaderFieldsNot(names)), _) => Some(Cow::Owned(header_fields(
            raw.get(message?.header_range())?,
            names,
            false,
        ))),
    }
}

impl Part {
    fn start_end(&self) -> std::ops::Range<usize> {
        self.header_range().start..self.body_range().end
    }
}

/// The lines of the fields named in `names` (or, with `keep == false`, of
/// all others), in their original order and with their original line
/// endings, then an empty line (RFC 3501 §6.4.5 HEADER.FIELDS).
pub(crate) fn header_fields(block: &[u8], names: &[String], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for f in header::fields(block) {
        let listed = names
            .iter()
            .any(|n| f.name.eq_ignore_ascii_case(n.as_bytes()));
        if listed == keep {
            out.extend_from_slice(&block[f.start..f.end]);
            if !out.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}
