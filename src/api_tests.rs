//! Handler tests: the whole API through `App::handle`, natively, over the in-memory ports.

use crate::app::App;
use crate::config::Config;
use crate::fakes::{Fakes, MemoryBlobs, MemoryCache, SqliteDb, TestClock};
use crate::http::{Body, FormValue, Method, Request, Response};
use crate::ports::{RustKdf, Statement};
use crate::{passwords, tiers, users};
use futures_executor::block_on;
use serde_json::{json, Value};
use std::cell::Cell;

const T0: i64 = 1_800_000_000_000;
const PASSWORD: &str = "correct horse battery";

struct TestApp {
    app: App<Fakes>,
}

impl TestApp {
    fn new() -> Self {
        Self {
            app: App {
                db: SqliteDb::migrated(),
                blobs: MemoryBlobs::default(),
                cache: MemoryCache::default(),
                clock: TestClock(Cell::new(T0)),
                kdf: RustKdf,
                config: Config::for_tests(),
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
        let tier = block_on(tiers::get(&self.app.db, tier)).unwrap();
        let name = users::Username::parse(username).unwrap();
        block_on(users::insert(
            &self.app.db,
            &name,
            &hash,
            &tier,
            is_admin,
            T0,
        ))
        .unwrap();
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

    fn upload_form(&self, token: &str, fields: Vec<(&str, FormValue)>) -> Response {
        let fields = fields.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        self.send(
            Request::new(Method::Post, "/api/pictures")
                .with_header("authorization", &format!("Bearer {token}"))
                .with_body(Body::Form(fields)),
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

fn file(bytes: Vec<u8>) -> FormValue {
    FormValue::File {
        filename: "photo.jpg".into(),
        content_type: "image/jpeg".into(),
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

fn picture_path(response: &Response) -> String {
    format!(
        "/api/picture/{}",
        response.json_body()["id"].as_str().unwrap()
    )
}

// ---- health, tokens, throttling -------------------------------------------------------------

#[test]
fn health_answers_with_the_version() {
    let app = TestApp::new();
    let response = app.send(Request::new(Method::Get, "/api/health"));
    assert_eq!(response.status, 200);
    assert_eq!(response.json_body()["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn health_is_a_503_when_d1_does_not_answer() {
    let app = TestApp::new();
    *app.app.db.fail_on.borrow_mut() = Some("SELECT 1".into());
    let response = app.send(Request::new(Method::Get, "/api/health/"));
    assert_eq!(response.status, 503);
    assert_eq!(
        response.json_body(),
        json!({"detail": "Service unavailable."})
    );
}

#[test]
fn token_returns_an_access_and_a_refresh_token_for_valid_credentials() {
    let app = TestApp::new();
    app.user("alice", "Basic", false);
    let response = app.login("alice", PASSWORD);
    assert_eq!(response.status, 200);
    let body = response.json_body();
    assert!(body["access"].is_string() && body["refresh"].is_string());
}

#[test]
fn token_returns_a_401_for_a_wrong_password_or_an_unknown_user() {
    let app = TestApp::new();
    app.user("alice", "Basic", false);
    for (user, password) in [("alice", "wrong password"), ("nobody", PASSWORD)] {
        let response = app.login(user, password);
        assert_eq!(response.status, 401);
        assert!(response.json_body()["detail"].is_string());
    }
}

#[test]
fn token_returns_a_400_per_field_when_fields_are_missing_or_json_is_malformed() {
    let app = TestApp::new();
    let response = app.send(Request::new(Method::Post, "/api/token").with_json(&json!({})));
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json_body(),
        json!({"username": ["This field is required."], "password": ["This field is required."]})
    );
    let response = app.send(
        Request::new(Method::Post, "/api/token/").with_body(Body::Bytes(b"{not json".to_vec())),
    );
    assert_eq!(response.status, 400);
    let response =
        app.send(Request::new(Method::Post, "/api/token/refresh/").with_json(&json!({})));
    assert_eq!(
        response.json_body(),
        json!({"refresh": ["This field is required."]})
    );
}

#[test]
fn refresh_returns_a_new_access_token_and_refuses_an_access_token() {
    let app = TestApp::new();
    app.user("alice", "Basic", false);
    let tokens = app.login("alice", PASSWORD).json_body();
    let refreshed = app.send(
        Request::new(Method::Post, "/api/token/refresh")
            .with_json(&json!({"refresh": tokens["refresh"]})),
    );
    assert_eq!(refreshed.status, 200);
    let access = refreshed.json_body()["access"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/pictures", &access).status, 200);
    let wrong = app.send(
        Request::new(Method::Post, "/api/token/refresh/")
            .with_json(&json!({"refresh": tokens["access"]})),
    );
    assert_eq!(wrong.status, 401);
}

#[test]
fn a_refresh_token_is_not_accepted_as_an_access_token() {
    let app = TestApp::new();
    app.user("alice", "Basic", false);
    let refresh = app.login("alice", PASSWORD).json_body()["refresh"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get("/api/pictures", &refresh).status, 401);
}

#[test]
fn an_expired_access_token_is_a_401() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    app.app.clock.advance_secs(20 * 60);
    assert_eq!(app.get("/api/pictures", &token).status, 401);
}

#[test]
fn the_token_of_a_deleted_user_is_a_401() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let token = app.user("alice", "Basic", false);
    assert_eq!(app.delete("/api/admin/users/alice", &admin).status, 204);
    assert_eq!(app.get("/api/pictures", &token).status, 401);
}

#[test]
fn ten_failed_logins_lock_that_client_out_even_with_the_right_password() {
    let app = TestApp::new();
    app.user("alice", "Basic", false);
    for _ in 0..10 {
        assert_eq!(app.login("alice", "wrong password").status, 401);
    }
    let locked = app.login("alice", PASSWORD);
    assert_eq!(locked.status, 429);
    let retry_after: i64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");

    // Another address is not locked out, so an attacker cannot lock the user out.
    assert_eq!(
        app.login_from("alice", PASSWORD, "198.51.100.7").status,
        200
    );
    // Once the window has passed, the first address may try again.
    app.app.clock.advance_secs(retry_after);
    assert_eq!(app.login("alice", PASSWORD).status, 200);
}

#[test]
fn a_successful_login_resets_the_failure_count() {
    let app = TestApp::new();
    app.user("alice", "Basic", false);
    for _ in 0..9 {
        app.login("alice", "wrong password");
    }
    assert_eq!(app.login("alice", PASSWORD).status, 200);
    for _ in 0..9 {
        app.login("alice", "wrong password");
    }
    assert_eq!(app.login("alice", PASSWORD).status, 200);
}

// ---- admin ----------------------------------------------------------------------------------

#[test]
fn the_admin_api_is_401_anonymous_and_403_for_non_admins() {
    let app = TestApp::new();
    let user = app.user("alice", "Basic", false);
    assert_eq!(
        app.send(Request::new(Method::Get, "/api/admin/tiers"))
            .status,
        401
    );
    assert_eq!(app.get("/api/admin/tiers", &user).status, 403);
    assert_eq!(app.get("/api/admin/users", &user).status, 403);
}

#[test]
fn admins_create_read_update_and_delete_tiers() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let spec = json!({"name": "Custom", "thumbnail_heights": [800, 100], "allow_original": false, "allow_expiring_links": false});
    let created = app.json(Method::Post, "/api/admin/tiers", &admin, spec);
    assert_eq!(created.status, 201);
    assert_eq!(created.json_body()["thumbnail_heights"], json!([100, 800]));

    let duplicate = app.json(
        Method::Post,
        "/api/admin/tiers/",
        &admin,
        json!({"name": "Custom", "thumbnail_heights": []}),
    );
    assert_eq!(duplicate.status, 400);
    assert!(duplicate.json_body()["name"].is_array());

    let patched = app.json(
        Method::Patch,
        "/api/admin/tiers/Custom",
        &admin,
        json!({"allow_original": true}),
    );
    assert_eq!(
        (
            patched.status,
            patched.json_body()["allow_original"].clone()
        ),
        (200, json!(true))
    );
    assert_eq!(
        app.get("/api/admin/tiers/Custom", &admin).json_body()["allow_original"],
        json!(true)
    );
    assert_eq!(app.get("/api/admin/tiers/Nope", &admin).status, 404);

    let names: Vec<Value> = app
        .get("/api/admin/tiers", &admin)
        .json_body()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            json!("Basic"),
            json!("Premium"),
            json!("Enterprise"),
            json!("Custom")
        ]
    );

    assert_eq!(app.delete("/api/admin/tiers/Custom", &admin).status, 204);
    assert_eq!(app.get("/api/admin/tiers/Custom", &admin).status, 404);
}

#[test]
fn invalid_tiers_are_400_per_field() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let response = app.json(
        Method::Post,
        "/api/admin/tiers",
        &admin,
        json!({"name": "x".repeat(101), "thumbnail_heights": [200, 200], "allow_original": "yes"}),
    );
    assert_eq!(response.status, 400);
    let body = response.json_body();
    for field in ["name", "thumbnail_heights", "allow_original"] {
        assert!(body[field].is_array(), "{field}: {body}");
    }
}

#[test]
fn deleting_a_tier_that_users_still_have_is_a_409() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    assert_eq!(app.delete("/api/admin/tiers/Basic", &admin).status, 409);
    assert_eq!(app.get("/api/admin/tiers/Basic", &admin).status, 200);
}

#[test]
fn admins_create_users_whose_hash_never_appears() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let created = app.json(
        Method::Post,
        "/api/admin/users",
        &admin,
        json!({"username": "bob", "password": "s3cret-pass"}),
    );
    assert_eq!(created.status, 201);
    assert_eq!(
        created.json_body(),
        json!({"username": "bob", "tier": "Basic", "is_admin": false})
    );
    let all = String::from_utf8(app.get("/api/admin/users", &admin).body).unwrap();
    assert!(
        !all.contains("pbkdf2") && !all.contains("password"),
        "{all}"
    );
    assert_eq!(app.login("bob", "s3cret-pass").status, 200);

    let patched = app.json(
        Method::Patch,
        "/api/admin/users/bob",
        &admin,
        json!({"tier": "Premium", "password": "another-pass"}),
    );
    assert_eq!(patched.json_body()["tier"], "Premium");
    assert_eq!(app.login("bob", "another-pass").status, 200);
    assert_eq!(app.get("/api/admin/users/nobody", &admin).status, 404);
}

#[test]
fn invalid_users_are_400_per_field() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let response = app.json(
        Method::Post,
        "/api/admin/users",
        &admin,
        json!({"username": "bad name", "password": "short", "is_admin": 1}),
    );
    assert_eq!(response.status, 400);
    let body = response.json_body();
    for field in ["username", "password", "is_admin"] {
        assert!(body[field].is_array(), "{field}: {body}");
    }
    let unknown_tier = app.json(
        Method::Post,
        "/api/admin/users",
        &admin,
        json!({"username": "bob", "password": "long enough", "tier": "Gold"}),
    );
    assert_eq!(unknown_tier.status, 400);
    assert!(unknown_tier.json_body()["tier"].is_array());
    let taken = app.json(
        Method::Post,
        "/api/admin/users",
        &admin,
        json!({"username": "root", "password": "long enough"}),
    );
    assert_eq!(taken.status, 400);
}

#[test]
fn deleting_a_user_removes_their_pictures_objects_and_links() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let token = app.user("alice", "Enterprise", false);
    let uploaded = app.upload(&token, "p", jpeg(300, 500));
    app.json(
        Method::Post,
        &picture_path(&uploaded),
        &token,
        json!({"time": 300}),
    );
    assert!(app.objects() > 0);
    assert_eq!(app.delete("/api/admin/users/alice", &admin).status, 204);
    assert_eq!(
        (
            app.objects(),
            app.app.db.count("pictures"),
            app.app.db.count("links")
        ),
        (0, 0, 0)
    );
}

