//! Turns PNG scanlines into rows of 8-bit pixels: the five filters undone, Adam7 passes placed, and every colour type normalised as png's `normalize_to_color8` does (so the thumbnails match png's own decode to the pixel).

use crate::ImageError;

/// Adam7 passes: first column, first row, column step, row step.
pub(super) const ADAM7: [(usize, usize, usize, usize); 7] = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
];
/// A plain image is one pass over every pixel.
const PLAIN: (usize, usize, usize, usize) = (0, 0, 1, 1);

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(what.to_owned())
}

/// What IHDR says about the pixels' coding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ihdr {
    pub width: u32,
    pub height: u32,
    pub bit_depth: u8,
    /// 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA.
    pub colour_type: u8,
    pub interlaced: bool,
}

impl Ihdr {
    /// Reads the 13 bytes of IHDR, refusing what png refuses.
    pub fn parse(data: &[u8]) -> Result<Ihdr, ImageError> {
        let field =
            |at: usize| crate::bytes::be32(data, at).ok_or_else(|| corrupt("PNG IHDR truncated"));
        let (width, height) = (field(0)?, field(4)?);
        let &[bit_depth, colour_type, compression, filter, interlace] = data
            .get(8..13)
            .ok_or_else(|| corrupt("PNG IHDR truncated"))?
        else {
            return Err(corrupt("PNG IHDR truncated"));
        };
        if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
            return Err(corrupt("PNG declares an invalid size"));
        }
        let depth_ok = match colour_type {
            0 => matches!(bit_depth, 1 | 2 | 4 | 8 | 16),
            3 => matches!(bit_depth, 1 | 2 | 4 | 8),
            2 | 4 | 6 => matches!(bit_depth, 8 | 16),
            _ => false,
        };
        if !depth_ok || compression != 0 || filter != 0 || interlace > 1 {
            return Err(corrupt("PNG with an invalid IHDR"));
        }
        Ok(Ihdr {
            width,
            height,
            bit_depth,
            colour_type,
            interlaced: interlace == 1,
        })
    }

    /// Samples per pixel as stored.
    fn samples(&self) -> usize {
        match self.colour_type {
            2 => 3,
            4 => 2,
            6 => 4,
            _ => 1,
        }
    }

    fn bits_per_pixel(&self) -> usize {
        self.samples() * usize::from(self.bit_depth)
    }

    /// Bytes of a scanline of `pixels` pixels, without its filter byte.
    pub fn row_bytes(&self, pixels: usize) -> usize {
        (pixels * self.bits_per_pixel()).div_ceil(8)
    }

    /// The filters' "bytes per complete pixel" (1 below 8 bits a pixel).
    fn filter_bytes(&self) -> usize {
        (self.bits_per_pixel() / 8).max(1)
    }
}

/// How one unfiltered scanline becomes 8-bit grey, grey + alpha, RGB or RGBA.
pub(super) enum Colour {
    /// 8-bit grey, grey + alpha, RGB or RGBA: the scanline is the row.
    Direct,
    /// 16-bit samples without tRNS: their high bytes.
    Strip16,
    /// 8-bit grey or RGB with tRNS: an alpha sample added, 0 where the pixel equals `key`.
    Key8 { key: Vec<u8> },
    /// 16-bit grey or RGB with tRNS: the high bytes and an alpha sample, 0 where all
    /// the pixel's bytes equal `key` (as stored: a key of another length never matches).
    Key16 { key: Vec<u8> },
    /// Grey of 1, 2 or 4 bits, scaled to 8 bits; with an alpha sample when tRNS gives a key.
    LowGrey { depth: u8, key: Option<u8> },
    /// Palette indices of 1, 2, 4 or 8 bits: RGB, or RGBA when there is a tRNS.
    Palette {
        depth: u8,
        table: Box<[[u8; 4]; 256]>,
        alpha: bool,
    },
}

