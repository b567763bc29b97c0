//! The Cloudflare Worker entry points: a thin adapter from workerd's bindings (D1, R2, Cache API,
//! WebCrypto, cron) to the core's ports.

use crate::app::{App, Platform};
use crate::config::Config;
use crate::error::log;
use crate::http::{self, Body, FormValue, Method};
use crate::maintenance;
use crate::ports::{
    Blob, BlobStore, CachedImage, Clock, Database, EdgeCache, Kdf, RustKdf, Statement, StoreError,
    Value,
};
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{event, Context, Env, FormEntry, Headers, ScheduleContext, ScheduledEvent};

/// The D1 binding and the R2 bucket binding, as named in `wrangler.toml`.
const DB_BINDING: &str = "DB";
const BUCKET_BINDING: &str = "IMAGES";
/// How long the edge cache keeps a rendition. Renditions never change; deletes purge them.
const EDGE_CACHE_CONTROL: &str = "public, max-age=2592000";

struct Workers;

impl Platform for Workers {
    type Db = D1;
    type Blobs = R2;
    type Cache = EdgeCacheApi;
    type Clock = SystemClock;
    type Kdf = WebCryptoKdf;
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, _ctx: Context) -> worker::Result<worker::Response> {
    console_error_panic_hook::set_once();
    let config = match load_config(&env) {
        Ok(config) => config,
        Err(e) => {
            log(&format!("configuration error: {e}"));
            return to_worker_response(crate::error::ApiError::internal(e).into_response());
        }
    };
    let url = req.url()?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let test_hooks = loopback
        && env
            .var("ENABLE_TEST_HOOKS")
            .map(|v| v.to_string() == "1")
            .unwrap_or(false);
    let app = App::<Workers> {
        db: D1(env.d1(DB_BINDING)?),
        blobs: R2(env.bucket(BUCKET_BINDING)?),
        cache: EdgeCacheApi(worker::Cache::default()),
        clock: SystemClock,
        kdf: WebCryptoKdf,
        config,
        test_hooks,
    };
    let request = to_core_request(req, app.config.max_upload_bytes).await?;
    to_worker_response(app.handle(request).await)
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    console_error_panic_hook::set_once();
    let db = match env.d1(DB_BINDING) {
        Ok(db) => D1(db),
        Err(e) => return log(&format!("cron {}: no D1 binding: {e}", event.cron())),
    };
    match maintenance::run_scheduled(&db, SystemClock.now_ms()).await {
        Ok(report) => worker::console_log!(
            "cron {}: removed {} expired links and {} stale login-failure rows",
            event.cron(),
            report.expired_links,
            report.stale_login_failures
        ),
        Err(e) => log(&format!(
            "cron {} failed (the next run retries): {e}",
            event.cron()
        )),
    }
}

fn load_config(env: &Env) -> Result<Config, crate::config::ConfigError> {
    Config::from_lookup(
        |name| env.var(name).ok().map(|v| v.to_string()),
        env.secret("JWT_SECRET").ok().map(|s| s.to_string()),
    )
}

async fn to_core_request(
    mut req: worker::Request,
    max_upload_bytes: u64,
) -> worker::Result<http::Request> {
    let url = req.url()?;
    let headers: Vec<(String, String)> = req
        .headers()
        .entries()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let declared = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let is_form = header("content-type")
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let body = if declared.is_some_and(|n| n > max_upload_bytes) {
        // Never buffer a body the core will refuse by its declared length anyway.
        Body::Bytes(Vec::new())
    } else if is_form {
        match req.form_data().await {
            Ok(form) => Body::Form(form_fields(&form).await),
            Err(_) => Body::BadForm,
        }
    } else {
        Body::Bytes(req.bytes().await.unwrap_or_default())
    };
    Ok(http::Request {
        method: Method::parse(req.method().as_ref()),
        path: url.path().to_owned(),
        query: url.query().unwrap_or("").to_owned(),
        headers,
        body,
    })
}

/// The form fields the API reads (`name`, `img`); any others are ignored.
async fn form_fields(form: &worker::FormData) -> Vec<(String, FormValue)> {
    let mut fields = Vec::new();
    for name in ["name", "img"] {
        for entry in form.get_all(name).unwrap_or_default() {
            let value = match entry {
                FormEntry::Field(text) => FormValue::Text(text),
                FormEntry::File(file) => FormValue::File {
                    filename: file.name(),
                    content_type: file.type_(),
                    bytes: file.bytes().await.unwrap_or_default(),
                },
            };
            fields.push((name.to_owned(), value));
        }
    }
    fields
}

fn to_worker_response(response: http::Response) -> worker::Result<worker::Response> {
    let headers = Headers::new();
    for (name, value) in &response.headers {
        headers.append(name, value)?;
    }
    let body = if response.body.is_empty() {
        None
    } else {
        Some(response.body)
    };
    let builder = worker::ResponseBuilder::new()
        .with_status(response.status)
        .with_headers(headers);
    Ok(match body {
        Some(bytes) => builder.fixed(bytes),
        None => builder.empty(),
    })
}

fn store_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e)
}

struct D1(worker::D1Database);

impl D1 {
    fn prepare(&self, statement: &Statement) -> Result<worker::D1PreparedStatement, StoreError> {
        let params: Vec<JsValue> = statement
            .params
            .iter()
            .map(|p| match p {
                Value::Null => JsValue::NULL,
                // Timestamps in ms and row ids stay far below 2^53, so f64 holds them exactly.
                Value::Integer(i) => JsValue::from_f64(*i as f64),
                Value::Real(f) => JsValue::from_f64(*f),
                Value::Text(s) => JsValue::from_str(s),
            })
            .collect();
        self.0
            .prepare(&statement.sql)
            .bind(&params)
            .map_err(store_error)
    }
}

