//! The `users` table.

use super::tiers::{TierRow, TIER_COLUMNS};
use crate::domain::tiers::TierName;
use crate::domain::users::{EndsTokens, User, UserChanges};
use crate::ports::{Database, Statement, StoreError, Value};
use serde::Deserialize;

#[derive(Deserialize)]
struct UserRow {
    id: i64,
    username: String,
    password_hash: String,
    is_admin: i64,
    token_generation: i64,
    created_at: i64,
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
        "SELECT u.id, u.username, u.password_hash, u.is_admin, u.token_generation, u.created_at, \
         {TIER_COLUMNS} \
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

/// A user with when they were created, the position of a page of users.
pub struct ListedUser {
    pub user: User,
    pub created_at: i64,
}

/// Up to `limit` users, newest first (an admin looks for who they just added), after `after`
/// (the `(created_at, id)` of the last one shown), whose username contains `search` (ASCII
/// letters in any case).
pub async fn page(
    db: &impl Database,
    search: Option<&str>,
    limit: u32,
    after: Option<(i64, i64)>,
) -> Result<Vec<ListedUser>, StoreError> {
    let mut filters = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    if let Some(text) = search {
        filters.push("u.username LIKE ? ESCAPE '\\'");
        params.push(format!("%{}%", escape_like(text)).into());
    }
    if let Some((created_at, id)) = after {
        filters.push("(u.created_at, u.id) < (?, ?)");
        params.extend([created_at.into(), id.into()]);
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    params.push(limit.into());
    let rows: Vec<UserRow> = db
        .query(Statement {
            sql: select(&format!(
                "{filter} ORDER BY u.created_at DESC, u.id DESC LIMIT ?"
            )),
            params,
        })
        .await?;
    rows.into_iter()
        .map(|row| {
            let created_at = row.created_at;
            Ok(ListedUser {
                user: row.into_user()?,
                created_at,
            })
        })
        .collect()
}

/// `text` for a LIKE pattern with `\` as the escape: `%` and `_` (a username character) match
/// only themselves.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The insert of a user on tier `tier`, or on the default tier when `None`. The tier is resolved
/// by the statement itself, so a tier deleted meanwhile cannot leave a dangling id: it inserts
/// nothing when there is no such tier, and returns the new id otherwise. The one user INSERT:
/// the admin CLI prints it for `wrangler d1 execute`.
pub fn insert_statement(
    username: &str,
    password_hash: &str,
    tier: Option<&TierName>,
    is_admin: bool,
    now_ms: i64,
) -> Statement {
    let which = match tier {
        Some(_) => "name = ?",
        None => "is_default = 1",
    };
    let statement = Statement::new(format!(
        "INSERT INTO users (username, password_hash, tier_id, is_admin, created_at) \
         SELECT ?, ?, id, ?, ? FROM tiers WHERE {which} RETURNING id"
    ))
    .bind(username)
    .bind(password_hash)
    .bind(is_admin)
    .bind(now_ms);
    match tier {
        Some(name) => statement.bind(name.as_str()),
        None => statement,
    }
}

/// Inserts a user (see [`insert_statement`]): `Ok(false)` when no such tier exists, `Conflict`
/// when the username is taken.
pub async fn insert(
    db: &impl Database,
    username: &str,
    password_hash: &str,
    tier: Option<&TierName>,
    is_admin: bool,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let statement = insert_statement(username, password_hash, tier, is_admin, now_ms);
    let inserted: Option<serde::de::IgnoredAny> = super::first(db, statement).await?;
    Ok(inserted.is_some())
}

/// The condition that keeps at least one admin: the row being changed is not an admin losing
/// the flag, or another admin exists. Part of each statement, so two admins demoting each other
/// at once cannot both succeed.
const KEEPS_AN_ADMIN: &str =
    "(is_admin = 0 OR EXISTS (SELECT 1 FROM users o WHERE o.is_admin = 1 AND o.id != users.id))";

/// Writes the columns `changes` names, and only those, to the user called `username`: a
/// concurrent patch of other columns keeps its changes (the tier is resolved by name in the
/// statement). The token generation is raised in SQL as `changes.ends_tokens` says, so two
/// resets both count. The user's id, or `None` when nothing was written: no such user, no such
/// tier, or it would remove the last admin. `Conflict` when the new username is taken.
pub async fn update(
    db: &impl Database,
    username: &str,
    changes: &UserChanges,
) -> Result<Option<i64>, StoreError> {
    let mut sets: Vec<&str> = Vec::new();
    let mut guards: Vec<&str> = vec!["username = ?"];
    let mut params: Vec<Value> = Vec::new();
    let mut guard_params: Vec<Value> = vec![username.into()];
    if let Some(new_name) = &changes.username {
        sets.push("username = ?");
        params.push(new_name.as_str().into());
    }
    if let Some(hash) = &changes.password_hash {
        sets.push("password_hash = ?");
        params.push(hash.as_str().into());
    }
    if let Some(tier) = &changes.tier {
        sets.push("tier_id = (SELECT id FROM tiers WHERE name = ?)");
        params.push(tier.as_str().into());
        guards.push("EXISTS (SELECT 1 FROM tiers WHERE name = ?)");
        guard_params.push(tier.as_str().into());
    }
    if let Some(is_admin) = changes.is_admin {
        sets.push("is_admin = ?");
        params.push(is_admin.into());
        if !is_admin {
            guards.push(KEEPS_AN_ADMIN);
        }
    }
    match (changes.ends_tokens, &changes.username) {
        (EndsTokens::Always, _) => sets.push("token_generation = token_generation + 1"),
        (EndsTokens::IfRenamed, Some(new_name)) => {
            // SET expressions see the row as it was, so this compares with the old name.
            sets.push("token_generation = token_generation + (username != ?)");
            params.push(new_name.as_str().into());
        }
        (EndsTokens::IfRenamed, None) | (EndsTokens::Never, _) => {}
    }
    if sets.is_empty() {
        return Ok(find_by_username(db, username).await?.map(|u| u.id));
    }
    params.extend(guard_params);
    #[derive(Deserialize)]
    struct Id {
        id: i64,
    }
    let changed: Option<Id> = super::first(
        db,
        Statement {
            sql: format!(
                "UPDATE users SET {} WHERE {} RETURNING id",
                sets.join(", "),
                guards.join(" AND ")
            ),
            params,
        },
    )
    .await?;
    Ok(changed.map(|row| row.id))
}

/// Deletes a user with their pictures and links (the schema cascades) and their throttle rows,
/// in one transaction (a D1 batch). `Ok(false)` when they are the last admin: then nothing is
/// deleted.
pub async fn delete(db: &impl Database, user: &User) -> Result<bool, StoreError> {
    let changes = db
        .batch(vec![
            Statement::new(format!(
                "DELETE FROM users WHERE id = ? AND {KEEPS_AN_ADMIN}"
            ))
            .bind(user.id),
            super::login_failures::forget_deleted_user(&user.username, user.id),
        ])
        .await?;
    Ok(changes.first().is_some_and(|&deleted| deleted > 0))
}
