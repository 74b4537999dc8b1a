//! The log of ingest and expansion runs.

use std::path::PathBuf;
use std::time::SystemTime;

use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::{Store, StoreError, format_rfc3339, now_rfc3339};

/// Whether a run read new routing files or expanded the stored routing data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    Ingest,
    Expand,
}

/// One row of `ingest_runs`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    /// The row written by [`Store::start_run`] that this run completes; `None` inserts a
    /// new row.
    pub id: Option<i64>,
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
    /// Bytes downloaded from the URL sources; 0 for files and expansions.
    pub bytes_downloaded: u64,
    /// The error of a failed run; `None` for a run that succeeded.
    pub error: Option<String>,
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn kind_text(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Ingest => "ingest",
        RunKind::Expand => "expand",
    }
}

fn encode_sources(sources: &[PathBuf]) -> Result<String, StoreError> {
    let sources: Vec<String> = sources
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    serde_json::to_string(&sources)
        .map_err(|e| StoreError::InvalidData(format!("failed to encode source paths: {e}")))
}

/// Writes a finished run: a new row, or the `running` row of [`RunRecord::id`].
pub(crate) async fn insert_run(
    conn: &mut SqliteConnection,
    run: &RunRecord,
) -> Result<(), StoreError> {
    let sources = encode_sources(&run.sources)?;
    let sql = if run.id.is_some() {
        "UPDATE ingest_runs SET kind = ?, started_at = ?, finished_at = ?, status = ?,
         sources = ?, rows_v4 = ?, rows_v6 = ?, providers_expanded = ?, ranges_v4 = ?,
         ranges_v6 = ?, addresses_v4 = ?, addresses_v6 = ?, seconds = ?, bytes_downloaded = ?,
         error = ?
         WHERE id = ?"
    } else {
        "INSERT INTO ingest_runs (kind, started_at, finished_at, status, sources, rows_v4, rows_v6,
         providers_expanded, ranges_v4, ranges_v6, addresses_v4, addresses_v6, seconds,
         bytes_downloaded, error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    };
    sqlx::query(sql)
        .bind(kind_text(run.kind))
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
        .bind(count(run.bytes_downloaded))
        .bind(&run.error)
        .bind(run.id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A stored run as the admin API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredRun {
    pub id: i64,
    /// `ingest` (new routing files) or `expand` (the stored routing data, after a change
    /// of the register).
    pub kind: String,
    /// `running`, `ok` or `failed`.
    pub status: String,
    /// RFC 3339 in UTC.
    pub started_at: String,
    /// RFC 3339 in UTC; `None` while the run is running.
    pub finished_at: Option<String>,
    /// The routing files or URLs read; empty for an expansion.
    pub sources: Vec<String>,
    pub rows_v4: i64,
    pub rows_v6: i64,
    pub providers_expanded: i64,
    pub ranges_v4: i64,
    pub ranges_v6: i64,
    /// Listed IPv4 addresses, as decimal text.
    pub addresses_v4: String,
    /// Listed IPv6 addresses, as decimal text, because the count may exceed 64 bits.
    pub addresses_v6: String,
    pub seconds: f64,
    /// Bytes downloaded from the URL sources: the count so far while the run is in
    /// progress, the total once it has finished. 0 for file sources, for expansions and for
    /// runs recorded before the count was stored.
    pub bytes_downloaded: u64,
    pub error: Option<String>,
}

/// The columns that [`read_run`] reads, as a literal for `concat!`.
macro_rules! run_columns {
    () => {
        "id, kind, status, started_at, finished_at, sources, rows_v4, rows_v6,
         providers_expanded, ranges_v4, ranges_v6, addresses_v4, addresses_v6, seconds,
         bytes_downloaded, error"
    };
}

fn read_run(row: &SqliteRow) -> Result<StoredRun, StoreError> {
    let sources: String = row.try_get("sources")?;
    let sources = serde_json::from_str(&sources).map_err(|error| {
        StoreError::InvalidData(format!("ingest run sources {sources:?}: {error}"))
    })?;
    Ok(StoredRun {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        sources,
        rows_v4: row.try_get("rows_v4")?,
        rows_v6: row.try_get("rows_v6")?,
        providers_expanded: row.try_get("providers_expanded")?,
        ranges_v4: row.try_get("ranges_v4")?,
        ranges_v6: row.try_get("ranges_v6")?,
        addresses_v4: row.try_get("addresses_v4")?,
        addresses_v6: row.try_get("addresses_v6")?,
        seconds: row.try_get("seconds")?,
        // The column is written from a u64 by `count`, so it is never negative.
        bytes_downloaded: u64::try_from(row.try_get::<i64, _>("bytes_downloaded")?).unwrap_or(0),
        error: row.try_get("error")?,
    })
}

impl Store {
    /// Records the start of a run with status `running` and returns its id. The caller
    /// finishes it by recording a [`RunRecord`] with this id.
    pub async fn start_run(&self, kind: RunKind, sources: &[PathBuf]) -> Result<i64, StoreError> {
        let id = sqlx::query(
            "INSERT INTO ingest_runs (kind, started_at, finished_at, status, sources, rows_v4,
             rows_v6, providers_expanded, ranges_v4, ranges_v6, addresses_v4, addresses_v6,
             seconds, error)
             VALUES (?, ?, NULL, 'running', ?, 0, 0, 0, 0, 0, '0', '0', 0, NULL)",
        )
        .bind(kind_text(kind))
        .bind(now_rfc3339())
        .bind(encode_sources(sources)?)
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    /// Marks every run still `running` as failed with `reason`; returns how many. Called at
    /// start, because a run of a stopped process never finishes.
    pub async fn fail_unfinished_runs(&self, reason: &str) -> Result<u64, StoreError> {
        let failed = sqlx::query(
            "UPDATE ingest_runs SET status = 'failed', finished_at = ?, error = ?
             WHERE status = 'running'",
        )
        .bind(now_rfc3339())
        .bind(reason)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(failed)
    }

    /// Returns one page of runs, newest first.
    pub async fn list_runs(&self, limit: i64, offset: i64) -> Result<Vec<StoredRun>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM ingest_runs ORDER BY id DESC LIMIT ? OFFSET ?"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(read_run)
        .collect()
    }

    /// Returns the run with `id`.
    pub async fn get_run(&self, id: i64) -> Result<StoredRun, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM ingest_runs WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            kind: "ingest run",
            name: id.to_string(),
        })?;
        read_run(&row)
    }
}
