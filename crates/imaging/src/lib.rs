//! Probes and thumbnails PNG and JPEG uploads inside the memory of one Workers isolate.
//!
//! The crate knows nothing of Workers: it takes bytes and returns bytes, so it is
//! tested natively and compiled to wasm32 unchanged. Memory, not time, is the hard
//! limit there (128 MB per isolate), which is why every step below works on the
//! smallest image that still gives a good thumbnail: JPEGs are decoded at 1/2, 1/4
//! or 1/8 scale in the DCT domain, PNGs are box-reduced row by row while they
//! inflate, and only one decoded image is alive at a time.

#[cfg(feature = "avif")]
mod avif;
mod bytes;
mod encode;
mod exif;
pub mod formats;
mod headers;
mod jpeg;
pub mod jpeg_stream;
mod orientation;
mod pixels;
mod plan;
mod png_chunks;
mod png_stream;
mod resize;
mod scans;
mod stream;

#[cfg(feature = "avif")]
pub use avif::{
    avif_from_thumbnail, encode_avif, AvifSettings, AvifThumbnail, AVIF_CONTENT_TYPE,
    AVIF_MAX_PIXELS,
};
pub use orientation::Orientation;
pub use pixels::Pixels;
pub use headers::sniff;
pub use stream::{Step, Thumbnailer, BUFFERED_MAX_BYTES};

/// The tallest thumbnail the service may ask for: the one source of this rule
/// (the service's tier validation uses it). Every image [`plan`] accepts can be
/// thumbnailed at any height up to this within [`REQUEST_MEMORY_BYTES`], so a
/// thumbnail made later for a new tier height never fails for memory.
pub const MAX_THUMBNAIL_HEIGHT: u32 = 1000;

/// What one call may use of the isolate's 96 MiB of wasm memory: the input bytes
/// plus [`Plan::peak_bytes`] never exceed this. The other 2 MiB are the wasm
/// stack, static data and allocator slack.
pub const REQUEST_MEMORY_BYTES: u64 = 94 * 1024 * 1024;

/// The encodings this crate reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    /// Read only (lossy, lossless, with alpha; the first frame of an animation).
    WebP,
    /// Read only: the first frame.
    Gif,
    /// Read only.
    Bmp,
    /// Read only: 8/16-bit grey, RGB or CMYK, uncompressed, LZW, Deflate or PackBits.
    Tiff,
}

impl Format {
    /// The media type to serve the bytes with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::WebP => "image/webp",
            Format::Gif => "image/gif",
            Format::Bmp => "image/bmp",
            Format::Tiff => "image/tiff",
        }
    }
}

/// How large an upload the service accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest `width * height` accepted, before any decoding.
    pub max_pixels: u64,
}

/// 100 megapixels, as Cloudflare Images accepts: every camera's and phone's full-resolution
/// photo but the largest phone modes.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

impl Default for Limits {
    /// 25 megapixels: every 24 MP camera photo (6000x4000) fits with a little margin.
    ///
    /// Memory is bounded separately, from the headers: [`plan`] refuses with
    /// [`ImageError::TooMuchMemory`] what would not fit [`REQUEST_MEMORY_BYTES`]
    /// (a large progressive JPEG with a big input, a wide panorama);
    /// crates/imaging/README.md has the figures.
    fn default() -> Self {
        Limits {
            max_pixels: 25_000_000,
        }
    }
}

/// What the headers say about an image, with the size as a viewer shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub format: Format,
    /// Upright width, after EXIF orientation.
    pub width: u32,
    /// Upright height, after EXIF orientation.
    pub height: u32,
    /// The EXIF orientation found (1 when there is none).
    pub orientation: Orientation,
    /// Whether the format can carry transparency (PNG with alpha or tRNS). The
    /// thumbnails still stay JPEG unless some pixel really is translucent.
    pub may_have_alpha: bool,
}

/// One encoded thumbnail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    pub height: u32,
    pub width: u32,
    pub format: Format,
    pub bytes: Vec<u8>,
}