// ---- pictures -------------------------------------------------------------------------------

#[test]
fn a_basic_upload_is_201_with_one_thumbnail_url_and_stores_the_original_byte_for_byte() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let original = jpeg(600, 400);
    let response = app.upload(&token, "beach", original.clone());
    assert_eq!(response.status, 201);
    let body = response.json_body();
    let id = body["id"].as_str().unwrap();
    assert_eq!(body["urls"], json!([format!("/api/picture/{id}/200")]));
    assert_eq!(
        (body["owner"].clone(), body["name"].clone()),
        (json!("alice"), json!("beach"))
    );
    assert_eq!(
        (body["width"].clone(), body["height"].clone()),
        (json!(600), json!(400))
    );
    assert_eq!(
        (body["content_type"].clone(), body["size"].clone()),
        (json!("image/jpeg"), json!(original.len()))
    );
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    let stored = app.app.blobs.objects.borrow();
    let original_key = stored.keys().find(|k| k.ends_with("/original")).unwrap();
    assert_eq!(stored[original_key].bytes, original);
    assert_eq!(stored.len(), 2);
}

#[test]
fn premium_gets_200_and_400_and_the_original_and_each_has_the_right_size() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    let response = app.upload(&token, "tall", jpeg(300, 600));
    let urls = response.json_body()["urls"].clone();
    let path = picture_path(&response);
    assert_eq!(
        urls,
        json!([format!("{path}/200"), format!("{path}/400"), path.clone()])
    );
    for (url, width, height) in [
        (format!("{path}/200"), 100, 200),
        (format!("{path}/400"), 200, 400),
        (path.clone(), 300, 600),
    ] {
        let image = app.get(&url, &token);
        assert_eq!(image.status, 200, "{url}");
        assert_eq!(image.header("content-type"), Some("image/jpeg"));
        let probe = imaging::probe(&image.body, &imaging::Limits::default()).unwrap();
        assert_eq!((probe.width, probe.height), (width, height), "{url}");
    }
}

