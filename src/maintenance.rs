//! The cron's work, and the test-only hooks that let integration tests set up expired state.

use crate::app::{App, Platform};
use crate::error::ApiError;
use crate::http::{Method, Request, Response};
use crate::ports::{BlobStore, Database, Statement};
use crate::{accounts, links};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What one scheduled run did.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct SweepReport {
    pub expired_links: u64,
    pub stale_login_failures: u64,
}

/// The scheduled handler's whole job: remove expired links and stale throttle rows.
pub async fn run_scheduled(db: &impl Database, now_ms: i64) -> Result<SweepReport, ApiError> {
    Ok(SweepReport {
        expired_links: links::sweep_expired(db, now_ms).await?,
        stale_login_failures: accounts::sweep_failures(db, now_ms).await?,
    })
}

impl<P: Platform> App<P> {
    /// `/__test/*`: only when `test_hooks` is set (a `wrangler dev` test run on loopback).
    pub(crate) async fn test_hook(
        &self,
        req: &Request,
        path: &[&str],
    ) -> Result<Response, ApiError> {
        match (req.method, path) {
            // A user's rows and objects, to prove that rejected uploads leave nothing behind.
            (Method::Get, ["counts", username]) => {
                #[derive(Deserialize)]
                struct Counts {
                    id: i64,
                    pictures: i64,
                    links: i64,
                }
                let rows: Vec<Counts> = self
                    .db
                    .query(
                        Statement::new(
                            "SELECT u.id, (SELECT count(*) FROM pictures WHERE owner_id = u.id) AS pictures, \
                             (SELECT count(*) FROM links WHERE owner_id = u.id) AS links FROM users u WHERE u.username = ?",
                        )
                        .bind(*username),
                    )
                    .await?;
                let counts = rows.first().ok_or(ApiError::NotFound)?;
                let objects = self.blobs.list(&format!("{}/", counts.id)).await?.len();
                Ok(Response::json(
                    200,
                    &json!({"pictures": counts.pictures, "links": counts.links, "objects": objects}),
                ))
            }
            // Moves a link's expiry into the past, as if its time had run out.
            (Method::Post, ["links", id, "expire"]) => {
                let n = self
                    .db
                    .execute(
                        Statement::new("UPDATE links SET expires_at = ? WHERE id = ?")
                            .bind(self.now_ms() - 1)
                            .bind(*id),
                    )
                    .await?;
                Ok(Response::json(200, &json!({ "updated": n })))
            }
            // Inserts `count` already-expired links to a picture, for the cron test and bench.
            (Method::Post, ["links", "expired", picture_id, count]) => {
                let count: i64 = count.parse().map_err(|_| ApiError::NotFound)?;
                let now = self.now_ms();
                let n = self
                    .db
                    .execute(
                        Statement::new(
                            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) \
                             INSERT INTO links (id, picture_id, owner_id, height, lifetime_secs, created_at, expires_at) \
                             SELECT lower(hex(randomblob(16))), p.id, p.owner_id, NULL, 300, ? - 400000, ? - 100000 \
                             FROM seq, pictures p WHERE p.id = ?",
                        )
                        .bind(count)
                        .bind(now)
                        .bind(now)
                        .bind(*picture_id),
                    )
                    .await?;
                Ok(Response::json(200, &json!({ "inserted": n })))
            }
            // Inserts `count` picture rows (no R2 objects) for a user, one millisecond apart and
            // older than now, so the list benchmark can page through a large account.
            (Method::Post, ["pictures", "bulk", username, count]) => {
                let count: i64 = count.parse().map_err(|_| ApiError::NotFound)?;
                let n = self
                    .db
                    .execute(
                        Statement::new(
                            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) \
                             INSERT INTO pictures (id, owner_id, name, content_type, width, height, size, created_at) \
                             SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
                             substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || \
                             hex(randomblob(6))), u.id, 'bench-' || i, 'image/jpeg', 4000, 3000, 1000000, ? - i \
                             FROM seq, users u WHERE u.username = ?",
                        )
                        .bind(count)
                        .bind(self.now_ms())
                        .bind(*username),
                    )
                    .await?;
                Ok(Response::json(200, &json!({ "inserted": n })))
            }
            // Runs what the cron runs and says what it did (the real trigger is /__scheduled).
            (Method::Post, ["sweep"]) => Ok(Response::json(
                200,
                &run_scheduled(&self.db, self.now_ms()).await?,
            )),
            _ => Err(ApiError::NotFound),
        }
    }
}
