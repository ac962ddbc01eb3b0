//! Password hashing: argon2id, stored as PHC strings.
//!
//! Hashing and verifying are deliberately slow (tens of milliseconds of CPU
//! and ~19 MiB of memory each), so callers in async code must run them on a
//! blocking pool; `Authenticator::verify` does.

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("cannot hash the password: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("the stored password hash cannot be used: {0}")]
    BadStoredHash(String),
    #[error("cannot start the password hashing threads: {0}")]
    Threads(String),
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
    let bad = |e: &dyn std::fmt::Display| PasswordError::BadStoredHash(e.to_string());
    let hash = PasswordHash::new(phc).map_err(|e| bad(&e))?;
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(bad(&"no salt or no hash"));
    };
    let algorithm = Algorithm::try_from(hash.algorithm.as_str()).map_err(|e| bad(&e))?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).map_err(|e| bad(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(&hash).map_err(|e| bad(&e))?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    // The working memory (m KiB) is this thread's, kept from one check to
    // the next: allocating 19 MiB per login leaves the allocator holding
    // many such regions after a burst of logins.
    BLOCKS.with_borrow_mut(|blocks| {
        let need = params.block_count();
        if blocks.len() < need {
            blocks.resize(need, Block::default());
        }
        argon2
            .hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..need])
            .map_err(|e| bad(&e))
    })?;
    // Constant time: how many leading bytes match must not show in timing.
    let diff = out
        .iter()
        .zip(expected.as_bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    Ok(diff == 0 && out.len() == expected.len())
}

thread_local! {
    /// argon2 working memory of this thread (see `verify_password`).
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_hashes_made_with_other_parameters() {
        // A hash from another cost setting (older or raised parameters)
        // keeps verifying: the parameters come from the PHC string.
        let params = Params::new(8192, 1, 2, Some(32)).expect("params");
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_with_salt(b"s3cret", b"saltsaltsaltsalt")
            .expect("hash")
            .to_string();
        assert!(phc.contains("m=8192,t=1,p=2"), "{phc}");
        assert!(verify_password(b"s3cret", &phc).expect("verify"));
        assert!(!verify_password(b"s3creT", &phc).expect("verify"));
        // And the default-size buffer this thread now holds serves a
        // smaller hash again.
        let default = hash_password(b"x").expect("hash");
        assert!(verify_password(b"x", &default).expect("verify"));
        assert!(verify_password(b"s3cret", &phc).expect("verify"));
    }

    #[test]
    fn malformed_stored_hashes_are_errors_not_mismatches() {
        for bad in ["", "plain", "$argon2id$v=19$m=19456,t=2,p=1$", "$md5$x$y"] {
            assert!(verify_password(b"x", bad).is_err(), "{bad}");
        }
    }

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
