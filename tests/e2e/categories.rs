//! Category writes through the admin API of the real binary: a new category's code and
//! TXT text reach DNS, and bad codes, bad templates and register.toml categories are
//! rejected with the field and the value.

use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::admin::{NETBLOCK, create_token, start, wait_for_dns};
use crate::http::{Response, request};
use crate::support::{a_values, query_udp, txt_values};

const QUERY: &str = "7.100.51.198.bl.example.";

fn assert_invalid(response: &Response, code: &str, field: &str, value: &str) {
    assert_eq!(response.status, 422, "body: {}", response.body);
    let error = &response.json()["error"];
    assert_eq!(error["code"], code, "body: {}", response.body);
    assert_eq!(error["field"], field, "body: {}", response.body);
    assert_eq!(error["value"], value, "body: {}", response.body);
}

#[test]
fn category_writes_reach_dns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let (server, admin) = start(&db);
    let token = Some(token.as_str());

    let body = r#"{"name":"open-relay","code":"127.0.0.9","txt":"{query} relays for {provider}"}"#;
    let created = request(admin, "POST", "/v1/categories", token, Some(body));
    assert_eq!(created.status, 201, "body: {}", created.body);
    assert_eq!(created.json()["source"], "api");
    assert_eq!(created.json()["code"], "127.0.0.9");
    let again = request(admin, "POST", "/v1/categories", token, Some(body));
    assert_eq!(again.status, 409, "body: {}", again.body);

    let provider =
        format!(r#"{{"name":"relay-net","category":"open-relay","netblocks":["{NETBLOCK}"]}}"#);
    let response = request(admin, "POST", "/v1/providers", token, Some(&provider));
    assert_eq!(response.status, 201, "body: {}", response.body);
    wait_for_dns(&server, |message| a_values(message) == ["127.0.0.9"]);
    let txt = txt_values(&query_udp(server.addr, QUERY, RecordType::TXT));
    assert_eq!(txt, ["198.51.100.7 relays for relay-net"]);

    let update = r#"{"code":"127.0.0.10","txt":"{provider} relays"}"#;
    let updated = request(
        admin,
        "PUT",
        "/v1/categories/open-relay",
        token,
        Some(update),
    );
    assert_eq!(updated.status, 200, "body: {}", updated.body);
    wait_for_dns(&server, |message| a_values(message) == ["127.0.0.10"]);
    let txt = txt_values(&query_udp(server.addr, QUERY, RecordType::TXT));
    assert_eq!(txt, ["relay-net relays"]);

    let listed = request(admin, "GET", "/v1/categories/open-relay", token, None);
    assert_eq!(listed.json()["txt"], "{provider} relays");
    let all = request(admin, "GET", "/v1/categories", token, None).json();
    let names: Vec<&str> = all
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|category| category["name"].as_str())
        .collect();
    assert!(names.contains(&"open-relay"), "categories {names:?}");
    assert!(
        names.contains(&"bad-service-provider"),
        "categories {names:?}"
    );

    let audit = request(admin, "GET", "/v1/audit?limit=1", token, None).json();
    assert_eq!(audit[0]["path"], "/v1/categories/open-relay");
}

