//! `dnsbl check`: validate the zones directory and the database without serving.
//!
//! An existing database is opened read-only and `PRAGMA quick_check` reads all its pages.
//! On its next start `dnsbl serve` may only build the snapshot: when the files and range
//! limits are those of its last register sync, routing data is stored and the listed
//! ranges are up to date. Then check builds the snapshot from the database and the zones
//! directory. Otherwise it rehearses that start on a copy of the database in a temporary
//! directory: migrations, register sync, ingest of the bundled data or expansion, and the
//! snapshot build, as serve runs them. Without a database the first start is rehearsed
//! in a new temporary database. Provider netblocks and bundled routing rows are checked
//! against the same range limits as `dnsbl serve` takes. The summary goes to stdout; any
//! problem is an error and a non-zero exit.

use std::path::Path;

use anyhow::Context;
use dnsbl_config::{ZonesDir, ZonesTexts};
use dnsbl_core::{RangeLimit, Snapshot, ZoneSpec};
use dnsbl_store::Store;
use tracing::Instrument;

use crate::cli::CheckArgs;

pub async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let zones_path = &args.store.zones;
    let texts = ZonesTexts::read(zones_path)?;
    let zones = texts.parse()?;
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
        rehearse_start(None, zones_path, &range_limit).await?
    } else {
        // The store's errors name the path already.
        let pending = Store::pending_migrations(db)
            .await
            .context("failed to open the database read-only")?;
        if pending.is_empty() {
            let store = Store::open_read_only(db)
                .await
                .context("failed to open the database read-only")?;
            store.check_pages(db).await?;
            println!("{}: PRAGMA quick_check passed", db.display());
            match start_write_reason(&store, &texts, &zones, &range_limit).await? {
                None => check_stored(&store, &zones).await?,
                Some(reason) => {
                    println!("{}: {reason}; rehearsing that on a copy", db.display());
                    drop(store);
                    rehearse_start(Some(db), zones_path, &range_limit).await?
                }
            }
        } else {
            // After an upgrade: serve applies the migrations at start, so they are applied
            // to a copy here and the database itself stays as it is.
            println!(
                "{}: migrations not applied yet ({}), which `dnsbl serve` applies on start; \
                 rehearsing the start on a copy with them applied",
                db.display(),
                pending.join(", ")
            );
            rehearse_start(Some(db), zones_path, &range_limit).await?
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

/// Returns why `dnsbl serve` would write more than the zone settings on its next start
/// with these files, or `None` when it would only build the snapshot from the stored data.
/// It follows the conditions of `serve::apply_zones`.
async fn start_write_reason(
    store: &Store,
    texts: &ZonesTexts,
    zones: &ZonesDir,
    limit: &RangeLimit,
) -> anyhow::Result<Option<String>> {
    if !store.has_routing_data().await? {
        // serve stores the register and ingests the bundled data on start, as on a first
        // start, so the rehearsal checks the same.
        return Ok(Some(format!(
            "no routing data yet, which `dnsbl serve` ingests from {} on start",
            zones.root.join(dnsbl_config::DATA_DIR).display()
        )));
    }
    let fingerprint = crate::serve::files_fingerprint(texts, limit);
    if store.register_fingerprint().await?.as_deref() != Some(fingerprint.as_str()) {
        return Ok(Some(
            "zones.toml, register.toml or the range limits differ from those of the last \
             register sync, so `dnsbl serve` syncs the register again on start"
                .to_string(),
        ));
    }
    if store.listings_stale().await? {
        return Ok(Some(
            "the listed ranges are out of date, so `dnsbl serve` expands the register again \
             on start"
                .to_string(),
        ));
    }
    Ok(None)
}

/// Builds the snapshot from the stored data of `store` and the zones of `zones`, as
/// `dnsbl serve` does when the files are those of its last register sync, and returns it.
/// Reads only.
async fn check_stored(store: &Store, zones: &ZonesDir) -> anyhow::Result<Snapshot> {
    // serve would not sync these files, but they are still checked against the entries
    // of the admin API, which a sync would reject.
    store.check_register_sources(&zones.register).await?;
    let snapshot = store.load_snapshot(&zones.zones).await?;
    crate::serve::check_lookup_urls(&zones.zones, &snapshot)?;
    print_orphaned_allow_entries(store, &zones.zones).await?;
    Ok(snapshot)
}

/// Runs the start of `dnsbl serve` with the zones directory at `root` in a temporary
/// database, which is a copy of `db`, or a new database when `db` is `None`. The start
/// syncs the register, ingests the bundled data or expands, and builds the snapshot, all
/// in one transaction. Returns the snapshot built. The database at `db` is only read.
async fn rehearse_start(
    db: Option<&Path>,
    root: &Path,
    limit: &RangeLimit,
) -> anyhow::Result<Snapshot> {
    let dir = tempfile::tempdir().context("failed to create a temporary directory")?;
    let copy = dir.path().join("check.sqlite");
    if let Some(db) = db {
        Store::copy_read_only(db, &copy).await?;
    }
    // The log lines of serve's steps name the rehearsal and the copy, so that a reader of
    // the log does not take them for writes to the database itself.
    let span = tracing::info_span!("rehearsal", db = %copy.display());
    let store = Store::open(&copy).instrument(span.clone()).await?;
    let (zones, snapshot, _) = crate::serve::apply_zones(&store, root, limit, &mut None)
        .instrument(span)
        .await?;
    print_orphaned_allow_entries(&store, &zones).await?;
    Ok(snapshot)
}

/// Prints a warning for each allow-list entry that names a zone missing from `zones`.
async fn print_orphaned_allow_entries(store: &Store, zones: &[ZoneSpec]) -> anyhow::Result<()> {
    for entry in crate::serve::orphaned_allow_entries(store, zones).await? {
        println!(
            "warning: allow-list entry {} ({}) names zone {:?}, which zones.toml does not \
             define, so it exempts nothing",
            entry.id,
            entry.value,
            entry.zone.as_deref().unwrap_or_default()
        );
    }
    Ok(())
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
