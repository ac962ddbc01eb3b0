//! The command grammar (RFC 3501 §9, RFC 2971 ID, RFC 4959 SASL-IR,
//! RFC 7888 non-synchronizing literals), with nom 8.
//!
//! Input is one framed command (see `frame`): the command line with every
//! literal inline (`{n}\r\n` or `{n+}\r\n` followed by the n bytes) and the
//! final CRLF.
//!
//! The parsers are complete (never streaming): the framer has already found
//! the end of the command. Nothing here panics on any input, every list is
//! bounded by `ParseLimits::max_params`, and the only recursion (SEARCH keys)
//! is bounded by `ParseLimits::max_depth`, so a command cannot exhaust the
//! stack.
//!
//! One file per job: `core` (atoms, strings, literals, numbers, mailbox
//! names, flags, bounded lists), `sequence`, `datetime`, `fetch`, `search`,
//! `mailbox` (the commands that name mailboxes) and `command` (tag, command
//! name, dispatch, the remaining commands, final CRLF).

mod command;
mod core;
mod datetime;
mod fetch;
mod mailbox;
mod search;
mod sequence;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::mutf7::Mutf7Error;
use super::types::{Command, Secret, Tag};

pub use search::MAX_DEPTH_CAP;

/// Limits the grammar enforces, so that a hostile command costs bounded
/// work and memory.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Deepest nesting of SEARCH keys: each `(`, `NOT` and `OR` is one
    /// level. Values above `MAX_DEPTH_CAP` act as `MAX_DEPTH_CAP`.
    pub max_depth: usize,
    /// Most elements in one list: flags, FETCH attributes, header field
    /// names, sequence-set ranges, SEARCH keys in one list, ID pairs.
    pub max_params: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_depth: 32,
            max_params: 1000,
        }
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
    let Some((rest, tag)) = command::tag(input) else {
        return Err(ParseError {
            tag: None,
            kind: ParseErrorKind::InvalidTag,
        });
    };
    match command::command_body(rest, limits) {
        Ok((_, body)) => Ok(Command { tag, body }),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(ParseError {
            tag: Some(tag),
            kind: e.0,
        }),
        Err(nom::Err::Incomplete(_)) => Err(ParseError {
            tag: Some(tag),
            kind: ParseErrorKind::Syntax("incomplete command"),
        }),
    }
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
    if line == b"*" {
        return Ok(AuthLine::Cancel);
    }
    STANDARD
        .decode(line)
        .map(|data| AuthLine::Data(Secret(data)))
        .map_err(|_| ParseErrorKind::InvalidBase64)
}
