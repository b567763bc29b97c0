//! Expiring links: created by owners whose tier allows them, served without login until they
//! expire (and while the owner's tier still allows them), listed, revoked.

use super::auth::Caller;
use super::json::picture_json;
use super::pagination::{self, Cursor};
use super::App;
use crate::domain::ids::{LinkId, PictureId};
use crate::domain::links::{self, LinkLifetime};
use crate::domain::tiers::{ThumbnailHeight, Variant};
use crate::domain::time::rfc3339;
use crate::domain::{FieldErrors, REQUIRED};
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::media::keys;
use crate::ports::Platform;
use crate::store;
use crate::store::links::NewLink;
use serde_json::{json, Value};

impl<P: Platform> App<P> {
    /// `POST /api/picture/{id}`: `{"time": 300..=30000, "height"?: H}` -> a link.
    pub(crate) async fn create_link(
        &self,
        caller: &Caller,
        req: &Request<P::Incoming>,
        id: PictureId,
    ) -> Result<Response, ApiError> {
        let picture = store::pictures::find_owned(&self.db, id, caller.id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if !caller.tier.allow_expiring_links {
            return Err(ApiError::Forbidden(
                "Your tier does not include expiring links.",
            ));
        }
        let body = self.json_object(req).await?;
        let mut errors = FieldErrors::new();
        let lifetime = match body.get("time") {
            None | Some(Value::Null) => {
                errors.add("time", REQUIRED);
                None
            }
            Some(v) => LinkLifetime::parse(v)
                .map_err(|e| errors.add("time", e.0))
                .ok(),
        };
        let height = match body.get("height") {
            // A link to the original, which the tier must serve as it must a height: the link
            // would 404 from its first request otherwise.
            None | Some(Value::Null) => {
                if !caller.tier.allows(Variant::Original) {
                    errors.add(
                        "height",
                        "Your tier does not include original pictures: give a thumbnail height.",
                    );
                }
                None
            }
            Some(v) => match v
                .as_u64()
                .and_then(|h| u32::try_from(h).ok())
                .and_then(ThumbnailHeight::new)
            {
                Some(h) if caller.tier.allows(Variant::Thumbnail(h)) => Some(h),
                _ => {
                    errors.add("height", "Your tier has no thumbnails of this height.");
                    None
                }
            },
        };
        let (Some(lifetime), true) = (lifetime, errors.is_empty()) else {
            return Err(ApiError::Validation(errors));
        };
        let link_id = LinkId::new_random();
        let now = self.now_ms();
        let expires_at = now + lifetime.secs() * 1000;
        let inserted = store::links::insert(
            &self.db,
            &NewLink {
                id: link_id,
                picture_id: id,
                owner_id: caller.id,
                height,
                lifetime_secs: lifetime.secs(),
                created_at: now,
                expires_at,
            },
        )
        .await?;
        // The picture was deleted between the check above and the insert.
        if !inserted {
            return Err(ApiError::NotFound);
        }
        Ok(Response::json(
            201,
            &json!({
                "url": keys::link_url(link_id),
                "picture": picture_json(&picture, &caller.username, &caller.tier),
                "time": lifetime.secs(),
                "expires_at": rfc3339(expires_at),
            }),
        ))
    }

    /// `GET /api/timelink/{id}`: the image, without login, until the second the link expires,
    /// and only while the owner's tier allows links and the linked rendition.
    pub(crate) async fn serve_link(
        &self,
        req: &Request<P::Incoming>,
        id: LinkId,
    ) -> Result<Response<P::Body>, ApiError> {
        let now = self.now_ms();
        let link = store::links::find_active(&self.db, id, now)
            .await?
            .ok_or(ApiError::NotFound)?;
        let variant = link.height.map_or(Variant::Original, Variant::Thumbnail);
        if !link.tier.allow_expiring_links || !link.tier.allows(variant) {
            return Err(ApiError::NotFound);
        }
        self.serve(
            req,
            &link.picture,
            variant,
            &links::cache_control(link.expires_at, now),
            None,
        )
        .await
    }

    /// `DELETE /api/timelink/{id}`: the owner revokes a link.
    pub(crate) async fn revoke_link(
        &self,
        caller: &Caller,
        id: LinkId,
    ) -> Result<Response, ApiError> {
        if !store::links::delete_owned(&self.db, id, caller.id).await? {
            return Err(ApiError::NotFound);
        }
        Ok(Response::no_content())
    }

    /// `GET /api/pictures/shared/`: the caller's active links, newest first, paginated.
    pub(crate) async fn list_links(
        &self,
        caller: &Caller,
        req: &Request<P::Incoming>,
    ) -> Result<Response, ApiError> {
        let (limit, cursor) = pagination::params(req)?;
        let now = self.now_ms();
        let rows = store::links::page(
            &self.db,
            caller.id,
            now,
            limit + 1,
            cursor.as_ref().map(Cursor::as_after),
        )
        .await?;
        Ok(pagination::response(
            "/api/pictures/shared/",
            limit,
            rows,
            |l| Cursor {
                created_at: l.link_created_at,
                id: l.link_id.to_string(),
            },
            |l| {
                json!({
                    "url": keys::link_url(l.link_id),
                    "picture": picture_json(&l.picture, &caller.username, &caller.tier),
                    "time": l.lifetime_secs,
                    "time_left": links::time_left(l.expires_at, now),
                    "expires_at": rfc3339(l.expires_at),
                })
            },
        ))
    }
}
