//! The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]`
//! annotations, and `GET /v1/openapi.json`, which returns it.
//!
//! The router is built only from those annotations (see [`crate::api_router`]), so every
//! routed method and path is in the document and every path in the document is routed.

use std::sync::OnceLock;

use axum::Json;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorResponse};

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
    components(schemas(ErrorBody, ErrorResponse))
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

/// Adds the errors that the router and the extractors return for any operation: 400 for
/// a malformed path or query string, and 400, 413 and 422 for a malformed, too large or
/// ill-shaped body. Each is added only where the handler's annotation lacks it.
fn add_common_errors(document: &mut Document) {
    let error = || Content::new(Some(Ref::from_schema_name("ErrorResponse")));
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let mut statuses = vec![(
                "400",
                "Malformed path, query string or body, with the parser's message",
            )];
            if operation.request_body.is_some() {
                statuses.push(("413", "The body is larger than 1 MiB"));
                statuses.push((
                    "422",
                    "The body has the wrong shape (`invalid_field`, with the field path) or \
                     an invalid field",
                ));
            }
            for (status, description) in statuses {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content("application/json", error())
                            .build()
                            .into()
                    });
            }
        }
    }
}

/// Returns the document of every route, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = crate::api_router().into_openapi();
        add_common_errors(&mut document);
        document
    })
}

/// Returns the OpenAPI document of this API. It needs a token like every other read.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
    )
)]
pub async fn openapi_json() -> Json<&'static Document> {
    Json(document())
}
