//! One decode, every requested height: the decoder the plan chose, then orientation, Lanczos3 and the encoder for each thumbnail.
//!
//! [`thumbnails`] is the one entry for an upload held whole; the streaming
//! [`Thumbnailer`](crate::Thumbnailer) plans from the header as the bytes arrive and
//! ends here too ([`thumbnails_planned`], or [`resize_and_encode`] for a JPEG or PNG it
//! decoded on the way).

use crate::pixels::Pixels;
use crate::plan::{plan, thumbnail_size, Plan, Reduction};
use crate::{encode, formats, jpeg, orientation, png_stream, resize};
use crate::{ImageError, Limits, Probe, Thumbnail};

/// One decode, every requested height, EXIF orientation applied.
///
/// Thumbnails come back in the order of `heights` (the service passes them sorted
/// ascending and distinct). A height at or above the upright height gives the
/// full-size image re-encoded: we never upscale. Opaque images become JPEG q85
/// 4:2:0; an image with any alpha below 255 stays PNG.
pub fn thumbnails(
    bytes: &[u8],
    heights: &[u32],
    limits: &Limits,
) -> Result<(Probe, Vec<Thumbnail>), ImageError> {
    let planned = plan(bytes, heights, limits)?;
    thumbnails_planned(bytes, heights, &planned)
}

/// [`thumbnails`] with the plan already made (by [`plan`] over the same bytes and heights): the
/// headers are not read again, and the decoder does what the plan chose.
pub(crate) fn thumbnails_planned(
    bytes: &[u8],
    heights: &[u32],
    planned: &Plan,
) -> Result<(Probe, Vec<Thumbnail>), ImageError> {
    let probe = planned.probe;

    // The plan decoded only as much as the tallest thumbnail needs.
    let decoded = match planned.reduction {
        Reduction::Jpeg { block_side } => jpeg::decode_scaled(bytes, block_side)?,
        Reduction::Png { factor } => png_stream::decode_reduced(bytes, factor)?,
        // Full-size decoders: their own in-place steps, which keep the full image unrotated.
        Reduction::InPlace { factor } => {
            return formats::thumbnails(bytes, &planned.header, factor, heights)
                .map(|t| (probe, t));
        }
    };
    resize_and_encode(decoded, probe, heights).map(|t| (probe, t))
}

/// The thumbnails of `heights` from an image decoded as stored: orientation, then each size.
pub(crate) fn resize_and_encode(
    decoded: Pixels,
    probe: Probe,
    heights: &[u32],
) -> Result<Vec<Thumbnail>, ImageError> {
    let sizes: Vec<(u32, u32)> = heights
        .iter()
        .map(|&h| thumbnail_size(probe.width, probe.height, h))
        .collect();
    let upright = orientation::apply(decoded, probe.orientation);

    // Each thumbnail is encoded as soon as it is resized, so only one is held as
    // pixels. The last one resized is encoded after the decoded image is dropped,
    // so the largest encoder never coexists with it; one as large as the decoded
    // image (no downscale needed) takes its buffer instead of a copy.
    let mut resizer = resize::Resizer::new();
    let translucent = upright.is_translucent();
    let same_size = sizes
        .iter()
        .rposition(|&(w, h)| (w, h) == (upright.width, upright.height));
    let resized: Vec<usize> = (0..sizes.len()).filter(|&i| Some(i) != same_size).collect();
    let mut thumbnails: Vec<Option<Thumbnail>> = vec![None; sizes.len()];
    let mut pending = None;
    for &i in &resized {
        let (w, h) = sizes[i];
        let pixels = resizer.resize(&upright, w, h)?;
        if Some(&i) == resized.last() {
            pending = Some((i, pixels));
        } else {
            thumbnails[i] = Some(encode::encode(pixels, translucent)?);
        }
    }
    drop(resizer);
    let kept = same_size.map(|i| (i, upright.unpremultiplied()));
    for (i, pixels) in pending.into_iter().chain(kept) {
        thumbnails[i] = Some(encode::encode(pixels, translucent)?);
    }
    Ok(thumbnails.into_iter().flatten().collect())
}
