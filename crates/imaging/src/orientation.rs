//! EXIF orientation: the eight ways a camera may have stored a photo, and how to undo them.

use crate::pixels::Pixels;

/// The EXIF orientation tag (0x0112), named after what turns the stored pixels upright.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    /// 1: stored upright.
    Normal,
    /// 2: mirrored left to right.
    FlipHorizontal,
    /// 3: upside down.
    Rotate180,
    /// 4: mirrored top to bottom.
    FlipVertical,
    /// 5: mirrored along the main diagonal.
    Transpose,
    /// 6: needs a quarter turn clockwise (phone held upright).
    Rotate90,
    /// 7: mirrored along the anti-diagonal.
    Transverse,
    /// 8: needs a quarter turn anticlockwise.
    Rotate270,
}

impl Orientation {
    /// Reads the tag value; anything outside 1..=8 is treated as absent by callers.
    pub fn from_exif(value: u16) -> Option<Orientation> {
        Some(match value {
            1 => Orientation::Normal,
            2 => Orientation::FlipHorizontal,
            3 => Orientation::Rotate180,
            4 => Orientation::FlipVertical,
            5 => Orientation::Transpose,
            6 => Orientation::Rotate90,
            7 => Orientation::Transverse,
            8 => Orientation::Rotate270,
            _ => return None,
        })
    }

    /// The tag value, 1..=8.
    pub fn exif_value(self) -> u16 {
        match self {
            Orientation::Normal => 1,
            Orientation::FlipHorizontal => 2,
            Orientation::Rotate180 => 3,
            Orientation::FlipVertical => 4,
            Orientation::Transpose => 5,
            Orientation::Rotate90 => 6,
            Orientation::Transverse => 7,
            Orientation::Rotate270 => 8,
        }
    }

    /// Whether the upright image has width and height exchanged.
    pub fn swaps_axes(self) -> bool {
        matches!(
            self,
            Orientation::Transpose
                | Orientation::Rotate90
                | Orientation::Transverse
                | Orientation::Rotate270
        )
    }
}

/// Turns stored pixels upright. Runs on the already reduced image, so the copy is cheap.
pub(crate) fn apply(image: Pixels, orientation: Orientation) -> Pixels {
    if orientation == Orientation::Normal {
        return image;
    }
    let (sw, sh) = (image.width as usize, image.height as usize);
    let (dw, dh) = if orientation.swaps_axes() {
        (sh, sw)
    } else {
        (sw, sh)
    };
    let c = image.channels;
    let mut out = vec![0u8; image.data.len()];
    for dy in 0..dh {
        for dx in 0..dw {
            // Where the upright pixel (dx, dy) is found in the stored image.
            let (sx, sy) = match orientation {
                Orientation::Normal => (dx, dy),
                Orientation::FlipHorizontal => (sw - 1 - dx, dy),
                Orientation::Rotate180 => (sw - 1 - dx, sh - 1 - dy),
                Orientation::FlipVertical => (dx, sh - 1 - dy),
                Orientation::Transpose => (dy, dx),
                Orientation::Rotate90 => (dy, sh - 1 - dx),
                Orientation::Transverse => (sw - 1 - dy, sh - 1 - dx),
                Orientation::Rotate270 => (sw - 1 - dy, dx),
            };
            let from = (sy * sw + sx) * c;
            let to = (dy * dw + dx) * c;
            out[to..to + c].copy_from_slice(&image.data[from..from + c]);
        }
    }
    Pixels {
        width: dw as u32,
        height: dh as u32,
        data: out,
        ..image
    }
}
