//! What the cron runs: a function of the ports and the current time that returns what it did.

use crate::domain::ids::PictureId;
use crate::media::keys;
use crate::observability::logs::{self, Level};
use crate::observability::{self, Trace};
use crate::ports::{BlobStore, Clock};
use crate::ports::{Database, StoreError};
use crate::store;
use serde::Serialize;
use serde_json::json;
use std::rc::Rc;

/// Objects younger than this may belong to an upload still in progress (objects are written
/// before the row), so reconciliation leaves them alone.
pub const ORPHAN_MIN_AGE_MS: i64 = 60 * 60 * 1000;
/// Objects examined per run; the next run goes on where this one stopped.
pub const RECONCILE_PER_RUN: u32 = 1000;
const RECONCILE_CURSOR: &str = "reconcile_cursor";

/// What one scheduled run did.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct SweepReport {
    pub expired_links: u64,
    pub stale_login_failures: u64,
    pub used_refresh_tokens: u64,
    /// R2 objects examined by the reconciliation, and those removed because no row owns them.
    pub objects_examined: u64,
    pub orphaned_objects_removed: u64,
}

/// The scheduled handler's whole job: remove expired links, stale throttle rows and used refresh
/// tokens, and reconcile one page of R2 with D1.
pub async fn run_scheduled<B>(
    db: &impl Database,
    blobs: &impl BlobStore<B>,
    now_ms: i64,
) -> Result<SweepReport, StoreError> {
    let (objects_examined, orphaned_objects_removed) = reconcile(db, blobs, now_ms).await?;
    Ok(SweepReport {
        expired_links: store::links::sweep_expired(db, now_ms).await?,
        stale_login_failures: store::login_failures::sweep(db, now_ms).await?,
        used_refresh_tokens: store::refresh_tokens::sweep(db, now_ms).await?,
        objects_examined,
        orphaned_objects_removed,
    })
}

/// The scheduled handler: `run_scheduled` inside a trace of its own, its report (or its failure,
/// at error level) logged as one structured line like a request's, with the ports' time. Pass
/// `Timed` ports for the time to be measured.
pub async fn run_and_log<B>(
    db: &impl Database,
    blobs: &impl BlobStore<B>,
    clock: Rc<dyn Clock>,
    cron: &str,
) -> Result<SweepReport, StoreError> {
    let now_ms = clock.now_ms();
    let trace = Trace::start(observability::request_id(None), clock);
    let result =
        observability::in_scope(Some(trace.clone()), run_scheduled(db, blobs, now_ms)).await;
    let mut fields = logs::object(json!({
        "message": "cron",
        "request_id": trace.id,
        "cron": cron,
        "duration_ms": trace.elapsed_ms(),
    }));
    fields.extend(logs::steps(&trace.steps()));
    let level = match &result {
        Ok(report) => {
            fields.extend(logs::object(json!(report)));
            Level::Info
        }
        Err(e) => {
            fields.insert("error".into(), format!("{e} (the next run retries)").into());
            Level::Error
        }
    };
    logs::write(level, fields);
    result
}

/// Removes picture objects whose row does not exist and that are older than an hour: what an
/// isolate killed between the R2 writes and the D1 insert, or an R2 delete that failed after its
/// row was removed, left behind. One page per run, resuming from a cursor kept in D1.
pub async fn reconcile<B>(
    db: &impl Database,
    blobs: &impl BlobStore<B>,
    now_ms: i64,
) -> Result<(u64, u64), StoreError> {
    let cursor = store::maintenance::get(db, RECONCILE_CURSOR).await?;
    let page = blobs.list_page("", cursor, RECONCILE_PER_RUN).await?;
    let candidates: Vec<(String, PictureId)> = page
        .objects
        .iter()
        .filter(|o| o.uploaded_ms <= now_ms - ORPHAN_MIN_AGE_MS)
        .filter_map(|o| {
            keys::parse_blob_key(&o.key).map(|(_, picture, _)| (o.key.clone(), picture))
        })
        .collect();
    let mut ids: Vec<PictureId> = candidates.iter().map(|(_, id)| *id).collect();
    ids.sort();
    ids.dedup();
    let existing = store::pictures::existing(db, &ids).await?;
    let orphans: Vec<String> = candidates
        .into_iter()
        .filter(|(_, id)| !existing.contains(id))
        .map(|(key, _)| key)
        .collect();
    if !orphans.is_empty() {
        blobs.delete(&orphans).await?;
    }
    store::maintenance::set(db, RECONCILE_CURSOR, page.cursor.as_deref()).await?;
    Ok((page.objects.len() as u64, orphans.len() as u64))
}
