//! Tokens, rejected tokens, login throttling, health, and the admin API, over HTTP.

use crate::client::{
    admin_token, env, field_errors, new_user, unique, Client, Health, Tier, Tokens, User,
};
use crate::jwt::{claims, now, signed, user_id_of, Algorithm};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Map, Value};

#[test]
fn health_answers_200_with_the_version() {
    let reply = Client::from_env().health();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.parse::<Health>().version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn token_and_refresh_work_with_and_without_the_trailing_slash() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let body = json!({"username": user.username, "password": user.password});
    for path in ["/api/token", "/api/token/"] {
        let reply = client.json("POST", path, None, &body);
        assert_eq!(reply.status, 200, "{path}");
        reply.parse::<Tokens>();
    }
    // Refresh tokens rotate (each works once), so each path gets the one the last answer gave.
    let mut refresh = user.refresh.clone();
    for path in ["/api/token/refresh", "/api/token/refresh/"] {
        let reply = client.json("POST", path, None, &json!({"refresh": refresh}));
        assert_eq!(reply.status, 200, "{path}");
        let tokens: Tokens = reply.parse();
        assert_eq!(
            client.get("/api/pictures", Some(&tokens.access)).status,
            200
        );
        refresh = tokens.refresh;
    }
}

#[test]
fn wrong_credentials_are_401_and_bad_bodies_are_400_per_field() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let wrong = client.token(&user.username, "not the password");
    assert_eq!(wrong.status, 401);
    wrong.detail();
    assert_eq!(client.token(&unique("nobody"), "whatever-pass").status, 401);

    let missing = client.json(
        "POST",
        "/api/token/",
        None,
        &json!({"username": user.username}),
    );
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.field_errors(),
        field_errors(&[("password", &["This field is required."])])
    );
    let malformed = client.send(
        "POST",
        "/api/token/",
        &[("content-type", "application/json")],
        Some(b"{\"username\":"),
    );
    assert_eq!(malformed.status, 400);
    malformed.parse::<Map<String, Value>>();
    assert_eq!(
        client
            .json("POST", "/api/token/refresh/", None, &json!({}))
            .field_errors(),
        field_errors(&[("refresh", &["This field is required."])])
    );
}

#[test]
fn every_kind_of_bad_token_is_a_401() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let secret = env("STORAGETIERS_JWT_SECRET");
    let id = user_id_of(&user.access);
    let claims = |token_type: &str, exp: i64| claims(token_type, id, exp);
    let header_none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims("access", now() + 600).to_string());
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("garbled header", Some("Bearer".into())),
        ("not bearer", Some(format!("Basic {}", user.access))),
        ("garbage token", Some("Bearer not.a.jwt".into())),
        (
            "bad signature",
            Some(format!(
                "Bearer {}",
                signed(
                    &claims("access", now() + 600),
                    Algorithm::HS256,
                    "some-other-secret-of-enough-length"
                )
            )),
        ),
        ("alg none", Some(format!("Bearer {header_none}.{payload}."))),
        (
            "alg HS512",
            Some(format!(
                "Bearer {}",
                signed(&claims("access", now() + 600), Algorithm::HS512, &secret)
            )),
        ),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                signed(&claims("access", now() - 1), Algorithm::HS256, &secret)
            )),
        ),
        (
            "refresh as access",
            Some(format!("Bearer {}", user.refresh)),
        ),
    ];
    for (case, header) in cases {
        let headers: Vec<(&str, &str)> = header
            .iter()
            .map(|h| ("authorization", h.as_str()))
            .collect();
        let reply = client.send("GET", "/api/pictures", &headers, None);
        assert_eq!(reply.status, 401, "{case}");
        reply.detail();
    }
    // The control: the same forging code with the right secret and type is accepted.
    let good = signed(&claims("access", now() + 600), Algorithm::HS256, &secret);
    assert_eq!(client.get("/api/pictures", Some(&good)).status, 200);

    assert_eq!(
        client.refresh(&user.access).status,
        401,
        "access as refresh"
    );
    assert_eq!(client.refresh("garbage").status, 401);
    let expired_refresh = signed(&claims("refresh", now() - 1), Algorithm::HS256, &secret);
    assert_eq!(client.refresh(&expired_refresh).status, 401);
}

