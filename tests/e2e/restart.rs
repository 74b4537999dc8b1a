//! Restarts of `dnsbl serve` on one database: a start with unchanged zones/ skips the
//! register sync and reads the snapshot cache, so these tests check that every change
//! made while the server was stopped is still served.

use std::path::{Path, PathBuf};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::support::{Server, a_values, binary, query_udp, repo_zones, txt_values};

/// 198.51.100.1, which neither the bundled register nor the routing slices list.
const NAME: &str = "1.100.51.198.bl.example";

/// Copies the repository's zones/ (the two TOML files and data/) into `dir`.
fn copy_zones(dir: &Path) -> PathBuf {
    let zones = dir.join("zones");
    std::fs::create_dir_all(zones.join("data")).unwrap();
    for name in ["zones.toml", "register.toml"] {
        std::fs::copy(repo_zones().join(name), zones.join(name)).unwrap();
    }
    for entry in std::fs::read_dir(repo_zones().join("data")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, zones.join("data").join(path.file_name().unwrap())).unwrap();
    }
    zones
}

/// Starts a server on `zones` and `db` and returns the rcode and A values for `NAME`.
fn answer_after_start(zones: &Path, db: &Path) -> (ResponseCode, Vec<String>) {
    let server = Server::start(zones, db);
    let response = query_udp(server.addr, NAME, RecordType::A);
    (response.metadata.response_code, a_values(&response))
}

#[test]
fn register_edit_while_stopped_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let zones = copy_zones(dir.path());
    let db = dir.path().join("dnsbl.sqlite");
    let original = std::fs::read_to_string(zones.join("register.toml")).unwrap();

    assert_eq!(
        answer_after_start(&zones, &db),
        (ResponseCode::NXDomain, vec![])
    );

    let added = format!(
        "{original}\n[[provider]]\nname = \"Restart Test Net\"\n\
         category = \"bad-service-provider\"\nnetblocks = [\"198.51.100.0/24\"]\n"
    );
    std::fs::write(zones.join("register.toml"), added).unwrap();
    let listed = (ResponseCode::NoError, vec!["127.0.0.2".to_string()]);
    assert_eq!(answer_after_start(&zones, &db), listed, "after the edit");
    // Unchanged files: the sync is skipped and the snapshot comes from the cache.
    let server = Server::start(&zones, &db);
    assert_eq!(
        a_values(&query_udp(server.addr, NAME, RecordType::A)),
        ["127.0.0.2"],
        "unchanged restart"
    );
    assert_eq!(
        txt_values(&query_udp(server.addr, NAME, RecordType::TXT)),
        [
            "198.51.100.1 is listed: Restart Test Net (198.51.100.0/24) is a hosting provider that sends spam to its customers"
        ]
    );
    drop(server);

    std::fs::write(zones.join("register.toml"), original).unwrap();
    assert_eq!(
        answer_after_start(&zones, &db),
        (ResponseCode::NXDomain, vec![]),
        "after removing the provider again"
    );
}

#[test]
fn ingest_while_stopped_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let zones = copy_zones(dir.path());
    let db = dir.path().join("dnsbl.sqlite");
    assert_eq!(
        answer_after_start(&zones, &db),
        (ResponseCode::NXDomain, vec![])
    );

    // New routing data that gives 198.51.100.0/24 to AS36351, a listed ASN.
    let extra = dir.path().join("extra.csv");
    std::fs::write(&extra, "198.51.100.0,198.51.100.255,36351,IBM Cloud\n").unwrap();
    let output = binary()
        .arg("ingest")
        .arg("--zones")
        .arg(&zones)
        .arg("--db")
        .arg(&db)
        .arg("--asn-data")
        .arg(zones.join("data/asn-ipv4-slice.csv"))
        .arg(zones.join("data/asn-ipv6-slice.csv"))
        .arg(&extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "dnsbl ingest: {output:?}");

    assert_eq!(
        answer_after_start(&zones, &db),
        (ResponseCode::NoError, vec!["127.0.0.2".to_string()])
    );
}
