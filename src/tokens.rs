//! JWT access and refresh tokens (HS256), with the claims of djangorestframework-simplejwt.
//! Expiry is checked against the injected clock, not the library's, so it is testable.

use crate::config::Config;
use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// HS256 and nothing else: every other algorithm fails to sign or verify.
static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: |algorithm, key| match algorithm {
        Algorithm::HS256 => Ok(Box::new(Hs256(hmac_key(key.try_get_hmac_secret()?)?))),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    },
    verifier_factory: |algorithm, key| match algorithm {
        Algorithm::HS256 => Ok(Box::new(Hs256(hmac_key(key.try_get_hmac_secret()?)?))),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    },
    jwk_utils: JwkUtils::new_unimplemented(),
};

fn hmac_key(secret: &[u8]) -> JwtResult<HmacSha256> {
    use hmac::Mac;
    HmacSha256::new_from_slice(secret).map_err(|_| ErrorKind::InvalidKeyFormat.into())
}

struct Hs256(HmacSha256);

impl signature::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        use hmac::Mac;
        let mut mac = self.0.clone();
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl signature::Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> Result<(), signature::Error> {
        use hmac::Mac;
        let mut mac = self.0.clone();
        mac.update(message);
        // verify_slice compares in constant time.
        mac.verify_slice(tag).map_err(signature::Error::from_source)
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn install_provider() {
    // Installing twice (another test thread won the race) is fine: it is the same provider.
    let _ = HS256_ONLY.install_default();
}

/// Why a token was not issued or not accepted; the routes answer each refusal with a 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no credentials")]
    NoCredentials,
    #[error("malformed Authorization header")]
    BadHeader,
    /// A bad signature, another algorithm, or not a JWT at all.
    #[error("invalid token")]
    Invalid,
    #[error("token of the other type")]
    WrongType,
    #[error("expired token")]
    Expired,
    /// Signing failed: a server fault, not the client's.
    #[error("signing a token: {0}")]
    Signing(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub user_id: i64,
    /// Seconds since the Unix epoch.
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The user's token generation when issued: a password or username change raises it, and
    /// older tokens stop working. Absent in tokens from before generations existed (0).
    #[serde(default)]
    pub generation: i64,
}

/// A signed token for `user_id` under its token `generation`.
pub fn issue(
    config: &Config,
    token_type: TokenType,
    user_id: i64,
    generation: i64,
    now_ms: i64,
) -> Result<String, TokenError> {
    install_provider();
    let iat = now_ms.div_euclid(1000);
    let lifetime = match token_type {
        TokenType::Access => config.access_token_secs,
        TokenType::Refresh => config.refresh_token_secs,
    };
    let claims = Claims {
        token_type,
        user_id,
        exp: iat + lifetime,
        iat,
        jti: uuid::Uuid::new_v4().simple().to_string(),
        generation,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(config.jwt_secret.expose()),
    )
    .map_err(|e| TokenError::Signing(e.to_string()))
}

/// Verifies signature (HS256 only: `none` and every other `alg` are refused), type and expiry.
pub fn verify(
    config: &Config,
    token: &str,
    expected: TokenType,
    now_ms: i64,
) -> Result<Claims, TokenError> {
    // Verification may be the first thing a new isolate does: it must not rely on `issue` having
    // installed the provider before.
    install_provider();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let key = DecodingKey::from_secret(config.jwt_secret.expose());
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|_| TokenError::Invalid)?
        .claims;
    if claims.token_type != expected {
        return Err(TokenError::WrongType);
    }
    if now_ms.div_euclid(1000) >= claims.exp {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(header: Option<&str>) -> Result<&str, TokenError> {
    let header = header.ok_or(TokenError::NoCredentials)?;
    let (scheme, token) = header.trim().split_once(' ').ok_or(TokenError::BadHeader)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(TokenError::BadHeader);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

    const NOW: i64 = 1_800_000_000_000;

    fn config() -> Config {
        Config::for_tests()
    }

    #[test]
    fn an_access_token_verifies_as_access_until_it_expires() {
        let token = issue(&config(), TokenType::Access, 7, 0, NOW).unwrap();
        let claims = verify(&config(), &token, TokenType::Access, NOW).unwrap();
        assert_eq!((claims.user_id, claims.exp - claims.iat), (7, 20 * 60));
        let at_expiry = NOW + 20 * 60 * 1000;
        assert!(verify(&config(), &token, TokenType::Access, at_expiry - 1000).is_ok());
        assert!(matches!(
            verify(&config(), &token, TokenType::Access, at_expiry),
            Err(TokenError::Expired)
        ));
    }

    #[test]
    fn tokens_of_one_type_are_refused_as_the_other() {
        let access = issue(&config(), TokenType::Access, 1, 0, NOW).unwrap();
        let refresh = issue(&config(), TokenType::Refresh, 1, 0, NOW).unwrap();
        assert!(verify(&config(), &access, TokenType::Refresh, NOW).is_err());
        assert!(verify(&config(), &refresh, TokenType::Access, NOW).is_err());
        assert!(verify(&config(), &refresh, TokenType::Refresh, NOW).is_ok());
    }

    #[test]
    fn every_token_has_its_own_jti() {
        let a = verify(
            &config(),
            &issue(&config(), TokenType::Access, 1, 0, NOW).unwrap(),
            TokenType::Access,
            NOW,
        )
        .unwrap();
        let b = verify(
            &config(),
            &issue(&config(), TokenType::Access, 1, 0, NOW).unwrap(),
            TokenType::Access,
            NOW,
        )
        .unwrap();
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let other = Config::from_lookup(
            |_| None,
            Some("another-secret-which-is-also-long-enough".into()),
        )
        .unwrap();
        let token = issue(&other, TokenType::Access, 1, 0, NOW).unwrap();
        assert!(verify(&config(), &token, TokenType::Access, NOW).is_err());
    }

    fn forge(header: &str, claims: &Claims, signature: &str) -> String {
        let claims = serde_json::to_vec(claims).unwrap();
        format!(
            "{}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let token = issue(&config(), TokenType::Access, 1, 0, NOW).unwrap();
        let claims = verify(&config(), &token, TokenType::Access, NOW).unwrap();
        let signature = token.rsplit('.').next().unwrap();
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"RS256","typ":"JWT"}"#,
        ] {
            assert!(
                verify(
                    &config(),
                    &forge(header, &claims, ""),
                    TokenType::Access,
                    NOW
                )
                .is_err(),
                "{header}"
            );
            assert!(
                verify(
                    &config(),
                    &forge(header, &claims, signature),
                    TokenType::Access,
                    NOW
                )
                .is_err(),
                "{header}"
            );
        }
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let token = issue(&config(), TokenType::Access, 1, 0, NOW).unwrap();
        let mut claims = verify(&config(), &token, TokenType::Access, NOW).unwrap();
        claims.user_id = 2;
        let signature = token.rsplit('.').next().unwrap();
        let forged = forge(r#"{"alg":"HS256","typ":"JWT"}"#, &claims, signature);
        assert!(verify(&config(), &forged, TokenType::Access, NOW).is_err());
    }

    #[test]
    fn the_bearer_header_must_be_well_formed() {
        assert_eq!(bearer(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer(Some("bearer abc")).unwrap(), "abc");
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Basic abc"),
            Some("Token abc"),
            Some("Bearer a b"),
        ] {
            assert!(bearer(bad).is_err(), "{bad:?}");
        }
    }
}
