//! Pictures: upload (original and tier thumbnails in R2, row in D1), list, read through the edge
//! cache, delete. The one place that builds picture URLs, R2 keys and cache keys.

use crate::app::{App, Platform};
use crate::error::{log, ApiError, FieldErrors};
use crate::http::{Body, FormValue, Request, Response};
use crate::ports::{BlobStore, CachedImage, Database, EdgeCache, Statement, StoreError};
use crate::tiers::{Tier, TierRow, Variant, TIER_COLUMNS};
use crate::users::User;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Deserialize;
use serde_json::{json, Value};

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;
pub const MAX_NAME_CHARS: usize = 100;
/// What the client may keep: the owner's browser only, never a shared cache.
pub const CLIENT_CACHE_CONTROL: &str = "private, max-age=3600";

/// A picture id: a UUID. Anything else cannot name a picture, so it is a 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureId(uuid::Uuid);

impl PictureId {
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    pub fn parse(s: &str) -> Result<Self, ApiError> {
        uuid::Uuid::try_parse(s)
            .map(Self)
            .map_err(|_| ApiError::NotFound)
    }
}

impl std::fmt::Display for PictureId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The URL path of a picture's rendition.
pub fn url(id: &str, variant: Variant) -> String {
    match variant {
        Variant::Original => format!("/api/picture/{id}"),
        Variant::Thumbnail(h) => format!("/api/picture/{id}/{h}"),
    }
}

/// Every URL the owner's tier gives: thumbnails ascending, then the original if allowed.
pub fn urls(id: &str, tier: &Tier) -> Vec<String> {
    let thumbnails = tier
        .thumbnail_heights
        .iter()
        .map(|h| url(id, Variant::Thumbnail(h)));
    let original = tier.allow_original.then(|| url(id, Variant::Original));
    thumbnails.chain(original).collect()
}

/// How a rendition is named in its R2 key, cache key and ETag: `original` or the height.
fn variant_name(variant: Variant) -> String {
    match variant {
        Variant::Original => "original".to_owned(),
        Variant::Thumbnail(h) => h.to_string(),
    }
}

/// The inverse of `variant_name`, from the last segment of an R2 key.
fn variant_of_key(key: &str) -> Option<Variant> {
    match key.rsplit('/').next()? {
        "original" => Some(Variant::Original),
        h => h.parse().ok().map(Variant::Thumbnail),
    }
}

/// The R2 key of a rendition. Grouped by owner, so deleting a user is one prefix.
pub fn blob_key(owner_id: i64, id: &str, variant: Variant) -> String {
    format!("{owner_id}/{id}/{}", variant_name(variant))
}

/// The edge-cache key of a rendition. Only the Worker builds it, and only after the owner and
/// tier checks, so the cache can never be reached around them.
pub fn cache_key(id: &str, variant: Variant) -> String {
    format!(
        "https://storagetiers.internal/{id}/{}",
        variant_name(variant)
    )
}

/// A strong validator: a rendition's bytes never change once made.
pub fn etag(id: &str, variant: Variant) -> String {
    format!("\"{id}-{}\"", variant_name(variant))
}

/// An API timestamp: RFC 3339 in UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Debug, Clone, Deserialize)]
pub struct PictureRow {
    pub id: String,
    pub owner_id: i64,
    pub name: String,
    pub content_type: String,
    pub width: i64,
    pub height: i64,
    pub size: i64,
    pub created_at: i64,
}

pub const PICTURE_COLUMNS: &str =
    "p.id, p.owner_id, p.name, p.content_type, p.width, p.height, p.size, p.created_at";

impl PictureRow {
    /// The picture object of the API; `urls` follow the owner's current tier.
    pub fn to_json(&self, owner: &str, tier: &Tier) -> Value {
        json!({
            "id": self.id,
            "owner": owner,
            "name": self.name,
            "urls": urls(&self.id, tier),
            "created_at": rfc3339(self.created_at),
            "width": self.width,
            "height": self.height,
            "content_type": self.content_type,
            "size": self.size,
        })
    }
}

/// A page position: the (created_at, id) of the last item shown, opaque to clients.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub created_at: i64,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.created_at, self.id))
    }

    pub fn decode(s: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        let (created_at, id) = raw.split_once(':')?;
        Some(Self {
            created_at: created_at.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

/// `limit` and `cursor` from the query string; 400 for values that are not valid.
pub fn page_params(req: &Request) -> Result<(u32, Option<Cursor>), ApiError> {
    let mut errors = FieldErrors::new();
    let limit = match req.query_param("limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                errors.add(
                    "limit",
                    format!("Must be an integer from 1 to {MAX_PAGE_SIZE}."),
                );
                0
            }
        },
    };
    let cursor = match req.query_param("cursor") {
        None => None,
        Some(s) => {
            let cursor = Cursor::decode(&s);
            if cursor.is_none() {
                errors.add("cursor", "Invalid cursor.");
            }
            cursor
        }
    };
    errors.into_result()?;
    Ok((limit, cursor))
}

