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
    Blob, BlobStore, Cached, Clock, Database, EdgeCache, Kdf, KdfError, ListPage, ListedObject,
    ObjectUpload, Platform, RustKdf, SessionStart, Statement, StoreError, Value,
};
use crate::routes::App;
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
    /// The vars and secret as parsed on this isolate's first request (each read is a crossing
    /// into JS, nine per request otherwise). They are fixed for an isolate's life: changing one
    /// deploys a new version, which runs in new isolates. A failed parse is not kept, so every
    /// request answers it.
    static SETTINGS: std::cell::OnceCell<Settings> = const { std::cell::OnceCell::new() };
}

/// What a request needs from `env` besides its bindings.
#[derive(Clone)]
struct Settings {
    config: Config,
    /// `ENABLE_TEST_HOOKS=1`.
    test_hooks_var: bool,
}

/// This isolate's settings, parsed once.
fn settings(env: &Env) -> Result<Settings, crate::config::ConfigError> {
    SETTINGS.with(|cell| {
        if let Some(settings) = cell.get() {
            return Ok(settings.clone());
        }
        let settings = Settings {
            config: load_config(env)?,
            test_hooks_var: env
                .var("ENABLE_TEST_HOOKS")
                .map(|v| v.to_string() == "1")
                .unwrap_or(false),
        };
        Ok(cell.get_or_init(|| settings).clone())
    })
}

