//! Upload, thumbnails per tier, reads, the edge cache, lazy thumbnails, pagination, delete and
//! rejected uploads, over HTTP against the real runtime.

use crate::client::{
    admin_token, multipart, new_user, unique, Client, Counts, Part, Picture, TestUser, BOUNDARY,
};
use crate::raw::{self, Body};
use serde_json::json;

pub fn bench_image(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../shared/bench-images/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// sunset-2mp.jpg is 1632x1088.
pub fn sunset() -> Vec<u8> {
    bench_image("sunset-2mp.jpg")
}

pub fn png_with_alpha(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| [(i % 256) as u8, 90, 30, (i % 200) as u8])
        .collect();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

/// Dimensions and type of served image bytes, read from their headers.
fn probe(bytes: &[u8]) -> (u32, u32, &'static str) {
    let p = imaging::probe(bytes, &imaging::Limits::default()).expect("a PNG or JPEG");
    (p.width, p.height, p.format.content_type())
}

/// Uploads sunset-2mp.jpg and checks every URL of the response against `expected`:
/// (url suffix, width, height).
fn upload_and_check_urls(
    client: &Client,
    user: &TestUser,
    expected: &[(&str, u32, u32)],
) -> Picture {
    let original = sunset();
    let picture = client.upload_ok(&user.access, "sunset", &original);
    let id = &picture.id;
    let urls: Vec<String> = expected
        .iter()
        .map(|(suffix, _, _)| format!("/api/picture/{id}{suffix}"))
        .collect();
    assert_eq!(picture.urls, urls);
    assert_eq!(
        (
            picture.width,
            picture.height,
            picture.content_type.as_str(),
            picture.size
        ),
        (1632, 1088, "image/jpeg", original.len() as u64)
    );
    assert_eq!(picture.owner, user.username);
    for (url, (suffix, width, height)) in urls.iter().zip(expected) {
        let image = client.get(url, Some(&user.access));
        assert_eq!(image.status, 200, "{url}");
        assert_eq!(image.header("content-type"), Some("image/jpeg"), "{url}");
        assert_eq!(probe(&image.body), (*width, *height, "image/jpeg"), "{url}");
        if suffix.is_empty() {
            assert_eq!(image.body, original, "the original is served byte for byte");
        }
    }
    picture
}

#[test]
fn basic_gets_a_200px_thumbnail_only() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let id = upload_and_check_urls(&client, &user, &[("/200", 300, 200)]).id;
    let forbidden = client.get(&format!("/api/picture/{id}/400"), Some(&user.access));
    assert_eq!(forbidden.status, 403);
    forbidden.detail();
    assert_eq!(
        client
            .get(&format!("/api/picture/{id}"), Some(&user.access))
            .status,
        403
    );
}

#[test]
fn premium_and_enterprise_get_200_and_400_and_the_original() {
    let client = Client::from_env();
    for tier in ["Premium", "Enterprise"] {
        let user = new_user(&client, tier);
        upload_and_check_urls(
            &client,
            &user,
            &[("/200", 300, 200), ("/400", 600, 400), ("", 1632, 1088)],
        );
    }
}

#[test]
fn a_custom_tier_gets_exactly_its_heights_and_no_original() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let tier = unique("custom");
    let spec = json!({"name": tier, "thumbnail_heights": [100, 800], "allow_original": false});
    assert_eq!(
        client
            .json("POST", "/api/admin/tiers", Some(&admin), &spec)
            .status,
        201
    );
    let user = new_user(&client, &tier);
    let id = upload_and_check_urls(&client, &user, &[("/100", 150, 100), ("/800", 1200, 800)]).id;
    assert_eq!(
        client
            .get(&format!("/api/picture/{id}/200"), Some(&user.access))
            .status,
        403
    );
    assert_eq!(
        client
            .get(&format!("/api/picture/{id}"), Some(&user.access))
            .status,
        403
    );
}

#[test]
fn a_phone_photo_with_exif_orientation_comes_out_upright() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let picture = client.upload_ok(
        &user.access,
        "sideways",
        &bench_image("seeding-12mp-exif-rotated.jpg"),
    );
    assert_eq!((picture.width, picture.height), (4000, 3000));
    let thumbnail = client.get(
        &format!("/api/picture/{}/200", picture.id),
        Some(&user.access),
    );
    assert_eq!(probe(&thumbnail.body), (267, 200, "image/jpeg"));
}

#[test]
fn a_transparent_png_keeps_png_thumbnails() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let picture = client.upload_ok(&user.access, "alpha", &png_with_alpha(300, 600));
    assert_eq!(picture.content_type, "image/png");
    let thumbnail = client.get(
        &format!("/api/picture/{}/200", picture.id),
        Some(&user.access),
    );
    assert_eq!(thumbnail.header("content-type"), Some("image/png"));
    assert_eq!(probe(&thumbnail.body), (100, 200, "image/png"));
}

