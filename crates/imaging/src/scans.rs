//! Bounds the decoding work of a JPEG from its markers alone: how many scans, and how many blocks they touch.
//!
//! The decoder walks every block of a scan's components on every scan, even an
//! empty one, so a 50 KB progressive file that declares 6000x4000 pixels and
//! repeats its scans a thousand times costs seconds of CPU (issue 11). The
//! entropy-coded data is skipped, not decoded: a scan ends at the next marker
//! that is not a restart marker or a stuffed 0xFF00, so this walk costs one
//! byte comparison per input byte and allocates nothing.

use crate::bytes::be16;
use crate::ImageError;

/// More scans than any encoder's script writes: libjpeg's default progressive
/// script has 10 (6 for grayscale), mozjpeg's optimised ones a few more.
pub const MAX_SCANS: u32 = 100;
/// Decode work of a progressive JPEG, in passes over all of its blocks. libjpeg's
/// default script costs about 5.3 passes at 4:2:0 (4 over every block for the DC
/// and refinement scans, 2 more over luma), 6 for grayscale; this leaves room
/// for scripts with more successive-approximation steps.
pub const MAX_PROGRESSIVE_PASSES: u64 = 20;
/// Marker segments of any kind. The decoder parses each (a Huffman table
/// segment builds lookup tables), so a file made of tiny segments is work too;
/// real files have a few dozen, a large ICC profile in 64 KB chunks a few more.
pub const MAX_SEGMENTS: u32 = 1000;
/// A sequential (baseline) JPEG codes each component once: one pass.
const MAX_SEQUENTIAL_PASSES: u64 = 1;

/// The frame header's geometry: what decoding memory and work depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    pub width: u32,
    pub height: u32,
    pub progressive: bool,
    /// (identifier, horizontal, vertical sampling factor) per component, 1 to 4 of them.
    pub components: Vec<(u8, u32, u32)>,
    /// Bytes of APPn segments, which the decoder copies (EXIF, ICC, XMP).
    pub metadata_bytes: u64,
    /// Components of the first scan: fewer than all means a sequential image
    /// whose coefficients must be stored until every component has arrived.
    pub first_scan_components: usize,
}

impl Frame {
    /// Parses an SOF segment (after its length), whose size and component count
    /// `headers` has already checked.
    pub fn parse(segment: &[u8], progressive: bool) -> Result<Frame, ImageError> {
        let truncated = || ImageError::Corrupt("JPEG frame header truncated".into());
        let height = u32::from(be16(segment, 1).ok_or_else(truncated)?);
        let width = u32::from(be16(segment, 3).ok_or_else(truncated)?);
        let count = usize::from(*segment.get(5).ok_or_else(truncated)?);
        let specs = segment.get(6..6 + 3 * count).ok_or_else(truncated)?;
        let components: Vec<_> = specs
            .chunks_exact(3)
            .map(|c| (c[0], u32::from(c[1] >> 4), u32::from(c[1] & 15)))
            .collect();
        if components
            .iter()
            .any(|&(_, h, v)| !(1..=4).contains(&h) || !(1..=4).contains(&v))
        {
            return Err(ImageError::Corrupt(
                "JPEG with invalid sampling factors".into(),
            ));
        }
        Ok(Frame {
            width,
            height,
            progressive,
            first_scan_components: components.len(),
            components,
            metadata_bytes: 0,
        })
    }

    fn max_factors(&self) -> (u32, u32) {
        let h = self.components.iter().map(|c| c.1).max().unwrap_or(1);
        let v = self.components.iter().map(|c| c.2).max().unwrap_or(1);
        (h, v)
    }

    /// MCUs across and down, each `8 * h_max` by `8 * v_max` pixels.
    pub fn mcus(&self) -> (u64, u64) {
        let (h_max, v_max) = self.max_factors();
        (
            u64::from(self.width.div_ceil(8 * h_max)),
            u64::from(self.height.div_ceil(8 * v_max)),
        )
    }

    /// Blocks of component `index` as the decoder stores them, padded to whole MCUs.
    pub fn component_blocks(&self, index: usize) -> (u64, u64) {
        let (mcus_x, mcus_y) = self.mcus();
        let (_, h, v) = self.components[index];
        (mcus_x * u64::from(h), mcus_y * u64::from(v))
    }

