//! Encodes thumbnails: JPEG q85 4:2:0 for opaque images, PNG for translucent ones.

use crate::pixels::Pixels;
use crate::{Format, ImageError, Thumbnail};

/// The quality sharp and most services use for photos: artefacts are hard to see
/// and the files are about half as big as at q95.
const JPEG_QUALITY: u8 = 85;
/// Up to about 1200x800: the block copy stays under 3 MiB.
pub(crate) const OPTIMIZED_HUFFMAN_MAX_PIXELS: u64 = 1_000_000;

pub(crate) fn encode(pixels: Pixels, translucent: bool) -> Result<Thumbnail, ImageError> {
    // JPEG stores at most 65535 pixels a side; a taller or wider full-size image stays PNG.
    let fits_jpeg = pixels.width <= u32::from(u16::MAX) && pixels.height <= u32::from(u16::MAX);
    if translucent || !fits_jpeg {
        encode_png(pixels)
    } else {
        encode_jpeg(pixels.into_rgb())
    }
}

fn encode_jpeg(pixels: Pixels) -> Result<Thumbnail, ImageError> {
    let mut bytes = Vec::with_capacity(pixels.data.len() / 8);
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, JPEG_QUALITY);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    // Optimised Huffman tables save ~10% of the bytes, but the encoder then keeps
    // every block (3 bytes a pixel) for a second pass: only worth it for small ones.
    let pixel_count = u64::from(pixels.width) * u64::from(pixels.height);
    encoder.set_optimized_huffman_tables(pixel_count <= OPTIMIZED_HUFFMAN_MAX_PIXELS);
    encoder
        .encode(
            &pixels.data,
            pixels.width as u16,
            pixels.height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .map_err(|e| ImageError::Corrupt(format!("cannot encode JPEG: {e}")))?;
    // The vector grew by doubling; the service keeps thumbnails until all are stored.
    bytes.shrink_to_fit();
    Ok(Thumbnail {
        height: pixels.height,
        width: pixels.width,
        format: Format::Jpeg,
        bytes,
    })
}

fn encode_png(pixels: Pixels) -> Result<Thumbnail, ImageError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, pixels.width, pixels.height);
    encoder.set_color(if pixels.channels == 4 {
        png::ColorType::Rgba
    } else {
        png::ColorType::Rgb
    });
    encoder.set_depth(png::BitDepth::Eight);
    let png_error = |e: png::EncodingError| ImageError::Corrupt(format!("cannot encode PNG: {e}"));
    let mut writer = encoder.write_header().map_err(png_error)?;
    // Row by row: write_image_data would first copy the whole filtered image.
    let mut stream = writer.stream_writer().map_err(png_error)?;
    let io_error = |e: std::io::Error| ImageError::Corrupt(format!("cannot encode PNG: {e}"));
    std::io::Write::write_all(&mut stream, &pixels.data).map_err(io_error)?;
    stream.finish().map_err(png_error)?;
    drop(writer);
    bytes.shrink_to_fit();
    Ok(Thumbnail {
        height: pixels.height,
        width: pixels.width,
        format: Format::Png,
        bytes,
    })
}
