//! WebP, GIF, BMP and TIFF uploads: sniffed, probed and thumbnailed; bombs and undecodable formats (HEIC, AVIF, SVG, PDF, JPEG XL) refused.

mod common;
mod other_formats;

use common::*;
use imaging::{probe, thumbnails, Format, ImageError, Limits, Orientation, Thumbnail};
use other_formats::*;
use tiff::encoder::colortype;

const W: u32 = 300;
const H: u32 = 200;

/// A smooth RGB gradient, so a thumbnail pixel can be compared with the source.
fn gradient() -> Vec<u8> {
    rgb(W, H, |x, y| [(x * 255 / W) as u8, (y * 255 / H) as u8, 96])
}

fn with_alpha(rgb: &[u8], alpha: impl Fn(usize) -> u8) -> Vec<u8> {
    rgb.chunks_exact(3)
        .enumerate()
        .flat_map(|(i, p)| [p[0], p[1], p[2], alpha(i)])
        .collect()
}

/// The RGB(A) pixel at (x, y) of a decoded thumbnail.
fn pixel_at(thumbnail: &Thumbnail, x: u32, y: u32) -> Vec<u8> {
    let (pixels, channels) = decode(thumbnail);
    let at = ((y * thumbnail.width + x) as usize) * channels;
    pixels[at..at + channels].to_vec()
}

fn close(a: &[u8], b: &[u8], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(&a, &b)| a.abs_diff(b) <= tolerance)
}

/// A name, the file, its format and content type, and the RGB pixels it should show.
type Case<'a> = (&'a str, Vec<u8>, Format, &'a str, &'a [u8]);

