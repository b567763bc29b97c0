//! Thumbnail sizes, orientation, output formats and refusals, on synthetic fixtures and bench photos.

mod common;

use common::*;
use imaging::{
    plan, probe, thumbnails, Format, ImageError, Limits, Orientation, MAX_THUMBNAIL_HEIGHT,
};

const RED: [u8; 3] = [220, 30, 30];
const GREEN: [u8; 3] = [30, 200, 30];
const BLUE: [u8; 3] = [30, 30, 220];
const WHITE: [u8; 3] = [250, 250, 250];

fn pixel(data: &[u8], channels: usize, width: u32, x: u32, y: u32) -> &[u8] {
    let at = (y as usize * width as usize + x as usize) * channels;
    &data[at..at + channels]
}

fn close(actual: &[u8], expected: [u8; 3]) -> bool {
    actual
        .iter()
        .zip(expected)
        .all(|(&a, e)| a.abs_diff(e) < 40)
}

#[test]
fn thumbnails_have_the_requested_heights_and_the_original_aspect_ratio() {
    // Arrange
    let photo = bench_image("seeding-12mp.jpg");

    // Act
    let (probe, thumbs) = thumbnails(&photo, &[200, 400], &Limits::default()).unwrap();

    // Assert
    assert_eq!(
        (probe.format, probe.width, probe.height),
        (Format::Jpeg, 4000, 3000)
    );
    let sizes: Vec<_> = thumbs
        .iter()
        .map(|t| (t.width, t.height, t.format))
        .collect();
    assert_eq!(sizes, [(267, 200, Format::Jpeg), (533, 400, Format::Jpeg)]);
    for t in &thumbs {
        let decoded = jpeg_decoder::Decoder::new(t.bytes.as_slice())
            .decode()
            .unwrap();
        assert_eq!(decoded.len(), (t.width * t.height * 3) as usize);
    }
}

#[test]
fn a_very_narrow_image_still_gets_a_thumbnail_at_least_one_pixel_wide() {
    // Arrange
    let narrow = jpeg(8, 2000, &rgb(8, 2000, |_, _| GREEN), None);

    // Act
    let (_, thumbs) = thumbnails(&narrow, &[200], &Limits::default()).unwrap();

    // Assert
    assert_eq!((thumbs[0].width, thumbs[0].height), (1, 200));
}

#[test]
fn an_image_shorter_than_the_requested_height_is_re_encoded_at_full_size_not_upscaled() {
    // Arrange
    let small = jpeg(40, 30, &rgb(40, 30, |_, _| RED), None);

    // Act
    let (_, thumbs) = thumbnails(&small, &[20, 30, 400], &Limits::default()).unwrap();

    // Assert
    let sizes: Vec<_> = thumbs.iter().map(|t| (t.width, t.height)).collect();
    assert_eq!(sizes, [(27, 20), (40, 30), (40, 30)]);
}

/// An upright 64x48 picture with a colour per quadrant, stored as a camera would for
/// `orientation`: EXIF says which upright side the stored first row and column show.
fn stored_quadrants(orientation: u16) -> (u32, u32, Vec<u8>) {
    // Upright corners by (top?, left?): the colour of that quadrant.
    let corner = |top: bool, left: bool| match (top, left) {
        (true, true) => RED,
        (true, false) => GREEN,
        (false, true) => BLUE,
        (false, false) => WHITE,
    };
    // (first stored row shows, first stored column shows) as upright sides.
    let (row_side, col_side) = match orientation {
        1 => ("top", "left"),
        2 => ("top", "right"),
        3 => ("bottom", "right"),
        4 => ("bottom", "left"),
        5 => ("left", "top"),
        6 => ("right", "top"),
        7 => ("right", "bottom"),
        8 => ("left", "bottom"),
        _ => unreachable!(),
    };
    let transposed = matches!(row_side, "left" | "right");
    let (w, h) = if transposed { (48, 64) } else { (64, 48) };
    let pixels = rgb(w, h, |x, y| {
        let first_row_half = y < h / 2;
        let first_col_half = x < w / 2;
        // Which upright side this stored quadrant is nearest to, on each axis.
        let near = |first: bool, side: &str| {
            if first {
                side.to_owned()
            } else {
                opposite(side)
            }
        };
        let (a, b) = (
            near(first_row_half, row_side),
            near(first_col_half, col_side),
        );
        let top = a == "top" || b == "top";
        let left = a == "left" || b == "left";
        corner(top, left)
    });
    (w, h, pixels)
}

fn opposite(side: &str) -> String {
    match side {
        "top" => "bottom",
        "bottom" => "top",
        "left" => "right",
        _ => "left",
    }
    .to_owned()
}

