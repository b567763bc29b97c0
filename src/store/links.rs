//! The `links` table.

use super::pictures::{After, PictureRow, PICTURE_COLUMNS};
use super::tiers::{TierRow, TIER_COLUMNS};
use crate::domain::ids::{LinkId, PictureId};
use crate::domain::pictures::Picture;
use crate::domain::tiers::{ThumbnailHeight, Tier};
use crate::ports::{Database, Statement, StoreError};
use serde::Deserialize;

/// A link to insert.
pub struct NewLink {
    pub id: LinkId,
    pub picture_id: PictureId,
    pub owner_id: i64,
    /// `None`: the original.
    pub height: Option<ThumbnailHeight>,
    pub lifetime_secs: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Inserts a link if its picture still exists and is the owner's; whether it did. One
/// statement, so a picture deleted meanwhile gives `false`, never a foreign-key failure.
pub async fn insert(db: &impl Database, link: &NewLink) -> Result<bool, StoreError> {
    let inserted = db
        .execute(
            Statement::new(
                "INSERT INTO links (id, picture_id, owner_id, height, lifetime_secs, created_at, expires_at) \
                 SELECT ?, p.id, p.owner_id, ?, ?, ?, ? FROM pictures p WHERE p.id = ? AND p.owner_id = ?",
            )
            .bind(link.id.to_string())
            .bind(link.height.map(ThumbnailHeight::get))
            .bind(link.lifetime_secs)
            .bind(link.created_at)
            .bind(link.expires_at)
            .bind(link.picture_id.to_string())
            .bind(link.owner_id),
        )
        .await?;
    Ok(inserted > 0)
}

/// A link that has not expired, with its picture and the owner's current tier.
pub struct ActiveLink {
    /// `None`: the original.
    pub height: Option<ThumbnailHeight>,
    pub expires_at: i64,
    pub picture: Picture,
    pub tier: Tier,
}

/// The link `id` if it expires after `now`. Checked on every request, before any cache, so
/// expiry is exact whatever the cron did.
pub async fn find_active(
    db: &impl Database,
    id: LinkId,
    now: i64,
) -> Result<Option<ActiveLink>, StoreError> {
    #[derive(Deserialize)]
    struct Row {
        link_height: Option<u32>,
        expires_at: i64,
        #[serde(flatten)]
        tier: TierRow,
        #[serde(flatten)]
        picture: PictureRow,
    }
    let row: Option<Row> = super::first(
        db,
        Statement::new(format!(
            "SELECT l.height AS link_height, l.expires_at, {TIER_COLUMNS}, {PICTURE_COLUMNS} \
             FROM links l JOIN pictures p ON p.id = l.picture_id \
             JOIN users u ON u.id = p.owner_id JOIN tiers t ON t.id = u.tier_id \
             WHERE l.id = ? AND l.expires_at > ?"
        ))
        .bind(id.to_string())
        .bind(now),
    )
    .await?;
    row.map(|r| {
        Ok(ActiveLink {
            height: r.link_height.map(stored_height).transpose()?,
            expires_at: r.expires_at,
            picture: r.picture.into_picture()?,
            tier: r.tier.into_tier()?,
        })
    })
    .transpose()
}

/// A listed link with its picture.
#[derive(Debug)]
pub struct ListedLink {
    pub link_id: LinkId,
    pub lifetime_secs: i64,
    pub link_created_at: i64,
    pub expires_at: i64,
    pub picture: Picture,
}

#[derive(Deserialize)]
struct ListedLinkRow {
    link_id: String,
    lifetime_secs: i64,
    link_created_at: i64,
    expires_at: i64,
    #[serde(flatten)]
    picture: PictureRow,
}

/// Up to `limit` of the owner's active links after `after`, newest first.
pub async fn page(
    db: &impl Database,
    owner_id: i64,
    now: i64,
    limit: u32,
    after: After<'_>,
) -> Result<Vec<ListedLink>, StoreError> {
    let select = format!(
        "SELECT l.id AS link_id, l.lifetime_secs, l.created_at AS link_created_at, l.expires_at, {PICTURE_COLUMNS} \
         FROM links l JOIN pictures p ON p.id = l.picture_id WHERE l.owner_id = ? AND l.expires_at > ?"
    );
    let statement = match after {
        None => Statement::new(format!(
            "{select} ORDER BY l.created_at DESC, l.id DESC LIMIT ?"
        ))
        .bind(owner_id)
        .bind(now),
        Some((created_at, id)) => Statement::new(format!(
            "{select} AND (l.created_at, l.id) < (?, ?) ORDER BY l.created_at DESC, l.id DESC LIMIT ?"
        ))
        .bind(owner_id)
        .bind(now)
        .bind(created_at)
        .bind(id),
    };
    let rows: Vec<ListedLinkRow> = db.query(statement.bind(limit)).await?;
    rows.into_iter()
        .map(|row| {
            Ok(ListedLink {
                link_id: LinkId::parse(&row.link_id).ok_or_else(|| {
                    StoreError::new(format!("stored link id {:?} is invalid", row.link_id))
                })?,
                lifetime_secs: row.lifetime_secs,
                link_created_at: row.link_created_at,
                expires_at: row.expires_at,
                picture: row.picture.into_picture()?,
            })
        })
        .collect()
}

/// A link's height read back from the database.
fn stored_height(height: u32) -> Result<ThumbnailHeight, StoreError> {
    ThumbnailHeight::new(height)
        .ok_or_else(|| StoreError::new(format!("stored link height {height} is invalid")))
}

/// Deletes the owner's link; whether there was one.
pub async fn delete_owned(
    db: &impl Database,
    id: LinkId,
    owner_id: i64,
) -> Result<bool, StoreError> {
    let deleted = db
        .execute(
            Statement::new("DELETE FROM links WHERE id = ? AND owner_id = ?")
                .bind(id.to_string())
                .bind(owner_id),
        )
        .await?;
    Ok(deleted > 0)
}

/// At most this many rows per statement in the cron sweep; large single deletes hold the database.
pub const SWEEP_BATCH: i64 = 500;
/// Upper bound of batches per run, so one run stays inside the Worker's limits.
pub const SWEEP_MAX_BATCHES: usize = 200;

/// Deletes links that expired before `now_ms`, in bounded batches; how many it removed. Safe to
/// run concurrently: each batch is one self-contained statement.
pub async fn sweep_expired(db: &impl Database, now_ms: i64) -> Result<u64, StoreError> {
    let mut removed = 0;
    for _ in 0..SWEEP_MAX_BATCHES {
        let n = db
            .execute(
                Statement::new(
                    "DELETE FROM links WHERE id IN (SELECT id FROM links WHERE expires_at <= ? LIMIT ?)",
                )
                .bind(now_ms)
                .bind(SWEEP_BATCH),
            )
            .await?;
        removed += n;
        if n < SWEEP_BATCH as u64 {
            break;
        }
    }
    Ok(removed)
}
