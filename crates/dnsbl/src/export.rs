//! `dnsbl export`: write the master files and rbldnsd data files of every zone.

use std::path::Path;
use std::time::Instant;

use dnsbl_config::ZonesDir;
use dnsbl_core::Snapshot;
use dnsbl_export::Manifest;
use tracing::info;

use crate::cli::ExportArgs;
use crate::progress::Bar;

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let zones = ZonesDir::load(&args.store.zones)?;
    let store = crate::admin::open_existing(&args.store).await?;
    if !store.has_routing_data().await? {
        anyhow::bail!(
            "the database {} holds no routing data yet: run `dnsbl serve` or `dnsbl ingest` first",
            args.store.db.display()
        );
    }
    let bar = crate::progress::Bar::start("loading the snapshot");
    let snapshot = store.load_snapshot(&zones.zones).await?;
    let dir = args.dir.clone();
    let manifest =
        tokio::task::spawn_blocking(move || write_export_with_progress(&snapshot, &dir, &bar))
            .await??;
    for file in &manifest.files {
        println!(
            "{}\t{}\tserial {}\t{} records\t{} bytes",
            file.file, file.format, file.serial, file.records, file.bytes
        );
    }
    Ok(())
}

/// Builds the export files of `snapshot` and publishes them into `dir`.
pub fn write_export(snapshot: &Snapshot, dir: &Path) -> anyhow::Result<Manifest> {
    let started = Instant::now();
    let files = dnsbl_export::export_files(snapshot)?;
    let manifest = dnsbl_export::publish(dir, snapshot.serial, &files)?;
    log_export(snapshot, dir, &manifest, started);
    Ok(manifest)
}

/// Does what [`write_export`] does, and shows each zone and the publishing on `bar`.
fn write_export_with_progress(
    snapshot: &Snapshot,
    dir: &Path,
    bar: &Bar,
) -> anyhow::Result<Manifest> {
    let started = Instant::now();
    let mut zones_done = 0;
    let files = dnsbl_export::export_files_with_progress(snapshot, &mut |zone, zone_count| {
        if zones_done == 0 {
            // One step per zone and one for writing the files.
            bar.steps(zone_count as u64 + 1, "");
        }
        bar.set(zones_done, &format!("building the records of {zone}"));
        zones_done += 1;
    })?;
    bar.set(zones_done, &format!("writing {} files", files.len()));
    let manifest = dnsbl_export::publish(dir, snapshot.serial, &files)?;
    log_export(snapshot, dir, &manifest, started);
    Ok(manifest)
}

fn log_export(snapshot: &Snapshot, dir: &Path, manifest: &Manifest, started: Instant) {
    info!(
        dir = %dir.display(),
        serial = snapshot.serial,
        files = manifest.files.len(),
        bytes = manifest.files.iter().map(|file| file.bytes).sum::<usize>(),
        millis = started.elapsed().as_millis() as u64,
        "export written"
    );
}
