//! Fixture builders for WebP, GIF, BMP and TIFF uploads, made in memory with the `image`, `gif` and `tiff` encoders.
#![allow(dead_code)] // each test binary uses a different subset

use image::ImageEncoder;
use imaging::ImageError;
use std::io::Cursor;

/// A lossless WebP of 8-bit RGB (`alpha` false) or RGBA pixels.
pub fn webp_lossless(width: u32, height: u32, pixels: &[u8], alpha: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    let colour = if alpha {
        image::ExtendedColorType::Rgba8
    } else {
        image::ExtendedColorType::Rgb8
    };
    image::codecs::webp::WebPEncoder::new_lossless(&mut bytes)
        .write_image(pixels, width, height, colour)
        .unwrap();
    bytes
}

/// Wraps a simple-format WebP (one VP8 or VP8L chunk) in VP8X with an EXIF chunk
/// carrying `orientation`, as phones write it.
pub fn webp_with_exif(simple: &[u8], width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let exif = &crate::common::exif_app1(orientation)[6..]; // without "Exif\0\0"
    let mut body = b"WEBP".to_vec();
    body.extend_from_slice(b"VP8X");
    body.extend_from_slice(&10u32.to_le_bytes());
    body.extend_from_slice(&[0x08, 0, 0, 0]); // EXIF flag
    body.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    body.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    body.extend_from_slice(b"EXIF");
    body.extend_from_slice(&(exif.len() as u32).to_le_bytes());
    body.extend_from_slice(exif);
    if exif.len() % 2 == 1 {
        body.push(0);
    }
    body.extend_from_slice(&simple[12..]); // the image chunk, header and all
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// A GIF whose frames are each filled with one palette index (0 red, 1 green,
/// 2 blue, 3 transparent), each covering the whole screen.
pub fn gif(width: u16, height: u16, frame_colours: &[u8]) -> Vec<u8> {
    let palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0];
    let mut bytes = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut bytes, width, height, &palette).unwrap();
        encoder.set_repeat(gif::Repeat::Infinite).unwrap();
        for &index in frame_colours {
            let mut frame = gif::Frame {
                width,
                height,
                transparent: Some(3),
                ..gif::Frame::default()
            };
            frame.buffer = vec![index; usize::from(width) * usize::from(height)].into();
            encoder.write_frame(&frame).unwrap();
        }
    }
    bytes
}

/// A GIF of one frame whose index at (x, y) is `index(x, y)` (palette and
/// transparent index 3 as in [`gif`]).
pub fn gif_indexed(width: u16, height: u16, index: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    let palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0];
    let mut bytes = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut bytes, width, height, &palette).unwrap();
        let mut frame = gif::Frame {
            width,
            height,
            transparent: Some(3),
            ..gif::Frame::default()
        };
        frame.buffer = (0..u32::from(height))
            .flat_map(|y| (0..u32::from(width)).map(move |x| (x, y)))
            .map(|(x, y)| index(x, y))
            .collect::<Vec<_>>()
            .into();
        encoder.write_frame(&frame).unwrap();
    }
    bytes
}

/// A BMP of 8-bit RGB (24 bits a pixel) or RGBA (32) pixels.
pub fn bmp(width: u32, height: u32, pixels: &[u8], alpha: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    let colour = if alpha {
        image::ExtendedColorType::Rgba8
    } else {
        image::ExtendedColorType::Rgb8
    };
    image::codecs::bmp::BmpEncoder::new(&mut bytes)
        .write_image(pixels, width, height, colour)
        .unwrap();
    bytes
}

/// A strip TIFF of the given colour type, LZW-compressed when `lzw`, with an
/// orientation tag when given.
pub fn tiff<C>(
    width: u32,
    height: u32,
    samples: &[C::Inner],
    lzw: bool,
    orientation: Option<u16>,
) -> Vec<u8>
where
    C: tiff::encoder::colortype::ColorType,
    [C::Inner]: tiff::encoder::TiffValue,
{
    let mut cursor = Cursor::new(Vec::new());
    {
        let compression = if lzw {
            tiff::encoder::Compression::Lzw
        } else {
            tiff::encoder::Compression::Uncompressed
        };
        let mut encoder = tiff::encoder::TiffEncoder::new(&mut cursor)
            .unwrap()
            .with_compression(compression);
        let mut image = encoder.new_image::<C>(width, height).unwrap();
        if let Some(value) = orientation {
            image
                .encoder()
                .write_tag(tiff::tags::Tag::Orientation, value)
                .unwrap();
        }
        image.write_data(samples).unwrap();
    }
    cursor.into_inner()
}

