//! In-memory ports for native tests: SQLite with the real migrations standing in for D1 (with, on
//! demand, a read replica that lags), maps standing in for R2 and the Cache API, a settable
//! clock. Each fake counts its calls and fails wherever the code says it handles failure,
//! including a write that happened but was reported as failed.

use crate::http::BytesBody;
use crate::ports::Platform;
use crate::ports::{
    Blob, BlobStore, Cached, Clock, EdgeCache, ListPage, ListedObject, ObjectUpload, RustKdf,
    PART_BYTES,
};
use crate::ports::{Database, SessionStart, Statement, StoreError, Value};
use serde::de::DeserializeOwned;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

pub struct Fakes;

impl Platform for Fakes {
    type Body = Vec<u8>;
    type Incoming = BytesBody;
    type Db = SqliteDb;
    type Blobs = MemoryBlobs;
    type Cache = MemoryCache;
    type Clock = TestClock;
    type Kdf = RustKdf;
}

/// How an injected failure behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    None,
    /// The call fails and changes nothing.
    Fail,
    /// The call's change happens, then it reports failure (a lost acknowledgement).
    FailAfterWriting,
}

fn injected(what: &str) -> StoreError {
    StoreError::new(format!("injected {what} failure"))
}

pub struct SqliteDb {
    /// The primary.
    conn: RefCell<rusqlite::Connection>,
    /// A read replica, when the test asked for one (`with_lagging_replica`).
    pub replica: Option<Replica>,
    pub queries: Cell<usize>,
    /// The next statement whose SQL contains this text fails.
    pub fail_on: RefCell<Option<String>>,
    /// The next statement whose SQL contains this text runs, then reports failure.
    pub fail_after_writing_on: RefCell<Option<String>>,
    /// (needle, sql): just before the next statement containing the needle, `sql` runs, as a
    /// concurrent request would have run it.
    pub race: RefCell<Option<(String, String)>>,
}

impl SqliteDb {
    /// A fresh database with every migration in `migrations/` applied, as D1 would have it.
    pub fn migrated() -> Self {
        Self {
            conn: RefCell::new(migrated_connection()),
            replica: None,
            queries: Cell::new(0),
            fail_on: RefCell::new(None),
            fail_after_writing_on: RefCell::new(None),
            race: RefCell::new(None),
        }
    }

    /// A database whose reads outside a session's reach go to a replica that applies the
    /// primary's writes only when `replicate` is called, as D1 read replication may lag.
    pub fn with_lagging_replica() -> Self {
        Self {
            replica: Some(Replica {
                conn: RefCell::new(migrated_connection()),
                log: RefCell::new(Vec::new()),
                applied: Cell::new(0),
                session: Cell::new(0),
                reads: Cell::new(0),
            }),
            ..Self::migrated()
        }
    }

