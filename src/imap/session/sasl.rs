//! The SASL PLAIN message (RFC 4616 §2):
//! `message = [authzid] UTF8NUL authcid UTF8NUL passwd`.

use crate::imap::proto::types::Secret;

/// A decoded PLAIN message.
#[derive(Debug, PartialEq, Eq)]
pub struct PlainMessage {
    /// Empty when the client asks to act as itself.
    pub authzid: Vec<u8>,
    pub authcid: Vec<u8>,
    pub password: Secret<Vec<u8>>,
}

/// Why a PLAIN message is malformed.
#[derive(Debug, PartialEq, Eq)]
pub struct MalformedPlain;

/// Splits a PLAIN message into its three parts. Exactly two NULs, and a
/// non-empty authcid and password, or it is malformed.
pub fn decode_plain(msg: &[u8]) -> Result<PlainMessage, MalformedPlain> {
    let mut parts = msg.splitn(3, |&b| b == 0);
    let authzid = parts.next().ok_or(MalformedPlain)?;
    let authcid = parts.next().ok_or(MalformedPlain)?;
    let password = parts.next().ok_or(MalformedPlain)?;
    if authcid.is_empty() || password.is_empty() || password.contains(&0) {
        return Err(MalformedPlain);
    }
    Ok(PlainMessage {
        authzid: authzid.to_vec(),
        authcid: authcid.to_vec(),
        password: Secret(password.to_vec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4616_examples() {
        let m = decode_plain(b"\0tim\0tanstaaftanstaaf").expect("valid");
        assert_eq!(m.authzid, b"");
        assert_eq!(m.authcid, b"tim");
        assert_eq!(m.password.expose(), b"tanstaaftanstaaf");
        let m = decode_plain(b"Ursel\0Kurt\0xipj3plmq").expect("valid");
        assert_eq!(m.authzid, b"Ursel");
        assert_eq!(m.authcid, b"Kurt");
    }

    #[test]
    fn malformed() {
        for bad in [
            &b""[..],
            b"\0",
            b"\0\0",
            b"a\0b",
            b"\0\0pw",
            b"\0u\0",
            b"\0u\0p\0q",
        ] {
            assert_eq!(decode_plain(bad), Err(MalformedPlain), "{bad:?}");
        }
    }
}
