//! Exposes `imaging::thumbnails` to the Node bench as plain wasm exports, with no JS glue.
//!
//! Raw exports (pointers and lengths) rather than wasm-bindgen let the bench
//! instantiate one compiled module many times: a fresh instance per image gives
//! that image's own peak linear memory, which is what the 128 MB isolate limits.
//!
//! Two paths: `thumbnails` takes the whole file in wasm memory (the pipeline alone), and
//! `stream_begin`/`stream_feed`/`stream_end` take it in chunks through `imaging::Thumbnailer`,
//! as the service does, so a big JPEG never sits whole in wasm memory.

use std::sync::Mutex;

struct Outcome {
    thumbnails: Vec<imaging::Thumbnail>,
    error: String,
}

/// The service's pixel limit (`imaging::DEFAULT_MAX_PIXELS`), not `Limits::default()`, so the
/// bench accepts what the service accepts.
const LIMITS: imaging::Limits = imaging::Limits {
    max_pixels: imaging::DEFAULT_MAX_PIXELS,
};

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
    record(imaging::thumbnails(bytes, heights, &LIMITS).map(|(_, t)| t))
}

/// Keeps the thumbnails or the error for the host to read; 0 on success, 1 on error.
fn record(result: Result<Vec<imaging::Thumbnail>, imaging::ImageError>) -> u32 {
    let mut outcome = OUTCOME.lock().unwrap_or_else(|e| e.into_inner());
    match result {
        Ok(thumbnails) => {
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

/// The upload being streamed, between `stream_begin` and `stream_end`.
static STREAM: Mutex<Option<imaging::Thumbnailer>> = Mutex::new(None);

/// Starts a streamed upload of at most `input_bound` bytes (`large` 0: only `small`).
#[no_mangle]
pub extern "C" fn stream_begin(small: u32, large: u32, input_bound: u32) {
    let both = [small, large];
    let heights = if large == 0 { &both[..1] } else { &both[..] };
    let thumbnailer = imaging::Thumbnailer::new(heights, LIMITS, u64::from(input_bound));
    *STREAM.lock().unwrap_or_else(|e| e.into_inner()) = Some(thumbnailer);
}

/// Feeds the next chunk, granting every reservation as the service's upload does once its
/// budget allows; 0 on success, 1 on error (the stream is then dropped).
///
/// # Safety
/// `ptr` and `len` must describe bytes written into an `alloc` block.
#[no_mangle]
pub unsafe extern "C" fn stream_feed(ptr: *const u8, len: usize) -> u32 {
    let mut data = std::slice::from_raw_parts(ptr, len);
    let mut stream = STREAM.lock().unwrap_or_else(|e| e.into_inner());
    let Some(thumbnailer) = stream.as_mut() else {
        return record(Err(imaging::ImageError::Corrupt("no stream begun".into())));
    };
    let fed = loop {
        match thumbnailer.feed(data) {
            Ok(imaging::Step::Reserve { consumed, .. }) => {
                if let Err(error) = thumbnailer.grant() {
                    break Err(error);
                }
                data = &data[consumed.min(data.len())..];
            }
            Ok(_) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    match fed {
        Ok(()) => 0,
        Err(error) => {
            *stream = None;
            record(Err(error))
        }
    }
}

/// The input is complete: decodes and makes the thumbnails; 0 on success, 1 on error.
#[no_mangle]
pub extern "C" fn stream_end() -> u32 {
    let Some(mut thumbnailer) = STREAM.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return record(Err(imaging::ImageError::Corrupt("no stream begun".into())));
    };
    let ended = loop {
        match thumbnailer.end() {
            Ok(imaging::Step::Reserve { .. }) => {
                if let Err(error) = thumbnailer.grant() {
                    break Err(error);
                }
            }
            Ok(_) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    record(ended.and_then(|()| thumbnailer.finish().map(|(_, t)| t)))
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
