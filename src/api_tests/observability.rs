//! What an operator sees: request ids, `Server-Timing`, and the structured log lines of requests,
//! internal errors and the cron.

use super::*;
use crate::maintenance;
use crate::observability::logs::capture;

/// The `Server-Timing` entries of a response by name, each with its parameters.
fn timing(response: &Response) -> Vec<(String, String)> {
    response
        .header("server-timing")
        .unwrap_or_default()
        .split(", ")
        .map(|entry| {
            let (name, params) = entry.split_once(';').unwrap_or((entry, ""));
            (name.to_owned(), params.to_owned())
        })
        .collect()
}

fn names(response: &Response) -> Vec<String> {
    timing(response).into_iter().map(|(name, _)| name).collect()
}

fn alice_id(app: &TestApp) -> i64 {
    block_on(store::users::find_by_username(&app.app.db, "alice"))
        .unwrap()
        .unwrap()
        .id
}

#[test]
fn a_read_that_hits_the_cache_reports_the_hit_and_the_d1_check_but_no_r2() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let url = format!(
        "{}/200",
        picture_path(&app.upload(&token, "x", jpeg(300, 600)))
    );
    let first = app.get(&url, &token);
    assert_eq!(names(&first), ["d1", "r2", "cache", "total"]);
    assert!(timing(&first).contains(&("cache".into(), "desc=miss;dur=0".into())));

    let second = app.get(&url, &token);
    assert_eq!(second.header("cf-cache-status"), Some("HIT"));
    assert_eq!(
        second.header("server-timing"),
        Some("d1;dur=0, cache;desc=hit;dur=0, total;dur=0")
    );
}

#[test]
fn an_upload_reports_its_r2_writes_and_its_d1_statements() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    let response = app.upload(&token, "x", jpeg(300, 600));
    assert_eq!(response.status, 201);
    assert_eq!(names(&response), ["d1", "r2", "total"]);
}

#[test]
fn a_list_and_a_404_carry_server_timing_and_a_request_id() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    for response in [
        app.get("/api/pictures", &token),
        app.get("/api/nothing", &token),
    ] {
        assert_eq!(names(&response).last().map(String::as_str), Some("total"));
        assert!(response.header("x-request-id").is_some());
    }
}

#[test]
fn an_error_body_carries_the_same_request_id_as_the_header() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let missing = app.get("/api/picture/00000000-0000-4000-8000-000000000000", &token);
    let invalid = app.json(Method::Post, "/api/admin/tiers", "garbled", json!({}));
    let fields = app.json(
        Method::Post,
        "/api/token/",
        "",
        json!({"username": "alice"}),
    );
    for (response, status) in [(missing, 404), (invalid, 401), (fields, 400)] {
        assert_eq!(response.status, status);
        let id = response.header("x-request-id").unwrap();
        assert_eq!(response.json_body()["request_id"], id, "{status}");
    }
}

#[test]
fn each_request_gets_its_own_id_and_a_cf_ray_is_reused() {
    let app = TestApp::new();
    let plain = || app.send(Request::new(Method::Get, "/api/health"));
    assert_ne!(
        plain().header("x-request-id"),
        plain().header("x-request-id")
    );
    let ray = app.send(
        Request::new(Method::Get, "/api/nothing").with_header("cf-ray", "8f1c2d3e4a5b6c7d-LHR"),
    );
    assert_eq!(ray.header("x-request-id"), Some("8f1c2d3e4a5b6c7d-LHR"));
    assert_eq!(ray.json_body()["request_id"], "8f1c2d3e4a5b6c7d-LHR");
}