    fn total_blocks(&self) -> u64 {
        (0..self.components.len())
            .map(|i| {
                let (x, y) = self.component_blocks(i);
                x * y
            })
            .sum()
    }
}

/// APPn segments: jpeg-decoder keeps a copy of the EXIF, ICC and XMP ones.
pub(crate) fn is_metadata(marker: u8) -> bool {
    matches!(marker, 0xE0..=0xEF)
}

/// Walks every marker after the frame header (which ends at `at`) up to EOI,
/// and refuses an image whose scans would cost more than a real photo of its
/// size, or that has more than [`MAX_SEGMENTS`] segments (`segments` were seen
/// before the frame header); returns the bytes of APPn segments on the way and
/// the component count of the first scan. A truncated file is left to the
/// decoder, which reports it.
pub(crate) fn check(
    bytes: &[u8],
    mut at: usize,
    frame: &Frame,
    mut segments: u32,
) -> Result<(u64, Option<usize>), ImageError> {
    let mut first_scan = None;
    let (mut scans, mut work, mut metadata) = (0u32, 0u64, 0u64);
    let total = frame.total_blocks().max(1);
    let max_passes = if frame.progressive {
        MAX_PROGRESSIVE_PASSES
    } else {
        MAX_SEQUENTIAL_PASSES
    };
    while let Some(marker_at) = next_marker(bytes, at) {
        let marker = bytes[marker_at + 1];
        at = marker_at + 2;
        match marker {
            0xD9 => break, // EOI: the decoder stops here
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len) = be16(bytes, at).map(usize::from) else {
            break;
        };
        let Some(segment) = bytes.get(at + 2..at + len.max(2)) else {
            break;
        };
        at += len.max(2);
        if is_metadata(marker) {
            metadata += len as u64;
        }
        segments += 1;
        if segments > MAX_SEGMENTS {
            return Err(ImageError::TooComplex {
                scans,
                passes: u32::try_from(work.div_ceil(total)).unwrap_or(u32::MAX),
                segments,
            });
        }
        if marker != 0xDA {
            continue;
        }
        scans += 1;
        if first_scan.is_none() {
            first_scan = segment.first().map(|&count| usize::from(count));
        }
        work = work.saturating_add(scan_blocks(segment, frame)?);
        let passes = work.div_ceil(total);
        if scans > MAX_SCANS || work > max_passes * total {
            return Err(ImageError::TooComplex {
                scans,
                passes: u32::try_from(passes).unwrap_or(u32::MAX),
                segments,
            });
        }
    }
    Ok((metadata, first_scan))
}

/// The offset of the next marker's 0xFF at or after `at`, skipping entropy-coded
/// bytes, stuffed 0xFF00, restart markers inside a scan and 0xFF fill bytes.
fn next_marker(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let ff = at + bytes.get(at..)?.iter().position(|&b| b == 0xFF)?;
        match *bytes.get(ff + 1)? {
            0x00 | 0xFF | 0xD0..=0xD7 => at = ff + 1,
            _ => return Some(ff),
        }
    }
}

/// Blocks a scan makes the decoder visit: one component's own blocks, or every
/// MCU's blocks of each component an interleaved scan carries.
fn scan_blocks(segment: &[u8], frame: &Frame) -> Result<u64, ImageError> {
    let corrupt = || ImageError::Corrupt("JPEG scan header invalid".into());
    let count = usize::from(*segment.first().ok_or_else(corrupt)?);
    let selectors = segment.get(1..1 + 2 * count).ok_or_else(corrupt)?;
    if count == 0 {
        return Err(corrupt());
    }
    let indices = selectors.chunks_exact(2).map(|s| {
        frame
            .components
            .iter()
            .position(|c| c.0 == s[0])
            .ok_or_else(corrupt)
    });
    let mut blocks = 0;
    for index in indices {
        let index = index?;
        blocks += if count == 1 {
            // A single-component scan covers only the component's own pixels.
            let (h_max, v_max) = frame.max_factors();
            let (_, h, v) = frame.components[index];
            let width = (frame.width * h).div_ceil(h_max);
            let height = (frame.height * v).div_ceil(v_max);
            u64::from(width.div_ceil(8)) * u64::from(height.div_ceil(8))
        } else {
            let (x, y) = frame.component_blocks(index);
            x * y
        };
    }
    Ok(blocks)
}
