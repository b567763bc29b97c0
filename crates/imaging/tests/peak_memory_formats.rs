//! Guards the memory budget for WebP, GIF, BMP and TIFF: the largest image of each coding the crate accepts is thumbnailed within 96 MiB, under `formats::peak_bytes`, and bombs are refused without allocating.
//!
//! A sibling of tests/peak_memory.rs with its own counting allocator: the count
//! is process-wide, so these cases run one after another in one binary of their
//! own rather than beside the PNG/JPEG test. Nothing is timed.

mod common;
mod other_formats;

use common::*;
use imaging::{formats, probe, thumbnails, ImageError, Limits};
use other_formats::*;
use tiff::encoder::colortype;

/// What the isolate can give us: 128 MB less the runtime and the Worker's own needs.
const BUDGET: u64 = 96 * 1024 * 1024;
/// What `thumbnails` allows input + predicted peak to reach (formats::WORKING_BUDGET).
const WORKING_BUDGET: u64 = 88 * 1024 * 1024;
/// The heights the service asks for: the two tiers on upload, the tallest on demand.
const HEIGHT_SETS: [&[u32]; 2] = [&[200, 400], &[1000]];

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap above what was live before, and whether the thumbnails were made.
fn peak_while_thumbnailing(bytes: &[u8], heights: &[u32]) -> (u64, Result<(), ImageError>) {
    peak_of(|| thumbnails(bytes, heights, &Limits::default()).map(|_| ()))
}

/// One coding: a header-only file declaring w x h (cheap, to find the largest size
/// the crate accepts), the real file, and the real file's length when the pixel
/// count decides it (uncompressed), else 0.
struct Case {
    name: &'static str,
    header: fn(u32, u32) -> Vec<u8>,
    build: fn(u32, u32) -> Vec<u8>,
    length: fn(u32, u32) -> u64,
}

fn pattern(w: u32, h: u32) -> Vec<u8> {
    rgb(w, h, |x, y| {
        [(x / 7) as u8, (y / 5) as u8, ((x ^ y) & 0xFF) as u8]
    })
}

fn pattern_rgba(w: u32, h: u32) -> Vec<u8> {
    pattern(w, h)
        .chunks_exact(3)
        .enumerate()
        .flat_map(|(i, p)| [p[0], p[1], p[2], (i % 251) as u8])
        .collect()
}

fn vp8l_with_alpha(w: u32, h: u32) -> Vec<u8> {
    let mut chunk = vp8l_chunk(w, h);
    chunk[12] |= 0x10; // the alpha hint, bit 28 of the size word
    riff(&chunk)
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "lossless WebP, opaque",
            header: |w, h| riff(&vp8l_chunk(w, h)),
            build: |w, h| webp_lossless(w, h, &pattern(w, h), false),
            length: |_, _| 0,
        },
        Case {
            name: "lossless WebP, translucent",
            header: vp8l_with_alpha,
            build: |w, h| webp_lossless(w, h, &pattern_rgba(w, h), true),
            length: |_, _| 0,
        },
        Case {
            name: "GIF",
            header: |w, h| gif_declaring((w as u16, h as u16), (w as u16, h as u16)),
            build: |w, h| gif_indexed(w as u16, h as u16, |x, y| ((x / 64 + y / 64) % 4) as u8),
            length: |_, _| 0,
        },
        Case {
            name: "BMP 24-bit",
            header: |w, h| bmp_declaring(w as i32, h as i32, 24),
            build: |w, h| bmp(w, h, &pattern(w, h), false),
            length: |w, h| 54 + u64::from((3 * w).next_multiple_of(4)) * u64::from(h),
        },
        Case {
            name: "BMP 32-bit, translucent",
            header: |w, h| bmp_declaring(w as i32, h as i32, 32),
            build: |w, h| bmp(w, h, &pattern_rgba(w, h), true),
            length: |w, h| 138 + 4 * u64::from(w) * u64::from(h),
        },
        Case {
            name: "TIFF RGB 8-bit LZW",
            header: |w, h| tiff_declaring_image(w, h, 2, 3, 8, false),
            build: |w, h| tiff::<colortype::RGB8>(w, h, &pattern(w, h), true, None),
            length: |_, _| 0,
        },
        Case {
            name: "TIFF RGBA 16-bit, uncompressed",
            header: |w, h| tiff_declaring_image(w, h, 2, 4, 16, true),
            build: |w, h| {
                let wide: Vec<u16> = pattern_rgba(w, h)
                    .iter()
                    .map(|&v| u16::from(v) * 257)
                    .collect();
                tiff::<colortype::RGBA16>(w, h, &wide, false, None)
            },
            length: |w, h| 8 * u64::from(w) * u64::from(h),
        },
    ]
}

