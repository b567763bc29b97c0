//! D1 sessions under `wrangler dev`: a change answers its bookmark, and a read that sends it back
//! starts from it (local D1 has no replicas, so this proves the round trip, not the lag; the lag
//! is modelled natively in src/api_tests/replicas.rs).

use crate::client::{admin_token, new_user, Client};
use crate::pictures::sunset;
use serde_json::json;

const BOOKMARK: &str = "x-d1-bookmark";

#[test]
fn an_upload_answers_a_bookmark_and_a_read_that_sends_it_sees_the_upload() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let upload = client.upload(&user.access, "x", &sunset());
    assert_eq!(upload.status, 201, "{}", upload.text());
    let bookmark = upload
        .header(BOOKMARK)
        .expect("a change answers its bookmark");

    let list = client.get_with("/api/pictures", &user.access, (BOOKMARK, bookmark));
    assert_eq!(list.status, 200);
    assert_eq!(list.json().as_array().map(Vec::len), Some(1));
    // A read answers none: only changes move a client's bookmark.
    assert_eq!(list.header(BOOKMARK), None);
}

#[test]
fn with_the_bookmark_of_a_password_reset_the_old_token_is_refused() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let reset = client.patch_user(
        &admin_token(&client),
        &user.username,
        &json!({"password": "a brand new password"}),
    );
    assert_eq!(reset.status, 200, "{}", reset.text());
    let bookmark = reset
        .header(BOOKMARK)
        .expect("a change answers its bookmark");
    let me = client.get_with("/api/me", &user.access, (BOOKMARK, bookmark));
    assert_eq!(me.status, 401);
}
