//! The one error type at the HTTP edge, and the one place that maps it to status codes and JSON.

use crate::domain::FieldErrors;
use crate::http::Response;
use crate::observability::{logs, Trace};
use crate::passwords::PasswordError;
use crate::ports::StoreError;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is well-formed HTTP but some fields are invalid.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// 401: no credentials, or credentials that are not valid now.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 403: authenticated, but the caller (or their tier) may not do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 404: unknown, or not the caller's (never reveal which).
    #[error("not found")]
    NotFound,
    /// 405: the path exists but not with this method; `allow` lists the methods it has.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    /// 408: the body arrived slower than the service waits for; nothing was kept.
    #[error("request timeout: {0}")]
    Timeout(&'static str),
    /// 409: the request conflicts with stored state (a tier still in use, a taken name).
    #[error("conflict: {0}")]
    Conflict(String),
    /// 413: the body or the image is larger than the configured limits.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// 429: too many failed attempts; retry after this many seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: i64 },
    /// 503: a dependency (D1) is unreachable; used by the health check.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 503: the isolate's memory budget is taken by requests in flight; retry shortly.
    #[error("busy: {0}")]
    Busy(&'static str),
    /// 500: anything else. The cause is logged and never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A store failure the handler did not map to something the client can act on (a conflict it
/// expected is mapped where it is expected) is an internal error.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// Hashing or checking a password failed in the runtime: nothing the client can act on.
impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// Invalid fields are a 400 listing them.
impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        ApiError::Validation(errors)
    }
}

/// Seconds a client should wait before retrying a 503 `Busy`.
pub const BUSY_RETRY_AFTER_SECS: u32 = 2;

