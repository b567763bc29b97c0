//! Recognises formats by their signatures: the six we decode, and those we cannot decode here (HEIC, AVIF, JPEG XL, SVG, PDF), to refuse them by name.
//!
//! An upload from a phone is often HEIC and from a design tool SVG or PDF; a
//! plain "unsupported" leaves the user guessing, so the error names the format
//! and the message says what to send instead.

use crate::{Format, ImageError};

/// The format of an upload from its first bytes (content, never names).
pub fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(Format::Gif)
    } else if head.starts_with(b"BM") {
        Some(Format::Bmp)
    } else if [&b"II*\0"[..], b"MM\0*", b"II+\0", b"MM\0+"]
        .iter()
        .any(|s| head.starts_with(s))
    {
        Some(Format::Tiff)
    } else {
        None
    }
}

/// The refusal for bytes that are none of the formats we decode.
pub(crate) fn refusal(bytes: &[u8]) -> ImageError {
    match undecodable_format(bytes) {
        Some(name) => ImageError::UnsupportedFormat { name },
        None => ImageError::Unsupported,
    }
}

/// The name of a recognised format we do not decode, if the bytes are one.
fn undecodable_format(bytes: &[u8]) -> Option<&'static str> {
    if let Some(name) = isobmff_image(bytes) {
        return Some(name);
    }
    if bytes.starts_with(b"%PDF-") {
        return Some("PDF");
    }
    // A bare JPEG XL codestream, or the ISO BMFF container with its own signature box.
    if bytes.starts_with(&[0xFF, 0x0A]) || bytes.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Some("JPEG XL");
    }
    if is_svg(bytes) {
        return Some("SVG");
    }
    None
}

/// HEIC, HEIF and AVIF are all ISO BMFF: an `ftyp` box whose brands say which.
fn isobmff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.get(4..8)? != b"ftyp" {
        return None;
    }
    let size = crate::bytes::be32(bytes, 0)? as usize;
    // Major brand at 8..12, minor version at 12..16, compatible brands after.
    let ftyp = bytes.get(8..size.clamp(12, bytes.len().max(12)))?;
    let brands = std::iter::once(&ftyp[0..4]).chain(ftyp.get(8..).unwrap_or(&[]).chunks_exact(4));
    let mut heif = false;
    for brand in brands {
        match brand {
            b"avif" | b"avis" => return Some("AVIF"),
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" => return Some("HEIC"),
            b"mif1" | b"msf1" => heif = true,
            _ => {}
        }
    }
    heif.then_some("HEIF")
}

/// An XML or bare `<svg` document whose root element is `svg`.
fn is_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let head = &head[start..];
    if head.starts_with(b"<svg") {
        return true;
    }
    // An XML prolog, comments or a doctype may come first; look for the root element.
    (head.starts_with(b"<?xml") || head.starts_with(b"<!--") || head.starts_with(b"<!DOCTYPE"))
        && head.windows(4).any(|w| w == b"<svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_undecodable_format_from_its_signature() {
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf";
        let heif = b"\0\0\0\x14ftypmif1\0\0\0\0mif1";
        let cases: [(&[u8], Option<&str>); 9] = [
            (heic, Some("HEIC")),
            (avif, Some("AVIF")),
            (heif, Some("HEIF")),
            (b"%PDF-1.7\n", Some("PDF")),
            (&[0xFF, 0x0A, 0xFA], Some("JPEG XL")),
            (
                b"\xEF\xBB\xBF  <?xml version=\"1.0\"?>\n<svg xmlns=\"\">",
                Some("SVG"),
            ),
            (b"<svg width=\"10\"/>", Some("SVG")),
            (b"<?xml version=\"1.0\"?><note/>", None),
            (b"\0\0\0\x18ftypmp42\0\0\0\0isommp42", None),
        ];
        for (bytes, expected) in cases {
            assert_eq!(undecodable_format(bytes), expected, "{bytes:?}");
        }
    }
}