impl Colour {
    /// The normalisation for this coding, with the PLTE and tRNS seen before the image data.
    pub fn new(
        ihdr: &Ihdr,
        palette: Option<&[u8]>,
        trns: Option<&[u8]>,
    ) -> Result<Colour, ImageError> {
        let depth = ihdr.bit_depth;
        Ok(match (ihdr.colour_type, trns) {
            (3, _) => {
                let palette = palette.ok_or_else(|| corrupt("PNG palette image without PLTE"))?;
                let entries = palette.len() / 3;
                // As png: a tRNS longer than the palette is ignored, but still makes the image RGBA.
                let alphas = trns.filter(|t| t.len() <= entries).unwrap_or(&[]);
                let mut table = Box::new([[0, 0, 0, 0xFF]; 256]);
                for (i, entry) in table.iter_mut().enumerate().take(entries) {
                    entry[..3].copy_from_slice(&palette[3 * i..3 * i + 3]);
                    entry[3] = alphas.get(i).copied().unwrap_or(0xFF);
                }
                Colour::Palette {
                    depth,
                    table,
                    alpha: trns.is_some(),
                }
            }
            (0, key) if depth < 8 => Colour::LowGrey {
                depth,
                key: key.and_then(|k| k.first().copied()),
            },
            (0 | 2, Some(key)) if depth == 8 => Colour::Key8 { key: key.to_vec() },
            (0 | 2, Some(key)) => Colour::Key16 { key: key.to_vec() },
            (_, _) if depth == 16 => Colour::Strip16,
            _ => Colour::Direct,
        })
    }

    /// Samples per pixel of the rows this gives (1 to 4).
    pub fn channels(&self, ihdr: &Ihdr) -> usize {
        match self {
            Colour::Direct | Colour::Strip16 => ihdr.samples(),
            Colour::Key8 { .. } | Colour::Key16 { .. } => ihdr.samples() + 1,
            Colour::LowGrey { key, .. } => 1 + usize::from(key.is_some()),
            Colour::Palette { alpha, .. } => 3 + usize::from(*alpha),
        }
    }

    /// The 8-bit row of the unfiltered `scanline` of `pixels` pixels: the scanline itself,
    /// or `out` once written.
    pub fn apply<'a>(
        &self,
        scanline: &'a [u8],
        pixels: usize,
        ihdr: &Ihdr,
        out: &'a mut [u8],
    ) -> &'a [u8] {
        let samples = ihdr.samples();
        match self {
            Colour::Direct => scanline,
            Colour::Strip16 => {
                for (o, pair) in out.iter_mut().zip(scanline.chunks_exact(2)) {
                    *o = pair[0];
                }
                &out[..pixels * samples]
            }
            Colour::Key8 { key } => {
                for (o, p) in out
                    .chunks_exact_mut(samples + 1)
                    .zip(scanline.chunks_exact(samples))
                {
                    o[..samples].copy_from_slice(p);
                    o[samples] = if p == key.as_slice() { 0 } else { 0xFF };
                }
                &out[..pixels * (samples + 1)]
            }
            Colour::Key16 { key } => {
                for (o, p) in out
                    .chunks_exact_mut(samples + 1)
                    .zip(scanline.chunks_exact(2 * samples))
                {
                    for (s, pair) in o.iter_mut().zip(p.chunks_exact(2)) {
                        *s = pair[0];
                    }
                    o[samples] = if p == key.as_slice() { 0 } else { 0xFF };
                }
                &out[..pixels * (samples + 1)]
            }
            Colour::LowGrey { depth, key } => {
                let scale = 255 / ((1u8 << depth) - 1);
                match key {
                    None => unpack::<1>(scanline, *depth, pixels, out, |v, o| o[0] = v * scale),
                    Some(key) => unpack::<2>(scanline, *depth, pixels, out, |v, o| {
                        o[0] = v * scale;
                        o[1] = if v == *key { 0 } else { 0xFF };
                    }),
                }
            }
            Colour::Palette {
                depth,
                table,
                alpha: false,
            } => unpack::<3>(scanline, *depth, pixels, out, |v, o| {
                o.copy_from_slice(&table[usize::from(v)][..3]);
            }),
            Colour::Palette { depth, table, .. } => {
                unpack::<4>(scanline, *depth, pixels, out, |v, o| {
                    o.copy_from_slice(&table[usize::from(v)]);
                })
            }
        }
    }
}

