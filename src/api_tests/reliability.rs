//! Reliability on the real runtime: failures midway, memory admission, cold isolates.

use super::*;

use crate::fakes::Fault;

#[test]
fn when_the_cache_fails_to_read_r2_still_answers() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let url = format!(
        "{}/200",
        picture_path(&app.upload(&token, "x", jpeg(300, 600)))
    );
    app.app.cache.get_fault.set(Fault::Fail);
    let response = app.get(&url, &token);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cf-cache-status"), Some("MISS"));
    assert!(imaging::probe(&response.body, &imaging::Limits::default()).is_ok());
}

#[test]
fn when_the_cache_fails_to_store_the_answer_is_still_whole() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let url = format!(
        "{}/200",
        picture_path(&app.upload(&token, "x", jpeg(300, 600)))
    );
    app.app.cache.put_fault.set(Fault::Fail);
    let first = app.get(&url, &token);
    assert_eq!(first.status, 200);
    assert!(app.app.cache.entries.borrow().is_empty());
    app.app.cache.put_fault.set(Fault::None);
    let second = app.get(&url, &token);
    assert_eq!((second.status, second.body), (200, first.body));
}

#[test]
fn an_r2_write_acknowledged_as_failed_is_rolled_back_with_every_other_object() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    app.app.blobs.put_fault.set(Fault::FailAfterWriting);
    assert_eq!(app.upload(&token, "x", jpeg(300, 600)).status, 500);
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

#[test]
fn a_d1_insert_acknowledged_as_failed_leaves_neither_row_nor_objects() {
    // The row was written although D1 said it was not: the upload removes it with its objects,
    // so no listed picture is left without its images.
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    *app.app.db.fail_after_writing_on.borrow_mut() = Some("INSERT INTO pictures".into());
    assert_eq!(app.upload(&token, "x", jpeg(300, 600)).status, 500);
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

#[test]
fn a_failing_r2_delete_still_deletes_the_picture_and_the_cron_removes_its_objects() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(300, 600)));
    app.app.blobs.delete_fault.set(Fault::Fail);
    app.app.cache.delete_fault.set(Fault::Fail);
    assert_eq!(app.delete(&path, &token).status, 204);
    assert_eq!(app.get(&path, &token).status, 404);
    assert_eq!(
        app.objects(),
        3,
        "the original and two thumbnails, left for the cron"
    );
    app.app.blobs.delete_fault.set(Fault::None);

    let now = app.app.clock.0.get();
    let early = block_on(crate::maintenance::run_scheduled(
        &app.app.db,
        &app.app.blobs,
        now,
    ))
    .unwrap();
    assert_eq!(
        early.orphaned_objects_removed, 0,
        "younger than an hour: may be an upload in flight"
    );
    let later = now + crate::maintenance::ORPHAN_MIN_AGE_MS + 1;
    let report = block_on(crate::maintenance::run_scheduled(
        &app.app.db,
        &app.app.blobs,
        later,
    ))
    .unwrap();
    assert_eq!(report.orphaned_objects_removed, 3);
    assert_eq!(app.objects(), 0);
}

#[test]
fn reconciliation_keeps_objects_that_have_a_row_and_goes_on_where_it_stopped() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let kept = picture_path(&app.upload(&token, "kept", jpeg(30, 60)));
    let owner = app.app.db.count("users");
    // 1500 orphans from a picture whose row was never written (an isolate killed midway).
    for i in 0..1500 {
        let id = crate::domain::ids::PictureId::new_random();
        let key = crate::media::keys::blob_key(owner, id, crate::domain::tiers::Variant::Original);
        block_on(crate::ports::BlobStore::put(
            &app.app.blobs,
            &key,
            &[i as u8],
            "image/jpeg",
        ))
        .unwrap();
    }
    let later = app.app.clock.0.get() + crate::maintenance::ORPHAN_MIN_AGE_MS + 1;
    let first = block_on(crate::maintenance::run_scheduled(
        &app.app.db,
        &app.app.blobs,
        later,
    ))
    .unwrap();
    assert_eq!(
        first.objects_examined,
        u64::from(crate::maintenance::RECONCILE_PER_RUN)
    );
    let second = block_on(crate::maintenance::run_scheduled(
        &app.app.db,
        &app.app.blobs,
        later,
    ))
    .unwrap();
    assert_eq!(
        first.orphaned_objects_removed + second.orphaned_objects_removed,
        1500
    );
    assert_eq!(
        app.objects(),
        2,
        "the kept picture's original and thumbnail"
    );
    assert_eq!(app.get(&format!("{kept}/200"), &token).status, 200);
}

#[test]
fn an_upload_that_does_not_fit_the_memory_budget_now_is_a_503_with_retry_after() {
    let mut app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    app.app.config.memory_budget_bytes = 64 << 20;
    app.app.isolate.budget.set_limit(64 << 20);
    // Less room than an upload's window: even a small streamed JPEG cannot start.
    let room = crate::media::upload::window_bytes() / 2;
    let held = app.app.isolate.budget.reserve((64 << 20) - room).unwrap();
    let response = app.upload(&token, "x", jpeg(300, 600));
    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after"), Some("2"));
    assert!(response.json_body()["detail"].is_string());
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
    drop(held);
    assert_eq!(app.upload(&token, "x", jpeg(300, 600)).status, 201);
    assert_eq!(
        app.app.isolate.budget.reserved(),
        0,
        "every reservation is released"
    );
}

#[test]
fn a_lazy_thumbnail_that_does_not_fit_now_is_a_503_not_a_500() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(300, 600)));
    app.set_tier("alice", "Premium");
    let limit = app.app.config.memory_budget_bytes;
    let held = app.app.isolate.budget.reserve(limit).unwrap();
    assert_eq!(app.get(&format!("{path}/400"), &token).status, 503);
    drop(held);
    assert_eq!(app.get(&format!("{path}/400"), &token).status, 200);
}

#[test]
fn the_health_gauge_is_for_admins_only() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let user = app.user("alice", "Basic", false);
    let anonymous = app
        .send(Request::new(Method::Get, "/api/health"))
        .json_body();
    assert!(anonymous.get("isolate").is_none());
    assert!(app
        .get("/api/health", &user)
        .json_body()
        .get("isolate")
        .is_none());
    let gauge = app.get("/api/health", &admin).json_body()["isolate"].clone();
    for field in [
        "wasm_memory_bytes",
        "memory_reserved_bytes",
        "requests_in_flight",
    ] {
        assert!(gauge[field].is_u64(), "{field}: {gauge}");
    }
}

#[test]
fn a_link_stops_serving_when_the_owners_tier_loses_links_or_the_height() {
    let app = TestApp::new();
    let token = app.user("alice", "Enterprise", false);
    let path = picture_path(&app.upload(&token, "x", jpeg(300, 600)));
    let link = |body: Value| {
        app.json(Method::Post, &path, &token, body).json_body()["url"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let original = link(json!({"time": 3000}));
    let thumbnail = link(json!({"time": 3000, "height": 400}));
    let anonymous = |url: &str| app.send(Request::new(Method::Get, url)).status;
    assert_eq!((anonymous(&original), anonymous(&thumbnail)), (200, 200));
    app.set_tier("alice", "Premium");
    assert_eq!((anonymous(&original), anonymous(&thumbnail)), (404, 404));
    app.set_tier("alice", "Enterprise");
    assert_eq!(anonymous(&thumbnail), 200);
    app.app
        .db
        .exec("UPDATE tiers SET thumbnail_heights = '[200]' WHERE name = 'Enterprise'");
    assert_eq!((anonymous(&original), anonymous(&thumbnail)), (200, 404));
}