impl Database for D1 {
    async fn query<T: DeserializeOwned>(&self, statement: Statement) -> Result<Vec<T>, StoreError> {
        let result = self.prepare(&statement)?.all().await.map_err(store_error)?;
        result.results::<T>().map_err(store_error)
    }

    async fn execute(&self, statement: Statement) -> Result<u64, StoreError> {
        let result = self.prepare(&statement)?.run().await.map_err(store_error)?;
        let meta = result.meta().map_err(store_error)?;
        Ok(meta.and_then(|m| m.changes).unwrap_or(0) as u64)
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<(), StoreError> {
        let prepared = statements
            .iter()
            .map(|s| self.prepare(s))
            .collect::<Result<Vec<_>, _>>()?;
        let results = self.0.batch(prepared).await.map_err(store_error)?;
        match results.iter().find_map(|r| r.error()) {
            Some(e) => Err(StoreError::new(e)),
            None => Ok(()),
        }
    }
}

struct R2(worker::Bucket);

impl BlobStore for R2 {
    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), StoreError> {
        let metadata = worker::HttpMetadata {
            content_type: Some(content_type.to_owned()),
            ..Default::default()
        };
        self.0
            .put(key, bytes.to_vec())
            .http_metadata(metadata)
            .execute()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, StoreError> {
        let Some(object) = self.0.get(key).execute().await.map_err(store_error)? else {
            return Ok(None);
        };
        let content_type = object
            .http_metadata()
            .content_type
            .unwrap_or_else(|| "application/octet-stream".into());
        let body = object
            .body()
            .ok_or_else(|| StoreError::new(format!("R2 object {key} has no body")))?;
        Ok(Some(Blob {
            bytes: body.bytes().await.map_err(store_error)?,
            content_type,
        }))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut request = self.0.list().prefix(prefix).limit(1000);
            if let Some(c) = cursor.take() {
                request = request.cursor(c);
            }
            let page = request.execute().await.map_err(store_error)?;
            keys.extend(page.objects().iter().map(|o| o.key()));
            match (page.truncated(), page.cursor()) {
                (true, Some(next)) => cursor = Some(next),
                _ => return Ok(keys),
            }
        }
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        // R2 deletes at most 1000 keys per call.
        for chunk in keys.chunks(1000) {
            let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
            self.0.delete_multiple(chunk).await.map_err(store_error)?;
        }
        Ok(())
    }
}

struct EdgeCacheApi(worker::Cache);

impl EdgeCache for EdgeCacheApi {
    async fn get(&self, key: &str) -> Result<Option<CachedImage>, StoreError> {
        let Some(mut response) = self.0.get(key, false).await.map_err(store_error)? else {
            return Ok(None);
        };
        let content_type = response
            .headers()
            .get("content-type")
            .map_err(store_error)?
            .unwrap_or_default();
        Ok(Some(CachedImage {
            bytes: response.bytes().await.map_err(store_error)?,
            content_type,
        }))
    }

    async fn put(&self, key: &str, image: &CachedImage) -> Result<(), StoreError> {
        // The stored copy has a shared lifetime (a `private` one would not be stored at all);
        // clients get `private` from the core.
        let headers = Headers::new();
        headers
            .set("content-type", &image.content_type)
            .map_err(store_error)?;
        headers
            .set("cache-control", EDGE_CACHE_CONTROL)
            .map_err(store_error)?;
        let response = worker::ResponseBuilder::new()
            .with_headers(headers)
            .fixed(image.bytes.clone());
        self.0.put(key, response).await.map_err(store_error)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key, false).await.map_err(store_error)?;
        Ok(())
    }
}

struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }
}

/// PBKDF2 through the runtime's WebCrypto (native code, far faster than wasm). WebCrypto on
/// Workers refuses more than 100000 iterations, so older hashes with more fall back to Rust.
struct WebCryptoKdf;

impl Kdf for WebCryptoKdf {
    async fn pbkdf2_sha256(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<[u8; 32], StoreError> {
        if iterations > crate::passwords::ITERATIONS {
            return RustKdf.pbkdf2_sha256(password, salt, iterations).await;
        }
        webcrypto_pbkdf2(password, salt, iterations)
            .await
            .map_err(|e| StoreError::new(format!("WebCrypto PBKDF2: {e:?}")))
    }
}

async fn webcrypto_pbkdf2(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Result<[u8; 32], JsValue> {
    let crypto: web_sys::Crypto =
        js_sys::Reflect::get(&js_sys::global(), &"crypto".into())?.unchecked_into();
    let subtle = crypto.subtle();
    let usages = js_sys::Array::of1(&"deriveBits".into());
    let key_data = js_sys::Uint8Array::from(password);
    let key =
        JsFuture::from(subtle.import_key_with_str("raw", &key_data, "PBKDF2", false, &usages)?)
            .await?;
    let params = js_sys::Object::new();
    js_sys::Reflect::set(&params, &"name".into(), &"PBKDF2".into())?;
    js_sys::Reflect::set(&params, &"hash".into(), &"SHA-256".into())?;
    js_sys::Reflect::set(&params, &"salt".into(), &js_sys::Uint8Array::from(salt))?;
    js_sys::Reflect::set(&params, &"iterations".into(), &JsValue::from(iterations))?;
    let bits =
        JsFuture::from(subtle.derive_bits_with_object(&params, &key.unchecked_into(), 256)?)
            .await?;
    let mut out = [0u8; 32];
    js_sys::Uint8Array::new(&bits).copy_to(&mut out);
    Ok(out)
}
