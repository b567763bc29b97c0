//! Decompression bombs aimed past the headers, at decoders that allocate from what the input says: lossless WebP Huffman groups (alone, as an ALPH plane, as an animation frame) and compressed PNG metadata; each is thumbnailed or refused within its plan.
//!
//! Every bomb is built here. The counting allocator (as in tests/peak_memory.rs)
//! measures the heap `thumbnails` allocates, which must stay within what `plan`
//! told the service to reserve, and small: these files are tiny.

mod common;
mod other_formats;

use common::webp_bombs::*;
use common::*;
use imaging::{plan, thumbnails, ImageError, Limits};

const MIB: u64 = 1024 * 1024;
/// No bomb below may cost more than this, whatever its plan says.
const SMALL: u64 = 20 * MIB;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What thumbnailing a bomb did: its result, the heap peak, the plan's peak.
struct Outcome {
    result: Result<(), ImageError>,
    peak: u64,
    planned: u64,
}

/// Plans, then thumbnails at the service's upload heights under the counter.
fn thumbnail_measured(bytes: &[u8]) -> Outcome {
    let heights = [200, 400];
    let planned = plan(bytes, &heights, &Limits::default()).map_or(0, |p| p.peak_bytes);
    let (peak, result) = peak_of(|| thumbnails(bytes, &heights, &Limits::default()).map(|_| ()));
    Outcome {
        result,
        peak,
        planned,
    }
}

/// The checks every bomb must pass: within the plan, and within [`SMALL`].
fn assert_contained(name: &str, bytes: &[u8], outcome: &Outcome) {
    assert_within(name, bytes, outcome, SMALL);
}

/// Within the plan, and within `limit`.
fn assert_within(name: &str, bytes: &[u8], outcome: &Outcome, limit: u64) {
    eprintln!(
        "{name}: {} KB in, {:?}, peak {:.2} MiB, planned {:.2} MiB",
        bytes.len() / 1000,
        outcome.result,
        outcome.peak as f64 / MIB as f64,
        outcome.planned as f64 / MIB as f64
    );
    assert!(
        outcome.peak <= outcome.planned,
        "{name}: peak {} over the plan's {}",
        outcome.peak,
        outcome.planned
    );
    assert!(outcome.peak < limit, "{name}: peak {}", outcome.peak);
}

#[test]
fn a_lossless_webp_naming_huffman_group_8191_is_thumbnailed_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = vp8l_naming_group(16, 16, 8191);

    let outcome = thumbnail_measured(&bytes);

    assert_eq!(outcome.result, Ok(()));
    assert_contained("VP8L, group 8191", &bytes, &outcome);
}

#[test]
fn a_lossless_webp_naming_huffman_group_65535_is_thumbnailed_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = vp8l_naming_group(16, 16, 65535);

    let outcome = thumbnail_measured(&bytes);

    assert_eq!(outcome.result, Ok(()));
    assert_contained("VP8L, group 65535", &bytes, &outcome);
}

#[test]
fn a_lossless_webp_using_too_many_huffman_groups_is_refused_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 16384 blocks, each its own group of 20 KiB of tables: 320 MiB upstream.
    // Refused when the tables pass the cap, and with every block a group of its
    // own (65536), before the first group is read.
    for (side, groups) in [(512, 16384), (1024, 65536)] {
        let bytes = vp8l_using_groups(side, side, groups);

        let outcome = thumbnail_measured(&bytes);

        let name = format!("VP8L, {side}x{side}, {groups} groups used");
        assert!(
            matches!(&outcome.result, Err(ImageError::Corrupt(why)) if why.contains("Memory limit")),
            "{name}: {:?}",
            outcome.result
        );
        assert_contained(&name, &bytes, &outcome);
    }
}

#[test]
fn a_lossy_webp_whose_alpha_plane_names_huffman_group_8191_is_thumbnailed_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = lossy_with_alpha_naming_group(8191);

    let outcome = thumbnail_measured(&bytes);

    assert_eq!(outcome.result, Ok(()));
    assert_contained("VP8 + ALPH, group 8191", &bytes, &outcome);
}

#[test]
fn an_animated_webp_whose_first_frame_names_huffman_group_8191_is_thumbnailed_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = animation_naming_group(16, 16, 8191);

    let outcome = thumbnail_measured(&bytes);

    assert_eq!(outcome.result, Ok(()));
    assert_contained("ANMF VP8L, group 8191", &bytes, &outcome);
}

#[test]
fn a_lossless_webp_encoded_by_libwebp_decodes_to_the_pixels_libwebp_decodes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // cwebp -z 9 (tests/fixtures/README.md): six Huffman groups, which the
    // patched decoder renumbers; dwebp 1.2.4 decodes it to RGB with this CRC-32.
    let bytes = std::fs::read("tests/fixtures/sunset-240x160-lossless.webp").unwrap();
    const DWEBP_RGB_CRC: u32 = 0x66f2_a3dc;

    let pixels = image::load_from_memory(&bytes).unwrap().to_rgb8();
    let outcome = thumbnail_measured(&bytes);

    assert_eq!(crc32(pixels.as_raw()), DWEBP_RGB_CRC);
    assert_eq!(outcome.result, Ok(()));
    assert_contained("libwebp lossless", &bytes, &outcome);
}

