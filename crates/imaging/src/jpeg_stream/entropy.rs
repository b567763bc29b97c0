//! Entropy decoding of JPEG scans: the bit reader over byte-stuffed data, Huffman tables, and the block decoders of sequential and progressive scans.
//!
//! The reader never blocks: when the buffered bytes run out it feeds zero bits
//! and counts them (`pad`), so the caller can tell afterwards that an MCU used
//! bits it does not have yet, roll back to its checkpoint and wait for more.

use crate::ImageError;

/// Natural (row-major) index of each zigzag position.
pub(super) const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Bits of a lookup in the fast Huffman table; longer codes take the slow path.
const FAST_BITS: u32 = 9;

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(what.to_owned())
}

/// The bit buffer between two reads: what a checkpoint saves.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct BitState {
    /// Bits not yet consumed, most significant first.
    acc: u64,
    /// Valid bits in `acc`, padding included.
    nbits: u32,
    /// Zero bits appended at the bottom of `acc` because the data ran out.
    pad: u32,
}

impl BitState {
    /// Drops the zero padding of a buffer that ran dry, so that bytes arriving
    /// later are read after the real bits.
    pub fn unpadded(self) -> BitState {
        let nbits = self.nbits.saturating_sub(self.pad);
        let acc = if nbits == 0 {
            0
        } else {
            self.acc & (u64::MAX << (64 - nbits))
        };
        BitState { acc, nbits, pad: 0 }
    }
}

/// Reads entropy-coded bits from `data[pos..]`, stopping at any marker.
///
/// `Copy` so that a block's decoding can work on a copy held in registers (see
/// [`sequential_block`]).
#[derive(Clone, Copy)]
pub(super) struct Reader<'a> {
    data: &'a [u8],
    pub pos: usize,
    pub bits: BitState,
    /// A marker (not a stuffed 0xFF00) was reached: the bits after it are padding for good.
    pub marker: bool,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], pos: usize, bits: BitState) -> Self {
        Reader {
            data,
            pos,
            bits: bits.unpadded(),
            marker: false,
        }
    }

    /// Whether bits past the end of the buffered data were consumed.
    pub fn overran(&self) -> bool {
        self.bits.nbits < self.bits.pad
    }

    /// Whether the reader fed padding because the buffer ended (not at a marker).
    pub fn starved(&self) -> bool {
        self.bits.pad > 0 && !self.marker
    }

    /// Forgets buffered bits: at a restart marker and at the end of a scan.
    pub fn reset(&mut self) {
        self.bits = BitState::default();
        self.marker = false;
    }

    #[inline(always)]
    fn refill(&mut self) {
        // Fast path: eight plain bytes at once.
        if self.bits.pad == 0 {
            if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
                let word = u64::from_be_bytes([
                    chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
                ]);
                // No 0xFF byte among them: take as many whole bytes as fit.
                if !contains_ff(word) {
                    let take = (64 - self.bits.nbits) / 8;
                    let bits = take * 8;
                    self.bits.acc |= (word >> (64 - bits)) << (64 - self.bits.nbits - bits);
                    self.bits.nbits += bits;
                    self.pos += take as usize;
                    return;
                }
            }
        }
        self.refill_bytewise();
    }

    /// Byte by byte: near a 0xFF (stuffing or a marker) and at the end of the data.
    #[cold]
    #[inline(never)]
    fn refill_bytewise(&mut self) {
        while self.bits.nbits <= 56 {
            let Some(&byte) = self.data.get(self.pos) else {
                self.pad_byte();
                continue;
            };
            if byte == 0xFF {
                match self.data.get(self.pos + 1) {
                    Some(0) => self.pos += 2,
                    Some(_) => {
                        self.marker = true;
                        self.pad_byte();
                        continue;
                    }
                    // The next byte decides: wait for it.
                    None => {
                        self.pad_byte();
                        continue;
                    }
                }
            } else {
                self.pos += 1;
            }
            self.bits.acc |= u64::from(byte) << (56 - self.bits.nbits);
            self.bits.nbits += 8;
        }
    }

    fn pad_byte(&mut self) {
        self.bits.nbits += 8;
        self.bits.pad += 8;
    }

    #[inline(always)]
    fn ensure(&mut self, n: u32) {
        if self.bits.nbits < n {
            self.refill();
        }
    }

    /// The next `n` bits (1..=32) without consuming them; `ensure` first.
    #[inline]
    fn peek(&self, n: u32) -> u32 {
        (self.bits.acc >> (64 - n)) as u32
    }

    /// Drops `n` (at most 32) bits; `ensure` first. Past the valid bits `acc` is zero.
    #[inline(always)]
    fn consume(&mut self, n: u32) {
        let n = n.min(self.bits.nbits);
        self.bits.acc <<= n & 63;
        self.bits.nbits -= n;
    }

    /// `n` raw bits (0..=16).
    #[inline]
    pub fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        self.ensure(n);
        let value = self.peek(n);
        self.consume(n);
        value
    }

    /// A coefficient of magnitude category `s` (0..=16), sign-extended as JPEG codes it.
    #[inline]
    pub fn receive_extend(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        let value = self.bits(s) as i32;
        if value < (1 << (s - 1)) {
            value - (1 << s) + 1
        } else {
            value
        }
    }
}

