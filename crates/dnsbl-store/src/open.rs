//! Opening the database file: connection settings, refusal of foreign files, migrations.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{Store, StoreError};

/// How long a connection waits for another writer before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite result code SQLITE_NOTADB.
const SQLITE_NOTADB: &str = "26";
/// The SQLite result code SQLITE_CORRUPT.
const SQLITE_CORRUPT: &str = "11";
/// How many problems `PRAGMA quick_check` lists at most.
const QUICK_CHECK_LIMIT: u32 = 5;

/// The table in which sqlx records the applied migrations.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

impl Store {
    /// Opens or creates the SQLite file (creating the parent directory), in WAL mode with
    /// `synchronous = FULL`, foreign keys on and a busy timeout, then applies the
    /// migrations.
    ///
    /// A file that is not a SQLite database, a database with tables of another application
    /// or one that fails `PRAGMA quick_check` is rejected with an error naming the path.
    /// The check reads every page: for the full routing dataset (44 MB) about 0.2 s with
    /// the file in the page cache and 2 s without (docs/benchmarks.md).
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        Self::connect(path, true).await
    }

    /// Opens the database as [`open`](Self::open) does, but without `PRAGMA quick_check`,
    /// so that a server can answer before the check has read every page. The caller runs
    /// [`check_pages`](Self::check_pages) later. Damage that the migrations or the first
    /// reads touch still fails here or there, as SQLite reports it.
    pub async fn open_without_check(path: &Path) -> Result<Store, StoreError> {
        Self::connect(path, false).await
    }

    /// Runs `PRAGMA quick_check` on one connection of the pool. It finds damaged pages and
    /// indexes that do not match their tables, and fails with [`StoreError::Corrupt`]
    /// naming `path`, the file this store was opened from. It only reads, and in WAL mode a
    /// reader blocks no writer.
    pub async fn check_pages(&self, path: &Path) -> Result<(), StoreError> {
        check_pages(&self.pool, path).await
    }

    async fn connect(path: &Path, check: bool) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|error| StoreError::CreateDir {
                path: parent.to_path_buf(),
                error,
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL never corrupts the file, but a power loss may undo the
            // last commits. FULL syncs the WAL at every commit, so an ingest or an admin
            // API write that returned success survives a power loss too. Commits are few
            // (one per ingest or API write), so the extra fsync costs little.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|error| open_error(path, error))?;

        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&pool)
        .await
        .map_err(|error| open_error(path, error))?;
        if !tables.is_empty() && !tables.iter().any(|name| name == MIGRATIONS_TABLE) {
            return Err(StoreError::ForeignSchema {
                path: path.to_path_buf(),
                tables: tables.join(", "),
            });
        }

        if check {
            check_pages(&pool, path).await?;
        }

        sqlx::migrate!("../../migrations")
            .run(&pool)
            .await
            .map_err(|error| StoreError::Migrate {
                path: path.to_path_buf(),
                error,
            })?;
        tracing::debug!(path = %path.display(), "database opened");
        Ok(Store { pool })
    }
}

/// Runs `PRAGMA quick_check`, which finds damaged pages and indexes that do not match
/// their tables, so a corrupt file fails at open instead of at the first query that
/// touches the damage.
async fn check_pages(pool: &sqlx::SqlitePool, path: &Path) -> Result<(), StoreError> {
    let problems: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "PRAGMA quick_check({QUICK_CHECK_LIMIT})"
    )))
    .fetch_all(pool)
    .await
    .map_err(|error| open_error(path, error))?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("PRAGMA quick_check: {}", problems.join("; ")).replace('\n', "; "),
    })
}

pub(crate) fn open_error(path: &Path, error: sqlx::Error) -> StoreError {
    let code = error
        .as_database_error()
        .and_then(|db| db.code())
        .map(|code| code.into_owned());
    if code.as_deref() == Some(SQLITE_NOTADB) {
        StoreError::NotADatabase {
            path: path.to_path_buf(),
        }
    } else if code.as_deref() == Some(SQLITE_CORRUPT) {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: error.to_string(),
        }
    } else {
        StoreError::Open {
            path: path.to_path_buf(),
            error,
        }
    }
}
