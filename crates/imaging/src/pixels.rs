//! The one decoded-image type passed between decoders, orientation, resizing and encoders.

/// Interleaved 8-bit pixels, 3 (RGB) or 4 (RGBA) channels, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pixels {
    pub width: u32,
    pub height: u32,
    pub channels: usize,
    pub data: Vec<u8>,
    /// Some source pixel had alpha below 255; set by the decoder, which sees
    /// every pixel before any reduction could round the evidence away.
    pub translucent: bool,
}

impl Pixels {
    pub fn is_translucent(&self) -> bool {
        self.translucent
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
        Pixels {
            channels: 3,
            data,
            ..self
        }
    }
}
