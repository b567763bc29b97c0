//! WebP, GIF, BMP and TIFF, decoded at full size: their pixel limits, the box reduction after the decode, and the memory each coding needs.
//!
//! Unlike JPEG (DCT scaling) and PNG (row streaming), these are decoded at full
//! size by the `image` crate's pure-Rust decoders (the `tiff` crate directly,
//! which saves a full-size copy; crates/imaging/src/formats), so the memory a
//! decode needs grows with the pixel count times a per-coding factor, and the
//! pixel limit of each format is derived from that factor: see [`max_pixels`]
//! and crates/imaging/README.md.

use super::{thumbnail_size, Estimate, Reduction};
use crate::headers::{Coding, Header};
use crate::{ImageError, Limits};

/// A header is accepted only if decoding it and making a thumbnail this tall
/// fits [`HEADER_BUDGET`], so any tier height can be served later.
pub(crate) const PLANNED_HEIGHT: u32 = crate::MAX_THUMBNAIL_HEIGHT;
/// What a decode and its tallest thumbnail may need, before counting the input;
/// a compressed upload's bytes fit in what is left of [`crate::REQUEST_MEMORY_BYTES`].
pub(crate) const HEADER_BUDGET: u64 = 80 * 1024 * 1024;
/// Decoder tables, Huffman trees, line buffers, the resizer's coefficients, the
/// JPEG encoder's block copy (up to 3 MiB for a 1 MP thumbnail).
const FIXED_OVERHEAD: u64 = 4 * 1024 * 1024;

/// Applies the pixel limit of a WebP, GIF, BMP or TIFF header: at most
/// `limits.max_pixels`, and the decode plus a [`PLANNED_HEIGHT`] thumbnail must
/// fit [`HEADER_BUDGET`].
pub(crate) fn check_pixels(header: &Header, limits: &Limits) -> Result<(), ImageError> {
    let (width, height) = extent(header);
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels || pixels > max_pixels(header) {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            max: limits.max_pixels.min(max_pixels(header)),
        });
    }
    Ok(())
}

/// The size that bounds the decode, as a refusal names it: the image's, or a
/// GIF's first frame when that is larger than its logical screen (a 1x1 screen
/// with a 65535x65535 frame is a frame-sized decode).
fn extent(header: &Header) -> (u32, u32) {
    match header.coding {
        Coding::Gif {
            frame_width,
            frame_height,
            ..
        } if u64::from(frame_width) * u64::from(frame_height)
            > u64::from(header.width) * u64::from(header.height) =>
        {
            (frame_width, frame_height)
        }
        _ => (header.width, header.height),
    }
}

/// The pixel count this header's coding (and aspect ratio) may have: memory
/// grows about linearly with pixels, so scale the image's own count (see
/// [`extent`]) by how far its plan is from the budget.
pub(crate) fn max_pixels(header: &Header) -> u64 {
    let (width, height) = extent(header);
    let pixels = u64::from(width) * u64::from(height);
    pixels * HEADER_BUDGET / estimate(header, &[PLANNED_HEIGHT]).peak.max(1)
}

/// Predicted peak heap bytes, not counting the input, of `imaging::thumbnails`
/// for a WebP, GIF, BMP or TIFF upload and these heights; `None` when the bytes
/// are not one of those formats or their header is invalid.
///
/// An upper bound of what the counting allocator in tests/peak_memory_formats.rs
/// measures: the full-size decode, then the reduced image, the resizer's
/// intermediate rows and the thumbnails. The plan refuses (`TooMuchMemory`)
/// when input + this exceeds `REQUEST_MEMORY_BYTES`.
pub fn peak_bytes(bytes: &[u8], heights: &[u32]) -> Option<u64> {
    let header = crate::headers::read_other(bytes).ok()??;
    Some(estimate(&header, heights).peak)
}

/// Channels of the decoded image we resize: RGBA when the coding can carry alpha.
fn channels(header: &Header) -> u64 {
    if header.may_have_alpha {
        4
    } else {
        3
    }
}

/// What the decoder and the decoded image hold at the peak of a full-size decode.
fn decode_bytes(header: &Header) -> u64 {
    let (w, h) = (u64::from(header.width), u64::from(header.height));
    let pixels = w * h;
    // VP8 keeps Y, U and V planes padded to 16x16 macroblocks.
    let yuv = w.div_ceil(16) * h.div_ceil(16) * 384;
    let vp8l = vp8l_side_bytes(w, h);
    match header.coding {
        // The output and the planes, then the partitions while they are read,
        // later the ALPH plane (decoded as ARGB, then its green kept).
        Coding::WebpLossy { alpha, vp8_bytes } => {
            let alph = if alpha { 5 * pixels + vp8l } else { 0 };
            channels(header) * pixels + yuv + vp8_partitions(vp8_bytes).max(alph)
        }
        Coding::WebpLossless { alpha: true } => 4 * pixels + vp8l,
        // Decoded as ARGB, then copied to RGB.
        Coding::WebpLossless { alpha: false } => 7 * pixels + vp8l,
        // The output, the canvas and the first frame (at most the canvas), plus the
        // worst frame coding (lossy with alpha).
        Coding::WebpAnimated { vp8_bytes } => {
            12 * pixels + yuv + vp8_partitions(vp8_bytes) + 5 * pixels + vp8l
        }
        Coding::Gif {
            frame_width,
            frame_height,
            fills_width,
        } => {
            // The canvas, and the frame's palette indices (plus its own RGBA buffer
            // when it is not decoded straight into the canvas).
            let frame = u64::from(frame_width) * u64::from(frame_height);
            4 * pixels + frame + if fills_width { 0 } else { 4 * frame }
        }
        // BMP; JPEG and PNG are scaled while decoding (planned in `scaled`, never here).
        Coding::Bmp { .. } | Coding::Jpeg(_) | Coding::Png { .. } => channels(header) * pixels,
        Coding::Tiff { rows_per_strip, .. } => {
            // One strip may be inflated through a buffer of its own.
            let strip = u64::from(rows_per_strip).min(h) * w * raw_bytes_per_pixel(header);
            decode_capacity(header) + strip
        }
    }
}

