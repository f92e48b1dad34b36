//! Argon2id password hashes in the PHC string format
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), the parameters
//! OWASP recommends for Argon2id (19 MiB, 2 passes, 1 lane): about 30 ms
//! per verification on one core of a small gateway, which is what makes a
//! stolen users file slow to attack. The parameters are read back from
//! each hash, so hashes written with other parameters keep verifying.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use ring::rand::{SecureRandom as _, SystemRandom};
use thiserror::Error;

/// Shortest password `telegate user add|passwd` accepts.
pub const MIN_LEN: usize = 10;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password is shorter than {MIN_LEN} characters")]
    TooShort,
    #[error("the system random generator failed")]
    Random,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], PasswordError> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| PasswordError::Random)?;
    Ok(out)
}

/// A fresh Argon2id hash of `password` (random 16-byte salt).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LEN {
        return Err(PasswordError::TooShort);
    }
    let salt_bytes: [u8; 16] = random_bytes()?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches `stored` (constant time in the hash
/// comparison). A damaged or foreign hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A valid hash of nothing anyone knows: verified against when the user
/// name is unknown, so a login for a name that does not exist takes as
/// long as one with a wrong password (no user enumeration by timing).
pub fn decoy() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$dGVsZWdhdGUtZGVjb3k$3b1q7TQpHb2wlCwHqjQhOqRbV7E2WZ1yj3pC1iC4c9E"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("lũ-về-Mường-Tè").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("lũ-về-Mường-Tè", &h));
        assert!(!verify("lũ-về-Mường-Te", &h));
        assert_ne!(h, hash("lũ-về-Mường-Tè").unwrap(), "salted");
    }

    #[test]
    fn short_passwords_and_damaged_hashes() {
        assert_eq!(hash("short"), Err(PasswordError::TooShort));
        assert!(!verify("x", "$7$101$abc$def"));
        assert!(!verify("x", ""));
        assert!(!verify("anything at all", decoy()));
        assert!(
            PasswordHash::new(decoy()).is_ok(),
            "the decoy parses, so it costs a real verification"
        );
    }
}
