//! The background task of an ingest started by `POST /v1/ingest`: download the URL
//! sources, run the transactional ingest, wait for the new snapshot, finish the run.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use dnsbl_ingest::{IngestProgress, IngestStage, Tracking};
use dnsbl_store::{RunKind, RunRecord};

use crate::AppState;
use crate::download::{download, file_name};
use crate::ingest::{IngestSource, RunningIngest, clear_running};

/// How long a finished ingest waits for the reload loop to serve its serial before it
/// reports the run as finished anyway.
const SWAP_TIMEOUT: Duration = Duration::from_secs(60);

/// Downloads, ingests, waits for the new snapshot and finishes the run. Every error is
/// recorded in the run and logged.
pub(crate) async fn run_in_background(
    state: AppState,
    running: RunningIngest,
    names: Vec<PathBuf>,
) {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let progress = running.progress.clone();
    let result = download_and_ingest(&state, running.id, &progress, &names).await;
    let seconds = clock.elapsed().as_secs_f64();
    match result {
        Ok(serial) => {
            wait_for_snapshot(&state, serial).await;
            state.metrics.record_ingest(true, seconds);
            tracing::info!(
                run = running.id,
                serial,
                seconds,
                "ingest through the admin API finished"
            );
        }
        Err(Failure::Recorded) => state.metrics.record_ingest(false, seconds),
        Err(Failure::BeforeIngest(message)) => {
            state.metrics.record_ingest(false, seconds);
            tracing::error!(run = running.id, error = %message, "ingest through the admin API failed; the stored data is unchanged");
            let run = RunRecord {
                id: Some(running.id),
                kind: RunKind::Ingest,
                started_at,
                finished_at: SystemTime::now(),
                sources: names,
                rows_v4: 0,
                rows_v6: 0,
                providers_expanded: 0,
                ranges_v4: 0,
                ranges_v6: 0,
                addresses_v4: 0,
                addresses_v6: 0,
                seconds,
                bytes_downloaded: progress.bytes_downloaded.load(Ordering::Relaxed),
                error: Some(message),
            };
            if let Err(error) = state.store.record_run(&run).await {
                tracing::error!(run = running.id, %error, "failed to record the failed ingest run");
            }
        }
    }
    progress.set_stage(IngestStage::Finished);
    clear_running(&state);
}

enum Failure {
    /// The ingest itself failed and recorded the run with its error.
    Recorded,
    /// A download or file failed before the ingest started; the run is still `running`.
    BeforeIngest(String),
}

/// Returns the serial of the committed ingest.
async fn download_and_ingest(
    state: &AppState,
    id: i64,
    progress: &IngestProgress,
    names: &[PathBuf],
) -> Result<u32, Failure> {
    let settings = &state.ingests.settings;
    // Removed with its files when dropped, after the ingest.
    let temporary = tempfile::Builder::new()
        .prefix("dnsbl-ingest-")
        .tempdir()
        .map_err(|error| {
            Failure::BeforeIngest(format!(
                "failed to create a temporary directory for the download: {error}"
            ))
        })?;
    let mut client = None;
    let mut files = Vec::with_capacity(settings.sources.len());
    for (index, source) in settings.sources.iter().enumerate() {
        match source {
            IngestSource::File(path) => files.push(path.clone()),
            IngestSource::Url(url) => {
                progress.set_stage(IngestStage::Downloading);
                if client.is_none() {
                    let built = reqwest::Client::builder()
                        .connect_timeout(settings.download.timeout)
                        .build()
                        .map_err(|error| {
                            Failure::BeforeIngest(format!(
                                "failed to set up the HTTP client: {error}"
                            ))
                        })?;
                    client = Some(built);
                }
                let client = client.as_ref().expect("the client was built above");
                let path = temporary.path().join(file_name(url, index));
                download(client, url, &path, settings.download, progress)
                    .await
                    .map_err(|error| Failure::BeforeIngest(error.to_string()))?;
                files.push(path);
            }
        }
    }
    let tracking = Tracking {
        run_id: Some(id),
        progress: Some(progress),
        source_names: names.to_vec(),
        reporter: None,
    };
    let summary =
        dnsbl_ingest::ingest_tracked(&state.store, &files, None, &settings.limit, &tracking)
            .await
            .map_err(|_| Failure::Recorded)?;
    Ok(summary.serial)
}

/// Wakes the reload loop and waits until it serves `serial` or a later one.
async fn wait_for_snapshot(state: &AppState, serial: u32) {
    state.listings_changed.notify_one();
    let deadline = Instant::now() + SWAP_TIMEOUT;
    while state.snapshot.load().serial < serial {
        if Instant::now() > deadline {
            tracing::warn!(
                serial,
                "the ingest committed, but the server did not serve its data within {SWAP_TIMEOUT:?}; see the reload errors in the log"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
