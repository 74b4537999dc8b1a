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

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dnsbl_ingest::{IngestProgress, IngestStage};
use dnsbl_store::{RunKind, StoredRun, TokenInfo};
use serde::Serialize;

use crate::AppState;
use crate::error::{ApiError, ErrorResponse};
pub use crate::ingest_source::{IngestSettings, IngestSource};
use crate::providers::page_bounds;
use crate::reads::PageQuery;

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

/// Returns 409 `ingest_running` while an ingest started through the API runs. Every
/// write handler calls it first: the ingest holds SQLite's write lock for its whole
/// transaction, which for the full routing data takes longer than the store's busy
/// timeout, so a write would otherwise wait and then fail with "database is locked".
pub(crate) fn reject_write_while_ingesting(state: &AppState) -> Result<(), ApiError> {
    let Some(running) = state.ingests.running() else {
        return Ok(());
    };
    let mut error = ApiError::new(
        StatusCode::CONFLICT,
        "ingest_running",
        format!(
            "ingest run {} is replacing the routing data; retry this write when \
             GET /v1/ingest-runs/{} reports it finished",
            running.id, running.id
        ),
    );
    error.retry_after = Some(5);
    Err(error)
}

#[derive(Clone, Debug)]
pub(crate) struct RunningIngest {
    pub(crate) id: i64,
    pub(crate) progress: Arc<IngestProgress>,
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
                run.bytes_downloaded = progress.bytes_downloaded.load(Ordering::Relaxed);
                IngestRunView {
                    run,
                    stage: progress.stage().as_str(),
                    rows_read: progress.rows_read.load(Ordering::Relaxed),
                    ranges_stored: progress.ranges_stored.load(Ordering::Relaxed),
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
    tokio::spawn(crate::ingest_task::run_in_background(
        state.clone(),
        running,
        names,
    ));
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

pub(crate) fn clear_running(state: &AppState) {
    set_running(state, None);
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
        (status = 422, description = "The id is not plain decimal digits", body = ErrorResponse),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<IngestRunView>, ApiError> {
    let id = crate::body::parse_path_id(&id, "expected a run id from GET /v1/ingest-runs")?;
    let running = state.ingests.running();
    let run = state.store.get_run(id).await?;
    Ok(Json(IngestRunView::new(run, running.as_ref())))
}
