//! The message after DATA: finds its end (`CRLF "." CRLF`), undoes dot
//! stuffing (RFC 5321 §4.5.2) and enforces the size limit while framing, a
//! byte at a time, so neither a long line nor a long message grows memory
//! past the limit.
//!
//! Line endings and NUL, decided here once:
//!
//! - Only CRLF ends a line. `LF "." LF`, `CR "." CR` and the like never end
//!   the message: an SMTP peer that accepted one would see a different
//!   message boundary than we do ("SMTP smuggling"). Postfix's smtpd,
//!   since 3.9, refuses bare LF by default (`smtpd_forbid_bare_newline`);
//!   Dovecot's LMTP takes a bare LF as a line end. Postfix's LMTP client,
//!   which is what feeds us, always sends CRLF.
//! - A bare LF or bare CR inside the message is stored as CRLF, so every
//!   stored message has CRLF line ends as IMAP clients expect (RFC 3501
//!   §2.3.1 counts RFC822.SIZE over CRLF lines). A dot after one is kept:
//!   it is not at the start of a line of the transfer.
//! - NUL is stored as 0x80. NUL may not appear in an IMAP literal (RFC 3501
//!   `CHAR8`), and Dovecot's IMAP server makes the same replacement when
//!   it sends a message (Dovecot stores the NUL and replaces it on output;
//!   we do it once, at delivery, so RFC822.SIZE and every FETCH agree).
//!   Postfix passes NUL through unless `message_strip_characters` says
//!   otherwise.

/// What `DataReader::feed` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataProgress {
    /// All of the input was consumed; the message goes on.
    More,
    /// The message ended after this many bytes of the input; the rest is
    /// the client's next commands.
    Done { consumed: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// At the start of a line (also the start of the message).
    LineStart,
    /// A line began with a dot.
    Dot,
    /// A line began with a dot and a CR.
    DotCr,
    /// Inside a line.
    Mid,
    /// Inside a line, after a CR.
    Cr,
}

/// Reads one message of a DATA transfer.
#[derive(Debug)]
pub struct DataReader {
    at: At,
    message: Vec<u8>,
    /// The unstuffed message size, counted past the limit too.
    size: u64,
    limit: u64,
    ended: bool,
}

impl DataReader {
    /// `limit` is the largest message accepted, in octets after unstuffing.
    pub fn new(limit: u64) -> DataReader {
        DataReader {
            at: At::LineStart,
            message: Vec::new(),
            size: 0,
            limit,
            ended: false,
        }
    }

    /// Whether the message was larger than the limit (then only its size
    /// was counted and nothing more of it kept).
    pub fn too_big(&self) -> bool {
        self.size > self.limit
    }

    /// The message size, counted even past the limit.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The message, once `feed` said `Done`.
    pub fn into_message(self) -> Vec<u8> {
        self.message
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.size <= self.limit {
            self.message.extend_from_slice(bytes);
        } else if !self.message.is_empty() {
            self.message = Vec::new();
        }
    }

    /// Feeds bytes of the transfer.
    pub fn feed(&mut self, input: &[u8]) -> DataProgress {
        if self.ended {
            return DataProgress::Done { consumed: 0 };
        }
        for (i, &b) in input.iter().enumerate() {
            if self.step(b) {
                self.ended = true;
                return DataProgress::Done { consumed: i + 1 };
            }
        }
        DataProgress::More
    }

    /// One byte; true when it ended the message.
    fn step(&mut self, b: u8) -> bool {
        match self.at {
            At::LineStart => {
                if b == b'.' {
                    self.at = At::Dot;
                } else {
                    self.mid(b);
                }
            }
            At::Dot => {
                if b == b'\r' {
                    self.at = At::DotCr;
                } else {
                    // A stuffed dot: dropped (RFC 5321 §4.5.2).
                    self.mid(b);
                }
            }
            At::DotCr => {
                if b == b'\n' {
                    return true;
                }
                // `"." CR x`: the dot was stuffing, the CR is bare.
                self.emit(b"\r\n");
                self.at = At::Mid;
                self.mid(b);
            }
            At::Mid => self.mid(b),
            At::Cr => {
                if b == b'\n' {
                    self.emit(b"\r\n");
                    self.at = At::LineStart;
                } else {
                    self.emit(b"\r\n");
                    self.at = At::Mid;
                    self.mid(b);
                }
            }
        }
        false
    }

