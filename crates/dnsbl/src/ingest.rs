//! `dnsbl ingest`: load routing data and expand the register into listed ranges.

use anyhow::Context;
use dnsbl_config::ZonesDir;
use dnsbl_store::Store;

use crate::cli::IngestArgs;

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let zones = ZonesDir::load(&args.store.zones)?;
    let limit = args.widths.limit();
    zones.check_range_widths(&limit)?;
    let store = Store::open(&args.store.db)
        .await
        .with_context(|| format!("failed to open the database {}", args.store.db.display()))?;
    let summary =
        dnsbl_ingest::ingest_with_register(&store, &args.asn_data, Some(&zones.register), &limit)
            .await?;
    println!("{summary}");
    Ok(())
}
