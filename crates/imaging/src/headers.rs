//! Reads PNG and JPEG headers (size, coding, EXIF orientation) without decoding pixels.
//!
//! This is the gate every upload passes first, so it only walks marker and chunk
//! headers over the borrowed bytes and never allocates: a tiny file that declares
//! 100000x100000 pixels is refused here before any decoder sees it.

use crate::orientation::Orientation;
use crate::{Format, ImageError, Limits, Probe};

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Progressive JPEGs keep every coefficient (2 bytes each) until the last scan;
/// above this we refuse them whatever their pixel count, to stay in the isolate.
pub(crate) const MAX_PROGRESSIVE_COEFFICIENT_BYTES: u64 = 80 * 1024 * 1024;

#[derive(Clone, Debug)]
pub(crate) struct Header {
    pub format: HeaderFormat,
    /// Size as stored, before orientation.
    pub stored_width: u32,
    pub stored_height: u32,
    pub orientation: Orientation,
}

#[derive(Clone, Debug)]
pub(crate) enum HeaderFormat {
    /// Bytes of DCT coefficients a progressive JPEG keeps while decoding (0 if baseline).
    Jpeg {
        coefficient_bytes: u64,
    },
    Png(PngHeader),
    /// WebP, GIF, BMP or TIFF (crates/imaging/src/formats).
    Other(crate::formats::OtherHeader),
}

#[derive(Clone, Debug)]
pub(crate) struct PngHeader {
    pub has_alpha: bool,
}

impl Header {
    pub fn probe(&self) -> Probe {
        let (width, height) = if self.orientation.swaps_axes() {
            (self.stored_height, self.stored_width)
        } else {
            (self.stored_width, self.stored_height)
        };
        let (format, may_have_alpha) = match &self.format {
            HeaderFormat::Jpeg { .. } => (Format::Jpeg, false),
            HeaderFormat::Png(png) => (Format::Png, png.has_alpha),
            HeaderFormat::Other(other) => (other.format, other.may_have_alpha),
        };
        Probe {
            format,
            width,
            height,
            orientation: self.orientation,
            may_have_alpha,
        }
    }
}

pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Header, ImageError> {
    let header = if bytes.starts_with(PNG_SIGNATURE) {
        read_png(bytes)?
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        read_jpeg(bytes)?
    } else if let Some(other) = crate::formats::read(bytes, limits)? {
        Header {
            format: HeaderFormat::Other(other),
            stored_width: other.width,
            stored_height: other.height,
            orientation: other.orientation,
        }
    } else {
        return Err(crate::formats::refusal(bytes));
    };
    let pixels = u64::from(header.stored_width) * u64::from(header.stored_height);
    if pixels > limits.max_pixels {
        return Err(ImageError::TooManyPixels {
            width: header.stored_width,
            height: header.stored_height,
            max: limits.max_pixels,
        });
    }
    Ok(header)
}

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(what.to_owned())
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
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

    // Walk chunk headers up to the first IDAT for tRNS and eXIf; both must precede it.
    let mut at = 8;
    while let (Some(len), Some(kind)) = (be32(bytes, at), bytes.get(at + 4..at + 8)) {
        let data_start = at + 8;
        let data_end = data_start.saturating_add(len as usize);
        match kind {
            b"IDAT" | b"IEND" => break,
            b"tRNS" => has_alpha = true,
            b"eXIf" => {
                if let Some(exif) = bytes.get(data_start..data_end) {
                    orientation = exif_orientation(exif).unwrap_or(Orientation::Normal);
                }
            }
            _ => {}
        }
        at = data_end.saturating_add(4);
    }
    Ok(Header {
        format: HeaderFormat::Png(PngHeader { has_alpha }),
        stored_width: width,
        stored_height: height,
        orientation,
    })
}

fn read_jpeg(bytes: &[u8]) -> Result<Header, ImageError> {
    let mut at = 2;
    let mut orientation = Orientation::Normal;
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
                orientation = exif_orientation(&segment[6..]).unwrap_or(Orientation::Normal);
            }
            // SOF0 baseline, SOF1 extended, SOF2 progressive: what we decode.
            0xC0..=0xC2 => return read_frame(segment, marker == 0xC2, orientation),
            // Lossless, hierarchical and arithmetic coded frames.
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return Err(ImageError::Unsupported),
            0xDA | 0xD9 => return Err(corrupt("JPEG has no frame header")),
            _ => {}
        }
        at += len;
    }
}

fn read_frame(
    segment: &[u8],
    progressive: bool,
    orientation: Orientation,
) -> Result<Header, ImageError> {
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
    let mut coefficient_bytes = 0;
    if progressive {
        coefficient_bytes = progressive_coefficient_bytes(segment, width, height)?;
        if coefficient_bytes > MAX_PROGRESSIVE_COEFFICIENT_BYTES {
            // Report it as a pixel limit: the ceiling for this image is proportionally lower.
            let pixels = u64::from(width) * u64::from(height);
            return Err(ImageError::TooManyPixels {
                width,
                height,
                max: pixels * MAX_PROGRESSIVE_COEFFICIENT_BYTES / coefficient_bytes,
            });
        }
    }
    Ok(Header {
        format: HeaderFormat::Jpeg { coefficient_bytes },
        stored_width: width,
        stored_height: height,
        orientation,
    })
}

/// What jpeg-decoder keeps for a progressive image: 64 i16 per block, per component.
fn progressive_coefficient_bytes(
    segment: &[u8],
    width: u32,
    height: u32,
) -> Result<u64, ImageError> {
    let components = usize::from(segment[5]);
    let specs = segment
        .get(6..6 + 3 * components)
        .ok_or_else(|| corrupt("JPEG frame header truncated"))?;
    let factors = || {
        specs
            .chunks_exact(3)
            .map(|c| (u32::from(c[1] >> 4).max(1), u32::from(c[1] & 15).max(1)))
    };
    let h_max = factors().map(|f| f.0).max().unwrap_or(1);
    let v_max = factors().map(|f| f.1).max().unwrap_or(1);
    let mcu_cols = u64::from(width.div_ceil(8 * h_max));
    let mcu_rows = u64::from(height.div_ceil(8 * v_max));
    Ok(factors()
        .map(|(h, v)| mcu_cols * u64::from(h) * mcu_rows * u64::from(v) * 128)
        .sum())
}

/// Finds tag 0x0112 in IFD0 of a TIFF-structured EXIF block.
pub(crate) fn exif_orientation(tiff: &[u8]) -> Option<Orientation> {
    let little = match tiff.get(0..4)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let entries = usize::from(u16_at(ifd)?);
    (0..entries)
        .map(|i| ifd + 2 + 12 * i)
        .find(|&entry| u16_at(entry) == Some(0x0112))
        .and_then(|entry| Orientation::from_exif(u16_at(entry + 8)?))
}
