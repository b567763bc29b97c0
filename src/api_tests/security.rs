//! Attacks from the security review (issue 11): each test reproduces one.

use super::*;

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn a_body_without_content_length_is_counted_and_refused_at_the_limit() {
    let mut app = TestApp::new();
    app.app.config.max_upload_bytes = 1000;
    let token = app.user("alice", "Basic", false);
    // No Content-Length header: the body is counted as it is read.
    let response = app.upload(&token, "big", jpeg(200, 200));
    assert_eq!(response.status, 413);
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

#[test]
fn an_anonymous_upload_is_a_401_whatever_its_declared_size() {
    let app = TestApp::new();
    let response = app.send(
        Request::new(Method::Post, "/api/pictures")
            .with_header("content-length", "999999999")
            .with_header("content-type", "multipart/form-data; boundary=x"),
    );
    assert_eq!(response.status, 401);
}

#[test]
fn the_last_admin_can_neither_drop_the_flag_nor_be_deleted() {
    let app = TestApp::new();
    let root = app.user("root", "Basic", true);
    let demote = app.json(
        Method::Patch,
        "/api/admin/users/root",
        &root,
        json!({"is_admin": false}),
    );
    assert_eq!(demote.status, 409);
    assert!(demote.json_body()["detail"].is_string());
    assert_eq!(app.delete("/api/admin/users/root", &root).status, 409);
    assert_eq!(
        app.get("/api/admin/users/root", &root).json_body()["is_admin"],
        true
    );

    app.user("second", "Basic", true);
    let demote = app.json(
        Method::Patch,
        "/api/admin/users/root",
        &root,
        json!({"is_admin": false}),
    );
    assert_eq!(demote.status, 200, "another admin exists");
}

#[test]
fn a_password_change_ends_every_earlier_token() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let access = app.user("alice", "Basic", false);
    let refresh = app.login("alice", PASSWORD).json_body()["refresh"].clone();
    let path = picture_path(&app.upload(&access, "x", jpeg(30, 60)));
    let changed = app.json(
        Method::Patch,
        "/api/admin/users/alice",
        &admin,
        json!({"password": "a brand new password"}),
    );
    assert_eq!(changed.status, 200);
    assert_eq!(app.get("/api/pictures", &access).status, 401);
    assert_eq!(
        app.get(&format!("{path}/200"), &access).status,
        401,
        "the read path too"
    );
    let refreshed = app.send(
        Request::new(Method::Post, "/api/token/refresh/").with_json(&json!({"refresh": refresh})),
    );
    assert_eq!(refreshed.status, 401);
    assert_eq!(app.login("alice", "a brand new password").status, 200);
}

#[test]
fn a_rename_ends_every_earlier_token_and_a_tier_change_does_not() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let access = app.user("alice", "Basic", false);
    app.json(
        Method::Patch,
        "/api/admin/users/alice",
        &admin,
        json!({"tier": "Premium"}),
    );
    assert_eq!(app.get("/api/pictures", &access).status, 200);
    app.json(
        Method::Patch,
        "/api/admin/users/alice",
        &admin,
        json!({"username": "alicia"}),
    );
    assert_eq!(app.get("/api/pictures", &access).status, 401);
}

#[test]
fn a_refresh_token_works_once_and_rotation_returns_a_new_one() {
    let app = TestApp::new();
    app.user("alice", "Basic", false);
    let first = app.login("alice", PASSWORD).json_body()["refresh"].clone();
    let refresh = |token: &Value| {
        app.send(
            Request::new(Method::Post, "/api/token/refresh/").with_json(&json!({"refresh": token})),
        )
    };
    let rotated = refresh(&first);
    assert_eq!(rotated.status, 200);
    let second = rotated.json_body()["refresh"].clone();
    assert!(second.is_string() && second != first);
    assert_eq!(refresh(&first).status, 401, "a replayed refresh token");
    assert_eq!(refresh(&second).status, 200);
}

