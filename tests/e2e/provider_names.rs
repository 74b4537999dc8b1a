//! Provider names with characters the admin API does not accept for new providers. A PUT
//! names an existing provider, so it gets 404 or 409 like any other name. A POST gets 422
//! `invalid_name` with the rejected value and the allowed form.

use crate::admin::{create_token, start};
use crate::http::request;

/// A provider of zones/register.toml whose name contains spaces.
const FILE_PROVIDER: &str = "/v1/providers/SoftLayer%20Technologies%20Inc.";
const BODY: &str = r#"{"category":"bad-service-provider","netblocks":["198.51.100.0/24"]}"#;

#[test]
fn provider_name_with_space() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let (_server, admin) = start(&db);
    let token = Some(token.as_str());

    let read = request(admin, "GET", FILE_PROVIDER, token, None);
    assert_eq!(read.status, 200, "GET body: {}", read.body);
    assert_eq!(read.json()["name"], "SoftLayer Technologies Inc.");

    let from_file = request(admin, "PUT", FILE_PROVIDER, token, Some(BODY));
    assert_eq!(from_file.status, 409, "PUT body: {}", from_file.body);
    assert_eq!(from_file.json()["error"]["code"], "file_sourced");

    let missing = request(admin, "PUT", "/v1/providers/no%20such", token, Some(BODY));
    assert_eq!(missing.status, 404, "PUT body: {}", missing.body);
    assert_eq!(missing.json()["error"]["code"], "not_found");

    let body = r#"{"name":"bad name","category":"bad-service-provider"}"#;
    let created = request(admin, "POST", "/v1/providers", token, Some(body));
    assert_eq!(created.status, 422, "POST body: {}", created.body);
    let error = &created.json()["error"];
    assert_eq!(error["code"], "invalid_name");
    assert_eq!(error["field"], "name");
    assert_eq!(error["value"], "bad name");
    let message = error["message"].as_str().expect("a message");
    assert!(
        message.starts_with("invalid name \"bad name\": expected 1 to 100 ASCII letters"),
        "{message}"
    );
}
