//! `/v1/operators`: create, read, update and list operators, the organisations behind
//! providers, with their aliases.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use dnsbl_store::{NewOperator, OperatorRecord, Page, TokenInfo};
use serde::Deserialize;

use crate::AppState;
use crate::body::{JsonBody, check_body_name, check_name};
use crate::error::{ApiError, ErrorResponse};
use crate::providers::{audit, page_bounds};
use crate::reads::PageQuery;

/// Longest accepted alias, in characters.
const MAX_ALIAS_CHARS: usize = 200;

/// The body of `POST /v1/operators` and `PUT /v1/operators/{name}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorBody {
    /// Required on create; on update it must match the path if given.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,100}$")]
    pub name: Option<String>,
    pub note: Option<String>,
    /// Other names of the operator, for example a former company name.
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl OperatorBody {
    /// Checks the aliases and returns the operator named `name`. The name is checked on
    /// create only, because operators from register.toml may have any name.
    fn validate(self, name: &str) -> Result<NewOperator, ApiError> {
        let mut aliases = Vec::with_capacity(self.aliases.len());
        for (index, alias) in self.aliases.into_iter().enumerate() {
            let trimmed = alias.trim();
            let valid = !trimmed.is_empty()
                && trimmed.chars().count() <= MAX_ALIAS_CHARS
                && !trimmed.chars().any(char::is_control);
            if !valid {
                return Err(ApiError::invalid(
                    "invalid_alias",
                    format!("aliases[{index}]"),
                    alias,
                    format!(
                        "expected 1 to {MAX_ALIAS_CHARS} characters without control characters"
                    ),
                ));
            }
            aliases.push(trimmed.to_owned());
        }
        Ok(NewOperator {
            name: name.to_owned(),
            note: self.note,
            aliases,
        })
    }
}

/// Lists operators by name, one page at a time.
#[utoipa::path(
    get,
    path = "/v1/operators",
    tag = "operators",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "Entries to skip"),
    ),
    responses(
        (status = 200, description = "One page of operators", body = Page<OperatorRecord>),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<OperatorRecord>>, ApiError> {
    let (limit, offset) = page_bounds(query.limit, query.offset)?;
    Ok(Json(state.store.list_operators(limit, offset).await?))
}

/// Returns one operator.
#[utoipa::path(
    get,
    path = "/v1/operators/{name}",
    tag = "operators",
    params(("name" = String, Path, description = "Operator name")),
    responses(
        (status = 200, description = "The operator", body = OperatorRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 404, description = "No operator of that name", body = ErrorResponse),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<OperatorRecord>, ApiError> {
    Ok(Json(state.store.get_operator(&name).await?))
}

/// Creates an operator, which providers can then name.
#[utoipa::path(
    post,
    path = "/v1/operators",
    tag = "operators",
    request_body = OperatorBody,
    responses(
        (status = 201, description = "The operator was created", body = OperatorRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 403, description = "The token has the read role", body = ErrorResponse),
        (status = 409, description = "An operator of that name exists", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<TokenInfo>,
    method: Method,
    uri: Uri,
    JsonBody(body): JsonBody<OperatorBody>,
) -> Result<(StatusCode, Json<OperatorRecord>), ApiError> {
    crate::ingest::reject_write_while_ingesting(&state)?;
    let name = body.name.clone().unwrap_or_default();
    check_name(&name)?;
    let operator = body.validate(&name)?;
    let record = state
        .store
        .create_operator(&audit(&caller, &method, &uri), &operator)
        .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Replaces an operator's note and aliases.
#[utoipa::path(
    put,
    path = "/v1/operators/{name}",
    tag = "operators",
    params(("name" = String, Path, description = "Operator name")),
    request_body = OperatorBody,
    responses(
        (status = 200, description = "The operator was updated", body = OperatorRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 403, description = "The token has the read role", body = ErrorResponse),
        (status = 404, description = "No operator of that name", body = ErrorResponse),
        (status = 409, description = "The operator comes from register.toml", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<TokenInfo>,
    method: Method,
    uri: Uri,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<OperatorBody>,
) -> Result<Json<OperatorRecord>, ApiError> {
    crate::ingest::reject_write_while_ingesting(&state)?;
    check_body_name("operator", &name, body.name.as_ref())?;
    let operator = body.validate(&name)?;
    let record = state
        .store
        .update_operator(&audit(&caller, &method, &uri), &operator)
        .await?;
    Ok(Json(record))
}
