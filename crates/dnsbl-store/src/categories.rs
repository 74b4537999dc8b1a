//! Categories written through the admin API. Categories of register.toml are read-only
//! there, and the sync of register.toml leaves API-sourced categories alone.

use std::net::Ipv4Addr;

use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::tokens::{AuditContext, record_audit};
use crate::{Store, StoreError, next_serial};

/// The fields of a category as the API writes them. The caller checks the code and the
/// TXT template.
#[derive(Clone, Debug)]
pub struct NewCategory {
    pub name: String,
    pub code: Ipv4Addr,
    pub txt: String,
}

/// A stored category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategoryRecord {
    pub name: String,
    /// The A record value, for example `127.0.0.2`.
    pub code: String,
    /// TXT template.
    pub txt: String,
    /// `file` (register.toml) or `api`.
    pub source: String,
}

fn read_record(row: &SqliteRow) -> Result<CategoryRecord, StoreError> {
    Ok(CategoryRecord {
        name: row.try_get("name")?,
        code: row.try_get("code")?,
        txt: row.try_get("txt")?,
        source: row.try_get("source")?,
    })
}

async fn fetch(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<Option<CategoryRecord>, StoreError> {
    let row = sqlx::query("SELECT name, code, txt, source FROM categories WHERE name = ?")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(read_record).transpose()
}

/// Increases the serial without marking the listed ranges stale: a category changes the
/// A and TXT answers but not which ranges are listed, so no expansion is needed.
async fn bump_serial_only(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let serial = next_serial(conn).await?;
    sqlx::query("UPDATE state SET serial = ? WHERE id = 1")
        .bind(serial)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// Lists every category by name.
    pub async fn list_categories(&self) -> Result<Vec<CategoryRecord>, StoreError> {
        sqlx::query("SELECT name, code, txt, source FROM categories ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(read_record)
            .collect()
    }

    /// Returns the category `name`.
    pub async fn get_category(&self, name: &str) -> Result<CategoryRecord, StoreError> {
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, name)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "category",
                name: name.to_owned(),
            })
    }

    /// Creates an API-sourced category and increases the serial.
    pub async fn create_category(
        &self,
        context: &AuditContext,
        category: &NewCategory,
    ) -> Result<CategoryRecord, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if fetch(&mut tx, &category.name).await?.is_some() {
            return Err(StoreError::Conflict {
                kind: "category",
                name: category.name.clone(),
            });
        }
        sqlx::query("INSERT INTO categories (name, code, txt, source) VALUES (?, ?, ?, 'api')")
            .bind(&category.name)
            .bind(category.code.to_string())
            .bind(&category.txt)
            .execute(&mut *tx)
            .await?;
        bump_serial_only(&mut tx).await?;
        let record = fetch(&mut tx, &category.name)
            .await?
            .ok_or_else(|| StoreError::InvalidData("inserted category not found".into()))?;
        record_audit(&mut tx, context, &serde_json::json!({ "created": record })).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Replaces the code and TXT template of an API-sourced category and increases the
    /// serial. A category of register.toml is rejected with [`StoreError::ReadOnly`].
    pub async fn update_category(
        &self,
        context: &AuditContext,
        category: &NewCategory,
    ) -> Result<CategoryRecord, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let old = fetch(&mut tx, &category.name)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "category",
                name: category.name.clone(),
            })?;
        if old.source != "api" {
            return Err(StoreError::ReadOnly {
                kind: "category",
                name: category.name.clone(),
            });
        }
        sqlx::query("UPDATE categories SET code = ?, txt = ? WHERE name = ?")
            .bind(category.code.to_string())
            .bind(&category.txt)
            .bind(&category.name)
            .execute(&mut *tx)
            .await?;
        bump_serial_only(&mut tx).await?;
        let record = fetch(&mut tx, &category.name)
            .await?
            .ok_or_else(|| StoreError::InvalidData("updated category not found".into()))?;
        record_audit(
            &mut tx,
            context,
            &serde_json::json!({ "before": old, "after": record }),
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }
}
