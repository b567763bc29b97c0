//! A push-based PNG decoder whose memory is bounded by its output, not its input: bytes arrive in pieces of any size, box-reduced pixels come out.
//!
//! [`PngStream`] walks the chunks itself as the bytes go by and keeps none of the file:
//! IHDR, PLTE and tRNS (what decoding needs) and the head of eXIf (the orientation) are
//! collected, every other ancillary chunk (iCCP, zTXt, iTXt, tEXt...) is passed over
//! without being buffered or inflated, and the image data is inflated (`fdeflate`, the
//! inflater png itself uses) into a window of 32 KiB plus one scanline. Each scanline is
//! unfiltered, placed (Adam7) and normalised to 8 bits (`rows`), then summed into boxes
//! (`boxes`). Every chunk's CRC is checked as it passes, so a file damaged anywhere
//! is corrupt, as png and `headers` judge it.
//!
//! A 60 MiB iCCP bomb thus costs nothing, and a 100 MB PNG costs the same as a 1 MB
//! one of the same size: the boxes, one scanline three times over and the window.

mod boxes;
mod rows;

pub(crate) use boxes::{box_factor, coarsest_factor};

use crate::codec::{Fed, StreamDecoder};
use crate::exif::ORIENTATION_HEAD_BYTES as EXIF_HEAD_BYTES;
use crate::headers::{Coding, Header};
use crate::orientation::Orientation;
use crate::pixels::Pixels;
use crate::plan::{Plan, Reduction};
use crate::ImageError;
use boxes::Boxes;
use rows::{unfilter, Colour, Ihdr, Scanlines};

const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
/// The deflate window: the inflater refers back this far into what it wrote.
const LOOKBACK: usize = 32 * 1024;
/// Room the inflater writes into at a time, beyond the window and a scanline: large, so
/// the window is moved back rarely.
const INFLATE_ROOM: usize = 128 * 1024;
/// What `fdeflate::Decompressor` allocates for its Huffman tables (16 + 2 KiB of primary
/// tables and secondary ones for codes over 12 bits, a few KiB), with room to spare.
const INFLATER_TABLES: usize = 64 * 1024;
/// The most a PLTE holds: 256 entries.
const PALETTE_BYTES: usize = 3 * 256;
/// Of a tRNS, what decoding can use (a palette's 256 alphas), and one byte more to tell a
/// longer one, which png ignores.
const TRNS_KEPT: usize = 257;

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(what.to_owned())
}

/// Where the stream is in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// `have` bytes of the signature read.
    Signature { have: usize },
    /// A chunk's length and type, `have` bytes of them read.
    Head { bytes: [u8; 8], have: usize },
    /// A chunk's data, `left` bytes still to come.
    Data { kind: [u8; 4], left: u32, use_: Use },
    /// A chunk's CRC, `have` bytes of it read.
    Crc {
        kind: [u8; 4],
        bytes: [u8; 4],
        have: usize,
    },
    /// The first image data chunk has begun: the header is known, `begin` comes next.
    WaitBegin { left: u32 },
    /// IEND read; later bytes are ignored.
    Done,
}

/// What becomes of a chunk's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Use {
    /// Collected, at most this many bytes, and read when the chunk ends.
    Keep(usize),
    /// Image data: inflated.
    Image,
    /// Only its CRC is computed.
    Skip,
}

/// Everything `begin` allocates.
struct Decoding {
    ihdr: Ihdr,
    colour: Colour,
    /// Samples per pixel of the normalised rows.
    channels: usize,
    lines: Scanlines,
    inflater: Box<fdeflate::Decompressor>,
    /// Inflated bytes: `..filled` written, scanlines from `start` not yet read, and the
    /// last [`LOOKBACK`] bytes kept for the inflater.
    window: Vec<u8>,
    filled: usize,
    start: usize,
    /// The scanline being unfiltered and the one above it.
    current: Vec<u8>,
    previous: Vec<u8>,
    /// A normalised row, when the scanline is not one already.
    row: Vec<u8>,
    boxes: Boxes,
    translucent: bool,
}

