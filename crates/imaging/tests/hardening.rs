//! Attacks from issue 11 on the imaging crate: JPEG scan bombs and damaged PNG chunks.

mod common;

use common::*;
use imaging::{plan, probe, thumbnails, ImageError, Limits};

/// A marker segment: 0xFF, the marker, a length that counts itself, the data.
fn segment(marker: u8, data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0xFF, marker];
    bytes.extend_from_slice(&((data.len() + 2) as u16).to_be_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// The attack: a progressive JPEG declaring 6000x4000 at 4:2:0 whose `scans`
/// DC scans over all three components carry almost no entropy-coded data.
fn scan_bomb(scans: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8];
    let mut dqt = vec![0];
    dqt.extend_from_slice(&[1; 64]);
    bytes.extend(segment(0xDB, &dqt));
    bytes.extend(segment(
        0xC2,
        &[
            8, 0x0F, 0xA0, 0x17, 0x70, 3, 1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0,
        ],
    ));
    // One DC table with a single code (category 0: every difference is zero).
    let mut dht = vec![0x00, 1];
    dht.extend_from_slice(&[0; 15]);
    dht.push(0);
    bytes.extend(segment(0xC4, &dht));
    for _ in 0..scans {
        bytes.extend(segment(0xDA, &[3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 0, 0]));
        bytes.extend_from_slice(&[0x00, 0x00]); // a few bits of "no change"
    }
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

/// Splits a JPEG into the bytes before its last scan, that scan (header and
/// entropy-coded data) and the EOI.
fn split_last_scan(jpeg: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let sos = jpeg
        .windows(2)
        .rposition(|w| w == [0xFF, 0xDA])
        .expect("a scan");
    assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);
    (jpeg[..sos].to_vec(), jpeg[sos..jpeg.len() - 2].to_vec())
}

fn progressive_jpeg(width: u32, height: u32) -> Vec<u8> {
    let pixels = rgb(width, height, |x, y| [(x * 3) as u8, (y * 5) as u8, 90]);
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 90);
    encoder.set_progressive(true);
    encoder
        .encode(
            &pixels,
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    bytes
}

#[test]
fn a_small_jpeg_repeating_a_thousand_empty_scans_over_a_large_image_is_refused_before_decoding() {
    // Arrange: about 17 KB that would make the decoder walk 6000x4000 a thousand times.
    let bomb = scan_bomb(1000);
    assert!(bomb.len() < 20_000);

    // Act
    let thumbnailed = thumbnails(&bomb, &[200, 400], &Limits::default());
    let planned = plan(&bomb, &[200], &Limits::default());
    let probed = probe(&bomb, &Limits::default());

    // Assert: the walk stops at the first scan over the bound, long before the 1000th.
    let Err(refusal @ ImageError::TooComplex { scans, passes, .. }) = thumbnailed else {
        panic!("expected TooComplex, got {thumbnailed:?}");
    };
    assert!(scans <= 21, "{scans} scans");
    assert!(passes > 20, "{passes} passes");
    assert_eq!(planned.map(|_| ()), Err(refusal.clone()));
    assert_eq!(probed.map(|_| ()), Err(refusal.clone()));
    assert!(refusal.to_string().contains("21 scans"), "{refusal}");
}

#[test]
fn the_same_file_with_as_many_scans_as_libjpeg_writes_is_accepted_by_probe() {
    // Arrange: ten scans over every block (10 passes; libjpeg's whole script
    // costs about 5.3) stay within the bound.
    let ten = scan_bomb(10);

    // Act
    let probed = probe(&ten, &Limits::default());

    // Assert
    assert_eq!(probed.map(|p| (p.width, p.height)), Ok((6000, 4000)));
}

#[test]
fn a_real_progressive_jpeg_with_its_last_scan_repeated_hundreds_of_times_is_refused() {
    // Arrange: the encoder's own file is fine; the same file with its last scan
    // (an AC scan of one component) repeated 300 times is the attack.
    let genuine = progressive_jpeg(64, 48);
    let (head, last) = split_last_scan(&genuine);
    let mut repeated = head.clone();
    for _ in 0..300 {
        repeated.extend_from_slice(&last);
    }
    repeated.extend_from_slice(&[0xFF, 0xD9]);

    // Act
    let accepted = thumbnails(&genuine, &[24], &Limits::default());
    let refused = thumbnails(&repeated, &[24], &Limits::default());

    // Assert
    assert!(accepted.is_ok(), "{accepted:?}");
    assert!(
        matches!(refused, Err(ImageError::TooComplex { .. })),
        "{refused:?}"
    );
}

