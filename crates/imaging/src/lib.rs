//! Probes and thumbnails PNG and JPEG uploads inside the memory of one Workers isolate.
//!
//! The crate knows nothing of Workers: it takes bytes and returns bytes, so it is
//! tested natively and compiled to wasm32 unchanged. Memory, not time, is the hard
//! limit there (128 MB per isolate), which is why every step below works on the
//! smallest image that still gives a good thumbnail: JPEGs are decoded at 1/2, 1/4
//! or 1/8 scale in the DCT domain, PNGs are box-reduced row by row while they
//! inflate (both as their bytes arrive, never holding the file), and only one
//! decoded image is alive at a time.

mod bytes;
mod codec;
mod encode;
mod exif;
mod filtered;
pub mod formats;
mod headers;
mod jpeg;
pub mod jpeg_stream;
mod orientation;
mod pixels;
mod plan;
mod png_stream;
mod resize;
mod scans;
mod stream;
mod thumbnails;

pub use headers::sniff;
pub use orientation::Orientation;
pub use pixels::Pixels;
pub use plan::{plan, probe, thumbnail_size, Plan};
pub use stream::{Step, Thumbnailer, BUFFERED_MAX_BYTES};
pub use thumbnails::thumbnails;

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
    /// Every format an upload may be, in the order people are told them.
    pub const ALL: [Format; 6] = [
        Format::Jpeg,
        Format::Png,
        Format::WebP,
        Format::Gif,
        Format::Bmp,
        Format::Tiff,
    ];

    /// [`Format::ALL`] as one phrase, for messages (a test keeps the two the same).
    pub const ACCEPTED: &'static str = "JPEG, PNG, WebP, GIF, BMP or TIFF";

    /// Whether uploads of this format are decoded as their bytes arrive, never held whole
    /// ([`Thumbnailer`], whose tests keep the two the same), so that only the upload limit
    /// bounds their file; the others are decoded from one buffer of at most
    /// [`BUFFERED_MAX_BYTES`].
    pub fn streams(self) -> bool {
        matches!(self, Format::Jpeg | Format::Png)
    }

    /// How the format is named to people.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::WebP => "WebP",
            Format::Gif => "GIF",
            Format::Bmp => "BMP",
            Format::Tiff => "TIFF",
        }
    }

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
    /// [`DEFAULT_MAX_PIXELS`].
    ///
    /// Memory is bounded separately, from the headers: [`plan`] refuses with
    /// [`ImageError::TooMuchMemory`] what would not fit [`REQUEST_MEMORY_BYTES`]
    /// (a large progressive JPEG with a big input, a wide panorama);
    /// crates/imaging/README.md has the figures.
    fn default() -> Self {
        Limits {
            max_pixels: DEFAULT_MAX_PIXELS,
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
    #[error("unsupported image format: send {}", Format::ACCEPTED)]
    Unsupported,
    /// A format recognised by its signature that cannot be decoded here: "HEIC",
    /// "HEIF", "AVIF", "JPEG XL", "SVG" or "PDF" (400; nothing is stored).
    #[error("{name} files cannot be processed; send {}", Format::ACCEPTED)]
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
    /// The file is larger than its format may be here (`max` bytes): WebP, GIF, BMP and TIFF
    /// are decoded from one buffer ([`BUFFERED_MAX_BYTES`]); JPEG and PNG stream.
    #[error("the file is larger than the {max} bytes accepted for its format")]
    FileTooLarge { max: u64 },
}

#[cfg(test)]
mod tests {
    use super::Format;

    #[test]
    fn the_accepted_phrase_names_every_format_in_order() {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        let (last, rest) = names.split_last().unwrap();
        assert_eq!(Format::ACCEPTED, format!("{} or {last}", rest.join(", ")));
    }
}