#[test]
fn reads_are_401_anonymous_and_404_for_other_users_and_bad_ids() {
    let client = Client::from_env();
    let owner = new_user(&client, "Premium");
    let other = new_user(&client, "Premium");
    let id = client.upload_ok(&owner.access, "x", &sunset()).id;
    for path in [
        format!("/api/picture/{id}/200"),
        format!("/api/picture/{id}"),
    ] {
        assert_eq!(client.get(&path, None).status, 401, "{path}");
        let hidden = client.get(&path, Some(&other.access));
        assert_eq!(hidden.status, 404, "{path}");
        hidden.detail();
    }
    assert_eq!(
        client
            .get("/api/picture/12345/200", Some(&owner.access))
            .status,
        404
    );
    assert_eq!(
        client
            .get(
                &format!("/api/picture/{}", uuid::Uuid::new_v4()),
                Some(&owner.access)
            )
            .status,
        404
    );
    assert_eq!(
        client
            .delete(&format!("/api/picture/{id}"), Some(&other.access))
            .status,
        404
    );
    assert_eq!(client.get("/api/pictures", None).status, 401);
}

#[test]
fn the_second_read_is_an_edge_cache_hit_that_still_checks_the_owner_and_tier() {
    let client = Client::from_env();
    let owner = new_user(&client, "Premium");
    let other = new_user(&client, "Premium");
    let id = client.upload_ok(&owner.access, "x", &sunset()).id;
    let url = format!("/api/picture/{id}/400");
    let first = client.get(&url, Some(&owner.access));
    assert_eq!(first.header("cf-cache-status"), Some("MISS"));
    assert!(first
        .header("cache-control")
        .unwrap()
        .starts_with("private"));
    let second = client.get(&url, Some(&owner.access));
    assert_eq!(second.header("cf-cache-status"), Some("HIT"));
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("content-type"), Some("image/jpeg"));
    assert!(second
        .header("cache-control")
        .unwrap()
        .starts_with("private"));

    assert_eq!(
        client.get(&url, Some(&other.access)).status,
        404,
        "cached, but not theirs"
    );
    assert_eq!(client.get(&url, None).status, 401);
    let etag = second.header("etag").unwrap().to_owned();
    assert_eq!(
        client
            .get_with(&url, &owner.access, ("if-none-match", &etag))
            .status,
        304
    );

    let admin = admin_token(&client);
    client.json(
        "PATCH",
        &format!("/api/admin/users/{}", owner.username),
        Some(&admin),
        &json!({"tier": "Basic"}),
    );
    assert_eq!(
        client.get(&url, Some(&owner.access)).status,
        403,
        "cached, but no longer in the tier"
    );
}

#[test]
fn a_height_added_by_a_tier_change_is_made_on_first_request() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let user = new_user(&client, "Basic");
    let id = client.upload_ok(&user.access, "x", &sunset()).id;
    assert_eq!(
        client.counts(&user.username).objects,
        2,
        "original and the 200 px thumbnail"
    );
    client.json(
        "PATCH",
        &format!("/api/admin/users/{}", user.username),
        Some(&admin),
        &json!({"tier": "Premium"}),
    );
    let listed: Vec<Picture> = client.get("/api/pictures", Some(&user.access)).parse();
    assert_eq!(listed[0].urls.len(), 3, "urls follow the current tier");
    let lazy = client.get(&format!("/api/picture/{id}/400"), Some(&user.access));
    assert_eq!(lazy.status, 200);
    assert_eq!(probe(&lazy.body), (600, 400, "image/jpeg"));
    assert_eq!(
        client.counts(&user.username).objects,
        3,
        "the new thumbnail is stored in R2"
    );
}

#[test]
fn pictures_are_listed_newest_first_across_pages() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let small = png_with_alpha(8, 8);
    for i in 0..5 {
        assert_eq!(
            client.upload(&user.access, &format!("p{i}"), &small).status,
            201
        );
    }
    let mut names = Vec::new();
    let mut next = Some("/api/pictures/?limit=2".to_owned());
    let mut pages = 0;
    while let Some(url) = next.take() {
        let page = client.get(&url, Some(&user.access));
        assert_eq!(page.status, 200);
        names.extend(page.parse::<Vec<Picture>>().into_iter().map(|p| p.name));
        next = page.next_page();
        pages += 1;
    }
    assert_eq!(
        (names, pages),
        (
            vec![
                "p4".to_owned(),
                "p3".into(),
                "p2".into(),
                "p1".into(),
                "p0".into()
            ],
            3
        )
    );
    assert_eq!(
        client
            .get("/api/pictures?limit=500", Some(&user.access))
            .status,
        400
    );
}

