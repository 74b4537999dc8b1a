//! `/v1/providers`: create, read, update, list, delist and relist providers.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use dnsbl_store::{AuditContext, Page, ProviderFilter, ProviderRecord, TokenInfo};
use serde::Deserialize;

use crate::AppState;
use crate::body::{JsonBody, ProviderBody, check_body_name, check_name};
use crate::error::{ApiError, ErrorResponse};

/// Default and maximum page size of list endpoints.
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub name: Option<String>,
    pub asn: Option<String>,
    pub contains: Option<String>,
}

/// Checks `limit` (1 to [`MAX_LIMIT`]) and `offset` (not negative).
pub fn page_bounds(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "invalid_limit",
            "limit",
            limit.to_string(),
            format!("expected 1 to {MAX_LIMIT}"),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid(
            "invalid_offset",
            "offset",
            offset.to_string(),
            "expected 0 or more",
        ));
    }
    Ok((limit, offset))
}

pub fn audit(caller: &TokenInfo, method: &Method, uri: &Uri) -> AuditContext {
    AuditContext {
        token_name: caller.name.clone(),
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

/// Lists providers, filtered by name, ASN or a contained address, one page at a time.
#[utoipa::path(
    get,
    path = "/v1/providers",
    tag = "providers",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "Entries to skip"),
        ("name" = Option<String>, Query, description = "Exact provider name"),
        ("asn" = Option<String>, Query, description = "AS number like AS64500"),
        ("contains" = Option<String>, Query, description = "An IP address the provider's netblocks cover"),
    ),
    responses(
        (status = 200, description = "One page of providers", body = Page<ProviderRecord>),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<ProviderRecord>>, ApiError> {
    let (limit, offset) = page_bounds(query.limit, query.offset)?;
    let asn = match &query.asn {
        None => None,
        Some(text) => Some(text.trim_start_matches("AS").parse::<u32>().map_err(|_| {
            ApiError::invalid(
                "invalid_asn",
                "asn",
                text,
                "expected an AS number like AS64500",
            )
        })?),
    };
    let contains = match &query.contains {
        None => None,
        Some(text) => Some(text.parse().map_err(|_| {
            ApiError::invalid(
                "invalid_address",
                "contains",
                text,
                "expected an IPv4 or IPv6 address",
            )
        })?),
    };
    let filter = ProviderFilter {
        name: query.name,
        asn,
        contains,
    };
    Ok(Json(
        state.store.list_providers(&filter, limit, offset).await?,
    ))
}

/// Returns one provider.
#[utoipa::path(
    get,
    path = "/v1/providers/{name}",
    tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    responses(
        (status = 200, description = "The provider", body = ProviderRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 404, description = "No provider of that name", body = ErrorResponse),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ProviderRecord>, ApiError> {
    Ok(Json(state.store.get_provider(&name).await?))
}

/// Creates a provider and lists its ranges in DNS.
#[utoipa::path(
    post,
    path = "/v1/providers",
    tag = "providers",
    request_body = ProviderBody,
    responses(
        (status = 201, description = "The provider was created", body = ProviderRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 403, description = "The token has the read role", body = ErrorResponse),
        (status = 409, description = "A provider of that name exists", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<TokenInfo>,
    method: Method,
    uri: Uri,
    JsonBody(body): JsonBody<ProviderBody>,
) -> Result<(StatusCode, Json<ProviderRecord>), ApiError> {
    crate::ingest::reject_write_while_ingesting(&state)?;
    let name = body.name.clone().unwrap_or_default();
    check_name(&name)?;
    let provider = body.validate(&name, &state.ingests.settings.limit)?;
    let record = state
        .store
        .create_provider(&audit(&caller, &method, &uri), &provider)
        .await?;
    state.listings_changed().await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Replaces a provider's fields and lists its new ranges in DNS.
#[utoipa::path(
    put,
    path = "/v1/providers/{name}",
    tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    request_body = ProviderBody,
    responses(
        (status = 200, description = "The provider was updated", body = ProviderRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 403, description = "The token has the read role", body = ErrorResponse),
        (status = 404, description = "No provider of that name", body = ErrorResponse),
        (status = 409, description = "The provider comes from register.toml", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<TokenInfo>,
    method: Method,
    uri: Uri,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<ProviderBody>,
) -> Result<Json<ProviderRecord>, ApiError> {
    crate::ingest::reject_write_while_ingesting(&state)?;
    check_body_name("provider", &name, body.name.as_ref())?;
    let provider = body.validate(&name, &state.ingests.settings.limit)?;
    let record = state
        .store
        .update_provider(&audit(&caller, &method, &uri), &provider)
        .await?;
    state.listings_changed().await?;
    Ok(Json(record))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DelistBody {
    #[schema(min_length = 1, pattern = "\\S")]
    pub reason: String,
}

/// Removes a provider's listings from DNS, keeping it in the register.
#[utoipa::path(
    post,
    path = "/v1/providers/{name}/delist",
    tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    request_body = DelistBody,
    responses(
        (status = 200, description = "The provider was delisted", body = ProviderRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 403, description = "The token has the read role", body = ErrorResponse),
        (status = 404, description = "No provider of that name", body = ErrorResponse),
        (status = 409, description = "The provider is already delisted", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn delist(
    State(state): State<AppState>,
    Extension(caller): Extension<TokenInfo>,
    method: Method,
    uri: Uri,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<DelistBody>,
) -> Result<Json<ProviderRecord>, ApiError> {
    crate::ingest::reject_write_while_ingesting(&state)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::invalid(
            "invalid_reason",
            "reason",
            body.reason,
            "a delisting needs a reason",
        ));
    }
    let record = state
        .store
        .set_provider_listed(&audit(&caller, &method, &uri), &name, Some(&body.reason))
        .await?;
    state.listings_changed().await?;
    Ok(Json(record))
}

/// Lists a delisted provider in DNS again.
#[utoipa::path(
    post,
    path = "/v1/providers/{name}/relist",
    tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    responses(
        (status = 200, description = "The provider was relisted", body = ProviderRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 403, description = "The token has the read role", body = ErrorResponse),
        (status = 404, description = "No provider of that name", body = ErrorResponse),
        (status = 409, description = "The provider is listed already", body = ErrorResponse),
    )
)]
pub async fn relist(
    State(state): State<AppState>,
    Extension(caller): Extension<TokenInfo>,
    method: Method,
    uri: Uri,
    Path(name): Path<String>,
) -> Result<Json<ProviderRecord>, ApiError> {
    crate::ingest::reject_write_while_ingesting(&state)?;
    let record = state
        .store
        .set_provider_listed(&audit(&caller, &method, &uri), &name, None)
        .await?;
    state.listings_changed().await?;
    Ok(Json(record))
}
