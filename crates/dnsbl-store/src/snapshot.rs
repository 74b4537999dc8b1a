//! Building the immutable lookup snapshot from the store.
//!
//! The inputs of a snapshot are read either from the tables (categories, active providers,
//! `listed_ranges`, domains, allow-list entries) or from the `snapshot_cache` BLOB that
//! contains the same inputs (see [`crate::snapshot_cache`]). Both go through the BLOB form,
//! so there is one decoder feeding the [`SnapshotBuilder`].

use std::collections::HashMap;

use dnsbl_core::{ListingSource, Snapshot, SnapshotBuilder, ZoneSpec};
use futures_util::TryStreamExt;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::snapshot_cache::{CacheEncoder, FORMAT, decode};
use crate::{ListedRange, SourceKey, Store, StoreError, addr, read_serial};

/// The origin of a snapshot's inputs, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotSource {
    /// The `snapshot_cache` row, valid for the current serial.
    Cache,
    /// The tables, because no valid cache row existed.
    Tables,
}

impl SnapshotSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotSource::Cache => "cache",
            SnapshotSource::Tables => "tables",
        }
    }
}

/// The fields of an active provider that its listings carry.
struct ActiveProvider {
    id: i64,
    name: String,
    operator: Option<String>,
    /// Index into the snapshot's categories.
    category: u32,
    listed_since: Option<String>,
}

impl Store {
    /// Builds the snapshot of `zones` from the categories, the active (not delisted)
    /// providers with their listed ranges and domains, and the allow-list entries, all read
    /// in one read transaction so they belong to one serial. Reads the `snapshot_cache`
    /// row instead when it is valid for that serial; never writes.
    ///
    /// Each provider gets one listing per source: an ASN or a netblock for ranges, a domain
    /// for domains. Allow-list entries are passed to the builder with their zone. The
    /// expansion already cut out the entries of every zone, but they are passed again so
    /// that a change of the allow list takes effect before the next expansion.
    pub async fn load_snapshot(&self, zones: &[ZoneSpec]) -> Result<Snapshot, StoreError> {
        let mut tx = self.pool.begin().await?;
        let serial = read_serial(&mut tx).await?;
        let cached = match read_cache(&mut tx, serial).await? {
            Some(row) => usable(decode(row.try_get(0)?, serial, zones))?,
            None => None,
        };
        let builder = match cached {
            Some(builder) => builder,
            None => decode(&encode_tables(&mut tx, None).await?, serial, zones)?,
        };
        tx.commit().await?;
        Ok(builder.build()?)
    }

    /// Does what [`load_snapshot`](Self::load_snapshot) does, and after a load from the
    /// tables stores the inputs as the `snapshot_cache` row in the same transaction, so
    /// the next start reads one BLOB. Takes the write lock only on that path.
    pub async fn load_snapshot_and_cache(
        &self,
        zones: &[ZoneSpec],
    ) -> Result<(Snapshot, SnapshotSource), StoreError> {
        let mut tx = self.pool.begin().await?;
        let serial = read_serial(&mut tx).await?;
        let cached = read_cache(&mut tx, serial).await?;
        tx.commit().await?;
        // Each arm drops its BLOB before the build.
        let decoded = match cached {
            Some(row) => usable(decode(row.try_get(0)?, serial, zones))?,
            None => None,
        };
        let (builder, source) = match decoded {
            Some(builder) => (builder, SnapshotSource::Cache),
            None => {
                // Read and write in one write transaction, so that no register write can
                // fall between the read of the tables and the write of the cache.
                let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                let serial = read_serial(&mut tx).await?;
                let blob = encode_tables(&mut tx, None).await?;
                write_cache(&mut tx, serial, &blob).await?;
                tx.commit().await?;
                (decode(&blob, serial, zones)?, SnapshotSource::Tables)
            }
        };
        Ok((builder.build()?, source))
    }
}

