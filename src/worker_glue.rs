//! The Cloudflare Worker entry points: a thin adapter from workerd's bindings (D1, R2, Cache API,
//! WebCrypto, request and response bodies, cron) to the core's ports.
//!
//! Bodies stay the runtime's: an R2 object or a cache hit is answered with its own stream, and a
//! cache write tees that stream in JS and runs after the answer (`ctx.wait_until`).

use crate::config::Config;
use crate::error::log;
use crate::http::{self, IncomingBody, Method, Payload, ReadError};
use crate::maintenance;
use crate::memory::Isolate;
use crate::observability::timed::Timed;
use crate::observability::{self, Trace};
use crate::ports::{
    Blob, BlobStore, Cached, Clock, EdgeCache, Kdf, ListPage, ListedObject, RustKdf, StoreError,
};
use crate::routes::{App, Platform};
use crate::store::{Database, SessionStart, Statement, Value};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{event, Context, Env, Headers, ResponseBody, ScheduleContext, ScheduledEvent};

/// The D1 binding and the R2 bucket binding, as named in `wrangler.toml`.
const DB_BINDING: &str = "DB";
const BUCKET_BINDING: &str = "IMAGES";
/// How long the edge cache keeps a rendition. Renditions never change; every read re-checks
/// D1 before it looks in the cache, so a deleted picture's copies are never served.
const EDGE_CACHE_CONTROL: &str = "public, max-age=2592000";

thread_local! {
    /// What this isolate's requests share: one memory budget, one gauge.
    static ISOLATE: Rc<Isolate> = Isolate::new(crate::config::DEFAULT_MEMORY_BUDGET_BYTES);
}

struct Workers;

impl Platform for Workers {
    type Body = WasmBody;
    type Incoming = WasmIncoming;
    type Db = D1;
    type Blobs = R2;
    type Cache = EdgeCacheApi;
    type Clock = SystemClock;
    type Kdf = WebCryptoKdf;
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, ctx: Context) -> worker::Result<worker::Response> {
    console_error_panic_hook::set_once();
    let isolate = ISOLATE.with(Rc::clone);
    let _in_flight = isolate.enter();
    let config = match load_config(&env) {
        Ok(config) => config,
        Err(e) => {
            // Answered inside a trace of its own, so the body and the logged cause carry the id
            // the client gets.
            let ray = req.headers().get("cf-ray").ok().flatten();
            let trace = Trace::start(
                observability::request_id(ray.as_deref()),
                Rc::new(SystemClock),
            );
            let error = crate::error::ApiError::internal(format!("configuration error: {e}"));
            let response =
                observability::in_scope(Some(trace.clone()), async { error.into_response() })
                    .await
                    .with_header(observability::REQUEST_ID_HEADER, &trace.id);
            return to_worker_response(response.map_body(WasmBody::from_bytes));
        }
    };
    isolate.budget.set_limit(config.memory_budget_bytes);
    let url = req.url()?;
    let app = App::<Workers> {
        db: Timed(D1::new(env.d1(DB_BINDING)?)),
        blobs: Timed(R2(env.bucket(BUCKET_BINDING)?)),
        cache: Timed(EdgeCacheApi {
            cache: worker::Cache::default(),
            ctx: Rc::new(ctx),
        }),
        clock: Rc::new(SystemClock),
        kdf: WebCryptoKdf,
        config,
        isolate: Rc::clone(&isolate),
        test_hooks: test_hooks_enabled(&env, url.host_str()),
    };
    let headers: Vec<(String, String)> = req
        .headers()
        .entries()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    // The runtime's own method string: workers-rs maps methods it does not know (PROPFIND,
    // PURGE, ...) to GET.
    let method = Method::parse(&req.inner().method());
    let request = http::Request::with_incoming(
        method,
        url.path().to_owned(),
        url.query().unwrap_or("").to_owned(),
        headers,
        Some(WasmIncoming(req)),
    );
    // A body nobody read (a 401 or 413 answered before it) is left to the runtime: it never
    // enters wasm. Cancelling it would answer sooner, but local workerd then sometimes closes the
    // connection before the answer reaches a client still sending, so the answer waits instead.
    to_worker_response(app.handle(request).await)
}

/// Test hooks exist only in a build with the `test-hooks` feature, and are on only when the run
/// sets `ENABLE_TEST_HOOKS=1` and the request is to a loopback host.
fn test_hooks_enabled(env: &Env, host: Option<&str>) -> bool {
    cfg!(feature = "test-hooks")
        && matches!(host, Some("127.0.0.1" | "localhost" | "[::1]"))
        && env
            .var("ENABLE_TEST_HOOKS")
            .map(|v| v.to_string() == "1")
            .unwrap_or(false)
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    console_error_panic_hook::set_once();
    let (db, bucket) = match (env.d1(DB_BINDING), env.bucket(BUCKET_BINDING)) {
        (Ok(db), Ok(bucket)) => (Timed(D1::new(db)), Timed(R2(bucket))),
        _ => return log(&format!("cron {}: D1 or R2 binding missing", event.cron())),
    };
    // The report (or the failure) is logged there, as one structured line.
    let _ = maintenance::run_and_log(&db, &bucket, Rc::new(SystemClock), &event.cron()).await;
}

