//! The write transaction of an ingest or expansion: replaces the routing snapshot and the
//! listed ranges, increases the serial and records the run, then commits all at once.
//!
//! Dropping an [`Update`] without [`Update::commit`] rolls every change back.

use std::path::PathBuf;
use std::time::SystemTime;

use dnsbl_core::AddrRange;
use futures_util::TryStreamExt;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqliteConnection, Transaction};

use crate::runs::{RunRecord, insert_run};
use crate::{Store, StoreError, addr, bump_serial, format_rfc3339, now_rfc3339};

/// Rows per multi-row INSERT. 400 rows of at most 7 values stay far below SQLite's limit
/// of 32766 bound values per statement.
const BATCH_ROWS: usize = 400;

/// One row of routing data: an address range originated by an ASN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingRow {
    pub range: AddrRange,
    pub asn: u32,
    /// Name of the organisation holding the ASN; may be empty.
    pub org: String,
}

/// A routing data file as read, for the record of the current routing snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingSource {
    pub path: PathBuf,
    pub rows: u64,
    /// File size in bytes.
    pub size: u64,
    pub modified: Option<SystemTime>,
}

/// Why a provider lists a range: an ASN or one of its netblocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKey {
    Asn(u32),
    Netblock(AddrRange),
}

/// One row of the expanded result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedRange {
    pub provider_id: i64,
    pub source: SourceKey,
    pub range: AddrRange,
}

/// An active provider and the netblocks it lists; its ASNs come through
/// [`Update::for_each_asn_range`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderTargets {
    pub id: i64,
    pub name: String,
    pub asns: Vec<u32>,
    pub netblocks: Vec<AddrRange>,
}

/// The inputs of an expansion besides the routing rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpansionInput {
    /// Providers that are not delisted, by id.
    pub providers: Vec<ProviderTargets>,
    /// Allow-list ranges that apply to every zone.
    pub allow_ranges: Vec<AddrRange>,
}

/// An open write transaction on the store, taken with `BEGIN IMMEDIATE` so that no other
/// writer can slip in between its reads and writes.
pub struct Update {
    tx: Transaction<'static, Sqlite>,
}

impl Store {
    /// Starts a write transaction for an ingest or an expansion.
    pub async fn begin_update(&self) -> Result<Update, StoreError> {
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Update { tx })
    }

    /// Records a run outside any update, for runs that failed and were rolled back.
    pub async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_run(&mut conn, run).await
    }
}

impl Update {
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    /// Applies register.toml inside this transaction; see [`Store::sync_register`].
    pub async fn sync_register(
        &mut self,
        register: &dnsbl_config::Register,
    ) -> Result<crate::RegisterChanges, StoreError> {
        crate::register::sync_in(self.conn(), register).await
    }

    /// Does what [`Store::sync_register_with_fingerprint`] does inside this transaction,
    /// without logging. Returns the changes and, when the serial increased, the new serial.
    pub async fn sync_register_with_fingerprint(
        &mut self,
        register: &dnsbl_config::Register,
        fingerprint: Option<&str>,
    ) -> Result<(crate::RegisterChanges, Option<u32>), StoreError> {
        crate::register::sync_with_fingerprint_in(self.conn(), register, fingerprint).await
    }

    /// Does what [`Store::sync_zone_settings`] does inside this transaction, without
    /// logging. Returns the new serial when it increased.
    pub async fn sync_zone_settings(
        &mut self,
        fingerprint: &str,
    ) -> Result<Option<u32>, StoreError> {
        crate::sync_zone_settings_in(self.conn(), fingerprint).await
    }

    /// Returns whether routing data is stored, read inside this transaction.
    pub async fn has_routing_data(&mut self) -> Result<bool, StoreError> {
        crate::read_has_routing_data(self.conn()).await
    }

    /// Returns whether the listed ranges are out of date, read inside this transaction.
    /// See [`Store::listings_stale`].
    pub async fn listings_stale(&mut self) -> Result<bool, StoreError> {
        crate::read_listings_stale(self.conn()).await
    }

