//! Reads IP-to-ASN routing data into the store and expands the listed providers into
//! address ranges.
//!
//! [`ingest`] replaces the routing snapshot with new CSV files and expands; [`expand`]
//! expands again from the stored routing snapshot, after a change of the register. Both
//! write everything in one transaction: on any error the store keeps its previous routing
//! data, listed ranges and serial.

mod expansion;
mod parse;
mod progress;
mod reporter;
mod summary;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use dnsbl_config::Register;
use dnsbl_store::{RoutingRow, RoutingSource, RunKind, RunRecord, Store, StoreError, Update};

pub use dnsbl_core::RangeLimit;
pub use expansion::{ExpandedRanges, Expansion};
pub use parse::{
    ParseError, RoutingFile, parse_routing, parse_routing_limited, read_routing_file,
    read_routing_file_limited,
};
pub use progress::{IngestProgress, IngestStage, Tracking};
pub use reporter::{NoProgress, ProgressReporter};
pub use summary::{ExpandSummary, IngestSummary};

/// Errors from an ingest or an expansion.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no routing data files given; pass at least one CSV file")]
    NoFiles,
    #[error(
        "the routing data files contain no rows, so the stored routing data was kept; \
         check that the files are complete"
    )]
    NoRows,
    #[error(
        "{}: the file contains no rows, so the stored routing data was kept; \
         check that the download is complete",
        .0.display()
    )]
    EmptyFile(PathBuf),
    #[error("the routing file reader failed: {0}")]
    Reader(String),
    /// The caller's check before the commit failed, with the caller's message.
    #[error("{0}")]
    Rejected(String),
}

/// Reads the routing data `files`, replaces the stored routing snapshot with their rows and
/// expands every active provider, in one transaction. A row wider than
/// [`RangeLimit::DEFAULT`] fails the run.
///
/// All files are parsed before the database is touched, so an invalid line changes
/// nothing. A failed run is recorded in `ingest_runs` after the rollback.
pub async fn ingest(store: &Store, files: &[PathBuf]) -> Result<IngestSummary, IngestError> {
    ingest_with_register(store, files, None, &RangeLimit::DEFAULT).await
}

/// Does what [`ingest`] does with a row width `limit`, and first applies `register`
/// (register.toml) inside the same transaction, so that a failed ingest leaves the register
/// as it was too.
pub async fn ingest_with_register(
    store: &Store,
    files: &[PathBuf],
    register: Option<&Register>,
    limit: &RangeLimit,
) -> Result<IngestSummary, IngestError> {
    ingest_tracked(store, files, register, limit, &Tracking::default()).await
}

/// Does what [`ingest_with_register`] does, reports the bytes read and each later phase
/// to `reporter`, and awaits `before_commit` on the update once the register is expanded.
/// An error of `before_commit` fails the ingest like any other, so nothing of it is
/// stored. `dnsbl ingest` builds the snapshot there, so that it never stores a register
/// that `dnsbl serve` cannot serve.
pub async fn ingest_with_progress(
    store: &Store,
    files: &[PathBuf],
    register: Option<&Register>,
    limit: &RangeLimit,
    reporter: Arc<dyn ProgressReporter>,
    before_commit: impl AsyncFnOnce(&mut Update) -> Result<(), IngestError>,
) -> Result<IngestSummary, IngestError> {
    let tracking = Tracking {
        reporter: Some(reporter),
        ..Tracking::default()
    };
    ingest_checked(store, files, register, limit, &tracking, before_commit).await
}

/// Does what [`ingest_with_register`] does, and reports its progress, completes a run
/// row and names the files as `tracking` says.
pub async fn ingest_tracked(
    store: &Store,
    files: &[PathBuf],
    register: Option<&Register>,
    limit: &RangeLimit,
    tracking: &Tracking<'_>,
) -> Result<IngestSummary, IngestError> {
    ingest_checked(store, files, register, limit, tracking, async |_| Ok(())).await
}

