//! Expiring links: created by owners whose tier allows them, served without login until they
//! expire, listed, revoked, and swept by the cron.

use crate::app::{json_object, App, Platform};
use crate::error::{ApiError, FieldErrors};
use crate::http::{Request, Response};
use crate::pictures::{
    page_params, page_response, rfc3339, Cursor, PictureId, PictureRow, StoredPicture,
    PICTURE_COLUMNS,
};
use crate::ports::{Database, Statement};
use crate::tiers::Variant;
use serde::Deserialize;
use serde_json::{json, Value};

/// How long a link lives, in seconds: 300..=30000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLifetime(i64);

impl LinkLifetime {
    pub const MIN: i64 = 300;
    pub const MAX: i64 = 30_000;

    /// Accepts a JSON integer or a string of digits, like the Django service did.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let n = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
        .ok_or("A valid integer is required.")?;
        if !(Self::MIN..=Self::MAX).contains(&n) {
            return Err(format!(
                "Ensure this value is between {} and {}.",
                Self::MIN,
                Self::MAX
            ));
        }
        Ok(Self(n))
    }

    pub fn secs(self) -> i64 {
        self.0
    }
}

/// The link URL path; the only place that builds it.
pub fn url(id: &str) -> String {
    format!("/api/timelink/{id}")
}

/// Whole seconds left before `expires_at` (never negative).
pub fn time_left(expires_at_ms: i64, now_ms: i64) -> i64 {
    (expires_at_ms - now_ms).max(0) / 1000
}

#[derive(Debug, Deserialize)]
struct LinkRow {
    link_id: String,
    lifetime_secs: i64,
    link_created_at: i64,
    expires_at: i64,
    #[serde(flatten)]
    picture: PictureRow,
}

/// Seconds a client (or any cache) may keep a link's image: never past the expiry.
fn link_cache_control(expires_at_ms: i64, now_ms: i64) -> String {
    format!(
        "private, max-age={}",
        time_left(expires_at_ms, now_ms).min(3600)
    )
}

/// At most this many rows per statement in the cron sweep; D1 caps bound parameters at 100 and
/// large single deletes hold the database.
pub const SWEEP_BATCH: i64 = 500;
/// Upper bound of batches per run, so one run stays inside the Worker's limits.
pub const SWEEP_MAX_BATCHES: usize = 200;

