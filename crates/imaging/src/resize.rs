//! Lanczos3 resampling of the decoded, upright image to each thumbnail size.
//!
//! fast_image_resize does the convolution with SIMD (simd128 on wasm32) and,
//! for RGBA, multiplies by alpha first so transparent pixels lend no colour.

use crate::pixels::Pixels;
use crate::ImageError;
use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::pixels::{U8x3, U8x4};
use fast_image_resize::{FilterType, PixelTrait, ResizeAlg, ResizeOptions};

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
        // Only multiply by alpha here if the decoder has not already done it.
        let options = self.options.use_alpha(!source.premultiplied);
        let data = if source.channels == 4 {
            self.resize_as::<U8x4>(source, width, height, &options)
        } else {
            self.resize_as::<U8x3>(source, width, height, &options)
        }
        .map_err(|e| ImageError::Corrupt(format!("cannot resize: {e}")))?;
        Ok(Pixels {
            width,
            height,
            channels: source.channels,
            data,
            translucent: source.translucent,
            premultiplied: source.premultiplied,
        }
        .unpremultiplied())
    }

    /// The resize for one pixel type, named at compile time: fast_image_resize's untyped entry
    /// picks the type at run time, which links the code of every type it knows, among them a
    /// 512 KiB table for 16-bit alpha (a quarter of the gzipped bundle) that nothing here uses.
    fn resize_as<P: PixelTrait>(
        &mut self,
        source: &Pixels,
        width: u32,
        height: u32,
        options: &ResizeOptions,
    ) -> Result<Vec<u8>, String> {
        let from = TypedImageRef::<P>::from_buffer(source.width, source.height, &source.data)
            .map_err(|e| e.to_string())?;
        let mut data = vec![0; width as usize * height as usize * P::size()];
        let mut to =
            TypedImage::<P>::from_buffer(width, height, &mut data).map_err(|e| e.to_string())?;
        self.inner
            .resize_typed(&from, &mut to, options)
            .map_err(|e| e.to_string())?;
        Ok(data)
    }
}
