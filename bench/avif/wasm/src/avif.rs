//! AVIF thumbnails, measured and not shipped: re-encodes pixels or one of the imaging crate's JPEG/PNG thumbnails with ravif.
//!
//! ravif drives rav1e, a pure-Rust AV1 encoder, so this builds for
//! wasm32-unknown-unknown unchanged (no assembly, and no threads: ravif runs
//! colour and alpha one after the other there). The input is a thumbnail, never
//! an original: an AVIF is made on demand from what the service already stored,
//! which keeps the encoder's working memory proportional to the thumbnail and
//! leaves the original's decode (and every input format) to `thumbnails`.
//! bench/avif/README.md has the figures that chose the settings below.

use imaging::ImageError;
use ravif::{Img, RGB8, RGBA8};
use rgb::FromSlice;

/// The largest thumbnail (width x height) encoded: rav1e's working memory grows
/// with the frame, and the service asks for at most 2000 px tall thumbnails.
pub const AVIF_MAX_PIXELS: u64 = 4_000_000;

/// ravif's quality (1..=100) and speed (1 slowest ..= 10 fastest), checked on
/// construction so the encoder's range assertions can never fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvifSettings {
    quality: u8,
    speed: u8,
}

impl AvifSettings {
    /// `None` when `quality` is outside 1..=100 or `speed` outside 1..=10.
    pub fn new(quality: u8, speed: u8) -> Option<AvifSettings> {
        ((1..=100).contains(&quality) && (1..=10).contains(&speed))
            .then_some(AvifSettings { quality, speed })
    }
}

impl Default for AvifSettings {
    /// Quality 86, speed 8: the lowest quality whose AVIF keeps SSIM >= 0.98
    /// against sharp's AVIF of the same fidelity as our JPEG, on every bench
    /// photo (bench/avif/README.md). Speed 9 and 10 are faster but fall short.
    fn default() -> Self {
        AvifSettings {
            quality: 86,
            speed: 8,
        }
    }
}

/// One AVIF thumbnail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvifThumbnail {
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// Encodes interleaved 8-bit RGB (`channels` 3) or unassociated RGBA
/// (`channels` 4) pixels, rows top to bottom. An RGBA image whose alpha is all
/// 255 is stored without an alpha plane.
pub fn encode_avif(
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: usize,
    settings: AvifSettings,
) -> Result<Vec<u8>, ImageError> {
    let count = u64::from(width) * u64::from(height);
    if count == 0 || count > AVIF_MAX_PIXELS {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            max: AVIF_MAX_PIXELS,
        });
    }
    if !matches!(channels, 3 | 4) || pixels.len() as u64 != count * channels as u64 {
        return Err(ImageError::Corrupt(format!(
            "{} bytes are not {width}x{height} pixels of {channels} channels",
            pixels.len()
        )));
    }
    let (w, h) = (width as usize, height as usize);
    let encoder = ravif::Encoder::new()
        .with_quality(f32::from(settings.quality))
        .with_alpha_quality(f32::from(settings.quality))
        .with_speed(settings.speed)
        // Browsers decode 8-bit AV1 faster, and 10 bits buy nothing for 8-bit thumbnails.
        .with_bit_depth(ravif::BitDepth::Eight)
        // Without threads there is no pool to ask (wasm has none; natively it would spin one up).
        .with_num_threads(Some(1));
    let encoded = if channels == 4 {
        let rgba: &[RGBA8] = pixels.as_rgba();
        encoder.encode_rgba(Img::new(rgba, w, h))
    } else {
        let rgb: &[RGB8] = pixels.as_rgb();
        encoder.encode_rgb(Img::new(rgb, w, h))
    };
    encoded
        .map(|image| image.avif_file)
        .map_err(|e| ImageError::Corrupt(format!("cannot encode AVIF: {e}")))
}

