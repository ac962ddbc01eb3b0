//! Password hashing: argon2id, stored as PHC strings.
//!
//! Hashing and verifying are deliberately slow (tens of milliseconds of CPU
//! and ~19 MiB of memory each), so callers in async code must run them on a
//! blocking pool; `Authenticator::verify` does.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("cannot hash the password: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("the stored password hash cannot be used: {0}")]
    BadStoredHash(argon2::password_hash::Error),
}

/// The parameters every new hash gets: argon2id, version 0x13, and the
/// crate's defaults (m = 19 MiB, t = 2, p = 1), which are OWASP's
/// recommended minimum. They are recorded in each PHC string, so raising them
/// later leaves existing hashes verifiable.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Hashes `password` with a fresh random salt; returns the PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
pub fn hash_password(password: &[u8]) -> Result<String, PasswordError> {
    let hash = hasher()
        .hash_password(password)
        .map_err(PasswordError::Hash)?;
    Ok(hash.to_string())
}

/// Checks `password` against a PHC string made by `hash_password` (or with
/// other argon2 parameters: they are read from the string). `Ok(false)` is a
/// wrong password; `Err` is a hash that cannot be checked at all.
pub fn verify_password(password: &[u8], phc: &str) -> Result<bool, PasswordError> {
    match hasher().verify_password(password, phc) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(PasswordError::BadStoredHash(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash_password(b"correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password(b"correct horse", &phc).expect("verify"));
        assert!(!verify_password(b"correct horsE", &phc).expect("verify"));
        assert!(!verify_password(b"", &phc).expect("verify"));
    }

    #[test]
    fn salts_differ() {
        let a = hash_password(b"same").expect("hash");
        let b = hash_password(b"same").expect("hash");
        assert_ne!(a, b);
    }

    #[test]
    fn non_utf8_passwords_work() {
        let phc = hash_password(b"\xff\xfe\x00pw").expect("hash");
        assert!(verify_password(b"\xff\xfe\x00pw", &phc).expect("verify"));
    }

    #[test]
    fn garbage_hash_is_an_error() {
        assert!(verify_password(b"x", "not a hash").is_err());
        assert!(verify_password(b"x", "$md5$abc").is_err());
    }
}
