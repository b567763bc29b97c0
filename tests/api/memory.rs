//! The isolate's memory under the uploads that used to exhaust it (issues 17 and 18): camera-sized
//! JPEGs one at a time and four at once, four 20 MB PNGs of noise at once, one user's uploads that
//! trickle in while another user uploads, and decompression bombs. Each must be answered cleanly
//! (201, 400, 408, 413, or 503 with Retry-After; never 500), with the admin gauge
//! `wasm_memory_bytes` under 96 MiB after it: wasm memory never shrinks, so the gauge read after a
//! request also bounds that request's peak.
//!
//! The tests of this file run one at a time (`SERIAL`): each measures the one isolate that
//! `wrangler dev` runs, and a 503 one of them accepts must come from its own load.

use crate::client::{
    admin_token, multipart, new_user, Client, Counts, Health, Isolate, Part, Picture, Reply,
    TestUser, BOUNDARY,
};
use crate::pictures::png_with_alpha;
use crate::raw::{self, Body};
use jpeg_encoder::{ColorType, Encoder};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
/// Issue 17's bound: 96 MiB of wasm memory, the rest of the isolate's 128 MB being the JS heap's.
const GAUGE_LIMIT: u64 = 96 * MIB;
/// `UPLOAD_GRACE_SECS` (its default; wrangler.toml does not set it).
const GRACE: Duration = Duration::from_secs(10);
/// How long an upload of a 48 MP photo may take to be answered while others run beside it.
const BIG_ANSWER_WITHIN: Duration = Duration::from_secs(120);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// --- the gauge ------------------------------------------------------------------------------

/// What the isolate holds now, from admin `GET /api/health`.
fn isolate(client: &Client) -> Isolate {
    let admin = admin_token(client);
    let reply = client.get("/api/health", Some(&admin));
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
        .parse::<Health>()
        .isolate
        .expect("an admin is shown the isolate")
}

fn assert_gauge_under_limit(client: &Client, after: &str) {
    let bytes = isolate(client).wasm_memory_bytes;
    eprintln!(
        "wasm memory after {after}: {:.1} MiB",
        bytes as f64 / MIB as f64
    );
    assert!(
        bytes < GAUGE_LIMIT,
        "wasm memory after {after}: {bytes} bytes, not under 96 MiB"
    );
}

// --- answers ----------------------------------------------------------------------------------

/// `POST /api/pictures` over a raw socket, so an answer given before the body is all sent is
/// still read (ureq would fail on the broken pipe).
fn post_upload(token: &str, body: Body, within: Duration) -> Reply {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let auth = format!("Bearer {token}");
    raw::exchange_within(
        "POST",
        "/api/pictures",
        &[
            ("content-type", content_type.as_str()),
            ("authorization", auth.as_str()),
        ],
        body,
        within,
    )
}

fn upload_body(
    name: &str,
    filename: &'static str,
    content_type: &'static str,
    bytes: &[u8],
) -> Vec<u8> {
    multipart(&[
        Part::Text("name", name.into()),
        Part::File("img", filename, content_type, bytes.to_vec()),
    ])
}

/// A 503 the client can act on: a reason and when to come back.
fn assert_clean_busy(reply: &Reply) {
    assert_eq!(reply.status, 503, "{}", reply.text());
    let seconds: u64 = reply
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "a 503 without a Retry-After in seconds: {:?}",
                reply.headers
            )
        });
    assert!(seconds >= 1, "Retry-After: {seconds}");
    reply.detail();
}

/// A bomb's answer: taken whole (201, at its true size) or refused with a reason (400, 413)
/// and nothing kept; never a 500, never a 503 (nothing else is in flight).
fn assert_taken_or_refused(client: &Client, user: &TestUser, reply: &Reply, size: (u32, u32)) {
    match reply.status {
        201 => {
            let picture: Picture = reply.parse();
            assert_eq!((picture.width, picture.height), size);
        }
        400 => {
            assert!(!reply.field_errors().is_empty());
            assert_eq!(client.counts(&user.username), Counts::NOTHING);
        }
        413 => {
            reply.detail();
            assert_eq!(client.counts(&user.username), Counts::NOTHING);
        }
        other => panic!("a bomb answered {other}: {}", reply.text()),
    }
}

// --- camera-sized JPEGs -----------------------------------------------------------------------

