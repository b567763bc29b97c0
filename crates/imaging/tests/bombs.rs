//! Decompression bombs aimed past the headers, at decoders that allocate from what the input says: lossless WebP Huffman groups (alone, as an ALPH plane, as an animation frame) and compressed PNG metadata; each is thumbnailed or refused within its plan.
//!
//! Every bomb is built here. The counting allocator (as in tests/peak_memory.rs)
//! measures the heap `thumbnails` allocates, which must stay within what `plan`
//! told the service to reserve, and small: these files are tiny.

mod common;
mod other_formats;

use common::*;
use imaging::{plan, thumbnails, ImageError, Limits};

const MIB: u64 = 1024 * 1024;
/// No bomb below may cost more than this, whatever its plan says.
const SMALL: u64 = 20 * MIB;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What thumbnailing a bomb did: its result, the heap peak, the plan's peak.
struct Outcome {
    result: Result<(), ImageError>,
    peak: u64,
    planned: u64,
}

/// Plans, then thumbnails at the service's upload heights under the counter.
fn thumbnail_measured(bytes: &[u8]) -> Outcome {
    let heights = [200, 400];
    let planned = plan(bytes, &heights, &Limits::default()).map_or(0, |p| p.peak_bytes);
    let (peak, result) = peak_of(|| thumbnails(bytes, &heights, &Limits::default()).map(|_| ()));
    Outcome {
        result,
        peak,
        planned,
    }
}

/// The checks every bomb must pass: within the plan, and within [`SMALL`].
fn assert_contained(name: &str, bytes: &[u8], outcome: &Outcome) {
    assert_within(name, bytes, outcome, SMALL);
}

/// Within the plan, and within `limit`.
fn assert_within(name: &str, bytes: &[u8], outcome: &Outcome, limit: u64) {
    eprintln!(
        "{name}: {} KB in, {:?}, peak {:.2} MiB, planned {:.2} MiB",
        bytes.len() / 1000,
        outcome.result,
        outcome.peak as f64 / MIB as f64,
        outcome.planned as f64 / MIB as f64
    );
    assert!(
        outcome.peak <= outcome.planned,
        "{name}: peak {} over the plan's {}",
        outcome.peak,
        outcome.planned
    );
    assert!(outcome.peak < limit, "{name}: peak {}", outcome.peak);
}

// --- VP8L bitstreams --------------------------------------------------------

/// Writes bits least significant first, as VP8L reads them.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    used: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        for i in 0..count {
            if self.used.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let last = self.bytes.len() - 1;
            self.bytes[last] |= (((value >> i) & 1) as u8) << (self.used % 8);
            self.used += 1;
        }
    }

    /// A Huffman code, its first bit the code's most significant.
    fn put_code(&mut self, (code, length): (u32, u32)) {
        for i in (0..length).rev() {
            self.put((code >> i) & 1, 1);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0; 8]); // the decoder reads ahead
        self.bytes
    }
}

/// Canonical codes (code, length) for symbol code lengths, as the decoder assigns them.
fn canonical(lengths: &[u32]) -> Vec<(u32, u32)> {
    let mut next = [0u32; 16];
    let mut code = 0;
    for (length, first) in next.iter_mut().enumerate().skip(1) {
        let count = lengths.iter().filter(|&&l| l == length as u32).count() as u32;
        *first = code;
        code = (code + count) << 1;
    }
    lengths
        .iter()
        .map(|&l| {
            let c = next[l as usize];
            next[l as usize] += 1;
            (c, l)
        })
        .collect()
}

/// Where the code-length code's lengths are read from, in bitstream order.
const CODE_LENGTH_ORDER: [usize; 19] = [
    17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
];

/// A one-symbol code: no bits per pixel.
fn simple_code(bits: &mut Bits, symbol: u32) {
    bits.put(1, 1); // simple
    bits.put(0, 1); // one symbol
    if symbol < 2 {
        bits.put(0, 1);
        bits.put(symbol, 1);
    } else {
        bits.put(1, 1);
        bits.put(symbol, 8);
    }
}

/// The costliest code to build per bit of input: symbols 0..=10 with lengths
/// 1, 2, ... 9, 10, 10, so the decoder fills a table of 1024 entries; about 12
/// bytes. Symbol 0 (a zero literal) is then the one-bit code `0`.
fn ten_bit_code(bits: &mut Bits) {
    // The code-length code: lengths 1..=6 in 3 bits, 7..=10 in 4 bits.
    let mut code_length_lengths = [0u32; 19];
    for (length, slot) in code_length_lengths.iter_mut().enumerate().take(11).skip(1) {
        *slot = if length <= 6 { 3 } else { 4 };
    }
    let code_length_codes = canonical(&code_length_lengths);
    bits.put(0, 1); // normal code
    bits.put(14 - 4, 4); // 14 code-length lengths, up to symbol 10's place
    for &symbol in &CODE_LENGTH_ORDER[..14] {
        bits.put(code_length_lengths[symbol], 3);
    }
    bits.put(1, 1); // a maximum symbol count follows
    bits.put(1, 3); // in 2 + 2 * 1 = 4 bits
    bits.put(11 - 2, 4); // 11 symbols
    for length in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10] {
        bits.put_code(code_length_codes[length]);
    }
}

