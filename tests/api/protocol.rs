//! HTTP itself: methods and `Allow`, HEAD, caching and sniffing headers, and CORS for the
//! origins in `CORS_ALLOWED_ORIGINS` (scripts/test allows https://app.example).

use crate::client::{admin_token, new_user, Client, Reply};
use crate::login::directives;
use crate::pictures::{png_with_alpha, sunset};
use crate::raw::{self, Body};
use std::collections::BTreeSet;

const ALLOWED_ORIGIN: &str = "https://app.example";

/// The methods of a comma-separated header (`Allow`, `Access-Control-Allow-Methods`).
fn methods(value: Option<&str>) -> BTreeSet<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|m| (*m).to_owned()).collect()
}

fn access_control_headers(reply: &Reply) -> Vec<&(String, String)> {
    reply
        .headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-"))
        .collect()
}

#[test]
fn unknown_methods_are_405_with_an_allow_header_listing_the_paths_methods() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let picture = format!("/api/picture/{}", uuid::Uuid::new_v4());
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "PROPFIND",
            "/api/pictures",
            &["GET", "HEAD", "POST", "OPTIONS"],
        ),
        (
            "DELETE",
            "/api/pictures/",
            &["GET", "HEAD", "POST", "OPTIONS"],
        ),
        (
            "PURGE",
            &picture,
            &["GET", "HEAD", "POST", "DELETE", "OPTIONS"],
        ),
        ("LOCK", "/api/health", &["GET", "HEAD", "OPTIONS"]),
        ("PUT", "/api/token/", &["POST", "OPTIONS"]),
        ("PATCH", "/api/me/", &["GET", "HEAD", "OPTIONS"]),
    ];
    for (method, path, allowed) in cases {
        // With a valid token: the bug was that such methods were served as GET.
        let reply = client.call(method, path, Some(&user.access), &[]);
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.text());
        assert_eq!(
            methods(reply.header("allow")),
            set(allowed),
            "{method} {path}"
        );
    }
}

#[test]
fn head_works_wherever_get_does_and_carries_no_body() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let id = client
        .upload_ok(&user.access, "headed", &png_with_alpha(30, 60))
        .id;
    let auth = format!("Bearer {}", user.access);
    let cases = [
        ("/api/pictures", "application/json"),
        ("/api/pictures/?limit=1", "application/json"),
        ("/api/health", "application/json"),
        ("/api/me/", "application/json"),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_owned(), t))
    .chain([(format!("/api/picture/{id}/200"), "image/png")]);
    for (path, content_type) in cases {
        // On the wire, not through ureq, which drops any body of a HEAD answer itself.
        let head = raw::exchange("HEAD", &path, &[("authorization", &auth)], Body::Empty);
        assert_eq!(head.status, 200, "HEAD {path}");
        assert!(head.body.is_empty(), "HEAD {path}: {}", head.text());
        assert!(
            head.header("content-type")
                .is_some_and(|t| t.starts_with(content_type)),
            "HEAD {path}: {:?}",
            head.header("content-type")
        );
    }
    assert_eq!(
        raw::exchange("HEAD", "/api/pictures", &[], Body::Empty).status,
        401
    );
}

#[test]
fn tokens_are_no_store_private_json_is_private_no_store_and_nothing_is_sniffed() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let admin = admin_token(&client);
    let token = client.token(&user.username, &user.password);
    assert_eq!(directives(token.header("cache-control")), ["no-store"]);
    let refreshed = client.refresh(&user.refresh);
    assert_eq!(directives(refreshed.header("cache-control")), ["no-store"]);
    for (path, who) in [
        ("/api/pictures", &user.access),
        ("/api/pictures/shared/", &user.access),
        ("/api/admin/users", &admin),
        ("/api/admin/tiers", &admin),
    ] {
        let reply = client.get(path, Some(who));
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            directives(reply.header("cache-control")),
            ["no-store", "private"],
            "{path}"
        );
    }
    let answers = [
        ("token", token),
        ("health", client.health()),
        ("401", client.get("/api/pictures", None)),
        ("404", client.get("/api/no-such-thing", None)),
        (
            "405",
            client.call("PROPFIND", "/api/pictures", Some(&user.access), &[]),
        ),
        (
            "400",
            client.json("POST", "/api/token/", None, &serde_json::json!({})),
        ),
    ];
    for (case, reply) in answers {
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{case}"
        );
    }
}

