//! Errors of the store.

use std::path::PathBuf;

/// Errors from opening, reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to create the database directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to open the database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("{path} is not a SQLite database; move it away or choose another database path")]
    NotADatabase { path: PathBuf },
    #[error(
        "{path} is corrupt ({detail}); restore it from a backup, or move it away and run \
         `dnsbl ingest` again to rebuild it"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} contains tables of another application ({tables}); choose another database path"
    )]
    ForeignSchema { path: PathBuf, tables: String },
    #[error(
        "failed to migrate the database {path}: {source}; if another application or a newer dnsbl created it, choose another database path"
    )]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("invalid data in the database: {0}")]
    InvalidData(String),
    #[error(
        "{kind} {name:?} of register.toml was added through the API; rename it in register.toml, because entries added through the API are never deleted"
    )]
    SourceConflict { kind: &'static str, name: String },
    #[error("failed to build the snapshot: {0}")]
    Snapshot(#[from] dnsbl_core::SnapshotError),
    #[error("{kind} {name:?} already exists")]
    Conflict { kind: &'static str, name: String },
    #[error("{kind} {name:?} comes from register.toml; change it there")]
    ReadOnly { kind: &'static str, name: String },
    #[error("{kind} {name:?} not found")]
    NotFound { kind: &'static str, name: String },
    /// A value that refers to something missing or breaks a rule of the register; `field`
    /// names the request field.
    #[error("invalid {field} {value:?}: {message}")]
    Rejected {
        code: &'static str,
        field: String,
        value: String,
        message: String,
    },
}
