//! The application over one runtime's ports, the one route table, and what every response
//! carries.
//!
//! `Route::resolve` is the route table. Each route lists its methods once; dispatch, the 405
//! `Allow` header, `HEAD` and CORS preflights all derive from that list.
//!
//! Every request runs inside its `Trace` (`observability`): the ports are `Timed`, and `handle`
//! ends each answer with its request id, its `Server-Timing` and one log line.

pub mod accounts;
mod admin;
pub mod auth;
mod cors;
mod health;
mod json;
mod links;
mod media;
pub mod pagination;
mod pictures;
#[cfg(feature = "test-hooks")]
mod test_hooks;

use crate::config::Config;
use crate::domain::ids::{LinkId, PictureId};
use crate::domain::tiers::{ThumbnailHeight, TierName};
use crate::domain::FieldErrors;
use crate::error::ApiError;
use crate::http::{Method, Payload, ReadError, Request, Response};
use crate::memory::Isolate;
use crate::observability::logs::RequestLine;
use crate::observability::timed::Timed;
use crate::observability::{self, Trace, REQUEST_ID_HEADER};
use crate::ports::{Clock, Database, Platform, SessionStart};
use json::Fields;
use serde_json::{Map, Value};
use std::rc::Rc;

/// The ports are `Timed`, so each request's trace learns where its time went.
pub struct App<P: Platform> {
    pub db: Timed<P::Db>,
    pub blobs: Timed<P::Blobs>,
    pub cache: Timed<P::Cache>,
    pub clock: Rc<P::Clock>,
    pub kdf: P::Kdf,
    pub config: Config,
    /// What the whole isolate shares: the memory budget and the gauge.
    pub isolate: Rc<Isolate>,
    /// Test-only endpoints under `/__test/`: compiled only with the `test-hooks` feature, and
    /// then on only when `wrangler dev` of the test suite sets `ENABLE_TEST_HOOKS`.
    pub test_hooks: bool,
}

/// Where a request goes: one variant per path, each with its methods.
#[derive(Debug, Clone, PartialEq)]
enum Route {
    Health,
    Token,
    TokenRefresh,
    Session,
    SessionRefresh,
    Me,
    Tiers,
    Tier(Option<TierName>),
    Users,
    User(String),
    Pictures,
    SharedLinks,
    // `None`: a segment that names nothing, a 404 once the caller is known (`named`).
    Picture(Option<PictureId>),
    Thumbnail(Option<PictureId>, Option<ThumbnailHeight>),
    Timelink(Option<LinkId>),
    #[cfg(feature = "test-hooks")]
    TestHook(Vec<String>),
}

impl Route {
    /// The route table.
    fn resolve(path: &str) -> Option<Route> {
        let segments = path_segments(path)?;
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        Some(match segments.as_slice() {
            ["api", "health"] => Route::Health,
            ["api", "token"] => Route::Token,
            ["api", "token", "refresh"] => Route::TokenRefresh,
            ["api", "session"] => Route::Session,
            ["api", "session", "refresh"] => Route::SessionRefresh,
            ["api", "me"] => Route::Me,
            ["api", "admin", "tiers"] => Route::Tiers,
            ["api", "admin", "tiers", name] => Route::Tier(TierName::parse(name).ok()),
            ["api", "admin", "users"] => Route::Users,
            ["api", "admin", "users", name] => Route::User((*name).to_owned()),
            ["api", "pictures"] => Route::Pictures,
            ["api", "pictures", "shared"] => Route::SharedLinks,
            ["api", "picture", id] => Route::Picture(PictureId::parse(id)),
            ["api", "picture", id, height] => {
                Route::Thumbnail(PictureId::parse(id), ThumbnailHeight::parse(height))
            }
            ["api", "timelink", id] => Route::Timelink(LinkId::parse(id)),
            #[cfg(feature = "test-hooks")]
            ["__test", rest @ ..] => Route::TestHook(rest.iter().map(|s| s.to_string()).collect()),
            _ => return None,
        })
    }

