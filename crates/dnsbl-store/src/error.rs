//! Errors of the store.

use std::path::PathBuf;

/// Errors from opening, reading or writing the store.
///
/// A message contains the error it wraps, and no variant returns that error again as its
/// `source()`, so that a printer of the whole chain (`{:#}` of anyhow) shows each cause
/// once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to create the database directory {path}: {error}")]
    CreateDir {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("failed to open the database {path}: {error}")]
    Open { path: PathBuf, error: sqlx::Error },
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
        "failed to migrate the database {path}: {error}; if another application or a newer dnsbl created it, choose another database path"
    )]
    Migrate {
        path: PathBuf,
        error: sqlx::migrate::MigrateError,
    },
    #[error("database query failed: {0}")]
    Query(sqlx::Error),
    #[error("invalid data in the database: {0}")]
    InvalidData(String),
    #[error(
        "{kind} {name:?} of register.toml was added through the API; rename it in register.toml, because entries added through the API are never deleted"
    )]
    SourceConflict { kind: &'static str, name: String },
    #[error("failed to build the snapshot: {0}")]
    Snapshot(dnsbl_core::SnapshotError),
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

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Query(error)
    }
}

impl From<dnsbl_core::SnapshotError> for StoreError {
    fn from(error: dnsbl_core::SnapshotError) -> Self {
        StoreError::Snapshot(error)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn wrapped_error_appears_once() {
        let error = StoreError::from(dnsbl_core::SnapshotError::ExclusionInCombinedZone(
            "zen.example".into(),
        ));
        assert_eq!(
            error.to_string(),
            "failed to build the snapshot: allow-list entry for zone \"zen.example\": it is a \
             combined zone, so name the zones it includes instead"
        );
        assert!(error.source().is_none());
        let error = StoreError::from(sqlx::Error::RowNotFound);
        assert!(
            error.to_string().starts_with("database query failed: "),
            "{error}"
        );
        assert!(error.source().is_none());
        let error = StoreError::CreateDir {
            path: "data".into(),
            error: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert_eq!(
            error.to_string(),
            "failed to create the database directory data: permission denied"
        );
        assert!(error.source().is_none());
    }

    #[test]
    fn token_name_appears_once() {
        let error = crate::check_token_name("a b").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid name \"a b\": expected 1 to 100 ASCII letters, digits, '.', '-' or '_' \
             for a token name"
        );
    }
}