#[test]
fn each_format_is_recognised_by_content_and_thumbnailed_as_jpeg_without_upscaling() {
    // Arrange: the same picture in every coding we accept, and how it should look (RGB).
    let source = gradient();
    let opaque_rgba = with_alpha(&source, |_| 255);
    let grey: Vec<u8> = source.chunks_exact(3).map(|p| p[0]).collect();
    let grey_as_rgb: Vec<u8> = grey.iter().flat_map(|&g| [g, g, g]).collect();
    let wide: Vec<u16> = source.iter().map(|&v| u16::from(v) * 257).collect();
    // Cyan and magenta ink from the gradient, no yellow, 20% black.
    let cmyk: Vec<u8> = source
        .chunks_exact(3)
        .flat_map(|p| [255 - p[0], 255 - p[1], 0, 51])
        .collect();
    let cmyk_as_rgb: Vec<u8> = source
        .chunks_exact(3)
        .flat_map(|p| {
            [
                (u32::from(p[0]) * 204 / 255) as u8,
                (u32::from(p[1]) * 204 / 255) as u8,
                204,
            ]
        })
        .collect();
    let cases: Vec<Case> = vec![
        (
            "lossless WebP",
            webp_lossless(W, H, &source, false),
            Format::WebP,
            "image/webp",
            &source,
        ),
        (
            "lossless WebP, opaque alpha",
            webp_lossless(W, H, &opaque_rgba, true),
            Format::WebP,
            "image/webp",
            &source,
        ),
        (
            "BMP 24-bit",
            bmp(W, H, &source, false),
            Format::Bmp,
            "image/bmp",
            &source,
        ),
        (
            "BMP 32-bit, opaque",
            bmp(W, H, &opaque_rgba, true),
            Format::Bmp,
            "image/bmp",
            &source,
        ),
        (
            "TIFF RGB LZW",
            tiff::<colortype::RGB8>(W, H, &source, true, None),
            Format::Tiff,
            "image/tiff",
            &source,
        ),
        (
            "TIFF RGB 16-bit",
            tiff::<colortype::RGB16>(W, H, &wide, false, None),
            Format::Tiff,
            "image/tiff",
            &source,
        ),
        (
            "TIFF grey",
            tiff::<colortype::Gray8>(W, H, &grey, true, None),
            Format::Tiff,
            "image/tiff",
            &grey_as_rgb,
        ),
        (
            "TIFF CMYK",
            tiff::<colortype::CMYK8>(W, H, &cmyk, false, None),
            Format::Tiff,
            "image/tiff",
            &cmyk_as_rgb,
        ),
    ];

    for (name, bytes, format, content_type, expected) in &cases {
        // Act
        let probed = probe(bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (_, thumbs) = thumbnails(bytes, &[100, 400], &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        // Assert: true format and size; 100 px high, and 400 px is the original size.
        assert_eq!(probed.format, *format, "{name}");
        assert_eq!(probed.format.content_type(), *content_type, "{name}");
        assert_eq!((probed.width, probed.height), (W, H), "{name}");
        let sizes: Vec<_> = thumbs
            .iter()
            .map(|t| (t.width, t.height, t.format))
            .collect();
        assert_eq!(
            sizes,
            [(150, 100, Format::Jpeg), (W, H, Format::Jpeg)],
            "{name}"
        );
        for (x, y) in [(20, 20), (75, 50), (130, 80)] {
            let from = ((2 * y * W + 2 * x) * 3) as usize;
            let got = pixel_at(&thumbs[0], x, y);
            assert!(
                close(&got, &expected[from..from + 3], 12),
                "{name} at ({x}, {y}): {got:?}"
            );
        }
    }
}

#[test]
fn a_gif_thumbnail_shows_its_palette_colours() {
    // Arrange: red, green and blue vertical stripes.
    let bytes = gif_indexed(W as u16, H as u16, |x, _| (x * 3 / W) as u8);

    // Act
    let (probed, thumbs) = thumbnails(&bytes, &[100], &Limits::default()).unwrap();

    // Assert
    assert_eq!(
        (probed.format, probed.width, probed.height),
        (Format::Gif, W, H)
    );
    assert_eq!(thumbs[0].format, Format::Jpeg);
    assert!(close(&pixel_at(&thumbs[0], 25, 50), &[255, 0, 0], 24));
    assert!(close(&pixel_at(&thumbs[0], 75, 50), &[0, 255, 0], 24));
    assert!(close(&pixel_at(&thumbs[0], 125, 50), &[0, 0, 255], 24));
}

#[test]
fn translucent_images_stay_png_with_their_alpha() {
    // Arrange: the right half fully transparent.
    let half = with_alpha(
        &gradient(),
        |i| if (i as u32 % W) < W / 2 { 255 } else { 0 },
    );
    let wide_half: Vec<u16> = half.iter().map(|&v| u16::from(v) * 257).collect();
    let cases = [
        ("lossless WebP", webp_lossless(W, H, &half, true)),
        ("BMP 32-bit", bmp(W, H, &half, true)),
        (
            "TIFF RGBA 16-bit",
            tiff::<colortype::RGBA16>(W, H, &wide_half, true, None),
        ),
        (
            "GIF",
            gif_indexed(W as u16, H as u16, |x, _| if x < W / 2 { 0 } else { 3 }),
        ),
    ];

    for (name, bytes) in &cases {
        // Act
        let (_, thumbs) =
            thumbnails(bytes, &[100], &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));

        // Assert
        assert_eq!(thumbs[0].format, Format::Png, "{name}");
        assert_eq!(pixel_at(&thumbs[0], 130, 50)[3], 0, "{name}");
        assert_eq!(pixel_at(&thumbs[0], 20, 50)[3], 255, "{name}");
    }
}

#[test]
fn exif_orientation_in_webp_and_tiff_turns_thumbnails_upright() {
    // Arrange: stored 300x200, left half red, right half blue, tagged "rotate 90".
    // Upright it is 200x300 with red on top.
    let stored = rgb(
        W,
        H,
        |x, _| if x < W / 2 { [255, 0, 0] } else { [0, 0, 255] },
    );
    let cases = [
        (
            "WebP EXIF",
            webp_with_exif(&webp_lossless(W, H, &stored, false), W, H, 6),
        ),
        (
            "TIFF tag",
            tiff::<colortype::RGB8>(W, H, &stored, false, Some(6)),
        ),
    ];

    for (name, bytes) in &cases {
        // Act
        let probed = probe(bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (_, thumbs) = thumbnails(bytes, &[150], &Limits::default()).unwrap();

        // Assert
        assert_eq!(probed.orientation, Orientation::Rotate90, "{name}");
        assert_eq!((probed.width, probed.height), (H, W), "{name}");
        assert_eq!((thumbs[0].width, thumbs[0].height), (100, 150), "{name}");
        assert!(
            close(&pixel_at(&thumbs[0], 50, 20), &[255, 0, 0], 24),
            "{name}"
        );
        assert!(
            close(&pixel_at(&thumbs[0], 50, 130), &[0, 0, 255], 24),
            "{name}"
        );
    }
}

#[test]
fn only_the_first_gif_frame_is_decoded_even_when_frames_never_end() {
    // Arrange: a red first frame, a blue second, then 100 000 one-pixel frames and
    // no trailer: reading every frame would take long and then hit the end of the data.
    let mut bytes = gif(64, 48, &[0, 2]);
    assert_eq!(bytes.pop(), Some(0x3B));
    for _ in 0..100_000 {
        bytes.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0]);
    }

    // Act
    let (probed, thumbs) = thumbnails(&bytes, &[24], &Limits::default()).unwrap();

    // Assert
    assert_eq!((probed.width, probed.height), (64, 48));
    assert!(close(&pixel_at(&thumbs[0], 16, 12), &[255, 0, 0], 24));
}