    /// The replica catches up with every write of the primary.
    pub fn replicate(&self) {
        let Some(replica) = &self.replica else { return };
        let log = replica.log.borrow();
        let conn = replica.conn.borrow();
        for write in &log[replica.applied.get()..] {
            for statement in write {
                let mut stmt = conn.prepare(&statement.sql).unwrap();
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(
                        statement.params.iter().map(to_sql),
                    ))
                    .unwrap();
                while rows.next().unwrap().is_some() {}
            }
        }
        replica.applied.set(log.len());
    }

    /// The connection a read goes to: the replica when it has all the session has seen (then
    /// the session is where the replica is), else the primary.
    fn reader(&self) -> std::cell::Ref<'_, rusqlite::Connection> {
        let Some(replica) = &self.replica else {
            return self.conn.borrow();
        };
        if replica.applied.get() >= replica.session.get() {
            replica.session.set(replica.applied.get());
            replica.reads.set(replica.reads.get() + 1);
            replica.conn.borrow()
        } else {
            replica.session.set(replica.log.borrow().len());
            self.conn.borrow()
        }
    }

    /// A write the primary committed: the replica gets it later, the session at once.
    fn written(&self, statements: &[Statement]) {
        if let Some(replica) = &self.replica {
            let mut log = replica.log.borrow_mut();
            log.push(statements.to_vec());
            replica.session.set(log.len());
        }
    }

    pub fn explain(&self, sql: &str, params: &[Value]) -> String {
        let conn = self.conn.borrow();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(
                rusqlite::params_from_iter(params.iter().map(to_sql)),
                |row| row.get::<_, String>(3),
            )
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    pub fn count(&self, table: &str) -> i64 {
        self.conn
            .borrow()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    /// Runs test set-up SQL on the primary and on the replica: set-up is everywhere at once.
    pub fn exec(&self, sql: &str) {
        self.conn.borrow().execute_batch(sql).unwrap();
        if let Some(replica) = &self.replica {
            replica.conn.borrow().execute_batch(sql).unwrap();
        }
    }

    fn check_failure(&self, sql: &str) -> Result<(), StoreError> {
        self.queries.set(self.queries.get() + 1);
        let race = self
            .race
            .borrow_mut()
            .take_if(|(needle, _)| sql.contains(needle.as_str()));
        if let Some((_, concurrent)) = race {
            self.exec(&concurrent);
        }
        let mut fail_on = self.fail_on.borrow_mut();
        if fail_on
            .as_deref()
            .is_some_and(|needle| sql.contains(needle))
        {
            *fail_on = None;
            return Err(injected("D1"));
        }
        Ok(())
    }

    fn check_lost_acknowledgement(&self, sql: &str) -> Result<(), StoreError> {
        let mut fail = self.fail_after_writing_on.borrow_mut();
        if fail.as_deref().is_some_and(|needle| sql.contains(needle)) {
            *fail = None;
            return Err(injected("D1 acknowledgement"));
        }
        Ok(())
    }
}

/// The read replica of `SqliteDb::with_lagging_replica`. Bookmarks are positions in the primary's
/// write log.
pub struct Replica {
    conn: RefCell<rusqlite::Connection>,
    /// Every write the primary committed, in order (a batch is one).
    log: RefCell<Vec<Vec<Statement>>>,
    /// How many of them the replica has applied.
    applied: Cell<usize>,
    /// How far the current request's session has seen: its reads never go below it.
    session: Cell<usize>,
    /// Reads the replica answered.
    pub reads: Cell<usize>,
}

fn migrated_connection() -> rusqlite::Connection {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        conn.execute_batch(&std::fs::read_to_string(&file).unwrap())
            .unwrap();
    }
    conn
}

/// Whether a statement only reads (and so may go to a replica).
fn is_read(sql: &str) -> bool {
    sql.trim_start()
        .get(..6)
        .is_some_and(|word| word.eq_ignore_ascii_case("SELECT"))
}

fn sqlite_error(error: rusqlite::Error) -> StoreError {
    StoreError::from_sqlite(error)
}

fn to_sql(value: &Value) -> rusqlite::types::Value {
    match value {
        Value::Null => rusqlite::types::Value::Null,
        Value::Integer(i) => rusqlite::types::Value::Integer(*i),
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
    }
}

impl Database for SqliteDb {
    fn begin_session(&self, start: SessionStart) {
        let Some(replica) = &self.replica else { return };
        replica.session.set(match start {
            SessionStart::Primary => replica.log.borrow().len(),
            SessionStart::Unconstrained => 0,
            // Bookmarks are log positions; one this fake never gave starts anywhere.
            SessionStart::Bookmark(b) => b.parse().unwrap_or(0),
        });
    }

    fn bookmark(&self) -> Option<String> {
        Some(self.replica.as_ref()?.session.get().to_string())
    }

    async fn query<T: DeserializeOwned>(&self, statement: Statement) -> Result<Vec<T>, StoreError> {
        self.check_failure(&statement.sql)?;
        let out = if is_read(&statement.sql) {
            query_rows(&self.reader(), &statement)?
        } else {
            let out = query_rows(&self.conn.borrow(), &statement)?;
            self.written(std::slice::from_ref(&statement));
            out
        };
        Ok(out)
    }

