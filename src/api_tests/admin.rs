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

#[test]
fn deleting_a_user_forgets_their_failed_logins_and_refusing_the_last_admin_forgets_nothing() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    app.user("alice", "Basic", false);
    assert_eq!(app.login("alice", "wrong password").status, 401);
    assert_eq!(app.login("root", "wrong password").status, 401);

    assert_eq!(app.delete("/api/admin/users/root", &admin).status, 409);
    assert_eq!(app.app.db.count("login_failures"), 2);
    assert_eq!(app.delete("/api/admin/users/alice", &admin).status, 204);
    assert_eq!(app.app.db.count("login_failures"), 1);
}

/// A user's token generation, to see whether a reset was counted.
fn token_generation(app: &TestApp, username: &str) -> i64 {
    block_on(store::users::find_by_username(&app.app.db, username))
        .unwrap()
        .unwrap()
        .token_generation
}

#[test]
fn a_password_reset_racing_a_tier_change_keeps_both() {
    // Arrange: the tier change lands between the reset's read and its write.
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let old_token = app.user("alice", "Basic", false);
    *app.app.db.race.borrow_mut() = Some((
        "UPDATE users".into(),
        "UPDATE users SET tier_id = (SELECT id FROM tiers WHERE name = 'Premium') \
         WHERE username = 'alice'"
            .into(),
    ));

    // Act
    let reset = app.json(
        Method::Patch,
        "/api/admin/users/alice",
        &admin,
        json!({"password": "the new password"}),
    );

    // Assert
    assert_eq!(reset.status, 200);
    assert!(app.app.db.race.borrow().is_none(), "the race ran");
    assert_eq!(reset.json_body()["tier"], "Premium");
    assert_eq!(app.login("alice", PASSWORD).status, 401);
    assert_eq!(app.login("alice", "the new password").status, 200);
    assert_eq!(app.get("/api/pictures", &old_token).status, 401);
}

#[test]
fn a_tier_change_racing_a_password_reset_does_not_undo_the_reset() {
    // Arrange: the reset (another request, written as this service writes it) lands between the
    // tier change's read and its write.
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let old_token = app.user("alice", "Basic", false);
    let generation = token_generation(&app, "alice");
    let hash = block_on(passwords::hash(&RustKdf, "the new password")).unwrap();
    *app.app.db.race.borrow_mut() = Some((
        "UPDATE users".into(),
        format!(
            "UPDATE users SET password_hash = '{hash}', token_generation = token_generation + 1 \
             WHERE username = 'alice'"
        ),
    ));

    // Act
    let change = app.json(
        Method::Patch,
        "/api/admin/users/alice",
        &admin,
        json!({"tier": "Premium"}),
    );

    // Assert
    assert_eq!(change.status, 200);
    assert!(app.app.db.race.borrow().is_none(), "the race ran");
    assert_eq!(change.json_body()["tier"], "Premium");
    assert_eq!(token_generation(&app, "alice"), generation + 1);
    assert_eq!(app.login("alice", PASSWORD).status, 401);
    assert_eq!(app.login("alice", "the new password").status, 200);
    assert_eq!(app.get("/api/pictures", &old_token).status, 401);
}

#[test]
fn two_password_resets_at_once_both_end_the_old_tokens() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    app.user("alice", "Basic", false);
    let generation = token_generation(&app, "alice");
    *app.app.db.race.borrow_mut() = Some((
        "UPDATE users".into(),
        "UPDATE users SET token_generation = token_generation + 1 WHERE username = 'alice'".into(),
    ));
    let reset = app.json(
        Method::Patch,
        "/api/admin/users/alice",
        &admin,
        json!({"password": "the new password"}),
    );
    assert_eq!(reset.status, 200);
    assert_eq!(token_generation(&app, "alice"), generation + 2);
}

#[test]
fn a_renamed_user_keeps_their_tokens_only_when_the_name_is_unchanged() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let token = app.user("alice", "Basic", false);
    let same = app.json(
        Method::Patch,
        "/api/admin/users/alice",
        &admin,
        json!({"username": "alice"}),
    );
    assert_eq!(same.status, 200);
    assert_eq!(app.get("/api/pictures", &token).status, 200);
    let renamed = app.json(
        Method::Patch,
        "/api/admin/users/alice",
        &admin,
        json!({"username": "alicia"}),
    );
    assert_eq!(renamed.json_body()["username"], "alicia");
    assert_eq!(app.get("/api/pictures", &token).status, 401);
}

#[test]
fn a_user_patch_that_writes_nothing_says_why() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    app.user("alice", "Basic", false);
    let patch = |user: &str, body: Value| {
        app.json(
            Method::Patch,
            &format!("/api/admin/users/{user}"),
            &admin,
            body,
        )
    };
    assert_eq!(patch("nobody", json!({"tier": "Premium"})).status, 404);
    let gold = patch("alice", json!({"tier": "Gold"}));
    assert_eq!(gold.status, 400);
    assert_eq!(
        gold.json_body()["tier"],
        json!(["Tier \"Gold\" does not exist."])
    );
    assert_eq!(patch("root", json!({"is_admin": false})).status, 409);
    assert_eq!(patch("alice", json!({"username": "root"})).status, 400);
    assert_eq!(patch("alice", json!({})).json_body()["tier"], "Basic");
}

