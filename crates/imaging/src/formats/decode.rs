//! Decodes a WebP, GIF, BMP or TIFF at full size into one buffer, shrinks it in place, then resizes, orients and encodes.
//!
//! These decoders cannot scale or stream, so the decoded image is the biggest
//! thing alive: everything after it works inside its buffer (alpha premultiplied
//! or dropped in place, box reduction in place) or on the much smaller reduced
//! image, and orientation is applied to each thumbnail instead of the full image.

use super::gif_blocks::without_metadata;
use crate::headers::{Coding, Header};
use crate::pixels::Pixels;
use crate::plan::full_size::{max_pixels, stored_sizes, HEADER_BUDGET};
use crate::{encode, orientation, resize, Format, ImageError, Thumbnail};
use image::codecs::{bmp::BmpDecoder, gif::GifDecoder, webp::WebPDecoder};
use image::{ColorType, ImageDecoder};
use std::io::Cursor;

/// The thumbnails, in the order of `heights`, of an image the plan accepted: its header, and
/// the box `factor` it chose to reduce the decoded image by.
pub(crate) fn thumbnails(
    bytes: &[u8],
    header: &Header,
    factor: u32,
    heights: &[u32],
) -> Result<Vec<Thumbnail>, ImageError> {
    let sizes = stored_sizes(header, heights);
    let mut image = decode(bytes, header)?;
    prepare_alpha(&mut image);
    let translucent = image.translucent;
    reduce_in_place(&mut image, factor);

    // As in thumbnails.rs: resize everything, drop the decoded image, then encode; a
    // thumbnail as large as the decoded image takes its buffer.
    let mut resizer = resize::Resizer::new();
    let same_size = sizes
        .iter()
        .rposition(|&size| size == (image.width, image.height));
    let mut resized: Vec<Option<Pixels>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| match same_size {
            Some(last) if i == last => Ok(None),
            _ => resizer.resize(&image, w, h).map(Some),
        })
        .collect::<Result<_, _>>()?;
    drop(resizer);
    if let Some(last) = same_size {
        resized[last] = Some(image.unpremultiplied());
    } else {
        drop(image);
    }
    resized
        .into_iter()
        .flatten()
        .map(|pixels| encode::encode(orientation::apply(pixels, header.orientation), translucent))
        .collect()
}

/// How the decoder hands over samples: count, bytes each (1, or 2 native-endian),
/// whether the last is alpha, and whether the colour is CMYK ink.
#[derive(Clone, Copy)]
struct Layout {
    samples: usize,
    sample_bytes: usize,
    alpha: bool,
    cmyk: bool,
}

impl Layout {
    fn bytes_per_pixel(self) -> usize {
        self.samples * self.sample_bytes
    }

    fn channels_out(self) -> usize {
        if self.alpha {
            4
        } else {
            3
        }
    }
}

fn decode(bytes: &[u8], header: &Header) -> Result<Pixels, ImageError> {
    let (data, channels) = match header.format() {
        Format::WebP => read_image(WebPDecoder::new(Cursor::new(bytes)), header)?,
        // Metadata extensions never reach gif (gif_blocks.rs says why).
        Format::Gif => read_image(GifDecoder::new(without_metadata(bytes)), header)?,
        Format::Bmp => read_image(BmpDecoder::new(Cursor::new(bytes)), header)?,
        Format::Tiff => read_tiff(bytes, header)?,
        Format::Png | Format::Jpeg => return Err(ImageError::Unsupported),
    };
    Ok(Pixels {
        width: header.width,
        height: header.height,
        channels,
        data,
        translucent: false,
        premultiplied: false,
    })
}

