//! Times the streaming JPEG decoder against jpeg-decoder at the same DCT scale on the bench photos (ignored; run with --release).

mod common;

use common::bench_image;
use imaging::jpeg_stream::{JpegStream, Progress};
use std::time::{Duration, Instant};

fn ours(bytes: &[u8], side: u32) -> usize {
    let mut stream = JpegStream::new();
    for chunk in bytes.chunks(64 * 1024) {
        let mut progress = stream.feed(chunk).unwrap();
        if progress == Progress::Header {
            stream.begin(side).unwrap();
            progress = stream.feed(&[]).unwrap();
        }
        if progress == Progress::Done {
            break;
        }
    }
    stream.finish().unwrap().data.len()
}

fn theirs(bytes: &[u8], side: u32) -> usize {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().unwrap();
    let info = decoder.info().unwrap();
    let scaled = |len: u16| (u32::from(len) * side).div_ceil(8).max(1) as u16;
    decoder
        .scale(scaled(info.width), scaled(info.height))
        .unwrap();
    decoder.decode().unwrap().len()
}

/// The best of three runs: the machine is shared.
fn best(f: impl Fn() -> usize) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

#[test]
#[ignore = "a measurement, not a check: cargo test --release -p imaging --test jpeg_stream_speed -- --ignored --nocapture"]
fn decoding_times_against_jpeg_decoder() {
    // JPEG_SPEED_FILES (paths, colon-separated) replaces the bench photos, e.g. with the
    // camera-sized files bench/big-photos.mjs makes.
    let files: Vec<(String, Vec<u8>)> = match std::env::var("JPEG_SPEED_FILES") {
        Ok(paths) => paths
            .split(':')
            .map(|path| (path.to_owned(), std::fs::read(path).unwrap()))
            .collect(),
        Err(_) => [
            "seeding-12mp.jpg",
            "dragonfly-13mp-progressive.jpg",
            "kleiber-20mp.jpg",
            "kleiber-24mp.jpg",
        ]
        .map(|name| (name.to_owned(), bench_image(name)))
        .to_vec(),
    };
    for (name, bytes) in &files {
        // JPEG_SPEED_SIDES (e.g. "1,8") limits the scales timed.
        let sides: Vec<u32> = std::env::var("JPEG_SPEED_SIDES")
            .map(|sides| sides.split(',').map(|s| s.parse().unwrap()).collect())
            .unwrap_or_else(|_| vec![1, 2, 8]);
        for &side in &sides {
            let (a, b) = (best(|| ours(bytes, side)), best(|| theirs(bytes, side)));
            eprintln!(
                "{name} at {side}/8: jpeg_stream {:.0} ms, jpeg-decoder {:.0} ms ({:.2}x)",
                a.as_secs_f64() * 1e3,
                b.as_secs_f64() * 1e3,
                b.as_secs_f64() / a.as_secs_f64()
            );
        }
    }
}
