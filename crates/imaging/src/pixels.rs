//! The one decoded-image type passed between decoders, orientation, resizing and encoders.

/// Interleaved 8-bit pixels, 3 (RGB) or 4 (RGBA) channels, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub channels: usize,
    pub data: Vec<u8>,
    /// Some source pixel had alpha below 255; set by the decoder, which sees
    /// every pixel before any reduction could round the evidence away.
    pub translucent: bool,
    /// RGBA colour already multiplied by alpha (the PNG box stage does it anyway);
    /// saves the resizer a full-size premultiplied copy. Never set when encoding.
    pub premultiplied: bool,
}

impl Pixels {
    pub fn is_translucent(&self) -> bool {
        self.translucent
    }

    /// Divides colour by alpha again, in place.
    pub fn unpremultiplied(mut self) -> Pixels {
        if !self.premultiplied {
            return self;
        }
        if let Some(mut view) = rgba_view(self.width, self.height, &mut self.data) {
            // Cannot fail: U8x4 has alpha.
            let _ = fast_image_resize::MulDiv::default().divide_alpha_inplace_typed(&mut view);
        }
        self.premultiplied = false;
        self
    }

    /// Multiplies colour by alpha, in place (RGBA only).
    pub fn premultiply(&mut self) {
        if self.channels != 4 || self.premultiplied {
            return;
        }
        if let Some(mut view) = rgba_view(self.width, self.height, &mut self.data) {
            // Cannot fail: U8x4 has alpha.
            let _ = fast_image_resize::MulDiv::default().multiply_alpha_inplace_typed(&mut view);
            self.premultiplied = true;
        }
    }

    /// Drops the alpha channel of an image that turned out to be opaque.
    pub fn into_rgb(self) -> Pixels {
        if self.channels == 3 {
            return self;
        }
        let mut data = self.data;
        let pixels = data.len() / 4;
        for i in 0..pixels {
            data.copy_within(i * 4..i * 4 + 3, i * 3);
        }
        data.truncate(pixels * 3);
        data.shrink_to_fit();
        // Opaque colour is the same premultiplied or not.
        Pixels {
            channels: 3,
            data,
            premultiplied: false,
            ..self
        }
    }
}

/// The RGBA buffer as fast_image_resize's typed view (`None` if it is not `width` x `height`
/// pixels). Typed, so only the 8-bit RGBA alpha code is linked (see `resize.rs`).
fn rgba_view(
    width: u32,
    height: u32,
    data: &mut [u8],
) -> Option<fast_image_resize::images::TypedImage<'_, fast_image_resize::pixels::U8x4>> {
    fast_image_resize::images::TypedImage::from_buffer(width, height, data).ok()
}