    async fn execute(&self, statement: Statement) -> Result<u64, StoreError> {
        self.check_failure(&statement.sql)?;
        let conn = self.conn.borrow();
        let n = conn
            .execute(
                &statement.sql,
                rusqlite::params_from_iter(statement.params.iter().map(to_sql)),
            )
            .map_err(sqlite_error)?;
        self.written(std::slice::from_ref(&statement));
        self.check_lost_acknowledgement(&statement.sql)?;
        Ok(n as u64)
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<u64>, StoreError> {
        for statement in &statements {
            self.check_failure(&statement.sql)?;
        }
        let mut changes = Vec::with_capacity(statements.len());
        {
            let mut conn = self.conn.borrow_mut();
            let tx = conn.transaction().map_err(StoreError::new)?;
            for statement in &statements {
                let n = tx
                    .execute(
                        &statement.sql,
                        rusqlite::params_from_iter(statement.params.iter().map(to_sql)),
                    )
                    .map_err(sqlite_error)?;
                changes.push(n as u64);
            }
            tx.commit().map_err(StoreError::new)?;
        }
        self.written(&statements);
        for statement in &statements {
            self.check_lost_acknowledgement(&statement.sql)?;
        }
        Ok(changes)
    }
}

/// Every row of a query, each deserialized from a map of column name to value.
fn query_rows<T: DeserializeOwned>(
    conn: &rusqlite::Connection,
    statement: &Statement,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare(&statement.sql).map_err(sqlite_error)?;
    let names: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(
            statement.params.iter().map(to_sql),
        ))
        .map_err(sqlite_error)?;
    let mut out = Vec::new();
    // A statement's constraint failure (UPDATE ... RETURNING) surfaces at its first step.
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        let mut object = serde_json::Map::new();
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i).map_err(StoreError::new)? {
                rusqlite::types::ValueRef::Null => serde_json::Value::Null,
                rusqlite::types::ValueRef::Integer(n) => n.into(),
                rusqlite::types::ValueRef::Real(f) => f.into(),
                rusqlite::types::ValueRef::Text(t) => {
                    String::from_utf8_lossy(t).into_owned().into()
                }
                rusqlite::types::ValueRef::Blob(_) => {
                    return Err(StoreError::new("blob columns are not used"))
                }
            };
            object.insert(name.clone(), value);
        }
        out.push(
            serde_json::from_value(serde_json::Value::Object(object)).map_err(StoreError::new)?,
        );
    }
    Ok(out)
}

/// An object as the fake R2 keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    pub content_type: String,
    pub uploaded_ms: i64,
}

#[derive(Default)]
pub struct MemoryBlobs {
    /// Shared with multipart writes in progress, which add their object on completion.
    pub objects: Rc<RefCell<BTreeMap<String, StoredObject>>>,
    /// Keep no bytes, only the transient copy every write hands the runtime: for memory tests,
    /// where a kept copy would count as the request's.
    pub discard_bytes: Cell<bool>,
    /// Multipart writes completed.
    pub multipart_writes: Rc<Cell<usize>>,
    pub gets: Cell<usize>,
    /// Puts succeed this many more times, then fail.
    pub puts_before_failure: Cell<Option<usize>>,
    pub put_fault: Cell<Fault>,
    pub list_fault: Cell<Fault>,
    pub delete_fault: Cell<Fault>,
    /// The upload time given to objects written from now on.
    pub now_ms: Cell<i64>,
}

impl MemoryBlobs {
    /// What a write keeps: the bytes, or (discarding) nothing once the runtime's copy is gone.
    fn kept(&self, bytes: &[u8]) -> Vec<u8> {
        let copy = bytes.to_vec();
        if self.discard_bytes.get() {
            Vec::new()
        } else {
            copy
        }
    }
}

/// A multipart write in progress in the fake R2.
pub struct MemoryUpload {
    key: String,
    content_type: String,
    bytes: Vec<u8>,
    last_part_seen: bool,
    discard_bytes: bool,
    fault: Fault,
    uploaded_ms: i64,
    objects: Rc<RefCell<BTreeMap<String, StoredObject>>>,
    completed: Rc<Cell<usize>>,
}

impl ObjectUpload for MemoryUpload {
    async fn put_part(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if self.fault == Fault::Fail {
            return Err(injected("R2 upload part"));
        }
        // R2's rule: every part but the last has the same size, at least 5 MiB.
        if self.last_part_seen {
            return Err(StoreError::new("a part after a short one"));
        }
        self.last_part_seen = bytes.len() != PART_BYTES;
        let copy = bytes.to_vec();
        if !self.discard_bytes {
            self.bytes.extend_from_slice(&copy);
        }
        Ok(())
    }

    async fn complete(self) -> Result<(), StoreError> {
        self.objects.borrow_mut().insert(
            self.key,
            StoredObject {
                bytes: self.bytes,
                content_type: self.content_type,
                uploaded_ms: self.uploaded_ms,
            },
        );
        self.completed.set(self.completed.get() + 1);
        Ok(())
    }

    async fn abort(self) {}
}

