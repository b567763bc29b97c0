//! The ports the core talks through: SQL database (D1), object store (R2), edge cache and clock.
//!
//! The Worker implements them over its bindings (`worker_glue.rs`); tests implement them in memory
//! (`fakes.rs`), so every handler runs natively in milliseconds.

use serde::de::DeserializeOwned;
use std::fmt;

/// A failure of a storage port. The message is for logs only and never reaches a client.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl StoreError {
    pub fn new(message: impl fmt::Display) -> Self {
        Self(message.to_string())
    }
}

/// A value bound to a statement parameter; D1 accepts these four types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
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
}

/// A SQLite dialect database (D1). Rows are deserialized by column name.
pub trait Database {
    /// Runs a query and returns every row.
    async fn query<T: DeserializeOwned>(&self, statement: Statement) -> Result<Vec<T>, StoreError>;
    /// Runs a statement and returns the number of rows it changed.
    async fn execute(&self, statement: Statement) -> Result<u64, StoreError>;
    /// Runs statements in one transaction: all apply or none does.
    async fn batch(&self, statements: Vec<Statement>) -> Result<(), StoreError>;
}

/// An object read back from the object store.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// An object store (R2).
pub trait BlobStore {
    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), StoreError>;
    async fn get(&self, key: &str) -> Result<Option<Blob>, StoreError>;
    /// Keys that start with `prefix` (all of them, however many).
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    async fn delete(&self, keys: &[String]) -> Result<(), StoreError>;
}

/// A response body kept in the edge cache, with what is needed to answer from it.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedImage {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// The edge cache (Cache API). Keys are built only by the core (see `pictures::cache_key`).
pub trait EdgeCache {
    async fn get(&self, key: &str) -> Result<Option<CachedImage>, StoreError>;
    async fn put(&self, key: &str, image: &CachedImage) -> Result<(), StoreError>;
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