#[test]
fn every_exif_orientation_is_turned_upright_in_probe_and_thumbnails() {
    for orientation in 1..=8u16 {
        // Arrange
        let (w, h, pixels) = stored_quadrants(orientation);
        let bytes = jpeg(w, h, &pixels, Some(orientation));

        // Act
        let probed = probe(&bytes, &Limits::default()).unwrap();
        let (_, thumbs) = thumbnails(&bytes, &[24, 48], &Limits::default()).unwrap();

        // Assert
        assert_eq!(probed.orientation.exif_value(), orientation);
        assert_eq!(
            (probed.width, probed.height),
            (64, 48),
            "orientation {orientation}"
        );
        for t in &thumbs {
            let (data, c) = decode(t);
            let (tw, th) = (t.width, t.height);
            assert_eq!((tw * 48, th * 64), (th * 64, tw * 48));
            let at = |x, y| pixel(&data, c, tw, x, y);
            let quadrants = [
                at(tw / 4, th / 4),
                at(3 * tw / 4, th / 4),
                at(tw / 4, 3 * th / 4),
                at(3 * tw / 4, 3 * th / 4),
            ];
            for (actual, expected) in quadrants.iter().zip([RED, GREEN, BLUE, WHITE]) {
                assert!(
                    close(actual, expected),
                    "orientation {orientation}: {actual:?} != {expected:?}"
                );
            }
        }
    }
}

#[test]
fn the_photo_stored_sideways_comes_out_like_the_upright_one() {
    // Arrange
    let sideways = bench_image("seeding-12mp-exif-rotated.jpg");
    let upright = bench_image("seeding-12mp.jpg");

    // Act
    let (probe, from_sideways) = thumbnails(&sideways, &[200], &Limits::default()).unwrap();
    let (_, from_upright) = thumbnails(&upright, &[200], &Limits::default()).unwrap();

    // Assert
    assert_eq!(probe.orientation, Orientation::Rotate90);
    assert_eq!((probe.width, probe.height), (4000, 3000));
    let (a, _) = decode(&from_sideways[0]);
    let (b, _) = decode(&from_upright[0]);
    assert_eq!(a.len(), b.len());
    let mean_difference = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| f64::from(x.abs_diff(y)))
        .sum::<f64>()
        / a.len() as f64;
    assert!(mean_difference < 4.0, "mean difference {mean_difference}");
}

#[test]
fn a_png_with_real_transparency_stays_a_png_with_alpha() {
    // Arrange
    let pixels: Vec<u8> = (0..80 * 60)
        .flat_map(|i| [200, 100, 50, (i % 256) as u8])
        .collect();
    let bytes = png(80, 60, &pixels, true);

    // Act
    let (probe, thumbs) = thumbnails(&bytes, &[30], &Limits::default()).unwrap();

    // Assert
    assert!(probe.may_have_alpha);
    assert_eq!(
        (thumbs[0].format, thumbs[0].width, thumbs[0].height),
        (Format::Png, 40, 30)
    );
    let (data, channels) = decode(&thumbs[0]);
    assert_eq!(channels, 4);
    assert!(data.chunks_exact(4).any(|p| p[3] < 255));
}

#[test]
fn the_bench_png_with_soft_transparent_edges_stays_a_png() {
    // Arrange
    let bytes = bench_image("life-6mp-alpha.png");

    // Act
    let (_, thumbs) = thumbnails(&bytes, &[200, 400], &Limits::default()).unwrap();

    // Assert
    let sizes: Vec<_> = thumbs
        .iter()
        .map(|t| (t.width, t.height, t.format))
        .collect();
    assert_eq!(sizes, [(300, 200, Format::Png), (600, 400, Format::Png)]);
}

#[test]
fn an_opaque_png_becomes_a_jpeg_even_with_an_alpha_channel() {
    // Arrange
    let rgba: Vec<u8> = rgb(90, 60, |x, _| if x < 45 { RED } else { BLUE })
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    let with_alpha = png(90, 60, &rgba, true);
    let without_alpha = png(90, 60, &rgb(90, 60, |_, _| GREEN), false);

    // Act
    let (_, from_rgba) = thumbnails(&with_alpha, &[30], &Limits::default()).unwrap();
    let (_, from_rgb) = thumbnails(&without_alpha, &[30], &Limits::default()).unwrap();

    // Assert
    assert_eq!(from_rgba[0].format, Format::Jpeg);
    assert_eq!(from_rgb[0].format, Format::Jpeg);
    assert_eq!(from_rgb[0].format.content_type(), "image/jpeg");
    let (data, c) = decode(&from_rgba[0]);
    assert!(close(pixel(&data, c, 45, 5, 15), RED));
    assert!(close(pixel(&data, c, 45, 40, 15), BLUE));
}

