//! Plain HTTP request and response values: what the core sees, independent of the runtime.
//! Bodies are the runtime's own (`Payload`, `IncomingBody`): natively they are bytes.

pub mod multipart;

use serde::Serialize;
use std::cell::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    /// Anything else (PROPFIND, PURGE, ...): never routed, always a 405.
    Other,
}

impl Method {
    pub fn parse(method: &str) -> Self {
        match method.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }

    /// GET and HEAD change nothing; only they may be authorized by the session cookie.
    pub fn is_safe(self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

/// A response body the runtime holds: an R2 object's or a cached response's stream on Workers,
/// bytes natively. The core passes it on without reading it.
pub trait Payload: Sized {
    fn from_bytes(bytes: Vec<u8>) -> Self;
    /// Two bodies with the same content (a stream tee on Workers), without entering wasm.
    fn tee(self) -> Result<(Self, Self), String>;
}

impl Payload for Vec<u8> {
    fn from_bytes(bytes: Vec<u8>) -> Self {
        bytes
    }

    fn tee(self) -> Result<(Self, Self), String> {
        Ok((self.clone(), self))
    }
}

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// More than the limit arrived: counted as it came, never buffered whole.
    TooLarge,
    /// The next bytes did not come by the deadline.
    TimedOut,
    Failed(String),
}

/// No deadline: for bodies read at once (JSON), which are small.
pub const NO_DEADLINE: i64 = i64::MAX;

/// A request body the runtime holds, read only by handlers that need it (after the token and
/// the declared length are checked), into the caller's buffer: reading allocates nothing.
pub trait IncomingBody {
    /// Reads the next bytes into `buf` (at most its length); `Ok(0)` at the end of the body.
    /// Fails with [`ReadError::TimedOut`] when no byte has come by `deadline_ms` (the clock's
    /// milliseconds since the epoch).
    async fn read_into(&mut self, buf: &mut [u8], deadline_ms: i64) -> Result<usize, ReadError>;

    /// Lets the rest of a body go after an answer decided early, without bringing it into
    /// wasm: local workerd delivers an answer only once a body the Worker started reading has
    /// been consumed. Gives up after `limit` more bytes or at `deadline_ms`.
    async fn discard(&mut self, _limit: u64, _deadline_ms: i64) {}
}

/// A body held as bytes: every native request. A test can make it stall part way.
#[derive(Debug, Default)]
pub struct BytesBody {
    /// Shared, so a memory test can keep the bytes alive outside the request (on Workers the
    /// body is the runtime's, never the request's memory).
    data: std::rc::Rc<[u8]>,
    pos: usize,
    stall: Stall,
}

/// How a test body behaves once `at` bytes have been read.
#[derive(Debug, Default, Clone)]
pub enum Stall {
    #[default]
    Never,
    /// The client stops sending: the read times out (the deadline passes).
    TimesOut { at: usize },
    /// The client waits until the flag is set: reads stay pending until then.
    Until {
        at: usize,
        open: std::rc::Rc<Cell<bool>>,
    },
}

impl BytesBody {
    pub fn new(data: Vec<u8>) -> Self {
        Self::shared(data.into(), Stall::Never)
    }

    pub fn stalling(data: Vec<u8>, stall: Stall) -> Self {
        Self::shared(data.into(), stall)
    }

