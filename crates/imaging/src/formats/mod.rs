//! WebP, GIF, BMP and TIFF input, decoded at full size: the decoders and the in-place steps after them.
//!
//! Unlike JPEG (DCT scaling) and PNG (row streaming), these decoders cannot
//! scale or stream, so the plan (crates/imaging/src/plan/full_size.rs) bounds
//! their pixels by what their decode needs, and everything after the decode
//! works inside its buffer (decode.rs). Their headers are read, without
//! allocating, by crates/imaging/src/headers/other.rs.

mod decode;
mod gif_blocks;

/// Predicted peak heap of `thumbnails` for a WebP, GIF, BMP or TIFF upload (the plan's figure).
pub use crate::plan::full_size::peak_bytes;
pub(crate) use decode::thumbnails;
