//! Pictures: upload, list, read, delete.

use super::auth::{Bearer, Caller};
use super::json::picture_json;
use super::media::{upload_error, CLIENT_CACHE_CONTROL};
use super::pagination::{self, Cursor};
use super::App;
use crate::domain::ids::PictureId;
use crate::domain::pictures::Picture;
use crate::domain::tiers::{ThumbnailHeight, Tier, Variant};
use crate::domain::{FieldErrors, REQUIRED};
use crate::error::ApiError;
use crate::http::{multipart, Request, Response};
use crate::media::keys;
use crate::media::upload::{self, Memory, Stored, Target, UploadError};
use crate::ports::EdgeCache;
use crate::ports::Platform;
use crate::store;

impl<P: Platform> App<P> {
    /// `GET /api/pictures`: the caller's pictures, newest first, keyset-paginated.
    pub(crate) async fn list_pictures(
        &self,
        caller: &Caller,
        req: &Request<P::Incoming>,
    ) -> Result<Response, ApiError> {
        let (limit, cursor) = pagination::params(req)?;
        let rows = store::pictures::page(
            &self.db,
            caller.id,
            limit + 1,
            cursor.as_ref().map(Cursor::as_after),
        )
        .await?;
        Ok(pagination::response(
            "/api/pictures",
            limit,
            rows,
            |p| Cursor {
                created_at: p.created_at,
                id: p.id.to_string(),
            },
            |p| picture_json(p, &caller.username, &caller.tier),
        ))
    }

    /// `POST /api/pictures`: multipart `name` + `img`. The objects go to R2, then the row to D1,
    /// so a picture is visible only once complete.
    pub(crate) async fn upload_picture(
        &self,
        caller: &Caller,
        req: &Request<P::Incoming>,
    ) -> Result<Response, ApiError> {
        let (id, stored) = self.receive_upload(caller, req).await?;
        let picture = Picture {
            id,
            owner_id: caller.id,
            name: stored.name.as_str().to_owned(),
            content_type: stored.probe.format.content_type().to_owned(),
            width: stored.probe.width.into(),
            height: stored.probe.height.into(),
            size: stored.size as i64,
            created_at: self.now_ms(),
        };
        self.insert_picture(&picture, &stored.keys).await?;
        Ok(Response::json(
            201,
            &picture_json(&picture, &caller.username, &caller.tier),
        ))
    }

    /// The upload's objects, stored under a new picture id. The token and the declared length
    /// are checked before the body is read; the body is streamed through the form parser and
    /// the imaging pipeline (`media::upload`).
    async fn receive_upload(
        &self,
        caller: &Caller,
        req: &Request<P::Incoming>,
    ) -> Result<(PictureId, Stored), ApiError> {
        let limits = self.config.upload_limits();
        let declared = req.declared_length();
        if declared.is_some_and(|n| n > limits.max_bytes) {
            return Err(upload_error(UploadError::TooLarge(limits.max_bytes)));
        }
        let Some(boundary) = req.header("content-type").and_then(multipart::boundary) else {
            return Err(upload_error(UploadError::Fields(not_a_form())));
        };
        let Some(mut body) = req.take_body() else {
            return Err(upload_error(UploadError::Fields(not_a_form())));
        };
        let id = PictureId::new_random();
        let key = |variant| keys::blob_key(caller.id, id, variant);
        let heights: Vec<ThumbnailHeight> = caller.tier.thumbnail_heights.iter().collect();
        let memory = Memory {
            budget: &self.isolate.budget,
            user: caller.id,
        };
        let target = Target {
            key: &key,
            heights: &heights,
        };
        let stored = upload::receive(
            &mut body,
            &boundary,
            declared,
            &limits,
            memory,
            &*self.clock,
            &self.blobs,
            target,
        )
        .await
        .map_err(upload_error)?;
        Ok((id, stored))
    }

    /// Inserts the row of an upload whose objects are stored; on failure neither the row nor the
    /// objects are left.
    async fn insert_picture(&self, picture: &Picture, keys: &[String]) -> Result<(), ApiError> {
        let Err(e) = store::pictures::insert(&self.db, picture).await else {
            return Ok(());
        };
        // The write may have happened although it was reported as failed: remove the row too,
        // so no picture is ever listed without its objects.
        let (id, owner) = (picture.id, picture.owner_id);
        if let Err(cleanup) = store::pictures::delete_owned(&self.db, id, owner).await {
            crate::error::log(&format!("could not remove picture row {id}: {cleanup}"));
        }
        self.renditions().remove_objects(keys).await;
        Err(e.into())
    }

    /// `GET /api/picture/{id}`: the original, if the owner's tier allows it.
    pub(crate) async fn read_original(
        &self,
        bearer: &Bearer,
        req: &Request<P::Incoming>,
        id: PictureId,
    ) -> Result<Response<P::Body>, ApiError> {
        self.read_variant(bearer, req, id, Variant::Original).await
    }

    /// `GET /api/picture/{id}/{height}`: a thumbnail of a height the owner's tier has.
    pub(crate) async fn read_thumbnail(
        &self,
        bearer: &Bearer,
        req: &Request<P::Incoming>,
        id: PictureId,
        height: ThumbnailHeight,
    ) -> Result<Response<P::Body>, ApiError> {
        self.read_variant(bearer, req, id, Variant::Thumbnail(height))
            .await
    }

    /// The owner and tier checks of every read: one D1 query, whose answer gates the cache.
    async fn read_variant(
        &self,
        bearer: &Bearer,
        req: &Request<P::Incoming>,
        id: PictureId,
        variant: Variant,
    ) -> Result<Response<P::Body>, ApiError> {
        let check = store::pictures::read_check(&self.db, id, bearer.user_id, bearer.generation);
        // The cache lookup overlaps the check to save a round trip; its result is used only
        // once the check below has passed.
        let key = keys::cache_key(id, variant);
        let (check, cached) = futures_util::future::join(check, self.cache.get(&key)).await;
        let check = check?.ok_or(ApiError::Unauthorized("User not found."))?;
        if !check.token_current {
            return Err(ApiError::Unauthorized("Token is no longer valid."));
        }
        let picture = check.picture.ok_or(ApiError::NotFound)?;
        if !check.tier.allows(variant) {
            return Err(ApiError::Forbidden(Tier::refusal(variant)));
        }
        self.serve(req, &picture, variant, CLIENT_CACHE_CONTROL, Some(cached))
            .await
    }

    /// `DELETE /api/picture/{id}`: the row (its links cascade), then every R2 object and cached
    /// copy.
    pub(crate) async fn delete_picture(
        &self,
        caller: &Caller,
        id: PictureId,
    ) -> Result<Response, ApiError> {
        if !store::pictures::delete_owned(&self.db, id, caller.id).await? {
            return Err(ApiError::NotFound);
        }
        self.renditions()
            .remove_picture_objects(caller.id, id)
            .await;
        Ok(Response::no_content())
    }
}

/// The errors of a body that is not a form at all: every field is missing.
fn not_a_form() -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add("non_field_errors", "Expected a multipart/form-data body.");
    errors.add("name", REQUIRED);
    errors.add("img", "No file was submitted.");
    errors
}
