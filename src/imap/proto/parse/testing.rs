//! What the grammar's unit tests share: a command's body, or its error.

use super::super::types::CommandBody;
use super::{ParseError, ParseLimits, parse_command};

/// The body of `input`, which must parse.
pub(super) fn body(input: &[u8]) -> CommandBody {
    match parse_command(input, &ParseLimits::default()) {
        Ok(c) => c.body,
        Err(e) => panic!("{:?}: {e:?}", String::from_utf8_lossy(input)),
    }
}

/// The error `input` gets, which must not parse.
pub(super) fn error(input: &[u8]) -> ParseError {
    match parse_command(input, &ParseLimits::default()) {
        Ok(c) => panic!("{:?} parsed as {c:?}", String::from_utf8_lossy(input)),
        Err(e) => e,
    }
}
