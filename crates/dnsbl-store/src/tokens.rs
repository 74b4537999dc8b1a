//! Bearer tokens of the admin API and the audit log of its writes.
//!
//! A token is 32 random bytes from the operating system, written as 64 hex digits (RFC 6750
//! bearer token). Only its SHA-256 hash is stored, and a presented token is compared with
//! every stored hash in constant time.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Row, SqliteConnection};
use subtle::ConstantTimeEq;

use crate::{Store, StoreError, now_rfc3339};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRole {
    /// Read and write.
    Admin,
    /// Read only.
    Read,
}

impl TokenRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::Admin => "admin",
            TokenRole::Read => "read",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "admin" => Ok(TokenRole::Admin),
            "read" => Ok(TokenRole::Read),
            other => Err(StoreError::InvalidData(format!(
                "token role {other:?}, expected \"admin\" or \"read\""
            ))),
        }
    }
}

/// A stored token, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: TokenRole,
    pub created_at: String,
}

/// One write through the API.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub token_name: String,
    pub at: String,
    pub method: String,
    pub path: String,
    pub change: serde_json::Value,
}

/// The request that a write is recorded under in the audit log.
#[derive(Clone, Debug)]
pub struct AuditContext {
    pub token_name: String,
    pub method: String,
    pub path: String,
}

/// Returns whether `name` has 1 to 100 ASCII letters, digits, `.`, `-` and `_`, the form
/// of the token names and of the names that the admin API creates.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Checks a token name with [`is_valid_name`]. The audit log and `dnsbl token list`, which
/// writes one token per line, print the name as it is.
pub fn check_token_name(name: &str) -> Result<(), StoreError> {
    if is_valid_name(name) {
        return Ok(());
    }
    Err(StoreError::Rejected {
        code: "invalid_name",
        field: "name".to_owned(),
        value: name.to_owned(),
        // The Display of Rejected already names the value.
        message: "expected 1 to 100 ASCII letters, digits, '.', '-' or '_' for a token name"
            .to_owned(),
    })
}

fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Store {
    /// Creates a token and returns its secret, which is not stored and cannot be read
    /// again. Fails with [`StoreError::Rejected`] for an invalid name (see
    /// [`check_token_name`]) and with [`StoreError::Conflict`] if a token of that name exists.
    pub async fn create_token(&self, name: &str, role: TokenRole) -> Result<String, StoreError> {
        check_token_name(name)?;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|error| StoreError::InvalidData(format!("no random bytes: {error}")))?;
        let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let result = sqlx::query(
            "INSERT INTO api_tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(hash_token(&token).as_slice())
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(token),
            Err(error) if is_unique_violation(&error) => Err(StoreError::Conflict {
                kind: "token",
                name: name.to_owned(),
            }),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes the token `name`; returns whether it existed.
    pub async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM api_tokens WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query("SELECT name, role, created_at FROM api_tokens ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(TokenInfo {
                    name: row.try_get("name")?,
                    role: TokenRole::parse(row.try_get("role")?)?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Returns the token whose hash matches `token`, comparing with every stored hash in
    /// constant time so that the time taken does not reveal how much of a hash matched.
    pub async fn authenticate(&self, token: &str) -> Result<Option<TokenInfo>, StoreError> {
        let presented = hash_token(token);
        let rows = sqlx::query("SELECT name, role, hash, created_at FROM api_tokens")
            .fetch_all(&self.pool)
            .await?;
        let mut found = None;
        for row in &rows {
            let stored: &[u8] = row.try_get("hash")?;
            if bool::from(stored.ct_eq(presented.as_slice())) {
                found = Some(TokenInfo {
                    name: row.try_get("name")?,
                    role: TokenRole::parse(row.try_get("role")?)?,
                    created_at: row.try_get("created_at")?,
                });
            }
        }
        Ok(found)
    }

    /// Lists the audit log, newest first.
    pub async fn list_audit(&self, limit: i64, offset: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, token_name, at, method, path, change FROM audit_log
             ORDER BY id DESC LIMIT ? OFFSET ?",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let change: &str = row.try_get("change")?;
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    token_name: row.try_get("token_name")?,
                    at: row.try_get("at")?,
                    method: row.try_get("method")?,
                    path: row.try_get("path")?,
                    change: serde_json::from_str(change).map_err(|error| {
                        StoreError::InvalidData(format!("audit change is not JSON: {error}"))
                    })?,
                })
            })
            .collect()
    }
}

/// Appends one entry to the audit log, inside the transaction of the write it records.
pub(crate) async fn record_audit(
    conn: &mut SqliteConnection,
    context: &AuditContext,
    change: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (token_name, at, method, path, change) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&context.token_name)
    .bind(now_rfc3339())
    .bind(&context.method)
    .bind(&context.path)
    .bind(change.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}
