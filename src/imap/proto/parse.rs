//! The command grammar (RFC 3501 §9, RFC 2971 ID, RFC 4959 SASL-IR,
//! RFC 7888 non-synchronizing literals), with nom 8.
//!
//! Input is one framed command (see `frame`): the command line with every
//! literal inline (`{n}\r\n` or `{n+}\r\n` followed by the n bytes) and the
//! final CRLF.

use super::mutf7::Mutf7Error;
use super::types::{Command, Secret, Tag};

/// Limits the grammar enforces, so that a hostile command costs bounded
/// work and memory.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Deepest nesting of parentheses (SEARCH keys, ID lists).
    pub max_depth: usize,
    /// Most elements in one list: flags, FETCH attributes, header field
    /// names, sequence-set ranges, SEARCH keys in one list, ID pairs.
    pub max_params: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_depth: 32, max_params: 1000 }
    }
}

/// Why a command did not parse. `tag` is set whenever a valid tag was read,
/// so the session can answer `tag BAD ...`; otherwise it answers `* BAD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub tag: Option<Tag>,
    pub kind: ParseErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("Missing or invalid tag")]
    InvalidTag,
    #[error("Unknown command")]
    UnknownCommand,
    #[error("Syntax error: {0}")]
    Syntax(&'static str),
    #[error("{0}")]
    InvalidMailboxName(Mutf7Error),
    #[error("Too deeply nested")]
    TooDeep,
    #[error("Too many parameters")]
    TooManyParams,
    #[error("Invalid base64")]
    InvalidBase64,
    #[error("Unsupported character set")]
    BadCharset,
}

/// Parses one framed command.
pub fn parse_command(input: &[u8], limits: &ParseLimits) -> Result<Command, ParseError> {
    let _ = (input, limits);
    todo!("parser helper")
}

/// A client line during an AUTHENTICATE exchange (RFC 3501 §6.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthLine {
    /// `*`: the client cancels the exchange.
    Cancel,
    /// The base64-decoded response (empty line = empty response).
    Data(Secret<Vec<u8>>),
}

/// Parses one AUTHENTICATE continuation line (CRLF already stripped).
pub fn parse_auth_line(line: &[u8]) -> Result<AuthLine, ParseErrorKind> {
    let _ = line;
    todo!("parser helper")
}
