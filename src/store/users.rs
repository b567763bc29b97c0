//! The `users` table.

use super::tiers::{TierRow, TIER_COLUMNS};
use super::{Database, Statement, StoreError};
use crate::domain::users::User;
use serde::Deserialize;

#[derive(Deserialize)]
struct UserRow {
    id: i64,
    username: String,
    password_hash: String,
    is_admin: i64,
    token_generation: i64,
    #[serde(flatten)]
    tier: TierRow,
}

impl UserRow {
    fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            id: self.id,
            username: self.username,
            password_hash: self.password_hash,
            is_admin: self.is_admin != 0,
            token_generation: self.token_generation,
            tier: self.tier.into_tier()?,
        })
    }
}

fn select(filter: &str) -> String {
    format!(
        "SELECT u.id, u.username, u.password_hash, u.is_admin, u.token_generation, {TIER_COLUMNS} \
         FROM users u JOIN tiers t ON t.id = u.tier_id {filter}"
    )
}

async fn find_one(db: &impl Database, statement: Statement) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = super::first(db, statement).await?;
    row.map(UserRow::into_user).transpose()
}

pub async fn find_by_id(db: &impl Database, id: i64) -> Result<Option<User>, StoreError> {
    find_one(db, Statement::new(select("WHERE u.id = ?")).bind(id)).await
}

pub async fn find_by_username(
    db: &impl Database,
    username: &str,
) -> Result<Option<User>, StoreError> {
    find_one(
        db,
        Statement::new(select("WHERE u.username = ?")).bind(username),
    )
    .await
}

pub async fn list(db: &impl Database) -> Result<Vec<User>, StoreError> {
    let rows: Vec<UserRow> = db.query(Statement::new(select("ORDER BY u.id"))).await?;
    rows.into_iter().map(UserRow::into_user).collect()
}

/// Inserts a user; `Conflict` when the username is taken.
pub async fn insert(
    db: &impl Database,
    username: &str,
    password_hash: &str,
    tier_id: i64,
    is_admin: bool,
    now_ms: i64,
) -> Result<(), StoreError> {
    db.execute(
        Statement::new(
            "INSERT INTO users (username, password_hash, tier_id, is_admin, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(username)
        .bind(password_hash)
        .bind(tier_id)
        .bind(is_admin)
        .bind(now_ms),
    )
    .await?;
    Ok(())
}

/// The condition that keeps at least one admin: the row being changed is not an admin losing
/// the flag, or another admin exists. Part of each statement, so two admins demoting each other
/// at once cannot both succeed.
const KEEPS_AN_ADMIN: &str =
    "(is_admin = 0 OR EXISTS (SELECT 1 FROM users o WHERE o.is_admin = 1 AND o.id != users.id))";

/// Writes every field of `user` back. `Ok(false)` when it would remove the last admin;
/// `Conflict` when the new username is taken.
pub async fn save(db: &impl Database, user: &User) -> Result<bool, StoreError> {
    let guard = if user.is_admin { "1" } else { KEEPS_AN_ADMIN };
    let changed = db
        .execute(
            Statement::new(format!(
                "UPDATE users SET username = ?, password_hash = ?, tier_id = ?, is_admin = ?, \
                 token_generation = ? WHERE id = ? AND {guard}"
            ))
            .bind(user.username.as_str())
            .bind(user.password_hash.as_str())
            .bind(user.tier.id)
            .bind(user.is_admin)
            .bind(user.token_generation)
            .bind(user.id),
        )
        .await?;
    Ok(changed > 0)
}

/// Deletes a user with their pictures and links (the schema cascades) and their throttle rows,
/// in one transaction. `Ok(false)` when they are the last admin.
pub async fn delete(db: &impl Database, user: &User) -> Result<bool, StoreError> {
    let deleted = db
        .execute(
            Statement::new(format!(
                "DELETE FROM users WHERE id = ? AND {KEEPS_AN_ADMIN}"
            ))
            .bind(user.id),
        )
        .await?;
    if deleted == 0 {
        return Ok(false);
    }
    super::login_failures::clear_user(db, &user.username).await?;
    Ok(true)
}
