//! D1 read replication: what a client sees with and without the bookmark of its last write, over
//! a fake whose replica lags until told to catch up.

use super::*;
use crate::routes::BOOKMARK_HEADER;

fn bookmark(response: &Response) -> String {
    response.header(BOOKMARK_HEADER).unwrap().to_owned()
}

fn get_at(app: &TestApp, path: &str, token: &str, bookmark: &str) -> Response {
    app.send(
        Request::new(Method::Get, path)
            .with_header("authorization", &format!("Bearer {token}"))
            .with_header(BOOKMARK_HEADER, bookmark),
    )
}

fn listed(response: &Response) -> usize {
    assert_eq!(response.status, 200);
    response.json_body().as_array().unwrap().len()
}

#[test]
fn with_the_bookmark_of_its_upload_and_delete_a_client_sees_them_at_once() {
    let app = TestApp::with_lagging_replica();
    let token = app.user("alice", "Basic", false);
    app.app.db.replicate();

    let upload = app.upload(&token, "x", jpeg(30, 60));
    assert_eq!(upload.status, 201);
    let after_upload = bookmark(&upload);
    assert_eq!(
        listed(&get_at(&app, "/api/pictures", &token, &after_upload)),
        1
    );
    let path = picture_path(&upload);
    assert_eq!(
        get_at(&app, &format!("{path}/200"), &token, &after_upload).status,
        200
    );

    let delete = app.delete(&path, &token);
    assert_eq!(delete.status, 204);
    let after_delete = bookmark(&delete);
    assert_eq!(
        listed(&get_at(&app, "/api/pictures", &token, &after_delete)),
        0
    );
    assert_eq!(
        get_at(&app, &format!("{path}/200"), &token, &after_delete).status,
        404
    );
}

#[test]
fn without_a_bookmark_a_read_goes_to_the_replica_and_may_lag_until_it_catches_up() {
    let app = TestApp::with_lagging_replica();
    let token = app.user("alice", "Basic", false);
    app.app.db.replicate();
    assert_eq!(app.upload(&token, "x", jpeg(30, 60)).status, 201);

    let reads = app.app.db.replica.as_ref().unwrap().reads.get();
    assert_eq!(listed(&app.get("/api/pictures", &token)), 0);
    assert!(app.app.db.replica.as_ref().unwrap().reads.get() > reads);

    app.app.db.replicate();
    assert_eq!(listed(&app.get("/api/pictures", &token)), 1);
}

#[test]
fn a_revoked_token_is_refused_with_the_bookmark_of_the_revocation_and_by_every_change() {
    let app = TestApp::with_lagging_replica();
    let root = app.user("root", "Basic", true);
    let token = app.user("alice", "Basic", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(30, 60)));
    app.app.db.replicate();

    let reset = app.json(
        Method::Patch,
        "/api/admin/users/alice",
        &root,
        json!({"password": "a whole new password"}),
    );
    assert_eq!(reset.status, 200);
    let revoked = bookmark(&reset);
    assert_eq!(get_at(&app, "/api/me", &token, &revoked).status, 401);
    assert_eq!(
        get_at(&app, &format!("{path}/200"), &token, &revoked).status,
        401
    );
    // A change starts at the primary whatever bookmark it carries, even one from before.
    assert_eq!(app.delete(&path, &token).status, 401);
    assert_eq!(
        app.send(
            Request::new(Method::Delete, &path)
                .with_header("authorization", &format!("Bearer {token}"))
                .with_header(BOOKMARK_HEADER, "0"),
        )
        .status,
        401
    );
    assert_eq!(app.upload(&token, "y", jpeg(30, 60)).status, 401);
    // A read without the bookmark may still pass on the lagging replica: the documented window.
    assert_eq!(app.get("/api/me", &token).status, 200);
    app.app.db.replicate();
    assert_eq!(app.get("/api/me", &token).status, 401);
}

#[test]
fn a_read_answers_no_bookmark_and_a_write_always_does() {
    let app = TestApp::with_lagging_replica();
    let token = app.user("alice", "Basic", false);
    app.app.db.replicate();
    assert_eq!(app.get("/api/me", &token).header(BOOKMARK_HEADER), None);
    let failed = app.upload_form(&token, vec![]);
    assert_eq!(failed.status, 400);
    assert!(failed.header(BOOKMARK_HEADER).is_some());
}

#[test]
fn a_picture_deleted_while_the_replica_lags_is_a_404_for_a_reader_without_the_bookmark() {
    let app = TestApp::with_lagging_replica();
    let token = app.user("alice", "Premium", false);
    let upload = app.upload(&token, "x", jpeg(30, 60));
    assert_eq!(upload.status, 201);
    app.app.db.replicate();
    let path = picture_path(&upload);
    assert_eq!(app.delete(&path, &token).status, 204);

    // The replica still has the row; R2 no longer has the objects, the edge cache never had them.
    for rendition in [path.clone(), format!("{path}/200"), format!("{path}/400")] {
        let response = app.get(&rendition, &token);
        assert_eq!(response.status, 404, "{rendition}");
    }
}
