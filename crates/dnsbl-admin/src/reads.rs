//! Read-only endpoints: lookup, zones and the audit log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use dnsbl_store::AuditEntry;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, ErrorResponse};
use crate::lookup::{AllowMatch, LookupMatch, LookupQuery};
use crate::providers::page_bounds;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LookupResponse {
    pub query: String,
    pub serial: u32,
    pub listed: bool,
    pub listings: Vec<LookupMatch>,
    /// The allow-list entries that exempt the query, read from the store at request time.
    /// Right after a write they can be ahead of `serial` until the reload swaps in the
    /// new snapshot.
    pub allow_entries: Vec<AllowMatch>,
}

/// Returns every listing that covers an IP address or a domain, and every allow-list
/// entry that exempts it.
#[utoipa::path(
    get,
    path = "/v1/lookup/{query}",
    tag = "reads",
    params(("query" = String, Path, description = "An IPv4 or IPv6 address, or a domain name")),
    responses(
        (status = 200, description = "The listings and allow-list entries covering the query", body = LookupResponse),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 422, description = "Neither an address nor a domain", body = ErrorResponse),
    )
)]
pub async fn lookup(
    State(state): State<AppState>,
    Path(query): Path<String>,
) -> Result<Json<LookupResponse>, ApiError> {
    let parsed = LookupQuery::parse(&query)
        .map_err(|error| ApiError::invalid("invalid_lookup", "query", &query, error.1))?;
    // Read before the snapshot is loaded, so that no snapshot guard is held across the
    // await. NOTE: this reads every allow-list entry per request, so the cost of a lookup
    // grows with the allow list.
    let entries = state.store.list_allow_targets().await?;
    let snapshot = state.snapshot.load();
    let listings = crate::lookup::listings_covering(&snapshot, &parsed);
    let allow_entries = crate::lookup::allow_entries_covering(&snapshot, &parsed, &entries);
    Ok(Json(LookupResponse {
        query,
        serial: snapshot.serial,
        listed: !listings.is_empty(),
        listings,
        allow_entries,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ZoneInfo {
    pub name: String,
    pub kind: &'static str,
    pub ttl: u32,
    pub categories: Option<Vec<String>>,
}

/// Lists the zones being served.
#[utoipa::path(
    get,
    path = "/v1/zones",
    tag = "reads",
    responses(
        (status = 200, description = "Every zone", body = Vec<ZoneInfo>),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
    )
)]
pub async fn zones(State(state): State<AppState>) -> Json<Vec<ZoneInfo>> {
    let snapshot = state.snapshot.load();
    Json(
        snapshot
            .zones
            .iter()
            .map(|zone| ZoneInfo {
                name: zone.spec.name.clone(),
                kind: zone.spec.kind.as_str(),
                ttl: zone.spec.ttl,
                categories: zone.spec.categories.clone(),
            })
            .collect(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Lists the audit log, newest first.
#[utoipa::path(
    get,
    path = "/v1/audit",
    tag = "reads",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "Entries to skip"),
    ),
    responses(
        (status = 200, description = "One page of audit entries", body = Vec<AuditEntry>),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn audit(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let (limit, offset) = page_bounds(query.limit, query.offset)?;
    Ok(Json(state.store.list_audit(limit, offset).await?))
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}
