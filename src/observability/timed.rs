//! `Timed`: any port, with each call's duration added to the current trace. The one place where
//! D1, R2 and cache time is measured; the adapters and fakes know nothing of it.
//!
//! An R2 or cache read is timed until its headers arrive: the body streams to the client after
//! the handler is done, outside any step.

use super::{Lookup, Port, Trace};
use crate::ports::{Blob, BlobStore, Cached, EdgeCache, ListPage, StoreError};
use crate::ports::{Database, SessionStart, Statement};
use serde::de::DeserializeOwned;
use std::future::Future;

/// A port whose calls are timed. It dereferences to the port itself, so tests still reach a
/// fake's own methods (`app.db.exec(...)`).
#[derive(Debug, Default)]
pub struct Timed<T>(pub T);

impl<T> std::ops::Deref for Timed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Runs `call`, adding its duration to the current trace's `port` (nothing without a trace).
async fn measure<F: Future>(port: Port, call: F) -> F::Output {
    let Some(trace) = Trace::current() else {
        return call.await;
    };
    let start = trace.now_ms();
    let output = call.await;
    trace.record(port, trace.now_ms() - start);
    output
}

impl<T: Database> Database for Timed<T> {
    fn begin_session(&self, start: SessionStart) {
        self.0.begin_session(start)
    }

    fn bookmark(&self) -> Option<String> {
        self.0.bookmark()
    }

    async fn query<R: DeserializeOwned>(&self, statement: Statement) -> Result<Vec<R>, StoreError> {
        measure(Port::D1, self.0.query(statement)).await
    }

    async fn execute(&self, statement: Statement) -> Result<u64, StoreError> {
        measure(Port::D1, self.0.execute(statement)).await
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<u64>, StoreError> {
        measure(Port::D1, self.0.batch(statements)).await
    }
}

impl<B, T: BlobStore<B>> BlobStore<B> for Timed<T> {
    type Upload = T::Upload;
    type Reader = T::Reader;

    async fn start_upload(&self, key: &str, content_type: &str) -> Result<T::Upload, StoreError> {
        measure(Port::R2, self.0.start_upload(key, content_type)).await
    }

    async fn open(&self, key: &str) -> Result<Option<T::Reader>, StoreError> {
        measure(Port::R2, self.0.open(key)).await
    }

    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), StoreError> {
        measure(Port::R2, self.0.put(key, bytes, content_type)).await
    }

    async fn get(&self, key: &str) -> Result<Option<Blob<B>>, StoreError> {
        measure(Port::R2, self.0.get(key)).await
    }

    async fn list_page(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, StoreError> {
        measure(Port::R2, self.0.list_page(prefix, cursor, limit)).await
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        measure(Port::R2, self.0.delete(keys)).await
    }
}

impl<B, T: EdgeCache<B>> EdgeCache<B> for Timed<T> {
    async fn get(&self, key: &str) -> Result<Option<Cached<B>>, StoreError> {
        let found = measure(Port::Cache, self.0.get(key)).await;
        if let Some(trace) = Trace::current() {
            trace.record_lookup(match &found {
                Ok(Some(_)) => Lookup::Hit,
                Ok(None) => Lookup::Miss,
                Err(_) => Lookup::Failed,
            });
        }
        found
    }

    /// Not timed: the write runs after the answer has gone.
    fn put_in_background(&self, key: &str, body: B, content_type: &str) {
        self.0.put_in_background(key, body, content_type)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        measure(Port::Cache, self.0.delete(key)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{MemoryBlobs, MemoryCache, SqliteDb};
    use crate::observability::{in_scope, Step};
    use crate::ports::Clock;
    use futures_executor::block_on;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A clock that moves 5 ms each time it is read, as if every call took that long.
    struct Ticking(Cell<i64>);
    impl Clock for Ticking {
        fn now_ms(&self) -> i64 {
            self.0.set(self.0.get() + 5);
            self.0.get()
        }
    }

    #[test]
    fn each_call_adds_its_duration_to_its_port() {
        let trace = Trace::start("t".into(), Rc::new(Ticking(Cell::new(0))));
        let db = Timed(SqliteDb::migrated());
        let blobs = Timed(MemoryBlobs::default());
        block_on(in_scope(Some(Rc::clone(&trace)), async {
            crate::store::ping(&db).await.unwrap();
            crate::store::ping(&db).await.unwrap();
            blobs.put("k", b"x", "image/png").await.unwrap();
        }));
        let steps = trace.steps();
        assert_eq!(steps.d1, Step { calls: 2, ms: 10 });
        assert_eq!(steps.r2, Step { calls: 1, ms: 5 });
        assert_eq!(steps.cache, Step::default());
    }

    #[test]
    fn a_cache_lookup_records_whether_it_hit() {
        let trace = Trace::start("t".into(), Rc::new(Ticking(Cell::new(0))));
        let cache = Timed(MemoryCache::default());
        cache.put_in_background("k", b"x".to_vec(), "image/png");
        let lookups = block_on(in_scope(Some(Rc::clone(&trace)), async {
            cache.get("nothing").await.unwrap();
            let miss = trace.steps().lookup;
            cache.get("k").await.unwrap();
            (miss, trace.steps().lookup)
        }));
        assert_eq!(lookups, (Some(Lookup::Miss), Some(Lookup::Hit)));
        assert_eq!(trace.steps().cache.calls, 2);
    }
}
