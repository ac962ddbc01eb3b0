//! The part map: where every MIME entity of a message starts, where its
//! header ends and where it ends, found once by a boundary scanner
//! (RFC 2046 §5.1.1) and stored next to the message so that `BODY[section]`
//! slices the raw bytes without parsing them again.
//!
//! The scanner works on the raw bytes, CRLF or bare LF alike, so every
//! offset is an offset into exactly the bytes the store keeps.

use super::header::{self, ContentType};
use super::{MAX_DEPTH, MAX_PARTS, MimeError};

/// The MIME structure of one message, as byte offsets into its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartMap {
    root: Part,
}

/// One MIME entity: a header, then a body.
///
/// The header is `start..body_start` and includes the empty line that ends
/// it; the body is `body_start..end`. For a part of a multipart, `end` is
/// before the line break that precedes the next boundary line (RFC 2046
/// §5.1.1: that line break belongs to the boundary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    start: usize,
    body_start: usize,
    end: usize,
    kind: PartKind,
}

/// What the body of an entity holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartKind {
    /// A leaf: text, image, or anything not descended into.
    Single,
    /// `multipart/*`: its body parts in order (never empty: a multipart
    /// whose boundary never appears gets one empty part).
    Multipart(Vec<Part>),
    /// `message/rfc822`: the encapsulated message, which spans the body.
    Message(Box<Part>),
}

impl Part {
    /// The header block, empty line included.
    pub fn header_range(&self) -> std::ops::Range<usize> {
        self.start..self.body_start
    }
    pub fn body_range(&self) -> std::ops::Range<usize> {
        self.body_start..self.end
    }
    pub fn kind(&self) -> &PartKind {
        &self.kind
    }
}

impl PartMap {
    /// The message itself.
    pub fn root(&self) -> &Part {
        &self.root
    }
}

/// What the body of an entity is when its header says nothing
/// (RFC 2045 §5.2; RFC 2046 §5.1.5 for multipart/digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefaultType {
    TextPlain,
    MessageRfc822,
}

/// The content type of the entity whose header is `header`, with the
/// default applied; `None` means text/plain.
pub(crate) fn content_type(header: &[u8], default: DefaultType) -> Option<ContentType> {
    match header::find(header, b"content-type").and_then(header::parse_content_type) {
        Some(ct) => Some(ct),
        None if default == DefaultType::MessageRfc822 => Some(ContentType {
            ty: b"message".to_vec(),
            subtype: b"rfc822".to_vec(),
            params: Vec::new(),
        }),
        None => None,
    }
}

/// Whether a `message/rfc822` body can be read as a message: not when it is
/// base64 or quoted-printable encoded (RFC 2046 §5.2.1 forbids that, but it
/// is sent), since the raw bytes would not be the message.
fn is_identity_encoding(header: &[u8]) -> bool {
    match header::find_unfolded(header, b"content-transfer-encoding") {
        None => true,
        Some(v) => {
            let v: &[u8] = &v;
            !(v.eq_ignore_ascii_case(b"base64") || v.eq_ignore_ascii_case(b"quoted-printable"))
        }
    }
}

struct Scanner<'a> {
    raw: &'a [u8],
    /// How many more entities may be created (MAX_PARTS in all).
    budget: usize,
}

/// Builds the part map of `raw`. Never fails: whatever the bytes are, each
/// entity gets a header and a body range.
pub(crate) fn scan(raw: &[u8]) -> PartMap {
    let mut s = Scanner {
        raw,
        budget: MAX_PARTS,
    };
    let root = s.entity(0, raw.len(), 0, DefaultType::TextPlain);
    PartMap { root }
}

