//! The statements behind the test hooks (`routes/test_hooks.rs`); compiled only with the
//! `test-hooks` feature.

use crate::ports::{Database, Statement, StoreError};

pub struct Counts {
    pub id: i64,
    pub pictures: i64,
    pub links: i64,
}

pub async fn counts(db: &impl Database, username: &str) -> Result<Option<Counts>, StoreError> {
    #[derive(serde::Deserialize)]
    struct Row {
        id: i64,
        pictures: i64,
        links: i64,
    }
    let row: Option<Row> = super::first(
        db,
        Statement::new(
            "SELECT u.id, (SELECT count(*) FROM pictures WHERE owner_id = u.id) AS pictures, \
             (SELECT count(*) FROM links WHERE owner_id = u.id) AS links FROM users u WHERE u.username = ?",
        )
        .bind(username),
    )
    .await?;
    Ok(row.map(|r| Counts {
        id: r.id,
        pictures: r.pictures,
        links: r.links,
    }))
}

pub async fn expire_link(db: &impl Database, id: &str, at: i64) -> Result<u64, StoreError> {
    db.execute(
        Statement::new("UPDATE links SET expires_at = ? WHERE id = ?")
            .bind(at)
            .bind(id),
    )
    .await
}

pub async fn insert_expired_links(
    db: &impl Database,
    picture_id: &str,
    count: i64,
    now: i64,
) -> Result<u64, StoreError> {
    db.execute(
        Statement::new(
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) \
             INSERT INTO links (id, picture_id, owner_id, height, lifetime_secs, created_at, expires_at) \
             SELECT lower(hex(randomblob(16))), p.id, p.owner_id, NULL, 300, ? - 400000, ? - 100000 \
             FROM seq, pictures p WHERE p.id = ?",
        )
        .bind(count)
        .bind(now)
        .bind(now)
        .bind(picture_id),
    )
    .await
}

/// `count` picture rows (no R2 objects), one millisecond apart and older than now.
pub async fn insert_pictures(
    db: &impl Database,
    username: &str,
    count: i64,
    now: i64,
) -> Result<u64, StoreError> {
    db.execute(
        Statement::new(
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) \
             INSERT INTO pictures (id, owner_id, name, content_type, width, height, size, created_at) \
             SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
             substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || \
             hex(randomblob(6))), u.id, 'bench-' || i, 'image/jpeg', 4000, 3000, 1000000, ? - i \
             FROM seq, users u WHERE u.username = ?",
        )
        .bind(count)
        .bind(now)
        .bind(username),
    )
    .await
}
