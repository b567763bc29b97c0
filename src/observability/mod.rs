//! What an operator sees of each request: its id, where its time went (`Server-Timing`), and one
//! structured log line, with the log lines of its internal causes carrying the same id.
//!
//! A `Trace` is one request's (or one cron run's) record. While the request's future is polled
//! the trace is the thread's current one (`in_scope`), so the port wrappers (`timed.rs`) and
//! `logs::error` find it without it being passed through every handler. Workers run one thread
//! per isolate and interleave requests only at `await` points, which is exactly where the scope is
//! set and restored: concurrent requests never see each other's trace.

pub mod logs;
pub mod timed;

use crate::ports::Clock;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request's id: Cloudflare's `cf-ray` when it is present and plain (letters, digits and
/// dashes, as Cloudflare writes it), otherwise a fresh random one.
pub fn request_id(cf_ray: Option<&str>) -> String {
    match cf_ray {
        Some(ray)
            if (1..=64).contains(&ray.len())
                && ray.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            ray.to_owned()
        }
        _ => uuid::Uuid::new_v4().simple().to_string(),
    }
}

/// Notes the user of the request being answered, once their token is verified.
pub fn note_user(user_id: i64) {
    if let Some(trace) = Trace::current() {
        trace.set_user(user_id);
    }
}

/// A port whose calls a trace times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    D1,
    R2,
    Cache,
}

/// What a cache lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    Miss,
    Failed,
}

impl Lookup {
    pub fn as_str(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
            Lookup::Failed => "error",
        }
    }
}

/// The calls to one port and the time they took, summed (overlapping calls each count whole).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    pub calls: u32,
    pub ms: i64,
}

/// What one request did, as far as it is known so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Steps {
    pub d1: Step,
    pub r2: Step,
    pub cache: Step,
    /// The last cache lookup's outcome; `None` when the cache was only written or purged.
    pub lookup: Option<Lookup>,
}

/// One request's (or cron run's) record: its id, its start, its steps, and who made it.
pub struct Trace {
    pub id: String,
    clock: Rc<dyn Clock>,
    started_ms: i64,
    steps: RefCell<Steps>,
    user_id: Cell<Option<i64>>,
}

thread_local! {
    /// The trace of the request being polled on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Trace>>> = const { RefCell::new(None) };
}

impl Trace {
    /// A record starting now.
    pub fn start(id: String, clock: Rc<dyn Clock>) -> Rc<Self> {
        let started_ms = clock.now_ms();
        Rc::new(Self {
            id,
            clock,
            started_ms,
            steps: RefCell::new(Steps::default()),
            user_id: Cell::new(None),
        })
    }

    /// The trace of the request being polled, if any.
    pub fn current() -> Option<Rc<Trace>> {
        CURRENT.with(|c| c.borrow().clone())
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Milliseconds since the start.
    pub fn elapsed_ms(&self) -> i64 {
        self.now_ms() - self.started_ms
    }

    pub fn record(&self, port: Port, ms: i64) {
        let mut steps = self.steps.borrow_mut();
        let step = match port {
            Port::D1 => &mut steps.d1,
            Port::R2 => &mut steps.r2,
            Port::Cache => &mut steps.cache,
        };
        step.calls += 1;
        step.ms += ms.max(0);
    }

    pub fn record_lookup(&self, lookup: Lookup) {
        self.steps.borrow_mut().lookup = Some(lookup);
    }

    pub fn steps(&self) -> Steps {
        self.steps.borrow().clone()
    }

    /// Notes who the request is from, once their token is verified.
    pub fn set_user(&self, user_id: i64) {
        self.user_id.set(Some(user_id));
    }

    pub fn user_id(&self) -> Option<i64> {
        self.user_id.get()
    }

    /// The `Server-Timing` value: each port the request used, then the total so far.
    pub fn server_timing(&self) -> String {
        let steps = self.steps();
        let mut entries = Vec::new();
        if steps.d1.calls > 0 {
            entries.push(format!("d1;dur={}", steps.d1.ms));
        }
        if steps.r2.calls > 0 {
            entries.push(format!("r2;dur={}", steps.r2.ms));
        }
        if steps.cache.calls > 0 {
            // Only writes and purges: no lookup to report.
            let desc = steps.lookup.map_or("purge", Lookup::as_str);
            entries.push(format!("cache;desc={desc};dur={}", steps.cache.ms));
        }
        entries.push(format!("total;dur={}", self.elapsed_ms()));
        entries.join(", ")
    }
}

/// Polls `future` with `trace` as the thread's current trace, restoring the previous one after
/// every poll (also when the poll panics), so it holds exactly while this request's code runs.
pub async fn in_scope<F: Future>(trace: Option<Rc<Trace>>, future: F) -> F::Output {
    struct Restore(Option<Rc<Trace>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        let previous = CURRENT.with(|c| c.replace(trace.clone()));
        let _restore = Restore(previous);
        future.as_mut().poll(cx)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::TestClock;
    use futures_executor::block_on;

    fn trace(id: &str) -> Rc<Trace> {
        Trace::start(id.into(), Rc::new(TestClock(Cell::new(0))))
    }

    #[test]
    fn a_plain_cf_ray_is_the_request_id_and_anything_else_is_replaced() {
        assert_eq!(
            request_id(Some("8f1c2d3e4a5b6c7d-LHR")),
            "8f1c2d3e4a5b6c7d-LHR"
        );
        for odd in [None, Some(""), Some("a b"), Some("x\r\nset-cookie: y")] {
            let id = request_id(odd);
            assert_eq!(id.len(), 32, "{odd:?}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(request_id(None), request_id(None));
    }

    #[test]
    fn the_current_trace_is_the_one_being_polled_and_is_cleared_after() {
        let (a, b) = (trace("a"), trace("b"));
        let id = || Trace::current().map(|t| t.id.clone());
        let (in_a, in_b) = block_on(futures_util::future::join(
            in_scope(Some(a), async move { id() }),
            in_scope(Some(b), async move { id() }),
        ));
        assert_eq!((in_a.as_deref(), in_b.as_deref()), (Some("a"), Some("b")));
        assert_eq!(id(), None);
    }

    #[test]
    fn server_timing_lists_only_the_ports_used_then_the_total() {
        let t = trace("t");
        assert_eq!(t.server_timing(), "total;dur=0");
        t.record(Port::D1, 3);
        t.record(Port::D1, 4);
        t.record(Port::Cache, 1);
        t.record_lookup(Lookup::Miss);
        assert_eq!(
            t.server_timing(),
            "d1;dur=7, cache;desc=miss;dur=1, total;dur=0"
        );
    }
}