    /// A byte inside a line.
    fn mid(&mut self, b: u8) {
        self.at = At::Mid;
        match b {
            b'\r' => self.at = At::Cr,
            b'\n' => self.emit(b"\r\n"),
            0 => self.emit(&[0x80]),
            _ => self.emit(&[b]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of every size and checks each gives the
    /// same message and the same end.
    fn read(input: &[u8]) -> Option<(Vec<u8>, usize)> {
        let mut answer = None;
        for piece in 1..=input.len().max(1) {
            let mut r = DataReader::new(1 << 20);
            let mut offset = 0;
            let mut end = None;
            for chunk in input.chunks(piece) {
                if let DataProgress::Done { consumed } = r.feed(chunk) {
                    end = Some(offset + consumed);
                    break;
                }
                offset += chunk.len();
            }
            let got = end.map(|e| (r.into_message(), e));
            if piece == 1 {
                answer = got;
            } else {
                assert_eq!(got, answer, "piece size {piece}");
            }
        }
        answer
    }

    #[test]
    fn ends_at_crlf_dot_crlf() {
        assert_eq!(
            read(b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n"),
            Some((b"Subject: x\r\n\r\nbody\r\n".to_vec(), 23))
        );
    }

    #[test]
    fn empty_message() {
        assert_eq!(read(b".\r\n"), Some((Vec::new(), 3)));
    }

    #[test]
    fn dot_unstuffing() {
        assert_eq!(
            read(b"..\r\n..x\r\n...\r\n.\r\n"),
            Some((b".\r\n.x\r\n..\r\n".to_vec(), 17))
        );
        // A dot at the start of a line with more after it: the first dot
        // goes even when the client did not stuff (RFC 5321 §4.5.2).
        assert_eq!(read(b".x\r\n.\r\n"), Some((b"x\r\n".to_vec(), 7)));
    }

    #[test]
    fn a_dot_inside_a_line_stays() {
        assert_eq!(
            read(b"a.\r\nb .\r\n.\r\n"),
            Some((b"a.\r\nb .\r\n".to_vec(), 12))
        );
    }

    #[test]
    fn bare_lf_never_ends_the_message() {
        assert_eq!(
            read(b"a\n.\nb\r\n.\r\n"),
            Some((b"a\r\n.\r\nb\r\n".to_vec(), 10))
        );
        assert_eq!(
            read(b"a\r\n.\nb\r\n.\r\n"),
            Some((b"a\r\n\r\nb\r\n".to_vec(), 11))
        );
        assert_eq!(read(b"a\n.\r\n"), None);
    }

    #[test]
    fn bare_cr_never_ends_the_message() {
        assert_eq!(
            read(b"a\r.\rb\r\n.\r\n"),
            Some((b"a\r\n.\r\nb\r\n".to_vec(), 10))
        );
        assert_eq!(read(b".\r.\r\n"), None);
        assert_eq!(
            read(b"x\r\n.\rx\r\n.\r\n"),
            Some((b"x\r\n\r\nx\r\n".to_vec(), 11))
        );
    }

    #[test]
    fn crlf_runs_stay() {
        assert_eq!(
            read(b"a\r\r\n\r\n.\r\n"),
            Some((b"a\r\n\r\n\r\n".to_vec(), 9))
        );
    }

    #[test]
    fn nul_becomes_0x80_and_eight_bit_stays() {
        assert_eq!(
            read(b"a\0b\xc3\xa9\xff\r\n.\r\n"),
            Some((b"a\x80b\xc3\xa9\xff\r\n".to_vec(), 11))
        );
    }

    #[test]
    fn unterminated_waits_for_more() {
        let mut r = DataReader::new(100);
        assert_eq!(r.feed(b"abc\r\n."), DataProgress::More);
        assert_eq!(r.feed(b"\r"), DataProgress::More);
        assert_eq!(r.feed(b"\nNOOP"), DataProgress::Done { consumed: 1 });
        assert_eq!(r.into_message(), b"abc\r\n");
    }

    #[test]
    fn over_the_limit_keeps_nothing_but_finds_the_end() {
        let mut r = DataReader::new(10);
        assert_eq!(r.feed(b"0123456789"), DataProgress::More);
        assert!(!r.too_big());
        assert_eq!(r.feed(&[b'x'; 100_000]), DataProgress::More);
        assert!(r.too_big());
        assert_eq!(r.feed(b"\r\n.\r\n"), DataProgress::Done { consumed: 5 });
        assert_eq!(r.size(), 100_012);
        assert!(r.message.capacity() <= 10 || r.message.is_empty());
        assert!(r.into_message().is_empty());
    }

    #[test]
    fn exactly_at_the_limit_is_accepted() {
        let mut r = DataReader::new(5);
        assert_eq!(r.feed(b"abc\r\n.\r\n"), DataProgress::Done { consumed: 8 });
        assert!(!r.too_big());
        assert_eq!(r.into_message(), b"abc\r\n");
    }

    #[test]
    fn a_long_line_is_just_data() {
        let mut r = DataReader::new(1 << 20);
        assert_eq!(r.feed(&vec![b'y'; 200_000]), DataProgress::More);
        assert_eq!(r.feed(b"\r\n.\r\n"), DataProgress::Done { consumed: 5 });
        assert_eq!(r.into_message().len(), 200_002);
    }
}

/// A message from outside SMTP (`roost deliver`'s standard input) in the
/// form DATA stores: LF or CRLF line ends (bare CR too) become CRLF, NUL
/// becomes 0x80, as `DataReader` does; no dot-unstuffing. An mbox `From `
/// line at the top (procmail and Exim's pipe may add one) is dropped.
pub fn canonical(input: &[u8]) -> Vec<u8> {
    let mut input = input;
    if input.starts_with(b"From ") {
        input = match memchr::memchr(b'\n', input) {
            Some(i) => &input[i + 1..],
            None => &[],
        };
    }
    let mut out = Vec::with_capacity(input.len() + input.len() / 32);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if input.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            0 => out.push(0x80),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod canonical_tests {
    use super::canonical;

    #[test]
    fn line_ends_and_nul() {
        assert_eq!(canonical(b"a\nb\r\nc\rd\0"), b"a\r\nb\r\nc\r\nd\x80");
        assert_eq!(canonical(b"\r\n\r\n"), b"\r\n\r\n");
        assert_eq!(canonical(b".\n..\n"), b".\r\n..\r\n");
    }

    #[test]
    fn mbox_from_line_is_dropped() {
        assert_eq!(
            canonical(b"From alice@x Thu Dec  3 09:00:00 2026\nSubject: s\n\nb\n"),
            b"Subject: s\r\n\r\nb\r\n"
        );
        assert_eq!(canonical(b"From: a@b\n"), b"From: a@b\r\n");
    }
}
