//! Health, tokens and the login throttle.

use super::*;

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
    assert_eq!(response.json_body()["detail"], "Service unavailable.");
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
        field_errors(&response),
        json!({"username": ["This field is required."], "password": ["This field is required."]})
    );
    let response =
        app.send(Request::new(Method::Post, "/api/token/").with_bytes(b"{not json".to_vec()));
    assert_eq!(response.status, 400);
    let response =
        app.send(Request::new(Method::Post, "/api/token/refresh/").with_json(&json!({})));
    assert_eq!(
        field_errors(&response),
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