#[test]
fn an_over_long_username_is_refused_before_anything_is_stored() {
    let app = TestApp::new();
    let response = app.login(&"a".repeat(10_000), "whatever");
    assert_eq!(response.status, 401);
    let huge = app.login(&"a".repeat(3 * 1024 * 1024), "whatever");
    assert_eq!(
        huge.status, 413,
        "a JSON body is bounded before it is parsed"
    );
    assert_eq!(app.app.db.count("login_failures"), 0);
}

#[test]
fn attempts_are_counted_before_the_password_is_checked() {
    let app = TestApp::new();
    app.user("alice", "Basic", false);
    for _ in 0..10 {
        assert_eq!(app.login("alice", "wrong password").status, 401);
    }
    // Beyond the limit the password is never looked at, and every attempt still counts.
    for _ in 0..5 {
        assert_eq!(app.login("alice", PASSWORD).status, 429);
    }
    let failures: i64 = app.app.db.count("login_failures");
    assert_eq!(failures, 1);
    let attempts = block_on(crate::store::login_failures::count_attempt(
        &app.app.db,
        "alice",
        "203.0.113.1",
        T0,
    ))
    .unwrap()
    .count;
    assert_eq!(attempts, 16);
}

#[test]
fn a_link_created_while_its_picture_is_deleted_is_a_404() {
    let app = TestApp::new();
    let token = app.user("alice", "Enterprise", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(30, 60)));
    // A concurrent delete lands between the ownership check and the insert.
    *app.app.db.race.borrow_mut() =
        Some(("INSERT INTO links".into(), "DELETE FROM pictures".into()));
    let response = app.json(Method::Post, &path, &token, json!({"time": 300}));
    assert_eq!(response.status, 404);
    assert_eq!(app.app.db.count("links"), 0);
}

#[test]
fn unknown_methods_are_405_with_allow_and_head_works_wherever_get_does() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    for method in ["PROPFIND", "PURGE", "LOCK"] {
        let response = app.send(
            Request::new(Method::parse(method), "/api/pictures")
                .with_header("authorization", &bearer(&token)),
        );
        assert_eq!(response.status, 405, "{method}");
        assert_eq!(response.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    }
    let head = app.send(
        Request::new(Method::Head, "/api/pictures").with_header("authorization", &bearer(&token)),
    );
    assert_eq!((head.status, head.body.len()), (200, 0));
    let options = app.send(Request::new(Method::Options, "/api/picture/x/200"));
    assert_eq!(options.status, 204);
    assert_eq!(options.header("allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn tier_names_that_cannot_be_reached_or_deceive_are_400() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    for name in [".", "..", " padded", "rtl\u{202E}gnp", "tab\there"] {
        let response = app.json(
            Method::Post,
            "/api/admin/tiers",
            &admin,
            json!({"name": name, "thumbnail_heights": [100]}),
        );
        assert_eq!(response.status, 400, "{name:?}");
        assert!(response.json_body()["name"].is_array());
    }
}

#[test]
fn picture_names_with_control_or_bidi_characters_are_400() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    for name in ["holiday\u{202E}gpj.exe", " padded", "line\nbreak"] {
        let response = app.upload(&token, name, jpeg(20, 20));
        assert_eq!(response.status, 400, "{name:?}");
        assert!(response.json_body()["name"].is_array());
    }
    assert_eq!(app.objects(), 0);
}

#[test]
fn a_full_width_look_alike_of_a_username_is_the_same_username() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    app.user("alice", "Basic", false);
    let response = app.json(
        Method::Post,
        "/api/admin/users",
        &admin,
        json!({"username": "ａｌｉｃｅ", "password": "long enough"}),
    );
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json_body()["username"],
        json!(["A user with that username already exists."])
    );
    assert_eq!(
        app.login("ａｌｉｃｅ", PASSWORD).status,
        200,
        "logins normalise too"
    );
}