/// Writes `pixels` pixels of `C` samples into `out`, one per `depth`-bit value of `packed`.
fn unpack<'a, const C: usize>(
    packed: &[u8],
    depth: u8,
    pixels: usize,
    out: &'a mut [u8],
    put: impl Fn(u8, &mut [u8]),
) -> &'a [u8] {
    let out = &mut out[..pixels * C];
    if depth == 8 {
        for (&v, o) in packed.iter().zip(out.chunks_exact_mut(C)) {
            put(v, o);
        }
        return out;
    }
    let per_byte = usize::from(8 / depth);
    let mask = (1u8 << depth) - 1;
    for (i, o) in out.chunks_exact_mut(C).enumerate() {
        let byte = packed[i / per_byte];
        let shift = 8 - depth as usize * (i % per_byte + 1);
        put((byte >> shift) & mask, o);
    }
    out
}

/// Where the scanlines of the image go: the passes (one, or Adam7's seven) and the
/// position in them.
pub(super) struct Scanlines {
    ihdr: Ihdr,
    /// Index into the passes (ADAM7 or PLAIN).
    pass: usize,
    /// Scanline within the pass.
    line: usize,
    /// Every scanline has been read.
    pub done: bool,
}

/// One scanline's place in the image.
pub(super) struct Place {
    /// Pixels in the scanline.
    pub pixels: usize,
    /// Bytes in it, the filter byte included.
    pub raw_bytes: usize,
    pub x0: usize,
    pub dx: usize,
    pub y: usize,
    /// The first scanline of its pass: filters see a row of zeros above it.
    pub first: bool,
}

impl Scanlines {
    pub fn new(ihdr: Ihdr) -> Scanlines {
        let mut lines = Scanlines {
            ihdr,
            pass: 0,
            line: 0,
            done: false,
        };
        lines.skip_empty_passes();
        lines
    }

    fn passes(&self) -> &'static [(usize, usize, usize, usize)] {
        if self.ihdr.interlaced {
            &ADAM7
        } else {
            std::slice::from_ref(&PLAIN)
        }
    }

    /// The pass's width and height in pixels (0 when the image is too small for it).
    fn pass_size(&self, pass: usize) -> (usize, usize) {
        let (x0, y0, dx, dy) = self.passes()[pass];
        let count = |size: u32, start: usize, step: usize| {
            (size as usize).saturating_sub(start).div_ceil(step)
        };
        (
            count(self.ihdr.width, x0, dx),
            count(self.ihdr.height, y0, dy),
        )
    }

    fn skip_empty_passes(&mut self) {
        while self.pass < self.passes().len() {
            let (w, h) = self.pass_size(self.pass);
            if w > 0 && self.line < h {
                return;
            }
            self.pass += 1;
            self.line = 0;
        }
        self.done = true;
    }

    /// The next scanline's place (None when every one has been read).
    pub fn current(&self) -> Option<Place> {
        if self.done {
            return None;
        }
        let (x0, y0, dx, dy) = self.passes()[self.pass];
        let (pixels, _) = self.pass_size(self.pass);
        Some(Place {
            pixels,
            raw_bytes: 1 + self.ihdr.row_bytes(pixels),
            x0,
            dx,
            y: y0 + dy * self.line,
            first: self.line == 0,
        })
    }

    pub fn advance(&mut self) {
        self.line += 1;
        self.skip_empty_passes();
    }

    pub fn filter_bytes(&self) -> usize {
        self.ihdr.filter_bytes()
    }
}

/// Undoes the filter of scanline `raw` into `row` (as long), `previous` being the unfiltered
/// scanline above (None for the first of a pass). Reading from one buffer and writing the
/// other spares a copy of every scanline.
pub(super) fn unfilter(
    filter: u8,
    bpp: usize,
    previous: Option<&[u8]>,
    raw: &[u8],
    row: &mut [u8],
) -> Result<(), ImageError> {
    match bpp {
        1 => unfilter_n::<1>(filter, previous, raw, row),
        2 => unfilter_n::<2>(filter, previous, raw, row),
        3 => unfilter_n::<3>(filter, previous, raw, row),
        4 => unfilter_n::<4>(filter, previous, raw, row),
        6 => unfilter_n::<6>(filter, previous, raw, row),
        8 => unfilter_n::<8>(filter, previous, raw, row),
        _ => Err(corrupt("PNG with an unusual pixel size")),
    }
}

