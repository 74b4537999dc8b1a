//! `dnsbl serve`: prepare the store, build the first snapshot, answer DNS, and swap in a
//! new snapshot whenever the data changes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use arc_swap::ArcSwap;
use dnsbl_config::ZonesTexts;
use dnsbl_core::{RangeLimit, Snapshot, ZoneSpec};
use dnsbl_store::{SnapshotSource, Store};
use tokio::signal::unix::{SignalKind, signal};
use tracing::{debug, error, info, warn};

use crate::cli::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // SIGHUP terminates a process that does not handle it, so the handler is installed
    // before anything is logged that an operator or a test could react to.
    let hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => Some(hangup),
        Err(error) => {
            warn!(%error, "cannot watch SIGHUP; reloads happen on database changes only");
            None
        }
    };
    // Bound before the data is loaded, so that a port conflict fails at once. The sockets
    // are read only once the first snapshot is ready, so queries wait in the socket
    // buffers and no NXDOMAIN is ever sent from missing data.
    let listeners = dnsbl_dns::BoundListeners::bind(args.listen)
        .await
        .with_context(|| format!("failed to listen on {}", args.listen))?;
    info!(address = %listeners.local_addr(), "DNS sockets bound, loading the data");
    let limit = args.widths.limit();
    let db = args.store.db.clone();
    // `PRAGMA quick_check` reads every page, so it runs once the first snapshot is served
    // (see `db_check`), unless a register sync is about to write to the file.
    let store = Store::open_without_check(&db)
        .await
        .with_context(|| format!("failed to open the database {}", db.display()))?;
    let mut unchecked = Some(db.as_path());
    let loaded = load_first_snapshot(&store, &args.store.zones, &limit, &mut unchecked).await;
    let (zones, snapshot) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return Err(crate::db_check::prefer_damage(&store, &db, error).await),
    };
    let current = Arc::new(ArcSwap::from_pointee(snapshot));

    let mut options = crate::mirror::server_options(&args.mirrors);
    options.query_log = open_query_log(args.query_log.as_deref(), options.query_counters.clone())?;
    args.limits.apply(&mut options);
    let query_counters = options.query_counters.clone();
    let query_log = options.query_log.clone();
    let server = listeners
        .start(current.clone(), options)
        .with_context(|| format!("failed to start the DNS listeners on {}", args.listen))?;
    info!(address = %server.local_addr(), "DNS listening on UDP and TCP");
    let mirrors = crate::mirror::spawn(args.mirrors, current.clone());

    // The writers (the admin API and the reloader) start only after the check passed.
    // This future returns the reloader's task, or the error of a damaged file or of a
    // failed admin API start.
    let writers = async {
        if let Some(db) = unchecked {
            crate::db_check::check_while_serving(&store, db).await?;
        }
        let listings_changed = Arc::new(tokio::sync::Notify::new());
        if !args.no_admin {
            crate::admin::spawn_api(
                args.admin_listen,
                &store,
                &current,
                &listings_changed,
                &query_counters,
                args.ingest.settings(limit),
            )
            .await?;
        }
        anyhow::Ok(tokio::spawn(watch_for_changes(
            store.clone(),
            args.store.zones.clone(),
            zones,
            current.clone(),
            Duration::from_secs(args.poll_seconds.max(1)),
            listings_changed,
            limit,
            hangup,
            query_log,
        )))
    };
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let started = tokio::select! {
        () = &mut shutdown => Ok(None),
        started = writers => started.map(Some),
    };
    let result = match started {
        Ok(Some(reloader)) => {
            (&mut shutdown).await;
            reloader.abort();
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(error) => Err(error),
    };
    info!("shutting down");
    mirrors.abort();
    server.shutdown().await;
    info!("stopped");
    result
}

/// Applies zones/ to the store and loads the snapshot to serve first. A register sync
/// checks the pages of `unchecked` first and takes it, so the caller knows whether the
/// check is still due.
async fn load_first_snapshot(
    store: &Store,
    zones_root: &std::path::Path,
    limit: &RangeLimit,
    unchecked: &mut Option<&std::path::Path>,
) -> anyhow::Result<(Vec<ZoneSpec>, Snapshot)> {
    let started = Instant::now();
    let (zones, snapshot, source) = apply_zones(store, zones_root, limit, unchecked).await?;
    log_snapshot(&snapshot, source, started);
    Ok((zones, snapshot))
}

