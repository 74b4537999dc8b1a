//! The admin HTTP API of the real binary: a write reaches DNS, every error class has its
//! status and JSON body, and tokens are enforced.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::http::{Response, request};
use crate::support::{Server, a_values, binary, field, query_udp, repo_zones};

/// The address the tests list through the API (TEST-NET-2, RFC 5737), and its query name.
pub const NETBLOCK: &str = "198.51.100.0/24";
const QUERY: &str = "7.100.51.198.bl.example.";

pub fn create_token(db: &Path, name: &str, role: &str) -> String {
    let output = binary()
        .args(["token", "create", "--name", name, "--role", role, "--db"])
        .arg(db)
        .output()
        .expect("dnsbl token create runs");
    assert!(output.status.success(), "token create failed: {output:?}");
    let token = String::from_utf8(output.stdout).expect("UTF-8 token");
    token.trim().to_owned()
}

pub fn start(db: &Path) -> (Server, SocketAddr) {
    start_in(&repo_zones(), db)
}

/// Starts the server on the zones directory `zones` and returns it with the address of
/// its admin API.
pub fn start_in(zones: &Path, db: &Path) -> (Server, SocketAddr) {
    start_in_with(zones, db, &[])
}

/// Starts the server as [`start_in`] does, with extra arguments of `dnsbl serve`.
pub fn start_in_with(zones: &Path, db: &Path, extra: &[&std::ffi::OsStr]) -> (Server, SocketAddr) {
    let server = Server::start_with(zones, db, extra);
    let line = server.wait_for_log("admin API listening", Duration::from_secs(10));
    let admin = field(&line, "address")
        .expect("the admin line has an address")
        .parse()
        .expect("the admin address parses");
    (server, admin)
}

/// Polls DNS until `check` accepts the response; returns the time it took.
pub fn wait_for_dns(
    server: &Server,
    check: impl Fn(&hickory_proto::op::Message) -> bool,
) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if check(&query_udp(server.addr, QUERY, RecordType::A)) {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the DNS answer for {QUERY} did not change within 10 s");
}

fn assert_error(response: &Response, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(response.status, status, "body: {}", response.body);
    let body = response.json();
    assert_eq!(body["error"]["code"], code, "body: {}", response.body);
    if let Some(field) = field {
        assert_eq!(body["error"]["field"], field, "body: {}", response.body);
    }
}

#[test]
fn admin_round_trip_reaches_dns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let (server, admin) = start(&db);
    let token = Some(token.as_str());

    let before = query_udp(server.addr, QUERY, RecordType::A);
    assert_eq!(before.metadata.response_code, ResponseCode::NXDomain);

    let body = format!(
        r#"{{"name":"example-net","category":"bad-service-provider","netblocks":["{NETBLOCK}"],"asns":["AS64511"]}}"#
    );
    let created = request(admin, "POST", "/v1/providers", token, Some(&body));
    assert_eq!(created.status, 201, "body: {}", created.body);
    assert_eq!(created.json()["source"], "api");
    assert_eq!(created.json()["netblocks"][0], NETBLOCK);
    let listed_after = wait_for_dns(&server, |m| a_values(m) == ["127.0.0.2"]);
    eprintln!("write to DNS answer (listing): {listed_after:?}");

    let lookup = request(admin, "GET", "/v1/lookup/198.51.100.7", token, None).json();
    assert_eq!(lookup["listed"], true);
    let listing = &lookup["listings"][0];
    assert_eq!(listing["zone"], "bl.example");
    assert_eq!(listing["code"], "127.0.0.2");
    assert_eq!(listing["provider"], "example-net");
    assert_eq!(listing["source_kind"], "netblock");
    assert_eq!(listing["source"], NETBLOCK);

    let found = request(
        admin,
        "GET",
        "/v1/providers?contains=198.51.100.200",
        token,
        None,
    );
    assert_eq!(found.json()["items"][0]["name"], "example-net");
    let by_asn = request(admin, "GET", "/v1/providers?asn=AS64511", token, None);
    assert_eq!(by_asn.json()["items"].as_array().unwrap().len(), 1);

    let delisted = request(
        admin,
        "POST",
        "/v1/providers/example-net/delist",
        token,
        Some(r#"{"reason":"network cleaned up"}"#),
    );
    assert_eq!(delisted.status, 200, "body: {}", delisted.body);
    assert_eq!(delisted.json()["delist_reason"], "network cleaned up");
    let delisted_after = wait_for_dns(&server, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    });
    eprintln!("write to DNS answer (delisting): {delisted_after:?}");

    let history = request(admin, "GET", "/v1/providers/example-net", token, None).json();
    assert_eq!(history["history"][0]["action"], "listed");
    assert_eq!(history["history"][1]["action"], "delisted");
    assert_eq!(history["history"][1]["reason"], "network cleaned up");

    let audit = request(admin, "GET", "/v1/audit", token, None).json();
    let entries = audit.as_array().expect("the audit log is a list");
    assert_eq!(entries.len(), 2, "audit: {audit}");
    assert_eq!(entries[0]["path"], "/v1/providers/example-net/delist");
    assert_eq!(entries[0]["change"]["delisted"], "example-net");
    assert_eq!(entries[1]["method"], "POST");
    assert_eq!(entries[1]["path"], "/v1/providers");
    assert_eq!(entries[1]["token_name"], "ops");
    assert_eq!(entries[1]["change"]["created"]["name"], "example-net");

    let relisted = request(
        admin,
        "POST",
        "/v1/providers/example-net/relist",
        token,
        None,
    );
    assert_eq!(relisted.status, 200, "body: {}", relisted.body);
    wait_for_dns(&server, |m| a_values(m) == ["127.0.0.2"]);
}

