//! Password hashing: PBKDF2-HMAC-SHA256 in Django's `pbkdf2_sha256$iterations$salt$hash` format,
//! so hashes from the Django service this replaces keep working.

use crate::ports::{Kdf, KdfError};
use base64::{engine::general_purpose::STANDARD, Engine};
use subtle::ConstantTimeEq;

/// Why a password could not be hashed or checked: the runtime failed, never the password.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PasswordError {
    #[error("no randomness for a salt: {0}")]
    NoRandomness(String),
    #[error(transparent)]
    Kdf(#[from] KdfError),
}

/// Workers' WebCrypto refuses more PBKDF2 iterations than this.
pub const ITERATIONS: u32 = 100_000;
const ALGORITHM: &str = "pbkdf2_sha256";
const SALT_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A random 22-character alphanumeric salt (~131 bits), like Django's.
pub fn new_salt() -> Result<String, PasswordError> {
    let mut bytes = [0u8; 22];
    getrandom::getrandom(&mut bytes).map_err(|e| PasswordError::NoRandomness(e.to_string()))?;
    Ok(bytes
        .iter()
        .map(|b| SALT_ALPHABET[(*b as usize) % SALT_ALPHABET.len()] as char)
        .collect())
}

pub async fn hash(kdf: &impl Kdf, password: &str) -> Result<String, PasswordError> {
    let salt = new_salt()?;
    let key = kdf
        .pbkdf2_sha256(password.as_bytes(), salt.as_bytes(), ITERATIONS)
        .await?;
    Ok(format!(
        "{ALGORITHM}${ITERATIONS}${salt}${}",
        STANDARD.encode(key)
    ))
}

/// Whether `password` matches `encoded`. A malformed hash never matches.
pub async fn verify(kdf: &impl Kdf, password: &str, encoded: &str) -> Result<bool, PasswordError> {
    let mut parts = encoded.splitn(4, '$');
    let (Some(ALGORITHM), Some(iterations), Some(salt), Some(expected)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(false);
    };
    let (Ok(iterations), Ok(expected)) = (iterations.parse::<u32>(), STANDARD.decode(expected))
    else {
        return Ok(false);
    };
    if iterations == 0 {
        return Ok(false);
    }
    let key = kdf
        .pbkdf2_sha256(password.as_bytes(), salt.as_bytes(), iterations)
        .await?;
    Ok(key.ct_eq(expected.as_slice()).into())
}

/// A hash to verify against when the user does not exist, so that a login for an unknown
/// username costs the same time as one with a wrong password.
pub const DUMMY_HASH: &str =
    "pbkdf2_sha256$100000$dummysaltdummysalt00$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::RustKdf;
    use futures_executor::block_on;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let encoded = block_on(hash(&RustKdf, "correct horse")).unwrap();
        assert!(encoded.starts_with("pbkdf2_sha256$100000$"));
        assert!(block_on(verify(&RustKdf, "correct horse", &encoded)).unwrap());
        assert!(!block_on(verify(&RustKdf, "correct horsE", &encoded)).unwrap());
    }

    #[test]
    fn every_hash_has_its_own_salt() {
        let a = block_on(hash(&RustKdf, "same password")).unwrap();
        let b = block_on(hash(&RustKdf, "same password")).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_django_format_hash_verifies() {
        // Computed with Python's hashlib.pbkdf2_hmac, which is what Django's hasher calls
        // (iterations lowered for test speed).
        let encoded = "pbkdf2_sha256$1000$abcdefgh$j5nN7UUaW0mMEtg0iH75gtV8LWYZl5pN8gcrKQUIhQg=";
        assert!(block_on(verify(&RustKdf, "hunter22", encoded)).unwrap());
        assert!(!block_on(verify(&RustKdf, "hunter23", encoded)).unwrap());
    }

    #[test]
    fn malformed_hashes_never_match() {
        for encoded in [
            "",
            "md5$1$a$b",
            "pbkdf2_sha256$x$salt$AAAA",
            "pbkdf2_sha256$0$salt$AAAA",
            DUMMY_HASH,
        ] {
            assert!(
                !block_on(verify(&RustKdf, "anything", encoded)).unwrap(),
                "{encoded}"
            );
        }
    }
}
