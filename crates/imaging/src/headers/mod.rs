//! Reads every format's header (size, coding, EXIF orientation) without decoding pixels: PNG and JPEG here, the others in `other`.
//!
//! This is the gate every upload passes first, so it only walks marker and chunk
//! headers over the borrowed bytes and never allocates: a tiny file that declares
//! 100000x100000 pixels is read here (and refused by the plan) before any decoder
//! sees it. Pixel limits are the plan's business (crates/imaging/src/plan/mod.rs), since
//! some depend on the memory a coding needs.

mod other;
mod sniff;

pub(crate) use sniff::refusal;
pub use sniff::sniff;

use crate::bytes::{be16, be32};
use crate::jpeg_stream::JpegHeader;
use crate::orientation::Orientation;
use crate::scans::{self, Frame};
use crate::{exif, Format, ImageError, Probe};

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// What a header says: the one description of an upload every later step works from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub coding: Coding,
    /// Size as stored, before orientation.
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
    /// Whether the coding can carry transparency (PNG with alpha or tRNS, WebP with
    /// alpha, any GIF, 32-bit BMP, TIFF with an alpha sample).
    pub may_have_alpha: bool,
}

/// How the pixels are coded, which decides how they are decoded and what the decoder holds in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    /// The frame's geometry (as the streaming decoder reports it, or as read from the
    /// whole file's markers).
    Jpeg(JpegHeader),
    /// Adam7: rows come back to every band, so the box sums cover the whole image.
    Png { interlaced: bool },
    /// VP8 (lossy); `alpha` when an ALPH chunk comes with it. `vp8_bytes`: the
    /// VP8 chunk's length, which the decoder copies into memory.
    WebpLossy { alpha: bool, vp8_bytes: u32 },
    /// VP8L (lossless); `alpha` as its header declares.
    WebpLossless { alpha: bool },
    /// An animation: only the first frame is decoded, composited onto the canvas.
    /// `vp8_bytes`: the length of that frame's VP8 chunk (0 when it is VP8L).
    WebpAnimated { vp8_bytes: u32 },
    /// The first image descriptor's size, and whether it fills the full width of the
    /// logical screen (then it is decoded straight into the canvas, otherwise into
    /// a second buffer first).
    Gif {
        frame_width: u32,
        frame_height: u32,
        fills_width: bool,
    },
    /// Bits per pixel (1, 4, 8, 16, 24, 32).
    Bmp { bits: u16 },
    /// Samples per pixel and bytes per sample (1 or 2); `alpha` when the last
    /// sample is alpha; `cmyk` for separated (ink) images.
    Tiff {
        samples: u16,
        sample_bytes: u16,
        alpha: bool,
        cmyk: bool,
        rows_per_strip: u32,
    },
}

impl Header {
    /// A streamed JPEG's header, as its decoder read it.
    pub fn jpeg(jpeg: JpegHeader) -> Header {
        Header {
            width: jpeg.width,
            height: jpeg.height,
            orientation: jpeg.orientation,
            may_have_alpha: false,
            coding: Coding::Jpeg(jpeg),
        }
    }

    pub fn format(&self) -> Format {
        match self.coding {
            Coding::Jpeg(_) => Format::Jpeg,
            Coding::Png { .. } => Format::Png,
            Coding::WebpLossy { .. }
            | Coding::WebpLossless { .. }
            | Coding::WebpAnimated { .. } => Format::WebP,
            Coding::Gif { .. } => Format::Gif,
            Coding::Bmp { .. } => Format::Bmp,
            Coding::Tiff { .. } => Format::Tiff,
        }
    }

    /// Whether the image is decoded at full size (WebP, GIF, BMP, TIFF: crates/imaging/src/formats)
    /// rather than scaled while decoding (JPEG, PNG).
    pub fn full_size(&self) -> bool {
        !matches!(self.coding, Coding::Jpeg(_) | Coding::Png { .. })
    }

    pub fn probe(&self) -> Probe {
        let (width, height) = if self.orientation.swaps_axes() {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        };
        Probe {
            format: self.format(),
            width,
            height,
            orientation: self.orientation,
            may_have_alpha: self.may_have_alpha,
        }
    }
}

/// Reads the header of any format we decode; refuses what is not one of them by name
/// when it can ([`refusal`]).
pub(crate) fn read(bytes: &[u8]) -> Result<Header, ImageError> {
    if bytes.starts_with(PNG_SIGNATURE) {
        read_png(bytes)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        read_jpeg(bytes)
    } else if let Some(other) = other::read(bytes)? {
        Ok(other)
    } else {
        Err(refusal(bytes))
    }
}

/// The header of a WebP, GIF, BMP or TIFF; `Ok(None)` for any other bytes.
pub(crate) fn read_other(bytes: &[u8]) -> Result<Option<Header>, ImageError> {
    other::read(bytes)
}

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(what.to_owned())
}