/// Builds the snapshot of `zones` inside the caller's write transaction, so that it reads
/// the transaction's own writes. It reads the `snapshot_cache` row when that is valid for
/// the current serial; otherwise it reads the tables and stores what it read as the row.
pub(crate) async fn load_in_transaction(
    conn: &mut SqliteConnection,
    zones: &[ZoneSpec],
) -> Result<(Snapshot, SnapshotSource), StoreError> {
    let serial = read_serial(conn).await?;
    // Each arm drops its BLOB before the build.
    let cached = match read_cache(conn, serial).await? {
        Some(row) => usable(decode(row.try_get(0)?, serial, zones))?,
        None => None,
    };
    let (builder, source) = match cached {
        Some(builder) => (builder, SnapshotSource::Cache),
        None => {
            let blob = encode_tables(conn, None).await?;
            write_cache(conn, serial, &blob).await?;
            (decode(&blob, serial, zones)?, SnapshotSource::Tables)
        }
    };
    Ok((builder.build()?, source))
}

/// Returns the builder decoded from the cache, or `None` when the cache row is damaged:
/// the caller then reads the tables, which the cache only copies, and a warning names
/// the damage. Other errors are returned.
fn usable(
    decoded: Result<SnapshotBuilder, StoreError>,
) -> Result<Option<SnapshotBuilder>, StoreError> {
    match decoded {
        Ok(builder) => Ok(Some(builder)),
        Err(StoreError::InvalidData(problem)) => {
            tracing::warn!(%problem, "snapshot cache damaged; loading from the tables instead");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Returns the `snapshot_cache` row, with the BLOB as column 0, when it exists for `serial`
/// in the current format. The decoder borrows the BLOB from the row, which saves a copy
/// of it (14 MB for the full routing dataset).
async fn read_cache(
    conn: &mut SqliteConnection,
    serial: u32,
) -> Result<Option<SqliteRow>, StoreError> {
    Ok(
        sqlx::query("SELECT data FROM snapshot_cache WHERE id = 1 AND serial = ? AND format = ?")
            .bind(serial)
            .bind(FORMAT)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Replaces the cache row with `blob`, valid for `serial`.
pub(crate) async fn write_cache(
    conn: &mut SqliteConnection,
    serial: u32,
    blob: &[u8],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT OR REPLACE INTO snapshot_cache (id, serial, format, data) VALUES (1, ?, ?, ?)",
    )
    .bind(serial)
    .bind(FORMAT)
    .bind(blob)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Reads the snapshot inputs from the tables into the BLOB form. `ranges` replaces the
/// read of `listed_ranges` when the caller has the rows it has just written in memory.
pub(crate) async fn encode_tables(
    conn: &mut SqliteConnection,
    ranges: Option<&[ListedRange]>,
) -> Result<Vec<u8>, StoreError> {
    let mut cache = CacheEncoder::default();

    let mut category_index = HashMap::new();
    for row in sqlx::query("SELECT id, name, code, txt FROM categories ORDER BY id")
        .fetch_all(&mut *conn)
        .await?
    {
        let name: String = row.try_get("name")?;
        let code: &str = row.try_get("code")?;
        let code = code.parse().map_err(|_| {
            StoreError::InvalidData(format!("category {name:?} has invalid code {code:?}"))
        })?;
        category_index.insert(row.try_get::<i64, _>("id")?, category_index.len() as u32);
        cache.category(&dnsbl_core::Category {
            name,
            code,
            txt: row.try_get("txt")?,
        });
    }

    let mut providers: Vec<ActiveProvider> = Vec::new();
    let mut rows = sqlx::query(
        "SELECT p.id, p.name, p.category_id, o.name AS operator, p.listed_since
         FROM providers p LEFT JOIN operators o ON o.id = p.operator_id
         WHERE p.delisted_at IS NULL ORDER BY p.id",
    )
    .fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        let category_id: i64 = row.try_get(2)?;
        let category = *category_index.get(&category_id).ok_or_else(|| {
            StoreError::InvalidData(format!("provider refers to missing category {category_id}"))
        })?;
        providers.push(ActiveProvider {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            operator: row.try_get(3)?,
            category,
            listed_since: row.try_get(4)?,
        });
    }
    drop(rows);
    let provider = |id: i64| {
        providers
            .binary_search_by_key(&id, |p| p.id)
            .ok()
            .map(|index| &providers[index])
    };

    // One listing per provider and source, however many ranges it has. Rows come grouped
    // by provider and source (the expansion writes them sorted), so the last key matches
    // almost every row and the map serves the rest.
    let mut interned: HashMap<(i64, SourceKey), u32> = HashMap::new();
    let mut last: Option<((i64, SourceKey), u32)> = None;
    let mut add = |cache: &mut CacheEncoder, listed: ListedRange| {
        let Some(provider) = provider(listed.provider_id) else {
            // Delisted since the last expansion.
            return;
        };
        let key = (listed.provider_id, listed.source);
        let listing = match last {
            Some((last_key, id)) if last_key == key => id,
            _ => {
                let id = *interned.entry(key).or_insert_with(|| {
                    let source = match listed.source {
                        SourceKey::Asn(asn) => ListingSource::Asn(asn),
                        SourceKey::Netblock(netblock) => ListingSource::Netblock(netblock),
                    };
                    cache.listing(
                        &provider.name,
                        provider.operator.as_deref(),
                        provider.category,
                        provider.listed_since.as_deref(),
                        &source,
                    )
                });
                last = Some((key, id));
                id
            }
        };
        cache.range(&listed.range, listing);
    };
    match ranges {
        Some(ranges) => {
            for listed in ranges {
                add(&mut cache, *listed);
            }
        }
        None => {
            let mut rows = sqlx::query(
                "SELECT provider_id, family, start_addr, end_addr, asn, netblock
                 FROM listed_ranges ORDER BY rowid",
            )
            .fetch(&mut *conn);
            while let Some(row) = rows.try_next().await? {
                let family: i64 = row.try_get(1)?;
                let range = addr::decode_range(family, row.try_get(2)?, row.try_get(3)?)?;
                let source = match row.try_get::<Option<u32>, _>(4)? {
                    Some(asn) => SourceKey::Asn(asn),
                    None => {
                        let text: &str = row.try_get(5)?;
                        let netblock = text.parse().map_err(|e| {
                            StoreError::InvalidData(format!(
                                "listed range with netblock {text:?}: {e}"
                            ))
                        })?;
                        SourceKey::Netblock(netblock)
                    }
                };
                let listed = ListedRange {
                    provider_id: row.try_get(0)?,
                    source,
                    range,
                };
                add(&mut cache, listed);
            }
        }
    }
    drop(interned);

    for row in sqlx::query("SELECT provider_id, domain FROM provider_domains")
        .fetch_all(&mut *conn)
        .await?
    {
        let Some(provider) = provider(row.try_get("provider_id")?) else {
            continue;
        };
        let domain: String = row.try_get("domain")?;
        let id = cache.listing(
            &provider.name,
            provider.operator.as_deref(),
            provider.category,
            provider.listed_since.as_deref(),
            &ListingSource::Domain(domain.clone()),
        );
        cache.domain(&domain, id);
    }

    for row in
        sqlx::query("SELECT kind, value, family, start_addr, end_addr, zone FROM allow_entries")
            .fetch_all(&mut *conn)
            .await?
    {
        let zone: Option<&str> = row.try_get("zone")?;
        let kind: &str = row.try_get("kind")?;
        if kind == "range" {
            let family: i64 = row.try_get("family")?;
            let range =
                addr::decode_range(family, row.try_get("start_addr")?, row.try_get("end_addr")?)?;
            cache.allow_range(&range, zone);
        } else {
            cache.allow_domain(row.try_get("value")?, zone);
        }
    }
    Ok(cache.finish())
}