/// What image-webp's lossless decoder (a VP8L image, or an ALPH plane) holds
/// besides its ARGB buffer: the predictor and colour transform images and the
/// entropy image, at most one pixel per 4x4 block each (4 bytes, and 2 more
/// for the entropy image's group numbers), the map of used groups (up to 65536
/// of 4 bytes), and the Huffman tables, which image-webp upstream did not
/// bound at all: vendor/image-webp caps them at `MAX_HUFFMAN_TABLE_BYTES`.
fn vp8l_side_bytes(width: u64, height: u64) -> u64 {
    let blocks = width.div_ceil(4) * height.div_ceil(4);
    14 * blocks + 4 * 65536 + image_webp::MAX_HUFFMAN_TABLE_BYTES as u64
}

/// image-webp copies a VP8 bitstream's last partition (everything after the
/// others, to the end of the chunk) into memory: it reads it into a vector grown
/// by doubling (up to twice its length), copies it into an aligned one, and
/// shrinks that one by reallocating (a second copy), all while the first is
/// alive: up to four times the chunk. The other partitions, read before it,
/// take at most as much (vendor/image-webp reads each before allocating for it:
/// upstream trusted its 24-bit size field, which tests/mutations.rs caught).
fn vp8_partitions(vp8_bytes: u32) -> u64 {
    4 * u64::from(vp8_bytes)
}

fn raw_bytes_per_pixel(header: &Header) -> u64 {
    match header.coding {
        Coding::Tiff {
            samples,
            sample_bytes,
            ..
        } => u64::from(samples) * u64::from(sample_bytes),
        _ => channels(header),
    }
}

/// Thumbnail sizes on the stored (not upright) axes, in request order: orientation is
/// applied to each thumbnail, never to the full-size image.
pub(crate) fn stored_sizes(header: &Header, heights: &[u32]) -> Vec<(u32, u32)> {
    let (w, h) = (header.width, header.height);
    let swaps = header.orientation.swaps_axes();
    let (upright_w, upright_h) = if swaps { (h, w) } else { (w, h) };
    heights
        .iter()
        .map(|&r| thumbnail_size(upright_w, upright_h, r.max(1)))
        .map(|(tw, th)| if swaps { (th, tw) } else { (tw, th) })
        .collect()
}

/// The box-reduction factor applied in place to the decoded image (1: none), and the predicted peak.
pub(crate) fn estimate(header: &Header, heights: &[u32]) -> Estimate {
    let (w, h) = (header.width, header.height);
    let stored_sizes = stored_sizes(header, heights);
    // Reduce while the image stays at least twice the largest thumbnail on both
    // axes, so Lanczos3 still does the last, quality-deciding step (as the PNG
    // path). At most 256, so a block's sum stays within u32.
    let (max_w, max_h) = stored_sizes
        .iter()
        .fold((1, 1), |(a, b), &(tw, th)| (a.max(tw), b.max(th)));
    let factor = (w / (2 * max_w)).min(h / (2 * max_h)).clamp(1, 256);
    let (rw, rh) = (w.div_ceil(factor), h.div_ceil(factor));
    let c = channels(header);
    let capacity = decode_capacity(header);
    // While resizing, the decoded buffer, the resizer's vertical pass (reduced
    // width x thumbnail height, its buffer grown for each) and every thumbnail
    // are alive; while encoding (decoded buffer gone) the thumbnails, one
    // upright copy and the encoded bytes (at most as big as the pixels).
    let (mut temps, mut resized, mut all, mut largest) = (0, 0, 0, 0);
    for &(tw, th) in &stored_sizes {
        let pixels = u64::from(tw) * u64::from(th) * c;
        if (tw, th) == (rw, rh) {
            all += capacity; // the decoded buffer itself becomes this thumbnail
        } else {
            temps += u64::from(rw) * u64::from(th) * c;
            resized += pixels;
            all += pixels;
        }
        largest = largest.max(pixels);
    }
    let upright_copy = if header.orientation == crate::Orientation::Normal {
        0
    } else {
        largest.max(if factor == 1 { capacity } else { 0 })
    };
    let resizing = capacity + temps + resized;
    let encoding = 2 * all + upright_copy;
    let phases = decode_bytes(header).max(resizing).max(encoding);
    // The decoders' own small buffers grow with the image too (a mutated lossy WebP measured
    // 1.5% over the phases above in the memory-bound property test): 1/32 of them.
    let peak = phases + phases / 32 + FIXED_OVERHEAD;
    Estimate {
        reduction: Reduction::InPlace { factor },
        peak,
    }
}

/// The size of the buffer the decoded image stays in while it is resized.
fn decode_capacity(header: &Header) -> u64 {
    let pixels = u64::from(header.width) * u64::from(header.height);
    match header.coding {
        Coding::Tiff {
            samples,
            sample_bytes,
            ..
        } => (u64::from(samples) * u64::from(sample_bytes)).max(channels(header)) * pixels,
        Coding::Gif { .. } | Coding::WebpAnimated { .. } => 4 * pixels,
        _ => channels(header) * pixels,
    }
}
