//! `dnsbl check`: validate the zones directory and the database without serving.
//!
//! An existing database is opened read-only, `PRAGMA quick_check` reads all its pages, and
//! the snapshot is built from it and the zones directory, as `dnsbl serve` would build it.
//! A database that lacks migrations of this build (after an upgrade) is checked as a
//! migrated copy in a temporary directory. Without a database, or without routing data in
//! it, the first start is rehearsed in a temporary database: the register is stored and
//! the bundled routing data ingested. Provider netblocks and bundled routing rows are checked against the same
//! range limits as `dnsbl serve` takes. The summary goes to stdout; any problem is an error
//! and a non-zero exit.

use std::path::Path;

use anyhow::Context;
use dnsbl_config::ZonesDir;
use dnsbl_core::{RangeLimit, Snapshot};
use dnsbl_store::Store;

use crate::cli::CheckArgs;

pub async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let zones_path = &args.store.zones;
    let zones = ZonesDir::load(zones_path)?;
    println!(
        "{}: {} zones ({}), {} categories, {} operators, {} providers, {} allow-list entries",
        zones_path.display(),
        zones.zones.len(),
        zones
            .zones
            .iter()
            .map(|zone| zone.name.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        zones.register.categories.len(),
        zones.register.operators.len(),
        zones.register.providers.len(),
        zones.register.allow.len(),
    );

    let range_limit = args.widths.limit();
    zones.check_range_widths(&range_limit)?;
    println!("range limits: {}", describe_range_limit(&range_limit));
    println!("limits: {}", args.limits.summary());
    let acl_rules: usize = zones.zones.iter().map(|zone| zone.acl.rules.len()).sum();
    if acl_rules > 0 {
        println!("{acl_rules} access list rules in zones.toml");
    }

    let db = &args.store.db;
    let snapshot = if !db.exists() {
        println!(
            "{}: does not exist yet; rehearsing the first start in a temporary database",
            db.display()
        );
        rehearse_first_start(&zones, &range_limit).await?
    } else {
        // The store's errors name the path already.
        let pending = Store::pending_migrations(db)
            .await
            .context("failed to open the database read-only")?;
        if pending.is_empty() {
            let store = Store::open_read_only(db)
                .await
                .context("failed to open the database read-only")?;
            check_stored(&store, db, &zones, &range_limit).await?
        } else {
            // After an upgrade: serve applies the migrations at start, so they are applied
            // to a copy here and the database itself stays as it is.
            println!(
                "{}: migrations not applied yet ({}), which `dnsbl serve` applies on start; \
                 checking a copy with them applied",
                db.display(),
                pending.join(", ")
            );
            let dir = tempfile::tempdir().context("failed to create a temporary directory")?;
            let copy = dir.path().join("check.sqlite");
            Store::copy_read_only(db, &copy).await?;
            let store = Store::open(&copy).await?;
            check_stored(&store, db, &zones, &range_limit).await?
        }
    };
    println!(
        "snapshot: serial {}, {} listings, {} address segments, {} domains",
        snapshot.serial,
        snapshot.listings.len(),
        snapshot.segment_count(),
        snapshot.domain_count(),
    );
    println!("ok");
    Ok(())
}

/// Checks the database of `store` (the one at `db`, or a migrated copy of it) as `dnsbl
/// serve` would use it with `zones`, and returns the snapshot built from it.
async fn check_stored(
    store: &Store,
    db: &Path,
    zones: &ZonesDir,
    limit: &RangeLimit,
) -> anyhow::Result<Snapshot> {
    store.check_pages(db).await?;
    store.check_register_sources(&zones.register).await?;
    if !store.has_routing_data().await? {
        // serve stores the register and ingests the bundled data on start, as on a first
        // start, so the rehearsal checks the same.
        println!(
            "{}: no routing data yet, which `dnsbl serve` ingests from {} on start; \
             rehearsing that in a temporary database",
            db.display(),
            zones.root.join(dnsbl_config::DATA_DIR).display()
        );
        return rehearse_first_start(zones, limit).await;
    }
    // NOTE: the snapshot is built from the stored register and the new zones.toml. A
    // category code changed in register.toml that a zone of style multi rejects thus
    // passes here. serve rejects it at the next start or SIGHUP and stores nothing.
    let snapshot = store.load_snapshot(&zones.zones).await?;
    crate::serve::check_lookup_urls(&zones.zones, &snapshot)?;
    for entry in crate::serve::orphaned_allow_entries(store, &zones.zones).await? {
        println!(
            "warning: allow-list entry {} ({}) names zone {:?}, which zones.toml does not \
             define, so it exempts nothing",
            entry.id,
            entry.value,
            entry.zone.as_deref().unwrap_or_default()
        );
    }
    println!("{}: database read, PRAGMA quick_check passed", db.display());
    Ok(snapshot)
}

/// Returns the summary line of the maximum range widths, which `serve` and `ingest` apply
/// alike with the same options.
fn describe_range_limit(limit: &RangeLimit) -> String {
    if *limit == RangeLimit::NONE {
        "off, ranges of any width pass".to_string()
    } else {
        format!("routing rows and netblocks up to {limit}")
    }
}

async fn rehearse_first_start(zones: &ZonesDir, limit: &RangeLimit) -> anyhow::Result<Snapshot> {
    let dir = tempfile::tempdir().context("failed to create a temporary directory")?;
    let store = Store::open(&dir.path().join("check.sqlite")).await?;
    store.sync_register(&zones.register).await?;
    let files = zones.bundled_data()?;
    let summary = dnsbl_ingest::ingest_with_register(&store, &files, None, limit).await?;
    println!("bundled routing data: {summary}");
    Ok(store.load_snapshot(&zones.zones).await?)
}
