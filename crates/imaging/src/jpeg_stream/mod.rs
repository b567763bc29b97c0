//! A push-based JPEG decoder whose memory is bounded by its output, not its input: bytes arrive in chunks, pixels come out DCT-scaled.
//!
//! [`JpegStream::feed`] takes the file in chunks of any size and keeps only
//! the unfinished part (one marker segment or one MCU); the header comes back
//! as [`Progress::Header`], the caller chooses the DCT scale with
//! [`JpegStream::begin`] (which allocates everything the decode will hold,
//! exactly [`JpegStream::memory_bound`]), feeds the rest and takes the RGB
//! image from [`JpegStream::finish`].
//!
//! - Sequential (baseline) images with one interleaved scan are decoded MCU row
//!   by MCU row straight into the output: no coefficient is stored, and the
//!   coefficients outside the kept `side x side` window are entropy-decoded and
//!   dropped without any IDCT work.
//! - Progressive images (and sequential ones with a scan per component) keep
//!   only the window of each block, as i16, plus a 64-bit "already nonzero"
//!   mask per block when the window holds AC coefficients (side >= 2): an AC
//!   refinement scan must know which coefficients of its band, kept or not,
//!   are nonzero to parse its bits. The mask is kept for every component from
//!   `begin` on, because which refinement scans follow is unknown until they
//!   arrive. For the same reason AC scans are entropy-decoded even when their
//!   band lies outside the window (their coefficients only set mask bits),
//!   except at side 1, where every AC scan is passed over without decoding.
//!   The IDCT runs in `finish`, MCU row by MCU row.
//!
//! Resumable feeding: the entropy state (position, bit buffer, DC predictors,
//! end-of-band run, restart count) is checkpointed before each MCU; an MCU
//! that runs out of data is rolled back and retried when more arrives, so the
//! output is the same whatever the chunking.

mod entropy;
mod idct;
mod rows;

use crate::orientation::Orientation;
use crate::pixels::Pixels;

#[cfg(test)]
mod tests;
use crate::ImageError;
use entropy::{BitState, Huffman, Reader, Window, ZIGZAG};
use rows::{Colour, Rows};

/// What [`JpegStream::feed`] reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Every byte given was used or kept; send more.
    NeedMore,
    /// The header is known ([`JpegStream::header`]); call [`JpegStream::begin`]
    /// before feeding on. Returned once.
    Header,
    /// The end of the image (EOI) was reached; later bytes are ignored.
    Done,
}

/// What a JPEG's markers before its first scan say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JpegHeader {
    pub width: u32,
    pub height: u32,
    /// 1 (grey), 3 (YCbCr or RGB) or 4 (CMYK or YCCK).
    pub components: u8,
    pub progressive: bool,
    /// From the EXIF APP1 segment, [`Orientation::Normal`] if none.
    pub orientation: Orientation,
    /// Sampling factors (h, v) of each component (the first `components`
    /// entries); a grey image's single component is always (1, 1).
    pub sampling: [(u8, u8); 4],
    /// Whether coefficients are stored until the end: progressive images, and
    /// sequential ones whose first scan does not carry every component.
    pub buffered: bool,
}

impl JpegHeader {
    /// The header of a frame read by `headers` (no EXIF needed: orientation
    /// does not change the memory).
    pub(crate) fn from_frame(frame: &crate::scans::Frame) -> JpegHeader {
        let count = frame.components.len().min(4);
        let mut sampling = [(1, 1); 4];
        if count > 1 {
            for (s, &(_, h, v)) in sampling.iter_mut().zip(&frame.components) {
                *s = (h as u8, v as u8);
            }
        }
        JpegHeader {
            width: frame.width,
            height: frame.height,
            components: count as u8,
            progressive: frame.progressive,
            orientation: Orientation::Normal,
            sampling,
            buffered: frame.progressive || (count > 1 && frame.first_scan_components < count),
        }
    }
}

/// Sizes derived from the header and the chosen scale.
#[derive(Clone, Debug)]
pub(super) struct Geometry {
    width: usize,
    height: usize,
    /// Pixels per block side in the output: 1, 2, 4 or 8.
    side: usize,
    count: usize,
    factors: [(usize, usize); 4],
    hmax: usize,
    vmax: usize,
    mcus_x: usize,
    mcus_y: usize,
}

impl Geometry {
    fn new(header: &JpegHeader, side: usize) -> Geometry {
        let count = usize::from(header.components).clamp(1, 4);
        let mut factors = [(1, 1); 4];
        for (f, &(h, v)) in factors.iter_mut().zip(&header.sampling).take(count) {
            *f = (usize::from(h).clamp(1, 4), usize::from(v).clamp(1, 4));
        }
        let hmax = factors.iter().take(count).map(|f| f.0).max().unwrap_or(1);
        let vmax = factors.iter().take(count).map(|f| f.1).max().unwrap_or(1);
        let (width, height) = (header.width as usize, header.height as usize);
        Geometry {
            width,
            height,
            side,
            count,
            factors,
            hmax,
            vmax,
            mcus_x: width.div_ceil(8 * hmax),
            mcus_y: height.div_ceil(8 * vmax),
        }
    }

    /// The decoded image's size: the DCT-scaled frame.
    fn output_size(&self) -> (usize, usize) {
        (
            (self.width * self.side).div_ceil(8),
            (self.height * self.side).div_ceil(8),
        )
    }

