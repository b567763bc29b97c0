//! Uploads as they arrive: the form is parsed in a stream, the image's bytes go to the imaging
//! pipeline, the original and the thumbnails to the object store, and every allocation the
//! input decides is reserved from the isolate's budget before it is made.
//!
//! What one upload holds, in order: the window (read buffer, form parser, text fields), then
//! what the imaging pipeline asks for (`imaging::Step::Reserve`: the input buffer of a format
//! decoded whole, the decode's planned peak), then the runtime's copies of what is written.
//! A body that arrives slower than [`Pace`] allows is given up with the reservation released.

use crate::domain::pictures::PictureName;
use crate::domain::tiers::{ThumbnailHeight, Variant};
use crate::domain::{FieldErrors, REQUIRED};
use crate::http::multipart::{Event, FormError, Parser};
use crate::http::{IncomingBody, ReadError, NO_DEADLINE};
use crate::memory::{Budget, Reservation};
use crate::ports::{BlobStore, Clock, ObjectUpload, StoreError, PART_BYTES};
use imaging::{Probe, Step, Thumbnail, Thumbnailer};
use std::rc::Rc;

/// Bytes read from the body at a time, into one buffer.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// The longest text field kept (a picture name is at most 100 characters).
const MAX_TEXT_FIELD_BYTES: usize = 4 * 1024;
/// Small allocations no formula follows: field names, the thumbnail list, futures.
const FIXED_BYTES: u64 = 64 * 1024;

/// What every upload reserves before it reads a byte.
pub fn window_bytes() -> u64 {
    CHUNK_BYTES as u64 + Parser::bytes(CHUNK_BYTES) + MAX_TEXT_FIELD_BYTES as u64 + FIXED_BYTES
}

/// The slowest a body may arrive: after `grace_ms`, at least `floor_bytes_per_sec` on average.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub grace_ms: i64,
    pub floor_bytes_per_sec: u64,
}

impl Pace {
    /// When the bytes after the first `received` must have started to arrive.
    fn deadline(&self, start_ms: i64, received: u64) -> i64 {
        let allowed_ms = received.saturating_mul(1000) / self.floor_bytes_per_sec.max(1);
        start_ms
            .saturating_add(self.grace_ms)
            .saturating_add(i64::try_from(allowed_ms).unwrap_or(i64::MAX))
    }
}

/// What an upload may be.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_bytes: u64,
    pub max_pixels: u64,
    pub pace: Pace,
}

/// Why an upload was refused; the routes turn each into a status.
#[derive(Debug)]
pub enum UploadError {
    /// 400: the form's fields, with Django REST framework's messages.
    Fields(FieldErrors),
    /// 413: more bytes than the limit.
    TooLarge(u64),
    /// 503: the memory this needs is taken by requests in flight (or by this user's own).
    Busy,
    /// 413: more memory than the isolate could ever give one request.
    NeverFits,
    /// 408: the body came slower than the floor.
    TimedOut,
    /// The image was refused.
    Image(imaging::ImageError),
    /// 500: reading the body or writing the objects failed.
    Failed(String),
}

impl From<imaging::ImageError> for UploadError {
    fn from(e: imaging::ImageError) -> Self {
        UploadError::Image(e)
    }
}

impl From<StoreError> for UploadError {
    fn from(e: StoreError) -> Self {
        UploadError::Failed(e.to_string())
    }
}

/// A stored upload: every object is written, the row is not.
#[derive(Debug)]
pub struct Stored {
    pub name: PictureName,
    pub probe: Probe,
    pub size: u64,
    /// Every key written, the original first.
    pub keys: Vec<String>,
}

/// Where an upload's objects go.
pub struct Target<'a> {
    /// The key of each rendition.
    pub key: &'a dyn Fn(Variant) -> String,
    /// The heights to make now (the owner's tier), ascending.
    pub heights: &'a [ThumbnailHeight],
}

/// The memory side of an upload: the isolate's budget, on behalf of one user.
pub struct Memory<'a> {
    pub budget: &'a Rc<Budget>,
    pub user: i64,
}

