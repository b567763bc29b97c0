//! Lossless WebP bitstreams that name Huffman groups: the decompression bombs of issue 17, written
//! once for imaging's `tests/bombs.rs` and the service's HTTP test (`tests/api/memory.rs`, which
//! includes this file by path).

/// Writes bits least significant first, as VP8L reads them.
#[derive(Default)]
pub struct Bits {
    bytes: Vec<u8>,
    used: u32,
}

impl Bits {
    pub fn put(&mut self, value: u32, count: u32) {
        for i in 0..count {
            if self.used.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let last = self.bytes.len() - 1;
            self.bytes[last] |= (((value >> i) & 1) as u8) << (self.used % 8);
            self.used += 1;
        }
    }

    /// A Huffman code, its first bit the code's most significant.
    pub fn put_code(&mut self, (code, length): (u32, u32)) {
        for i in (0..length).rev() {
            self.put((code >> i) & 1, 1);
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0; 8]); // the decoder reads ahead
        self.bytes
    }
}

/// Canonical codes (code, length) for symbol code lengths, as the decoder assigns them.
pub fn canonical(lengths: &[u32]) -> Vec<(u32, u32)> {
    let mut next = [0u32; 16];
    let mut code = 0;
    for (length, first) in next.iter_mut().enumerate().skip(1) {
        let count = lengths.iter().filter(|&&l| l == length as u32).count() as u32;
        *first = code;
        code = (code + count) << 1;
    }
    lengths
        .iter()
        .map(|&l| {
            let c = next[l as usize];
            next[l as usize] += 1;
            (c, l)
        })
        .collect()
}

/// Where the code-length code's lengths are read from, in bitstream order.
pub const CODE_LENGTH_ORDER: [usize; 19] = [
    17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
];

/// A one-symbol code: no bits per pixel.
pub fn simple_code(bits: &mut Bits, symbol: u32) {
    bits.put(1, 1); // simple
    bits.put(0, 1); // one symbol
    if symbol < 2 {
        bits.put(0, 1);
        bits.put(symbol, 1);
    } else {
        bits.put(1, 1);
        bits.put(symbol, 8);
    }
}

/// The costliest code to build per bit of input: symbols 0..=10 with lengths
/// 1, 2, ... 9, 10, 10, so the decoder fills a table of 1024 entries; about 12
/// bytes. Symbol 0 (a zero literal) is then the one-bit code `0`.
pub fn ten_bit_code(bits: &mut Bits) {
    // The code-length code: lengths 1..=6 in 3 bits, 7..=10 in 4 bits.
    let mut code_length_lengths = [0u32; 19];
    for (length, slot) in code_length_lengths.iter_mut().enumerate().take(11).skip(1) {
        *slot = if length <= 6 { 3 } else { 4 };
    }
    let code_length_codes = canonical(&code_length_lengths);
    bits.put(0, 1); // normal code
    bits.put(14 - 4, 4); // 14 code-length lengths, up to symbol 10's place
    for &symbol in &CODE_LENGTH_ORDER[..14] {
        bits.put(code_length_lengths[symbol], 3);
    }
    bits.put(1, 1); // a maximum symbol count follows
    bits.put(1, 3); // in 2 + 2 * 1 = 4 bits
    bits.put(11 - 2, 4); // 11 symbols
    for length in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10] {
        bits.put_code(code_length_codes[length]);
    }
}

/// A code giving all of the first `symbols` symbols 8 bits (symbol `s` is code `s`).
pub fn eight_bit_code(bits: &mut Bits, alphabet: u32, symbols: u32) {
    bits.put(0, 1); // normal code
    bits.put(12 - 4, 4); // 12 code-length lengths, up to symbol 8's place
    for &symbol in &CODE_LENGTH_ORDER[..12] {
        bits.put(u32::from(symbol == 8), 3); // only length 8 is used: a 0-bit code
    }
    if symbols == alphabet {
        bits.put(0, 1);
    } else {
        bits.put(1, 1);
        bits.put(3, 3); // in 2 + 2 * 3 = 8 bits
        bits.put(symbols - 2, 8);
    }
}