/// Whether any byte of `word` is 0xFF.
#[inline]
fn contains_ff(word: u64) -> bool {
    let inverted = !word;
    (inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted & 0x8080_8080_8080_8080) != 0
}

/// One Huffman table, with a direct lookup for codes of up to [`FAST_BITS`] bits.
#[derive(Clone)]
pub(super) struct Huffman {
    /// `length << 8 | symbol` for each 9-bit prefix that completes a code, else 0.
    fast: [u16; 1 << FAST_BITS],
    /// For AC tables: each 9-bit prefix holding a whole nonzero coefficient
    /// (code and value bits): `value << 16 | run << 8 | bits`, else 0.
    fast_ac: [i32; 1 << FAST_BITS],
    /// For AC tables, to skip coefficients past the window: each prefix that completes a code,
    /// `flags | advance << 8 | bits`, where `bits` counts the code and its value bits together
    /// (read as one), `advance` is how far the zigzag index moves (0 at end of block), and
    /// [`Huffman::SKIP_COEFFICIENT`] marks a coefficient (not a run of 16 zeros); else 0.
    skip: [u16; 1 << FAST_BITS],
    /// Largest code of each length, -1 when there is none.
    maxcode: [i32; 17],
    /// Index into `values` of a code of each length, minus that code.
    offset: [i32; 17],
    values: [u8; 256],
}

impl Huffman {
    const SKIP_COEFFICIENT: u16 = 1 << 15;

