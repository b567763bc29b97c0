//! A fresh process verifies a token before it has issued one: what a new isolate does when its
//! first request carries a token. Its own test binary, so no other test can warm it up.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::Mac;
use storagetiers::config::Config;
use storagetiers::tokens::{self, TokenType};

const SECRET: &str = "cold-start-secret-that-is-long-enough-0123";
const NOW_MS: i64 = 1_800_000_000_000;

/// An HS256 token signed here, without the library, as another isolate would have issued it.
fn signed(claims: &str, secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

fn claims(token_type: &str) -> String {
    let iat = NOW_MS / 1000;
    format!(
        r#"{{"token_type":"{token_type}","user_id":7,"exp":{},"iat":{iat},"jti":"abc","generation":0}}"#,
        iat + 600
    )
}

#[test]
fn the_first_thing_a_fresh_process_does_is_verify_tokens_without_panicking() {
    let config = Config::from_lookup(|_| None, Some(SECRET.into())).unwrap();
    // Nothing has issued a token in this process: verification must stand on its own.
    let valid = signed(&claims("access"), SECRET);
    let claims_seen = tokens::verify(&config, &valid, TokenType::Access, NOW_MS).unwrap();
    assert_eq!(claims_seen.user_id, 7);
    let forged = signed(&claims("access"), "another-secret-that-is-long-enough-000");
    assert!(tokens::verify(&config, &forged, TokenType::Access, NOW_MS).is_err());
    let refresh = signed(&claims("refresh"), SECRET);
    assert!(tokens::verify(&config, &refresh, TokenType::Access, NOW_MS).is_err());
}
