//! Reads fixed-size integers out of borrowed header bytes: `None` past the end, never a panic.
//!
//! Every header reader (PNG, JPEG, WebP, GIF, BMP, TIFF/EXIF) walks untrusted
//! offsets over the upload, so each read is bounds-checked here, in one place.

/// Big-endian u16 at `at`.
pub(crate) fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(array(bytes, at)?))
}

/// Big-endian u32 at `at`.
pub(crate) fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(array(bytes, at)?))
}

/// Little-endian u16 at `at`.
pub(crate) fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(array(bytes, at)?))
}

/// Little-endian 24-bit value at `at` (WebP's VP8X and ANMF sizes).
pub(crate) fn le24(bytes: &[u8], at: usize) -> Option<u32> {
    let [a, b, c] = array(bytes, at)?;
    Some(u32::from(a) | u32::from(b) << 8 | u32::from(c) << 16)
}

/// Little-endian u32 at `at`.
pub(crate) fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(array(bytes, at)?))
}

/// The `N` bytes at `at`, if they are all there.
fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_width_and_order_and_nothing_past_the_end() {
        let bytes = [0x12, 0x34, 0x56, 0x78];
        assert_eq!(be16(&bytes, 1), Some(0x3456));
        assert_eq!(le16(&bytes, 1), Some(0x5634));
        assert_eq!(le24(&bytes, 1), Some(0x78_5634));
        assert_eq!(be32(&bytes, 0), Some(0x1234_5678));
        assert_eq!(le32(&bytes, 0), Some(0x7856_3412));
        assert_eq!(be32(&bytes, 1), None);
        assert_eq!(le16(&bytes, usize::MAX), None);
    }
}