impl BlobStore<Vec<u8>> for MemoryBlobs {
    type Upload = MemoryUpload;
    type Reader = BytesBody;

    async fn start_upload(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<MemoryUpload, StoreError> {
        if self.put_fault.get() == Fault::Fail {
            return Err(injected("R2 create multipart upload"));
        }
        let completed = Rc::clone(&self.multipart_writes);
        Ok(MemoryUpload {
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            bytes: Vec::new(),
            last_part_seen: false,
            discard_bytes: self.discard_bytes.get(),
            fault: self.put_fault.get(),
            uploaded_ms: self.now_ms.get(),
            objects: Rc::clone(&self.objects),
            completed,
        })
    }

    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), StoreError> {
        if let Some(left) = self.puts_before_failure.get() {
            if left == 0 {
                return Err(injected("R2"));
            }
            self.puts_before_failure.set(Some(left - 1));
        }
        if self.put_fault.get() == Fault::Fail {
            return Err(injected("R2 put"));
        }
        let object = StoredObject {
            bytes: self.kept(bytes),
            content_type: content_type.to_owned(),
            uploaded_ms: self.now_ms.get(),
        };
        self.objects.borrow_mut().insert(key.to_owned(), object);
        match self.put_fault.get() {
            Fault::FailAfterWriting => Err(injected("R2 put acknowledgement")),
            _ => Ok(()),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Blob<Vec<u8>>>, StoreError> {
        self.gets.set(self.gets.get() + 1);
        Ok(self.objects.borrow().get(key).map(|o| Blob {
            body: o.bytes.clone(),
            content_type: o.content_type.clone(),
        }))
    }

    async fn open(&self, key: &str) -> Result<Option<BytesBody>, StoreError> {
        self.gets.set(self.gets.get() + 1);
        Ok(self
            .objects
            .borrow()
            .get(key)
            .map(|o| BytesBody::new(o.bytes.clone())))
    }

    async fn list_page(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, StoreError> {
        if self.list_fault.get() != Fault::None {
            return Err(injected("R2 list"));
        }
        let objects = self.objects.borrow();
        let mut matching = objects
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| cursor.as_deref().is_none_or(|c| k.as_str() > c));
        let page: Vec<ListedObject> = matching
            .by_ref()
            .take(limit as usize)
            .map(|(key, o)| ListedObject {
                key: key.clone(),
                uploaded_ms: o.uploaded_ms,
            })
            .collect();
        let more = matching.next().is_some();
        Ok(ListPage {
            cursor: more.then(|| page.last().map(|o| o.key.clone())).flatten(),
            objects: page,
        })
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        if self.delete_fault.get() == Fault::Fail {
            return Err(injected("R2 delete"));
        }
        let mut objects = self.objects.borrow_mut();
        for key in keys {
            objects.remove(key);
        }
        match self.delete_fault.get() {
            Fault::FailAfterWriting => Err(injected("R2 delete acknowledgement")),
            _ => Ok(()),
        }
    }
}

#[derive(Default)]
pub struct MemoryCache {
    pub entries: RefCell<BTreeMap<String, Cached<Vec<u8>>>>,
    pub get_fault: Cell<Fault>,
    pub put_fault: Cell<Fault>,
    pub delete_fault: Cell<Fault>,
}

impl EdgeCache<Vec<u8>> for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Cached<Vec<u8>>>, StoreError> {
        if self.get_fault.get() != Fault::None {
            return Err(injected("cache get"));
        }
        Ok(self.entries.borrow().get(key).cloned())
    }

    fn put_in_background(&self, key: &str, body: Vec<u8>, content_type: &str) {
        // In the background the failure has nowhere to go but the log, as on Workers.
        if self.put_fault.get() == Fault::Fail {
            return;
        }
        self.entries.borrow_mut().insert(
            key.to_owned(),
            Cached {
                body,
                content_type: content_type.to_owned(),
            },
        );
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        if self.delete_fault.get() == Fault::Fail {
            return Err(injected("cache delete"));
        }
        self.entries.borrow_mut().remove(key);
        match self.delete_fault.get() {
            Fault::FailAfterWriting => Err(injected("cache delete acknowledgement")),
            _ => Ok(()),
        }
    }
}

pub struct TestClock(pub Cell<i64>);

impl TestClock {
    pub fn advance_secs(&self, secs: i64) {
        self.0.set(self.0.get() + secs * 1000);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.get()
    }
}
