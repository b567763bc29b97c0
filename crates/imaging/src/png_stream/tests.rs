//! The streaming PNG decoder against png's own decode: the same boxes to the pixel, for every colour type, bit depth, filter and interlacing, whatever the pieces the bytes arrive in.

use super::boxes::Boxes;
use super::*;
use png::{Adam7Info, BitDepth, ColorType, InterlaceInfo, Transformations};

/// png's decode (`normalize_to_color8`) summed into the same boxes: how PNGs were decoded
/// before they streamed, the oracle here.
fn reference(bytes: &[u8], factor: u32) -> Pixels {
    use super::rows::ADAM7;
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let (width, height) = (reader.info().width, reader.info().height);
    let (color, _) = reader.output_color_type();
    let in_channels = color.samples();
    let channels = if matches!(color, ColorType::GrayscaleAlpha | ColorType::Rgba) {
        4
    } else {
        3
    };
    let interlaced = reader.info().interlaced;
    let mut boxes = Boxes::new(width, height, factor, channels, interlaced);
    let mut translucent = false;
    let (mut pass, mut line) = (1u8, 0u32);
    let mut y = 0usize;
    while let Some(row) = reader.next_interlaced_row().unwrap() {
        let data = row.data();
        let (x0, dx, row_y) = match row.interlace() {
            InterlaceInfo::Null(_) => {
                y += 1;
                (0, 1, y - 1)
            }
            InterlaceInfo::Adam7(info) => {
                while pass <= 7 && Adam7Info::new(pass, line, width) != *info {
                    pass += 1;
                    line = 0;
                }
                let (px, py, sx, sy) = ADAM7[usize::from(pass) - 1];
                line += 1;
                (px, sx, py + sy * (line as usize - 1))
            }
        };
        translucent |= boxes.add_row(data, in_channels, x0, dx, row_y);
    }
    reader.finish().unwrap();
    boxes.finish(translucent).unwrap()
}

/// xorshift64*: seedable, so a failure names a case that can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Feeds `bytes` in pieces of random sizes (often a few bytes, so every chunk
/// header, CRC and scanline is split somewhere) and decodes into boxes of `factor`.
fn streamed(bytes: &[u8], factor: u32, rng: &mut Rng) -> Result<Pixels, ImageError> {
    let mut stream = PngStream::new();
    let mut at = 0;
    while at < bytes.len() {
        let most = if rng.below(3) == 0 { 7 } else { 3000 };
        let end = (at + 1 + rng.below(most)).min(bytes.len());
        let piece = &bytes[at..end];
        if let Fed::Header { consumed } = stream.feed(piece)? {
            stream.begin_reduced(factor)?;
            stream.feed(&piece[consumed..])?;
        }
        at = end;
    }
    stream.finish_pixels()
}

/// A colour type and bit depth, with the PLTE and tRNS to write.
#[derive(Clone, Debug)]
struct Kind {
    name: &'static str,
    colour: ColorType,
    depth: BitDepth,
    palette: Option<Vec<u8>>,
    trns: Option<Vec<u8>>,
}

fn kind(name: &'static str, colour: ColorType, depth: BitDepth) -> Kind {
    Kind {
        name,
        colour,
        depth,
        palette: None,
        trns: None,
    }
}

