//! A `BufRead` over borrowed bytes that hands a decoder only some runs of them, skipping the rest without copying.
//!
//! The GIF decoder collects metadata it meets into memory (formats/gif_blocks.rs
//! says how much); the format decides which runs its decoder sees ([`Runs`]), and
//! this reader hands them out as one stream. (PNG needs none: its streaming decoder
//! passes metadata chunks by itself, png_stream/mod.rs.)

use std::io::{self, BufRead, Read, Seek, SeekFrom};

/// Which runs of the bytes are handed out.
pub(crate) trait Runs {
    /// Where the next run handed out starts and ends, the last one having ended at `at`
    /// (`at < bytes.len()`). A run that is skipped whole is `(next, next)`: asked again from there.
    fn next_run(&mut self, bytes: &[u8], at: usize) -> (usize, usize);
}

/// The runs `R` chooses of `bytes`, as a `BufRead`.
pub(crate) struct Filtered<'a, R> {
    bytes: &'a [u8],
    /// Next byte to hand out.
    at: usize,
    /// End of the run being handed out; at `at == end` the next run is asked for.
    end: usize,
    /// Bytes handed out so far: the position the decoder sees.
    position: u64,
    runs: R,
}

impl<'a, R: Runs> Filtered<'a, R> {
    /// Hands out `bytes[..first_end]` first (a header every reader keeps), then what `runs` chooses.
    pub(crate) fn new(bytes: &'a [u8], first_end: usize, runs: R) -> Self {
        Filtered {
            bytes,
            at: 0,
            end: first_end.min(bytes.len()),
            position: 0,
            runs,
        }
    }

    fn advance(&mut self) {
        while self.at == self.end && self.at < self.bytes.len() {
            let (start, end) = self.runs.next_run(self.bytes, self.at);
            let end = end.min(self.bytes.len());
            self.at = start.min(end);
            self.end = end;
        }
    }
}

impl<R: Runs> Read for Filtered<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Runs> BufRead for Filtered<'_, R> {
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

/// The decoders ask for `Seek` but never seek; only the current position is answered, as a
/// stream without the skipped runs would place it.
impl<R: Runs> Seek for Filtered<'_, R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match to {
            SeekFrom::Current(0) => Ok(self.position),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this reader only reads forward",
            )),
        }
    }
}
