//! `string` / `nstring` for the pre-encoded ENVELOPE and BODYSTRUCTURE
//! (RFC 3501 §4.3, §9).
//!
//! These belong in the shared response encoder (`imap::proto::encode`,
//! `write_string` / `write_nstring`); they are here until that exists and
//! should be replaced by it then. The output must stay byte-identical, or
//! stored ENVELOPE/BODYSTRUCTURE values would change meaning.

/// `string`: a quoted string when every byte is a 7-bit `TEXT-CHAR`
/// (`"` and `\` escaped), otherwise a literal. A literal may not hold NUL
/// (`CHAR8` is %x01-ff), so NUL bytes are dropped.
pub(crate) fn string(out: &mut Vec<u8>, v: &[u8]) {
    let quotable = v
        .iter()
        .all(|&b| (0x01..0x80).contains(&b) && b != b'\r' && b != b'\n');
    if quotable {
        out.reserve(v.len() + 2);
        out.push(b'"');
        for &b in v {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        let nul = v.iter().filter(|&&b| b == 0).count();
        out.extend_from_slice(format!("{{{}}}\r\n", v.len() - nul).as_bytes());
        out.extend(v.iter().copied().filter(|&b| b != 0));
    }
}

/// `nstring`: `NIL` for `None`.
pub(crate) fn nstring(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => string(out, v),
        None => out.extend_from_slice(b"NIL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        string(&mut out, v);
        out
    }

    #[test]
    fn quoted_and_literal() {
        assert_eq!(s(b"abc"), b"\"abc\"");
        assert_eq!(s(b""), b"\"\"");
        assert_eq!(s(b"a\"b\\c"), b"\"a\\\"b\\\\c\"");
        assert_eq!(s("é".as_bytes()), b"{2}\r\n\xc3\xa9");
        assert_eq!(s(b"a\r\nb"), b"{4}\r\na\r\nb");
        assert_eq!(s(b"a\0b\xff"), b"{3}\r\nab\xff");
        let mut out = Vec::new();
        nstring(&mut out, None);
        assert_eq!(out, b"NIL");
    }
}
