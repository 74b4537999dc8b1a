//! `GET /v1/openapi.json` of the real binary against the live router: every documented
//! method and path is routed, no other method is routed on a documented path, and the set
//! of routes is the one this test expects.

use std::collections::BTreeSet;

use crate::admin::{create_token, start};
use crate::http::request;

/// Every route of the admin API, as (method, path template).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/metrics"),
    ("DELETE", "/v1/allow/{id}"),
    ("GET", "/v1/allow"),
    ("POST", "/v1/allow"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/categories"),
    ("POST", "/v1/categories"),
    ("GET", "/v1/categories/{name}"),
    ("PUT", "/v1/categories/{name}"),
    ("POST", "/v1/ingest"),
    ("GET", "/v1/ingest-runs"),
    ("GET", "/v1/ingest-runs/{id}"),
    ("GET", "/v1/lookup/{query}"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/operators"),
    ("POST", "/v1/operators"),
    ("GET", "/v1/operators/{name}"),
    ("PUT", "/v1/operators/{name}"),
    ("GET", "/v1/providers"),
    ("POST", "/v1/providers"),
    ("GET", "/v1/providers/{name}"),
    ("PUT", "/v1/providers/{name}"),
    ("POST", "/v1/providers/{name}/delist"),
    ("POST", "/v1/providers/{name}/relist"),
    ("GET", "/v1/zones"),
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH"];

/// Fills the path parameters with values that match no stored provider.
fn concrete(template: &str) -> String {
    template
        .replace("{name}", "no-such-provider")
        .replace("{query}", "192.0.2.1")
        .replace("{id}", "999999")
}

/// Whether the response is the router's fallback for a path it does not route.
fn unrouted(body: &str) -> bool {
    body.contains("no such route")
}

/// Checks that every JSON success response of an operation has a named schema (a
/// `$ref`, or an array or page of them) and every error response the error schema.
fn check_response_schemas(method: &str, path: &str, operation: &serde_json::Value) {
    let responses = operation["responses"]
        .as_object()
        .expect("responses object");
    for (status, response) in responses {
        let schema = &response["content"]["application/json"]["schema"];
        let what = format!("{method} {path} {status}: {schema}");
        if status.starts_with('2') {
            if path == "/v1/openapi.json" || path == "/metrics" {
                continue;
            }
            let named = schema["$ref"].is_string()
                || schema["items"]["$ref"].is_string()
                || schema["properties"]["items"]["items"]["$ref"].is_string();
            assert!(named, "success without a named schema: {what}");
        } else {
            assert_eq!(
                schema["$ref"], "#/components/schemas/ErrorResponse",
                "error without the error schema: {what}"
            );
        }
    }
}

#[test]
fn openapi_document_matches_router() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("dnsbl.db");
    let admin_token = create_token(&db, "ops", "admin");
    let read_token = create_token(&db, "reader", "read");
    let (_server, admin) = start(&db);

    let anonymous = request(admin, "GET", "/v1/openapi.json", None, None);
    assert_eq!(anonymous.status, 401, "body: {}", anonymous.body);

    let response = request(admin, "GET", "/v1/openapi.json", Some(&read_token), None);
    assert_eq!(response.status, 200, "body: {}", response.body);
    let document = response.json();
    let version = document["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1"), "openapi version {version}");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    let mut documented = BTreeSet::new();
    let paths = document["paths"].as_object().expect("paths object");
    for (path, item) in paths {
        for method in item.as_object().expect("path item object").keys() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(documented, expected);

    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item object") {
            check_response_schemas(method, path, operation);
        }
    }

    for path in paths.keys() {
        let target = concrete(path);
        for method in METHODS {
            let response = request(admin, method, &target, Some(&admin_token), None);
            assert!(
                !unrouted(&response.body),
                "{method} {target} fell through to the fallback: {}",
                response.body
            );
            let is_documented = documented.contains(&(method.to_string(), path.clone()));
            if is_documented {
                assert_ne!(
                    response.status, 405,
                    "{method} {target} is documented but not routed"
                );
            } else {
                assert_eq!(
                    response.status, 405,
                    "{method} {target} is routed but not documented: {}",
                    response.body
                );
            }
        }
    }

    let unknown = request(admin, "GET", "/v1/no-such-route", Some(&admin_token), None);
    assert_eq!(unknown.status, 404);
    assert!(unrouted(&unknown.body), "body: {}", unknown.body);
}