/// Every colour type at every bit depth, with and without tRNS.
fn kinds() -> Vec<Kind> {
    use BitDepth::*;
    use ColorType::*;
    // 200 entries: indices past them are black, as png makes them.
    let palette: Vec<u8> = (0..600).map(|i| (i * 7 % 251) as u8).collect();
    let with = |mut k: Kind, palette: Option<&[u8]>, trns: &[u8]| {
        k.palette = palette.map(<[u8]>::to_vec);
        if !trns.is_empty() {
            k.trns = Some(trns.to_vec());
        }
        k
    };
    vec![
        kind("rgb8", Rgb, Eight),
        kind("rgba8", Rgba, Eight),
        kind("grey8", Grayscale, Eight),
        kind("grey+alpha8", GrayscaleAlpha, Eight),
        kind("grey1", Grayscale, One),
        kind("grey2", Grayscale, Two),
        kind("grey4", Grayscale, Four),
        kind("rgb16", Rgb, Sixteen),
        kind("rgba16", Rgba, Sixteen),
        kind("grey16", Grayscale, Sixteen),
        kind("grey+alpha16", GrayscaleAlpha, Sixteen),
        with(kind("palette8", Indexed, Eight), Some(&palette[..]), &[]),
        with(
            kind("palette8+trns", Indexed, Eight),
            Some(&palette[..]),
            &[0, 90, 255, 7],
        ),
        with(
            kind("palette4+trns", Indexed, Four),
            Some(&palette[..48]),
            &[10, 200],
        ),
        with(kind("palette2", Indexed, Two), Some(&palette[..12]), &[]),
        with(
            kind("palette1+trns", Indexed, One),
            Some(&palette[..6]),
            &[0],
        ),
        // A tRNS longer than the palette: ignored, yet the image has alpha (as png says).
        with(
            kind("palette2+long trns", Indexed, Two),
            Some(&palette[..6]),
            &[1, 2, 3],
        ),
        with(kind("grey8+trns", Grayscale, Eight), None, &[0, 7]),
        with(kind("grey2+trns", Grayscale, Two), None, &[0, 2]),
        with(kind("grey16+trns", Grayscale, Sixteen), None, &[1, 7]),
        with(kind("rgb8+trns", Rgb, Eight), None, &[0, 7, 0, 8, 0, 9]),
        with(kind("rgb16+trns", Rgb, Sixteen), None, &[1, 7, 2, 8, 3, 9]),
    ]
}

fn bits_per_pixel(kind: &Kind) -> usize {
    kind.colour.samples() * kind.depth as usize
}

/// Rows of packed samples: noise, with the tRNS key planted in every third pixel.
fn pixels(kind: &Kind, width: u32, height: u32, rng: &mut Rng) -> Vec<u8> {
    let row_bytes = (width as usize * bits_per_pixel(kind)).div_ceil(8);
    let mut data: Vec<u8> = (0..row_bytes * height as usize)
        .map(|_| rng.next() as u8)
        .collect();
    let bytes = bits_per_pixel(kind) / 8;
    if let (Some(key), ColorType::Grayscale | ColorType::Rgb, true) =
        (&kind.trns, kind.colour, bytes > 0)
    {
        let key: Vec<u8> = if kind.depth == BitDepth::Eight {
            key.iter().skip(1).step_by(2).copied().collect()
        } else {
            key.clone()
        };
        for px in data.chunks_exact_mut(bytes).step_by(3) {
            px.copy_from_slice(&key);
        }
    }
    data
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
}

/// png's encoder, every row with `filter`.
fn encode(kind: &Kind, width: u32, height: u32, data: &[u8], filter: png::Filter) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(kind.colour);
    encoder.set_depth(kind.depth);
    encoder.set_filter(filter);
    if let Some(palette) = &kind.palette {
        encoder.set_palette(palette.clone());
    }
    if let Some(trns) = &kind.trns {
        encoder.set_trns(trns.clone());
    }
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(data).unwrap();
    writer.finish().unwrap();
    bytes
}

/// The PNG specification's filters, forward.
fn filter_row(filter: u8, bpp: usize, above: Option<&[u8]>, row: &[u8]) -> Vec<u8> {
    let up = |i: usize| above.map_or(0, |a| a[i]);
    let left = |i: usize| if i >= bpp { row[i - bpp] } else { 0 };
    let corner = |i: usize| {
        if i >= bpp {
            above.map_or(0, |a| a[i - bpp])
        } else {
            0
        }
    };
    let mut out = vec![filter];
    out.extend(row.iter().enumerate().map(|(i, &x)| {
        x.wrapping_sub(match filter {
            0 => 0,
            1 => left(i),
            2 => up(i),
            3 => ((u16::from(left(i)) + u16::from(up(i))) / 2) as u8,
            _ => super::rows::paeth_spec(left(i), up(i), corner(i)),
        })
    }));
    out
}

