//! Sums decoded PNG rows into boxes of `factor` x `factor` pixels, so a large PNG never needs its full RGBA buffer.
//!
//! A 25 MP RGBA PNG would take 100 MB decoded, more than the isolate can spare.
//! Each row is instead summed into boxes (alpha-weighted, so transparent pixels
//! lend no colour to their neighbours, and left premultiplied for the resizer) and
//! the Lanczos pass then starts from an image only about twice the thumbnail's height.

use crate::pixels::Pixels;
use crate::ImageError;

/// Leave the Lanczos pass at least this much shrinking to do, as libvips does.
const BOX_MARGIN: u32 = 2;
/// Above this many bytes of reduced image we reduce further, down to the target height.
const REDUCED_BUDGET_BYTES: u64 = 24 * 1024 * 1024;
/// Keeps the u32 sums (factor² · 255 · 255) from overflowing.
const MAX_FACTOR: u32 = 128;

/// The box side that leaves the Lanczos pass at least [`BOX_MARGIN`] of
/// shrinking, or only what it must when that reduced image would be large.
pub(crate) fn box_factor(
    width: u32,
    height: u32,
    upright_height: u32,
    target: u32,
    channels: usize,
) -> u32 {
    let (w, h) = (u64::from(width), u64::from(height));
    // The same factor on both stored axes, chosen against the upright height.
    let mut factor = (upright_height / (target.max(1) * BOX_MARGIN)).max(1);
    // The reduced image in bytes; Adam7 sums take four times that, still bounded.
    let reduced = |f: u32| w.div_ceil(u64::from(f)) * h.div_ceil(u64::from(f)) * channels as u64;
    if reduced(factor) > REDUCED_BUDGET_BYTES {
        factor = factor.max(upright_height / target.max(1)).max(1);
    }
    factor.min(MAX_FACTOR)
}

/// The largest box side whose reduced image is still as tall as the target.
pub(crate) fn coarsest_factor(upright_height: u32, target: u32) -> u32 {
    (upright_height / target.max(1)).clamp(1, MAX_FACTOR)
}

/// Sums of source pixels per output box; colour sums are weighted by alpha.
///
/// Rows in order (the usual, non-interlaced PNG) need sums for one band of
/// output rows only; Adam7 rows come back to every band, so those keep them all.
pub(super) struct Boxes {
    width: usize,
    height: usize,
    factor: usize,
    channels: usize,
    out_width: usize,
    out_height: usize,
    /// Output row held in `sums[0..]`, or None when `sums` covers every output row.
    band: Option<usize>,
    sums: Vec<u32>,
    data: Vec<u8>,
}

impl Boxes {
    pub(super) fn new(
        width: u32,
        height: u32,
        factor: u32,
        channels: usize,
        interlaced: bool,
    ) -> Boxes {
        let (width, height, factor) = (width as usize, height as usize, factor as usize);
        let out_width = width.div_ceil(factor);
        let out_height = height.div_ceil(factor);
        let sum_rows = if interlaced { out_height } else { 1 };
        Boxes {
            width,
            height,
            factor,
            channels,
            out_width,
            out_height,
            band: (!interlaced).then_some(0),
            sums: vec![0; out_width * sum_rows * channels],
            data: Vec::with_capacity(out_width * out_height * channels),
        }
    }

    /// Adds one decoded row (or Adam7 pass row) and says whether any of it is translucent.
    pub(super) fn add_row(
        &mut self,
        data: &[u8],
        in_channels: usize,
        x0: usize,
        dx: usize,
        y: usize,
    ) -> bool {
        if y >= self.height {
            return false;
        }
        let f = self.factor;
        let out_row = match self.band {
            Some(band) if band == y / f => 0,
            Some(band) => {
                self.flush_band(band);
                self.band = Some(y / f);
                0
            }
            None => y / f,
        };
        let c = self.channels;
        let sums = &mut self.sums[out_row * self.out_width * c..(out_row + 1) * self.out_width * c];
        let (w, f) = (self.width, self.factor);
        // One monomorphised loop per channel layout keeps the per-pixel work branch-free.
        let min_alpha = match (in_channels, c) {
            (1, _) => accumulate::<1, 3>(sums, data, x0, dx, f, w),
            (2, _) => accumulate::<2, 4>(sums, data, x0, dx, f, w),
            (3, _) => accumulate::<3, 3>(sums, data, x0, dx, f, w),
            _ => accumulate::<4, 4>(sums, data, x0, dx, f, w),
        };
        min_alpha < 255
    }