    /// A component's own size at the chosen scale.
    fn component_size(&self, c: usize) -> (usize, usize) {
        let (h, v) = self.factors[c];
        (
            (self.width * h * self.side).div_ceil(self.hmax * 8),
            (self.height * v * self.side).div_ceil(self.vmax * 8),
        )
    }

    /// Blocks of a component as stored: padded to whole MCUs.
    fn padded_blocks(&self, c: usize) -> (usize, usize) {
        let (h, v) = self.factors[c];
        (self.mcus_x * h, self.mcus_y * v)
    }

    /// Blocks a single-component scan of `c` codes: only those covering its pixels.
    fn scan_blocks(&self, c: usize) -> (usize, usize) {
        let (h, v) = self.factors[c];
        (
            (self.width * h).div_ceil(self.hmax).div_ceil(8),
            (self.height * v).div_ceil(self.vmax).div_ceil(8),
        )
    }
}

/// The most the stream keeps of unfinished input: a marker segment (up to
/// 65537 bytes) or an MCU, possibly twice while a piece of the next chunk is
/// appended to it, plus the rest of the 64 KiB chunk that carried the header.
const TAIL_BYTES: u64 = 2 * (65_540 + 4096) + 64 * 1024;

/// Huffman tables: 4 DC and 4 AC.
struct Tables {
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the SOI marker.
    Start,
    /// Between segments.
    Markers,
    /// Inside a segment we do not read: bytes left.
    Skip(usize),
    /// The header was returned; `begin` comes next.
    WaitBegin,
    /// Decoding the entropy-coded data of a scan.
    Scan,
    /// Passing over a scan the chosen scale does not need.
    SkipScan,
    Done,
}

/// Why `process` stopped.
enum Stop {
    NeedMore,
    Header,
    Done,
}

/// What the frame header says, kept until `begin`.
#[derive(Clone, Debug)]
struct Frame {
    width: u32,
    height: u32,
    progressive: bool,
    count: usize,
    ids: [u8; 4],
    quant_index: [usize; 4],
    sampling: [(u8, u8); 4],
}

/// What one scan needs between MCUs; its entropy state is the checkpoint.
struct ScanState {
    count: usize,
    comps: [usize; 4],
    dc: [usize; 4],
    ac: [usize; 4],
    kind: ScanKind,
    band: entropy::Band,
    total: usize,
    mcu: usize,
    preds: [i32; 4],
    eobrun: u32,
    since_restart: u32,
    bits: BitState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScanKind {
    Sequential,
    DcFirst,
    DcRefine,
    AcFirst,
    AcRefine,
}

/// Everything `begin` allocates.
struct Decoding {
    geometry: Geometry,
    window: Window,
    /// Each component's quantisation table, latched at its first scan, as the window.
    quant: [[u16; 64]; 4],
    latched: [bool; 4],
    /// Stored coefficients (buffered images only): per component, the window of each block.
    coefs: Vec<Vec<i16>>,
    /// Per component, the "already nonzero" mask of each block (progressive, side >= 2).
    nonzero: Vec<Vec<u64>>,
    rows: Rows,
    out: Vec<u8>,
    scan: Option<ScanState>,
    /// Scans decoded or skipped to their end.
    scans_done: u32,
    /// The one scan of a direct (unbuffered) image has been decoded.
    image_done: bool,
    buffered: bool,
    /// The blocks the current MCU of a buffered image touched, as they were
    /// before it: an MCU that runs out of data has written what it decoded
    /// from the zero padding, and refinements are not idempotent.
    undo: [Undo; 10],
    undo_len: usize,
}

/// One stored block as it was before an MCU: component, index, window, mask.
#[derive(Clone, Copy)]
struct Undo {
    component: usize,
    index: usize,
    block: [i16; 64],
    mask: u64,
}

/// The push-based decoder; see the module documentation.
pub struct JpegStream {
    tail: Vec<u8>,
    state: State,
    header: Option<JpegHeader>,
    frame: Option<Frame>,
    quant: [Option<[u16; 64]>; 4],
    tables: Box<Tables>,
    restart_interval: u32,
    jfif: bool,
    adobe: Option<u8>,
    orientation: Orientation,
    segments: u32,
    scans: u32,
    decoding: Option<Box<Decoding>>,
}

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(what.to_owned())
}

fn be16(data: &[u8], at: usize) -> Option<usize> {
    crate::bytes::be16(data, at).map(usize::from)
}

/// The next marker at or after `from`, skipping stuffed bytes, fill bytes and
/// anything that is not a marker: its offset and code. None when the data ends first.
fn find_marker(data: &[u8], from: usize, skip_restarts: bool) -> Option<(usize, u8)> {
    let mut at = from;
    loop {
        at += data.get(at..)?.iter().position(|&b| b == 0xFF)?;
        match *data.get(at + 1)? {
            0x00 => at += 2,
            0xFF => at += 1,
            0xD0..=0xD7 if skip_restarts => at += 2,
            code => return Some((at, code)),
        }
    }
}

impl Default for JpegStream {
    fn default() -> Self {
        Self::new()
    }
}

impl JpegStream {
    pub fn new() -> Self {
        JpegStream {
            tail: Vec::new(),
            state: State::Start,
            header: None,
            frame: None,
            quant: [None; 4],
            tables: Box::new(Tables {
                dc: [None, None, None, None],
                ac: [None, None, None, None],
            }),
            restart_interval: 0,
            jfif: false,
            adobe: None,
            orientation: Orientation::Normal,
            segments: 0,
            scans: 0,
            decoding: None,
        }
    }