/// Reads the form from `body`, makes the thumbnails and writes every object. On any failure,
/// whatever was written is removed before the error is returned.
#[allow(clippy::too_many_arguments)]
pub async fn receive<B, S, O, C>(
    body: &mut B,
    boundary: &str,
    declared: Option<u64>,
    limits: &UploadLimits,
    memory: Memory<'_>,
    clock: &C,
    blobs: &S,
    target: Target<'_>,
) -> Result<Stored, UploadError>
where
    B: IncomingBody,
    S: BlobStore<O>,
    C: Clock,
{
    let window = window_bytes();
    if !memory.budget.could_fit(window) {
        return Err(UploadError::NeverFits);
    }
    let reservation = memory
        .budget
        .reserve_as(Some(memory.user), window)
        .ok_or(UploadError::Busy)?;
    let heights: Vec<u32> = target.heights.iter().map(|h| h.get()).collect();
    let input_bound = declared.unwrap_or(limits.max_bytes).min(limits.max_bytes);
    let mut form = Form::new(Thumbnailer::new(
        &heights,
        imaging::Limits {
            max_pixels: limits.max_pixels,
        },
        input_bound,
    ));
    let mut writer = None;
    let result = finish_upload(
        body,
        boundary,
        limits,
        clock,
        blobs,
        &target,
        &mut form,
        &mut writer,
        reservation,
        input_bound,
    )
    .await;
    if let Err(e) = &result {
        if let Some(writer) = writer {
            writer.abort().await;
        }
        // An answer decided before the body ended: the rest is let go (not a body past the
        // limit, which may never end, nor one too slow to wait for).
        if !matches!(e, UploadError::TooLarge(_) | UploadError::TimedOut) {
            let deadline = clock.now_ms().saturating_add(DISCARD_MS);
            body.discard(limits.max_bytes, deadline).await;
        }
    }
    result
}

/// How long a refused upload's remaining body is waited for before the answer goes anyway.
const DISCARD_MS: i64 = 20_000;

/// The rest of `receive`, after which a streamed original still being written is aborted on
/// failure.
#[allow(clippy::too_many_arguments)]
async fn finish_upload<B, S, O, C>(
    body: &mut B,
    boundary: &str,
    limits: &UploadLimits,
    clock: &C,
    blobs: &S,
    target: &Target<'_>,
    form: &mut Form,
    writer: &mut Option<Writer<S::Upload>>,
    mut reservation: Reservation,
    input_bound: u64,
) -> Result<Stored, UploadError>
where
    B: IncomingBody,
    S: BlobStore<O>,
    C: Clock,
{
    let window = window_bytes();
    let original = (target.key)(Variant::Original);
    read_form(
        body,
        boundary,
        limits,
        clock,
        form,
        &mut reservation,
        (&original, input_bound),
        blobs,
        writer,
    )
    .await?;
    let (name, mut image) = std::mem::replace(form, Form::spent()).into_fields()?;

    end(&mut image, &mut reservation)?;
    let (probe, thumbnails) = image.finish()?;
    let input = image.input().unwrap_or_default();
    // From here on: the input, the thumbnails and the runtime's copy of what is being written
    // (the original one part at a time, every thumbnail at once).
    let thumbnail_bytes: u64 = thumbnails.iter().map(|t| t.bytes.len() as u64).sum();
    let original_copies = match writer {
        // The part buffer and its runtime copy.
        Some(streamed) => 2 * streamed.part.capacity() as u64,
        None => input.len().min(PART_BYTES) as u64,
    };
    let writing = window + input.len() as u64 + 2 * thumbnail_bytes + original_copies;
    if !reservation.resize_to(writing) {
        return Err(UploadError::Busy);
    }
    let content_type = probe.format.content_type();
    let size = writer.as_ref().map_or(input.len() as u64, |w| w.written);
    let mut keys = vec![original.clone()];
    let mut writes = Vec::new();
    // Thumbnails come back in the order of `heights`; a short original gives a smaller one.
    for (thumbnail, height) in thumbnails.iter().zip(target.heights) {
        let key = (target.key)(Variant::Thumbnail(*height));
        keys.push(key);
        writes.push((keys.len() - 1, thumbnail));
    }
    let write = async {
        match writer.take() {
            Some(streamed) => streamed.finish(blobs, content_type).await,
            None => write_original(blobs, &original, content_type, input).await,
        }
    };
    let written = futures_util::future::join(
        write,
        futures_util::future::join_all(writes.iter().map(|(i, t): &(usize, &Thumbnail)| {
            blobs.put(&keys[*i], &t.bytes, t.format.content_type())
        })),
    )
    .await;
    let failure = written
        .0
        .err()
        .or_else(|| written.1.into_iter().find_map(Result::err));
    if let Some(e) = failure {
        remove(blobs, &keys).await;
        return Err(e.into());
    }
    Ok(Stored {
        name,
        probe,
        size,
        keys,
    })
}

