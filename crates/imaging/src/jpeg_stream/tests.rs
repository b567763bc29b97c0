//! Checks the streaming decoder against jpeg-decoder's scaled output, across chunkings, colour types, samplings and corrupt input.

use super::*;
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

fn bench_image(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/bench-images")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const BENCH_JPEGS: [&str; 5] = [
    "sunset-2mp.jpg",
    "seeding-12mp.jpg",
    "seeding-12mp-exif-rotated.jpg",
    "dragonfly-13mp-progressive.jpg",
    "kleiber-20mp.jpg",
];

/// Feeds `bytes` in `chunk`-byte pieces, beginning at `side` when the header comes.
fn decode(bytes: &[u8], chunk: usize, side: u32) -> Result<Pixels, ImageError> {
    let mut stream = JpegStream::new();
    for piece in bytes.chunks(chunk) {
        let mut progress = stream.feed(piece)?;
        if progress == Progress::Header {
            stream.begin(side)?;
            progress = stream.feed(&[])?;
        }
        if progress == Progress::Done {
            break;
        }
    }
    stream.finish()
}

/// jpeg-decoder at the same scale, converted to RGB as `jpeg.rs` did before.
fn reference(bytes: &[u8], side: u32) -> (u32, u32, Vec<u8>) {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().unwrap();
    let info = decoder.info().unwrap();
    let scaled = |len: u16| (u32::from(len) * side).div_ceil(8).max(1) as u16;
    decoder
        .scale(scaled(info.width), scaled(info.height))
        .unwrap();
    let data = decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    let rgb = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => data,
        jpeg_decoder::PixelFormat::L8 => data.iter().flat_map(|&l| [l, l, l]).collect(),
        jpeg_decoder::PixelFormat::CMYK32 => data
            .chunks_exact(4)
            .flat_map(|p| {
                let k = 255 - u16::from(p[3]);
                let ch = |c: u8| ((255 - u16::from(c)) * k / 255) as u8;
                [ch(p[0]), ch(p[1]), ch(p[2])]
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    (u32::from(info.width), u32::from(info.height), rgb)
}

/// Mean absolute difference per channel and PSNR over all channels.
fn compare(ours: &Pixels, theirs: &(u32, u32, Vec<u8>)) -> ([f64; 3], f64) {
    assert_eq!((ours.width, ours.height), (theirs.0, theirs.1));
    assert_eq!(ours.data.len(), theirs.2.len());
    let mut sums = [0f64; 3];
    let mut squares = 0f64;
    for (i, (&a, &b)) in ours.data.iter().zip(&theirs.2).enumerate() {
        let d = f64::from(a) - f64::from(b);
        sums[i % 3] += d.abs();
        squares += d * d;
    }
    let pixels = (ours.data.len() / 3) as f64;
    let mse = squares / ours.data.len() as f64;
    let psnr = if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    };
    (sums.map(|s| s / pixels), psnr)
}

fn assert_close(name: &str, bytes: &[u8], side: u32) {
    let ours = decode(bytes, 64 * 1024, side).unwrap_or_else(|e| panic!("{name} 1/{side}: {e}"));
    let theirs = reference(bytes, side);
    let (mad, psnr) = compare(&ours, &theirs);
    eprintln!("{name} at {side}/8: MAD {mad:.3?}, PSNR {psnr:.1} dB");
    assert!(mad.iter().all(|&m| m < 2.0), "{name} {side}: {mad:?}");
    assert!(psnr > 35.0, "{name} {side}: {psnr}");
}

#[test]
fn bench_photos_match_jpeg_decoder_at_every_scale() {
    for name in BENCH_JPEGS {
        let bytes = bench_image(name);
        for side in [1, 2, 4, 8] {
            assert_close(name, &bytes, side);
        }
    }
}

/// A photo-like pattern: gradients, edges and some noise.
fn pattern(width: u32, height: u32) -> Vec<u8> {
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 27;
            let edge = if (x / 13 + y / 17) % 2 == 0 { 60 } else { 0 };
            pixels.extend_from_slice(&[
                ((x * 255 / width) as u8).wrapping_add(n as u8),
                ((y * 255 / height) as u8).saturating_add(edge),
                (((x + y) * 128 / (width + height)) as u8).wrapping_add(edge / 2),
            ]);
        }
    }
    pixels
}

struct Fixture {
    colour: ColorType,
    sampling: SamplingFactor,
    progressive: bool,
    restart: Option<u16>,
}

fn encode(width: u32, height: u32, f: &Fixture) -> Vec<u8> {
    let rgb = pattern(width, height);
    let data: Vec<u8> = match f.colour {
        ColorType::Luma => rgb.chunks_exact(3).map(|p| p[1]).collect(),
        ColorType::Cmyk | ColorType::CmykAsYcck => rgb
            .chunks_exact(3)
            .flat_map(|p| [255 - p[0], 255 - p[1], 255 - p[2], p[0].min(p[1]) / 2])
            .collect(),
        _ => rgb,
    };
    let mut bytes = Vec::new();
    let mut encoder = Encoder::new(&mut bytes, 90);
    encoder.set_sampling_factor(f.sampling);
    encoder.set_progressive(f.progressive);
    if let Some(interval) = f.restart {
        encoder.set_restart_interval(interval);
    }
    encoder
        .encode(&data, width as u16, height as u16, f.colour)
        .unwrap();
    bytes
}

