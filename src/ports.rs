//! The ports the core talks through besides the database (`store::Database`): object store (R2),
//! edge cache, clock and key derivation.
//!
//! The Worker implements them over its bindings (`worker_glue.rs`); tests implement them in memory
//! (`fakes.rs`), so every handler runs natively in milliseconds. Bodies are the runtime's own
//! (`http::Payload`): images pass from R2 or the cache to the client without entering wasm.

pub use crate::store::StoreError;

/// An object read back from the object store, its body still held by the runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob<B> {
    pub body: B,
    pub content_type: String,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedObject {
    pub key: String,
    /// When it was written, ms since the Unix epoch.
    pub uploaded_ms: i64,
}

/// One page of a listing, with where to go on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    /// `Some` when more objects follow.
    pub cursor: Option<String>,
}

/// The size of every part of a multipart write but the last: R2's minimum (5 MiB), which all
/// parts but the last must also share.
pub const PART_BYTES: usize = 5 * 1024 * 1024;

/// An object written in parts as its bytes arrive (an R2 multipart upload): nothing is visible
/// under the key until `complete`.
pub trait ObjectUpload {
    /// The next part: exactly [`PART_BYTES`] long, but for the last one.
    async fn put_part(&mut self, bytes: &[u8]) -> Result<(), StoreError>;
    async fn complete(self) -> Result<(), StoreError>;
    /// Gives the parts up; a failure is logged (R2 expires abandoned uploads).
    async fn abort(self);
}

/// An object store (R2). Every write hands the runtime a copy of the bytes it is given (a JS
/// buffer on Workers), for as long as the call lasts: callers reserve it.
pub trait BlobStore<B> {
    type Upload: ObjectUpload;
    type Reader: crate::http::IncomingBody;

    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), StoreError>;
    /// Starts a write in parts, for an object larger than one part.
    async fn start_upload(&self, key: &str, content_type: &str)
        -> Result<Self::Upload, StoreError>;
    /// An object to pass on to a client: its body is never read by the core.
    async fn get(&self, key: &str) -> Result<Option<Blob<B>>, StoreError>;
    /// An object's bytes to read into wasm piece by piece, as a request body is: only for
    /// decoding (lazy thumbnails). `None` when there is no such object.
    async fn open(&self, key: &str) -> Result<Option<Self::Reader>, StoreError>;
    /// Up to `limit` objects whose keys start with `prefix`, after `cursor`.
    async fn list_page(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, StoreError>;
    async fn delete(&self, keys: &[String]) -> Result<(), StoreError>;

    /// Every key that starts with `prefix`, however many.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.list_page(prefix, cursor, 1000).await?;
            keys.extend(page.objects.into_iter().map(|o| o.key));
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }
}

/// A body kept in the edge cache, with its type.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached<B> {
    pub body: B,
    pub content_type: String,
}

/// The edge cache (Cache API): per data centre, so an optimisation only. Nothing may depend on
/// a delete reaching every location: every read re-checks D1 before it looks here. Keys are built
/// only by `media::keys`.
pub trait EdgeCache<B> {
    async fn get(&self, key: &str) -> Result<Option<Cached<B>>, StoreError>;
    /// Stores a copy after the answer has gone (`ctx.wait_until` on Workers); a failure is
    /// logged by the platform, never returned.
    fn put_in_background(&self, key: &str, body: B, content_type: &str);
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Wall-clock time, injected so that expiry is tested without waiting.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// PBKDF2-HMAC-SHA256, injected because the Worker hands it to the runtime's WebCrypto.
pub trait Kdf {
    async fn pbkdf2_sha256(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<[u8; 32], StoreError>;
}

/// PBKDF2 computed in Rust: the native implementation, and the Worker's fallback.
pub struct RustKdf;

impl Kdf for RustKdf {
    async fn pbkdf2_sha256(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<[u8; 32], StoreError> {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, &mut out);
        Ok(out)
    }
}