#[test]
fn bombs_are_refused_from_their_headers() {
    for (name, bytes, expected) in bombs() {
        // Act
        let probed = probe(&bytes, &Limits::default());
        let thumbed = thumbnails(&bytes, &[200, 400], &Limits::default());

        // Assert
        let error = probed.err().unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(expected(&error), "{name}: {error:?}");
        assert_eq!(thumbed.err(), Some(error), "{name}");
    }
}

#[test]
fn a_gif_frame_larger_than_its_screen_is_refused_naming_the_frames_size_and_a_real_limit() {
    // A 1x1 logical screen whose first frame is 65535x65535: the frame is what would be decoded.
    let bytes = gif_declaring((1, 1), (65535, 65535));

    let error = probe(&bytes, &Limits::default()).unwrap_err();

    let ImageError::TooManyPixels { width, height, max } = error else {
        panic!("{error:?}");
    };
    assert_eq!((width, height), (65535, 65535));
    assert!(
        (1_000_000..=Limits::default().max_pixels).contains(&max),
        "a limit a real GIF can meet: {max}"
    );
}

#[test]
fn truncated_files_are_corrupt_not_a_panic() {
    let source = gradient();
    let files = [
        webp_lossless(W, H, &source, false),
        bmp(W, H, &source, false),
        tiff::<colortype::RGB8>(W, H, &source, true, None),
        gif_indexed(W as u16, H as u16, |x, _| (x % 3) as u8),
    ];
    for bytes in &files {
        for len in [bytes.len() / 2, bytes.len() - 3] {
            let result = thumbnails(&bytes[..len], &[100], &Limits::default());
            assert!(
                matches!(result, Err(ImageError::Corrupt(_)) | Ok(_)),
                "{:?} at {len}: {result:?}",
                &bytes[..4]
            );
        }
    }
}