fn fixtures() -> Vec<(&'static str, Fixture)> {
    let f = |colour, sampling, progressive, restart| Fixture {
        colour,
        sampling,
        progressive,
        restart,
    };
    vec![
        (
            "grey",
            f(ColorType::Luma, SamplingFactor::F_1_1, false, None),
        ),
        (
            "4:4:4",
            f(ColorType::Rgb, SamplingFactor::F_1_1, false, None),
        ),
        (
            "4:2:2",
            f(ColorType::Rgb, SamplingFactor::F_2_1, false, None),
        ),
        (
            "4:2:0",
            f(ColorType::Rgb, SamplingFactor::F_2_2, false, Some(3)),
        ),
        (
            "4:4:0",
            f(ColorType::Rgb, SamplingFactor::F_1_2, false, None),
        ),
        (
            "4:1:1",
            f(ColorType::Rgb, SamplingFactor::F_4_1, false, None),
        ),
        (
            "CMYK",
            f(ColorType::Cmyk, SamplingFactor::F_1_1, false, None),
        ),
        (
            "YCCK",
            f(ColorType::CmykAsYcck, SamplingFactor::F_2_2, false, None),
        ),
        (
            "progressive grey",
            f(ColorType::Luma, SamplingFactor::F_1_1, true, None),
        ),
        (
            "progressive 4:4:4",
            f(ColorType::Rgb, SamplingFactor::F_1_1, true, None),
        ),
        (
            "progressive 4:2:0 with restarts",
            f(ColorType::Rgb, SamplingFactor::F_2_2, true, Some(5)),
        ),
        (
            "progressive 4:2:2",
            f(ColorType::Rgb, SamplingFactor::F_2_1, true, None),
        ),
        (
            "progressive CMYK",
            f(ColorType::Cmyk, SamplingFactor::F_1_1, true, None),
        ),
    ]
}

#[test]
fn generated_colour_types_and_samplings_match_jpeg_decoder_at_every_scale() {
    // Odd sizes: partial MCUs on both edges.
    for (name, fixture) in fixtures() {
        let bytes = encode(301, 203, &fixture);
        for side in [1, 2, 4, 8] {
            assert_close(name, &bytes, side);
        }
    }
}

#[test]
fn output_is_identical_whatever_the_chunking() {
    let mut cases: Vec<(String, Vec<u8>)> = fixtures()
        .into_iter()
        .filter(|(_, f)| f.restart.is_some() || f.progressive)
        .map(|(name, f)| (name.to_owned(), encode(157, 93, &f)))
        .collect();
    cases.push(("sunset-2mp.jpg".into(), bench_image("sunset-2mp.jpg")));
    for (name, bytes) in &cases {
        for side in [1, 2, 8] {
            let whole = decode(bytes, bytes.len(), side).unwrap();
            for chunk in [1, 7, 4096, 1 << 20] {
                let chunked = decode(bytes, chunk, side).unwrap();
                assert!(
                    chunked == whole,
                    "{name} at {side}/8 in {chunk}-byte chunks"
                );
            }
        }
    }
}

#[test]
fn large_photos_are_identical_in_seven_byte_chunks() {
    for name in ["dragonfly-13mp-progressive.jpg", "seeding-12mp.jpg"] {
        let bytes = bench_image(name);
        let whole = decode(&bytes, bytes.len(), 2).unwrap();
        assert!(decode(&bytes, 7, 2).unwrap() == whole, "{name}");
    }
}

#[test]
fn the_header_carries_size_coding_and_exif_orientation() {
    let bytes = bench_image("seeding-12mp-exif-rotated.jpg");
    let mut stream = JpegStream::new();
    let mut progress = Progress::NeedMore;
    for piece in bytes.chunks(1000) {
        progress = stream.feed(piece).unwrap();
        if progress == Progress::Header {
            break;
        }
    }
    assert_eq!(progress, Progress::Header);
    let header = stream.header().unwrap();
    assert_eq!((header.width, header.height), (3000, 4000));
    assert_eq!(header.orientation, Orientation::Rotate90);
    assert_eq!((header.components, header.progressive), (3, false));
    assert!(!header.buffered);
}

#[test]
fn truncated_and_corrupt_files_are_refused_without_panicking() {
    let bytes = encode(64, 48, &fixtures()[10].1);
    for cut in (0..bytes.len()).step_by(7) {
        for side in [1, 8] {
            assert!(decode(&bytes[..cut], 13, side).is_err(), "cut at {cut}");
        }
    }
    // Flipped bytes anywhere: an error or an image, never a panic.
    for at in (2..bytes.len()).step_by(3) {
        let mut broken = bytes.clone();
        broken[at] ^= 0x5A;
        let _ = decode(&broken, 64, 2);
    }
}

#[test]
fn arithmetic_coding_and_twelve_bit_frames_are_unsupported() {
    let mut bytes = encode(16, 16, &fixtures()[0].1);
    let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bytes[sof + 1] = 0xC9;
    assert_eq!(decode(&bytes, 64, 8).err(), Some(ImageError::Unsupported));
    bytes[sof + 1] = 0xC1;
    bytes[sof + 4] = 12;
    assert_eq!(decode(&bytes, 64, 8).err(), Some(ImageError::Unsupported));
}