/// One monomorphised loop per pixel size keeps each filter's inner loop free of branches
/// and bounds checks: the left neighbour is carried in an array, as png does.
fn unfilter_n<const B: usize>(
    filter: u8,
    previous: Option<&[u8]>,
    raw: &[u8],
    row: &mut [u8],
) -> Result<(), ImageError> {
    match (filter, previous) {
        (0, _) | (2, None) => row.copy_from_slice(raw),
        // Paeth over a row of zeros is Sub.
        (1, _) | (4, None) => {
            let mut left = [0u8; B];
            for (px, x) in row.chunks_exact_mut(B).zip(raw.chunks_exact(B)) {
                for k in 0..B {
                    left[k] = x[k].wrapping_add(left[k]);
                    px[k] = left[k];
                }
            }
        }
        (2, Some(above)) => {
            for ((px, &x), &b) in row.iter_mut().zip(raw).zip(above) {
                *px = x.wrapping_add(b);
            }
        }
        (3, None) => {
            let mut left = [0u8; B];
            for (px, x) in row.chunks_exact_mut(B).zip(raw.chunks_exact(B)) {
                for k in 0..B {
                    left[k] = x[k].wrapping_add(left[k] / 2);
                    px[k] = left[k];
                }
            }
        }
        (3, Some(above)) => {
            let mut left = [0u8; B];
            for ((px, x), up) in row
                .chunks_exact_mut(B)
                .zip(raw.chunks_exact(B))
                .zip(above.chunks_exact(B))
            {
                for k in 0..B {
                    let mean = ((u16::from(left[k]) + u16::from(up[k])) / 2) as u8;
                    left[k] = x[k].wrapping_add(mean);
                    px[k] = left[k];
                }
            }
        }
        (4, Some(above)) => {
            let (mut left, mut corner) = ([0u8; B], [0u8; B]);
            for ((px, x), up) in row
                .chunks_exact_mut(B)
                .zip(raw.chunks_exact(B))
                .zip(above.chunks_exact(B))
            {
                for k in 0..B {
                    left[k] = x[k].wrapping_add(paeth(left[k], up[k], corner[k]));
                    corner[k] = up[k];
                    px[k] = left[k];
                }
            }
        }
        _ => return Err(corrupt("PNG scanline with an unknown filter type")),
    }
    Ok(())
}

/// The Paeth predictor of left `a`, above `b` and upper-left `c`, in stb_image's
/// branch-free form (png uses it too: it is the spec's rule, reordered).
#[inline(always)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (a, b, c) = (i16::from(a), i16::from(b), i16::from(c));
    let thresh = c * 3 - (a + b);
    let lo = a.min(b);
    let hi = a.max(b);
    let t0 = if hi <= thresh { lo } else { c };
    let t1 = if thresh <= lo { hi } else { t0 };
    t1 as u8
}

/// The Paeth predictor as the PNG specification writes it: what the tests hold the fast one and
/// their own filtering to.
#[cfg(test)]
pub(super) fn paeth_spec(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paeth_predictor_is_the_specifications_for_every_input() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in (0..=255u8).step_by(3) {
                    assert_eq!(paeth(a, b, c), paeth_spec(a, b, c), "{a} {b} {c}");
                }
            }
        }
    }

    #[test]
    fn adam7_places_every_pixel_of_a_small_image_exactly_once() {
        for (w, h) in [(1, 1), (3, 2), (8, 8), (9, 13)] {
            let ihdr = Ihdr {
                width: w,
                height: h,
                bit_depth: 8,
                colour_type: 0,
                interlaced: true,
            };
            let mut seen = vec![0u8; (w * h) as usize];
            let mut lines = Scanlines::new(ihdr);
            while let Some(place) = lines.current() {
                for i in 0..place.pixels {
                    seen[place.y * w as usize + place.x0 + i * place.dx] += 1;
                }
                lines.advance();
            }
            assert!(seen.iter().all(|&n| n == 1), "{w}x{h}: {seen:?}");
        }
    }
}
