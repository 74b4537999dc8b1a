//! When `dnsbl serve` runs `PRAGMA quick_check` on its database, and what it does with a
//! damaged file.
//!
//! The check reads every page (about 0.3 s for the full routing dataset with the file in
//! the page cache, seconds without), so it would delay the first answer. `serve` opens
//! the file without it and builds the first snapshot, which reads only the pages it needs.
//! The check then runs while the DNS listeners answer from that snapshot. The writers
//! (the admin API and the reloader) start only after it passed. A damaged file stops the
//! server with an error naming the path, as an open with the check would have.
//! A start that syncs a changed register checks the file before the sync writes to it.

use std::path::Path;
use std::time::Instant;

use dnsbl_store::{Store, StoreError};
use tracing::{error, info};

/// Checks the pages of `db` while the first snapshot is served. Returns an error naming
/// the path when the file is damaged.
pub async fn check_while_serving(store: &Store, db: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    match store.check_pages(db).await {
        Ok(()) => {
            info!(
                path = %db.display(),
                millis = started.elapsed().as_millis() as u64,
                "database check passed"
            );
            Ok(())
        }
        Err(damage) => {
            error!(
                path = %db.display(),
                error = %damage,
                "database check failed, stopping the server"
            );
            Err(anyhow::Error::new(damage))
        }
    }
}

/// Returns the error of the check of `db` when the file is damaged, or else `error`. A
/// start step that failed before the check ran may have failed because of the damage, and
/// the check's error names the path and the remedy, which a failed query does not.
pub async fn prefer_damage(store: &Store, db: &Path, error: anyhow::Error) -> anyhow::Error {
    match store.check_pages(db).await {
        Err(damage @ StoreError::Corrupt { .. }) => anyhow::Error::new(damage),
        _ => error,
    }
}