#[test]
fn transparent_pngs_keep_their_transparency_and_opaque_ones_become_jpeg() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let transparent = app.upload(&token, "t", png(400, 400, 100));
    assert_eq!(transparent.json_body()["content_type"], "image/png");
    assert_eq!(
        app.get(&format!("{}/200", picture_path(&transparent)), &token)
            .header("content-type"),
        Some("image/png")
    );
    let opaque = app.upload(&token, "o", png(400, 400, 255));
    assert_eq!(
        app.get(&format!("{}/200", picture_path(&opaque)), &token)
            .header("content-type"),
        Some("image/jpeg")
    );
}

#[test]
fn rejected_uploads_are_400_or_413_and_store_nothing() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    let mut truncated = jpeg(400, 400);
    truncated.truncate(truncated.len() / 2);
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    // (case, form fields, expected status, field that carries the error)
    type Case<'a> = (&'a str, Vec<(&'a str, FormValue)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "gif",
            vec![("name", FormValue::Text("x".into())), ("img", file(gif))],
            400,
            "img",
        ),
        (
            "text",
            vec![
                ("name", FormValue::Text("x".into())),
                ("img", file(b"hello, I am text".to_vec())),
            ],
            400,
            "img",
        ),
        (
            "truncated",
            vec![
                ("name", FormValue::Text("x".into())),
                ("img", file(truncated)),
            ],
            400,
            "img",
        ),
        ("no name", vec![("img", file(jpeg(10, 10)))], 400, "name"),
        (
            "long name",
            vec![
                ("name", FormValue::Text("n".repeat(101))),
                ("img", file(jpeg(10, 10))),
            ],
            400,
            "name",
        ),
        (
            "no img",
            vec![("name", FormValue::Text("x".into()))],
            400,
            "img",
        ),
        (
            "img as text",
            vec![
                ("name", FormValue::Text("x".into())),
                ("img", FormValue::Text("abc".into())),
            ],
            400,
            "img",
        ),
    ];
    for (case, fields, status, field) in cases {
        let response = app.upload_form(&token, fields);
        assert_eq!(response.status, status, "{case}");
        assert!(
            response.json_body()[field].is_array(),
            "{case}: {:?}",
            response.json_body()
        );
    }
    let not_multipart = app.json(Method::Post, "/api/pictures", &token, json!({"name": "x"}));
    assert_eq!(not_multipart.status, 400);
    assert!(not_multipart.json_body()["img"].is_array());
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