/// Whether a 3:2 image of this side is accepted by `probe` and predicted to fit
/// for every height set, with an input of `input_per_pixel` bytes a pixel (for
/// compressed codings, as measured on a first encoding) or its known length.
fn accepted(case: &Case, side: u32, input_per_pixel: f64) -> bool {
    let (w, h) = (3 * side, 2 * side);
    let header = (case.header)(w, h);
    if probe(&header, &Limits::default()).is_err() {
        return false;
    }
    let pixels = f64::from(w) * f64::from(h);
    let input = (case.length)(w, h).max((pixels * input_per_pixel) as u64);
    HEIGHT_SETS.iter().all(|heights| {
        formats::peak_bytes(&header, heights).is_some_and(|peak| input + peak <= WORKING_BUDGET)
    })
}

/// The largest accepted side, by binary search.
fn largest_side(case: &Case, input_per_pixel: f64) -> u32 {
    let (mut lo, mut hi) = (1, 5000); // 15000 px: within WebP's 16384
    assert!(
        accepted(case, lo, input_per_pixel) && !accepted(case, hi, input_per_pixel),
        "{}",
        case.name
    );
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if accepted(case, mid, input_per_pixel) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[test]
fn the_largest_accepted_image_of_each_coding_fits_at_every_thumbnail_height() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for case in cases() {
        // Arrange: the largest 3:2 size accepted (binary search on the header
        // alone), then again with the input size the encoder really produces.
        let side = largest_side(&case, 0.0);
        let first = (case.build)(3 * side, 2 * side);
        let per_pixel = first.len() as f64 / (6.0 * f64::from(side) * f64::from(side));
        let side = largest_side(&case, per_pixel * 1.05);
        drop(first);
        let (w, h) = (3 * side, 2 * side);
        let bytes = (case.build)(w, h);
        let input = bytes.len() as u64;

        for heights in HEIGHT_SETS {
            // Act
            let (peak, result) = peak_while_thumbnailing(&bytes, heights);

            // Assert: made, within the prediction, and within the isolate with the input.
            let predicted = formats::peak_bytes(&bytes, heights).unwrap();
            eprintln!(
                "{}: {w}x{h} ({:.1} MP), input {:.1} MiB, {heights:?} px: peak heap {:.1} MiB, predicted {:.1} MiB, with input {:.1} MiB",
                case.name,
                f64::from(w) * f64::from(h) / 1e6,
                input as f64 / 1048576.0,
                peak as f64 / 1048576.0,
                predicted as f64 / 1048576.0,
                (input + peak) as f64 / 1048576.0,
            );
            assert_eq!(result, Ok(()), "{} at {heights:?}", case.name);
            assert!(
                peak <= predicted,
                "{} at {heights:?}: {peak} > {predicted}",
                case.name
            );
            assert!(input + peak < BUDGET, "{} at {heights:?}", case.name);
        }
    }
}

#[test]
fn bombs_are_refused_without_allocating() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (name, bytes, expected) in bombs() {
        // Act
        let (peak, result) = peak_while_thumbnailing(&bytes, &[200, 400]);

        // Assert: refused as expected, having allocated next to nothing.
        let error = result.expect_err(name);
        assert!(expected(&error), "{name}: {error:?}");
        assert!(peak < 64 * 1024, "{name}: {peak} bytes allocated");
    }
}
