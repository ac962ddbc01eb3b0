//! Header blocks and the structured MIME fields, read from raw bytes
//! (RFC 5322 §2.2, RFC 2045 §5–6, RFC 2183, RFC 2231).
//!
//! Values are returned as sent: encoded-words are not decoded and RFC 2231
//! extended values keep their `charset'lang'%XX` form, because that is what
//! IMAP servers hand to clients in ENVELOPE and BODYSTRUCTURE. The only
//! mail-parser use in this module is the lenient `Date:` parser at the
//! bottom.

use std::borrow::Cow;

/// Finds the end of the line that starts at `pos`: returns the end of its
/// content (before CRLF or LF) and the start of the next line. A line that
/// runs into `end` without LF has no line ending.
pub(crate) fn line_end(buf: &[u8], pos: usize, end: usize) -> (usize, usize) {
    match memchr::memchr(b'\n', &buf[pos..end]) {
        Some(i) => {
            let lf = pos + i;
            let content_end = if lf > pos && buf[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            (content_end, lf + 1)
        }
        None => (end, end),
    }
}

/// The start of the body of the entity at `raw[start..end]`: just after the
/// empty line that ends its header. An entity without an empty line is all
/// header (RFC 5322 §2.1 makes the body optional, not the separator).
pub(crate) fn header_end(raw: &[u8], start: usize, end: usize) -> usize {
    let mut pos = start;
    while pos < end {
        let (content_end, next) = line_end(raw, pos, end);
        if content_end == pos && next > pos {
            return next;
        }
        pos = next;
    }
    end
}

/// One header field: its name, its raw value (folding line breaks kept) and
/// the byte range of all its lines, line endings included, relative to the
/// header block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    pub start: usize,
    pub end: usize,
}

/// The fields of a header block, in order, stopping at the empty line.
/// A line without a colon is a field whose name is the whole line and whose
/// value is empty: it never matches a field name but is still a line of the
/// header (HEADER.FIELDS.NOT returns it).
pub(crate) struct Fields<'a> {
    block: &'a [u8],
    pos: usize,
}

pub(crate) fn fields(block: &[u8]) -> Fields<'_> {
    Fields { block, pos: 0 }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        let b = self.block;
        let len = b.len();
        if self.pos >= len {
            return None;
        }
        let start = self.pos;
        let (content_end, mut end) = line_end(b, start, len);
        if content_end == start {
            // The empty line that ends the header.
            self.pos = len;
            return None;
        }
        while end < len && (b[end] == b' ' || b[end] == b'\t') {
            end = line_end(b, end, len).1;
        }
        self.pos = end;
        let first = &b[start..content_end];
        let (name, value) = match memchr::memchr(b':', first) {
            Some(c) => (trim_wsp(&first[..c]), &b[start + c + 1..end]),
            None => (first, &b[end..end]),
        };
        Some(Field {
            name,
            value,
            start,
            end,
        })
    }
}

/// The raw value of the first field called `name` (case-insensitive).
pub(crate) fn find<'a>(block: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    fields(block)
        .find(|f| f.name.eq_ignore_ascii_case(name))
        .map(|f| f.value)
}

/// The first field called `name`, unfolded (RFC 5322 §2.2.3) and trimmed.
pub(crate) fn find_unfolded<'a>(block: &'a [u8], name: &[u8]) -> Option<Cow<'a, [u8]>> {
    find(block, name).map(unfold)
}