impl Scanner<'_> {
    fn entity(&mut self, start: usize, end: usize, depth: usize, default: DefaultType) -> Part {
        self.budget = self.budget.saturating_sub(1);
        let body_start = header::header_end(self.raw, start, end);
        let mut part = Part {
            start,
            body_start,
            end,
            kind: PartKind::Single,
        };
        if depth >= MAX_DEPTH || self.budget == 0 {
            return part;
        }
        let header = &self.raw[start..body_start];
        let Some(ct) = content_type(header, default) else {
            return part;
        };
        if ct.ty.eq_ignore_ascii_case(b"multipart") {
            let Some(boundary) = ct
                .param("boundary")
                .filter(|b| !b.is_empty() && b.len() <= 200)
            else {
                // No boundary: nothing can be split; a leaf, as Dovecot does.
                return part;
            };
            let child_default = if ct.subtype.eq_ignore_ascii_case(b"digest") {
                DefaultType::MessageRfc822
            } else {
                DefaultType::TextPlain
            };
            let ranges = split_multipart(self.raw, body_start, end, boundary);
            let mut children = Vec::with_capacity(ranges.len().min(64));
            for (s, e) in ranges {
                if self.budget == 0 {
                    break;
                }
                children.push(self.entity(s, e, depth + 1, child_default));
            }
            if children.is_empty() {
                children.push(Part {
                    start: end,
                    body_start: end,
                    end,
                    kind: PartKind::Single,
                });
            }
            part.kind = PartKind::Multipart(children);
        } else if ct.is("message", "rfc822") && is_identity_encoding(header) {
            let inner = self.entity(body_start, end, depth + 1, DefaultType::TextPlain);
            part.kind = PartKind::Message(Box::new(inner));
        }
        part
    }
}

/// Whether the line `line` (without its line ending) is a delimiter line for
/// `boundary`: `--boundary` or `--boundary--`, then only transport padding
/// (RFC 2046 §5.1.1). Returns `Some(true)` for the close delimiter.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    rest.iter()
        .all(|&b| b == b' ' || b == b'\t')
        .then_some(close)
}

/// The body parts of the multipart body `raw[start..end]`, as ranges. The
/// preamble and epilogue are dropped. A multipart without a close delimiter
/// ends at `end`; one whose boundary never appears has no parts.
fn split_multipart(raw: &[u8], start: usize, end: usize, boundary: &[u8]) -> Vec<(usize, usize)> {
    let mut parts = Vec::new();
    // Start of the current part, once the first delimiter has been seen.
    let mut open: Option<usize> = None;
    let mut pos = start;
    while pos < end {
        let (content_end, next) = header::line_end(raw, pos, end);
        let line = &raw[pos..content_end];
        if line.starts_with(b"--")
            && let Some(close) = delimiter(line, boundary)
        {
            if let Some(part_start) = open {
                // The line break before the delimiter belongs to it.
                let mut part_end = pos;
                if part_end > part_start && raw[part_end - 1] == b'\n' {
                    part_end -= 1;
                    if part_end > part_start && raw[part_end - 1] == b'\r' {
                        part_end -= 1;
                    }
                }
                parts.push((part_start, part_end));
                if parts.len() >= MAX_PARTS {
                    return parts;
                }
            }
            if close {
                return parts;
            }
            open = Some(next);
        }
        pos = next;
    }
    if let Some(part_start) = open {
        parts.push((part_start.min(end), end));
    }
    parts
}

/// Version 1 of the byte layout. Every number is an unsigned LEB128 varint.
///
/// ```text
/// map     = version:u8(=1) part
/// part    = kind:u8 start body_start end [children]
/// kind    = 0 single | 1 multipart (then count, count × part)
///                    | 2 message   (then exactly one part)
/// ```
///
/// Offsets are absolute into the raw message. A decoder checks that each
/// part nests inside its parent's body and that nothing follows the map.
const VERSION: u8 = 1;

const KIND_SINGLE: u8 = 0;
const KIND_MULTIPART: u8 = 1;
const KIND_MESSAGE: u8 = 2;