/// A digest of the zone settings. It changes with any TTL, SOA, NS, style or zone list
/// change, and may also change with the Rust version that built the binary, which costs
/// one extra serial increase at most.
fn zone_fingerprint(zones: &[ZoneSpec]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    format!("{zones:?}").hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Computes a SHA-256 digest of everything the register sync and its checks depend on:
/// the texts of zones.toml and register.toml and the range limits.
pub(crate) fn files_fingerprint(texts: &ZonesTexts, limit: &RangeLimit) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"dnsbl zones/ fingerprint 1\0");
    hasher.update([limit.max_v4_prefix, limit.max_v6_prefix]);
    for text in [&texts.zones, &texts.register] {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Reads zones/, applies register.toml to the store, makes sure listed ranges exist and
/// builds the snapshot to serve: the first start ingests the bundled routing data, a
/// changed register is expanded again. Returns the zones and the snapshot.
///
/// Everything is written in one transaction, which commits only once the snapshot is
/// built. A register or zone settings that cannot be served (a category code that a zone
/// of style multi rejects, for example) thus fail with the reason and leave the stored
/// register, serial and fingerprints as they were.
///
/// When the files and range limits are those of the last successful sync (their
/// fingerprint is stored with it), the register is neither parsed nor synced again: with
/// a register of 90,000 providers that is most of the start time. Before a sync, the
/// pages of the `unchecked` database file (if any) are checked, and it is set to `None`.
pub(crate) async fn apply_zones(
    store: &Store,
    root: &std::path::Path,
    limit: &RangeLimit,
    unchecked: &mut Option<&std::path::Path>,
) -> anyhow::Result<(Vec<ZoneSpec>, Snapshot, SnapshotSource)> {
    let texts = ZonesTexts::read(root)?;
    let fingerprint = files_fingerprint(&texts, limit);
    let unchanged = store.register_fingerprint().await?.as_deref() == Some(fingerprint.as_str())
        && store.has_routing_data().await?;
    let (zones, dir) = if unchanged {
        debug!("zones/ unchanged since the last register sync, sync skipped");
        (texts.parse_zones()?, None)
    } else {
        let mut dir = texts.parse()?;
        dir.check_range_widths(limit)?;
        if let Some(db) = unchecked.take() {
            store.check_pages(db).await?;
        }
        (std::mem::take(&mut dir.zones), Some(dir))
    };
    drop(texts);

    let mut update = store.begin_update().await?;
    let mut synced = None;
    if let Some(dir) = &dir {
        let (changes, serial) = update
            .sync_register_with_fingerprint(&dir.register, Some(&fingerprint))
            .await?;
        synced = serial.map(|serial| (changes, serial));
    }
    let zone_serial = update.sync_zone_settings(&zone_fingerprint(&zones)).await?;
    let listings = if !update.has_routing_data().await? {
        // Without routing data the fingerprint never matches, so the register was read.
        let Some(dir) = &dir else {
            anyhow::bail!("no routing data is stored yet and the register was not read");
        };
        Listings::Ingested(ingest_bundled(&mut update, dir, limit).await?)
    } else if synced.is_some() || update.listings_stale().await? {
        // A stale mark without a change means an earlier process was killed between a
        // register write and its expansion.
        Listings::Expanded(dnsbl_ingest::expand_in_update(&mut update).await?)
    } else {
        Listings::Kept
    };
    // The register (tens of MB for a large one) is dropped here; only the zones stay.
    drop(dir);
    let (snapshot, source) = build_snapshot_in(&mut update, &zones).await?;
    update.commit().await?;

    if let Some((changes, serial)) = synced {
        info!(%changes, serial, "register synced");
    }
    if let Some(serial) = zone_serial {
        info!(serial, "zone settings changed");
    }
    warn_orphaned_allow_entries(store, &zones).await;
    match listings {
        Listings::Ingested(summary) => {
            dnsbl_ingest::log_ingest_finished(&summary);
            info!(%summary, "bundled routing data ingested");
        }
        Listings::Expanded(summary) => info!(%summary, "expansion finished"),
        Listings::Kept => {}
    }
    Ok((zones, snapshot, source))
}

/// Builds the snapshot of `zones` inside `update` and fails when it cannot be served. A
/// caller that commits only after this succeeded never stores a register or zone settings
/// that `serve` would reject. `dnsbl ingest` calls it before its commit for that reason.
pub(crate) async fn build_snapshot_in(
    update: &mut dnsbl_store::Update,
    zones: &[ZoneSpec],
) -> anyhow::Result<(Snapshot, SnapshotSource)> {
    let (snapshot, source) = update.load_snapshot(zones).await?;
    check_lookup_urls(zones, &snapshot)?;
    Ok((snapshot, source))
}

/// Fails when a zone without `lookup_url` serves a category whose TXT uses it, which
/// would render as empty text. zones.toml and register.toml are checked for this when they
/// are read. This check also covers the categories of the admin API, for example after
/// `lookup_url` was removed from a zone.
pub(crate) fn check_lookup_urls(zones: &[ZoneSpec], snapshot: &Snapshot) -> anyhow::Result<()> {
    match dnsbl_config::lookup_url_missing(zones, &snapshot.categories) {
        Some((zone, category)) => anyhow::bail!(
            "zone {zone:?} serves category {category:?}, whose txt uses {{lookup_url}}, but \
             the zone sets no lookup_url in zones.toml; set lookup_url for the zone or change \
             the category's txt"
        ),
        None => Ok(()),
    }
}

/// Logs a warning for each allow-list entry of the admin API that names a zone zones.toml
/// no longer defines (a zone renamed or removed), since such an entry exempts nothing.
/// register.toml entries cannot: the file check rejects them.
async fn warn_orphaned_allow_entries(store: &Store, zones: &[ZoneSpec]) {
    match orphaned_allow_entries(store, zones).await {
        Ok(entries) => {
            for entry in entries {
                warn!(
                    id = entry.id,
                    value = %entry.value,
                    zone = entry.zone.as_deref().unwrap_or_default(),
                    "allow-list entry names a zone that zones.toml does not define, so it \
                     exempts nothing; delete it and create it again for a served zone"
                );
            }
        }
        Err(error) => warn!(%error, "cannot read the allow-list entries to check their zones"),
    }
}

/// Returns the allow-list entries that name a zone other than those of `zones`.
pub(crate) async fn orphaned_allow_entries(
    store: &Store,
    zones: &[ZoneSpec],
) -> Result<Vec<dnsbl_store::AllowRecord>, dnsbl_store::StoreError> {
    let names: Vec<String> = zones
        .iter()
        .map(|zone| zone.name.to_ascii_lowercase())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    store.allow_entries_outside(&names).await
}

/// The change that [`apply_zones`] made to the listed ranges.
enum Listings {
    Ingested(dnsbl_ingest::IngestSummary),
    Expanded(dnsbl_ingest::ExpandSummary),
    Kept,
}

/// Ingests the routing data bundled in the zones directory inside `update`.
async fn ingest_bundled(
    update: &mut dnsbl_store::Update,
    dir: &dnsbl_config::ZonesDir,
    limit: &RangeLimit,
) -> anyhow::Result<dnsbl_ingest::IngestSummary> {
    let files = dir.bundled_data()?;
    if files.is_empty() {
        anyhow::bail!(
            "no routing data is stored yet and {} contains no CSV files; \
             run `dnsbl ingest --asn-data FILE...` first",
            dir.root.join(dnsbl_config::DATA_DIR).display()
        );
    }
    info!(
        files = files.len(),
        "no routing data stored yet, ingesting the bundled data"
    );
    Ok(dnsbl_ingest::ingest_in_update(update, &files, limit).await?)
}

/// Builds a new snapshot next to the current one and swaps it in. The log line comes
/// after the swap, so a reader of the log knows that queries see the new data.
async fn install_snapshot(
    store: &Store,
    zones: &[ZoneSpec],
    current: &ArcSwap<Snapshot>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (snapshot, source) = store.load_snapshot_and_cache(zones).await?;
    swap_in(snapshot, source, started, current);
    Ok(())
}

fn swap_in(
    snapshot: Snapshot,
    source: SnapshotSource,
    started: Instant,
    current: &ArcSwap<Snapshot>,
) {
    let snapshot = Arc::new(snapshot);
    current.store(snapshot.clone());
    dnsbl_admin::record_reload(true);
    log_snapshot(&snapshot, source, started);
}

fn log_snapshot(snapshot: &Snapshot, source: SnapshotSource, started: Instant) {
    info!(
        serial = snapshot.serial,
        zones = snapshot.zones.len(),
        listings = snapshot.listings.len(),
        segments = snapshot.segment_count(),
        domains = snapshot.domain_count(),
        from = source.as_str(),
        millis = started.elapsed().as_millis() as u64,
        "snapshot loaded"
    );
}

/// Rebuilds the snapshot on SIGHUP (after reopening the query log and reading zones/
/// again) and when the database's serial changes, for example after `dnsbl ingest` in
/// another process or at once when the admin API notifies `listings_changed`. A serial
/// change reuses the zones of the last read of zones/. A failed reload is logged and the
/// queries are still answered from the current snapshot.
#[allow(clippy::too_many_arguments)]
async fn watch_for_changes(
    store: Store,
    zones_root: std::path::PathBuf,
    mut zones: Vec<ZoneSpec>,
    current: Arc<ArcSwap<Snapshot>>,
    poll: Duration,
    listings_changed: Arc<tokio::sync::Notify>,
    limit: RangeLimit,
    mut hangup: Option<tokio::signal::unix::Signal>,
    query_log: dnsbl_dns::QueryLog,
) {
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let from_signal = tokio::select! {
            _ = ticker.tick() => false,
            _ = listings_changed.notified() => false,
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => None } } => true,
        };
        let result = if from_signal {
            // logrotate sends SIGHUP after renaming the query log. The writer thread
            // opens the file again, so this returns at once.
            query_log.reopen();
            info!(zones = %zones_root.display(), "SIGHUP received, reading the zones directory again");
            reload_all(&store, &zones_root, &current, &limit)
                .await
                .map(|read| zones = read)
        } else {
            reload_if_changed(&store, &zones, &current).await
        };
        if let Err(error) = result {
            dnsbl_admin::record_reload(false);
            error!(
                error = format!("{error:#}"),
                "reload failed, still serving the previous snapshot"
            );
        }
    }
}

