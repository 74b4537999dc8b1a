//! A register that a zone of style multi rejects: `dnsbl ingest` fails with serve's message
//! and stores nothing, and `dnsbl check` on a database served before fails with it too.

use std::path::{Path, PathBuf};

use crate::bad_input::{copy_zones, ingest, serve_until_exit, slices};
use crate::check::{check, has_snapshot_line};
use crate::db_state::{fingerprint, row_count, stored_serial};
use crate::support::Server;

/// A zone of style multi that serves the two categories whose codes have one bit set
/// (127.0.0.2 and 127.0.0.4).
const MULTI_ZONE: &str = "[[zone]]\nname = \"multi.example\"\nkind = \"address\"\n\
    style = \"multi\"\ncategories = [\"bad-service-provider\", \"spam-operation\"]\n";

/// The code of the category spam-operation in the repository's register.toml.
const GOOD_CODE: &str = "code = \"127.0.0.4\"";

/// A code with two bits set, which the multi zone rejects.
const BAD_CODE: &str = "code = \"127.0.0.6\"";

/// A provider that only the changed register lists.
const NEW_PROVIDER: &str = "[[provider]]\nname = \"Unservable Example\"\n\
    category = \"spam-operation\"\nnetblocks = [\"203.0.113.0/24\"]\n";

/// The error line of ingest, serve and check for the register with [`BAD_CODE`].
const ERROR_LINE: &str = "error: failed to build the snapshot: invalid listing code \
    127.0.0.6 for category \"spam-operation\" in zone \"multi.example\": a zone with style \
    \"multi\" needs codes 127.0.0.x where x is one bit (2, 4, 8, 16, 32, 64 or 128)";

/// Copies the repository's zones/ into `dir` with [`MULTI_ZONE`] added to zones.toml.
fn zones_with_multi_zone(dir: &Path) -> PathBuf {
    let zones = copy_zones(dir);
    let path = zones.join("zones.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n{MULTI_ZONE}")).unwrap();
    zones
}

/// Writes the repository's register.toml to `zones` with the code of spam-operation set
/// by `code` and [`NEW_PROVIDER`] added.
fn write_register(zones: &Path, code: &str) {
    let path = zones.join("register.toml");
    let original =
        std::fs::read_to_string(crate::support::repo_zones().join("register.toml")).unwrap();
    assert!(
        original.contains(GOOD_CODE),
        "register.toml lacks {GOOD_CODE}"
    );
    let text = original.replace(GOOD_CODE, code);
    std::fs::write(&path, format!("{text}\n{NEW_PROVIDER}")).unwrap();
}

/// Returns the last line of `bytes`, the output of a command.
fn last_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines().last().unwrap_or_default().to_string()
}

#[test]
fn ingest_rejects_unservable_register() {
    let dir = tempfile::tempdir().unwrap();
    let zones = zones_with_multi_zone(dir.path());
    let db = dir.path().join("dnsbl.sqlite");
    let first = ingest(&zones, &db, &slices());
    assert!(first.status.success(), "first ingest: {first:?}");
    let stored = fingerprint(&db);
    let serial = stored_serial(&db);
    let routing_rows = row_count(&db, "routing_ranges");
    let providers = row_count(&db, "providers");
    assert_eq!(routing_rows, 374);

    // Only the IPv4 slice, so a stored ingest would change the routing data too.
    write_register(&zones, BAD_CODE);
    let ipv4_only = &slices()[..1];
    let failed = ingest(&zones, &db, ipv4_only);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    assert_eq!(last_line(&failed.stderr), ERROR_LINE);
    assert_eq!(stored_serial(&db), serial);
    assert_eq!(row_count(&db, "routing_ranges"), routing_rows);
    assert_eq!(row_count(&db, "providers"), providers);
    assert_eq!(
        fingerprint(&db),
        stored,
        "the failed ingest changed the database"
    );

    // serve rejects the same files with the same message.
    let served = serve_until_exit(&zones, &db);
    assert_eq!(served.status.code(), Some(1), "{served:?}");
    assert_eq!(last_line(&served.stderr), ERROR_LINE);
    assert_eq!(
        fingerprint(&db),
        stored,
        "the failed start changed the database"
    );

    // A new database gets neither the register nor routing data.
    let fresh = dir.path().join("fresh.sqlite");
    let failed = ingest(&zones, &fresh, &slices());
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    assert_eq!(last_line(&failed.stderr), ERROR_LINE);
    for table in ["routing_ranges", "listed_ranges", "providers", "categories"] {
        assert_eq!(row_count(&fresh, table), 0, "rows in {table}");
    }

    // With a code the zone takes, the same ingest stores the new provider.
    write_register(&zones, GOOD_CODE);
    let good = ingest(&zones, &db, ipv4_only);
    assert!(good.status.success(), "ingest: {good:?}");
    assert_eq!(row_count(&db, "providers"), providers + 1);
    assert_eq!(row_count(&db, "routing_ranges"), 349);
    assert!(stored_serial(&db) > serial);
}

#[test]
fn check_rehearses_changed_register() {
    let dir = tempfile::tempdir().unwrap();
    let zones = zones_with_multi_zone(dir.path());
    let db = dir.path().join("dnsbl.sqlite");
    {
        let server = Server::start(&zones, &db);
        drop(server);
    }
    let stored = fingerprint(&db);

    // The files of the last start: the snapshot is built from the database, no rehearsal.
    let (ok, stdout, stderr) = check(&zones, &db);
    assert!(ok, "check failed: {stdout}{stderr}");
    assert!(!stdout.contains("rehearsing"), "{stdout}");
    let snapshot_line = ", 17 listings, 750 address segments, 12 domains";
    assert!(has_snapshot_line(&stdout, snapshot_line), "{stdout}");
    assert!(stdout.ends_with("ok\n"), "{stdout}");

    let rehearsal = format!(
        "{}: zones.toml, register.toml or the range limits differ from those of the last \
         register sync, so `dnsbl serve` syncs the register again on start; rehearsing that \
         on a copy",
        db.display()
    );
    write_register(&zones, BAD_CODE);
    let (ok, stdout, stderr) = check(&zones, &db);
    assert!(!ok, "check passed: {stdout}");
    assert!(stdout.lines().any(|line| line == rehearsal), "{stdout}");
    assert_eq!(last_line(stderr.as_bytes()), ERROR_LINE);
    assert_eq!(fingerprint(&db), stored, "check changed the database");

    // A register that serve takes passes, and the snapshot has the new provider's listing,
    // an address segment in each address zone.
    write_register(&zones, GOOD_CODE);
    let (ok, stdout, stderr) = check(&zones, &db);
    assert!(ok, "check failed: {stdout}{stderr}");
    assert!(stdout.lines().any(|line| line == rehearsal), "{stdout}");
    let snapshot_line = ", 18 listings, 752 address segments, 12 domains";
    assert!(has_snapshot_line(&stdout, snapshot_line), "{stdout}");
    assert!(stdout.ends_with("ok\n"), "{stdout}");
    assert_eq!(fingerprint(&db), stored, "check changed the database");
}
