//! JPEG and PNG, scaled while they decode: picks the DCT scale or box size that keeps the peak heap in budget, and predicts that peak.
//!
//! The service reserves memory from one isolate-wide budget before it decodes
//! (issue 10), so this must be an upper bound of what the pipeline allocates,
//! yet close enough not to refuse what fits. It follows the pipeline's phases
//! (decode, orientation, resize, encode) and the buffers each one holds at
//! once, with the sizes the decoders and resizer really allocate;
//! `tests/peak_memory.rs` checks it against a counting allocator.

use super::{thumbnail_size, Estimate, Reduction};
use crate::headers::{Coding, Header};
use crate::jpeg_stream::{JpegHeader, JpegStream};
use crate::{jpeg, png_stream, ImageError, MAX_THUMBNAIL_HEIGHT};

const MIB: u64 = 1024 * 1024;
/// Small allocations no formula follows: Huffman and quantisation tables,
/// the PNG inflater's window and tables, encoder state, vectors of thumbnails.
const FIXED_SLACK: u64 = MIB;
/// 1%: the rest of what no formula follows.
const RELATIVE_SLACK_DIVISOR: u64 = 100;

/// Chooses the reduction for thumbnails of `sizes` (upright width, height) and
/// predicts the peak; refuses when input and peak would exceed `budget`.
pub(crate) fn estimate(
    header: &Header,
    input: u64,
    sizes: &[(u32, u32)],
    budget: u64,
) -> Result<Estimate, ImageError> {
    let upright_height = header.probe().height;
    let tallest = sizes.iter().map(|&(_, h)| h).max().unwrap_or(1);
    let candidates: Vec<Reduction> = match &header.coding {
        Coding::Jpeg(frame) => vec![Reduction::Jpeg {
            block_side: jpeg::block_side(frame.width, frame.height, upright_height, tallest),
        }],
        Coding::Png { .. } => {
            let channels = if header.may_have_alpha { 4 } else { 3 };
            let (w, h) = (header.width, header.height);
            let ideal = png_stream::box_factor(w, h, upright_height, tallest, channels);
            // When the ideal leaves no room, box-reduce down to the thumbnail's
            // own height and let Lanczos do only the last, small step.
            let coarsest = png_stream::coarsest_factor(upright_height, tallest).max(ideal);
            let mut factors = vec![Reduction::Png { factor: ideal }];
            if coarsest != ideal {
                factors.push(Reduction::Png { factor: coarsest });
            }
            factors
        }
        // Decoded at full size: planned by `full_size`, never here.
        _ => Vec::new(),
    };
    let mut needed = u64::MAX;
    for reduction in candidates {
        let peak = peak_bytes(header, reduction, sizes);
        if input.saturating_add(peak) <= budget {
            return Ok(Estimate { reduction, peak });
        }
        needed = needed.min(input.saturating_add(peak));
    }
    Err(ImageError::TooMuchMemory { needed, budget })
}

/// What any thumbnail up to [`MAX_THUMBNAIL_HEIGHT`] of this image will need;
/// the service lists such thumbnails for every picture it accepted.
pub(crate) fn tallest_servable(header: &Header) -> (u32, u32) {
    let probe = header.probe();
    thumbnail_size(probe.width, probe.height, MAX_THUMBNAIL_HEIGHT)
}

fn peak_bytes(header: &Header, reduction: Reduction, sizes: &[(u32, u32)]) -> u64 {
    let (decode, decoded) = match (&header.coding, reduction) {
        (Coding::Jpeg(jpeg), Reduction::Jpeg { block_side }) => jpeg_decode(jpeg, block_side),
        (Coding::Png { interlaced }, Reduction::Png { factor }) => png_decode(
            header.width,
            header.height,
            factor,
            if header.may_have_alpha { 4 } else { 3 },
            *interlaced,
        ),
        _ => (u64::MAX / 4, (0, 0, 3)),
    };
    let (width, height, channels) = decoded;
    let image = width * height * channels;
    // Orientation writes a turned copy before dropping the decoded image.
    let orient = if header.orientation == crate::Orientation::Normal {
        image
    } else {
        2 * image
    };
    let (upright_width, upright_height) = if header.orientation.swaps_axes() {
        (height, width)
    } else {
        (width, height)
    };
    let peak = decode.max(orient).max(resize_and_encode(
        (upright_width, upright_height, channels),
        sizes,
    ));
    // Decoders allocate a little beyond the buffers followed here, in proportion
    // to the image (the PNG inflater's rows, the resizer's tables).
    peak.saturating_add(peak / RELATIVE_SLACK_DIVISOR)
        .saturating_add(FIXED_SLACK)
}

