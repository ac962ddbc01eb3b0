//! The response encoder (RFC 3501 §7, §9), and a command encoder used by
//! tests and tools (client side).

use super::response::Response;
use super::types::Command;

/// Appends the wire form of `r`, CRLF included.
pub fn encode_response(out: &mut Vec<u8>, r: &Response) {
    let _ = (out, r);
    todo!("codec helper")
}

/// Appends the wire form of a command as a client would send it: strings as
/// atoms, quoted strings or synchronizing literals (`{n}\r\n` followed by the
/// bytes, with no wait), CRLF included.
pub fn encode_command(out: &mut Vec<u8>, c: &Command) {
    let _ = (out, c);
    todo!("codec helper")
}