#[test]
fn the_tokens_of_a_deleted_user_are_401() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let user = new_user(&client, "Basic");
    assert_eq!(
        client
            .delete(&format!("/api/admin/users/{}", user.username), Some(&admin))
            .status,
        204
    );
    assert_eq!(client.get("/api/pictures", Some(&user.access)).status, 401);
    assert_eq!(client.refresh(&user.refresh).status, 401);
}

#[test]
fn repeated_failures_are_throttled_per_username_and_address() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let attacker = "198.51.100.23";
    for _ in 0..10 {
        assert_eq!(
            client
                .token_from(&user.username, "wrong-password", attacker)
                .status,
            401
        );
    }
    let locked = client.token_from(&user.username, &user.password, attacker);
    assert_eq!(
        locked.status, 429,
        "the right password does not bypass the lock"
    );
    let retry_after: i64 = locked
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after));
    assert_eq!(
        client
            .token_from(&user.username, &user.password, "203.0.113.99")
            .status,
        200,
        "other addresses still log in"
    );
}

#[test]
fn the_admin_api_is_401_anonymous_and_403_for_users() {
    let client = Client::from_env();
    let user = new_user(&client, "Premium");
    for path in [
        "/api/admin/tiers",
        "/api/admin/users",
        "/api/admin/tiers/Basic",
        "/api/admin/users/x",
    ] {
        assert_eq!(client.get(path, None).status, 401, "{path}");
        assert_eq!(client.get(path, Some(&user.access)).status, 403, "{path}");
    }
    let attempt = client.json(
        "POST",
        "/api/admin/tiers",
        Some(&user.access),
        &json!({"name": "x", "thumbnail_heights": [1]}),
    );
    assert_eq!(attempt.status, 403);
}

#[test]
fn admins_manage_tiers_with_validation_404_and_409() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let name = unique("tier");
    let spec = json!({"name": name, "thumbnail_heights": [800, 100], "allow_original": false, "allow_expiring_links": true});
    let created = client.json("POST", "/api/admin/tiers", Some(&admin), &spec);
    assert_eq!(created.status, 201);
    assert_eq!(
        created.parse::<Tier>(),
        Tier {
            name: name.clone(),
            thumbnail_heights: vec![100, 800],
            allow_original: false,
            allow_expiring_links: true,
            is_default: false,
        }
    );
    assert_eq!(
        client
            .json("POST", "/api/admin/tiers/", Some(&admin), &spec)
            .status,
        400,
        "duplicate name"
    );
    let invalid = client.json(
        "POST",
        "/api/admin/tiers",
        Some(&admin),
        &json!({"name": "", "thumbnail_heights": [0, 5000]}),
    );
    assert_eq!(invalid.status, 400);
    let errors = invalid.field_errors();
    assert!(errors.contains_key("name") && errors.contains_key("thumbnail_heights"));

    let path = format!("/api/admin/tiers/{name}");
    let patched = client.json(
        "PATCH",
        &path,
        Some(&admin),
        &json!({"allow_original": true}),
    );
    assert_eq!(patched.status, 200);
    assert!(patched.parse::<Tier>().allow_original);
    assert_eq!(
        client
            .get(&path, Some(&admin))
            .parse::<Tier>()
            .thumbnail_heights,
        [100, 800]
    );
    assert!(client
        .get("/api/admin/tiers", Some(&admin))
        .parse::<Vec<Tier>>()
        .iter()
        .any(|t| t.name == name));
    assert_eq!(
        client
            .get("/api/admin/tiers/no-such-tier", Some(&admin))
            .status,
        404
    );
    assert_eq!(
        client
            .delete("/api/admin/tiers/no-such-tier", Some(&admin))
            .status,
        404
    );

    let member = unique("member");
    let user = json!({"username": member, "password": "long-enough", "tier": name});
    assert_eq!(
        client
            .json("POST", "/api/admin/users", Some(&admin), &user)
            .status,
        201
    );
    assert_eq!(
        client.delete(&path, Some(&admin)).status,
        409,
        "still assigned"
    );
    assert_eq!(
        client
            .delete(&format!("/api/admin/users/{member}"), Some(&admin))
            .status,
        204
    );
    assert_eq!(client.delete(&path, Some(&admin)).status, 204);
    assert_eq!(client.get(&path, Some(&admin)).status, 404);
}