/// jpeg_stream: its own bound (tail, coefficient window store of a progressive
/// image, row buffers, RGB output). Returns the peak and the decoded size.
fn jpeg_decode(header: &JpegHeader, block_side: u32) -> (u64, (u64, u64, u64)) {
    let peak = JpegStream::memory_bound(header, block_side);
    let width = u64::from(header.width * block_side).div_ceil(8);
    let height = u64::from(header.height * block_side).div_ceil(8);
    (peak, (width, height, 3))
}

/// png_stream: the reduced image (allocated up front), the box sums (one band,
/// or every box for Adam7) and the inflater with its window and scanlines; at the
/// end, once those are freed, the RGB copy `into_rgb` may make of an RGBA image
/// that turns out opaque. (What it holds before `begin` is reserved apart: its
/// `header_bound`.)
fn png_decode(
    width: u32,
    height: u32,
    factor: u32,
    channels: u64,
    interlaced: bool,
) -> (u64, (u64, u64, u64)) {
    let f = u64::from(factor);
    let (out_width, out_height) = (u64::from(width).div_ceil(f), u64::from(height).div_ceil(f));
    let reduced = out_width * out_height * channels;
    let sums = 4 * channels * out_width * if interlaced { out_height } else { 1 };
    let rows = png_stream::PngStream::working_bytes(width);
    let opaque_copy = if channels == 4 {
        out_width * out_height * 3
    } else {
        0
    };
    let peak = reduced + (sums + rows).max(opaque_copy);
    (peak, (out_width, out_height, channels))
}

/// Follows `thumbnails`: each thumbnail but the last resized is encoded right
/// after resizing, next to the decoded image, the resizer's buffer (a Vec it
/// grows by doubling) and the bytes encoded so far; the last one resized, and
/// the one that takes the decoded image's buffer, are encoded after the decoded
/// image and the resizer are gone.
fn resize_and_encode(decoded: (u64, u64, u64), sizes: &[(u32, u32)]) -> u64 {
    let (dw, dh, c) = decoded;
    let image = dw * dh * c;
    let same_size = sizes
        .iter()
        .rposition(|&(w, h)| (u64::from(w), u64::from(h)) == (dw, dh));
    let resized: Vec<usize> = (0..sizes.len()).filter(|&i| Some(i) != same_size).collect();
    let pixels = |i: usize| u64::from(sizes[i].0) * u64::from(sizes[i].1);
    let (mut peak, mut buffer, mut encoded, mut pending) = (image, 0u64, 0u64, 0u64);
    for &i in &resized {
        let (w, h) = (u64::from(sizes[i].0), u64::from(sizes[i].1));
        let thumb = w * h * c;
        // fast_image_resize runs the vertical pass first, into a buffer of the
        // source's width and the thumbnail's height (plus one pixel of alignment);
        // an unchanged size is a plain copy.
        let (grown, tables) = if (w, h) == (dw, dh) {
            (buffer, 0)
        } else {
            let needed = (dw + 1) * h * c;
            let grown = if needed > buffer {
                needed.max(2 * buffer)
            } else {
                buffer
            };
            (grown, 16 * (dw + dh) * (1 + dh / h.max(1)) + 16 * (w + h))
        };
        let buffers = if grown > buffer {
            buffer + grown
        } else {
            buffer
        };
        peak = peak.max(image + buffers + thumb + tables + encoded);
        buffer = grown;
        if Some(&i) == resized.last() {
            pending = thumb;
        } else {
            peak = peak.max(image + buffer + thumb + encoder_bytes(pixels(i), c) + encoded);
            encoded += encoded_bytes(pixels(i), c);
        }
    }
    // The end: the last resized thumbnail, then the decoded image's own buffer.
    let kept = if same_size.is_some() { image } else { 0 };
    if let Some(&last) = resized.last() {
        peak = peak.max(pending + kept + encoder_bytes(pixels(last), c) + encoded);
        encoded += encoded_bytes(pixels(last), c);
    }
    if let Some(i) = same_size {
        peak = peak.max(kept + encoder_bytes(pixels(i), c) + encoded);
    }
    peak
}

/// One encoder's working memory besides its input: jpeg-encoder keeps every
/// block (3 bytes a pixel at 4:2:0) when it optimises Huffman tables; the
/// output vector grows by doubling, so while it reallocates it holds half
/// its final capacity more.
fn encoder_bytes(pixels: u64, channels: u64) -> u64 {
    let blocks = if channels == 3 && pixels <= crate::encode::OPTIMIZED_HUFFMAN_MAX_PIXELS {
        3 * pixels
    } else {
        0
    };
    blocks + 3 * encoded_bytes(pixels, channels) / 2 + 64 * 1024
}

/// Capacity the encoded bytes keep (the encoders shrink it to the length): a
/// JPEG thumbnail at q85 stays well under half its RGB size; a PNG of noise
/// barely compresses, so up to its raw size and a filter byte a row.
fn encoded_bytes(pixels: u64, channels: u64) -> u64 {
    if channels == 3 {
        3 * pixels / 2
    } else {
        pixels * channels + pixels / 64 + 1024
    }
}