fn is_wsp(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim_wsp(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_wsp(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_wsp(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Removes the line breaks of folding (the whitespace after them stays) and
/// trims leading and trailing whitespace.
pub(crate) fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    let v = trim_wsp(value);
    if v.iter().any(|&b| b == b'\r' || b == b'\n') {
        Cow::Owned(
            v.iter()
                .copied()
                .filter(|&b| b != b'\r' && b != b'\n')
                .collect(),
        )
    } else {
        Cow::Borrowed(v)
    }
}

/// A small cursor over an unfolded structured field value.
pub(crate) struct Cursor<'a> {
    pub s: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(s: &'a [u8]) -> Cursor<'a> {
        Cursor { s, pos: 0 }
    }

    pub fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Skips whitespace and comments; returns the text of the last comment
    /// skipped, if any.
    pub fn skip_cfws(&mut self) -> Option<&'a [u8]> {
        let mut last = None;
        loop {
            match self.peek() {
                Some(b) if is_wsp(b) => self.pos += 1,
                Some(b'(') => last = Some(self.comment()),
                _ => return last,
            }
        }
    }

    /// `comment` (RFC 5322 §3.2.2), nested; the cursor is on `(`. Returns the
    /// raw text between the outer parentheses. An unterminated comment runs
    /// to the end.
    fn comment(&mut self) -> &'a [u8] {
        let start = self.pos + 1;
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'\\' => self.pos = (self.pos + 1).min(self.s.len()),
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return &self.s[start..self.pos - 1];
                    }
                }
                _ => {}
            }
        }
        &self.s[start.min(self.s.len())..]
    }

    /// `quoted-string`, unescaped; the cursor is on `"`. An unterminated
    /// string runs to the end.
    pub fn quoted(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.pos += 1;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => return out,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.pos += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        out
    }

    /// The longest run of bytes accepted by `ok`.
    pub fn take_while(&mut self, ok: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&ok) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// Moves past the next `stop` byte outside quoted strings, or to the end.
    fn skip_past(&mut self, stop: u8) {
        while let Some(b) = self.peek() {
            if b == b'"' {
                self.quoted();
            } else {
                self.pos += 1;
                if b == stop {
                    return;
                }
            }
        }
    }
}

/// `token` of RFC 2045 §5.1: any CHAR but SPACE, CTLs and tspecials; 8-bit
/// bytes are accepted, as sent by real mailers.
fn is_token_char(b: u8) -> bool {
    b > 0x20 && b != 0x7f && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// A parameter list as sent, RFC 2231 continuations merged.
pub(crate) type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// `Content-Type` (RFC 2045 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentType {
    /// Type and subtype as sent (case kept).
    pub ty: Vec<u8>,
    pub subtype: Vec<u8>,
    pub params: Params,
}

impl ContentType {
    pub fn is(&self, ty: &str, subtype: &str) -> bool {
        self.ty.eq_ignore_ascii_case(ty.as_bytes())
            && self.subtype.eq_ignore_ascii_case(subtype.as_bytes())
    }

    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }
}

/// Parses a `Content-Type` value; `None` when the type/subtype is unusable,
/// so that the caller applies the default (RFC 2045 §5.2).
pub(crate) fn parse_content_type(value: &[u8]) -> Option<ContentType> {
    let v = unfold(value);
    let mut c = Cursor::new(&v);
    c.skip_cfws();
    let ty = c.take_while(is_token_char).to_vec();
    c.skip_cfws();
    if ty.is_empty() || c.peek() != Some(b'/') {
        return None;
    }
    c.pos += 1;
    c.skip_cfws();
    let subtype = c.take_while(is_token_char).to_vec();
    if subtype.is_empty() {
        return None;
    }
    let params = parse_params(&mut c);
    Some(ContentType {
        ty,
        subtype,
        params,
    })
}

/// `Content-Disposition` (RFC 2183): the type as sent and its parameters.
pub(crate) fn parse_disposition(value: &[u8]) -> Option<(Vec<u8>, Params)> {
    let v = unfold(value);
    let mut c = Cursor::new(&v);
    c.skip_cfws();
    let ty = c.take_while(is_token_char).to_vec();
    if ty.is_empty() {
        return None;
    }
    let params = parse_params(&mut c);
    Some((ty, params))
}

/// `Content-Language` (RFC 3282): the comma-separated language tags.
pub(crate) fn parse_language(value: &[u8]) -> Vec<Vec<u8>> {
    let v = unfold(value);
    let mut c = Cursor::new(&v);
    let mut out = Vec::new();
    loop {
        c.skip_cfws();
        let tag = c.take_while(|b| is_token_char(b) && b != b',');
        if !tag.is_empty() {
            out.push(tag.to_vec());
        }
        c.skip_cfws();
        match c.peek() {
            None => return out,
            Some(b',') => c.pos += 1,
            // Junk between tags: skip to the next comma.
            Some(_) => c.skip_past(b','),
        }
    }
}

