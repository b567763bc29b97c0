//! PNG uploads stream as JPEG ones do: the Thumbnailer fed a PNG in small random pieces keeps none of it and makes the thumbnails of the whole file, for every colour type, bit depth, filter and interlacing.
//!
//! That the streaming decoder's boxes equal png's own decode to the pixel is checked
//! inside the crate (src/png_stream/tests.rs); this checks the upload protocol around it.

mod common;

use common::*;
use imaging::{thumbnails, Limits};

/// A piece size: often a few bytes, so chunk headers, CRCs and scanlines are split.
fn piece(rng: &mut Rng) -> usize {
    let most = if rng.next().is_multiple_of(3) {
        9
    } else {
        70_000
    };
    1 + (rng.next() % most) as usize
}

/// A photo-like image with translucent noise in its alpha.
fn rgba(width: u32, height: u32) -> Vec<u8> {
    rgb(width, height, |x, y| {
        [(x * 3) as u8, (y * 5) as u8, (x ^ y) as u8]
    })
    .chunks_exact(3)
    .enumerate()
    .flat_map(|(i, p)| [p[0], p[1], p[2], 120 + (i * 7919 % 136) as u8])
    .collect()
}

/// png's encoder with these settings.
fn encode(
    width: u32,
    height: u32,
    data: &[u8],
    colour: png::ColorType,
    depth: png::BitDepth,
    setup: impl FnOnce(&mut png::Encoder<'_, &mut Vec<u8>>),
) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(colour);
    encoder.set_depth(depth);
    setup(&mut encoder);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(data).unwrap();
    writer.finish().unwrap();
    bytes
}

/// An Adam7 RGBA PNG of the photo-like image, its scanlines Sub-filtered.
fn adam7_rgba(width: u32, height: u32) -> Vec<u8> {
    let pixels = rgba(width, height);
    rgba_png_sub_filtered(width, height, true, |x, y| {
        let at = 4 * (y * width + x) as usize;
        [pixels[at], pixels[at + 1], pixels[at + 2], pixels[at + 3]]
    })
}

fn cases() -> Vec<(String, Vec<u8>)> {
    use png::{BitDepth, ColorType};
    let (w, h) = (301, 203);
    let photo = rgb(w, h, |x, y| [(x * 3) as u8, (y * 5) as u8, (x ^ y) as u8]);
    let grey: Vec<u8> = photo.chunks_exact(3).map(|p| p[0] ^ p[2]).collect();
    let grey_alpha: Vec<u8> = grey.iter().flat_map(|&g| [g, g / 2 + 100]).collect();
    let indices: Vec<u8> = grey.iter().map(|g| g % 40).collect();
    let palette: Vec<u8> = (0..120).map(|i| (i * 37 % 256) as u8).collect();
    let wide = |data: &[u8]| -> Vec<u8> { data.iter().flat_map(|&v| [v, v ^ 0x5A]).collect() };
    let mut cases = vec![
        ("rgb".to_string(), png(w, h, &photo, false)),
        ("rgba".to_string(), png(w, h, &rgba(w, h), true)),
        (
            "palette + tRNS".to_string(),
            encode(w, h, &indices, ColorType::Indexed, BitDepth::Eight, |e| {
                e.set_palette(palette.clone());
                e.set_trns(vec![0u8, 40, 200]);
            }),
        ),
        (
            "grey".to_string(),
            encode(w, h, &grey, ColorType::Grayscale, BitDepth::Eight, |_| {}),
        ),
        (
            "grey + alpha".to_string(),
            encode(
                w,
                h,
                &grey_alpha,
                ColorType::GrayscaleAlpha,
                BitDepth::Eight,
                |_| {},
            ),
        ),
        (
            "rgb 16-bit".to_string(),
            encode(
                w,
                h,
                &wide(&photo),
                ColorType::Rgb,
                BitDepth::Sixteen,
                |_| {},
            ),
        ),
        (
            "rgba 16-bit".to_string(),
            encode(
                w,
                h,
                &wide(&rgba(w, h)),
                ColorType::Rgba,
                BitDepth::Sixteen,
                |_| {},
            ),
        ),
        ("adam7 rgba".to_string(), adam7_rgba(w, h)),
        (
            "life-6mp-alpha.png".to_string(),
            bench_image("life-6mp-alpha.png"),
        ),
    ];
    for filter in [
        png::Filter::NoFilter,
        png::Filter::Sub,
        png::Filter::Up,
        png::Filter::Avg,
        png::Filter::Paeth,
    ] {
        cases.push((
            format!("rgba, {filter:?} filter"),
            encode(w, h, &rgba(w, h), ColorType::Rgba, BitDepth::Eight, |e| {
                e.set_filter(filter)
            }),
        ));
    }
    cases
}

