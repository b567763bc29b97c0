//! Component rows of one MCU row at a time: where blocks are written, then upsampled, colour-converted and appended to the RGB output.
//!
//! Each component keeps its current MCU row, the previous one and the last
//! pixel row before that: the fancy (triangle) chroma upsampling of an output
//! row needs the chroma rows just above and below it, so an MCU row is
//! converted once the next one is decoded. The upsamplers and colour
//! conversions are those of jpeg-decoder 0.3, whose output this replaces.

use super::Geometry;

/// How the components' samples become RGB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Colour {
    Grey,
    YCbCr,
    Rgb,
    /// Adobe's inverted CMYK, as stored.
    Cmyk,
    /// Adobe's YCCK: YCbCr of inverted CMY, inverted K.
    Ycck,
}

#[derive(Clone, Copy, Debug)]
enum Upsample {
    Copy,
    H2V1,
    H1V2,
    H2V2,
    Nearest { h: usize, v: usize },
}

struct Plane {
    /// Bytes a row: the MCU-padded width at the chosen scale.
    stride: usize,
    /// Pixel rows in one MCU row.
    rows: usize,
    /// One row above, the previous MCU row, the current MCU row.
    buf: Vec<u8>,
    /// The component's own size at the chosen scale.
    width: usize,
    height: usize,
    upsample: Upsample,
}

pub(super) struct Rows {
    planes: Vec<Plane>,
    /// One upsampled row per component.
    lines: Vec<Vec<u8>>,
    out_width: usize,
    out_height: usize,
    /// Output rows in one MCU row.
    rows_per_mcu: usize,
    /// MCU rows written so far.
    written: usize,
    colour: Colour,
    side: usize,
}

impl Rows {
    /// Heap bytes [`Rows::new`] allocates for this geometry.
    pub fn bytes(geometry: &Geometry) -> u64 {
        let side = geometry.side;
        let planes: usize = (0..geometry.count)
            .map(|c| {
                let (stride, rows) = plane_shape(geometry, c, side);
                (2 * rows + 1) * stride
            })
            .sum();
        (planes + geometry.count * line_width(geometry, side)) as u64
    }

    pub fn new(geometry: &Geometry, colour: Colour) -> Rows {
        let side = geometry.side;
        let (out_width, out_height) = geometry.output_size();
        let planes = (0..geometry.count)
            .map(|c| {
                let (stride, rows) = plane_shape(geometry, c, side);
                let (h, v) = geometry.factors[c];
                let (hr, vr) = (geometry.hmax / h, geometry.vmax / v);
                let h1 = hr == 1 || out_width == 1;
                let v1 = vr == 1 || out_height == 1;
                let upsample = match (h1, v1, hr, vr) {
                    (true, true, _, _) => Upsample::Copy,
                    (false, true, 2, _) => Upsample::H2V1,
                    (true, false, _, 2) => Upsample::H1V2,
                    (false, false, 2, 2) => Upsample::H2V2,
                    _ => Upsample::Nearest { h: hr, v: vr },
                };
                let (width, height) = geometry.component_size(c);
                Plane {
                    stride,
                    rows,
                    buf: vec![0; (2 * rows + 1) * stride],
                    width,
                    height,
                    upsample,
                }
            })
            .collect();
        Rows {
            planes,
            lines: vec![vec![0; line_width(geometry, side)]; geometry.count],
            out_width,
            out_height,
            rows_per_mcu: geometry.vmax * side,
            written: 0,
            colour,
            side,
        }
    }

    /// Where block (`bx`, `by`) of the current MCU row of `component` goes
    /// (`by` counts block rows within the MCU row), and the row stride.
    #[inline]
    pub fn block(&mut self, component: usize, bx: usize, by: usize) -> (&mut [u8], usize) {
        let side = self.side;
        match self.planes.get_mut(component) {
            Some(plane) => {
                let at = (1 + plane.rows + by * side) * plane.stride + bx * side;
                (plane.buf.get_mut(at..).unwrap_or_default(), plane.stride)
            }
            None => (&mut [], 0),
        }
    }

