//! Provider edits through the admin API: create, update, delist, relist, read and list.
//!
//! Rows written here carry `source = 'api'`, which the sync of register.toml leaves alone.
//! Providers from register.toml are read-only here, because the next sync would undo an
//! edit. Every write increases the serial and appends to the audit log in one transaction.

use std::net::IpAddr;

use dnsbl_core::AddrRange;
use serde::Serialize;
use sqlx::{Row, SqliteConnection};

use crate::register_read::Source;
use crate::tokens::{AuditContext, is_unique_violation, record_audit};
use crate::{Store, StoreError, addr, bump_serial, now_rfc3339, today};

/// The fields of a provider as the API writes them.
#[derive(Clone, Debug, Default)]
pub struct NewProvider {
    pub name: String,
    pub category: String,
    pub operator: Option<String>,
    pub domains: Vec<String>,
    pub asns: Vec<u32>,
    pub netblocks: Vec<AddrRange>,
    pub note: Option<String>,
}

/// One listing, delisting or relisting of a provider through the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delisting {
    pub at: String,
    pub action: String,
    pub reason: Option<String>,
}

/// A stored provider with its targets and listing history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderRecord {
    pub name: String,
    pub category: String,
    pub operator: Option<String>,
    pub domains: Vec<String>,
    pub asns: Vec<u32>,
    pub netblocks: Vec<String>,
    pub note: Option<String>,
    pub listed_since: Option<String>,
    pub delisted_at: Option<String>,
    pub delist_reason: Option<String>,
    /// `file` (register.toml) or `api`.
    pub source: String,
    pub history: Vec<Delisting>,
}

/// Filters of [`Store::list_providers`]; every set filter must match.
#[derive(Clone, Debug, Default)]
pub struct ProviderFilter {
    /// Exact provider name.
    pub name: Option<String>,
    /// An ASN the provider lists.
    pub asn: Option<u32>,
    /// An address inside one of the provider's netblocks or inside a routed range of one
    /// of its ASNs.
    pub contains: Option<IpAddr>,
}

