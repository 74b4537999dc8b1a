//! Allow-list edits through the admin API: create, list and delete.
//!
//! Entries written here carry `source = 'api'`, which the sync of register.toml leaves
//! alone; entries from register.toml are read-only here. Every write increases the serial
//! and appends to the audit log in one transaction.

use dnsbl_config::{AllowEntry, AllowTarget};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::tokens::{AuditContext, record_audit};
use crate::{Page, Store, StoreError, addr, bump_serial};

/// The `kind` of the [`StoreError`] variants about allow-list entries.
pub const ALLOW_ENTRY_KIND: &str = "allow-list entry";

/// A stored allow-list entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllowRecord {
    pub id: i64,
    /// The canonical range (CIDR prefix or `start-end`) or the lower-case domain.
    pub value: String,
    /// `range` or `domain`.
    pub kind: String,
    pub reason: String,
    /// Apex of the zone the entry applies to; `None` applies to every zone.
    pub zone: Option<String>,
    /// `file` (register.toml) or `api`.
    pub source: String,
}

fn read_record(row: &SqliteRow) -> Result<AllowRecord, StoreError> {
    Ok(AllowRecord {
        id: row.try_get("id")?,
        value: row.try_get("value")?,
        kind: row.try_get("kind")?,
        reason: row.try_get("reason")?,
        zone: row.try_get("zone")?,
        source: row.try_get("source")?,
    })
}

impl Store {
    /// Creates an API-sourced allow-list entry. An entry with the same value and zone is a
    /// conflict, whatever its source.
    pub async fn create_allow_entry(
        &self,
        context: &AuditContext,
        entry: &AllowEntry,
    ) -> Result<AllowRecord, StoreError> {
        let (value, kind, family, start, end) = match &entry.target {
            AllowTarget::Range(range) => {
                let (family, start, end) = addr::range_columns(range);
                (
                    range.to_string(),
                    "range",
                    Some(family),
                    Some(start),
                    Some(end),
                )
            }
            AllowTarget::Domain(domain) => (domain.clone(), "domain", None, None, None),
        };
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM allow_entries WHERE value = ? AND zone IS ?)",
        )
        .bind(&value)
        .bind(&entry.zone)
        .fetch_one(&mut *tx)
        .await?;
        if exists {
            return Err(StoreError::Conflict {
                kind: ALLOW_ENTRY_KIND,
                name: value,
            });
        }
        let id = sqlx::query(
            "INSERT INTO allow_entries (value, kind, family, start_addr, end_addr, reason, zone, source)
             VALUES (?, ?, ?, ?, ?, ?, ?, 'api')",
        )
        .bind(&value)
        .bind(kind)
        .bind(family)
        .bind(start)
        .bind(end)
        .bind(&entry.reason)
        .bind(&entry.zone)
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        bump_serial(&mut tx).await?;
        let row = sqlx::query(
            "SELECT id, value, kind, reason, zone, source FROM allow_entries WHERE id = ?",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let record = read_record(&row)?;
        record_audit(&mut tx, context, &serde_json::json!({ "created": record })).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Lists allow-list entries of both sources by id.
    pub async fn list_allow_entries(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Page<AllowRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, value, kind, reason, zone, source FROM allow_entries ORDER BY id LIMIT ? OFFSET ?",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(read_record).collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            limit,
            offset,
        })
    }

    /// Lists allow-list entries of both sources by id, each with the target that a
    /// snapshot build exempts: the range decoded from the address columns, or the domain.
    pub async fn list_allow_targets(&self) -> Result<Vec<(AllowRecord, AllowTarget)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, value, kind, reason, zone, source, family, start_addr, end_addr
             FROM allow_entries ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let record = read_record(row)?;
            let target = if record.kind == "range" {
                AllowTarget::Range(addr::decode_range(
                    row.try_get("family")?,
                    row.try_get("start_addr")?,
                    row.try_get("end_addr")?,
                )?)
            } else {
                AllowTarget::Domain(record.value.clone())
            };
            entries.push((record, target));
        }
        Ok(entries)
    }

    /// Returns the allow-list entries that name a zone other than `zones` (apexes in
    /// lowercase), by id: entries of the admin API for a zone since renamed or removed
    /// from zones.toml, which exempt nothing.
    pub async fn allow_entries_outside(
        &self,
        zones: &[&str],
    ) -> Result<Vec<AllowRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, value, kind, reason, zone, source FROM allow_entries WHERE zone IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut outside = Vec::new();
        for row in &rows {
            let record = read_record(row)?;
            if record
                .zone
                .as_deref()
                .is_some_and(|zone| !zones.contains(&zone))
            {
                outside.push(record);
            }
        }
        Ok(outside)
    }

    /// Deletes an API-sourced allow-list entry and returns it.
    pub async fn delete_allow_entry(
        &self,
        context: &AuditContext,
        id: i64,
    ) -> Result<AllowRecord, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT id, value, kind, reason, zone, source FROM allow_entries WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound {
                kind: ALLOW_ENTRY_KIND,
                name: id.to_string(),
            });
        };
        let record = read_record(&row)?;
        if record.source == "file" {
            return Err(StoreError::ReadOnly {
                kind: ALLOW_ENTRY_KIND,
                name: record.value,
            });
        }
        sqlx::query("DELETE FROM allow_entries WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        bump_serial(&mut tx).await?;
        record_audit(&mut tx, context, &serde_json::json!({ "deleted": record })).await?;
        tx.commit().await?;
        Ok(record)
    }
}
