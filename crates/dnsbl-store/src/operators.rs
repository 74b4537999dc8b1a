//! Operator edits through the admin API: create, read, update and list, with aliases.
//!
//! Rows written here carry `source = 'api'`; operators from register.toml are read-only
//! here. An operator's note and aliases are not in the snapshot and its name cannot
//! change, so these writes leave the serial alone. Every write appends to the audit log
//! in the same transaction.

use serde::Serialize;
use sqlx::{Row, SqliteConnection};

use crate::tokens::{AuditContext, is_unique_violation, record_audit};
use crate::{Page, Store, StoreError, today};

/// The fields of an operator as the API writes them.
#[derive(Clone, Debug, Default)]
pub struct NewOperator {
    pub name: String,
    pub note: Option<String>,
    /// Other names of the operator, for example former company names.
    pub aliases: Vec<String>,
}

/// A stored operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatorRecord {
    pub name: String,
    pub note: Option<String>,
    /// Sorted.
    pub aliases: Vec<String>,
    pub listed_since: Option<String>,
    /// `file` (register.toml) or `api`.
    pub source: String,
}

impl Store {
    /// Creates an API-sourced operator.
    pub async fn create_operator(
        &self,
        context: &AuditContext,
        operator: &NewOperator,
    ) -> Result<OperatorRecord, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        check_aliases(&mut tx, operator).await?;
        let inserted = sqlx::query(
            "INSERT INTO operators (name, note, listed_since, source) VALUES (?, ?, ?, 'api')",
        )
        .bind(&operator.name)
        .bind(&operator.note)
        .bind(today())
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(done) => done.last_insert_rowid(),
            Err(error) if is_unique_violation(&error) => {
                return Err(StoreError::Conflict {
                    kind: "operator",
                    name: operator.name.clone(),
                });
            }
            Err(error) => return Err(error.into()),
        };
        replace_aliases(&mut tx, id, &operator.aliases).await?;
        let record = read_operator(&mut tx, &operator.name).await?;
        record_audit(&mut tx, context, &serde_json::json!({ "created": record })).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Replaces the note and aliases of an API-sourced operator.
    pub async fn update_operator(
        &self,
        context: &AuditContext,
        operator: &NewOperator,
    ) -> Result<OperatorRecord, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let before = read_operator(&mut tx, &operator.name).await?;
        if before.source == "file" {
            return Err(StoreError::ReadOnly {
                kind: "operator",
                name: operator.name.clone(),
            });
        }
        check_aliases(&mut tx, operator).await?;
        let id: i64 =
            sqlx::query_scalar("UPDATE operators SET note = ? WHERE name = ? RETURNING id")
                .bind(&operator.note)
                .bind(&operator.name)
                .fetch_one(&mut *tx)
                .await?;
        replace_aliases(&mut tx, id, &operator.aliases).await?;
        let after = read_operator(&mut tx, &operator.name).await?;
        let change = serde_json::json!({ "before": before, "after": after });
        record_audit(&mut tx, context, &change).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Returns one operator of either source.
    pub async fn get_operator(&self, name: &str) -> Result<OperatorRecord, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_operator(&mut conn, name).await
    }

    /// Lists operators of both sources by name.
    pub async fn list_operators(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Page<OperatorRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM operators ORDER BY name LIMIT ? OFFSET ?")
                .bind(limit)
                .bind(offset)
                .fetch_all(&mut *conn)
                .await?;
        let mut items = Vec::with_capacity(names.len());
        for name in names {
            items.push(read_operator(&mut conn, &name).await?);
        }
        Ok(Page {
            items,
            limit,
            offset,
        })
    }
}

/// Rejects a name that is an alias of another operator, and an alias that is the name or
/// an alias of another operator, so that a name in a report resolves to one operator.
async fn check_aliases(
    conn: &mut SqliteConnection,
    operator: &NewOperator,
) -> Result<(), StoreError> {
    let owner: Option<String> = sqlx::query_scalar(
        "SELECT o.name FROM operators o JOIN operator_aliases a ON a.operator_id = o.id
         WHERE a.alias = ?1 AND o.name <> ?1",
    )
    .bind(&operator.name)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(owner) = owner {
        return Err(StoreError::Rejected {
            code: "duplicate_alias",
            field: "name".into(),
            value: operator.name.clone(),
            message: format!("the operator {owner:?} has this alias already"),
        });
    }
    for (index, alias) in operator.aliases.iter().enumerate() {
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT o.name FROM operators o
             WHERE o.name <> ?1 AND (o.name = ?2 OR EXISTS (
                 SELECT 1 FROM operator_aliases a WHERE a.operator_id = o.id AND a.alias = ?2))",
        )
        .bind(&operator.name)
        .bind(alias)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(owner) = taken {
            return Err(StoreError::Rejected {
                code: "duplicate_alias",
                field: format!("aliases[{index}]"),
                value: alias.clone(),
                message: format!("the operator {owner:?} has this name or alias already"),
            });
        }
    }
    Ok(())
}

async fn replace_aliases(
    conn: &mut SqliteConnection,
    id: i64,
    aliases: &[String],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM operator_aliases WHERE operator_id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for alias in aliases {
        sqlx::query("INSERT OR IGNORE INTO operator_aliases (operator_id, alias) VALUES (?, ?)")
            .bind(id)
            .bind(alias)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn read_operator(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<OperatorRecord, StoreError> {
    let row = sqlx::query("SELECT id, note, listed_since, source FROM operators WHERE name = ?")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound {
            kind: "operator",
            name: name.to_owned(),
        });
    };
    let id: i64 = row.try_get("id")?;
    let aliases: Vec<String> = sqlx::query_scalar(
        "SELECT alias FROM operator_aliases WHERE operator_id = ? ORDER BY alias",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(OperatorRecord {
        name: name.to_owned(),
        note: row.try_get("note")?,
        aliases,
        listed_since: row.try_get("listed_since")?,
        source: row.try_get("source")?,
    })
}
