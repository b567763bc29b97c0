//! A typed client for the storagetiers HTTP API, one method per endpoint, for the tests that run
//! against `wrangler dev` (started by `scripts/test`, which passes its address in the environment).
//! Bodies are read into the response types below, so a test states which shape it expects.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

/// `{"access", "refresh"}` from `/api/token/`, `/api/token/refresh/` and `/api/session/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// A picture as the API shows it.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Picture {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub urls: Vec<String>,
    pub created_at: String,
    pub width: u32,
    pub height: u32,
    pub content_type: String,
    pub size: u64,
}

/// An expiring link; `time_left` only in the list of active links.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub url: String,
    pub picture: Picture,
    pub time: i64,
    pub expires_at: String,
    #[serde(default)]
    pub time_left: Option<i64>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub name: String,
    pub thumbnail_heights: Vec<u32>,
    pub allow_original: bool,
    pub allow_expiring_links: bool,
    pub is_default: bool,
}

/// A user as the admin API shows it (never a password or its hash).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    pub tier: String,
    pub is_admin: bool,
}

/// `GET /api/me/`
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Me {
    pub username: String,
    pub is_admin: bool,
    pub tier: Tier,
}

/// `GET /api/health`; `isolate` only for admins.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub status: String,
    pub version: String,
    #[serde(default)]
    pub isolate: Option<Isolate>,
}

/// The memory gauge of the isolate that answered.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Isolate {
    pub wasm_memory_bytes: u64,
    pub memory_reserved_bytes: u64,
    pub requests_in_flight: u64,
}

/// `{"detail": "...", "request_id": "..."}`: every error that is not about a field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    pub detail: String,
    pub request_id: String,
}

/// `{"field": ["message", ...]}`: invalid input (400), without its `request_id`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// `GET /__test/counts/{username}`: the user's picture and link rows and R2 objects.
#[derive(Debug, Deserialize, PartialEq)]
pub struct Counts {
    pub pictures: i64,
    pub links: i64,
    pub objects: i64,
}

impl Counts {
    pub const NOTHING: Counts = Counts {
        pictures: 0,
        links: 0,
        objects: 0,
    };
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as `T`; a body of another shape fails the test with the body in the message.
    pub fn parse<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not a {} (status {}): {e}: {}",
                std::any::type_name::<T>(),
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as untyped JSON, for tests about the JSON itself.
    pub fn json(&self) -> Value {
        self.parse()
    }

    /// The error's detail, after checking that its request id is the header's.
    pub fn detail(&self) -> String {
        let error = self.parse::<ErrorDetail>();
        assert_eq!(Some(error.request_id.as_str()), self.header("x-request-id"));
        error.detail
    }

    /// The fields' messages, after checking that the body's request id is the header's.
    pub fn field_errors(&self) -> FieldErrors {
        let mut body = self.parse::<serde_json::Map<String, serde_json::Value>>();
        let id = body.remove("request_id");
        assert_eq!(
            id.as_ref().and_then(serde_json::Value::as_str),
            self.header("x-request-id"),
            "the request id of {}",
            self.text()
        );
        serde_json::from_value(serde_json::Value::Object(body))
            .unwrap_or_else(|e| panic!("not field errors: {e}: {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header that may repeat (`Set-Cookie`).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The path of the `Link: <...>; rel="next"` header.
    pub fn next_page(&self) -> Option<String> {
        let link = self.header("link")?;
        Some(link.trim_start_matches('<').split('>').next()?.to_owned())
    }
}

/// The field errors `{"field": [messages]}` for a test to compare with.
pub fn field_errors(fields: &[(&str, &[&str])]) -> FieldErrors {
    fields
        .iter()
        .map(|(field, messages)| {
            (
                (*field).to_owned(),
                messages.iter().map(|m| (*m).to_owned()).collect(),
            )
        })
        .collect()
}

pub struct Client {
    base: String,
    agent: ureq::Agent,
}

pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run these tests with `make test`"))
}

fn bearer(token: Option<&str>) -> Option<String> {
    token.map(|t| format!("Bearer {t}"))
}

impl Client {
    pub fn from_env() -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .redirects(0)
            .build();
        Self {
            base: env("STORAGETIERS_URL"),
            agent,
        }
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let mut request = self.agent.request(method, &format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.set(name, value);
        }
        let result = match body {
            Some(bytes) => request.send_bytes(bytes),
            None => request.call(),
        };
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = response.status();
        let names: std::collections::BTreeSet<String> =
            response.headers_names().into_iter().collect();
        let headers = names
            .iter()
            .flat_map(|n| {
                response
                    .all(n)
                    .into_iter()
                    .map(|v| (n.clone(), v.to_owned()))
            })
            .collect();
        let mut body = Vec::new();
        response.into_reader().read_to_end(&mut body).unwrap();
        let reply = Reply {
            status,
            headers,
            body,
        };
        crate::contract::check(method, path, &reply);
        reply
    }

    /// A request without a body, with an optional bearer token and more headers.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let auth = bearer(token);
        let mut headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        headers.extend_from_slice(extra);
        self.send(method, path, &headers, None)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call("GET", path, token, &[])
    }