    /// Builds the table from the DHT segment's 16 counts and its symbols.
    pub fn build(counts: &[u8], symbols: &[u8]) -> Result<Huffman, ImageError> {
        let mut table = Huffman {
            fast: [0; 1 << FAST_BITS],
            fast_ac: [0; 1 << FAST_BITS],
            skip: [0; 1 << FAST_BITS],
            maxcode: [-1; 17],
            offset: [0; 17],
            values: [0; 256],
        };
        if symbols.len() > 256 || counts.len() != 16 {
            return Err(corrupt("JPEG Huffman table too large"));
        }
        for (value, &symbol) in table.values.iter_mut().zip(symbols) {
            *value = symbol;
        }
        let (mut code, mut k) = (0u32, 0usize);
        for (len, &count) in (1..=16u32).zip(counts) {
            let slot = len as usize;
            table.offset[slot] = k as i32 - code as i32;
            for _ in 0..count {
                let symbol = *symbols
                    .get(k)
                    .ok_or_else(|| corrupt("JPEG Huffman table truncated"))?;
                if len <= FAST_BITS {
                    let first = (code << (FAST_BITS - len)) as usize;
                    let entry = (len as u16) << 8 | u16::from(symbol);
                    for fast in table
                        .fast
                        .iter_mut()
                        .skip(first)
                        .take(1 << (FAST_BITS - len))
                    {
                        *fast = entry;
                    }
                }
                code += 1;
                k += 1;
            }
            if code > 1 << len {
                return Err(corrupt("JPEG Huffman table with too many codes"));
            }
            if count > 0 {
                table.maxcode[slot] = code as i32 - 1;
            }
            code <<= 1;
        }
        for (skip, &entry) in table.skip.iter_mut().zip(&table.fast) {
            let (len, rs) = (entry >> 8, entry & 0xFF);
            let (run, size) = (rs >> 4, rs & 15);
            *skip = match (entry, run, size) {
                (0, _, _) => 0,
                (_, 0, 0) => len,
                (_, 15, 0) => 16 << 8 | len,
                (_, _, 0) => 0, // not a valid AC symbol: left to the slow path's checks
                _ => Self::SKIP_COEFFICIENT | (run + 1) << 8 | (len + size),
            };
        }
        for (prefix, fast_ac) in table.fast_ac.iter_mut().enumerate() {
            let entry = table.fast[prefix];
            let (len, rs) = (u32::from(entry >> 8), entry & 0xFF);
            let (run, size) = (i32::from(rs >> 4), u32::from(rs & 15));
            if entry == 0 || size == 0 || len + size > FAST_BITS {
                continue;
            }
            let bits = ((prefix as u32) >> (FAST_BITS - len - size)) & ((1 << size) - 1);
            let bits = bits as i32;
            let value = if bits < 1 << (size - 1) {
                bits - (1 << size) + 1
            } else {
                bits
            };
            *fast_ac = value << 16 | run << 8 | (len + size) as i32;
        }
        Ok(table)
    }

    #[inline(always)]
    pub fn decode(&self, reader: &mut Reader) -> Result<u8, ImageError> {
        reader.ensure(16);
        let entry = self.fast[reader.peek(FAST_BITS) as usize];
        if entry != 0 {
            reader.consume(u32::from(entry >> 8));
            return Ok(entry as u8);
        }
        let code = reader.peek(16) as i32;
        for len in FAST_BITS + 1..=16 {
            let c = code >> (16 - len);
            let slot = len as usize;
            if c <= self.maxcode[slot] {
                reader.consume(len);
                let index = usize::try_from(c + self.offset[slot])
                    .map_err(|_| corrupt("JPEG Huffman code out of range"))?;
                return self
                    .values
                    .get(index)
                    .copied()
                    .ok_or_else(|| corrupt("JPEG Huffman code out of range"));
            }
        }
        Err(corrupt("JPEG entropy data with an invalid Huffman code"))
    }
}

