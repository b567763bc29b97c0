//! Exposes the imaging crate's thumbnails and this bench's AVIF encoder (avif.rs) to bench/avif/avif.mjs as plain wasm exports.
//!
//! Raw exports (pointers and lengths) rather than wasm-bindgen, as in
//! bench/imaging-wasm: the bench instantiates one compiled module many times, and
//! a fresh instance per measurement gives that step's own peak linear memory.

mod avif;

use std::sync::Mutex;

struct Outcome {
    bytes: Vec<u8>,
    width: u32,
    is_png: bool,
    error: String,
}

static OUTCOME: Mutex<Outcome> = Mutex::new(Outcome {
    bytes: Vec::new(),
    width: 0,
    is_png: false,
    error: String::new(),
});

fn settle(result: Result<(Vec<u8>, u32, bool), imaging::ImageError>) -> u32 {
    let mut outcome = OUTCOME.lock().unwrap_or_else(|e| e.into_inner());
    match result {
        Ok((bytes, width, is_png)) => {
            outcome.bytes = bytes;
            outcome.width = width;
            outcome.is_png = is_png;
            outcome.error.clear();
            0
        }
        Err(error) => {
            outcome.bytes = Vec::new();
            outcome.error = error.to_string();
            1
        }
    }
}

fn settings(quality: u32, speed: u32) -> Result<avif::AvifSettings, imaging::ImageError> {
    u8::try_from(quality)
        .ok()
        .zip(u8::try_from(speed).ok())
        .and_then(|(q, s)| avif::AvifSettings::new(q, s))
        .ok_or_else(|| imaging::ImageError::Corrupt(format!("bad settings q{quality} s{speed}")))
}

/// Reserves `len` bytes for the host to copy input into.
#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut buffer = Vec::<u8>::with_capacity(len);
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

/// Frees what `alloc` reserved.
///
/// # Safety
/// `ptr` and `len` must come from one call to `alloc`.
#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
    drop(Vec::from_raw_parts(ptr, 0, len));
}

/// Our own thumbnail (JPEG, or PNG when translucent) of the upload at `ptr`; 0 on success.
///
/// # Safety
/// `ptr` and `len` must describe bytes written into an `alloc` block.
#[no_mangle]
pub unsafe extern "C" fn thumbnail(ptr: *const u8, len: usize, height: u32) -> u32 {
    let bytes = std::slice::from_raw_parts(ptr, len);
    settle(
        imaging::thumbnails(bytes, &[height], &imaging::Limits::default()).and_then(
            |(_, mut thumbs)| {
                let t = thumbs
                    .pop()
                    .ok_or_else(|| imaging::ImageError::Corrupt("no thumbnail".into()))?;
                Ok((t.bytes, t.width, t.format == imaging::Format::Png))
            },
        ),
    )
}

/// AVIF of raw RGB (`channels` 3) or RGBA (4) pixels at `ptr`; 0 on success.
///
/// # Safety
/// `ptr` and `len` must describe bytes written into an `alloc` block.
#[no_mangle]
pub unsafe extern "C" fn avif_pixels(
    ptr: *const u8,
    len: usize,
    width: u32,
    height: u32,
    channels: u32,
    quality: u32,
    speed: u32,
) -> u32 {
    let pixels = std::slice::from_raw_parts(ptr, len);
    settle(settings(quality, speed).and_then(|s| {
        avif::encode_avif(pixels, width, height, channels as usize, s)
            .map(|bytes| (bytes, width, false))
    }))
}

/// AVIF of one of our JPEG/PNG thumbnails at `ptr`; 0 on success.
///
/// # Safety
/// `ptr` and `len` must describe bytes written into an `alloc` block.
#[no_mangle]
pub unsafe extern "C" fn avif_thumbnail(
    ptr: *const u8,
    len: usize,
    quality: u32,
    speed: u32,
) -> u32 {
    let bytes = std::slice::from_raw_parts(ptr, len);
    settle(
        settings(quality, speed)
            .and_then(|s| avif::avif_from_thumbnail(bytes, s).map(|t| (t.bytes, t.width, false))),
    )
}

#[no_mangle]
pub extern "C" fn out_ptr() -> *const u8 {
    OUTCOME
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .bytes
        .as_ptr()
}

#[no_mangle]
pub extern "C" fn out_len() -> usize {
    OUTCOME
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .bytes
        .len()
}

#[no_mangle]
pub extern "C" fn out_width() -> u32 {
    OUTCOME.lock().unwrap_or_else(|e| e.into_inner()).width
}

#[no_mangle]
pub extern "C" fn out_is_png() -> u32 {
    u32::from(OUTCOME.lock().unwrap_or_else(|e| e.into_inner()).is_png)
}

/// Drops the last output so it does not count towards the next step's memory.
#[no_mangle]
pub extern "C" fn clear() {
    OUTCOME.lock().unwrap_or_else(|e| e.into_inner()).bytes = Vec::new();
}

#[no_mangle]
pub extern "C" fn error_ptr() -> *const u8 {
    OUTCOME
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .error
        .as_ptr()
}

#[no_mangle]
pub extern "C" fn error_len() -> usize {
    OUTCOME
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .error
        .len()
}