/// A little-endian TIFF whose first IFD holds `entries` (tag, type, count, value).
pub fn tiff_declaring(entries: &[(u16, u16, u32, u32)]) -> Vec<u8> {
    let mut bytes = b"II*\0\x08\0\0\0".to_vec();
    bytes.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for &(tag, kind, count, value) in entries {
        bytes.extend_from_slice(&tag.to_le_bytes());
        bytes.extend_from_slice(&kind.to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&[0; 64]); // room for the declared strip
    bytes
}

/// An 8-bit RGB TIFF directory: size, one strip of `strip_len` bytes at offset 8, and `extra` entries.
pub fn rgb_tiff(width: u32, height: u32, strips: u32, strip_len: u32, compression: u32) -> Vec<u8> {
    tiff_declaring(&[
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, compression),
        (262, 3, 1, 2),
        (273, 4, strips, 8),
        (277, 3, 1, 3),
        (278, 4, 1, height),
        (279, 4, strips, strip_len),
    ])
}

pub fn riff(chunks: &[u8]) -> Vec<u8> {
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&(chunks.len() as u32 + 4).to_le_bytes());
    bytes.extend_from_slice(b"WEBP");
    bytes.extend_from_slice(chunks);
    bytes
}

pub fn vp8l_chunk(width: u32, height: u32) -> Vec<u8> {
    let bits = (width - 1) | (height - 1) << 14;
    let mut chunk = b"VP8L\x05\0\0\0\x2F".to_vec();
    chunk.extend_from_slice(&bits.to_le_bytes());
    chunk.push(0);
    chunk
}

pub fn vp8x_chunk(width: u32, height: u32, flags: u8) -> Vec<u8> {
    let mut chunk = b"VP8X\x0A\0\0\0".to_vec();
    chunk.extend_from_slice(&[flags, 0, 0, 0]);
    chunk.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    chunk.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    chunk
}

pub fn bmp_declaring(width: i32, height: i32, bits: u16) -> Vec<u8> {
    let mut bytes = b"BM".to_vec();
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&54u32.to_le_bytes());
    bytes.extend_from_slice(&40u32.to_le_bytes());
    bytes.extend_from_slice(&width.to_le_bytes());
    bytes.extend_from_slice(&height.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&bits.to_le_bytes());
    bytes.extend_from_slice(&[0; 24]);
    bytes
}

pub fn gif_declaring(screen: (u16, u16), frame: (u16, u16)) -> Vec<u8> {
    let mut bytes = b"GIF89a".to_vec();
    bytes.extend_from_slice(&screen.0.to_le_bytes());
    bytes.extend_from_slice(&screen.1.to_le_bytes());
    bytes.extend_from_slice(&[0, 0, 0]); // no global palette
    bytes.extend_from_slice(&[0x2C, 0, 0, 0, 0]);
    bytes.extend_from_slice(&frame.0.to_le_bytes());
    bytes.extend_from_slice(&frame.1.to_le_bytes());
    bytes.extend_from_slice(&[0, 2, 2, 0x44, 0x01, 0, 0x3B]);
    bytes
}

