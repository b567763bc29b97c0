//! The `pictures` table.

use super::tiers::{TierRow, TIER_COLUMNS};
use crate::domain::ids::PictureId;
use crate::domain::pictures::Picture;
use crate::domain::tiers::Tier;
use crate::ports::{Database, Statement, StoreError};
use serde::Deserialize;

pub const PICTURE_COLUMNS: &str =
    "p.id, p.owner_id, p.name, p.content_type, p.width, p.height, p.size, p.created_at";

/// A picture as its row holds it: the columns of [`PICTURE_COLUMNS`].
#[derive(Debug, Deserialize)]
pub struct PictureRow {
    id: String,
    owner_id: i64,
    name: String,
    content_type: String,
    width: i64,
    height: i64,
    size: i64,
    created_at: i64,
}

impl PictureRow {
    /// The picture, or a `Failed` error when the stored id is not one (it was written by hand).
    pub fn into_picture(self) -> Result<Picture, StoreError> {
        Ok(Picture {
            id: stored_id(&self.id)?,
            owner_id: self.owner_id,
            name: self.name,
            content_type: self.content_type,
            width: self.width,
            height: self.height,
            size: self.size,
            created_at: self.created_at,
        })
    }
}

/// A picture id read back from the database.
fn stored_id(id: &str) -> Result<PictureId, StoreError> {
    PictureId::parse(id)
        .ok_or_else(|| StoreError::new(format!("stored picture id {id:?} is invalid")))
}

/// A keyset position: the (created_at, id) of the last row shown.
pub type After<'a> = Option<(i64, &'a str)>;

pub async fn insert(db: &impl Database, picture: &Picture) -> Result<(), StoreError> {
    db.execute(
        Statement::new(
            "INSERT INTO pictures (id, owner_id, name, content_type, width, height, size, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(picture.id.to_string())
        .bind(picture.owner_id)
        .bind(picture.name.as_str())
        .bind(picture.content_type.as_str())
        .bind(picture.width)
        .bind(picture.height)
        .bind(picture.size)
        .bind(picture.created_at),
    )
    .await?;
    Ok(())
}

/// The statement for up to `limit` of the owner's pictures after `after`, newest first
/// (walks index `pictures_by_owner`, no sort).
pub fn page_statement(owner_id: i64, limit: u32, after: After<'_>) -> Statement {
    match after {
        None => Statement::new(format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures p WHERE p.owner_id = ? \
             ORDER BY p.created_at DESC, p.id DESC LIMIT ?"
        ))
        .bind(owner_id),
        Some((created_at, id)) => Statement::new(format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures p WHERE p.owner_id = ? AND (p.created_at, p.id) < (?, ?) \
             ORDER BY p.created_at DESC, p.id DESC LIMIT ?"
        ))
        .bind(owner_id)
        .bind(created_at)
        .bind(id),
    }
    .bind(limit)
}

pub async fn page(
    db: &impl Database,
    owner_id: i64,
    limit: u32,
    after: After<'_>,
) -> Result<Vec<Picture>, StoreError> {
    let rows: Vec<PictureRow> = db.query(page_statement(owner_id, limit, after)).await?;
    rows.into_iter().map(PictureRow::into_picture).collect()
}

pub async fn find_owned(
    db: &impl Database,
    id: PictureId,
    owner_id: i64,
) -> Result<Option<Picture>, StoreError> {
    let row: Option<PictureRow> = super::first(
        db,
        Statement::new(format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures p WHERE p.id = ? AND p.owner_id = ?"
        ))
        .bind(id.to_string())
        .bind(owner_id),
    )
    .await?;
    row.map(PictureRow::into_picture).transpose()
}

/// What every read checks, in one query: whether the token's generation is current, the user's
/// tier and, if it is theirs, the picture. `None` when the user no longer exists.
pub struct ReadCheck {
    pub token_current: bool,
    pub tier: Tier,
    pub picture: Option<Picture>,
}

pub async fn read_check(
    db: &impl Database,
    id: PictureId,
    user_id: i64,
    generation: i64,
) -> Result<Option<ReadCheck>, StoreError> {
    #[derive(Deserialize)]
    struct Row {
        token_generation: i64,
        #[serde(flatten)]
        tier: TierRow,
        id: Option<String>,
        owner_id: Option<i64>,
        name: Option<String>,
        content_type: Option<String>,
        width: Option<i64>,
        height: Option<i64>,
        size: Option<i64>,
        created_at: Option<i64>,
    }
    let row: Option<Row> = super::first(
        db,
        Statement::new(format!(
            "SELECT u.token_generation, {TIER_COLUMNS}, {PICTURE_COLUMNS} \
             FROM users u JOIN tiers t ON t.id = u.tier_id \
             LEFT JOIN pictures p ON p.id = ? AND p.owner_id = u.id WHERE u.id = ?"
        ))
        .bind(id.to_string())
        .bind(user_id),
    )
    .await?;
    let Some(row) = row else { return Ok(None) };
    let picture = match (row.id, row.owner_id, row.name, row.content_type) {
        (Some(id), Some(owner_id), Some(name), Some(content_type)) => Some(Picture {
            id: stored_id(&id)?,
            owner_id,
            name,
            content_type,
            width: row.width.unwrap_or_default(),
            height: row.height.unwrap_or_default(),
            size: row.size.unwrap_or_default(),
            created_at: row.created_at.unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(Some(ReadCheck {
        token_current: row.token_generation == generation,
        tier: row.tier.into_tier()?,
        picture,
    }))
}

/// Deletes the owner's picture (its links cascade); whether there was one.
pub async fn delete_owned(
    db: &impl Database,
    id: PictureId,
    owner_id: i64,
) -> Result<bool, StoreError> {
    let deleted = db
        .execute(
            Statement::new("DELETE FROM pictures WHERE id = ? AND owner_id = ?")
                .bind(id.to_string())
                .bind(owner_id),
        )
        .await?;
    Ok(deleted > 0)
}

/// Which of `ids` have a row (at most 90 per call: D1 binds at most 100 parameters).
pub async fn existing(db: &impl Database, ids: &[PictureId]) -> Result<Vec<PictureId>, StoreError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    let mut found = Vec::new();
    for chunk in ids.chunks(90) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let mut statement = Statement::new(format!(
            "SELECT id FROM pictures WHERE id IN ({placeholders})"
        ));
        for id in chunk {
            statement = statement.bind(id.to_string());
        }
        let rows: Vec<Row> = db.query(statement).await?;
        for row in rows {
            found.push(stored_id(&row.id)?);
        }
    }
    Ok(found)
}
