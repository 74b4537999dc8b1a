//! The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]`
//! annotations, and `GET /v1/openapi.json`, which returns it.
//!
//! The router is built only from those annotations (see [`crate::api_router`]), so every
//! routed method and path is in the document and every path in the document is routed.

use std::sync::OnceLock;

use axum::Json;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;

/// Name of the bearer-token security scheme in the document.
pub const SECURITY_SCHEME: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dnsbl admin API",
        description = "Register edits, lookups, audit log and metrics of a dnsbl server. \
            Every request needs a bearer token; writes need the admin role."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(ErrorBody))
)]
pub struct BaseDocument;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SECURITY_SCHEME,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Returns the document of every route, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| crate::api_router().into_openapi())
}

/// Returns the OpenAPI document of this API. It needs a token like every other read.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    )
)]
pub async fn openapi_json() -> Json<&'static Document> {
    Json(document())
}
