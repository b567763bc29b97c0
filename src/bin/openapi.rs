//! Prints the OpenAPI 3.1 document of the storagetiers API as JSON: `cargo run --bin openapi`.
//! scripts/build-web writes it to build/web/api/openapi.json, served at GET /api/openapi.json.
//!
//! Every limit, format and name in it comes from the constant the Worker enforces, so the
//! document cannot drift from the code; the web app reads the same figures from the
//! `x-storagetiers-limits` object at its root. Kept true by tests/api/contract.rs (every
//! response the HTTP tests receive is checked against it) and by schemathesis in scripts/test.
//!
//! Written by hand with `serde_json` rather than derived (utoipa and the like): the route table
//! (`routes::Route::resolve`) is a `match` on path segments and the handlers take raw requests,
//! so a derive would need annotations on every handler and domain type for a document this
//! one file states plainly, and would put a proc-macro dependency in the Worker's build.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use imaging::Format;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};
use storagetiers::config::{DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_UPLOAD_BYTES};
use storagetiers::domain::links::LinkLifetime;
use storagetiers::domain::pictures::MAX_PICTURE_NAME_CHARS;
use storagetiers::domain::tiers::{
    MAX_HEIGHTS_PER_TIER, MAX_THUMBNAIL_HEIGHT, MAX_TIER_NAME_CHARS,
};
use storagetiers::domain::users::{MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, MIN_PASSWORD_CHARS};
use storagetiers::observability::REQUEST_ID_HEADER;
use storagetiers::routes::auth::SESSION_COOKIE;
use storagetiers::routes::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use storagetiers::routes::BOOKMARK_HEADER;
use storagetiers::store::login_failures::{FAILURE_WINDOW_MS, MAX_FAILURES};

/// Whether the format is decoded as it streams in (`imaging::Thumbnailer`), so that only the
/// upload limit bounds its file; every other format is decoded from one buffer.
fn is_streamed(format: Format) -> bool {
    format.streams()
}

/// The largest file of a format decoded from one buffer (the upload limit still applies).
const BUFFERED_FILE_MAX_BYTES: u64 = if imaging::BUFFERED_MAX_BYTES < DEFAULT_MAX_UPLOAD_BYTES {
    imaging::BUFFERED_MAX_BYTES
} else {
    DEFAULT_MAX_UPLOAD_BYTES
};

/// The largest file of a format.
fn format_max_bytes(format: Format) -> u64 {
    if is_streamed(format) {
        DEFAULT_MAX_UPLOAD_BYTES
    } else {
        BUFFERED_FILE_MAX_BYTES
    }
}

/// "JPEG, PNG or WebP".
fn or_list(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

/// "JPEG, PNG, WebP, GIF, BMP or TIFF".
fn format_list() -> String {
    Format::ACCEPTED.to_owned()
}

fn content_types() -> Vec<&'static str> {
    Format::ALL.iter().map(|f| f.content_type()).collect()
}

/// 100000000 -> "100 MB", 50331648 -> "48 MiB": as the README and the error messages say them.
fn bytes_text(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n.is_multiple_of(1_000_000) {
        format!("{} MB", n / 1_000_000)
    } else {
        format!("{n} bytes")
    }
}

/// 100000000 -> "100 MP".
fn pixels_text(n: u64) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{} MP", n / 1_000_000)
    } else {
        format!("{n} pixels")
    }
}

/// The upload rules in one sentence: "JPEG or PNG up to MAX_UPLOAD_BYTES (100 MB) and
/// MAX_IMAGE_PIXELS (100 MP), streamed; WebP, GIF, BMP or TIFF up to 48 MiB".
fn upload_limits_text() -> String {
    let names = |streamed: bool| -> Vec<&str> {
        Format::ALL
            .iter()
            .filter(|f| is_streamed(**f) == streamed)
            .map(|f| f.name())
            .collect()
    };
    let buffered = names(false);
    let mut text = format!(
        "{} up to MAX_UPLOAD_BYTES ({}) and MAX_IMAGE_PIXELS ({}), streamed",
        or_list(&names(true)),
        bytes_text(DEFAULT_MAX_UPLOAD_BYTES),
        pixels_text(DEFAULT_MAX_IMAGE_PIXELS)
    );
    if !buffered.is_empty() {
        text += &format!(
            "; {} up to {}",
            or_list(&buffered),
            bytes_text(BUFFERED_FILE_MAX_BYTES)
        );
    }
    text
}

/// What the web app shows and checks before it sends anything: the defaults the Worker
/// enforces (a deployment that overrides MAX_UPLOAD_BYTES or MAX_IMAGE_PIXELS still refuses
/// by its own figures, and its 413 says them).
fn limits() -> Value {
    json!({
        "upload": {
            "max_bytes": DEFAULT_MAX_UPLOAD_BYTES,
            "max_pixels": DEFAULT_MAX_IMAGE_PIXELS,
            "name_max_chars": MAX_PICTURE_NAME_CHARS,
            "formats": Format::ALL.iter().map(|f| json!({
                "name": f.name(),
                "content_type": f.content_type(),
                "max_bytes": format_max_bytes(*f),
            })).collect::<Vec<_>>(),
        },
        "link_lifetime_secs": { "min": LinkLifetime::MIN, "max": LinkLifetime::MAX },
        "thumbnail_height": { "min": 1, "max": MAX_THUMBNAIL_HEIGHT },
        "heights_per_tier": MAX_HEIGHTS_PER_TIER,
        "tier_name_max_chars": MAX_TIER_NAME_CHARS,
        "username_max_chars": MAX_USERNAME_CHARS,
        "password_chars": { "min": MIN_PASSWORD_CHARS, "max": MAX_PASSWORD_CHARS },
    })
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn header_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/headers/{name}") })
}

