//! Media at the HTTP edge: renditions as responses, and what the media services' errors mean
//! for the client (the one place that gives each a status and a message).

use super::App;
use crate::domain::pictures::Picture;
use crate::domain::tiers::Variant;
use crate::domain::FieldErrors;
use crate::error::ApiError;
use crate::http::{Payload, Request, Response};
use crate::media::renditions::{MediaError, Renditions, Served};
use crate::media::upload::UploadError;
use crate::observability::timed::Timed;
use crate::ports::Platform;
use crate::ports::{Cached, StoreError};

/// What the client may keep of an image: the owner's browser only, never a shared cache.
pub const CLIENT_CACHE_CONTROL: &str = "private, max-age=3600";

/// The 503 of a request whose memory is taken by requests in flight.
pub const BUSY: &str = "The service is processing other images; retry shortly.";
/// The 413 of a request that needs more memory than the isolate could ever give it.
pub const NEVER_FITS: &str = "This image needs more memory to process than the service has.";

impl<P: Platform> App<P> {
    /// The renditions service over this request's ports.
    pub(crate) fn renditions(&self) -> Renditions<'_, Timed<P::Blobs>, Timed<P::Cache>> {
        Renditions {
            blobs: &self.blobs,
            cache: &self.cache,
            budget: &self.isolate.budget,
        }
    }

    /// Answers with a rendition (see `Renditions::serve`): a 304 on a matching
    /// `If-None-Match`, else the image with `cache_control`. Callers have checked access.
    pub(crate) async fn serve(
        &self,
        req: &Request<P::Incoming>,
        picture: &Picture,
        variant: Variant,
        cache_control: &str,
        cached: Option<Result<Option<Cached<P::Body>>, StoreError>>,
    ) -> Result<Response<P::Body>, ApiError> {
        let served = self
            .renditions()
            .serve(picture, variant, req.header("if-none-match"), cached)
            .await?;
        Ok(rendition_response(served, cache_control))
    }
}

/// A served rendition as a response: its validator and `cache_control` always, its body and type
/// unless the client's copy is current.
fn rendition_response<B: Payload>(served: Served<B>, cache_control: &str) -> Response<B> {
    let head = |status: u16, body: B| {
        Response::with_body(status, body)
            .with_header("etag", &served.etag)
            .with_header("cache-control", cache_control)
    };
    match served.body {
        None => head(304, B::from_bytes(Vec::new())),
        Some(Cached { body, content_type }) => head(200, body)
            .with_header("content-type", &content_type)
            .with_header("cf-cache-status", if served.hit { "HIT" } else { "MISS" }),
    }
}

/// A rendition that could not be served: a picture deleted meanwhile is a 404.
impl From<MediaError> for ApiError {
    fn from(error: MediaError) -> Self {
        match error {
            MediaError::Gone => ApiError::NotFound,
            MediaError::Thumbnail(e) => upload_error(e),
            MediaError::Failed(cause) => ApiError::internal(cause),
        }
    }
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
            format!("Upload a valid image: {}.", imaging::Format::ACCEPTED),
        )),
        UnsupportedFormat { name } => ApiError::Validation(FieldErrors::single(
            "img",
            format!(
                "{name} images cannot be processed here; send {}.",
                imaging::Format::ACCEPTED
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
            "Files of this format are limited to {max} bytes here (JPEG and PNG files may be larger)."
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