/// A page of a list.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    /// Creates an API-sourced provider, listed from today.
    pub async fn create_provider(
        &self,
        context: &AuditContext,
        provider: &NewProvider,
    ) -> Result<ProviderRecord, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (category_id, operator_id) = resolve_references(&mut tx, provider).await?;
        let inserted = sqlx::query(
            "INSERT INTO providers (name, category_id, operator_id, note, listed_since, source)
             VALUES (?, ?, ?, ?, ?, 'api')",
        )
        .bind(&provider.name)
        .bind(category_id)
        .bind(operator_id)
        .bind(&provider.note)
        .bind(today())
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(done) => done.last_insert_rowid(),
            Err(error) if is_unique_violation(&error) => {
                return Err(StoreError::Conflict {
                    kind: "provider",
                    name: provider.name.clone(),
                });
            }
            Err(error) => return Err(error.into()),
        };
        insert_children(&mut tx, id, provider).await?;
        insert_event(&mut tx, id, "listed", None).await?;
        bump_serial(&mut tx).await?;
        let record = read_provider(&mut tx, &provider.name).await?;
        record_audit(&mut tx, context, &serde_json::json!({ "created": record })).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Replaces the category, operator, note and targets of an API-sourced provider.
    pub async fn update_provider(
        &self,
        context: &AuditContext,
        provider: &NewProvider,
    ) -> Result<ProviderRecord, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let before = read_provider(&mut tx, &provider.name).await?;
        let id = api_provider_id(&mut tx, &before).await?;
        let (category_id, operator_id) = resolve_references(&mut tx, provider).await?;
        sqlx::query("UPDATE providers SET category_id = ?, operator_id = ?, note = ? WHERE id = ?")
            .bind(category_id)
            .bind(operator_id)
            .bind(&provider.note)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for statement in [
            "DELETE FROM provider_domains WHERE provider_id = ?",
            "DELETE FROM provider_asns WHERE provider_id = ?",
            "DELETE FROM provider_netblocks WHERE provider_id = ?",
        ] {
            sqlx::query(statement).bind(id).execute(&mut *tx).await?;
        }
        insert_children(&mut tx, id, provider).await?;
        bump_serial(&mut tx).await?;
        let after = read_provider(&mut tx, &provider.name).await?;
        let change = serde_json::json!({ "before": before, "after": after });
        record_audit(&mut tx, context, &change).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Delists (`reason` set) or relists (`reason` None) an API-sourced provider. Fails
    /// with [`StoreError::Rejected`] if it is already in that state.
    pub async fn set_provider_listed(
        &self,
        context: &AuditContext,
        name: &str,
        delist_reason: Option<&str>,
    ) -> Result<ProviderRecord, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let before = read_provider(&mut tx, name).await?;
        let id = api_provider_id(&mut tx, &before).await?;
        let action = match (delist_reason, before.delisted_at.is_some()) {
            (Some(_), true) | (None, false) => {
                return Err(StoreError::Rejected {
                    code: "state_unchanged",
                    field: "name".into(),
                    value: name.into(),
                    message: if before.delisted_at.is_some() {
                        "the provider is already delisted".into()
                    } else {
                        "the provider is already listed".into()
                    },
                });
            }
            (Some(reason), false) => {
                sqlx::query("UPDATE providers SET delisted_at = ?, delist_reason = ? WHERE id = ?")
                    .bind(today())
                    .bind(reason)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                "delisted"
            }
            (None, true) => {
                sqlx::query(
                    "UPDATE providers SET delisted_at = NULL, delist_reason = NULL,
                     listed_since = ? WHERE id = ?",
                )
                .bind(today())
                .bind(id)
                .execute(&mut *tx)
                .await?;
                "relisted"
            }
        };
        insert_event(&mut tx, id, action, delist_reason).await?;
        bump_serial(&mut tx).await?;
        let after = read_provider(&mut tx, name).await?;
        let change = serde_json::json!({ action: name, "reason": delist_reason });
        record_audit(&mut tx, context, &change).await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn get_provider(&self, name: &str) -> Result<ProviderRecord, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_provider(&mut conn, name).await
    }

    /// Lists providers by name, `limit` at a time from `offset`.
    pub async fn list_providers(
        &self,
        filter: &ProviderFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Page<ProviderRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let (family, point) = match filter.contains {
            Some(IpAddr::V4(v4)) => (Some(4i64), Some(addr::encode(u32::from(v4).into()))),
            Some(IpAddr::V6(v6)) => (Some(6i64), Some(addr::encode(u128::from(v6)))),
            None => (None, None),
        };
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT p.name FROM providers p
             WHERE (?1 IS NULL OR p.name = ?1)
               AND (?2 IS NULL OR EXISTS (SELECT 1 FROM provider_asns a
                                          WHERE a.provider_id = p.id AND a.asn = ?2))
               AND (?3 IS NULL
                    OR EXISTS (SELECT 1 FROM provider_netblocks n WHERE n.provider_id = p.id
                               AND n.family = ?3 AND n.start_addr <= ?4 AND n.end_addr >= ?4)
                    OR EXISTS (SELECT 1 FROM provider_asns a JOIN routing_ranges r ON r.asn = a.asn
                               WHERE a.provider_id = p.id AND r.family = ?3
                               AND r.start_addr <= ?4 AND r.end_addr >= ?4))
             ORDER BY p.name LIMIT ?5 OFFSET ?6",
        )
        .bind(&filter.name)
        .bind(filter.asn)
        .bind(family)
        .bind(point.as_ref().map(|p| p.as_slice()))
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
        let mut items = Vec::with_capacity(names.len());
        for name in &names {
            items.push(read_provider(&mut conn, name).await?);
        }
        Ok(Page {
            items,
            limit,
            offset,
        })
    }
}

/// Returns the id of an API-sourced provider, or [`StoreError::ReadOnly`] for one from
/// register.toml.
async fn api_provider_id(
    conn: &mut SqliteConnection,
    record: &ProviderRecord,
) -> Result<i64, StoreError> {
    let (id, source): (i64, String) =
        sqlx::query_as("SELECT id, source FROM providers WHERE name = ?")
            .bind(&record.name)
            .fetch_one(&mut *conn)
            .await?;
    if Source::parse(&source)? == Source::File {
        return Err(StoreError::ReadOnly {
            kind: "provider",
            name: record.name.clone(),
        });
    }
    Ok(id)
}