/// A camera's photo: its size and how it is coded.
#[derive(Clone, Copy, Debug)]
struct Camera {
    width: u16,
    height: u16,
    quality: u8,
    progressive: bool,
    /// 4:4:4 (no chroma subsampling) instead of 4:2:0; its grain is drawn for each channel, as a
    /// sensor's is, so the full-resolution chroma weighs as much as a camera's.
    full_chroma: bool,
    /// How far the grain moves a pixel's value, either way.
    grain: i32,
    /// What a camera's file of that size and quality weighs at least.
    at_least_bytes: usize,
}

const CAMERA_48_MP: Camera = Camera {
    width: 8000,
    height: 6000,
    quality: 92,
    progressive: false,
    full_chroma: false,
    grain: 10,
    at_least_bytes: 15_000_000,
};
const CAMERA_61_MP: Camera = Camera {
    width: 9504,
    height: 6336,
    ..CAMERA_48_MP
};
const CAMERA_100_MP: Camera = Camera {
    width: 11520,
    height: 8640,
    ..CAMERA_48_MP
};
/// A 40 MP 4:4:4 progressive file at quality 95: a camera's largest JPEG (about 34 MB).
const CAMERA_40_MP_444_PROGRESSIVE: Camera = Camera {
    width: 7728,
    height: 5152,
    quality: 95,
    progressive: true,
    full_chroma: true,
    grain: 12,
    at_least_bytes: 30_000_000,
};

/// Grain in -amplitude..=amplitude from xorshift32: cheap noise, the same on every run.
fn next_grain(state: &mut u32, amplitude: i32) -> i32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    (*state % (2 * amplitude as u32 + 1)) as i32 - amplitude
}

impl Camera {
    /// The photo's pixels: gradients under grain. The grain is what makes a quality-92 JPEG of
    /// it as large as a camera's (about 16 MB at 48 MP); a smooth image would compress to a few
    /// MB.
    fn pixels(self) -> Vec<u8> {
        let (width, height) = (u32::from(self.width), u32::from(self.height));
        let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
        let mut state = 0x9E37_79B9u32;
        for y in 0..height {
            for x in 0..width {
                let grain = next_grain(&mut state, self.grain);
                let (green, blue) = if self.full_chroma {
                    let green = next_grain(&mut state, self.grain);
                    (green, next_grain(&mut state, self.grain))
                } else {
                    (grain, grain / 2)
                };
                let base = ((x * 255 / width + y * 255 / height) / 2) as i32;
                pixels.extend_from_slice(&[
                    (base + grain).clamp(0, 255) as u8,
                    (200 - base / 2 + green).clamp(0, 255) as u8,
                    (90 + blue).clamp(0, 255) as u8,
                ]);
            }
        }
        pixels
    }

    fn jpeg(self) -> Vec<u8> {
        let started = Instant::now();
        let pixels = self.pixels();
        let mut out = Vec::new();
        let mut encoder = Encoder::new(&mut out, self.quality);
        encoder.set_progressive(self.progressive);
        if self.full_chroma {
            encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
        }
        encoder
            .encode(&pixels, self.width, self.height, ColorType::Rgb)
            .unwrap();
        eprintln!(
            "{self:?}: {} bytes, made in {:.1} s",
            out.len(),
            started.elapsed().as_secs_f64()
        );
        assert!(
            out.len() >= self.at_least_bytes,
            "a camera's file is {} bytes or more, this one {} bytes",
            self.at_least_bytes,
            out.len()
        );
        out
    }

    fn with_progressive(self, progressive: bool) -> Camera {
        Camera {
            progressive,
            ..self
        }
    }
}

/// The 48 MP baseline JPEG, made once for every test that sends it.
fn baseline_48_mp() -> &'static [u8] {
    static JPEG: OnceLock<Vec<u8>> = OnceLock::new();
    JPEG.get_or_init(|| CAMERA_48_MP.jpeg())
}