    /// The current MCU row is complete: converts the previous one into `out`.
    pub fn row_done(&mut self, out: &mut [u8]) {
        if self.written > 0 {
            self.emit(self.written - 1, out);
        }
        for plane in &mut self.planes {
            let (rows, stride) = (plane.rows, plane.stride);
            plane
                .buf
                .copy_within(rows * stride..(2 * rows + 1) * stride, 0);
        }
        self.written += 1;
    }

    /// After the last MCU row: converts it.
    pub fn finish(&mut self, out: &mut [u8]) {
        if self.written > 0 {
            self.emit(self.written - 1, out);
        }
    }

    /// Converts MCU row `m`, which sits in the "previous" slot.
    fn emit(&mut self, m: usize, out: &mut [u8]) {
        let first = m * self.rows_per_mcu;
        let last = ((m + 1) * self.rows_per_mcu).min(self.out_height);
        let width = self.out_width;
        for y in first..last {
            for (plane, line) in self.planes.iter().zip(self.lines.iter_mut()) {
                plane.upsample_row(m, y, width, line);
            }
            if let Some(row) = out.get_mut(y * width * 3..(y + 1) * width * 3) {
                convert(self.colour, &self.lines, row);
            }
        }
    }
}

/// (stride, pixel rows per MCU row) of a component's plane.
fn plane_shape(geometry: &Geometry, c: usize, side: usize) -> (usize, usize) {
    let (h, v) = geometry.factors[c];
    (geometry.mcus_x * h * side, v * side)
}

fn line_width(geometry: &Geometry, side: usize) -> usize {
    geometry.mcus_x * geometry.hmax * side
}

impl Plane {
    /// Component row `j` (clamped to the component) of MCU row `m`'s window.
    fn row(&self, m: usize, j: isize) -> &[u8] {
        let j = j.clamp(0, self.height.max(1) as isize - 1) as usize;
        let Some(local) = (j + 1).checked_sub(m * self.rows) else {
            return &[];
        };
        self.buf
            .get(local * self.stride..(local + 1) * self.stride)
            .unwrap_or_default()
    }

    fn upsample_row(&self, m: usize, y: usize, width: usize, line: &mut [u8]) {
        let cw = self.width.max(1);
        match self.upsample {
            Upsample::Copy => {
                let src = self.row(m, y as isize);
                if let (Some(src), Some(dst)) = (src.get(..width), line.get_mut(..width)) {
                    dst.copy_from_slice(src);
                }
            }
            Upsample::Nearest { h, v } => {
                let src = self.row(m, (y / v) as isize);
                for (x, dst) in line.iter_mut().take(width).enumerate() {
                    *dst = src.get(x / h).copied().unwrap_or(0);
                }
            }
            Upsample::H2V1 => {
                let src = self.row(m, y as isize);
                let (Some(src), Some(dst)) = (src.get(..cw), line.get_mut(..2 * cw)) else {
                    return;
                };
                h2v1(src, dst);
            }
            Upsample::H1V2 | Upsample::H2V2 => {
                let near = y / 2;
                let far = if y.is_multiple_of(2) {
                    near as isize - 1
                } else {
                    near as isize + 1
                };
                let near = self.row(m, near as isize);
                let far = self.row(m, far);
                if let Upsample::H1V2 = self.upsample {
                    let it = line.iter_mut().take(width).zip(near.iter().zip(far));
                    for (dst, (&n, &f)) in it {
                        *dst = ((3 * u32::from(n) + u32::from(f) + 2) >> 2) as u8;
                    }
                } else if let (Some(near), Some(far), Some(dst)) =
                    (near.get(..cw), far.get(..cw), line.get_mut(..2 * cw))
                {
                    h2v2(near, far, dst);
                }
            }
        }
    }
}