#[test]
fn deleting_a_picture_makes_every_url_404_even_cached_ones() {
    let client = Client::from_env();
    let user = new_user(&client, "Premium");
    let id = client.upload_ok(&user.access, "x", &sunset()).id;
    let urls = [
        format!("/api/picture/{id}/200"),
        format!("/api/picture/{id}/400"),
        format!("/api/picture/{id}"),
    ];
    for url in &urls {
        client.get(url, Some(&user.access));
        assert_eq!(
            client
                .get(url, Some(&user.access))
                .header("cf-cache-status"),
            Some("HIT")
        );
    }
    assert_eq!(
        client
            .delete(&format!("/api/picture/{id}"), Some(&user.access))
            .status,
        204
    );
    for url in &urls {
        assert_eq!(client.get(url, Some(&user.access)).status, 404, "{url}");
    }
    assert_eq!(client.counts(&user.username), Counts::NOTHING);
}

#[test]
fn every_rejected_upload_is_a_clear_error_and_stores_nothing() {
    let client = Client::from_env();
    let user = new_user(&client, "Premium");
    let mut truncated = sunset();
    truncated.truncate(truncated.len() / 3);
    // HEIC (what iPhones save) is recognised and refused by name.
    let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic".to_vec();
    // SVG is recognised and refused by name (WebP, GIF, BMP and TIFF are accepted: formats.rs).
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>".to_vec();
    let bomb = {
        // A header that declares 100000 x 100000 pixels, and no pixel data.
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 100_000, 100_000);
        encoder.set_color(png::ColorType::Rgb);
        drop(encoder.write_header().unwrap());
        out
    };
    let name = || Part::Text("name", "x".into());
    let img = |bytes: Vec<u8>| Part::File("img", "photo.jpg", "image/jpeg", bytes);
    // (case, form parts, expected status, field that carries the error)
    type Case<'a> = (&'a str, Vec<Part>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("heic", vec![name(), img(heic)], 400, "img"),
        ("svg", vec![name(), img(svg)], 400, "img"),
        (
            "text renamed to .jpg",
            vec![name(), img(b"just some text".to_vec())],
            400,
            "img",
        ),
        ("truncated jpeg", vec![name(), img(truncated)], 400, "img"),
        ("missing name", vec![img(sunset())], 400, "name"),
        (
            "name too long",
            vec![Part::Text("name", "n".repeat(101)), img(sunset())],
            400,
            "name",
        ),
        ("missing img", vec![name()], 400, "img"),
        (
            "img as a text field",
            vec![name(), Part::Text("img", "not a file".into())],
            400,
            "img",
        ),
        ("pixel bomb", vec![name(), img(bomb)], 413, "detail"),
    ];
    for (case, parts, status, field) in cases {
        let reply = client.upload_parts(&user.access, &parts);
        assert_eq!(reply.status, status, "{case}: {}", reply.text());
        if field == "detail" {
            reply.detail();
        } else {
            assert!(
                reply.field_errors().contains_key(field),
                "{case}: {}",
                reply.text()
            );
        }
    }
    let not_multipart = client.json(
        "POST",
        "/api/pictures/",
        Some(&user.access),
        &json!({"name": "x"}),
    );
    assert_eq!(not_multipart.status, 400);
    assert!(not_multipart.field_errors().contains_key("img"));
    // Sent by hand: a server that refuses the body early closes the connection while ureq would
    // still be writing it, and ureq then reports the broken pipe instead of the status.
    // Over the 100 MB MAX_UPLOAD_BYTES of wrangler.toml: refused from the declared length.
    let too_big = multipart(&[name(), img(vec![0xFFu8; 101 * 1024 * 1024])]);
    let reply = raw::exchange(
        "POST",
        "/api/pictures",
        &[
            ("authorization", &format!("Bearer {}", user.access)),
            (
                "content-type",
                &format!("multipart/form-data; boundary={BOUNDARY}"),
            ),
        ],
        Body::Whole(too_big),
    );
    assert_eq!(reply.status, 413);
    assert_eq!(
        client.counts(&user.username),
        Counts::NOTHING,
        "nothing stored"
    );
}

#[test]
fn deleting_a_user_removes_their_pictures_and_objects() {
    let client = Client::from_env();
    let admin = admin_token(&client);
    let user = new_user(&client, "Premium");
    client.upload(&user.access, "x", &sunset());
    let counts = client.counts(&user.username);
    assert_eq!((counts.pictures, counts.objects), (1, 3));
    assert_eq!(
        client
            .delete(&format!("/api/admin/users/{}", user.username), Some(&admin))
            .status,
        204
    );
    assert_eq!(
        client
            .get(&format!("/__test/counts/{}", user.username), None)
            .status,
        404,
        "the user is gone"
    );
}
