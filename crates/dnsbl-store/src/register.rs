//! The declarative sync of register.toml into the store.
//!
//! Rows written by the sync carry `source = 'file'`. A file-sourced operator or provider
//! that is no longer in the file is delisted, never deleted, so its history stays. Rows
//! written through the API (`source = 'api'`) are left alone.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use dnsbl_config::{AllowTarget, Register};
use sqlx::SqliteConnection;

use crate::register_provider::{lists_ranges, sync_provider};
use crate::register_read::{Source, StoredAllow, StoredCategory, StoredOperator, read_register};
use crate::{Store, StoreError, addr, bump_serial, today};

/// The delisting reason of a file-sourced row that is no longer in register.toml.
pub const REMOVED_REASON: &str = "removed from register.toml";

/// Counts of one kind of register entry changed by a sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChangeCounts {
    pub added: usize,
    pub updated: usize,
    /// Delisted (operators, providers) or deleted (categories, allow-list entries).
    pub removed: usize,
}

impl ChangeCounts {
    fn total(&self) -> usize {
        self.added + self.updated + self.removed
    }
}

/// The changes made by [`Store::sync_register`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegisterChanges {
    pub categories: ChangeCounts,
    pub operators: ChangeCounts,
    pub providers: ChangeCounts,
    pub allow: ChangeCounts,
    /// Whether the listed ranges may have changed (a provider's ASNs or netblocks, its
    /// listing state, or an allow-list range of every zone), so they need a new expansion.
    pub ranges_changed: bool,
    /// Whether anything changed; the serial was increased if so.
    pub changed: bool,
}

impl fmt::Display for RegisterChanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.changed {
            return write!(f, "register unchanged");
        }
        let parts = [
            ("categories", self.categories),
            ("operators", self.operators),
            ("providers", self.providers),
            ("allow entries", self.allow),
        ];
        let mut first = true;
        for (name, counts) in parts {
            if counts.total() == 0 {
                continue;
            }
            if !first {
                write!(f, "; ")?;
            }
            first = false;
            write!(
                f,
                "{name}: {} added, {} updated, {} removed",
                counts.added, counts.updated, counts.removed
            )?;
        }
        Ok(())
    }
}

impl Store {
    /// Applies register.toml declaratively, in one transaction.
    ///
    /// Categories, operators, providers and allow-list entries of the file are inserted or
    /// updated with `source = 'file'`. A file-sourced provider or operator missing from the
    /// file is delisted with today's date and the reason "removed from register.toml"
    /// (once: an earlier delisting keeps its date). A provider delisted in the file gets the
    /// file's date and reason. File-sourced allow-list entries missing from the file and
    /// file-sourced categories that no provider uses any more are deleted. API-sourced rows are not
    /// changed, and an entry of the file whose name an API-sourced row already has is
    /// rejected. Increases the serial when anything changed.
    pub async fn sync_register(&self, register: &Register) -> Result<RegisterChanges, StoreError> {
        self.sync_register_with_fingerprint(register, None).await
    }

    /// Does what [`sync_register`](Self::sync_register) does and stores `fingerprint`, a
    /// digest of the files `register` was read from, in the same transaction, so that a
    /// later start with the same files can skip the sync.
    pub async fn sync_register_with_fingerprint(
        &self,
        register: &Register,
        fingerprint: Option<&str>,
    ) -> Result<RegisterChanges, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (changes, serial) = sync_with_fingerprint_in(&mut tx, register, fingerprint).await?;
        tx.commit().await?;
        if let Some(serial) = serial {
            tracing::info!(%changes, serial, "register synced");
        }
        Ok(changes)
    }
}

/// Does what [`Store::sync_register_with_fingerprint`] does inside the caller's
/// transaction, without logging. Returns the changes and, when the serial increased, the
/// new serial.
pub(crate) async fn sync_with_fingerprint_in(
    conn: &mut SqliteConnection,
    register: &Register,
    fingerprint: Option<&str>,
) -> Result<(RegisterChanges, Option<u32>), StoreError> {
    let changes = sync_in(conn, register).await?;
    let serial = if changes.changed {
        Some(bump_serial(conn).await?)
    } else {
        None
    };
    sqlx::query("UPDATE state SET register_fingerprint = ? WHERE id = 1")
        .bind(fingerprint)
        .execute(&mut *conn)
        .await?;
    Ok((changes, serial))
}

