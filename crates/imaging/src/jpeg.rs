//! Decodes a JPEG at the smallest DCT scale (1/1, 1/2, 1/4, 1/8) that still covers the tallest thumbnail.
//!
//! Scaling inside the inverse DCT is what libvips calls shrink-on-load: the
//! entropy decoding is unchanged, but the IDCT, upsampling and colour conversion
//! run on up to 64 times fewer pixels, and the output buffer shrinks alike.

use crate::pixels::Pixels;
use crate::ImageError;
use jpeg_decoder::{Decoder, PixelFormat};

/// How much taller than the tallest thumbnail the DCT-scaled image must be. At 1
/// the final Lanczos pass may shrink by less than 2x; the DCT scaling itself is a
/// proper low-pass filter, so this still matches libvips (see the bench's SSIM).
const DCT_MARGIN: u32 = 1;

/// Component planes (at most 3 bytes a pixel) plus the RGB output (3 bytes).
const DECODE_BYTES_PER_PIXEL: u64 = 6;
/// What the input and one decode may hold: 96 MiB of linear memory less room for
/// the allocator's slack and the thumbnails (measured in bench/run-imaging).
const MAX_DECODE_BYTES: u64 = 88 * 1024 * 1024;

/// Decodes so that the stored image, once upright, is at least `target_height`
/// tall (times [`DCT_MARGIN`]), or full size when that is not possible.
pub(crate) fn decode_for_height(
    bytes: &[u8],
    coefficient_bytes: u64,
    upright_height: u32,
    target_height: u32,
) -> Result<Pixels, ImageError> {
    let mut decoder = Decoder::new(bytes);
    decoder.read_info().map_err(to_image_error)?;
    let info = decoder
        .info()
        .ok_or_else(|| ImageError::Corrupt("JPEG without a frame".into()))?;
    // Asking for the same fraction on both stored axes makes the orientation irrelevant.
    let wanted = u64::from(target_height.saturating_mul(DCT_MARGIN).min(upright_height));
    let fraction = |len: u16| -> u16 {
        let len = u64::from(len);
        (len * wanted)
            .div_ceil(u64::from(upright_height.max(1)))
            .clamp(1, len) as u16
    };
    let (scaled_width, scaled_height) = decoder
        .scale(fraction(info.width), fraction(info.height))
        .map_err(to_image_error)?;
    // Refuse up front what would not fit, rather than let the isolate run out:
    // a tall thumbnail of a large image may need a full-scale decode. Two moments
    // peak: the decode (coefficients, planes, output) and the resize of the
    // tallest thumbnail (decoded image, intermediate pass, destination, each
    // smaller by `ratio`).
    let decoded = u64::from(scaled_width) * u64::from(scaled_height);
    let ratio = (f64::from(target_height) * f64::from(info.width)
        / (f64::from(upright_height.max(1)) * f64::from(scaled_width.max(1))))
    .min(1.0);
    let resize_bytes = (3.0 * decoded as f64 * (1.0 + ratio + ratio * ratio)) as u64;
    let decode_bytes = coefficient_bytes + decoded * DECODE_BYTES_PER_PIXEL;
    let working = bytes.len() as u64 + decode_bytes.max(resize_bytes);
    if working > MAX_DECODE_BYTES {
        let pixels = u64::from(info.width) * u64::from(info.height);
        return Err(ImageError::TooManyPixels {
            width: u32::from(info.width),
            height: u32::from(info.height),
            max: pixels * MAX_DECODE_BYTES / working,
        });
    }
    let data = decoder.decode().map_err(to_image_error)?;
    let info = decoder
        .info()
        .ok_or_else(|| ImageError::Corrupt("JPEG without a frame".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let data = match info.pixel_format {
        PixelFormat::RGB24 => data,
        PixelFormat::L8 => data.iter().flat_map(|&l| [l, l, l]).collect(),
        PixelFormat::L16 => data
            .chunks_exact(2)
            .flat_map(|l| [l[0], l[0], l[0]])
            .collect(),
        PixelFormat::CMYK32 => data
            .chunks_exact(4)
            .flat_map(|p| {
                // jpeg-decoder has already undone Adobe's inversion: plain CMYK here.
                let k = 255 - u16::from(p[3]);
                let ch = |c: u8| ((255 - u16::from(c)) * k / 255) as u8;
                [ch(p[0]), ch(p[1]), ch(p[2])]
            })
            .collect(),
    };
    if data.len() != width as usize * height as usize * 3 {
        return Err(ImageError::Corrupt(
            "JPEG decoded to an unexpected size".into(),
        ));
    }
    Ok(Pixels {
        width,
        height,
        channels: 3,
        data,
        translucent: false,
        premultiplied: false,
    })
}

fn to_image_error(error: jpeg_decoder::Error) -> ImageError {
    match error {
        jpeg_decoder::Error::Unsupported(feature) => {
            ImageError::Corrupt(format!("unsupported JPEG feature: {feature:?}"))
        }
        other => ImageError::Corrupt(other.to_string()),
    }
}
