//! Storage in D1: the `Database` port, and every SQL statement of the service, one module per
//! table. Nothing here speaks HTTP; failures are `StoreError`s, which tell a uniqueness conflict
//! and a missing referenced row from anything else.

pub mod links;
pub mod login_failures;
pub mod maintenance;
pub mod pictures;
pub mod refresh_tokens;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
pub mod tiers;
pub mod users;

use serde::de::DeserializeOwned;

/// A failure of the database or another storage port. Messages are for logs only.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// A UNIQUE constraint refused the write: someone else holds that name. Each adapter is the
    /// one place that recognises its backend's way of saying so.
    #[error("unique constraint: {0}")]
    Conflict(String),
    /// A FOREIGN KEY constraint refused the write: the row it refers to (a tier, a user) was
    /// deleted meanwhile.
    #[error("foreign key constraint: {0}")]
    MissingReference(String),
    /// Anything else: the backend failed or is unreachable.
    #[error("{0}")]
    Failed(String),
}

impl StoreError {
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self::Failed(message.to_string())
    }

    /// A SQLite (D1) error message, classified: a UNIQUE violation is a `Conflict`, a FOREIGN
    /// KEY violation a `MissingReference` (SQLite and D1 only say so in words). Both database
    /// adapters use this one rule.
    pub fn from_sqlite(message: impl std::fmt::Display) -> Self {
        let message = message.to_string();
        if message.contains("UNIQUE constraint failed") {
            Self::Conflict(message)
        } else if message.contains("FOREIGN KEY constraint failed") {
            Self::MissingReference(message)
        } else {
            Self::Failed(message)
        }
    }
}

/// A value bound to a statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
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

/// Where a request's D1 session starts (D1 read replication, the Sessions API): every statement
/// of the session then sees at least what the previous ones saw (sequential consistency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStart {
    /// The primary: the newest state. For every change, so it is authorized and made against
    /// what is current.
    Primary,
    /// The nearest replica, however far behind: reads of a client that carries no bookmark.
    Unconstrained,
    /// A replica at least as recent as this bookmark (one this service answered a write with):
    /// the client sees its own writes.
    Bookmark(String),
}

/// A SQLite dialect database (D1). Rows are deserialized by column name.
pub trait Database {
    /// Starts this request's session; a database with a single copy has nothing to choose.
    fn begin_session(&self, start: SessionStart) {
        let _ = start;
    }

    /// Where this request's session has got to: a bookmark to answer a write with.
    fn bookmark(&self) -> Option<String> {
        None
    }

    /// Runs a query and returns every row.
    async fn query<T: DeserializeOwned>(&self, statement: Statement) -> Result<Vec<T>, StoreError>;
    /// Runs a statement and returns the number of rows it changed.
    async fn execute(&self, statement: Statement) -> Result<u64, StoreError>;
    /// Runs statements in one transaction: all apply or none does.
    async fn batch(&self, statements: Vec<Statement>) -> Result<(), StoreError>;
}

/// The first row of a query, if any.
pub async fn first<T: DeserializeOwned>(
    db: &impl Database,
    statement: Statement,
) -> Result<Option<T>, StoreError> {
    Ok(db.query(statement).await?.into_iter().next())
}

/// `SELECT 1`: whether the database answers.
pub async fn ping(db: &impl Database) -> Result<(), StoreError> {
    #[derive(serde::Deserialize)]
    struct One {}
    db.query::<One>(Statement::new("SELECT 1 AS ok")).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_and_d1_constraint_messages_are_classified_and_the_rest_is_a_failure() {
        // As rusqlite and D1 word them.
        let unique = "D1_ERROR: UNIQUE constraint failed: users.username: SQLITE_CONSTRAINT";
        let foreign = "D1_ERROR: FOREIGN KEY constraint failed: SQLITE_CONSTRAINT";
        assert!(matches!(
            StoreError::from_sqlite(unique),
            StoreError::Conflict(_)
        ));
        assert!(matches!(
            StoreError::from_sqlite("FOREIGN KEY constraint failed"),
            StoreError::MissingReference(_)
        ));
        assert!(matches!(
            StoreError::from_sqlite(foreign),
            StoreError::MissingReference(_)
        ));
        assert!(matches!(
            StoreError::from_sqlite("D1_ERROR: no such table: tiers"),
            StoreError::Failed(_)
        ));
    }
}
