//! Inverse DCTs producing 8, 4, 2 or 1 pixels per block side, from the kept window of coefficients.
//!
//! Ported from jpeg-decoder 0.3 (MIT/Apache-2.0): the 8x8 one is stb_image's
//! integer IDCT, the 4x4 and 2x2 ones libjpeg's `jidctred` reduced transforms,
//! so that output matches what `jpeg_decoder::Decoder::scale` gave before.
//! Input is the `side x side` window (row-major) of dequantised-later
//! coefficients and the same window of the quantisation table.

// libjpeg's constants, digit for digit, as the transforms were published.
#![allow(clippy::excessive_precision)]

use std::num::Wrapping;

type W = Wrapping<i32>;

/// Writes the `side x side` pixels of one block at `out[0]`, rows `stride` apart.
/// Does nothing if `out` is too short (never happens for planes sized by the decoder).
pub(super) fn idct(side: usize, coefs: &[i16], quant: &[u16], out: &mut [u8], stride: usize) {
    let needed = (side - 1) * stride + side;
    if out.len() < needed || coefs.len() < side * side || quant.len() < side * side {
        return;
    }
    match side {
        8 => idct8(coefs, quant, out, stride),
        4 => idct4(coefs, quant, out, stride),
        2 => idct2(coefs, quant, out, stride),
        _ => {
            let dc = (Wrapping(i32::from(coefs[0]) * i32::from(quant[0])) + Wrapping(128 * 8))
                / Wrapping(8);
            out[0] = clamp(dc);
        }
    }
}

fn clamp(x: W) -> u8 {
    x.0.clamp(0, 255) as u8
}

fn f2f(x: f32) -> W {
    Wrapping((x * 4096.0 + 0.5) as i32)
}

fn fsh(x: W) -> W {
    x << 12
}

#[inline(always)]
fn deq(c: i16, q: u16) -> W {
    Wrapping(i32::from(c) * i32::from(q))
}

struct Kernel {
    xs: [W; 4],
    ts: [W; 4],
}

#[inline(always)]
fn kernel_x([s0, s2, s4, s6]: [W; 4], x_scale: i32) -> [W; 4] {
    let p1 = (s2 + s6) * f2f(0.5411961);
    let t2 = p1 + s6 * f2f(-1.847759065);
    let t3 = p1 + s2 * f2f(0.765366865);
    let t0 = fsh(s0 + s4);
    let t1 = fsh(s0 - s4);
    let x_scale = Wrapping(x_scale);
    [
        t0 + t3 + x_scale,
        t1 + t2 + x_scale,
        t1 - t2 + x_scale,
        t0 - t3 + x_scale,
    ]
}

#[inline(always)]
fn kernel_t([s1, s3, s5, s7]: [W; 4]) -> [W; 4] {
    let (mut t0, mut t1, mut t2, mut t3) = (s7, s5, s3, s1);
    let p3 = t0 + t2;
    let p4 = t1 + t3;
    let p1 = t0 + t3;
    let p2 = t1 + t2;
    let p5 = (p3 + p4) * f2f(1.175875602);
    t0 *= f2f(0.298631336);
    t1 *= f2f(2.053119869);
    t2 *= f2f(3.072711026);
    t3 *= f2f(1.501321110);
    let p1 = p5 + p1 * f2f(-0.899976223);
    let p2 = p5 + p2 * f2f(-2.562915447);
    let p3 = p3 * f2f(-1.961570560);
    let p4 = p4 * f2f(-0.390180644);
    t3 += p1 + p4;
    t2 += p2 + p3;
    t1 += p2 + p4;
    t0 += p1 + p3;
    [t0, t1, t2, t3]
}

#[inline(always)]
fn kernel([s0, s1, s2, s3, s4, s5, s6, s7]: [W; 8], x_scale: i32) -> Kernel {
    Kernel {
        xs: kernel_x([s0, s2, s4, s6], x_scale),
        ts: kernel_t([s1, s3, s5, s7]),
    }
}