    /// The methods this path answers, besides HEAD (wherever GET is) and OPTIONS (everywhere).
    fn methods(&self) -> &'static [Method] {
        use Method::*;
        match self {
            Route::Health | Route::Me | Route::SharedLinks => &[Get],
            Route::Token | Route::TokenRefresh | Route::SessionRefresh => &[Post],
            Route::Session => &[Post, Delete],
            Route::Tiers | Route::Users | Route::Pictures => &[Get, Post],
            Route::Tier(_) | Route::User(_) => &[Get, Patch, Delete],
            Route::Picture(_) => &[Get, Post, Delete],
            Route::Thumbnail(..) => &[Get],
            Route::Timelink(_) => &[Get, Delete],
            #[cfg(feature = "test-hooks")]
            Route::TestHook(_) => &[Get, Post],
        }
    }

    /// The `Allow` header of this path.
    fn allow(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for method in self.methods() {
            names.push(method.as_str());
            if *method == Method::Get {
                names.push("HEAD");
            }
        }
        names.push("OPTIONS");
        names.join(", ")
    }

    /// The route's pattern, as logs name it: never the path itself, which holds ids and names.
    fn pattern(&self) -> &'static str {
        match self {
            Route::Health => "/api/health",
            Route::Token => "/api/token",
            Route::TokenRefresh => "/api/token/refresh",
            Route::Session => "/api/session",
            Route::SessionRefresh => "/api/session/refresh",
            Route::Me => "/api/me",
            Route::Tiers => "/api/admin/tiers",
            Route::Tier(_) => "/api/admin/tiers/{name}",
            Route::Users => "/api/admin/users",
            Route::User(_) => "/api/admin/users/{username}",
            Route::Pictures => "/api/pictures",
            Route::SharedLinks => "/api/pictures/shared",
            Route::Picture(_) => "/api/picture/{id}",
            Route::Thumbnail(..) => "/api/picture/{id}/{height}",
            Route::Timelink(_) => "/api/timelink/{id}",
            #[cfg(feature = "test-hooks")]
            Route::TestHook(_) => "/__test/{hook}",
        }
    }

    /// Token endpoints: their answers must never be stored anywhere.
    fn issues_tokens(&self) -> bool {
        matches!(
            self,
            Route::Token | Route::TokenRefresh | Route::Session | Route::SessionRefresh
        )
    }
}

impl<P: Platform> App<P> {
    /// Answers one request, inside its trace. Errors become JSON responses here, and only here.
    pub async fn handle(&self, req: Request<P::Incoming>) -> Response<P::Body> {
        let clock: Rc<dyn Clock> = self.clock.clone();
        let trace = Trace::start(observability::request_id(req.header("cf-ray")), clock);
        self.db.begin_session(session_start(&req));
        let route = Route::resolve(&req.path);
        // Errors are shaped inside the trace too, so the body and a logged cause carry its id.
        let answer = async {
            match &route {
                None => Err(ApiError::NotFound),
                Some(route) => self.dispatch(route, &req).await,
            }
            .unwrap_or_else(|e| body::<P>(e.into_response()))
        };
        let (mut response, mut bytes) = observability::in_scope(Some(trace.clone()), answer).await;
        finish(&self.config, route.as_ref(), &req, &mut response);
        if req.method == Method::Head {
            response.body = P::Body::from_bytes(Vec::new());
            bytes = Some(0);
        }
        if !req.method.is_safe() {
            if let Some(bookmark) = self.db.bookmark() {
                response.set_header(BOOKMARK_HEADER, &bookmark);
            }
        }
        response.set_header(REQUEST_ID_HEADER, &trace.id);
        response.set_header("server-timing", &trace.server_timing());
        RequestLine {
            method: req.method,
            route: route.as_ref().map(Route::pattern),
            status: response.status,
            bytes,
            trace: &trace,
        }
        .write();
        response
    }

