//! `dnsbl ingest`: load routing data and expand the register into listed ranges.

use std::sync::Arc;

use anyhow::Context;
use dnsbl_config::ZonesTexts;
use dnsbl_ingest::{IngestError, ProgressReporter};
use dnsbl_store::Store;

use crate::cli::IngestArgs;

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let texts = ZonesTexts::read(&args.store.zones)?;
    let limit = args.widths.limit();
    let fingerprint = crate::serve::files_fingerprint(&texts, &limit);
    let zones = texts.parse()?;
    drop(texts);
    zones.check_range_widths(&limit)?;
    let store = Store::open(&args.store.db)
        .await
        .with_context(|| format!("failed to open the database {}", args.store.db.display()))?;
    let bar = Arc::new(crate::progress::Bar::start("opening the routing data"));
    // The snapshot is built before the commit, as serve builds it, so that a register that
    // serve would reject (a code that a zone of style multi rejects, say) is not stored.
    let build_snapshot = async |update: &mut dnsbl_store::Update| {
        bar.start_phase("building the snapshot");
        match crate::serve::build_snapshot_in(update, &zones.zones).await {
            Ok(_) => Ok(()),
            Err(error) => Err(IngestError::Rejected(format!("{error:#}"))),
        }
    };
    let summary = dnsbl_ingest::ingest_with_progress(
        &store,
        &args.asn_data,
        Some(&zones.register),
        &limit,
        bar.clone(),
        build_snapshot,
    )
    .await;
    drop(bar);
    let summary = summary?;
    // The ingest applied these files, so the next `dnsbl serve` with them can skip the sync.
    store
        .set_register_fingerprint_if_unset(&fingerprint)
        .await?;
    println!("{summary}");
    Ok(())
}
