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
    for name in [
        "seeding-12mp.jpg",
        "dragonfly-13mp-progressive.jpg",
        "kleiber-20mp.jpg",
        "kleiber-24mp.jpg",
    ] {
        let bytes = bench_image(name);
        for side in [1, 2, 8] {
            let (a, b) = (best(|| ours(&bytes, side)), best(|| theirs(&bytes, side)));
            eprintln!(
                "{name} at {side}/8: jpeg_stream {:.0} ms, jpeg-decoder {:.0} ms ({:.2}x)",
                a.as_secs_f64() * 1e3,
                b.as_secs_f64() * 1e3,
                b.as_secs_f64() / a.as_secs_f64()
            );
        }
    }
}
