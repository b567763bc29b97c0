//! Expiring links over HTTP: create, serve, list, revoke, expiry through the cache, and the cron.

use crate::client::{admin_token, new_user, unique, Client, Counts, Link};
use crate::pictures::{png_with_alpha, sunset};
use serde_json::json;

fn upload(client: &Client, token: &str) -> String {
    client.upload_ok(token, "shared", &sunset()).id
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
    assert_eq!(created.status, 201, "{}", created.text());
    let link: Link = created.parse();
    assert_eq!((link.time, link.picture.id.as_str()), (300, id.as_str()));
    assert!(link.expires_at.ends_with('Z'));
    let url = link.url;
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
    let link: Link = created.parse();
    assert_eq!(link.time, 400);
    let served = client.get(&link.url, None);
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
        assert!(reply.field_errors().contains_key("time"), "{time}");
    }
    assert!(client
        .json("POST", &path, Some(&enterprise.access), &json!({}))
        .field_errors()
        .contains_key("time"));
    let height = client.json(
        "POST",
        &path,
        Some(&enterprise.access),
        &json!({"time": 300, "height": 800}),
    );
    assert_eq!(height.status, 400);
    assert!(height.field_errors().contains_key("height"));
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
    assert_eq!(client.counts(&enterprise.username).links, 0);
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
        reply.parse::<Link>().url
    };
    let first = make(300);
    let second = make(30000);
    let expired = make(600);
    client.expire_link(link_id(&expired));
    let listed: Vec<Link> = client
        .get("/api/pictures/shared/", Some(&user.access))
        .parse();
    let urls: Vec<&str> = listed.iter().map(|l| l.url.as_str()).collect();
    assert_eq!(urls, [&second, &first], "active only, newest first");
    let time_left = listed[0].time_left.expect("time_left in the list");
    assert!((29_990..=30_000).contains(&time_left), "{time_left}");
    assert_eq!(listed[0].time, 30000);
    assert_eq!(listed[0].picture.id, id);

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
            .parse::<Vec<Link>>()
            .len(),
        1
    );
}

#[test]
fn the_cron_deletes_expired_links_and_keeps_active_ones() {
    let client = Client::from_env();
    let user = new_user(&client, "Enterprise");
    let id = upload(&client, &user.access);
    let active: Link = client
        .json(
            "POST",
            &format!("/api/picture/{id}"),
            Some(&user.access),
            &json!({"time": 30000}),
        )
        .parse();
    client.insert_expired_links(&id, 1200);
    assert_eq!(client.counts(&user.username).links, 1201);
    let fired = client.fire_cron();
    assert_eq!(fired.status, 200, "{}", fired.text());
    assert_eq!(
        client.counts(&user.username).links,
        1,
        "only the active link is left"
    );
    assert_eq!(client.get(&active.url, None).status, 200);
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
        .parse::<Link>()
        .url;
    assert_eq!(client.get(&url, None).status, 200);
    assert_eq!(
        client
            .delete(&format!("/api/picture/{id}"), Some(&user.access))
            .status,
        204
    );
    assert_eq!(client.get(&url, None).status, 404);
}

/// An Enterprise-like tier of this test alone, so the test can change it under its links.
fn own_tier(client: &Client, admin: &str) -> String {
    let name = unique("linking");
    let spec = json!({"name": name, "thumbnail_heights": [200, 400], "allow_original": true, "allow_expiring_links": true});
    assert_eq!(client.create_tier(admin, &spec).status, 201);
    name
}

#[test]
fn the_links_of_an_owner_moved_to_a_tier_without_links_answer_404_even_when_cached() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let user = new_user(&client, "Enterprise");
    let id = client
        .upload_ok(&user.access, "downgraded", &png_with_alpha(30, 60))
        .id;
    let original: Link = client
        .create_link(&user.access, &id, &json!({"time": 300}))
        .parse();
    let thumbnail: Link = client
        .create_link(&user.access, &id, &json!({"time": 300, "height": 200}))
        .parse();
    for url in [&original.url, &thumbnail.url] {
        assert_eq!(client.get(url, None).status, 200, "{url}");
        assert_eq!(
            client.get(url, None).header("cf-cache-status"),
            Some("HIT"),
            "{url}"
        );
    }

    let moved = client.patch_user(&admin, &user.username, &json!({"tier": "Premium"}));
    assert_eq!(moved.status, 200, "{}", moved.text());
    for url in [&original.url, &thumbnail.url] {
        assert_eq!(client.get(url, None).status, 404, "{url}");
    }
}

#[test]
fn a_link_answers_404_once_the_owners_tier_loses_its_rendition() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let tier = own_tier(&client, &admin);
    let user = new_user(&client, &tier);
    let id = client
        .upload_ok(&user.access, "renditions", &png_with_alpha(30, 60))
        .id;
    let original: Link = client
        .create_link(&user.access, &id, &json!({"time": 300}))
        .parse();
    let at_400: Link = client
        .create_link(&user.access, &id, &json!({"time": 300, "height": 400}))
        .parse();
    let at_200: Link = client
        .create_link(&user.access, &id, &json!({"time": 300, "height": 200}))
        .parse();
    for link in [&original, &at_400, &at_200] {
        assert_eq!(client.get(&link.url, None).status, 200, "{}", link.url);
    }

    let path = format!("/api/admin/tiers/{tier}");
    let patched = client.json(
        "PATCH",
        &path,
        Some(&admin),
        &json!({"thumbnail_heights": [200]}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(client.get(&at_400.url, None).status, 404, "height 400 gone");
    assert_eq!(client.get(&at_200.url, None).status, 200, "height 200 kept");
    assert_eq!(client.get(&original.url, None).status, 200, "original kept");

    let patched = client.json(
        "PATCH",
        &path,
        Some(&admin),
        &json!({"allow_original": false}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(client.get(&original.url, None).status, 404, "original gone");
    assert_eq!(client.get(&at_200.url, None).status, 200, "height 200 kept");
}

#[test]
fn creating_links_while_the_picture_is_deleted_is_201_or_404_never_500() {
    let client = Client::from_env();
    let user = new_user(&client, "Enterprise");
    for round in 0..3 {
        let id = client
            .upload_ok(&user.access, "racing", &png_with_alpha(8, 8))
            .id;
        let start = std::sync::Barrier::new(7);
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let creators: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        client
                            .create_link(&user.access, &id, &json!({"time": 300}))
                            .status
                    })
                })
                .collect();
            start.wait();
            let deleted = client.delete(&format!("/api/picture/{id}"), Some(&user.access));
            assert_eq!(deleted.status, 204, "round {round}");
            creators.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(
            statuses.iter().all(|s| [201, 404].contains(s)),
            "round {round}: {statuses:?}"
        );
        let after = client.create_link(&user.access, &id, &json!({"time": 300}));
        assert_eq!(after.status, 404, "round {round}: {}", after.text());
    }
    assert_eq!(
        client.counts(&user.username),
        Counts::NOTHING,
        "no link outlived its picture"
    );
}
