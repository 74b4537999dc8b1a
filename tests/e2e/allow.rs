//! `/v1/allow` of the real binary: an allow-list entry written through the API exempts
//! a listed address in DNS, deleting it lists the address again, both writes are
//! audited, and invalid writes get their error, as does deleting an entry of
//! register.toml.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;

use crate::admin::{NETBLOCK, create_token, start, wait_for_dns};
use crate::http::{Response, request};
use crate::support::{Server, a_values, field};

fn assert_error(response: &Response, status: u16, code: &str) {
    assert_eq!(response.status, status, "body: {}", response.body);
    assert_eq!(
        response.json()["error"]["code"],
        code,
        "body: {}",
        response.body
    );
}

#[test]
fn allow_entry_exempts_in_dns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("dnsbl.sqlite");
    let admin_token = create_token(&db, "ops", "admin");
    let read_token = create_token(&db, "reader", "read");
    let (server, admin) = start(&db);
    let token = Some(admin_token.as_str());

    let provider = format!(
        r#"{{"name":"example-net","category":"bad-service-provider","netblocks":["{NETBLOCK}"]}}"#
    );
    let created = request(admin, "POST", "/v1/providers", token, Some(&provider));
    assert_eq!(created.status, 201, "body: {}", created.body);
    wait_for_dns(&server, |m| a_values(m) == ["127.0.0.2"]);

    let body = r#"{"target":"198.51.100.7","reason":"customer mail relay","zone":"bl.example"}"#;
    let allowed = request(admin, "POST", "/v1/allow", token, Some(body));
    assert_eq!(allowed.status, 201, "body: {}", allowed.body);
    let entry = allowed.json();
    assert_eq!(entry["value"], "198.51.100.7/32");
    assert_eq!(entry["kind"], "range");
    assert_eq!(entry["zone"], "bl.example");
    assert_eq!(entry["source"], "api");
    let id = entry["id"].as_i64().expect("numeric id");
    wait_for_dns(&server, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    });

    let listed = request(admin, "GET", "/v1/allow", token, None).json();
    let items = listed["items"].as_array().expect("items");
    assert!(items.iter().any(|item| item["id"] == id), "list: {listed}");

    let duplicate = request(admin, "POST", "/v1/allow", token, Some(body));
    assert_error(&duplicate, 409, "duplicate_entry");
    let error = &duplicate.json()["error"];
    assert_eq!(error["field"], "target", "body: {}", duplicate.body);
    assert_eq!(
        error["value"], "198.51.100.7/32",
        "body: {}",
        duplicate.body
    );
    assert_eq!(
        error["message"], "allow-list entry \"198.51.100.7/32\" already exists",
        "body: {}",
        duplicate.body
    );
    let read_only = request(admin, "POST", "/v1/allow", Some(&read_token), Some(body));
    assert_error(&read_only, 403, "forbidden");
    let cases = [
        (
            r#"{"target":"198.51.100.300","reason":"r"}"#,
            "invalid_target",
        ),
        (
            r#"{"target":"bad..example","reason":"r"}"#,
            "invalid_target",
        ),
        (
            r#"{"target":"198.51.100.8","reason":" "}"#,
            "invalid_reason",
        ),
        (
            r#"{"target":"198.51.100.8","reason":"r","zone":"other.example"}"#,
            "unknown_zone",
        ),
    ];
    for (body, code) in cases {
        let response = request(admin, "POST", "/v1/allow", token, Some(body));
        assert_error(&response, 422, code);
    }
    let kind_cases = [
        (
            r#"{"target":"mail.example.org","reason":"r","zone":"bl.example"}"#,
            "bl.example",
            "\"mail.example.org\" is a domain, but zone \"bl.example\" is an address zone, \
             where the entry has no effect; name a domain zone or leave out zone to apply the \
             entry to every zone",
        ),
        (
            r#"{"target":"198.51.100.8","reason":"r","zone":"DBL.example."}"#,
            "DBL.example.",
            "\"198.51.100.8\" is an address, but zone \"dbl.example\" is a domain zone, \
             where the entry has no effect; name an address zone or leave out zone to apply \
             the entry to every zone",
        ),
    ];
    for (body, zone, message) in kind_cases {
        let response = request(admin, "POST", "/v1/allow", token, Some(body));
        assert_error(&response, 422, "zone_kind_mismatch");
        let error = &response.json()["error"];
        assert_eq!(error["field"], "zone", "body: {}", response.body);
        assert_eq!(error["value"], zone, "body: {}", response.body);
        assert_eq!(error["message"], message, "body: {}", response.body);
    }

    // Another spelling of the id is rejected and leaves the entry in place.
    for bad_id in ["x".to_string(), format!("+{id}"), format!("0{id}")] {
        let response = request(admin, "DELETE", &format!("/v1/allow/{bad_id}"), token, None);
        assert_error(&response, 422, "invalid_id");
        assert_eq!(response.json()["error"]["field"], "id");
        assert_eq!(response.json()["error"]["value"], bad_id.as_str());
    }

    let path = format!("/v1/allow/{id}");
    let deleted = request(admin, "DELETE", &path, token, None);
    assert_eq!(deleted.status, 200, "body: {}", deleted.body);
    assert_eq!(deleted.json()["id"], id);
    wait_for_dns(&server, |m| a_values(m) == ["127.0.0.2"]);
    let again = request(admin, "DELETE", &path, token, None);
    assert_error(&again, 404, "not_found");

    let metrics = request(admin, "GET", "/metrics", token, None).body;
    let expansion: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("dnsbl_admin_last_expansion_seconds "))
        .expect("the expansion gauge is in /metrics")
        .parse()
        .expect("the gauge value is a number");
    assert!(expansion > 0.0, "expansion seconds: {expansion}");
    assert!(
        metrics.contains("\ndnsbl_admin_listing_writes_total 3\n"),
        "metrics: {metrics}"
    );

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
            ("DELETE", path.as_str()),
            ("POST", "/v1/allow"),
            ("POST", "/v1/providers")
        ]
    );
}

