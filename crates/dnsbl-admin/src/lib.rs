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
//! - `GET /v1/lookup/{address-or-domain}`, `GET /v1/zones`, `GET /v1/categories`
//! - `GET /v1/audit?limit=&offset=`, `GET /metrics`

mod auth;
mod body;
mod error;
mod lookup;
mod metrics;
mod providers;
mod reads;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use dnsbl_core::Snapshot;
use dnsbl_store::Store;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use error::{ApiError, ErrorBody};
pub use lookup::{LookupError, LookupMatch, lookup};
pub use metrics::AdminMetrics;

/// What the API works on.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The snapshot being served, for lookups and metrics.
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    /// Notified after a write that changed the listings; the reload loop waits on it.
    pub listings_changed: Arc<Notify>,
    pub metrics: Arc<AdminMetrics>,
}

impl AppState {
    /// Expands the register again and wakes the reload loop.
    async fn listings_changed(&self) -> Result<(), ApiError> {
        dnsbl_ingest::expand(&self.store)
            .await
            .map_err(ApiError::internal)?;
        self.metrics.listing_writes.fetch_add(1, Ordering::Relaxed);
        self.listings_changed.notify_one();
        Ok(())
    }
}

/// The router with every route, authentication and the body size limit.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/v1/providers",
            get(providers::list).post(providers::create),
        )
        .route(
            "/v1/providers/{name}",
            get(providers::get).put(providers::update),
        )
        .route("/v1/providers/{name}/delist", post(providers::delist))
        .route("/v1/providers/{name}/relist", post(providers::relist))
        .route("/v1/lookup/{query}", get(reads::lookup))
        .route("/v1/zones", get(reads::zones))
        .route("/v1/categories", get(reads::categories))
        .route("/v1/audit", get(reads::audit))
        .route("/metrics", get(metrics::render))
        .fallback(reads::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .with_state(state)
}

/// Binds `listen` and serves the API in a spawned task; returns the bound address.
pub async fn spawn(
    listen: SocketAddr,
    state: AppState,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    let app = router(state);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "admin API stopped");
        }
    });
    Ok((bound, task))
}
