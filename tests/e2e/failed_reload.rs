//! zones/ files that cannot be served: a register whose category codes a new zone of style
//! multi rejects. A SIGHUP with them fails and stores nothing, so the previous register,
//! serial and answers stay, and a start with them exits without writing the register.

use std::path::Path;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::bad_input::{copy_zones, ingest, serve_until_exit, slices};
use crate::db_state::{fingerprint, row_count};
use crate::peers::soa_serial;
use crate::support::{Server, a_values, query_udp};

/// A provider that only the new register lists, by netblock and by domain.
const NEW_PROVIDER: &str = "[[provider]]\nname = \"half-applied\"\n\
    category = \"bad-service-provider\"\nnetblocks = [\"203.0.113.0/24\"]\n\
    domains = [\"half-applied.example\"]\n";

/// A zone of style multi, which rejects the register's code 127.0.0.3.
const MULTI_ZONE: &str =
    "[[zone]]\nname = \"multi.example\"\nkind = \"address\"\nstyle = \"multi\"\n";

/// The cause that the error names, as the text log writes the error field.
const CAUSE: &str = r#"failed to build the snapshot: invalid listing code 127.0.0.3 for category \"problem-mail-platform\" in zone \"multi.example\": a zone with style \"multi\" needs codes 127.0.0.x where x is one bit"#;

/// The names the new provider lists.
const NEW_NAMES: [&str; 2] = [
    "1.113.0.203.bl.example.",
    "half-applied.example.dbl.example.",
];

/// Appends `text` to the file `name` in `zones`.
fn append(zones: &Path, name: &str, text: &str) {
    let path = zones.join(name);
    let old = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{old}\n{text}")).unwrap();
}

/// Returns the log lines the server writes within `wait`.
fn log_lines_within(server: &Server, wait: Duration) -> Vec<String> {
    let deadline = Instant::now() + wait;
    let mut lines = Vec::new();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match server.log.recv_timeout(remaining) {
            Ok(line) => lines.push(line),
            Err(RecvTimeoutError::Timeout) => return lines,
            Err(RecvTimeoutError::Disconnected) => panic!("the server stopped: {lines:?}"),
        }
    }
}

fn assert_new_names_unlisted(server: &Server) {
    for name in NEW_NAMES {
        let response = query_udp(server.addr, name, RecordType::A);
        assert_eq!(
            response.metadata.response_code,
            ResponseCode::NXDomain,
            "{name}"
        );
    }
}

#[test]
fn failed_reload_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let zones = copy_zones(dir.path());
    let db = dir.path().join("dnsbl.sqlite");
    let good_zones = std::fs::read_to_string(zones.join("zones.toml")).unwrap();
    let server = Server::start(&zones, &db);
    let serial = soa_serial(server.addr, "bl.example.").expect("an SOA for bl.example");
    let stored = fingerprint(&db);
    assert_new_names_unlisted(&server);

    append(&zones, "register.toml", NEW_PROVIDER);
    append(&zones, "zones.toml", MULTI_ZONE);
    server.hangup();
    let failure = server.wait_for_log("reload failed", Duration::from_secs(20));
    assert!(failure.contains("ERROR"), "{failure}");
    assert!(failure.contains(CAUSE), "{failure}");

    // The database is polled every second, so three seconds would show a reload of data
    // that the failed reload stored.
    let later = log_lines_within(&server, Duration::from_secs(3));
    for text in [
        "register synced",
        "zone settings changed",
        "snapshot loaded",
    ] {
        assert!(
            !later.iter().any(|line| line.contains(text)),
            "{text:?} logged after the failed reload: {later:?}"
        );
    }
    assert_eq!(
        fingerprint(&db),
        stored,
        "the failed reload changed the database"
    );
    assert_eq!(soa_serial(server.addr, "bl.example."), Some(serial));
    assert_new_names_unlisted(&server);

    // With zones.toml as before, the same register applies as a whole.
    std::fs::write(zones.join("zones.toml"), &good_zones).unwrap();
    server.hangup();
    server.wait_for_log("snapshot loaded", Duration::from_secs(20));
    for name in NEW_NAMES {
        let response = query_udp(server.addr, name, RecordType::A);
        assert_eq!(a_values(&response), ["127.0.0.2"], "{name}");
    }
    let new_serial = soa_serial(server.addr, "bl.example.").expect("an SOA for bl.example");
    assert!(
        new_serial > serial,
        "serial {new_serial} after, {serial} before"
    );
}

#[test]
fn failed_start_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good_zones = copy_zones(dir.path());
    let db = dir.path().join("dnsbl.sqlite");
    let first = ingest(&good_zones, &db, &slices());
    assert!(first.status.success(), "first ingest: {first:?}");
    let stored = fingerprint(&db);

    let bad = dir.path().join("bad");
    let bad_zones = copy_zones(&bad);
    append(&bad_zones, "register.toml", NEW_PROVIDER);
    append(&bad_zones, "zones.toml", MULTI_ZONE);
    // The text formatter escapes quotes in log fields but not in the error on stderr.
    let cause = CAUSE.replace(r#"\""#, "\"");

    let output = serve_until_exit(&bad_zones, &db);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&cause), "{stderr}");
    assert_eq!(
        fingerprint(&db),
        stored,
        "the failed start changed the database"
    );

    // A first start with the same files leaves the new database without register or
    // routing data.
    let fresh = dir.path().join("fresh.sqlite");
    let output = serve_until_exit(&bad_zones, &fresh);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&cause), "{stderr}");
    for table in ["providers", "categories", "routing_ranges", "listed_ranges"] {
        assert_eq!(row_count(&fresh, table), 0, "rows in {table}");
    }
}
