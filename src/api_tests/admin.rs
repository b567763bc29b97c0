//! The admin API: tiers and users.

use super::*;

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
