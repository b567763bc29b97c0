//! The formats beyond JPEG and PNG through the real runtime (the wasm build of the decoders):
//! each is stored byte for byte with its true type and thumbnailed as JPEG; a format that
//! cannot be decoded is refused by name and leaves nothing behind.

use crate::client::{new_user, Client};

const LOSSY_WEBP: &[u8] =
    include_bytes!("../../crates/imaging/tests/fixtures/sunset-480x320-lossy.webp");

/// A 1x1 GIF89a (white pixel).
const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

/// An uncompressed 24-bit BMP of `width` x `height` (bottom-up rows padded to 4 bytes).
fn bmp(width: u32, height: u32) -> Vec<u8> {
    let row = (width * 3).div_ceil(4) * 4;
    let size = 54 + row * height;
    let mut out = Vec::new();
    out.extend_from_slice(b"BM");
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&(width as i32).to_le_bytes());
    out.extend_from_slice(&(height as i32).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // BI_RGB
    out.extend_from_slice(&(row * height).to_le_bytes());
    out.extend_from_slice(&[0; 16]);
    for y in 0..height {
        let mut line: Vec<u8> = (0..width)
            .flat_map(|x| [(x % 256) as u8, (y % 256) as u8, 90])
            .collect();
        line.resize(row as usize, 0);
        out.extend_from_slice(&line);
    }
    out
}

/// An uncompressed 8-bit RGB TIFF (little-endian, one strip) of `width` x `height`.
fn tiff(width: u32, height: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| [(i % 256) as u8, 40, 200])
        .collect();
    let entries: u16 = 10;
    let ifd_offset = 8u32;
    let ifd_len = 2 + u32::from(entries) * 12 + 4;
    let bits_offset = ifd_offset + ifd_len;
    let pixels_offset = bits_offset + 6;
    let mut out = Vec::new();
    out.extend_from_slice(b"II*\0");
    out.extend_from_slice(&ifd_offset.to_le_bytes());
    out.extend_from_slice(&entries.to_le_bytes());
    let mut entry = |tag: u16, kind: u16, count: u32, value: u32| {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    };
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    entry(256, LONG, 1, width);
    entry(257, LONG, 1, height);
    entry(258, SHORT, 3, bits_offset);
    entry(259, SHORT, 1, 1);
    entry(262, SHORT, 1, 2);
    entry(273, LONG, 1, pixels_offset);
    entry(277, SHORT, 1, 3);
    entry(278, LONG, 1, height);
    entry(279, LONG, 1, pixels.len() as u32);
    entry(284, SHORT, 1, 1);
    out.extend_from_slice(&0u32.to_le_bytes());
    for _ in 0..3 {
        out.extend_from_slice(&8u16.to_le_bytes());
    }
    out.extend_from_slice(&pixels);
    out
}

#[test]
fn webp_gif_bmp_and_tiff_are_stored_as_sent_and_thumbnailed_as_jpeg() {
    let client = Client::from_env();
    let user = new_user(&client, "Premium");
    // (upload name, bytes, stored content type, upright size)
    type Case<'a> = (&'a str, Vec<u8>, &'a str, (u32, u32));
    let cases: Vec<Case> = vec![
        ("webp", LOSSY_WEBP.to_vec(), "image/webp", (480, 320)),
        ("gif", GIF.to_vec(), "image/gif", (1, 1)),
        ("bmp", bmp(300, 240), "image/bmp", (300, 240)),
        ("tiff", tiff(320, 250), "image/tiff", (320, 250)),
    ];
    for (name, bytes, content_type, (width, height)) in cases {
        let picture = client.upload_ok(&user.access, name, &bytes);
        assert_eq!(picture.content_type, content_type, "{name}");
        assert_eq!((picture.width, picture.height), (width, height), "{name}");
        let original = client.get(&format!("/api/picture/{}", picture.id), Some(&user.access));
        assert_eq!(original.status, 200, "{name}");
        assert_eq!(
            original.header("content-type"),
            Some(content_type),
            "{name}"
        );
        assert!(
            original.body == bytes,
            "{name}: the original is stored byte for byte"
        );
        let thumbnail = client.get(
            &format!("/api/picture/{}/200", picture.id),
            Some(&user.access),
        );
        assert_eq!(thumbnail.status, 200, "{name}");
        assert_eq!(
            thumbnail.header("content-type"),
            Some("image/jpeg"),
            "{name}"
        );
        let probe = imaging::probe(&thumbnail.body, &imaging::Limits::default()).unwrap();
        assert_eq!(probe.height, height.min(200), "{name}: never upscaled");
    }
    assert_eq!(client.counts(&user.username).pictures, 4);
}

#[test]
fn a_heic_upload_is_refused_by_name_and_stores_nothing() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic\x00\x00\x00\x08free";
    let reply = client.upload(&user.access, "phone photo", heic);
    assert_eq!(reply.status, 400);
    let message = reply.json()["img"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("HEIC"), "{message}");
    let counts = client.counts(&user.username);
    assert_eq!((counts.pictures, counts.objects), (0, 0));
}