#[test]
fn admins_manage_users_and_hashes_never_appear() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let name = unique("u");
    let created = client.json(
        "POST",
        "/api/admin/users/",
        Some(&admin),
        &json!({"username": name, "password": "first-password"}),
    );
    assert_eq!(created.status, 201);
    assert_eq!(
        created.parse::<User>(),
        User {
            username: name.clone(),
            tier: "Basic".into(),
            is_admin: false
        }
    );
    let path = format!("/api/admin/users/{name}");
    let patched = client.json(
        "PATCH",
        &path,
        Some(&admin),
        &json!({"tier": "Enterprise", "password": "second-password"}),
    );
    assert_eq!(patched.parse::<User>().tier, "Enterprise");
    assert_eq!(client.token(&name, "first-password").status, 401);
    assert_eq!(client.token(&name, "second-password").status, 200);
    for body in [
        client.get(&path, Some(&admin)).body,
        client.get("/api/admin/users", Some(&admin)).body,
    ] {
        let text = String::from_utf8(body).unwrap();
        assert!(
            !text.contains("pbkdf2") && !text.contains("password"),
            "{text}"
        );
    }
    let invalid = client.json(
        "POST",
        "/api/admin/users",
        Some(&admin),
        &json!({"username": "has space", "password": "short", "tier": "Gold"}),
    );
    assert_eq!(invalid.status, 400);
    let errors = invalid.field_errors();
    assert!(errors.contains_key("username") && errors.contains_key("password"));
    let unknown_tier = client.json(
        "POST",
        "/api/admin/users",
        Some(&admin),
        &json!({"username": unique("u"), "password": "long-enough", "tier": "Gold"}),
    );
    assert!(unknown_tier.field_errors().contains_key("tier"));
    assert_eq!(
        client
            .get("/api/admin/users/no-such-user", Some(&admin))
            .status,
        404
    );
    assert_eq!(
        client
            .json(
                "PATCH",
                "/api/admin/users/no-such-user",
                Some(&admin),
                &json!({})
            )
            .status,
        404
    );
}

#[test]
fn health_shows_the_isolate_gauge_to_admins_only() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let anonymous: Health = client.health().parse();
    assert_eq!(
        (anonymous.status.as_str(), anonymous.isolate.is_none()),
        ("ok", true)
    );
    let not_admin: Health = client.get("/api/health", Some(&user.access)).parse();
    assert!(not_admin.isolate.is_none(), "{not_admin:?}");

    let admin: Health = client
        .get("/api/health", Some(&admin_token(&client)))
        .parse();
    let isolate = admin.isolate.expect("the gauge for an admin");
    assert!(
        isolate.wasm_memory_bytes >= 64 * 1024,
        "at least one wasm page: {isolate:?}"
    );
    assert!(
        isolate.memory_reserved_bytes <= 96 * 1024 * 1024,
        "never more reserved than the default budget: {isolate:?}"
    );
    assert!(
        isolate.requests_in_flight >= 1,
        "this request is in flight: {isolate:?}"
    );
}

#[test]
fn the_user_list_searches_and_pages_newest_first_on_d1() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    // A prefix of this test's own, with `_` (a username character, not a wildcard in the search).
    let prefix = unique("pg_");
    let names: Vec<String> = (0..3).map(|i| format!("{prefix}{i}")).collect();
    for name in &names {
        let created = client.json(
            "POST",
            "/api/admin/users",
            Some(&admin),
            &json!({"username": name, "password": "integration-pass"}),
        );
        assert_eq!(created.status, 201, "{}", created.text());
    }
    let first = client.get(
        &format!("/api/admin/users?search={prefix}&limit=2"),
        Some(&admin),
    );
    assert_eq!(first.status, 200, "{}", first.text());
    let next = first.next_page().expect("a second page");
    assert!(next.contains(&format!("search={prefix}")), "{next}");
    let second = client.get(&next, Some(&admin));
    let listed: Vec<String> = [first, second]
        .iter()
        .flat_map(|page| page.parse::<Vec<User>>())
        .map(|user| user.username)
        .collect();
    assert_eq!(
        listed,
        [names[2].as_str(), names[1].as_str(), names[0].as_str()]
    );
    // Other tests add users meanwhile, so only what every page holds is checked.
    let everyone = client.all_users(&admin);
    assert!(names
        .iter()
        .all(|n| everyone.iter().any(|u| &u.username == n)));
    assert!(everyone
        .iter()
        .any(|u| u.username == env("STORAGETIERS_ADMIN_USER")));
}
