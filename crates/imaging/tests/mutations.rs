//! Damaged uploads of every format: seeded random mutations of small valid images never panic, and never make `thumbnails` allocate more than its plan said.
//!
//! Issue 17's property at the imaging level: whatever the bytes, when `plan`
//! accepts them the service reserves input + `peak_bytes`, so the measured heap
//! (the counting allocator of tests/peak_memory.rs) must stay within that.
//! Mutations are bit flips, bytes inserted or deleted, a four-byte field (a
//! length, a size, a count) overwritten, and a range repeated. The seeds are
//! fixed, so a failure names a case that can be replayed.

mod common;
mod other_formats;

use common::*;
use imaging::{plan, thumbnails, Limits};
use other_formats::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One to four mutations of `original`.
fn mutate(original: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len());
        match rng.below(5) {
            0 => {
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(bytes.len());
                    bytes[i] ^= 1 << rng.below(8);
                }
            }
            1 => {
                let n = 1 + rng.below(16);
                let insert: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                bytes.splice(at..at, insert);
            }
            2 => {
                let end = (at + 1 + rng.below(16)).min(bytes.len());
                bytes.drain(at..end);
            }
            3 => {
                // A length or size field: small, large, or anything.
                let value: u32 = match rng.below(3) {
                    0 => rng.below(256) as u32,
                    1 => 0xFFFF_FFFF >> rng.below(24),
                    _ => rng.next() as u32,
                };
                let end = (at + 4).min(bytes.len());
                let b = if rng.below(2) == 0 {
                    value.to_be_bytes()
                } else {
                    value.to_le_bytes()
                };
                bytes[at..end].copy_from_slice(&b[..end - at]);
            }
            _ => {
                let end = (at + 1 + rng.below(64)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
        }
        if bytes.is_empty() {
            bytes.push(0);
        }
    }
    bytes
}

/// Mutates each seed image `cases` times; returns the failures (panics, or
/// peaks over input + plan), each with its seed image and case number.
fn run(seeds: &[(&str, Vec<u8>)], cases: usize) -> Vec<String> {
    let heights = [200, 400];
    let limits = Limits::default();
    let mut failures = Vec::new();
    let (mut accepted, mut made) = (0, 0);
    for (name, original) in seeds {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ original.len() as u64);
        for case in 0..cases {
            let bytes = mutate(original, &mut rng);
            let Ok(planned) = plan(&bytes, &heights, &limits) else {
                continue;
            };
            accepted += 1;
            let (peak, result) = peak_of(|| {
                catch_unwind(AssertUnwindSafe(|| thumbnails(&bytes, &heights, &limits)))
            });
            let reserved = bytes.len() as u64 + planned.peak_bytes;
            match result {
                Err(_) => failures.push(format!("{name} case {case}: panicked")),
                Ok(_) if peak > reserved => failures.push(format!(
                    "{name} case {case}: peak {peak} over input + plan {reserved}"
                )),
                Ok(result) => made += usize::from(result.is_ok()),
            }
        }
    }
    eprintln!(
        "{} seeds x {cases}: {accepted} accepted by plan, {made} thumbnailed, {} failures",
        seeds.len(),
        failures.len()
    );
    failures
}

fn photo_like(w: u32, h: u32) -> Vec<u8> {
    rgb(w, h, |x, y| {
        [
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x * 7 + y * 13) % 256) as u8,
        ]
    })
}

fn with_alpha(pixels: &[u8]) -> Vec<u8> {
    pixels
        .chunks_exact(3)
        .enumerate()
        .flat_map(|(i, p)| [p[0], p[1], p[2], (i * 5 % 256) as u8])
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("tests/fixtures/{name}")).unwrap()
}

