//! Reads WebP, GIF, BMP and TIFF headers (size, kind of coding, EXIF orientation) without decoding or allocating.
//!
//! Like the PNG and JPEG readers beside it (headers/mod.rs), this is the gate every
//! upload passes before any decoder sees it: sizes, strip tables and frame
//! descriptors are checked over the borrowed bytes, so a bomb is refused here.

use super::{Coding, Header};
use crate::bytes::{le16, le24, le32};
use crate::exif::{self, Tiff};
use crate::orientation::Orientation;
use crate::ImageError;

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(what.to_owned())
}

/// Reads the header if the bytes are a WebP, GIF, BMP or TIFF; `Ok(None)` for anything else.
pub(crate) fn read(bytes: &[u8]) -> Result<Option<Header>, ImageError> {
    let header = if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        read_webp(bytes)?
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        read_gif(bytes)?
    } else if bytes.starts_with(b"BM") && bytes.len() >= 18 {
        read_bmp(bytes)?
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        read_tiff(bytes)?
    } else if bytes.starts_with(b"II+\0") || bytes.starts_with(b"MM\0+") {
        return Err(ImageError::Unsupported); // BigTIFF: files over 4 GB, never an upload
    } else {
        return Ok(None);
    };
    if header.width == 0 || header.height == 0 {
        return Err(corrupt("image declares a zero size"));
    }
    Ok(Some(header))
}

fn read_webp(bytes: &[u8]) -> Result<Header, ImageError> {
    let truncated = || corrupt("WebP truncated in its header");
    let first = bytes.get(12..16).ok_or_else(truncated)?;
    let payload = bytes.get(20..).ok_or_else(truncated)?;
    let (kind, width, height, orientation) = match first {
        b"VP8 " => {
            // Frame tag (3 bytes, bit 0 clear on a key frame), start code, 14-bit sizes.
            if payload.get(3..6) != Some(&[0x9D, 0x01, 0x2A]) || payload[0] & 1 != 0 {
                return Err(corrupt("WebP VP8 data does not start with a key frame"));
            }
            let w = le16(payload, 6).ok_or_else(truncated)? & 0x3FFF;
            let h = le16(payload, 8).ok_or_else(truncated)? & 0x3FFF;
            let vp8_bytes = le32(bytes, 16).ok_or_else(truncated)?;
            let kind = Coding::WebpLossy {
                alpha: false,
                vp8_bytes,
            };
            (kind, u32::from(w), u32::from(h), Orientation::Normal)
        }
        b"VP8L" => {
            let (w, h, alpha) = vp8l_size(payload).ok_or_else(truncated)?;
            let kind = Coding::WebpLossless { alpha };
            (kind, w, h, Orientation::Normal)
        }
        b"VP8X" => read_webp_extended(bytes, payload)?,
        _ => return Err(corrupt("WebP without an image chunk first")),
    };
    let may_have_alpha = match kind {
        Coding::WebpLossy { alpha, .. } | Coding::WebpLossless { alpha } => alpha,
        _ => true,
    };
    Ok(Header {
        coding: kind,
        width,
        height,
        orientation,
        may_have_alpha,
    })
}

/// The VP8L header: signature 0x2F, then 14 bits width-1, 14 bits height-1, the alpha hint.
fn vp8l_size(payload: &[u8]) -> Option<(u32, u32, bool)> {
    if *payload.first()? != 0x2F {
        return None;
    }
    let bits = le32(payload, 1)?;
    Some((
        (bits & 0x3FFF) + 1,
        ((bits >> 14) & 0x3FFF) + 1,
        (bits >> 28) & 1 == 1,
    ))
}