#[test]
fn an_upload_over_the_byte_limit_is_a_413_and_stores_nothing() {
    let mut app = TestApp::new();
    app.app.config.max_upload_bytes = 1000;
    let token = app.user("alice", "Basic", false);
    let response = app.upload(&token, "big", jpeg(200, 200));
    assert_eq!(response.status, 413);
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

#[test]
fn a_tiny_png_that_declares_huge_dimensions_is_a_413() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let bomb = png_header_only(100_000, 100_000);
    assert!(bomb.len() < 100, "a tiny file");
    let response = app.upload(&token, "bomb", bomb);
    assert_eq!(response.status, 413);
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

/// A PNG whose header declares `width` x `height` and which has no pixel data.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    drop(encoder.write_header().unwrap());
    out
}

#[test]
fn a_failing_r2_write_midway_leaves_no_objects_and_no_row() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    app.app.blobs.puts_before_failure.set(Some(2));
    let response = app.upload(&token, "x", jpeg(300, 600));
    assert_eq!(response.status, 500);
    assert_eq!(
        response.json_body(),
        json!({"detail": "Internal server error."})
    );
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

#[test]
fn a_failing_d1_insert_removes_the_objects_already_written() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    *app.app.db.fail_on.borrow_mut() = Some("INSERT INTO pictures".into());
    assert_eq!(app.upload(&token, "x", jpeg(300, 600)).status, 500);
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

