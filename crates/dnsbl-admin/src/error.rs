//! The JSON error body of the API:
//! `{"error": {"code": "...", "message": "...", "field": "...", "value": "..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dnsbl_store::StoreError;
use serde::Serialize;

/// An error response with its HTTP status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, for example `invalid_netblock`.
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, as a path like `netblocks[0]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The rejected value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                field: None,
                value: None,
            },
        }
    }

    /// A 422 for one field of the request.
    pub fn invalid(
        code: &'static str,
        field: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let mut error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
        error.body.field = Some(field.into());
        error.body.value = Some(value.into());
        error
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "admin request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let message = error.to_string();
        match error {
            StoreError::Conflict { name, .. } => {
                let mut api = ApiError::new(StatusCode::CONFLICT, "duplicate_name", message);
                api.body.field = Some("name".into());
                api.body.value = Some(name);
                api
            }
            StoreError::ReadOnly { name, .. } => {
                let mut api = ApiError::new(StatusCode::CONFLICT, "file_sourced", message);
                api.body.field = Some("name".into());
                api.body.value = Some(name);
                api
            }
            StoreError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            StoreError::Rejected {
                code,
                field,
                value,
                message,
            } => {
                let status = if code == "state_unchanged" {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                let mut api = ApiError::new(status, code, message);
                api.body.field = Some(field);
                api.body.value = Some(value);
                api
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.body });
        (self.status, Json(body)).into_response()
    }
}
