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

/// The smallest DCT scale, in pixels per 8x8 block side (1, 2, 4 or 8), whose
/// output is at least `target_height` tall once upright (times [`DCT_MARGIN`]),
/// chosen as jpeg-decoder's `Decoder::scale` does from the same request.
pub(crate) fn block_side(
    stored_width: u32,
    stored_height: u32,
    upright_height: u32,
    target_height: u32,
) -> u32 {
    // Asking for the same fraction on both stored axes makes the orientation irrelevant.
    let wanted = u64::from(target_height.saturating_mul(DCT_MARGIN).min(upright_height));
    let fraction = |len: u32| -> u64 {
        let len = u64::from(len);
        (len * wanted)
            .div_ceil(u64::from(upright_height.max(1)))
            .clamp(1, len)
    };
    let scaled = |len: u32, side: u32| u64::from(len * side).div_ceil(8);
    [1, 2, 4]
        .into_iter()
        .find(|&side| {
            scaled(stored_width, side) >= fraction(stored_width)
                || scaled(stored_height, side) >= fraction(stored_height)
        })
        .unwrap_or(8)
}

/// Decodes with the inverse DCT producing `block_side` pixels per block side
/// (the plan's choice, see [`block_side`]).
pub(crate) fn decode_scaled(bytes: &[u8], block_side: u32) -> Result<Pixels, ImageError> {
    let mut decoder = Decoder::new(bytes);
    decoder.read_info().map_err(to_image_error)?;
    let info = decoder
        .info()
        .ok_or_else(|| ImageError::Corrupt("JPEG without a frame".into()))?;
    let scaled = |len: u16| (u32::from(len) * block_side).div_ceil(8).max(1) as u16;
    decoder
        .scale(scaled(info.width), scaled(info.height))
        .map_err(to_image_error)?;
    let data = decoder.decode().map_err(to_image_error)?;
    let info = decoder
        .info()
        .ok_or_else(|| ImageError::Corrupt("JPEG without a frame".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let data = match info.pixel_format {
        PixelFormat::RGB24 => data,
        // Sized up front: collecting a flat_map would grow by doubling, up to
        // three times the image while it reallocates.
        PixelFormat::L8 => rgb_from(&data, 1, |p| [p[0], p[0], p[0]]),
        PixelFormat::L16 => rgb_from(&data, 2, |l| [l[0], l[0], l[0]]),
        PixelFormat::CMYK32 => rgb_from(&data, 4, |p| {
            // jpeg-decoder has already undone Adobe's inversion: plain CMYK here.
            let k = 255 - u16::from(p[3]);
            let ch = |c: u8| ((255 - u16::from(c)) * k / 255) as u8;
            [ch(p[0]), ch(p[1]), ch(p[2])]
        }),
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

fn rgb_from(data: &[u8], stride: usize, pixel: impl Fn(&[u8]) -> [u8; 3]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(data.len() / stride * 3);
    for p in data.chunks_exact(stride) {
        rgb.extend_from_slice(&pixel(p));
    }
    rgb
}

fn to_image_error(error: jpeg_decoder::Error) -> ImageError {
    match error {
        jpeg_decoder::Error::Unsupported(feature) => {
            ImageError::Corrupt(format!("unsupported JPEG feature: {feature:?}"))
        }
        other => ImageError::Corrupt(other.to_string()),
    }
}