/// `*(";" parameter)` (RFC 2045 §5.1), lenient: a broken parameter is
/// skipped up to the next `;`, an unquoted value runs to `;` or whitespace
/// (so unquoted encoded-words survive), and RFC 2231 sections are merged by
/// `merge_rfc2231`.
fn parse_params(c: &mut Cursor<'_>) -> Params {
    let mut raw: Params = Vec::new();
    loop {
        c.skip_cfws();
        match c.peek() {
            None => break,
            Some(b';') => c.pos += 1,
            Some(_) => {
                c.skip_past(b';');
                continue;
            }
        }
        c.skip_cfws();
        let key = c.take_while(is_token_char).to_vec();
        c.skip_cfws();
        if key.is_empty() || c.peek() != Some(b'=') {
            continue;
        }
        c.pos += 1;
        c.skip_cfws();
        let value = if c.peek() == Some(b'"') {
            c.quoted()
        } else {
            c.take_while(|b| b != b';' && !is_wsp(b)).to_vec()
        };
        raw.push((key, value));
    }
    merge_rfc2231(raw)
}

/// One section of an RFC 2231 parameter: `name*N` or `name*N*`, or `name*`.
struct Section2231 {
    base: Vec<u8>,
    index: u32,
    extended: bool,
    value: Vec<u8>,
}

