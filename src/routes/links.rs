//! Expiring links: created by owners whose tier allows them, served without login until they
//! expire (and while the owner's tier still allows them), listed, revoked.

use super::auth::Caller;
use super::json::{link_json, Fields};
use super::pagination::{self, Cursor};
use super::App;
use crate::domain::ids::{LinkId, PictureId};
use crate::domain::links::{self, LinkLifetime};
use crate::domain::tiers::{ThumbnailHeight, Tier, Variant};
use crate::domain::FieldErrors;
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::ports::Platform;
use crate::store;
use crate::store::links::NewLink;

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
        let new = self
            .read_json(req, |f| new_link(f.null_is_absent(), &caller.tier))
            .await?;
        let now = self.now_ms();
        let link = NewLink {
            id: LinkId::new_random(),
            picture_id: id,
            owner_id: caller.id,
            height: new.height,
            lifetime_secs: new.lifetime.secs(),
            created_at: now,
            expires_at: now + new.lifetime.secs() * 1000,
        };
        // `false`: the picture was deleted between the check above and the insert.
        if !store::links::insert(&self.db, &link).await? {
            return Err(ApiError::NotFound);
        }
        Ok(Response::json(
            201,
            &link_json(
                link.id,
                link.lifetime_secs,
                link.expires_at,
                &picture,
                caller,
            ),
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
                let mut link =
                    link_json(l.link_id, l.lifetime_secs, l.expires_at, &l.picture, caller);
                link["time_left"] = links::time_left(l.expires_at, now).into();
                link
            },
        ))
    }
}

/// What a link request asks for.
struct LinkFields {
    lifetime: LinkLifetime,
    /// `None`: the original.
    height: Option<ThumbnailHeight>,
}

/// A link request, against the owner's `tier`: a link must be to a rendition the tier serves, or
/// it would 404 from its first request.
fn new_link(mut f: Fields, tier: &Tier) -> Result<LinkFields, FieldErrors> {
    let lifetime = f.required("time", LinkLifetime::parse);
    let height = f.optional("height", |value| {
        value
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
            .and_then(ThumbnailHeight::new)
            .filter(|h| tier.allows(Variant::Thumbnail(*h)))
            .ok_or_else(|| "Your tier has no thumbnails of this height.".into())
    });
    if f.is_absent("height") && !tier.allows(Variant::Original) {
        f.refuse(
            "height",
            "Your tier does not include original pictures: give a thumbnail height.",
        );
    }
    f.finish(|| {
        Some(LinkFields {
            lifetime: lifetime?,
            height,
        })
    })
}