    /// Turns the sums of output row `oy` into pixels, in order, and clears them.
    fn flush_band(&mut self, oy: usize) {
        let f = self.factor;
        let c = self.channels;
        let rows = f.min(self.height - oy * f) as u32;
        let offset = if self.band.is_some() {
            0
        } else {
            oy * self.out_width * c
        };
        let sums = &mut self.sums[offset..offset + self.out_width * c];
        for (ox, s) in sums.chunks_exact_mut(c).enumerate() {
            let count = f.min(self.width - ox * f) as u32 * rows;
            if c == 4 {
                let alpha = s[3];
                // Premultiplied: the average of colour x alpha / 255 over the box.
                let scale = 255 * count;
                let colour = |v: u32| ((v + scale / 2) / scale) as u8;
                self.data.extend_from_slice(&[
                    colour(s[0]),
                    colour(s[1]),
                    colour(s[2]),
                    ((alpha + count / 2) / count) as u8,
                ]);
            } else {
                self.data
                    .extend(s.iter().map(|&v| ((v + count / 2) / count) as u8));
            }
            s.fill(0);
        }
    }

    pub(super) fn finish(mut self, translucent: bool) -> Result<Pixels, ImageError> {
        match self.band {
            Some(band) => self.flush_band(band),
            None => (0..self.out_height).for_each(|oy| self.flush_band(oy)),
        }
        if self.data.len() != self.out_width * self.out_height * self.channels {
            return Err(ImageError::Corrupt(
                "PNG has fewer rows than it declares".into(),
            ));
        }
        // Free the sums (every box's, for Adam7) before `into_rgb` may copy.
        self.sums = Vec::new();
        let pixels = Pixels {
            width: self.out_width as u32,
            height: self.out_height as u32,
            channels: self.channels,
            data: self.data,
            translucent,
            premultiplied: self.channels == 4,
        };
        Ok(if translucent {
            pixels
        } else {
            pixels.into_rgb()
        })
    }
}

/// Adds the samples of one row into `sums` (OUT per output box) and returns the
/// smallest alpha seen. `x0`/`dx` place Adam7 samples; plain rows have 0 and 1.
fn accumulate<const IN: usize, const OUT: usize>(
    sums: &mut [u32],
    data: &[u8],
    x0: usize,
    dx: usize,
    factor: usize,
    width: usize,
) -> u8 {
    let mut min_alpha = 255u8;
    let mut add = |s: &mut [u32], p: &[u8]| {
        let (r, g, b, a) = match IN {
            1 => (p[0], p[0], p[0], 255),
            2 => (p[0], p[0], p[0], p[1]),
            3 => (p[0], p[1], p[2], 255),
            _ => (p[0], p[1], p[2], p[3]),
        };
        min_alpha = min_alpha.min(a);
        if OUT == 4 {
            let a = u32::from(a);
            s[0] += u32::from(r) * a;
            s[1] += u32::from(g) * a;
            s[2] += u32::from(b) * a;
            s[3] += a;
        } else {
            s[0] += u32::from(r);
            s[1] += u32::from(g);
            s[2] += u32::from(b);
        }
    };
    if (x0, dx) == (0, 1) {
        // Whole rows: each run of `factor` pixels feeds one box, no division needed.
        let boxes = sums.chunks_exact_mut(OUT);
        for (s, run) in boxes.zip(data[..width * IN].chunks(factor * IN)) {
            for p in run.chunks_exact(IN) {
                add(s, p);
            }
        }
    } else {
        for (i, p) in data.chunks_exact(IN).enumerate() {
            let x = x0 + i * dx;
            if x >= width {
                break;
            }
            let o = (x / factor) * OUT;
            add(&mut sums[o..o + OUT], p);
        }
    }
    min_alpha
}
