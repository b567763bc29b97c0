//! Uploads, reads through the edge cache, lists and deletes.

use super::*;

#[test]
fn a_basic_upload_is_201_with_one_thumbnail_url_and_stores_the_original_byte_for_byte() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let original = jpeg(600, 400);
    let response = app.upload(&token, "beach", original.clone());
    assert_eq!(response.status, 201);
    let body = response.json_body();
    let id = body["id"].as_str().unwrap();
    assert_eq!(body["urls"], json!([format!("/api/picture/{id}/200")]));
    assert_eq!(
        (body["owner"].clone(), body["name"].clone()),
        (json!("alice"), json!("beach"))
    );
    assert_eq!(
        (body["width"].clone(), body["height"].clone()),
        (json!(600), json!(400))
    );
    assert_eq!(
        (body["content_type"].clone(), body["size"].clone()),
        (json!("image/jpeg"), json!(original.len()))
    );
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    let stored = app.app.blobs.objects.borrow();
    let original_key = stored.keys().find(|k| k.ends_with("/original")).unwrap();
    assert_eq!(stored[original_key].bytes, original);
    assert_eq!(stored.len(), 2);
}

#[test]
fn premium_gets_200_and_400_and_the_original_and_each_has_the_right_size() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    let response = app.upload(&token, "tall", jpeg(300, 600));
    let urls = response.json_body()["urls"].clone();
    let path = picture_path(&response);
    assert_eq!(
        urls,
        json!([format!("{path}/200"), format!("{path}/400"), path.clone()])
    );
    for (url, width, height) in [
        (format!("{path}/200"), 100, 200),
        (format!("{path}/400"), 200, 400),
        (path.clone(), 300, 600),
    ] {
        let image = app.get(&url, &token);
        assert_eq!(image.status, 200, "{url}");
        assert_eq!(image.header("content-type"), Some("image/jpeg"));
        let probe = imaging::probe(&image.body, &imaging::Limits::default()).unwrap();
        assert_eq!((probe.width, probe.height), (width, height), "{url}");
    }
}

#[test]
fn transparent_pngs_keep_their_transparency_and_opaque_ones_become_jpeg() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let transparent = app.upload(&token, "t", png(400, 400, 100));
    assert_eq!(transparent.json_body()["content_type"], "image/png");
    assert_eq!(
        app.get(&format!("{}/200", picture_path(&transparent)), &token)
            .header("content-type"),
        Some("image/png")
    );
    let opaque = app.upload(&token, "o", png(400, 400, 255));
    assert_eq!(
        app.get(&format!("{}/200", picture_path(&opaque)), &token)
            .header("content-type"),
        Some("image/jpeg")
    );
}

#[test]
fn rejected_uploads_are_400_or_413_and_store_nothing() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    let mut truncated = jpeg(400, 400);
    truncated.truncate(truncated.len() / 2);
    // HEIC (what iPhones save) is recognised and refused by name.
    let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic".to_vec();
    // (case, form fields, expected status, field that carries the error)
    type Case<'a> = (&'a str, Vec<(&'a str, FormValue)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "heic",
            vec![("name", FormValue::Text("x".into())), ("img", file(heic))],
            400,
            "img",
        ),
        (
            "text",
            vec![
                ("name", FormValue::Text("x".into())),
                ("img", file(b"hello, I am text".to_vec())),
            ],
            400,
            "img",
        ),
        (
            "truncated",
            vec![
                ("name", FormValue::Text("x".into())),
                ("img", file(truncated)),
            ],
            400,
            "img",
        ),
        ("no name", vec![("img", file(jpeg(10, 10)))], 400, "name"),
        (
            "long name",
            vec![
                ("name", FormValue::Text("n".repeat(101))),
                ("img", file(jpeg(10, 10))),
            ],
            400,
            "name",
        ),
        (
            "no img",
            vec![("name", FormValue::Text("x".into()))],
            400,
            "img",
        ),
        (
            "img as text",
            vec![
                ("name", FormValue::Text("x".into())),
                ("img", FormValue::Text("abc".into())),
            ],
            400,
            "img",
        ),
    ];
    for (case, fields, status, field) in cases {
        let response = app.upload_form(&token, fields);
        assert_eq!(response.status, status, "{case}");
        assert!(
            response.json_body()[field].is_array(),
            "{case}: {:?}",
            response.json_body()
        );
    }
    let not_multipart = app.json(Method::Post, "/api/pictures", &token, json!({"name": "x"}));
    assert_eq!(not_multipart.status, 400);
    assert!(not_multipart.json_body()["img"].is_array());
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