/// Deletes links that expired before `now_ms`, in bounded batches. Returns how many it removed.
/// Safe to run concurrently: each batch is one self-contained statement.
pub async fn sweep_expired(db: &impl Database, now_ms: i64) -> Result<u64, ApiError> {
    let mut removed = 0;
    for _ in 0..SWEEP_MAX_BATCHES {
        let n = db
            .execute(
                Statement::new("DELETE FROM links WHERE id IN (SELECT id FROM links WHERE expires_at <= ? LIMIT ?)")
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

impl<P: Platform> App<P> {
    /// `POST /api/picture/{id}`: `{"time": 300..=30000, "height"?: H}` -> a link.
    pub(crate) async fn create_link(&self, req: &Request, id: &str) -> Result<Response, ApiError> {
        let user = self.authenticate(req).await?;
        let id = PictureId::parse(id)?.to_string();
        let rows: Vec<PictureRow> = self
            .db
            .query(
                Statement::new(format!(
                    "SELECT {PICTURE_COLUMNS} FROM pictures p WHERE p.id = ? AND p.owner_id = ?"
                ))
                .bind(id.as_str())
                .bind(user.id),
            )
            .await?;
        let picture = rows.into_iter().next().ok_or(ApiError::NotFound)?;
        if !user.tier.allow_expiring_links {
            return Err(ApiError::Forbidden(
                "Your tier does not include expiring links.",
            ));
        }
        let body = json_object(req)?;
        let mut errors = FieldErrors::new();
        let lifetime = match body.get("time") {
            None | Some(Value::Null) => {
                errors.add("time", crate::error::REQUIRED);
                None
            }
            Some(v) => LinkLifetime::parse(v)
                .map_err(|e| errors.add("time", e))
                .ok(),
        };
        let height = match body.get("height") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64().and_then(|h| u32::try_from(h).ok()) {
                Some(h) if user.tier.allows(Variant::Thumbnail(h)) => Some(h),
                _ => {
                    errors.add("height", "Your tier has no thumbnails of this height.");
                    None
                }
            },
        };
        errors.into_result()?;
        let lifetime = lifetime.expect("validated above");
        let link_id = uuid::Uuid::new_v4().hyphenated().to_string();
        let now = self.now_ms();
        let expires_at = now + lifetime.secs() * 1000;
        self.db
            .execute(
                Statement::new(
                    "INSERT INTO links (id, picture_id, owner_id, height, lifetime_secs, created_at, expires_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(link_id.as_str())
                .bind(id.as_str())
                .bind(user.id)
                .bind(height)
                .bind(lifetime.secs())
                .bind(now)
                .bind(expires_at),
            )
            .await?;
        Ok(Response::json(
            201,
            &json!({
                "url": url(&link_id),
                "picture": picture.to_json(&user.username, &user.tier),
                "time": lifetime.secs(),
                "expires_at": rfc3339(expires_at),
            }),
        ))
    }

    /// `GET /api/timelink/{id}`: the image, without login, until the second the link expires.
    pub(crate) async fn serve_link(&self, req: &Request, id: &str) -> Result<Response, ApiError> {
        let id = uuid::Uuid::try_parse(id)
            .map_err(|_| ApiError::NotFound)?
            .hyphenated()
            .to_string();
        let now = self.now_ms();
        #[derive(Deserialize)]
        struct Row {
            owner_id: i64,
            picture_id: String,
            content_type: String,
            height: Option<u32>,
            expires_at: i64,
        }
        // Checked on every request, before any cache, so expiry is exact whatever the cron did.
        let rows: Vec<Row> = self
            .db
            .query(
                Statement::new(
                    "SELECT p.owner_id, p.id AS picture_id, p.content_type, l.height, l.expires_at \
                     FROM links l JOIN pictures p ON p.id = l.picture_id WHERE l.id = ? AND l.expires_at > ?",
                )
                .bind(id.as_str())
                .bind(now),
            )
            .await?;
        let row = rows.into_iter().next().ok_or(ApiError::NotFound)?;
        let variant = row.height.map_or(Variant::Original, Variant::Thumbnail);
        let picture = StoredPicture {
            owner_id: row.owner_id,
            id: row.picture_id,
            content_type: row.content_type,
        };
        self.serve(
            req,
            &picture,
            variant,
            &link_cache_control(row.expires_at, now),
            None,
        )
        .await
    }

    /// `DELETE /api/timelink/{id}`: the owner revokes a link.
    pub(crate) async fn revoke_link(&self, req: &Request, id: &str) -> Result<Response, ApiError> {
        let user = self.authenticate(req).await?;
        let id = uuid::Uuid::try_parse(id)
            .map_err(|_| ApiError::NotFound)?
            .hyphenated()
            .to_string();
        let n = self
            .db
            .execute(
                Statement::new("DELETE FROM links WHERE id = ? AND owner_id = ?")
                    .bind(id.as_str())
                    .bind(user.id),
            )
            .await?;
        if n == 0 {
            return Err(ApiError::NotFound);
        }
        Ok(Response::no_content())
    }

    /// `GET /api/pictures/shared/`: the caller's active links, newest first, paginated.
    pub(crate) async fn list_links(&self, req: &Request) -> Result<Response, ApiError> {
        let user = self.authenticate(req).await?;
        let (limit, cursor) = page_params(req)?;
        let now = self.now_ms();
        let select = format!(
            "SELECT l.id AS link_id, l.lifetime_secs, l.created_at AS link_created_at, l.expires_at, {PICTURE_COLUMNS} \
             FROM links l JOIN pictures p ON p.id = l.picture_id WHERE l.owner_id = ? AND l.expires_at > ?"
        );
        let statement = match &cursor {
            None => Statement::new(format!("{select} ORDER BY l.created_at DESC, l.id DESC LIMIT ?")).bind(user.id).bind(now),
            Some(c) => Statement::new(format!(
                "{select} AND (l.created_at, l.id) < (?, ?) ORDER BY l.created_at DESC, l.id DESC LIMIT ?"
            ))
            .bind(user.id)
            .bind(now)
            .bind(c.created_at)
            .bind(c.id.as_str()),
        };
        let rows: Vec<LinkRow> = self.db.query(statement.bind(limit + 1)).await?;
        Ok(page_response(
            "/api/pictures/shared/",
            limit,
            rows,
            |l| Cursor {
                created_at: l.link_created_at,
                id: l.link_id.clone(),
            },
            |l| {
                json!({
                    "url": url(&l.link_id),
                    "picture": l.picture.to_json(&user.username, &user.tier),
                    "time": l.lifetime_secs,
                    "time_left": time_left(l.expires_at, now),
                    "expires_at": rfc3339(l.expires_at),
                })
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_from_300_to_30000_seconds_are_accepted() {
        for ok in [json!(300), json!(30000), json!("400"), json!(" 400 ")] {
            assert!(LinkLifetime::parse(&ok).is_ok(), "{ok}");
        }
        for bad in [
            json!(299),
            json!(30001),
            json!(-5),
            json!(1.5),
            json!("abc"),
            json!("1.5"),
            json!(true),
            json!([300]),
        ] {
            assert!(LinkLifetime::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_left_counts_whole_seconds_and_never_goes_negative() {
        assert_eq!(time_left(10_999, 0), 10);
        assert_eq!(time_left(1_000, 1_000), 0);
        assert_eq!(time_left(0, 5_000), 0);
    }

    #[test]
    fn a_link_is_never_cached_past_its_expiry() {
        assert_eq!(
            link_cache_control(1_000_000 + 42_500, 1_000_000),
            "private, max-age=42"
        );
        assert_eq!(
            link_cache_control(1_000_000 + 30_000_000, 1_000_000),
            "private, max-age=3600"
        );
    }
}
