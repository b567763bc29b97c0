//! Shows the gif decoder a GIF without the extensions before its first image that it would collect into memory.
//!
//! While it reads the header, gif 0.14 gathers every XMP and ICC application
//! extension whole (up to its 50 MB default limit, in a vector that doubles as
//! it grows): a 16x16 GIF carrying 24 MiB of "XMP" made it allocate 48 MiB,
//! none of which a thumbnail needs. So the decoder reads the GIF through
//! [`WithoutMetadata`] (a [`Filtered`] reader), which passes the header and global palette, the graphic
//! control extensions (transparency), and everything from the first image
//! descriptor on (`image` decodes the first frame only, and the extensions
//! after it are read 255 bytes at a time), and leaves out the application,
//! comment and plain-text extensions before the first image. Nothing is copied.

use crate::filtered::{Filtered, Runs};

const EXTENSION: u8 = 0x21;
const GRAPHIC_CONTROL: u8 = 0xF9;

/// The bytes of a GIF without its leading metadata extensions, as a `BufRead`.
pub(crate) type WithoutMetadata<'a> = Filtered<'a, Blocks>;

/// The header and global palette, then the blocks [`Blocks`] keeps.
pub(crate) fn without_metadata(bytes: &[u8]) -> WithoutMetadata<'_> {
    // Signature and version (6), logical screen descriptor (7), global palette.
    let flags = bytes.get(10).copied().unwrap_or(0);
    let palette = if flags & 0x80 != 0 {
        3 << ((flags & 7) + 1)
    } else {
        0
    };
    Filtered::new(bytes, 13 + palette, Blocks { in_images: false })
}

/// Walks the blocks before the first image: graphic control extensions are kept, other
/// extensions skipped whole; from the first image on, everything is one run.
pub(crate) struct Blocks {
    in_images: bool,
}

impl Runs for Blocks {
    fn next_run(&mut self, bytes: &[u8], at: usize) -> (usize, usize) {
        if self.in_images || bytes.get(at) != Some(&EXTENSION) {
            // The first image descriptor, the trailer, or damage the decoder reports.
            self.in_images = true;
            return (at, bytes.len());
        }
        let label = bytes.get(at + 1).copied();
        let block_end = extension_end(bytes, at);
        if label == Some(GRAPHIC_CONTROL) {
            (at, block_end)
        } else {
            (block_end, block_end)
        }
    }
}

/// Where the extension at `at` ends: introducer, label, sub-blocks up to an
/// empty one (or the end of the bytes).
fn extension_end(bytes: &[u8], at: usize) -> usize {
    let mut at = at + 2;
    while let Some(&len) = bytes.get(at) {
        at += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    at.min(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn extension(label: u8, data: &[u8]) -> Vec<u8> {
        let mut out = vec![EXTENSION, label];
        for piece in data.chunks(255) {
            out.push(piece.len() as u8);
            out.extend_from_slice(piece);
        }
        out.push(0);
        out
    }

    #[test]
    fn only_graphic_control_extensions_are_kept_before_the_first_image() {
        // GIF89a, a 1x1 screen with a 2-colour global palette.
        let header = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff".to_vec();
        let control = extension(GRAPHIC_CONTROL, &[1, 0, 0, 0]);
        let image = b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00".to_vec();
        let after = extension(0xFE, b"a comment after the image");
        let mut gif = header.clone();
        gif.extend_from_slice(&extension(0xFF, &[b'x'; 600]));
        gif.extend_from_slice(&control);
        gif.extend_from_slice(&extension(0xFE, b"a comment"));
        gif.extend_from_slice(&image);
        gif.extend_from_slice(&after);
        gif.push(0x3B);

        let mut read = Vec::new();
        without_metadata(&gif).read_to_end(&mut read).unwrap();

        let expected = [header, control, image, after, vec![0x3B]].concat();
        assert_eq!(read, expected);
    }

    #[test]
    fn an_extension_cut_short_ends_the_stream() {
        let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        gif.extend_from_slice(&[EXTENSION, 0xFF, 11, b'X']);

        let mut read = Vec::new();
        without_metadata(&gif).read_to_end(&mut read).unwrap();

        assert_eq!(read, &gif[..13]);
    }
}