#[test]
fn an_upload_over_the_byte_limit_is_a_413_and_stores_nothing() {
    let mut app = TestApp::new();
    app.app.config.max_upload_bytes = 1000;
    let token = app.user("alice", "Basic", false);
    let response = app.upload(&token, "big", jpeg(200, 200));
    assert_eq!(response.status, 413);
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

#[test]
fn a_tiny_png_that_declares_huge_dimensions_is_a_413() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let bomb = png_header_only(100_000, 100_000);
    assert!(bomb.len() < 100, "a tiny file");
    let response = app.upload(&token, "bomb", bomb);
    assert_eq!(response.status, 413);
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

/// A PNG whose header declares `width` x `height` and which has no pixel data.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    drop(encoder.write_header().unwrap());
    out
}

#[test]
fn a_failing_r2_write_midway_leaves_no_objects_and_no_row() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    app.app.blobs.puts_before_failure.set(Some(2));
    let response = app.upload(&token, "x", jpeg(300, 600));
    assert_eq!(response.status, 500);
    assert_eq!(response.json_body()["detail"], "Internal server error.");
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

#[test]
fn a_failing_d1_insert_removes_the_objects_already_written() {
    let app = TestApp::new();
    let token = app.user("alice", "Premium", false);
    *app.app.db.fail_on.borrow_mut() = Some("INSERT INTO pictures".into());
    assert_eq!(app.upload(&token, "x", jpeg(300, 600)).status, 500);
    assert_eq!((app.objects(), app.app.db.count("pictures")), (0, 0));
}

#[test]
fn reads_are_401_anonymous_404_for_others_and_malformed_ids_and_403_outside_the_tier() {
    let app = TestApp::new();
    let alice = app.user("alice", "Basic", false);
    let bob = app.user("bob", "Premium", false);
    let path = picture_path(&app.upload(&alice, "x", jpeg(300, 600)));
    assert_eq!(
        app.send(Request::new(Method::Get, &format!("{path}/200")))
            .status,
        401
    );
    assert_eq!(app.get(&format!("{path}/200"), &bob).status, 404);
    assert_eq!(app.get("/api/picture/not-a-uuid/200", &alice).status, 404);
    assert_eq!(
        app.get(
            &format!("/api/picture/{}/200", uuid::Uuid::new_v4()),
            &alice
        )
        .status,
        404
    );
    let forbidden = app.get(&format!("{path}/400"), &alice);
    assert_eq!(forbidden.status, 403);
    assert!(forbidden.json_body()["detail"].is_string());
    assert_eq!(app.get(&path, &alice).status, 403);
    assert_eq!(app.delete(&path, &bob).status, 404);
}

#[test]
fn a_second_read_comes_from_the_edge_cache_without_r2_and_with_one_d1_query() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let url = format!(
        "{}/200",
        picture_path(&app.upload(&token, "x", jpeg(300, 600)))
    );
    let first = app.get(&url, &token);
    assert_eq!(first.header("cf-cache-status"), Some("MISS"));
    assert_eq!(first.header("cache-control"), Some("private, max-age=3600"));

    let (gets, queries) = (app.app.blobs.gets.get(), app.app.db.queries.get());
    let second = app.get(&url, &token);
    assert_eq!(second.header("cf-cache-status"), Some("HIT"));
    assert_eq!(second.body, first.body);
    assert_eq!(
        app.app.blobs.gets.get(),
        gets,
        "a cache hit must not read R2"
    );
    assert_eq!(
        app.app.db.queries.get() - queries,
        1,
        "a cache hit makes exactly one D1 query"
    );
}

#[test]
fn the_cache_never_lets_a_request_skip_the_owner_and_tier_checks() {
    let app = TestApp::new();
    let alice = app.user("alice", "Premium", false);
    let bob = app.user("bob", "Premium", false);
    let path = picture_path(&app.upload(&alice, "x", jpeg(300, 600)));
    assert_eq!(app.get(&path, &alice).status, 200);
    assert_eq!(app.get(&path, &bob).status, 404);
    app.set_tier("alice", "Basic");
    assert_eq!(app.get(&path, &alice).status, 403);
}