/// A JSON array response with a `Link: <...>; rel="next"` header when there is a next page.
/// `items` holds up to `limit + 1` rows: the extra one only signals that a next page exists.
pub fn page_response<T>(
    path: &str,
    limit: u32,
    mut items: Vec<T>,
    cursor_of: impl Fn(&T) -> Cursor,
    to_json: impl Fn(&T) -> Value,
) -> Response {
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let body: Vec<Value> = items.iter().map(to_json).collect();
    let mut response = Response::json(200, &body);
    if let (true, Some(last)) = (has_more, items.last()) {
        let next = format!(
            "<{path}?limit={limit}&cursor={}>; rel=\"next\"",
            cursor_of(last).encode()
        );
        response = response.with_header("link", &next);
    }
    response
}

/// A picture with its owner's current tier, as the read paths need it.
#[derive(Debug, Deserialize)]
struct OwnedPictureRow {
    user_id: i64,
    #[serde(flatten)]
    tier: TierRow,
    picture_id: Option<String>,
    content_type: Option<String>,
}

impl<P: Platform> App<P> {
    /// `GET /api/pictures`: the caller's pictures, newest first, keyset-paginated.
    pub(crate) async fn list_pictures(&self, req: &Request) -> Result<Response, ApiError> {
        let user = self.authenticate(req).await?;
        let (limit, cursor) = page_params(req)?;
        let rows = list_page(&self.db, user.id, limit, cursor.as_ref()).await?;
        Ok(page_response(
            "/api/pictures",
            limit,
            rows,
            |p| Cursor {
                created_at: p.created_at,
                id: p.id.clone(),
            },
            |p| p.to_json(&user.username, &user.tier),
        ))
    }

    /// `POST /api/pictures`: multipart `name` + `img`; stores the original and the tier's
    /// thumbnails in R2, then the row in D1, so a picture is visible only once complete.
    pub(crate) async fn upload_picture(&self, req: &Request) -> Result<Response, ApiError> {
        let user = self.authenticate(req).await?;
        let too_large = || {
            ApiError::PayloadTooLarge(format!(
                "Uploads are limited to {} bytes.",
                self.config.max_upload_bytes
            ))
        };
        let declared = req
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.config.max_upload_bytes) {
            return Err(too_large());
        }
        let (name, bytes) = upload_fields(&req.body)?;
        if bytes.len() as u64 > self.config.max_upload_bytes {
            return Err(too_large());
        }
        let heights: Vec<u32> = user.tier.thumbnail_heights.iter().collect();
        let limits = imaging::Limits {
            max_pixels: self.config.max_image_pixels,
        };
        let (probe, thumbnails) =
            imaging::thumbnails(bytes, &heights, &limits).map_err(image_error)?;

