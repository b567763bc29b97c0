//! Run last and alone by `scripts/test`: were the server to let the only admin demote or delete
//! themselves, no admin would be left for any test that ran after this one.

use crate::client::{admin_token, env, Client, Me, User};
use serde_json::json;

#[test]
fn the_last_admin_cannot_remove_their_own_admin_flag_or_delete_themselves() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let name = env("STORAGETIERS_ADMIN_USER");
    let admins: Vec<User> = client
        .all_users(&admin)
        .into_iter()
        .filter(|u| u.is_admin)
        .collect();
    assert_eq!(
        admins
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        [name.as_str()],
        "precondition: the run's admin is the only one (no test may make another)"
    );

    let demoted = client.patch_user(&admin, &name, &json!({"is_admin": false}));
    assert_eq!(demoted.status, 409, "{}", demoted.text());
    demoted.detail();
    let deleted = client.delete(&format!("/api/admin/users/{name}"), Some(&admin));
    assert_eq!(deleted.status, 409, "{}", deleted.text());
    deleted.detail();

    let unchanged = client.patch_user(&admin, &name, &json!({"is_admin": true}));
    assert_eq!(unchanged.status, 200, "keeping the flag is no demotion");

    let me: Me = client.me(&admin).parse();
    assert!(me.is_admin, "still an admin");
    assert_eq!(
        client.get("/api/admin/users", Some(&admin)).status,
        200,
        "and still acts as one"
    );
}
