//! `dnsbl lookup` and `GET /v1/lookup/...` list the RFC 5782 test entry for the name
//! `test` only, as the DNS server answers, and not for the names under it. The lookup
//! names the allow-list entries, of the API and of register.toml, that exempt an address
//! or a domain that a provider lists.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::admin::{NETBLOCK, create_token, start, start_in};
use crate::db_state::lookup as lookup_stdout;
use crate::http::request;
use crate::peers::soa_serial;
use crate::support::{binary, query_udp, repo_zones};

#[test]
fn test_entry_lookup_exact_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "read");
    let (server, admin) = start(&db);

    let cases = [("test", true), ("mail.test", false), ("a.b.test", false)];
    for (name, listed) in cases {
        let dns = query_udp(server.addr, &format!("{name}.dbl.example."), RecordType::A);
        let expected_rcode = if listed {
            ResponseCode::NoError
        } else {
            ResponseCode::NXDomain
        };
        assert_eq!(dns.metadata.response_code, expected_rcode, "DNS for {name}");

        let api = request(
            admin,
            "GET",
            &format!("/v1/lookup/{name}"),
            Some(&token),
            None,
        );
        assert_eq!(api.status, 200, "body: {}", api.body);
        assert_eq!(api.json()["listed"], listed, "API for {name}: {}", api.body);

        let output = binary()
            .arg("lookup")
            .arg("--zones")
            .arg(repo_zones())
            .arg("--db")
            .arg(&db)
            .arg(name)
            .output()
            .expect("dnsbl lookup runs");
        assert!(output.status.success(), "lookup {name}: {output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            stdout.contains("RFC 5782 test entry"),
            listed,
            "dnsbl lookup {name}: {stdout}"
        );
    }
}

/// Returns the body of `GET /v1/lookup/{query}`, which must succeed.
fn get_lookup(admin: SocketAddr, token: &str, query: &str) -> Value {
    let path = format!("/v1/lookup/{query}");
    let response = request(admin, "GET", &path, Some(token), None);
    assert_eq!(response.status, 200, "body: {}", response.body);
    response.json()
}

/// Polls `GET /v1/lookup/{query}` until `listed` is `expected`.
fn wait_for_lookup(admin: SocketAddr, token: &str, query: &str, expected: bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if get_lookup(admin, token, query)["listed"] == expected {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the lookup of {query} did not become listed={expected} within 10 s");
}

/// Asserts the whole body of `GET /v1/lookup/{query}`.
fn assert_lookup(
    admin: SocketAddr,
    token: &str,
    query: &str,
    serial: u32,
    listings: &[Value],
    allow_entries: &[Value],
) {
    let expected = json!({
        "query": query,
        "serial": serial,
        "listed": !listings.is_empty(),
        "listings": listings,
        "allow_entries": allow_entries,
    });
    assert_eq!(
        get_lookup(admin, token, query),
        expected,
        "lookup of {query}"
    );
}

/// Creates a provider through the API, waits until the lookup of `query` lists it (no
/// provider lists it before), and returns its `listed_since`, the day of its creation.
fn create_provider(admin: SocketAddr, token: &str, body: &str, query: &str) -> Value {
    let created = request(admin, "POST", "/v1/providers", Some(token), Some(body));
    assert_eq!(created.status, 201, "body: {}", created.body);
    let listed_since = created.json()["listed_since"].clone();
    assert!(listed_since.is_string(), "body: {}", created.body);
    wait_for_lookup(admin, token, query, true);
    listed_since
}

/// Creates an allow-list entry through the API and returns its id.
fn create_allow(admin: SocketAddr, token: &str, body: &str) -> i64 {
    let created = request(admin, "POST", "/v1/allow", Some(token), Some(body));
    assert_eq!(created.status, 201, "body: {}", created.body);
    created.json()["id"].as_i64().expect("numeric id")
}

#[test]
fn lookup_names_allow_entry_for_address() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let (server, admin) = start(&db);

    let provider = format!(
        r#"{{"name":"example-net","category":"bad-service-provider","netblocks":["{NETBLOCK}"]}}"#
    );
    let listed_since = create_provider(admin, &token, &provider, "198.51.100.7");
    let body = r#"{"target":"198.51.100.0/28","reason":"customer mail relay","zone":"bl.example"}"#;
    let id = create_allow(admin, &token, body);
    wait_for_lookup(admin, &token, "198.51.100.7", false);
    // The lookup reports the serial of the snapshot that DNS serves.
    let serial = soa_serial(server.addr, "bl.example.").expect("an SOA for bl.example");

    let allow_entries = [json!({
        "zone": "bl.example",
        "id": id,
        "value": "198.51.100.0/28",
        "kind": "range",
        "reason": "customer mail relay",
        "source": "api",
    })];
    for query in ["198.51.100.7", "198.51.100.15", "::ffff:198.51.100.0"] {
        assert_lookup(admin, &token, query, serial, &[], &allow_entries);
    }
    let listings = [json!({
        "zone": "bl.example",
        "code": "127.0.0.2",
        "category": "bad-service-provider",
        "provider": "example-net",
        "operator": null,
        "source_kind": "netblock",
        "source": NETBLOCK,
        "listed_since": listed_since,
    })];
    for query in ["198.51.100.16", "::ffff:198.51.100.16"] {
        assert_lookup(admin, &token, query, serial, &listings, &[]);
    }

    let document = request(admin, "GET", "/v1/openapi.json", Some(&token), None).json();
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["LookupResponse"]["properties"]["allow_entries"]["items"]["$ref"],
        "#/components/schemas/AllowMatch",
        "schemas: {schemas}"
    );
    assert_eq!(
        schemas["AllowMatch"]["required"],
        json!(["zone", "id", "value", "kind", "reason", "source"]),
        "schemas: {schemas}"
    );

    let stdout = lookup_stdout(&repo_zones(), &db, "198.51.100.7");
    assert_eq!(
        stdout,
        format!(
            "198.51.100.7 is not listed in any zone (serial {serial}).\n\
             198.51.100.7 is exempt in bl.example by allow-list entry {id} (198.51.100.0/28, \
             from the admin API): customer mail relay\n"
        )
    );
}