fn to_i16(value: i32) -> i16 {
    value.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// Which coefficients the chosen DCT scale keeps: `slot[k]` is the index in
/// the kept `side x side` window (row-major) of zigzag position `k`, or
/// [`Window::DROPPED`].
#[derive(Clone, Debug)]
pub(super) struct Window {
    pub side: usize,
    pub slot: [u8; 64],
    /// The last zigzag position kept: every coefficient after it is skipped.
    pub last: usize,
}

impl Window {
    pub const DROPPED: u8 = 255;

    pub fn new(side: usize) -> Window {
        let mut slot = [Self::DROPPED; 64];
        let mut last = 0;
        for (k, &natural) in ZIGZAG.iter().enumerate() {
            let (row, col) = (usize::from(natural) / 8, usize::from(natural) % 8);
            if row < side && col < side {
                slot[k] = (row * side + col) as u8;
                last = k;
            }
        }
        Window { side, slot, last }
    }
}

/// A sequential (baseline) block: the DC difference and every AC coefficient,
/// storing into `block` (the window's slots) only what the window keeps.
pub(super) fn sequential_block(
    reader: &mut Reader,
    dc: &Huffman,
    ac: &Huffman,
    pred: &mut i32,
    window: &Window,
    block: &mut [i16],
) -> Result<(), ImageError> {
    // The bit buffer is the hot state: a local copy stays in registers.
    let mut local = *reader;
    let result = sequential_block_from(&mut local, dc, ac, pred, window, block);
    *reader = local;
    result
}

#[inline(always)]
fn sequential_block_from(
    reader: &mut Reader,
    dc: &Huffman,
    ac: &Huffman,
    pred: &mut i32,
    window: &Window,
    block: &mut [i16],
) -> Result<(), ImageError> {
    let s = u32::from(dc.decode(reader)?);
    if s > 16 {
        return Err(corrupt("JPEG DC coefficient out of range"));
    }
    *pred = pred.wrapping_add(reader.receive_extend(s));
    if let Some(first) = block.first_mut() {
        *first = to_i16(*pred);
    }
    let mut k = 1usize;
    while k <= window.last {
        reader.ensure(FAST_BITS);
        let fast = ac.fast_ac[reader.peek(FAST_BITS) as usize];
        if fast != 0 {
            reader.consume((fast & 0xFF) as u32);
            k += ((fast >> 8) & 0xFF) as usize;
            if k > 63 {
                return Err(corrupt("JPEG block with more than 64 coefficients"));
            }
            if let Some(slot) = block.get_mut(usize::from(window.slot[k])) {
                *slot = (fast >> 16) as i16;
            }
            k += 1;
            continue;
        }
        let rs = ac.decode(reader)?;
        let (run, s) = (usize::from(rs >> 4), u32::from(rs & 15));
        if s == 0 {
            if run == 15 {
                k += 16;
                continue;
            }
            return Ok(());
        }
        k += run;
        if k > 63 {
            return Err(corrupt("JPEG block with more than 64 coefficients"));
        }
        let value = reader.receive_extend(s);
        if let Some(slot) = block.get_mut(usize::from(window.slot[k])) {
            *slot = value as i16;
        }
        k += 1;
    }
    // Past the window: decode the codes, skip the bits. A code of up to FAST_BITS bits and
    // its value bits (at most 9 + 15) go in one lookup and one shift.
    while k < 64 {
        reader.ensure(FAST_BITS + 15);
        let skip = ac.skip[reader.peek(FAST_BITS) as usize];
        if skip != 0 {
            reader.consume(u32::from(skip & 0xFF));
            let advance = usize::from((skip >> 8) & 0x7F);
            if advance == 0 {
                return Ok(());
            }
            k += advance;
            if k >= 64 {
                if skip & Huffman::SKIP_COEFFICIENT != 0 && k > 64 {
                    return Err(corrupt("JPEG block with more than 64 coefficients"));
                }
                return Ok(());
            }
            continue;
        }
        let rs = ac.decode(reader)?;
        let (run, s) = (usize::from(rs >> 4), u32::from(rs & 15));
        if s == 0 {
            if run == 15 {
                k += 16;
                continue;
            }
            return Ok(());
        }
        k += run;
        if k > 63 {
            return Err(corrupt("JPEG block with more than 64 coefficients"));
        }
        reader.bits(s);
        k += 1;
    }
    Ok(())
}

/// Progressive DC, first scan: the difference, shifted by the approximation.
#[inline]
pub(super) fn dc_first(
    reader: &mut Reader,
    dc: &Huffman,
    pred: &mut i32,
    al: u32,
    block: &mut [i16],
) -> Result<(), ImageError> {
    let s = u32::from(dc.decode(reader)?);
    if s > 16 {
        return Err(corrupt("JPEG DC coefficient out of range"));
    }
    *pred = pred.wrapping_add(reader.receive_extend(s));
    if let Some(first) = block.first_mut() {
        *first = to_i16((i64::from(*pred) << al).clamp(-32768, 32767) as i32);
    }
    Ok(())
}

/// Progressive DC, refinement: one more bit of each DC coefficient.
#[inline]
pub(super) fn dc_refine(reader: &mut Reader, al: u32, block: &mut [i16]) {
    if reader.bits(1) != 0 {
        if let Some(first) = block.first_mut() {
            *first |= (1i32 << al) as i16;
        }
    }
}

/// The spectral selection and successive approximation of a progressive AC scan.
#[derive(Clone, Copy, Debug)]
pub(super) struct Band {
    pub ss: usize,
    pub se: usize,
    pub al: u32,
}

/// Progressive AC, first scan of a band: one block, or one block of an end-of-band run.
#[inline]
pub(super) fn ac_first(
    reader: &mut Reader,
    ac: &Huffman,
    band: Band,
    eobrun: &mut u32,
    window: &Window,
    block: &mut [i16],
    nonzero: &mut u64,
) -> Result<(), ImageError> {
    if *eobrun > 0 {
        *eobrun -= 1;
        return Ok(());
    }
    let mut k = band.ss;
    while k <= band.se {
        let rs = ac.decode(reader)?;
        let (run, s) = (u32::from(rs >> 4), u32::from(rs & 15));
        if s == 0 {
            if run < 15 {
                *eobrun = (1u32 << run) - 1 + reader.bits(run);
                break;
            }
            k += 16;
            continue;
        }
        k += run as usize;
        if k > 63 {
            return Err(corrupt("JPEG block with more than 64 coefficients"));
        }
        let value = i64::from(reader.receive_extend(s)) << band.al;
        *nonzero |= 1 << k;
        if let Some(slot) = block.get_mut(usize::from(window.slot[k])) {
            *slot = value.clamp(-32768, 32767) as i16;
        }
        k += 1;
    }
    Ok(())
}

/// Progressive AC, refinement of a band: a correction bit for each coefficient
/// already nonzero (known from `nonzero`, kept or not) and the newly nonzero ones.
#[inline]
pub(super) fn ac_refine(
    reader: &mut Reader,
    ac: &Huffman,
    band: Band,
    eobrun: &mut u32,
    window: &Window,
    block: &mut [i16],
    nonzero: &mut u64,
) -> Result<(), ImageError> {
    let p1 = 1i32 << band.al;
    let m1 = -p1;
    let refine = |reader: &mut Reader, k: usize, block: &mut [i16]| {
        if reader.bits(1) != 0 {
            if let Some(c) = block.get_mut(usize::from(window.slot[k])) {
                let value = i32::from(*c);
                if value & p1 == 0 {
                    *c = to_i16(value + if value >= 0 { p1 } else { m1 });
                }
            }
        }
    };
    let mut k = band.ss;
    if *eobrun == 0 {
        while k <= band.se {
            let rs = ac.decode(reader)?;
            let (mut run, s) = (i32::from(rs >> 4), u32::from(rs & 15));
            let mut value = 0;
            if s != 0 {
                value = if reader.bits(1) != 0 { p1 } else { m1 };
            } else if run != 15 {
                *eobrun = (1u32 << run) + reader.bits(run as u32);
                break;
            }
            while k <= band.se {
                if *nonzero & (1 << k) != 0 {
                    refine(reader, k, block);
                } else {
                    run -= 1;
                    if run < 0 {
                        break;
                    }
                }
                k += 1;
            }
            if value != 0 && k <= 63 {
                *nonzero |= 1 << k;
                if let Some(c) = block.get_mut(usize::from(window.slot[k])) {
                    *c = value as i16;
                }
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        while k <= band.se {
            if *nonzero & (1 << k) != 0 {
                refine(reader, k, block);
            }
            k += 1;
        }
        *eobrun -= 1;
    }
    Ok(())
}