/// Re-encodes one of our own thumbnails (the JPEG or PNG `thumbnails` made,
/// told apart by signature) as AVIF at the same size.
pub fn avif_from_thumbnail(
    thumbnail: &[u8],
    settings: AvifSettings,
) -> Result<AvifThumbnail, ImageError> {
    let decoded = decode_thumbnail(thumbnail)?;
    let bytes = encode_avif(
        &decoded.data,
        decoded.width,
        decoded.height,
        decoded.channels,
        settings,
    )?;
    Ok(AvifThumbnail {
        width: decoded.width,
        height: decoded.height,
        bytes,
    })
}

struct Decoded {
    width: u32,
    height: u32,
    channels: usize,
    data: Vec<u8>,
}

/// Full-size decode: a thumbnail is small, and its size is checked against
/// [`AVIF_MAX_PIXELS`] from the header before any pixel buffer exists.
fn decode_thumbnail(bytes: &[u8]) -> Result<Decoded, ImageError> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        decode_png(bytes)
    } else {
        Err(ImageError::Unsupported)
    }
}

fn check_size(width: u32, height: u32) -> Result<(), ImageError> {
    if u64::from(width) * u64::from(height) > AVIF_MAX_PIXELS {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            max: AVIF_MAX_PIXELS,
        });
    }
    Ok(())
}

fn decode_jpeg(bytes: &[u8]) -> Result<Decoded, ImageError> {
    use imaging::jpeg_stream::{JpegStream, Progress};
    let mut stream = JpegStream::new();
    if stream.feed(bytes)? != Progress::Header {
        return Err(ImageError::Corrupt(
            "thumbnail JPEG truncated before its first scan".into(),
        ));
    }
    let header = stream
        .header()
        .ok_or_else(|| ImageError::Corrupt("thumbnail JPEG without a frame".into()))?;
    check_size(header.width, header.height)?;
    stream.begin(8)?;
    stream.feed(&[])?;
    let pixels = stream.finish()?;
    Ok(Decoded {
        width: pixels.width,
        height: pixels.height,
        channels: 3,
        data: pixels.data,
    })
}