#[test]
fn mapped_netblock_lists_no_ipv4() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let (server, admin) = start(&db);
    let token = Some(token.as_str());

    // The part of these netblocks inside ::ffff:0:0/96 is all of IPv4, which is answered
    // from the IPv4 table, so the IPv4 limit /6 applies although they pass the IPv6 /16.
    for (name, netblock) in [("t8", "::/16"), ("t9", "::ffff:0:0/96")] {
        let body = format!(
            r#"{{"name":"{name}","category":"bad-service-provider","netblocks":["{netblock}"]}}"#
        );
        let response = request(admin, "POST", "/v1/providers", token, Some(&body));
        assert_error(&response, 422, "invalid_netblock", Some("netblocks[0]"));
        let error = &response.json()["error"];
        assert_eq!(error["value"], netblock);
        assert_eq!(
            error["message"],
            "its ::ffff:0:0/96 part covers the IPv4 range 0.0.0.0/0, wider than the maximum \
             IPv4 size /6; pass --allow-wide-ranges or a smaller --max-prefix-v4 if it is real"
        );
    }

    // A narrow mapped netblock is listed, and reaches DNS as IPv4.
    let body = r#"{"name":"mapped","category":"bad-service-provider","netblocks":["::ffff:198.51.100.0/120"]}"#;
    let created = request(admin, "POST", "/v1/providers", token, Some(body));
    assert_eq!(created.status, 201, "body: {}", created.body);
    wait_for_dns(&server, |m| a_values(m) == ["127.0.0.2"]);
    for name in [
        "8.8.8.8.bl.example.",
        "1.1.1.1.bl.example.",
        "1.0.0.0.bl.example.",
    ] {
        let answer = query_udp(server.addr, name, RecordType::A);
        assert_eq!(
            answer.metadata.response_code,
            ResponseCode::NXDomain,
            "{name}"
        );
    }
    let providers = request(admin, "GET", "/v1/providers", token, None).json();
    let names: Vec<&str> = providers["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["name"].as_str())
        .filter(|name| ["t8", "t9", "mapped"].contains(name))
        .collect();
    assert_eq!(names, ["mapped"]);
}

/// The API holds netblocks to the range limit `dnsbl serve` was started with, as
/// register.toml is held to it.
#[test]
fn netblock_limit_follows_serve_flags() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let extra = ["--max-prefix-v4", "8"].map(std::ffi::OsStr::new);
    let (_server, admin) = start_in_with(&repo_zones(), &db, &extra);
    let token = Some(token.as_str());

    let wide = r#"{"name":"wide","category":"bad-service-provider","netblocks":["10.0.0.0/7"]}"#;
    let response = request(admin, "POST", "/v1/providers", token, Some(wide));
    assert_error(&response, 422, "invalid_netblock", Some("netblocks[0]"));
    assert_eq!(
        response.json()["error"]["message"],
        "range is wider than the maximum IPv4 size /8; pass --allow-wide-ranges or a \
         smaller --max-prefix-v4 if it is real"
    );

    let narrow =
        r#"{"name":"narrow","category":"bad-service-provider","netblocks":["10.0.0.0/8"]}"#;
    let created = request(admin, "POST", "/v1/providers", token, Some(narrow));
    assert_eq!(created.status, 201, "body: {}", created.body);
}

