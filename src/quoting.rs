//! How bytes are written as an IMAP `string` (RFC 3501 §4.3, §9): the one
//! routine for the response encoder (`imap::proto::encode`) and for the
//! ENVELOPE and BODYSTRUCTURE that `mime` computes once at APPEND and the
//! store keeps encoded. Below both, so neither imports the other.
//!
//! A quoted string when every byte is a 7-bit `QUOTED-CHAR` before escaping
//! (no NUL, CR or LF) and there are at most [`QUOTED_MAX`] of them, with
//! `"` and `\` escaped; else a literal. Message data goes out exactly
//! (`write_string`), NUL bytes too, since a message is what it is; text
//! taken from a header for ENVELOPE and BODYSTRUCTURE (`write_header_string`)
//! leaves NUL out, since a literal's bytes are `CHAR8` (%x01-ff) and a NUL
//! in a header field says nothing.

/// Longest string written as a quoted string; longer ones are literals,
/// which clients read without scanning for escapes.
pub const QUOTED_MAX: usize = 1024;

/// `string = quoted / literal`, every byte kept.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    string(out, s, Nul::Keep);
}

/// `nstring = string / nil`, every byte kept.
pub fn write_nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => write_string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// `string` for text from a header: NUL bytes left out.
pub fn write_header_string(out: &mut Vec<u8>, s: &[u8]) {
    string(out, s, Nul::Drop);
}

/// `nstring` for text from a header: NUL bytes left out.
pub fn write_header_nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => write_header_string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Nul {
    Keep,
    Drop,
}

fn string(out: &mut Vec<u8>, s: &[u8], nul: Nul) {
    if s.len() <= QUOTED_MAX && s.iter().all(|&b| is_quoted_char(b)) {
        write_quoted(out, s);
    } else {
        write_literal(out, s, nul);
    }
}

/// `QUOTED-CHAR` before escaping: any 7-bit `TEXT-CHAR` (no NUL, CR, LF).
pub fn is_quoted_char(b: u8) -> bool {
    (0x01..=0x7f).contains(&b) && b != b'\r' && b != b'\n'
}

fn write_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn write_literal(out: &mut Vec<u8>, s: &[u8], nul: Nul) {
    let nul = match nul {
        Nul::Keep => 0,
        Nul::Drop => memchr::memchr_iter(0, s).count(),
    };
    out.push(b'{');
    out.extend_from_slice((s.len() - nul).to_string().as_bytes());
    out.extend_from_slice(b"}\r\n");
    if nul == 0 {
        out.extend_from_slice(s);
    } else {
        out.extend(s.iter().copied().filter(|&b| b != 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, v);
        out
    }

    #[test]
    fn quoted_when_seven_bit_and_short_else_literal() {
        assert_eq!(s(b"abc"), b"\"abc\"");
        assert_eq!(s(b""), b"\"\"");
        assert_eq!(s(b"a\"b\\c"), b"\"a\\\"b\\\\c\"");
        assert_eq!(s("é".as_bytes()), b"{2}\r\n\xc3\xa9");
        assert_eq!(s(b"a\r\nb"), b"{4}\r\na\r\nb");
        let long = vec![b'x'; QUOTED_MAX + 1];
        assert!(s(&long).starts_with(b"{1025}\r\n"));
        assert_eq!(s(&long[..QUOTED_MAX])[0], b'"');
        let mut out = Vec::new();
        write_nstring(&mut out, None);
        assert_eq!(out, b"NIL");
    }

    fn h(v: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header_string(&mut out, v);
        out
    }

    #[test]
    fn message_data_keeps_nul_and_header_text_drops_it() {
        assert_eq!(s(b"a\0b\xff"), b"{4}\r\na\0b\xff");
        assert_eq!(h(b"a\0b\xff"), b"{3}\r\nab\xff");
        assert_eq!(h(b"\0"), b"{0}\r\n");
        assert_eq!(h(b"abc"), s(b"abc"));
    }
}
