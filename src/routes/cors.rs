//! Cross-origin requests: an allow-list of origins (`CORS_ALLOWED_ORIGINS`, empty by default, so
//! no cross-origin caller is allowed). Credentials are never allowed: callers from another origin
//! send `Authorization: Bearer`, never the session cookie.

use crate::config::Config;
use crate::http::{Request, Response};

const ALLOWED_HEADERS: &str = "authorization, content-type, if-none-match, x-d1-bookmark";
/// What a script of an allowed origin may read; `Server-Timing` is readable through
/// `Timing-Allow-Origin` instead.
const EXPOSED_HEADERS: &str = "etag, link, retry-after, x-d1-bookmark, x-request-id";
/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

/// The request's `Origin` if the allow-list admits it.
fn allowed_origin<'r, I>(config: &Config, req: &'r Request<I>) -> Option<&'r str> {
    let origin = req.header("origin")?;
    config
        .cors_allowed_origins
        .iter()
        .any(|allowed| allowed == "*" || allowed == origin)
        .then_some(origin)
}

/// Adds the CORS headers of an actual (non-preflight) response.
pub fn decorate<B, I>(config: &Config, req: &Request<I>, response: &mut Response<B>) {
    if config.cors_allowed_origins.is_empty() {
        return;
    }
    // The answer depends on Origin whenever a list exists, allowed or not.
    let vary = match response.header("vary") {
        Some(v) if !v.to_ascii_lowercase().contains("origin") => format!("{v}, Origin"),
        Some(v) => v.to_owned(),
        None => "Origin".to_owned(),
    };
    response.set_header("vary", &vary);
    if let Some(origin) = allowed_origin(config, req) {
        response.set_header("access-control-allow-origin", origin);
        response.set_header("access-control-expose-headers", EXPOSED_HEADERS);
        response.set_header("timing-allow-origin", origin);
    }
}

/// The answer to `OPTIONS` on a known path: its methods, and for an allowed origin's preflight
/// what it may send.
pub fn preflight<I>(config: &Config, req: &Request<I>, allow: &str) -> Response {
    let mut response = Response::no_content().with_header("allow", allow);
    if allowed_origin(config, req).is_some()
        && req.header("access-control-request-method").is_some()
    {
        response = response
            .with_header("access-control-allow-methods", allow)
            .with_header("access-control-allow-headers", ALLOWED_HEADERS)
            .with_header(
                "access-control-max-age",
                &PREFLIGHT_MAX_AGE_SECS.to_string(),
            );
    }
    response
}
