//! Keyset pagination for lists: `limit` and an opaque `cursor` in, a `Link: rel="next"` out.

use crate::domain::FieldErrors;
use crate::error::ApiError;
use crate::http::{Request, Response};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::Value;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

/// A page position: the (created_at, id) of the last item shown, opaque to clients.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub created_at: i64,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.created_at, self.id))
    }

    pub fn decode(s: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        let (created_at, id) = raw.split_once(':')?;
        Some(Self {
            created_at: created_at.parse().ok()?,
            id: id.to_owned(),
        })
    }

    /// The store's form of a position.
    pub fn as_after(&self) -> (i64, &str) {
        (self.created_at, self.id.as_str())
    }
}

/// `limit` and `cursor` from the query string; 400 for values that are not valid.
pub fn params<I>(req: &Request<I>) -> Result<(u32, Option<Cursor>), ApiError> {
    let mut errors = FieldErrors::new();
    let limit = match req.query_param("limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                errors.add(
                    "limit",
                    format!("Must be an integer from 1 to {MAX_PAGE_SIZE}."),
                );
                0
            }
        },
    };
    let cursor = match req.query_param("cursor") {
        None => None,
        Some(s) => {
            let cursor = Cursor::decode(&s);
            if cursor.is_none() {
                errors.add("cursor", "Invalid cursor.");
            }
            cursor
        }
    };
    errors.into_result()?;
    Ok((limit, cursor))
}

/// A JSON array response with a `Link: <...>; rel="next"` header when there is a next page.
/// `items` holds up to `limit + 1` rows: the extra one only signals that a next page exists.
/// `path` may carry a query of its own (a filter the next page keeps).
pub fn response<T>(
    path: &str,
    limit: u32,
    mut items: Vec<T>,
    cursor_of: impl Fn(&T) -> Cursor,
    to_json: impl Fn(&T) -> Value,
) -> Response {
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let body: Vec<Value> = items.iter().map(to_json).collect();
    let mut response = Response::json(200, &body);
    if let (true, Some(last)) = (has_more, items.last()) {
        let separator = if path.contains('?') { '&' } else { '?' };
        let next = format!(
            "<{path}{separator}limit={limit}&cursor={}>; rel=\"next\"",
            cursor_of(last).encode()
        );
        response = response.with_header("link", &next);
    }
    response
}

/// `value` as a query-string value: everything but unreserved characters percent-encoded.
pub fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = Cursor {
            created_at: 1_700_000_000_123,
            id: "id-1".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not base64!"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("x:y")), None);
    }

    #[test]
    fn query_values_are_percent_encoded_but_unreserved_characters() {
        assert_eq!(query_value("a_b.c-d~e"), "a_b.c-d~e");
        assert_eq!(query_value("a&b=c d%é"), "a%26b%3Dc%20d%25%C3%A9");
    }
}
