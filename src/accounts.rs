//! Token endpoints (`/api/token/`, `/api/token/refresh/`) and the throttle on failed logins.

use crate::app::{json_object, App, Platform};
use crate::error::{ApiError, FieldErrors, REQUIRED};
use crate::http::{Request, Response};
use crate::passwords;
use crate::ports::{Database, Statement};
use crate::tokens::{self, TokenType};
use crate::users;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Failed logins allowed per (username, client address) within one window.
pub const MAX_FAILURES: i64 = 10;
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;

impl<P: Platform> App<P> {
    /// `POST /api/token/`: `{"username","password"}` -> `{"access","refresh"}`.
    pub(crate) async fn obtain_tokens(&self, req: &Request) -> Result<Response, ApiError> {
        let body = json_object(req)?;
        let mut errors = FieldErrors::new();
        let username = required_string(&body, "username", &mut errors);
        let password = required_string(&body, "password", &mut errors);
        errors.into_result()?;
        let (username, password) = (username.unwrap_or_default(), password.unwrap_or_default());
        let client = req.header("cf-connecting-ip").unwrap_or("unknown");
        let now = self.now_ms();
        check_throttle(&self.db, &username, client, now).await?;

        let user = users::find_by_username(&self.db, &username).await?;
        // Verify against a dummy hash for unknown users, so timing does not reveal which exist.
        let hash = user
            .as_ref()
            .map_or(passwords::DUMMY_HASH, |u| u.password_hash.as_str());
        let matches = passwords::verify(&self.kdf, &password, hash).await?;
        let Some(user) = user.filter(|_| matches) else {
            record_failure(&self.db, &username, client, now).await?;
            return Err(ApiError::Unauthorized(
                "No active account found with the given credentials",
            ));
        };
        clear_failures(&self.db, &username, client).await?;
        Ok(Response::json(
            200,
            &json!({
                "access": tokens::issue(&self.config, TokenType::Access, user.id, now),
                "refresh": tokens::issue(&self.config, TokenType::Refresh, user.id, now),
            }),
        ))
    }

    /// `POST /api/token/refresh/`: `{"refresh"}` -> `{"access"}`.
    pub(crate) async fn refresh_token(&self, req: &Request) -> Result<Response, ApiError> {
        let body = json_object(req)?;
        let mut errors = FieldErrors::new();
        let refresh = required_string(&body, "refresh", &mut errors);
        errors.into_result()?;
        let refresh = refresh.unwrap_or_default();
        let now = self.now_ms();
        let claims = tokens::verify(&self.config, &refresh, TokenType::Refresh, now)?;
        if users::find_by_id(&self.db, claims.user_id).await?.is_none() {
            return Err(ApiError::Unauthorized("User not found."));
        }
        Ok(Response::json(
            200,
            &json!({"access": tokens::issue(&self.config, TokenType::Access, claims.user_id, now)}),
        ))
    }
}

/// The non-empty string `field` of `body`, or its error added to `errors`.
fn required_string(
    body: &Map<String, Value>,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<String> {
    match body.get(field) {
        Some(Value::String(s)) if !s.is_empty() => return Some(s.clone()),
        Some(Value::String(_)) => errors.add(field, "This field may not be blank."),
        Some(_) => errors.add(field, "Not a valid string."),
        None => errors.add(field, REQUIRED),
    }
    None
}

#[derive(Deserialize)]
struct FailureRow {
    failures: i64,
    window_start: i64,
}

/// 429 while (username, client) has used up its failures in the current window.
async fn check_throttle(
    db: &impl Database,
    username: &str,
    client: &str,
    now: i64,
) -> Result<(), ApiError> {
    let rows: Vec<FailureRow> = db
        .query(
            Statement::new("SELECT failures, window_start FROM login_failures WHERE username = ? AND client = ?")
                .bind(username)
                .bind(client),
        )
        .await?;
    match rows.first() {
        Some(row) if row.failures >= MAX_FAILURES && row.window_start + FAILURE_WINDOW_MS > now => {
            let remaining_ms = row.window_start + FAILURE_WINDOW_MS - now;
            Err(ApiError::TooManyRequests {
                retry_after_secs: (remaining_ms + 999) / 1000,
            })
        }
        _ => Ok(()),
    }
}

async fn record_failure(
    db: &impl Database,
    username: &str,
    client: &str,
    now: i64,
) -> Result<(), ApiError> {
    let stale_before = now - FAILURE_WINDOW_MS;
    // One statement, so concurrent failures all count.
    let statement = Statement::new(
        "INSERT INTO login_failures (username, client, failures, window_start) VALUES (?, ?, 1, ?) \
         ON CONFLICT (username, client) DO UPDATE SET \
           failures = CASE WHEN window_start <= ? THEN 1 ELSE failures + 1 END, \
           window_start = CASE WHEN window_start <= ? THEN excluded.window_start ELSE window_start END",
    )
    .bind(username)
    .bind(client)
    .bind(now)
    .bind(stale_before)
    .bind(stale_before);
    db.execute(statement).await?;
    Ok(())
}

async fn clear_failures(db: &impl Database, username: &str, client: &str) -> Result<(), ApiError> {
    db.execute(
        Statement::new("DELETE FROM login_failures WHERE username = ? AND client = ?")
            .bind(username)
            .bind(client),
    )
    .await?;
    Ok(())
}

/// Removes throttle rows whose window has passed; called by the cron.
pub async fn sweep_failures(db: &impl Database, now: i64) -> Result<u64, ApiError> {
    Ok(db
        .execute(
            Statement::new("DELETE FROM login_failures WHERE window_start <= ?")
                .bind(now - FAILURE_WINDOW_MS),
        )
        .await?)
}