fn decode_png(bytes: &[u8]) -> Result<Decoded, ImageError> {
    let corrupt = |e: png::DecodingError| ImageError::Corrupt(format!("thumbnail PNG: {e}"));
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    // Palette and tRNS become RGB(A), 16-bit samples 8-bit: the encoder takes 8-bit RGB(A).
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let (width, height) = (reader.info().width, reader.info().height);
    check_size(width, height)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| ImageError::Corrupt("thumbnail PNG too large".into()))?;
    let mut data = vec![0; size];
    let frame = reader.next_frame(&mut data).map_err(corrupt)?;
    data.truncate(frame.buffer_size());
    let (data, channels) = match frame.color_type {
        png::ColorType::Rgb => (data, 3),
        png::ColorType::Rgba => (data, 4),
        png::ColorType::Grayscale => (data.iter().flat_map(|&l| [l, l, l]).collect(), 3),
        png::ColorType::GrayscaleAlpha => (
            data.chunks_exact(2)
                .flat_map(|la| [la[0], la[0], la[0], la[1]])
                .collect(),
            4,
        ),
        // EXPAND turns palettes into RGB(A), so this is never reached.
        png::ColorType::Indexed => return Err(ImageError::Unsupported),
    };
    Ok(Decoded {
        width,
        height,
        channels,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ISO BMFF `ftyp` box an AVIF file opens with: size, "ftyp", brand "avif".
    fn is_avif(bytes: &[u8]) -> bool {
        bytes.len() > 12 && &bytes[4..8] == b"ftyp" && &bytes[8..12] == b"avif"
    }

    /// The width and height in the `ispe` (image spatial extent) property.
    fn avif_size(bytes: &[u8]) -> Option<(u32, u32)> {
        let at = bytes.windows(4).position(|w| w == b"ispe")?;
        let field = |offset: usize| -> Option<u32> {
            let b = bytes.get(at + offset..at + offset + 4)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        // "ispe", then version and flags (4 bytes), then width and height.
        Some((field(8)?, field(12)?))
    }

    fn gradient(width: u32, height: u32, channels: usize) -> Vec<u8> {
        let mut data = Vec::with_capacity(width as usize * height as usize * channels);
        for y in 0..height {
            for x in 0..width {
                let px = [(x * 255 / width) as u8, (y * 255 / height) as u8, 128, 200];
                data.extend_from_slice(&px[..channels]);
            }
        }
        data
    }

    #[test]
    fn rgb_pixels_become_an_avif_file_with_their_size() {
        // Arrange
        let pixels = gradient(96, 64, 3);

        // Act
        let avif = encode_avif(&pixels, 96, 64, 3, AvifSettings::default()).unwrap();

        // Assert
        assert!(is_avif(&avif), "no ftypavif box: {:?}", &avif[..16]);
        assert_eq!(avif_size(&avif), Some((96, 64)));
    }

    #[test]
    fn translucent_rgba_pixels_keep_an_alpha_plane() {
        // Arrange
        let pixels = gradient(40, 30, 4);

        // Act
        let avif = encode_avif(&pixels, 40, 30, 4, AvifSettings::default()).unwrap();

        // Assert: the alpha image is a second item, tagged with the alpha URN.
        assert!(is_avif(&avif));
        assert_eq!(avif_size(&avif), Some((40, 30)));
        let urn = b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha";
        assert!(avif.windows(urn.len()).any(|w| w == urn));
    }

    #[test]
    fn a_jpeg_thumbnail_is_re_encoded_at_its_own_size() {
        // Arrange: a JPEG as `thumbnails` writes them.
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 85)
            .encode(&gradient(120, 80, 3), 120, 80, jpeg_encoder::ColorType::Rgb)
            .unwrap();

        // Act
        let avif = avif_from_thumbnail(&jpeg, AvifSettings::default()).unwrap();

        // Assert
        assert_eq!((avif.width, avif.height), (120, 80));
        assert!(is_avif(&avif.bytes));
        assert_eq!(avif_size(&avif.bytes), Some((120, 80)));
    }

    #[test]
    fn a_png_thumbnail_is_re_encoded_at_its_own_size() {
        // Arrange
        let mut png_bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut png_bytes, 50, 70);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&gradient(50, 70, 4)).unwrap();
        writer.finish().unwrap();

        // Act
        let avif = avif_from_thumbnail(&png_bytes, AvifSettings::default()).unwrap();

        // Assert
        assert_eq!((avif.width, avif.height), (50, 70));
        assert_eq!(avif_size(&avif.bytes), Some((50, 70)));
    }

    #[test]
    fn bytes_that_are_not_a_jpeg_or_png_thumbnail_are_unsupported() {
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert_eq!(
            avif_from_thumbnail(gif, AvifSettings::default()),
            Err(ImageError::Unsupported)
        );
    }

    #[test]
    fn pixels_that_do_not_match_the_size_are_refused() {
        let pixels = gradient(10, 10, 3);
        let refused = encode_avif(&pixels, 10, 11, 3, AvifSettings::default());
        assert!(
            matches!(refused, Err(ImageError::Corrupt(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn a_frame_larger_than_the_limit_is_refused_before_encoding() {
        // 2001x2000 is over AVIF_MAX_PIXELS; no pixel buffer is needed to say so.
        let refused = encode_avif(&[], 2001, 2000, 3, AvifSettings::default());
        assert_eq!(
            refused,
            Err(ImageError::TooManyPixels {
                width: 2001,
                height: 2000,
                max: AVIF_MAX_PIXELS
            })
        );
    }

    #[test]
    fn settings_outside_ravif_ranges_cannot_be_built() {
        assert!(AvifSettings::new(0, 5).is_none());
        assert!(AvifSettings::new(101, 5).is_none());
        assert!(AvifSettings::new(70, 0).is_none());
        assert!(AvifSettings::new(70, 11).is_none());
        assert_eq!(
            AvifSettings::new(100, 10).map(|s| (s.quality, s.speed)),
            Some((100, 10))
        );
    }
}
