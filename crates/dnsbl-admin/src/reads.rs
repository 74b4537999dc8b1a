//! Read-only endpoints: lookup, zones, categories and the audit log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use dnsbl_core::ZoneKind;
use dnsbl_store::AuditEntry;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::lookup::LookupMatch;
use crate::providers::page_bounds;

#[derive(Debug, Serialize)]
pub struct LookupResponse {
    pub query: String,
    pub serial: u32,
    pub listed: bool,
    pub listings: Vec<LookupMatch>,
}

pub async fn lookup(
    State(state): State<AppState>,
    Path(query): Path<String>,
) -> Result<Json<LookupResponse>, ApiError> {
    let snapshot = state.snapshot.load();
    let listings = crate::lookup::lookup(&snapshot, &query)
        .map_err(|error| ApiError::invalid("invalid_lookup", "query", &query, error.1))?;
    Ok(Json(LookupResponse {
        query,
        serial: snapshot.serial,
        listed: !listings.is_empty(),
        listings,
    }))
}

#[derive(Debug, Serialize)]
pub struct ZoneInfo {
    pub name: String,
    pub kind: &'static str,
    pub ttl: u32,
    pub categories: Option<Vec<String>>,
}

pub async fn zones(State(state): State<AppState>) -> Json<Vec<ZoneInfo>> {
    let snapshot = state.snapshot.load();
    Json(
        snapshot
            .zones
            .iter()
            .map(|zone| ZoneInfo {
                name: zone.spec.name.clone(),
                kind: match zone.spec.kind {
                    ZoneKind::Address => "address",
                    ZoneKind::Domain => "domain",
                },
                ttl: zone.spec.ttl,
                categories: zone.spec.categories.clone(),
            })
            .collect(),
    )
}

#[derive(Debug, Serialize)]
pub struct CategoryInfo {
    pub name: String,
    pub code: String,
    pub txt: String,
}

pub async fn categories(State(state): State<AppState>) -> Json<Vec<CategoryInfo>> {
    let snapshot = state.snapshot.load();
    Json(
        snapshot
            .categories
            .iter()
            .map(|category| CategoryInfo {
                name: category.name.clone(),
                code: category.code.to_string(),
                txt: category.txt.clone(),
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
