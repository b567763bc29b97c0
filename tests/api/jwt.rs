//! JWTs signed by hand with the run's secret (`STORAGETIERS_JWT_SECRET`), so the tests can forge
//! tokens without trusting the code they test, and without logging in first.

use crate::client::{env, unique};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[derive(Clone, Copy)]
pub enum Algorithm {
    HS256,
    HS512,
}

/// A JWT with the given claims, signed by hand (so the test does not trust the code it tests).
pub fn signed(claims: &Value, algorithm: Algorithm, secret: &str) -> String {
    let name = match algorithm {
        Algorithm::HS256 => "HS256",
        Algorithm::HS512 => "HS512",
    };
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": name, "typ": "JWT"}).to_string());
    let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let tag = match algorithm {
        Algorithm::HS256 => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Algorithm::HS512 => {
            let mut mac = Hmac::<sha2::Sha512>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    };
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// The claims the server puts in its tokens: `token_type` is "access" or "refresh".
pub fn claims(token_type: &str, user_id: i64, exp: i64) -> Value {
    json!({"token_type": token_type, "user_id": user_id, "exp": exp, "iat": now() - 10, "jti": unique("jti")})
}

/// A valid HS256 token of the given type for `user_id`, ten minutes from expiry.
pub fn minted(token_type: &str, user_id: i64) -> String {
    signed(
        &claims(token_type, user_id, now() + 600),
        Algorithm::HS256,
        &env("STORAGETIERS_JWT_SECRET"),
    )
}

pub fn user_id_of(access: &str) -> i64 {
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["user_id"].as_i64().unwrap()
}
