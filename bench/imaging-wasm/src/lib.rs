//! Exposes `imaging::thumbnails` to the Node bench as plain wasm exports, with no JS glue.
//!
//! Raw exports (pointers and lengths) rather than wasm-bindgen let the bench
//! instantiate one compiled module many times: a fresh instance per image gives
//! that image's own peak linear memory, which is what the 128 MB isolate limits.

use std::sync::Mutex;

struct Outcome {
    thumbnails: Vec<imaging::Thumbnail>,
    error: String,
}

static OUTCOME: Mutex<Outcome> = Mutex::new(Outcome {
    thumbnails: Vec::new(),
    error: String::new(),
});

/// Reserves `len` bytes for the host to copy an upload into.
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

/// Makes the thumbnails of the upload at `ptr` (`large` 0: only `small`); 0 on success, 1 on error.
///
/// # Safety
/// `ptr` and `len` must describe bytes written into an `alloc` block.
#[no_mangle]
pub unsafe extern "C" fn thumbnails(ptr: *const u8, len: usize, small: u32, large: u32) -> u32 {
    let bytes = std::slice::from_raw_parts(ptr, len);
    let both = [small, large];
    let heights = if large == 0 { &both[..1] } else { &both[..] };
    let result = imaging::thumbnails(bytes, heights, &imaging::Limits::default());
    let mut outcome = OUTCOME.lock().unwrap_or_else(|e| e.into_inner());
    match result {
        Ok((_, thumbnails)) => {
            outcome.thumbnails = thumbnails;
            outcome.error.clear();
            0
        }
        Err(error) => {
            outcome.thumbnails.clear();
            outcome.error = error.to_string();
            1
        }
    }
}

fn with_thumbnail<T>(index: usize, read: impl FnOnce(&imaging::Thumbnail) -> T) -> T {
    let outcome = OUTCOME.lock().unwrap_or_else(|e| e.into_inner());
    read(&outcome.thumbnails[index])
}

#[no_mangle]
pub extern "C" fn thumbnail_ptr(index: usize) -> *const u8 {
    with_thumbnail(index, |t| t.bytes.as_ptr())
}

#[no_mangle]
pub extern "C" fn thumbnail_len(index: usize) -> usize {
    with_thumbnail(index, |t| t.bytes.len())
}

#[no_mangle]
pub extern "C" fn thumbnail_width(index: usize) -> u32 {
    with_thumbnail(index, |t| t.width)
}

#[no_mangle]
pub extern "C" fn thumbnail_is_png(index: usize) -> u32 {
    with_thumbnail(index, |t| u32::from(t.format == imaging::Format::Png))
}

/// Drops the last results so they do not count towards the next image's memory.
#[no_mangle]
pub extern "C" fn clear() {
    let mut outcome = OUTCOME.lock().unwrap_or_else(|e| e.into_inner());
    outcome.thumbnails = Vec::new();
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