/// Tiny files that declare huge or inconsistent images, and the refusal each gets.
/// A bomb's name, its bytes, and which refusal it must get.
pub type Bomb = (&'static str, Vec<u8>, fn(&ImageError) -> bool);

pub fn bombs() -> Vec<Bomb> {
    fn too_many(e: &ImageError) -> bool {
        matches!(e, ImageError::TooManyPixels { .. })
    }
    fn corrupt(e: &ImageError) -> bool {
        matches!(e, ImageError::Corrupt(_))
    }
    fn unsupported(e: &ImageError) -> bool {
        matches!(e, ImageError::Unsupported)
    }
    let mut vp8 = b"VP8 \x0A\0\0\0\x00\0\0\x9D\x01\x2A".to_vec();
    vp8.extend_from_slice(&[0xFF, 0x3F, 0xFF, 0x3F]); // 16383 x 16383
    let mut hidden = vp8x_chunk(1, 1, 0);
    hidden.extend_from_slice(&vp8l_chunk(16384, 16384));
    // An 8192x8192 animation whose first frame is a full-canvas lossless bitstream.
    let mut animation = vp8x_chunk(8192, 8192, 0x02);
    let frame = vp8l_chunk(8192, 8192);
    animation.extend_from_slice(b"ANMF");
    animation.extend_from_slice(&(16 + frame.len() as u32).to_le_bytes());
    animation.extend_from_slice(&[0; 6]);
    animation.extend_from_slice(&8191u32.to_le_bytes()[..3]);
    animation.extend_from_slice(&8191u32.to_le_bytes()[..3]);
    animation.extend_from_slice(&[0; 4]);
    animation.extend_from_slice(&frame);
    vec![
        (
            "WebP VP8L 16384x16384",
            riff(&vp8l_chunk(16384, 16384)),
            too_many,
        ),
        ("WebP VP8 16383x16383", riff(&vp8), too_many),
        (
            "WebP VP8X canvas 2^24 x 2^24 without a bitstream",
            riff(&vp8x_chunk(1 << 24, 1 << 24, 0)),
            corrupt,
        ),
        (
            "WebP 1x1 canvas hiding a 16384x16384 bitstream",
            riff(&hidden),
            corrupt,
        ),
        ("WebP animation 8192x8192", riff(&animation), too_many),
        (
            "GIF 65535x65535",
            gif_declaring((65535, 65535), (1, 1)),
            too_many,
        ),
        (
            "GIF 1x1 screen, 65535x65535 first frame",
            gif_declaring((1, 1), (65535, 65535)),
            too_many,
        ),
        (
            "BMP 50000x50000",
            bmp_declaring(50_000, 50_000, 24),
            too_many,
        ),
        ("BMP 2^31-1 wide", bmp_declaring(i32::MAX, 1, 24), too_many),
        ("BMP negative width", bmp_declaring(-5, 5, 24), corrupt),
        (
            "TIFF 100000x100000",
            rgb_tiff(100_000, 100_000, 1, 16, 1),
            too_many,
        ),
        (
            "TIFF with 2^32-1 strips",
            rgb_tiff(100, 100, u32::MAX, 16, 1),
            corrupt,
        ),
        (
            "TIFF strip count not matching its height",
            rgb_tiff(100, 100, 7, 16, 1),
            corrupt,
        ),
        (
            "TIFF strip of 4 GB",
            rgb_tiff(100, 100, 1, u32::MAX, 1),
            corrupt,
        ),
        (
            "TIFF JPEG 2000 compression",
            rgb_tiff(100, 100, 1, 16, 34712),
            unsupported,
        ),
        (
            "TIFF unknown compression",
            rgb_tiff(100, 100, 1, 16, 65000),
            unsupported,
        ),
    ]
}

/// A "VP8 " chunk header declaring a lossy key frame of `width` x `height` (no frame data).
pub fn vp8_chunk(width: u32, height: u32) -> Vec<u8> {
    let mut chunk = b"VP8 \x0A\0\0\0\x00\0\0\x9D\x01\x2A".to_vec();
    chunk.extend_from_slice(&(width as u16).to_le_bytes());
    chunk.extend_from_slice(&(height as u16).to_le_bytes());
    chunk
}

/// A header-only lossy WebP with an ALPH chunk, as the extended format writes it.
pub fn webp_lossy_alpha_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut chunks = vp8x_chunk(width, height, 0x10);
    chunks.extend_from_slice(b"ALPH\x02\0\0\0\0\0");
    chunks.extend_from_slice(&vp8_chunk(width, height));
    riff(&chunks)
}

/// A header-only animated WebP whose first frame covers the canvas.
pub fn webp_animation_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut chunks = vp8x_chunk(width, height, 0x02);
    let frame = vp8_chunk(width, height);
    chunks.extend_from_slice(b"ANMF");
    chunks.extend_from_slice(&(16 + frame.len() as u32).to_le_bytes());
    chunks.extend_from_slice(&[0; 6]);
    chunks.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    chunks.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    chunks.extend_from_slice(&[0; 4]);
    chunks.extend_from_slice(&frame);
    riff(&chunks)
}

/// A header-only strip TIFF laid out as the `tiff` encoder writes it (about 1 MB a
/// strip): `photometric` 1 grey or 2 RGB, the last sample alpha when `alpha`.
pub fn tiff_declaring_image(
    w: u32,
    h: u32,
    photometric: u32,
    samples: u16,
    bits: u16,
    alpha: bool,
) -> Vec<u8> {
    let row = u64::from(w) * u64::from(samples) * u64::from(bits / 8);
    let rows_per_strip = 1_000_000u64.div_ceil(row).min(u64::from(h)) as u32;
    let strips = h.div_ceil(rows_per_strip);
    let mut entries = vec![
        (256, 4, 1, w),
        (257, 4, 1, h),
        (258, 3, 1, u32::from(bits)),
        (259, 3, 1, 5),
        (262, 3, 1, photometric),
        (273, 4, strips, 0), // the offsets and sizes arrays follow the directory
        (277, 3, 1, u32::from(samples)),
        (278, 4, 1, rows_per_strip),
        (279, 4, strips, 0),
    ];
    if alpha {
        entries.push((338, 3, 1, 2));
    }
    let arrays = 8 + 2 + 12 * entries.len() as u32 + 4;
    for entry in entries.iter_mut() {
        let offsets = entry.0 == 273;
        if offsets || entry.0 == 279 {
            // One strip: its offset and size inline; else where the arrays are.
            entry.3 = match (strips, offsets) {
                (1, true) => 8,
                (1, false) => 0,
                (_, true) => arrays,
                (_, false) => arrays + 4 * strips,
            };
        }
    }
    let mut bytes = tiff_declaring(&entries);
    bytes.truncate(arrays as usize);
    for i in 0..2 * strips {
        let value: u32 = if i < strips { 8 } else { 0 }; // empty strips at offset 8
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    bytes
}