/// An entry of the admin API for a zone that zones.toml no longer defines exempts nothing:
/// a reload warns about it by id, and `dnsbl check` prints it.
#[test]
fn entry_of_renamed_zone_reported() {
    let dir = tempfile::tempdir().unwrap();
    let zones = crate::bad_input::copy_zones(dir.path());
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let token = Some(token.as_str());
    let (server, admin) = crate::admin::start_in(&zones, &db);
    let body = r#"{"target":"203.0.113.9","reason":"customer relay","zone":"bl.example"}"#;
    let created = request(admin, "POST", "/v1/allow", token, Some(body));
    assert_eq!(created.status, 201, "body: {}", created.body);
    let id = created.json()["id"].as_i64().unwrap();

    let zones_toml = zones.join("zones.toml");
    let text = std::fs::read_to_string(&zones_toml).unwrap();
    let renamed = text.replace("\"bl.example\"", "\"rbl.example\"");
    assert_ne!(renamed, text);
    std::fs::write(&zones_toml, renamed).unwrap();
    server.hangup();
    let line = server.wait_for_log(
        "allow-list entry names a zone that zones.toml does not define",
        std::time::Duration::from_secs(10),
    );
    assert!(line.contains(&format!("id={id}")), "{line}");
    assert!(line.contains("zone=\"bl.example\""), "{line}");

    let (ok, stdout, stderr) = crate::check::check(&zones, &db);
    assert!(ok, "check failed: {stdout}{stderr}");
    let warning = format!(
        "warning: allow-list entry {id} (203.0.113.9/32) names zone \"bl.example\", which \
         zones.toml does not define, so it exempts nothing"
    );
    assert!(stdout.lines().any(|line| line == warning), "{stdout}");
}

#[test]
fn register_entry_delete_names_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zones = crate::bad_input::copy_zones(dir.path());
    let register = zones.join("register.toml");
    let mut contents = std::fs::read_to_string(&register).unwrap();
    contents.push_str("\n[[allow]]\nvalue = \"100.64.0.5/32\"\nreason = \"office\"\n");
    std::fs::write(&register, contents).unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let admin_token = create_token(&db, "ops", "admin");
    let token = Some(admin_token.as_str());
    let server = Server::start(&zones, &db);
    let line = server.wait_for_log("admin API listening", Duration::from_secs(10));
    let admin: SocketAddr = field(&line, "address").unwrap().parse().unwrap();

    let listed = request(admin, "GET", "/v1/allow", token, None).json();
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "list: {listed}");
    assert_eq!(items[0]["value"], "100.64.0.5/32");
    assert_eq!(items[0]["source"], "file");
    let id = items[0]["id"].as_i64().expect("numeric id");

    let response = request(admin, "DELETE", &format!("/v1/allow/{id}"), token, None);
    assert_error(&response, 409, "file_sourced");
    let error = &response.json()["error"];
    assert_eq!(error["field"], "id", "body: {}", response.body);
    assert_eq!(error["value"], id.to_string(), "body: {}", response.body);
    assert_eq!(
        error["message"],
        "allow-list entry \"100.64.0.5/32\" comes from register.toml; change it there",
        "body: {}",
        response.body
    );
    let listed = request(admin, "GET", "/v1/allow", token, None).json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
}
