//! `dnsbl export`: the file set and its manifest, a set that survives a kill, and the
//! errors for a missing database and one without routing data.

use crate::support::{binary, repo_zones};

fn export(db: &std::path::Path, dir: &std::path::Path) -> std::process::Output {
    binary()
        .arg("export")
        .arg("--zones")
        .arg(repo_zones())
        .arg("--db")
        .arg(db)
        .arg("--dir")
        .arg(dir)
        .output()
        .expect("dnsbl export runs")
}

#[test]
fn export_writes_files_and_manifest() {
    let root = tempfile::tempdir().unwrap();
    let db = root.path().join("dnsbl.sqlite");
    let data = repo_zones().join("data");
    let ingest = binary()
        .arg("ingest")
        .arg("--zones")
        .arg(repo_zones())
        .arg("--db")
        .arg(&db)
        .arg("--asn-data")
        .arg(data.join("asn-ipv4-slice.csv"))
        .arg(data.join("asn-ipv6-slice.csv"))
        .output()
        .unwrap();
    assert!(ingest.status.success(), "ingest: {ingest:?}");

    let dir = root.path().join("export");
    let output = export(&db, &dir);
    assert!(output.status.success(), "export: {output:?}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("current/manifest.json")).unwrap())
            .expect("the manifest is JSON");
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "bl.example.zone",
            "bl.example.ip4set",
            "bl.example.ip6trie",
            "dbl.example.zone",
            "dbl.example.dnset"
        ]
    );
    for file in &files {
        let contents = std::fs::read_to_string(dir.join("current").join(file)).unwrap();
        assert!(!contents.is_empty(), "{file} has contents");
    }
    let zone = std::fs::read_to_string(dir.join("current/bl.example.zone")).unwrap();
    assert!(
        zone.lines().nth(1).unwrap().contains(" IN SOA "),
        "the SOA comes first: {:?}",
        zone.lines().nth(1)
    );
    assert!(
        zone.contains("2.0.0.127.bl.example. 2100 IN A 127.0.0.2\n"),
        "the RFC 5782 test entry is written"
    );
    let dbl = std::fs::read_to_string(dir.join("current/dbl.example.zone")).unwrap();
    assert!(
        dbl.contains("\ntest.dbl.example. 2100 IN A"),
        "the RFC 5782 test entry is written"
    );
    // The test entry lists `test` itself only, as the live server answers.
    assert!(
        !dbl.contains("*.test.dbl.example."),
        "no wildcard lists the names under test"
    );

    let again = export(&db, &dir);
    assert!(again.status.success(), "second export: {again:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("current/bl.example.zone")).unwrap(),
        zone,
        "the output is stable"
    );
}

#[test]
fn export_without_routing_data_fails() {
    let root = tempfile::tempdir().unwrap();
    let db = root.path().join("empty.sqlite");
    // Creating a token creates the database, with no routing data.
    crate::admin::create_token(&db, "reader", "read");
    let output = export(&db, &root.path().join("export"));
    assert!(!output.status.success(), "export must fail");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("holds no routing data"),
        "error says what is missing: {stderr}"
    );
    assert!(!root.path().join("export").exists(), "nothing is written");
}

/// Checks that `dir/current` names a complete set: every file listed in `SHA256SUMS`
/// matches it, and the manifest is valid JSON listing the five files.
fn assert_complete_set(dir: &std::path::Path) {
    let set = dir.join("current");
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(&set)
        .output()
        .expect("sha256sum runs");
    assert!(
        check.status.success(),
        "the set matches SHA256SUMS: {check:?}"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(set.join("manifest.json")).unwrap())
            .expect("the manifest is complete JSON");
    assert_eq!(manifest["files"].as_array().unwrap().len(), 5);
}

#[test]
fn killed_export_leaves_a_complete_set() {
    let root = tempfile::tempdir().unwrap();
    let db = root.path().join("dnsbl.sqlite");
    let data = repo_zones().join("data");
    let ingest = binary()
        .args(["ingest", "--zones"])
        .arg(repo_zones())
        .arg("--db")
        .arg(&db)
        .arg("--asn-data")
        .arg(data.join("asn-ipv4-slice.csv"))
        .arg(data.join("asn-ipv6-slice.csv"))
        .output()
        .unwrap();
    assert!(ingest.status.success(), "ingest: {ingest:?}");
    let dir = root.path().join("export");
    assert!(export(&db, &dir).status.success());

    for delay_ms in [0, 2, 5, 10, 20, 40, 80] {
        let mut child = binary()
            .arg("export")
            .arg("--zones")
            .arg(repo_zones())
            .arg("--db")
            .arg(&db)
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        assert_complete_set(&dir);
    }
    assert!(
        export(&db, &dir).status.success(),
        "a later export succeeds"
    );
    assert_complete_set(&dir);
    let sets = std::fs::read_dir(dir.join(".sets")).unwrap().count();
    assert!(sets <= 2, "old and unfinished sets are removed: {sets}");
}

#[test]
fn export_missing_database_fails() {
    let root = tempfile::tempdir().unwrap();
    let db = root.path().join("missing.sqlite");
    let output = export(&db, &root.path().join("export"));
    assert!(!output.status.success(), "export must fail");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!("database {} not found", db.display());
    assert!(stderr.contains(&expected), "stderr: {stderr}");
    let mut left: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, Vec::<String>::new(), "nothing is created");
}