/// An Adam7 PNG (png's encoder writes none), the filter of each scanline cycling through
/// all five.
fn encode_adam7(kind: &Kind, width: u32, height: u32, data: &[u8]) -> Vec<u8> {
    use super::rows::ADAM7 as PASSES;
    let (w, h) = (width as usize, height as usize);
    let bits = bits_per_pixel(kind);
    let row_bytes = (w * bits).div_ceil(8);
    let bpp = (bits / 8).max(1);
    let get = |x: usize, y: usize| -> Vec<u8> {
        let row = &data[y * row_bytes..(y + 1) * row_bytes];
        if bits >= 8 {
            row[x * bits / 8..(x + 1) * bits / 8].to_vec()
        } else {
            let bit = x * bits;
            vec![(row[bit / 8] >> (8 - bits - bit % 8)) & ((1 << bits) - 1)]
        }
    };
    let mut raw = Vec::new();
    let mut filter = 0u8;
    for (x0, y0, dx, dy) in PASSES {
        let xs: Vec<usize> = (x0..w).step_by(dx).collect();
        if xs.is_empty() {
            continue;
        }
        let mut above: Option<Vec<u8>> = None;
        for y in (y0..h).step_by(dy) {
            let mut line = vec![0u8; (xs.len() * bits).div_ceil(8)];
            for (i, &x) in xs.iter().enumerate() {
                let px = get(x, y);
                if bits >= 8 {
                    line[i * bits / 8..(i + 1) * bits / 8].copy_from_slice(&px);
                } else {
                    let bit = i * bits;
                    line[bit / 8] |= px[0] << (8 - bits - bit % 8);
                }
            }
            raw.extend(filter_row(filter, bpp, above.as_deref(), &line));
            filter = (filter + 1) % 5;
            above = Some(line);
        }
    }
    let mut bytes = SIGNATURE.to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[kind.depth as u8, kind.colour as u8, 0, 0, 1]);
    chunk(&mut bytes, b"IHDR", &ihdr);
    if let Some(palette) = &kind.palette {
        chunk(&mut bytes, b"PLTE", palette);
    }
    if let Some(trns) = &kind.trns {
        chunk(&mut bytes, b"tRNS", trns);
    }
    // Split in two IDATs, so the image data crosses a chunk boundary too.
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
    let half = zlib.len() / 2;
    chunk(&mut bytes, b"IDAT", &zlib[..half]);
    chunk(&mut bytes, b"IDAT", &zlib[half..]);
    chunk(&mut bytes, b"IEND", &[]);
    bytes
}

const FILTERS: [png::Filter; 5] = [
    png::Filter::NoFilter,
    png::Filter::Sub,
    png::Filter::Up,
    png::Filter::Avg,
    png::Filter::Paeth,
];

#[test]
fn every_colour_type_and_filter_streams_to_the_same_boxes_as_pngs_decode() {
    let mut rng = Rng(0x5EED_0001);
    for kind in kinds() {
        for (width, height) in [(37, 29), (1, 5), (64, 1)] {
            let data = pixels(&kind, width, height, &mut rng);
            for filter in FILTERS {
                let bytes = encode(&kind, width, height, &data, filter);
                for factor in [1, 3, 8] {
                    let expected = reference(&bytes, factor);

                    let got = streamed(&bytes, factor, &mut rng);

                    assert_eq!(
                        got.as_ref(),
                        Ok(&expected),
                        "{} {width}x{height} {filter:?} factor {factor}",
                        kind.name
                    );
                }
            }
        }
    }
}

#[test]
fn adam7_images_of_every_colour_type_stream_to_the_same_boxes_as_pngs_decode() {
    let mut rng = Rng(0x5EED_0002);
    for kind in kinds() {
        for (width, height) in [(37, 29), (1, 1), (3, 2), (9, 13)] {
            let data = pixels(&kind, width, height, &mut rng);
            let bytes = encode_adam7(&kind, width, height, &data);
            for factor in [1, 2, 5] {
                let expected = reference(&bytes, factor);

                let got = streamed(&bytes, factor, &mut rng);

                assert_eq!(
                    got.as_ref(),
                    Ok(&expected),
                    "{} {width}x{height} factor {factor}",
                    kind.name
                );
            }
        }
    }
}