/// A stored camera photo as a Premium user sees it: its size, the original byte for byte, and
/// thumbnails 200 and 400 px high at the photo's aspect ratio.
fn assert_camera_photo_stored(
    client: &Client,
    user: &TestUser,
    picture: &Picture,
    camera: Camera,
    sent: &[u8],
) {
    let (camera_width, camera_height) = (u32::from(camera.width), u32::from(camera.height));
    assert_eq!(
        (
            picture.width,
            picture.height,
            picture.content_type.as_str(),
            picture.size
        ),
        (camera_width, camera_height, "image/jpeg", sent.len() as u64)
    );
    let id = &picture.id;
    let original = format!("/api/picture/{id}");
    assert_eq!(
        picture.urls,
        [
            format!("{original}/200"),
            format!("{original}/400"),
            original.clone()
        ]
    );
    let served = client.get(&original, Some(&user.access));
    assert_eq!(served.status, 200, "{original}");
    assert!(
        served.body == sent,
        "the original is served byte for byte: {} bytes served of {}",
        served.body.len(),
        sent.len()
    );
    for height in [200u32, 400] {
        let url = format!("{original}/{height}");
        let thumbnail = client.get(&url, Some(&user.access));
        assert_eq!(thumbnail.status, 200, "{url}: {}", thumbnail.text());
        let probe = imaging::probe(&thumbnail.body, &imaging::Limits::default())
            .unwrap_or_else(|e| panic!("{url}: {e:?}"));
        let width = camera_width * height / camera_height;
        assert_eq!(probe.height, height, "{url}");
        assert!(
            probe.width.abs_diff(width) <= 1,
            "{url}: {} px wide, not {width}",
            probe.width
        );
    }
}

/// One camera photo uploaded alone by a Premium user: stored whole, gauge under the limit.
fn assert_camera_upload_taken(camera: Camera, jpeg: &[u8]) {
    let _serial = serial();
    let client = Client::from_env();
    let user = new_user(&client, "Premium");

    let picture = client.upload_ok(&user.access, "camera", jpeg);

    assert_camera_photo_stored(&client, &user, &picture, camera, jpeg);
    assert_gauge_under_limit(&client, &format!("{camera:?}"));
}

#[test]
fn a_48_mp_baseline_jpeg_is_stored_with_its_thumbnails_and_the_gauge_stays_under_96_mib() {
    assert_camera_upload_taken(CAMERA_48_MP, baseline_48_mp());
}

#[test]
fn a_48_mp_progressive_jpeg_is_stored_with_its_thumbnails_and_the_gauge_stays_under_96_mib() {
    let camera = CAMERA_48_MP.with_progressive(true);
    assert_camera_upload_taken(camera, &camera.jpeg());
}

#[test]
fn a_61_mp_baseline_jpeg_is_stored_with_its_thumbnails_and_the_gauge_stays_under_96_mib() {
    assert_camera_upload_taken(CAMERA_61_MP, &CAMERA_61_MP.jpeg());
}

#[test]
fn a_100_mp_baseline_jpeg_is_stored_with_its_thumbnails_and_the_gauge_stays_under_96_mib() {
    assert_camera_upload_taken(CAMERA_100_MP, &CAMERA_100_MP.jpeg());
}

#[test]
fn a_40_mp_444_progressive_jpeg_of_34_mb_is_stored_with_its_thumbnails_under_96_mib() {
    let camera = CAMERA_40_MP_444_PROGRESSIVE;
    assert_camera_upload_taken(camera, &camera.jpeg());
}

/// Four users' uploads of the same body at once, each on a connection of its own; the users
/// and their answers, in the same order.
fn four_uploads_at_once(client: &Client, body: &[u8]) -> (Vec<TestUser>, Vec<Reply>) {
    let users: Vec<TestUser> = (0..4).map(|_| new_user(client, "Premium")).collect();
    let replies: Vec<Reply> = thread::scope(|s| {
        let uploads: Vec<_> = users
            .iter()
            .map(|user| {
                let body = body.to_vec();
                s.spawn(move || post_upload(&user.access, Body::Whole(body), BIG_ANSWER_WITHIN))
            })
            .collect();
        uploads.into_iter().map(|u| u.join().unwrap()).collect()
    });
    (users, replies)
}

/// Each of four answers is a stored picture (checked by `stored`) or a clean 503 that kept
/// nothing, and at least one is stored.
fn assert_stored_or_clean_busy(
    client: &Client,
    what: &str,
    users: &[TestUser],
    replies: &[Reply],
    stored: impl Fn(&TestUser, &Picture),
) {
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    eprintln!("{what}: {statuses:?}");
    for (user, reply) in users.iter().zip(replies) {
        match reply.status {
            201 => stored(user, &reply.parse()),
            503 => {
                assert_clean_busy(reply);
                assert_eq!(client.counts(&user.username), Counts::NOTHING);
            }
            other => panic!("an upload answered {other}: {}", reply.text()),
        }
    }
    assert!(
        statuses.contains(&201),
        "at least one of four uploads fits: {statuses:?}"
    );
}

