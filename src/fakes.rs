//! In-memory ports for native tests: SQLite with the real migrations standing in for D1, maps
//! standing in for R2 and the Cache API, a settable clock; with call counters and injected failures.

use crate::app::Platform;
use crate::ports::{
    Blob, BlobStore, CachedImage, Clock, Database, EdgeCache, RustKdf, Statement, StoreError, Value,
};
use serde::de::DeserializeOwned;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

pub struct Fakes;

impl Platform for Fakes {
    type Db = SqliteDb;
    type Blobs = MemoryBlobs;
    type Cache = MemoryCache;
    type Clock = TestClock;
    type Kdf = RustKdf;
}

pub struct SqliteDb {
    conn: RefCell<rusqlite::Connection>,
    pub queries: Cell<usize>,
    /// The next statement whose SQL contains this text fails.
    pub fail_on: RefCell<Option<String>>,
}

impl SqliteDb {
    /// A fresh database with every migration in `migrations/` applied, as D1 would have it.
    pub fn migrated() -> Self {
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
        Self {
            conn: RefCell::new(conn),
            queries: Cell::new(0),
            fail_on: RefCell::new(None),
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

    pub fn exec(&self, sql: &str) {
        self.conn.borrow().execute_batch(sql).unwrap();
    }

    fn check_failure(&self, sql: &str) -> Result<(), StoreError> {
        self.queries.set(self.queries.get() + 1);
        let mut fail_on = self.fail_on.borrow_mut();
        if fail_on
            .as_deref()
            .is_some_and(|needle| sql.contains(needle))
        {
            *fail_on = None;
            return Err(StoreError::new("injected D1 failure"));
        }
        Ok(())
    }
}

fn to_sql(value: &Value) -> rusqlite::types::Value {
    match value {
        Value::Null => rusqlite::types::Value::Null,
        Value::Integer(i) => rusqlite::types::Value::Integer(*i),
        Value::Real(f) => rusqlite::types::Value::Real(*f),
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
    }
}

impl Database for SqliteDb {
    async fn query<T: DeserializeOwned>(&self, statement: Statement) -> Result<Vec<T>, StoreError> {
        self.check_failure(&statement.sql)?;
        let conn = self.conn.borrow();
        let mut stmt = conn.prepare(&statement.sql).map_err(StoreError::new)?;
        let names: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(
                statement.params.iter().map(to_sql),
            ))
            .map_err(StoreError::new)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(StoreError::new)? {
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
                serde_json::from_value(serde_json::Value::Object(object))
                    .map_err(StoreError::new)?,
            );
        }
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
            .map_err(StoreError::new)?;
        Ok(n as u64)
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<(), StoreError> {
        for statement in &statements {
            self.check_failure(&statement.sql)?;
        }
        let mut conn = self.conn.borrow_mut();
        let tx = conn.transaction().map_err(StoreError::new)?;
        for statement in &statements {
            tx.execute(
                &statement.sql,
                rusqlite::params_from_iter(statement.params.iter().map(to_sql)),
            )
            .map_err(StoreError::new)?;
        }
        tx.commit().map_err(StoreError::new)
    }
}

#[derive(Default)]
pub struct MemoryBlobs {
    pub objects: RefCell<BTreeMap<String, Blob>>,
    pub gets: Cell<usize>,
    /// Puts succeed this many more times, then fail.
    pub puts_before_failure: Cell<Option<usize>>,
}

impl BlobStore for MemoryBlobs {
    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), StoreError> {
        if let Some(left) = self.puts_before_failure.get() {
            if left == 0 {
                return Err(StoreError::new("injected R2 failure"));
            }
            self.puts_before_failure.set(Some(left - 1));
        }
        let blob = Blob {
            bytes: bytes.to_vec(),
            content_type: content_type.to_owned(),
        };
        self.objects.borrow_mut().insert(key.to_owned(), blob);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, StoreError> {
        self.gets.set(self.gets.get() + 1);
        Ok(self.objects.borrow().get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .objects
            .borrow()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut objects = self.objects.borrow_mut();
        for key in keys {
            objects.remove(key);
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryCache {
    pub entries: RefCell<BTreeMap<String, CachedImage>>,
}

impl EdgeCache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<CachedImage>, StoreError> {
        Ok(self.entries.borrow().get(key).cloned())
    }

    async fn put(&self, key: &str, image: &CachedImage) -> Result<(), StoreError> {
        self.entries
            .borrow_mut()
            .insert(key.to_owned(), image.clone());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.entries.borrow_mut().remove(key);
        Ok(())
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