#[test]
fn a_png_fed_in_small_random_pieces_gives_the_thumbnails_of_the_whole_file_and_is_not_kept() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (name, bytes) in cases() {
        for heights in [&[40, 120][..], &[1000]] {
            let whole = thumbnails(&bytes, heights, &Limits::default());

            let streamed = thumbnail_streamed(&bytes, heights, || piece(&mut rng));

            assert!(whole.is_ok(), "{name}: {whole:?}");
            assert_eq!(streamed.result, whole, "{name} {heights:?}");
            assert!(!streamed.keeps_input, "{name}");
        }
    }
}

#[test]
fn a_jpeg_streams_through_the_same_path() {
    let mut rng = Rng(7);
    let pixels = rgb(320, 240, |x, y| [x as u8, y as u8, (x + y) as u8]);
    let bytes = jpeg(320, 240, &pixels, Some(6));
    let whole = thumbnails(&bytes, &[100], &Limits::default());

    let streamed = thumbnail_streamed(&bytes, &[100], || piece(&mut rng));

    assert!(whole.is_ok(), "{whole:?}");
    assert_eq!(streamed.result, whole);
    assert!(!streamed.keeps_input);
}

#[test]
fn a_png_whose_header_fits_in_the_first_bytes_still_streams() {
    // A 1x1 PNG: IHDR ends at byte 33 and the image data begins within the 64 bytes the
    // format is recognised from.
    let bytes = png(1, 1, &[10, 20, 30], false);
    let whole = thumbnails(&bytes, &[1], &Limits::default());

    for piece in [1, 5, 64, bytes.len()] {
        let streamed = thumbnail_streamed(&bytes, &[1], || piece);

        assert!(whole.is_ok(), "{whole:?}");
        assert_eq!(streamed.result, whole, "pieces of {piece}");
    }
}

#[test]
fn a_png_cut_before_its_end_is_refused_as_corrupt() {
    let bytes = png(40, 30, &rgba(40, 30), true);
    for cut in [40, bytes.len() / 2, bytes.len() - 1] {
        let streamed = thumbnail_streamed(&bytes[..cut], &[10], || 17);

        assert!(
            matches!(streamed.result, Err(imaging::ImageError::Corrupt(_))),
            "cut at {cut}: {:?}",
            streamed.result
        );
    }
}

#[test]
fn a_png_over_the_pixel_limit_is_refused_from_its_ihdr_whatever_follows() {
    let declaring = png_declaring(20_000, 20_000);
    // IHDR, then straight to IEND: no image data at all.
    let header_only = [&declaring[..33], &declaring[declaring.len() - 12..]].concat();
    for (name, bytes) in [
        ("empty image data", declaring),
        ("no image data", header_only),
    ] {
        let streamed = thumbnail_streamed(&bytes, &[200], || 10);

        assert!(
            matches!(
                streamed.result,
                Err(imaging::ImageError::TooManyPixels {
                    width: 20_000,
                    height: 20_000,
                    ..
                })
            ),
            "{name}: {:?}",
            streamed.result
        );
    }
}