fn load_config(env: &Env) -> Result<Config, crate::config::ConfigError> {
    Config::from_lookup(
        |name| env.var(name).ok().map(|v| v.to_string()),
        env.secret("JWT_SECRET").ok().map(|s| s.to_string()),
    )
}

/// A response body as workerd holds it: bytes made in wasm, or a stream that never enters it.
pub struct WasmBody(ResponseBody);

impl Payload for WasmBody {
    fn from_bytes(bytes: Vec<u8>) -> Self {
        if bytes.is_empty() {
            WasmBody(ResponseBody::Empty)
        } else {
            WasmBody(ResponseBody::Body(bytes))
        }
    }

    fn tee(self) -> Result<(Self, Self), String> {
        match self.0 {
            ResponseBody::Stream(stream) => {
                // ReadableStream.tee(): two JS streams over the same chunks, none copied to wasm.
                let pair = stream.tee();
                let first = pair.get(0).dyn_into().map_err(|_| "tee gave no stream")?;
                let second = pair.get(1).dyn_into().map_err(|_| "tee gave no stream")?;
                Ok((
                    WasmBody(ResponseBody::Stream(first)),
                    WasmBody(ResponseBody::Stream(second)),
                ))
            }
            ResponseBody::Body(bytes) => Ok((
                WasmBody(ResponseBody::Body(bytes.clone())),
                WasmBody(ResponseBody::Body(bytes)),
            )),
            ResponseBody::Empty => {
                Ok((WasmBody(ResponseBody::Empty), WasmBody(ResponseBody::Empty)))
            }
        }
    }
}

/// A request body, read only when a handler asks, counted chunk by chunk as it arrives.
pub struct WasmIncoming(worker::Request);

impl IncomingBody for WasmIncoming {
    async fn read(mut self, limit: u64) -> Result<Vec<u8>, ReadError> {
        if self.0.inner().body().is_none() {
            return Ok(Vec::new());
        }
        let mut stream = self
            .0
            .stream()
            .map_err(|e| ReadError::Failed(e.to_string()))?;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ReadError::Failed(e.to_string()))?;
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(ReadError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

fn to_worker_response(response: http::Response<WasmBody>) -> worker::Result<worker::Response> {
    let headers = Headers::new();
    for (name, value) in &response.headers {
        headers.append(name, value)?;
    }
    Ok(worker::ResponseBuilder::new()
        .with_status(response.status)
        .with_headers(headers)
        .body(response.body.0))
}

fn store_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e)
}

fn d1_error(e: worker::Error) -> StoreError {
    StoreError::from_sqlite(e)
}

/// D1, and this request's session once `begin_session` started it (the cron runs without). An
/// App, and so a `D1`, answers one request: the session is started once.
struct D1 {
    db: worker::D1Database,
    session: std::cell::OnceCell<worker::D1DatabaseSession>,
}

impl D1 {
    fn new(db: worker::D1Database) -> Self {
        Self {
            db,
            session: std::cell::OnceCell::new(),
        }
    }

    fn prepare(&self, statement: &Statement) -> Result<worker::D1PreparedStatement, StoreError> {
        let params: Vec<JsValue> = statement
            .params
            .iter()
            .map(|p| match p {
                Value::Null => JsValue::NULL,
                // Timestamps in ms and row ids stay far below 2^53, so f64 holds them exactly.
                Value::Integer(i) => JsValue::from_f64(*i as f64),
                Value::Text(s) => JsValue::from_str(s),
            })
            .collect();
        let prepared = match self.session.get() {
            Some(session) => session.prepare(&statement.sql),
            None => self.db.prepare(&statement.sql),
        };
        prepared.bind(&params).map_err(store_error)
    }
}

impl Database for D1 {
    fn begin_session(&self, start: SessionStart) {
        let constraint = match &start {
            SessionStart::Primary => "first-primary",
            SessionStart::Unconstrained => "first-unconstrained",
            SessionStart::Bookmark(bookmark) => bookmark.as_str(),
        };
        match self.db.with_session(Some(constraint)) {
            Ok(session) => {
                let _ = self.session.set(session);
            }
            // Without a session every statement goes to the primary: correct, only slower.
            Err(e) => log(&format!("D1 session from {constraint} not started: {e}")),
        }
    }