fn split_2231(key: &[u8]) -> Option<(&[u8], u32, bool)> {
    let star = memchr::memchr(b'*', key)?;
    let (base, rest) = (&key[..star], &key[star + 1..]);
    if base.is_empty() {
        return None;
    }
    if rest.is_empty() {
        return Some((base, 0, true));
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 4 {
        return None;
    }
    let index = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    match &rest[digits..] {
        b"" => Some((base, index, false)),
        b"*" => Some((base, index, true)),
        _ => None,
    }
}

/// Merges RFC 2231 continuations (§3) the way Dovecot does, so clients see
/// what they see from Dovecot: sections `name*0`, `name*1`, … join into one
/// `name`; if any section is extended (`*` suffix, RFC 2231 §4) the result is
/// called `name*` and keeps the `charset'language'%XX` encoding (plain
/// sections are %-escaped into it, and a `''` prefix is added if the first
/// section is plain). A group with a missing or repeated index is not merged:
/// its sections are passed through under their own names. Plain parameters
/// come first in their order, then the merged ones in order of first
/// appearance.
fn merge_rfc2231(raw: Params) -> Params {
    let mut out: Params = Vec::with_capacity(raw.len());
    let mut sections: Vec<Section2231> = Vec::new();
    for (key, value) in raw {
        match split_2231(&key) {
            Some((base, index, extended)) => sections.push(Section2231 {
                base: base.to_vec(),
                index,
                extended,
                value,
            }),
            None => out.push((key, value)),
        }
    }
    let mut done = vec![false; sections.len()];
    for i in 0..sections.len() {
        if done[i] {
            continue;
        }
        let mut group: Vec<usize> = (i..sections.len())
            .filter(|&j| !done[j] && sections[j].base.eq_ignore_ascii_case(&sections[i].base))
            .collect();
        for &j in &group {
            done[j] = true;
        }
        group.sort_by_key(|&j| sections[j].index);
        let contiguous = group
            .iter()
            .enumerate()
            .all(|(n, &j)| sections[j].index as usize == n);
        if !contiguous {
            for &j in &group {
                let s = &sections[j];
                let mut key = s.base.clone();
                key.push(b'*');
                key.extend_from_slice(s.index.to_string().as_bytes());
                if s.extended {
                    key.push(b'*');
                }
                out.push((key, s.value.clone()));
            }
            continue;
        }
        let any_extended = group.iter().any(|&j| sections[j].extended);
        let mut value = Vec::new();
        if any_extended && !sections[group[0]].extended {
            value.extend_from_slice(b"''");
        }
        for &j in &group {
            let s = &sections[j];
            if any_extended && !s.extended {
                for &b in &s.value {
                    if b == b'%' {
                        value.extend_from_slice(b"%25");
                    } else {
                        value.push(b);
                    }
                }
            } else {
                value.extend_from_slice(&s.value);
            }
        }
        let mut key = sections[group[0]].base.clone();
        if any_extended {
            key.push(b'*');
        }
        out.push((key, value));
    }
    out
}

/// The `Date:` value as a point in time with its own offset, for
/// SENTBEFORE/SENTON/SENTSINCE (RFC 3501 §6.4.4). mail-parser's parser is
/// lenient about obsolete and sloppy forms (RFC 5322 §4.3).
pub(crate) fn parse_date(value: &[u8]) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let text = String::from_utf8_lossy(&unfold(value)).into_owned();
    let dt = mail_parser::DateTime::parse_rfc822(&text)?;
    if !dt.is_valid() {
        return None;
    }
    let offset_secs = i32::from(dt.tz_hour) * 3600 + i32::from(dt.tz_minute) * 60;
    let offset = if dt.tz_before_gmt {
        chrono::FixedOffset::west_opt(offset_secs)
    } else {
        chrono::FixedOffset::east_opt(offset_secs)
    }?;
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::from(dt.year),
        u32::from(dt.month),
        u32::from(dt.day),
    )?;
    let time = chrono::NaiveTime::from_hms_opt(
        u32::from(dt.hour),
        u32::from(dt.minute),
        u32::from(dt.second),
    )?;
    date.and_time(time).and_local_timezone(offset).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_end_crlf_lf_and_missing() {
        let m = b"A: 1\r\nB: 2\r\n\r\nbody";
        assert_eq!(header_end(m, 0, m.len()), 14);
        let m = b"A: 1\nB: 2\n\nbody";
        assert_eq!(header_end(m, 0, m.len()), 11);
        let m = b"A: 1\r\nB: 2";
        assert_eq!(header_end(m, 0, m.len()), m.len());
        let m = b"\r\nbody";
        assert_eq!(header_end(m, 0, m.len()), 2);
    }

    #[test]
    fn fields_fold_and_junk() {
        let h = b"Subject: a\r\n b\r\nnocolon\r\nTo : x\r\n\r\nignored: y\r\n";
        let f: Vec<_> = fields(h).collect();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].name, b"Subject");
        assert_eq!(&h[f[0].start..f[0].end], b"Subject: a\r\n b\r\n");
        assert_eq!(&*unfold(f[0].value), b"a b");
        assert_eq!(f[1].name, b"nocolon");
        assert_eq!(f[2].name, b"To");
    }

    #[test]
    fn content_type_params() {
        let ct =
            parse_content_type(b"Text/Plain; charset=\"utf-8\" (comment); format=flowed").unwrap();
        assert_eq!(ct.ty, b"Text");
        assert_eq!(ct.subtype, b"Plain");
        assert_eq!(
            ct.params,
            vec![
                (b"charset".to_vec(), b"utf-8".to_vec()),
                (b"format".to_vec(), b"flowed".to_vec())
            ]
        );
        assert!(parse_content_type(b"text").is_none());
        assert!(parse_content_type(b"").is_none());
        let ct = parse_content_type(b"multipart/mixed;\r\n\tboundary=\"=_a b\\\"c\"").unwrap();
        assert_eq!(ct.param("BOUNDARY"), Some(&b"=_a b\"c"[..]));
    }

    #[test]
    fn rfc2231_merge_like_dovecot() {
        let (_, p) = parse_disposition(
            b"attachment; filename*1=\"b%c.txt\"; filename*0*=utf-8''%E2%82%AC; size=3",
        )
        .unwrap();
        assert_eq!(
            p,
            vec![
                (b"size".to_vec(), b"3".to_vec()),
                (b"filename*".to_vec(), b"utf-8''%E2%82%ACb%25c.txt".to_vec())
            ]
        );
        let (_, p) = parse_disposition(b"inline; name*0=\"a\"; name*1=\"b\"").unwrap();
        assert_eq!(p, vec![(b"name".to_vec(), b"ab".to_vec())]);
        let (_, p) = parse_disposition(b"inline; name*0=a; name*2=c").unwrap();
        assert_eq!(
            p,
            vec![
                (b"name*0".to_vec(), b"a".to_vec()),
                (b"name*2".to_vec(), b"c".to_vec())
            ]
        );
    }

    #[test]
    fn language_list() {
        assert_eq!(
            parse_language(b"en, de-CH (Swiss)"),
            vec![b"en".to_vec(), b"de-CH".to_vec()]
        );
    }

    #[test]
    fn date_with_and_without_newline() {
        let d = parse_date(b" Mon, 7 Feb 1994 21:52:25 -0800\r\n").unwrap();
        assert_eq!(d.to_rfc3339(), "1994-02-07T21:52:25-08:00");
        let d = parse_date(b"7 Feb 1994 21:52 +0130").unwrap();
        assert_eq!(d.to_rfc3339(), "1994-02-07T21:52:00+01:30");
        assert!(parse_date(b"not a date").is_none());
    }
}