#[test]
fn lookup_names_allow_entry_for_domain() {
    let dir = tempfile::tempdir().unwrap();
    let zones = crate::bad_input::copy_zones(dir.path());
    let register = zones.join("register.toml");
    let mut contents = std::fs::read_to_string(&register).unwrap();
    contents.push_str("\n[[allow]]\nvalue = \"mx.spam.example\"\nreason = \"office mail\"\n");
    std::fs::write(&register, contents).unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let (server, admin) = start_in(&zones, &db);

    let provider =
        r#"{"name":"spam-domains","category":"spam-operation","domains":["spam.example"]}"#;
    let listed_since = create_provider(admin, &token, provider, "www.relay.spam.example");
    let body = r#"{"target":"relay.spam.example","reason":"customer relay","zone":"dbl.example"}"#;
    let api_id = create_allow(admin, &token, body);
    wait_for_lookup(admin, &token, "www.relay.spam.example", false);
    let serial = soa_serial(server.addr, "dbl.example.").expect("an SOA for dbl.example");
    let listed = request(admin, "GET", "/v1/allow", Some(&token), None).json();
    let file_id = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["value"] == "mx.spam.example")
        .and_then(|item| item["id"].as_i64())
        .expect("the register.toml entry is listed with an id");

    let api_item = json!({
        "zone": "dbl.example",
        "id": api_id,
        "value": "relay.spam.example",
        "kind": "domain",
        "reason": "customer relay",
        "source": "api",
    });
    let file_item = json!({
        "zone": "dbl.example",
        "id": file_id,
        "value": "mx.spam.example",
        "kind": "domain",
        "reason": "office mail",
        "source": "file",
    });
    let exempt = [
        ("relay.spam.example", api_item.clone()),
        ("www.relay.spam.example", api_item),
        ("MX.Spam.Example.", file_item),
    ];
    for (query, item) in exempt {
        assert_lookup(admin, &token, query, serial, &[], &[item]);
    }
    let listings = [json!({
        "zone": "dbl.example",
        "code": "127.0.0.4",
        "category": "spam-operation",
        "provider": "spam-domains",
        "operator": null,
        "source_kind": "domain",
        "source": "spam.example",
        "listed_since": listed_since,
    })];
    for query in [
        "spam.example",
        "notrelay.spam.example",
        "relay.spam.example.org.spam.example",
    ] {
        assert_lookup(admin, &token, query, serial, &listings, &[]);
    }

    let stdout = lookup_stdout(&zones, &db, "mx.spam.example");
    assert_eq!(
        stdout,
        format!(
            "mx.spam.example is not listed in any zone (serial {serial}).\n\
             mx.spam.example is exempt in dbl.example by allow-list entry {file_id} \
             (mx.spam.example, from register.toml): office mail\n"
        )
    );
}
