//! The JSON error body of the API:
//! `{"error": {"code": "...", "message": "...", "field": "...", "value": "..."}}`.

use axum::Json;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dnsbl_store::StoreError;
use serde::Serialize;

/// An error response with its HTTP status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds for the `Retry-After` header, for an error that goes away by itself.
    pub retry_after: Option<u32>,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// The error inside [`ErrorResponse`].
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
            retry_after: None,
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
            StoreError::Conflict { kind, name } => {
                // An allow-list entry has no name, so a duplicate has the same `target` and zone.
                let (code, field) = if kind == dnsbl_store::ALLOW_ENTRY_KIND {
                    ("duplicate_entry", "target")
                } else {
                    ("duplicate_name", "name")
                };
                let mut api = ApiError::new(StatusCode::CONFLICT, code, message);
                api.body.field = Some(field.into());
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
        let mut response = (self.status, Json(ErrorResponse { error: self.body })).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

/// Largest error body of an inner layer that [`json_errors`] reads, in bytes. axum's
/// rejection texts are a few hundred bytes.
const MAX_INNER_ERROR_BYTES: usize = 64 * 1024;

/// Rewrites every error response that is not JSON into the JSON error body: axum's
/// rejections of a malformed path or query string (400), an unsupported method (405,
/// keeping the `Allow` header) and any other plain-text error of an inner layer.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_INNER_ERROR_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let allow = parts.headers.get(header::ALLOW).cloned();
    let (code, message) = describe_status(status, &text, allow.as_ref());
    let mut rewritten = ApiError::new(status, code, message).into_response();
    for name in [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

/// The error code and message of a plain-text error response.
fn describe_status(
    status: StatusCode,
    text: &str,
    allow: Option<&header::HeaderValue>,
) -> (&'static str, String) {
    let or_text = |fallback: &str| {
        if text.is_empty() {
            fallback.to_owned()
        } else {
            text.to_owned()
        }
    };
    match status {
        StatusCode::BAD_REQUEST if text.contains("query string") => {
            ("invalid_query", or_text("invalid query string"))
        }
        StatusCode::BAD_REQUEST => ("invalid_request", or_text("malformed request")),
        StatusCode::NOT_FOUND => ("not_found", or_text("not found")),
        StatusCode::METHOD_NOT_ALLOWED => {
            // axum adds the Allow header outside this layer, so it is usually absent here.
            let message = match allow.and_then(|value| value.to_str().ok()) {
                Some(allowed) if !allowed.is_empty() => {
                    format!("the method is not allowed on this path; allowed: {allowed}")
                }
                _ => "the method is not allowed on this path; the Allow header lists the \
                      allowed methods"
                    .to_owned(),
            };
            ("method_not_allowed", message)
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", crate::body::too_large_message()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            or_text("unsupported content type"),
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid_field", or_text("invalid request")),
        status if status.is_server_error() => {
            tracing::error!(%status, body = %text, "admin request failed in an inner layer");
            ("internal", "internal error; see the server log".to_owned())
        }
        status => (
            "request_failed",
            or_text(status.canonical_reason().unwrap_or("request failed")),
        ),
    }
}
