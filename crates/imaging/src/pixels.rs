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
        let (width, height) = (self.width, self.height);
        if let Ok(mut view) = fast_image_resize::images::Image::from_slice_u8(
            width,
            height,
            &mut self.data,
            fast_image_resize::PixelType::U8x4,
        ) {
            // Cannot fail: the view was built as U8x4 from a buffer of the right size.
            let _ = fast_image_resize::MulDiv::default().divide_alpha_inplace(&mut view);
        }
        self.premultiplied = false;
        self
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