/// Decodes with one of `image`'s decoders into a buffer sized for the 8-bit RGB(A) result.
fn read_image<D: ImageDecoder>(
    decoder: image::ImageResult<D>,
    header: &Header,
) -> Result<(Vec<u8>, usize), ImageError> {
    let mut decoder = decoder.map_err(|e| image_error(e, header))?;
    // The header gate already bounds the size; this keeps the decoder itself honest.
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(header.width);
    limits.max_image_height = Some(header.height);
    limits.max_alloc = Some(HEADER_BUDGET);
    decoder
        .set_limits(limits)
        .map_err(|e| image_error(e, header))?;
    if decoder.dimensions() != (header.width, header.height) {
        return Err(ImageError::Corrupt(
            "image size differs from its header".into(),
        ));
    }
    let layout = match decoder.color_type() {
        ColorType::L8 => (1, false),
        ColorType::La8 => (2, true),
        ColorType::Rgb8 => (3, false),
        ColorType::Rgba8 => (4, true),
        _ => return Err(ImageError::Unsupported),
    };
    let layout = Layout {
        samples: layout.0,
        sample_bytes: 1,
        alpha: layout.1,
        cmyk: false,
    };
    let pixels = header.width as usize * header.height as usize;
    let len = pixels * layout.bytes_per_pixel();
    if decoder.total_bytes() != len as u64 {
        return Err(ImageError::Corrupt("unexpected decoded size".into()));
    }
    let mut data = allocate(pixels, layout, header)?;
    data.resize(len, 0);
    decoder
        .read_image(&mut data)
        .map_err(|e| image_error(e, header))?;
    to_rgb8(&mut data, pixels, layout);
    Ok((data, layout.channels_out()))
}

/// Decodes with the `tiff` crate into our own buffer: `image`'s TIFF decoder
/// would decode into one of its own and copy, twice the memory.
fn read_tiff(bytes: &[u8], header: &Header) -> Result<(Vec<u8>, usize), ImageError> {
    let Coding::Tiff {
        samples,
        sample_bytes,
        alpha,
        cmyk,
        ..
    } = header.coding
    else {
        return Err(ImageError::Unsupported);
    };
    let mut limits = tiff::decoder::Limits::default();
    limits.decoding_buffer_size = HEADER_BUDGET as usize;
    limits.intermediate_buffer_size = HEADER_BUDGET as usize;
    limits.ifd_value_size = 1024 * 1024;
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes))
        .map_err(tiff_error)?
        .with_limits(limits);
    if decoder.dimensions().map_err(tiff_error)? != (header.width, header.height) {
        return Err(ImageError::Corrupt(
            "TIFF size differs from its header".into(),
        ));
    }
    // The crate's reading of the colour must agree with ours, or the layout below is wrong.
    let bits = 8 * sample_bytes as u8;
    let expected = match (cmyk, samples - u16::from(alpha), alpha) {
        (true, _, _) => tiff::ColorType::CMYK(bits),
        (false, 1, false) => tiff::ColorType::Gray(bits),
        (false, 1, true) => tiff::ColorType::GrayA(bits),
        (false, _, false) => tiff::ColorType::RGB(bits),
        (false, _, true) => tiff::ColorType::RGBA(bits),
    };
    if decoder.colortype().map_err(tiff_error)? != expected {
        return Err(ImageError::Unsupported);
    }
    let layout = Layout {
        samples: usize::from(samples),
        sample_bytes: usize::from(sample_bytes),
        alpha,
        cmyk,
    };
    let pixels = header.width as usize * header.height as usize;
    let mut data = allocate(pixels, layout, header)?;
    data.resize(pixels * layout.bytes_per_pixel(), 0);
    decoder.read_image_bytes(&mut data).map_err(tiff_error)?;
    to_rgb8(&mut data, pixels, layout);
    Ok((data, layout.channels_out()))
}

/// One buffer large enough for both the decoder's samples and the 8-bit RGB(A) result.
fn allocate(pixels: usize, layout: Layout, header: &Header) -> Result<Vec<u8>, ImageError> {
    let capacity = pixels * layout.bytes_per_pixel().max(layout.channels_out());
    let mut data = Vec::new();
    data.try_reserve_exact(capacity)
        .map_err(|_| ImageError::TooManyPixels {
            width: header.width,
            height: header.height,
            max: max_pixels(header),
        })?;
    Ok(data)
}

