//! Opening an existing database for reading only, as `dnsbl check` does: nothing is
//! created, migrated or written.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use crate::{Store, StoreError};

impl Store {
    /// Opens an existing database read-only. Fails, naming the path, when the file is
    /// missing, is not a SQLite database, or lacks a migration this build would apply.
    pub async fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let pool = connect_read_only(path).await?;
        let missing = pending(&pool, path).await?;
        if !missing.is_empty() {
            return Err(StoreError::InvalidData(format!(
                "{}: migrations not applied yet (`dnsbl serve` or `dnsbl ingest` applies them): {}",
                path.display(),
                missing.join(", ")
            )));
        }
        Ok(Store { pool })
    }

    /// Returns the migrations this build would apply to the existing database at `path`,
    /// as `VERSION DESCRIPTION`, without writing to it. A database that no migration has
    /// touched yet (an empty file, say) has all of them pending.
    pub async fn pending_migrations(path: &Path) -> Result<Vec<String>, StoreError> {
        let pool = connect_read_only(path).await?;
        let missing = pending(&pool, path).await;
        pool.close().await;
        missing
    }

    /// Writes a copy of the existing database at `path` to the new file `copy` (SQLite's
    /// `VACUUM INTO`), reading `path` only. The copy can then be migrated and written, so
    /// that `dnsbl check` rehearses on it what `dnsbl serve` would do to `path`.
    pub async fn copy_read_only(path: &Path, copy: &Path) -> Result<(), StoreError> {
        let pool = connect_read_only(path).await?;
        let copied = sqlx::query("VACUUM INTO ?")
            .bind(copy.to_string_lossy().into_owned())
            .execute(&pool)
            .await
            .map_err(|error| crate::open::open_error(path, error));
        pool.close().await;
        copied.map(|_| ())
    }

    /// Fails as the sync of register.toml would when the file names a provider or an
    /// operator that was added through the admin API, without writing anything.
    pub async fn check_register_sources(
        &self,
        register: &dnsbl_config::Register,
    ) -> Result<(), StoreError> {
        let checks: [(&'static str, &str, Vec<&String>); 2] = [
            (
                "provider",
                "SELECT name FROM providers WHERE source = 'api'",
                register.providers.iter().map(|p| &p.name).collect(),
            ),
            (
                "operator",
                "SELECT name FROM operators WHERE source = 'api'",
                register.operators.iter().map(|o| &o.name).collect(),
            ),
        ];
        for (kind, query, names) in checks {
            let api_names: std::collections::HashSet<String> = sqlx::query_scalar(query)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .collect();
            if let Some(name) = names.into_iter().find(|name| api_names.contains(*name)) {
                return Err(StoreError::SourceConflict {
                    kind,
                    name: name.clone(),
                });
            }
        }
        Ok(())
    }
}

async fn connect_read_only(path: &Path) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|error| crate::open::open_error(path, error))
}

/// Returns the migrations of this build that the database of `pool` lacks.
async fn pending(pool: &SqlitePool, path: &Path) -> Result<Vec<String>, StoreError> {
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(pool)
    .await
    .map_err(|error| crate::open::open_error(path, error))?;
    let applied: Vec<i64> = if has_table {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await
            .map_err(|error| crate::open::open_error(path, error))?
    } else {
        Vec::new()
    };
    Ok(sqlx::migrate!("../../migrations")
        .iter()
        .filter(|migration| !applied.contains(&migration.version))
        .map(|migration| format!("{} {}", migration.version, migration.description))
        .collect())
}
