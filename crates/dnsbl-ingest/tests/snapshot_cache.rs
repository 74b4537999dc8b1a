//! The `snapshot_cache` row against real SQLite files: written by every expansion, read
//! instead of the tables while valid, dropped by register edits that bypass an expansion.

use std::path::Path;

use dnsbl_config::ZonesDir;
use dnsbl_core::Snapshot;
use dnsbl_ingest::{expand, ingest};
use dnsbl_store::{SnapshotSource, Store};

const ZONES: &str = "[[zone]]\nname = \"bl.example\"\nkind = \"address\"\n\
                     [[zone]]\nname = \"dbl.example\"\nkind = \"domain\"\n";

const REGISTER: &str = "[[category]]\nname = \"bad\"\ncode = \"127.0.0.2\"\ntxt = \"{provider} ({source}) {operator}\"\n\
     [[operator]]\nname = \"Op\"\n\
     [[provider]]\nname = \"P\"\ncategory = \"bad\"\noperator = \"Op\"\nasns = [\"AS64500\"]\n\
     netblocks = [\"203.0.113.0/24\"]\ndomains = [\"spam.example\"]\n\
     [[provider]]\nname = \"Q\"\ncategory = \"bad\"\nasns = [\"AS64501\"]\n\
     [[allow]]\nvalue = \"192.0.2.128/25\"\nreason = \"our relay\"\n\
     [[allow]]\nvalue = \"ok.spam.example\"\nreason = \"a customer\"\nzone = \"dbl.example\"\n";

const ROUTING: &str = "192.0.2.0,192.0.2.255,64500,P Net\n\
                       198.51.100.0,198.51.100.255,64501,Q Net\n\
                       2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64500,P Net\n";

async fn ingested(dir: &Path) -> (Store, ZonesDir) {
    std::fs::write(dir.join("zones.toml"), ZONES).unwrap();
    std::fs::write(dir.join("register.toml"), REGISTER).unwrap();
    let zones = ZonesDir::load(dir).unwrap();
    let csv = dir.join("routing.csv");
    std::fs::write(&csv, ROUTING).unwrap();
    let store = Store::open(&dir.join("dnsbl.sqlite")).await.unwrap();
    store.sync_register(&zones.register).await.unwrap();
    ingest(&store, &[csv]).await.unwrap();
    (store, zones)
}

/// Everything the query path reads from a snapshot, as text.
fn contents(snapshot: &Snapshot) -> Vec<String> {
    let mut lines = vec![format!("serial {}", snapshot.serial)];
    for (id, listing) in snapshot.listings.iter().enumerate() {
        lines.push(format!("listing {id} {listing:?}"));
    }
    for zone in &snapshot.zones {
        for (start, end, ids) in zone.v4.segments() {
            lines.push(format!("{} v4 {start}-{end} {ids:?}", zone.spec.name));
        }
        for (start, end, ids) in zone.v6.segments() {
            lines.push(format!("{} v6 {start}-{end} {ids:?}", zone.spec.name));
        }
        let mut domains: Vec<_> = zone.domains.iter().collect();
        domains.sort();
        for (domain, ids) in domains {
            lines.push(format!("{} domain {domain} {ids:?}", zone.spec.name));
        }
        let mut excluded: Vec<_> = zone.excluded_domains.iter().collect();
        excluded.sort();
        lines.push(format!("{} excluded {excluded:?}", zone.spec.name));
    }
    lines
}

async fn cache_rows(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM snapshot_cache")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn cache_matches_tables() {
    let dir = tempfile::tempdir().unwrap();
    let (store, zones) = ingested(dir.path()).await;
    assert_eq!(cache_rows(&store).await, 1, "the ingest wrote the cache");

    let (cached, source) = store.load_snapshot_and_cache(&zones.zones).await.unwrap();
    assert_eq!(source, SnapshotSource::Cache);
    sqlx::query("DELETE FROM snapshot_cache")
        .execute(store.pool())
        .await
        .unwrap();
    let from_tables = store.load_snapshot(&zones.zones).await.unwrap();
    assert_eq!(contents(&cached), contents(&from_tables));
    assert_eq!(cache_rows(&store).await, 0, "load_snapshot never writes");

    // The next load from the tables writes the cache again, and the one after reads it.
    let (_, source) = store.load_snapshot_and_cache(&zones.zones).await.unwrap();
    assert_eq!(source, SnapshotSource::Tables);
    let (again, source) = store.load_snapshot_and_cache(&zones.zones).await.unwrap();
    assert_eq!(source, SnapshotSource::Cache);
    assert_eq!(contents(&again), contents(&from_tables));
}

