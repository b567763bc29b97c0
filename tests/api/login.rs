//! What tokens survive (refresh rotation, a changed password or name), the login throttle under a
//! burst, over-long and look-alike usernames: over HTTP, where D1's real concurrency applies.

use crate::client::{admin_token, field_errors, new_user, unique, Client, Tokens};
use serde_json::json;
use std::sync::Barrier;

/// Cache-Control directives, lower-cased, in a stable order.
pub fn directives(value: Option<&str>) -> Vec<String> {
    let mut list: Vec<String> = value
        .unwrap_or("")
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    list.sort();
    list
}

#[test]
fn a_refresh_token_works_once_and_the_one_it_returns_works_next() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let first = client.refresh(&user.refresh);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(directives(first.header("cache-control")), ["no-store"]);
    let rotated: Tokens = first.parse();
    assert_ne!(rotated.refresh, user.refresh);

    assert_eq!(client.refresh(&user.refresh).status, 401, "second use");
    assert_eq!(
        client.get("/api/pictures", Some(&rotated.access)).status,
        200
    );
    let next = client.refresh(&rotated.refresh);
    assert_eq!(next.status, 200, "{}", next.text());
    next.parse::<Tokens>();
}

#[test]
fn a_refresh_token_sent_eight_times_at_once_works_for_one_of_them() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let start = Barrier::new(8);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    client.refresh(&user.refresh).status
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        ok == 1 && statuses.iter().all(|s| [200, 401].contains(s)),
        "{statuses:?}"
    );
}

#[test]
fn changing_a_password_ends_every_token_issued_before() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let user = new_user(&client, "Basic");
    let patched = client.patch_user(
        &admin,
        &user.username,
        &json!({"password": "a-new-password"}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text());

    assert_eq!(client.get("/api/pictures", Some(&user.access)).status, 401);
    assert_eq!(client.refresh(&user.refresh).status, 401);
    // Tokens issued right after the change (within the same second) work.
    let fresh: Tokens = client.token(&user.username, "a-new-password").parse();
    assert_eq!(client.get("/api/pictures", Some(&fresh.access)).status, 200);
    assert_eq!(client.refresh(&fresh.refresh).status, 200);
}

#[test]
fn renaming_a_user_ends_every_token_issued_before() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let user = new_user(&client, "Basic");
    let new_name = unique("renamed");
    let patched = client.patch_user(&admin, &user.username, &json!({"username": new_name}));
    assert_eq!(patched.status, 200, "{}", patched.text());

    assert_eq!(client.get("/api/pictures", Some(&user.access)).status, 401);
    assert_eq!(client.refresh(&user.refresh).status, 401);
    assert_eq!(client.token(&user.username, &user.password).status, 401);
    let fresh: Tokens = client.token(&new_name, &user.password).parse();
    assert_eq!(client.get("/api/pictures", Some(&fresh.access)).status, 200);
}

#[test]
fn a_burst_of_48_parallel_wrong_passwords_gets_at_most_10_checked() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let attacker = "198.51.100.48";
    let start = Barrier::new(48);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..48)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    client
                        .token_from(&user.username, "wrong-password", attacker)
                        .status
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + throttled, 48, "only 401 or 429: {statuses:?}");
    assert!(
        (1..=10).contains(&checked),
        "{checked} passwords checked: {statuses:?}"
    );
    assert_eq!(
        client
            .token_from(&user.username, &user.password, attacker)
            .status,
        429,
        "locked after the burst"
    );
}

#[test]
fn an_over_long_username_is_401_like_wrong_credentials_and_never_counted() {
    let client = Client::from_env();
    let address = "198.51.100.151";
    let wrong = client.token_from(&unique("nobody"), "whatever-pass", address);
    assert_eq!(wrong.status, 401);
    let message = wrong.detail();
    // Twelve attempts: had any been counted, the eleventh would be 429. The longest stays
    // within the 64 KiB the server reads of a JSON body.
    for (i, username) in std::iter::repeat_n("u".repeat(151), 11)
        .chain(std::iter::once("v".repeat(60_000)))
        .enumerate()
    {
        let reply = client.token_from(&username, "whatever-pass", address);
        assert_eq!(reply.status, 401, "attempt {i}: {}", reply.text());
        assert_eq!(reply.detail(), message, "attempt {i}");
    }
}

/// The full-width form of an ASCII name (U+FF01..U+FF5E), which NFKC maps back to ASCII.
fn full_width(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap(),
            other => other,
        })
        .collect()
}

#[test]
fn a_full_width_username_logs_in_as_its_nfkc_form_and_cannot_be_created_again() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let user = new_user(&client, "Basic");
    let look_alike = full_width(&user.username);
    assert_ne!(look_alike, user.username);

    let login = client.token(&look_alike, &user.password);
    assert_eq!(login.status, 200, "{}", login.text());
    login.parse::<Tokens>();
    let created = client.json(
        "POST",
        "/api/admin/users",
        Some(&admin),
        &json!({"username": look_alike, "password": "long-enough"}),
    );
    assert_eq!(created.status, 400, "{}", created.text());
    assert_eq!(
        created.field_errors(),
        field_errors(&[("username", &["A user with that username already exists."])])
    );
}
