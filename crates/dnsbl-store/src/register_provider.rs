//! The sync of one provider of register.toml: its row and its domains, ASNs and netblocks.

use dnsbl_config::ProviderEntry;
use sqlx::SqliteConnection;

use crate::register::RegisterChanges;
use crate::register_read::{ProviderChildren, ProviderFields, Source, StoredRegister};
use crate::{StoreError, addr};

pub(crate) fn lists_ranges(children: &ProviderChildren) -> bool {
    !children.asns.is_empty() || !children.netblocks.is_empty()
}

fn file_fields(provider: &ProviderEntry) -> (ProviderFields, ProviderChildren) {
    let fields = ProviderFields {
        category: provider.category.clone(),
        operator: provider.operator.clone(),
        note: provider.note.clone(),
        listed_since: provider.listed_since.clone(),
        delisted: provider
            .delisted
            .as_ref()
            .map(|d| (d.date.clone(), d.reason.clone())),
    };
    let children = ProviderChildren {
        domains: provider.domains.iter().cloned().collect(),
        asns: provider.asns.iter().copied().collect(),
        netblocks: provider.netblocks.iter().map(|n| n.to_string()).collect(),
    };
    (fields, children)
}

pub(crate) async fn sync_provider(
    conn: &mut SqliteConnection,
    stored: &StoredRegister,
    provider: &ProviderEntry,
    changes: &mut RegisterChanges,
) -> Result<(), StoreError> {
    let (fields, children) = file_fields(provider);
    let existing = stored.providers.get(&provider.name);
    if existing.is_some_and(|old| old.source == Source::Api) {
        return Err(StoreError::SourceConflict {
            kind: "provider",
            name: provider.name.clone(),
        });
    }
    let category_id = stored
        .categories
        .get(&fields.category)
        .map(|c| c.id)
        .ok_or_else(|| {
            StoreError::InvalidData(format!(
                "provider {:?} names category {:?}, which is not in the register",
                provider.name, fields.category
            ))
        })?;
    let operator_id = match &fields.operator {
        None => None,
        Some(name) => Some(stored.operators.get(name).map(|o| o.id).ok_or_else(|| {
            StoreError::InvalidData(format!(
                "provider {:?} names operator {:?}, which is not in the register",
                provider.name, name
            ))
        })?),
    };
    let (delisted_at, delist_reason) = fields.delisted.clone().unzip();

    let id = match existing {
        Some(old) if old.fields == fields && old.children == children => return Ok(()),
        Some(old) => {
            if old.fields != fields {
                sqlx::query(
                    "UPDATE providers SET category_id = ?, operator_id = ?, note = ?, listed_since = ?,
                     delisted_at = ?, delist_reason = ? WHERE id = ?",
                )
                .bind(category_id)
                .bind(operator_id)
                .bind(&fields.note)
                .bind(&fields.listed_since)
                .bind(&delisted_at)
                .bind(&delist_reason)
                .bind(old.id)
                .execute(&mut *conn)
                .await?;
            }
            let was_active = old.fields.delisted.is_none();
            let is_active = fields.delisted.is_none();
            if was_active && !is_active {
                changes.providers.removed += 1;
            } else {
                changes.providers.updated += 1;
            }
            let targets_changed =
                old.children.asns != children.asns || old.children.netblocks != children.netblocks;
            changes.ranges_changed |= (was_active != is_active
                && (lists_ranges(&old.children) || lists_ranges(&children)))
                || (is_active && targets_changed);
            if old.children == children {
                return Ok(());
            }
            for statement in [
                "DELETE FROM provider_domains WHERE provider_id = ?",
                "DELETE FROM provider_asns WHERE provider_id = ?",
                "DELETE FROM provider_netblocks WHERE provider_id = ?",
            ] {
                sqlx::query(statement)
                    .bind(old.id)
                    .execute(&mut *conn)
                    .await?;
            }
            old.id
        }
        None => {
            changes.providers.added += 1;
            changes.ranges_changed |= fields.delisted.is_none() && lists_ranges(&children);
            sqlx::query(
                "INSERT INTO providers (name, category_id, operator_id, note, listed_since,
                 delisted_at, delist_reason, source) VALUES (?, ?, ?, ?, ?, ?, ?, 'file')",
            )
            .bind(&provider.name)
            .bind(category_id)
            .bind(operator_id)
            .bind(&fields.note)
            .bind(&fields.listed_since)
            .bind(&delisted_at)
            .bind(&delist_reason)
            .execute(&mut *conn)
            .await?
            .last_insert_rowid()
        }
    };

    for domain in &children.domains {
        sqlx::query("INSERT INTO provider_domains (provider_id, domain) VALUES (?, ?)")
            .bind(id)
            .bind(domain)
            .execute(&mut *conn)
            .await?;
    }
    for asn in &children.asns {
        sqlx::query("INSERT INTO provider_asns (provider_id, asn) VALUES (?, ?)")
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
        .bind(start)
        .bind(end)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