/// `{"401": {"$ref": "#/components/responses/E401"}, ...}`.
fn errors(codes: &[u16]) -> Map<String, Value> {
    codes
        .iter()
        .map(|code| {
            (
                code.to_string(),
                json!({ "$ref": format!("#/components/responses/E{code}") }),
            )
        })
        .collect()
}

/// `base` (an object) with `more`'s entries added.
fn merged(mut base: Value, more: Map<String, Value>) -> Value {
    if let Value::Object(map) = &mut base {
        map.extend(more);
    }
    base
}

/// HEAD answers carry the status and headers of GET, without a body.
fn head_errors(codes: &[u16]) -> Map<String, Value> {
    codes
        .iter()
        .map(|code| {
            let mut answer = json!({ "description": "As GET, without a body." });
            if *code == 503 {
                answer["headers"] = json!({ "Retry-After": header_ref("RetryAfterOptional") });
            }
            (code.to_string(), answer)
        })
        .collect()
}

fn thumbnail_height_schema() -> Value {
    json!({ "type": "integer", "minimum": 1, "maximum": MAX_THUMBNAIL_HEIGHT })
}

fn link_lifetime_schema() -> Value {
    json!({ "type": "integer", "minimum": LinkLifetime::MIN, "maximum": LinkLifetime::MAX })
}

fn page_params() -> Vec<Value> {
    vec![
        json!({ "name": "limit", "in": "query", "required": false,
            "description": format!("Page size, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."),
            "schema": { "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE } }),
        json!({ "name": "cursor", "in": "query", "required": false,
            "description": "Opaque position from the `Link` header of the previous page.",
            "schema": { "type": "string" } }),
    ]
}

fn picture_id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true,
        "description": "Picture id (a UUID; anything else is 404).",
        "schema": { "type": "string", "format": "uuid" } })
}

fn link_id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": "Link id (a UUID).",
        "schema": { "type": "string", "format": "uuid" } })
}

fn tier_name_param() -> Value {
    json!({ "name": "name", "in": "path", "required": true, "description": "Tier name.",
        "schema": { "type": "string", "minLength": 1, "maxLength": MAX_TIER_NAME_CHARS, "pattern": "^[^/]+$" } })
}

/// Usernames as `domain::users::Username` accepts them (Django's rule: letters, digits, `@.+-_`).
const USERNAME_PATTERN: &str = "^[\\w.@+-]+$";

fn username_param() -> Value {
    json!({ "name": "username", "in": "path", "required": true, "description": "Username.",
        "schema": { "type": "string", "minLength": 1, "maxLength": MAX_USERNAME_CHARS, "pattern": USERNAME_PATTERN } })
}

fn if_none_match() -> Value {
    json!({ "name": "If-None-Match", "in": "header", "required": false,
        "description": "An ETag from an earlier answer.", "schema": { "type": "string" } })
}

fn image_responses(head_only: bool) -> Map<String, Value> {
    let mut ok = json!({
        "description": "The image bytes, with their own content type.",
        "headers": { "ETag": header_ref("ETag"), "Cache-Control": header_ref("CacheControlPrivate") },
    });
    if !head_only {
        let content: Map<String, Value> = content_types()
            .into_iter()
            .map(|t| {
                (
                    t.to_owned(),
                    json!({ "schema": { "type": "string", "contentMediaType": t } }),
                )
            })
            .collect();
        ok["content"] = Value::Object(content);
    }
    let mut map = Map::new();
    map.insert("200".into(), ok);
    map.insert(
        "304".into(),
        json!({ "description": "`If-None-Match` matched the ETag: the cached copy is still good.",
            "headers": { "ETag": header_ref("ETag") } }),
    );
    map
}

/// An image read as GET and (without a body) as HEAD.
fn image_read(
    summary: &str,
    description: &str,
    params: Vec<Value>,
    security: &Value,
    error_codes: &[u16],
) -> Map<String, Value> {
    let mut parameters = params;
    parameters.push(if_none_match());
    let op = |head: bool| {
        let mut responses = image_responses(head);
        responses.extend(if head {
            head_errors(error_codes)
        } else {
            errors(error_codes)
        });
        json!({
            "tags": ["Pictures"],
            "summary": if head { format!("{summary} (headers only)") } else { summary.to_owned() },
            "description": description,
            "security": security,
            "parameters": parameters,
            "responses": responses,
        })
    };
    let mut item = Map::new();
    item.insert("get".into(), op(false));
    item.insert("head".into(), op(true));
    item
}