    pub fn get_with(&self, path: &str, token: &str, header: (&str, &str)) -> Reply {
        self.call("GET", path, Some(token), &[header])
    }

    pub fn json(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let auth = bearer(token);
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(auth.iter().map(|a| ("authorization", a.as_str())));
        self.send(method, path, &headers, Some(body.to_string().as_bytes()))
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call("DELETE", path, token, &[])
    }

    /// `GET /api/health`
    pub fn health(&self) -> Reply {
        self.get("/api/health", None)
    }

    /// `GET /api/me/`
    pub fn me(&self, token: &str) -> Reply {
        self.get("/api/me/", Some(token))
    }

    /// `POST /api/token/`
    pub fn token(&self, username: &str, password: &str) -> Reply {
        self.json(
            "POST",
            "/api/token/",
            None,
            &json!({"username": username, "password": password}),
        )
    }

    /// `POST /api/token/` from a given client address.
    pub fn token_from(&self, username: &str, password: &str, client_ip: &str) -> Reply {
        let body = json!({"username": username, "password": password}).to_string();
        self.send(
            "POST",
            "/api/token/",
            &[
                ("content-type", "application/json"),
                ("cf-connecting-ip", client_ip),
            ],
            Some(body.as_bytes()),
        )
    }

    /// `POST /api/token/refresh/`
    pub fn refresh(&self, refresh: &str) -> Reply {
        self.json(
            "POST",
            "/api/token/refresh/",
            None,
            &json!({"refresh": refresh}),
        )
    }

    /// `POST /api/session/`: tokens, and the access token as the `st_access` cookie.
    pub fn session(&self, username: &str, password: &str) -> Reply {
        self.json(
            "POST",
            "/api/session/",
            None,
            &json!({"username": username, "password": password}),
        )
    }

    /// `POST /api/session/refresh/`
    pub fn session_refresh(&self, refresh: &str) -> Reply {
        self.json(
            "POST",
            "/api/session/refresh/",
            None,
            &json!({"refresh": refresh}),
        )
    }

    /// `POST /api/picture/{id}`: a link to the picture (or one of its thumbnails).
    pub fn create_link(&self, token: &str, picture_id: &str, body: &Value) -> Reply {
        self.json(
            "POST",
            &format!("/api/picture/{picture_id}"),
            Some(token),
            body,
        )
    }

    /// `POST /api/admin/tiers`
    pub fn create_tier(&self, admin: &str, spec: &Value) -> Reply {
        self.json("POST", "/api/admin/tiers", Some(admin), spec)
    }

    /// `GET /api/admin/users`, every page of it (newest first), following the `Link` header.
    pub fn all_users(&self, admin: &str) -> Vec<User> {
        let mut users = Vec::new();
        let mut next = Some("/api/admin/users?limit=200".to_owned());
        while let Some(path) = next {
            let page = self.get(&path, Some(admin));
            assert_eq!(page.status, 200, "{path}: {}", page.text());
            users.extend(page.parse::<Vec<User>>());
            next = page.next_page();
        }
        users
    }

