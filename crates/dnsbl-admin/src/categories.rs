//! `/v1/categories`: list, read, create and update categories, which give a listing its
//! A record value (RFC 5782 §2.1: 127.0.0.0/8) and its TXT text.

use std::net::Ipv4Addr;

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{Method, StatusCode, Uri};
use dnsbl_core::answer::PLACEHOLDERS;
use dnsbl_core::{AnswerStyle, Category, Snapshot};
use dnsbl_store::{CategoryRecord, NewCategory, TokenInfo};
use serde::Deserialize;

use crate::AppState;
use crate::body::{JsonBody, check_body_name, check_name};
use crate::error::{ApiError, ErrorResponse};
use crate::providers::audit;

/// The body of `POST /v1/categories` and `PUT /v1/categories/{name}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryBody {
    /// Required on create; on update it must match the path if given.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,100}$")]
    pub name: Option<String>,
    /// The A record value, in 127.0.0.0/8 but not 127.0.0.0, 127.0.0.1 or 127.255.255.0/24.
    #[schema(pattern = "^127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}$")]
    pub code: String,
    /// TXT template with the placeholders `{query}`, `{provider}`, `{operator}`,
    /// `{source}`, `{asn}`, `{netblock}`, `{category}` and `{lookup_url}`; `{{` and `}}`
    /// write a brace.
    pub txt: String,
}

impl CategoryBody {
    /// Checks the code against the rules of every served zone and the template, and
    /// returns the category named `name`. The name is checked only on create, as for
    /// providers, because a PUT names a category that exists.
    fn validate(self, name: &str, snapshot: &Snapshot) -> Result<NewCategory, ApiError> {
        let code: Ipv4Addr = self.code.parse().map_err(|_| {
            ApiError::invalid(
                "invalid_code",
                "code",
                &self.code,
                "expected an IPv4 address in 127.0.0.0/8, such as 127.0.0.5",
            )
        })?;
        let category = Category {
            name: name.to_owned(),
            code,
            txt: self.txt,
        };
        category.validate().map_err(|error| {
            ApiError::invalid("invalid_code", "code", &self.code, error.to_string())
        })?;
        for zone in &snapshot.zones {
            let spec = &zone.spec;
            if spec.style == AnswerStyle::Multi && spec.serves_category(name) {
                category.validate_single_bit(&spec.name).map_err(|error| {
                    ApiError::invalid("invalid_code", "code", &self.code, error.to_string())
                })?;
            }
        }
        check_template(&category.txt)?;
        if dnsbl_core::answer::placeholders(&category.txt).contains(&"lookup_url") {
            let without_url = snapshot.zones.iter().map(|zone| &zone.spec).find(|spec| {
                spec.lookup_url.is_none() && spec.includes.is_empty() && spec.serves_category(name)
            });
            if let Some(spec) = without_url {
                return Err(ApiError::invalid(
                    "invalid_txt",
                    "txt",
                    &category.txt,
                    format!(
                        "the template uses {{lookup_url}}, but zone {} serves this category \
                         and has no lookup_url",
                        spec.name
                    ),
                ));
            }
        }
        Ok(NewCategory {
            name: category.name,
            code,
            txt: category.txt,
        })
    }
}

/// Rejects a TXT template that [`dnsbl_core::answer::check_template`] rejects, as
/// register.toml does.
fn check_template(txt: &str) -> Result<(), ApiError> {
    dnsbl_core::answer::check_template(txt, "txt", &PLACEHOLDERS)
        .map_err(|message| ApiError::invalid("invalid_txt", "txt", txt, message))
}

/// Lists the categories by name.
#[utoipa::path(
    get,
    path = "/v1/categories",
    tag = "categories",
    responses(
        (status = 200, description = "Every category", body = Vec<CategoryRecord>),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
    )
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<CategoryRecord>>, ApiError> {
    Ok(Json(state.store.list_categories().await?))
}

/// Returns one category.
#[utoipa::path(
    get,
    path = "/v1/categories/{name}",
    tag = "categories",
    params(("name" = String, Path, description = "Category name")),
    responses(
        (status = 200, description = "The category", body = CategoryRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 404, description = "No category of that name", body = ErrorResponse),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<CategoryRecord>, ApiError> {
    Ok(Json(state.store.get_category(&name).await?))
}

/// Creates a category; providers can use it at once.
#[utoipa::path(
    post,
    path = "/v1/categories",
    tag = "categories",
    request_body = CategoryBody,
    responses(
        (status = 201, description = "The category was created", body = CategoryRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 403, description = "The token has the read role", body = ErrorResponse),
        (status = 409, description = "A category of that name exists", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<TokenInfo>,
    method: Method,
    uri: Uri,
    JsonBody(body): JsonBody<CategoryBody>,
) -> Result<(StatusCode, Json<CategoryRecord>), ApiError> {
    crate::ingest::reject_write_while_ingesting(&state)?;
    let name = body.name.clone().unwrap_or_default();
    check_name(&name)?;
    dnsbl_core::snapshot::check_category_name(&name)
        .map_err(|message| ApiError::invalid("invalid_name", "name", &name, message))?;
    let category = body.validate(&name, &state.snapshot.load())?;
    let record = state
        .store
        .create_category(&audit(&caller, &method, &uri), &category)
        .await?;
    state.answers_changed();
    Ok((StatusCode::CREATED, Json(record)))
}

/// Replaces the code and TXT template of a category created through the API; DNS answers
/// with them within milliseconds.
#[utoipa::path(
    put,
    path = "/v1/categories/{name}",
    tag = "categories",
    params(("name" = String, Path, description = "Category name")),
    request_body = CategoryBody,
    responses(
        (status = 200, description = "The category was updated", body = CategoryRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 403, description = "The token has the read role", body = ErrorResponse),
        (status = 404, description = "No category of that name", body = ErrorResponse),
        (status = 409, description = "The category comes from register.toml", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<TokenInfo>,
    method: Method,
    uri: Uri,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<CategoryBody>,
) -> Result<Json<CategoryRecord>, ApiError> {
    crate::ingest::reject_write_while_ingesting(&state)?;
    check_body_name("category", &name, body.name.as_ref())?;
    let category = body.validate(&name, &state.snapshot.load())?;
    let record = state
        .store
        .update_category(&audit(&caller, &method, &uri), &category)
        .await?;
    state.answers_changed();
    Ok(Json(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_checks() {
        let cases = [
            ("{query} is listed by {provider}", None),
            ("{{literal}} {category}", None),
            ("see {lookup_url}", None),
            ("", None),
            ("{querry} listed", Some("unknown placeholder {querry}")),
            ("{query listed", Some("unclosed '{'")),
            ("{} listed", Some("unknown placeholder {}")),
            ("a\nb", Some("control character")),
            ("a } b", Some("unmatched '}' at character 3 in txt")),
        ];
        for (template, expected) in cases {
            let result = check_template(template);
            match expected {
                None => assert!(result.is_ok(), "template {template:?}: {result:?}"),
                Some(text) => {
                    let error = result.expect_err(template);
                    assert_eq!(error.body.code, "invalid_txt", "template {template:?}");
                    assert!(
                        error.body.message.contains(text),
                        "template {template:?}: {}",
                        error.body.message
                    );
                }
            }
        }
        let long = "x".repeat(dnsbl_core::answer::MAX_TEMPLATE_BYTES + 1);
        let error = check_template(&long).unwrap_err();
        assert_eq!(error.body.field.as_deref(), Some("txt"));
        assert_eq!(
            error.body.message,
            "txt is 1001 bytes long, more than the maximum of 1000 bytes"
        );
    }
}