/// The push-based decoder; see the module documentation.
pub(crate) struct PngStream {
    phase: Phase,
    crc: crc32fast::Hasher,
    /// The data of the chunk being kept.
    kept: Vec<u8>,
    ihdr: Option<Ihdr>,
    palette: Option<Vec<u8>>,
    /// As png keeps it: below 16 bits, the low byte of each sample of the key.
    trns: Option<Vec<u8>>,
    orientation: Orientation,
    /// The normalisation, from the chunks before the image data.
    colour: Option<Colour>,
    decoding: Option<Box<Decoding>>,
}

impl PngStream {
    pub fn new() -> Self {
        PngStream {
            phase: Phase::Signature { have: 0 },
            crc: crc32fast::Hasher::new(),
            kept: Vec::new(),
            ihdr: None,
            palette: None,
            trns: None,
            orientation: Orientation::Normal,
            colour: None,
            decoding: None,
        }
    }

    /// Upper bound of the heap this decoder holds before `begin`: itself, the chunk being
    /// kept (at most an eXIf head), the palette, tRNS and the palette's colour table.
    pub fn header_bound() -> u64 {
        (std::mem::size_of::<Self>()
            + EXIF_HEAD_BYTES
            + 2 * PALETTE_BYTES
            + TRNS_KEPT
            + std::mem::size_of::<[[u8; 4]; 256]>()) as u64
    }

    /// Upper bound of what `begin` allocates besides the boxes (which the plan counts as
    /// the reduced image and its sums) for an image `width` pixels wide: the inflater and its
    /// tables, its window, two scanlines of up to 8 bytes a pixel (16-bit RGBA) and a
    /// normalised row.
    pub fn working_bytes(width: u32) -> u64 {
        let scanline = 8 * u64::from(width) + 1;
        (std::mem::size_of::<fdeflate::Decompressor>()
            + INFLATER_TABLES
            + std::mem::size_of::<Decoding>()
            + LOOKBACK
            + INFLATE_ROOM) as u64
            + 3 * scanline
            + 4 * u64::from(width)
    }

    /// Takes the next bytes and decodes as far as they allow. Stops where the image data
    /// begins ([`Fed::Header`]) for the caller to plan and call [`PngStream::begin_reduced`], then
    /// to feed the rest of those bytes.
    pub fn feed(&mut self, data: &[u8]) -> Result<Fed, ImageError> {
        let mut at = 0;
        loop {
            let rest = data.get(at..).unwrap_or_default();
            match self.phase {
                Phase::Done => return Ok(Fed::Done),
                Phase::WaitBegin { .. } => {
                    return Err(corrupt("PNG stream fed on before begin"));
                }
                Phase::Data {
                    kind,
                    left: 0,
                    use_: _,
                } => {
                    self.phase = Phase::Crc {
                        kind,
                        bytes: [0; 4],
                        have: 0,
                    };
                }
                _ if rest.is_empty() => return Ok(Fed::NeedMore),
                Phase::Signature { have } => {
                    let n = (SIGNATURE.len() - have).min(rest.len());
                    if rest[..n] != SIGNATURE[have..have + n] {
                        return Err(corrupt("not a PNG: bad signature"));
                    }
                    at += n;
                    self.phase = if have + n == SIGNATURE.len() {
                        Phase::Head {
                            bytes: [0; 8],
                            have: 0,
                        }
                    } else {
                        Phase::Signature { have: have + n }
                    };
                }
                Phase::Head { mut bytes, have } => {
                    let n = (8 - have).min(rest.len());
                    bytes[have..have + n].copy_from_slice(&rest[..n]);
                    at += n;
                    if have + n < 8 {
                        self.phase = Phase::Head {
                            bytes,
                            have: have + n,
                        };
                        continue;
                    }
                    let [l0, l1, l2, l3, k0, k1, k2, k3] = bytes;
                    if self.start_chunk(u32::from_be_bytes([l0, l1, l2, l3]), [k0, k1, k2, k3])? {
                        return Ok(Fed::Header { consumed: at });
                    }
                }
                Phase::Data { kind, left, use_ } => {
                    let n = (left as usize).min(rest.len());
                    let piece = &rest[..n];
                    self.crc.update(piece);
                    match use_ {
                        Use::Keep(limit) => {
                            let room = limit.saturating_sub(self.kept.len());
                            self.kept.extend_from_slice(&piece[..room.min(n)]);
                        }
                        Use::Image => {
                            if let Some(decoding) = self.decoding.as_deref_mut() {
                                decoding.inflate(piece)?;
                            }
                        }
                        Use::Skip => {}
                    }
                    at += n;
                    self.phase = Phase::Data {
                        kind,
                        left: left - n as u32,
                        use_,
                    };
                }
                Phase::Crc {
                    kind,
                    mut bytes,
                    have,
                } => {
                    let n = (4 - have).min(rest.len());
                    bytes[have..have + n].copy_from_slice(&rest[..n]);
                    at += n;
                    if have + n < 4 {
                        self.phase = Phase::Crc {
                            kind,
                            bytes,
                            have: have + n,
                        };
                        continue;
                    }
                    let crc = std::mem::replace(&mut self.crc, crc32fast::Hasher::new());
                    if crc.finalize() != u32::from_be_bytes(bytes) {
                        return Err(corrupt("PNG chunk with a bad CRC"));
                    }
                    self.end_chunk(kind)?;
                }
            }
        }
    }