#[test]
fn a_baseline_jpeg_that_codes_its_components_twice_is_refused() {
    // Arrange: a sequential JPEG codes each component once; a second copy of its
    // only (interleaved) scan doubles the work for nothing.
    let genuine = jpeg(64, 48, &rgb(64, 48, |x, y| [x as u8, y as u8, 0]), None);
    let (head, scan) = split_last_scan(&genuine);
    let mut twice = head;
    twice.extend_from_slice(&scan);
    twice.extend_from_slice(&scan);
    twice.extend_from_slice(&[0xFF, 0xD9]);

    // Act
    let result = probe(&twice, &Limits::default());

    // Assert
    assert!(
        matches!(
            result,
            Err(ImageError::TooComplex {
                scans: 2,
                passes: 2,
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn a_jpeg_made_of_thousands_of_tiny_table_segments_is_refused() {
    // Arrange: a valid small frame, then 5000 Huffman table segments, each of
    // which the decoder would parse and build lookup tables for.
    let genuine = progressive_jpeg(16, 16);
    let (head, last) = split_last_scan(&genuine);
    let mut dht = vec![0x00, 1];
    dht.extend_from_slice(&[0; 15]);
    dht.push(0);
    let mut bloated = head;
    for _ in 0..5000 {
        bloated.extend(segment(0xC4, &dht));
    }
    bloated.extend_from_slice(&last);
    bloated.extend_from_slice(&[0xFF, 0xD9]);

    // Act
    let result = probe(&bloated, &Limits::default());

    // Assert: refused as soon as the count passes the bound.
    assert!(
        matches!(result, Err(ImageError::TooComplex { segments: 1001, .. })),
        "{result:?}"
    );
}

#[test]
fn the_progressive_bench_photo_is_planned_and_thumbnailed() {
    // Arrange: 13 MP, libjpeg's ten-scan script at 4:2:2.
    let bytes = bench_image("dragonfly-13mp-progressive.jpg");

    // Act
    let planned = plan(&bytes, &[200, 400], &Limits::default());
    let made = thumbnails(&bytes, &[200, 400], &Limits::default());

    // Assert
    assert!(planned.is_ok(), "{planned:?}");
    let (_, thumbs) = made.unwrap();
    assert_eq!(
        thumbs.iter().map(|t| t.height).collect::<Vec<_>>(),
        [200, 400]
    );
}

/// Rewrites the CRC of the chunk of type `kind` (the last one if several).
fn with_bad_crc(png: &[u8], kind: &[u8; 4]) -> Vec<u8> {
    let mut bytes = png.to_vec();
    let at = bytes
        .windows(4)
        .rposition(|w| w == kind)
        .expect("the chunk")
        - 4;
    let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    bytes[at + 8 + len] ^= 0x5A;
    bytes
}

/// A small opaque PNG with a text chunk after its image data.
fn png_with_trailing_text() -> Vec<u8> {
    let (w, h) = (32, 24);
    let pixels = rgb(w, h, |x, y| [(x * 8) as u8, (y * 10) as u8, 60]);
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer
        .write_chunk(png::chunk::tEXt, b"Comment\0written after the pixels")
        .unwrap();
    writer.finish().unwrap();
    bytes
}

#[test]
fn an_intact_png_with_a_chunk_after_its_image_data_is_thumbnailed() {
    // Arrange
    let bytes = png_with_trailing_text();

    // Act
    let result = thumbnails(&bytes, &[12], &Limits::default());

    // Assert
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn a_png_with_a_bad_crc_in_any_chunk_is_corrupt() {
    // Arrange: IHDR, the image data, a chunk after it and IEND, each damaged in turn.
    let intact = png_with_trailing_text();
    for kind in [b"IHDR", b"IDAT", b"tEXt", b"IEND"] {
        let damaged = with_bad_crc(&intact, kind);

        // Act
        let result = thumbnails(&damaged, &[12], &Limits::default());

        // Assert
        assert!(
            matches!(result, Err(ImageError::Corrupt(_))),
            "{}: {result:?}",
            String::from_utf8_lossy(kind)
        );
    }
}

#[test]
fn a_png_without_its_iend_chunk_is_corrupt() {
    // Arrange: the 12 bytes of IEND cut off.
    let intact = png_with_trailing_text();
    let cut = &intact[..intact.len() - 12];

    // Act
    let result = thumbnails(cut, &[12], &Limits::default());

    // Assert
    assert!(matches!(result, Err(ImageError::Corrupt(_))), "{result:?}");
}