#[test]
fn reads_are_401_anonymous_404_for_others_and_malformed_ids_and_403_outside_the_tier() {
    let app = TestApp::new();
    let alice = app.user("alice", "Basic", false);
    let bob = app.user("bob", "Premium", false);
    let path = picture_path(&app.upload(&alice, "x", jpeg(300, 600)));
    assert_eq!(
        app.send(Request::new(Method::Get, &format!("{path}/200")))
            .status,
        401
    );
    assert_eq!(app.get(&format!("{path}/200"), &bob).status, 404);
    assert_eq!(app.get("/api/picture/not-a-uuid/200", &alice).status, 404);
    assert_eq!(
        app.get(
            &format!("/api/picture/{}/200", uuid::Uuid::new_v4()),
            &alice
        )
        .status,
        404
    );
    let forbidden = app.get(&format!("{path}/400"), &alice);
    assert_eq!(forbidden.status, 403);
    assert!(forbidden.json_body()["detail"].is_string());
    assert_eq!(app.get(&path, &alice).status, 403);
    assert_eq!(app.delete(&path, &bob).status, 404);
}

#[test]
fn a_second_read_comes_from_the_edge_cache_without_r2_and_with_one_d1_query() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let url = format!(
        "{}/200",
        picture_path(&app.upload(&token, "x", jpeg(300, 600)))
    );
    let first = app.get(&url, &token);
    assert_eq!(first.header("cf-cache-status"), Some("MISS"));
    assert_eq!(first.header("cache-control"), Some("private, max-age=3600"));

    let (gets, queries) = (app.app.blobs.gets.get(), app.app.db.queries.get());
    let second = app.get(&url, &token);
    assert_eq!(second.header("cf-cache-status"), Some("HIT"));
    assert_eq!(second.body, first.body);
    assert_eq!(
        app.app.blobs.gets.get(),
        gets,
        "a cache hit must not read R2"
    );
    assert_eq!(
        app.app.db.queries.get() - queries,
        1,
        "a cache hit makes exactly one D1 query"
    );
}

