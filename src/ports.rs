//! Every port the core talks through: the database (D1), the object store (R2), the edge cache,
//! the clock and key derivation, and `Platform`, which names one runtime's set of them.
//!
//! The Worker implements them over its bindings (`worker_glue.rs`); tests implement them in memory
//! (`fakes.rs`), so every handler runs natively in milliseconds. Bodies are the runtime's own
//! (`http::Payload`): images pass from R2 or the cache to the client without entering wasm.

use crate::http::{IncomingBody, Payload};
use serde::de::DeserializeOwned;

/// The concrete ports of one runtime: Workers bindings, or in-memory fakes in tests.
pub trait Platform {
    /// A response body the runtime holds (a stream on Workers, bytes natively).
    type Body: Payload;
    /// A request body the runtime holds until a handler reads it.
    type Incoming: IncomingBody;
    type Db: Database;
    type Blobs: BlobStore<Self::Body>;
    type Cache: EdgeCache<Self::Body>;
    /// Shared with each request's trace, hence `'static`.
    type Clock: Clock + 'static;
    type Kdf: Kdf;
}

/// A failure of the database or another storage port. Messages are for logs only.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// A UNIQUE constraint refused the write: someone else holds that name. Each adapter is the
    /// one place that recognises its backend's way of saying so.
    #[error("unique constraint: {0}")]
    Conflict(String),
    /// A FOREIGN KEY constraint refused the write: the row it refers to (a tier, a user) was
    /// deleted meanwhile.
    #[error("foreign key constraint: {0}")]
    MissingReference(String),
    /// Anything else: the backend failed or is unreachable.
    #[error("{0}")]
    Failed(String),
}

impl StoreError {
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self::Failed(message.to_string())
    }

    /// A SQLite (D1) error message, classified: a UNIQUE violation is a `Conflict`, a FOREIGN
    /// KEY violation a `MissingReference` (SQLite and D1 only say so in words). Both database
    /// adapters use this one rule.
    pub fn from_sqlite(message: impl std::fmt::Display) -> Self {
        let message = message.to_string();
        if message.contains("UNIQUE constraint failed") {
            Self::Conflict(message)
        } else if message.contains("FOREIGN KEY constraint failed") {
            Self::MissingReference(message)
        } else {
            Self::Failed(message)
        }
    }
}

/// A value bound to a statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Integer(v.into())
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Integer(v.into())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One SQL statement with its `?` parameters.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Statement {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.params.push(value.into());
        self
    }

    /// The statement as SQL text, its parameters written in as literals (text quoted, quotes
    /// doubled), for a tool that takes SQL text (`wrangler d1 execute`). Refuses text holding
    /// NUL, which a shell cannot pass, and a parameter count that does not match.
    pub fn inline(&self) -> Result<String, String> {
        let mut out = String::with_capacity(self.sql.len());
        let mut params = self.params.iter();
        let mut quoted = false;
        for c in self.sql.chars() {
            match c {
                '\'' => {
                    quoted = !quoted;
                    out.push(c);
                }
                '?' if !quoted => match params.next() {
                    Some(Value::Null) => out.push_str("NULL"),
                    Some(Value::Integer(n)) => out.push_str(&n.to_string()),
                    Some(Value::Text(text)) if text.contains('\0') => {
                        return Err("values may not contain NUL characters".into())
                    }
                    Some(Value::Text(text)) => {
                        out.push('\'');
                        out.push_str(&text.replace('\'', "''"));
                        out.push('\'');
                    }
                    None => return Err("fewer parameters than placeholders".into()),
                },
                c => out.push(c),
            }
        }
        match params.next() {
            Some(_) => Err("more parameters than placeholders".into()),
            None => Ok(out),
        }
    }
}

/// Where a request's D1 session starts (D1 read replication, the Sessions API): every statement
/// of the session then sees at least what the previous ones saw (sequential consistency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStart {
    /// The primary: the newest state. For every change, so it is authorized and made against
    /// what is current.
    Primary,
    /// The nearest replica, however far behind: reads of a client that carries no bookmark.
    Unconstrained,
    /// A replica at least as recent as this bookmark (one this service answered a write with):
    /// the client sees its own writes.
    Bookmark(String),
}

/// A SQLite dialect database (D1). Rows are deserialized by column name; every statement is
/// written in `store`.
pub trait Database {
    /// Starts this request's session; a database with a single copy has nothing to choose.
    fn begin_session(&self, start: SessionStart) {
        let _ = start;
    }

    /// Where this request's session has got to: a bookmark to answer a write with.
    fn bookmark(&self) -> Option<String> {
        None
    }

    /// Runs a query and returns every row.
    async fn query<T: DeserializeOwned>(&self, statement: Statement) -> Result<Vec<T>, StoreError>;
    /// Runs a statement and returns the number of rows it changed.
    async fn execute(&self, statement: Statement) -> Result<u64, StoreError>;
    /// Runs statements in one transaction (a D1 batch): all apply or none does. The number of
    /// rows each changed, in order.
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<u64>, StoreError>;
}

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
    type Reader: IncomingBody;

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

/// Key derivation failed (the runtime's WebCrypto refused). Messages are for logs only.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("key derivation: {0}")]
pub struct KdfError(pub String);

/// PBKDF2-HMAC-SHA256, injected because the Worker hands it to the runtime's WebCrypto.
pub trait Kdf {
    async fn pbkdf2_sha256(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<[u8; 32], KdfError>;
}

/// PBKDF2 computed in Rust: the native implementation, and the Worker's fallback.
pub struct RustKdf;

impl Kdf for RustKdf {
    async fn pbkdf2_sha256(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<[u8; 32], KdfError> {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, &mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inlined_statement_quotes_text_doubles_quotes_and_refuses_nul() {
        let statement = Statement::new("SELECT ?, ?, '?', ?")
            .bind("It's")
            .bind(7i64)
            .bind(None::<i64>);
        assert_eq!(statement.inline().unwrap(), "SELECT 'It''s', 7, '?', NULL");
        assert!(Statement::new("SELECT ?").bind("a\0b").inline().is_err());
        assert!(Statement::new("SELECT ?").inline().is_err());
        assert!(Statement::new("SELECT 1").bind(1i64).inline().is_err());
    }

    #[test]
    fn sqlite_and_d1_constraint_messages_are_classified_and_the_rest_is_a_failure() {
        // As rusqlite and D1 word them.
        let unique = "D1_ERROR: UNIQUE constraint failed: users.username: SQLITE_CONSTRAINT";
        let foreign = "D1_ERROR: FOREIGN KEY constraint failed: SQLITE_CONSTRAINT";
        assert!(matches!(
            StoreError::from_sqlite(unique),
            StoreError::Conflict(_)
        ));
        assert!(matches!(
            StoreError::from_sqlite("FOREIGN KEY constraint failed"),
            StoreError::MissingReference(_)
        ));
        assert!(matches!(
            StoreError::from_sqlite(foreign),
            StoreError::MissingReference(_)
        ));
        assert!(matches!(
            StoreError::from_sqlite("D1_ERROR: no such table: tiers"),
            StoreError::Failed(_)
        ));
    }
}
