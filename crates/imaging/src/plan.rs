//! Predicts the peak heap of `thumbnails` from the headers alone, and picks the decode reduction that keeps it in budget.
//!
//! The service reserves memory from one isolate-wide budget before it decodes
//! (issue 10), so this must be an upper bound of what the pipeline allocates,
//! yet close enough not to refuse what fits. It follows the pipeline's phases
//! (decode, orientation, resize, encode) and the buffers each one holds at
//! once, with the sizes the decoders and resizer really allocate;
//! `tests/peak_memory.rs` checks it against a counting allocator.

use crate::headers::{Header, HeaderFormat};
use crate::scans::Frame;
use crate::{jpeg, png_stream, thumbnail_size, ImageError, MAX_THUMBNAIL_HEIGHT};

const MIB: u64 = 1024 * 1024;
/// Small allocations no formula follows: Huffman and quantisation tables,
/// the PNG inflater's window and tables, encoder state, vectors of thumbnails.
const FIXED_SLACK: u64 = MIB;

/// How the decoder shrinks the image while decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reduction {
    /// JPEG: pixels per 8x8 block side in the inverse DCT (8 full size, 4, 2 or 1).
    Jpeg { block_side: u32 },
    /// PNG: side of the boxes rows are summed into.
    Png { factor: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Estimate {
    pub reduction: Reduction,
    /// Peak heap bytes of the whole call, the input excluded.
    pub peak: u64,
}

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
    let candidates: Vec<Reduction> = match &header.format {
        HeaderFormat::Jpeg(frame) => vec![Reduction::Jpeg {
            block_side: jpeg::block_side(frame.width, frame.height, upright_height, tallest),
        }],
        HeaderFormat::Png(png) => {
            let channels = if png.has_alpha { 4 } else { 3 };
            let (w, h) = (header.stored_width, header.stored_height);
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
    let (decode, decoded) = match (&header.format, reduction) {
        (HeaderFormat::Jpeg(frame), Reduction::Jpeg { block_side }) => {
            jpeg_decode(frame, block_side)
        }
        (HeaderFormat::Png(png), Reduction::Png { factor }) => png_decode(
            header.stored_width,
            header.stored_height,
            factor,
            if png.has_alpha { 4 } else { 3 },
            png.interlaced,
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
    decode
        .max(orient)
        .max(resize_and_encode(
            (upright_width, upright_height, channels),
            sizes,
        ))
        .saturating_add(FIXED_SLACK)
}

/// jpeg-decoder: every coefficient of a progressive image (64 i16 per block,
/// padded to whole MCUs) until the decoder is dropped, the component planes at
/// the DCT-scaled size, the interleaved output, and our conversion to RGB for
/// grey and CMYK images. Returns the peak and the decoded size.
fn jpeg_decode(frame: &Frame, block_side: u32) -> (u64, (u64, u64, u64)) {
    let side = u64::from(block_side);
    let blocks: Vec<(u64, u64)> = (0..frame.components.len())
        .map(|i| frame.component_blocks(i))
        .collect();
    let coefficients: u64 = if frame.progressive {
        blocks.iter().map(|&(x, y)| x * y * 128).sum()
    } else {
        0
    };
    let planes: u64 = blocks.iter().map(|&(x, y)| x * side * y * side).sum();
    // One MCU row of coefficients, and the copy handed to the IDCT.
    let rows: u64 = frame
        .components
        .iter()
        .zip(&blocks)
        .map(|(&(_, _, v), &(x, _))| 2 * x * u64::from(v) * 128)
        .sum();
    let width = u64::from(frame.width * block_side).div_ceil(8);
    let height = u64::from(frame.height * block_side).div_ceil(8);
    let output = width * height * frame.components.len() as u64;
    let rgb = if frame.components.len() == 3 {
        0
    } else {
        width * height * 3
    };
    let peak = coefficients + (planes + output + rows).max(output + rgb);
    (peak, (width, height, 3))
}

/// png_stream: the reduced image (allocated up front), the box sums (one band,
/// or every box for Adam7), the inflater's rows, and at the end, for an RGBA
/// image that turns out opaque, the RGB copy `into_rgb` may make.
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
    // Raw, previous and unfiltered rows at up to 8 bytes a pixel (16-bit RGBA).
    let rows = 4 * 8 * u64::from(width);
    let opaque_copy = if channels == 4 {
        out_width * out_height * 3
    } else {
        0
    };
    let peak = reduced + sums + rows + opaque_copy;
    (peak, (out_width, out_height, channels))
}

/// The resize phase holds the decoded image, every thumbnail made so far, the
/// resizer's growing intermediate buffer and one pass's coefficient tables; the
/// encode phase holds the thumbnails not yet encoded, the encoded bytes, and one
/// encoder's working memory.
fn resize_and_encode(decoded: (u64, u64, u64), sizes: &[(u32, u32)]) -> u64 {
    let (dw, dh, c) = decoded;
    let image = dw * dh * c;
    let last_same = sizes
        .iter()
        .rposition(|&(w, h)| (u64::from(w), u64::from(h)) == (dw, dh));
    let (mut thumbs, mut buffer, mut resize_peak) = (0u64, 0u64, image);
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let (w, h) = (u64::from(w), u64::from(h));
        let thumb = w * h * c;
        if Some(i) == last_same {
            continue; // takes the decoded image's buffer
        }
        if (w, h) == (dw, dh) {
            thumbs += thumb; // a plain copy
            resize_peak = resize_peak.max(image + buffer + thumbs);
            continue;
        }
        // fast_image_resize runs the vertical pass first into a src-width,
        // dst-height buffer it keeps and grows like a Vec (doubling).
        let needed = (dw + 1) * h * c;
        let grown = if needed > buffer {
            needed.max(2 * buffer)
        } else {
            buffer
        };
        let tables = 16 * (dw + dh) * (1 + dh / h.max(1)) + 16 * (w + h);
        resize_peak = resize_peak.max(image + buffer + grown + thumbs + thumb + tables);
        buffer = grown;
        thumbs += thumb;
    }
    if last_same.is_some() {
        thumbs += image;
    }
    let encoding = sizes
        .iter()
        .map(|&(w, h)| encoder_bytes(u64::from(w) * u64::from(h), c))
        .max()
        .unwrap_or(0);
    let encoded: u64 = sizes
        .iter()
        .map(|&(w, h)| encoded_bytes(u64::from(w) * u64::from(h), c))
        .sum();
    resize_peak.max(thumbs + encoded + encoding)
}

/// One encoder's working memory besides its input: jpeg-encoder keeps every
/// block (3 bytes a pixel at 4:2:0) when it optimises Huffman tables; either
/// encoder's output vector may be reallocating (old and new capacity at once).
fn encoder_bytes(pixels: u64, channels: u64) -> u64 {
    if channels == 3 {
        let blocks = if pixels <= crate::encode::OPTIMIZED_HUFFMAN_MAX_PIXELS {
            3 * pixels
        } else {
            0
        };
        blocks + 2 * encoded_bytes(pixels, channels)
    } else {
        2 * encoded_bytes(pixels, channels)
    }
}

/// Capacity the encoded bytes may keep: a JPEG thumbnail at q85 stays well
/// under half its RGB size; a PNG barely compresses noise, and its vector
/// doubles past the final length.
fn encoded_bytes(pixels: u64, channels: u64) -> u64 {
    if channels == 3 {
        3 * pixels / 2
    } else {
        2 * (pixels * channels + pixels / 64) + 1024
    }
}
