//! The `maintenance_state` table: small values the cron keeps between runs.

use crate::ports::{Database, Statement, StoreError};

pub async fn get(db: &impl Database, name: &str) -> Result<Option<String>, StoreError> {
    #[derive(serde::Deserialize)]
    struct Row {
        value: String,
    }
    let row: Option<Row> = super::first(
        db,
        Statement::new("SELECT value FROM maintenance_state WHERE name = ?").bind(name),
    )
    .await?;
    Ok(row.map(|r| r.value))
}

pub async fn set(db: &impl Database, name: &str, value: Option<&str>) -> Result<(), StoreError> {
    let statement = match value {
        Some(value) => Statement::new(
            "INSERT INTO maintenance_state (name, value) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value),
        None => Statement::new("DELETE FROM maintenance_state WHERE name = ?").bind(name),
    };
    db.execute(statement).await?;
    Ok(())
}