/// Rewrites decoded samples as 8-bit RGB or RGBA in the same buffer: forwards
/// when pixels shrink (16-bit, CMYK), backwards when they grow (grey), so no
/// pixel is overwritten before it is read.
fn to_rgb8(data: &mut Vec<u8>, pixels: usize, layout: Layout) {
    let (from, to) = (layout.bytes_per_pixel(), layout.channels_out());
    if !layout.cmyk && layout.sample_bytes == 1 && layout.samples == to {
        return; // already RGB8 or RGBA8
    }
    let convert = |data: &[u8], i: usize| -> [u8; 4] {
        let p = &data[i * from..(i + 1) * from];
        let sample = |s: usize| -> u8 {
            if layout.sample_bytes == 2 {
                let v = u16::from_ne_bytes([p[2 * s], p[2 * s + 1]]);
                ((u32::from(v) * 255 + 32895) >> 16) as u8
            } else {
                p[s]
            }
        };
        let alpha = if layout.alpha {
            sample(layout.samples - 1)
        } else {
            255
        };
        if layout.cmyk {
            let k = 255 - u32::from(sample(3));
            let ink = |s: usize| ((255 - u32::from(sample(s))) * k / 255) as u8;
            [ink(0), ink(1), ink(2), alpha]
        } else if layout.samples - usize::from(layout.alpha) == 1 {
            let g = sample(0);
            [g, g, g, alpha]
        } else {
            [sample(0), sample(1), sample(2), alpha]
        }
    };
    if to <= from {
        for i in 0..pixels {
            let px = convert(data, i);
            data[i * to..(i + 1) * to].copy_from_slice(&px[..to]);
        }
        data.truncate(pixels * to);
    } else {
        // Within the capacity reserved by `allocate`: no reallocation.
        data.resize(pixels * to, 0);
        for i in (0..pixels).rev() {
            let px = convert(data, i);
            data[i * to..(i + 1) * to].copy_from_slice(&px[..to]);
        }
    }
}

/// Looks at every pixel once: a translucent image is premultiplied in place (so
/// the resizer needs no premultiplied copy); an opaque RGBA one loses its alpha
/// channel in place (JPEG thumbnails, and a quarter less to resize).
fn prepare_alpha(image: &mut Pixels) {
    if image.channels != 4 {
        return;
    }
    if image.data.chunks_exact(4).any(|p| p[3] != 255) {
        image.translucent = true;
        image.premultiply();
    } else {
        let pixels = image.data.len() / 4;
        for i in 0..pixels {
            image.data.copy_within(i * 4..i * 4 + 3, i * 3);
        }
        image.data.truncate(pixels * 3);
        image.channels = 3;
    }
}

/// Averages `factor` x `factor` blocks (partial at the right and bottom edges)
/// into the start of the same buffer. Output row `oy` ends before input row
/// `(oy + 1) * factor` starts, so no input is overwritten before it is read.
fn reduce_in_place(image: &mut Pixels, factor: u32) {
    if factor <= 1 {
        return;
    }
    let (w, h, c, k) = (
        image.width as usize,
        image.height as usize,
        image.channels,
        factor as usize,
    );
    let (ow, oh) = (w.div_ceil(k), h.div_ceil(k));
    let mut sums = vec![0u32; ow * c];
    for oy in 0..oh {
        sums.fill(0);
        let (y0, y1) = (oy * k, (oy * k + k).min(h));
        for y in y0..y1 {
            let row = &image.data[y * w * c..(y + 1) * w * c];
            for (block, sum) in row.chunks(k * c).zip(sums.chunks_exact_mut(c)) {
                for px in block.chunks_exact(c) {
                    for (s, &v) in sum.iter_mut().zip(px) {
                        *s += u32::from(v);
                    }
                }
            }
        }
        let out = &mut image.data[oy * ow * c..(oy + 1) * ow * c];
        for (ox, (px, sum)) in out
            .chunks_exact_mut(c)
            .zip(sums.chunks_exact(c))
            .enumerate()
        {
            let n = ((k.min(w - ox * k)) * (y1 - y0)) as u32;
            for (o, &s) in px.iter_mut().zip(sum) {
                *o = ((s + n / 2) / n) as u8;
            }
        }
    }
    image.data.truncate(ow * oh * c);
    image.width = ow as u32;
    image.height = oh as u32;
}

fn image_error(error: image::ImageError, header: &Header) -> ImageError {
    match error {
        image::ImageError::Limits(_) => ImageError::TooManyPixels {
            width: header.width,
            height: header.height,
            max: max_pixels(header),
        },
        image::ImageError::Unsupported(_) => ImageError::Unsupported,
        other => ImageError::Corrupt(other.to_string()),
    }
}

fn tiff_error(error: tiff::TiffError) -> ImageError {
    match error {
        tiff::TiffError::UnsupportedError(_) => ImageError::Unsupported,
        other => ImageError::Corrupt(other.to_string()),
    }
}
