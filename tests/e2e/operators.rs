//! `/v1/operators` of the real binary: create, read, update and list with aliases,
//! providers naming an operator, audit records, and the error of each invalid write.

use crate::admin::{create_token, start};
use crate::http::{Response, request};

fn assert_error(response: &Response, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(response.status, status, "body: {}", response.body);
    let body = response.json();
    assert_eq!(body["error"]["code"], code, "body: {}", response.body);
    if let Some(field) = field {
        assert_eq!(body["error"]["field"], field, "body: {}", response.body);
    }
}

#[test]
fn operator_writes_with_aliases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("dnsbl.sqlite");
    let admin_token = create_token(&db, "ops", "admin");
    let read_token = create_token(&db, "reader", "read");
    let (_server, admin) = start(&db);
    let token = Some(admin_token.as_str());

    let body = r#"{"name":"example-hosting","note":"bulk mail","aliases":["Example Hosting GmbH"," ExHost "]}"#;
    let created = request(admin, "POST", "/v1/operators", token, Some(body));
    assert_eq!(created.status, 201, "body: {}", created.body);
    let record = created.json();
    assert_eq!(record["name"], "example-hosting");
    assert_eq!(record["note"], "bulk mail");
    assert_eq!(
        record["aliases"],
        serde_json::json!(["ExHost", "Example Hosting GmbH"])
    );
    assert_eq!(record["source"], "api");

    let read = request(admin, "GET", "/v1/operators/example-hosting", token, None);
    assert_eq!(read.status, 200, "body: {}", read.body);
    assert_eq!(read.json(), record);
    let page = request(admin, "GET", "/v1/operators?limit=1000", token, None).json();
    let names: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|item| item["name"].as_str())
        .collect();
    assert!(names.contains(&"example-hosting"), "names: {names:?}");
    assert!(names.contains(&"Hostopia.com Inc."), "names: {names:?}");

    let updated = request(
        admin,
        "PUT",
        "/v1/operators/example-hosting",
        token,
        Some(r#"{"note":"renamed","aliases":["ExHost"]}"#),
    );
    assert_eq!(updated.status, 200, "body: {}", updated.body);
    assert_eq!(updated.json()["note"], "renamed");
    assert_eq!(updated.json()["aliases"], serde_json::json!(["ExHost"]));

    let provider = r#"{"name":"example-net","category":"bad-service-provider","operator":"example-hosting","netblocks":["198.51.100.0/24"]}"#;
    let with_operator = request(admin, "POST", "/v1/providers", token, Some(provider));
    assert_eq!(with_operator.status, 201, "body: {}", with_operator.body);
    assert_eq!(with_operator.json()["operator"], "example-hosting");

    let duplicate = request(admin, "POST", "/v1/operators", token, Some(body));
    assert_error(&duplicate, 409, "duplicate_name", Some("name"));
    let taken_alias = request(
        admin,
        "POST",
        "/v1/operators",
        token,
        Some(r#"{"name":"other-hosting","aliases":["ExHost"]}"#),
    );
    assert_error(&taken_alias, 422, "duplicate_alias", Some("aliases[0]"));
    let name_is_alias = request(
        admin,
        "POST",
        "/v1/operators",
        token,
        Some(r#"{"name":"ExHost"}"#),
    );
    assert_error(&name_is_alias, 422, "duplicate_alias", Some("name"));
    let invalid = [
        (
            "POST",
            "/v1/operators",
            r#"{"name":"bad name"}"#,
            "invalid_name",
            "name",
        ),
        (
            "POST",
            "/v1/operators",
            r#"{"name":"fine","aliases":["ok"," "]}"#,
            "invalid_alias",
            "aliases[1]",
        ),
        (
            "PUT",
            "/v1/operators/example-hosting",
            r#"{"name":"other"}"#,
            "name_mismatch",
            "name",
        ),
    ];
    for (method, path, body, code, field) in invalid {
        let response = request(admin, method, path, token, Some(body));
        assert_error(&response, 422, code, Some(field));
    }
    let missing = request(admin, "PUT", "/v1/operators/missing", token, Some("{}"));
    assert_error(&missing, 404, "not_found", None);
    let from_file = request(
        admin,
        "PUT",
        "/v1/operators/Hostopia.com%20Inc.",
        token,
        Some("{}"),
    );
    assert_error(&from_file, 409, "file_sourced", Some("name"));
    let read_only = request(
        admin,
        "POST",
        "/v1/operators",
        Some(&read_token),
        Some(r#"{"name":"fine"}"#),
    );
    assert_error(&read_only, 403, "forbidden", None);

    let audit = request(admin, "GET", "/v1/audit", token, None).json();
    let paths: Vec<(&str, &str)> = audit
        .as_array()
        .expect("the audit log is a list")
        .iter()
        .map(|entry| {
            (
                entry["method"].as_str().unwrap_or(""),
                entry["path"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        paths,
        [
            ("POST", "/v1/providers"),
            ("PUT", "/v1/operators/example-hosting"),
            ("POST", "/v1/operators"),
        ]
    );
}
