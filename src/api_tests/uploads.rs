//! Uploads as the runtime delivers them: slow and stalled bodies, one user's uploads against
//! everyone else's, forms built to cost memory, and originals larger than one R2 part.

use super::*;
use crate::http::Stall;
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll};

fn upload_request(token: &str, body: Vec<u8>) -> Request {
    Request::new(Method::Post, "/api/pictures")
        .with_header("authorization", &format!("Bearer {token}"))
        .with_header(
            "content-type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .with_header("content-length", &body.len().to_string())
}

fn form(name: &str, image: Vec<u8>) -> Vec<u8> {
    multipart_body(&[("name", FormValue::Text(name.into())), ("img", file(image))])
}

#[test]
fn a_body_that_stops_arriving_is_a_408_with_nothing_stored_and_its_memory_freed() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    let body = form("Slow", jpeg(64, 48));
    let stop = body.len() / 2;

    let response = app.send(
        upload_request(&token, body.clone())
            .with_stalling_bytes(body, Stall::TimesOut { at: stop }),
    );

    assert_eq!(
        response.status,
        408,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert!(response.json_body()["detail"]
        .as_str()
        .unwrap()
        .contains("slowly"));
    assert_eq!(app.objects(), 0);
    assert_eq!(app.app.isolate.budget.reserved(), 0);
}

#[test]
fn one_users_stalled_uploads_do_not_keep_another_user_from_uploading() {
    let app = TestApp::new();
    let slow = app.user("slowpoke", "Basic", false);
    let other = app.user("bob", "Basic", false);
    // Five uploads that declare 19 MiB and send the first bytes of a PNG, then wait.
    let open = Rc::new(Cell::new(false));
    let mut declared = form("Held", noise_png(64));
    declared.resize(19 * 1024 * 1024, 0);
    let requests: Vec<Request> = (0..5)
        .map(|_| {
            upload_request(&slow, declared.clone()).with_stalling_bytes(
                declared.clone(),
                Stall::Until {
                    at: 300,
                    open: Rc::clone(&open),
                },
            )
        })
        .collect();
    let mut held: Vec<_> = requests
        .into_iter()
        .map(|r| Box::pin(app.app.handle(r)))
        .collect();
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    let mut answered = Vec::new();
    for future in &mut held {
        if let Poll::Ready(response) = future.as_mut().poll(&mut cx) {
            answered.push(response.status);
        }
    }
    let reserved_by_slow = app
        .app
        .isolate
        .budget
        .reserved_by(app_user_id(&app, "slowpoke"));

    let response = app.upload(&other, "Meanwhile", jpeg(64, 48));

    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert!(reserved_by_slow <= app.app.config.memory_budget_bytes * 3 / 4);
    // Those refused at once were refused for memory, with a retry hint.
    assert!(answered.iter().all(|&s| s == 503), "{answered:?}");
    assert!(answered.len() < 5, "at least one upload was held");
    drop(held);
    assert_eq!(app.app.isolate.budget.reserved(), 0);
}

fn app_user_id(app: &TestApp, username: &str) -> i64 {
    block_on(store::users::find_by_username(&app.app.db, username))
        .unwrap()
        .unwrap()
        .id
}

#[test]
fn a_form_of_half_a_million_empty_parts_is_refused_without_collecting_them() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let mut body = Vec::new();
    for _ in 0..500_000 {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\r\n")
                .as_bytes(),
        );
    }

    let response = app.send(upload_request(&token, body.clone()).with_bytes(body));

    assert_eq!(response.status, 400);
    assert!(response.json_body()["non_field_errors"][0]
        .as_str()
        .unwrap()
        .contains("more than"));
    assert_eq!(
        app.app.isolate.budget.peak(),
        crate::media::upload::window_bytes()
    );
}

#[test]
fn an_original_larger_than_one_r2_part_is_written_in_parts_byte_for_byte() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    let image = noise_png(1400);
    assert!(image.len() > crate::ports::PART_BYTES);

    let response = app.upload(&token, "Big noise", image.clone());

    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(app.app.blobs.multipart_writes.get(), 1);
    let original = app.get(&picture_path(&response), &token);
    assert_eq!(original.body, image);
}

#[test]
fn a_file_of_a_whole_buffer_format_larger_than_its_limit_is_a_413_naming_it() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    // A TIFF is decoded from one buffer: its signature, then more than that buffer holds.
    let mut image = b"II*\0".to_vec();
    image.resize(imaging::BUFFERED_MAX_BYTES as usize + 1024, 0);

    let response = app.upload(&token, "Too big", image);

    assert_eq!(
        response.status,
        413,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert!(String::from_utf8_lossy(&response.body).contains("limited to"));
    assert_eq!(app.objects(), 0);
}

#[test]
fn a_png_larger_than_a_whole_buffer_format_may_be_streams_and_is_stored_byte_for_byte() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    // 4200 x 4200 RGB stored: 52.9 MB, over the 48 MiB of a buffered format, under 100 MB.
    let image = noise_png(4200);
    assert!(image.len() as u64 > imaging::BUFFERED_MAX_BYTES);

    let response = app.upload(&token, "Big PNG", image.clone());

    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let original = app.get(&picture_path(&response), &token);
    assert!(
        original.body == image,
        "the original differs from the upload"
    );
    let stored = app.app.blobs.objects.borrow();
    let object = stored.values().find(|o| o.bytes.len() == image.len());
    assert_eq!(object.map(|o| o.content_type.as_str()), Some("image/png"));
}

#[test]
fn an_image_whose_first_bytes_arrive_alone_is_stored_byte_for_byte() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    for image in [png(64, 48, 255), jpeg(64, 48)] {
        let body = form("Pieces", image.clone());
        let start = body.windows(16).position(|w| w == &image[..16]).unwrap();
        // The first read ends so that the parser hands on only 20 bytes of the image: fewer
        // than its format is recognised from.
        let first = start + 20 + "\r\n--".len() + BOUNDARY.len() - 1;
        let open = Rc::new(Cell::new(true));

        let response = app.send(
            upload_request(&token, body.clone())
                .with_stalling_bytes(body, Stall::Until { at: first, open }),
        );

        assert_eq!(
            response.status,
            201,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        let original = app.get(&picture_path(&response), &token);
        assert_eq!(original.body, image);
    }
}

#[test]
fn fields_come_in_any_order_and_the_name_may_follow_the_image() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let body = multipart_body(&[
        ("img", file(jpeg(64, 48))),
        ("note", FormValue::Text("ignored".into())),
        ("name", FormValue::Text("After".into())),
    ]);

    let response = app.send(upload_request(&token, body.clone()).with_bytes(body));

    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.json_body()["name"], "After");
}

#[test]
fn an_invalid_name_after_the_image_leaves_nothing_stored() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    let body = multipart_body(&[
        ("img", file(jpeg(64, 48))),
        ("name", FormValue::Text("x".repeat(101))),
    ]);

    let response = app.send(upload_request(&token, body.clone()).with_bytes(body));

    assert_eq!(response.status, 400);
    assert_eq!(app.objects(), 0);
    assert_eq!(app.app.isolate.budget.reserved(), 0);
}
