//! Opening an existing database for reading only, as `dnsbl check` does: nothing is
//! created, migrated or written.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::{Store, StoreError};

impl Store {
    /// Opens an existing database read-only. Fails, naming the path, when the file is
    /// missing, is not a SQLite database, or lacks a migration this build would apply.
    pub async fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|error| crate::open::open_error(path, error))?;
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&pool)
        .await
        .map_err(|error| crate::open::open_error(path, error))?;
        let missing: Vec<String> = sqlx::migrate!("../../migrations")
            .iter()
            .filter(|migration| !applied.contains(&migration.version))
            .map(|migration| format!("{} {}", migration.version, migration.description))
            .collect();
        if !missing.is_empty() {
            return Err(StoreError::InvalidData(format!(
                "{}: migrations not applied yet (`dnsbl serve` or `dnsbl ingest` applies them): {}",
                path.display(),
                missing.join(", ")
            )));
        }
        Ok(Store { pool })
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
