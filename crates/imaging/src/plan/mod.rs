//! Decides, once and from the header alone, how an upload is decoded and what its thumbnails will cost: the [`Plan`] every later step follows.
//!
//! The service reserves memory before any pixel is decoded, so the plan refuses
//! here whatever would not fit: too many pixels for the limits or for the coding,
//! thumbnails whose peak heap plus the input exceeds [`REQUEST_MEMORY_BYTES`].
//! `scaled` plans JPEG and PNG (scaled while they decode), `full_size` the
//! formats decoded at full size (WebP, GIF, BMP, TIFF).

pub(crate) mod full_size;
mod scaled;

use crate::headers::{self, Header};
use crate::{ImageError, Limits, Probe, REQUEST_MEMORY_BYTES};

/// What [`thumbnails`](crate::thumbnails) will cost, and how it will decode, known before any
/// pixel is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub probe: Probe,
    /// Upper bound of the heap `thumbnails` allocates for these heights, the
    /// input bytes excluded (the caller holds those and counts them itself).
    pub peak_bytes: u64,
    /// The header the plan was made from: the decode reads it from here, not from the bytes again.
    pub(crate) header: Header,
    pub(crate) reduction: Reduction,
}

/// How the image is shrunk on its way to the resizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reduction {
    /// JPEG: pixels per 8x8 block side in the inverse DCT (8 full size, 4, 2 or 1).
    Jpeg { block_side: u32 },
    /// PNG: side of the boxes rows are summed into while they inflate.
    Png { factor: u32 },
    /// WebP, GIF, BMP, TIFF: decoded at full size, then box-reduced in place by `factor` (1: not).
    InPlace { factor: u32 },
}

/// One choice of reduction and the peak heap it leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Estimate {
    pub reduction: Reduction,
    /// Peak heap bytes of the whole call, the input excluded.
    pub peak: u64,
}

/// Reads the headers and predicts what `thumbnails(bytes, heights, limits)`
/// needs, so the caller can reserve memory before decoding. Refuses what
/// `thumbnails` would: unsupported or corrupt headers, too many pixels, JPEG
/// scans too costly ([`ImageError::TooComplex`]), and images whose thumbnails
/// (these, or one [`MAX_THUMBNAIL_HEIGHT`](crate::MAX_THUMBNAIL_HEIGHT) high) would not fit
/// [`REQUEST_MEMORY_BYTES`] with the input ([`ImageError::TooMuchMemory`]).
pub fn plan(bytes: &[u8], heights: &[u32], limits: &Limits) -> Result<Plan, ImageError> {
    let header = headers::read(bytes)?;
    plan_header(header, bytes.len() as u64, heights, limits)
}

/// Reads only signatures and headers: never allocates pixel buffers. Content
/// decides the format, not names. Accepts exactly what [`plan`] and
/// [`thumbnails`](crate::thumbnails) accept, short of corrupt pixel data.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Probe, ImageError> {
    plan(bytes, &[], limits).map(|plan| plan.probe)
}

/// [`plan`] from a header already read, for an input of `input` bytes held while decoding
/// (0 for a JPEG streamed through its decoder).
pub(crate) fn plan_header(
    header: Header,
    input: u64,
    heights: &[u32],
    limits: &Limits,
) -> Result<Plan, ImageError> {
    check_pixels(&header, limits)?;
    if let Some(&zero) = heights.iter().find(|&&h| h == 0) {
        return Err(ImageError::InvalidHeight(zero));
    }
    let probe = header.probe();
    let estimate = if header.full_size() {
        // The header's pixel limit already covers a MAX_THUMBNAIL_HEIGHT thumbnail
        // (full_size::check_pixels).
        let estimate = full_size::estimate(&header, heights);
        let needed = input.saturating_add(estimate.peak);
        if needed > REQUEST_MEMORY_BYTES {
            return Err(ImageError::TooMuchMemory {
                needed,
                budget: REQUEST_MEMORY_BYTES,
            });
        }
        estimate
    } else {
        scaled::estimate(
            &header,
            input,
            &[scaled::tallest_servable(&header)],
            REQUEST_MEMORY_BYTES,
        )?;
        let sizes: Vec<(u32, u32)> = heights
            .iter()
            .map(|&h| thumbnail_size(probe.width, probe.height, h))
            .collect();
        scaled::estimate(&header, input, &sizes, REQUEST_MEMORY_BYTES)?
    };
    Ok(Plan {
        probe,
        peak_bytes: estimate.peak,
        header,
        reduction: estimate.reduction,
    })
}

/// Refuses a header over the pixel limit: `limits.max_pixels`, and for the formats decoded
/// at full size the count their decode can afford ([`full_size::check_pixels`]).
fn check_pixels(header: &Header, limits: &Limits) -> Result<(), ImageError> {
    if header.full_size() {
        full_size::check_pixels(header, limits)?;
    }
    let pixels = u64::from(header.width) * u64::from(header.height);
    if pixels > limits.max_pixels {
        return Err(ImageError::TooManyPixels {
            width: header.width,
            height: header.height,
            max: limits.max_pixels,
        });
    }
    Ok(())
}

/// The size of the thumbnail of an upright `width` x `height` image for a
/// requested height: the same aspect ratio, never larger than the original.
pub fn thumbnail_size(width: u32, height: u32, requested_height: u32) -> (u32, u32) {
    if requested_height >= height {
        return (width, height);
    }
    let (w, h, r) = (
        u64::from(width),
        u64::from(height),
        u64::from(requested_height),
    );
    let scaled = (2 * w * r + h) / (2 * h);
    (scaled.max(1) as u32, requested_height)
}