/// Runs once, when workerd instantiates the module (before any request): makes the futures
/// executor wake its tasks with a resolved promise's `then` instead of `queueMicrotask`.
///
/// `js_sys::futures` (behind `wasm_bindgen_futures`) schedules every wake-up with the global
/// `queueMicrotask` when there is one. workerd's is a binding into its C++ runtime, which V8's
/// own promise jobs are not: profiled under a cached-GET load it took about 0.5 ms of the
/// isolate's CPU per request (a tenth of it), the whole gap to a JS Worker doing the same work.
/// The executor picks once, when its queue is made, so the queue is made here with
/// `queueMicrotask` hidden; the global is then put back exactly as it was.
#[wasm_bindgen::prelude::wasm_bindgen(start)]
fn schedule_with_promises() {
    let global = js_sys::global();
    let key = JsValue::from_str("queueMicrotask");
    let own = js_sys::Reflect::get_own_property_descriptor(&global, &key).ok();
    if js_sys::Reflect::set(&global, &key, &JsValue::UNDEFINED) != Ok(true) {
        return; // not writable: the executor keeps queueMicrotask
    }
    // The first task makes the executor's queue, which looks for queueMicrotask now.
    wasm_bindgen_futures::spawn_local(async {});
    match own.filter(|d| !d.is_undefined()) {
        Some(descriptor) => {
            let _ = js_sys::Reflect::define_property(&global, &key, descriptor.unchecked_ref());
        }
        None => {
            let _ = js_sys::Reflect::delete_property(&global, &key);
        }
    }
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
// The runtime's own request, not a `worker::Request`: making one reads the method, the URL, the
// headers and `request.cf` (which workerd builds as a new object on every read), each a crossing
// into JS, before the handler reads the first two again; nothing here uses `cf`. A V8 profile
// under a cached-GET load put ~3% of the isolate's time on the `cf` getter, though an A/B run of
// the two builds could not tell them apart in req/s (within its ~3% noise).
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<worker::Response> {
    console_error_panic_hook::set_once();
    let isolate = ISOLATE.with(Rc::clone);
    let _in_flight = isolate.enter();
    let Settings {
        config,
        test_hooks_var,
    } = match settings(&env) {
        Ok(settings) => settings,
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
    let href = req.url();
    let url = http::UrlParts::of(&href);
    let app = App::<Workers> {
        db: Timed(D1::new(env.d1(DB_BINDING)?)),
        blobs: Timed(R2(env.bucket(BUCKET_BINDING)?)),
        cache: Timed(EdgeCacheApi {
            cache: default_cache()?,
            ctx: Rc::new(ctx),
        }),
        clock: Rc::new(SystemClock),
        kdf: WebCryptoKdf,
        config,
        isolate: Rc::clone(&isolate),
        test_hooks: test_hooks_enabled(test_hooks_var, url.host),
    };
    let headers = request_headers(&req.headers());
    // The runtime's own method string (workers-rs would map methods it does not know, PROPFIND,
    // PURGE, ..., to GET).
    let method = Method::parse(&req.method());
    let request = http::Request::with_incoming(
        method,
        url.path.to_owned(),
        url.query.to_owned(),
        headers,
        Some(WasmIncoming {
            request: req,
            reader: None,
        }),
    );
    // A body nobody read (a 401 or 413 answered before it) is left to the runtime: it never
    // enters wasm. Cancelling it would answer sooner, but local workerd then sometimes closes the
    // connection before the answer reaches a client still sending, so the answer waits instead.
    to_worker_response(app.handle(request).await)
}

/// Test hooks exist only in a build with the `test-hooks` feature, and are on only when the run
/// sets `ENABLE_TEST_HOOKS=1` (`var_set`) and the request is to a loopback host.
fn test_hooks_enabled(var_set: bool, host: &str) -> bool {
    cfg!(feature = "test-hooks") && matches!(host, "127.0.0.1" | "localhost" | "[::1]") && var_set
}

/// The request's headers, names in lower case (as `Headers` iterates them), in three crossings:
/// the pairs are read as one JSON string rather than one call per name and value.
fn request_headers(headers: &web_sys::Headers) -> Vec<(String, String)> {
    let pairs = js_sys::Array::from(headers);
    let json = js_sys::JSON::stringify(&pairs)
        .ok()
        .and_then(|s| s.as_string());
    match json.map(|s| serde_json::from_str::<Vec<(String, String)>>(&s)) {
        Some(Ok(pairs)) => pairs,
        // Not expected (header names and values are strings): the pairs one by one, then.
        _ => Headers(headers.clone())
            .entries()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
    }
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

/// A request body, read only when a handler asks, chunk by chunk into the caller's buffer.
pub struct WasmIncoming {
    request: web_sys::Request,
    reader: Option<JsReader>,
}

impl IncomingBody for WasmIncoming {
    async fn discard(&mut self, limit: u64, deadline_ms: i64) {
        if self.reader.is_none() {
            let Some(body) = self.request.body() else {
                return;
            };
            self.reader = JsReader::new(body.into()).ok();
        }
        if let Some(reader) = &mut self.reader {
            reader.discard(limit, deadline_ms).await;
        }
    }

    async fn read_into(&mut self, buf: &mut [u8], deadline_ms: i64) -> Result<usize, ReadError> {
        if self.reader.is_none() {
            let Some(body) = self.request.body() else {
                return Ok(0);
            };
            self.reader = Some(JsReader::new(body.into()).map_err(read_failed)?);
        }
        match &mut self.reader {
            Some(reader) => reader.read_into(buf, deadline_ms).await,
            None => Ok(0),
        }
    }
}

fn read_failed(e: JsValue) -> ReadError {
    ReadError::Failed(format!("{e:?}"))
}

/// A JS `ReadableStream` read into wasm through a default reader: each chunk stays in JS until
/// the caller's buffer takes it, so wasm never allocates for what the runtime chose to send.
pub struct JsReader {
    reader: JsValue,
    /// The chunk being taken, and how much of it has been.
    pending: Option<(js_sys::Uint8Array, u32)>,
}

impl JsReader {
    fn new(stream: JsValue) -> Result<Self, JsValue> {
        let reader = call(&stream, "getReader", &[])?;
        Ok(Self {
            reader,
            pending: None,
        })
    }

    async fn read_into(&mut self, buf: &mut [u8], deadline_ms: i64) -> Result<usize, ReadError> {
        loop {
            if let Some((chunk, taken)) = &mut self.pending {
                let left = chunk.length() - *taken;
                if left > 0 {
                    let n = left.min(buf.len() as u32);
                    chunk
                        .subarray(*taken, *taken + n)
                        .copy_to(&mut buf[..n as usize]);
                    *taken += n;
                    return Ok(n as usize);
                }
                self.pending = None;
            }
            let read = JsFuture::from(js_sys::Promise::from(
                call(&self.reader, "read", &[]).map_err(read_failed)?,
            ));
            let wait_ms = deadline_ms.saturating_sub(js_sys::Date::now() as i64);
            let result = if deadline_ms == http::NO_DEADLINE {
                read.await
            } else if wait_ms <= 0 {
                return Err(ReadError::TimedOut);
            } else {
                let delay = worker::Delay::from(std::time::Duration::from_millis(wait_ms as u64));
                match futures_util::future::select(read, std::pin::pin!(delay)).await {
                    futures_util::future::Either::Left((result, _)) => result,
                    futures_util::future::Either::Right(_) => return Err(ReadError::TimedOut),
                }
            }
            .map_err(read_failed)?;
            if js_sys::Reflect::get(&result, &"done".into())
                .map_err(read_failed)?
                .is_truthy()
            {
                return Ok(0);
            }
            let value = js_sys::Reflect::get(&result, &"value".into()).map_err(read_failed)?;
            self.pending = Some((js_sys::Uint8Array::new(&value), 0));
        }
    }
}

impl JsReader {
    /// Reads and drops chunks in JS (nothing is copied into wasm) until the end, `limit` bytes,
    /// or the deadline.
    async fn discard(&mut self, limit: u64, deadline_ms: i64) {
        self.pending = None;
        let mut dropped = 0u64;
        while dropped < limit {
            let Ok(promise) = call(&self.reader, "read", &[]) else {
                return;
            };
            let read = JsFuture::from(js_sys::Promise::from(promise));
            let wait_ms = deadline_ms.saturating_sub(js_sys::Date::now() as i64);
            if wait_ms <= 0 {
                return;
            }
            let delay = worker::Delay::from(std::time::Duration::from_millis(wait_ms as u64));
            let result = match futures_util::future::select(read, std::pin::pin!(delay)).await {
                futures_util::future::Either::Left((Ok(result), _)) => result,
                _ => return,
            };
            let done = js_sys::Reflect::get(&result, &"done".into())
                .map(|d| d.is_truthy())
                .unwrap_or(true);
            if done {
                return;
            }
            let length = js_sys::Reflect::get(&result, &"value".into())
                .ok()
                .and_then(|v| js_sys::Reflect::get(&v, &"length".into()).ok())
                .and_then(|l| l.as_f64())
                .unwrap_or(0.0);
            dropped += length as u64;
        }
    }
}

impl IncomingBody for JsReader {
    async fn read_into(&mut self, buf: &mut [u8], deadline_ms: i64) -> Result<usize, ReadError> {
        JsReader::read_into(self, buf, deadline_ms).await
    }
}

/// Calls `target.method(...args)`.
fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let function: js_sys::Function = js_sys::Reflect::get(target, &method.into())?.dyn_into()?;
    let args: js_sys::Array = args.iter().collect();
    function.apply(target, &args)
}

/// Awaits the promise `target.method(...args)` returns.
async fn call_async(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    JsFuture::from(js_sys::Promise::from(call(target, method, args)?)).await
}

/// `{ httpMetadata: { contentType } }`, the options of an R2 write.
fn http_metadata(content_type: &str) -> Result<JsValue, JsValue> {
    let metadata = js_sys::Object::new();
    js_sys::Reflect::set(&metadata, &"contentType".into(), &content_type.into())?;
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"httpMetadata".into(), &metadata)?;
    Ok(options.into())
}

fn to_worker_response(response: http::Response<WasmBody>) -> worker::Result<worker::Response> {
    // One append per header: measured cheaper than `new Headers(pairs)` from one JSON string,
    // whose constructor converts each pair slowly.
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

/// The rows of a D1 result, read as one JSON string and parsed in wasm (as the native fake
/// does): decoding the JS objects would cross into JS for every column of every row.
fn rows<T: DeserializeOwned>(result: &JsValue) -> Result<Vec<T>, StoreError> {
    let results = js_sys::Reflect::get(result, &"results".into()).map_err(js_error)?;
    if results.is_null() || results.is_undefined() {
        return Ok(Vec::new());
    }
    let json = js_sys::JSON::stringify(&results)
        .map_err(js_error)?
        .as_string()
        .ok_or_else(|| StoreError::new("D1 rows did not stringify"))?;
    serde_json::from_str(&json).map_err(store_error)
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
        let promise = self
            .prepare(&statement)?
            .inner()
            .all()
            .map_err(|e| d1_error(e.into()))?;
        let result = JsFuture::from(promise)
            .await
            .map_err(|e| d1_error(e.into()))?;
        rows(&result)
    }

    async fn execute(&self, statement: Statement) -> Result<u64, StoreError> {
        let result = self.prepare(&statement)?.run().await.map_err(d1_error)?;
        let meta = result.meta().map_err(store_error)?;
        Ok(meta.and_then(|m| m.changes).unwrap_or(0) as u64)
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<u64>, StoreError> {
        let prepared = statements
            .iter()
            .map(|s| self.prepare(s))
            .collect::<Result<Vec<_>, _>>()?;
        let results = match self.session.get() {
            Some(session) => session.batch(prepared).await,
            None => self.db.batch(prepared).await,
        }
        .map_err(d1_error)?;
        if let Some(e) = results.iter().find_map(|r| r.error()) {
            return Err(StoreError::new(e));
        }
        results
            .iter()
            .map(|r| {
                let meta = r.meta().map_err(store_error)?;
                Ok(meta.and_then(|m| m.changes).unwrap_or(0) as u64)
            })
            .collect()
    }
}

struct R2(worker::Bucket);

impl BlobStore<WasmBody> for R2 {
    type Upload = R2Upload;
    type Reader = JsReader;

    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), StoreError> {
        // One copy, into JS, made straight from the caller's bytes (the binding's own `put`
        // takes a Vec, which would be a second copy in wasm); the caller reserved it.
        let bucket: &JsValue = self.0.as_ref();
        let data = js_sys::Uint8Array::from(bytes);
        let options = http_metadata(content_type).map_err(js_error)?;
        call_async(bucket, "put", &[key.into(), data.into(), options])
            .await
            .map_err(js_error)?;
        Ok(())
    }

    async fn start_upload(&self, key: &str, content_type: &str) -> Result<R2Upload, StoreError> {
        let bucket: &JsValue = self.0.as_ref();
        let options = http_metadata(content_type).map_err(js_error)?;
        let upload = call_async(bucket, "createMultipartUpload", &[key.into(), options])
            .await
            .map_err(js_error)?;
        Ok(R2Upload {
            upload,
            parts: js_sys::Array::new(),
        })
    }

    async fn open(&self, key: &str) -> Result<Option<JsReader>, StoreError> {
        let Some(object) = self.0.get(key).execute().await.map_err(store_error)? else {
            return Ok(None);
        };
        let body = object
            .body()
            .ok_or_else(|| StoreError::new(format!("R2 object {key} has no body")))?
            .response_body()
            .map_err(store_error)?;
        let ResponseBody::Stream(stream) = body else {
            return Err(StoreError::new(format!(
                "R2 object {key} has no body stream"
            )));
        };
        JsReader::new(stream.into()).map(Some).map_err(js_error)
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

fn js_error(e: JsValue) -> StoreError {
    StoreError::new(format!("{e:?}"))
}

/// An R2 multipart upload in progress, with the parts it has written.
pub struct R2Upload {
    upload: JsValue,
    parts: js_sys::Array,
}

impl ObjectUpload for R2Upload {
    async fn put_part(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let number = self.parts.length() + 1;
        let data = js_sys::Uint8Array::from(bytes);
        let part = call_async(&self.upload, "uploadPart", &[number.into(), data.into()])
            .await
            .map_err(js_error)?;
        self.parts.push(&part);
        Ok(())
    }

    async fn complete(self) -> Result<(), StoreError> {
        call_async(&self.upload, "complete", &[self.parts.into()])
            .await
            .map_err(js_error)?;
        Ok(())
    }

    async fn abort(self) {
        if let Err(e) = call_async(&self.upload, "abort", &[]).await {
            log(&format!("R2 multipart abort failed (R2 expires it): {e:?}"));
        }
    }
}

struct EdgeCacheApi {
    /// `caches.default`, as `web_sys` has it: reads and deletes call it directly.
    cache: web_sys::Cache,
    ctx: Rc<Context>,
}

/// `caches.default`.
fn default_cache() -> worker::Result<web_sys::Cache> {
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let caches: JsValue = global.caches()?.into();
    let default = js_sys::Reflect::get(&caches, &"default".into())?;
    Ok(default.unchecked_into())
}

impl EdgeCache<WasmBody> for EdgeCacheApi {
    async fn get(&self, key: &str) -> Result<Option<Cached<WasmBody>>, StoreError> {
        // `cache.match` itself: `worker::Cache::get` would also read the hit's status, headers,
        // `cf` and `webSocket` into a `worker::Response`, each a crossing, where only the
        // content type and the body stream are used.
        let found = JsFuture::from(self.cache.match_with_str(key))
            .await
            .map_err(js_error)?;
        if found.is_undefined() {
            return Ok(None);
        }
        let response: web_sys::Response = found.unchecked_into();
        let content_type = response
            .headers()
            .get("content-type")
            .map_err(js_error)?
            .unwrap_or_default();
        let body = match response.body() {
            Some(stream) => ResponseBody::Stream(stream),
            None => ResponseBody::Empty,
        };
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
        JsFuture::from(self.cache.delete_with_str(key))
            .await
            .map_err(js_error)?;
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
    ) -> Result<[u8; 32], KdfError> {
        if iterations > crate::passwords::ITERATIONS {
            return RustKdf.pbkdf2_sha256(password, salt, iterations).await;
        }
        webcrypto_pbkdf2(password, salt, iterations)
            .await
            .map_err(|e| KdfError(format!("WebCrypto PBKDF2: {e:?}")))
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