#[test]
fn token_answers_are_no_store_and_private_json_is_private_no_store() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let login = app.login("alice", PASSWORD);
    assert_eq!(login.header("cache-control"), Some("no-store"));
    assert_eq!(login.header("x-content-type-options"), Some("nosniff"));
    let list = app.get("/api/pictures", &token);
    assert_eq!(list.header("cache-control"), Some("private, no-store"));
    assert_eq!(list.header("x-content-type-options"), Some("nosniff"));
}

#[test]
fn cors_answers_allowed_origins_only_and_never_allows_credentials() {
    let mut app = TestApp::new();
    app.app.config.cors_allowed_origins = vec!["https://app.example".into()];
    let preflight = |origin: &str| {
        app.send(
            Request::new(Method::Options, "/api/pictures")
                .with_header("origin", origin)
                .with_header("access-control-request-method", "POST"),
        )
    };
    let allowed = preflight("https://app.example");
    assert_eq!(allowed.status, 204);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        allowed.header("access-control-allow-methods"),
        Some("GET, HEAD, POST, OPTIONS")
    );
    assert!(allowed
        .header("access-control-allow-headers")
        .unwrap()
        .contains("authorization"));
    assert_eq!(allowed.header("access-control-allow-credentials"), None);
    let other = preflight("https://evil.example");
    assert_eq!(other.header("access-control-allow-origin"), None);
    assert_eq!(other.header("access-control-allow-methods"), None);
    let get = app.send(
        Request::new(Method::Get, "/api/health").with_header("origin", "https://app.example"),
    );
    assert_eq!(
        get.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(get.header("vary"), Some("Origin"));
}

#[test]
fn without_an_allow_list_there_are_no_cors_headers() {
    let app = TestApp::new();
    let get = app.send(
        Request::new(Method::Get, "/api/health").with_header("origin", "https://app.example"),
    );
    assert_eq!(get.header("access-control-allow-origin"), None);
}

#[test]
fn the_session_cookie_authorizes_reads_but_never_a_change() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(30, 60)));
    let session = app.send(
        Request::new(Method::Post, "/api/session/")
            .with_json(&json!({"username": "alice", "password": PASSWORD})),
    );
    assert_eq!(session.status, 200);
    let cookie = session.header("set-cookie").unwrap().to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = |method: Method, url: &str| {
        app.send(Request::new(method, url).with_header("cookie", &pair))
            .status
    };
    assert_eq!(with_cookie(Method::Get, &format!("{path}/200")), 200);
    assert_eq!(with_cookie(Method::Get, "/api/me/"), 200);
    assert_eq!(
        with_cookie(Method::Delete, &path),
        401,
        "a cookie never authorizes a change"
    );
    assert_eq!(app.get(&format!("{path}/200"), &token).status, 200);
    let ended = app.send(Request::new(Method::Delete, "/api/session/"));
    assert_eq!(ended.status, 204);
    assert!(ended.header("set-cookie").unwrap().contains("Max-Age=0"));
}

#[test]
fn me_describes_the_caller_and_their_tier() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    let me = app.get("/api/me/", &token).json_body();
    assert_eq!(
        me,
        json!({"username": "alice", "is_admin": false, "tier": {"name": "Premium",
            "thumbnail_heights": [200, 400], "allow_original": true, "allow_expiring_links": false,
            "is_default": false}})
    );
}

#[test]
fn a_gif_whose_frame_dwarfs_its_screen_is_refused_naming_the_frame_and_a_real_limit() {
    // A 1x1 logical screen whose first frame declares 65535x65535 pixels.
    let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
    gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0]);
    gif.extend_from_slice(&[2, 2, 0x44, 0x01, 0, 0x3B]);
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);

    let response = app.upload(&token, "bomb", gif);

    assert_eq!(response.status, 413);
    let detail = response.json_body()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.starts_with("The image is 65535x65535 pixels; at most "),
        "{detail}"
    );
    assert!(!detail.contains("at most 0 pixels"), "{detail}");
    assert_eq!(app.objects(), 0);
}
