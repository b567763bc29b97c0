//! Storage in D1: every SQL statement of the service, one module per table, over the `Database`
//! port (`ports.rs`). Nothing here speaks HTTP; failures are `StoreError`s, which tell a
//! uniqueness conflict and a missing referenced row from anything else.

pub mod links;
pub mod login_failures;
pub mod maintenance;
pub mod pictures;
pub mod refresh_tokens;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
pub mod tiers;
pub mod users;

use crate::ports::{Database, Statement, StoreError};
use serde::de::DeserializeOwned;

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