    pub fn header(&self) -> Option<&JpegHeader> {
        self.header.as_ref()
    }

    /// Takes the next bytes of the file (any chunk size) and decodes as far as
    /// they allow. Keeps only the unfinished tail: one marker segment or one
    /// MCU, never the file, except that the rest of the chunk that completed
    /// the header is kept until `begin` and the next `feed` (which may be
    /// empty) decode it.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Progress, ImageError> {
        if self.state == State::Done {
            return Ok(Progress::Done);
        }
        if self.state == State::WaitBegin && self.decoding.is_none() {
            return Err(corrupt("JPEG stream fed on before begin"));
        }
        let mut off = 0;
        loop {
            let stop = if self.tail.is_empty() {
                let (used, stop) = self.process(bytes.get(off..).unwrap_or_default())?;
                off += used;
                if let Stop::NeedMore = stop {
                    // Not enough for the next unit: keep what is left.
                    let remaining = bytes.get(off..).unwrap_or_default();
                    self.tail.reserve_exact(remaining.len());
                    self.tail.extend_from_slice(remaining);
                    return Ok(Progress::NeedMore);
                }
                stop
            } else {
                // Append a piece of the input, as large as what is kept, so a
                // unit split across chunks completes without copying the chunk.
                let old = self.tail.len();
                let piece = (bytes.len() - off).min(old.max(4096));
                self.tail.reserve_exact(piece);
                self.tail
                    .extend_from_slice(bytes.get(off..off + piece).unwrap_or_default());
                let tail = std::mem::take(&mut self.tail);
                let processed = self.process(&tail);
                self.tail = tail;
                let (used, stop) = processed?;
                if used >= old {
                    // The kept bytes are used up: go on from the input itself.
                    off += used - old;
                    self.tail.clear();
                } else {
                    self.tail.drain(..used);
                    off += piece;
                }
                if let (Stop::NeedMore, true) = (&stop, off >= bytes.len()) {
                    if self.tail.is_empty() {
                        let remaining = bytes.get(off..).unwrap_or_default();
                        self.tail.extend_from_slice(remaining);
                    }
                    return Ok(Progress::NeedMore);
                }
                stop
            };
            match stop {
                Stop::Done => {
                    self.tail = Vec::new();
                    return Ok(Progress::Done);
                }
                Stop::Header => {
                    // The rest of this chunk waits for `begin`.
                    self.tail
                        .extend_from_slice(bytes.get(off..).unwrap_or_default());
                    return Ok(Progress::Header);
                }
                Stop::NeedMore => {}
            }
        }
    }

    /// Chooses the DCT scale (pixels per block side: 1, 2, 4 or 8) and
    /// allocates the output and, for buffered images, the coefficient store:
    /// everything [`JpegStream::memory_bound`] counts. Call once, after
    /// [`Progress::Header`].
    pub fn begin(&mut self, block_side: u32) -> Result<(), ImageError> {
        if self.decoding.is_some() || self.state != State::WaitBegin {
            return Err(corrupt("JPEG stream begun twice or before its header"));
        }
        if !matches!(block_side, 1 | 2 | 4 | 8) {
            return Err(corrupt("JPEG block side must be 1, 2, 4 or 8"));
        }
        let header = self
            .header
            .as_ref()
            .ok_or_else(|| corrupt("JPEG without a frame"))?;
        let colour = self.colour()?;
        let side = block_side as usize;
        let geometry = Geometry::new(header, side);
        let (ow, oh) = geometry.output_size();
        let out = zeroed::<u8>(product(&[ow, oh, 3]))?;
        let mut coefs = Vec::new();
        let mut nonzero = Vec::new();
        if header.buffered {
            for c in 0..geometry.count {
                let (bw, bh) = geometry.padded_blocks(c);
                coefs.push(zeroed::<i16>(product(&[bw, bh, side, side]))?);
                if header.progressive && side >= 2 {
                    nonzero.push(zeroed::<u64>(product(&[bw, bh]))?);
                }
            }
        }
        let rows = Rows::new(&geometry, colour);
        self.decoding = Some(Box::new(Decoding {
            window: Window::new(side),
            geometry,
            quant: [[0; 64]; 4],
            latched: [false; 4],
            coefs,
            nonzero,
            rows,
            out,
            scan: None,
            scans_done: 0,
            image_done: false,
            buffered: header.buffered,
            undo: [Undo {
                component: 0,
                index: 0,
                block: [0; 64],
                mask: 0,
            }; 10],
            undo_len: 0,
        }));
        self.state = State::Markers;
        Ok(())
    }

    /// The image at the chosen scale, RGB, as stored (the caller applies the
    /// EXIF orientation). Needs the EOI marker, or at least one whole scan
    /// before the data ended (a file cut after its last scan).
    pub fn finish(self) -> Result<Pixels, ImageError> {
        let Some(mut decoding) = self.decoding else {
            return Err(corrupt("JPEG truncated before its first scan"));
        };
        let ended = self.state == State::Done
            || (self.state == State::Markers && self.tail.is_empty() && decoding.scans_done > 0);
        if !ended || (!decoding.buffered && !decoding.image_done) {
            return Err(corrupt("JPEG truncated"));
        }
        if decoding.buffered {
            decoding.pixels_from_coefficients();
        }
        let (width, height) = decoding.geometry.output_size();
        Ok(Pixels {
            width: width as u32,
            height: height as u32,
            channels: 3,
            data: std::mem::take(&mut decoding.out),
            translucent: false,
            premultiplied: false,
        })
    }

    /// Upper bound of the heap this decoder holds before [`JpegStream::begin`]: the tail and
    /// the tables.
    pub fn header_bound() -> u64 {
        let fixed = std::mem::size_of::<Self>() + std::mem::size_of::<Tables>();
        TAIL_BYTES + fixed as u64
    }

    /// Upper bound of the heap this decoder holds at any time for this header
    /// and scale: the input tail, tables, coefficient store, row buffers and output.
    pub fn memory_bound(header: &JpegHeader, block_side: u32) -> u64 {
        let side = block_side.clamp(1, 8) as usize;
        let geometry = Geometry::new(header, side);
        let (ow, oh) = geometry.output_size();
        let output = 3 * ow as u64 * oh as u64;
        let mut store = 0u64;
        if header.buffered {
            for c in 0..geometry.count {
                let (bw, bh) = geometry.padded_blocks(c);
                let blocks = bw as u64 * bh as u64;
                store += blocks * (side * side * 2) as u64;
                if header.progressive && side >= 2 {
                    store += blocks * 8;
                }
            }
        }
        let fixed = std::mem::size_of::<Tables>()
            + std::mem::size_of::<Decoding>()
            + 4 * std::mem::size_of::<Vec<u8>>() * 3;
        TAIL_BYTES + fixed as u64 + output + store + Rows::bytes(&geometry)
    }

    /// How the components become RGB, as jpeg-decoder decides it.
    fn colour(&self) -> Result<Colour, ImageError> {
        let frame = self
            .frame
            .as_ref()
            .ok_or_else(|| corrupt("JPEG without a frame"))?;
        Ok(match frame.count {
            1 => Colour::Grey,
            3 => match (frame.ids[0], frame.ids[1], frame.ids[2]) {
                (1, 2, 3) => Colour::YCbCr,
                (b'R', b'G', b'B') => Colour::Rgb,
                (1, 34, 35) | (b'r', b'g', b'b') => return Err(ImageError::Unsupported),
                _ if self.jfif => Colour::YCbCr,
                _ => match self.adobe {
                    Some(0) => Colour::Rgb,
                    _ => Colour::YCbCr,
                },
            },
            _ => match self.adobe {
                Some(2) => Colour::Ycck,
                _ => Colour::Cmyk,
            },
        })
    }

    /// Decodes `data` as far as possible: the bytes used, and why it stopped.
    fn process(&mut self, data: &[u8]) -> Result<(usize, Stop), ImageError> {
        let mut pos = 0;
        loop {
            match self.state {
                State::Start => {
                    let Some(soi) = data.get(pos..pos + 2) else {
                        return Ok((pos, Stop::NeedMore));
                    };
                    if soi != [0xFF, 0xD8] {
                        return Err(corrupt("not a JPEG: no SOI marker"));
                    }
                    pos += 2;
                    self.state = State::Markers;
                }
                State::Markers => {
                    let (next, stop) = self.markers(data, pos)?;
                    pos = next;
                    if let Some(stop) = stop {
                        return Ok((pos, stop));
                    }
                }
                State::Skip(left) => {
                    let here = (data.len() - pos.min(data.len())).min(left);
                    pos += here;
                    if here < left {
                        self.state = State::Skip(left - here);
                        return Ok((pos, Stop::NeedMore));
                    }
                    self.state = State::Markers;
                }
                State::WaitBegin => {
                    if self.decoding.is_none() {
                        return Err(corrupt("JPEG stream fed on before begin"));
                    }
                    self.state = State::Markers;
                }
                State::Scan => {
                    let (next, stop) = self.scan(data, pos)?;
                    pos = next;
                    if let Some(stop) = stop {
                        return Ok((pos, stop));
                    }
                }
                State::SkipScan => match find_marker(data, pos, true) {
                    Some((at, _)) => {
                        pos = at;
                        self.state = State::Markers;
                        if let Some(decoding) = self.decoding.as_deref_mut() {
                            decoding.scans_done += 1;
                        }
                    }
                    None => {
                        // Keep a last 0xFF: the next byte decides what it is.
                        let end = if data.last() == Some(&0xFF) {
                            data.len() - 1
                        } else {
                            data.len()
                        };
                        return Ok((end.max(pos), Stop::NeedMore));
                    }
                },
                State::Done => return Ok((data.len(), Stop::Done)),
            }
        }
    }

    /// Reads segments from `pos` until a scan starts, the header is complete or data runs out.
    fn markers(
        &mut self,
        data: &[u8],
        mut pos: usize,
    ) -> Result<(usize, Option<Stop>), ImageError> {
        loop {
            let Some(&byte) = data.get(pos) else {
                return Ok((pos, Some(Stop::NeedMore)));
            };
            if byte != 0xFF {
                if self.decoding.is_none() {
                    return Err(corrupt("JPEG: expected a marker"));
                }
                // Garbage between scans, as libjpeg tolerates it.
                pos += 1;
                continue;
            }
            let Some(&code) = data.get(pos + 1) else {
                return Ok((pos, Some(Stop::NeedMore)));
            };
            match code {
                0xFF => {
                    pos += 1;
                    continue;
                }
                0x00 | 0x01 | 0xD0..=0xD7 => {
                    pos += 2;
                    continue;
                }
                0xD9 => {
                    if self.decoding.is_none() {
                        return Err(corrupt("JPEG ends before its first scan"));
                    }
                    self.state = State::Done;
                    return Ok((pos + 2, Some(Stop::Done)));
                }
                0xD8 => return Err(corrupt("JPEG with a second SOI marker")),
                _ => {}
            }
            let Some(len) = be16(data, pos + 2) else {
                return Ok((pos, Some(Stop::NeedMore)));
            };
            if len < 2 {
                return Err(corrupt("JPEG marker with invalid length"));
            }
            self.segments += 1;
            if self.segments > crate::scans::MAX_SEGMENTS {
                return Err(self.too_complex());
            }
            let read = matches!(code, 0xC0..=0xCF | 0xDA | 0xDB | 0xDD | 0xE0 | 0xE1 | 0xEE);
            if !read {
                // APPn (ICC, XMP...), COM, DNL: passed over, never stored.
                self.state = State::Skip(len - 2);
                return Ok((pos + 4, None));
            }
            let Some(segment) = data.get(pos + 4..pos + 2 + len) else {
                self.segments -= 1;
                return Ok((pos, Some(Stop::NeedMore)));
            };
            match code {
                0xDA => {
                    if self.header.is_none() {
                        self.segments -= 1;
                        self.header = Some(self.make_header(segment)?);
                        self.state = State::WaitBegin;
                        return Ok((pos, Some(Stop::Header)));
                    }
                    self.start_scan(segment)?;
                    return Ok((pos + 2 + len, None));
                }
                0xC4 => self.read_huffman(segment)?,
                0xDB => self.read_quant(segment)?,
                0xDD => {
                    self.restart_interval =
                        be16(segment, 0).ok_or_else(|| corrupt("JPEG DRI truncated"))? as u32;
                }
                0xC0..=0xC2 => self.read_frame(segment, code == 0xC2)?,
                0xC3 | 0xC5..=0xCF => return Err(ImageError::Unsupported),
                0xE0 if segment.starts_with(b"JFIF\0") => self.jfif = true,
                0xE1 if segment.starts_with(b"Exif\0\0") && self.header.is_none() => {
                    self.orientation =
                        crate::exif::orientation(&segment[6..]).unwrap_or(Orientation::Normal);
                }
                0xEE if segment.starts_with(b"Adobe") && segment.len() >= 12 => {
                    self.adobe = Some(segment[11]);
                }
                _ => {}
            }
            pos += 2 + len;
        }
    }

    fn too_complex(&self) -> ImageError {
        ImageError::TooComplex {
            scans: self.scans,
            passes: 0,
            segments: self.segments,
        }
    }

    fn read_frame(&mut self, segment: &[u8], progressive: bool) -> Result<(), ImageError> {
        if self.frame.is_some() {
            return Err(corrupt("JPEG with two frame headers"));
        }
        let truncated = || corrupt("JPEG frame header truncated");
        let precision = *segment.first().ok_or_else(truncated)?;
        if precision != 8 {
            return Err(ImageError::Unsupported);
        }
        let height = be16(segment, 1).ok_or_else(truncated)? as u32;
        let width = be16(segment, 3).ok_or_else(truncated)? as u32;
        let count = usize::from(*segment.get(5).ok_or_else(truncated)?);
        if width == 0 || height == 0 {
            return Err(corrupt("JPEG declares a zero size"));
        }
        if !matches!(count, 1 | 3 | 4) {
            return Err(corrupt("JPEG with an unusual number of components"));
        }
        let specs = segment.get(6..6 + 3 * count).ok_or_else(truncated)?;
        let mut frame = Frame {
            width,
            height,
            progressive,
            count,
            ids: [0; 4],
            quant_index: [0; 4],
            sampling: [(1, 1); 4],
        };
        for (i, spec) in specs.chunks_exact(3).enumerate() {
            let (h, v) = (spec[1] >> 4, spec[1] & 15);
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) || spec[2] > 3 {
                return Err(corrupt("JPEG with invalid sampling factors"));
            }
            frame.ids[i] = spec[0];
            frame.quant_index[i] = usize::from(spec[2]);
            // A lone component is coded block by block whatever it declares.
            frame.sampling[i] = if count == 1 { (1, 1) } else { (h, v) };
        }
        let hmax = frame.sampling.iter().map(|s| s.0).max().unwrap_or(1);
        let vmax = frame.sampling.iter().map(|s| s.1).max().unwrap_or(1);
        if frame.sampling[..count]
            .iter()
            .any(|&(h, v)| hmax % h != 0 || vmax % v != 0)
        {
            return Err(ImageError::Unsupported);
        }
        self.frame = Some(frame);
        Ok(())
    }

    /// The header, once the first scan's header is read.
    fn make_header(&self, sos: &[u8]) -> Result<JpegHeader, ImageError> {
        let frame = self
            .frame
            .as_ref()
            .ok_or_else(|| corrupt("JPEG scan before the frame header"))?;
        let first_scan = usize::from(*sos.first().ok_or_else(|| corrupt("JPEG SOS truncated"))?);
        Ok(JpegHeader {
            width: frame.width,
            height: frame.height,
            components: frame.count as u8,
            progressive: frame.progressive,
            orientation: self.orientation,
            sampling: frame.sampling,
            buffered: frame.progressive || (frame.count > 1 && first_scan < frame.count),
        })
    }

    fn read_quant(&mut self, mut segment: &[u8]) -> Result<(), ImageError> {
        while let Some((&pq_tq, rest)) = segment.split_first() {
            let (precision, index) = (pq_tq >> 4, usize::from(pq_tq & 15));
            let size = if precision == 0 { 64 } else { 128 };
            if precision > 1 || index > 3 {
                return Err(corrupt("JPEG with an invalid quantisation table"));
            }
            let values = rest
                .get(..size)
                .ok_or_else(|| corrupt("JPEG quantisation table truncated"))?;
            let mut table = [0u16; 64];
            for (k, &natural) in ZIGZAG.iter().enumerate() {
                table[usize::from(natural)] = if precision == 0 {
                    u16::from(values[k])
                } else {
                    u16::from_be_bytes([values[2 * k], values[2 * k + 1]])
                };
            }
            self.quant[index] = Some(table);
            segment = &rest[size..];
        }
        Ok(())
    }

    fn read_huffman(&mut self, mut segment: &[u8]) -> Result<(), ImageError> {
        while let Some((&tc_th, rest)) = segment.split_first() {
            let (class, index) = (tc_th >> 4, usize::from(tc_th & 15));
            if class > 1 || index > 3 {
                return Err(corrupt("JPEG with an invalid Huffman table"));
            }
            let counts = rest
                .get(..16)
                .ok_or_else(|| corrupt("JPEG Huffman table truncated"))?;
            let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
            let symbols = rest
                .get(16..16 + total)
                .ok_or_else(|| corrupt("JPEG Huffman table truncated"))?;
            let table = Huffman::build(counts, symbols)?;
            if class == 0 {
                self.tables.dc[index] = Some(table);
            } else {
                self.tables.ac[index] = Some(table);
            }
            segment = &rest[16 + total..];
        }
        Ok(())
    }

    /// Reads an SOS segment and either prepares its decoding or decides to pass over it.
    fn start_scan(&mut self, segment: &[u8]) -> Result<(), ImageError> {
        let bad = || corrupt("JPEG scan header invalid");
        self.scans += 1;
        if self.scans > crate::scans::MAX_SCANS {
            return Err(self.too_complex());
        }
        let frame = self.frame.as_ref().ok_or_else(bad)?;
        let decoding = self.decoding.as_deref_mut().ok_or_else(bad)?;
        let count = usize::from(*segment.first().ok_or_else(bad)?);
        if !(1..=4).contains(&count) {
            return Err(bad());
        }
        let specs = segment.get(1..1 + 2 * count).ok_or_else(bad)?;
        let tail = segment.get(1 + 2 * count..4 + 2 * count).ok_or_else(bad)?;
        let mut scan = ScanState {
            count,
            comps: [0; 4],
            dc: [0; 4],
            ac: [0; 4],
            kind: ScanKind::Sequential,
            band: entropy::Band {
                ss: usize::from(tail[0]),
                se: usize::from(tail[1]),
                al: u32::from(tail[2] & 15),
            },
            total: 0,
            mcu: 0,
            preds: [0; 4],
            eobrun: 0,
            since_restart: 0,
            bits: BitState::default(),
        };
        for (i, spec) in specs.chunks_exact(2).enumerate() {
            let c = frame.ids[..frame.count]
                .iter()
                .position(|&id| id == spec[0])
                .ok_or_else(bad)?;
            scan.comps[i] = c;
            scan.dc[i] = usize::from(spec[1] >> 4);
            scan.ac[i] = usize::from(spec[1] & 15);
            if scan.dc[i] > 3 || scan.ac[i] > 3 {
                return Err(bad());
            }
        }
        let ah = tail[2] >> 4;
        let geometry = &decoding.geometry;
        if count > 1 {
            let blocks: usize = scan.comps[..count]
                .iter()
                .map(|&c| geometry.factors[c].0 * geometry.factors[c].1)
                .sum();
            if blocks > 10 {
                return Err(bad());
            }
            scan.total = geometry.mcus_x * geometry.mcus_y;
        } else {
            let (bw, bh) = geometry.scan_blocks(scan.comps[0]);
            scan.total = bw * bh;
        }
        let band = scan.band;
        let skip = if frame.progressive {
            if band.ss > band.se || band.se > 63 || (band.ss == 0) != (band.se == 0) {
                return Err(bad());
            }
            if (band.ss > 0 && count != 1) || band.al > 13 || ah > 13 {
                return Err(bad());
            }
            scan.kind = match (band.ss, ah) {
                (0, 0) => ScanKind::DcFirst,
                (0, _) => ScanKind::DcRefine,
                (_, 0) => ScanKind::AcFirst,
                _ => ScanKind::AcRefine,
            };
            // At side 1 no AC coefficient is kept, so every AC scan is passed
            // over. With AC in the window, a refinement scan needs to know
            // which coefficients of its whole band are nonzero, as set by the
            // earlier scans of any part of that band, kept or not; which
            // refinements will follow is unknown, so every AC scan is decoded
            // (the dropped coefficients only into the nonzero mask).
            band.ss > 0 && decoding.window.side == 1
        } else {
            scan.band = entropy::Band {
                ss: 0,
                se: 63,
                al: 0,
            };
            // A direct image is drawn by its first scan; later ones add nothing.
            !decoding.buffered && decoding.image_done
        };
        if skip {
            self.state = State::SkipScan;
            return Ok(());
        }
        for i in 0..count {
            let needs_dc = matches!(scan.kind, ScanKind::Sequential | ScanKind::DcFirst);
            let needs_ac = matches!(
                scan.kind,
                ScanKind::Sequential | ScanKind::AcFirst | ScanKind::AcRefine
            );
            if (needs_dc && self.tables.dc[scan.dc[i]].is_none())
                || (needs_ac && self.tables.ac[scan.ac[i]].is_none())
            {
                return Err(corrupt("JPEG scan uses an undefined Huffman table"));
            }
            let c = scan.comps[i];
            if !decoding.latched[c] {
                let table = self.quant[frame.quant_index[c]]
                    .ok_or_else(|| corrupt("JPEG component without a quantisation table"))?;
                let side = decoding.window.side;
                for row in 0..side {
                    for col in 0..side {
                        decoding.quant[c][row * side + col] = table[row * 8 + col];
                    }
                }
                decoding.latched[c] = true;
            }
        }
        decoding.scan = Some(scan);
        self.state = State::Scan;
        Ok(())
    }

    /// Decodes MCUs of the current scan from `pos`.
    fn scan(&mut self, data: &[u8], pos: usize) -> Result<(usize, Option<Stop>), ImageError> {
        let interval = self.restart_interval;
        let tables = &*self.tables;
        let decoding = self
            .decoding
            .as_deref_mut()
            .ok_or_else(|| corrupt("JPEG scan without a decoder"))?;
        let Some(mut scan) = decoding.scan.take() else {
            return Err(corrupt("JPEG scan without a header"));
        };
        let mut reader = Reader::new(data, pos, scan.bits);
        loop {
            if scan.mcu >= scan.total {
                if !decoding.buffered {
                    decoding.rows.finish(&mut decoding.out);
                    decoding.image_done = true;
                }
                decoding.scans_done += 1;
                self.state = State::Markers;
                return Ok((reader.pos, None));
            }
            if interval > 0 && scan.since_restart >= interval {
                // The bits left are the padding before the restart marker.
                reader.reset();
                let Some((at, code)) = find_marker(data, reader.pos, false) else {
                    scan.bits = BitState::default();
                    let pos = reader.pos;
                    decoding.scan = Some(scan);
                    return Ok((pos, Some(Stop::NeedMore)));
                };
                reader.pos = if (0xD0..=0xD7).contains(&code) {
                    at + 2
                } else {
                    at
                };
                scan.preds = [0; 4];
                scan.eobrun = 0;
                scan.since_restart = 0;
            }
            let checkpoint = (reader.pos, reader.bits, scan.preds, scan.eobrun);
            decoding.undo_len = 0;
            let result = decoding.decode_mcu(&mut reader, tables, &mut scan);
            if reader.starved() && (result.is_err() || reader.overran()) {
                decoding.restore();
                let (pos, bits, preds, eobrun) = checkpoint;
                scan.bits = bits;
                scan.preds = preds;
                scan.eobrun = eobrun;
                decoding.scan = Some(scan);
                return Ok((pos, Some(Stop::NeedMore)));
            }
            result?;
            scan.mcu += 1;
            scan.since_restart += 1;
            scan.bits = reader.bits;
            if !decoding.buffered && scan.mcu % decoding.geometry.mcus_x.max(1) == 0 {
                decoding.rows.row_done(&mut decoding.out);
            }
        }
    }
}

