//! The application: its ports, the one route table, and authentication.

use crate::config::Config;
use crate::error::{ApiError, FieldErrors};
use crate::http::{Body, Method, Request, Response};
use crate::ports::{BlobStore, Clock, Database, EdgeCache, Kdf, Statement};
use crate::tokens::{self, TokenType};
use crate::users::{self, User};
use serde_json::{json, Value};

/// The concrete ports of one runtime: Workers bindings, or in-memory fakes in tests.
pub trait Platform {
    type Db: Database;
    type Blobs: BlobStore;
    type Cache: EdgeCache;
    type Clock: Clock;
    type Kdf: Kdf;
}

pub struct App<P: Platform> {
    pub db: P::Db,
    pub blobs: P::Blobs,
    pub cache: P::Cache,
    pub clock: P::Clock,
    pub kdf: P::Kdf,
    pub config: Config,
    /// Test-only endpoints under `/__test/`: set only by `wrangler dev` runs of the test suite
    /// (see `worker_glue.rs`), never on a deployed Worker.
    pub test_hooks: bool,
}

impl<P: Platform> App<P> {
    /// Answers one request. Errors become JSON responses here, and only here.
    pub async fn handle(&self, request: Request) -> Response {
        self.route(&request)
            .await
            .unwrap_or_else(ApiError::into_response)
    }

    async fn route(&self, req: &Request) -> Result<Response, ApiError> {
        let segments = path_segments(&req.path).ok_or(ApiError::NotFound)?;
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        use Method::*;
        match (req.method, segments.as_slice()) {
            (Get | Head, ["api", "health"]) => self.health().await,
            (Post, ["api", "token"]) => self.obtain_tokens(req).await,
            (Post, ["api", "token", "refresh"]) => self.refresh_token(req).await,

            (Get, ["api", "admin", "tiers"]) => self.list_tiers(req).await,
            (Post, ["api", "admin", "tiers"]) => self.create_tier(req).await,
            (Get, ["api", "admin", "tiers", name]) => self.get_tier(req, name).await,
            (Patch, ["api", "admin", "tiers", name]) => self.update_tier(req, name).await,
            (Delete, ["api", "admin", "tiers", name]) => self.delete_tier(req, name).await,
            (Get, ["api", "admin", "users"]) => self.list_users(req).await,
            (Post, ["api", "admin", "users"]) => self.create_user(req).await,
            (Get, ["api", "admin", "users", name]) => self.get_user(req, name).await,
            (Patch, ["api", "admin", "users", name]) => self.update_user(req, name).await,
            (Delete, ["api", "admin", "users", name]) => self.delete_user(req, name).await,

            (Get, ["api", "pictures"]) => self.list_pictures(req).await,
            (Post, ["api", "pictures"]) => self.upload_picture(req).await,
            (Get, ["api", "pictures", "shared"]) => self.list_links(req).await,
            (Get | Head, ["api", "picture", id]) => self.read_original(req, id).await,
            (Post, ["api", "picture", id]) => self.create_link(req, id).await,
            (Delete, ["api", "picture", id]) => self.delete_picture(req, id).await,
            (Get | Head, ["api", "picture", id, height]) => {
                self.read_thumbnail(req, id, height).await
            }
            (Get | Head, ["api", "timelink", id]) => self.serve_link(req, id).await,
            (Delete, ["api", "timelink", id]) => self.revoke_link(req, id).await,

            (_, ["__test", rest @ ..]) if self.test_hooks => self.test_hook(req, rest).await,

            (_, path) if is_known_path(path) => Err(ApiError::MethodNotAllowed),
            _ => Err(ApiError::NotFound),
        }
    }

    /// `GET /api/health`: the version, or 503 when D1 does not answer.
    async fn health(&self) -> Result<Response, ApiError> {
        #[derive(serde::Deserialize)]
        struct One {
            #[allow(dead_code)]
            ok: i64,
        }
        self.db
            .query::<One>(Statement::new("SELECT 1 AS ok"))
            .await
            .map_err(|e| ApiError::Unavailable(e.0))?;
        Ok(Response::json(
            200,
            &json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
        ))
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The verified claims of the request's access token (no database access).
    pub fn access_claims(&self, req: &Request) -> Result<tokens::Claims, ApiError> {
        let token = tokens::bearer(req.header("authorization"))?;
        tokens::verify(&self.config, token, TokenType::Access, self.now_ms())
    }

    /// The user behind the request's access token; 401 if there is none or it was deleted.
    pub async fn authenticate(&self, req: &Request) -> Result<User, ApiError> {
        let claims = self.access_claims(req)?;
        users::find_by_id(&self.db, claims.user_id)
            .await?
            .ok_or(ApiError::Unauthorized("User not found."))
    }

    /// Like `authenticate`, and 403 unless the user is an admin.
    pub async fn authenticate_admin(&self, req: &Request) -> Result<User, ApiError> {
        let user = self.authenticate(req).await?;
        if !user.is_admin {
            return Err(ApiError::Forbidden(
                "You do not have permission to perform this action.",
            ));
        }
        Ok(user)
    }
}

/// The JSON object of a request body; 400 with a message when it is not one.
pub fn json_object(req: &Request) -> Result<serde_json::Map<String, Value>, ApiError> {
    let invalid = |msg: &str| ApiError::Validation(FieldErrors::single("non_field_errors", msg));
    let Body::Bytes(bytes) = &req.body else {
        return Err(invalid("Expected a JSON object."));
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("Expected a JSON object.")),
        Err(e) => Err(invalid(&format!("JSON parse error: {e}"))),
    }
}

/// Path segments, percent-decoded, ignoring one trailing slash; `None` for an undecodable path.
fn path_segments(path: &str) -> Option<Vec<String>> {
    let trimmed = path.strip_prefix('/')?;
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    trimmed.split('/').map(percent_decode_segment).collect()
}

fn percent_decode_segment(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn is_known_path(path: &[&str]) -> bool {
    matches!(
        path,
        ["api", "health"]
            | ["api", "token"]
            | ["api", "token", "refresh"]
            | ["api", "admin", "tiers" | "users"]
            | ["api", "admin", "tiers" | "users", _]
            | ["api", "pictures"]
            | ["api", "pictures", "shared"]
            | ["api", "picture", _]
            | ["api", "picture", _, _]
            | ["api", "timelink", _]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_ignore_one_trailing_slash_and_decode_escapes() {
        assert_eq!(path_segments("/api/token/").unwrap(), ["api", "token"]);
        assert_eq!(path_segments("/api/token").unwrap(), ["api", "token"]);
        assert_eq!(
            path_segments("/api/admin/tiers/Gold%20Plus").unwrap(),
            ["api", "admin", "tiers", "Gold Plus"]
        );
        assert!(path_segments("/api/admin/tiers/%zz").is_none());
    }
}
