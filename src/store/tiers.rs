//! The `tiers` table.

use crate::domain::tiers::{Heights, NewTier, Tier, TierName, TierPatch};
use crate::ports::{Database, Statement, StoreError, Value};
use serde::Deserialize;

/// The columns of a tier as D1 returns them (booleans are integers there).
#[derive(Debug, Deserialize)]
pub struct TierRow {
    pub tier_id: i64,
    pub tier_name: String,
    pub thumbnail_heights: String,
    pub allow_original: i64,
    pub allow_expiring_links: i64,
    pub is_default: i64,
}

/// The select list that yields a `TierRow` from table alias `t`.
pub const TIER_COLUMNS: &str = "t.id AS tier_id, t.name AS tier_name, t.thumbnail_heights, \
     t.allow_original, t.allow_expiring_links, t.is_default";

impl TierRow {
    /// The tier, or a `Failed` error when a stored row breaks the rules (it was written by hand).
    pub fn into_tier(self) -> Result<Tier, StoreError> {
        let corrupt = |e: crate::domain::Invalid| {
            StoreError::new(format!("stored tier {} is invalid: {e}", self.tier_id))
        };
        let heights: serde_json::Value = serde_json::from_str(&self.thumbnail_heights)
            .map_err(|e| StoreError::new(format!("stored tier heights: {e}")))?;
        Ok(Tier {
            id: self.tier_id,
            name: TierName::parse(&self.tier_name).map_err(corrupt)?,
            thumbnail_heights: Heights::parse(&heights).map_err(corrupt)?,
            allow_original: self.allow_original != 0,
            allow_expiring_links: self.allow_expiring_links != 0,
            is_default: self.is_default != 0,
        })
    }
}

/// Heights as the `thumbnail_heights` column holds them: a JSON array of integers, ascending.
fn heights_column(heights: &Heights) -> String {
    let list: Vec<String> = heights.iter().map(|h| h.to_string()).collect();
    format!("[{}]", list.join(","))
}

fn select(filter: &str) -> String {
    format!("SELECT {TIER_COLUMNS} FROM tiers t {filter}")
}

pub async fn list(db: &impl Database) -> Result<Vec<Tier>, StoreError> {
    let rows: Vec<TierRow> = db.query(Statement::new(select("ORDER BY t.id"))).await?;
    rows.into_iter().map(TierRow::into_tier).collect()
}

pub async fn find(db: &impl Database, name: &TierName) -> Result<Option<Tier>, StoreError> {
    let row: Option<TierRow> = super::first(
        db,
        Statement::new(select("WHERE t.name = ?")).bind(name.as_str()),
    )
    .await?;
    row.map(TierRow::into_tier).transpose()
}

/// Inserts a tier; `Conflict` when the name is taken.
pub async fn insert(db: &impl Database, tier: &NewTier, now_ms: i64) -> Result<(), StoreError> {
    db.execute(
        Statement::new(
            "INSERT INTO tiers (name, thumbnail_heights, allow_original, allow_expiring_links, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(tier.name.as_str())
        .bind(heights_column(&tier.thumbnail_heights))
        .bind(tier.allow_original)
        .bind(tier.allow_expiring_links)
        .bind(now_ms),
    )
    .await?;
    Ok(())
}

/// Writes the columns `patch` changes, and only those, so a concurrent patch of other fields
/// keeps its changes. The tier as it is after the write; `None` when no tier has that name;
/// `Conflict` when the new name is taken.
pub async fn update(
    db: &impl Database,
    name: &TierName,
    patch: &TierPatch,
) -> Result<Option<Tier>, StoreError> {
    let mut sets: Vec<&str> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    if let Some(new_name) = &patch.name {
        sets.push("name = ?");
        params.push(new_name.as_str().into());
    }
    if let Some(heights) = &patch.thumbnail_heights {
        sets.push("thumbnail_heights = ?");
        params.push(heights_column(heights).into());
    }
    if let Some(allow) = patch.allow_original {
        sets.push("allow_original = ?");
        params.push(allow.into());
    }
    if let Some(allow) = patch.allow_expiring_links {
        sets.push("allow_expiring_links = ?");
        params.push(allow.into());
    }
    let tier = if sets.is_empty() {
        find(db, name).await?
    } else {
        params.push(name.as_str().into());
        // RETURNING: the answer is the row this statement left, not a second read that a
        // concurrent rename could miss.
        let statement = Statement {
            sql: format!(
                "UPDATE tiers SET {} WHERE name = ? RETURNING id AS tier_id, name AS tier_name, \
                 thumbnail_heights, allow_original, allow_expiring_links, is_default",
                sets.join(", ")
            ),
            params,
        };
        let row: Option<TierRow> = super::first(db, statement).await?;
        row.map(TierRow::into_tier).transpose()?
    };
    match tier {
        Some(tier) if patch.make_default && !tier.is_default => {
            make_default(db, tier.id).await?;
            Ok(Some(Tier {
                is_default: true,
                ..tier
            }))
        }
        other => Ok(other),
    }
}

/// Makes tier `id` the default in one transaction: the previous default loses the flag only if
/// this tier still exists (the unique index allows one default at a time).
async fn make_default(db: &impl Database, id: i64) -> Result<(), StoreError> {
    db.batch(vec![
        Statement::new(
            "UPDATE tiers SET is_default = 0 WHERE is_default = 1 AND id != ? \
             AND EXISTS (SELECT 1 FROM tiers WHERE id = ?)",
        )
        .bind(id)
        .bind(id),
        Statement::new("UPDATE tiers SET is_default = 1 WHERE id = ?").bind(id),
    ])
    .await?;
    Ok(())
}

/// Deletes a tier unless users still have it or it is the default; whether it was deleted. The
/// guards are in the statement itself, so a user assigned concurrently cannot be orphaned.
pub async fn delete_unused(db: &impl Database, id: i64) -> Result<bool, StoreError> {
    let deleted = db
        .execute(
            Statement::new(
                "DELETE FROM tiers WHERE id = ? AND is_default = 0 \
                 AND NOT EXISTS (SELECT 1 FROM users WHERE tier_id = ?)",
            )
            .bind(id)
            .bind(id),
        )
        .await?;
    Ok(deleted > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heights_are_stored_as_an_ascending_json_array_and_read_back() {
        let heights = Heights::parse(&serde_json::json!([400, 200])).unwrap();
        let column = heights_column(&heights);
        assert_eq!(column, "[200,400]");
        let read = serde_json::from_str(&column).unwrap();
        assert_eq!(Heights::parse(&read).unwrap(), heights);
    }
}