/// Reads zones/ again, applies it and installs the new snapshot. Returns the zones read.
async fn reload_all(
    store: &Store,
    zones_root: &std::path::Path,
    current: &ArcSwap<Snapshot>,
    limit: &RangeLimit,
) -> anyhow::Result<Vec<ZoneSpec>> {
    let started = Instant::now();
    let (zones, snapshot, source) = apply_zones(store, zones_root, limit, &mut None).await?;
    swap_in(snapshot, source, started, current);
    Ok(zones)
}

async fn reload_if_changed(
    store: &Store,
    zones: &[ZoneSpec],
    current: &ArcSwap<Snapshot>,
) -> anyhow::Result<()> {
    if store.serial().await? == current.load().serial {
        return Ok(());
    }
    install_snapshot(store, zones, current).await
}

/// Opens the query log of `--query-log`, counting dropped lines in `counters`, or returns
/// the disabled log.
fn open_query_log(
    path: Option<&std::path::Path>,
    counters: Arc<dnsbl_core::QueryCounters>,
) -> anyhow::Result<dnsbl_dns::QueryLog> {
    let Some(path) = path else {
        return Ok(dnsbl_dns::QueryLog::default());
    };
    let log = dnsbl_dns::QueryLog::open(path, counters)
        .with_context(|| format!("failed to open the query log {}", path.display()))?;
    info!(path = %path.display(), "query log enabled");
    Ok(log)
}

async fn shutdown_signal() {
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
