//! The one place that names a picture's renditions: R2 keys and prefixes, edge-cache keys,
//! ETags and URL paths.
//!
//! R2 keys are `{owner}/{picture}/{variant}`: grouped by owner, so deleting a user is one prefix,
//! and parseable back, so the cron can tell which picture an object belongs to.

use crate::domain::ids::{LinkId, PictureId};
use crate::domain::tiers::{ThumbnailHeight, Tier, Variant};

/// How a rendition is named in its R2 key, cache key and ETag: `original` or the height.
fn variant_name(variant: Variant) -> String {
    match variant {
        Variant::Original => "original".to_owned(),
        Variant::Thumbnail(h) => h.to_string(),
    }
}

fn parse_variant(name: &str) -> Option<Variant> {
    match name {
        "original" => Some(Variant::Original),
        h => ThumbnailHeight::parse(h).map(Variant::Thumbnail),
    }
}

/// The R2 key of a rendition.
pub fn blob_key(owner_id: i64, picture_id: PictureId, variant: Variant) -> String {
    format!("{owner_id}/{picture_id}/{}", variant_name(variant))
}

/// The prefix of every object of one picture.
pub fn picture_prefix(owner_id: i64, picture_id: PictureId) -> String {
    format!("{owner_id}/{picture_id}/")
}

/// The prefix of every object of one owner.
pub fn owner_prefix(owner_id: i64) -> String {
    format!("{owner_id}/")
}

/// The parts of an R2 key written by `blob_key`; `None` for any other key.
pub fn parse_blob_key(key: &str) -> Option<(i64, PictureId, Variant)> {
    let mut parts = key.split('/');
    let (owner, picture, variant) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((
        owner.parse().ok()?,
        PictureId::parse(picture)?,
        parse_variant(variant)?,
    ))
}

/// The edge-cache key of a rendition. Only the Worker builds it, and only after the owner and
/// tier checks, so the cache can never be reached around them.
pub fn cache_key(picture_id: PictureId, variant: Variant) -> String {
    format!(
        "https://storagetiers.internal/{picture_id}/{}",
        variant_name(variant)
    )
}

/// A strong validator: a rendition's bytes never change once made.
pub fn etag(picture_id: PictureId, variant: Variant) -> String {
    format!("\"{picture_id}-{}\"", variant_name(variant))
}

/// Whether an `If-None-Match` header matches `etag` (lists, weak tags and `*`).
pub fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

/// The URL path of a picture's rendition.
pub fn url(picture_id: PictureId, variant: Variant) -> String {
    match variant {
        Variant::Original => format!("/api/picture/{picture_id}"),
        Variant::Thumbnail(h) => format!("/api/picture/{picture_id}/{h}"),
    }
}

/// Every URL the owner's tier gives: thumbnails ascending, then the original if allowed.
pub fn urls(picture_id: PictureId, tier: &Tier) -> Vec<String> {
    tier.variants()
        .into_iter()
        .map(|variant| url(picture_id, variant))
        .collect()
}

/// The URL path of an expiring link.
pub fn link_url(link_id: LinkId) -> String {
    format!("/api/timelink/{link_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tiers::{Heights, TierName};
    use serde_json::json;

    const ID: &str = "0b6c1d62-4a4e-4f0c-9a39-2a7f1f0d3c11";

    fn id() -> PictureId {
        PictureId::parse(ID).unwrap()
    }

    fn tier(heights: serde_json::Value, original: bool) -> Tier {
        Tier {
            id: 1,
            name: TierName::parse("t").unwrap(),
            thumbnail_heights: Heights::parse(&heights).unwrap(),
            allow_original: original,
            is_default: false,
            allow_expiring_links: false,
        }
    }

    fn h(n: u32) -> Variant {
        Variant::Thumbnail(ThumbnailHeight::new(n).unwrap())
    }

    #[test]
    fn urls_list_thumbnails_ascending_then_the_original() {
        assert_eq!(
            urls(id(), &tier(json!([400, 200]), true)),
            [
                format!("/api/picture/{ID}/200"),
                format!("/api/picture/{ID}/400"),
                format!("/api/picture/{ID}")
            ]
        );
        assert_eq!(
            urls(id(), &tier(json!([200]), false)),
            [format!("/api/picture/{ID}/200")]
        );
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        assert!(etag_matches("\"a-200\"", "\"a-200\""));
        assert!(etag_matches("\"x\", W/\"a-200\"", "\"a-200\""));
        assert!(etag_matches("*", "\"a-200\""));
        assert!(!etag_matches("\"a-400\"", "\"a-200\""));
    }

    #[test]
    fn keys_name_the_variant_they_hold_and_parse_back() {
        let key = blob_key(7, id(), h(200));
        assert_eq!(key, format!("7/{ID}/200"));
        assert_eq!(parse_blob_key(&key), Some((7, id(), h(200))));
        assert_eq!(
            parse_blob_key(&blob_key(7, id(), Variant::Original)),
            Some((7, id(), Variant::Original))
        );
        assert!(key.starts_with(&picture_prefix(7, id())));
        assert!(key.starts_with(&owner_prefix(7)));
        for foreign in ["7/not-a-uuid/200", "x/y", "7/{ID}/200/extra", ""] {
            assert_eq!(parse_blob_key(foreign), None, "{foreign}");
        }
    }
}
