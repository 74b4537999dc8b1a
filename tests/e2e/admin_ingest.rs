//! `POST /v1/ingest` of the real binary with a URL source served on loopback: a good file
//! is ingested and served, a 404 and a broken file fail and change nothing, and only one
//! ingest runs at a time.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::admin::create_token;
use crate::file_server::FileServer;
use crate::http::request;
use crate::support::{Server, a_values, field, query_udp, repo_zones};

/// Routing data that moves AS36351 (a listed provider of zones/register.toml) to
/// TEST-NET-1, so that the bundled 5.10.100.7 stops being listed and 192.0.2.7 starts.
const GOOD_CSV: &str = "192.0.2.0,192.0.2.255,36351,IBM Cloud\n\
                        198.18.0.0,198.18.0.255,64500,Other\n";
/// A CSV whose second line has a start address that is not one.
const BROKEN_CSV: &str = "192.0.2.0,192.0.2.255,36351,IBM Cloud\n\
                          192.0.2.300,192.0.3.0,36351,IBM Cloud\n";
const BUNDLED_QUERY: &str = "7.100.10.5.bl.example.";
const MOVED_QUERY: &str = "7.2.0.192.bl.example.";

fn start_with(db: &Path, extra: &[&OsStr]) -> (Server, SocketAddr) {
    let server = Server::start_with(&repo_zones(), db, extra);
    let line = server.wait_for_log("admin API listening", Duration::from_secs(10));
    let admin = field(&line, "address")
        .expect("the admin line has an address")
        .parse()
        .expect("the admin address parses");
    (server, admin)
}