    /// Reads a chunk's length and type and decides what to do with its data. True when it
    /// is the first image data chunk: the header is complete.
    fn start_chunk(&mut self, len: u32, kind: [u8; 4]) -> Result<bool, ImageError> {
        if len > i32::MAX as u32 {
            return Err(corrupt("PNG chunk with an invalid length"));
        }
        self.crc.update(&kind);
        let image_started = self.colour.is_some() || self.decoding.is_some();
        let keep = |limit: usize| Use::Keep(limit.min(len as usize));
        let use_ = match &kind {
            b"IHDR" if self.ihdr.is_none() && len == 13 => keep(13),
            _ if self.ihdr.is_none() => return Err(corrupt("PNG does not start with IHDR")),
            b"IHDR" => return Err(corrupt("PNG with a second IHDR")),
            b"IDAT" if !image_started => {
                self.image_header()?;
                self.phase = Phase::WaitBegin { left: len };
                return Ok(true);
            }
            b"IDAT" => Use::Image,
            b"IEND" if !image_started => return Err(corrupt("PNG without image data")),
            b"IEND" => Use::Skip,
            b"PLTE" if image_started => Use::Skip,
            b"PLTE" if self.palette.is_some() => return Err(corrupt("PNG with a second PLTE")),
            b"PLTE" if len as usize > PALETTE_BYTES || !len.is_multiple_of(3) => {
                return Err(corrupt("PNG with an invalid PLTE"));
            }
            b"PLTE" => keep(PALETTE_BYTES),
            b"tRNS" if !image_started => keep(TRNS_KEPT),
            b"eXIf" if !image_started => keep(EXIF_HEAD_BYTES),
            // An unknown critical chunk: the image cannot be read without it, as png judges.
            [first, ..] if first.is_ascii_uppercase() => {
                return Err(corrupt("PNG with an unknown critical chunk"));
            }
            // Every other ancillary chunk passes by, unread.
            _ => Use::Skip,
        };
        if let Use::Keep(limit) = use_ {
            self.kept.clear();
            self.kept.reserve_exact(limit);
        }
        self.phase = Phase::Data {
            kind,
            left: len,
            use_,
        };
        Ok(false)
    }

    /// Acts on a chunk whose CRC was right.
    fn end_chunk(&mut self, kind: [u8; 4]) -> Result<(), ImageError> {
        self.phase = Phase::Head {
            bytes: [0; 8],
            have: 0,
        };
        let image_started = self.colour.is_some() || self.decoding.is_some();
        match &kind {
            b"IEND" => self.phase = Phase::Done,
            b"IHDR" => self.ihdr = Some(Ihdr::parse(&self.kept)?),
            b"PLTE" if !image_started => self.palette = Some(std::mem::take(&mut self.kept)),
            b"tRNS" if !image_started => self.read_trns()?,
            b"eXIf" if !image_started => {
                self.orientation =
                    crate::exif::orientation(&self.kept).unwrap_or(Orientation::Normal);
            }
            _ => {}
        }
        self.kept.clear();
        Ok(())
    }