        let id = PictureId::new_random().to_string();
        let mut puts = vec![(
            blob_key(user.id, &id, Variant::Original),
            bytes,
            probe.format.content_type(),
        )];
        // Thumbnails come back in the order of `heights`; a short original gives a smaller one.
        for (thumbnail, &height) in thumbnails.iter().zip(&heights) {
            let key = blob_key(user.id, &id, Variant::Thumbnail(height));
            puts.push((key, &thumbnail.bytes, thumbnail.format.content_type()));
        }
        // All objects are written at once; if any write fails, every key is removed (deleting
        // a key that was never written is harmless) and no row is ever inserted.
        let results = futures_util::future::join_all(
            puts.iter()
                .map(|(key, data, content_type)| self.blobs.put(key, data, content_type)),
        )
        .await;
        let keys: Vec<String> = puts.into_iter().map(|(key, _, _)| key).collect();
        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
            self.remove_blobs(&keys).await;
            return Err(e.into());
        }

        let row = PictureRow {
            id: id.clone(),
            owner_id: user.id,
            name,
            content_type: probe.format.content_type().to_owned(),
            width: probe.width.into(),
            height: probe.height.into(),
            size: bytes.len() as i64,
            created_at: self.now_ms(),
        };
        if let Err(e) = insert(&self.db, &row).await {
            self.remove_blobs(&keys).await;
            return Err(e);
        }
        Ok(Response::json(
            201,
            &row.to_json(&user.username, &user.tier),
        ))
    }

    /// `GET /api/picture/{id}`: the original, if the owner's tier allows it.
    pub(crate) async fn read_original(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response, ApiError> {
        let claims = self.access_claims(req)?;
        self.read_variant(req, claims.user_id, id, Variant::Original)
            .await
    }

    /// `GET /api/picture/{id}/{height}`: a thumbnail of a height the owner's tier has.
    pub(crate) async fn read_thumbnail(
        &self,
        req: &Request,
        id: &str,
        height: &str,
    ) -> Result<Response, ApiError> {
        let claims = self.access_claims(req)?;
        let height: u32 = height.parse().map_err(|_| ApiError::NotFound)?;
        self.read_variant(req, claims.user_id, id, Variant::Thumbnail(height))
            .await
    }

    /// The owner and tier checks of every read: one D1 query, whose answer gates the cache.
    async fn read_variant(
        &self,
        req: &Request,
        user_id: i64,
        id: &str,
        variant: Variant,
    ) -> Result<Response, ApiError> {
        let id = PictureId::parse(id)?.to_string();
        let check = self.db.query::<OwnedPictureRow>(
            Statement::new(format!(
                "SELECT u.id AS user_id, {TIER_COLUMNS}, p.id AS picture_id, p.content_type \
                 FROM users u JOIN tiers t ON t.id = u.tier_id \
                 LEFT JOIN pictures p ON p.id = ? AND p.owner_id = u.id WHERE u.id = ?"
            ))
            .bind(id.as_str())
            .bind(user_id),
        );
        // The cache lookup overlaps the check to save a round trip; its result is used only
        // once the check below has passed.
        let key = cache_key(&id, variant);
        let (rows, cached) = futures_util::future::join(check, self.cache.get(&key)).await;
        let rows = rows?;
        let row = rows
            .into_iter()
            .next()
            .ok_or(ApiError::Unauthorized("User not found."))?;
        if row.picture_id.is_none() {
            return Err(ApiError::NotFound);
        }
        let tier = row.tier.into_tier()?;
        if !tier.allows(variant) {
            return Err(ApiError::Forbidden(match variant {
                Variant::Original => "Your tier does not include original pictures.",
                Variant::Thumbnail(_) => "Your tier does not include thumbnails of this height.",
            }));
        }
        let picture = StoredPicture {
            owner_id: row.user_id,
            id,
            content_type: row.content_type.unwrap_or_default(),
        };
        self.serve(req, &picture, variant, CLIENT_CACHE_CONTROL, Some(cached))
            .await
    }

    /// Answers with a rendition's bytes: 304 on a matching `If-None-Match`, else from the edge
    /// cache (`cached`, when the caller already looked it up), else from R2 (making a missing
    /// thumbnail on the way), storing it in the cache. Callers have checked access.
    pub(crate) async fn serve(
        &self,
        req: &Request,
        picture: &StoredPicture,
        variant: Variant,
        cache_control: &str,
        cached: Option<Result<Option<CachedImage>, StoreError>>,
    ) -> Result<Response, ApiError> {
        let etag = etag(&picture.id, variant);
        let base = |status: u16| {
            Response::new(status)
                .with_header("etag", &etag)
                .with_header("cache-control", cache_control)
                .with_header("x-content-type-options", "nosniff")
        };
        if req
            .header("if-none-match")
            .is_some_and(|v| etag_matches(v, &etag))
        {
            return Ok(base(304));
        }
        let key = cache_key(&picture.id, variant);
        let cached = match cached {
            Some(result) => result,
            None => self.cache.get(&key).await,
        };
        match cached {
            Ok(Some(hit)) => {
                return Ok(base(200)
                    .with_header("content-type", &hit.content_type)
                    .with_header("cf-cache-status", "HIT")
                    .with_bytes(hit.bytes));
            }
            Ok(None) => {}
            // The cache is an optimization: when it fails, R2 still answers.
            Err(e) => log(&format!("edge cache read failed for {key}: {e}")),
        }
        let image = self.load(picture, variant).await?;
        if let Err(e) = self.cache.put(&key, &image).await {
            log(&format!("edge cache write failed for {key}: {e}"));
        }
        Ok(base(200)
            .with_header("content-type", &image.content_type)
            .with_header("cf-cache-status", "MISS")
            .with_bytes(image.bytes))
    }

    /// A rendition from R2; a thumbnail that is missing (the tier changed after upload) is made
    /// from the original and stored.
    async fn load(
        &self,
        picture: &StoredPicture,
        variant: Variant,
    ) -> Result<CachedImage, ApiError> {
        let key = blob_key(picture.owner_id, &picture.id, variant);
        if let Some(blob) = self.blobs.get(&key).await? {
            return Ok(CachedImage {
                bytes: blob.bytes,
                content_type: blob.content_type,
            });
        }
        let Variant::Thumbnail(height) = variant else {
            return Err(ApiError::internal(format!(
                "original {key} is missing from R2"
            )));
        };
        let original_key = blob_key(picture.owner_id, &picture.id, Variant::Original);
        let original = self.blobs.get(&original_key).await?.ok_or_else(|| {
            ApiError::internal(format!("original {original_key} is missing from R2"))
        })?;
        let limits = imaging::Limits {
            max_pixels: u64::MAX,
        };
        let (_, mut thumbnails) =
            imaging::thumbnails(&original.bytes, &[height], &limits).map_err(ApiError::internal)?;
        let thumbnail = thumbnails
            .pop()
            .ok_or_else(|| ApiError::internal("no thumbnail made"))?;
        let content_type = thumbnail.format.content_type();
        self.blobs.put(&key, &thumbnail.bytes, content_type).await?;
        Ok(CachedImage {
            bytes: thumbnail.bytes,
            content_type: content_type.to_owned(),
        })
    }

    /// `DELETE /api/picture/{id}`: the row, its links, every R2 object and cached copy.
    pub(crate) async fn delete_picture(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response, ApiError> {
        let user = self.authenticate(req).await?;
        let id = PictureId::parse(id)?.to_string();
        let deleted = self
            .db
            .query::<Value>(
                Statement::new("DELETE FROM pictures WHERE id = ? AND owner_id = ? RETURNING id")
                    .bind(id.as_str())
                    .bind(user.id),
            )
            .await?;
        if deleted.is_empty() {
            return Err(ApiError::NotFound);
        }
        self.db
            .execute(Statement::new("DELETE FROM links WHERE picture_id = ?").bind(id.as_str()))
            .await?;
        let prefix = format!("{}/{id}/", user.id);
        let keys = self.blobs.list(&prefix).await?;
        for variant in keys.iter().filter_map(|k| variant_of_key(k)) {
            if let Err(e) = self.cache.delete(&cache_key(&id, variant)).await {
                log(&format!("edge cache delete failed for {id}: {e}"));
            }
        }
        self.blobs.delete(&keys).await?;
        Ok(Response::no_content())
    }

    /// Best-effort removal of objects written by a request that then failed.
    async fn remove_blobs(&self, keys: &[String]) {
        if let Err(e) = self.blobs.delete(keys).await {
            log(&format!(
                "could not remove {} orphaned objects: {e}",
                keys.len()
            ));
        }
    }
}

/// What the read paths know of a picture once its owner is checked.
pub struct StoredPicture {
    pub owner_id: i64,
    pub id: String,
    pub content_type: String,
}

fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

/// The `name` and `img` fields of an upload form, with Django REST framework's messages.
fn upload_fields(body: &Body) -> Result<(String, &[u8]), ApiError> {
    let mut errors = FieldErrors::new();
    let fields: &[(String, FormValue)] = match body {
        Body::Form(fields) => fields,
        _ => &[],
    };
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let name = match field("name") {
        Some(FormValue::Text(s)) if s.trim().is_empty() => {
            errors.add("name", "This field may not be blank.");
            None
        }
        Some(FormValue::Text(s)) if s.chars().count() > MAX_NAME_CHARS => {
            errors.add(
                "name",
                format!("Ensure this field has no more than {MAX_NAME_CHARS} characters."),
            );
            None
        }
        Some(FormValue::Text(s)) => Some(s.clone()),
        Some(FormValue::File { .. }) => {
            errors.add("name", "Not a valid string.");
            None
        }
        None => {
            errors.add("name", crate::error::REQUIRED);
            None
        }
    };
    let img = match field("img") {
        Some(FormValue::File { bytes, .. }) if bytes.is_empty() => {
            errors.add("img", "The submitted file is empty.");
            None
        }
        Some(FormValue::File { bytes, .. }) => Some(bytes.as_slice()),
        Some(FormValue::Text(_)) => {
            errors.add(
                "img",
                "The submitted data was not a file. Check the encoding type on the form.",
            );
            None
        }
        None => {
            errors.add("img", "No file was submitted.");
            None
        }
    };
    if !matches!(body, Body::Form(_)) {
        errors.add("non_field_errors", "Expected a multipart/form-data body.");
    }
    match (name, img) {
        (Some(name), Some(img)) if errors.is_empty() => Ok((name, img)),
        _ => Err(ApiError::Validation(errors)),
    }
}

fn image_error(error: imaging::ImageError) -> ApiError {
    use imaging::ImageError::*;
    match error {
        Unsupported => ApiError::Validation(FieldErrors::single(
            "img",
            "Upload a valid image. Only PNG and JPEG files are accepted.",
        )),
        Corrupt(_) => ApiError::Validation(FieldErrors::single(
            "img",
            "The image is corrupt or truncated.",
        )),
        TooManyPixels { width, height, max } => ApiError::PayloadTooLarge(format!(
            "The image is {width}x{height} pixels; at most {max} pixels are accepted."
        )),
        // Tier heights are validated to be at least 1, so this is a bug, not bad input.
        InvalidHeight(h) => {
            ApiError::internal(format!("thumbnail height {h} reached the imaging crate"))
        }
    }
}

async fn insert(db: &impl Database, row: &PictureRow) -> Result<(), ApiError> {
    let statement = Statement::new(
        "INSERT INTO pictures (id, owner_id, name, content_type, width, height, size, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(row.id.as_str())
    .bind(row.owner_id)
    .bind(row.name.as_str())
    .bind(row.content_type.as_str())
    .bind(row.width)
    .bind(row.height)
    .bind(row.size)
    .bind(row.created_at);
    db.execute(statement).await?;
    Ok(())
}

/// Up to `limit + 1` of the owner's pictures after `cursor`, newest first (index `pictures_by_owner`).
pub async fn list_page(
    db: &impl Database,
    owner_id: i64,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Vec<PictureRow>, ApiError> {
    let statement = match cursor {
        None => Statement::new(format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures p WHERE p.owner_id = ? \
             ORDER BY p.created_at DESC, p.id DESC LIMIT ?"
        ))
        .bind(owner_id),
        Some(c) => Statement::new(format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures p WHERE p.owner_id = ? AND (p.created_at, p.id) < (?, ?) \
             ORDER BY p.created_at DESC, p.id DESC LIMIT ?"
        ))
        .bind(owner_id)
        .bind(c.created_at)
        .bind(c.id.as_str()),
    };
    Ok(db.query(statement.bind(limit + 1)).await?)
}

/// Deletes a user with their pictures and links: rows first (so nothing half-deleted stays
/// visible), then every R2 object under the user's prefix.
pub async fn delete_all_of<P: Platform>(app: &App<P>, user: &User) -> Result<(), ApiError> {
    app.db
        .batch(vec![
            Statement::new("DELETE FROM links WHERE owner_id = ?").bind(user.id),
            Statement::new("DELETE FROM pictures WHERE owner_id = ?").bind(user.id),
            Statement::new("DELETE FROM login_failures WHERE username = ?")
                .bind(user.username.as_str()),
            Statement::new("DELETE FROM users WHERE id = ?").bind(user.id),
        ])
        .await?;
    let keys = app.blobs.list(&format!("{}/", user.id)).await?;
    app.blobs.delete(&keys).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiers::{Heights, TierName};

    fn tier(heights: Value, original: bool) -> Tier {
        Tier {
            id: 1,
            name: TierName::parse("t").unwrap(),
            thumbnail_heights: Heights::parse(&heights).unwrap(),
            allow_original: original,
            allow_expiring_links: false,
        }
    }

    #[test]
    fn urls_list_thumbnails_ascending_then_the_original() {
        assert_eq!(
            urls("abc", &tier(json!([400, 200]), true)),
            [
                "/api/picture/abc/200",
                "/api/picture/abc/400",
                "/api/picture/abc"
            ]
        );
        assert_eq!(
            urls("abc", &tier(json!([200]), false)),
            ["/api/picture/abc/200"]
        );
    }

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = Cursor {
            created_at: 1_700_000_000_123,
            id: "id-1".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not base64!"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("x:y")), None);
    }

    #[test]
    fn malformed_picture_ids_are_not_found() {
        assert!(matches!(PictureId::parse("123"), Err(ApiError::NotFound)));
        assert!(PictureId::parse(&PictureId::new_random().to_string()).is_ok());
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        assert!(etag_matches("\"a-200\"", "\"a-200\""));
        assert!(etag_matches("\"x\", W/\"a-200\"", "\"a-200\""));
        assert!(etag_matches("*", "\"a-200\""));
        assert!(!etag_matches("\"a-400\"", "\"a-200\""));
    }

    #[test]
    fn keys_name_the_variant_they_hold() {
        let key = blob_key(7, "abc", Variant::Thumbnail(200));
        assert_eq!(key, "7/abc/200");
        assert_eq!(variant_of_key(&key), Some(Variant::Thumbnail(200)));
        assert_eq!(
            variant_of_key(&blob_key(7, "abc", Variant::Original)),
            Some(Variant::Original)
        );
    }
}
