//! The login throttle and its `login_failures` table: at most [`MAX_FAILURES`] attempts per
//! (username, client address) in a fixed window of [`FAILURE_WINDOW_MS`].

use crate::ports::{Database, Statement, StoreError};

/// Attempts allowed per (username, client address) within one window.
pub const MAX_FAILURES: i64 = 10;
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// The attempts counted in the current window, this one included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    pub count: i64,
    pub window_start: i64,
}

impl Attempts {
    /// `Some(seconds until the window ends)` when this attempt is over the limit.
    pub fn retry_after_secs(&self, now: i64) -> Option<i64> {
        (self.count > MAX_FAILURES).then(|| {
            let remaining_ms = self.window_start + FAILURE_WINDOW_MS - now;
            ((remaining_ms + 999) / 1000).max(1)
        })
    }
}

/// Counts one attempt, atomically, and returns the attempts in the current window. Called before
/// the password is checked, so a burst of parallel attempts is counted in full before any of them
/// is let through.
pub async fn count_attempt(
    db: &impl Database,
    username: &str,
    client: &str,
    now: i64,
) -> Result<Attempts, StoreError> {
    #[derive(serde::Deserialize)]
    struct Row {
        failures: i64,
        window_start: i64,
    }
    let stale_before = now - FAILURE_WINDOW_MS;
    let row: Option<Row> = super::first(
        db,
        Statement::new(
            "INSERT INTO login_failures (username, client, failures, window_start) VALUES (?, ?, 1, ?) \
             ON CONFLICT (username, client) DO UPDATE SET \
               failures = CASE WHEN window_start <= ? THEN 1 ELSE failures + 1 END, \
               window_start = CASE WHEN window_start <= ? THEN excluded.window_start ELSE window_start END \
             RETURNING failures, window_start",
        )
        .bind(username)
        .bind(client)
        .bind(now)
        .bind(stale_before)
        .bind(stale_before),
    )
    .await?;
    let row = row.ok_or_else(|| StoreError::new("login_failures upsert returned no row"))?;
    Ok(Attempts {
        count: row.failures,
        window_start: row.window_start,
    })
}

/// Forgets the attempts of (username, client) after a successful login.
pub async fn clear(db: &impl Database, username: &str, client: &str) -> Result<(), StoreError> {
    db.execute(
        Statement::new("DELETE FROM login_failures WHERE username = ? AND client = ?")
            .bind(username)
            .bind(client),
    )
    .await?;
    Ok(())
}

/// The statement that forgets every attempt on `username` once user `user_id` is gone: the
/// user's delete runs it in the same batch, after the row, so a refused delete forgets nothing.
pub fn forget_deleted_user(username: &str, user_id: i64) -> Statement {
    Statement::new(
        "DELETE FROM login_failures WHERE username = ? \
         AND NOT EXISTS (SELECT 1 FROM users WHERE id = ?)",
    )
    .bind(username)
    .bind(user_id)
}

/// Removes rows whose window has passed; the cron calls it.
pub async fn sweep(db: &impl Database, now: i64) -> Result<u64, StoreError> {
    db.execute(
        Statement::new("DELETE FROM login_failures WHERE window_start <= ?")
            .bind(now - FAILURE_WINDOW_MS),
    )
    .await
}