#[test]
fn category_writes_reject_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let (_server, admin) = start(&db);
    let token = Some(token.as_str());
    let post = |body: &str| request(admin, "POST", "/v1/categories", token, Some(body));

    let outside = post(r#"{"name":"x","code":"10.0.0.2","txt":""}"#);
    assert_invalid(&outside, "invalid_code", "code", "10.0.0.2");
    let message = outside.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("127.0.0.0/8"), "message {message:?}");
    let network = post(r#"{"name":"x","code":"127.0.0.0","txt":""}"#);
    assert_invalid(&network, "invalid_code", "code", "127.0.0.0");
    assert_eq!(
        network.json()["error"]["message"],
        "invalid listing code 127.0.0.0 for category \"x\": 127.0.0.0 is the network \
         address of 127.0.0.0/8, not a listing code"
    );
    assert_invalid(
        &post(r#"{"name":"x","code":"127.0.0.1","txt":""}"#),
        "invalid_code",
        "code",
        "127.0.0.1",
    );
    assert_invalid(
        &post(r#"{"name":"x","code":"127.255.255.3","txt":""}"#),
        "invalid_code",
        "code",
        "127.255.255.3",
    );
    assert_invalid(
        &post(r#"{"name":"x","code":"not-an-address","txt":""}"#),
        "invalid_code",
        "code",
        "not-an-address",
    );
    let template = post(r#"{"name":"x","code":"127.0.0.9","txt":"{querry} listed"}"#);
    assert_invalid(&template, "invalid_txt", "txt", "{querry} listed");
    let message = template.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("unknown placeholder {querry}"),
        "message {message:?}"
    );
    // No bundled zone sets lookup_url, so the placeholder would render as empty text.
    assert_invalid(
        &post(r#"{"name":"x","code":"127.0.0.9","txt":"see {lookup_url}"}"#),
        "invalid_txt",
        "txt",
        "see {lookup_url}",
    );
    assert_invalid(
        &post(r#"{"name":"a/b","code":"127.0.0.9","txt":""}"#),
        "invalid_name",
        "name",
        "a/b",
    );
    for name in ["rfc5782-test", "RFC5782-TEST"] {
        let body = format!(r#"{{"name":"{name}","code":"127.0.0.8","txt":""}}"#);
        let reserved = post(&body);
        assert_invalid(&reserved, "invalid_name", "name", name);
        assert_eq!(
            reserved.json()["error"]["message"],
            format!(
                "the category name {name:?} is reserved, in any letter case, for the RFC 5782 \
                 test entries; choose another name"
            )
        );
    }
    let brace = post(r#"{"name":"x","code":"127.0.0.9","txt":"{query} } listed"}"#);
    assert_invalid(&brace, "invalid_txt", "txt", "{query} } listed");
    assert_eq!(
        brace.json()["error"]["message"],
        "unmatched '}' at character 9 in txt; write '}}' for a literal brace"
    );

    let file_sourced = request(
        admin,
        "PUT",
        "/v1/categories/bad-service-provider",
        token,
        Some(r#"{"code":"127.0.0.9","txt":""}"#),
    );
    assert_eq!(file_sourced.status, 409, "body: {}", file_sourced.body);
    assert_eq!(file_sourced.json()["error"]["code"], "file_sourced");
    let missing = request(
        admin,
        "PUT",
        "/v1/categories/no-such-category",
        token,
        Some(r#"{"code":"127.0.0.9","txt":""}"#),
    );
    assert_eq!(missing.status, 404, "body: {}", missing.body);
}

/// A category of the admin API whose TXT uses `{lookup_url}` needs the `lookup_url` of
/// the zones that serve it: a reload of a zones.toml without it fails and changes no
/// answer, and `dnsbl check` rejects it the same way.
#[test]
fn removed_lookup_url_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let zones = crate::bad_input::copy_zones(dir.path());
    let zones_toml = zones.join("zones.toml");
    let original = std::fs::read_to_string(&zones_toml).unwrap();
    let mut with_url = original.clone();
    for zone in ["bl.example", "dbl.example"] {
        with_url = with_url.replacen(
            &format!("name = \"{zone}\"\n"),
            &format!("name = \"{zone}\"\nlookup_url = \"https://lookup.test/{{query}}\"\n"),
            1,
        );
    }
    assert_eq!(
        with_url.matches("https://lookup.test/").count(),
        2,
        "{with_url}"
    );
    std::fs::write(&zones_toml, &with_url).unwrap();

    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let token = Some(token.as_str());
    let (server, admin) = crate::admin::start_in(&zones, &db);
    let category = r#"{"name":"lu","code":"127.0.0.11","txt":"{query} listed, see {lookup_url}"}"#;
    let created = request(admin, "POST", "/v1/categories", token, Some(category));
    assert_eq!(created.status, 201, "body: {}", created.body);
    let provider = format!(r#"{{"name":"lu-net","category":"lu","netblocks":["{NETBLOCK}"]}}"#);
    let created = request(admin, "POST", "/v1/providers", token, Some(&provider));
    assert_eq!(created.status, 201, "body: {}", created.body);
    wait_for_dns(&server, |message| a_values(message) == ["127.0.0.11"]);
    let listed = ["198.51.100.7 listed, see https://lookup.test/198.51.100.7"];
    let txt = txt_values(&query_udp(server.addr, QUERY, RecordType::TXT));
    assert_eq!(txt, listed);

    let expected = "zone \"bl.example\" serves category \"lu\", whose txt uses {lookup_url}, \
                    but the zone sets no lookup_url in zones.toml; set lookup_url for the zone \
                    or change the category's txt";
    std::fs::write(&zones_toml, &original).unwrap();
    server.hangup();
    let line = server.wait_for_log("reload failed", Duration::from_secs(10));
    // The log line quotes the error, so its quotes are escaped.
    assert!(line.contains(&expected.replace('"', "\\\"")), "{line}");
    let txt = txt_values(&query_udp(server.addr, QUERY, RecordType::TXT));
    assert_eq!(txt, listed);

    let (ok, stdout, stderr) = crate::check::check(&zones, &db);
    assert!(!ok, "check passed: {stdout}");
    assert!(stderr.contains(expected), "{stderr}");
}