async fn resolve_references(
    conn: &mut SqliteConnection,
    provider: &NewProvider,
) -> Result<(i64, Option<i64>), StoreError> {
    let category_id: Option<i64> = sqlx::query_scalar("SELECT id FROM categories WHERE name = ?")
        .bind(&provider.category)
        .fetch_optional(&mut *conn)
        .await?;
    let category_id = category_id.ok_or_else(|| StoreError::Rejected {
        code: "unknown_category",
        field: "category".into(),
        value: provider.category.clone(),
        message: "no category of that name; list them with GET /v1/categories".into(),
    })?;
    let operator_id = match &provider.operator {
        None => None,
        Some(name) => {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM operators WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut *conn)
                .await?;
            Some(id.ok_or_else(|| StoreError::Rejected {
                code: "unknown_operator",
                field: "operator".into(),
                value: name.clone(),
                message: "no operator of that name; create it with POST /v1/operators".into(),
            })?)
        }
    };
    Ok((category_id, operator_id))
}

async fn insert_children(
    conn: &mut SqliteConnection,
    id: i64,
    provider: &NewProvider,
) -> Result<(), StoreError> {
    for domain in &provider.domains {
        sqlx::query("INSERT OR IGNORE INTO provider_domains (provider_id, domain) VALUES (?, ?)")
            .bind(id)
            .bind(domain)
            .execute(&mut *conn)
            .await?;
    }
    for asn in &provider.asns {
        sqlx::query("INSERT OR IGNORE INTO provider_asns (provider_id, asn) VALUES (?, ?)")
            .bind(id)
            .bind(asn)
            .execute(&mut *conn)
            .await?;
    }
    for netblock in &provider.netblocks {
        let (family, start, end) = addr::range_columns(netblock);
        sqlx::query(
            "INSERT OR IGNORE INTO provider_netblocks (provider_id, netblock, family, start_addr, end_addr)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(netblock.to_string())
        .bind(family)
        .bind(start.as_slice())
        .bind(end.as_slice())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_event(
    conn: &mut SqliteConnection,
    provider_id: i64,
    action: &str,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO provider_events (provider_id, at, action, reason) VALUES (?, ?, ?, ?)",
    )
    .bind(provider_id)
    .bind(now_rfc3339())
    .bind(action)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn read_provider(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<ProviderRecord, StoreError> {
    let row = sqlx::query(
        "SELECT p.id, p.name, c.name AS category, o.name AS operator, p.note, p.listed_since,
                p.delisted_at, p.delist_reason, p.source
         FROM providers p JOIN categories c ON c.id = p.category_id
         LEFT JOIN operators o ON o.id = p.operator_id WHERE p.name = ?",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::NotFound {
        kind: "provider",
        name: name.to_owned(),
    })?;
    let id: i64 = row.try_get("id")?;
    let domains = sqlx::query_scalar(
        "SELECT domain FROM provider_domains WHERE provider_id = ? ORDER BY domain",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let asns: Vec<i64> =
        sqlx::query_scalar("SELECT asn FROM provider_asns WHERE provider_id = ? ORDER BY asn")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    let netblocks = sqlx::query_scalar(
        "SELECT netblock FROM provider_netblocks WHERE provider_id = ?
         ORDER BY family, start_addr",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let history = sqlx::query_as::<_, (String, String, Option<String>)>(
        "SELECT at, action, reason FROM provider_events WHERE provider_id = ? ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(at, action, reason)| Delisting { at, action, reason })
    .collect();
    Ok(ProviderRecord {
        name: row.try_get("name")?,
        category: row.try_get("category")?,
        operator: row.try_get("operator")?,
        domains,
        asns: asns.into_iter().map(|asn| asn as u32).collect(),
        netblocks,
        note: row.try_get("note")?,
        listed_since: row.try_get("listed_since")?,
        delisted_at: row.try_get("delisted_at")?,
        delist_reason: row.try_get("delist_reason")?,
        source: row.try_get("source")?,
        history,
    })
}