#[test]
fn text_and_empty_input_are_unsupported_and_truncated_gif_and_webp_corrupt_whatever_they_are_called(
) {
    // Arrange: content decides; a GIF renamed photo.png is still a GIF (cut short here).
    let gif_named_png =
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04".to_vec();
    let webp = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00".to_vec();
    let text = b"hello, this is not a picture\n".to_vec();
    let cases = [
        (gif_named_png, false),
        (webp, false),
        (text, true),
        (Vec::new(), true),
    ];

    for (bytes, unsupported) in cases {
        // Act
        let probed = probe(&bytes, &Limits::default());
        let thumbed = thumbnails(&bytes, &[200], &Limits::default());

        // Assert
        if unsupported {
            assert_eq!(probed, Err(ImageError::Unsupported));
        } else {
            assert!(matches!(probed, Err(ImageError::Corrupt(_))), "{probed:?}");
        }
        assert_eq!(thumbed.map(|_| ()), probed.map(|_| ()));
    }
}

#[test]
fn a_truncated_jpeg_is_corrupt() {
    // Arrange
    let photo = bench_image("sunset-2mp.jpg");

    for cut in [3, 100, photo.len() / 2, photo.len() - 10] {
        // Act
        let result = thumbnails(&photo[..cut], &[200], &Limits::default());

        // Assert
        assert!(
            matches!(result, Err(ImageError::Corrupt(_))),
            "cut at {cut}: {result:?}"
        );
    }
}

#[test]
fn a_truncated_png_is_corrupt() {
    // Arrange
    let pixels = rgb(300, 200, |x, y| {
        [(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8]
    });
    let bytes = png(300, 200, &pixels, false);

    for cut in [10, 30, bytes.len() / 2, bytes.len() - 20] {
        // Act
        let result = thumbnails(&bytes[..cut], &[100], &Limits::default());

        // Assert
        assert!(
            matches!(result, Err(ImageError::Corrupt(_))),
            "cut at {cut}: {result:?}"
        );
    }
}

#[test]
fn a_tiny_png_declaring_100000_by_100000_pixels_is_refused_before_decoding() {
    // Arrange
    let bytes = png_declaring(100_000, 100_000);
    assert!(bytes.len() < 100);

    // Act
    let probed = probe(&bytes, &Limits::default());
    let thumbed = thumbnails(&bytes, &[200], &Limits::default());

    // Assert
    let expected = ImageError::TooManyPixels {
        width: 100_000,
        height: 100_000,
        max: Limits::default().max_pixels,
    };
    assert_eq!(probed, Err(expected.clone()));
    assert_eq!(thumbed.map(|_| ()), Err(expected));
}

#[test]
fn a_jpeg_header_declaring_65535_squared_pixels_is_refused_by_probe() {
    // Arrange: SOI then a baseline SOF0 for 65535x65535, three components.
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 0xFF, 0xFF, 0xFF, 0xFF, 3];
    bytes.extend_from_slice(&[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);

    // Act
    let result = probe(&bytes, &Limits::default());

    // Assert
    assert!(matches!(
        result,
        Err(ImageError::TooManyPixels { width: 65535, .. })
    ));
}

#[test]
fn the_20_and_24_megapixel_bench_photos_are_accepted_by_the_default_limits() {
    for name in [
        "kleiber-20mp.jpg",
        "kleiber-24mp.jpg",
        "dragonfly-13mp-progressive.jpg",
    ] {
        // Arrange
        let bytes = bench_image(name);

        // Act
        let result = probe(&bytes, &Limits::default());

        // Assert
        assert!(result.is_ok(), "{name}: {result:?}");
    }
}

#[test]
fn a_zero_thumbnail_height_is_refused() {
    // Arrange
    let bytes = jpeg(16, 16, &rgb(16, 16, |_, _| RED), None);

    // Act
    let result = thumbnails(&bytes, &[0, 10], &Limits::default());

    // Assert
    assert_eq!(result.map(|_| ()), Err(ImageError::InvalidHeight(0)));
}

#[test]
fn a_png_with_an_exif_orientation_chunk_is_turned_upright() {
    // Arrange: stored 48x64, orientation 6 (turn a quarter clockwise).
    let (w, h, pixels) = stored_quadrants(6);
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        let tiff = &exif_app1(6)[6..]; // the eXIf chunk holds the TIFF block alone
        writer
            .write_chunk(png::chunk::ChunkType(*b"eXIf"), tiff)
            .unwrap();
        writer.write_image_data(&pixels).unwrap();
        writer.finish().unwrap();
    }

    // Act
    let (probed, thumbs) = thumbnails(&bytes, &[48], &Limits::default()).unwrap();

    // Assert
    assert_eq!((probed.width, probed.height), (64, 48));
    let (data, c) = decode(&thumbs[0]);
    assert!(close(pixel(&data, c, 64, 8, 8), RED));
    assert!(close(pixel(&data, c, 64, 56, 40), WHITE));
}

