//! A PNG of noise stored without compression, so the file is as large as its pixels (issue 17's
//! "ordinary 20 MB PNG" is 2600 x 2600): written once for the handler tests (`src/api_tests`)
//! and the HTTP tests (`tests/api/memory.rs`), which include this file by path.

/// `side` x `side` RGB of xorshift32 noise (the same on every run), deflate level 0.
pub fn noise_png(side: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let pixels: Vec<u8> = (0..u64::from(side) * u64::from(side) * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_compression(png::Compression::NoCompression);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}