fn idct8(c: &[i16], q: &[u16], out: &mut [u8], stride: usize) {
    let mut temp = [Wrapping(0i32); 64];
    for i in 0..8 {
        if (1..8).all(|r| c[i + 8 * r] == 0) {
            let dcterm = deq(c[i], q[i]) << 2;
            for r in 0..8 {
                temp[i + 8 * r] = dcterm;
            }
        } else {
            let s = |r: usize| deq(c[i + 8 * r], q[i + 8 * r]);
            let Kernel {
                xs: [x0, x1, x2, x3],
                ts: [t0, t1, t2, t3],
            } = kernel([s(0), s(1), s(2), s(3), s(4), s(5), s(6), s(7)], 512);
            temp[i] = (x0 + t3) >> 10;
            temp[i + 56] = (x0 - t3) >> 10;
            temp[i + 8] = (x1 + t2) >> 10;
            temp[i + 48] = (x1 - t2) >> 10;
            temp[i + 16] = (x2 + t1) >> 10;
            temp[i + 40] = (x2 - t1) >> 10;
            temp[i + 24] = (x3 + t0) >> 10;
            temp[i + 32] = (x3 - t0) >> 10;
        }
    }
    // Removes the 1 << 17 the constants and passes scaled by, rounding, and adds 128.
    const X_SCALE: i32 = 65536 + (128 << 17);
    for (r, chunk) in temp.chunks_exact(8).enumerate() {
        let row = &mut out[r * stride..r * stride + 8];
        if chunk[1..].iter().all(|v| v.0 == 0) {
            row.fill(clamp((fsh(chunk[0]) + Wrapping(X_SCALE)) >> 17));
        } else {
            let Kernel {
                xs: [x0, x1, x2, x3],
                ts: [t0, t1, t2, t3],
            } = kernel(
                [
                    chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
                ],
                X_SCALE,
            );
            row[0] = clamp((x0 + t3) >> 17);
            row[7] = clamp((x0 - t3) >> 17);
            row[1] = clamp((x1 + t2) >> 17);
            row[6] = clamp((x1 - t2) >> 17);
            row[2] = clamp((x2 + t1) >> 17);
            row[5] = clamp((x2 - t1) >> 17);
            row[3] = clamp((x3 + t0) >> 17);
            row[4] = clamp((x3 - t0) >> 17);
        }
    }
}

fn idct4(c: &[i16], q: &[u16], out: &mut [u8], stride: usize) {
    const CONST_BITS: usize = 12;
    const PASS1_BITS: usize = 2;
    const FINAL_BITS: usize = CONST_BITS + PASS1_BITS + 3;
    let mut temp = [Wrapping(0i32); 16];
    for i in 0..4 {
        let s = |r: usize| deq(c[i + 4 * r], q[i + 4 * r]);
        let (s0, s1, s2, s3) = (s(0), s(1), s(2), s(3));
        let x0 = (s0 + s2) << PASS1_BITS;
        let x2 = (s0 - s2) << PASS1_BITS;
        let p1 = (s1 + s3) * f2f(0.541196100);
        let t0 = (p1 + s3 * f2f(-1.847759065) + Wrapping(512)) >> (CONST_BITS - PASS1_BITS);
        let t2 = (p1 + s1 * f2f(0.765366865) + Wrapping(512)) >> (CONST_BITS - PASS1_BITS);
        temp[i] = x0 + t2;
        temp[i + 12] = x0 - t2;
        temp[i + 4] = x2 + t0;
        temp[i + 8] = x2 - t0;
    }
    for i in 0..4 {
        let (s0, s1, s2, s3) = (
            temp[i * 4],
            temp[i * 4 + 1],
            temp[i * 4 + 2],
            temp[i * 4 + 3],
        );
        let x0 = (s0 + s2) << CONST_BITS;
        let x2 = (s0 - s2) << CONST_BITS;
        let p1 = (s1 + s3) * f2f(0.541196100);
        let t0 = p1 + s3 * f2f(-1.847759065);
        let t2 = p1 + s1 * f2f(0.765366865);
        let x0 = x0 + Wrapping(1 << (FINAL_BITS - 1)) + Wrapping(128 << FINAL_BITS);
        let x2 = x2 + Wrapping(1 << (FINAL_BITS - 1)) + Wrapping(128 << FINAL_BITS);
        let row = &mut out[i * stride..i * stride + 4];
        row[0] = clamp((x0 + t2) >> FINAL_BITS);
        row[3] = clamp((x0 - t2) >> FINAL_BITS);
        row[1] = clamp((x2 + t0) >> FINAL_BITS);
        row[2] = clamp((x2 - t0) >> FINAL_BITS);
    }
}

fn idct2(c: &[i16], q: &[u16], out: &mut [u8], stride: usize) {
    const SCALE_BITS: usize = 3;
    let s00 = deq(c[0], q[0]);
    let s01 = deq(c[1], q[1]);
    let s10 = deq(c[2], q[2]);
    let s11 = deq(c[3], q[3]);
    let x0 = s00 + s10;
    let x2 = s00 - s10;
    let x1 = s01 + s11;
    let x3 = s01 - s11;
    let x0 = x0 + Wrapping(1 << (SCALE_BITS - 1)) + Wrapping(128 << SCALE_BITS);
    let x2 = x2 + Wrapping(1 << (SCALE_BITS - 1)) + Wrapping(128 << SCALE_BITS);
    out[0] = clamp((x0 + x1) >> SCALE_BITS);
    out[1] = clamp((x0 - x1) >> SCALE_BITS);
    out[stride] = clamp((x2 + x3) >> SCALE_BITS);
    out[stride + 1] = clamp((x2 - x3) >> SCALE_BITS);
}