/// A product of sizes, saturated: on wasm32 a 65535x65535 frame overflows usize,
/// and `zeroed` then refuses the allocation.
fn product(factors: &[usize]) -> usize {
    factors
        .iter()
        .try_fold(1usize, |acc, &f| acc.checked_mul(f))
        .unwrap_or(usize::MAX)
}

/// A zeroed vector, refused rather than aborting when it cannot be had.
fn zeroed<T: Clone + Default>(len: usize) -> Result<Vec<T>, ImageError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| corrupt("JPEG too large to decode"))?;
    v.resize(len, T::default());
    Ok(v)
}

impl Decoding {
    fn decode_mcu(
        &mut self,
        reader: &mut Reader,
        tables: &Tables,
        scan: &mut ScanState,
    ) -> Result<(), ImageError> {
        let g = &self.geometry;
        let side = self.window.side;
        let k2 = side * side;
        let (mx, my) = (scan.mcu % g.mcus_x.max(1), scan.mcu / g.mcus_x.max(1));
        let missing = || corrupt("JPEG scan uses an undefined Huffman table");
        for i in 0..scan.count {
            let c = scan.comps[i];
            let (h, v) = if scan.count > 1 || !self.buffered {
                g.factors[c]
            } else {
                (1, 1)
            };
            let dc = tables.dc.get(scan.dc[i]).and_then(Option::as_ref);
            let ac = tables.ac.get(scan.ac[i]).and_then(Option::as_ref);
            for y in 0..v {
                for x in 0..h {
                    if !self.buffered {
                        let mut block = [0i16; 64];
                        let (Some(dc), Some(ac)) = (dc, ac) else {
                            return Err(missing());
                        };
                        entropy::sequential_block(
                            reader,
                            dc,
                            ac,
                            &mut scan.preds[i],
                            &self.window,
                            &mut block[..k2],
                        )?;
                        let (out, stride) = self.rows.block(c, mx * h + x, y);
                        idct::idct(side, &block, &self.quant[c], out, stride);
                        continue;
                    }
                    let (bx, by) = if scan.count > 1 {
                        (mx * h + x, my * v + y)
                    } else {
                        let (bw, _) = g.scan_blocks(c);
                        (scan.mcu % bw.max(1), scan.mcu / bw.max(1))
                    };
                    let (pw, _) = g.padded_blocks(c);
                    let index = by * pw + bx;
                    let block = self
                        .coefs
                        .get_mut(c)
                        .and_then(|s| s.get_mut(index * k2..(index + 1) * k2))
                        .ok_or_else(|| corrupt("JPEG block outside the image"))?;
                    let mut spare = 0u64;
                    if let Some(undo) = self.undo.get_mut(self.undo_len) {
                        undo.component = c;
                        undo.index = index;
                        undo.block[..k2].copy_from_slice(block);
                        undo.mask = self
                            .nonzero
                            .get(c)
                            .and_then(|s| s.get(index))
                            .copied()
                            .unwrap_or(0);
                        self.undo_len += 1;
                    }
                    let nonzero = self
                        .nonzero
                        .get_mut(c)
                        .and_then(|s| s.get_mut(index))
                        .unwrap_or(&mut spare);
                    match scan.kind {
                        ScanKind::Sequential => {
                            let (Some(dc), Some(ac)) = (dc, ac) else {
                                return Err(missing());
                            };
                            block.fill(0);
                            entropy::sequential_block(
                                reader,
                                dc,
                                ac,
                                &mut scan.preds[i],
                                &self.window,
                                block,
                            )?;
                        }
                        ScanKind::DcFirst => {
                            let dc = dc.ok_or_else(missing)?;
                            entropy::dc_first(reader, dc, &mut scan.preds[i], scan.band.al, block)?;
                        }
                        ScanKind::DcRefine => entropy::dc_refine(reader, scan.band.al, block),
                        ScanKind::AcFirst => {
                            let ac = ac.ok_or_else(missing)?;
                            entropy::ac_first(
                                reader,
                                ac,
                                scan.band,
                                &mut scan.eobrun,
                                &self.window,
                                block,
                                nonzero,
                            )?;
                        }
                        ScanKind::AcRefine => {
                            let ac = ac.ok_or_else(missing)?;
                            entropy::ac_refine(
                                reader,
                                ac,
                                scan.band,
                                &mut scan.eobrun,
                                &self.window,
                                block,
                                nonzero,
                            )?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Puts back the blocks an MCU that ran out of data touched.
    fn restore(&mut self) {
        let k2 = self.window.side * self.window.side;
        for undo in self.undo.iter().take(self.undo_len) {
            let (c, index) = (undo.component, undo.index);
            if let Some(dst) = self
                .coefs
                .get_mut(c)
                .and_then(|s| s.get_mut(index * k2..(index + 1) * k2))
            {
                dst.copy_from_slice(&undo.block[..k2]);
            }
            if let Some(m) = self.nonzero.get_mut(c).and_then(|s| s.get_mut(index)) {
                *m = undo.mask;
            }
        }
        self.undo_len = 0;
    }

    /// Buffered images: the IDCT of every stored block, MCU row by MCU row, into the output.
    fn pixels_from_coefficients(&mut self) {
        let g = self.geometry.clone();
        let side = g.side;
        let k2 = side * side;
        for m in 0..g.mcus_y {
            for c in 0..g.count {
                let (_, v) = g.factors[c];
                let (pw, _) = g.padded_blocks(c);
                for y in 0..v {
                    for bx in 0..pw {
                        let index = (m * v + y) * pw + bx;
                        let Some(block) = self
                            .coefs
                            .get(c)
                            .and_then(|s| s.get(index * k2..(index + 1) * k2))
                        else {
                            continue;
                        };
                        let (out, stride) = self.rows.block(c, bx, y);
                        idct::idct(side, block, &self.quant[c], out, stride);
                    }
                }
            }
            self.rows.row_done(&mut self.out);
        }
        self.rows.finish(&mut self.out);
    }
}

impl crate::codec::StreamDecoder for JpegStream {
    fn header_bound(&self) -> u64 {
        JpegStream::header_bound()
    }

    /// The rest of the piece that completed the header is kept (in the tail) and decoded by
    /// the first feed after `begin`, even an empty one: the whole piece counts as consumed.
    fn feed(&mut self, data: &[u8]) -> Result<crate::codec::Fed, ImageError> {
        use crate::codec::Fed;
        Ok(match JpegStream::feed(self, data)? {
            Progress::NeedMore => Fed::NeedMore,
            Progress::Header => Fed::Header {
                consumed: data.len(),
            },
            Progress::Done => Fed::Done,
        })
    }

    fn size(&self) -> Option<(u32, u32)> {
        self.frame.as_ref().map(|frame| (frame.width, frame.height))
    }

    fn header(&self) -> Option<crate::headers::Header> {
        JpegStream::header(self).map(|h| crate::headers::Header::jpeg(*h))
    }

    fn begin(&mut self, plan: &crate::plan::Plan) -> Result<(), ImageError> {
        match plan.reduction {
            crate::plan::Reduction::Jpeg { block_side } => JpegStream::begin(self, block_side),
            _ => Err(corrupt("a JPEG planned as another format")),
        }
    }

    fn finish(self: Box<Self>) -> Result<Pixels, ImageError> {
        JpegStream::finish(*self)
    }
}