fn h2v1(src: &[u8], dst: &mut [u8]) {
    let n = src.len();
    if n == 1 {
        dst.fill(src[0]);
        return;
    }
    dst[0] = src[0];
    dst[1] = ((u32::from(src[0]) * 3 + u32::from(src[1]) + 2) >> 2) as u8;
    for i in 1..n - 1 {
        let sample = 3 * u32::from(src[i]) + 2;
        dst[i * 2] = ((sample + u32::from(src[i - 1])) >> 2) as u8;
        dst[i * 2 + 1] = ((sample + u32::from(src[i + 1])) >> 2) as u8;
    }
    dst[(n - 1) * 2] = ((u32::from(src[n - 1]) * 3 + u32::from(src[n - 2]) + 2) >> 2) as u8;
    dst[(n - 1) * 2 + 1] = src[n - 1];
}

fn h2v2(near: &[u8], far: &[u8], dst: &mut [u8]) {
    let n = near.len();
    let col = |i: usize| 3 * u32::from(near[i]) + u32::from(far[i]);
    if n == 1 {
        dst.fill(((col(0) + 2) >> 2) as u8);
        return;
    }
    let mut t1 = col(0);
    dst[0] = ((t1 + 2) >> 2) as u8;
    for i in 1..n {
        let t0 = t1;
        t1 = col(i);
        dst[i * 2 - 1] = ((3 * t0 + t1 + 8) >> 4) as u8;
        dst[i * 2] = ((3 * t1 + t0 + 8) >> 4) as u8;
    }
    dst[n * 2 - 1] = ((t1 + 2) >> 2) as u8;
}

const FIXED: i32 = 20;
const HALF: i32 = 1 << (FIXED - 1);

const fn f2f(x: f64) -> i32 {
    (x * (1 << FIXED) as f64 + 0.5) as i32
}

/// ITU-R BT.601, as jpeg-decoder (after libjpeg-turbo's jdcolext.c).
#[inline(always)]
fn ycbcr(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let y = i32::from(y) * (1 << FIXED) + HALF;
    let cb = i32::from(cb) - 128;
    let cr = i32::from(cr) - 128;
    let c = |v: i32| (v >> FIXED).clamp(0, 255) as u8;
    [
        c(y + f2f(1.40200) * cr),
        c(y - f2f(0.34414) * cb - f2f(0.71414) * cr),
        c(y + f2f(1.77200) * cb),
    ]
}

fn convert(colour: Colour, lines: &[Vec<u8>], out: &mut [u8]) {
    let pixels = out.chunks_exact_mut(3);
    let line = |i: usize| lines.get(i).map(Vec::as_slice).unwrap_or_default();
    match colour {
        Colour::Grey => {
            for (p, &g) in pixels.zip(line(0)) {
                p.fill(g);
            }
        }
        Colour::Rgb => {
            for (p, ((&r, &g), &b)) in pixels.zip(line(0).iter().zip(line(1)).zip(line(2))) {
                p.copy_from_slice(&[r, g, b]);
            }
        }
        Colour::YCbCr => {
            for (p, ((&y, &cb), &cr)) in pixels.zip(line(0).iter().zip(line(1)).zip(line(2))) {
                p.copy_from_slice(&ycbcr(y, cb, cr));
            }
        }
        Colour::Cmyk | Colour::Ycck => {
            let cmyk = line(0).iter().zip(line(1)).zip(line(2)).zip(line(3));
            for (p, (((&a, &b), &c), &k)) in pixels.zip(cmyk) {
                // Adobe stores ink inverted (255 = none), so the stored value
                // times K is already the light that comes through.
                let k = u16::from(k);
                let inks = if colour == Colour::Ycck {
                    ycbcr(a, b, c).map(|v| 255 - v)
                } else {
                    [a, b, c]
                };
                for (dst, ink) in p.iter_mut().zip(inks) {
                    *dst = (u16::from(ink) * k / 255) as u8;
                }
            }
        }
    }
}