/// One thumbnail of a stored original read piece by piece, as an upload is (a lazy thumbnail
/// after the tier gained a height), within `reservation`.
pub async fn thumbnail_from<B: IncomingBody>(
    original: &mut B,
    height: u32,
    size: u64,
    reservation: &mut Reservation,
) -> Result<Thumbnail, UploadError> {
    // The upload accepted this image, so no pixel limit applies again here.
    let limits = imaging::Limits {
        max_pixels: u64::MAX,
    };
    let mut thumbnailer = Thumbnailer::new(&[height], limits, size);
    let mut chunk = vec![0u8; CHUNK_BYTES];
    loop {
        let n = original
            .read_into(&mut chunk, NO_DEADLINE)
            .await
            .map_err(|e| UploadError::Failed(format!("reading an original: {e:?}")))?;
        if n == 0 {
            break;
        }
        feed(&mut thumbnailer, &chunk[..n], reservation)?;
    }
    end(&mut thumbnailer, reservation)?;
    let (_, mut thumbnails) = thumbnailer.finish()?;
    thumbnails
        .pop()
        .ok_or_else(|| UploadError::Failed("no thumbnail made".into()))
}

/// Reads the body to its end through the form parser, counting it against the limit and the
/// pace.
#[allow(clippy::too_many_arguments)]
async fn read_form<B: IncomingBody, C: Clock, O, S: BlobStore<O>>(
    body: &mut B,
    boundary: &str,
    limits: &UploadLimits,
    clock: &C,
    form: &mut Form,
    reservation: &mut Reservation,
    (original, input_bound): (&str, u64),
    blobs: &S,
    writer: &mut Option<Writer<S::Upload>>,
) -> Result<(), UploadError> {
    let mut chunk = vec![0u8; CHUNK_BYTES];
    let mut parser = Parser::new(boundary, CHUNK_BYTES);
    let start = clock.now_ms();
    let mut received = 0u64;
    loop {
        let deadline = limits.pace.deadline(start, received);
        let n = body
            .read_into(&mut chunk, deadline)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => UploadError::TooLarge(limits.max_bytes),
                ReadError::TimedOut => UploadError::TimedOut,
                ReadError::Failed(cause) => UploadError::Failed(cause),
            })?;
        if n == 0 {
            break;
        }
        received += n as u64;
        if received > limits.max_bytes {
            return Err(UploadError::TooLarge(limits.max_bytes));
        }
        parser.push(&chunk[..n]);
        while let Some(event) = parser.next_event().map_err(form_error)? {
            // An image not kept whole by the pipeline (JPEG, PNG) goes to R2 as it arrives.
            if let Some(store) = form.take(event, reservation)? {
                if writer.is_none() {
                    // The part buffer and the runtime's copy of a part.
                    let part = input_bound.min(PART_BYTES as u64);
                    grow(reservation, 2 * part)?;
                    *writer = Some(Writer::new(
                        original.to_owned(),
                        part as usize,
                        store.content_type,
                    ));
                }
                if let Some(writer) = writer {
                    writer.write(blobs, &store.earlier).await?;
                    writer.write(blobs, store.data).await?;
                }
            }
        }
    }
    if parser.is_done() {
        Ok(())
    } else {
        Err(form_error(FormError::Malformed))
    }
}

/// The upload form's two fields as they arrive; other fields are skipped.
struct Form {
    current: Field,
    /// `Err` with the message when the field is not a usable string.
    name: Option<Result<Vec<u8>, &'static str>>,
    image: ImageField,
}

#[derive(Clone, Copy)]
enum Field {
    Skipped,
    Name,
    Image,
}

enum ImageField {
    /// Not seen yet: the thumbnailer waits for the first file part named `img`.
    Missing(Thumbnailer),
    NotAFile,
    Receiving {
        thumbnailer: Thumbnailer,
        bytes: u64,
        /// What arrived while the format was still being recognised (under 64 bytes), for a
        /// format stored as it arrives.
        sniffed: Vec<u8>,
    },
}

/// Image bytes to store as they arrive: `earlier` (what came while the format was being
/// recognised), then `data`.
struct ToStore<'e> {
    earlier: Vec<u8>,
    data: &'e [u8],
    content_type: &'static str,
}

const NOT_A_STRING: &str = "Not a valid string.";

impl Form {
    fn new(thumbnailer: Thumbnailer) -> Self {
        Self {
            current: Field::Skipped,
            name: None,
            image: ImageField::Missing(thumbnailer),
        }
    }

    /// A form with nothing in it, left behind once the fields are taken.
    fn spent() -> Self {
        Self {
            current: Field::Skipped,
            name: None,
            image: ImageField::NotAFile,
        }
    }

