//! Shows the gif decoder a GIF without the extensions before its first image that it would collect into memory.
//!
//! While it reads the header, gif 0.14 gathers every XMP and ICC application
//! extension whole (up to its 50 MB default limit, in a vector that doubles as
//! it grows): a 16x16 GIF carrying 24 MiB of "XMP" made it allocate 48 MiB,
//! none of which a thumbnail needs. So the decoder reads the GIF through
//! [`WithoutMetadata`], which passes the header and global palette, the graphic
//! control extensions (transparency), and everything from the first image
//! descriptor on (`image` decodes the first frame only, and the extensions
//! after it are read 255 bytes at a time), and leaves out the application,
//! comment and plain-text extensions before the first image. Nothing is copied.

use std::io::{self, BufRead, Read, Seek, SeekFrom};

const EXTENSION: u8 = 0x21;
const GRAPHIC_CONTROL: u8 = 0xF9;

/// The bytes of a GIF without its leading metadata extensions, as a `BufRead`.
pub(crate) struct WithoutMetadata<'a> {
    bytes: &'a [u8],
    /// Next byte to hand out.
    at: usize,
    /// End of the run being handed out; at `at == end` the next block decides.
    end: usize,
    /// From the first image on, the rest is handed out as it is.
    in_images: bool,
    /// Bytes handed out so far: the position gif sees.
    position: u64,
}

impl<'a> WithoutMetadata<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> WithoutMetadata<'a> {
        // Signature and version (6), logical screen descriptor (7), global palette.
        let flags = bytes.get(10).copied().unwrap_or(0);
        let palette = if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        };
        WithoutMetadata {
            bytes,
            at: 0,
            end: (13 + palette).min(bytes.len()),
            in_images: false,
            position: 0,
        }
    }

    /// Moves `at`/`end` to the next run handed out, skipping unused extensions.
    fn advance(&mut self) {
        while self.at == self.end && self.at < self.bytes.len() {
            if self.in_images || self.bytes[self.at] != EXTENSION {
                // The first image descriptor, the trailer, or damage the decoder reports.
                self.in_images = true;
                self.end = self.bytes.len();
                return;
            }
            let label = self.bytes.get(self.at + 1).copied();
            let block_end = self.extension_end();
            if label == Some(GRAPHIC_CONTROL) {
                self.end = block_end;
            } else {
                self.at = block_end;
                self.end = block_end;
            }
        }
    }

    /// Where the extension at `at` ends: introducer, label, sub-blocks up to an
    /// empty one (or the end of the bytes).
    fn extension_end(&self) -> usize {
        let mut at = self.at + 2;
        while let Some(&len) = self.bytes.get(at) {
            at += 1 + usize::from(len);
            if len == 0 {
                break;
            }
        }
        at.min(self.bytes.len())
    }
}

impl Read for WithoutMetadata<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for WithoutMetadata<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.advance();
        Ok(&self.bytes[self.at..self.end])
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.end - self.at);
        self.at += amount;
        self.position += amount as u64;
    }
}

/// `image` asks for `Seek` but its GIF decoder never seeks; only the current
/// position is answered, as a stream without the left-out extensions places it.
impl Seek for WithoutMetadata<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match to {
            SeekFrom::Current(0) => Ok(self.position),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the GIF reader only reads forward",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        WithoutMetadata::new(&gif).read_to_end(&mut read).unwrap();

        let expected = [header, control, image, after, vec![0x3B]].concat();
        assert_eq!(read, expected);
    }

    #[test]
    fn an_extension_cut_short_ends_the_stream() {
        let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        gif.extend_from_slice(&[EXTENSION, 0xFF, 11, b'X']);

        let mut read = Vec::new();
        WithoutMetadata::new(&gif).read_to_end(&mut read).unwrap();

        assert_eq!(read, &gif[..13]);
    }
}