#[test]
fn four_48_mp_jpegs_at_once_are_each_stored_or_a_clean_503_and_the_gauge_stays_under_96_mib() {
    let _serial = serial();
    let client = Client::from_env();
    let jpeg = baseline_48_mp();
    let body = upload_body("camera", "camera.jpg", "image/jpeg", jpeg);

    let (users, replies) = four_uploads_at_once(&client, &body);

    assert_stored_or_clean_busy(
        &client,
        "four 48 MP uploads at once",
        &users,
        &replies,
        |user, picture| assert_camera_photo_stored(&client, user, picture, CAMERA_48_MP, jpeg),
    );
    assert_gauge_under_limit(&client, "four 48 MP JPEGs at once");
}

// --- ordinary 20 MB PNGs ----------------------------------------------------------------------

#[path = "../common/noise_png.rs"]
mod noise_png;
use noise_png::noise_png;

/// 2600 x 2600 RGB: 20.3 MB of pixels.
const NOISE_SIDE: u32 = 2600;

/// Issue 17's "ordinary 20 MB PNG": noise, stored uncompressed (deflate level 0), so the file
/// is as large as its pixels.
fn noise_png_20_mb() -> Vec<u8> {
    let out = noise_png(NOISE_SIDE);
    assert!(out.len() > 20_000_000, "{} bytes", out.len());
    out
}

#[test]
fn four_20_mb_noise_pngs_at_once_are_each_stored_or_a_clean_503_and_the_gauge_stays_under_96_mib() {
    let _serial = serial();
    let client = Client::from_env();
    let png = noise_png_20_mb();
    let body = upload_body("noise", "noise.png", "image/png", &png);

    let (users, replies) = four_uploads_at_once(&client, &body);

    assert_stored_or_clean_busy(
        &client,
        "four 20 MB PNGs at once",
        &users,
        &replies,
        |user, picture| {
            assert_eq!(
                (
                    picture.width,
                    picture.height,
                    picture.content_type.as_str(),
                    picture.size
                ),
                (NOISE_SIDE, NOISE_SIDE, "image/png", png.len() as u64)
            );
            let served = client.get(&format!("/api/picture/{}", picture.id), Some(&user.access));
            assert_eq!(served.status, 200);
            assert!(served.body == png, "the original is served byte for byte");
        },
    );
    assert_gauge_under_limit(&client, "four 20 MB PNGs at once");
}

// --- slow bodies ------------------------------------------------------------------------------

/// The start of an upload that declares 19 MiB: the name, then the image part's head and a TIFF
/// signature (a format held whole: once recognised, the server must make room for all of it).
fn trickle_head() -> Vec<u8> {
    let signature = b"II*\0";
    let whole = upload_body("slow", "slow.tiff", "image/tiff", signature);
    let end = whole
        .windows(signature.len())
        .position(|w| w == signature)
        .unwrap()
        + signature.len();
    whole[..end].to_vec()
}

#[test]
fn one_users_five_trickling_uploads_end_in_408_or_503_while_another_users_upload_is_taken() {
    let _serial = serial();
    let client = Client::from_env();
    let slow = new_user(&client, "Basic");
    let other = new_user(&client, "Basic");
    let declared = 19 * MIB as usize;
    let started = Instant::now();

    let answers: Vec<(Reply, Duration)> = thread::scope(|s| {
        let trickles: Vec<_> = (0..5)
            .map(|_| {
                let body = Body::Trickle {
                    declared,
                    head: trickle_head(),
                    every: Duration::from_secs(3),
                };
                let slow = &slow;
                s.spawn(move || {
                    let reply = post_upload(&slow.access, body, GRACE * 4);
                    (reply, started.elapsed())
                })
            })
            .collect();
        // While they trickle, well within the grace they are given.
        thread::sleep(Duration::from_secs(2));
        let held = isolate(&client);
        eprintln!(
            "while five uploads trickle: {:.1} MiB reserved, {:.1} MiB of wasm memory",
            held.memory_reserved_bytes as f64 / MIB as f64,
            held.wasm_memory_bytes as f64 / MIB as f64
        );
        let taken = client.upload_parts(
            &other.access,
            &[
                Part::Text("name", "small".into()),
                Part::File("img", "small.png", "image/png", png_with_alpha(8, 8)),
            ],
        );
        assert_eq!(
            taken.status,
            201,
            "another user's upload while one user's trickle: {}",
            taken.text()
        );
        assert!(
            started.elapsed() < GRACE,
            "the other upload must be made while the slow ones are still held"
        );
        trickles.into_iter().map(|t| t.join().unwrap()).collect()
    });

    for (reply, after) in &answers {
        eprintln!("a trickling upload: {} after {after:?}", reply.status);
        match reply.status {
            408 => {
                assert!(*after >= GRACE, "408 before the grace ended: {after:?}");
                reply.detail();
            }
            503 => assert_clean_busy(reply),
            other => panic!("a trickling upload answered {other}: {}", reply.text()),
        }
    }
    assert!(
        answers.iter().any(|(reply, _)| reply.status == 408),
        "at least one trickling upload is held until it is given up on"
    );
    assert_eq!(client.counts(&slow.username), Counts::NOTHING);
    assert_eq!(client.counts(&other.username).pictures, 1);
    assert_gauge_under_limit(&client, "five trickling uploads");
}

