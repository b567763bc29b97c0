//! Structured log lines: one JSON object per line, which Workers Logs indexes field by field
//! (`[observability]` in wrangler.toml) and `wrangler tail` shows. A line names a request by its
//! id and route pattern; it never holds a header, a path, a query string, a token or a password.

use super::{Steps, Trace};
use crate::http::Method;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Error => "error",
        }
    }
}

/// Writes one line of `fields`, with the level and (inside a request) the request id.
pub fn write(level: Level, mut fields: Map<String, Value>) {
    fields.insert("level".into(), level.as_str().into());
    if let Some(trace) = Trace::current() {
        fields
            .entry("request_id")
            .or_insert_with(|| trace.id.clone().into());
    }
    emit(level, &Value::Object(fields).to_string());
}

/// An internal cause, at error level: what the client was told nothing about.
pub fn error(message: &str) {
    write(Level::Error, object(json!({ "message": message })));
}

/// The line every request ends with.
pub struct RequestLine<'a> {
    pub method: Method,
    /// The route's pattern (`/api/picture/{id}`), `None` for a path no route has.
    pub route: Option<&'static str>,
    pub status: u16,
    /// The body's length when it was made in wasm; a stream passed on from R2 or the cache is
    /// not counted.
    pub bytes: Option<u64>,
    pub trace: &'a Trace,
}

impl RequestLine<'_> {
    pub fn write(&self) {
        let trace = self.trace;
        let level = if self.status >= 500 {
            Level::Error
        } else {
            Level::Info
        };
        let mut fields = object(json!({
            "message": "request",
            "request_id": trace.id,
            "method": self.method.as_str(),
            "route": self.route,
            "status": self.status,
            "duration_ms": trace.elapsed_ms(),
            "user_id": trace.user_id(),
            "bytes": self.bytes,
        }));
        fields.extend(steps(&trace.steps()));
        write(level, fields);
    }
}

/// The ports' time and calls as log fields (`d1_ms`, `d1_calls`, ..., `cache`: hit or miss).
pub fn steps(steps: &Steps) -> Map<String, Value> {
    let mut fields = Map::new();
    for (name, step) in [("d1", steps.d1), ("r2", steps.r2), ("cache", steps.cache)] {
        if step.calls > 0 {
            fields.insert(format!("{name}_ms"), step.ms.into());
            fields.insert(format!("{name}_calls"), step.calls.into());
        }
    }
    if let Some(lookup) = steps.lookup {
        fields.insert("cache".into(), lookup.as_str().into());
    }
    fields
}

/// The map of a `json!({...})` literal.
pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn emit(level: Level, line: &str) {
    #[cfg(test)]
    if capture::keep(line) {
        return;
    }
    #[cfg(target_arch = "wasm32")]
    match level {
        Level::Error => worker::console_error!("{line}"),
        Level::Info => worker::console_log!("{line}"),
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = level;
        eprintln!("{line}");
    }
}

/// Tests read the lines their thread writes (each test runs on its own thread).
#[cfg(test)]
pub mod capture {
    use serde_json::Value;
    use std::cell::RefCell;

    thread_local! {
        static LINES: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    }

    /// While it lives, this thread's lines are kept instead of printed.
    pub struct Capture(());

    pub fn start() -> Capture {
        LINES.with(|l| *l.borrow_mut() = Some(Vec::new()));
        Capture(())
    }

    impl Capture {
        /// The raw lines so far, then parsed.
        pub fn raw(&self) -> Vec<String> {
            LINES.with(|l| l.borrow().clone().unwrap_or_default())
        }

        pub fn lines(&self) -> Vec<Value> {
            self.raw()
                .iter()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect()
        }
    }

    impl Drop for Capture {
        fn drop(&mut self) {
            LINES.with(|l| *l.borrow_mut() = None);
        }
    }

    pub(super) fn keep(line: &str) -> bool {
        LINES.with(|l| match l.borrow_mut().as_mut() {
            Some(lines) => {
                lines.push(line.to_owned());
                true
            }
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::TestClock;
    use crate::observability::{in_scope, Port};
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn an_error_inside_a_request_carries_its_id_and_the_error_level() {
        let captured = capture::start();
        let trace = Trace::start("req-1".into(), Rc::new(TestClock(Cell::new(0))));
        futures_executor::block_on(in_scope(Some(trace), async {
            error("edge cache read failed: injected");
        }));
        error("outside any request");
        let lines = captured.lines();
        assert_eq!(
            lines[0],
            json!({"level": "error", "request_id": "req-1", "message": "edge cache read failed: injected"})
        );
        assert_eq!(lines[1].get("request_id"), None);
    }

    #[test]
    fn a_server_error_is_logged_at_error_level_with_its_steps() {
        let captured = capture::start();
        let trace = Trace::start("r".into(), Rc::new(TestClock(Cell::new(0))));
        trace.record(Port::D1, 2);
        RequestLine {
            method: Method::Get,
            route: Some("/api/me"),
            status: 500,
            bytes: Some(10),
            trace: &trace,
        }
        .write();
        let line = &captured.lines()[0];
        assert_eq!(line["level"], "error");
        assert_eq!(
            (line["d1_ms"].as_i64(), line["d1_calls"].as_i64()),
            (Some(2), Some(1))
        );
        assert_eq!(line.get("r2_ms"), None);
    }
}
