//! `dnsbl serve`: prepare the store, build the first snapshot, answer DNS, and swap in a
//! new snapshot whenever the data changes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use arc_swap::ArcSwap;
use dnsbl_config::ZonesDir;
use dnsbl_core::Snapshot;
use dnsbl_store::Store;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

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
    let zones = ZonesDir::load(&args.store.zones)?;
    let limit = args.widths.limit();
    zones.check_range_widths(&limit)?;
    let store = Store::open(&args.store.db)
        .await
        .with_context(|| format!("failed to open the database {}", args.store.db.display()))?;
    prepare_store(&store, &zones, &limit).await?;
    let started = Instant::now();
    let snapshot = store.load_snapshot(&zones.zones).await?;
    log_snapshot(&snapshot, started);
    let current = Arc::new(ArcSwap::from_pointee(snapshot));

    let mut options = crate::mirror::server_options(&args.mirrors);
    args.limits.apply(&mut options);
    let query_counters = options.query_counters.clone();
    let server = dnsbl_dns::DnsServer::bind_with(args.listen, current.clone(), options)
        .await
        .with_context(|| format!("failed to listen on {}", args.listen))?;
    info!(address = %server.local_addr(), "DNS listening on UDP and TCP");
    let mirrors = crate::mirror::spawn(args.mirrors, current.clone());

    let listings_changed = Arc::new(tokio::sync::Notify::new());
    if !args.no_admin {
        crate::admin::spawn_api(
            args.admin_listen,
            &store,
            &current,
            &listings_changed,
            &query_counters,
        )
        .await?;
    }
    let reloader = tokio::spawn(watch_for_changes(
        store,
        args.store.zones.clone(),
        current,
        Duration::from_secs(args.poll_seconds.max(1)),
        listings_changed,
        limit,
        hangup,
    ));

    shutdown_signal().await;
    info!("shutting down");
    reloader.abort();
    mirrors.abort();
    server.shutdown().await;
    info!("stopped");
    Ok(())
}

/// Applies register.toml to the store and makes sure listed ranges exist: the first start
/// ingests the bundled routing data, a changed register is expanded again.
/// A digest of the zone settings. It changes with any TTL, SOA, NS, style or zone list
/// change, and may also change with the Rust version that built the binary, which costs
/// one extra serial increase at most.
fn zone_fingerprint(zones: &ZonesDir) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    format!("{:?}", zones.zones).hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

async fn prepare_store(
    store: &Store,
    zones: &ZonesDir,
    limit: &dnsbl_core::RangeLimit,
) -> anyhow::Result<()> {
    let changes = store.sync_register(&zones.register).await?;
    store.sync_zone_settings(&zone_fingerprint(zones)).await?;
    if !store.has_routing_data().await? {
        let files = zones.bundled_data()?;
        if files.is_empty() {
            anyhow::bail!(
                "no routing data is stored yet and {} contains no CSV files; \
                 run `dnsbl ingest --asn-data FILE...` first",
                zones.root.join(dnsbl_config::DATA_DIR).display()
            );
        }
        info!(
            files = files.len(),
            "no routing data stored yet, ingesting the bundled data"
        );
        let summary = dnsbl_ingest::ingest_with_register(store, &files, None, limit).await?;
        info!(%summary, "bundled routing data ingested");
    } else if changes.changed || store.listings_stale().await? {
        // A stale mark without a change means an earlier process was killed between a
        // register write and its expansion.
        let summary = dnsbl_ingest::expand(store).await?;
        info!(%summary, "register changed, listings expanded again");
    }
    Ok(())
}

/// Builds a new snapshot next to the current one and swaps it in. The log line comes
/// after the swap, so a reader of the log knows that queries see the new data.
async fn install_snapshot(
    store: &Store,
    zones: &ZonesDir,
    current: &ArcSwap<Snapshot>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let snapshot = Arc::new(store.load_snapshot(&zones.zones).await?);
    current.store(snapshot.clone());
    log_snapshot(&snapshot, started);
    Ok(())
}

fn log_snapshot(snapshot: &Snapshot, started: Instant) {
    info!(
        serial = snapshot.serial,
        zones = snapshot.zones.len(),
        listings = snapshot.listings.len(),
        segments = snapshot.segment_count(),
        domains = snapshot.domain_count(),
        millis = started.elapsed().as_millis() as u64,
        "snapshot loaded"
    );
}

/// Rebuilds the snapshot on SIGHUP (after reading zones/ again) and when the database's
/// serial changes, for example after `dnsbl ingest` in another process or at once when
/// the admin API notifies `listings_changed`. A failed reload
/// is logged and the current snapshot keeps answering.
async fn watch_for_changes(
    store: Store,
    zones_root: std::path::PathBuf,
    current: Arc<ArcSwap<Snapshot>>,
    poll: Duration,
    listings_changed: Arc<tokio::sync::Notify>,
    limit: dnsbl_core::RangeLimit,
    mut hangup: Option<tokio::signal::unix::Signal>,
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
            info!("SIGHUP received, reading zones/ again");
            reload_all(&store, &zones_root, &current, &limit).await
        } else {
            reload_if_changed(&store, &zones_root, &current).await
        };
        if let Err(error) = result {
            error!(
                error = format!("{error:#}"),
                "reload failed, still serving the previous snapshot"
            );
        }
    }
}

async fn reload_all(
    store: &Store,
    zones_root: &std::path::Path,
    current: &ArcSwap<Snapshot>,
    limit: &dnsbl_core::RangeLimit,
) -> anyhow::Result<()> {
    let zones = ZonesDir::load(zones_root)?;
    zones.check_range_widths(limit)?;
    prepare_store(store, &zones, limit).await?;
    install_snapshot(store, &zones, current).await
}

async fn reload_if_changed(
    store: &Store,
    zones_root: &std::path::Path,
    current: &ArcSwap<Snapshot>,
) -> anyhow::Result<()> {
    if store.serial().await? == current.load().serial {
        return Ok(());
    }
    let zones = ZonesDir::load(zones_root)?;
    install_snapshot(store, &zones, current).await
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