/// Adds a HEAD twin to a GET that has none: the server answers HEAD wherever GET works.
fn with_head(mut item: Map<String, Value>) -> Map<String, Value> {
    if item.contains_key("head") {
        return item;
    }
    let Some(get) = item.get("get").cloned() else {
        return item;
    };
    let mut head = get.clone();
    if let Some(summary) = get["summary"].as_str() {
        head["summary"] = json!(format!("{summary} (headers only)"));
    }
    if let Some(responses) = get["responses"].as_object() {
        let without_bodies: Map<String, Value> = responses
            .iter()
            .map(|(code, answer)| {
                let mut answer = if answer.get("$ref").is_some() {
                    json!({ "description": "As GET, without a body." })
                } else {
                    answer.clone()
                };
                if let Some(map) = answer.as_object_mut() {
                    map.remove("content");
                }
                (code.clone(), answer)
            })
            .collect();
        head["responses"] = Value::Object(without_bodies);
    }
    item.insert("head".into(), head);
    item
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn paths() -> Vec<(&'static str, Map<String, Value>)> {
    let authed = json!([{ "bearerAuth": [] }]);
    // Reads (GET/HEAD) also accept the browser session's HttpOnly cookie.
    let authed_read = json!([{ "bearerAuth": [] }, { "cookieAuth": [] }]);
    let none = json!([]);
    let one_page = |items: Value| {
        merged(
            json!({ "200": { "description": "One page.", "headers": { "Link": header_ref("Link") },
                "content": json_content(json!({ "type": "array", "items": items })) } }),
            errors(&[400, 401, 503]),
        )
    };
    let cookie = json!({
        "Set-Cookie": {
            "description": format!("`{SESSION_COOKIE}=<access JWT>; Path=/api/; HttpOnly; Secure; SameSite=Strict; Max-Age=<access lifetime>`: lets `<img src>` load your images. It authenticates GET and HEAD only."),
            "schema": { "type": "string" }, "required": true,
        },
        "Cache-Control": header_ref("CacheControlNoStore"),
    });
    let window_minutes = FAILURE_WINDOW_MS / 60_000;
    let mut user_search = page_params();
    user_search.push(json!({ "name": "search", "in": "query", "required": false,
        "description": "Only usernames that contain this text (ASCII letters in any case).",
        "schema": { "type": "string", "maxLength": MAX_USERNAME_CHARS } }));

    let mut picture = image_read(
        "The original",
        "Only the owner; 403 when the owner's tier has no original.",
        vec![picture_id_param()],
        &authed_read,
        &[401, 403, 404, 503],
    );
    picture.extend(object(json!({
        "post": {
            "tags": ["Share links"], "summary": "Create a share link",
            "description": "For tiers with expiring links. Without `height` the link serves the original.",
            "security": authed, "parameters": [picture_id_param()],
            "requestBody": { "required": true, "content": json_content(reference("LinkRequest")) },
            "responses": merged(json!({ "201": { "description": "The link.", "content": json_content(reference("Link")) } }), errors(&[400, 401, 403, 404, 503])),
        },
        "delete": {
            "tags": ["Pictures"], "summary": "Delete a picture",
            "description": "The row, the original, every thumbnail, cached copies and the picture's links.",
            "security": authed, "parameters": [picture_id_param()],
            "responses": merged(json!({ "204": { "description": "Deleted." } }), errors(&[401, 404, 503])),
        },
    })));
    let height_param = json!({ "name": "height", "in": "path", "required": true,
        "description": "Thumbnail height in pixels.", "schema": thumbnail_height_schema() });
    let thumbnail = image_read(
        "A thumbnail",
        "Only the owner; 403 when the owner's tier lacks this height.",
        vec![picture_id_param(), height_param],
        &authed_read,
        &[401, 403, 404, 503],
    );
    let mut timelink = image_read(
        "Open a share link",
        "No login: the image until the second the link expires, then 404.",
        vec![link_id_param()],
        &none,
        &[404, 503],
    );
    timelink.extend(object(json!({
        "delete": {
            "tags": ["Share links"], "summary": "Revoke a share link", "security": authed,
            "parameters": [link_id_param()],
            "responses": merged(json!({ "204": { "description": "Revoked." } }), errors(&[401, 404, 503])),
        },
    })));

    vec![
        (
            "/api/health",
            object(json!({
                "get": {
                    "tags": ["Service"], "summary": "Health", "description": "The service version, or 503 when D1 does not answer.", "security": [],
                    "responses": merged(json!({ "200": { "description": "Up.", "content": json_content(reference("Health")) } }), errors(&[503])),
                },
                "head": {
                    "tags": ["Service"], "summary": "Health (headers only)", "security": [],
                    "responses": merged(json!({ "200": { "description": "Up." } }), head_errors(&[503])),
                },
            })),
        ),
        (
            "/api/token",
            object(json!({
                "post": {
                    "tags": ["Accounts"], "summary": "Obtain a token pair", "security": [],
                    "description": format!("Access and refresh JWTs (HS256). After {MAX_FAILURES} failed logins for one username from one address within {window_minutes} minutes, that pair gets 429 until the window ends."),
                    "requestBody": { "required": true, "content": json_content(reference("Credentials")) },
                    "responses": merged(json!({ "200": { "description": "The tokens.", "headers": { "Cache-Control": header_ref("CacheControlNoStore") }, "content": json_content(reference("TokenPair")) } }), errors(&[400, 401, 429, 503])),
                },
            })),
        ),
        (
            "/api/token/refresh",
            object(json!({
                "post": {
                    "tags": ["Accounts"], "summary": "Refresh an access token", "security": [],
                    "requestBody": { "required": true, "content": json_content(reference("RefreshRequest")) },
                    "responses": merged(json!({ "200": { "description": "A new access token (and, where refresh tokens rotate, a new refresh token).", "content": json_content(reference("RefreshedTokens")) } }), errors(&[400, 401, 503])),
                },
            })),
        ),
        (
            "/api/session",
            object(json!({
                "post": {
                    "tags": ["Accounts"], "summary": "Sign in (browser session)", "security": [],
                    "description": format!("Like `POST /api/token/`, and also sets the `{SESSION_COOKIE}` cookie. Throttled the same way."),
                    "requestBody": { "required": true, "content": json_content(reference("Credentials")) },
                    "responses": merged(json!({ "200": { "description": "The tokens and the cookie.", "headers": cookie, "content": json_content(reference("TokenPair")) } }), errors(&[400, 401, 429, 503])),
                },
                "delete": {
                    "tags": ["Accounts"], "summary": "Sign out (browser session)", "description": "Clears the cookie.", "security": authed,
                    "responses": merged(json!({ "204": { "description": "Signed out; the cookie is cleared." } }), errors(&[401, 503])),
                },
            })),
        ),
        (
            "/api/session/refresh",
            object(json!({
                "post": {
                    "tags": ["Accounts"], "summary": "Refresh a browser session", "security": [],
                    "description": "Refresh tokens rotate: each works once, and using one again is 401.",
                    "requestBody": { "required": true, "content": json_content(reference("RefreshRequest")) },
                    "responses": merged(json!({ "200": { "description": "New tokens and a fresh cookie.", "headers": cookie, "content": json_content(reference("TokenPair")) } }), errors(&[400, 401, 503])),
                },
            })),
        ),
        (
            "/api/me",
            object(json!({
                "get": {
                    "tags": ["Accounts"], "summary": "Who am I", "security": authed_read,
                    "responses": merged(json!({ "200": { "description": "The signed-in user and their tier.", "content": json_content(reference("Me")) } }), errors(&[401, 503])),
                },
            })),
        ),
        (
            "/api/pictures",
            object(json!({
                "get": {
                    "tags": ["Pictures"], "summary": "List your pictures", "description": "Newest first, keyset-paginated: follow the `Link` header's `rel=\"next\"` URL.",
                    "security": authed_read, "parameters": page_params(),
                    "responses": one_page(reference("Picture")),
                },
                "post": {
                    "tags": ["Pictures"], "summary": "Upload a picture",
                    "description": format!("Multipart `name` (1 to {MAX_PICTURE_NAME_CHARS} characters) and `img` ({}; the content decides the type; {}). A body that arrives slower than UPLOAD_FLOOR_BYTES_PER_SEC after a grace of UPLOAD_GRACE_SECS is abandoned with 408. The original and every thumbnail of your tier are stored before the answer.", format_list(), upload_limits_text()),
                    "security": authed,
                    "requestBody": { "required": true, "content": { "multipart/form-data": { "schema": reference("Upload"), "encoding": { "img": { "contentType": content_types().join(", ") } } } } },
                    "responses": merged(json!({ "201": { "description": "Stored.", "content": json_content(reference("Picture")) } }), errors(&[400, 401, 408, 413, 503])),
                },
            })),
        ),
        (
            "/api/pictures/shared",
            object(json!({
                "get": {
                    "tags": ["Share links"], "summary": "List your active share links", "description": "Newest first, paginated like `/api/pictures`.",
                    "security": authed_read, "parameters": page_params(),
                    "responses": one_page(reference("SharedLink")),
                },
            })),
        ),
        ("/api/picture/{id}", picture),
        ("/api/picture/{id}/{height}", thumbnail),
        ("/api/timelink/{id}", timelink),
        (
            "/api/admin/tiers",
            object(json!({
                "get": {
                    "tags": ["Admin"], "summary": "List tiers", "security": authed_read,
                    "responses": merged(json!({ "200": { "description": "Every tier.", "content": json_content(json!({ "type": "array", "items": reference("Tier") })) } }), errors(&[401, 403, 503])),
                },
                "post": {
                    "tags": ["Admin"], "summary": "Create a tier", "security": authed,
                    "requestBody": { "required": true, "content": json_content(reference("TierCreate")) },
                    "responses": merged(json!({ "201": { "description": "Created.", "content": json_content(reference("Tier")) } }), errors(&[400, 401, 403, 503])),
                },
            })),
        ),
        (
            "/api/admin/tiers/{name}",
            object(json!({
                "get": {
                    "tags": ["Admin"], "summary": "Get a tier", "security": authed_read, "parameters": [tier_name_param()],
                    "responses": merged(json!({ "200": { "description": "The tier.", "content": json_content(reference("Tier")) } }), errors(&[401, 403, 404, 503])),
                },
                "patch": {
                    "tags": ["Admin"], "summary": "Change a tier", "description": "Any of the fields; only those given are written. Renaming keeps its users, and keeps it the default if it is.", "security": authed, "parameters": [tier_name_param()],
                    "requestBody": { "required": true, "content": json_content(reference("TierPatch")) },
                    "responses": merged(json!({ "200": { "description": "The tier as stored.", "content": json_content(reference("Tier")) } }), errors(&[400, 401, 403, 404, 503])),
                },
                "delete": {
                    "tags": ["Admin"], "summary": "Delete a tier", "description": "409 while users still have it, or while it is the default tier.", "security": authed, "parameters": [tier_name_param()],
                    "responses": merged(json!({ "204": { "description": "Deleted." } }), errors(&[401, 403, 404, 409, 503])),
                },
            })),
        ),
        (
            "/api/admin/users",
            object(json!({
                "get": {
                    "tags": ["Admin"], "summary": "List users", "description": "Newest first, keyset-paginated: follow the `Link` header's `rel=\"next\"` URL (it keeps the search).",
                    "security": authed_read, "parameters": user_search,
                    "responses": merged(json!({ "200": { "description": "One page.", "headers": { "Link": header_ref("Link") }, "content": json_content(json!({ "type": "array", "items": reference("User") })) } }), errors(&[400, 401, 403, 503])),
                },
                "post": {
                    "tags": ["Admin"], "summary": "Create a user", "security": authed,
                    "requestBody": { "required": true, "content": json_content(reference("UserCreate")) },
                    "responses": merged(json!({ "201": { "description": "Created.", "content": json_content(reference("User")) } }), errors(&[400, 401, 403, 503])),
                },
            })),
        ),
        (
            "/api/admin/users/{username}",
            object(json!({
                "get": {
                    "tags": ["Admin"], "summary": "Get a user", "security": authed_read, "parameters": [username_param()],
                    "responses": merged(json!({ "200": { "description": "The user.", "content": json_content(reference("User")) } }), errors(&[401, 403, 404, 503])),
                },
                "patch": {
                    "tags": ["Admin"], "summary": "Change a user", "description": "The last admin cannot remove their own admin flag (409).", "security": authed, "parameters": [username_param()],
                    "requestBody": { "required": true, "content": json_content(reference("UserPatch")) },
                    "responses": merged(json!({ "200": { "description": "The user as stored.", "content": json_content(reference("User")) } }), errors(&[400, 401, 403, 404, 409, 503])),
                },
                "delete": {
                    "tags": ["Admin"], "summary": "Delete a user", "description": "Also removes their pictures (rows and stored objects) and share links. The last admin cannot delete themselves (409).", "security": authed, "parameters": [username_param()],
                    "responses": merged(json!({ "204": { "description": "Deleted." } }), errors(&[401, 403, 404, 409, 503])),
                },
            })),
        ),
    ]
}

/// `getPictureIdHeight` for GET /api/picture/{id}/{height}.
fn operation_id(method: &str, path: &str) -> String {
    let words = path
        .trim_start_matches("/api/")
        .replace(['{', '}'], "")
        .split(['/', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<String>();
    format!("{method}{words}")
}

/// Every path answers with and without one trailing slash: list both, the slashed one as the
/// twin (its own operationId), so generated clients and schemathesis see each.
fn all_paths() -> Vec<(String, Map<String, Value>)> {
    let mut all = Vec::new();
    for (path, item) in paths() {
        let mut full = with_head(item);
        let mut slashed = Map::new();
        for (method, op) in full.iter_mut() {
            let id = operation_id(method, path);
            op["operationId"] = json!(id);
            let mut twin = op.clone();
            twin["operationId"] = json!(format!("{id}Slash"));
            if let Some(summary) = op["summary"].as_str() {
                twin["summary"] = json!(format!("{summary} (trailing slash)"));
            }
            // Hidden from /docs (Scalar's x-scalar-ignore), where it would only repeat the same
            // operation.
            twin["x-scalar-ignore"] = json!(true);
            slashed.insert(method.clone(), twin);
        }
        all.push((path.to_owned(), full));
        all.push((format!("{path}/"), slashed));
    }
    all
}

/// HTTP methods in the order a reader expects them within a path.
const METHOD_ORDER: [&str; 5] = ["get", "head", "post", "patch", "delete"];

/// The paths in the order of the table in `paths()`, each path's methods in [`METHOD_ORDER`]:
/// `serde_json`'s map sorts its keys, and /docs (Scalar) lists operations in document order.
struct OrderedPaths(Vec<(String, Map<String, Value>)>);

struct OrderedItem<'a>(&'a Map<String, Value>);

impl Serialize for OrderedPaths {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (path, item) in &self.0 {
            map.serialize_entry(path, &OrderedItem(item))?;
        }
        map.end()
    }
}

impl Serialize for OrderedItem<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for method in METHOD_ORDER {
            if let Some(op) = self.0.get(method) {
                map.serialize_entry(method, op)?;
            }
        }
        map.end()
    }
}

