//! Guards the memory of a streamed PNG, counted by a global allocator: a 70 MB file holds what a 0.3 MB one of the same size holds, never more than the Thumbnailer asked to reserve, and metadata bombs cost nothing.

mod common;

use common::*;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: u64 = 1024 * 1024;
/// What the service reads from the network at a time.
const PIECE: usize = 64 * 1024;

/// A `side` x `side` RGB PNG: noise stored without compression (as large as its pixels),
/// or a smooth gradient that deflates to almost nothing.
fn rgb_png(side: u32, noise: bool) -> Vec<u8> {
    let mut raw = Vec::with_capacity((side as usize * 3 + 1) * side as usize);
    let mut state = 0x2545_f491_u32;
    for y in 0..side {
        raw.push(0);
        for x in 0..side {
            for c in 0..3 {
                raw.push(if noise {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                } else {
                    ((x + y + c * 50) / 16) as u8
                });
            }
        }
    }
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&raw, if noise { 0 } else { 6 });
    drop(raw);
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = side.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut bytes, b"IHDR", &ihdr);
    for part in zlib.chunks(8 * 1024 * 1024) {
        png_chunk(&mut bytes, b"IDAT", part);
    }
    png_chunk(&mut bytes, b"IEND", &[]);
    bytes
}

/// Streams `bytes` in 64 KiB pieces: the peak heap above what was live before, and what was reserved.
fn peak_streaming(name: &str, bytes: &[u8], heights: &[u32]) -> (u64, u64) {
    let (peak, streamed) = peak_of(|| thumbnail_streamed(bytes, heights, || PIECE));
    assert!(streamed.result.is_ok(), "{name}: {:?}", streamed.result);
    eprintln!(
        "{name} {heights:?}: file {:.1} MiB, peak heap {:.2} MiB, reserved {:.2} MiB",
        bytes.len() as f64 / MIB as f64,
        peak as f64 / MIB as f64,
        streamed.reserved as f64 / MIB as f64
    );
    assert!(
        peak <= streamed.reserved,
        "{name} {heights:?}: peak {peak} above the {} reserved",
        streamed.reserved
    );
    (peak, streamed.reserved)
}

#[test]
fn a_streamed_png_holds_the_same_memory_whatever_its_file_size_and_no_more_than_it_reserved() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 4800 x 4800 (23 MP): 69 MB stored, more than a format decoded from one buffer may be.
    let big = rgb_png(4800, true);
    let small = rgb_png(4800, false);
    assert!(big.len() as u64 > 60_000_000 && (big.len() as u64) < 100_000_000);
    assert!((small.len() as u64) < MIB);

    for heights in [&[200, 400][..], &[1000]] {
        let (big_peak, _) = peak_streaming("69 MB of noise", &big, heights);
        let (small_peak, _) = peak_streaming("the same size deflated", &small, heights);

        // Only the thumbnails' encoded bytes differ (noise encodes larger).
        assert!(
            big_peak.abs_diff(small_peak) < 3 * MIB,
            "{heights:?}: {big_peak} vs {small_peak}"
        );
        if heights.len() == 2 {
            assert!(
                big_peak < big.len() as u64 / 3,
                "{big_peak} for a file of {}",
                big.len()
            );
        }
    }
}

#[test]
fn the_bench_png_streamed_holds_its_decode_and_not_its_file() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = bench_image("life-6mp-alpha.png");
    let (streamed, _) = peak_streaming("life-6mp-alpha.png", &bytes, &[200, 400]);
    let (whole, _) =
        peak_of(|| imaging::thumbnails(&bytes, &[200, 400], &imaging::Limits::default()));

    // The file held whole is the caller's (counted before), so both decode the same way.
    eprintln!(
        "life-6mp-alpha.png: streamed {:.2} MiB, from the whole file {:.2} MiB + the file {:.1} MiB",
        streamed as f64 / MIB as f64,
        whole as f64 / MIB as f64,
        bytes.len() as f64 / MIB as f64
    );
    assert!(streamed < whole + MIB, "{streamed} vs {whole}");
}

/// A 16x16 PNG with one more chunk after IHDR.
fn png_with(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let plain = png(
        16,
        16,
        &rgb(16, 16, |x, y| [x as u8 * 16, y as u8 * 16, 99]),
        false,
    );
    let mut bytes = plain[..33].to_vec();
    bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&crc32(&body).to_be_bytes());
    bytes.extend_from_slice(&plain[33..]);
    bytes
}

#[test]
fn metadata_bombs_streamed_by_cost_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inflating = miniz_oxide::deflate::compress_to_vec_zlib(&vec![0; 60 * 1024 * 1024], 10);
    let big = vec![b'x'; 24 * 1024 * 1024];
    let cases = [
        (
            "iCCP of 60 MiB inflated",
            png_with(b"iCCP", &[b"bomb\0\0".as_slice(), &inflating].concat()),
        ),
        (
            "zTXt of 60 MiB inflated",
            png_with(b"zTXt", &[b"Comment\0\0".as_slice(), &inflating].concat()),
        ),
        (
            "tEXt of 24 MiB",
            png_with(b"tEXt", &[b"Comment\0".as_slice(), &big].concat()),
        ),
        (
            "eXIf of 24 MiB",
            png_with(b"eXIf", &[b"MM\0*\0\0\0\x08\0\0".as_slice(), &big].concat()),
        ),
    ];
    for (name, bytes) in cases {
        let (peak, _) = peak_streaming(name, &bytes, &[200, 400]);

        assert!(peak < MIB / 2, "{name}: {peak}");
    }
}
