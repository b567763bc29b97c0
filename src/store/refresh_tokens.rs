//! The `used_refresh_tokens` table: refresh tokens rotate, so each jti may be exchanged once.

use crate::ports::{Database, Statement, StoreError};

/// Marks a refresh token as used. `Ok(false)` when it already was (a replay).
pub async fn use_once(
    db: &impl Database,
    jti: &str,
    expires_at_ms: i64,
) -> Result<bool, StoreError> {
    let inserted = db
        .execute(
            Statement::new(
                "INSERT INTO used_refresh_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(expires_at_ms),
        )
        .await?;
    Ok(inserted > 0)
}

/// Forgets used tokens that have expired anyway; the cron calls it.
pub async fn sweep(db: &impl Database, now: i64) -> Result<u64, StoreError> {
    db.execute(Statement::new("DELETE FROM used_refresh_tokens WHERE expires_at <= ?").bind(now))
        .await
}