#[test]
fn a_preflight_from_an_allowed_origin_is_204_with_the_paths_methods_and_headers() {
    let client = Client::from_env();
    let preflight = client.call(
        "OPTIONS",
        "/api/pictures",
        None,
        &[
            ("origin", ALLOWED_ORIGIN),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, content-type",
            ),
        ],
    );
    assert_eq!(preflight.status, 204, "{:?}", preflight.headers);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    assert!(
        methods(preflight.header("vary")).contains("ORIGIN"),
        "{:?}",
        preflight.header("vary")
    );
    let allowed = methods(preflight.header("access-control-allow-methods"));
    assert!(
        allowed.is_superset(&set(&["GET", "POST"])) && !allowed.contains("DELETE"),
        "{allowed:?}"
    );
    let headers = methods(preflight.header("access-control-allow-headers"));
    assert!(
        headers.is_superset(&set(&["AUTHORIZATION", "CONTENT-TYPE", "IF-NONE-MATCH"])),
        "{headers:?}"
    );
    let max_age: u64 = preflight
        .header("access-control-max-age")
        .expect("Access-Control-Max-Age")
        .parse()
        .unwrap();
    assert!(max_age > 0);
    assert_eq!(preflight.header("access-control-allow-credentials"), None);

    // The answers themselves, errors included, so the app can read them.
    let user = new_user(&client, "Basic");
    let origin = [("origin", ALLOWED_ORIGIN)];
    for (case, reply) in [
        (
            "200",
            client.call("GET", "/api/pictures", Some(&user.access), &origin),
        ),
        ("401", client.call("GET", "/api/pictures", None, &origin)),
    ] {
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some(ALLOWED_ORIGIN),
            "{case}"
        );
        assert!(
            methods(reply.header("vary")).contains("ORIGIN"),
            "{case}: {:?}",
            reply.header("vary")
        );
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            None,
            "{case}"
        );
    }
}

#[test]
fn an_origin_not_on_the_list_gets_no_cors_headers() {
    let client = Client::from_env();
    let origin = "https://elsewhere.example";
    let preflight = client.call(
        "OPTIONS",
        "/api/pictures",
        None,
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization"),
        ],
    );
    assert!(
        [200, 204].contains(&preflight.status),
        "{}",
        preflight.status
    );
    assert_eq!(
        access_control_headers(&preflight),
        Vec::<&(String, String)>::new()
    );
    let get = client.call("GET", "/api/health", None, &[("origin", origin)]);
    assert_eq!(get.status, 200);
    assert_eq!(
        access_control_headers(&get),
        Vec::<&(String, String)>::new()
    );
}

/// An API answer opened in a browser on its own runs nothing and cannot be framed: JSON, an
/// error, an image and a share link all carry the API's policy and send no `Referer`.
#[test]
fn an_answer_opened_on_its_own_runs_nothing_and_is_framed_by_nothing() {
    let client = Client::from_env();
    let user = new_user(&client, "Enterprise");
    let picture = client.upload_ok(&user.access, "policy", &sunset());
    let link = client.create_link(&user.access, &picture.id, &serde_json::json!({"time": 300}));
    assert_eq!(link.status, 201, "{}", link.text());
    let link_path = link.json()["url"].as_str().unwrap_or_default().to_owned();
    let answers = [
        ("list", client.get("/api/pictures", Some(&user.access))),
        ("404", client.get("/api/no-such-thing", None)),
        (
            "thumbnail",
            client.get(&picture.urls[0], Some(&user.access)),
        ),
        ("share link", client.get(&link_path, None)),
    ];
    for (case, reply) in answers {
        let expected = if case == "404" { 404 } else { 200 };
        assert_eq!(reply.status, expected, "{case}");
        let policy: BTreeSet<&str> = reply
            .header("content-security-policy")
            .unwrap_or("")
            .split(';')
            .map(str::trim)
            .collect();
        for directive in ["default-src 'none'", "frame-ancestors 'none'", "sandbox"] {
            assert!(policy.contains(directive), "{case}: {policy:?}");
        }
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{case}"
        );
    }
}