#[test]
fn the_cache_never_lets_a_request_skip_the_owner_and_tier_checks() {
    let app = TestApp::new();
    let alice = app.user("alice", "Premium", false);
    let bob = app.user("bob", "Premium", false);
    let path = picture_path(&app.upload(&alice, "x", jpeg(300, 600)));
    assert_eq!(app.get(&path, &alice).status, 200);
    assert_eq!(app.get(&path, &bob).status, 404);
    app.set_tier("alice", "Basic");
    assert_eq!(app.get(&path, &alice).status, 403);
}

#[test]
fn a_matching_if_none_match_is_a_304() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let url = format!(
        "{}/200",
        picture_path(&app.upload(&token, "x", jpeg(300, 600)))
    );
    let etag = app.get(&url, &token).header("etag").unwrap().to_owned();
    let response = app.send(
        Request::new(Method::Get, &url)
            .with_header("authorization", &format!("Bearer {token}"))
            .with_header("if-none-match", &etag),
    );
    assert_eq!((response.status, response.body.len()), (304, 0));
}

#[test]
fn a_height_added_to_the_tier_after_upload_is_made_on_first_request() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let token = app.user("alice", "Basic", false);
    let uploaded = app.upload(&token, "x", jpeg(300, 600));
    let path = picture_path(&uploaded);
    assert_eq!(app.get(&format!("{path}/400"), &token).status, 403);
    app.json(
        Method::Patch,
        "/api/admin/users/alice",
        &admin,
        json!({"tier": "Premium"}),
    );
    let listed = app.get("/api/pictures", &token).json_body();
    assert_eq!(
        listed[0]["urls"].as_array().unwrap().len(),
        3,
        "urls follow the current tier"
    );
    let lazy = app.get(&format!("{path}/400"), &token);
    assert_eq!(lazy.status, 200);
    let probe = imaging::probe(&lazy.body, &imaging::Limits::default()).unwrap();
    assert_eq!((probe.width, probe.height), (200, 400));
    assert!(
        app.app
            .blobs
            .objects
            .borrow()
            .keys()
            .any(|k| k.ends_with("/400")),
        "the new thumbnail is stored"
    );
}

#[test]
fn pictures_are_listed_newest_first_across_pages_with_a_link_header() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let image = jpeg(20, 20);
    for i in 0..5 {
        app.app.clock.advance_secs(1);
        app.upload(&token, &format!("p{i}"), image.clone());
    }
    let mut names = Vec::new();
    let mut next = Some("/api/pictures?limit=2".to_owned());
    while let Some(url) = next.take() {
        let page = app.get(&url, &token);
        assert_eq!(page.status, 200);
        names.extend(
            page.json_body()
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned()),
        );
        next = page.header("link").map(|l| {
            l.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap()
                .to_owned()
        });
    }
    assert_eq!(names, ["p4", "p3", "p2", "p1", "p0"]);
    assert_eq!(app.get("/api/pictures?limit=0", &token).status, 400);
    assert_eq!(app.get("/api/pictures?limit=201", &token).status, 400);
    assert_eq!(app.get("/api/pictures?cursor=garbage!", &token).status, 400);
}

