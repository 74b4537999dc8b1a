//! `dnsbl check`: validation without serving.

use crate::support::{binary, repo_zones};

/// Runs `dnsbl check` and returns (success, stdout, stderr).
fn check(zones: &std::path::Path, db: &std::path::Path) -> (bool, String, String) {
    let output = binary()
        .arg("check")
        .arg("--zones")
        .arg(zones)
        .arg("--db")
        .arg(db)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("dnsbl check runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_reports_the_snapshot_and_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");

    // No database yet: the first start is rehearsed and nothing is left behind.
    let (ok, stdout, stderr) = check(&repo_zones(), &db);
    assert!(ok, "check failed: {stdout}{stderr}");
    assert!(
        stdout.contains("2 zones (bl.example, dbl.example)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("17 listings, 375 address segments, 12 domains"),
        "{stdout}"
    );
    assert!(stdout.ends_with("ok\n"), "{stdout}");
    assert!(!db.exists(), "check must not create the database");

    // A file that is not a database is named in the error, and left as it was.
    std::fs::write(&db, "not a database").unwrap();
    let (ok, _, stderr) = check(&repo_zones(), &db);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("{} is not a SQLite database", db.display())),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&db).unwrap(), "not a database");

    // A broken register names the file, the entry and the value.
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    std::fs::copy(repo_zones().join("zones.toml"), zones.join("zones.toml")).unwrap();
    let register = std::fs::read_to_string(repo_zones().join("register.toml"))
        .unwrap()
        .replace("code = \"127.0.0.3\"", "code = \"127.0.0.300\"");
    std::fs::write(zones.join("register.toml"), register).unwrap();
    let (ok, _, stderr) = check(&zones, &dir.path().join("other.sqlite"));
    assert!(!ok);
    assert!(
        stderr.contains(
            "register.toml: category \"problem-mail-platform\": invalid code \"127.0.0.300\""
        ),
        "{stderr}"
    );
}

/// An unknown TXT placeholder, and `{lookup_url}` in a zone without a URL, are rejected
/// with the file, the entry and the placeholder.
#[test]
fn check_rejects_bad_templates() {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    std::fs::copy(repo_zones().join("zones.toml"), zones.join("zones.toml")).unwrap();
    let original = std::fs::read_to_string(repo_zones().join("register.toml")).unwrap();
    let cases = [
        (
            "{provider} ({source}) is a registered spam operation",
            "{provider} ({source}) is a registered spam operation, see {lookup_link}",
            "register.toml: category \"spam-operation\": unknown placeholder {lookup_link} \
             in txt",
        ),
        (
            "{provider} ({source}) is a registered spam operation",
            "{provider} ({source}) is a registered spam operation, see {lookup_url}",
            "zones.toml: zone \"bl.example\": serves category \"spam-operation\", whose txt \
             in ",
        ),
    ];
    for (from, to, expected) in cases {
        let register = original.replace(from, to);
        assert_ne!(register, original, "the register contains {from:?}");
        std::fs::write(zones.join("register.toml"), register).unwrap();
        let (ok, stdout, stderr) = check(&zones, &dir.path().join("dnsbl.sqlite"));
        assert!(!ok, "check passed with {to:?}: {stdout}");
        assert!(stderr.contains(expected), "{stderr}");
    }
}