    /// `PATCH /api/admin/users/{username}`
    pub fn patch_user(&self, admin: &str, username: &str, patch: &Value) -> Reply {
        self.json(
            "PATCH",
            &format!("/api/admin/users/{username}"),
            Some(admin),
            patch,
        )
    }

    /// `POST /api/pictures` with a multipart body of the given parts.
    pub fn upload_parts(&self, token: &str, parts: &[Part]) -> Reply {
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        self.send(
            "POST",
            "/api/pictures",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", &content_type),
            ],
            Some(&multipart(parts)),
        )
    }

    /// `POST /api/pictures` with `name` and an `img` file.
    pub fn upload(&self, token: &str, name: &str, bytes: &[u8]) -> Reply {
        self.upload_parts(
            token,
            &[
                Part::Text("name", name.into()),
                Part::File("img", "photo.jpg", "image/jpeg", bytes.to_vec()),
            ],
        )
    }

    /// Uploads a picture that must be accepted (201) and returns it.
    pub fn upload_ok(&self, token: &str, name: &str, bytes: &[u8]) -> Picture {
        let reply = self.upload(token, name, bytes);
        assert_eq!(reply.status, 201, "upload: {}", reply.text());
        reply.parse()
    }

    /// `GET /__test/counts/{username}`
    pub fn counts(&self, username: &str) -> Counts {
        self.get(&format!("/__test/counts/{username}"), None)
            .parse()
    }

    /// `POST /__test/links/{id}/expire`: the link's time runs out now.
    pub fn expire_link(&self, link_id: &str) {
        let reply = self.send(
            "POST",
            &format!("/__test/links/{link_id}/expire"),
            &[],
            Some(b""),
        );
        assert_eq!(reply.json()["updated"], 1);
    }

    /// `POST /__test/links/expired/{picture}/{n}`: n links that expired a while ago.
    pub fn insert_expired_links(&self, picture_id: &str, n: u32) {
        let reply = self.send(
            "POST",
            &format!("/__test/links/expired/{picture_id}/{n}"),
            &[],
            Some(b""),
        );
        assert_eq!(reply.json()["inserted"], n);
    }

    /// Fires the cron trigger through `wrangler dev --test-scheduled`.
    pub fn fire_cron(&self) -> Reply {
        self.get("/__scheduled?cron=*/5+*+*+*+*", None)
    }
}

pub const BOUNDARY: &str = "----storagetiers-test-boundary-7d93";

pub enum Part {
    Text(&'static str, String),
    File(&'static str, &'static str, &'static str, Vec<u8>),
}

/// A `multipart/form-data` body with [`BOUNDARY`].
pub fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
                body.extend_from_slice(value.as_bytes());
            }
            Part::File(name, filename, content_type, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                         Content-Type: {content_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A user made for one test through the admin API, with fresh tokens.
pub struct TestUser {
    pub username: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

/// The admin created by `scripts/test` with `scripts/admin create-user`.
pub fn admin_token(client: &Client) -> String {
    let reply = client.token(
        &env("STORAGETIERS_ADMIN_USER"),
        &env("STORAGETIERS_ADMIN_PASSWORD"),
    );
    assert_eq!(reply.status, 200, "admin login: {}", reply.text());
    reply.parse::<Tokens>().access
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

pub fn new_user(client: &Client, tier: &str) -> TestUser {
    let admin = admin_token(client);
    let username = unique("user");
    let password = "integration-pass".to_owned();
    let created = client.json(
        "POST",
        "/api/admin/users",
        Some(&admin),
        &json!({"username": username, "password": password, "tier": tier}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let tokens: Tokens = client.token(&username, &password).parse();
    TestUser {
        username,
        password,
        access: tokens.access,
        refresh: tokens.refresh,
    }
}
