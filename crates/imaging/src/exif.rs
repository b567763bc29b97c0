//! Reads TIFF-structured directories: a TIFF file's first image directory, and the EXIF block of a JPEG, PNG or WebP for its orientation.
//!
//! EXIF is a little TIFF file (byte-order mark, then directories of 12-byte
//! entries), so one reader serves both: the TIFF header gate
//! (crates/imaging/src/headers/other.rs) and [`orientation`]. It never
//! allocates and answers `None` for anything that lies outside the bytes.

use crate::bytes::{be16, be32, le16, le32};
use crate::orientation::Orientation;

/// The orientation tag (0x0112), in EXIF's IFD0 and in a TIFF's first directory.
pub(crate) const ORIENTATION: u16 = 274;

/// A TIFF structure over borrowed bytes, in its byte order.
pub(crate) struct Tiff<'a> {
    bytes: &'a [u8],
    little: bool,
}

/// One directory entry: its tag, type and count, and where its values are
/// (inline in the entry when they fit in 4 bytes, else at the offset it holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub tag: u16,
    pub kind: u16,
    pub count: u32,
    /// Where the entry's 4-byte value-or-offset field is.
    pub field_at: usize,
}

impl Entry {
    /// Bytes of all its values: count times the size of its type (8 for types we do not know).
    pub fn size(self) -> u64 {
        let unit = match self.kind {
            1 | 2 | 6 | 7 => 1u64,
            3 | 8 => 2,
            4 | 9 | 11 | 13 => 4,
            _ => 8,
        };
        unit * u64::from(self.count)
    }
}

impl<'a> Tiff<'a> {
    /// The structure, if the bytes start with a TIFF byte-order mark (`II*\0` or `MM\0*`).
    pub fn new(bytes: &'a [u8]) -> Option<Tiff<'a>> {
        let little = match bytes.get(0..4)? {
            b"II*\0" => true,
            b"MM\0*" => false,
            _ => return None,
        };
        Some(Tiff { bytes, little })
    }

    pub fn u16_at(&self, at: usize) -> Option<u16> {
        if self.little {
            le16(self.bytes, at)
        } else {
            be16(self.bytes, at)
        }
    }

    pub fn u32_at(&self, at: usize) -> Option<u32> {
        if self.little {
            le32(self.bytes, at)
        } else {
            be32(self.bytes, at)
        }
    }

    /// The offset of the first image directory (IFD0).
    pub fn first_directory(&self) -> Option<usize> {
        self.u32_at(4).map(|at| at as usize)
    }

    /// How many entries the directory at `ifd` has.
    pub fn entry_count(&self, ifd: usize) -> Option<usize> {
        self.u16_at(ifd).map(usize::from)
    }

    /// Entry `i` of the directory at `ifd` (its values are not checked).
    pub fn entry(&self, ifd: usize, i: usize) -> Option<Entry> {
        let at = ifd.checked_add(2 + 12 * i)?;
        Some(Entry {
            tag: self.u16_at(at)?,
            kind: self.u16_at(at + 2)?,
            count: self.u32_at(at + 4)?,
            field_at: at + 8,
        })
    }

    /// Where the entry's values start: inline, or at the offset its field holds.
    pub fn values_at(&self, entry: Entry) -> Option<usize> {
        if entry.size() <= 4 {
            Some(entry.field_at)
        } else {
            self.u32_at(entry.field_at).map(|at| at as usize)
        }
    }

    /// Value `i` of an entry of type BYTE (1), SHORT (3) or LONG (4) whose values start at `values_at`.
    pub fn value(&self, kind: u16, values_at: usize, i: u32) -> Option<u32> {
        let i = i as usize;
        match kind {
            1 => self.bytes.get(values_at + i).map(|&b| u32::from(b)),
            3 => self.u16_at(values_at + 2 * i).map(u32::from),
            4 => self.u32_at(values_at + 4 * i),
            _ => None,
        }
    }
}

/// Of a PNG's eXIf chunk, the head its orientation is read from (IFD0 comes first in every
/// writer we know): the streaming decoder keeps no more, and `headers` reads the same head,
/// so both find the same orientation.
pub(crate) const ORIENTATION_HEAD_BYTES: usize = 64 * 1024;

/// The orientation an EXIF block (a TIFF structure, after any `Exif\0\0` prefix) records
/// in IFD0; `None` when it has none or the block is damaged.
pub(crate) fn orientation(exif: &[u8]) -> Option<Orientation> {
    let tiff = Tiff::new(exif)?;
    let ifd = tiff.first_directory()?;
    let entry = (0..tiff.entry_count(ifd)?)
        .filter_map(|i| tiff.entry(ifd, i))
        .find(|entry| entry.tag == ORIENTATION)?;
    // The first SHORT of the field, whatever type the entry claims, as readers commonly do.
    Orientation::from_exif(tiff.u16_at(entry.field_at)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exif(little: bool, entries: &[(u16, u16, u32, u32)]) -> Vec<u8> {
        let u16b = |v: u16| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let u32b = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let mut out = if little {
            b"II*\0".to_vec()
        } else {
            b"MM\0*".to_vec()
        };
        out.extend_from_slice(&u32b(8));
        out.extend_from_slice(&u16b(entries.len() as u16));
        for &(tag, kind, count, field) in entries {
            out.extend_from_slice(&u16b(tag));
            out.extend_from_slice(&u16b(kind));
            out.extend_from_slice(&u32b(count));
            // A SHORT sits in the field's first two bytes.
            if kind == 3 {
                out.extend_from_slice(&u16b(field as u16));
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&u32b(field));
            }
        }
        out
    }

    #[test]
    fn the_orientation_is_found_in_either_byte_order_after_other_tags() {
        for little in [true, false] {
            let block = exif(little, &[(0x010F, 2, 4, 0), (ORIENTATION, 3, 1, 6)]);
            assert_eq!(orientation(&block), Some(Orientation::Rotate90), "{little}");
        }
    }

    #[test]
    fn a_block_without_the_tag_a_bad_value_or_cut_short_has_no_orientation() {
        assert_eq!(orientation(&exif(true, &[(0x010F, 2, 4, 0)])), None);
        assert_eq!(orientation(&exif(true, &[(ORIENTATION, 3, 1, 9)])), None);
        let whole = exif(false, &[(ORIENTATION, 3, 1, 3)]);
        assert_eq!(orientation(&whole[..whole.len() - 4]), None);
        assert_eq!(orientation(b"not a TIFF block"), None);
    }

    #[test]
    fn values_longer_than_four_bytes_are_read_at_their_offset() {
        // Two LONGs (8 bytes) at offset 22, just after the directory.
        let mut block = exif(true, &[(273, 4, 2, 22)]);
        block.extend_from_slice(&[7, 0, 0, 0, 9, 0, 0, 0]);
        let tiff = Tiff::new(&block).unwrap();
        let entry = tiff.entry(8, 0).unwrap();
        let at = tiff.values_at(entry).unwrap();
        assert_eq!(tiff.value(entry.kind, at, 1), Some(9));
    }
}
