//! The API's JSON objects: one function per domain value a response carries, so the domain
//! types know nothing of the wire format.

use crate::domain::pictures::Picture;
use crate::domain::tiers::Tier;
use crate::domain::time::rfc3339;
use crate::domain::users::User;
use crate::media::keys;
use serde::Serialize;
use serde_json::{json, Value};

/// The picture object of the API; `urls` follow the owner's current tier.
pub fn picture_json(picture: &Picture, owner: &str, tier: &Tier) -> Value {
    json!({
        "id": picture.id.to_string(),
        "owner": owner,
        "name": picture.name,
        "urls": keys::urls(picture.id, tier),
        "created_at": rfc3339(picture.created_at),
        "width": picture.width,
        "height": picture.height,
        "content_type": picture.content_type,
        "size": picture.size,
    })
}

/// The tier object of the API, its fields in this order.
#[derive(Serialize)]
pub struct TierJson<'a> {
    name: &'a str,
    thumbnail_heights: Vec<u32>,
    allow_original: bool,
    allow_expiring_links: bool,
    is_default: bool,
}

pub fn tier_json(tier: &Tier) -> TierJson<'_> {
    TierJson {
        name: tier.name.as_str(),
        thumbnail_heights: tier.thumbnail_heights.iter().map(|h| h.get()).collect(),
        allow_original: tier.allow_original,
        allow_expiring_links: tier.allow_expiring_links,
        is_default: tier.is_default,
    }
}

/// The admin API's user object. The password hash is never part of it.
pub fn user_json(user: &User) -> Value {
    json!({
        "username": user.username,
        "tier": user.tier.name.as_str(),
        "is_admin": user.is_admin,
    })
}
