//! Shows the png decoder only the chunks decoding needs, so no metadata chunk of the upload is ever buffered or inflated.
//!
//! png 0.18 reads every iCCP, eXIf, tEXt, zTXt and iTXt chunk it meets into a
//! buffer that doubles as it grows, and inflates iCCP whole (up to its 64 MiB
//! default limit): a 30 KB PNG with a compressed ICC profile of 60 MiB made it
//! allocate 134 MiB. It can be told to ignore text and iCCP, but not eXIf
//! ("TODO: allow skipping" in its source), and any chunk a later version learns
//! to parse would be buffered the same way. So the decoder reads the PNG through
//! [`UsedChunks`], which passes the signature, the critical chunks (IHDR, PLTE,
//! IDAT, IEND and any unknown critical one, which png then refuses) and tRNS
//! (transparency, which changes the pixels), and leaves every other ancillary
//! chunk out. Nothing is copied: the reader hands out slices of the upload.
//!
//! The CRCs of the chunks left out are still checked, by headers.rs, which
//! reads every chunk before any decoder runs.

use crate::bytes::be32;
use std::io::{self, BufRead, Read, Seek, SeekFrom};

/// Signature, then chunks of length (4), type (4), data, CRC (4).
const SIGNATURE_LEN: usize = 8;
const CHUNK_OVERHEAD: usize = 12;

/// The bytes of a PNG without its unused ancillary chunks, as a `BufRead`.
pub(crate) struct UsedChunks<'a> {
    bytes: &'a [u8],
    /// Next byte to hand out.
    at: usize,
    /// End of the run of bytes being handed out (the signature or a kept
    /// chunk); at `at == end` the next chunk header decides what comes next.
    end: usize,
    /// Bytes handed out so far: the position png sees.
    position: u64,
}

impl<'a> UsedChunks<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> UsedChunks<'a> {
        UsedChunks {
            bytes,
            at: 0,
            end: SIGNATURE_LEN.min(bytes.len()),
            position: 0,
        }
    }

    /// Moves `at`/`end` to the next kept run, skipping unused chunks whole.
    fn advance(&mut self) {
        while self.at == self.end && self.at < self.bytes.len() {
            let (Some(len), Some(kind)) = (
                be32(self.bytes, self.at),
                self.bytes.get(self.at + 4..self.at + 8),
            ) else {
                // A truncated chunk header: pass the rest, png reports it.
                self.end = self.bytes.len();
                return;
            };
            let len = len as usize;
            let chunk_end = self
                .at
                .saturating_add(CHUNK_OVERHEAD)
                .saturating_add(len)
                .min(self.bytes.len());
            if is_used(kind) {
                self.end = chunk_end;
            } else {
                self.at = chunk_end;
                self.end = chunk_end;
            }
        }
    }
}

/// Critical chunks (upper-case first letter) and tRNS: what decoding needs.
fn is_used(kind: &[u8]) -> bool {
    kind.first().is_some_and(u8::is_ascii_uppercase) || kind == b"tRNS"
}

impl Read for UsedChunks<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for UsedChunks<'_> {
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

/// png 0.18 asks for `Seek` but never seeks; only the current position is
/// answered, as a stream without the left-out chunks would place it.
impl Seek for UsedChunks<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match to {
            SeekFrom::Current(0) => Ok(self.position),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the PNG reader only reads forward",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&[1, 2, 3, 4]); // CRC: not this reader's business
        out
    }

    #[test]
    fn only_the_signature_critical_chunks_and_trns_are_read() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let kept = [
            chunk(b"IHDR", &[7; 13]),
            chunk(b"tRNS", &[0, 0]),
            chunk(b"IDAT", &[9; 20]),
            chunk(b"IEND", &[]),
        ];
        png.extend_from_slice(&kept[0]);
        png.extend_from_slice(&chunk(b"iCCP", &[1; 100]));
        png.extend_from_slice(&chunk(b"zTXt", &[2; 50]));
        png.extend_from_slice(&kept[1]);
        png.extend_from_slice(&chunk(b"eXIf", &[3; 10]));
        png.extend_from_slice(&kept[2]);
        png.extend_from_slice(&chunk(b"tEXt", &[4; 10]));
        png.extend_from_slice(&kept[3]);

        let mut read = Vec::new();
        UsedChunks::new(&png).read_to_end(&mut read).unwrap();

        let expected: Vec<u8> = b"\x89PNG\r\n\x1a\n"
            .iter()
            .chain(kept.iter().flatten())
            .copied()
            .collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn a_chunk_cut_short_is_passed_on_for_the_decoder_to_refuse() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&chunk(b"IHDR", &[7; 13]));
        png.extend_from_slice(&[0, 0, 0]);

        let mut read = Vec::new();
        UsedChunks::new(&png).read_to_end(&mut read).unwrap();

        assert_eq!(read, png);
    }

    #[test]
    fn the_position_counts_only_the_bytes_handed_out() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&chunk(b"iTXt", &[1; 30]));
        png.extend_from_slice(&chunk(b"IEND", &[]));
        let mut reader = UsedChunks::new(&png);

        reader.read_to_end(&mut Vec::new()).unwrap();

        assert_eq!(reader.stream_position().unwrap(), 8 + 12);
        assert!(reader.seek(SeekFrom::Start(0)).is_err());
    }
}