/// Why an upload was refused.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    /// The bytes are not an image format we know, or use a coding we do not
    /// decode (arithmetic or 12-bit JPEG, palette or fax TIFF...).
    #[error("unsupported image format: send JPEG, PNG, WebP, GIF, BMP or TIFF")]
    Unsupported,
    /// A format recognised by its signature that cannot be decoded here: "HEIC",
    /// "HEIF", "AVIF", "JPEG XL", "SVG" or "PDF" (400; nothing is stored).
    #[error("{name} files cannot be processed; send JPEG, PNG, WebP, GIF, BMP or TIFF")]
    UnsupportedFormat { name: &'static str },
    /// The bytes start like a PNG or JPEG but are truncated or invalid.
    #[error("corrupt image: {0}")]
    Corrupt(String),
    /// The declared size is larger than [`Limits::max_pixels`] (`max`). Refused
    /// from the headers, before any decoding.
    #[error("image of {width}x{height} pixels exceeds the limit of {max} pixels")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    /// A requested thumbnail height was zero.
    #[error("thumbnail height must be at least 1, got {0}")]
    InvalidHeight(u32),
    /// A JPEG whose markers would cost far more decoding work than a real photo
    /// of its size: a small file repeating hundreds of progressive scans over a
    /// large declared image, or made of thousands of tiny segments. Counted from
    /// the markers, before decoding: `scans` and `segments` seen so far,
    /// `passes` = blocks the scans touch / blocks in the image.
    #[error(
        "JPEG too costly to decode: {scans} scans amounting to {passes} passes over the image, \
         {segments} marker segments (at most {max_scans} scans, {max_passes} passes and \
         {max_segments} segments are accepted)",
        max_scans = scans::MAX_SCANS,
        max_passes = scans::MAX_PROGRESSIVE_PASSES,
        max_segments = scans::MAX_SEGMENTS
    )]
    TooComplex {
        scans: u32,
        passes: u32,
        segments: u32,
    },
    /// Decoding would need more memory than one request may use: `needed` bytes
    /// (input included) for the requested thumbnails or for one of
    /// [`MAX_THUMBNAIL_HEIGHT`], against `budget` ([`REQUEST_MEMORY_BYTES`]).
    /// Decided from the headers, so an upload that passes can always be served.
    #[error(
        "image needs {needed} bytes of memory to thumbnail, more than the {budget} bytes allowed"
    )]
    TooMuchMemory { needed: u64, budget: u64 },
    /// The file is larger than its format may be here (`max` bytes): every format but JPEG is
    /// decoded from one buffer ([`BUFFERED_MAX_BYTES`]).
    #[error("the file is larger than the {max} bytes accepted for its format")]
    FileTooLarge { max: u64 },
}

/// What [`thumbnails`] will cost, known before any pixel is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub probe: Probe,
    /// Upper bound of the heap `thumbnails` allocates for these heights, the
    /// input bytes excluded (the caller holds those and counts them itself).
    pub peak_bytes: u64,
    reduction: plan::Reduction,
}

/// Reads the headers and predicts what `thumbnails(bytes, heights, limits)`
/// needs, so the caller can reserve memory before decoding. Refuses what
/// `thumbnails` would: unsupported or corrupt headers, too many pixels, JPEG
/// scans too costly ([`ImageError::TooComplex`]), and images whose thumbnails
/// (these, or one [`MAX_THUMBNAIL_HEIGHT`] high) would not fit
/// [`REQUEST_MEMORY_BYTES`] with the input ([`ImageError::TooMuchMemory`]).
pub fn plan(bytes: &[u8], heights: &[u32], limits: &Limits) -> Result<Plan, ImageError> {
    let header = headers::read(bytes)?;
    check_pixels(&header, limits)?;
    plan_header(&header, bytes.len() as u64, heights)
}

/// Refuses a header over the pixel limit: `limits.max_pixels`, and for the formats decoded
/// at full size the count their decode can afford ([`formats::check_pixels`]).
pub(crate) fn check_pixels(header: &headers::Header, limits: &Limits) -> Result<(), ImageError> {
    if let headers::HeaderFormat::Other(other) = &header.format {
        formats::check_pixels(other, limits)?;
    }
    let pixels = u64::from(header.stored_width) * u64::from(header.stored_height);
    if pixels > limits.max_pixels {
        return Err(ImageError::TooManyPixels {
            width: header.stored_width,
            height: header.stored_height,
            max: limits.max_pixels,
        });
    }
    Ok(())
}