/// The document, its sections in the order the OpenAPI specification lists them.
#[derive(serde::Serialize)]
struct Document {
    openapi: &'static str,
    info: Value,
    servers: Value,
    tags: Value,
    paths: OrderedPaths,
    components: Value,
    #[serde(rename = "x-storagetiers-limits")]
    limits: Value,
}

fn error_response(description: &str, example: &str) -> Value {
    json!({
        "description": description,
        "content": json_content(merged(reference("Error"), object(json!({
            "examples": [{ "detail": example, "request_id": "8f1c2d3e4a5b6c7d-LHR" }],
        })))),
    })
}

fn responses() -> Value {
    let with_headers = |mut answer: Value, headers: Value| {
        answer["headers"] = headers;
        answer
    };
    json!({
        "E400": { "description": "Invalid input: a list of messages per field (`non_field_errors` for the body as a whole).", "content": json_content(reference("FieldErrors")) },
        "E401": with_headers(
            error_response("No valid access token (missing, garbled, expired, wrong type, or its user was deleted), or wrong credentials.", "Given token not valid for any token type"),
            json!({ "WWW-Authenticate": { "schema": { "type": "string" }, "description": "`Bearer realm=\"api\"`." } }),
        ),
        "E403": error_response("Signed in, but not allowed: not an admin, or the tier lacks this size, the original or share links.", "Your tier does not include expiring links."),
        "E404": error_response("Unknown, or not yours (which of the two is never revealed).", "Not found."),
        "E408": error_response("The upload's body arrived slower than UPLOAD_FLOOR_BYTES_PER_SEC after UPLOAD_GRACE_SECS; nothing was stored.", "The upload arrived too slowly and was abandoned; nothing was stored."),
        "E409": error_response("Conflicts with what is stored: a tier that users still have, or the last admin removing themselves.", "This tier is still assigned to users."),
        "E413": error_response("Larger than MAX_UPLOAD_BYTES, or more pixels than MAX_IMAGE_PIXELS; the detail says the limit.", &format!("Uploads are limited to {DEFAULT_MAX_UPLOAD_BYTES} bytes.")),
        "E429": with_headers(
            error_response("Too many failed logins for this username from this address.", "Too many failed attempts. Try again in 840 seconds."),
            json!({ "Retry-After": header_ref("RetryAfter") }),
        ),
        "E503": with_headers(
            error_response("Temporarily unavailable (D1 unreachable, or the isolate is out of its memory budget).", "Service unavailable."),
            json!({ "Retry-After": header_ref("RetryAfterOptional") }),
        ),
    })
}

