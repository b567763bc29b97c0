//! Renditions: serving one (304, edge cache, R2, lazy thumbnail), and removing a picture's or an
//! owner's objects. A service over the object store, the edge cache and the memory budget, with
//! its own error (`MediaError`), which the routes turn into a status.
//!
//! Bodies read from R2 or the cache are passed on as the runtime holds them; only decoding
//! brings an image into wasm, and every decode first reserves its memory from the isolate's
//! budget (`memory.rs`).

use super::keys;
use super::upload::{self, UploadError};
use crate::domain::ids::PictureId;
use crate::domain::pictures::Picture;
use crate::domain::tiers::Variant;
use crate::http::Payload;
use crate::memory::{Budget, Reservation};
use crate::observability::logs::error as log;
use crate::ports::{BlobStore, Cached, EdgeCache, StoreError};
use std::rc::Rc;

/// Why a rendition could not be served.
#[derive(Debug)]
pub enum MediaError {
    /// The picture's objects are gone: it was deleted since its row was read (the cause is
    /// logged, in case it is anything else).
    Gone,
    /// A missing thumbnail could not be made (memory, the image, reading the original).
    Thumbnail(UploadError),
    /// The object store or the runtime failed.
    Failed(String),
}

impl From<StoreError> for MediaError {
    fn from(e: StoreError) -> Self {
        MediaError::Failed(e.to_string())
    }
}

/// A rendition to answer with.
#[derive(Debug)]
pub struct Served<B> {
    /// Its strong validator.
    pub etag: String,
    /// `None` when the client's copy is current (a 304).
    pub body: Option<Cached<B>>,
    /// Whether the body came from the edge cache.
    pub hit: bool,
}

/// The object store, the edge cache and the memory budget a rendition is served from.
pub struct Renditions<'a, S, C> {
    pub blobs: &'a S,
    pub cache: &'a C,
    pub budget: &'a Rc<Budget>,
}

impl<S, C> Renditions<'_, S, C> {
    /// A rendition: nothing on a matching `If-None-Match` (before any body is touched), else
    /// the edge cache's copy (`cached`, when the caller already looked it up), else R2's (making
    /// a missing thumbnail on the way), leaving a copy in the cache in the background. Callers
    /// have checked access.
    pub async fn serve<B: Payload>(
        &self,
        picture: &Picture,
        variant: Variant,
        if_none_match: Option<&str>,
        cached: Option<Result<Option<Cached<B>>, StoreError>>,
    ) -> Result<Served<B>, MediaError>
    where
        S: BlobStore<B>,
        C: EdgeCache<B>,
    {
        let etag = keys::etag(picture.id, variant);
        if if_none_match.is_some_and(|v| keys::etag_matches(v, &etag)) {
            return Ok(Served {
                etag,
                body: None,
                hit: false,
            });
        }
        let key = keys::cache_key(picture.id, variant);
        let cached = match cached {
            Some(result) => result,
            None => self.cache.get(&key).await,
        };
        match cached {
            Ok(Some(hit)) => {
                return Ok(Served {
                    etag,
                    body: Some(hit),
                    hit: true,
                });
            }
            Ok(None) => {}
            // The cache is an optimisation: when it fails, R2 still answers.
            Err(e) => log(&format!("edge cache read failed for {key}: {e}")),
        }
        let (body, content_type) = self.load(picture, variant).await?;
        let (to_client, to_cache) = body.tee().map_err(MediaError::Failed)?;
        self.cache.put_in_background(&key, to_cache, &content_type);
        Ok(Served {
            etag,
            body: Some(Cached {
                body: to_client,
                content_type,
            }),
            hit: false,
        })
    }

    /// A rendition from R2; a thumbnail that is missing (the tier gained a height after the
    /// upload) is made from the original and stored.
    async fn load<B: Payload>(
        &self,
        picture: &Picture,
        variant: Variant,
    ) -> Result<(B, String), MediaError>
    where
        S: BlobStore<B>,
    {
        let key = keys::blob_key(picture.owner_id, picture.id, variant);
        if let Some(blob) = self.blobs.get(&key).await? {
            return Ok((blob.body, blob.content_type));
        }
        let Variant::Thumbnail(height) = variant else {
            return Err(gone(&key));
        };
        let original_key = keys::blob_key(picture.owner_id, picture.id, Variant::Original);
        let mut original = self
            .blobs
            .open(&original_key)
            .await?
            .ok_or_else(|| gone(&original_key))?;
        let mut reservation = reserve(self.budget, upload::window_bytes())?;
        // The upload accepted this image, so no pixel limit applies again here.
        let thumbnail = upload::thumbnail_from(
            &mut original,
            height.get(),
            picture.size.max(0) as u64,
            &mut reservation,
        )
        .await
        .map_err(MediaError::Thumbnail)?;
        drop(original);
        let content_type = thumbnail.format.content_type();
        self.blobs.put(&key, &thumbnail.bytes, content_type).await?;
        Ok((B::from_bytes(thumbnail.bytes), content_type.to_owned()))
    }

    /// Removes every object of a picture whose row is gone, and its cached copies in this data
    /// centre. Failures are logged: the cron's reconciliation removes what is left.
    pub async fn remove_picture_objects<B>(&self, owner_id: i64, picture_id: PictureId)
    where
        S: BlobStore<B>,
        C: EdgeCache<B>,
    {
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
    pub async fn remove_owner_objects<B>(&self, owner_id: i64)
    where
        S: BlobStore<B>,
    {
        match self.blobs.list(&keys::owner_prefix(owner_id)).await {
            Ok(keys) => self.remove_objects(&keys).await,
            Err(e) => log(&format!("listing objects of owner {owner_id} failed: {e}")),
        }
    }

    /// Removes objects now; a failure is logged (the cron's reconciliation removes them later).
    pub async fn remove_objects<B>(&self, keys: &[String])
    where
        S: BlobStore<B>,
    {
        if let Err(e) = self.blobs.delete(keys).await {
            log(&format!(
                "could not remove {} objects (the cron will): {e}",
                keys.len()
            ));
        }
    }
}

/// Reserves `bytes` of the isolate's memory budget: `NeverFits` when they never could fit,
/// `Busy` when they do not now.
fn reserve(budget: &Rc<Budget>, bytes: u64) -> Result<Reservation, MediaError> {
    if !budget.could_fit(bytes) {
        return Err(MediaError::Thumbnail(UploadError::NeverFits));
    }
    budget
        .reserve(bytes)
        .ok_or(MediaError::Thumbnail(UploadError::Busy))
}

/// A row whose original R2 no longer has: a picture deleted since the replica that answered
/// the row was written (a read without a bookmark may see it for a moment; objects are removed
/// after the row), so `Gone`, with the cause logged in case it is anything else.
fn gone(key: &str) -> MediaError {
    log(&format!(
        "original {key} is missing from R2 (a picture deleted on a lagging replica?)"
    ));
    MediaError::Gone
}