/// [`plan`] from headers already read, for an input of `input` bytes held while decoding
/// (0 for a JPEG streamed through its decoder).
pub(crate) fn plan_header(
    header: &headers::Header,
    input: u64,
    heights: &[u32],
) -> Result<Plan, ImageError> {
    if let Some(&zero) = heights.iter().find(|&&h| h == 0) {
        return Err(ImageError::InvalidHeight(zero));
    }
    let probe = header.probe();
    if let headers::HeaderFormat::Other(other) = &header.format {
        // Decoded at full size; the header's pixel limit already covers a
        // MAX_THUMBNAIL_HEIGHT thumbnail (formats::check_pixels).
        let peak = formats::plan(other, heights).peak;
        let needed = input.saturating_add(peak);
        if needed > REQUEST_MEMORY_BYTES {
            return Err(ImageError::TooMuchMemory {
                needed,
                budget: REQUEST_MEMORY_BYTES,
            });
        }
        return Ok(Plan {
            probe,
            peak_bytes: peak,
            reduction: plan::Reduction::FullSize,
        });
    }
    plan::estimate(
        header,
        input,
        &[plan::tallest_servable(header)],
        REQUEST_MEMORY_BYTES,
    )?;
    let sizes: Vec<(u32, u32)> = heights
        .iter()
        .map(|&h| thumbnail_size(probe.width, probe.height, h))
        .collect();
    let estimate = plan::estimate(header, input, &sizes, REQUEST_MEMORY_BYTES)?;
    Ok(Plan {
        probe,
        peak_bytes: estimate.peak,
        reduction: estimate.reduction,
    })
}

/// Reads only signatures and headers: never allocates pixel buffers. Content
/// decides the format (PNG/JPEG magic), not names. Accepts exactly what
/// [`plan`] and [`thumbnails`] accept, short of corrupt pixel data.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Probe, ImageError> {
    plan(bytes, &[], limits).map(|plan| plan.probe)
}

/// One decode, every requested height, EXIF orientation applied.
///
/// Thumbnails come back in the order of `heights` (the service passes them sorted
/// ascending and distinct). A height at or above the upright height gives the
/// full-size image re-encoded: we never upscale. Opaque images become JPEG q85
/// 4:2:0; an image with any alpha below 255 stays PNG.
pub fn thumbnails(
    bytes: &[u8],
    heights: &[u32],
    limits: &Limits,
) -> Result<(Probe, Vec<Thumbnail>), ImageError> {
    let planned = plan(bytes, heights, limits)?;
    thumbnails_planned(bytes, heights, planned)
}

/// [`thumbnails`] with the plan already made (by [`plan`] over the same bytes and heights).
pub(crate) fn thumbnails_planned(
    bytes: &[u8],
    heights: &[u32],
    planned: Plan,
) -> Result<(Probe, Vec<Thumbnail>), ImageError> {
    let probe = planned.probe;

    // The plan decoded only as much as the tallest thumbnail needs.
    let upright = match planned.reduction {
        plan::Reduction::Jpeg { block_side } => jpeg::decode_scaled(bytes, block_side)?,
        plan::Reduction::Png { factor } => png_stream::decode_reduced(bytes, factor)?,
        // Full-size decoders: their own pipeline, which keeps the full image unrotated.
        plan::Reduction::FullSize => {
            let other = headers::read_other(bytes)?.ok_or(ImageError::Unsupported)?;
            return formats::thumbnails(bytes, &other, heights).map(|t| (probe, t));
        }
    };
    resize_and_encode(upright, probe, heights).map(|t| (probe, t))
}

/// The thumbnails of `heights` from an image decoded as stored: orientation, then each size.
pub(crate) fn resize_and_encode(
    decoded: Pixels,
    probe: Probe,
    heights: &[u32],
) -> Result<Vec<Thumbnail>, ImageError> {
    let sizes: Vec<(u32, u32)> = heights
        .iter()
        .map(|&h| thumbnail_size(probe.width, probe.height, h))
        .collect();
    let upright = orientation::apply(decoded, probe.orientation);

    // Each thumbnail is encoded as soon as it is resized, so only one is held as
    // pixels. The last one resized is encoded after the decoded image is dropped,
    // so the largest encoder never coexists with it; one as large as the decoded
    // image (no downscale needed) takes its buffer instead of a copy.
    let mut resizer = resize::Resizer::new();
    let translucent = upright.is_translucent();
    let same_size = sizes
        .iter()
        .rposition(|&(w, h)| (w, h) == (upright.width, upright.height));
    let resized: Vec<usize> = (0..sizes.len()).filter(|&i| Some(i) != same_size).collect();
    let mut thumbnails: Vec<Option<Thumbnail>> = vec![None; sizes.len()];
    let mut pending = None;
    for &i in &resized {
        let (w, h) = sizes[i];
        let pixels = resizer.resize(&upright, w, h)?;
        if Some(&i) == resized.last() {
            pending = Some((i, pixels));
        } else {
            thumbnails[i] = Some(encode::encode(pixels, translucent)?);
        }
    }
    drop(resizer);
    let kept = same_size.map(|i| (i, upright.unpremultiplied()));
    for (i, pixels) in pending.into_iter().chain(kept) {
        thumbnails[i] = Some(encode::encode(pixels, translucent)?);
    }
    Ok(thumbnails.into_iter().flatten().collect())
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