// --- bombs: PNG metadata, a flood of parts --------------------------------------------------

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// A 16x16 PNG with one more chunk right after IHDR.
fn png_with_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let plain = png_with_alpha(16, 16);
    let after_ihdr = 8 + 12 + 13;
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    let mut bytes = plain[..after_ihdr].to_vec();
    bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&crc32(&body).to_be_bytes());
    bytes.extend_from_slice(&plain[after_ihdr..]);
    bytes
}

#[test]
fn a_png_whose_icc_profile_inflates_to_60_mib_is_answered_cleanly_under_96_mib() {
    let _serial = serial();
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    // Profile name, NUL, compression method 0, then 60 MiB of zeros deflated (about 60 KB).
    let mut iccp = b"bomb\0\0".to_vec();
    iccp.extend_from_slice(&miniz_oxide::deflate::compress_to_vec_zlib(
        &vec![0; 60 * MIB as usize],
        10,
    ));
    let png = png_with_chunk(b"iCCP", &iccp);

    let reply = client.upload_parts(
        &user.access,
        &[
            Part::Text("name", "icc".into()),
            Part::File("img", "icc.png", "image/png", png),
        ],
    );

    assert_taken_or_refused(&client, &user, &reply, (16, 16));
    assert_gauge_under_limit(&client, "a PNG with a 60 MiB ICC profile");
}

#[test]
fn a_body_of_500k_empty_parts_is_400_too_many_fields_under_96_mib() {
    let _serial = serial();
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    // About 26 MB: the body of issue 17's attack, every part a field with no value.
    let part = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n");
    let mut body = part.repeat(500_000).into_bytes();
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());

    let reply = post_upload(&user.access, Body::Whole(body), BIG_ANSWER_WITHIN);

    assert_eq!(reply.status, 400, "{}", reply.text());
    let errors = reply.field_errors();
    let messages = errors.get("non_field_errors").cloned().unwrap_or_default();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("The form has more than") && m.ends_with("fields.")),
        "{errors:?}"
    );
    assert_eq!(client.counts(&user.username), Counts::NOTHING);
    assert_gauge_under_limit(&client, "500k empty parts");
}

// --- bombs: lossless WebP Huffman groups ---------------------------------------------------

#[allow(dead_code)] // the imaging tests use the rest
#[path = "../../crates/imaging/tests/common/webp_bombs.rs"]
mod webp_bombs;
use webp_bombs::{lossy_with_alpha_naming_group, vp8l_naming_group};

#[test]
fn lossless_webps_naming_huffman_groups_8191_and_65535_are_answered_cleanly_under_96_mib() {
    let _serial = serial();
    let client = Client::from_env();
    for (what, webp, size) in [
        (
            "a lossless WebP naming group 8191",
            vp8l_naming_group(16, 16, 8191),
            (16, 16),
        ),
        (
            "a lossless WebP naming group 65535",
            vp8l_naming_group(16, 16, 65535),
            (16, 16),
        ),
        (
            "a lossy WebP whose alpha names group 8191",
            lossy_with_alpha_naming_group(8191),
            (240, 160),
        ),
    ] {
        let user = new_user(&client, "Basic");

        let reply = post_upload(
            &user.access,
            Body::Whole(upload_body("groups", "groups.webp", "image/webp", &webp)),
            BIG_ANSWER_WITHIN,
        );

        eprintln!("{what} ({} bytes): {}", webp.len(), reply.status);
        assert_taken_or_refused(&client, &user, &reply, size);
        assert_gauge_under_limit(&client, what);
    }
}