    fn bookmark(&self) -> Option<String> {
        self.session.get()?.get_bookmark().ok().flatten()
    }

    async fn query<T: DeserializeOwned>(&self, statement: Statement) -> Result<Vec<T>, StoreError> {
        let result = self.prepare(&statement)?.all().await.map_err(d1_error)?;
        result.results::<T>().map_err(store_error)
    }

    async fn execute(&self, statement: Statement) -> Result<u64, StoreError> {
        let result = self.prepare(&statement)?.run().await.map_err(d1_error)?;
        let meta = result.meta().map_err(store_error)?;
        Ok(meta.and_then(|m| m.changes).unwrap_or(0) as u64)
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<(), StoreError> {
        let prepared = statements
            .iter()
            .map(|s| self.prepare(s))
            .collect::<Result<Vec<_>, _>>()?;
        let results = match self.session.get() {
            Some(session) => session.batch(prepared).await,
            None => self.db.batch(prepared).await,
        }
        .map_err(d1_error)?;
        match results.iter().find_map(|r| r.error()) {
            Some(e) => Err(StoreError::new(e)),
            None => Ok(()),
        }
    }
}

struct R2(worker::Bucket);

impl BlobStore<WasmBody> for R2 {
    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), StoreError> {
        let metadata = worker::HttpMetadata {
            content_type: Some(content_type.to_owned()),
            ..Default::default()
        };
        // A transient copy that R2's binding hands to JS; the upload's reservation covers it
        // (the decode's buffers are freed before the writes start).
        self.0
            .put(key, bytes.to_vec())
            .http_metadata(metadata)
            .execute()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob<WasmBody>>, StoreError> {
        let Some(object) = self.0.get(key).execute().await.map_err(store_error)? else {
            return Ok(None);
        };
        let content_type = object
            .http_metadata()
            .content_type
            .unwrap_or_else(|| "application/octet-stream".into());
        let body = object
            .body()
            .ok_or_else(|| StoreError::new(format!("R2 object {key} has no body")))?
            .response_body()
            .map_err(store_error)?;
        Ok(Some(Blob {
            body: WasmBody(body),
            content_type,
        }))
    }

    async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(object) = self.0.get(key).execute().await.map_err(store_error)? else {
            return Ok(None);
        };
        let body = object
            .body()
            .ok_or_else(|| StoreError::new(format!("R2 object {key} has no body")))?;
        Ok(Some(body.bytes().await.map_err(store_error)?))
    }

    async fn list_page(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, StoreError> {
        let mut request = self.0.list().prefix(prefix).limit(limit.min(1000));
        if let Some(c) = cursor {
            request = request.cursor(c);
        }
        let page = request.execute().await.map_err(store_error)?;
        let objects = page
            .objects()
            .iter()
            .map(|o| ListedObject {
                key: o.key(),
                uploaded_ms: o.uploaded().as_millis() as i64,
            })
            .collect();
        Ok(ListPage {
            objects,
            cursor: if page.truncated() {
                page.cursor()
            } else {
                None
            },
        })
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

struct EdgeCacheApi {
    cache: worker::Cache,
    ctx: Rc<Context>,
}

impl EdgeCache<WasmBody> for EdgeCacheApi {
    async fn get(&self, key: &str) -> Result<Option<Cached<WasmBody>>, StoreError> {
        let Some(response) = self.cache.get(key, false).await.map_err(store_error)? else {
            return Ok(None);
        };
        let content_type = response
            .headers()
            .get("content-type")
            .map_err(store_error)?
            .unwrap_or_default();
        let (_, body) = response.into_parts();
        Ok(Some(Cached {
            body: WasmBody(body),
            content_type,
        }))
    }

    fn put_in_background(&self, key: &str, body: WasmBody, content_type: &str) {
        // The stored copy has a shared lifetime (a `private` one would not be stored at all);
        // clients get `private` from the core.
        let headers = Headers::new();
        if let Err(e) = headers
            .set("content-type", content_type)
            .and_then(|()| headers.set("cache-control", EDGE_CACHE_CONTROL))
        {
            return log(&format!("edge cache write for {key} skipped: {e}"));
        }
        let response = worker::ResponseBuilder::new()
            .with_headers(headers)
            .body(body.0);
        let cache = worker::Cache::default();
        let key = key.to_owned();
        // Runs after the answer, outside the request's poll: its scope is carried along so a
        // failure's log line names the request.
        self.ctx
            .wait_until(observability::in_scope(Trace::current(), async move {
                if let Err(e) = cache.put(key.as_str(), response).await {
                    log(&format!("edge cache write failed for {key}: {e}"));
                }
            }));
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.cache.delete(key, false).await.map_err(store_error)?;
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
