//! Token and session endpoints (`/api/token/`, `/api/token/refresh/`, `/api/session/`) with the
//! login throttle, and `/api/me/`.

use super::auth::{self, Caller, SESSION_COOKIE};
use super::json::{non_blank, tier_json};
use super::App;
use crate::domain::users::Username;
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::passwords;
use crate::ports::Platform;
use crate::store;
use crate::tokens::{self, TokenType};
use serde_json::json;

const WRONG_CREDENTIALS: &str = "No active account found with the given credentials";

impl<P: Platform> App<P> {
    /// `POST /api/token/` and `POST /api/session/`: `{"username","password"}` ->
    /// `{"access","refresh"}`; the session variant also sets the web app's cookie.
    pub(crate) async fn obtain_tokens(
        &self,
        req: &Request<P::Incoming>,
        session: bool,
    ) -> Result<Response, ApiError> {
        let (username, password) = self
            .read_json(req, |mut f| {
                let username = f.required("username", non_blank);
                let password = f.required("password", non_blank);
                f.finish(|| Some((username?, password?)))
            })
            .await?;
        // A name no account can have is refused before anything is stored or hashed.
        let username =
            Username::parse(&username).map_err(|_| ApiError::Unauthorized(WRONG_CREDENTIALS))?;
        let client = req.header("cf-connecting-ip").unwrap_or("unknown");
        let now = self.now_ms();
        // Counted before the password is checked, atomically, so a burst of parallel attempts
        // gets no more than the limit checked.
        let attempts =
            store::login_failures::count_attempt(&self.db, username.as_str(), client, now).await?;
        if let Some(retry_after_secs) = attempts.retry_after_secs(now) {
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }

        let user = store::users::find_by_username(&self.db, username.as_str()).await?;
        // Verify against a dummy hash for unknown users, so timing does not reveal which exist.
        let hash = user
            .as_ref()
            .map_or(passwords::DUMMY_HASH, |u| u.password_hash.as_str());
        let matches = passwords::verify(&self.kdf, &password, hash).await?;
        let Some(user) = user.filter(|_| matches) else {
            return Err(ApiError::Unauthorized(WRONG_CREDENTIALS));
        };
        store::login_failures::clear(&self.db, username.as_str(), client).await?;
        self.token_pair(user.id, user.token_generation, now, session)
    }

    /// `POST /api/token/refresh/` and `POST /api/session/refresh/`: `{"refresh"}` ->
    /// `{"access","refresh"}`. Refresh tokens rotate: each one is exchanged once.
    pub(crate) async fn refresh_tokens(
        &self,
        req: &Request<P::Incoming>,
        session: bool,
    ) -> Result<Response, ApiError> {
        let refresh = self
            .read_json(req, |mut f| {
                let refresh = f.required("refresh", non_blank);
                f.finish(|| refresh)
            })
            .await?;
        let now = self.now_ms();
        let claims = tokens::verify(&self.config, &refresh, TokenType::Refresh, now)?;
        let user = store::users::find_by_id(&self.db, claims.user_id)
            .await?
            .ok_or(ApiError::Unauthorized("User not found."))?;
        auth::current(&user, claims.generation)?;
        if !store::refresh_tokens::use_once(&self.db, &claims.jti, claims.exp * 1000).await? {
            return Err(ApiError::Unauthorized("Token is blacklisted."));
        }
        self.token_pair(user.id, user.token_generation, now, session)
    }

    /// `DELETE /api/session/`: clears the session cookie.
    pub(crate) fn end_session(&self) -> Result<Response, ApiError> {
        Ok(Response::no_content().with_header("set-cookie", &session_cookie("", 0)))
    }

    /// `GET /api/me/`: the caller, their tier and whether they are an admin.
    pub(crate) fn me(&self, caller: &Caller) -> Result<Response, ApiError> {
        Ok(Response::json(
            200,
            &json!({
                "username": caller.username,
                "is_admin": caller.is_admin,
                "tier": tier_json(&caller.tier),
            }),
        ))
    }

    fn token_pair(
        &self,
        user_id: i64,
        generation: i64,
        now: i64,
        session: bool,
    ) -> Result<Response, ApiError> {
        crate::observability::note_user(user_id);
        let access = tokens::issue(&self.config, TokenType::Access, user_id, generation, now)?;
        let refresh = tokens::issue(&self.config, TokenType::Refresh, user_id, generation, now)?;
        let response = Response::json(200, &json!({"access": access, "refresh": refresh}));
        Ok(if session {
            response.with_header(
                "set-cookie",
                &session_cookie(&access, self.config.access_token_secs),
            )
        } else {
            response
        })
    }
}

/// The session cookie: script-proof, HTTPS-only, never sent by another site, API paths only.
fn session_cookie(token: &str, max_age_secs: i64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/api/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_secs}"
    )
}
