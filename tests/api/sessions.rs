//! The web app's cookie session (`/api/session/`) and `GET /api/me/`: a cookie may read, never
//! write, so a page on another site cannot make a logged-in browser change anything.

use crate::client::{
    admin_token, env, multipart, new_user, Client, Me, Part, Picture, Tier, Tokens, BOUNDARY,
};
use crate::login::directives;
use crate::pictures::png_with_alpha;

/// The `st_access` cookie of a reply: its value and its attributes, lower-cased.
fn st_access(reply: &crate::client::Reply) -> (String, Vec<String>) {
    let cookie = reply
        .header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("st_access="))
        .unwrap_or_else(|| panic!("no st_access cookie: {:?}", reply.headers));
    let mut parts = cookie.split(';').map(str::trim);
    let value = parts.next().unwrap()["st_access=".len()..].to_owned();
    let mut attributes: Vec<String> = parts.map(|a| a.to_ascii_lowercase()).collect();
    attributes.sort();
    (value, attributes)
}

#[test]
fn a_session_sets_a_strict_http_only_cookie_that_reads_but_never_writes() {
    let client = Client::from_env();
    let user = new_user(&client, "Premium");
    let picture: Picture = client.upload_ok(&user.access, "mine", &png_with_alpha(30, 60));

    let session = client.session(&user.username, &user.password);
    assert_eq!(session.status, 200, "{}", session.text());
    assert_eq!(directives(session.header("cache-control")), ["no-store"]);
    session.parse::<Tokens>();
    let (jwt, attributes) = st_access(&session);
    let max_age: i64 = attributes
        .iter()
        .find_map(|a| a.strip_prefix("max-age="))
        .expect("Max-Age")
        .parse()
        .unwrap();
    assert!(max_age > 0);
    let flags: Vec<&str> = attributes
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("max-age="))
        .collect();
    assert_eq!(
        flags,
        ["httponly", "path=/api/", "samesite=strict", "secure"]
    );

    let cookie = format!("st_access={jwt}");
    let with_cookie = [("cookie", cookie.as_str())];
    let listed = client.call("GET", "/api/pictures", None, &with_cookie);
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.parse::<Vec<Picture>>(), [picture]);
    let thumbnail_url = format!("/api/picture/{}/200", listed.parse::<Vec<Picture>>()[0].id);
    let thumbnail = client.call("GET", &thumbnail_url, None, &with_cookie);
    assert_eq!(
        (thumbnail.status, thumbnail.header("content-type")),
        (200, Some("image/png"))
    );
    assert_eq!(
        client
            .call("HEAD", &thumbnail_url, None, &with_cookie)
            .status,
        200
    );

    let id = &listed.parse::<Vec<Picture>>()[0].id;
    let deleted = client.call("DELETE", &format!("/api/picture/{id}"), None, &with_cookie);
    assert_eq!(deleted.status, 401, "a cookie alone never deletes");
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let upload = client.send(
        "POST",
        "/api/pictures",
        &[("cookie", &cookie), ("content-type", &content_type)],
        Some(&multipart(&[
            Part::Text("name", "by cookie".into()),
            Part::File("img", "x.png", "image/png", png_with_alpha(8, 8)),
        ])),
    );
    assert_eq!(upload.status, 401, "a cookie alone never uploads");
    assert_eq!(
        client.counts(&user.username).pictures,
        1,
        "the picture is still there and no other was added"
    );
}

#[test]
fn a_session_refresh_rotates_and_logging_out_clears_the_cookie() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let tokens: Tokens = client.session(&user.username, &user.password).parse();

    let refreshed = client.session_refresh(&tokens.refresh);
    assert_eq!(refreshed.status, 200, "{}", refreshed.text());
    assert_eq!(directives(refreshed.header("cache-control")), ["no-store"]);
    let rotated: Tokens = refreshed.parse();
    let (jwt, _) = st_access(&refreshed);
    let cookie = format!("st_access={jwt}");
    assert_eq!(
        client
            .call("GET", "/api/me/", None, &[("cookie", &cookie)])
            .status,
        200
    );
    assert_eq!(client.session_refresh(&tokens.refresh).status, 401);
    assert_eq!(client.refresh(&rotated.refresh).status, 200);

    let logout = client.call("DELETE", "/api/session/", None, &[("cookie", &cookie)]);
    assert_eq!(logout.status, 204, "{}", logout.text());
    let (value, attributes) = st_access(&logout);
    assert!(value.is_empty(), "{value}");
    assert!(
        attributes
            .iter()
            .any(|a| a == "max-age=0" || a.starts_with("expires=thu, 01 jan 1970")),
        "expired at once: {attributes:?}"
    );
}

#[test]
fn me_tells_the_caller_their_name_admin_flag_and_tier() {
    let client = Client::from_env();
    let user = new_user(&client, "Premium");
    let reply = client.me(&user.access);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        directives(reply.header("cache-control")),
        ["no-store", "private"]
    );
    assert_eq!(
        reply.parse::<Me>(),
        Me {
            username: user.username.clone(),
            is_admin: false,
            tier: Tier {
                name: "Premium".into(),
                thumbnail_heights: vec![200, 400],
                allow_original: true,
                allow_expiring_links: false,
                is_default: false,
            },
        }
    );
    let admin: Me = client.me(&admin_token(&client)).parse();
    assert_eq!(
        (admin.username, admin.is_admin),
        (env("STORAGETIERS_ADMIN_USER"), true)
    );
    assert_eq!(client.get("/api/me/", None).status, 401);
    assert_eq!(client.get("/api/me", Some(&user.access)).status, 200);
}
