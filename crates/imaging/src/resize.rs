//! Lanczos3 resampling of the decoded, upright image to each thumbnail size.
//!
//! fast_image_resize does the convolution with SIMD (simd128 on wasm32) and,
//! for RGBA, multiplies by alpha first so transparent pixels lend no colour.

use crate::pixels::Pixels;
use crate::ImageError;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions};

pub(crate) struct Resizer {
    inner: fast_image_resize::Resizer,
    options: ResizeOptions,
}

impl Resizer {
    pub fn new() -> Resizer {
        Resizer {
            inner: fast_image_resize::Resizer::new(),
            options: ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)),
        }
    }

    pub fn resize(
        &mut self,
        source: &Pixels,
        width: u32,
        height: u32,
    ) -> Result<Pixels, ImageError> {
        if (width, height) == (source.width, source.height) {
            return Ok(source.clone().unpremultiplied());
        }
        let pixel_type = if source.channels == 4 {
            PixelType::U8x4
        } else {
            PixelType::U8x3
        };
        let from = ImageRef::new(source.width, source.height, &source.data, pixel_type)
            .map_err(|e| ImageError::Corrupt(format!("cannot resize: {e}")))?;
        let mut to = Image::new(width, height, pixel_type);
        // Only multiply by alpha here if the decoder has not already done it.
        let options = self.options.use_alpha(!source.premultiplied);
        self.inner
            .resize(&from, &mut to, &options)
            .map_err(|e| ImageError::Corrupt(format!("cannot resize: {e}")))?;
        Ok(Pixels {
            width,
            height,
            channels: source.channels,
            data: to.into_vec(),
            translucent: source.translucent,
            premultiplied: source.premultiplied,
        }
        .unpremultiplied())
    }
}
