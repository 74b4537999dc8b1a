//! Every operation of the live OpenAPI document of the real binary, sent malformed path
//! parameters, query strings and bodies: no response is a 5xx, and every error has the
//! JSON error body. A bounded, Python-free counterpart of `bench/schemathesis.sh`.

use std::net::SocketAddr;

use crate::admin::{create_token, start};
use crate::http::{Response, request};

/// Path parameter values, percent-encoded as they go on the request line.
const PATH_VALUES: &[&str] = &[
    "x",
    "-1",
    "0",
    "99999999999999999999",
    "%00",
    "%ff",
    "..%2F..",
    "a%20b",
    "%C3%A9",
    "1e3",
    "%7Bname%7D",
    "test",
];

/// Query strings, each sent alone.
const QUERIES: &[&str] = &[
    "limit=abc",
    "limit=-5",
    "limit=0",
    "offset=-1",
    "limit=99999999999999999999",
    "unknown=1",
    "limit=1&limit=2",
    "%zz=1",
    "=",
    "&&&",
    "name=%00",
    "contains=300.1.1.1",
    "asn=ASX",
    "asn=AS99999999999",
];

/// Request bodies of POST and PUT operations.
fn bodies() -> Vec<String> {
    let mut bodies: Vec<String> = [
        "",
        "{",
        "[]",
        "null",
        "42",
        "\"text\"",
        "{}",
        r#"{"name": 5}"#,
        r#"{"name": "x", "category": [], "code": {}, "txt": null}"#,
        r#"{"name": "\u0000", "code": "127.0.0.2", "txt": "", "category": "x", "reason": "r", "target": "\u0000"}"#,
        r#"{"asns": [1e400], "netblocks": ["::/0"], "category": "x", "name": "n"}"#,
        r#"{"unknown": true}"#,
    ]
    .iter()
    .map(|body| body.to_string())
    .collect();
    bodies.push(format!("{}{}", "[".repeat(5000), "]".repeat(5000)));
    bodies.push(format!(r#"{{"name": "{}"}}"#, "a".repeat(100_000)));
    bodies
}

/// Fills the path parameters with values that match no stored record.
fn concrete(template: &str) -> String {
    template
        .replace("{name}", "no-such-name")
        .replace("{query}", "192.0.2.1")
        .replace("{id}", "999999")
}

/// Replaces every path parameter of `template` with `value`.
fn with_value(template: &str, value: &str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        path.push_str(value);
        let close = rest[open..].find('}').expect("a closed path parameter") + open;
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    path
}

fn check(response: &Response, what: &str) {
    assert!(
        response.status < 500,
        "{what} got {}: {}",
        response.status,
        response.body
    );
    if response.status >= 400 {
        let body: serde_json::Value =
            serde_json::from_str(&response.body).unwrap_or_else(|error| {
                panic!(
                    "{what}: error body is not JSON ({error}): {}",
                    response.body
                )
            });
        assert!(
            body["error"]["code"].is_string(),
            "{what}: {}",
            response.body
        );
        assert!(
            body["error"]["message"].is_string(),
            "{what}: {}",
            response.body
        );
    }
}

fn operations(admin: SocketAddr, token: &str) -> Vec<(String, String)> {
    let document = request(admin, "GET", "/v1/openapi.json", Some(token), None).json();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths object") {
        for method in item.as_object().expect("path item object").keys() {
            operations.push((method.to_ascii_uppercase(), path.clone()));
        }
    }
    operations
}

#[test]
fn malformed_requests_get_json_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("dnsbl.db");
    let token = create_token(&db, "ops", "admin");
    let (_server, admin) = start(&db);
    let token = token.as_str();
    let operations = operations(admin, token);
    assert!(operations.len() >= 20, "operations {operations:?}");
    let bodies = bodies();
    let mut sent = 0;
    for (method, template) in &operations {
        if template.contains('{') {
            for value in PATH_VALUES {
                let path = with_value(template, value);
                let response = request(admin, method, &path, Some(token), None);
                check(&response, &format!("{method} {path}"));
                sent += 1;
            }
        }
        let path = concrete(template);
        for query in QUERIES {
            let target = format!("{path}?{query}");
            let response = request(admin, method, &target, Some(token), None);
            check(&response, &format!("{method} {target}"));
            sent += 1;
        }
        if method == "POST" || method == "PUT" {
            for body in &bodies {
                let response = request(admin, method, &path, Some(token), Some(body));
                let shown: String = body.chars().take(80).collect();
                check(&response, &format!("{method} {path} with body {shown}"));
                sent += 1;
            }
        }
    }
    assert!(sent > 300, "sent {sent} requests");
}

#[test]
fn router_errors_are_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("dnsbl.db");
    let token = create_token(&db, "ops", "admin");
    let (_server, admin) = start(&db);
    let token = Some(token.as_str());
    let cases = [
        ("GET", "/v1/providers?limit=abc", 400, "invalid_query"),
        ("GET", "/v1/audit?unknown=1", 400, "invalid_query"),
        ("PATCH", "/v1/zones", 405, "method_not_allowed"),
        ("DELETE", "/v1/providers/x", 405, "method_not_allowed"),
        ("GET", "/v1/no-such-route", 404, "not_found"),
        ("GET", "/v1/providers/no-such-name", 404, "not_found"),
    ];
    for (method, path, status, code) in cases {
        let response = request(admin, method, path, token, None);
        assert_eq!(
            response.status, status,
            "{method} {path}: {}",
            response.body
        );
        let body = response.json();
        assert_eq!(
            body["error"]["code"], code,
            "{method} {path}: {}",
            response.body
        );
        assert!(body["error"]["message"].is_string(), "{method} {path}");
    }
    // serde reads a struct from an array of its fields; the API takes objects only.
    let array = request(
        admin,
        "POST",
        "/v1/operators",
        token,
        Some(r#"["array-name", null, []]"#),
    );
    assert_eq!(array.status, 422, "body: {}", array.body);
    assert_eq!(array.json()["error"]["code"], "invalid_field");
    let missing = request(admin, "GET", "/v1/operators/array-name", token, None);
    assert_eq!(missing.status, 404, "body: {}", missing.body);

    let response = request(admin, "DELETE", "/v1/providers/x", token, None);
    let message = response.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("Allow header"), "message {message:?}");
}