impl PartMap {
    /// The on-disk form (layout version 1, see `VERSION`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        encode_part(&mut out, &self.root);
        out
    }

    /// Reads what `to_bytes` wrote; rejects unknown versions and anything
    /// inconsistent rather than guessing.
    pub fn from_bytes(b: &[u8]) -> Result<PartMap, MimeError> {
        let (&version, rest) = b.split_first().ok_or(MimeError::Truncated)?;
        if version != VERSION {
            return Err(MimeError::UnknownVersion(version));
        }
        let mut d = Decoder {
            b: rest,
            pos: 0,
            parts: 0,
        };
        let root = d.part(0, 0, usize::MAX)?;
        if d.pos != d.b.len() {
            return Err(MimeError::Corrupt("trailing bytes after the part map"));
        }
        Ok(PartMap { root })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn encode_part(out: &mut Vec<u8>, p: &Part) {
    let kind = match p.kind {
        PartKind::Single => KIND_SINGLE,
        PartKind::Multipart(_) => KIND_MULTIPART,
        PartKind::Message(_) => KIND_MESSAGE,
    };
    out.push(kind);
    put_varint(out, p.start as u64);
    put_varint(out, p.body_start as u64);
    put_varint(out, p.end as u64);
    match &p.kind {
        PartKind::Single => {}
        PartKind::Multipart(children) => {
            put_varint(out, children.len() as u64);
            for c in children {
                encode_part(out, c);
            }
        }
        PartKind::Message(inner) => encode_part(out, inner),
    }
}

struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
    parts: usize,
}

impl Decoder<'_> {
    fn byte(&mut self) -> Result<u8, MimeError> {
        let v = *self.b.get(self.pos).ok_or(MimeError::Truncated)?;
        self.pos += 1;
        Ok(v)
    }

    fn varint(&mut self) -> Result<usize, MimeError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return usize::try_from(v).map_err(|_| MimeError::Corrupt("offset too large"));
            }
        }
        Err(MimeError::Corrupt("varint too long"))
    }

    fn part(&mut self, depth: usize, lo: usize, hi: usize) -> Result<Part, MimeError> {
        self.parts += 1;
        if depth > MAX_DEPTH || self.parts > MAX_PARTS + MAX_PARTS {
            return Err(MimeError::Corrupt("too many or too deeply nested parts"));
        }
        let kind = self.byte()?;
        let start = self.varint()?;
        let body_start = self.varint()?;
        let end = self.varint()?;
        if !(lo <= start && start <= body_start && body_start <= end && end <= hi) {
            return Err(MimeError::Corrupt("part offsets out of order"));
        }
        let kind = match kind {
            KIND_SINGLE => PartKind::Single,
            KIND_MULTIPART => {
                let n = self.varint()?;
                if n == 0 || n > MAX_PARTS {
                    return Err(MimeError::Corrupt("bad multipart child count"));
                }
                let mut children = Vec::with_capacity(n.min(64));
                let mut floor = body_start;
                for _ in 0..n {
                    let c = self.part(depth + 1, floor, end)?;
                    floor = c.end;
                    children.push(c);
                }
                PartKind::Multipart(children)
            }
            KIND_MESSAGE => PartKind::Message(Box::new(self.part(depth + 1, body_start, end)?)),
            k => return Err(MimeError::UnknownKind(k)),
        };
        Ok(Part {
            start,
            body_start,
            end,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_crlf_lf_and_unterminated() {
        let b = b"pre\r\n--b\r\nA\r\n--b \r\n\r\nB\r\n--b--\r\nepi";
        let r = split_multipart(b, 0, b.len(), b"b");
        assert_eq!(
            r.iter().map(|&(s, e)| &b[s..e]).collect::<Vec<_>>(),
            vec![&b"A"[..], b"\r\nB"]
        );
        let b = b"--b\nA\n\n--b\nB";
        let r = split_multipart(b, 0, b.len(), b"b");
        assert_eq!(
            r.iter().map(|&(s, e)| &b[s..e]).collect::<Vec<_>>(),
            vec![&b"A\n"[..], b"B"]
        );
        let b = b"--b\r\n--b\r\n--bc\r\n--b--";
        let r = split_multipart(b, 0, b.len(), b"b");
        assert_eq!(
            r.iter().map(|&(s, e)| &b[s..e]).collect::<Vec<_>>(),
            vec![&b""[..], b"--bc"]
        );
        assert!(split_multipart(b"no delimiters", 0, 13, b"b").is_empty());
    }

    #[test]
    fn varint_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX >> 1] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut d = Decoder {
                b: &out,
                pos: 0,
                parts: 0,
            };
            assert_eq!(d.varint().unwrap() as u64, v);
        }
    }
}
