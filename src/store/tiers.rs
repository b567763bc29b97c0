//! The `tiers` table.

use super::{Database, Statement, StoreError};
use crate::domain::tiers::{Heights, NewTier, Tier, TierName};
use serde::Deserialize;

/// The columns of a tier as D1 returns them (booleans are integers there).
#[derive(Debug, Deserialize)]
pub struct TierRow {
    pub tier_id: i64,
    pub tier_name: String,
    pub thumbnail_heights: String,
    pub allow_original: i64,
    pub allow_expiring_links: i64,
}

/// The select list that yields a `TierRow` from table alias `t`.
pub const TIER_COLUMNS: &str = "t.id AS tier_id, t.name AS tier_name, t.thumbnail_heights, \
     t.allow_original, t.allow_expiring_links";

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
        })
    }
}

fn select(filter: &str) -> String {
    format!("SELECT {TIER_COLUMNS} FROM tiers t {filter}")
}

pub async fn list(db: &impl Database) -> Result<Vec<Tier>, StoreError> {
    let rows: Vec<TierRow> = db.query(Statement::new(select("ORDER BY t.id"))).await?;
    rows.into_iter().map(TierRow::into_tier).collect()
}

pub async fn find(db: &impl Database, name: &str) -> Result<Option<Tier>, StoreError> {
    let row: Option<TierRow> =
        super::first(db, Statement::new(select("WHERE t.name = ?")).bind(name)).await?;
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
        .bind(tier.thumbnail_heights.to_json())
        .bind(tier.allow_original)
        .bind(tier.allow_expiring_links)
        .bind(now_ms),
    )
    .await?;
    Ok(())
}

/// Writes every field of `tier` back; `Conflict` when its new name is taken.
pub async fn save(db: &impl Database, tier: &Tier) -> Result<(), StoreError> {
    db.execute(
        Statement::new(
            "UPDATE tiers SET name = ?, thumbnail_heights = ?, allow_original = ?, allow_expiring_links = ? \
             WHERE id = ?",
        )
        .bind(tier.name.as_str())
        .bind(tier.thumbnail_heights.to_json())
        .bind(tier.allow_original)
        .bind(tier.allow_expiring_links)
        .bind(tier.id),
    )
    .await?;
    Ok(())
}

/// Deletes a tier unless users still have it; whether it was deleted. The guard is in the
/// statement itself, so a user assigned concurrently cannot be orphaned.
pub async fn delete_unused(db: &impl Database, id: i64) -> Result<bool, StoreError> {
    let deleted = db
        .execute(
            Statement::new(
                "DELETE FROM tiers WHERE id = ? AND NOT EXISTS (SELECT 1 FROM users WHERE tier_id = ?)",
            )
            .bind(id)
            .bind(id),
        )
        .await?;
    Ok(deleted > 0)
}