    /// Builds the snapshot of `zones` from the data read inside this transaction, including
    /// its own uncommitted writes, and stores the `snapshot_cache` row when it was read from the
    /// tables. A caller that commits only after this succeeded never stores data that
    /// cannot be served.
    pub async fn load_snapshot(
        &mut self,
        zones: &[dnsbl_core::ZoneSpec],
    ) -> Result<(dnsbl_core::Snapshot, crate::SnapshotSource), StoreError> {
        crate::snapshot::load_in_transaction(self.conn(), zones).await
    }

    /// Replaces the routing snapshot with `rows` and the record of its files with `sources`.
    pub async fn replace_routing(
        &mut self,
        rows: &[RoutingRow],
        sources: &[RoutingSource],
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        sqlx::query("DELETE FROM routing_ranges")
            .execute(&mut *conn)
            .await?;
        insert_batched(
            conn,
            "INSERT INTO routing_ranges (family, start_addr, end_addr, asn, org) VALUES ",
            "(?, ?, ?, ?, ?)",
            rows,
            |query, row| {
                let (family, start, end) = addr::range_columns(&row.range);
                query
                    .bind(family)
                    .bind(start)
                    .bind(end)
                    .bind(row.asn)
                    .bind(row.org.clone())
            },
        )
        .await?;

        sqlx::query("DELETE FROM routing_sources")
            .execute(&mut *conn)
            .await?;
        let loaded_at = now_rfc3339();
        for source in sources {
            sqlx::query(
                "INSERT INTO routing_sources (path, rows, size, modified, loaded_at)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(source.path.display().to_string())
            .bind(i64::try_from(source.rows).unwrap_or(i64::MAX))
            .bind(i64::try_from(source.size).unwrap_or(i64::MAX))
            .bind(source.modified.map(|m| format_rfc3339(m.into())))
            .bind(&loaded_at)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Reads the active providers with their ASNs and netblocks, and the allow-list ranges
    /// of every zone.
    pub async fn expansion_input(&mut self) -> Result<ExpansionInput, StoreError> {
        let conn = self.conn();
        let mut providers: Vec<ProviderTargets> = Vec::new();
        for row in
            sqlx::query("SELECT id, name FROM providers WHERE delisted_at IS NULL ORDER BY id")
                .fetch_all(&mut *conn)
                .await?
        {
            providers.push(ProviderTargets {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                asns: Vec::new(),
                netblocks: Vec::new(),
            });
        }
        let position = |providers: &[ProviderTargets], id: i64| {
            providers.binary_search_by_key(&id, |p| p.id).ok()
        };
        for row in
            sqlx::query("SELECT provider_id, asn FROM provider_asns ORDER BY provider_id, asn")
                .fetch_all(&mut *conn)
                .await?
        {
            if let Some(index) = position(&providers, row.try_get("provider_id")?) {
                providers[index].asns.push(row.try_get("asn")?);
            }
        }
        for row in sqlx::query(
            "SELECT provider_id, family, start_addr, end_addr FROM provider_netblocks
             ORDER BY provider_id, family, start_addr",
        )
        .fetch_all(&mut *conn)
        .await?
        {
            if let Some(index) = position(&providers, row.try_get("provider_id")?) {
                providers[index].netblocks.push(range_of(&row)?);
            }
        }
        let mut allow_ranges = Vec::new();
        for row in sqlx::query(
            "SELECT family, start_addr, end_addr FROM allow_entries
             WHERE kind = 'range' AND zone IS NULL",
        )
        .fetch_all(&mut *conn)
        .await?
        {
            allow_ranges.push(range_of(&row)?);
        }
        Ok(ExpansionInput {
            providers,
            allow_ranges,
        })
    }

    /// Streams the routing rows of every ASN of an active provider, as
    /// `(provider id, asn, range)`, and returns how many there were.
    pub async fn for_each_asn_range(
        &mut self,
        mut visit: impl FnMut(i64, u32, AddrRange),
    ) -> Result<u64, StoreError> {
        let conn = self.conn();
        let mut rows = sqlx::query(
            "SELECT pa.provider_id, pa.asn, r.family, r.start_addr, r.end_addr
             FROM provider_asns pa
             JOIN providers p ON p.id = pa.provider_id AND p.delisted_at IS NULL
             JOIN routing_ranges r ON r.asn = pa.asn",
        )
        .fetch(&mut *conn);
        let mut count = 0;
        while let Some(row) = rows.try_next().await? {
            let provider_id: i64 = row.try_get(0)?;
            let asn: u32 = row.try_get(1)?;
            let family: i64 = row.try_get(2)?;
            let start: &[u8] = row.try_get(3)?;
            let end: &[u8] = row.try_get(4)?;
            visit(provider_id, asn, addr::decode_range(family, start, end)?);
            count += 1;
        }
        Ok(count)
    }

    /// Replaces the listed ranges with `ranges`.
    pub async fn replace_listed_ranges(
        &mut self,
        ranges: &[ListedRange],
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        sqlx::query("DELETE FROM listed_ranges")
            .execute(&mut *conn)
            .await?;
        insert_batched(
            conn,
            "INSERT INTO listed_ranges (provider_id, family, start_addr, end_addr, source_kind, asn, netblock) VALUES ",
            "(?, ?, ?, ?, ?, ?, ?)",
            ranges,
            |query, listed| {
                let (family, start, end) = addr::range_columns(&listed.range);
                let (kind, asn, netblock) = match listed.source {
                    SourceKey::Asn(asn) => ("asn", Some(asn), None),
                    SourceKey::Netblock(netblock) => ("netblock", None, Some(netblock.to_string())),
                };
                query
                    .bind(listed.provider_id)
                    .bind(family)
                    .bind(start)
                    .bind(end)
                    .bind(kind)
                    .bind(asn)
                    .bind(netblock)
            },
        )
        .await
    }

    /// Increases the serial of the listings and returns the new value. Call it after the
    /// expansion: it also clears the stale mark that register writes set.
    pub async fn bump_serial(&mut self) -> Result<u32, StoreError> {
        let serial = bump_serial(self.conn()).await?;
        sqlx::query("UPDATE state SET listings_stale = 0 WHERE id = 1")
            .execute(self.conn())
            .await?;
        Ok(serial)
    }

    /// Stores the snapshot inputs as the `snapshot_cache` row, valid for the current
    /// serial, with `ranges` as the listed ranges. Call it after
    /// [`replace_listed_ranges`](Self::replace_listed_ranges) with the same rows and
    /// after [`bump_serial`](Self::bump_serial), so that the next snapshot load reads one
    /// BLOB instead of every row.
    pub async fn write_snapshot_cache(&mut self, ranges: &[ListedRange]) -> Result<(), StoreError> {
        let conn = self.conn();
        let serial = crate::read_serial(conn).await?;
        let blob = crate::snapshot::encode_tables(conn, Some(ranges)).await?;
        crate::snapshot::write_cache(conn, serial, &blob).await
    }

    /// Records the run inside this transaction, so it is kept only if the update commits.
    pub async fn record_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        insert_run(self.conn(), run).await
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

fn range_of(row: &SqliteRow) -> Result<AddrRange, StoreError> {
    let family: i64 = row.try_get("family")?;
    let start: &[u8] = row.try_get("start_addr")?;
    let end: &[u8] = row.try_get("end_addr")?;
    addr::decode_range(family, start, end)
}

type Query = sqlx::query::Query<'static, Sqlite, SqliteArguments>;

/// Inserts `items` with multi-row INSERT statements of [`BATCH_ROWS`] rows. `head` is the
/// statement up to `VALUES `, `placeholders` the `(?, ...)` group of one row, and `bind`
/// binds the values of one row in that order. Each distinct statement text is prepared once
/// per connection and then reused.
async fn insert_batched<T>(
    conn: &mut SqliteConnection,
    head: &str,
    placeholders: &str,
    items: &[T],
    bind: impl Fn(Query, &T) -> Query,
) -> Result<(), StoreError> {
    let statement = |rows: usize| {
        let mut sql = String::with_capacity(head.len() + rows * (placeholders.len() + 1));
        sql.push_str(head);
        for index in 0..rows {
            if index > 0 {
                sql.push(',');
            }
            sql.push_str(placeholders);
        }
        sql
    };
    let full = statement(BATCH_ROWS);
    for chunk in items.chunks(BATCH_ROWS) {
        let sql = if chunk.len() == BATCH_ROWS {
            full.clone()
        } else {
            statement(chunk.len())
        };
        let mut query: Query = sqlx::query(AssertSqlSafe(sql));
        for item in chunk {
            query = bind(query, item);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
