//! Expiring links over HTTP: create, serve, list, revoke, expiry through the cache, and the cron.

use crate::client::{new_user, Client};
use crate::pictures::sunset;
use serde_json::{json, Value};

fn upload(client: &Client, token: &str) -> String {
    let reply = client.upload(token, "shared", &sunset());
    assert_eq!(reply.status, 201);
    reply.json()["id"].as_str().unwrap().to_owned()
}

fn link_id(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap()
}

#[test]
fn a_link_serves_the_original_without_login_and_expires_even_right_after_a_cache_hit() {
    let client = Client::from_env();
    let user = new_user(&client, "Enterprise");
    let id = upload(&client, &user.access);
    let created = client.json(
        "POST",
        &format!("/api/picture/{id}"),
        Some(&user.access),
        &json!({"time": 300}),
    );
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let body = created.json();
    assert_eq!(
        (body["time"].clone(), body["picture"]["id"].clone()),
        (json!(300), json!(id))
    );
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    let url = body["url"].as_str().unwrap().to_owned();
    assert!(
        uuid::Uuid::parse_str(link_id(&url))
            .unwrap()
            .get_version_num()
            == 4
    );

    let served = client.get(&url, None);
    assert_eq!(
        (served.status, served.header("content-type")),
        (200, Some("image/jpeg"))
    );
    assert_eq!(served.body, sunset(), "the original, byte for byte");
    let max_age: i64 = served
        .header("cache-control")
        .unwrap()
        .rsplit('=')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age <= 300);
    let again = client.get(&format!("{url}/"), None);
    assert_eq!(again.header("cf-cache-status"), Some("HIT"));

    client.expire_link(link_id(&url));
    assert_eq!(
        client.get(&url, None).status,
        404,
        "expired, though the bytes are in the edge cache"
    );
}

#[test]
fn a_link_to_a_thumbnail_serves_that_thumbnail() {
    let client = Client::from_env();
    let user = new_user(&client, "Enterprise");
    let id = upload(&client, &user.access);
    let created = client.json(
        "POST",
        &format!("/api/picture/{id}/"),
        Some(&user.access),
        &json!({"time": "400", "height": 200}),
    );
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["time"], 400);
    let served = client.get(created.json()["url"].as_str().unwrap(), None);
    assert_eq!(
        served.body,
        client
            .get(&format!("/api/picture/{id}/200"), Some(&user.access))
            .body
    );
}

#[test]
fn bad_link_requests_are_400_401_403_and_404() {
    let client = Client::from_env();
    let enterprise = new_user(&client, "Enterprise");
    let premium = new_user(&client, "Premium");
    let id = upload(&client, &enterprise.access);
    let path = format!("/api/picture/{id}");
    for time in [
        json!(299),
        json!(30001),
        json!(-5),
        json!(1.5),
        json!("abc"),
    ] {
        let reply = client.json(
            "POST",
            &path,
            Some(&enterprise.access),
            &json!({"time": time}),
        );
        assert_eq!(reply.status, 400, "{time}");
        assert!(reply.json()["time"].is_array(), "{time}");
    }
    assert!(client
        .json("POST", &path, Some(&enterprise.access), &json!({}))
        .json()["time"]
        .is_array());
    let height = client.json(
        "POST",
        &path,
        Some(&enterprise.access),
        &json!({"time": 300, "height": 800}),
    );
    assert_eq!(height.status, 400);
    assert!(height.json()["height"].is_array());
    assert_eq!(
        client
            .json("POST", &path, None, &json!({"time": 300}))
            .status,
        401
    );
    assert_eq!(
        client
            .json("POST", &path, Some(&premium.access), &json!({"time": 300}))
            .status,
        404
    );
    let own = upload(&client, &premium.access);
    let forbidden = client.json(
        "POST",
        &format!("/api/picture/{own}"),
        Some(&premium.access),
        &json!({"time": 300}),
    );
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        client
            .get(&format!("/api/timelink/{}", uuid::Uuid::new_v4()), None)
            .status,
        404
    );
    assert_eq!(client.get("/api/timelink/not-a-uuid", None).status, 404);
    assert_eq!(client.counts(&enterprise.username).1, 0);
}

#[test]
fn active_links_are_listed_with_time_left_and_revoked_links_answer_404() {
    let client = Client::from_env();
    let user = new_user(&client, "Enterprise");
    let id = upload(&client, &user.access);
    let make = |time: i64| -> String {
        let reply = client.json(
            "POST",
            &format!("/api/picture/{id}"),
            Some(&user.access),
            &json!({"time": time}),
        );
        reply.json()["url"].as_str().unwrap().to_owned()
    };
    let first = make(300);
    let second = make(30000);
    let expired = make(600);
    client.expire_link(link_id(&expired));
    let listed = client
        .get("/api/pictures/shared/", Some(&user.access))
        .json();
    let urls: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["url"])
        .collect();
    assert_eq!(
        urls,
        [&json!(second), &json!(first)],
        "active only, newest first"
    );
    let time_left = listed[0]["time_left"].as_i64().unwrap();
    assert!((29_990..=30_000).contains(&time_left), "{time_left}");
    assert_eq!(listed[0]["time"], 30000);
    assert_eq!(listed[0]["picture"]["id"], id.as_str());

    let other = new_user(&client, "Enterprise");
    assert_eq!(
        client.delete(&second, Some(&other.access)).status,
        404,
        "only the owner revokes"
    );
    assert_eq!(client.delete(&second, Some(&user.access)).status, 204);
    assert_eq!(client.get(&second, None).status, 404);
    assert_eq!(
        client
            .get("/api/pictures/shared", Some(&user.access))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_cron_deletes_expired_links_and_keeps_active_ones() {
    let client = Client::from_env();
    let user = new_user(&client, "Enterprise");
    let id = upload(&client, &user.access);
    let active = client
        .json(
            "POST",
            &format!("/api/picture/{id}"),
            Some(&user.access),
            &json!({"time": 30000}),
        )
        .json();
    client.insert_expired_links(&id, 1200);
    assert_eq!(client.counts(&user.username).1, 1201);
    let fired = client.fire_cron();
    assert_eq!(
        fired.status,
        200,
        "{}",
        String::from_utf8_lossy(&fired.body)
    );
    assert_eq!(
        client.counts(&user.username).1,
        1,
        "only the active link is left"
    );
    assert_eq!(
        client.get(active["url"].as_str().unwrap(), None).status,
        200
    );
}

#[test]
fn deleting_the_picture_makes_its_links_404() {
    let client = Client::from_env();
    let user = new_user(&client, "Enterprise");
    let id = upload(&client, &user.access);
    let url = client
        .json(
            "POST",
            &format!("/api/picture/{id}"),
            Some(&user.access),
            &json!({"time": 300}),
        )
        .json()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(client.get(&url, None).status, 200);
    assert_eq!(
        client
            .delete(&format!("/api/picture/{id}"), Some(&user.access))
            .status,
        204
    );
    assert_eq!(client.get(&url, None).status, 404);
}
