//! The log of ingest and expansion runs.

use std::path::PathBuf;
use std::time::SystemTime;

use sqlx::SqliteConnection;

use crate::{StoreError, format_rfc3339};

/// Whether a run read new routing files or expanded the stored routing data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    Ingest,
    Expand,
}

/// One row of `ingest_runs`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub kind: RunKind,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    /// Routing files read; empty for an expansion.
    pub sources: Vec<PathBuf>,
    pub rows_v4: u64,
    pub rows_v6: u64,
    pub providers_expanded: u64,
    pub ranges_v4: u64,
    pub ranges_v6: u64,
    pub addresses_v4: u128,
    pub addresses_v6: u128,
    pub seconds: f64,
    /// The error of a failed run; `None` for a run that succeeded.
    pub error: Option<String>,
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) async fn insert_run(
    conn: &mut SqliteConnection,
    run: &RunRecord,
) -> Result<(), StoreError> {
    let sources: Vec<String> = run
        .sources
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let sources = serde_json::to_string(&sources)
        .map_err(|e| StoreError::InvalidData(format!("failed to encode source paths: {e}")))?;
    sqlx::query(
        "INSERT INTO ingest_runs (kind, started_at, finished_at, status, sources, rows_v4, rows_v6,
         providers_expanded, ranges_v4, ranges_v6, addresses_v4, addresses_v6, seconds, error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(match run.kind {
        RunKind::Ingest => "ingest",
        RunKind::Expand => "expand",
    })
    .bind(format_rfc3339(run.started_at.into()))
    .bind(format_rfc3339(run.finished_at.into()))
    .bind(if run.error.is_some() { "failed" } else { "ok" })
    .bind(sources)
    .bind(count(run.rows_v4))
    .bind(count(run.rows_v6))
    .bind(count(run.providers_expanded))
    .bind(count(run.ranges_v4))
    .bind(count(run.ranges_v6))
    .bind(run.addresses_v4.to_string())
    .bind(run.addresses_v6.to_string())
    .bind(run.seconds)
    .bind(&run.error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
