//! The admin HTTP API of dnsbl (axum, JSON over HTTP/1.1, versioned under `/v1`).
//!
//! Operators edit the register from scripts and look up why an address or domain is
//! listed. Every request needs an RFC 6750 bearer token (see [`auth`]); writes need the
//! admin role and are recorded in the audit log. A write that changes the listings expands
//! the register again and wakes the reload loop through a [`Notify`], which swaps in the
//! new snapshot.
//!
//! Routes:
//! - `GET /v1/providers?limit=&offset=&name=&asn=&contains=`, `POST /v1/providers`
//! - `GET|PUT /v1/providers/{name}`, `POST /v1/providers/{name}/delist|relist`
//! - `GET|POST /v1/allow?limit=&offset=`, `DELETE /v1/allow/{id}`
//! - `GET|POST /v1/operators?limit=&offset=`, `GET|PUT /v1/operators/{name}`
//! - `GET /v1/lookup/{address-or-domain}`, `GET /v1/zones`
//! - `GET|POST /v1/categories`, `GET|PUT /v1/categories/{name}`
//! - `POST /v1/ingest`, `GET /v1/ingest-runs?limit=&offset=`, `GET /v1/ingest-runs/{id}`
//! - `GET /v1/audit?limit=&offset=`, `GET /metrics`, `GET /v1/openapi.json`
//!
//! Every error, including axum's own rejections, has the JSON body of [`ErrorResponse`].

mod allow;
mod auth;
mod body;
mod categories;
mod download;
mod error;
mod http_server;
mod ingest;
mod ingest_source;
mod ingest_task;
mod lookup;
mod metrics;
mod openapi;
mod operators;
mod providers;
mod reads;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use dnsbl_core::{QueryCounters, Snapshot};
use dnsbl_store::Store;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use download::DownloadLimits;
pub use error::{ApiError, ErrorBody, ErrorResponse};
pub use ingest::{IngestSettings, IngestSource, Ingests};
pub use lookup::{
    AllowMatch, LookupError, LookupMatch, LookupQuery, allow_entries_covering, listings_covering,
};
pub use metrics::{AdminMetrics, record_reload};
pub use openapi::document as openapi_document;

/// What the API works on.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The snapshot being served, for lookups and metrics.
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    /// Notified after a write that changed the listings; the reload loop waits on it.
    pub listings_changed: Arc<Notify>,
    pub metrics: Arc<AdminMetrics>,
    /// The DNS listeners' response counters.
    pub queries: Arc<QueryCounters>,
    /// The sources of `POST /v1/ingest` and its running ingest.
    pub ingests: Arc<Ingests>,
}

impl AppState {
    /// Expands the register again and wakes the reload loop.
    async fn listings_changed(&self) -> Result<(), ApiError> {
        let started = std::time::Instant::now();
        dnsbl_ingest::expand(&self.store)
            .await
            .map_err(ApiError::internal)?;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.metrics
            .last_expansion_micros
            .store(micros, Ordering::Relaxed);
        self.metrics.listing_writes.fetch_add(1, Ordering::Relaxed);
        self.listings_changed.notify_one();
        Ok(())
    }

    /// Wakes the reload loop after a write that changed answers but not the listed ranges
    /// (a category's code or TXT template), so no expansion is needed.
    fn answers_changed(&self) {
        self.listings_changed.notify_one();
    }
}

/// Every route with its OpenAPI operation. Routes are added only through `routes!`, which
/// takes the method and path from each handler's `#[utoipa::path]`, so the router and the
/// document cannot disagree.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<openapi::BaseDocument as utoipa::OpenApi>::openapi())
        .routes(routes!(providers::list, providers::create))
        .routes(routes!(providers::get, providers::update))
        .routes(routes!(providers::delist))
        .routes(routes!(providers::relist))
        .routes(routes!(allow::list, allow::create))
        .routes(routes!(allow::delete))
        .routes(routes!(operators::list, operators::create))
        .routes(routes!(operators::get, operators::update))
        .routes(routes!(reads::lookup))
        .routes(routes!(reads::zones))
        .routes(routes!(categories::list, categories::create))
        .routes(routes!(categories::get, categories::update))
        .routes(routes!(ingest::start))
        .routes(routes!(ingest::list))
        .routes(routes!(ingest::get))
        .routes(routes!(reads::audit))
        .routes(routes!(metrics::render))
        .routes(routes!(openapi::openapi_json))
}

/// The router with every route, authentication and the body size limit.
pub fn router(state: AppState) -> Router {
    let (routes, _document) = api_router().split_for_parts();
    routes
        .fallback(reads::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(error::json_errors))
        .with_state(state)
}

/// Binds `listen` and serves the API in a spawned task; returns the bound address.
pub async fn spawn(
    listen: SocketAddr,
    state: AppState,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    // A run recorded as running by an earlier process never finishes otherwise.
    match state
        .store
        .fail_unfinished_runs("interrupted: the server stopped before the ingest finished")
        .await
    {
        Ok(0) => {}
        Ok(count) => tracing::warn!(count, "marked ingest runs of an earlier process as failed"),
        Err(error) => tracing::error!(%error, "failed to mark unfinished ingest runs as failed"),
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    let app = router(state);
    let task = tokio::spawn(async move {
        http_server::serve(listener, app, http_server::ConnectionLimits::DEFAULT).await;
    });
    Ok((bound, task))
}