impl ApiError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Validation(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Timeout(_) => 408,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Unavailable(_) | ApiError::Busy(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    /// The answer to the client: a JSON body (`{"detail": ...}` or the fields' messages) with,
    /// inside a request, its id (`"request_id"`, the id its log lines carry), and the headers
    /// the status needs.
    pub fn into_response(self) -> Response {
        let status = self.status();
        let detail = |text: &str| json!({ "detail": text });
        let mut headers: Vec<(&str, String)> = Vec::new();
        let body = match self {
            ApiError::Validation(errors) => Value::Object(errors.into_map()),
            ApiError::Unauthorized(text) => {
                headers.push(("www-authenticate", "Bearer realm=\"api\"".into()));
                detail(text)
            }
            ApiError::Forbidden(text) => detail(text),
            ApiError::NotFound => detail("Not found."),
            ApiError::MethodNotAllowed { allow } => {
                headers.push(("allow", allow));
                detail("Method not allowed.")
            }
            ApiError::Conflict(text) | ApiError::PayloadTooLarge(text) => detail(&text),
            ApiError::TooManyRequests { retry_after_secs } => {
                headers.push(("retry-after", retry_after_secs.to_string()));
                detail(&format!(
                    "Too many failed attempts. Try again in {retry_after_secs} seconds."
                ))
            }
            ApiError::Timeout(text) => {
                headers.push(("connection", "close".to_string()));
                detail(text)
            }
            ApiError::Unavailable(cause) => {
                log(&format!("service unavailable: {cause}"));
                detail("Service unavailable.")
            }
            ApiError::Busy(text) => {
                headers.push(("retry-after", BUSY_RETRY_AFTER_SECS.to_string()));
                detail(text)
            }
            ApiError::Internal(cause) => {
                log(&format!("internal error: {cause}"));
                detail("Internal server error.")
            }
        };
        let mut body = logs::object(body);
        if let Some(trace) = Trace::current() {
            body.insert("request_id".into(), trace.id.clone().into());
        }
        headers
            .into_iter()
            .fold(Response::json(status, &body), |response, (name, value)| {
                response.with_header(name, &value)
            })
    }
}

/// Logs an internal cause at error level, as a structured line that carries the request's id.
pub fn log(message: &str) {
    logs::error(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_are_400_with_a_list_per_field() {
        let mut errors = FieldErrors::single("username", "This field is required.");
        errors.add("password", "Too short.");
        let response = ApiError::Validation(errors).into_response();
        assert_eq!(response.status, 400);
        assert_eq!(
            response.json_body(),
            json!({"username": ["This field is required."], "password": ["Too short."]})
        );
    }

    #[test]
    fn unauthorized_is_401_with_detail_and_a_bearer_challenge() {
        let response = ApiError::Unauthorized("Token is expired.").into_response();
        assert_eq!(response.status, 401);
        assert_eq!(response.json_body(), json!({"detail": "Token is expired."}));
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer realm=\"api\"")
        );
    }

    #[test]
    fn forbidden_is_403_with_detail() {
        let response = ApiError::Forbidden("Nope.").into_response();
        assert_eq!(
            (response.status, response.json_body()),
            (403, json!({"detail": "Nope."}))
        );
    }

    #[test]
    fn not_found_is_404_and_says_nothing_more() {
        let response = ApiError::NotFound.into_response();
        assert_eq!(
            (response.status, response.json_body()),
            (404, json!({"detail": "Not found."}))
        );
    }

    #[test]
    fn method_not_allowed_is_405_with_allow() {
        let response = ApiError::MethodNotAllowed {
            allow: "GET, HEAD, OPTIONS".into(),
        }
        .into_response();
        assert_eq!(response.status, 405);
        assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
    }

    #[test]
    fn busy_is_503_with_retry_after_and_a_detail() {
        let response = ApiError::Busy("Too many uploads at once.").into_response();
        assert_eq!(response.status, 503);
        assert_eq!(response.header("retry-after"), Some("2"));
        assert_eq!(
            response.json_body(),
            json!({"detail": "Too many uploads at once."})
        );
    }

    #[test]
    fn conflict_is_409() {
        let response = ApiError::Conflict("in use".into()).into_response();
        assert_eq!(
            (response.status, response.json_body()),
            (409, json!({"detail": "in use"}))
        );
    }

    #[test]
    fn payload_too_large_is_413() {
        assert_eq!(
            ApiError::PayloadTooLarge("big".into())
                .into_response()
                .status,
            413
        );
    }

    #[test]
    fn too_many_requests_is_429_with_retry_after() {
        let response = ApiError::TooManyRequests {
            retry_after_secs: 42,
        }
        .into_response();
        assert_eq!(response.status, 429);
        assert_eq!(response.header("retry-after"), Some("42"));
    }

    #[test]
    fn unavailable_is_503_without_the_cause() {
        let response = ApiError::Unavailable("D1 down at 10.0.0.1".into()).into_response();
        assert_eq!(response.status, 503);
        assert!(!String::from_utf8_lossy(&response.body).contains("10.0.0.1"));
    }

    #[test]
    fn inside_a_request_the_body_carries_its_id_and_the_cause_is_logged_with_it() {
        use crate::observability::{in_scope, logs::capture};
        let captured = capture::start();
        let clock = std::rc::Rc::new(crate::fakes::TestClock(std::cell::Cell::new(0)));
        let trace = Trace::start("req-7".into(), clock);
        let response = futures_executor::block_on(in_scope(Some(trace), async {
            ApiError::internal("disk on fire").into_response()
        }));
        assert_eq!(
            response.json_body(),
            json!({"detail": "Internal server error.", "request_id": "req-7"})
        );
        let line = &captured.lines()[0];
        assert_eq!(
            (&line["level"], &line["request_id"], &line["message"]),
            (
                &json!("error"),
                &json!("req-7"),
                &json!("internal error: disk on fire")
            )
        );
    }

    #[test]
    fn internal_errors_are_opaque_500s() {
        let response = ApiError::internal("secret table name").into_response();
        assert_eq!(response.status, 500);
        assert_eq!(
            response.json_body(),
            json!({"detail": "Internal server error."})
        );
    }
}
