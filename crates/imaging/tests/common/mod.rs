//! Fixture builders shared by the integration tests (small synthetic JPEGs and PNGs made in memory), and the counting allocator the memory tests measure the heap with.
#![allow(dead_code)] // each test binary uses a different subset

pub mod webp_bombs;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The system allocator, counting the bytes live and their peak. A test binary that measures
/// declares it its own: `#[global_allocator] static ALLOCATOR: Counting = Counting;`.
pub struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Held by each test of a measuring binary, so no other test allocates during its measurement.
pub static SERIAL: Mutex<()> = Mutex::new(());

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

/// Runs `f` and returns the peak heap it reached above what was live before (under
/// [`Counting`]; 0 under any other allocator), with its result, still alive when measured.
pub fn peak_of<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let before = CURRENT.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let result = f();
    let peak = PEAK.load(Ordering::SeqCst).saturating_sub(before);
    (peak as u64, result)
}

pub const BENCH_IMAGES: &str = "../../../shared/bench-images";

pub fn bench_image(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(BENCH_IMAGES)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An RGB image whose pixel at (x, y) is `colour(x, y)`.
pub fn rgb(width: u32, height: u32, colour: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .flat_map(|(x, y)| colour(x, y))
        .collect()
}

/// A baseline 4:2:0 JPEG, with an EXIF APP1 carrying `orientation` when given.
pub fn jpeg(width: u32, height: u32, pixels: &[u8], orientation: Option<u16>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 95);
    if let Some(value) = orientation {
        encoder.add_app_segment(1, &exif_app1(value)).unwrap();
    }
    encoder
        .encode(
            pixels,
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    bytes
}

/// "Exif\0\0" and a big-endian TIFF block whose IFD0 holds only the orientation tag.
pub fn exif_app1(orientation: u16) -> Vec<u8> {
    let mut app1 = b"Exif\0\0MM\0*\0\0\0\x08".to_vec();
    app1.extend_from_slice(&1u16.to_be_bytes()); // one entry
    app1.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    app1.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    app1.extend_from_slice(&1u32.to_be_bytes()); // count
    app1.extend_from_slice(&orientation.to_be_bytes());
    app1.extend_from_slice(&[0, 0]); // value padding
    app1.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    app1
}

/// A PNG of 8-bit RGB or RGBA pixels.
pub fn png(width: u32, height: u32, pixels: &[u8], with_alpha: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(if with_alpha {
        png::ColorType::Rgba
    } else {
        png::ColorType::Rgb
    });
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(pixels).unwrap();
    writer.finish().unwrap();
    bytes
}

/// Decodes a thumbnail back to RGB(A) pixels and its channel count.
pub fn decode(thumbnail: &imaging::Thumbnail) -> (Vec<u8>, usize) {
    match thumbnail.format {
        imaging::Format::Jpeg => {
            let mut decoder = jpeg_decoder::Decoder::new(thumbnail.bytes.as_slice());
            (decoder.decode().unwrap(), 3)
        }
        imaging::Format::Png => {
            let decoder = png::Decoder::new(std::io::Cursor::new(thumbnail.bytes.as_slice()));
            let mut reader = decoder.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            buf.truncate(info.buffer_size());
            (buf, info.color_type.samples())
        }
        other => panic!("thumbnails are JPEG or PNG, not {other:?}"),
    }
}

/// The CRC-32 of PNG chunks, for hand-made headers.
pub fn crc32(bytes: &[u8]) -> u32 {
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

/// Appends one PNG chunk: length, type, data, CRC.
pub fn png_chunk(bytes: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
    bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// xorshift64*: small and seedable, so a failing case names a seed that replays it.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Adam7 passes: first column, first row, column step, row step.
pub const ADAM7: [(u32, u32, u32, u32); 7] = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
];

/// An 8-bit RGBA PNG of `pixel`, every scanline Sub-filtered, Adam7-interlaced or not (png's
/// encoder writes no Adam7).
pub fn rgba_png_sub_filtered(
    width: u32,
    height: u32,
    interlaced: bool,
    pixel: impl Fn(u32, u32) -> [u8; 4],
) -> Vec<u8> {
    let passes: &[(u32, u32, u32, u32)] = if interlaced { &ADAM7 } else { &[(0, 0, 1, 1)] };
    let mut raw = Vec::new();
    for &(x0, y0, dx, dy) in passes {
        if x0 >= width {
            continue; // an empty pass has no scanlines
        }
        for y in (y0..height).step_by(dy as usize) {
            raw.push(1);
            let mut left = [0u8; 4];
            for x in (x0..width).step_by(dx as usize) {
                let p = pixel(x, y);
                raw.extend((0..4).map(|i| p[i].wrapping_sub(left[i])));
                left = p;
            }
        }
    }
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, u8::from(interlaced)]);
    png_chunk(&mut bytes, b"IHDR", &ihdr);
    png_chunk(
        &mut bytes,
        b"IDAT",
        &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6),
    );
    png_chunk(&mut bytes, b"IEND", &[]);
    bytes
}

/// A tiny, well-formed PNG that declares `width` x `height` and holds one empty IDAT.
pub fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    png_chunk(&mut bytes, b"IHDR", &ihdr);
    png_chunk(
        &mut bytes,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut bytes, b"IEND", &[]);
    bytes
}

/// What driving a [`imaging::Thumbnailer`] gave: its result, every byte it asked to reserve,
/// and whether it kept the input (once every byte was fed).
pub struct Streamed {
    pub result: Result<(imaging::Probe, Vec<imaging::Thumbnail>), imaging::ImageError>,
    pub reserved: u64,
    pub keeps_input: bool,
}

/// Thumbnails `bytes` through a [`imaging::Thumbnailer`] as the service does: in pieces of
/// the sizes `next_piece` gives, every reservation granted (and summed), the rest of a piece
/// fed again after a grant, then `end` and `finish`.
pub fn thumbnail_streamed(
    bytes: &[u8],
    heights: &[u32],
    mut next_piece: impl FnMut() -> usize,
) -> Streamed {
    use imaging::{Limits, Step, Thumbnailer};
    let mut thumbnailer = Thumbnailer::new(heights, Limits::default(), bytes.len() as u64);
    let mut reserved = 0;
    let mut keeps_input = true;
    let mut run = || {
        let mut at = 0;
        while at < bytes.len() {
            let end = (at + next_piece().max(1)).min(bytes.len());
            let mut data = &bytes[at..end];
            while let Step::Reserve {
                consumed,
                bytes: more,
            } = thumbnailer.feed(data)?
            {
                reserved += more;
                thumbnailer.grant()?;
                data = &data[consumed.min(data.len())..];
            }
            at = end;
        }
        keeps_input = thumbnailer.keeps_input();
        while let Step::Reserve { bytes: more, .. } = thumbnailer.end()? {
            reserved += more;
            thumbnailer.grant()?;
        }
        thumbnailer.finish()
    };
    let result = run();
    Streamed {
        result,
        reserved,
        keeps_input,
    }
}