    /// Takes the next event; answers the image bytes the caller must store as they arrive.
    fn take<'e>(
        &mut self,
        event: Event<'e>,
        reservation: &mut Reservation,
    ) -> Result<Option<ToStore<'e>>, UploadError> {
        match event {
            Event::Part(part) => {
                // The first field of each name counts, as Django's form parsing does.
                self.current = match (part.name.as_str(), &self.image) {
                    ("name", _) if self.name.is_none() => {
                        self.name = Some(match part.filename {
                            Some(_) => Err(NOT_A_STRING),
                            None => Ok(Vec::new()),
                        });
                        Field::Name
                    }
                    ("img", ImageField::Missing(_)) => {
                        if part.filename.is_some() {
                            if let ImageField::Missing(thumbnailer) =
                                std::mem::replace(&mut self.image, ImageField::NotAFile)
                            {
                                self.image = ImageField::Receiving {
                                    thumbnailer,
                                    bytes: 0,
                                    sniffed: Vec::new(),
                                };
                            }
                            Field::Image
                        } else {
                            self.image = ImageField::NotAFile;
                            Field::Skipped
                        }
                    }
                    _ => Field::Skipped,
                };
            }
            Event::Data(data) => match self.current {
                Field::Skipped => {}
                Field::Name => {
                    if let Some(Ok(text)) = &mut self.name {
                        if text.len() + data.len() > MAX_TEXT_FIELD_BYTES {
                            self.name =
                                Some(Err("Ensure this field has no more than 100 characters."));
                        } else {
                            text.extend_from_slice(data);
                        }
                    }
                }
                Field::Image => {
                    if let ImageField::Receiving {
                        thumbnailer,
                        bytes,
                        sniffed,
                    } = &mut self.image
                    {
                        *bytes += data.len() as u64;
                        feed(thumbnailer, data, reservation)?;
                        match thumbnailer.format() {
                            None => sniffed.extend_from_slice(data),
                            Some(_) if thumbnailer.keeps_input() => *sniffed = Vec::new(),
                            Some(format) => {
                                return Ok(Some(ToStore {
                                    earlier: std::mem::take(sniffed),
                                    data,
                                    content_type: format.content_type(),
                                }));
                            }
                        }
                    }
                }
            },
            Event::PartEnd => self.current = Field::Skipped,
        }
        Ok(None)
    }

    /// The validated name and the image's thumbnailer, or every field's error.
    fn into_fields(self) -> Result<(PictureName, Thumbnailer), UploadError> {
        let mut errors = FieldErrors::new();
        let name = match self.name {
            None => {
                errors.add("name", REQUIRED);
                None
            }
            Some(Err(message)) => {
                errors.add("name", message);
                None
            }
            Some(Ok(bytes)) => match String::from_utf8(bytes) {
                Ok(text) => PictureName::parse(&text)
                    .map_err(|e| errors.add("name", e.0))
                    .ok(),
                Err(_) => {
                    errors.add("name", NOT_A_STRING);
                    None
                }
            },
        };
        let image = match self.image {
            ImageField::Missing(_) => {
                errors.add("img", "No file was submitted.");
                None
            }
            ImageField::NotAFile => {
                errors.add(
                    "img",
                    "The submitted data was not a file. Check the encoding type on the form.",
                );
                None
            }
            ImageField::Receiving { bytes: 0, .. } => {
                errors.add("img", "The submitted file is empty.");
                None
            }
            ImageField::Receiving { thumbnailer, .. } => Some(thumbnailer),
        };
        match (name, image) {
            (Some(name), Some(image)) if errors.is_empty() => Ok((name, image)),
            _ => Err(UploadError::Fields(errors)),
        }
    }
}

/// Feeds the image's next bytes, reserving what the pipeline asks for before it allocates.
fn feed(
    thumbnailer: &mut Thumbnailer,
    mut data: &[u8],
    reservation: &mut Reservation,
) -> Result<(), UploadError> {
    loop {
        match thumbnailer.feed(data)? {
            Step::NeedMore | Step::Ready => return Ok(()),
            Step::Reserve { consumed, bytes } => {
                grant(thumbnailer, Step::Reserve { consumed, bytes }, reservation)?;
                data = &data[consumed.min(data.len())..];
            }
        }
    }
}

/// The input is complete: reserves what the decode asks for, step by step.
fn end(thumbnailer: &mut Thumbnailer, reservation: &mut Reservation) -> Result<(), UploadError> {
    loop {
        match thumbnailer.end()? {
            Step::Ready | Step::NeedMore => return Ok(()),
            step => grant(thumbnailer, step, reservation)?,
        }
    }
}

