//! Modified UTF-7 mailbox names (RFC 3501 §5.1.3), both ways.

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid modified UTF-7 mailbox name: {0}")]
pub struct Mutf7Error(pub &'static str);

/// Encodes a UTF-8 name to modified UTF-7.
pub fn encode(name: &str) -> String {
    todo!("codec helper: {name}")
}

/// Decodes modified UTF-7 to UTF-8. Rejects non-canonical forms (printable
/// ASCII inside a shifted run, an unterminated `&`, bad base64, ill-formed
/// UTF-16, non-ASCII bytes).
pub fn decode(name: &[u8]) -> Result<String, Mutf7Error> {
    let _ = name;
    todo!("codec helper")
}