#[test]
fn admin_errors_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let admin_token = create_token(&db, "ops", "admin");
    let read_token = create_token(&db, "viewer", "read");
    let (_server, admin) = start(&db);
    let token = Some(admin_token.as_str());
    let valid = r#"{"name":"dup","category":"bad-service-provider","netblocks":["192.0.2.0/24"]}"#;

    assert_error(
        &request(admin, "GET", "/v1/providers", None, None),
        401,
        "unauthorized",
        None,
    );
    assert_error(
        &request(admin, "GET", "/v1/providers", Some("0000"), None),
        401,
        "unauthorized",
        None,
    );
    assert_error(
        &request(
            admin,
            "POST",
            "/v1/providers",
            Some(&read_token),
            Some(valid),
        ),
        403,
        "forbidden",
        None,
    );
    assert_eq!(
        request(admin, "GET", "/v1/providers", Some(&read_token), None).status,
        200
    );

    let cases = [
        (
            r#"{"name":"a","category":"bad-service-provider","netblocks":["10.0.0.1/8"]}"#,
            422,
            "invalid_netblock",
            "netblocks[0]",
        ),
        (
            r#"{"name":"a","category":"bad-service-provider","netblocks":["192.0.2.0/24","nonsense"]}"#,
            422,
            "invalid_netblock",
            "netblocks[1]",
        ),
        (
            r#"{"name":"a","category":"bad-service-provider","asns":["ASX"]}"#,
            422,
            "invalid_asn",
            "asns[0]",
        ),
        (
            r#"{"name":"a","category":"bad-service-provider","domains":["bad..example"]}"#,
            422,
            "invalid_domain",
            "domains[0]",
        ),
        (
            r#"{"name":"a/b","category":"bad-service-provider"}"#,
            422,
            "invalid_name",
            "name",
        ),
        (
            r#"{"name":"a","category":"no-such-category"}"#,
            422,
            "unknown_category",
            "category",
        ),
        (
            r#"{"name":"a","category":"bad-service-provider","operator":"nobody"}"#,
            422,
            "unknown_operator",
            "operator",
        ),
    ];
    for (body, status, code, field) in cases {
        let response = request(admin, "POST", "/v1/providers", token, Some(body));
        assert_error(&response, status, code, Some(field));
    }
    let bad = request(admin, "POST", "/v1/providers", token, Some(cases[0].0)).json();
    assert_eq!(bad["error"]["value"], "10.0.0.1/8");

    assert_error(
        &request(admin, "POST", "/v1/providers", token, Some("{not json")),
        400,
        "invalid_json",
        None,
    );
    let post_provider = |body: &str| request(admin, "POST", "/v1/providers", token, Some(body));
    let missing = post_provider(r#"{"name":"a"}"#);
    assert_error(&missing, 422, "invalid_field", Some("category"));
    assert_eq!(
        missing.json()["error"]["message"],
        "category: missing field `category` at line 1 column 12"
    );
    let wrong_type = post_provider(
        r#"{"name":"a","category":"bad-service-provider","netblocks":["192.0.2.0/24",5]}"#,
    );
    assert_error(&wrong_type, 422, "invalid_field", Some("netblocks[1]"));
    let error = &wrong_type.json()["error"];
    assert_eq!(error["value"], "5", "body: {}", wrong_type.body);
    assert_eq!(
        error["message"],
        "netblocks[1]: invalid type: integer `5`, expected a string at line 1 column 75",
        "body: {}",
        wrong_type.body
    );
    assert_eq!(
        request(admin, "POST", "/v1/providers", token, Some(valid)).status,
        201
    );
    assert_error(
        &request(admin, "POST", "/v1/providers", token, Some(valid)),
        409,
        "duplicate_name",
        Some("name"),
    );
    assert_error(
        &request(admin, "GET", "/v1/providers/missing", token, None),
        404,
        "not_found",
        None,
    );
    assert_error(
        &request(admin, "GET", "/v1/nothing-here", token, None),
        404,
        "not_found",
        None,
    );
    assert_error(
        &request(
            admin,
            "POST",
            "/v1/providers/bad-service-provider-example/delist",
            token,
            Some(r#"{"reason":"x"}"#),
        ),
        404,
        "not_found",
        None,
    );
    assert_error(
        &request(admin, "GET", "/v1/providers?limit=0", token, None),
        422,
        "invalid_limit",
        Some("limit"),
    );
    assert_error(
        &request(admin, "GET", "/v1/lookup/not_a..name", token, None),
        422,
        "invalid_lookup",
        Some("query"),
    );
    let large = format!(
        r#"{{"name":"big","category":"x","note":"{}"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let too_large = request(admin, "POST", "/v1/providers", token, Some(&large));
    assert_error(&too_large, 413, "body_too_large", None);
    assert_eq!(
        too_large.json()["error"]["message"],
        "request body too large: the limit is 1 MiB (1048576 bytes); send less data in one \
         request",
        "body: {}",
        too_large.body
    );

    let metrics = request(admin, "GET", "/metrics", token, None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .lines()
            .any(|line| line == "dnsbl_admin_failed_auth_total 2"),
        "metrics: {}",
        metrics.body
    );
}

#[test]
fn token_create_rejects_bad_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("dnsbl.sqlite");
    for name in ["", "a\nb", "with space", &"x".repeat(101)] {
        let output = binary()
            .args(["token", "create", "--name", name, "--role", "read", "--db"])
            .arg(&db)
            .output()
            .expect("dnsbl token create runs");
        assert!(!output.status.success(), "name {name:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let expected = format!(
            "error: invalid name {name:?}: expected 1 to 100 ASCII letters, digits, '.', '-' \
             or '_' for a token name\n"
        );
        assert_eq!(stderr, expected, "name {name:?}");
        assert!(!db.exists(), "name {name:?} created the database");
    }

    create_token(&db, "ops.team-1_a", "read");
    let list = binary()
        .args(["token", "list", "--db"])
        .arg(&db)
        .output()
        .expect("dnsbl token list runs");
    assert!(list.status.success(), "token list: {list:?}");
    let stdout = String::from_utf8(list.stdout).expect("UTF-8 list");
    let names: Vec<&str> = stdout
        .lines()
        .map(|line| line.split('\t').next().unwrap())
        .collect();
    assert_eq!(names, ["ops.team-1_a"]);
}
