//! Shows the png decoder only the chunks decoding needs, so no metadata chunk of the upload is ever buffered or inflated.
//!
//! png 0.18 reads every iCCP, eXIf, tEXt, zTXt and iTXt chunk it meets into a
//! buffer that doubles as it grows, and inflates iCCP whole (up to its 64 MiB
//! default limit): a 30 KB PNG with a compressed ICC profile of 60 MiB made it
//! allocate 134 MiB. It can be told to ignore text and iCCP, but not eXIf
//! ("TODO: allow skipping" in its source), and any chunk a later version learns
//! to parse would be buffered the same way. So the decoder reads the PNG through
//! [`UsedChunks`] (a [`Filtered`] reader), which passes the signature, the critical chunks (IHDR, PLTE,
//! IDAT, IEND and any unknown critical one, which png then refuses) and tRNS
//! (transparency, which changes the pixels), and leaves every other ancillary
//! chunk out. Nothing is copied: the reader hands out slices of the upload.
//!
//! The CRCs of the chunks left out are still checked, by headers/mod.rs, which
//! reads every chunk before any decoder runs.

use crate::bytes::be32;
use crate::filtered::{Filtered, Runs};

/// Signature, then chunks of length (4), type (4), data, CRC (4).
const SIGNATURE_LEN: usize = 8;
const CHUNK_OVERHEAD: usize = 12;

/// The bytes of a PNG without its unused ancillary chunks, as a `BufRead`.
pub(crate) type UsedChunks<'a> = Filtered<'a, Chunks>;

/// The signature, then the chunks [`is_used`] keeps.
pub(crate) fn used_chunks(bytes: &[u8]) -> UsedChunks<'_> {
    Filtered::new(bytes, SIGNATURE_LEN, Chunks)
}

/// Walks chunk headers: a kept chunk is one run, an unused one is skipped whole.
pub(crate) struct Chunks;

impl Runs for Chunks {
    fn next_run(&mut self, bytes: &[u8], at: usize) -> (usize, usize) {
        let (Some(len), Some(kind)) = (be32(bytes, at), bytes.get(at + 4..at + 8)) else {
            // A truncated chunk header: pass the rest, png reports it.
            return (at, bytes.len());
        };
        let chunk_end = at
            .saturating_add(CHUNK_OVERHEAD)
            .saturating_add(len as usize)
            .min(bytes.len());
        if is_used(kind) {
            (at, chunk_end)
        } else {
            (chunk_end, chunk_end)
        }
    }
}

/// Critical chunks (upper-case first letter) and tRNS: what decoding needs.
fn is_used(kind: &[u8]) -> bool {
    kind.first().is_some_and(u8::is_ascii_uppercase) || kind == b"tRNS"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom};

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
        used_chunks(&png).read_to_end(&mut read).unwrap();

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
        used_chunks(&png).read_to_end(&mut read).unwrap();

        assert_eq!(read, png);
    }

    #[test]
    fn the_position_counts_only_the_bytes_handed_out() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&chunk(b"iTXt", &[1; 30]));
        png.extend_from_slice(&chunk(b"IEND", &[]));
        let mut reader = used_chunks(&png);

        reader.read_to_end(&mut Vec::new()).unwrap();

        assert_eq!(reader.stream_position().unwrap(), 8 + 12);
        assert!(reader.seek(SeekFrom::Start(0)).is_err());
    }
}