    /// Keeps a tRNS as png does, refusing what png refuses.
    fn read_trns(&mut self) -> Result<(), ImageError> {
        let ihdr = self.ihdr.ok_or_else(|| corrupt("PNG tRNS before IHDR"))?;
        if self.trns.is_some() {
            return Err(corrupt("PNG with a second tRNS"));
        }
        let data = &self.kept;
        let low_bytes = |count: usize| -> Result<Vec<u8>, ImageError> {
            if data.len() < 2 * count {
                return Err(corrupt("PNG tRNS too short"));
            }
            Ok(if ihdr.bit_depth < 16 {
                (0..count).map(|i| data[2 * i + 1]).collect()
            } else {
                data.clone()
            })
        };
        let trns = match ihdr.colour_type {
            0 => low_bytes(1)?,
            2 => low_bytes(3)?,
            3 if self.palette.is_none() => return Err(corrupt("PNG tRNS before PLTE")),
            3 => data.clone(),
            _ => return Err(corrupt("PNG tRNS on an image with alpha")),
        };
        self.trns = Some(trns);
        Ok(())
    }

    /// The chunks before the image data are all read: the normalisation they decide.
    fn image_header(&mut self) -> Result<(), ImageError> {
        let ihdr = self.ihdr.ok_or_else(|| corrupt("PNG without IHDR"))?;
        self.colour = Some(Colour::new(
            &ihdr,
            self.palette.as_deref(),
            self.trns.as_deref(),
        )?);
        self.kept = Vec::new();
        Ok(())
    }

    /// What the chunks before the image data say, once they are read.
    pub fn header(&self) -> Option<Header> {
        let ihdr = self.ihdr?;
        self.colour
            .as_ref()
            .or(self.decoding.as_ref().map(|d| &d.colour))?;
        Some(Header {
            coding: Coding::Png {
                interlaced: ihdr.interlaced,
            },
            width: ihdr.width,
            height: ihdr.height,
            orientation: self.orientation,
            may_have_alpha: matches!(ihdr.colour_type, 4 | 6) || self.trns.is_some(),
        })
    }

    /// Allocates the boxes of `factor` x `factor` pixels and the inflater: everything
    /// [`PngStream::working_bytes`] and the plan's boxes count. Call once, after
    /// [`Fed::Header`].
    pub fn begin_reduced(&mut self, factor: u32) -> Result<(), ImageError> {
        let Phase::WaitBegin { left } = self.phase else {
            return Err(corrupt("PNG stream begun twice or before its header"));
        };
        let (Some(ihdr), Some(colour)) = (self.ihdr, self.colour.take()) else {
            return Err(corrupt("PNG stream begun before its header"));
        };
        let channels = colour.channels(&ihdr);
        let box_channels = if channels % 2 == 0 { 4 } else { 3 };
        let width = ihdr.width as usize;
        let scanline = ihdr.row_bytes(width);
        let row = if matches!(colour, Colour::Direct) {
            0
        } else {
            4 * width
        };
        let mut inflater = Box::new(fdeflate::Decompressor::new());
        // As png: the Adler-32 of the image data is not checked (its CRCs are).
        inflater.ignore_adler32();
        self.decoding = Some(Box::new(Decoding {
            ihdr,
            colour,
            channels,
            lines: Scanlines::new(ihdr),
            inflater,
            window: zeroed(LOOKBACK + INFLATE_ROOM + scanline + 1)?,
            filled: 0,
            start: 0,
            current: zeroed(scanline)?,
            previous: zeroed(scanline)?,
            row: zeroed(row)?,
            boxes: Boxes::new(
                ihdr.width,
                ihdr.height,
                factor.max(1),
                box_channels,
                ihdr.interlaced,
            ),
            translucent: false,
        }));
        self.phase = Phase::Data {
            kind: *b"IDAT",
            left,
            use_: Use::Image,
        };
        Ok(())
    }

    /// The box-reduced image. Needs IEND and every scanline the header declares.
    pub fn finish_pixels(self) -> Result<Pixels, ImageError> {
        let Some(decoding) = self.decoding else {
            return Err(corrupt("PNG truncated before its image data"));
        };
        if self.phase != Phase::Done {
            return Err(corrupt("PNG truncated before IEND"));
        }
        (*decoding).finish()
    }
}

impl Default for PngStream {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoding {
    /// Inflates a piece of image data and reads every scanline it completes.
    fn inflate(&mut self, mut input: &[u8]) -> Result<(), ImageError> {
        loop {
            if self.lines.done || self.inflater.is_done() {
                // Data past the image's last scanline is ignored, as png does.
                return Ok(());
            }
            self.make_room();
            let (used, produced) = self
                .inflater
                .read(input, &mut self.window, self.filled, false)
                .map_err(|e| ImageError::Corrupt(format!("PNG image data corrupt: {e:?}")))?;
            input = &input[used..];
            self.filled += produced;
            self.scanlines()?;
            if used == 0 && produced == 0 {
                return Ok(());
            }
        }
    }

