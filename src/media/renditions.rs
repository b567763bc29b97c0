//! Renditions: the set an upload writes, serving one (304, edge cache, R2, lazy thumbnail), and
//! removing a picture's or an owner's objects.
//!
//! Bodies read from R2 or the cache are passed on as the runtime holds them; only decoding
//! brings an image into wasm, and every decode first reserves its memory from the isolate's
//! budget (`memory.rs`).

use super::keys;
use super::upload::{self, UploadError};
use crate::domain::pictures::Picture;
use crate::domain::tiers::Variant;
use crate::error::{log, ApiError, FieldErrors};
use crate::http::{Payload, Request, Response};
use crate::memory::Reservation;
use crate::ports::{BlobStore, Cached, EdgeCache, StoreError};
use crate::routes::{App, Platform};

/// What the client may keep of an image: the owner's browser only, never a shared cache.
pub const CLIENT_CACHE_CONTROL: &str = "private, max-age=3600";

/// The 503 of a request whose memory is taken by requests in flight.
pub const BUSY: &str = "The service is processing other images; retry shortly.";
/// The 413 of a request that needs more memory than the isolate could ever give it.
pub const NEVER_FITS: &str = "This image needs more memory to process than the service has.";

impl<P: Platform> App<P> {
    /// Reserves `bytes` of the isolate's memory budget: 503 when they do not fit now, 413 when
    /// they never could.
    pub(crate) fn reserve(&self, bytes: u64) -> Result<Reservation, ApiError> {
        let budget = &self.isolate.budget;
        if !budget.could_fit(bytes) {
            return Err(ApiError::PayloadTooLarge(
                "This image needs more memory to process than the service has.".into(),
            ));
        }
        budget.reserve(bytes).ok_or(ApiError::Busy(BUSY))
    }

    /// Answers with a rendition: 304 on a matching `If-None-Match` (before any body is touched),
    /// else from the edge cache (`cached`, when the caller already looked it up), else from R2
    /// (making a missing thumbnail on the way), leaving a copy in the cache in the background.
    /// Callers have checked access.
    pub(crate) async fn serve(
        &self,
        req: &Request<P::Incoming>,
        picture: &Picture,
        variant: Variant,
        cache_control: &str,
        cached: Option<Result<Option<Cached<P::Body>>, StoreError>>,
    ) -> Result<Response<P::Body>, ApiError> {
        let etag = keys::etag(&picture.id, variant);
        let head = |status: u16, body: P::Body| {
            Response::with_body(status, body)
                .with_header("etag", &etag)
                .with_header("cache-control", cache_control)
        };
        if req
            .header("if-none-match")
            .is_some_and(|v| keys::etag_matches(v, &etag))
        {
            return Ok(head(304, P::Body::from_bytes(Vec::new())));
        }
        let key = keys::cache_key(&picture.id, variant);
        let cached = match cached {
            Some(result) => result,
            None => self.cache.get(&key).await,
        };
        match cached {
            Ok(Some(hit)) => {
                return Ok(head(200, hit.body)
                    .with_header("content-type", &hit.content_type)
                    .with_header("cf-cache-status", "HIT"));
            }
            Ok(None) => {}
            // The cache is an optimisation: when it fails, R2 still answers.
            Err(e) => log(&format!("edge cache read failed for {key}: {e}")),
        }
        let (body, content_type) = self.load(picture, variant).await?;
        let (to_client, to_cache) = body.tee().map_err(ApiError::internal)?;
        self.cache.put_in_background(&key, to_cache, &content_type);
        Ok(head(200, to_client)
            .with_header("content-type", &content_type)
            .with_header("cf-cache-status", "MISS"))
    }

    /// A rendition from R2; a thumbnail that is missing (the tier gained a height after the
    /// upload) is made from the original and stored.
    async fn load(
        &self,
        picture: &Picture,
        variant: Variant,
    ) -> Result<(P::Body, String), ApiError> {
        let key = keys::blob_key(picture.owner_id, &picture.id, variant);
        if let Some(blob) = self.blobs.get(&key).await? {
            return Ok((blob.body, blob.content_type));
        }
        let Variant::Thumbnail(height) = variant else {
            return Err(gone(&key));
        };
        let original_key = keys::blob_key(picture.owner_id, &picture.id, Variant::Original);
        let mut original = self
            .blobs
            .open(&original_key)
            .await?
            .ok_or_else(|| gone(&original_key))?;
        let mut reservation = self.reserve(upload::window_bytes())?;
        // The upload accepted this image, so no pixel limit applies again here.
        let thumbnail = upload::thumbnail_from(
            &mut original,
            height.get(),
            picture.size.max(0) as u64,
            &mut reservation,
        )
        .await
        .map_err(upload_error)?;
        drop(original);
        let content_type = thumbnail.format.content_type();
        self.blobs.put(&key, &thumbnail.bytes, content_type).await?;
        Ok((
            P::Body::from_bytes(thumbnail.bytes),
            content_type.to_owned(),
        ))
    }