// --- PNG metadata -------------------------------------------------------------

/// A 16x16 PNG with `extra` chunks inserted after IHDR.
fn png_with(extra: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let plain = png(
        16,
        16,
        &rgb(16, 16, |x, y| [x as u8 * 16, y as u8 * 16, 99]),
        false,
    );
    let after_ihdr = 8 + 12 + 13;
    let mut bytes = plain[..after_ihdr].to_vec();
    for (kind, data) in extra {
        bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    bytes.extend_from_slice(&plain[after_ihdr..]);
    bytes
}

/// `size` zero bytes, zlib-compressed (about a thousandth of that).
fn zlib_of_zeros(size: usize) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(&vec![0; size], 10)
}

#[test]
fn png_metadata_that_inflates_to_60_mib_is_never_inflated() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inflating = zlib_of_zeros(60 * 1024 * 1024);
    let with = |prefix: &[u8]| [prefix, inflating.as_slice()].concat();
    let cases: [(&str, &[u8; 4], Vec<u8>); 3] = [
        // Profile name, NUL, compression method 0, then the zlib stream.
        ("iCCP", b"iCCP", with(b"bomb\0\0")),
        // Keyword, NUL, method 0, text.
        ("zTXt", b"zTXt", with(b"Comment\0\0")),
        // Keyword, NUL, compressed, method 0, language NUL, translated keyword NUL, text.
        ("iTXt", b"iTXt", with(b"Comment\0\x01\0\0\0")),
    ];
    for (name, kind, data) in cases {
        let bytes = png_with(&[(kind, data)]);

        let outcome = thumbnail_measured(&bytes);

        assert_eq!(outcome.result, Ok(()), "{name}");
        assert_contained(name, &bytes, &outcome);
    }
}

#[test]
fn large_uncompressed_png_metadata_is_never_buffered() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // png buffers eXIf (it cannot skip it) and tEXt whole, doubling as it reads.
    let big = vec![b'x'; 24 * 1024 * 1024];
    let text = [b"Comment\0".as_slice(), &big].concat();
    let exif = [b"MM\0*\0\0\0\x08\0\0".as_slice(), &big].concat();
    for (name, kind, data) in [("tEXt", b"tEXt", text), ("eXIf", b"eXIf", exif)] {
        let bytes = png_with(&[(kind, data)]);

        let outcome = thumbnail_measured(&bytes);

        assert_eq!(outcome.result, Ok(()), "{name}");
        assert_contained(name, &bytes, &outcome);
    }
}

// --- GIF metadata -------------------------------------------------------------

/// A 16x16 GIF with application extensions inserted before its image: the
/// `gif` crate collects XMP and ICC ones whole while it reads the header.
fn gif_with_application_extensions(extensions: &[(&[u8; 11], usize)]) -> Vec<u8> {
    let plain = other_formats::gif_indexed(16, 16, |x, y| ((x + y) % 3) as u8);
    let flags = plain[10];
    let header = 13
        + if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        };
    let mut bytes = plain[..header].to_vec();
    for &(name, size) in extensions {
        bytes.extend_from_slice(&[0x21, 0xFF, 11]);
        bytes.extend_from_slice(name);
        for start in (0..size).step_by(255) {
            let len = (size - start).min(255);
            bytes.push(len as u8);
            bytes.extend(std::iter::repeat_n(b'x', len));
        }
        bytes.push(0);
    }
    bytes.extend_from_slice(&plain[header..]);
    bytes
}

#[test]
fn gif_xmp_and_icc_extensions_are_never_collected() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let size = 24 * 1024 * 1024;
    for (name, extension) in [("XMP", b"XMP DataXMP"), ("ICC", b"ICCRGBG1012")] {
        let bytes = gif_with_application_extensions(&[(extension, size)]);

        let outcome = thumbnail_measured(&bytes);

        assert_eq!(outcome.result, Ok(()), "{name}");
        assert_contained(name, &bytes, &outcome);
    }
}

// --- VP8 partitions -----------------------------------------------------------

#[test]
fn a_lossy_webp_with_a_long_last_partition_is_thumbnailed_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // image-webp copies the last partition (to the end of the VP8 chunk) into
    // memory, up to four times over (formats/mod.rs, vp8_partitions): not a
    // bomb, as it grows with the input, but the plan must count it.
    let tail = 12 * 1024 * 1024;
    let fixture = std::fs::read("tests/fixtures/sunset-480x320-lossy.webp").unwrap();
    let mut chunks = Vec::new();
    for (kind, mut payload) in webp_chunks(&fixture) {
        if &kind == b"VP8 " {
            payload.resize(payload.len() + tail, 0);
        }
        chunks.extend_from_slice(&chunk(&kind, &payload));
    }
    let bytes = riff(&chunks);

    let outcome = thumbnail_measured(&bytes);

    assert_eq!(outcome.result, Ok(()));
    assert_within(
        "VP8, long partition",
        &bytes,
        &outcome,
        4 * tail as u64 + SMALL,
    );
}