#[test]
fn the_list_query_walks_the_owner_index_without_sorting() {
    let db = SqliteDb::migrated();
    let cursor = crate::pictures::Cursor {
        created_at: 5,
        id: "x".into(),
    };
    for cursor in [None, Some(&cursor)] {
        let statement: Statement = capture_list_statement(&db, cursor);
        let plan = db.explain(&statement.sql, &statement.params);
        assert!(plan.contains("USING INDEX pictures_by_owner"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}

/// The statement `list_page` runs, recorded by running it against a database that logs it.
fn capture_list_statement(db: &SqliteDb, cursor: Option<&crate::pictures::Cursor>) -> Statement {
    struct Recorder<'a>(&'a SqliteDb, std::cell::RefCell<Option<Statement>>);
    impl crate::ports::Database for Recorder<'_> {
        async fn query<T: serde::de::DeserializeOwned>(
            &self,
            s: Statement,
        ) -> Result<Vec<T>, crate::ports::StoreError> {
            *self.1.borrow_mut() = Some(s.clone());
            self.0.query(s).await
        }
        async fn execute(&self, s: Statement) -> Result<u64, crate::ports::StoreError> {
            self.0.execute(s).await
        }
        async fn batch(&self, s: Vec<Statement>) -> Result<(), crate::ports::StoreError> {
            self.0.batch(s).await
        }
    }
    let recorder = Recorder(db, Default::default());
    block_on(crate::pictures::list_page(&recorder, 1, 50, cursor)).unwrap();
    recorder.1.into_inner().unwrap()
}

#[test]
fn deleting_a_picture_removes_row_objects_cache_and_links_and_every_url_is_404() {
    let app = TestApp::new();
    let token = app.user("alice", "Enterprise", false);
    let uploaded = app.upload(&token, "x", jpeg(300, 600));
    let path = picture_path(&uploaded);
    let link = app
        .json(Method::Post, &path, &token, json!({"time": 300}))
        .json_body()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    for url in [format!("{path}/200"), format!("{path}/400"), path.clone()] {
        assert_eq!(app.get(&url, &token).status, 200);
    }
    assert!(!app.app.cache.entries.borrow().is_empty());
    assert_eq!(app.delete(&path, &token).status, 204);
    for url in [
        format!("{path}/200"),
        format!("{path}/400"),
        path.clone(),
        link,
    ] {
        assert_eq!(app.get(&url, &token).status, 404, "{url}");
    }
    assert_eq!(
        (
            app.objects(),
            app.app.db.count("pictures"),
            app.app.db.count("links")
        ),
        (0, 0, 0)
    );
    assert!(app.app.cache.entries.borrow().is_empty());
    assert_eq!(app.delete(&path, &token).status, 404);
}

// ---- expiring links -------------------------------------------------------------------------

#[test]
fn an_enterprise_link_serves_the_original_without_login_until_it_expires() {
    let app = TestApp::new();
    let token = app.user("alice", "Enterprise", false);
    let original = jpeg(300, 600);
    let path = picture_path(&app.upload(&token, "x", original.clone()));
    let created = app.json(Method::Post, &path, &token, json!({"time": "400"}));
    assert_eq!(created.status, 201);
    let body = created.json_body();
    assert_eq!(body["time"], 400);
    assert_eq!(body["picture"]["name"], "x");
    let url = body["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/api/timelink/"));

    let served = app.send(Request::new(Method::Get, &url));
    assert_eq!(
        (served.status, served.header("content-type")),
        (200, Some("image/jpeg"))
    );
    assert_eq!(served.body, original);
    assert_eq!(served.header("cache-control"), Some("private, max-age=400"));
    assert_eq!(
        app.send(Request::new(Method::Get, &format!("{url}/")))
            .header("cf-cache-status"),
        Some("HIT")
    );

    app.app.clock.advance_secs(399);
    assert_eq!(app.send(Request::new(Method::Get, &url)).status, 200);
    app.app.clock.advance_secs(1);
    assert_eq!(
        app.send(Request::new(Method::Get, &url)).status,
        404,
        "expired, though still in the cache"
    );
}

#[test]
fn a_link_to_a_thumbnail_serves_the_thumbnail() {
    let app = TestApp::new();
    let token = app.user("alice", "Enterprise", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(300, 600)));
    let url = app
        .json(
            Method::Post,
            &path,
            &token,
            json!({"time": 300, "height": 200}),
        )
        .json_body()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let served = app.send(Request::new(Method::Get, &url));
    assert_eq!(served.body, app.get(&format!("{path}/200"), &token).body);
}