fn schemas() -> Value {
    let heights = json!({ "type": "array", "items": thumbnail_height_schema(), "uniqueItems": true,
        "maxItems": MAX_HEIGHTS_PER_TIER, "description": "Distinct heights in pixels, ascending in answers." });
    let tier_name = json!({ "type": "string", "minLength": 1, "maxLength": MAX_TIER_NAME_CHARS, "pattern": "^[^/]+$" });
    let username = json!({ "type": "string", "minLength": 1, "maxLength": MAX_USERNAME_CHARS, "pattern": USERNAME_PATTERN });
    let password = json!({ "type": "string", "minLength": MIN_PASSWORD_CHARS, "maxLength": MAX_PASSWORD_CHARS, "writeOnly": true });
    let link_url = json!({ "type": "string", "pattern": "^/api/timelink/[0-9a-f-]{36}$" });
    json!({
        "Error": { "type": "object", "required": ["detail", "request_id"], "additionalProperties": false, "properties": { "detail": { "type": "string" }, "request_id": reference("RequestId") } },
        "FieldErrors": {
            "type": "object", "required": ["request_id"], "minProperties": 2, "properties": { "request_id": reference("RequestId") }, "additionalProperties": { "type": "array", "items": { "type": "string" }, "minItems": 1 },
            "description": "Messages per field name, and the request's id.", "examples": [{ "name": ["This field may not be blank."], "img": ["No file was submitted."], "request_id": "8f1c2d3e4a5b6c7d-LHR" }],
        },
        "RequestId": { "type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$", "description": format!("The request's id, also in the `{}` header and in every log line of the request: Cloudflare's `cf-ray`, or a random id.", http_header_name(REQUEST_ID_HEADER)) },
        "Health": {
            "type": "object", "required": ["status", "version"], "additionalProperties": false,
            "properties": {
                "status": { "const": "ok" },
                "version": { "type": "string" },
                "isolate": {
                    "type": "object", "description": "Only for an admin's bearer token: this isolate's memory and load.",
                    "properties": { "wasm_memory_bytes": { "type": "integer", "minimum": 0 }, "memory_reserved_bytes": { "type": "integer", "minimum": 0 }, "requests_in_flight": { "type": "integer", "minimum": 0 } },
                },
            },
        },
        "Credentials": { "type": "object", "required": ["username", "password"], "properties": { "username": { "type": "string", "minLength": 1 }, "password": { "type": "string", "minLength": 1 } } },
        "TokenPair": { "type": "object", "required": ["access", "refresh"], "additionalProperties": false, "properties": { "access": reference("Jwt"), "refresh": reference("Jwt") } },
        "RefreshedTokens": { "type": "object", "required": ["access"], "additionalProperties": false, "properties": { "access": reference("Jwt"), "refresh": reference("Jwt") } },
        "RefreshRequest": { "type": "object", "required": ["refresh"], "properties": { "refresh": { "type": "string", "minLength": 1 } } },
        "Jwt": { "type": "string", "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$", "description": "HS256 JWT with `token_type`, `user_id`, `exp`, `iat`, `jti`." },
        "Upload": {
            "type": "object", "required": ["name", "img"],
            "properties": { "name": { "type": "string", "minLength": 1, "maxLength": MAX_PICTURE_NAME_CHARS }, "img": { "type": "string", "contentMediaType": "application/octet-stream", "description": format!("A {} file.", format_list()) } },
        },
        "Picture": {
            "type": "object", "additionalProperties": false,
            "required": ["id", "owner", "name", "urls", "created_at", "width", "height", "content_type", "size"],
            "properties": {
                "id": { "type": "string", "format": "uuid" },
                "owner": { "type": "string" },
                "name": { "type": "string" },
                "urls": { "type": "array", "items": { "type": "string", "pattern": "^/api/picture/[0-9a-f-]{36}(/[0-9]+)?$" }, "description": "Thumbnails of the owner's current tier, ascending, then the original if the tier has it." },
                "created_at": { "type": "string", "format": "date-time" },
                "width": { "type": "integer", "minimum": 1 },
                "height": { "type": "integer", "minimum": 1 },
                "content_type": { "enum": content_types() },
                "size": { "type": "integer", "minimum": 1 },
            },
        },
        "LinkRequest": {
            "type": "object", "required": ["time"],
            "properties": {
                "time": { "description": format!("Seconds, {} to {} (a string of digits is accepted too).", LinkLifetime::MIN, LinkLifetime::MAX), "oneOf": [link_lifetime_schema(), { "type": "string", "pattern": "^\\s*[0-9]+\\s*$" }] },
                "height": merged(thumbnail_height_schema(), object(json!({ "type": ["integer", "null"], "description": "A thumbnail height of your tier; absent or null for the original." }))),
            },
        },
        "Link": {
            "type": "object", "additionalProperties": false, "required": ["url", "picture", "time", "expires_at"],
            "properties": {
                "url": link_url,
                "picture": reference("Picture"),
                "time": link_lifetime_schema(),
                "expires_at": { "type": "string", "format": "date-time" },
            },
        },
        "SharedLink": {
            "type": "object", "additionalProperties": false, "required": ["url", "picture", "time", "time_left", "expires_at"],
            "properties": {
                "url": link_url,
                "picture": reference("Picture"),
                "time": link_lifetime_schema(),
                "time_left": { "type": "integer", "minimum": 0, "description": "Whole seconds left." },
                "expires_at": { "type": "string", "format": "date-time" },
            },
        },
        "Tier": {
            "type": "object", "additionalProperties": false, "required": ["name", "thumbnail_heights", "allow_original", "allow_expiring_links", "is_default"],
            "properties": { "name": { "type": "string", "minLength": 1, "maxLength": MAX_TIER_NAME_CHARS }, "thumbnail_heights": heights, "allow_original": { "type": "boolean" }, "allow_expiring_links": { "type": "boolean" }, "is_default": { "type": "boolean", "description": "The tier a user gets when none is given; exactly one tier is." } },
        },
        "TierCreate": {
            "type": "object", "required": ["name", "thumbnail_heights"],
            "properties": { "name": tier_name, "thumbnail_heights": heights, "allow_original": { "type": "boolean", "default": false }, "allow_expiring_links": { "type": "boolean", "default": false } },
        },
        "TierPatch": {
            "type": "object",
            "properties": { "name": tier_name, "thumbnail_heights": heights, "allow_original": { "type": "boolean" }, "allow_expiring_links": { "type": "boolean" }, "is_default": { "type": "boolean", "enum": [true], "description": "`true` makes this the default tier (the previous default stops being it); `false` is refused." } },
        },
        "User": {
            "type": "object", "additionalProperties": false, "required": ["username", "tier", "is_admin"],
            "properties": { "username": { "type": "string" }, "tier": { "type": "string" }, "is_admin": { "type": "boolean" } },
            "description": "Password hashes never appear.",
        },
        "UserCreate": {
            "type": "object", "required": ["username", "password"],
            "properties": {
                "username": username,
                "password": password,
                "tier": { "type": "string", "description": "A tier name; without it, the default tier (see `Tier.is_default`)." },
                "is_admin": { "type": "boolean", "default": false },
            },
        },
        "UserPatch": {
            "type": "object",
            "properties": { "username": username, "password": password, "tier": { "type": "string" }, "is_admin": { "type": "boolean" } },
        },
        "Me": {
            "type": "object", "additionalProperties": false, "required": ["username", "is_admin", "tier"],
            "properties": { "username": { "type": "string" }, "is_admin": { "type": "boolean" }, "tier": reference("Tier") },
        },
    })
}