/// Does what [`ingest_tracked`] does, and awaits `before_commit` on the update before the
/// commit; see [`ingest_with_progress`].
async fn ingest_checked(
    store: &Store,
    files: &[PathBuf],
    register: Option<&Register>,
    limit: &RangeLimit,
    tracking: &Tracking<'_>,
    before_commit: impl AsyncFnOnce(&mut Update) -> Result<(), IngestError>,
) -> Result<IngestSummary, IngestError> {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    tracing::info!(files = files.len(), "ingest started");
    let mut summary = IngestSummary {
        files: files.len(),
        ..IngestSummary::default()
    };
    let result = match ingest_files(store, files, register, limit, tracking, &mut summary).await {
        Ok(mut update) => before_commit(&mut update).await.map(|()| update),
        Err(error) => Err(error),
    };
    summary.seconds = clock.elapsed().as_secs_f64();
    let mut run = run_record(
        RunKind::Ingest,
        started_at,
        &tracking.names(files),
        &summary,
    );
    run.id = tracking.run_id;
    run.bytes_downloaded = tracking.bytes_downloaded();
    let result = match result {
        Ok(update) => {
            tracking.reporter().start_phase("committing");
            commit_with_run(update, &run).await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => {
            log_ingest_finished(&summary);
            Ok(summary)
        }
        Err(error) => {
            run.error = Some(tracking.rename_in(files, error.to_string()));
            record_failure(store, &run, &error).await;
            Err(error)
        }
    }
}

/// Logs the totals of an ingest that committed.
pub fn log_ingest_finished(summary: &IngestSummary) {
    tracing::info!(
        rows_v4 = summary.rows_v4,
        rows_v6 = summary.rows_v6,
        providers = summary.providers_expanded,
        ranges_v4 = summary.ranges_v4,
        ranges_v6 = summary.ranges_v6,
        serial = summary.serial,
        seconds = summary.seconds,
        "ingest finished"
    );
}

/// Parses the files and runs the update up to, not including, the commit.
async fn ingest_files(
    store: &Store,
    files: &[PathBuf],
    register: Option<&Register>,
    limit: &RangeLimit,
    tracking: &Tracking<'_>,
    summary: &mut IngestSummary,
) -> Result<Update, IngestError> {
    let (rows, sources) = read_files(files, limit, tracking, summary).await?;
    let mut update = store.begin_update().await?;
    if let Some(register) = register {
        update.sync_register(register).await?;
    }
    store_rows(&mut update, rows, sources, tracking, summary).await?;
    Ok(update)
}

/// Parses the files and checks that none is empty. Returns the rows and the record of
/// each file.
async fn read_files(
    files: &[PathBuf],
    limit: &RangeLimit,
    tracking: &Tracking<'_>,
    summary: &mut IngestSummary,
) -> Result<(Vec<RoutingRow>, Vec<RoutingSource>), IngestError> {
    if files.is_empty() {
        return Err(IngestError::NoFiles);
    }
    tracking.stage(IngestStage::Parsing);
    let paths = files.to_vec();
    let limit = *limit;
    let reporter = tracking.reporter();
    let reader_progress = reporter.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        // A file whose size cannot be read fails with its path when it is opened below.
        let total = paths
            .iter()
            .filter_map(|path| std::fs::metadata(path).ok())
            .map(|metadata| metadata.len())
            .sum();
        reader_progress.start_reading(total);
        let on_read = |bytes| reader_progress.add_read(bytes);
        paths
            .iter()
            .map(|path| parse::read_routing_file_with(path, &limit, &on_read))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|error| IngestError::Reader(error.to_string()))??;

    let mut rows = Vec::with_capacity(parsed.iter().map(|file| file.rows.len()).sum());
    let mut sources = Vec::with_capacity(parsed.len());
    let names = tracking.names(files);
    for (mut file, name) in parsed.into_iter().zip(names) {
        tracking.add(|progress| &progress.rows_read, file.rows.len() as u64);
        file.source.path = name;
        // One empty file among several would drop a whole family of routes, and with it
        // every listing of that family by ASN.
        if file.rows.is_empty() {
            return Err(IngestError::EmptyFile(file.source.path));
        }
        sources.push(file.source);
        rows.extend(file.rows);
    }
    summary.rows_v4 = rows.iter().filter(|row| row.range.is_ipv4()).count() as u64;
    summary.rows_v6 = rows.len() as u64 - summary.rows_v4;
    // An empty input would delist every provider listed by ASN; a failed download is the
    // usual cause, so it is rejected rather than taken as "no routes".
    if rows.is_empty() {
        return Err(IngestError::NoRows);
    }

    Ok((rows, sources))
}

/// Replaces the routing data inside `update` with `rows` and expands the register.
async fn store_rows(
    update: &mut Update,
    rows: Vec<RoutingRow>,
    sources: Vec<RoutingSource>,
    tracking: &Tracking<'_>,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    tracking.stage(IngestStage::Storing);
    let reporter = tracking.reporter();
    reporter.start_phase(&format!("storing {} routing rows", rows.len()));
    update.replace_routing(&rows, &sources).await?;
    drop(rows);
    reporter.start_phase("expanding the register into listed ranges");
    let counts = expansion::expand_in(update).await?;
    tracking.add(
        |progress| &progress.ranges_stored,
        counts.ranges_v4 + counts.ranges_v6,
    );
    summary.providers_expanded = counts.providers_expanded;
    summary.ranges_v4 = counts.ranges_v4;
    summary.ranges_v6 = counts.ranges_v6;
    summary.addresses_v4 = counts.addresses_v4;
    summary.addresses_v6 = counts.addresses_v6;
    summary.serial = counts.serial;
    Ok(())
}

