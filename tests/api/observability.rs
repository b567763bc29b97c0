//! What an operator sees over HTTP: a request id and `Server-Timing` on every answer, the id in
//! error bodies (`Reply::detail` and `Reply::field_errors` check it on every error of the suite).

use crate::client::{new_user, Client, Reply};
use crate::pictures::sunset;

/// The names of the `Server-Timing` entries, and the `desc` of the cache's.
fn timing(reply: &Reply) -> (Vec<String>, Option<String>) {
    let value = reply.header("server-timing").unwrap_or_default();
    let mut cache = None;
    let names = value
        .split(',')
        .map(|entry| {
            let mut params = entry.trim().split(';');
            let name = params.next().unwrap_or_default().to_owned();
            for param in params {
                if let Some(desc) = param.strip_prefix("desc=") {
                    if name == "cache" {
                        cache = Some(desc.to_owned());
                    }
                }
            }
            name
        })
        .collect();
    (names, cache)
}

#[test]
fn an_upload_a_list_an_image_hit_and_an_error_carry_server_timing_and_a_request_id() {
    let client = Client::from_env();
    let user = new_user(&client, "Premium");

    let upload = client.upload(&user.access, "x", &sunset());
    assert_eq!(upload.status, 201, "{}", upload.text());
    assert_eq!(timing(&upload).0, ["d1", "r2", "total"]);

    let list = client.get("/api/pictures", Some(&user.access));
    assert_eq!(timing(&list).0, ["d1", "total"]);

    let id = upload.json()["id"].as_str().unwrap().to_owned();
    let url = format!("/api/picture/{id}/400");
    let miss = client.get(&url, Some(&user.access));
    assert_eq!(timing(&miss).1.as_deref(), Some("miss"));
    let hit = client.get(&url, Some(&user.access));
    assert_eq!(hit.header("cf-cache-status"), Some("HIT"));
    assert_eq!(
        timing(&hit),
        (
            vec!["d1".into(), "cache".into(), "total".into()],
            Some("hit".into())
        )
    );

    let missing = client.get("/api/picture/not-an-id", Some(&user.access));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.detail(), "Not found.");

    let ids: Vec<&str> = [&upload, &list, &miss, &hit, &missing]
        .iter()
        .map(|reply| reply.header("x-request-id").unwrap())
        .collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "{ids:?}");
}