/// "x-request-id" -> "X-Request-Id", as the header is written in prose.
fn http_header_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn document() -> Document {
    let request_id = http_header_name(REQUEST_ID_HEADER);
    let bookmark = http_header_name(BOOKMARK_HEADER);
    let description = [
        "Every body is JSON unless stated. Errors are `{\"detail\": \"...\", \"request_id\": \"...\"}`, or for invalid input (400) a list of messages per field beside the `request_id`.".to_owned(),
        format!("Every answer carries `{request_id}` (the id in error bodies and logs) and `Server-Timing` (time spent in D1, R2 and the cache, and in total)."),
        format!("Every change answers `{bookmark}`; send it back on a read to see that change even if the read is served by a D1 read replica (README, Consistency)."),
        "Paths work with and without a trailing slash; both are listed.".to_owned(),
        "The limits the web app shows are in `x-storagetiers-limits` at the root of this document.".to_owned(),
        String::new(),
        "Authenticate with `Authorization: Bearer <access>` from `POST /api/token/`. Browsers can sign in with `POST /api/session/` instead, which also sets an HttpOnly, Secure, SameSite=Strict cookie that authenticates GET and HEAD only (so `<img src>` works); every change still needs the bearer header, so a cross-site form or fetch cannot change anything.".to_owned(),
    ].join("\n");
    Document {
        openapi: "3.1.0",
        info: json!({
            "title": "storagetiers",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": format!("Tiered image service: upload {} pictures, get the thumbnails of your tier, share them through expiring links.", format_list()),
            "description": description,
            "license": { "name": "Proprietary" },
        }),
        servers: json!([{ "url": "/", "description": "This server" }]),
        tags: json!([
            { "name": "Accounts", "description": "Tokens and sessions." },
            { "name": "Pictures", "description": "Upload, list, read and delete pictures." },
            { "name": "Share links", "description": "Expiring links for tiers that allow them." },
            { "name": "Admin", "description": "Tiers and users, for admins only." },
            { "name": "Service", "description": "Health." },
        ]),
        paths: OrderedPaths(all_paths()),
        components: json!({
            "securitySchemes": {
                "bearerAuth": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An access token from `POST /api/token/`." },
                "cookieAuth": { "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE, "description": "Set by `POST /api/session/`; accepted for GET and HEAD only." },
            },
            "schemas": schemas(),
            "responses": responses(),
            "headers": {
                "Link": { "description": "`</api/...?limit=N&cursor=...>; rel=\"next\"` when there is a next page.", "schema": { "type": "string", "pattern": "^<[^>]+>; rel=\"next\"$" } },
                "ETag": { "description": "Strong validator of the image bytes; send it back in `If-None-Match` for a 304.", "required": true, "schema": { "type": "string" } },
                "CacheControlPrivate": { "description": "`private, max-age=...`: only the requesting browser may keep it; a share link's never reaches past its expiry.", "required": true, "schema": { "type": "string", "pattern": "^private" } },
                "CacheControlNoStore": { "description": "Token answers are never stored.", "schema": { "type": "string" } },
                "RetryAfter": { "description": "Seconds to wait.", "required": true, "schema": { "type": "string", "pattern": "^[0-9]+$" } },
                "RetryAfterOptional": { "description": "Seconds to wait, when known.", "schema": { "type": "string", "pattern": "^[0-9]+$" } },
            },
        }),
        limits: limits(),
    }
}

fn main() -> std::process::ExitCode {
    match serde_json::to_string_pretty(&document()) {
        Ok(text) => {
            println!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("openapi: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document as a value (its order is checked on its own).
    fn document() -> Value {
        serde_json::to_value(super::document()).unwrap()
    }

    /// Every `$ref` string anywhere under `value`.
    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(r)) => found.push(r),
                        _ => refs(v, found),
                    }
                }
            }
            Value::Array(list) => list.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_points_at_a_component_of_the_document() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 50, "{}", found.len());
        for r in found {
            let pointer = r.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "dangling {r}");
        }
    }

    #[test]
    fn every_operation_has_its_own_id_and_every_path_a_slashed_twin() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in paths {
            if !path.ends_with('/') {
                assert!(paths.contains_key(&format!("{path}/")), "{path}");
            }
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "{id} twice");
            }
        }
        assert!(ids.contains("getPictureIdHeight"));
        assert!(ids.contains("headPictureIdHeightSlash"));
    }

    #[test]
    fn the_limits_the_app_reads_are_the_ones_the_worker_enforces() {
        let limits = &document()["x-storagetiers-limits"];
        assert_eq!(limits["upload"]["max_bytes"], json!(100_000_000));
        assert_eq!(limits["upload"]["max_pixels"], json!(100_000_000));
        assert_eq!(
            limits["link_lifetime_secs"],
            json!({"min": 300, "max": 30000})
        );
        assert_eq!(
            limits["thumbnail_height"]["max"],
            json!(MAX_THUMBNAIL_HEIGHT)
        );
        let formats = limits["upload"]["formats"].as_array().unwrap();
        let jpeg = formats.iter().find(|f| f["name"] == "JPEG").unwrap();
        assert_eq!(jpeg["max_bytes"], json!(DEFAULT_MAX_UPLOAD_BYTES));
        let png = formats.iter().find(|f| f["name"] == "PNG").unwrap();
        assert_eq!(png["max_bytes"], json!(DEFAULT_MAX_UPLOAD_BYTES));
        let webp = formats.iter().find(|f| f["name"] == "WebP").unwrap();
        assert_eq!(webp["max_bytes"], json!(imaging::BUFFERED_MAX_BYTES));
    }

    #[test]
    fn every_accepted_format_is_one_the_answers_may_carry() {
        let doc = document();
        let answered =
            &doc["components"]["schemas"]["Picture"]["properties"]["content_type"]["enum"];
        let served = doc["paths"]["/api/picture/{id}"]["get"]["responses"]["200"]["content"]
            .as_object()
            .unwrap();
        for format in Format::ALL {
            assert!(answered
                .as_array()
                .unwrap()
                .contains(&json!(format.content_type())));
            assert!(served.contains_key(format.content_type()), "{format:?}");
        }
    }

    #[test]
    fn the_upload_is_described_with_the_real_formats_and_limits() {
        assert_eq!(
            upload_limits_text(),
            "JPEG or PNG up to MAX_UPLOAD_BYTES (100 MB) and MAX_IMAGE_PIXELS (100 MP), \
             streamed; WebP, GIF, BMP or TIFF up to 48 MiB"
        );
        let text = document().to_string();
        for stale in ["PNG or JPEG", "25 MP", "20 MiB", "25000000"] {
            assert!(!text.contains(stale), "the document still says {stale:?}");
        }
    }

    #[test]
    fn operations_keep_the_order_of_the_table_so_docs_lists_them_so() {
        let text = serde_json::to_string(&super::document()).unwrap();
        let at = |needle: &str| text.find(needle).unwrap();
        assert!(at("\"/api/health\"") < at("\"/api/token\""));
        assert!(at("\"/api/token\"") < at("\"/api/me\""));
        assert!(at("\"/api/me\"") < at("\"/api/admin/tiers\""));
        let picture = &text[at("\"/api/picture/{id}\":")..at("\"/api/picture/{id}/\":")];
        let methods: Vec<usize> = ["\"get\"", "\"head\"", "\"post\"", "\"delete\""]
            .iter()
            .map(|m| picture.find(m).unwrap())
            .collect();
        assert!(methods.windows(2).all(|w| w[0] < w[1]), "{methods:?}");
        for (_, item) in all_paths() {
            assert!(item.keys().all(|m| METHOD_ORDER.contains(&m.as_str())));
        }
    }

    #[test]
    fn headers_are_written_as_prose_writes_them() {
        assert_eq!(http_header_name(BOOKMARK_HEADER), "X-D1-Bookmark");
        assert_eq!(http_header_name(REQUEST_ID_HEADER), "X-Request-Id");
    }
}
