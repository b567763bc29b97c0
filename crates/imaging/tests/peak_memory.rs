//! Guards the memory budget: peak heap while thumbnailing the largest accepted images, counted by a global allocator.
//!
//! Native heap use stands in for wasm linear memory here (same code, same
//! buffers); bench/run-imaging measures the real wasm figure. Nothing is timed.

mod common;

use common::*;
use imaging::{thumbnails, ImageError, Limits, MAX_THUMBNAIL_HEIGHT};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// What the isolate can give us: 128 MB less the runtime and the Worker's own needs.
const BUDGET: usize = 96 * 1024 * 1024;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap above what was live before, and whether the thumbnails were made.
fn peak_while_thumbnailing(bytes: &[u8], heights: &[u32]) -> (usize, Result<(), ImageError>) {
    let before = CURRENT.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let result = thumbnails(bytes, heights, &Limits::default()).map(|_| ());
    (PEAK.load(Ordering::SeqCst) - before, result)
}

/// The largest 3:2 image the default limits accept.
fn max_size() -> (u32, u32) {
    let side = ((Limits::default().max_pixels / 6) as f64).sqrt() as u32;
    (3 * side, 2 * side)
}

fn max_pixel_progressive_jpeg() -> Vec<u8> {
    let (w, h) = max_size();
    let pixels = rgb(w, h, |x, y| {
        [(x / 7) as u8, (y / 5) as u8, ((x ^ y) & 0xFF) as u8]
    });
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 90);
    encoder.set_progressive(true);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder
        .encode(&pixels, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    bytes
}

/// A wide baseline panorama just taller than the tallest thumbnail: a 2000 px
/// thumbnail of it needs a full-scale decode and an almost 1:1 resize.
fn baseline_panorama_jpeg() -> Vec<u8> {
    let (w, h) = (7000, 2050);
    let pixels = rgb(w, h, |x, y| {
        [(x / 7) as u8, (y / 5) as u8, ((x ^ y) & 0xFF) as u8]
    });
    jpeg(w, h, &pixels, None)
}

fn max_pixel_rgba_png() -> Vec<u8> {
    let (w, h) = max_size();
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, w, h);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        let mut stream = writer.stream_writer().unwrap();
        let mut row = vec![0u8; w as usize * 4];
        for y in 0..h {
            for (x, p) in row.chunks_exact_mut(4).enumerate() {
                p.copy_from_slice(&[
                    (x / 7) as u8,
                    (y / 5) as u8,
                    (x as u32 ^ y) as u8,
                    (x % 256) as u8,
                ]);
            }
            std::io::Write::write_all(&mut stream, &row).unwrap();
        }
        stream.finish().unwrap();
    }
    bytes
}

#[test]
fn peak_heap_stays_within_the_isolate_budget_for_the_largest_accepted_images() {
    // Arrange: the inputs themselves live in the isolate too, so they count.
    let cases = [
        ("kleiber-24mp.jpg", bench_image("kleiber-24mp.jpg")),
        (
            "dragonfly-13mp-progressive.jpg",
            bench_image("dragonfly-13mp-progressive.jpg"),
        ),
        ("life-6mp-alpha.png", bench_image("life-6mp-alpha.png")),
        ("max-pixels progressive JPEG", max_pixel_progressive_jpeg()),
        ("max-pixels RGBA PNG", max_pixel_rgba_png()),
        ("7000x2050 baseline JPEG", baseline_panorama_jpeg()),
    ];

    for (name, bytes) in &cases {
        // Act
        let (peak, result) = peak_while_thumbnailing(bytes, &[200, 400]);
        let (tall_peak, tall_result) = peak_while_thumbnailing(bytes, &[MAX_THUMBNAIL_HEIGHT]);

        // Assert: the usual heights always work; the tallest may be refused up
        // front (TooManyPixels), but never runs over the budget.
        let input = bytes.len();
        eprintln!(
            "{name}: input {} MiB, peak heap {} MiB at 200+400 px, {} MiB at {MAX_THUMBNAIL_HEIGHT} px ({:?})",
            input >> 20,
            peak >> 20,
            tall_peak >> 20,
            tall_result
        );
        assert_eq!(result, Ok(()), "{name}");
        assert!(
            peak + input < BUDGET,
            "{name}: {} MiB",
            (peak + input) >> 20
        );
        assert!(
            matches!(tall_result, Ok(()) | Err(ImageError::TooManyPixels { .. })),
            "{name}: {tall_result:?}"
        );
        assert!(
            tall_peak + input < BUDGET,
            "{name} at {MAX_THUMBNAIL_HEIGHT} px: {} MiB",
            (tall_peak + input) >> 20
        );
    }
}
