//! User accounts: the username rule, the user record with its tier, and its storage in D1.

use crate::error::{ApiError, FieldErrors};
use crate::ports::{Database, Statement};
use crate::tiers::{Tier, TierRow, TIER_COLUMNS};
use serde::Deserialize;

/// A username as Django allows it: 1..=150 of letters, digits and `@.+-_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(name: &str) -> Result<Self, &'static str> {
        if name.is_empty() {
            return Err("This field may not be blank.");
        }
        if name.chars().count() > 150 {
            return Err("Ensure this field has no more than 150 characters.");
        }
        if !name
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
        {
            return Err("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.");
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub tier: Tier,
}

impl User {
    /// The admin API's view of a user. The password hash is never part of it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "username": self.username,
            "tier": self.tier.name,
            "is_admin": self.is_admin,
        })
    }
}

#[derive(Deserialize)]
struct UserRow {
    id: i64,
    username: String,
    password_hash: String,
    is_admin: i64,
    #[serde(flatten)]
    tier: TierRow,
}

impl UserRow {
    fn into_user(self) -> Result<User, ApiError> {
        Ok(User {
            id: self.id,
            username: self.username,
            password_hash: self.password_hash,
            is_admin: self.is_admin != 0,
            tier: self.tier.into_tier()?,
        })
    }
}

fn select_users(filter: &str) -> String {
    format!(
        "SELECT u.id, u.username, u.password_hash, u.is_admin, {TIER_COLUMNS} \
         FROM users u JOIN tiers t ON t.id = u.tier_id {filter}"
    )
}

async fn find_one(db: &impl Database, statement: Statement) -> Result<Option<User>, ApiError> {
    let rows: Vec<UserRow> = db.query(statement).await?;
    rows.into_iter().next().map(UserRow::into_user).transpose()
}

pub async fn find_by_id(db: &impl Database, id: i64) -> Result<Option<User>, ApiError> {
    find_one(db, Statement::new(select_users("WHERE u.id = ?")).bind(id)).await
}

pub async fn find_by_username(
    db: &impl Database,
    username: &str,
) -> Result<Option<User>, ApiError> {
    find_one(
        db,
        Statement::new(select_users("WHERE u.username = ?")).bind(username),
    )
    .await
}

pub async fn list(db: &impl Database) -> Result<Vec<User>, ApiError> {
    let rows: Vec<UserRow> = db
        .query(Statement::new(select_users("ORDER BY u.id")))
        .await?;
    rows.into_iter().map(UserRow::into_user).collect()
}

pub fn username_taken() -> ApiError {
    ApiError::Validation(FieldErrors::single(
        "username",
        "A user with that username already exists.",
    ))
}

pub async fn insert(
    db: &impl Database,
    username: &Username,
    password_hash: &str,
    tier: &Tier,
    is_admin: bool,
    now_ms: i64,
) -> Result<User, ApiError> {
    let statement = Statement::new(
        "INSERT INTO users (username, password_hash, tier_id, is_admin, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(username.as_str())
    .bind(password_hash)
    .bind(tier.id)
    .bind(is_admin)
    .bind(now_ms);
    db.execute(statement)
        .await
        .map_err(|e| crate::tiers::unique_violation_or(e, username_taken))?;
    find_by_username(db, username.as_str())
        .await?
        .ok_or_else(|| ApiError::internal("inserted user vanished"))
}

/// Writes every field of `user` back (username, hash, tier, admin flag).
pub async fn save(db: &impl Database, user: &User) -> Result<(), ApiError> {
    let statement = Statement::new(
        "UPDATE users SET username = ?, password_hash = ?, tier_id = ?, is_admin = ? WHERE id = ?",
    )
    .bind(user.username.as_str())
    .bind(user.password_hash.as_str())
    .bind(user.tier.id)
    .bind(user.is_admin)
    .bind(user.id);
    db.execute(statement)
        .await
        .map_err(|e| crate::tiers::unique_violation_or(e, username_taken))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_djangos_rule() {
        assert!(Username::parse("alice.b+c-d_e@x").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("has space").is_err());
        assert!(Username::parse("semi;colon").is_err());
        assert!(Username::parse(&"a".repeat(151)).is_err());
        assert!(Username::parse(&"a".repeat(150)).is_ok());
    }
}
