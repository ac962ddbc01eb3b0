//! The random secrets the admin side hands out (API tokens, the setup
//! token, session ids, CSRF tokens) and the digests they are kept as.
//!
//! Each is 32 bytes from the operating system's generator, written in
//! base64url; only its SHA-256 is stored, so a copy of the store does not
//! open the panel. A fast digest is enough: the secret is random, not a
//! password, so there is nothing to guess from the digest.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// The prefix of an API token: it makes a leaked token easy to recognise
/// (and to scan for) in logs and repositories.
pub const TOKEN_PREFIX: &str = "roost_";

/// 32 random bytes in base64url (43 characters).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API token.
pub fn new_api_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_secret())
}

/// What is stored in place of a secret.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_prefixed() {
        let a = new_api_token();
        let b = new_api_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
    }

    #[test]
    fn digest_is_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(digest("abc")[..4], [0xba, 0x78, 0x16, 0xbf],);
    }
}
