//! Decodes a JPEG at the smallest DCT scale (1/1, 1/2, 1/4, 1/8) that still covers the tallest thumbnail.
//!
//! Scaling inside the inverse DCT is what libvips calls shrink-on-load: the
//! entropy decoding is unchanged, but the IDCT, upsampling and colour conversion
//! run on up to 64 times fewer pixels, and the output buffer shrinks alike.

use crate::jpeg_stream::{JpegStream, Progress};
use crate::pixels::Pixels;
use crate::ImageError;

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

/// The chunk size `decode_scaled` feeds: what the service receives from the network at a time.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Decodes with the inverse DCT producing `block_side` pixels per block side
/// (the plan's choice, see [`block_side`]), feeding `bytes` to a
/// [`JpegStream`] in [`CHUNK`]s as if they arrived from the network.
pub(crate) fn decode_scaled(bytes: &[u8], block_side: u32) -> Result<Pixels, ImageError> {
    let mut stream = JpegStream::new();
    let mut begun = false;
    for chunk in bytes.chunks(CHUNK) {
        let mut progress = stream.feed(chunk)?;
        if progress == Progress::Header {
            stream.begin(block_side)?;
            begun = true;
            // The rest of the chunk that completed the header.
            progress = stream.feed(&[])?;
        }
        if progress == Progress::Done {
            break;
        }
    }
    if !begun {
        return Err(ImageError::Corrupt(
            "JPEG truncated before its first scan".into(),
        ));
    }
    stream.finish()
}