#[test]
fn a_progressive_4_4_4_jpeg_of_24_mp_is_accepted_because_only_the_kept_coefficients_are_stored() {
    // Arrange: SOI then a progressive SOF2 for 6000x4000, three full-resolution
    // components: every coefficient would be 6 bytes a pixel, 137 MiB.
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xC2, 0, 17, 8, 0x0F, 0xA0, 0x17, 0x70, 3];
    bytes.extend_from_slice(&[1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]);

    // Act
    let planned = plan(&bytes, &[MAX_THUMBNAIL_HEIGHT], &Limits::default()).unwrap();

    // Assert: a 1000 px thumbnail needs the 2x2 window of each block (and its
    // nonzero mask), 16 bytes a block, not 128.
    assert_eq!((planned.probe.width, planned.probe.height), (6000, 4000));
    assert!(
        planned.peak_bytes < 32 * 1024 * 1024,
        "{}",
        planned.peak_bytes
    );
}

#[test]
fn the_same_progressive_size_at_4_2_0_is_accepted() {
    // Arrange
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xC2, 0, 17, 8, 0x0F, 0xA0, 0x17, 0x70, 3];
    bytes.extend_from_slice(&[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);

    // Act
    let result = probe(&bytes, &Limits::default());

    // Assert
    assert_eq!(result.map(|p| (p.width, p.height)), Ok((6000, 4000)));
}

#[test]
fn a_grayscale_jpeg_gives_a_grey_jpeg_thumbnail() {
    // Arrange
    let luma: Vec<u8> = (0..64 * 48).map(|i| (i % 64 * 4) as u8).collect();
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, 90)
        .encode(&luma, 64, 48, jpeg_encoder::ColorType::Luma)
        .unwrap();

    // Act
    let (_, thumbs) = thumbnails(&bytes, &[24], &Limits::default()).unwrap();

    // Assert
    assert_eq!(
        (thumbs[0].width, thumbs[0].height, thumbs[0].format),
        (32, 24, Format::Jpeg)
    );
    let (data, _) = decode(&thumbs[0]);
    assert!(data.chunks_exact(3).all(|p| p[0].abs_diff(p[2]) < 12));
}

#[test]
fn a_16_bit_png_is_read_at_8_bits() {
    // Arrange: big-endian 16-bit RGB, a dark left half and a light right half.
    let (w, h) = (40u32, 20u32);
    let pixels: Vec<u8> = (0..w * h)
        .map(|i| {
            if i % w < w / 2 {
                [0x20, 0x00]
            } else {
                [0xE0, 0xFF]
            }
        })
        .flat_map(|sample| [sample[0], sample[1]].repeat(3))
        .collect();
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Sixteen);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&pixels).unwrap();
        writer.finish().unwrap();
    }

    // Act
    let (_, thumbs) = thumbnails(&bytes, &[10], &Limits::default()).unwrap();

    // Assert
    let (data, c) = decode(&thumbs[0]);
    assert!(close(pixel(&data, c, 20, 2, 5), [0x20; 3]));
    assert!(close(pixel(&data, c, 20, 17, 5), [0xE0; 3]));
}

#[test]
fn a_cmyk_jpeg_gives_an_rgb_jpeg_thumbnail() {
    // Arrange: pure cyan ink (C=255) over the whole image.
    let cmyk: Vec<u8> = (0..32 * 32).flat_map(|_| [255, 0, 0, 0]).collect();
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, 95)
        .encode(&cmyk, 32, 32, jpeg_encoder::ColorType::Cmyk)
        .unwrap();

    // Act
    let (_, thumbs) = thumbnails(&bytes, &[16], &Limits::default()).unwrap();

    // Assert
    assert_eq!((thumbs[0].width, thumbs[0].format), (16, Format::Jpeg));
    let (data, c) = decode(&thumbs[0]);
    let centre = pixel(&data, c, 16, 8, 8);
    assert!(close(centre, [0, 255, 255]), "{centre:?}");
}
