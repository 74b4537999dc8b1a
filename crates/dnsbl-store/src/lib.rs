//! The SQLite store of dnsbl: the register (categories, operators, providers, allow-list
//! entries), the current routing snapshot, the expanded listed ranges, the log of ingest
//! runs and the serial of the listings.
//!
//! The schema lives in `migrations/` at the workspace root and is applied by
//! [`Store::open`]. This crate contains all the SQL of the project: the ingest crate computes
//! the expansion and writes it through an [`Update`] transaction.

mod addr;
mod admin;
mod allow;
mod categories;
mod error;
mod open;
mod operators;
mod read_only;
mod register;
mod register_provider;
mod register_read;
mod runs;
mod snapshot;
mod snapshot_cache;
mod tokens;
mod update;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{SqliteConnection, SqlitePool};

pub use admin::{Delisting, NewProvider, Page, ProviderFilter, ProviderRecord};
pub use allow::{ALLOW_ENTRY_KIND, AllowRecord};
pub use categories::{CategoryRecord, NewCategory};
pub use error::StoreError;
pub use operators::{NewOperator, OperatorRecord};
pub use register::{ChangeCounts, REMOVED_REASON, RegisterChanges};
pub use runs::{RunKind, RunRecord, StoredRun};
pub use snapshot::SnapshotSource;
pub use tokens::{AuditContext, AuditEntry, TokenInfo, TokenRole, check_token_name, is_valid_name};
pub use update::{
    ExpansionInput, ListedRange, ProviderTargets, RoutingRow, RoutingSource, SourceKey, Update,
};

/// The dnsbl database: a pool of SQLite connections to one file.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Returns whether a routing snapshot has been ingested.
    pub async fn has_routing_data(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_has_routing_data(&mut conn).await
    }

    /// Returns whether the register changed after the last expansion, so the listed ranges
    /// are out of date (a process was killed between a register write and its expansion).
    pub async fn listings_stale(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_listings_stale(&mut conn).await
    }

    /// Returns the serial of the listings, used as the SOA serial.
    pub async fn serial(&self) -> Result<u32, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_serial(&mut conn).await
    }
}

pub(crate) async fn read_has_routing_data(conn: &mut SqliteConnection) -> Result<bool, StoreError> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM routing_ranges)")
        .fetch_one(&mut *conn)
        .await?;
    Ok(exists)
}

pub(crate) async fn read_listings_stale(conn: &mut SqliteConnection) -> Result<bool, StoreError> {
    let stale: bool = sqlx::query_scalar("SELECT listings_stale FROM state WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    Ok(stale)
}

async fn read_serial(conn: &mut SqliteConnection) -> Result<u32, StoreError> {
    let serial: i64 = sqlx::query_scalar("SELECT serial FROM state WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    u32::try_from(serial)
        .map_err(|_| StoreError::InvalidData(format!("serial {serial} is not a 32-bit value")))
}

/// Increases the serial, marks the listed ranges stale and returns the new serial. An
/// [`Update`] clears the mark when it commits an expansion.
///
/// The new serial is the old one plus one, or the current Unix time in seconds when that is
/// larger. Unix time keeps the serial increasing even when the database is recreated, so
/// secondaries and caches that saw an older database still take the new data.
pub(crate) async fn bump_serial(conn: &mut SqliteConnection) -> Result<u32, StoreError> {
    let new = next_serial(conn).await?;
    sqlx::query("UPDATE state SET serial = ?, listings_stale = 1 WHERE id = 1")
        .bind(new)
        .execute(&mut *conn)
        .await?;
    Ok(new)
}

/// The serial after the current one: plus one, or the Unix time when that is larger.
async fn next_serial(conn: &mut SqliteConnection) -> Result<u32, StoreError> {
    let old = read_serial(conn).await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u32::try_from(elapsed.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0);
    Ok(old.wrapping_add(1).max(now))
}

impl Store {
    /// Stores `fingerprint`, a digest of the zone settings, and increases the serial when
    /// it differs from the stored one (or none is stored yet), without touching the
    /// listings. Returns whether the serial increased.
    pub async fn sync_zone_settings(&self, fingerprint: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let serial = sync_zone_settings_in(&mut tx, fingerprint).await?;
        tx.commit().await?;
        if let Some(serial) = serial {
            tracing::info!(serial, "zone settings changed");
        }
        Ok(serial.is_some())
    }
}

/// Does what [`Store::sync_zone_settings`] does inside the caller's transaction, without
/// logging. Returns the new serial when it increased.
pub(crate) async fn sync_zone_settings_in(
    conn: &mut SqliteConnection,
    fingerprint: &str,
) -> Result<Option<u32>, StoreError> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT zones_fingerprint FROM state WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
    if stored.as_deref() == Some(fingerprint) {
        return Ok(None);
    }
    let old = read_serial(conn).await?;
    let serial = next_serial(conn).await?;
    sqlx::query("UPDATE state SET serial = ?, zones_fingerprint = ? WHERE id = 1")
        .bind(serial)
        .bind(fingerprint)
        .execute(&mut *conn)
        .await?;
    // The listings are unchanged, so a cache valid for the old serial stays valid.
    sqlx::query("UPDATE snapshot_cache SET serial = ? WHERE serial = ?")
        .bind(serial)
        .bind(old)
        .execute(&mut *conn)
        .await?;
    Ok(Some(serial))
}

impl Store {
    /// Returns the fingerprint of the zones/ files that `dnsbl serve` last applied with
    /// [`sync_register_with_fingerprint`](Self::sync_register_with_fingerprint), or `None`
    /// after any other sync of the register.
    pub async fn register_fingerprint(&self) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT register_fingerprint FROM state WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Stores `fingerprint` for a register that a sync inside another transaction (an
    /// ingest) has just applied. It is stored only while no fingerprint is set, because a
    /// sync by `dnsbl serve` in between would have stored the fingerprint of its own files.
    pub async fn set_register_fingerprint_if_unset(
        &self,
        fingerprint: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE state SET register_fingerprint = ? WHERE id = 1 AND register_fingerprint IS NULL",
        )
        .bind(fingerprint)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Formats today's date in UTC as `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    let date = time::OffsetDateTime::now_utc().date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Formats the current time in UTC as RFC 3339.
pub(crate) fn now_rfc3339() -> String {
    format_rfc3339(time::OffsetDateTime::now_utc())
}

pub(crate) fn format_rfc3339(moment: time::OffsetDateTime) -> String {
    moment
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| moment.unix_timestamp().to_string())
}