fn read_png(bytes: &[u8]) -> Result<Header, ImageError> {
    // IHDR must come first: length 13, then width, height, depth, colour type, ...
    let ihdr = bytes
        .get(8..8 + 8 + 13)
        .ok_or_else(|| corrupt("PNG truncated in IHDR"))?;
    if &ihdr[4..8] != b"IHDR" || be32(ihdr, 0) != Some(13) {
        return Err(corrupt("PNG does not start with IHDR"));
    }
    let width = be32(ihdr, 8).unwrap_or(0);
    let height = be32(ihdr, 12).unwrap_or(0);
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(corrupt("PNG declares an invalid size"));
    }
    let color_type = ihdr[17];
    let mut has_alpha = matches!(color_type, 4 | 6);
    let mut orientation = Orientation::Normal;

    // Walk every chunk to IEND. tRNS and eXIf count only before the image data.
    // A damaged chunk makes the file corrupt: the decoder checks the CRCs of the
    // image data as it inflates it, this checks every other chunk's (they are
    // small), including those after the image data that it never reads.
    let mut at = 8;
    let mut in_header = true;
    loop {
        let (Some(len), Some(kind)) = (be32(bytes, at), bytes.get(at + 4..at + 8)) else {
            return Err(corrupt("PNG truncated before IEND"));
        };
        if len > i32::MAX as u32 {
            return Err(corrupt("PNG chunk with an invalid length"));
        }
        let data_start = at + 8;
        let data_end = data_start.saturating_add(len as usize);
        let stored_crc =
            be32(bytes, data_end).ok_or_else(|| corrupt("PNG truncated in a chunk"))?;
        if kind != b"IDAT" && crc32fast::hash(&bytes[at + 4..data_end]) != stored_crc {
            return Err(corrupt("PNG chunk with a bad CRC"));
        }
        let data = &bytes[data_start..data_end];
        match kind {
            b"IEND" => break,
            b"IDAT" => in_header = false,
            b"tRNS" if in_header => has_alpha = true,
            b"eXIf" if in_header => {
                // The head the streaming decoder reads, so both find the same orientation.
                let head = &data[..data.len().min(exif::ORIENTATION_HEAD_BYTES)];
                orientation = exif::orientation(head).unwrap_or(Orientation::Normal);
            }
            _ => {}
        }
        at = data_end + 4;
    }
    Ok(Header {
        coding: Coding::Png {
            interlaced: ihdr[20] == 1,
        },
        width,
        height,
        orientation,
        may_have_alpha: has_alpha,
    })
}

fn read_jpeg(bytes: &[u8]) -> Result<Header, ImageError> {
    let mut at = 2;
    let mut orientation = Orientation::Normal;
    let (mut metadata_bytes, mut segments) = (0, 0);
    loop {
        // Markers may be padded with any number of 0xFF bytes.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return Err(corrupt("JPEG truncated or invalid before its frame header"));
        };
        at += 2;
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            continue; // standalone markers carry no length
        }
        let len = be16(bytes, at).ok_or_else(|| corrupt("JPEG truncated in a marker"))? as usize;
        if len < 2 {
            return Err(corrupt("JPEG marker with invalid length"));
        }
        let segment = bytes
            .get(at + 2..at + len)
            .ok_or_else(|| corrupt("JPEG truncated in a marker segment"))?;
        match marker {
            0xE1 if segment.starts_with(b"Exif\0\0") => {
                orientation = exif::orientation(&segment[6..]).unwrap_or(Orientation::Normal);
            }
            // SOF0 baseline, SOF1 extended, SOF2 progressive: what we decode.
            0xC0..=0xC2 => {
                let (width, height, mut frame) = read_frame(segment, marker == 0xC2)?;
                let (after, first_scan) = scans::check(bytes, at + len, &frame, segments)?;
                frame.metadata_bytes = metadata_bytes + after;
                frame.first_scan_components = first_scan.unwrap_or(frame.components.len());
                return Ok(Header {
                    coding: Coding::Jpeg(JpegHeader::from_frame(&frame)),
                    width,
                    height,
                    orientation,
                    may_have_alpha: false,
                });
            }
            // Lossless, hierarchical and arithmetic coded frames.
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return Err(ImageError::Unsupported),
            0xDA | 0xD9 => return Err(corrupt("JPEG has no frame header")),
            _ => {}
        }
        if scans::is_metadata(marker) {
            metadata_bytes += len as u64;
        }
        segments += 1;
        at += len;
    }
}

/// The stored width and height and the frame of a SOF segment.
fn read_frame(segment: &[u8], progressive: bool) -> Result<(u32, u32, Frame), ImageError> {
    let precision = *segment
        .first()
        .ok_or_else(|| corrupt("JPEG frame header truncated"))?;
    let height = u32::from(be16(segment, 1).ok_or_else(|| corrupt("JPEG frame header truncated"))?);
    let width = u32::from(be16(segment, 3).ok_or_else(|| corrupt("JPEG frame header truncated"))?);
    let components = *segment
        .get(5)
        .ok_or_else(|| corrupt("JPEG frame header truncated"))?;
    if precision != 8 {
        return Err(ImageError::Unsupported);
    }
    if width == 0 || height == 0 {
        // A zero height means a DNL marker later on, which browsers barely support.
        return Err(corrupt("JPEG declares a zero size"));
    }
    if !matches!(components, 1 | 3 | 4) {
        return Err(corrupt("JPEG with an unusual number of components"));
    }
    Ok((width, height, Frame::parse(segment, progressive)?))
}
