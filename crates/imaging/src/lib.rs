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
mod encode;
mod headers;
mod jpeg;
mod orientation;
mod pixels;
mod png_stream;
mod resize;

#[cfg(feature = "avif")]
pub use avif::{
    avif_from_thumbnail, encode_avif, AvifSettings, AvifThumbnail, AVIF_CONTENT_TYPE,
    AVIF_MAX_PIXELS,
};
pub use orientation::Orientation;

/// The tallest thumbnail the service asks for. The memory bound of
/// [`Limits::default`] relies on it: a PNG is box-reduced to no less than this
/// height, so its reduced buffer stays small.
pub const MAX_THUMBNAIL_HEIGHT: u32 = 2000;

/// The encodings this crate reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
}

impl Format {
    /// The media type to serve the bytes with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
        }
    }
}

/// How large an upload the service accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest `width * height` accepted, before any decoding.
    pub max_pixels: u64,
}

impl Default for Limits {
    /// 25 megapixels: every 24 MP camera photo (6000x4000) fits with a little margin.
    ///
    /// Measured by `bench/run-imaging` on the release wasm build, a 25 MP baseline
    /// or progressive JPEG, or RGBA PNG, peaks at 8–80 MiB of linear memory for the
    /// 400 and 200 px thumbnails, under the 96 MiB we allow ourselves in the 128 MB
    /// isolate. Requests whose decode would not fit anyway (a tall thumbnail of a
    /// large progressive JPEG, a big PNG input) are refused with
    /// [`ImageError::TooManyPixels`] before decoding; crates/imaging/README.md has
    /// the figures.
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
    /// The bytes are not a PNG or a JPEG (GIF, WebP, text...), or use a JPEG
    /// coding we do not decode (arithmetic, 12-bit).
    #[error("unsupported image format: only PNG and JPEG are accepted")]
    Unsupported,
    /// The bytes start like a PNG or JPEG but are truncated or invalid.
    #[error("corrupt image: {0}")]
    Corrupt(String),
    /// The declared size is larger than the limits allow, or (progressive JPEGs,
    /// and tall thumbnails of large JPEGs that need a full-scale decode) the
    /// decoder's working memory would not fit the isolate; `max` is then the
    /// pixel count that would. Refused from the headers, before any decoding.
    #[error("image of {width}x{height} pixels exceeds the limit of {max} pixels")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    /// A requested thumbnail height was zero.
    #[error("thumbnail height must be at least 1, got {0}")]
    InvalidHeight(u32),
}

/// Reads only signatures and headers: never allocates pixel buffers. Content
/// decides the format (PNG/JPEG magic), not names.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Probe, ImageError> {
    headers::read(bytes, limits).map(|header| header.probe())
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
    let header = headers::read(bytes, limits)?;
    let probe = header.probe();
    if let Some(&zero) = heights.iter().find(|&&h| h == 0) {
        return Err(ImageError::InvalidHeight(zero));
    }
    let sizes: Vec<(u32, u32)> = heights
        .iter()
        .map(|&h| thumbnail_size(probe.width, probe.height, h))
        .collect();
    // The decoded image only needs to be as tall as the tallest thumbnail.
    let tallest = sizes.iter().map(|&(_, h)| h).max().unwrap_or(1);

    let upright = match header.format {
        headers::HeaderFormat::Jpeg { coefficient_bytes } => {
            jpeg::decode_for_height(bytes, coefficient_bytes, probe.height, tallest)?
        }
        headers::HeaderFormat::Png(_) => {
            png_stream::decode_for_height(bytes, probe.height, tallest)?
        }
    };
    let upright = orientation::apply(upright, probe.orientation);

    // Resize everything first and drop the decoded image before encoding, so the
    // encoders' buffers never coexist with it. A thumbnail as large as the decoded
    // image (no downscale needed) takes its buffer instead of a copy.
    let mut resizer = resize::Resizer::new();
    let translucent = upright.is_translucent();
    let same_size = sizes
        .iter()
        .rposition(|&(w, h)| (w, h) == (upright.width, upright.height));
    let mut resized: Vec<Option<pixels::Pixels>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| match same_size {
            Some(last) if i == last => Ok(None),
            _ => resizer.resize(&upright, w, h).map(Some),
        })
        .collect::<Result<_, _>>()?;
    drop(resizer);
    if let Some(last) = same_size {
        resized[last] = Some(upright.unpremultiplied());
    } else {
        drop(upright);
    }
    let resized = resized.into_iter().flatten();

    let thumbnails = resized
        .into_iter()
        .map(|pixels| encode::encode(pixels, translucent))
        .collect::<Result<_, _>>()?;
    Ok((probe, thumbnails))
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
