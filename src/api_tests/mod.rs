//! Handler tests: the whole API through `App::handle`, natively, over the in-memory ports.
//! `TestApp` is the shared helper: one method per way of calling the API.

mod accounts;
mod admin;
mod links;
mod memory_bound;
#[path = "../../tests/common/noise_png.rs"]
mod noise_png;
mod observability;
mod pictures;
mod reliability;
mod replicas;
mod routing;
mod security;
mod uploads;

use crate::config::Config;
use crate::fakes::{Fakes, MemoryBlobs, MemoryCache, SqliteDb, TestClock};
use crate::http::{Method, Request, Response};
use crate::memory::Isolate;
use crate::observability::timed::Timed;
use crate::passwords;
use crate::ports::RustKdf;
use crate::ports::Statement;
use crate::routes::App;
use crate::store;
use futures_executor::block_on;
use noise_png::noise_png;
use serde_json::{json, Value};
use std::cell::Cell;
use std::rc::Rc;

const T0: i64 = 1_800_000_000_000;
const PASSWORD: &str = "correct horse battery";
const BOUNDARY: &str = "test-boundary-7MA4YWxkTrZu0gW";

struct TestApp {
    app: App<Fakes>,
}

/// A form field as a test writes it.
enum FormValue {
    Text(String),
    File { filename: String, bytes: Vec<u8> },
}

impl TestApp {
    fn new() -> Self {
        Self::over(SqliteDb::migrated())
    }

    /// Over a database whose reads may go to a replica that lags (`SqliteDb::replicate`).
    fn with_lagging_replica() -> Self {
        Self::over(SqliteDb::with_lagging_replica())
    }

    fn over(db: SqliteDb) -> Self {
        let config = Config::for_tests();
        let blobs = MemoryBlobs::default();
        // Objects are written "now", as the clock says.
        blobs.now_ms.set(T0);
        Self {
            app: App {
                db: Timed(db),
                blobs: Timed(blobs),
                cache: Timed(MemoryCache::default()),
                clock: Rc::new(TestClock(Cell::new(T0))),
                kdf: RustKdf,
                isolate: Isolate::new(config.memory_budget_bytes),
                config,
                test_hooks: false,
            },
        }
    }

    fn send(&self, request: Request) -> Response {
        block_on(self.app.handle(request))
    }

    /// Creates a user straight in the database (as `scripts/admin` does) and returns a token.
    fn user(&self, username: &str, tier: &str, is_admin: bool) -> String {
        let hash = block_on(passwords::hash(&RustKdf, PASSWORD)).unwrap();
        let inserted = block_on(store::users::insert(
            &self.app.db,
            username,
            &hash,
            Some(&crate::domain::tiers::TierName::parse(tier).unwrap()),
            is_admin,
            T0,
        ))
        .unwrap();
        assert!(inserted, "tier {tier} exists");
        self.login(username, PASSWORD).json_body()["access"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn login(&self, username: &str, password: &str) -> Response {
        self.login_from(username, password, "203.0.113.1")
    }

    fn login_from(&self, username: &str, password: &str, client: &str) -> Response {
        self.send(
            Request::new(Method::Post, "/api/token/")
                .with_header("cf-connecting-ip", client)
                .with_json(&json!({"username": username, "password": password})),
        )
    }

    fn get(&self, path: &str, token: &str) -> Response {
        self.send(
            Request::new(Method::Get, path)
                .with_header("authorization", &format!("Bearer {token}")),
        )
    }

    fn json(&self, method: Method, path: &str, token: &str, body: Value) -> Response {
        self.send(
            Request::new(method, path)
                .with_header("authorization", &format!("Bearer {token}"))
                .with_json(&body),
        )
    }

    fn delete(&self, path: &str, token: &str) -> Response {
        self.send(
            Request::new(Method::Delete, path)
                .with_header("authorization", &format!("Bearer {token}")),
        )
    }

    /// An upload as browsers and curl send it, with its `Content-Length`.
    fn upload_form(&self, token: &str, fields: Vec<(&str, FormValue)>) -> Response {
        let body = multipart_body(&fields);
        self.send(
            Request::new(Method::Post, "/api/pictures")
                .with_header("authorization", &format!("Bearer {token}"))
                .with_header(
                    "content-type",
                    &format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .with_header("content-length", &body.len().to_string())
                .with_bytes(body),
        )
    }

    fn upload(&self, token: &str, name: &str, bytes: Vec<u8>) -> Response {
        self.upload_form(
            token,
            vec![("name", FormValue::Text(name.into())), ("img", file(bytes))],
        )
    }

    fn objects(&self) -> usize {
        self.app.blobs.objects.borrow().len()
    }

    fn set_tier(&self, username: &str, tier: &str) {
        self.app.db.exec(&format!(
            "UPDATE users SET tier_id = (SELECT id FROM tiers WHERE name = '{tier}') WHERE username = '{username}'"
        ));
    }
}

/// A `multipart/form-data` body as browsers and curl write it.
fn multipart_body(fields: &[(&str, FormValue)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match value {
            FormValue::Text(text) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
                body.extend_from_slice(text.as_bytes());
            }
            FormValue::File { filename, bytes } => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
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

fn file(bytes: Vec<u8>) -> FormValue {
    FormValue::File {
        filename: "photo.jpg".into(),
        bytes,
    }
}

fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let pixels: Vec<u8> = (0..width as usize * height as usize)
        .flat_map(|i| [(i % 251) as u8, (i / 7 % 253) as u8, 128])
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

fn png(width: u32, height: u32, alpha: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| [(i % 256) as u8, 10, 200, alpha])
        .collect();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

/// A 400's messages per field, once its `request_id` is checked against the header and removed.
fn field_errors(response: &Response) -> Value {
    let mut body = response.json_body();
    let id = body.as_object_mut().unwrap().remove("request_id");
    assert_eq!(
        id.as_ref().and_then(Value::as_str),
        response.header("x-request-id")
    );
    body
}

fn picture_path(response: &Response) -> String {
    format!(
        "/api/picture/{}",
        response.json_body()["id"].as_str().unwrap()
    )
}