/// A VP8L image stream of `width` x `height` (after its header) whose entropy
/// image, one pixel per 4x4 block, names group `group(i)` for block `i`, with
/// `groups` groups of [`ten_bit_code`]s in the bitstream; every pixel is zero.
pub fn vp8l_stream(width: u32, height: u32, groups: u32, group: impl Fn(u32) -> u32) -> Bits {
    let mut bits = Bits::default();
    bits.put(0, 1); // no transform
    bits.put(0, 1); // no colour cache
    bits.put(1, 1); // an entropy image
    bits.put(0, 3); // of 4x4 blocks
    let blocks = width.div_ceil(4) * height.div_ceil(4);
    let names: Vec<u32> = (0..blocks).map(&group).collect();
    // The entropy image: no colour cache, then its five codes and its pixels,
    // the group number in red (high byte) and green (low byte).
    bits.put(0, 1);
    let one_group = names.iter().all(|&g| g == names[0]);
    if one_group {
        simple_code(&mut bits, names[0] & 0xFF);
        simple_code(&mut bits, names[0] >> 8);
    } else {
        eight_bit_code(&mut bits, 256 + 24, 256);
        eight_bit_code(&mut bits, 256, 256);
    }
    simple_code(&mut bits, 0); // blue
    simple_code(&mut bits, 0); // alpha
    simple_code(&mut bits, 0); // distance
    if !one_group {
        for &g in &names {
            bits.put_code((g & 0xFF, 8));
            bits.put_code((g >> 8, 8));
        }
    }
    // The groups, then the image: a zero literal is one bit in each of four codes.
    for _ in 0..groups * 5 {
        ten_bit_code(&mut bits);
    }
    for _ in 0..width * height * 4 {
        bits.put(0, 1);
    }
    bits
}

/// A lossless WebP whose every block names `group` of `group + 1` groups: the
/// attack's file. Upstream image-webp built every group (20 KiB each).
pub fn vp8l_naming_group(width: u32, height: u32, group: u32) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.put(0x2F, 8);
    bits.put(width - 1, 14);
    bits.put(height - 1, 14);
    bits.put(0, 1); // no alpha hint
    bits.put(0, 3); // version
    let stream = vp8l_stream(width, height, group + 1, |_| group);
    let mut payload = bits.finish();
    payload.truncate(5);
    payload.extend_from_slice(&stream.finish());
    riff(&chunk(b"VP8L", &payload))
}

/// A lossless WebP whose blocks name `groups` distinct groups, all used.
pub fn vp8l_using_groups(width: u32, height: u32, groups: u32) -> Vec<u8> {
    let mut header = Bits::default();
    header.put(0x2F, 8);
    header.put(width - 1, 14);
    header.put(height - 1, 14);
    header.put(0, 4);
    let mut payload = header.finish();
    payload.truncate(5);
    payload.extend_from_slice(&vp8l_stream(width, height, groups, |i| i % groups).finish());
    riff(&chunk(b"VP8L", &payload))
}

pub fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

pub fn riff(chunks: &[u8]) -> Vec<u8> {
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&(chunks.len() as u32 + 4).to_le_bytes());
    bytes.extend_from_slice(b"WEBP");
    bytes.extend_from_slice(chunks);
    bytes
}

/// The chunks of a WebP file: (fourcc, payload).
pub fn webp_chunks(bytes: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let kind: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        chunks.push((kind, bytes[at + 8..at + 8 + len].to_vec()));
        at += 8 + len + (len & 1);
    }
    chunks
}

/// The fixture's lossy WebP with its ALPH plane replaced by a lossless one
/// (implicit size: no VP8L header) naming `group`.
pub fn lossy_with_alpha_naming_group(group: u32) -> Vec<u8> {
    let fixture = include_bytes!("../fixtures/life-240x160-alpha-lossy.webp");
    let mut chunks = Vec::new();
    for (kind, payload) in webp_chunks(fixture) {
        if &kind == b"ALPH" {
            let mut alph = vec![0x01]; // no filtering, lossless compression
            alph.extend_from_slice(&vp8l_stream(240, 160, group + 1, |_| group).finish());
            chunks.extend_from_slice(&chunk(b"ALPH", &alph));
        } else {
            chunks.extend_from_slice(&chunk(&kind, &payload));
        }
    }
    riff(&chunks)
}

/// A one-frame animation whose frame is [`vp8l_naming_group`]'s bitstream.
pub fn animation_naming_group(width: u32, height: u32, group: u32) -> Vec<u8> {
    let still = vp8l_naming_group(width, height, group);
    let vp8l = &still[12..];
    let mut vp8x = vec![0x02, 0, 0, 0]; // animation
    vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    let mut anmf = vec![0; 6]; // at 0, 0
    anmf.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    anmf.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    anmf.extend_from_slice(&[100, 0, 0, 0]); // 100 ms, blend, no dispose
    anmf.extend_from_slice(vp8l);
    let mut chunks = chunk(b"VP8X", &vp8x);
    chunks.extend_from_slice(&chunk(b"ANIM", &[0, 0, 0, 0, 0, 0]));
    chunks.extend_from_slice(&chunk(b"ANMF", &anmf));
    riff(&chunks)
}
