//! Expiring links and the cron's sweep.

use super::*;

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
        &app.app.blobs,
        app.app.clock.0.get(),
    ))
    .unwrap();
    assert_eq!(report.expired_links, 1234);
    assert_eq!(app.app.db.count("links"), 1);
    assert_eq!(app.send(Request::new(Method::Get, &active)).status, 200);
    let again = block_on(crate::maintenance::run_scheduled(
        &app.app.db,
        &app.app.blobs,
        app.app.clock.0.get(),
    ))
    .unwrap();
    assert_eq!(again.expired_links, 0);
}

#[test]
fn a_link_to_the_original_is_refused_on_a_tier_with_links_but_without_originals() {
    let app = TestApp::new();
    app.app.db.exec(
        "INSERT INTO tiers (name, thumbnail_heights, allow_original, allow_expiring_links, created_at) \
         VALUES ('Sharing', '[200]', 0, 1, 0)",
    );
    let token = app.user("alice", "Sharing", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(300, 600)));

    let original = app.json(Method::Post, &path, &token, json!({"time": 600}));
    let thumbnail = app.json(
        Method::Post,
        &path,
        &token,
        json!({"time": 600, "height": 200}),
    );

    assert_eq!(original.status, 400);
    assert_eq!(
        original.json_body()["height"],
        json!(["Your tier does not include original pictures: give a thumbnail height."])
    );
    assert_eq!(app.app.db.count("links"), 1, "only the thumbnail's link");
    assert_eq!(thumbnail.status, 201);
    let url = thumbnail.json_body()["url"].as_str().unwrap().to_owned();
    assert_eq!(app.send(Request::new(Method::Get, &url)).status, 200);
}