/// A small RGBA PNG with a text chunk before and after the image data.
fn with_text() -> Vec<u8> {
    let kind = kind("rgba8", ColorType::Rgba, BitDepth::Eight);
    let data = pixels(&kind, 12, 9, &mut Rng(3));
    let plain = encode(&kind, 12, 9, &data, png::Filter::Paeth);
    let after_ihdr = 8 + 12 + 13;
    let mut bytes = plain[..after_ihdr].to_vec();
    chunk(&mut bytes, b"tEXt", b"Comment\0before");
    let iend = plain.len() - 12;
    bytes.extend_from_slice(&plain[after_ihdr..iend]);
    chunk(&mut bytes, b"tEXt", b"Comment\0after");
    bytes.extend_from_slice(&plain[iend..]);
    bytes
}

#[test]
fn a_png_cut_anywhere_before_its_end_is_corrupt() {
    let bytes = with_text();
    for cut in 0..bytes.len() {
        let result = streamed(&bytes[..cut], 2, &mut Rng(cut as u64 + 1));

        assert!(
            matches!(result, Err(ImageError::Corrupt(_))),
            "cut at {cut}: {result:?}"
        );
    }
    assert!(streamed(&bytes, 2, &mut Rng(1)).is_ok());
}

#[test]
fn a_bad_crc_in_any_chunk_even_one_passed_over_is_corrupt() {
    let bytes = with_text();
    let mut at = 8;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let crc_at = at + 8 + len;
        let mut damaged = bytes.clone();
        damaged[crc_at] ^= 1;

        let result = streamed(&damaged, 2, &mut Rng(at as u64));

        let kind = String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned();
        assert!(
            matches!(result, Err(ImageError::Corrupt(_))),
            "{kind}: {result:?}"
        );
        at = crc_at + 4;
    }
}

#[test]
fn the_header_comes_where_the_image_data_begins_with_the_exif_orientation() {
    let kind = kind("rgb8", ColorType::Rgb, BitDepth::Eight);
    let data = pixels(&kind, 6, 4, &mut Rng(4));
    let plain = encode(&kind, 6, 4, &data, png::Filter::Sub);
    let after_ihdr = 8 + 12 + 13;
    // A big-endian TIFF block whose IFD0 holds only the orientation, 6.
    let mut exif = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
    exif.resize(100_000, 0);
    let mut bytes = plain[..after_ihdr].to_vec();
    chunk(&mut bytes, b"eXIf", &exif);
    let idat = bytes.len();
    bytes.extend_from_slice(&plain[after_ihdr..]);
    let mut stream = PngStream::new();

    let fed = stream.feed(&bytes).unwrap();

    assert_eq!(fed, Fed::Header { consumed: idat + 8 });
    let header = stream.header().unwrap();
    assert_eq!((header.width, header.height), (6, 4));
    assert_eq!(header.orientation, Orientation::Rotate90);
    assert!(!header.may_have_alpha);
    // Only the head of the eXIf chunk was kept, and it is gone.
    assert_eq!(stream.kept.capacity(), 0);
}

#[test]
fn an_unknown_critical_chunk_or_data_before_ihdr_is_corrupt() {
    let bytes = with_text();
    let mut unknown = bytes[..33].to_vec();
    chunk(&mut unknown, b"ABCD", b"?");
    unknown.extend_from_slice(&bytes[33..]);
    let mut first = SIGNATURE.to_vec();
    chunk(&mut first, b"tEXt", b"a\0b");
    first.extend_from_slice(&bytes[8..]);

    for (name, bytes) in [("unknown critical", unknown), ("text first", first)] {
        let result = streamed(&bytes, 1, &mut Rng(9));

        assert!(
            matches!(result, Err(ImageError::Corrupt(_))),
            "{name}: {result:?}"
        );
    }
}

#[test]
fn the_bench_png_streams_to_the_same_boxes_as_pngs_decode() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench-images/life-6mp-alpha.png"
    );
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut rng = Rng(0x5EED_0003);
    for factor in [2, 7] {
        let expected = reference(&bytes, factor);

        let got = streamed(&bytes, factor, &mut rng);

        assert!(got.as_ref() == Ok(&expected), "factor {factor}");
    }
}
