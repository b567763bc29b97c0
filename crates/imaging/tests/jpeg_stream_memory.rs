//! Guards `JpegStream::memory_bound`: the heap the streaming JPEG decoder holds, counted by a global allocator, against its own bound.

mod common;

use common::{bench_image, peak_of, rgb, Counting};
use imaging::jpeg_stream::{JpegHeader, JpegStream, Progress};
use imaging::Orientation;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const KIB: u64 = 1024;
const MIB: f64 = 1024.0 * 1024.0;

/// Decodes `bytes` (already in memory, fed as 64 KiB chunks, as the network
/// delivers them) and returns the peak heap above what was live before, with
/// the decoder's own bound.
fn peak_while_decoding(bytes: &[u8], side: u32) -> (u64, u64) {
    let mut bound = 0;
    let (peak, pixels) = peak_of(|| {
        let mut stream = JpegStream::new();
        for chunk in bytes.chunks(64 * 1024) {
            let mut progress = stream.feed(chunk).unwrap();
            if progress == Progress::Header {
                bound = JpegStream::memory_bound(stream.header().unwrap(), side);
                stream.begin(side).unwrap();
                progress = stream.feed(&[]).unwrap();
            }
            if progress == Progress::Done {
                break;
            }
        }
        stream.finish().unwrap()
    });
    drop(pixels);
    (peak, bound)
}

/// A noisy photo-like image that compresses like a camera's (about 1.5 bytes a pixel at q90).
fn photo(width: u32, height: u32, progressive: bool) -> Vec<u8> {
    let pixels = rgb(width, height, |x, y| {
        let mut h = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77);
        h ^= h >> 15;
        let grain = (h % 24) as u8;
        [
            ((x / 31) as u8).wrapping_add(grain),
            ((y / 23) as u8).wrapping_add(grain / 2),
            (((x + y) / 40) as u8).wrapping_add(grain),
        ]
    });
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 90);
    encoder.set_progressive(progressive);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder
        .encode(
            &pixels,
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    bytes
}

/// One test in this binary: the counter sees every thread's allocations.
#[test]
fn the_streaming_decoder_never_holds_more_than_its_bound_and_not_much_less() {
    // Arrange
    let mut cases: Vec<(String, Vec<u8>)> = [
        "sunset-2mp.jpg",
        "seeding-12mp.jpg",
        "seeding-12mp-exif-rotated.jpg",
        "dragonfly-13mp-progressive.jpg",
        "kleiber-20mp.jpg",
        "kleiber-24mp.jpg",
    ]
    .iter()
    .map(|name| (name.to_string(), bench_image(name)))
    .collect();
    cases.push(("48 MP baseline 4:2:0".into(), photo(8000, 6000, false)));
    cases.push(("48 MP progressive 4:2:0".into(), photo(8000, 6000, true)));

    for (name, bytes) in &cases {
        for side in [1, 2, 4, 8] {
            // Act
            let (peak, bound) = peak_while_decoding(bytes, side);

            // Assert
            eprintln!(
                "{name} ({:.1} MiB) at {side}/8: peak {:.2} MiB, bound {:.2} MiB",
                bytes.len() as f64 / MIB,
                peak as f64 / MIB,
                bound as f64 / MIB
            );
            assert!(peak <= bound, "{name} at {side}: peak {peak} above {bound}");
            assert!(
                bound < peak + peak / 10 + 256 * KIB,
                "{name} at {side}: bound {bound} far above the peak {peak}"
            );
        }
    }
}

#[test]
fn a_100_mp_progressive_photo_needs_under_10_mib_at_one_eighth_the_scale_of_any_thumbnail_of_it() {
    // Arrange: 12000x8400 at 4:2:0, the header of a 100 MP camera's progressive JPEG.
    let header = JpegHeader {
        width: 12000,
        height: 8400,
        components: 3,
        progressive: true,
        orientation: Orientation::Normal,
        sampling: [(2, 2), (1, 1), (1, 1), (1, 1)],
        buffered: true,
    };

    // Act
    let bounds: Vec<u64> = [1, 2, 4]
        .map(|side| JpegStream::memory_bound(&header, side))
        .to_vec();

    // Assert: 1/8 is the scale of every thumbnail up to 1000 px of it (1050
    // rows). At 2/8 the RGB output, the 2x2 windows and the nonzero masks
    // take 18 MiB each, so the 30 MiB once hoped for is out of reach.
    eprintln!(
        "100 MP progressive: {:.1} MiB at 1/8, {:.1} MiB at 2/8, {:.1} MiB at 4/8",
        bounds[0] as f64 / MIB,
        bounds[1] as f64 / MIB,
        bounds[2] as f64 / MIB
    );
    assert!(bounds[0] < 10 * 1024 * KIB, "{}", bounds[0]);
    assert!(bounds[1] < 56 * 1024 * KIB, "{}", bounds[1]);
}