#[test]
fn undecodable_formats_are_refused_by_name_with_what_to_send_instead() {
    let cases: [(&[u8], &str); 6] = [
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "HEIC"),
        (b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf", "AVIF"),
        (b"\0\0\0\x14ftypmif1\0\0\0\0mif1", "HEIF"),
        (
            b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            "SVG",
        ),
        (b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n", "PDF"),
        (b"\xFF\x0A\xFA\x7F", "JPEG XL"),
    ];
    for (bytes, name) in cases {
        // Act
        let error = thumbnails(bytes, &[200], &Limits::default()).unwrap_err();

        // Assert
        assert_eq!(error, ImageError::UnsupportedFormat { name }, "{name}");
        assert_eq!(probe(bytes, &Limits::default()).unwrap_err(), error);
        assert_eq!(
            error.to_string(),
            format!("{name} files cannot be processed; send JPEG, PNG, WebP, GIF, BMP or TIFF")
        );
    }
    // Anything else stays the generic refusal.
    assert_eq!(
        probe(b"just some text", &Limits::default()),
        Err(ImageError::Unsupported)
    );
}

/// Builds a header-only file declaring `width` x `height`.
type Declaring = Box<dyn Fn(u32, u32) -> Vec<u8>>;

/// The largest 3:2 image of a coding accepted from its header alone.
fn header_limit(declaring: impl Fn(u32, u32) -> Vec<u8>) -> (u32, u32) {
    let (mut lo, mut hi) = (1, 5000); // 15000 px wide: within WebP's 16384
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if probe(&declaring(3 * mid, 2 * mid), &Limits::default()).is_ok() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (3 * lo, 2 * lo)
}

#[test]
fn full_size_codings_get_pixel_limits_below_the_default_from_their_memory() {
    let codings: [(&str, Declaring); 13] = [
        ("WebP lossy", Box::new(|w, h| riff(&vp8_chunk(w, h)))),
        ("WebP lossy + alpha", Box::new(webp_lossy_alpha_declaring)),
        (
            "WebP lossless, opaque",
            Box::new(|w, h| riff(&vp8l_chunk(w, h))),
        ),
        (
            "WebP lossless + alpha",
            Box::new(|w, h| {
                let mut chunk = vp8l_chunk(w, h);
                chunk[12] |= 0x10;
                riff(&chunk)
            }),
        ),
        ("WebP animation", Box::new(webp_animation_declaring)),
        (
            "GIF",
            Box::new(|w, h| gif_declaring((w as u16, h as u16), (w as u16, h as u16))),
        ),
        (
            "BMP 24-bit",
            Box::new(|w, h| bmp_declaring(w as i32, h as i32, 24)),
        ),
        (
            "BMP 32-bit",
            Box::new(|w, h| bmp_declaring(w as i32, h as i32, 32)),
        ),
        (
            "TIFF grey 8-bit",
            Box::new(|w, h| tiff_declaring_image(w, h, 1, 1, 8, false)),
        ),
        (
            "TIFF RGB 8-bit",
            Box::new(|w, h| tiff_declaring_image(w, h, 2, 3, 8, false)),
        ),
        (
            "TIFF RGBA 8-bit",
            Box::new(|w, h| tiff_declaring_image(w, h, 2, 4, 8, true)),
        ),
        (
            "TIFF RGB 16-bit",
            Box::new(|w, h| tiff_declaring_image(w, h, 2, 3, 16, false)),
        ),
        (
            "TIFF RGBA 16-bit",
            Box::new(|w, h| tiff_declaring_image(w, h, 2, 4, 16, true)),
        ),
    ];
    let mut previous_lossy = u64::MAX;
    for (name, declaring) in &codings {
        // Act
        let (w, h) = header_limit(declaring);

        // Assert: a real limit, below the default pixel limit, and a header just above it refused.
        let pixels = u64::from(w) * u64::from(h);
        eprintln!("{name}: {w}x{h} ({:.1} MP)", pixels as f64 / 1e6);
        assert!(
            pixels > 1_000_000 && pixels < Limits::default().max_pixels,
            "{name}: {pixels}"
        );
        assert!(
            matches!(
                probe(&declaring(w + 3, h + 2), &Limits::default()),
                Err(ImageError::TooManyPixels { .. })
            ),
            "{name}"
        );
        if name.starts_with("WebP lossy") {
            // Alpha costs memory: its limit is lower.
            assert!(pixels < previous_lossy, "{name}");
            previous_lossy = pixels;
        }
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Mean absolute difference of two thumbnails' RGB samples.
fn mean_difference(a: &Thumbnail, b: &Thumbnail) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let (pa, ca) = decode(a);
    let (pb, cb) = decode(b);
    let rgb = |p: &[u8], c: usize| -> Vec<u8> {
        p.chunks_exact(c)
            .flat_map(|px| [px[0], px[1], px[2]])
            .collect()
    };
    let (ra, rb) = (rgb(&pa, ca), rgb(&pb, cb));
    ra.iter()
        .zip(&rb)
        .map(|(&x, &y)| f64::from(x.abs_diff(y)))
        .sum::<f64>()
        / ra.len() as f64
}

#[test]
fn real_lossy_webp_photographs_look_like_their_jpeg_sources() {
    // Arrange: sharp's lossy WebPs of two bench photos (tests/fixtures/README.md),
    // one stored sideways with EXIF orientation 6.
    let sunset = fixture("sunset-480x320-lossy.webp");
    let sideways = fixture("seeding-240x320-exif6-lossy.webp");

    // Act
    let (probed, ours) = thumbnails(&sunset, &[100], &Limits::default()).unwrap();
    let (_, reference) =
        thumbnails(&bench_image("sunset-2mp.jpg"), &[100], &Limits::default()).unwrap();
    let (turned, ours_turned) = thumbnails(&sideways, &[120], &Limits::default()).unwrap();
    let (_, upright) =
        thumbnails(&bench_image("seeding-12mp.jpg"), &[120], &Limits::default()).unwrap();

    // Assert: the same picture as the JPEG it came from, upright.
    assert_eq!(
        (probed.format, probed.width, probed.height),
        (Format::WebP, 480, 320)
    );
    assert!(!probed.may_have_alpha);
    assert_eq!(
        (ours[0].width, ours[0].height, ours[0].format),
        (150, 100, Format::Jpeg)
    );
    assert!(mean_difference(&ours[0], &reference[0]) < 6.0);
    assert_eq!(turned.orientation, Orientation::Rotate90);
    assert_eq!((turned.width, turned.height), (320, 240));
    assert_eq!((ours_turned[0].width, ours_turned[0].height), (160, 120));
    let difference = mean_difference(&ours_turned[0], &upright[0]);
    assert!(difference < 8.0, "{difference}");
}

#[test]
fn a_lossy_webp_with_alpha_keeps_its_transparency() {
    // Arrange: the bench's RGBA photo (opaque centre, transparent corners) as lossy WebP + ALPH.
    let bytes = fixture("life-240x160-alpha-lossy.webp");

    // Act
    let (probed, thumbs) = thumbnails(&bytes, &[80], &Limits::default()).unwrap();

    // Assert
    assert!(probed.may_have_alpha);
    assert_eq!(
        (thumbs[0].width, thumbs[0].height, thumbs[0].format),
        (120, 80, Format::Png)
    );
    assert!(pixel_at(&thumbs[0], 60, 40)[3] > 250);
    assert!(pixel_at(&thumbs[0], 1, 1)[3] < 10);
}