#[test]
fn every_request_logs_one_line_with_its_route_pattern_status_user_and_bytes() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(300, 600)));
    let captured = capture::start();

    let listed = app.get("/api/pictures", &token);
    let read = app.get(&format!("{path}/200"), &token);

    let lines = captured.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let (list, image) = (&lines[0], &lines[1]);
    assert_eq!(
        (&list["level"], &list["message"], &list["method"]),
        (&json!("info"), &json!("request"), &json!("GET"))
    );
    assert_eq!(list["route"], "/api/pictures");
    assert_eq!(list["status"], 200);
    assert_eq!(list["user_id"], alice_id(&app));
    assert_eq!(list["bytes"], listed.body.len());
    assert_eq!(list["request_id"], listed.header("x-request-id").unwrap());
    assert!(list["duration_ms"].is_i64());
    assert_eq!(list["d1_calls"], 2);

    assert_eq!(image["route"], "/api/picture/{id}/{height}");
    assert_eq!(image["request_id"], read.header("x-request-id").unwrap());
    // An image passes through as the runtime's stream: its length is not known to wasm.
    assert_eq!(image["bytes"], Value::Null);
    assert_eq!(image["cache"], "miss");
}

#[test]
fn no_log_line_holds_a_password_a_token_or_a_cookie() {
    let app = TestApp::new();
    let captured = capture::start();
    let token = app.user("alice", "Basic", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(30, 60)));
    let session = app.send(
        Request::new(Method::Post, "/api/session/")
            .with_json(&json!({"username": "alice", "password": PASSWORD})),
    );
    let refresh = session.json_body()["refresh"].as_str().unwrap().to_owned();
    let cookie = session
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    app.send(Request::new(Method::Get, &format!("{path}/200")).with_header("cookie", &cookie));
    app.json(
        Method::Post,
        "/api/token/refresh/",
        "",
        json!({"refresh": refresh}),
    );
    app.login("alice", "wrong password");

    let raw = captured.raw().join("\n");
    assert_eq!(captured.lines().len(), 6, "{raw}");
    let cookie_value = cookie.split_once('=').unwrap().1;
    for secret in [PASSWORD, "wrong password", &token, &refresh, cookie_value] {
        assert!(!raw.contains(secret), "{secret} is in the logs:\n{raw}");
    }
    // Nor the path, which holds the picture's id: routes are logged by pattern.
    assert!(!raw.contains(&path), "{raw}");
}

#[test]
fn an_internal_error_logs_its_cause_at_error_level_with_the_request_id() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    *app.app.db.fail_on.borrow_mut() = Some("FROM pictures".into());
    let captured = capture::start();
    let response = app.get("/api/pictures", &token);
    assert_eq!(response.status, 500);
    let id = response.header("x-request-id").unwrap();

    let lines = captured.lines();
    let cause = &lines[0];
    assert_eq!(cause["level"], "error");
    assert_eq!(cause["request_id"], id);
    assert!(cause["message"]
        .as_str()
        .unwrap()
        .contains("injected D1 failure"));
    let request = &lines[1];
    assert_eq!(
        (
            &request["level"],
            &request["status"],
            &request["request_id"]
        ),
        (&json!("error"), &json!(500), &json!(id))
    );
    // The client learns nothing of the cause.
    assert!(!String::from_utf8_lossy(&response.body).contains("injected"));
}

#[test]
fn the_cron_logs_its_report_as_one_structured_line() {
    let app = TestApp::new();
    let captured = capture::start();
    let report = block_on(maintenance::run_and_log(
        &app.app.db,
        &app.app.blobs,
        app.app.clock.clone(),
        "*/5 * * * *",
    ))
    .unwrap();
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(
        (&line["level"], &line["message"]),
        (&json!("info"), &json!("cron"))
    );
    assert_eq!(line["cron"], "*/5 * * * *");
    assert_eq!(line["expired_links"], report.expired_links);
    assert_eq!(line["objects_examined"], report.objects_examined);
    assert!(line["request_id"].is_string());
    assert!(line["d1_calls"].as_u64().unwrap() >= 4);
    assert_eq!(line["r2_calls"], 1);
}

#[test]
fn a_failed_cron_run_is_logged_at_error_level() {
    let app = TestApp::new();
    app.app.blobs.list_fault.set(crate::fakes::Fault::Fail);
    let captured = capture::start();
    let result = block_on(maintenance::run_and_log(
        &app.app.db,
        &app.app.blobs,
        app.app.clock.clone(),
        "*/5 * * * *",
    ));
    assert!(result.is_err());
    let line = &captured.lines()[0];
    assert_eq!(line["level"], "error");
    assert!(line["error"].as_str().unwrap().contains("injected R2 list"));
}