#[test]
fn links_are_400_for_bad_times_and_heights_403_without_the_tier_and_404_for_others() {
    let app = TestApp::new();
    let token = app.user("alice", "Enterprise", false);
    let premium = app.user("bob", "Premium", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(300, 600)));
    for time in [
        json!(299),
        json!(30001),
        json!(-5),
        json!(1.5),
        json!("abc"),
        Value::Null,
    ] {
        let response = app.json(Method::Post, &path, &token, json!({"time": time}));
        assert_eq!(response.status, 400, "{time}");
        assert!(response.json_body()["time"].is_array());
    }
    assert_eq!(app.json(Method::Post, &path, &token, json!({})).status, 400);
    let bad_height = app.json(
        Method::Post,
        &path,
        &token,
        json!({"time": 300, "height": 800}),
    );
    assert!(bad_height.json_body()["height"].is_array());
    assert_eq!(
        app.send(Request::new(Method::Post, &path).with_json(&json!({"time": 300})))
            .status,
        401
    );
    assert_eq!(
        app.json(Method::Post, &path, &premium, json!({"time": 300}))
            .status,
        404
    );
    let own = picture_path(&app.upload(&premium, "y", jpeg(30, 60)));
    assert_eq!(
        app.json(Method::Post, &own, &premium, json!({"time": 300}))
            .status,
        403
    );
    assert_eq!(app.app.db.count("links"), 0);
}

#[test]
fn active_links_are_listed_newest_first_with_time_left_and_revoked_links_are_404() {
    let app = TestApp::new();
    let token = app.user("alice", "Enterprise", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(30, 60)));
    let short = app
        .json(Method::Post, &path, &token, json!({"time": 300}))
        .json_body()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    app.app.clock.advance_secs(10);
    let long = app
        .json(Method::Post, &path, &token, json!({"time": 1000}))
        .json_body()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    app.app.clock.advance_secs(5);
    let listed = app.get("/api/pictures/shared", &token).json_body();
    assert_eq!(listed[0]["url"], long.as_str());
    assert_eq!(
        (
            listed[0]["time_left"].clone(),
            listed[1]["time_left"].clone()
        ),
        (json!(995), json!(285))
    );
    assert_eq!(listed[1]["url"], short.as_str());

    assert_eq!(app.delete(&long, &token).status, 204);
    assert_eq!(app.send(Request::new(Method::Get, &long)).status, 404);
    app.app.clock.advance_secs(300);
    assert_eq!(
        app.get("/api/pictures/shared/", &token).json_body(),
        json!([])
    );
}

#[test]
fn the_sweep_removes_expired_links_in_batches_and_keeps_active_ones() {
    let app = TestApp::new();
    let token = app.user("alice", "Enterprise", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(30, 60)));
    let active = app
        .json(Method::Post, &path, &token, json!({"time": 30000}))
        .json_body()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = path.rsplit('/').next().unwrap();
    app.app.db.exec(&format!(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 1234) \
         INSERT INTO links (id, picture_id, owner_id, height, lifetime_secs, created_at, expires_at) \
         SELECT 'expired-' || i, '{id}', (SELECT owner_id FROM pictures), NULL, 300, 0, {T0} - 1 FROM seq"
    ));
    let report = block_on(crate::maintenance::run_scheduled(
        &app.app.db,
        app.app.clock.0.get(),
    ))
    .unwrap();
    assert_eq!(report.expired_links, 1234);
    assert_eq!(app.app.db.count("links"), 1);
    assert_eq!(app.send(Request::new(Method::Get, &active)).status, 200);
    let again = block_on(crate::maintenance::run_scheduled(
        &app.app.db,
        app.app.clock.0.get(),
    ))
    .unwrap();
    assert_eq!(again.expired_links, 0);
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405() {
    let app = TestApp::new();
    assert_eq!(app.send(Request::new(Method::Get, "/nope")).status, 404);
    assert_eq!(
        app.send(Request::new(Method::Put, "/api/pictures")).status,
        405
    );
    assert_eq!(
        app.send(Request::new(Method::Get, "/__test/counts")).status,
        404,
        "test hooks are off by default"
    );
}