/// A cache row with one changed byte (or a count it cannot hold) fails its digest, so
/// the load reads the tables, which it copies, and writes the row again.
#[tokio::test]
async fn damaged_cache_falls_back_to_tables() {
    let dir = tempfile::tempdir().unwrap();
    let (store, zones) = ingested(dir.path()).await;
    let (cached, source) = store.load_snapshot_and_cache(&zones.zones).await.unwrap();
    assert_eq!(source, SnapshotSource::Cache);
    for damage in [
        "UPDATE snapshot_cache SET data = substr(data, 1, 99) || x'5a' || substr(data, 101)",
        "UPDATE snapshot_cache SET data = randomblob(7177)",
    ] {
        sqlx::query(damage).execute(store.pool()).await.unwrap();
        let read_only = store.load_snapshot(&zones.zones).await.unwrap();
        assert_eq!(contents(&read_only), contents(&cached), "{damage}");
        let (rebuilt, source) = store.load_snapshot_and_cache(&zones.zones).await.unwrap();
        assert_eq!(source, SnapshotSource::Tables, "{damage}");
        assert_eq!(contents(&rebuilt), contents(&cached), "{damage}");
        let (_, source) = store.load_snapshot_and_cache(&zones.zones).await.unwrap();
        assert_eq!(
            source,
            SnapshotSource::Cache,
            "{damage}: the row was written again"
        );
    }
}

#[tokio::test]
async fn register_edit_drops_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (store, zones) = ingested(dir.path()).await;
    // An operator rename changes TXT records without an expansion or a new serial.
    sqlx::query("UPDATE operators SET name = 'Renamed' WHERE name = 'Op'")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(cache_rows(&store).await, 0);
    let (snapshot, source) = store.load_snapshot_and_cache(&zones.zones).await.unwrap();
    assert_eq!(source, SnapshotSource::Tables);
    let operators: Vec<_> = snapshot
        .listings
        .iter()
        .filter_map(|listing| listing.operator)
        .collect();
    assert_eq!(operators, ["Renamed", "Renamed", "Renamed"]);
}

#[tokio::test]
async fn serial_change_invalidates_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (store, zones) = ingested(dir.path()).await;
    let before = store.serial().await.unwrap();

    // New zone settings raise the serial but keep the listings, and the cache with them.
    assert!(store.sync_zone_settings("other settings").await.unwrap());
    let (snapshot, source) = store.load_snapshot_and_cache(&zones.zones).await.unwrap();
    assert_eq!(source, SnapshotSource::Cache);
    assert!(snapshot.serial > before);

    // A serial raised by another writer (here by hand) makes the row stale.
    sqlx::query("UPDATE state SET serial = serial + 1")
        .execute(store.pool())
        .await
        .unwrap();
    let (_, source) = store.load_snapshot_and_cache(&zones.zones).await.unwrap();
    assert_eq!(source, SnapshotSource::Tables);

    // An expansion writes the cache for its own serial.
    let summary = expand(&store).await.unwrap();
    let (snapshot, source) = store.load_snapshot_and_cache(&zones.zones).await.unwrap();
    assert_eq!(source, SnapshotSource::Cache);
    assert_eq!(snapshot.serial, summary.serial);
}

#[tokio::test]
async fn register_sync_clears_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let (store, zones) = ingested(dir.path()).await;
    store
        .sync_register_with_fingerprint(&zones.register, Some("files-1"))
        .await
        .unwrap();
    assert_eq!(
        store.register_fingerprint().await.unwrap().as_deref(),
        Some("files-1")
    );
    // A sync that does not know the files' fingerprint (as `dnsbl ingest --zones` does)
    // must make the next `dnsbl serve` sync again.
    store.sync_register(&zones.register).await.unwrap();
    assert_eq!(store.register_fingerprint().await.unwrap(), None);
}
