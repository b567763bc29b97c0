//! `/__test/*`: endpoints that let the HTTP tests and the bench set up state (counts, expired
//! links, many pictures). Compiled only with the `test-hooks` feature, so a deployed Worker never
//! carries them; on only when the run also sets `ENABLE_TEST_HOOKS` on a loopback host.

use super::App;
use crate::error::ApiError;
use crate::http::{Method, Response};
use crate::maintenance;
use crate::media::keys;
use crate::ports::BlobStore;
use crate::ports::Platform;
use crate::store::test_hooks as sql;
use serde_json::json;

impl<P: Platform> App<P> {
    pub(crate) async fn test_hook(
        &self,
        method: Method,
        path: &[String],
    ) -> Result<Response, ApiError> {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        match (method, path.as_slice()) {
            // A user's rows and objects, to prove that rejected uploads leave nothing behind.
            (Method::Get, ["counts", username]) => {
                let counts = sql::counts(&self.db, username)
                    .await?
                    .ok_or(ApiError::NotFound)?;
                let objects = self.blobs.list(&keys::owner_prefix(counts.id)).await?.len();
                Ok(Response::json(
                    200,
                    &json!({"pictures": counts.pictures, "links": counts.links, "objects": objects}),
                ))
            }
            // Moves a link's expiry into the past, as if its time had run out.
            (Method::Post, ["links", id, "expire"]) => {
                let n = sql::expire_link(&self.db, id, self.now_ms() - 1).await?;
                Ok(Response::json(200, &json!({ "updated": n })))
            }
            // Inserts `count` already-expired links to a picture, for the cron test and bench.
            (Method::Post, ["links", "expired", picture_id, count]) => {
                let count: i64 = count.parse().map_err(|_| ApiError::NotFound)?;
                let n =
                    sql::insert_expired_links(&self.db, picture_id, count, self.now_ms()).await?;
                Ok(Response::json(200, &json!({ "inserted": n })))
            }
            // Inserts `count` picture rows (no R2 objects) for a user, for the list benchmark.
            (Method::Post, ["pictures", "bulk", username, count]) => {
                let count: i64 = count.parse().map_err(|_| ApiError::NotFound)?;
                let n = sql::insert_pictures(&self.db, username, count, self.now_ms()).await?;
                Ok(Response::json(200, &json!({ "inserted": n })))
            }
            // Runs what the cron runs and says what it did (the real trigger is /__scheduled).
            (Method::Post, ["sweep"]) => Ok(Response::json(
                200,
                &maintenance::run_scheduled(&self.db, &self.blobs, self.now_ms()).await?,
            )),
            // A bug's panic in the middle of an upload (1 MiB of the budget reserved), for the
            // test that the next request gets a new wasm instance, not this one's leftovers.
            (Method::Post, ["panic"]) => {
                let _reservation = self.isolate.budget.reserve(1 << 20);
                panic_as_a_bug_would()
            }
            _ => Err(ApiError::NotFound),
        }
    }
}

/// Panics: the wasm instance aborts, and every request in flight in the isolate fails with it.
#[allow(clippy::panic)]
fn panic_as_a_bug_would() -> ! {
    panic!("POST /__test/panic")
}
