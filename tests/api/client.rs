//! A typed client for the storagetiers HTTP API, one method per endpoint, for the tests that run
//! against `wrangler dev` (started by `scripts/test`, which passes its address in the environment).

use serde_json::{json, Value};
use std::io::Read;
use std::time::Duration;

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON (status {}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path of the `Link: <...>; rel="next"` header.
    pub fn next_page(&self) -> Option<String> {
        let link = self.header("link")?;
        Some(link.trim_start_matches('<').split('>').next()?.to_owned())
    }
}

pub struct Client {
    base: String,
    agent: ureq::Agent,
}

pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run these tests with `make test`"))
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
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|n| response.header(&n).map(|v| (n.clone(), v.to_owned())))
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

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        self.send("GET", path, &headers, None)
    }

    pub fn get_with(&self, path: &str, token: &str, header: (&str, &str)) -> Reply {
        self.send(
            "GET",
            path,
            &[("authorization", &format!("Bearer {token}")), header],
            None,
        )
    }

    pub fn json(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(auth.iter().map(|a| ("authorization", a.as_str())));
        self.send(method, path, &headers, Some(body.to_string().as_bytes()))
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        self.send("DELETE", path, &headers, None)
    }

    /// `GET /api/health`
    pub fn health(&self) -> Reply {
        self.get("/api/health", None)
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

    /// `POST /api/pictures` with a multipart body of the given parts.
    pub fn upload_parts(&self, token: &str, parts: &[Part]) -> Reply {
        let boundary = "----storagetiers-test-boundary-7d93";
        let mut body = Vec::new();
        for part in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match part {
                Part::Text(name, value) => {
                    body.extend_from_slice(
                        format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                            .as_bytes(),
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
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        self.send(
            "POST",
            "/api/pictures",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", &content_type),
            ],
            Some(&body),
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

    /// `GET /__test/counts/{username}`: the user's picture and link rows and R2 objects.
    pub fn counts(&self, username: &str) -> (i64, i64, i64) {
        let c = self.get(&format!("/__test/counts/{username}"), None).json();
        (
            c["pictures"].as_i64().unwrap(),
            c["links"].as_i64().unwrap(),
            c["objects"].as_i64().unwrap(),
        )
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

pub enum Part {
    Text(&'static str, String),
    File(&'static str, &'static str, &'static str, Vec<u8>),
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
    assert_eq!(
        reply.status,
        200,
        "admin login: {}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["access"].as_str().unwrap().to_owned()
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
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let tokens = client.token(&username, &password).json();
    TestUser {
        username,
        password,
        access: tokens["access"].as_str().unwrap().to_owned(),
        refresh: tokens["refresh"].as_str().unwrap().to_owned(),
    }
}
