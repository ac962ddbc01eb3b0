//! LMTP replies (RFC 5321 §4.2) with their enhanced status codes (RFC 2034,
//! RFC 3463), and their wire form.

use std::fmt;

/// An enhanced status code `class.subject.detail` (RFC 3463 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enhanced(pub u8, pub u16, pub u16);

impl fmt::Display for Enhanced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// One reply. Every reply but the greeting and LHLO's carries an enhanced
/// code (RFC 2034 §3: they are not sent on the greeting and on EHLO's
/// reply, which LHLO's is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<Enhanced>,
    /// At least one line; several make a multi-line reply.
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, enhanced: Enhanced, text: impl Into<String>) -> Reply {
        Reply {
            code,
            enhanced: Some(enhanced),
            lines: vec![text.into()],
        }
    }

    /// A reply without an enhanced code (the greeting, LHLO).
    pub fn plain(code: u16, lines: Vec<String>) -> Reply {
        Reply {
            code,
            enhanced: None,
            lines,
        }
    }

    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// Appends the wire form: `code-text` for every line but the last,
    /// `code text` for the last (RFC 5321 §4.2.1). Text never holds CR or
    /// LF: those are replaced, so a reply cannot be split by its text.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        if self.lines.is_empty() {
            out.extend_from_slice(format!("{} \r\n", self.code).as_bytes());
            return;
        }
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            let mut text = String::with_capacity(line.len() + 8);
            if let Some(e) = self.enhanced {
                text.push_str(&e.to_string());
                text.push(' ');
            }
            text.extend(
                line.chars()
                    .map(|c| if c == '\r' || c == '\n' { ' ' } else { c }),
            );
            out.extend_from_slice(format!("{}{}{}\r\n", self.code, sep, text).as_bytes());
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.encode(&mut out);
        f.write_str(String::from_utf8_lossy(&out).trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_enhanced_code() {
        let mut out = Vec::new();
        Reply::new(250, Enhanced(2, 1, 5), "OK").encode(&mut out);
        assert_eq!(out, b"250 2.1.5 OK\r\n");
    }

    #[test]
    fn multi_line_without_enhanced_code() {
        let mut out = Vec::new();
        Reply::plain(
            250,
            vec!["host".into(), "PIPELINING".into(), "SIZE 10".into()],
        )
        .encode(&mut out);
        assert_eq!(out, b"250-host\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
    }

    #[test]
    fn text_cannot_break_the_line() {
        let mut out = Vec::new();
        Reply::new(550, Enhanced(5, 1, 1), "a\r\n250 b").encode(&mut out);
        assert_eq!(out, b"550 5.1.1 a  250 b\r\n");
    }
}