/// A code giving all of the first `symbols` symbols 8 bits (symbol `s` is code `s`).
fn eight_bit_code(bits: &mut Bits, alphabet: u32, symbols: u32) {
    bits.put(0, 1); // normal code
    bits.put(12 - 4, 4); // 12 code-length lengths, up to symbol 8's place
    for &symbol in &CODE_LENGTH_ORDER[..12] {
        bits.put(u32::from(symbol == 8), 3); // only length 8 is used: a 0-bit code
    }
    if symbols == alphabet {
        bits.put(0, 1);
    } else {
        bits.put(1, 1);
        bits.put(3, 3); // in 2 + 2 * 3 = 8 bits
        bits.put(symbols - 2, 8);
    }
}

/// A VP8L image stream of `width` x `height` (after its header) whose entropy
/// image, one pixel per 4x4 block, names group `group(i)` for block `i`, with
/// `groups` groups of [`ten_bit_code`]s in the bitstream; every pixel is zero.
fn vp8l_stream(width: u32, height: u32, groups: u32, group: impl Fn(u32) -> u32) -> Bits {
    let mut bits = Bits::default();
    bits.put(0, 1); // no transform
    bits.put(0, 1); // no colour cache
    bits.put(1, 1); // an entropy image
    bits.put(0, 3); // of 4x4 blocks
    let blocks = width.div_ceil(4) * height.div_ceil(4);
    let names: Vec<u32> = (0..blocks).map(&group).collect();
    // The entropy image: no colour cache, then its five codes and its pixels,
    // the group number in red (high byte) and green (low byte).
    bits.put(0, 1);
    let one_group = names.iter().all(|&g| g == names[0]);
    if one_group {
        simple_code(&mut bits, names[0] & 0xFF);
        simple_code(&mut bits, names[0] >> 8);
    } else {
        eight_bit_code(&mut bits, 256 + 24, 256);
        eight_bit_code(&mut bits, 256, 256);
    }
    simple_code(&mut bits, 0); // blue
    simple_code(&mut bits, 0); // alpha
    simple_code(&mut bits, 0); // distance
    if !one_group {
        for &g in &names {
            bits.put_code((g & 0xFF, 8));
            bits.put_code((g >> 8, 8));
        }
    }
    // The groups, then the image: a zero literal is one bit in each of four codes.
    for _ in 0..groups * 5 {
        ten_bit_code(&mut bits);
    }
    for _ in 0..width * height * 4 {
        bits.put(0, 1);
    }
    bits
}

/// A lossless WebP whose every block names `group` of `group + 1` groups: the
/// attack's file. Upstream image-webp built every group (20 KiB each).
fn vp8l_naming_group(width: u32, height: u32, group: u32) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.put(0x2F, 8);
    bits.put(width - 1, 14);
    bits.put(height - 1, 14);
    bits.put(0, 1); // no alpha hint
    bits.put(0, 3); // version
    let stream = vp8l_stream(width, height, group + 1, |_| group);
    let mut payload = bits.finish();
    payload.truncate(5);
    payload.extend_from_slice(&stream.finish());
    riff(&chunk(b"VP8L", &payload))
}

/// A lossless WebP whose blocks name `groups` distinct groups, all used.
fn vp8l_using_groups(width: u32, height: u32, groups: u32) -> Vec<u8> {
    let mut header = Bits::default();
    header.put(0x2F, 8);
    header.put(width - 1, 14);
    header.put(height - 1, 14);
    header.put(0, 4);
    let mut payload = header.finish();
    payload.truncate(5);
    payload.extend_from_slice(&vp8l_stream(width, height, groups, |i| i % groups).finish());
    riff(&chunk(b"VP8L", &payload))
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn riff(chunks: &[u8]) -> Vec<u8> {
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&(chunks.len() as u32 + 4).to_le_bytes());
    bytes.extend_from_slice(b"WEBP");
    bytes.extend_from_slice(chunks);
    bytes
}

/// The chunks of a WebP file: (fourcc, payload).
fn webp_chunks(bytes: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let kind: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        chunks.push((kind, bytes[at + 8..at + 8 + len].to_vec()));
        at += 8 + len + (len & 1);
    }
    chunks
}