    async fn dispatch(
        &self,
        route: &Route,
        req: &Request<P::Incoming>,
    ) -> Result<Answer<P>, ApiError> {
        let method = match req.method {
            Method::Head => Method::Get,
            Method::Options => {
                return Ok(body::<P>(cors::preflight(
                    &self.config,
                    req,
                    &route.allow(),
                )))
            }
            m => m,
        };
        if !route.methods().contains(&method) {
            return Err(ApiError::MethodNotAllowed {
                allow: route.allow(),
            });
        }
        use Method::*;
        let reply = match (route, method) {
            (Route::Health, _) => self.health(req).await,
            (Route::Token, _) => self.obtain_tokens(req, false).await,
            (Route::TokenRefresh, _) => self.refresh_tokens(req, false).await,
            (Route::Session, Post) => self.obtain_tokens(req, true).await,
            (Route::Session, _) => self.end_session(),
            (Route::SessionRefresh, _) => self.refresh_tokens(req, true).await,
            (Route::Me, _) => self.me(&self.caller(req).await?),

            (Route::Tiers, Get) => self.list_tiers(&self.admin(req).await?).await,
            (Route::Tiers, _) => self.create_tier(&self.admin(req).await?, req).await,
            (Route::Tier(name), Get) => self.get_tier(&self.admin(req).await?, name.as_ref()).await,
            (Route::Tier(name), Patch) => {
                self.update_tier(&self.admin(req).await?, req, name.as_ref())
                    .await
            }
            (Route::Tier(name), _) => {
                self.delete_tier(&self.admin(req).await?, name.as_ref())
                    .await
            }
            (Route::Users, Get) => self.list_users(&self.admin(req).await?, req).await,
            (Route::Users, _) => self.create_user(&self.admin(req).await?, req).await,
            (Route::User(name), Get) => self.get_user(&self.admin(req).await?, name).await,
            (Route::User(name), Patch) => {
                self.update_user(&self.admin(req).await?, req, name).await
            }
            (Route::User(name), _) => self.delete_user(&self.admin(req).await?, name).await,

            (Route::Pictures, Get) => self.list_pictures(&self.caller(req).await?, req).await,
            (Route::Pictures, _) => self.upload_picture(&self.caller(req).await?, req).await,
            (Route::SharedLinks, _) => self.list_links(&self.caller(req).await?, req).await,
            (Route::Picture(id), Get) => {
                return self
                    .read_original(&self.bearer(req)?, req, named(id)?)
                    .await
                    .map(stream::<P>)
            }
            (Route::Picture(id), Post) => {
                self.create_link(&self.caller(req).await?, req, named(id)?)
                    .await
            }
            (Route::Picture(id), _) => {
                self.delete_picture(&self.caller(req).await?, named(id)?)
                    .await
            }
            (Route::Thumbnail(id, height), _) => {
                return self
                    .read_thumbnail(&self.bearer(req)?, req, named(id)?, named(height)?)
                    .await
                    .map(stream::<P>)
            }
            (Route::Timelink(id), Get) => {
                return self.serve_link(req, named(id)?).await.map(stream::<P>)
            }
            (Route::Timelink(id), _) => {
                self.revoke_link(&self.caller(req).await?, named(id)?).await
            }
            #[cfg(feature = "test-hooks")]
            (Route::TestHook(path), _) if self.test_hooks => self.test_hook(method, path).await,
            #[cfg(feature = "test-hooks")]
            (Route::TestHook(_), _) => Err(ApiError::NotFound),
        };
        reply.map(body::<P>)
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The request's JSON object read into a value by `read` (with `json::Fields`): 400 with
    /// every field's error, as `json_object` when the body is not a JSON object.
    async fn read_json<T>(
        &self,
        req: &Request<P::Incoming>,
        read: impl FnOnce(Fields<'_>) -> Result<T, FieldErrors>,
    ) -> Result<T, ApiError> {
        let body = self.json_object(req).await?;
        Ok(read(Fields::new(&body))?)
    }

    /// The JSON object of a request body; 400 with a message when it is not one.
    async fn json_object(
        &self,
        req: &Request<P::Incoming>,
    ) -> Result<Map<String, Value>, ApiError> {
        let invalid =
            |msg: &str| ApiError::Validation(FieldErrors::single("non_field_errors", msg));
        let bytes = req.read_body(MAX_JSON_BYTES).await.map_err(|e| match e {
            ReadError::TooLarge => ApiError::PayloadTooLarge(format!(
                "JSON bodies are limited to {MAX_JSON_BYTES} bytes."
            )),
            ReadError::TimedOut => ApiError::Timeout("The request body arrived too slowly."),
            ReadError::Failed(cause) => ApiError::internal(cause),
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(invalid("Expected a JSON object.")),
            Err(e) => Err(invalid(&format!("JSON parse error: {e}"))),
        }
    }
}

/// What a path segment names; a segment that names nothing is a 404. Called after the caller is
/// authenticated, so an anonymous request learns nothing from the path.
fn named<T: Copy>(segment: &Option<T>) -> Result<T, ApiError> {
    segment.ok_or(ApiError::NotFound)
}

/// D1 read replication: a write answers where its session got to, and a read that sends it back
/// starts there, so a client sees its own changes.
pub const BOOKMARK_HEADER: &str = "x-d1-bookmark";

/// Where a request's D1 session starts. A change starts at the primary, so it is authorized and
/// made against the newest state whatever bookmark it carries (an old one cannot revive a revoked
/// token). A read starts at the client's bookmark when it sends one, else at the nearest replica.
fn session_start<I>(req: &Request<I>) -> SessionStart {
    if !req.method.is_safe() {
        return SessionStart::Primary;
    }
    match req.header(BOOKMARK_HEADER) {
        // D1 writes bookmarks in hex and dashes; anything else would only fail the first query.
        Some(b)
            if (1..=128).contains(&b.len())
                && b.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') =>
        {
            SessionStart::Bookmark(b.to_owned())
        }
        _ => SessionStart::Unconstrained,
    }
}

/// The largest JSON body any endpoint reads.
pub const MAX_JSON_BYTES: u64 = 64 * 1024;

/// A response, and its body's length when the body was made in wasm (for the log line).
type Answer<P> = (Response<<P as Platform>::Body>, Option<u64>);

/// A response made in wasm, handed to the runtime.
fn body<P: Platform>(response: Response) -> Answer<P> {
    let length = response.body.len() as u64;
    (response.map_body(P::Body::from_bytes), Some(length))
}

/// A response whose body the runtime holds (an image from R2 or the cache): its length is not
/// known to wasm.
fn stream<P: Platform>(response: Response<P::Body>) -> Answer<P> {
    (response, None)
}

/// What a browser may do with an API answer opened on its own (a JSON body, an image, a share
/// link): run nothing, load nothing, be framed by no page; `sandbox` gives it an origin of its
/// own. Inline style only, which a browser's own image viewer uses to lay an image out. The web
/// app's pages have their own policy (`web/public/_headers`).
const API_CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox";

/// What every response carries: `nosniff`, the policy above and no `Referer` to follow its
/// links, a `Cache-Control` (token answers are never stored, other JSON stays private and
/// unstored), and CORS headers for an allowed origin.
fn finish<B, I>(
    config: &Config,
    route: Option<&Route>,
    req: &Request<I>,
    response: &mut Response<B>,
) {
    response.set_header("x-content-type-options", "nosniff");
    response.set_header("content-security-policy", API_CONTENT_SECURITY_POLICY);
    response.set_header("referrer-policy", "no-referrer");
    if response.header("cache-control").is_none() {
        let policy = if route.is_some_and(Route::issues_tokens) {
            "no-store"
        } else {
            "private, no-store"
        };
        response.set_header("cache-control", policy);
    }
    cors::decorate(config, req, response);
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

    #[test]
    fn changes_start_at_the_primary_and_reads_at_their_bookmark_or_anywhere() {
        let with = |method, bookmark: &str| {
            session_start(&Request::new(method, "/x").with_header(BOOKMARK_HEADER, bookmark))
        };
        assert_eq!(with(Method::Delete, "0000-00a1"), SessionStart::Primary);
        assert_eq!(with(Method::Post, "0000-00a1"), SessionStart::Primary);
        assert_eq!(
            with(Method::Get, "0000-00a1"),
            SessionStart::Bookmark("0000-00a1".into())
        );
        assert_eq!(with(Method::Head, "x y"), SessionStart::Unconstrained);
        assert_eq!(
            session_start(&Request::new(Method::Get, "/x")),
            SessionStart::Unconstrained
        );
    }

    #[test]
    fn allow_lists_head_with_get_and_always_options() {
        assert_eq!(Route::Pictures.allow(), "GET, HEAD, POST, OPTIONS");
        assert_eq!(Route::Token.allow(), "POST, OPTIONS");
        assert_eq!(
            Route::resolve("/api/picture/x/200").map(|r| r.allow()),
            Some("GET, HEAD, OPTIONS".to_owned())
        );
    }
}