    /// Removes every object of a picture whose row is gone, and its cached copies in this data
    /// centre. Failures are logged: the cron's reconciliation removes what is left.
    pub(crate) async fn remove_picture_objects(&self, owner_id: i64, picture_id: &str) {
        let keys = match self
            .blobs
            .list(&keys::picture_prefix(owner_id, picture_id))
            .await
        {
            Ok(keys) => keys,
            Err(e) => return log(&format!("listing objects of {picture_id} failed: {e}")),
        };
        for (_, _, variant) in keys.iter().filter_map(|k| keys::parse_blob_key(k)) {
            if let Err(e) = self
                .cache
                .delete(&keys::cache_key(picture_id, variant))
                .await
            {
                log(&format!("edge cache delete failed for {picture_id}: {e}"));
            }
        }
        self.remove_objects(&keys).await;
    }

    /// Removes every object of an owner whose row is gone (same failure rule).
    pub(crate) async fn remove_owner_objects(&self, owner_id: i64) {
        match self.blobs.list(&keys::owner_prefix(owner_id)).await {
            Ok(keys) => self.remove_objects(&keys).await,
            Err(e) => log(&format!("listing objects of owner {owner_id} failed: {e}")),
        }
    }

    /// Removes objects now; a failure is logged (the cron's reconciliation removes them later).
    pub(crate) async fn remove_objects(&self, keys: &[String]) {
        if let Err(e) = self.blobs.delete(keys).await {
            log(&format!(
                "could not remove {} objects (the cron will): {e}",
                keys.len()
            ));
        }
    }
}

/// A row whose original R2 no longer has: a picture deleted since the replica that answered
/// the row was written (a read without a bookmark may see it for a moment; objects are removed
/// after the row), so a 404, with the cause logged in case it is anything else.
fn gone(key: &str) -> ApiError {
    log(&format!(
        "original {key} is missing from R2 (a picture deleted on a lagging replica?)"
    ));
    ApiError::NotFound
}

/// What a refused upload (or a lazy thumbnail that cannot be made) means for the client.
pub fn upload_error(error: UploadError) -> ApiError {
    match error {
        UploadError::Fields(errors) => ApiError::Validation(errors),
        UploadError::TooLarge(max) => {
            ApiError::PayloadTooLarge(format!("Uploads are limited to {max} bytes."))
        }
        UploadError::Busy => ApiError::Busy(BUSY),
        UploadError::NeverFits => ApiError::PayloadTooLarge(NEVER_FITS.into()),
        UploadError::TimedOut => ApiError::Timeout(
            "The upload arrived too slowly and was abandoned; nothing was stored.",
        ),
        UploadError::Image(e) => image_error(e),
        UploadError::Failed(cause) => ApiError::internal(cause),
    }
}

/// What a refused image means for the client.
pub fn image_error(error: imaging::ImageError) -> ApiError {
    use imaging::ImageError::*;
    match error {
        Unsupported => ApiError::Validation(FieldErrors::single(
            "img",
            "Upload a valid image: JPEG, PNG, WebP, GIF, BMP or TIFF.",
        )),
        UnsupportedFormat { name } => ApiError::Validation(FieldErrors::single(
            "img",
            format!(
                "{name} images cannot be processed here; send JPEG, PNG, WebP, GIF, BMP or TIFF."
            ),
        )),
        Corrupt(_) => ApiError::Validation(FieldErrors::single(
            "img",
            "The image is corrupt or truncated.",
        )),
        TooManyPixels { width, height, max } => ApiError::PayloadTooLarge(format!(
            "The image is {width}x{height} pixels; at most {max} pixels are accepted."
        )),
        TooComplex { scans, .. } => ApiError::Validation(FieldErrors::single(
            "img",
            format!(
                "This JPEG has {scans} or more scans, far more decoding work than a photo needs; \
                 save it again as a baseline or standard progressive JPEG."
            ),
        )),
        FileTooLarge { max } => ApiError::PayloadTooLarge(format!(
            "Files of this format are limited to {max} bytes here (JPEG files may be larger)."
        )),
        TooMuchMemory { .. } => ApiError::PayloadTooLarge(
            "This image needs more memory to thumbnail than the service allows; send a smaller \
             image."
                .into(),
        ),
        // Tier heights are validated to be at least 1, so this is a bug, not bad input.
        InvalidHeight(h) => {
            ApiError::internal(format!("thumbnail height {h} reached the imaging crate"))
        }
    }
}
