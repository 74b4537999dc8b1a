//! `--log-format json`: every stderr line is one JSON object, and the lifecycle events
//! (listening addresses, snapshot loads with serial and counts, reloads, shutdown, ingest
//! and export runs) are logged at info with their fields.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{binary, repo_zones};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Parses one log line, failing the test when it is not a JSON object of the expected
/// shape.
fn parse(line: &str) -> Value {
    let value: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    assert!(value["timestamp"].is_string(), "timestamp in {line}");
    assert!(value["level"].is_string(), "level in {line}");
    assert!(value["target"].is_string(), "target in {line}");
    assert!(value["fields"]["message"].is_string(), "message in {line}");
    value
}

fn message(event: &Value) -> &str {
    event["fields"]["message"].as_str().unwrap_or_default()
}

/// Returns the first event with `text` as its message, failing when there is none.
fn find<'a>(events: &'a [Value], text: &str) -> &'a Value {
    events
        .iter()
        .find(|event| message(event) == text)
        .unwrap_or_else(|| panic!("no event {text:?} in {events:#?}"))
}

/// Runs a dnsbl command to completion with JSON logs and returns its events.
fn run_json(command: &mut Command) -> Vec<Value> {
    let output = command
        .env("RUST_LOG", "info")
        .output()
        .expect("dnsbl runs");
    assert!(output.status.success(), "{command:?}: {output:?}");
    String::from_utf8(output.stderr)
        .unwrap()
        .lines()
        .map(parse)
        .collect()
}

/// Reads events from `receiver` into `events` until one has the message `text`.
fn read_until(receiver: &mpsc::Receiver<String>, text: &str, events: &mut Vec<Value>) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let line = receiver
            .recv_timeout(remaining)
            .unwrap_or_else(|_| panic!("no event {text:?} within {TIMEOUT:?}: {events:#?}"));
        let event = parse(&line);
        let found = message(&event) == text;
        events.push(event);
        if found {
            return;
        }
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

#[test]
fn serve_logs_lifecycle_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = binary()
        .args(["--log-format", "json", "serve"])
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .arg("--zones")
        .arg(repo_zones())
        .arg("--db")
        .arg(dir.path().join("dnsbl.sqlite"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });

    let mut events = Vec::new();
    read_until(&receiver, "admin API listening on HTTP", &mut events);
    let dns = find(&events, "DNS listening on UDP and TCP");
    assert_eq!(dns["level"], "INFO");
    let address = dns["fields"]["address"].as_str().expect("address field");
    assert!(
        address.parse::<std::net::SocketAddr>().is_ok(),
        "address {address}"
    );
    let admin = find(&events, "admin API listening on HTTP");
    assert!(admin["fields"]["address"].is_string(), "{admin}");
    let ingested = find(&events, "ingest finished");
    assert_eq!(ingested["fields"]["rows_v4"], 349);
    assert_eq!(ingested["fields"]["rows_v6"], 25);
    let loaded = find(&events, "snapshot loaded");
    assert_eq!(loaded["level"], "INFO");
    assert!(loaded["fields"]["serial"].is_u64(), "{loaded}");
    assert_eq!(loaded["fields"]["zones"], 2);
    assert_eq!(loaded["fields"]["listings"], 17);
    assert_eq!(loaded["fields"]["segments"], 375);
    assert_eq!(loaded["fields"]["domains"], 12);

    // A reload by SIGHUP logs the signal and the new snapshot.
    signal(child.id(), "HUP");
    read_until(
        &receiver,
        "SIGHUP received, reading the zones directory again",
        &mut events,
    );
    let hangup = find(
        &events,
        "SIGHUP received, reading the zones directory again",
    );
    assert!(hangup["fields"]["zones"].is_string(), "{hangup}");
    read_until(&receiver, "snapshot loaded", &mut events);

    signal(child.id(), "TERM");
    read_until(&receiver, "stopped", &mut events);
    find(&events, "shutting down");
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn ingest_and_export_log_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let data = repo_zones().join("data");
    let mut ingest = binary();
    ingest
        .args(["--log-format", "json", "ingest", "--zones"])
        .arg(repo_zones())
        .arg("--db")
        .arg(&db)
        .arg("--asn-data")
        .arg(data.join("asn-ipv4-slice.csv"))
        .arg(data.join("asn-ipv6-slice.csv"));
    let events = run_json(&mut ingest);
    assert_eq!(find(&events, "ingest started")["fields"]["files"], 2);
    let finished = find(&events, "ingest finished");
    assert_eq!(finished["level"], "INFO");
    assert_eq!(finished["fields"]["rows_v4"], 349);
    assert!(finished["fields"]["serial"].is_u64(), "{finished}");

    // The variable sets the format as the flag does.
    let mut export = binary();
    export
        .arg("export")
        .arg("--zones")
        .arg(repo_zones())
        .arg("--db")
        .arg(&db)
        .arg("--dir")
        .arg(dir.path().join("export"))
        .env("DNSBL_LOG_FORMAT", "json");
    let events = run_json(&mut export);
    let written = find(&events, "export written");
    assert_eq!(written["fields"]["serial"], finished["fields"]["serial"]);
    // bl.example: master file, ip4set, ip6trie; dbl.example: master file, dnset.
    assert_eq!(written["fields"]["files"], 5);
    assert!(
        Path::new(written["fields"]["dir"].as_str().unwrap()).ends_with("export"),
        "{written}"
    );
}