/// Reserves what `step` asks for (if anything) and lets the pipeline allocate it.
fn grant(
    thumbnailer: &mut Thumbnailer,
    step: Step,
    reservation: &mut Reservation,
) -> Result<(), UploadError> {
    if let Step::Reserve { bytes, .. } = step {
        #[cfg(test)]
        let bytes = bytes.saturating_sub(UNGRANTED.with(|f| f.get())(bytes));
        grow(reservation, bytes)?;
        thumbnailer.grant()?;
    }
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// Test-only: how much of each reservation the pipeline asks for is not granted, so the
    /// memory-bound test can show that it notices a decoder whose reservation is missing.
    pub(crate) static UNGRANTED: std::cell::Cell<fn(u64) -> u64> = const { std::cell::Cell::new(|_| 0) };
}

/// Grows `reservation` by `extra`: 413 when it could never fit, 503 when it does not fit now.
pub fn grow(reservation: &mut Reservation, extra: u64) -> Result<(), UploadError> {
    let total = reservation.bytes().saturating_add(extra);
    if !reservation.could_ever_fit(total) {
        return Err(UploadError::NeverFits);
    }
    if reservation.grow_by(extra) {
        Ok(())
    } else {
        Err(UploadError::Busy)
    }
}

/// An original written to R2 as it arrives, one part at a time.
struct Writer<U> {
    key: String,
    content_type: &'static str,
    part: Vec<u8>,
    upload: Option<U>,
    written: u64,
}

impl<U: ObjectUpload> Writer<U> {
    fn new(key: String, capacity: usize, content_type: &'static str) -> Self {
        Self {
            key,
            content_type,
            part: Vec::with_capacity(capacity),
            upload: None,
            written: 0,
        }
    }

    async fn write<O, S: BlobStore<O, Upload = U>>(
        &mut self,
        blobs: &S,
        mut bytes: &[u8],
    ) -> Result<(), UploadError> {
        self.written += bytes.len() as u64;
        while !bytes.is_empty() {
            let take = (PART_BYTES - self.part.len()).min(bytes.len());
            if self.part.len() + take > self.part.capacity() {
                // More than the declared length said: the limit was checked as it came.
                return Err(UploadError::TooLarge(self.part.capacity() as u64));
            }
            self.part.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.part.len() == PART_BYTES {
                if self.upload.is_none() {
                    self.upload = Some(blobs.start_upload(&self.key, self.content_type).await?);
                }
                if let Some(upload) = &mut self.upload {
                    upload.put_part(&self.part).await?;
                }
                self.part.clear();
            }
        }
        Ok(())
    }

    async fn finish<O, S: BlobStore<O, Upload = U>>(
        mut self,
        blobs: &S,
        content_type: &str,
    ) -> Result<(), StoreError> {
        match self.upload.take() {
            None => blobs.put(&self.key, &self.part, content_type).await,
            Some(mut upload) => {
                if !self.part.is_empty() {
                    if let Err(e) = upload.put_part(&self.part).await {
                        upload.abort().await;
                        return Err(e);
                    }
                }
                upload.complete().await
            }
        }
    }

    async fn abort(self) {
        if let Some(upload) = self.upload {
            upload.abort().await;
        }
    }
}

/// The original, in one write when it fits one part, else in parts (one runtime copy at a
/// time).
async fn write_original<O, S: BlobStore<O>>(
    blobs: &S,
    key: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<(), StoreError> {
    if bytes.len() <= PART_BYTES {
        return blobs.put(key, bytes, content_type).await;
    }
    let mut upload = blobs.start_upload(key, content_type).await?;
    for part in bytes.chunks(PART_BYTES) {
        if let Err(e) = upload.put_part(part).await {
            upload.abort().await;
            return Err(e);
        }
    }
    upload.complete().await
}

/// Removes objects after a failed upload; a failure is logged (the cron removes them later).
async fn remove<O, S: BlobStore<O>>(blobs: &S, keys: &[String]) {
    if let Err(e) = blobs.delete(keys).await {
        crate::observability::logs::error(&format!(
            "could not remove {} objects of a failed upload (the cron will): {e}",
            keys.len()
        ));
    }
}

fn form_error(error: FormError) -> UploadError {
    let mut errors = FieldErrors::new();
    errors.add("non_field_errors", error.to_string());
    if error == FormError::Malformed {
        errors.add("name", REQUIRED);
        errors.add("img", "No file was submitted.");
    }
    UploadError::Fields(errors)
}
