//! `POST /v1/ingest` and `/v1/ingest-runs`: an ingest of the routing data sources that
//! `dnsbl serve --ingest-source` configures, run in the background, one at a time.
//!
//! A source is a local file or an HTTP(S) URL, never a value from the request: an API
//! token must not be able to make the server fetch an arbitrary address. URLs are
//! downloaded to a temporary directory first. The files then go through the same
//! transactional ingest as `dnsbl ingest`, so a failed run leaves the stored data as it
//! was. The run is recorded in `ingest_runs` when it starts and polled by its id.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dnsbl_ingest::{IngestProgress, IngestStage, Tracking};
use dnsbl_store::{RunKind, RunRecord, StoredRun, TokenInfo};
use serde::Serialize;

use crate::AppState;
use crate::download::{download, file_name};
use crate::error::{ApiError, ErrorResponse};
pub use crate::ingest_source::{IngestSettings, IngestSource};
use crate::providers::page_bounds;
use crate::reads::PageQuery;

/// How long a finished ingest waits for the reload loop to serve its serial before it
/// reports the run as finished anyway.
const SWAP_TIMEOUT: Duration = Duration::from_secs(60);

/// The ingest settings and the one ingest that may run at a time.
#[derive(Debug, Default)]
pub struct Ingests {
    pub settings: IngestSettings,
    running: Mutex<Option<RunningIngest>>,
}

impl Ingests {
    pub fn new(settings: IngestSettings) -> Self {
        Ingests {
            settings,
            running: Mutex::default(),
        }
    }

    fn running(&self) -> Option<RunningIngest> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[derive(Clone, Debug)]
struct RunningIngest {
    id: i64,
    progress: Arc<IngestProgress>,
}

/// An ingest run: the stored run, with the live progress while it runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestRunView {
    #[serde(flatten)]
    pub run: StoredRun,
    /// `queued`, `downloading`, `parsing`, `storing` or `finished`.
    pub stage: &'static str,
    /// Routing rows read so far, both families.
    pub rows_read: u64,
    /// Listed ranges written, both families.
    pub ranges_stored: u64,
    /// Bytes downloaded so far; 0 for file sources and for runs of an earlier process.
    pub bytes_downloaded: u64,
}

impl IngestRunView {
    /// Builds the view of `run`. A run that is still in memory reports `running`, even
    /// after its commit, until the snapshot with its data is served.
    fn new(mut run: StoredRun, running: Option<&RunningIngest>) -> Self {
        let finished_rows = u64::try_from(run.rows_v4 + run.rows_v6).unwrap_or(0);
        let finished_ranges = u64::try_from(run.ranges_v4 + run.ranges_v6).unwrap_or(0);
        match running.filter(|running| running.id == run.id) {
            Some(running) => {
                let progress = &running.progress;
                run.status = "running".into();
                run.finished_at = None;
                IngestRunView {
                    run,
                    stage: progress.stage().as_str(),
                    rows_read: progress.rows_read.load(Ordering::Relaxed),
                    ranges_stored: progress.ranges_stored.load(Ordering::Relaxed),
                    bytes_downloaded: progress.bytes_downloaded.load(Ordering::Relaxed),
                }
            }
            None => IngestRunView {
                stage: if run.status == "running" {
                    IngestStage::Queued.as_str()
                } else {
                    IngestStage::Finished.as_str()
                },
                rows_read: finished_rows,
                ranges_stored: finished_ranges,
                bytes_downloaded: 0,
                run,
            },
        }
    }
}

/// Starts an ingest of the configured routing data sources and returns its run at once.
#[utoipa::path(
    post,
    path = "/v1/ingest",
    tag = "ingest",
    responses(
        (status = 202, description = "The ingest started; poll the run at its Location", body = IngestRunView,
            headers(("Location" = String, description = "Path of the run, /v1/ingest-runs/{id}"))),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 403, description = "The token has the read role", body = ErrorResponse),
        (status = 409, description = "An ingest is running, or no source is configured", body = ErrorResponse),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    Extension(caller): Extension<TokenInfo>,
) -> Result<Response, ApiError> {
    let settings = &state.ingests.settings;
    if settings.sources.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "ingest_not_configured",
            "no ingest source is configured; start `dnsbl serve` with --ingest-source \
             PATH-OR-URL",
        ));
    }
    let names: Vec<PathBuf> = settings
        .sources
        .iter()
        .map(|source| PathBuf::from(source.to_string()))
        .collect();

    let running = {
        let mut slot = state
            .ingests
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(running) = slot.as_ref() {
            // A negative id is the placeholder of a run whose row is being written.
            let message = if running.id < 0 {
                "an ingest is starting; retry when it has finished".to_owned()
            } else {
                format!(
                    "ingest run {} is running; poll GET /v1/ingest-runs/{} and retry when it \
                     has finished",
                    running.id, running.id
                )
            };
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "ingest_running",
                message,
            ));
        }
        // The slot is taken before the row is written, so a second request cannot start
        // a second run in between. The placeholder id is replaced below.
        let running = RunningIngest {
            id: -1,
            progress: Arc::default(),
        };
        *slot = Some(running.clone());
        running
    };

    let id = match state.store.start_run(RunKind::Ingest, &names).await {
        Ok(id) => id,
        Err(error) => {
            clear_running(&state);
            return Err(error.into());
        }
    };
    let running = RunningIngest { id, ..running };
    set_running(&state, Some(running.clone()));
    tracing::info!(run = id, token = %caller.name, sources = ?names, "ingest started through the admin API");

    let run = state.store.get_run(id).await?;
    let view = IngestRunView::new(run, Some(&running));
    tokio::spawn(run_in_background(state.clone(), running, names));
    let location = format!("/v1/ingest-runs/{id}");
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

fn set_running(state: &AppState, running: Option<RunningIngest>) {
    *state
        .ingests
        .running
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = running;
}

fn clear_running(state: &AppState) {
    set_running(state, None);
}

/// Downloads, ingests, waits for the new snapshot and finishes the run. Every error is
/// recorded in the run and logged.
async fn run_in_background(state: AppState, running: RunningIngest, names: Vec<PathBuf>) {
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

/// Lists ingest and expansion runs, newest first.
#[utoipa::path(
    get,
    path = "/v1/ingest-runs",
    tag = "ingest",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "Runs to skip"),
    ),
    responses(
        (status = 200, description = "One page of runs", body = Vec<IngestRunView>),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Vec<IngestRunView>>, ApiError> {
    let (limit, offset) = page_bounds(query.limit, query.offset)?;
    let running = state.ingests.running();
    let runs = state.store.list_runs(limit, offset).await?;
    Ok(Json(
        runs.into_iter()
            .map(|run| IngestRunView::new(run, running.as_ref()))
            .collect(),
    ))
}

/// Returns one ingest or expansion run, with its progress while it runs.
#[utoipa::path(
    get,
    path = "/v1/ingest-runs/{id}",
    tag = "ingest",
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = IngestRunView),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 404, description = "No run with that id", body = ErrorResponse),
        (status = 422, description = "The id is not a number", body = ErrorResponse),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<IngestRunView>, ApiError> {
    let id = id.parse::<i64>().map_err(|_| {
        ApiError::invalid(
            "invalid_id",
            "id",
            &id,
            "expected a run id from GET /v1/ingest-runs",
        )
    })?;
    let running = state.ingests.running();
    let run = state.store.get_run(id).await?;
    Ok(Json(IngestRunView::new(run, running.as_ref())))
}
