//! `dnsbl ingest`: summaries, errors that name the file and line, and reloads of a running
//! server.

use std::path::Path;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::support::{Server, a_values, binary, nibble_name, query_udp, repo_zones};

fn slice(name: &str) -> std::path::PathBuf {
    repo_zones().join("data").join(name)
}

fn ingest(db: &Path, files: &[&Path]) -> std::process::Output {
    binary()
        .arg("ingest")
        .arg("--zones")
        .arg(repo_zones())
        .arg("--db")
        .arg(db)
        .arg("--asn-data")
        .args(files)
        .output()
        .expect("dnsbl ingest runs")
}

#[test]
fn bad_line_names_file_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let v4 = slice("asn-ipv4-slice.csv");
    let v6 = slice("asn-ipv6-slice.csv");

    let first = ingest(&db, &[&v4, &v6]);
    assert!(first.status.success(), "first ingest: {first:?}");

    let bad = dir.path().join("broken.csv");
    std::fs::write(
        &bad,
        "198.51.100.0,198.51.100.255,36351,IBM Cloud\n198.51.101.0,not-an-address,36351,IBM Cloud\n",
    )
    .unwrap();
    let failed = ingest(&db, &[&v4, &bad]);
    assert!(
        !failed.status.success(),
        "ingest of a broken file must fail"
    );
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains(&format!("{}:2:", bad.display())),
        "error names the file and line: {stderr}"
    );
    assert!(
        stderr.contains("not-an-address"),
        "error names the value: {stderr}"
    );

    // The routing data of the first ingest is still served, and nothing of the failed one.
    let server = Server::start(&repo_zones(), &db);
    let kept = query_udp(server.addr, "7.100.10.5.bl.example", RecordType::A);
    assert_eq!(a_values(&kept), ["127.0.0.2"]);
    let absent = query_udp(server.addr, "1.100.51.198.bl.example", RecordType::A);
    assert_eq!(absent.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn running_server_picks_up_new_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let server = Server::start(&repo_zones(), &db);
    let before = query_udp(server.addr, "1.100.51.198.bl.example", RecordType::A);
    assert_eq!(before.metadata.response_code, ResponseCode::NXDomain);

    let extra = dir.path().join("extra.csv");
    std::fs::write(&extra, "198.51.100.0,198.51.100.255,36351,IBM Cloud\n").unwrap();
    let output = ingest(&db, &[&slice("asn-ipv4-slice.csv"), &extra]);
    assert!(output.status.success(), "ingest: {output:?}");
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(!summary.trim().is_empty(), "ingest prints a summary");

    server.wait_for_log("snapshot loaded", Duration::from_secs(30));
    // The server logs the new snapshot just before it swaps it in, so a query right after
    // the log line can still meet the old one.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let after = query_udp(server.addr, "1.100.51.198.bl.example", RecordType::A);
        if a_values(&after) == ["127.0.0.2"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "198.51.100.1 is not listed after the reload: {after:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The IPv6 slice was not part of this ingest, so its ranges are gone.
    let v6_name = nibble_name("2401:c900:1800::1".parse().unwrap(), "bl.example");
    let v6 = query_udp(server.addr, &v6_name, RecordType::A);
    assert_eq!(v6.metadata.response_code, ResponseCode::NXDomain);
}

/// Copies the repository's zones/ into `dir`, with `edit` applied to register.toml.
fn zones_copy(dir: &Path, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let zones = dir.join("zones");
    std::fs::create_dir_all(zones.join("data")).unwrap();
    for name in ["zones.toml", "register.toml"] {
        let text = std::fs::read_to_string(repo_zones().join(name)).unwrap();
        let text = if name == "register.toml" {
            edit(&text)
        } else {
            text
        };
        std::fs::write(zones.join(name), text).unwrap();
    }
    zones
}

fn lookup(zones: &Path, db: &Path, query: &str) -> String {
    let output = binary()
        .arg("lookup")
        .arg("--zones")
        .arg(zones)
        .arg("--db")
        .arg(db)
        .arg(query)
        .output()
        .expect("dnsbl lookup runs");
    assert!(output.status.success(), "lookup: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn failed_ingest_keeps_register_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let first = ingest(&db, &[&slice("asn-ipv4-slice.csv")]);
    assert!(first.status.success(), "first ingest: {first:?}");
    let listed_before = lookup(&repo_zones(), &db, "5.10.100.7");
    assert!(listed_before.contains("SoftLayer"), "{listed_before}");

    // A register without SoftLayer, ingested together with a broken file.
    let zones = zones_copy(dir.path(), |text| {
        text.replace(
            "name = \"SoftLayer Technologies Inc.\"",
            "name = \"Renamed Provider\"",
        )
    });
    let bad = dir.path().join("broken.csv");
    std::fs::write(&bad, "5.10.96.0,5.10.127.255,36351,\"IBM Cloud\n").unwrap();
    let failed = binary()
        .arg("ingest")
        .arg("--zones")
        .arg(&zones)
        .arg("--db")
        .arg(&db)
        .arg("--asn-data")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(
        !failed.status.success(),
        "ingest of a broken file must fail"
    );
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("unterminated quote"), "{stderr}");

    let listed_after = lookup(&repo_zones(), &db, "5.10.100.7");
    assert_eq!(
        listed_after, listed_before,
        "the failed ingest changed the register"
    );
}

#[test]
fn empty_file_keeps_routing_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let first = ingest(&db, &[&slice("asn-ipv4-slice.csv")]);
    assert!(first.status.success(), "first ingest: {first:?}");

    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let failed = ingest(&db, &[&empty]);
    assert!(!failed.status.success(), "an ingest of no rows must fail");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("contains no rows"), "{stderr}");
    assert!(stderr.contains(&empty.display().to_string()), "{stderr}");
    assert!(lookup(&repo_zones(), &db, "5.10.100.7").contains("SoftLayer"));
}
