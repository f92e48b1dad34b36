//! Mosquitto's password hash, so `telegate device` writes a `password_file`
//! the broker reads as is, without `mosquitto_passwd` on the machine.
//!
//! Mosquitto 2.0 stores `user:$7$<iterations>$<salt>$<hash>`: PBKDF2 with
//! HMAC-SHA512, a 12-byte salt and a 64-byte hash, both standard base64
//! (mosquitto's `mosquitto_passwd.c` and `password_mosq.c`; 101 iterations
//! is what `mosquitto_passwd` writes). A test checks a line written by
//! Debian's `mosquitto_passwd` verifies here.

use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::DeviceError;

/// What `mosquitto_passwd` uses; Mosquitto reads any count from the line.
const ITERATIONS: u32 = 101;
const SALT_LEN: usize = 12;
const HASH_LEN: usize = 64;

/// Random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], DeviceError> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| DeviceError::Random)?;
    Ok(out)
}

/// A new password for a device: 24 characters of URL-safe base64 (144 bits),
/// easy to paste into a modem's AT command, no quoting needed.
pub fn generate_password() -> Result<String, DeviceError> {
    let bytes: [u8; 18] = random_bytes()?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// `$7$101$<salt>$<hash>` for `password`, with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, DeviceError> {
    let salt: [u8; SALT_LEN] = random_bytes()?;
    Ok(hash_with(password, &salt, ITERATIONS))
}

fn hash_with(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut hash = [0u8; HASH_LEN];
    let n = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA512, n, salt, password.as_bytes(), &mut hash);
    format!("$7${iterations}${}${}", STANDARD.encode(salt), STANDARD.encode(hash))
}

/// Whether `password` matches a `$7$` hash (constant time). Any other
/// format, or a damaged one, does not match.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(""), Some("7"), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(iterations), Ok(salt), Ok(hash)) = (
        iterations.parse::<NonZeroU32>(),
        STANDARD.decode(salt),
        STANDARD.decode(hash),
    ) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA512,
        iterations,
        &salt,
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

/// Whether `stored` looks like a hash Mosquitto 2.0 reads (`$7$` with the
/// right lengths); for validating an inventory.
pub fn is_mosquitto_hash(stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    matches!(parts.as_slice(), ["", "7", n, salt, hash]
        if n.parse::<NonZeroU32>().is_ok()
            && STANDARD.decode(salt).is_ok_and(|s| !s.is_empty())
            && STANDARD.decode(hash).is_ok_and(|h| h.len() == HASH_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by Debian's mosquitto_passwd 2.0.11: `mosquitto_passwd -b -c FILE dev1 secret`.
    const FROM_MOSQUITTO_PASSWD: &str = "$7$101$SCFzWZ5ewd3B8cel$Wm9tz8uCW4nd+jYf+E8X5B3fg6PsDas7P6Q0I3Wn9uTmetNnUt9IyaR/nkHWF/1ofyjfJNu/pHj4Fh84XeNpFQ==";

    #[test]
    fn verifies_a_hash_written_by_mosquitto_passwd() {
        assert!(is_mosquitto_hash(FROM_MOSQUITTO_PASSWD));
        assert!(verify_password("secret", FROM_MOSQUITTO_PASSWD));
        assert!(!verify_password("Secret", FROM_MOSQUITTO_PASSWD));
    }

    #[test]
    fn writes_the_same_format_mosquitto_writes() {
        let salt = STANDARD.decode("SCFzWZ5ewd3B8cel").unwrap();
        assert_eq!(hash_with("secret", &salt, 101), FROM_MOSQUITTO_PASSWD);
        let fresh = hash_password("secret").unwrap();
        assert!(is_mosquitto_hash(&fresh) && verify_password("secret", &fresh));
        assert_ne!(fresh, hash_password("secret").unwrap(), "fresh salt each time");
    }

    #[test]
    fn generated_passwords_are_long_and_need_no_quoting() {
        let p = generate_password().unwrap();
        assert_eq!(p.len(), 24);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(p, generate_password().unwrap());
    }

    #[test]
    fn damaged_hashes_never_match() {
        for bad in ["", "$6$abc$def", "$7$0$SCFz$Wm9t", "$7$101$!!$Wm9t", "plain"] {
            assert!(!verify_password("secret", bad), "{bad}");
            assert!(!is_mosquitto_hash(bad), "{bad}");
        }
    }
}
