//! Guards the memory budget: peak heap while thumbnailing the largest accepted images, counted by a global allocator.
//!
//! Native heap use stands in for wasm linear memory here (same code, same
//! buffers); bench/run-imaging measures the real wasm figure. Nothing is timed.

mod common;

use common::*;
use imaging::{plan, thumbnails, ImageError, Limits, Plan, MAX_THUMBNAIL_HEIGHT};

/// What the isolate can give us: 128 MB less the runtime and the Worker's own needs.
const BUDGET: usize = 96 * 1024 * 1024;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap above what was live before, whether the thumbnails were made, and the plan.
fn peak_while_thumbnailing(
    bytes: &[u8],
    heights: &[u32],
) -> (usize, Result<(), ImageError>, Result<Plan, ImageError>) {
    let planned = plan(bytes, heights, &Limits::default());
    let (peak, result) = peak_of(|| thumbnails(bytes, heights, &Limits::default()).map(|_| ()));
    (peak as usize, result, planned)
}

/// The pixel limit these cases were sized by (the README's figures): 25 MP, the largest
/// upload before issue 18; the default limit is larger now (`imaging::DEFAULT_MAX_PIXELS`).
const SIZED_BY_MAX_PIXELS: u64 = 25_000_000;

/// The largest 3:2 image a 25 MP limit accepts.
fn max_size() -> (u32, u32) {
    let side = ((SIZED_BY_MAX_PIXELS / 6) as f64).sqrt() as u32;
    (3 * side, 2 * side)
}

/// A cheap hash of a pixel position, for noise that does not compress.
fn noise(x: u32, y: u32) -> u32 {
    let mut h = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^ (h >> 12)
}

/// The case: a 25 MP progressive 4:2:0 photo of about 13 MB, the
/// largest the budget admits with a 1000 px thumbnail.
fn max_pixel_progressive_jpeg() -> Vec<u8> {
    let (w, h) = max_size();
    let pixels = rgb(w, h, |x, y| {
        let n = noise(x, y);
        let grain = |shift: u32| (((n >> shift) & 0xFF) % 44) as u8;
        [
            ((x / 7) as u8).wrapping_add(grain(0)),
            ((y / 5) as u8).wrapping_add(grain(8)),
            (((x ^ y) & 0xFF) as u8).wrapping_add(grain(16)),
        ]
    });
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 88);
    encoder.set_progressive(true);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder
        .encode(&pixels, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    bytes
}

/// A wide baseline panorama: a 1000 px thumbnail of it needs a full-scale
/// decode, more than the budget, so the upload itself is refused. (The
/// streaming decoder holds only the RGB output at full scale, so this is
/// wider than the 9000x1900 jpeg-decoder's planes and copies overflowed.)
fn baseline_panorama_jpeg() -> Vec<u8> {
    let (w, h) = (16000, 1500);
    let pixels = rgb(w, h, |x, y| {
        [(x / 7) as u8, (y / 5) as u8, ((x ^ y) & 0xFF) as u8]
    });
    jpeg(w, h, &pixels, None)
}

/// The largest RGBA PNG the limits accept, with noise in its alpha so that it
/// stays translucent and weighs about what the service's 20 MiB upload limit allows.
fn max_pixel_rgba_png(interlaced: bool) -> Vec<u8> {
    let (w, h) = max_size();
    let pixel = |x: u32, y: u32| {
        [
            (x / 7) as u8,
            (y / 5) as u8,
            (x ^ y) as u8,
            0xF0 | (noise(x, y) & 0x0F) as u8,
        ]
    };
    rgba_png_sub_filtered(w, h, interlaced, pixel)
}

const MIB: usize = 1024 * 1024;

/// One test in this binary: the counter sees every thread's allocations.
#[test]
fn peak_heap_stays_within_the_isolate_budget_and_under_the_plan_for_the_largest_accepted_images() {
    // Arrange: the inputs themselves live in the isolate too, so they count.
    let cases = [
        ("kleiber-24mp.jpg", bench_image("kleiber-24mp.jpg")),
        (
            "seeding-12mp-exif-rotated.jpg",
            bench_image("seeding-12mp-exif-rotated.jpg"),
        ),
        (
            "dragonfly-13mp-progressive.jpg",
            bench_image("dragonfly-13mp-progressive.jpg"),
        ),
        ("life-6mp-alpha.png", bench_image("life-6mp-alpha.png")),
        ("max-pixels progressive JPEG", max_pixel_progressive_jpeg()),
        ("max-pixels RGBA PNG", max_pixel_rgba_png(false)),
        ("max-pixels interlaced RGBA PNG", max_pixel_rgba_png(true)),
    ];
    let every_height: Vec<u32> = (1..=10).map(|i| i * MAX_THUMBNAIL_HEIGHT / 10).collect();

    for (name, bytes) in &cases {
        for heights in [&[200, 400][..], &[MAX_THUMBNAIL_HEIGHT], &every_height] {
            // Act
            let (peak, result, planned) = peak_while_thumbnailing(bytes, heights);

            // Assert: every height up to the maximum is made within the budget,
            // and the plan bounds the peak from above, not absurdly.
            let input = bytes.len();
            let planned = planned
                .unwrap_or_else(|e| panic!("{name} {heights:?}, {} bytes: {e}", bytes.len()));
            let predicted = planned.peak_bytes as usize;
            eprintln!(
                "{name} {heights:?}: input {:.1} MiB, peak heap {:.1} MiB, planned {:.1} MiB",
                input as f64 / MIB as f64,
                peak as f64 / MIB as f64,
                predicted as f64 / MIB as f64,
            );
            assert_eq!(result, Ok(()), "{name} {heights:?}");
            assert!(
                peak + input < BUDGET,
                "{name} {heights:?}: {} MiB",
                (peak + input) >> 20
            );
            assert!(
                peak <= predicted,
                "{name} {heights:?}: peak {peak} above the plan's {predicted}"
            );
            assert!(
                predicted <= 2 * peak + 4 * MIB,
                "{name} {heights:?}: plan {predicted} far above the peak {peak}"
            );
        }
    }

    // A wide panorama: 200 px alone would fit, but a 1000 px thumbnail would need
    // a full-scale decode, so the upload itself is refused, having allocated
    // next to nothing.
    let panorama = baseline_panorama_jpeg();
    let (peak, result, planned) = peak_while_thumbnailing(&panorama, &[200]);
    assert!(
        matches!(result, Err(ImageError::TooMuchMemory { needed, budget }) if needed > budget),
        "{result:?}"
    );
    assert_eq!(planned.map(|_| ()), result);
    assert!(peak < MIB, "{peak}");
}