fn assert_none(failures: Vec<String>) {
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn mutated_webps_stay_within_their_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pixels = photo_like(48, 32);
    let seeds = [
        ("sunset lossy", fixture("sunset-480x320-lossy.webp")),
        (
            "life lossy + alpha",
            fixture("life-240x160-alpha-lossy.webp"),
        ),
        (
            "seeding lossy + EXIF",
            fixture("seeding-240x320-exif6-lossy.webp"),
        ),
        ("sunset lossless", fixture("sunset-240x160-lossless.webp")),
        ("lossless", webp_lossless(48, 32, &pixels, false)),
        (
            "lossless + alpha",
            webp_lossless(48, 32, &with_alpha(&pixels), true),
        ),
    ];
    assert_none(run(&seeds, 600));
}

#[test]
fn mutated_pngs_stay_within_their_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pixels = photo_like(64, 48);
    let seeds = [
        ("png rgb", png(64, 48, &pixels, false)),
        ("png rgba", png(64, 48, &with_alpha(&pixels), true)),
    ];
    assert_none(run(&seeds, 1500));
}

/// `png` with the CRC of every chunk it can walk recomputed.
fn with_crcs_repaired(mut png: Vec<u8>) -> Vec<u8> {
    let mut at = 8;
    while let Some(len) = png.get(at..at + 4) {
        let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        let end = at + 8 + len;
        if end + 4 > png.len() {
            break;
        }
        let crc = crc32(&png[at + 4..end]);
        png[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
    png
}

/// Slack for what the Thumbnailer allocates before its first reservation can be asked for
/// (its list of heights, the sniffed bytes): the service's fixed window covers it.
const THUMBNAILER_SLACK: u64 = 4 * 1024;

#[test]
fn mutated_pngs_streamed_stay_within_what_the_thumbnailer_reserved() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pixels = photo_like(64, 48);
    let seeds = [
        ("png rgb", png(64, 48, &pixels, false)),
        ("png rgba", png(64, 48, &with_alpha(&pixels), true)),
    ];
    let mut failures = Vec::new();
    let mut made = 0;
    for (name, original) in &seeds {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ original.len() as u64);
        for case in 0..1500 {
            let mutated = mutate(original, &mut rng);
            // Every other case with its CRCs made right again, so the damage reaches the
            // decoder (IHDR's fields, PLTE, the filters, the deflate stream).
            let bytes = if case % 2 == 1 {
                with_crcs_repaired(mutated)
            } else {
                mutated
            };
            let piece = 1 + case % 200;

            let (peak, outcome) = peak_of(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    thumbnail_streamed(&bytes, &[200, 400], || piece)
                }))
            });

            match outcome {
                Err(_) => failures.push(format!("{name} case {case}: panicked")),
                Ok(s) if peak > s.reserved + THUMBNAILER_SLACK => failures.push(format!(
                    "{name} case {case}: peak {peak} over the {} reserved",
                    s.reserved
                )),
                Ok(s) => made += usize::from(s.result.is_ok()),
            }
        }
    }
    eprintln!("streamed: {made} thumbnailed, {} failures", failures.len());
    assert!(made > 0);
    assert_none(failures);
}

#[test]
fn mutated_gifs_bmps_and_tiffs_stay_within_their_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pixels = photo_like(40, 30);
    let seeds = [
        (
            "gif",
            gif_indexed(40, 30, |x, y| ((x / 3 + y / 5) % 4) as u8),
        ),
        ("bmp 24", bmp(40, 30, &pixels, false)),
        ("bmp 32", bmp(40, 30, &with_alpha(&pixels), true)),
        (
            "tiff lzw",
            tiff::<::tiff::encoder::colortype::RGB8>(40, 30, &pixels, true, None),
        ),
    ];
    assert_none(run(&seeds, 800));
}

#[test]
fn mutated_jpegs_stay_within_their_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pixels = photo_like(64, 48);
    let seeds = [
        ("jpeg", jpeg(64, 48, &pixels, None)),
        ("jpeg exif 6", jpeg(64, 48, &pixels, Some(6))),
    ];
    assert_none(run(&seeds, 1500));
}