#[test]
fn a_matching_if_none_match_is_a_304() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let url = format!(
        "{}/200",
        picture_path(&app.upload(&token, "x", jpeg(300, 600)))
    );
    let etag = app.get(&url, &token).header("etag").unwrap().to_owned();
    let response = app.send(
        Request::new(Method::Get, &url)
            .with_header("authorization", &format!("Bearer {token}"))
            .with_header("if-none-match", &etag),
    );
    assert_eq!((response.status, response.body.len()), (304, 0));
}

#[test]
fn a_height_added_to_the_tier_after_upload_is_made_on_first_request() {
    let app = TestApp::new();
    let admin = app.user("root", "Basic", true);
    let token = app.user("alice", "Basic", false);
    let uploaded = app.upload(&token, "x", jpeg(300, 600));
    let path = picture_path(&uploaded);
    assert_eq!(app.get(&format!("{path}/400"), &token).status, 403);
    app.json(
        Method::Patch,
        "/api/admin/users/alice",
        &admin,
        json!({"tier": "Premium"}),
    );
    let listed = app.get("/api/pictures", &token).json_body();
    assert_eq!(
        listed[0]["urls"].as_array().unwrap().len(),
        3,
        "urls follow the current tier"
    );
    let lazy = app.get(&format!("{path}/400"), &token);
    assert_eq!(lazy.status, 200);
    let probe = imaging::probe(&lazy.body, &imaging::Limits::default()).unwrap();
    assert_eq!((probe.width, probe.height), (200, 400));
    assert!(
        app.app
            .blobs
            .objects
            .borrow()
            .keys()
            .any(|k| k.ends_with("/400")),
        "the new thumbnail is stored"
    );
}

#[test]
fn pictures_are_listed_newest_first_across_pages_with_a_link_header() {
    let app = TestApp::new();
    let token = app.user("alice", "Basic", false);
    let image = jpeg(20, 20);
    for i in 0..5 {
        app.app.clock.advance_secs(1);
        app.upload(&token, &format!("p{i}"), image.clone());
    }
    let mut names = Vec::new();
    let mut next = Some("/api/pictures?limit=2".to_owned());
    while let Some(url) = next.take() {
        let page = app.get(&url, &token);
        assert_eq!(page.status, 200);
        names.extend(
            page.json_body()
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned()),
        );
        next = page.header("link").map(|l| {
            l.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap()
                .to_owned()
        });
    }
    assert_eq!(names, ["p4", "p3", "p2", "p1", "p0"]);
    assert_eq!(app.get("/api/pictures?limit=0", &token).status, 400);
    assert_eq!(app.get("/api/pictures?limit=201", &token).status, 400);
    assert_eq!(app.get("/api/pictures?cursor=garbage!", &token).status, 400);
}

#[test]
fn the_list_query_walks_the_owner_index_without_sorting() {
    let db = SqliteDb::migrated();
    for after in [None, Some((5, "x"))] {
        let statement: Statement = crate::store::pictures::page_statement(1, 51, after);
        let plan = db.explain(&statement.sql, &statement.params);
        assert!(plan.contains("USING INDEX pictures_by_owner"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}

#[test]
fn deleting_a_picture_removes_row_objects_cache_and_links_and_every_url_is_404() {
    let app = TestApp::new();
    let token = app.user("alice", "Enterprise", false);
    let uploaded = app.upload(&token, "x", jpeg(300, 600));
    let path = picture_path(&uploaded);
    let link = app
        .json(Method::Post, &path, &token, json!({"time": 300}))
        .json_body()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    for url in [format!("{path}/200"), format!("{path}/400"), path.clone()] {
        assert_eq!(app.get(&url, &token).status, 200);
    }
    assert!(!app.app.cache.entries.borrow().is_empty());
    assert_eq!(app.delete(&path, &token).status, 204);
    for url in [
        format!("{path}/200"),
        format!("{path}/400"),
        path.clone(),
        link,
    ] {
        assert_eq!(app.get(&url, &token).status, 404, "{url}");
    }
    assert_eq!(
        (
            app.objects(),
            app.app.db.count("pictures"),
            app.app.db.count("links")
        ),
        (0, 0, 0)
    );
    assert!(app.app.cache.entries.borrow().is_empty());
    assert_eq!(app.delete(&path, &token).status, 404);
}