/// The fixture's lossy WebP with its ALPH plane replaced by a lossless one
/// (implicit size: no VP8L header) naming `group`.
fn lossy_with_alpha_naming_group(group: u32) -> Vec<u8> {
    let fixture = std::fs::read("tests/fixtures/life-240x160-alpha-lossy.webp").unwrap();
    let mut chunks = Vec::new();
    for (kind, payload) in webp_chunks(&fixture) {
        if &kind == b"ALPH" {
            let mut alph = vec![0x01]; // no filtering, lossless compression
            alph.extend_from_slice(&vp8l_stream(240, 160, group + 1, |_| group).finish());
            chunks.extend_from_slice(&chunk(b"ALPH", &alph));
        } else {
            chunks.extend_from_slice(&chunk(&kind, &payload));
        }
    }
    riff(&chunks)
}

/// A one-frame animation whose frame is [`vp8l_naming_group`]'s bitstream.
fn animation_naming_group(width: u32, height: u32, group: u32) -> Vec<u8> {
    let still = vp8l_naming_group(width, height, group);
    let vp8l = &still[12..];
    let mut vp8x = vec![0x02, 0, 0, 0]; // animation
    vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    let mut anmf = vec![0; 6]; // at 0, 0
    anmf.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    anmf.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    anmf.extend_from_slice(&[100, 0, 0, 0]); // 100 ms, blend, no dispose
    anmf.extend_from_slice(vp8l);
    let mut chunks = chunk(b"VP8X", &vp8x);
    chunks.extend_from_slice(&chunk(b"ANIM", &[0, 0, 0, 0, 0, 0]));
    chunks.extend_from_slice(&chunk(b"ANMF", &anmf));
    riff(&chunks)
}

#[test]
fn a_lossless_webp_naming_huffman_group_8191_is_thumbnailed_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = vp8l_naming_group(16, 16, 8191);

    let outcome = thumbnail_measured(&bytes);

    assert_eq!(outcome.result, Ok(()));
    assert_contained("VP8L, group 8191", &bytes, &outcome);
}

#[test]
fn a_lossless_webp_naming_huffman_group_65535_is_thumbnailed_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = vp8l_naming_group(16, 16, 65535);

    let outcome = thumbnail_measured(&bytes);

    assert_eq!(outcome.result, Ok(()));
    assert_contained("VP8L, group 65535", &bytes, &outcome);
}

#[test]
fn a_lossless_webp_using_too_many_huffman_groups_is_refused_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 16384 blocks, each its own group of 20 KiB of tables: 320 MiB upstream.
    // Refused when the tables pass the cap, and with every block a group of its
    // own (65536), before the first group is read.
    for (side, groups) in [(512, 16384), (1024, 65536)] {
        let bytes = vp8l_using_groups(side, side, groups);

        let outcome = thumbnail_measured(&bytes);

        let name = format!("VP8L, {side}x{side}, {groups} groups used");
        assert!(
            matches!(&outcome.result, Err(ImageError::Corrupt(why)) if why.contains("Memory limit")),
            "{name}: {:?}",
            outcome.result
        );
        assert_contained(&name, &bytes, &outcome);
    }
}

#[test]
fn a_lossy_webp_whose_alpha_plane_names_huffman_group_8191_is_thumbnailed_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = lossy_with_alpha_naming_group(8191);

    let outcome = thumbnail_measured(&bytes);

    assert_eq!(outcome.result, Ok(()));
    assert_contained("VP8 + ALPH, group 8191", &bytes, &outcome);
}

#[test]
fn an_animated_webp_whose_first_frame_names_huffman_group_8191_is_thumbnailed_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = animation_naming_group(16, 16, 8191);

    let outcome = thumbnail_measured(&bytes);

    assert_eq!(outcome.result, Ok(()));
    assert_contained("ANMF VP8L, group 8191", &bytes, &outcome);
}

#[test]
fn a_lossless_webp_encoded_by_libwebp_decodes_to_the_pixels_libwebp_decodes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // cwebp -z 9 (tests/fixtures/README.md): six Huffman groups, which the
    // patched decoder renumbers; dwebp 1.2.4 decodes it to RGB with this CRC-32.
    let bytes = std::fs::read("tests/fixtures/sunset-240x160-lossless.webp").unwrap();
    const DWEBP_RGB_CRC: u32 = 0x66f2_a3dc;

    let pixels = image::load_from_memory(&bytes).unwrap().to_rgb8();
    let outcome = thumbnail_measured(&bytes);

    assert_eq!(crc32(pixels.as_raw()), DWEBP_RGB_CRC);
    assert_eq!(outcome.result, Ok(()));
    assert_contained("libwebp lossless", &bytes, &outcome);
}

// --- PNG metadata -------------------------------------------------------------