    pub fn shared(data: std::rc::Rc<[u8]>, stall: Stall) -> Self {
        Self {
            data,
            pos: 0,
            stall,
        }
    }
}

impl IncomingBody for BytesBody {
    async fn read_into(&mut self, buf: &mut [u8], _deadline_ms: i64) -> Result<usize, ReadError> {
        let mut end = self.data.len();
        match &self.stall {
            Stall::Never => {}
            Stall::TimesOut { at } if self.pos >= *at => return Err(ReadError::TimedOut),
            Stall::TimesOut { at } => end = end.min(*at),
            Stall::Until { at, open } => {
                if self.pos >= *at {
                    let open = open.clone();
                    std::future::poll_fn(|_| {
                        if open.get() {
                            std::task::Poll::Ready(())
                        } else {
                            std::task::Poll::Pending
                        }
                    })
                    .await;
                } else {
                    end = end.min(*at);
                }
            }
        }
        let n = buf.len().min(end - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The parts of a request's URL the service reads. The runtime hands a request its URL already
/// serialized (`https://host:port/path?query`, no fragment), so the parts are found by position
/// rather than parsed again.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// The host without user info or port (`[::1]` keeps its brackets).
    pub host: &'a str,
    /// From the first `/` after the host up to `?`, `/` when there is none.
    pub path: &'a str,
    /// After `?`, without it; empty when there is none.
    pub query: &'a str,
}

impl<'a> UrlParts<'a> {
    pub fn of(url: &'a str) -> Self {
        let url = url.split_once('#').map_or(url, |(before, _)| before);
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority_end = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
        let (authority, rest) = after_scheme.split_at(authority_end);
        let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match host_and_port.find(']') {
            Some(close) if host_and_port.starts_with('[') => &host_and_port[..=close],
            _ => host_and_port
                .split_once(':')
                .map_or(host_and_port, |(h, _)| h),
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        UrlParts {
            host,
            path: if path.is_empty() { "/" } else { path },
            query,
        }
    }
}

pub struct Request<I = BytesBody> {
    pub method: Method,
    /// The path without the query string, e.g. `/api/pictures`.
    pub path: String,
    /// The raw query string without `?`.
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    body: Cell<Option<I>>,
}

impl<I> Request<I> {
    pub fn with_incoming(
        method: Method,
        path: String,
        query: String,
        headers: Vec<(String, String)>,
        body: Option<I>,
    ) -> Self {
        Self {
            method,
            path,
            query,
            headers,
            body: Cell::new(body),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| percent_decode(v))
        })
    }

    /// The declared `Content-Length`, if any.
    pub fn declared_length(&self) -> Option<u64> {
        self.header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
    }

    /// Takes the body (once): `None` when there is none or it was taken.
    pub fn take_body(&self) -> Option<I> {
        self.body.take()
    }
}

impl<I: IncomingBody> Request<I> {
    /// A small body's bytes (JSON), counted as they arrive and refused past `limit`.
    pub async fn read_body(&self, limit: u64) -> Result<Vec<u8>, ReadError> {
        let Some(mut body) = self.take_body() else {
            return Ok(Vec::new());
        };
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = body.read_into(&mut chunk, NO_DEADLINE).await?;
            if n == 0 {
                return Ok(bytes);
            }
            if (bytes.len() + n) as u64 > limit {
                return Err(ReadError::TooLarge);
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
    }
}

impl Request<BytesBody> {
    pub fn new(method: Method, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self::with_incoming(
            method,
            path.to_owned(),
            query.to_owned(),
            Vec::new(),
            Some(BytesBody::default()),
        )
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    pub fn with_bytes(self, bytes: Vec<u8>) -> Self {
        self.body.set(Some(BytesBody::new(bytes)));
        self
    }

    /// A body whose bytes the caller keeps too.
    pub fn with_shared_bytes(self, bytes: std::rc::Rc<[u8]>) -> Self {
        self.body.set(Some(BytesBody::shared(bytes, Stall::Never)));
        self
    }

    /// A body that stalls as `stall` says (a slow or stopped client).
    pub fn with_stalling_bytes(self, bytes: Vec<u8>, stall: Stall) -> Self {
        self.body.set(Some(BytesBody::stalling(bytes, stall)));
        self
    }

    pub fn with_json(self, value: &serde_json::Value) -> Self {
        self.with_header("content-type", "application/json")
            .with_bytes(value.to_string().into_bytes())
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response<B = Vec<u8>> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: B,
}

impl Response<Vec<u8>> {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, value: &impl Serialize) -> Self {
        // Serializing our own values (maps with string keys) cannot fail; an empty body would
        // be the visible symptom if it ever did.
        let body = serde_json::to_vec(value).unwrap_or_default();
        Self::new(status)
            .with_header("content-type", "application/json")
            .with_bytes(body)
    }

    pub fn no_content() -> Self {
        Self::new(204)
    }

    pub fn with_bytes(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    pub fn json_body(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl<B> Response<B> {
    pub fn with_body(status: u16, body: B) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Sets `name`, replacing any value it had.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn map_body<C>(self, f: impl FnOnce(B) -> C) -> Response<C> {
        Response {
            status: self.status,
            headers: self.headers,
            body: f(self.body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_percent_decoded() {
        let req = Request::new(Method::Get, "/api/pictures?limit=5&cursor=a%2Bb%3D");
        assert_eq!(req.path, "/api/pictures");
        assert_eq!(req.query_param("limit").as_deref(), Some("5"));
        assert_eq!(req.query_param("cursor").as_deref(), Some("a+b="));
        assert_eq!(req.query_param("missing"), None);
    }

    #[test]
    fn a_truncated_percent_escape_is_kept_literally() {
        let req = Request::new(Method::Get, "/x?a=50%&b=%4");
        assert_eq!(req.query_param("a").as_deref(), Some("50%"));
        assert_eq!(req.query_param("b").as_deref(), Some("%4"));
    }

    #[test]
    fn a_serialized_url_is_split_into_host_path_and_query() {
        let parts = |url| {
            let p = UrlParts::of(url);
            (p.host, p.path, p.query)
        };
        assert_eq!(
            parts("http://127.0.0.1:8787/api/pictures?limit=5&cursor=a%2B"),
            ("127.0.0.1", "/api/pictures", "limit=5&cursor=a%2B")
        );
        assert_eq!(
            parts("https://images.example.com/api/picture/x/200"),
            ("images.example.com", "/api/picture/x/200", "")
        );
        assert_eq!(parts("http://[::1]:8787/a/b?"), ("[::1]", "/a/b", ""));
        assert_eq!(parts("http://[::1]/"), ("[::1]", "/", ""));
        assert_eq!(
            parts("https://user:pw@localhost:1/x"),
            ("localhost", "/x", "")
        );
        assert_eq!(parts("https://example.com"), ("example.com", "/", ""));
        assert_eq!(
            parts("https://example.com?q=1"),
            ("example.com", "/", "q=1")
        );
        // A query may hold `/`, `:` and `@`; a fragment is never part of the path or the query.
        assert_eq!(
            parts("https://h:443/p?next=/a:b@c#frag"),
            ("h", "/p", "next=/a:b@c")
        );
        assert_eq!(parts("https://h/p#f?x"), ("h", "/p", ""));
    }

    #[test]
    fn unknown_methods_are_other() {
        assert_eq!(Method::parse("GET"), Method::Get);
        assert_eq!(Method::parse("PROPFIND"), Method::Other);
        assert_eq!(Method::parse("PURGE"), Method::Other);
    }

    #[test]
    fn a_body_is_refused_past_its_limit() {
        let req = Request::new(Method::Post, "/x").with_bytes(vec![0; 11]);
        assert_eq!(
            futures_executor::block_on(req.read_body(10)),
            Err(ReadError::TooLarge)
        );
    }
}