/// Does what [`ingest`] does with a row width `limit`, inside `update`, and records the
/// run there, so that the caller's commit keeps both and a rollback drops both. The
/// files are parsed while `update` holds the write lock. Only the start is logged, because
/// the caller may still roll back; it calls [`log_ingest_finished`] after its commit.
pub async fn ingest_in_update(
    update: &mut Update,
    files: &[PathBuf],
    limit: &RangeLimit,
) -> Result<IngestSummary, IngestError> {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let tracking = Tracking::default();
    tracing::info!(files = files.len(), "ingest started");
    let mut summary = IngestSummary {
        files: files.len(),
        ..IngestSummary::default()
    };
    let (rows, sources) = read_files(files, limit, &tracking, &mut summary).await?;
    store_rows(update, rows, sources, &tracking, &mut summary).await?;
    summary.seconds = clock.elapsed().as_secs_f64();
    let run = run_record(RunKind::Ingest, started_at, files, &summary);
    update.record_run(&run).await?;
    Ok(summary)
}

/// Expands every active provider again from the stored routing snapshot and replaces the
/// listed ranges, in one transaction. Used after a change of the register.
pub async fn expand(store: &Store) -> Result<ExpandSummary, IngestError> {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let result: Result<ExpandSummary, IngestError> = async {
        let mut update = store.begin_update().await?;
        let summary = expand_in_update(&mut update).await?;
        update.commit().await?;
        Ok(summary)
    }
    .await;
    match result {
        Ok(summary) => {
            tracing::info!(%summary, "expansion finished");
            Ok(summary)
        }
        Err(error) => {
            let failed = IngestSummary {
                seconds: clock.elapsed().as_secs_f64(),
                ..IngestSummary::default()
            };
            let mut run = run_record(RunKind::Expand, started_at, &[], &failed);
            run.error = Some(error.to_string());
            record_failure(store, &run, &error).await;
            Err(error)
        }
    }
}

/// Does what [`expand`] does inside `update` and records the run there, so that the
/// caller's commit keeps both and a rollback drops both. Nothing is logged, because the
/// caller may still roll back.
pub async fn expand_in_update(update: &mut Update) -> Result<ExpandSummary, IngestError> {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let counts = expansion::expand_in(update).await?;
    let summary = ExpandSummary {
        providers_expanded: counts.providers_expanded,
        ranges_v4: counts.ranges_v4,
        ranges_v6: counts.ranges_v6,
        addresses_v4: counts.addresses_v4,
        addresses_v6: counts.addresses_v6,
        serial: counts.serial,
        seconds: clock.elapsed().as_secs_f64(),
    };
    let as_ingest = IngestSummary {
        providers_expanded: summary.providers_expanded,
        ranges_v4: summary.ranges_v4,
        ranges_v6: summary.ranges_v6,
        addresses_v4: summary.addresses_v4,
        addresses_v6: summary.addresses_v6,
        serial: summary.serial,
        seconds: summary.seconds,
        ..IngestSummary::default()
    };
    update
        .record_run(&run_record(RunKind::Expand, started_at, &[], &as_ingest))
        .await?;
    Ok(summary)
}

fn run_record(
    kind: RunKind,
    started_at: SystemTime,
    sources: &[PathBuf],
    summary: &IngestSummary,
) -> RunRecord {
    RunRecord {
        id: None,
        kind,
        started_at,
        finished_at: SystemTime::now(),
        sources: sources.to_vec(),
        rows_v4: summary.rows_v4,
        rows_v6: summary.rows_v6,
        providers_expanded: summary.providers_expanded,
        ranges_v4: summary.ranges_v4,
        ranges_v6: summary.ranges_v6,
        addresses_v4: summary.addresses_v4,
        addresses_v6: summary.addresses_v6,
        seconds: summary.seconds,
        bytes_downloaded: 0,
        error: None,
    }
}

/// Records a successful run inside its update and commits both.
async fn commit_with_run(mut update: Update, run: &RunRecord) -> Result<(), IngestError> {
    update.record_run(run).await?;
    update.commit().await?;
    Ok(())
}

/// Records a failed run after its transaction was rolled back. A failure to record is
/// logged and otherwise ignored, because the caller reports the original error.
async fn record_failure(store: &Store, run: &RunRecord, error: &IngestError) {
    tracing::error!(%error, kind = ?run.kind, "routing data update failed; the stored data is unchanged");
    if let Err(record_error) = store.record_run(run).await {
        tracing::warn!(error = %record_error, "failed to record the failed run in ingest_runs");
    }
}
