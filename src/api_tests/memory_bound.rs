//! The isolate's memory budget is a bound: for every input, the heap an upload really allocates
//! (counted by a global allocator, per thread) never exceeds what it reserved from the budget
//! first: neither at its peak nor at any allocation while it holds a reservation. Run over every fixture, the bombs, large images of each kind and a generated corpus
//! of mutations, through the whole upload path (form parser, imaging, object writes).

use super::*;
use crate::memory::Budget;
use std::alloc::{GlobalAlloc, Layout, System};
use std::rc::Rc;

/// Counts the live heap of the current thread, and its peak since the last reset.
struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    /// The budget of the upload being measured (null between uploads), the live heap when it
    /// started, and the most the heap has since stood above what was reserved at that moment.
    /// Peaks alone can hide an escape: a decode that reserved nothing still fits under the larger
    /// reservation the writes make after it.
    static WATCHED: Cell<*const Budget> = const { Cell::new(std::ptr::null()) };
    static START: Cell<i64> = const { Cell::new(0) };
    static OVER: Cell<i64> = const { Cell::new(0) };
}

fn counted(delta: i64) {
    // `try_with`: a thread being torn down has no counters left, and needs none.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        if delta > 0 {
            over_reserved(now);
        }
    });
}

/// While an upload holds a reservation, how far the heap it allocated stands above it now.
fn over_reserved(now: i64) {
    let budget = WATCHED.with(Cell::get);
    if budget.is_null() {
        return;
    }
    // SAFETY: `Harness::upload` sets the pointer from the `Rc` its app holds for as long as
    // the request runs, and clears it before that; reading a `Cell` allocates nothing.
    let reserved = unsafe { (*budget).reserved() } as i64;
    if reserved > 0 {
        let over = now - START.with(Cell::get) - reserved;
        OVER.with(|o| o.set(o.get().max(over)));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted(layout.size() as i64);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        counted(-(layout.size() as i64));
        System.dealloc(ptr, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted(layout.size() as i64);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // While it moves, both blocks exist.
        counted(new_size as i64);
        counted(-(layout.size() as i64));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What one upload allocated at its peak, above what was live when it started, and what it
/// had reserved at most; and the most its heap stood above its reservation at any allocation.
struct Measured {
    status: u16,
    allocated: u64,
    reserved: u64,
    over_at_once: u64,
}

struct Harness {
    app: TestApp,
    token: String,
}

impl Harness {
    /// An app whose fake R2 keeps no bytes (a kept copy would count as the request's), with a
    /// Premium user (two thumbnails and the original).
    fn new() -> Self {
        let app = TestApp::new();
        app.app.blobs.discard_bytes.set(true);
        let token = app.user("measured", "Premium", false);
        Self { app, token }
    }

    fn upload(&self, image: &[u8]) -> Measured {
        let body: Rc<[u8]> = multipart_body(&[
            ("name", FormValue::Text("Measured".into())),
            ("img", file(image.to_vec())),
        ])
        .into();
        let request = Request::new(Method::Post, "/api/pictures")
            .with_header("authorization", &format!("Bearer {}", self.token))
            .with_header(
                "content-type",
                &format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .with_header("content-length", &body.len().to_string())
            .with_shared_bytes(Rc::clone(&body));
        self.app.app.isolate.budget.reset_peak();
        // The request's log lines are kept per request: printed, they would pile up in the
        // test harness's own output buffer, whose growth is not the request's.
        let lines = crate::observability::logs::capture::start();
        let start = LIVE.with(Cell::get);
        PEAK.with(|peak| peak.set(start));
        START.with(|s| s.set(start));
        OVER.with(|o| o.set(0));
        WATCHED.with(|w| w.set(Rc::as_ptr(&self.app.app.isolate.budget)));
        let response = self.app.send(request);
        WATCHED.with(|w| w.set(std::ptr::null()));
        let allocated = (PEAK.with(Cell::get) - start).max(0) as u64;
        let status = response.status;
        drop(response);
        drop(lines);
        Measured {
            status,
            allocated,
            reserved: self.app.app.isolate.budget.peak(),
            over_at_once: OVER.with(Cell::get).max(0) as u64,
        }
    }

    /// Uploads `image` and checks the bound; returns the status.
    fn check(&self, label: &str, image: &[u8]) -> u16 {
        let measured = self.upload(image);
        assert_ne!(measured.status, 500, "{label}: a 500");
        assert_eq!(
            measured.escaped(),
            None,
            "{label}: allocated {} bytes, reserved {}, {} above the reservation at once (status {})",
            measured.allocated,
            measured.reserved,
            measured.over_at_once,
            measured.status
        );
        measured.status
    }
}

impl Measured {
    /// The bound's verdict: the most bytes allocated past the reservation, at the peaks or at
    /// once, if any.
    fn escaped(&self) -> Option<u64> {
        Some(
            self.allocated
                .saturating_sub(self.reserved)
                .max(self.over_at_once),
        )
        .filter(|&over| over > 0)
    }
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/imaging/tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

/// A PNG whose iCCP profile inflates to `inflated` bytes: a decoder that keeps profiles whole
/// allocates them from a file of a few KB.
fn png_with_icc_bomb(inflated: usize) -> Vec<u8> {
    let mut png = png(16, 16, 255);
    let profile = miniz_oxide::deflate::compress_to_vec_zlib(&vec![0u8; inflated], 9);
    let mut data = b"bomb\0\0".to_vec();
    data.extend_from_slice(&profile);
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"iCCP");
    chunk.extend_from_slice(&data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    // After IHDR (8 signature + 25 IHDR bytes).
    png.splice(33..33, chunk);
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Seeded mutations of `base`: flipped bits, overwritten, inserted, deleted and repeated runs,
/// truncation. Deterministic, so a failure names a case that can be run again.
fn mutate(base: &[u8], seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut bytes = base.to_vec();
    for _ in 0..1 + next() % 4 {
        if bytes.is_empty() {
            break;
        }
        let at = (next() % bytes.len() as u64) as usize;
        let run = (1 + next() % 64) as usize;
        match next() % 6 {
            0 => bytes[at] ^= 1 << (next() % 8),
            1 => {
                let end = (at + run).min(bytes.len());
                for b in &mut bytes[at..end] {
                    *b = next() as u8;
                }
            }
            2 => {
                let insert: Vec<u8> = (0..run).map(|_| next() as u8).collect();
                bytes.splice(at..at, insert);
            }
            3 => {
                let end = (at + run).min(bytes.len());
                bytes.drain(at..end);
            }
            4 => {
                let end = (at + run).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
            _ => bytes.truncate(at.max(1)),
        }
    }
    bytes
}

#[test]
fn every_fixture_allocates_no_more_than_its_upload_reserved() {
    let harness = Harness::new();
    for (name, bytes) in fixtures() {
        harness.check(&name, &bytes);
    }
}

#[test]
fn bombs_allocate_no_more_than_their_upload_reserved() {
    let harness = Harness::new();
    let icc = png_with_icc_bomb(60 * 1024 * 1024);
    harness.check("PNG with a 60 MiB iCCP profile", &icc);
    let status = harness.check("a 20 MB PNG of noise", &noise_png_20_mb());
    assert_eq!(status, 201);
}

#[test]
fn a_streamed_png_larger_than_a_buffered_format_may_be_allocates_no_more_than_it_reserved() {
    let harness = Harness::new();
    let image = noise_png(4200);
    assert!(image.len() as u64 > imaging::BUFFERED_MAX_BYTES);

    let measured = harness.upload(&image);

    assert_eq!(measured.status, 201);
    assert_eq!(measured.escaped(), None);
    // The file is never held: what the upload allocated is far below its size.
    assert!(
        measured.allocated < image.len() as u64 / 3,
        "{} bytes for a file of {}",
        measured.allocated,
        image.len()
    );
}

/// A 2600 x 2600 RGB PNG stored without compression: 20.3 MB, as large as its pixels.
fn noise_png_20_mb() -> Vec<u8> {
    noise_png(2600)
}

/// Sets what the service leaves ungranted of each reservation the imaging pipeline asks for,
/// until dropped (then everything is granted again).
struct Ungranted;

impl Ungranted {
    fn set(share: fn(u64) -> u64) -> Self {
        crate::media::upload::UNGRANTED.with(|f| f.set(share));
        Self
    }
}

impl Drop for Ungranted {
    fn drop(&mut self) {
        crate::media::upload::UNGRANTED.with(|f| f.set(|_| 0));
    }
}

#[test]
fn the_bound_notices_every_upload_whose_decoder_reserved_nothing() {
    let harness = Harness::new();
    let mut images: Vec<_> = fixtures()
        .into_iter()
        .filter(|(name, _)| !name.ends_with(".md"))
        .collect();
    images.push(("a 20 MB PNG of noise".into(), noise_png_20_mb()));
    let _ungranted = Ungranted::set(|asked| asked);

    for (name, bytes) in &images {
        let measured = harness.upload(bytes);

        eprintln!(
            "{name}: allocated {} bytes, reserved {} without the decoder's share, {} above it at once",
            measured.allocated, measured.reserved, measured.over_at_once
        );
        assert_eq!(measured.status, 201, "{name}");
        assert!(
            measured.escaped().is_some(),
            "{name}: allocated {} bytes with only {} reserved, and the bound did not notice",
            measured.allocated,
            measured.reserved
        );
    }
}

#[test]
fn a_generated_corpus_of_mutations_allocates_no_more_than_was_reserved() {
    let harness = Harness::new();
    let bases: Vec<(String, Vec<u8>)> = fixtures()
        .into_iter()
        .filter(|(_, bytes)| bytes.len() <= 256 * 1024)
        .collect();
    assert!(!bases.is_empty());
    let cases: u64 = std::env::var("MEMORY_BOUND_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let mut accepted = 0;
    let only: Option<u64> = std::env::var("MEMORY_BOUND_SEED")
        .ok()
        .and_then(|v| v.parse().ok());
    for seed in 0..cases {
        if only.is_some_and(|only| only != seed) {
            continue;
        }
        let (name, base) = &bases[(seed as usize) % bases.len()];
        let mutated = mutate(base, seed);
        if harness.check(&format!("{name} mutated with seed {seed}"), &mutated) == 201 {
            accepted += 1;
        }
    }
    // The corpus must reach the decoders, not only the signature check.
    assert!(
        only.is_some() || accepted > cases / 20,
        "only {accepted} of {cases} accepted"
    );
}
