//! Integration tests of ingest and expansion against real SQLite files.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dnsbl_config::ZonesDir;
use dnsbl_core::{ListingSource, Snapshot};
use dnsbl_ingest::{
    IngestError, NoProgress, RangeLimit, expand, ingest, ingest_with_progress, read_routing_file,
};
use dnsbl_store::{Store, Update};

const ZONES: &str = "[[zone]]\nname = \"bl.example\"\nkind = \"address\"\n\
                     [[zone]]\nname = \"bl2.example\"\nkind = \"address\"\n";

const CATEGORY: &str =
    "[[category]]\nname = \"bad\"\ncode = \"127.0.0.2\"\ntxt = \"{provider} ({source})\"\n";

fn repo_zones() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones")
}

fn write_zones(dir: &Path, register: &str) -> ZonesDir {
    std::fs::write(dir.join("zones.toml"), ZONES).unwrap();
    std::fs::write(dir.join("register.toml"), register).unwrap();
    ZonesDir::load(dir).unwrap()
}

fn write_csv(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Returns the (provider, source) pairs listing `addr` in `zone`, sorted by provider.
fn listed_by(snapshot: &Snapshot, zone: &str, addr: &str) -> Vec<(String, ListingSource)> {
    let zone = snapshot.zones.iter().find(|z| z.spec.name == zone).unwrap();
    let ids = match addr.parse::<IpAddr>().unwrap() {
        IpAddr::V4(a) => zone.v4.lookup(u32::from(a)),
        IpAddr::V6(a) => zone.v6.lookup(u128::from(a)),
    };
    let mut found: Vec<_> = ids
        .unwrap_or_default()
        .iter()
        .map(|&id| {
            let listing = snapshot.listings.listing(id);
            (listing.provider.to_string(), listing.source.to_source())
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Everything an ingest may change, as text, to compare before and after.
async fn stored_state(store: &Store) -> (u32, Vec<String>, Vec<String>, Vec<String>) {
    let routing: Vec<String> = sqlx::query_scalar(
        "SELECT family || ' ' || hex(start_addr) || ' ' || hex(end_addr) || ' ' || asn || ' ' || org
         FROM routing_ranges ORDER BY rowid",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let listed: Vec<String> = sqlx::query_scalar(
        "SELECT provider_id || ' ' || hex(start_addr) || ' ' || hex(end_addr) || ' ' || source_kind
         FROM listed_ranges ORDER BY rowid",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let sources: Vec<String> = sqlx::query_scalar("SELECT path FROM routing_sources ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    (store.serial().await.unwrap(), routing, listed, sources)
}

#[tokio::test]
async fn bundled_slice_lists_softlayer() {
    let zones = ZonesDir::load(&repo_zones()).unwrap();
    let files = zones.bundled_data().unwrap();
    let slice = repo_zones().join("data/asn-ipv4-slice.csv");
    assert!(files.contains(&slice));

    // The addresses just outside the IBM Cloud row must be outside every row of the slice.
    let outside = [Ipv4Addr::new(5, 10, 95, 255), Ipv4Addr::new(5, 10, 128, 0)];
    let rows = read_routing_file(&slice).unwrap().rows;
    for addr in outside {
        assert!(
            rows.iter().all(|row| !row.range.contains(addr.into())),
            "{addr} is inside a row of the slice"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    store.sync_register(&zones.register).await.unwrap();
    let summary = ingest(&store, &files).await.unwrap();
    assert_eq!(summary.files, 2);
    assert_eq!(summary.rows_v4, rows.len() as u64);
    assert!(summary.rows_v6 > 0);
    assert_eq!(summary.providers_expanded, 4);
    assert!(store.has_routing_data().await.unwrap());
    assert_eq!(summary.serial, store.serial().await.unwrap());

    let snapshot = store.load_snapshot(&zones.zones).await.unwrap();
    let softlayer = (
        "SoftLayer Technologies Inc.".to_string(),
        ListingSource::Asn(36351),
    );
    for inside in ["5.10.96.0", "5.10.111.7", "5.10.127.255"] {
        assert_eq!(
            listed_by(&snapshot, "bl.example", inside),
            std::slice::from_ref(&softlayer),
            "{inside}"
        );
    }
    for addr in outside {
        let text = addr.to_string();
        assert!(
            listed_by(&snapshot, "bl.example", &text).is_empty(),
            "{text}"
        );
    }
    let listing = snapshot
        .listings
        .iter()
        .map(|l| l.to_listing())
        .find(|l| l.provider == softlayer.0 && l.source == softlayer.1)
        .unwrap();
    assert_eq!(listing.operator.as_deref(), Some("Hostopia.com Inc."));
    assert_eq!(listing.listed_since.as_deref(), Some("2026-12-04"));

    // IPv6: the slice row 2001:1810::-2001:1810:2fff:ffff:ffff:ffff:ffff:ffff is AS14116.
    assert_eq!(
        listed_by(&snapshot, "bl.example", "2001:1810::1"),
        [(
            "Internet Names for Business".to_string(),
            ListingSource::Asn(14116)
        )]
    );
}

/// Returns the status and the error of the last run in `ingest_runs`.
async fn last_run(store: &Store) -> (String, String) {
    sqlx::query_as("SELECT status, error FROM ingest_runs ORDER BY id DESC LIMIT 1")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Opens a store in `dir` with a register of provider P (AS64496) and one routing row of
/// that ASN (192.0.2.0/24) ingested.
async fn ingested_one_provider(dir: &Path) -> Store {
    let zones = write_zones(
        dir,
        &format!("{CATEGORY}[[provider]]\nname = \"P\"\ncategory = \"bad\"\nasns = [64496]\n"),
    );
    let store = Store::open(&dir.join("dnsbl.db")).await.unwrap();
    store.sync_register(&zones.register).await.unwrap();
    let good = write_csv(dir, "good.csv", "192.0.2.0,192.0.2.255,64496,Example\n");
    ingest(&store, std::slice::from_ref(&good)).await.unwrap();
    store
}

#[tokio::test]
async fn bad_second_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ingested_one_provider(dir.path()).await;
    let before = stored_state(&store).await;
    assert_eq!(before.1.len(), 1);
    assert_eq!(before.2.len(), 1);

    let other = write_csv(
        dir.path(),
        "other.csv",
        "198.51.100.0,198.51.100.255,64496,Example\n",
    );
    let bad = write_csv(
        dir.path(),
        "bad.csv",
        "203.0.113.0,203.0.113.255,64496,Example\n203.0.113.9,203.0.113.1,64496,Example\n",
    );
    let error = ingest(&store, &[other, bad.clone()]).await.unwrap_err();
    assert!(matches!(error, IngestError::Parse(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "{}:2: start is after end (203.0.113.9,203.0.113.1)",
            bad.display()
        )
    );
    assert_eq!(stored_state(&store).await, before);

    let (status, message) = last_run(&store).await;
    assert_eq!(status, "failed");
    assert_eq!(message, error.to_string());
}

#[tokio::test]
async fn empty_file_list_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    let error = ingest(&store, &[]).await.unwrap_err();
    assert!(matches!(error, IngestError::NoFiles), "{error:?}");
    assert_eq!(store.serial().await.unwrap(), 1);
}

#[tokio::test]
async fn netblocks_and_allow_entries() {
    let dir = tempfile::tempdir().unwrap();
    let register = format!(
        "{CATEGORY}\
         [[provider]]\nname = \"Asn\"\ncategory = \"bad\"\nasns = [\"AS64496\"]\n\
         [[provider]]\nname = \"Block\"\ncategory = \"bad\"\nnetblocks = [\"198.51.100.0/24\", \"2001:db8:1::/48\"]\n\
         [[allow]]\nvalue = \"192.0.2.128/25\"\nreason = \"our relay\"\n\
         [[allow]]\nvalue = \"198.51.100.7\"\nreason = \"one customer\"\nzone = \"bl2.example\"\n"
    );
    let zones = write_zones(dir.path(), &register);
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    store.sync_register(&zones.register).await.unwrap();
    let routing = write_csv(
        dir.path(),
        "asn-ipv4.csv",
        "192.0.2.0,192.0.2.127,64496,Example\n192.0.2.128,192.0.2.255,64496,Example\n\
         203.0.113.0,203.0.113.255,64497,Other\n",
    );
    let summary = ingest(&store, &[routing]).await.unwrap();
    assert_eq!(summary.providers_expanded, 2);
    // 192.0.2.0/25 (the allow entry cut the upper half), 198.51.100.0/24 and the IPv6 block.
    assert_eq!(summary.ranges_v4, 2);
    assert_eq!(summary.ranges_v6, 1);
    assert_eq!(summary.addresses_v4, 128 + 256);
    assert_eq!(summary.addresses_v6, 1 << 80);

    let snapshot = store.load_snapshot(&zones.zones).await.unwrap();
    let asn = |name: &str| vec![(name.to_string(), ListingSource::Asn(64496))];
    let block = vec![(
        "Block".to_string(),
        ListingSource::Netblock("198.51.100.0/24".parse().unwrap()),
    )];
    assert_eq!(
        listed_by(&snapshot, "bl.example", "192.0.2.127"),
        asn("Asn")
    );
    assert!(listed_by(&snapshot, "bl.example", "192.0.2.128").is_empty());
    assert!(listed_by(&snapshot, "bl.example", "203.0.113.1").is_empty());
    assert_eq!(listed_by(&snapshot, "bl.example", "198.51.100.7"), block);
    assert!(listed_by(&snapshot, "bl2.example", "198.51.100.7").is_empty());
    assert_eq!(listed_by(&snapshot, "bl2.example", "198.51.100.8"), block);
    let v6 = Ipv6Addr::new(0x2001, 0xdb8, 1, 0xffff, 0, 0, 0, 1).to_string();
    assert_eq!(listed_by(&snapshot, "bl.example", &v6).len(), 1);
    assert!(listed_by(&snapshot, "bl.example", "2001:db8:2::1").is_empty());
}

#[tokio::test]
async fn expand_follows_register_changes() {
    let dir = tempfile::tempdir().unwrap();
    let provider = "[[provider]]\nname = \"P\"\ncategory = \"bad\"\nasns = [64496]\n";
    let zones = write_zones(dir.path(), &format!("{CATEGORY}{provider}"));
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    store.sync_register(&zones.register).await.unwrap();
    let routing = write_csv(
        dir.path(),
        "asn-ipv6.csv",
        "2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64496,Example\n",
    );
    ingest(&store, &[routing]).await.unwrap();
    let snapshot = store.load_snapshot(&zones.zones).await.unwrap();
    assert_eq!(listed_by(&snapshot, "bl.example", "2001:db8::1").len(), 1);

    let delisted =
        format!("{CATEGORY}{provider}delisted = {{ date = \"2026-01-02\", reason = \"gone\" }}\n");
    let zones = write_zones(dir.path(), &delisted);
    let changes = store.sync_register(&zones.register).await.unwrap();
    assert!(changes.ranges_changed);
    let serial = store.serial().await.unwrap();
    let summary = expand(&store).await.unwrap();
    assert_eq!(summary.providers_expanded, 0);
    assert_eq!(summary.ranges_v6, 0);
    assert!(summary.serial > serial);
    let listed: i64 = sqlx::query_scalar("SELECT count(*) FROM listed_ranges")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(listed, 0);
    let snapshot = store.load_snapshot(&zones.zones).await.unwrap();
    assert!(listed_by(&snapshot, "bl.example", "2001:db8::1").is_empty());

    let runs: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, status FROM ingest_runs ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(
        runs,
        [
            ("ingest".to_string(), "ok".to_string()),
            ("expand".to_string(), "ok".to_string())
        ]
    );
}

#[tokio::test]
async fn database_error_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let zones = write_zones(
        dir.path(),
        &format!("{CATEGORY}[[provider]]\nname = \"P\"\ncategory = \"bad\"\nasns = [64496]\n"),
    );
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    store.sync_register(&zones.register).await.unwrap();
    let first = write_csv(
        dir.path(),
        "first.csv",
        "192.0.2.0,192.0.2.255,64496,Example\n",
    );
    ingest(&store, &[first]).await.unwrap();
    let before = stored_state(&store).await;

    // Make the write of the listed ranges fail after the routing rows were replaced.
    sqlx::query(
        "CREATE TRIGGER reject_listed BEFORE INSERT ON listed_ranges
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let second = write_csv(
        dir.path(),
        "second.csv",
        "198.51.100.0,198.51.100.255,64496,Example\n",
    );
    let error = ingest(&store, &[second]).await.unwrap_err();
    assert!(matches!(error, IngestError::Store(_)), "{error:?}");
    assert!(error.to_string().contains("injected failure"), "{error}");
    assert_eq!(stored_state(&store).await, before);

    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ingest_runs WHERE status = 'failed'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(failed, 1);
}

#[tokio::test]
async fn register_write_marks_listings_stale() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    assert!(!store.listings_stale().await.unwrap(), "a new database");

    let register = format!(
        "{CATEGORY}[[provider]]\nname = \"Block\"\ncategory = \"bad\"\nnetblocks = [\"198.51.100.0/24\"]\n"
    );
    let zones = write_zones(dir.path(), &register);
    let changes = store.sync_register(&zones.register).await.unwrap();
    assert!(changes.changed);
    assert!(
        store.listings_stale().await.unwrap(),
        "a register write before its expansion"
    );

    let routing = write_csv(
        dir.path(),
        "asn.csv",
        "192.0.2.0,192.0.2.255,64496,Example\n",
    );
    ingest(&store, &[routing]).await.unwrap();
    assert!(!store.listings_stale().await.unwrap(), "after an ingest");

    store
        .sync_register(&dnsbl_config::Register::default())
        .await
        .unwrap();
    assert!(store.listings_stale().await.unwrap(), "after a removal");
    expand(&store).await.unwrap();
    assert!(!store.listings_stale().await.unwrap(), "after an expansion");
}

/// The check before the commit reads the ingest's own writes, and its error rolls back the
/// register sync and the routing data and is recorded as the failed run.
#[tokio::test]
async fn rejected_before_commit_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ingested_one_provider(dir.path()).await;
    let before = stored_state(&store).await;

    let changed = write_zones(
        dir.path(),
        &format!(
            "{CATEGORY}[[provider]]\nname = \"P\"\ncategory = \"bad\"\nasns = [64496]\n\
             [[provider]]\nname = \"Q\"\ncategory = \"bad\"\nnetblocks = [\"203.0.113.0/24\"]\n"
        ),
    );
    let other = write_csv(
        dir.path(),
        "other.csv",
        "198.51.100.0,198.51.100.255,64496,Example\n",
    );
    let rejected = "zone \"bl.example\" cannot serve this";
    let mut seen = Vec::new();
    let error = ingest_with_progress(
        &store,
        &[other],
        Some(&changed.register),
        &RangeLimit::DEFAULT,
        Arc::new(NoProgress),
        async |update: &mut Update| {
            let (snapshot, _) = update.load_snapshot(&changed.zones).await?;
            seen = listed_by(&snapshot, "bl.example", "203.0.113.1");
            Err(IngestError::Rejected(rejected.to_string()))
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error.to_string(), rejected);
    assert_eq!(
        seen,
        [(
            "Q".to_string(),
            ListingSource::Netblock("203.0.113.0/24".parse().unwrap())
        )]
    );
    assert_eq!(stored_state(&store).await, before);
    let providers: i64 = sqlx::query_scalar("SELECT count(*) FROM providers")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(providers, 1);
    let (status, message) = last_run(&store).await;
    assert_eq!(status, "failed");
    assert_eq!(message, rejected);
}