#[test]
fn concurrent_patches_of_different_tier_fields_both_survive() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    *app.app.db.race.borrow_mut() = Some((
        "UPDATE tiers".into(),
        "UPDATE tiers SET thumbnail_heights = '[200,300]' WHERE name = 'Basic'".into(),
    ));
    let patched = app.json(
        Method::Patch,
        "/api/admin/tiers/Basic",
        &admin,
        json!({"allow_original": true}),
    );
    assert_eq!(patched.status, 200);
    assert!(app.app.db.race.borrow().is_none(), "the race ran");
    let tier = app.get("/api/admin/tiers/Basic", &admin).json_body();
    assert_eq!(
        (
            tier["allow_original"].clone(),
            tier["thumbnail_heights"].clone()
        ),
        (json!(true), json!([200, 300]))
    );
    assert_eq!(patched.json_body(), tier);
}

#[test]
fn creating_a_user_in_a_tier_deleted_meanwhile_is_a_400_naming_the_tier() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let created = app.json(
        Method::Post,
        "/api/admin/tiers",
        &admin,
        json!({"name": "Gold", "thumbnail_heights": [200]}),
    );
    assert_eq!(created.status, 201);
    *app.app.db.race.borrow_mut() = Some((
        "INSERT INTO users".into(),
        "DELETE FROM tiers WHERE name = 'Gold'".into(),
    ));

    let response = app.json(
        Method::Post,
        "/api/admin/users",
        &admin,
        json!({"username": "bob", "password": "long enough", "tier": "Gold"}),
    );

    assert!(app.app.db.race.borrow().is_none(), "the race ran");
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json_body()["tier"],
        json!(["Tier \"Gold\" does not exist."])
    );
    assert_eq!(app.get("/api/admin/users/bob", &admin).status, 404);
}

#[test]
fn the_default_tier_stays_the_default_when_renamed_and_cannot_be_deleted() {
    let app = TestApp::new();
    let admin = app.user("root", "Premium", true);
    let renamed = app.json(
        Method::Patch,
        "/api/admin/tiers/Basic",
        &admin,
        json!({"name": "Starter"}),
    );
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.json_body()["is_default"], json!(true));

    let created = app.json(
        Method::Post,
        "/api/admin/users",
        &admin,
        json!({"username": "bob", "password": "long enough"}),
    );
    assert_eq!(created.status, 201);
    assert_eq!(created.json_body()["tier"], "Starter");
    assert_eq!(app.delete("/api/admin/users/bob", &admin).status, 204);

    // No user has it now, but it is still the default.
    let refused = app.delete("/api/admin/tiers/Starter", &admin);
    assert_eq!(refused.status, 409);
    assert_eq!(
        refused.json_body()["detail"],
        "Starter is the default tier, given to new users: make another tier the default first."
    );
    assert_eq!(app.get("/api/admin/tiers/Starter", &admin).status, 200);
}

#[test]
fn another_tier_can_be_made_the_default_and_then_the_old_one_deleted() {
    let app = TestApp::new();
    let admin = app.user("root", "Premium", true);
    let made = app.json(
        Method::Patch,
        "/api/admin/tiers/Enterprise",
        &admin,
        json!({"is_default": true}),
    );
    assert_eq!(made.status, 200);
    let defaults: Vec<Value> = app
        .get("/api/admin/tiers", &admin)
        .json_body()
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["is_default"] == json!(true))
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(defaults, [json!("Enterprise")], "exactly one default");
    let unset = app.json(
        Method::Patch,
        "/api/admin/tiers/Enterprise",
        &admin,
        json!({"is_default": false}),
    );
    assert_eq!(unset.status, 400);
    assert!(unset.json_body()["is_default"].is_array());

    assert_eq!(app.delete("/api/admin/tiers/Basic", &admin).status, 204);
    let created = app.json(
        Method::Post,
        "/api/admin/users",
        &admin,
        json!({"username": "bob", "password": "long enough"}),
    );
    assert_eq!(created.json_body()["tier"], "Enterprise");
}

/// The usernames of one page, and the next page's path from the `Link` header.
fn users_page(app: &TestApp, admin: &str, path: &str) -> (Vec<String>, Option<String>) {
    let response = app.get(path, admin);
    assert_eq!(response.status, 200, "{path}");
    let names = response
        .json_body()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    let next = response.header("link").map(|link| {
        link.trim_start_matches('<')
            .split_once('>')
            .unwrap()
            .0
            .to_owned()
    });
    (names, next)
}

#[test]
fn the_user_list_pages_through_every_user_newest_first() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    for i in 0..6 {
        app.user(&format!("user{i}"), "Basic", false);
    }
    let mut seen = Vec::new();
    let mut next = Some("/api/admin/users?limit=3".to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        let (names, link) = users_page(&app, &admin, &path);
        assert!(names.len() <= 3);
        seen.extend(names);
        next = link;
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ["user5", "user4", "user3", "user2", "user1", "user0", "root"]
    );
    assert_eq!(
        app.get("/api/admin/users?cursor=garbage", &admin).status,
        400
    );
}

#[test]
fn the_user_list_searches_usernames_and_keeps_the_search_on_the_next_page() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    for name in ["ann_1", "annex", "Anna", "bob", "ann_2", "ann_3"] {
        app.user(name, "Basic", false);
    }
    let (names, _) = users_page(&app, &admin, "/api/admin/users?search=ANN");
    assert_eq!(names, ["ann_3", "ann_2", "Anna", "annex", "ann_1"]);
    // `_` is a username character, not a wildcard.
    let (first, next) = users_page(&app, &admin, "/api/admin/users?search=n_&limit=2");
    assert_eq!(first, ["ann_3", "ann_2"]);
    let next = next.unwrap();
    assert!(next.contains("search=n_"), "{next}");
    assert_eq!(users_page(&app, &admin, &next).0, ["ann_1"]);
    assert!(users_page(&app, &admin, "/api/admin/users?search=%25")
        .0
        .is_empty());
    let long = "a".repeat(151);
    assert_eq!(
        app.get(&format!("/api/admin/users?search={long}"), &admin)
            .status,
        400
    );
}