/// VP8X: flags, the canvas size, then chunks; walks them (headers only) for EXIF and the coding.
fn read_webp_extended(
    bytes: &[u8],
    vp8x: &[u8],
) -> Result<(Coding, u32, u32, Orientation), ImageError> {
    let truncated = || corrupt("WebP truncated in its VP8X header");
    let flags = *vp8x.first().ok_or_else(truncated)?;
    let width = le24(vp8x, 4).ok_or_else(truncated)? + 1;
    let height = le24(vp8x, 7).ok_or_else(truncated)? + 1;
    let animated = flags & 0x02 != 0;
    let mut orientation = Orientation::Normal;
    let (mut alph, mut coding) = (false, None);
    let (mut vp8_bytes, mut first_frame_checked) = (0, false);
    let mut at = 12;
    while let (Some(fourcc), Some(len)) = (bytes.get(at..at + 4), le32(bytes, at + 4)) {
        let data_start = at + 8;
        let data_end = data_start.saturating_add(len as usize);
        match fourcc {
            b"EXIF" => {
                if let Some(exif) = bytes.get(data_start..data_end) {
                    // Some writers keep the JPEG APP1 prefix.
                    let exif = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
                    orientation = exif::orientation(exif).unwrap_or(Orientation::Normal);
                }
            }
            b"ALPH" => alph = true,
            b"VP8 " | b"VP8L" if !animated => {
                // The decoder allocates for the bitstream's own size before comparing
                // it with the canvas: a 1x1 canvas must not hide a 16383x16383 frame.
                let size = bitstream_size(fourcc, bytes.get(data_start..).unwrap_or(&[]));
                if size != Some((width, height)) {
                    return Err(corrupt("WebP image size differs from its canvas"));
                }
                if coding.is_none() {
                    coding = Some(fourcc == b"VP8L");
                    vp8_bytes = len;
                }
            }
            b"ANMF" if animated && !first_frame_checked => {
                vp8_bytes = check_first_frame(
                    bytes.get(data_start..data_end).unwrap_or(&[]),
                    width,
                    height,
                )?;
                first_frame_checked = true;
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = data_end.saturating_add(len as usize & 1);
    }
    let kind = match (animated, coding) {
        (true, _) if !first_frame_checked => return Err(corrupt("WebP animation without frames")),
        (true, _) => Coding::WebpAnimated { vp8_bytes },
        (false, Some(false)) => Coding::WebpLossy {
            alpha: alph,
            vp8_bytes,
        },
        (false, Some(true)) => Coding::WebpLossless {
            alpha: flags & 0x10 != 0,
        },
        (false, None) => return Err(corrupt("WebP without image data")),
    };
    Ok((kind, width, height, orientation))
}

/// The size a VP8 or VP8L bitstream declares.
fn bitstream_size(fourcc: &[u8], payload: &[u8]) -> Option<(u32, u32)> {
    if fourcc == b"VP8L" {
        return vp8l_size(payload).map(|(w, h, _)| (w, h));
    }
    if payload.get(3..6) != Some(&[0x9D, 0x01, 0x2A]) {
        return None;
    }
    let w = le16(payload, 6)? & 0x3FFF;
    let h = le16(payload, 8)? & 0x3FFF;
    Some((u32::from(w), u32::from(h)))
}

/// The first ANMF frame (the one we decode) must lie inside the canvas, and its
/// bitstream must be the size the frame declares. Returns the length of its
/// VP8 chunk (0 for VP8L).
fn check_first_frame(anmf: &[u8], width: u32, height: u32) -> Result<u32, ImageError> {
    let invalid = || corrupt("WebP animation frame is invalid or outside its canvas");
    let x = 2 * le24(anmf, 0).ok_or_else(invalid)?;
    let y = 2 * le24(anmf, 3).ok_or_else(invalid)?;
    let w = le24(anmf, 6).ok_or_else(invalid)? + 1;
    let h = le24(anmf, 9).ok_or_else(invalid)? + 1;
    if u64::from(x) + u64::from(w) > u64::from(width)
        || u64::from(y) + u64::from(h) > u64::from(height)
    {
        return Err(invalid());
    }
    // Sub-chunks from byte 16: an optional ALPH, then VP8 or VP8L.
    let mut at = 16;
    while let (Some(fourcc), Some(len)) = (anmf.get(at..at + 4), le32(anmf, at + 4)) {
        if fourcc == b"VP8 " || fourcc == b"VP8L" {
            let payload = anmf.get(at + 8..).unwrap_or(&[]);
            return match bitstream_size(fourcc, payload) {
                Some(size) if size == (w, h) => Ok(if fourcc == b"VP8 " { len } else { 0 }),
                _ => Err(invalid()),
            };
        }
        at = (at + 8)
            .saturating_add(len as usize)
            .saturating_add(len as usize & 1);
    }
    Err(invalid())
}

fn read_gif(bytes: &[u8]) -> Result<Header, ImageError> {
    let truncated = || corrupt("GIF truncated before its first image");
    let width = u32::from(le16(bytes, 6).ok_or_else(truncated)?);
    let height = u32::from(le16(bytes, 8).ok_or_else(truncated)?);
    let flags = *bytes.get(10).ok_or_else(truncated)?;
    let mut at = 13;
    if flags & 0x80 != 0 {
        at += 3 << ((flags & 7) + 1); // global colour table
    }
    // Skip extensions (graphic control, comments, the NETSCAPE loop) up to the
    // first image descriptor; later frames are never looked at.
    loop {
        match *bytes.get(at).ok_or_else(truncated)? {
            0x21 => {
                at += 2; // introducer and label
                loop {
                    let len = usize::from(*bytes.get(at).ok_or_else(truncated)?);
                    at += 1 + len;
                    if len == 0 {
                        break;
                    }
                }
            }
            0x2C => break,
            0x3B => return Err(corrupt("GIF ends before its first image")),
            _ => return Err(corrupt("GIF with an unknown block")),
        }
    }
    let left = u32::from(le16(bytes, at + 1).ok_or_else(truncated)?);
    let top = u32::from(le16(bytes, at + 3).ok_or_else(truncated)?);
    let frame_width = u32::from(le16(bytes, at + 5).ok_or_else(truncated)?);
    let frame_height = u32::from(le16(bytes, at + 7).ok_or_else(truncated)?);
    if frame_width == 0 || frame_height == 0 {
        return Err(corrupt("GIF frame declares a zero size"));
    }
    Ok(Header {
        coding: Coding::Gif {
            frame_width,
            frame_height,
            fills_width: left == 0 && frame_width == width && top + frame_height <= height,
        },
        width,
        height,
        orientation: Orientation::Normal,
        // Transparency is a per-frame graphic control extension: only the pixels tell.
        may_have_alpha: true,
    })
}

fn read_bmp(bytes: &[u8]) -> Result<Header, ImageError> {
    let truncated = || corrupt("BMP truncated in its header");
    let info_size = le32(bytes, 14).ok_or_else(truncated)?;
    let (width, height, bits, compression) = if info_size == 12 {
        // OS/2 BITMAPCOREHEADER: 16-bit sizes, no compression.
        let w = le16(bytes, 18).ok_or_else(truncated)?;
        let h = le16(bytes, 20).ok_or_else(truncated)?;
        let bits = le16(bytes, 24).ok_or_else(truncated)?;
        (i64::from(w), i64::from(h), bits, 0)
    } else if info_size >= 40 {
        let w = le32(bytes, 18).ok_or_else(truncated)? as i32;
        let h = le32(bytes, 22).ok_or_else(truncated)? as i32;
        let bits = le16(bytes, 28).ok_or_else(truncated)?;
        let compression = le32(bytes, 30).ok_or_else(truncated)?;
        (i64::from(w), i64::from(h), bits, compression)
    } else {
        return Err(corrupt("BMP with an unknown header"));
    };
    // A negative height means rows stored top-down.
    let (width, height) = (width, height.abs());
    if width <= 0 || width > i64::from(i32::MAX) || height > i64::from(i32::MAX) {
        return Err(corrupt("BMP declares an invalid size"));
    }
    if !matches!(bits, 1 | 4 | 8 | 16 | 24 | 32) {
        return Err(corrupt("BMP with an invalid bit depth"));
    }
    // 0 plain, 1 RLE8, 2 RLE4, 3 and 6 bit fields; 4 and 5 wrap a JPEG or PNG.
    if !matches!(compression, 0..=3 | 6) {
        return Err(ImageError::Unsupported);
    }
    Ok(Header {
        coding: Coding::Bmp { bits },
        width: width as u32,
        height: height as u32,
        orientation: Orientation::Normal,
        may_have_alpha: bits == 32 || compression == 6,
    })
}

/// TIFF tags we read from the first IFD.
mod tag {
    pub const WIDTH: u16 = 256;
    pub const HEIGHT: u16 = 257;
    pub const BITS_PER_SAMPLE: u16 = 258;
    pub const COMPRESSION: u16 = 259;
    pub const PHOTOMETRIC: u16 = 262;
    pub const STRIP_OFFSETS: u16 = 273;
    pub const ORIENTATION: u16 = crate::exif::ORIENTATION;
    pub const SAMPLES_PER_PIXEL: u16 = 277;
    pub const ROWS_PER_STRIP: u16 = 278;
    pub const STRIP_BYTE_COUNTS: u16 = 279;
    pub const PLANAR_CONFIGURATION: u16 = 284;
    pub const TILE_WIDTH: u16 = 322;
    pub const TILE_OFFSETS: u16 = 324;
    pub const EXTRA_SAMPLES: u16 = 338;
    pub const SAMPLE_FORMAT: u16 = 339;
}

/// An entry we read: its type, count and where its values are.
#[derive(Clone, Copy)]
struct Values {
    kind: u16,
    count: u32,
    at: usize,
}

fn read_tiff(bytes: &[u8]) -> Result<Header, ImageError> {
    let truncated = || corrupt("TIFF truncated in its first directory");
    let tiff = Tiff::new(bytes).ok_or_else(truncated)?;
    let ifd = tiff.first_directory().ok_or_else(truncated)?;
    let count = tiff.entry_count(ifd).ok_or_else(truncated)?;
    let mut entries: [Option<Values>; 15] = [None; 15];
    let wanted = [
        tag::WIDTH,
        tag::HEIGHT,
        tag::BITS_PER_SAMPLE,
        tag::COMPRESSION,
        tag::PHOTOMETRIC,
        tag::STRIP_OFFSETS,
        tag::ORIENTATION,
        tag::SAMPLES_PER_PIXEL,
        tag::ROWS_PER_STRIP,
        tag::STRIP_BYTE_COUNTS,
        tag::PLANAR_CONFIGURATION,
        tag::TILE_WIDTH,
        tag::TILE_OFFSETS,
        tag::EXTRA_SAMPLES,
        tag::SAMPLE_FORMAT,
    ];
    for i in 0..count {
        let entry = tiff.entry(ifd, i).ok_or_else(truncated)?;
        let at = tiff.values_at(entry).ok_or_else(truncated)?;
        // Every value array must lie inside the file: no table larger than the upload.
        if at as u64 + entry.size() > bytes.len() as u64 {
            return Err(corrupt("TIFF tag values lie outside the file"));
        }
        if let Some(slot) = wanted.iter().position(|&w| w == entry.tag) {
            entries[slot] = Some(Values {
                kind: entry.kind,
                count: entry.count,
                at,
            });
        }
    }
    let get = |id: u16| {
        wanted
            .iter()
            .position(|&w| w == id)
            .and_then(|i| entries[i])
    };
    let value = |e: Values, i: u32| tiff.value(e.kind, e.at, i);
    let first = |id: u16| get(id).and_then(|e| value(e, 0));

    let width = first(tag::WIDTH).ok_or_else(|| corrupt("TIFF without a width"))?;
    let height = first(tag::HEIGHT).ok_or_else(|| corrupt("TIFF without a height"))?;
    let samples = first(tag::SAMPLES_PER_PIXEL).unwrap_or(1);
    let bits = first(tag::BITS_PER_SAMPLE).unwrap_or(1);
    let compression = first(tag::COMPRESSION).unwrap_or(1);
    let photometric =
        first(tag::PHOTOMETRIC).ok_or_else(|| corrupt("TIFF without a colour space"))?;
    let planar = first(tag::PLANAR_CONFIGURATION).unwrap_or(1);
    let sample_format = first(tag::SAMPLE_FORMAT).unwrap_or(1);
    let orientation = first(tag::ORIENTATION)
        .and_then(|v| Orientation::from_exif(v as u16))
        .unwrap_or(Orientation::Normal);
    let samples_beyond = |colours: u32| samples.saturating_sub(colours);

    // What we decode: 8- or 16-bit unsigned grey, RGB or CMYK, optionally with one
    // alpha sample, stored interleaved, uncompressed or with a lossless scheme.
    // Palettes, bilevel fax scans, YCbCr, floats and JPEG-in-TIFF are refused.
    let colours = match photometric {
        1 => 1, // grey, black is zero
        2 => 3, // RGB
        5 => 4, // CMYK
        _ => return Err(ImageError::Unsupported),
    };
    if !matches!(bits, 8 | 16) || sample_format != 1 || planar != 1 {
        return Err(ImageError::Unsupported);
    }
    // 1 none, 5 LZW, 8 and 32946 Deflate, 32773 PackBits.
    if !matches!(compression, 1 | 5 | 8 | 32946 | 32773) {
        return Err(ImageError::Unsupported);
    }
    // Writers often leave out ExtraSamples; the decoder then takes a fourth (or
    // second) sample as alpha, and so do we.
    let extra = get(tag::EXTRA_SAMPLES).map_or(samples_beyond(colours), |e| e.count);
    if samples != colours + extra || extra > 1 || (colours == 4 && extra > 0) {
        return Err(ImageError::Unsupported);
    }
    if width == 0 || height == 0 {
        return Err(corrupt("TIFF declares a zero size"));
    }

    // The strip (or tile) table must match the image size exactly: an absurd count
    // or a strip reaching past the end of the file is refused before decoding.
    let rows_per_strip;
    if get(tag::TILE_WIDTH).is_some() || get(tag::TILE_OFFSETS).is_some() {
        return Err(ImageError::Unsupported); // tiled TIFFs are rare outside GIS and print
    } else {
        rows_per_strip = first(tag::ROWS_PER_STRIP)
            .unwrap_or(height)
            .clamp(1, height);
        let strips = height.div_ceil(rows_per_strip);
        let offsets = get(tag::STRIP_OFFSETS).ok_or_else(|| corrupt("TIFF without strips"))?;
        let counts =
            get(tag::STRIP_BYTE_COUNTS).ok_or_else(|| corrupt("TIFF without strip sizes"))?;
        if offsets.count != strips || counts.count != strips {
            return Err(corrupt("TIFF strip table does not match its height"));
        }
        for i in 0..strips {
            let (Some(offset), Some(len)) = (value(offsets, i), value(counts, i)) else {
                return Err(corrupt("TIFF strip table is invalid"));
            };
            if u64::from(offset) + u64::from(len) > bytes.len() as u64 {
                return Err(corrupt("TIFF strip lies outside the file"));
            }
        }
    }
    Ok(Header {
        coding: Coding::Tiff {
            samples: samples as u16,
            sample_bytes: (bits / 8) as u16,
            alpha: extra == 1,
            cmyk: photometric == 5,
            rows_per_strip,
        },
        width,
        height,
        orientation,
        may_have_alpha: extra == 1,
    })
}