/// Applies the register inside the caller's transaction and fills in `changed`; the caller
/// bumps the serial.
pub(crate) async fn sync_in(
    conn: &mut SqliteConnection,
    register: &Register,
) -> Result<RegisterChanges, StoreError> {
    let mut changes = RegisterChanges::default();
    // A sync from files whose fingerprint the caller does not know; see
    // `Store::sync_register_with_fingerprint`.
    sqlx::query("UPDATE state SET register_fingerprint = NULL WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    sync(conn, register, &mut changes).await?;
    changes.changed = changes.categories.total()
        + changes.operators.total()
        + changes.providers.total()
        + changes.allow.total()
        > 0;
    if changes.providers.removed > 0 {
        let active: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM providers WHERE delisted_at IS NULL")
                .fetch_one(&mut *conn)
                .await?;
        if active == 0 {
            tracing::warn!(
                removed = changes.providers.removed,
                "register.toml delists every provider; nothing is listed any more"
            );
        }
    }
    Ok(changes)
}

async fn sync(
    conn: &mut SqliteConnection,
    register: &Register,
    changes: &mut RegisterChanges,
) -> Result<(), StoreError> {
    let mut stored = read_register(conn).await?;
    let today = today();

    for category in &register.categories {
        let code = category.code.to_string();
        match stored.categories.get_mut(&category.name) {
            Some(old) if old.source == Source::Api => {
                return Err(StoreError::SourceConflict {
                    kind: "category",
                    name: category.name.clone(),
                });
            }
            Some(old) if old.code == code && old.txt == category.txt => {}
            Some(old) => {
                sqlx::query("UPDATE categories SET code = ?, txt = ? WHERE id = ?")
                    .bind(&code)
                    .bind(&category.txt)
                    .bind(old.id)
                    .execute(&mut *conn)
                    .await?;
                old.code = code;
                old.txt = category.txt.clone();
                changes.categories.updated += 1;
            }
            None => {
                let id = sqlx::query("INSERT INTO categories (name, code, txt) VALUES (?, ?, ?)")
                    .bind(&category.name)
                    .bind(&code)
                    .bind(&category.txt)
                    .execute(&mut *conn)
                    .await?
                    .last_insert_rowid();
                stored.categories.insert(
                    category.name.clone(),
                    StoredCategory {
                        id,
                        code,
                        txt: category.txt.clone(),
                        source: Source::File,
                    },
                );
                changes.categories.added += 1;
            }
        }
    }

    for operator in &register.operators {
        let aliases: BTreeSet<String> = operator.aliases.iter().cloned().collect();
        match stored.operators.get(&operator.name) {
            Some(old) if old.source == Source::Api => {
                return Err(StoreError::SourceConflict {
                    kind: "operator",
                    name: operator.name.clone(),
                });
            }
            Some(old) => {
                let fields_changed = old.note != operator.note || old.delisted.is_some();
                let aliases_changed = old.aliases != aliases;
                if fields_changed {
                    sqlx::query(
                        "UPDATE operators SET note = ?, delisted_at = NULL, delist_reason = NULL
                         WHERE id = ?",
                    )
                    .bind(&operator.note)
                    .bind(old.id)
                    .execute(&mut *conn)
                    .await?;
                }
                if aliases_changed {
                    replace_aliases(conn, old.id, &aliases).await?;
                }
                if fields_changed || aliases_changed {
                    changes.operators.updated += 1;
                }
            }
            None => {
                let id =
                    sqlx::query("INSERT INTO operators (name, note, source) VALUES (?, ?, 'file')")
                        .bind(&operator.name)
                        .bind(&operator.note)
                        .execute(&mut *conn)
                        .await?
                        .last_insert_rowid();
                replace_aliases(conn, id, &aliases).await?;
                changes.operators.added += 1;
                stored.operators.insert(
                    operator.name.clone(),
                    StoredOperator {
                        id,
                        note: operator.note.clone(),
                        delisted: None,
                        source: Source::File,
                        aliases,
                    },
                );
            }
        }
    }
    let in_file: HashSet<&str> = register.operators.iter().map(|o| o.name.as_str()).collect();
    for (name, old) in &stored.operators {
        if old.source == Source::File && old.delisted.is_none() && !in_file.contains(name.as_str())
        {
            sqlx::query("UPDATE operators SET delisted_at = ?, delist_reason = ? WHERE id = ?")
                .bind(&today)
                .bind(REMOVED_REASON)
                .bind(old.id)
                .execute(&mut *conn)
                .await?;
            changes.operators.removed += 1;
        }
    }

    for provider in &register.providers {
        sync_provider(conn, &stored, provider, changes).await?;
    }
    let in_file: HashSet<&str> = register.providers.iter().map(|p| p.name.as_str()).collect();
    for (name, old) in &stored.providers {
        let active = old.fields.delisted.is_none();
        if old.source == Source::File && active && !in_file.contains(name.as_str()) {
            sqlx::query("UPDATE providers SET delisted_at = ?, delist_reason = ? WHERE id = ?")
                .bind(&today)
                .bind(REMOVED_REASON)
                .bind(old.id)
                .execute(&mut *conn)
                .await?;
            changes.providers.removed += 1;
            changes.ranges_changed |= lists_ranges(&old.children);
        }
    }

    sync_allow(conn, &stored.allow, register, changes).await?;

    let in_file: HashSet<&str> = register
        .categories
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    for (name, old) in &stored.categories {
        if old.source == Source::Api || in_file.contains(name.as_str()) {
            continue;
        }
        let deleted = sqlx::query(
            "DELETE FROM categories WHERE id = ?
             AND NOT EXISTS (SELECT 1 FROM providers WHERE category_id = categories.id)",
        )
        .bind(old.id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        changes.categories.removed += usize::try_from(deleted).unwrap_or(0);
    }
    Ok(())
}

async fn replace_aliases(
    conn: &mut SqliteConnection,
    operator_id: i64,
    aliases: &BTreeSet<String>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM operator_aliases WHERE operator_id = ?")
        .bind(operator_id)
        .execute(&mut *conn)
        .await?;
    for alias in aliases {
        sqlx::query("INSERT INTO operator_aliases (operator_id, alias) VALUES (?, ?)")
            .bind(operator_id)
            .bind(alias)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn sync_allow(
    conn: &mut SqliteConnection,
    stored: &HashMap<(String, Option<String>), StoredAllow>,
    register: &Register,
    changes: &mut RegisterChanges,
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    for entry in &register.allow {
        let value = match &entry.target {
            AllowTarget::Range(range) => range.to_string(),
            AllowTarget::Domain(domain) => domain.clone(),
        };
        let key = (value, entry.zone.clone());
        if !seen.insert(key.clone()) {
            continue;
        }
        let global_range = entry.zone.is_none() && matches!(entry.target, AllowTarget::Range(_));
        match stored.get(&key) {
            Some(old) if old.reason == entry.reason => {}
            Some(old) => {
                sqlx::query("UPDATE allow_entries SET reason = ? WHERE id = ?")
                    .bind(&entry.reason)
                    .bind(old.id)
                    .execute(&mut *conn)
                    .await?;
                changes.allow.updated += 1;
            }
            None => {
                let (kind, family, start, end) = match &entry.target {
                    AllowTarget::Range(range) => {
                        let (family, start, end) = addr::range_columns(range);
                        ("range", Some(family), Some(start), Some(end))
                    }
                    AllowTarget::Domain(_) => ("domain", None, None, None),
                };
                sqlx::query(
                    "INSERT INTO allow_entries (value, kind, family, start_addr, end_addr, reason, zone, source)
                     VALUES (?, ?, ?, ?, ?, ?, ?, 'file')",
                )
                .bind(&key.0)
                .bind(kind)
                .bind(family)
                .bind(start)
                .bind(end)
                .bind(&entry.reason)
                .bind(&entry.zone)
                .execute(&mut *conn)
                .await?;
                changes.allow.added += 1;
                changes.ranges_changed |= global_range;
            }
        }
    }
    for (key, old) in stored {
        if seen.contains(key) {
            continue;
        }
        sqlx::query("DELETE FROM allow_entries WHERE id = ?")
            .bind(old.id)
            .execute(&mut *conn)
            .await?;
        changes.allow.removed += 1;
        changes.ranges_changed |= old.is_range && key.1.is_none();
    }
    Ok(())
}
