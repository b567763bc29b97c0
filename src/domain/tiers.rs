//! Tiers: what each account level gets (thumbnail heights, original, expiring links). This is the
//! one place that decides what a tier allows.

use super::{names, Invalid};
use serde_json::Value;

/// The tallest thumbnail a tier may ask for: the imaging crate's bound, within which every image
/// the upload accepts is thumbnailed inside the isolate's memory.
pub const MAX_THUMBNAIL_HEIGHT: u32 = imaging::MAX_THUMBNAIL_HEIGHT;
/// More heights would mean more work on every upload than one request may take.
pub const MAX_HEIGHTS_PER_TIER: usize = 10;
pub const MAX_TIER_NAME_CHARS: usize = 100;

/// A tier name: a display name (see `names`) that is also a URL segment, so no `/`, `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierName(String);

impl TierName {
    pub fn parse(name: &str) -> Result<Self, Invalid> {
        names::check(name, MAX_TIER_NAME_CHARS)?;
        if name.contains('/') || name == "." || name == ".." {
            return Err("Tier names may not contain '/' or be '.' or '..'.".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A thumbnail height in pixels, 1..=MAX_THUMBNAIL_HEIGHT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThumbnailHeight(u32);

impl ThumbnailHeight {
    pub fn new(height: u32) -> Option<Self> {
        (1..=MAX_THUMBNAIL_HEIGHT)
            .contains(&height)
            .then_some(Self(height))
    }

    /// A height from a URL segment: digits only.
    pub fn parse(segment: &str) -> Option<Self> {
        if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        segment.parse().ok().and_then(Self::new)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for ThumbnailHeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A set of thumbnail heights: distinct, sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heights(Vec<ThumbnailHeight>);

impl Heights {
    pub fn parse(value: &Value) -> Result<Self, Invalid> {
        let items = value.as_array().ok_or("Expected a list of items.")?;
        if items.len() > MAX_HEIGHTS_PER_TIER {
            return Err(format!(
                "Ensure this field has no more than {MAX_HEIGHTS_PER_TIER} elements."
            )
            .into());
        }
        let mut heights = Vec::with_capacity(items.len());
        for item in items {
            let height = item
                .as_u64()
                .and_then(|h| u32::try_from(h).ok())
                .and_then(ThumbnailHeight::new)
                .ok_or_else(|| {
                    format!("Each height must be an integer from 1 to {MAX_THUMBNAIL_HEIGHT}.")
                })?;
            if heights.contains(&height) {
                return Err(format!("Height {height} is listed twice.").into());
            }
            heights.push(height);
        }
        heights.sort();
        Ok(Self(heights))
    }

    pub fn iter(&self) -> impl Iterator<Item = ThumbnailHeight> + '_ {
        self.0.iter().copied()
    }

    pub fn contains(&self, height: ThumbnailHeight) -> bool {
        self.0.contains(&height)
    }
}

/// A stored tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    pub id: i64,
    pub name: TierName,
    pub thumbnail_heights: Heights,
    pub allow_original: bool,
    pub allow_expiring_links: bool,
    /// The tier a user gets when none is given: exactly one tier is, whatever its name.
    pub is_default: bool,
}

impl Tier {
    /// Whether this tier may read `variant` of its pictures.
    pub fn allows(&self, variant: Variant) -> bool {
        match variant {
            Variant::Original => self.allow_original,
            Variant::Thumbnail(h) => self.thumbnail_heights.contains(h),
        }
    }

    /// Why this tier may not read `variant`, for a 403.
    pub fn refusal(variant: Variant) -> &'static str {
        match variant {
            Variant::Original => "Your tier does not include original pictures.",
            Variant::Thumbnail(_) => "Your tier does not include thumbnails of this height.",
        }
    }

    /// Every rendition this tier reads: thumbnails ascending, then the original if allowed.
    pub fn variants(&self) -> Vec<Variant> {
        let thumbnails = self.thumbnail_heights.iter().map(Variant::Thumbnail);
        let original = self.allow_original.then_some(Variant::Original);
        thumbnails.chain(original).collect()
    }
}

/// One rendition of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    Original,
    Thumbnail(ThumbnailHeight),
}

/// A tier to create: every field known.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTier {
    pub name: TierName,
    pub thumbnail_heights: Heights,
    pub allow_original: bool,
    pub allow_expiring_links: bool,
}

/// Changes to a tier: only the fields given. The store writes just these columns, so
/// concurrent patches of different fields compose.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TierPatch {
    pub name: Option<TierName>,
    pub thumbnail_heights: Option<Heights>,
    pub allow_original: Option<bool>,
    pub allow_expiring_links: Option<bool>,
    /// Makes this tier the default (the previous default stops being it).
    pub make_default: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(n: u32) -> ThumbnailHeight {
        ThumbnailHeight::new(n).unwrap()
    }

    #[test]
    fn tier_names_must_be_1_to_100_characters() {
        assert!(TierName::parse("").is_err());
        assert!(TierName::parse("   ").is_err());
        assert!(TierName::parse(&"x".repeat(101)).is_err());
        assert!(TierName::parse(&"é".repeat(100)).is_ok());
        assert!(TierName::parse("a/b").is_err());
    }

    #[test]
    fn tier_names_that_a_url_cannot_reach_or_that_deceive_are_refused() {
        for bad in [".", "..", " Gold", "Gold ", "Go\u{202E}ld", "Gold\u{0}"] {
            assert!(TierName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(TierName::parse("Gold.Plus").is_ok());
    }

    #[test]
    fn heights_are_sorted_and_must_be_distinct_and_bounded() {
        let heights = Heights::parse(&json!([400, 200])).unwrap();
        assert_eq!(heights.iter().collect::<Vec<_>>(), vec![h(200), h(400)]);
        assert!(Heights::parse(&json!([200, 200])).is_err());
        assert!(Heights::parse(&json!([0])).is_err());
        assert!(Heights::parse(&json!([-5])).is_err());
        assert!(Heights::parse(&json!([1001])).is_err());
        assert!(Heights::parse(&json!([1000])).is_ok());
        assert!(Heights::parse(&json!([1.5])).is_err());
        assert!(Heights::parse(&json!("200")).is_err());
        assert!(Heights::parse(&json!([])).is_ok());
    }

    #[test]
    fn url_heights_are_digits_within_bounds() {
        assert_eq!(ThumbnailHeight::parse("200"), Some(h(200)));
        for bad in ["", "+200", "-1", "0", "1001", "2e2", " 200"] {
            assert_eq!(ThumbnailHeight::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_tier_allows_only_its_heights_and_the_original_if_flagged() {
        let tier = Tier {
            id: 1,
            name: TierName::parse("Custom").unwrap(),
            thumbnail_heights: Heights::parse(&json!([100, 800])).unwrap(),
            allow_original: false,
            allow_expiring_links: false,
            is_default: false,
        };
        assert!(tier.allows(Variant::Thumbnail(h(100))));
        assert!(!tier.allows(Variant::Thumbnail(h(200))));
        assert!(!tier.allows(Variant::Original));
        assert_eq!(
            tier.variants(),
            vec![Variant::Thumbnail(h(100)), Variant::Thumbnail(h(800))]
        );
    }
}
