//! Tiers: what each account level gets (thumbnail heights, original, expiring links).
//! This is the one place that decides what a tier allows.

use crate::error::{ApiError, FieldErrors};
use crate::ports::{Database, Statement};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The tallest thumbnail a tier may ask for. At this height every JPEG up to the default
/// `MAX_IMAGE_PIXELS` (baseline or progressive) is thumbnailed within the isolate's memory; the
/// imaging crate refuses some 25 MP progressive JPEGs at 1200 px and more (see its README).
pub const MAX_THUMBNAIL_HEIGHT: u32 = 1000;
/// More heights would mean more work on every upload than one request may take.
pub const MAX_HEIGHTS_PER_TIER: usize = 10;

/// A tier name: 1..=100 characters, no control characters and no `/` (it appears in URLs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TierName(String);

impl TierName {
    pub fn parse(name: &str) -> Result<Self, &'static str> {
        let count = name.chars().count();
        if count == 0 || name.trim().is_empty() {
            return Err("This field may not be blank.");
        }
        if count > 100 {
            return Err("Ensure this field has no more than 100 characters.");
        }
        if name.chars().any(|c| c.is_control() || c == '/') {
            return Err("Tier names may not contain control characters or '/'.");
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A thumbnail height in pixels, 1..=MAX_THUMBNAIL_HEIGHT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ThumbnailHeight(u32);

impl ThumbnailHeight {
    pub fn new(height: u32) -> Option<Self> {
        (1..=MAX_THUMBNAIL_HEIGHT)
            .contains(&height)
            .then_some(Self(height))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A set of thumbnail heights: distinct, sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Heights(Vec<ThumbnailHeight>);

impl Heights {
    pub fn parse(value: &Value) -> Result<Self, String> {
        let items = value.as_array().ok_or("Expected a list of items.")?;
        if items.len() > MAX_HEIGHTS_PER_TIER {
            return Err(format!(
                "Ensure this field has no more than {MAX_HEIGHTS_PER_TIER} elements."
            ));
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
                return Err(format!("Height {} is listed twice.", height.get()));
            }
            heights.push(height);
        }
        heights.sort();
        Ok(Self(heights))
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().map(|h| h.get())
    }

    pub fn contains(&self, height: u32) -> bool {
        self.0.iter().any(|h| h.get() == height)
    }

    fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a list of integers serializes")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tier {
    #[serde(skip)]
    pub id: i64,
    pub name: TierName,
    pub thumbnail_heights: Heights,
    pub allow_original: bool,
    pub allow_expiring_links: bool,
}

impl Tier {
    /// Whether this tier may read `variant` of its pictures.
    pub fn allows(&self, variant: Variant) -> bool {
        match variant {
            Variant::Original => self.allow_original,
            Variant::Thumbnail(h) => self.thumbnail_heights.contains(h),
        }
    }
}

/// One stored rendition of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Original,
    Thumbnail(u32),
}

/// The columns of a tier as D1 returns them (booleans are integers there).
#[derive(Debug, Deserialize)]
pub struct TierRow {
    pub tier_id: i64,
    pub tier_name: String,
    pub thumbnail_heights: String,
    pub allow_original: i64,
    pub allow_expiring_links: i64,
}

/// The select list that yields a `TierRow` from table alias `t`.
pub const TIER_COLUMNS: &str = "t.id AS tier_id, t.name AS tier_name, t.thumbnail_heights, \
     t.allow_original, t.allow_expiring_links";

impl TierRow {
    pub fn into_tier(self) -> Result<Tier, ApiError> {
        let heights: Value =
            serde_json::from_str(&self.thumbnail_heights).map_err(ApiError::internal)?;
        Ok(Tier {
            id: self.tier_id,
            name: TierName::parse(&self.tier_name).map_err(ApiError::internal)?,
            thumbnail_heights: Heights::parse(&heights).map_err(ApiError::internal)?,
            allow_original: self.allow_original != 0,
            allow_expiring_links: self.allow_expiring_links != 0,
        })
    }
}

/// The fields of a tier in a create (all given) or update (some given) request.
#[derive(Debug, Default)]
pub struct TierChanges {
    pub name: Option<TierName>,
    pub thumbnail_heights: Option<Heights>,
    pub allow_original: Option<bool>,
    pub allow_expiring_links: Option<bool>,
}

impl TierChanges {
    /// Parses a JSON object; with `partial`, absent fields stay unchanged, otherwise `name` and
    /// `thumbnail_heights` are required and the flags default to false.
    pub fn parse(body: &Value, partial: bool) -> Result<Self, ApiError> {
        let object = body.as_object().ok_or_else(|| {
            ApiError::Validation(FieldErrors::single(
                "non_field_errors",
                "Expected a JSON object.",
            ))
        })?;
        let mut errors = FieldErrors::new();
        let mut changes = TierChanges::default();
        match object.get("name") {
            Some(Value::String(s)) => match TierName::parse(s) {
                Ok(name) => changes.name = Some(name),
                Err(e) => errors.add("name", e),
            },
            Some(_) => errors.add("name", "Not a valid string."),
            None if !partial => errors.add("name", crate::error::REQUIRED),
            None => {}
        }
        match object.get("thumbnail_heights") {
            Some(v) => match Heights::parse(v) {
                Ok(h) => changes.thumbnail_heights = Some(h),
                Err(e) => errors.add("thumbnail_heights", e),
            },
            None if !partial => errors.add("thumbnail_heights", crate::error::REQUIRED),
            None => {}
        }
        for (field, slot) in [
            ("allow_original", &mut changes.allow_original),
            ("allow_expiring_links", &mut changes.allow_expiring_links),
        ] {
            match object.get(field) {
                Some(Value::Bool(b)) => *slot = Some(*b),
                Some(_) => errors.add(field, "Must be a valid boolean."),
                None if !partial => *slot = Some(false),
                None => {}
            }
        }
        errors.into_result()?;
        Ok(changes)
    }
}

fn select_tiers(filter: &str) -> String {
    format!("SELECT {TIER_COLUMNS} FROM tiers t {filter}")
}

pub async fn list(db: &impl Database) -> Result<Vec<Tier>, ApiError> {
    let rows: Vec<TierRow> = db
        .query(Statement::new(select_tiers("ORDER BY t.id")))
        .await?;
    rows.into_iter().map(TierRow::into_tier).collect()
}

pub async fn find(db: &impl Database, name: &str) -> Result<Option<Tier>, ApiError> {
    let rows: Vec<TierRow> = db
        .query(Statement::new(select_tiers("WHERE t.name = ?")).bind(name))
        .await?;
    rows.into_iter().next().map(TierRow::into_tier).transpose()
}

pub async fn get(db: &impl Database, name: &str) -> Result<Tier, ApiError> {
    find(db, name).await?.ok_or(ApiError::NotFound)
}

fn name_taken() -> ApiError {
    ApiError::Validation(FieldErrors::single(
        "name",
        "tier with this name already exists.",
    ))
}

pub async fn create(
    db: &impl Database,
    changes: TierChanges,
    now_ms: i64,
) -> Result<Tier, ApiError> {
    let name = changes
        .name
        .expect("parse(partial = false) requires a name");
    if find(db, name.as_str()).await?.is_some() {
        return Err(name_taken());
    }
    let heights = changes
        .thumbnail_heights
        .expect("parse(partial = false) requires heights");
    let statement = Statement::new(
        "INSERT INTO tiers (name, thumbnail_heights, allow_original, allow_expiring_links, created_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(name.as_str())
    .bind(heights.to_json())
    .bind(changes.allow_original.unwrap_or(false))
    .bind(changes.allow_expiring_links.unwrap_or(false))
    .bind(now_ms);
    db.execute(statement)
        .await
        .map_err(|e| unique_violation_or(e, name_taken))?;
    get(db, name.as_str()).await
}

pub async fn update(
    db: &impl Database,
    current: &str,
    changes: TierChanges,
) -> Result<Tier, ApiError> {
    let tier = get(db, current).await?;
    if let Some(name) = &changes.name {
        if name.as_str() != current && find(db, name.as_str()).await?.is_some() {
            return Err(name_taken());
        }
    }
    let name = changes.name.unwrap_or(tier.name);
    let statement = Statement::new(
        "UPDATE tiers SET name = ?, thumbnail_heights = ?, allow_original = ?, allow_expiring_links = ? \
         WHERE id = ?",
    )
    .bind(name.as_str())
    .bind(changes.thumbnail_heights.unwrap_or(tier.thumbnail_heights).to_json())
    .bind(changes.allow_original.unwrap_or(tier.allow_original))
    .bind(changes.allow_expiring_links.unwrap_or(tier.allow_expiring_links))
    .bind(tier.id);
    db.execute(statement)
        .await
        .map_err(|e| unique_violation_or(e, name_taken))?;
    get(db, name.as_str()).await
}

pub async fn delete(db: &impl Database, name: &str) -> Result<(), ApiError> {
    let tier = get(db, name).await?;
    // The guard is in the statement itself, so a user assigned concurrently cannot be orphaned.
    let deleted = db
        .execute(
            Statement::new("DELETE FROM tiers WHERE id = ? AND NOT EXISTS (SELECT 1 FROM users WHERE tier_id = ?)")
                .bind(tier.id)
                .bind(tier.id),
        )
        .await?;
    if deleted == 0 {
        return Err(ApiError::Conflict(
            "This tier is still assigned to users.".into(),
        ));
    }
    Ok(())
}

/// Maps a UNIQUE violation (a concurrent insert won the race) to `conflict`, anything else to 500.
pub fn unique_violation_or(
    error: crate::ports::StoreError,
    conflict: impl FnOnce() -> ApiError,
) -> ApiError {
    if error.0.contains("UNIQUE constraint failed") {
        conflict()
    } else {
        error.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tier_names_must_be_1_to_100_characters() {
        assert!(TierName::parse("").is_err());
        assert!(TierName::parse("   ").is_err());
        assert!(TierName::parse(&"x".repeat(101)).is_err());
        assert!(TierName::parse(&"é".repeat(100)).is_ok());
        assert!(TierName::parse("a/b").is_err());
    }

    #[test]
    fn heights_are_sorted_and_must_be_distinct_and_bounded() {
        let heights = Heights::parse(&json!([400, 200])).unwrap();
        assert_eq!(heights.iter().collect::<Vec<_>>(), vec![200, 400]);
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
    fn a_create_request_needs_name_and_heights() {
        let Err(ApiError::Validation(errors)) = TierChanges::parse(&json!({}), false) else {
            panic!("expected validation errors");
        };
        let response = ApiError::Validation(errors).into_response();
        assert_eq!(
            response.json_body(),
            json!({"name": ["This field is required."], "thumbnail_heights": ["This field is required."]})
        );
    }

    #[test]
    fn a_partial_update_may_leave_everything_out() {
        let changes = TierChanges::parse(&json!({"allow_original": true}), true).unwrap();
        assert_eq!(changes.allow_original, Some(true));
        assert!(changes.name.is_none() && changes.thumbnail_heights.is_none());
    }

    #[test]
    fn flags_must_be_booleans() {
        assert!(TierChanges::parse(
            &json!({"name": "x", "thumbnail_heights": [], "allow_original": "yes"}),
            false
        )
        .is_err());
    }

    #[test]
    fn a_tier_allows_only_its_heights_and_the_original_if_flagged() {
        let tier = Tier {
            id: 1,
            name: TierName::parse("Custom").unwrap(),
            thumbnail_heights: Heights::parse(&json!([100, 800])).unwrap(),
            allow_original: false,
            allow_expiring_links: false,
        };
        assert!(tier.allows(Variant::Thumbnail(100)));
        assert!(!tier.allows(Variant::Thumbnail(200)));
        assert!(!tier.allows(Variant::Original));
    }
}