/// Polls the run until it has finished and returns it.
fn wait_for_run(admin: SocketAddr, token: &str, id: i64) -> serde_json::Value {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let response = request(
            admin,
            "GET",
            &format!("/v1/ingest-runs/{id}"),
            Some(token),
            None,
        );
        assert_eq!(response.status, 200, "body: {}", response.body);
        let run = response.json();
        if run["status"] != "running" {
            return run;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("ingest run {id} did not finish within 60 s");
}

fn start_ingest(admin: SocketAddr, token: &str) -> i64 {
    let response = request(admin, "POST", "/v1/ingest", Some(token), None);
    assert_eq!(response.status, 202, "body: {}", response.body);
    let run = response.json();
    assert_eq!(run["status"], "running", "body: {}", response.body);
    run["id"].as_i64().expect("the run has an id")
}

fn listed(server: &Server, name: &str) -> Vec<String> {
    let response = query_udp(server.addr, name, RecordType::A);
    match response.metadata.response_code {
        ResponseCode::NXDomain => Vec::new(),
        _ => a_values(&response),
    }
}

#[test]
fn ingest_from_url() {
    let files = FileServer::start();
    let url = files.url("/asn-ipv4.csv");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let read_token = create_token(&db, "reader", "read");
    let (server, admin) = start_with(&db, &[OsStr::new("--ingest-source"), OsStr::new(&url)]);
    assert_eq!(listed(&server, BUNDLED_QUERY), ["127.0.0.2"]);
    assert!(listed(&server, MOVED_QUERY).is_empty());

    let forbidden = request(admin, "POST", "/v1/ingest", Some(&read_token), None);
    assert_eq!(forbidden.status, 403, "body: {}", forbidden.body);

    // A slow download keeps the first run busy while the second request arrives.
    files.set(
        "/asn-ipv4.csv",
        200,
        GOOD_CSV.as_bytes(),
        Duration::from_millis(1500),
    );
    let id = start_ingest(admin, &token);
    let second = request(admin, "POST", "/v1/ingest", Some(&token), None);
    assert_eq!(second.status, 409, "body: {}", second.body);
    assert_eq!(second.json()["error"]["code"], "ingest_running");
    let write = request(
        admin,
        "POST",
        "/v1/operators",
        Some(&token),
        Some(r#"{"name": "during-ingest"}"#),
    );
    assert_eq!(write.status, 409, "body: {}", write.body);
    assert_eq!(write.json()["error"]["code"], "ingest_running");
    let unrouted = request(admin, "PATCH", "/v1/operators", Some(&token), Some("{}"));
    assert_eq!(unrouted.status, 405, "body: {}", unrouted.body);
    // The run task may not have started yet on a busy machine, so a `queued` stage is
    // read again for up to 1 s, well within the 1.5 s that the download is delayed.
    let mut read = request(
        admin,
        "GET",
        &format!("/v1/ingest-runs/{id}"),
        Some(&token),
        None,
    );
    for _ in 0..50 {
        if read.json()["stage"] != "queued" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        read = request(
            admin,
            "GET",
            &format!("/v1/ingest-runs/{id}"),
            Some(&token),
            None,
        );
    }
    assert_eq!(read.status, 200, "body: {}", read.body);
    assert_eq!(read.json()["status"], "running", "body: {}", read.body);
    assert_eq!(read.json()["stage"], "downloading", "body: {}", read.body);
    let run = wait_for_run(admin, &token, id);
    assert_eq!(run["status"], "ok", "run: {run}");
    assert_eq!(run["stage"], "finished", "run: {run}");
    assert_eq!(run["rows_read"], 2, "run: {run}");
    assert_eq!(run["rows_v4"], 2, "run: {run}");
    assert_eq!(run["sources"][0], url.as_str(), "run: {run}");
    assert!(run["ranges_stored"].as_u64().unwrap() >= 1, "run: {run}");
    assert!(run["error"].is_null(), "run: {run}");
    assert_eq!(run["bytes_downloaded"], GOOD_CSV.len(), "run: {run}");
    let ok_id = id;
    // The run reports ok only once the new snapshot is served.
    assert_eq!(listed(&server, MOVED_QUERY), ["127.0.0.2"]);
    assert!(listed(&server, BUNDLED_QUERY).is_empty());

    files.set("/asn-ipv4.csv", 404, b"gone", Duration::ZERO);
    let id = start_ingest(admin, &token);
    let run = wait_for_run(admin, &token, id);
    assert_eq!(run["status"], "failed", "run: {run}");
    let error = run["error"].as_str().expect("a failed run has an error");
    assert!(error.contains(&url), "error {error:?} names the URL");
    assert!(error.contains("404"), "error {error:?} names the status");
    assert_eq!(run["bytes_downloaded"], 0, "run: {run}");
    assert_eq!(listed(&server, MOVED_QUERY), ["127.0.0.2"]);

    files.set("/asn-ipv4.csv", 200, BROKEN_CSV.as_bytes(), Duration::ZERO);
    let id = start_ingest(admin, &token);
    let run = wait_for_run(admin, &token, id);
    assert_eq!(run["status"], "failed", "run: {run}");
    let error = run["error"].as_str().expect("a failed run has an error");
    assert!(
        error.contains(&format!("{url}:2")),
        "error {error:?} names URL:LINE"
    );
    assert!(
        error.contains("192.0.2.300"),
        "error {error:?} names the value"
    );
    assert_eq!(run["bytes_downloaded"], BROKEN_CSV.len(), "run: {run}");
    assert_eq!(listed(&server, MOVED_QUERY), ["127.0.0.2"]);
    assert!(listed(&server, BUNDLED_QUERY).is_empty());

    let runs = request(
        admin,
        "GET",
        "/v1/ingest-runs?limit=3",
        Some(&read_token),
        None,
    );
    assert_eq!(runs.status, 200, "body: {}", runs.body);
    let statuses: Vec<String> = runs
        .json()
        .as_array()
        .expect("a list of runs")
        .iter()
        .map(|run| run["status"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(statuses, ["failed", "failed", "ok"]);
    let first = request(
        admin,
        "GET",
        &format!("/v1/ingest-runs/{ok_id}"),
        Some(&read_token),
        None,
    );
    assert_eq!(first.status, 200, "body: {}", first.body);
    assert_eq!(
        first.json()["bytes_downloaded"],
        GOOD_CSV.len(),
        "body: {}",
        first.body
    );
    let missing = request(admin, "GET", "/v1/ingest-runs/999999", Some(&token), None);
    assert_eq!(missing.status, 404, "body: {}", missing.body);
    let invalid = request(admin, "GET", "/v1/ingest-runs/x", Some(&token), None);
    assert_eq!(invalid.status, 422, "body: {}", invalid.body);

    let metrics = request(admin, "GET", "/metrics", Some(&token), None).body;
    for line in [
        "dnsbl_admin_ingests_total{result=\"ok\"} 1",
        "dnsbl_admin_ingests_total{result=\"failed\"} 2",
        "dnsbl_admin_ingest_duration_seconds_count 3",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "metrics lack {line:?}:\n{metrics}"
        );
    }
    let reloads = metrics
        .lines()
        .find_map(|l| l.strip_prefix("dnsbl_snapshot_reloads_total{result=\"ok\"} "))
        .and_then(|value| value.parse::<u64>().ok())
        .expect("the reload counter is exported");
    assert!(reloads >= 1, "reloads {reloads}");
}

#[test]
fn ingest_without_source_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "admin");
    let (_server, admin) = start_with(&db, &[]);
    let response = request(admin, "POST", "/v1/ingest", Some(&token), None);
    assert_eq!(response.status, 409, "body: {}", response.body);
    let body = response.json();
    assert_eq!(body["error"]["code"], "ingest_not_configured");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("--ingest-source"), "message {message:?}");
}

#[test]
fn ingest_source_rejects_other_schemes() {
    let dir = tempfile::tempdir().unwrap();
    let output = crate::support::binary()
        .args([
            "serve",
            "--ingest-source",
            "ftp://127.0.0.1/asn.csv",
            "--db",
        ])
        .arg(dir.path().join("dnsbl.sqlite"))
        .output()
        .expect("dnsbl runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unsupported ingest source \"ftp://127.0.0.1/asn.csv\""),
        "stderr: {stderr}"
    );
}