/// A 16x16 PNG with `extra` chunks inserted after IHDR.
fn png_with(extra: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let plain = png(
        16,
        16,
        &rgb(16, 16, |x, y| [x as u8 * 16, y as u8 * 16, 99]),
        false,
    );
    let after_ihdr = 8 + 12 + 13;
    let mut bytes = plain[..after_ihdr].to_vec();
    for (kind, data) in extra {
        bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    bytes.extend_from_slice(&plain[after_ihdr..]);
    bytes
}

/// `size` zero bytes, zlib-compressed (about a thousandth of that).
fn zlib_of_zeros(size: usize) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(&vec![0; size], 10)
}

#[test]
fn png_metadata_that_inflates_to_60_mib_is_never_inflated() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inflating = zlib_of_zeros(60 * 1024 * 1024);
    let with = |prefix: &[u8]| [prefix, inflating.as_slice()].concat();
    let cases: [(&str, &[u8; 4], Vec<u8>); 3] = [
        // Profile name, NUL, compression method 0, then the zlib stream.
        ("iCCP", b"iCCP", with(b"bomb\0\0")),
        // Keyword, NUL, method 0, text.
        ("zTXt", b"zTXt", with(b"Comment\0\0")),
        // Keyword, NUL, compressed, method 0, language NUL, translated keyword NUL, text.
        ("iTXt", b"iTXt", with(b"Comment\0\x01\0\0\0")),
    ];
    for (name, kind, data) in cases {
        let bytes = png_with(&[(kind, data)]);

        let outcome = thumbnail_measured(&bytes);

        assert_eq!(outcome.result, Ok(()), "{name}");
        assert_contained(name, &bytes, &outcome);
    }
}

#[test]
fn large_uncompressed_png_metadata_is_never_buffered() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // png buffers eXIf (it cannot skip it) and tEXt whole, doubling as it reads.
    let big = vec![b'x'; 24 * 1024 * 1024];
    let text = [b"Comment\0".as_slice(), &big].concat();
    let exif = [b"MM\0*\0\0\0\x08\0\0".as_slice(), &big].concat();
    for (name, kind, data) in [("tEXt", b"tEXt", text), ("eXIf", b"eXIf", exif)] {
        let bytes = png_with(&[(kind, data)]);

        let outcome = thumbnail_measured(&bytes);

        assert_eq!(outcome.result, Ok(()), "{name}");
        assert_contained(name, &bytes, &outcome);
    }
}

// --- GIF metadata -------------------------------------------------------------

/// A 16x16 GIF with application extensions inserted before its image: the
/// `gif` crate collects XMP and ICC ones whole while it reads the header.
fn gif_with_application_extensions(extensions: &[(&[u8; 11], usize)]) -> Vec<u8> {
    let plain = other_formats::gif_indexed(16, 16, |x, y| ((x + y) % 3) as u8);
    let flags = plain[10];
    let header = 13
        + if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        };
    let mut bytes = plain[..header].to_vec();
    for &(name, size) in extensions {
        bytes.extend_from_slice(&[0x21, 0xFF, 11]);
        bytes.extend_from_slice(name);
        for start in (0..size).step_by(255) {
            let len = (size - start).min(255);
            bytes.push(len as u8);
            bytes.extend(std::iter::repeat_n(b'x', len));
        }
        bytes.push(0);
    }
    bytes.extend_from_slice(&plain[header..]);
    bytes
}

#[test]
fn gif_xmp_and_icc_extensions_are_never_collected() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let size = 24 * 1024 * 1024;
    for (name, extension) in [("XMP", b"XMP DataXMP"), ("ICC", b"ICCRGBG1012")] {
        let bytes = gif_with_application_extensions(&[(extension, size)]);

        let outcome = thumbnail_measured(&bytes);

        assert_eq!(outcome.result, Ok(()), "{name}");
        assert_contained(name, &bytes, &outcome);
    }
}

// --- VP8 partitions -----------------------------------------------------------

#[test]
fn a_lossy_webp_with_a_long_last_partition_is_thumbnailed_within_its_plan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // image-webp copies the last partition (to the end of the VP8 chunk) into
    // memory, up to four times over (formats/mod.rs, vp8_partitions): not a
    // bomb, as it grows with the input, but the plan must count it.
    let tail = 12 * 1024 * 1024;
    let fixture = std::fs::read("tests/fixtures/sunset-480x320-lossy.webp").unwrap();
    let mut chunks = Vec::new();
    for (kind, mut payload) in webp_chunks(&fixture) {
        if &kind == b"VP8 " {
            payload.resize(payload.len() + tail, 0);
        }
        chunks.extend_from_slice(&chunk(&kind, &payload));
    }
    let bytes = riff(&chunks);

    let outcome = thumbnail_measured(&bytes);

    assert_eq!(outcome.result, Ok(()));
    assert_within(
        "VP8, long partition",
        &bytes,
        &outcome,
        4 * tail as u64 + SMALL,
    );
}