    /// Moves the window back to the start of the buffer when the room after it runs short:
    /// what the inflater may refer back to, and the unread part of a scanline, stay.
    fn make_room(&mut self) {
        if self.window.len() - self.filled >= INFLATE_ROOM {
            return;
        }
        let from = self.start.min(self.filled.saturating_sub(LOOKBACK));
        self.window.copy_within(from..self.filled, 0);
        self.start -= from;
        self.filled -= from;
    }

    /// Reads every complete scanline in the window into the boxes.
    fn scanlines(&mut self) -> Result<(), ImageError> {
        let bpp = self.lines.filter_bytes();
        while let Some(place) = self.lines.current() {
            let end = self.start + place.raw_bytes;
            if end > self.filled {
                return Ok(());
            }
            let len = place.raw_bytes - 1;
            let filter = self.window[self.start];
            let current = &mut self.current[..len];
            let previous = (!place.first).then_some(&self.previous[..len]);
            unfilter(
                filter,
                bpp,
                previous,
                &self.window[self.start + 1..end],
                current,
            )?;
            let row = self
                .colour
                .apply(current, place.pixels, &self.ihdr, &mut self.row);
            self.translucent |= self
                .boxes
                .add_row(row, self.channels, place.x0, place.dx, place.y);
            std::mem::swap(&mut self.current, &mut self.previous);
            self.start = end;
            self.lines.advance();
        }
        Ok(())
    }

    /// Drains the inflater and turns the boxes into pixels, the working buffers freed first.
    fn finish(mut self) -> Result<Pixels, ImageError> {
        while !self.lines.done && !self.inflater.is_done() {
            self.make_room();
            let (_, produced) = self
                .inflater
                .read(&[], &mut self.window, self.filled, true)
                .map_err(|_| corrupt("PNG has fewer rows than it declares"))?;
            self.filled += produced;
            self.scanlines()?;
            if produced == 0 {
                break;
            }
        }
        if !self.lines.done {
            return Err(corrupt("PNG has fewer rows than it declares"));
        }
        let Decoding {
            boxes,
            translucent,
            inflater,
            window,
            current,
            previous,
            row,
            ..
        } = self;
        drop((inflater, window, current, previous, row));
        boxes.finish(translucent)
    }
}

/// A zeroed buffer, refused rather than aborting when it cannot be had.
fn zeroed(len: usize) -> Result<Vec<u8>, ImageError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| corrupt("PNG too large to decode"))?;
    v.resize(len, 0);
    Ok(v)
}

/// Decodes a PNG held whole into boxes of `factor` x `factor` pixels (the plan's choice,
/// see [`box_factor`]): the same decoder as a streamed upload, fed everything at once.
pub(crate) fn decode_reduced(bytes: &[u8], factor: u32) -> Result<Pixels, ImageError> {
    let mut stream = PngStream::new();
    let Fed::Header { consumed } = stream.feed(bytes)? else {
        return Err(corrupt("PNG truncated before its image data"));
    };
    stream.begin_reduced(factor)?;
    stream.feed(bytes.get(consumed..).unwrap_or_default())?;
    stream.finish_pixels()
}

impl StreamDecoder for PngStream {
    fn header_bound(&self) -> u64 {
        PngStream::header_bound()
    }

    fn feed(&mut self, data: &[u8]) -> Result<Fed, ImageError> {
        PngStream::feed(self, data)
    }

    fn size(&self) -> Option<(u32, u32)> {
        self.ihdr.map(|ihdr| (ihdr.width, ihdr.height))
    }

    fn header(&self) -> Option<Header> {
        PngStream::header(self)
    }

    fn begin(&mut self, plan: &Plan) -> Result<(), ImageError> {
        match plan.reduction {
            Reduction::Png { factor } => self.begin_reduced(factor),
            _ => Err(corrupt("a PNG planned as another format")),
        }
    }

    fn finish(self: Box<Self>) -> Result<Pixels, ImageError> {
        (*self).finish_pixels()
    }
}

#[cfg(test)]
mod tests;
