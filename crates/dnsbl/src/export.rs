//! `dnsbl export`: write the master files and rbldnsd data files of every zone.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use dnsbl_config::ZonesDir;
use dnsbl_core::Snapshot;
use dnsbl_export::Manifest;
use dnsbl_store::Store;
use tracing::info;

use crate::cli::ExportArgs;

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let zones = ZonesDir::load(&args.store.zones)?;
    let store = Store::open(&args.store.db)
        .await
        .with_context(|| format!("failed to open the database {}", args.store.db.display()))?;
    if !store.has_routing_data().await? {
        anyhow::bail!(
            "the database {} holds no routing data yet: run `dnsbl serve` or `dnsbl ingest` first",
            args.store.db.display()
        );
    }
    let snapshot = store.load_snapshot(&zones.zones).await?;
    let dir = args.dir.clone();
    let manifest = tokio::task::spawn_blocking(move || write_export(&snapshot, &dir)).await??;
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
    info!(
        dir = %dir.display(),
        serial = snapshot.serial,
        files = manifest.files.len(),
        bytes = manifest.files.iter().map(|file| file.bytes).sum::<usize>(),
        millis = started.elapsed().as_millis() as u64,
        "export written"
    );
    Ok(manifest)
}
