//! Building the immutable lookup snapshot from the store.

use std::collections::HashMap;

use dnsbl_core::{
    Category, Listing, ListingId, ListingSource, Snapshot, SnapshotBuilder, ZoneSpec,
};
use futures_util::TryStreamExt;
use sqlx::Row;

use crate::{SourceKey, Store, StoreError, addr, read_serial};

/// The fields of an active provider that its listings carry.
struct ActiveProvider {
    name: String,
    operator: Option<String>,
    /// Index into the snapshot's categories.
    category: usize,
    listed_since: Option<String>,
}

impl ActiveProvider {
    fn listing(&self, source: ListingSource) -> Listing {
        Listing {
            provider: self.name.clone(),
            operator: self.operator.clone(),
            category: self.category,
            source,
            listed_since: self.listed_since.clone(),
        }
    }
}

impl Store {
    /// Builds the snapshot of `zones` from the categories, the active (not delisted)
    /// providers with their listed ranges and domains, and the allow-list entries, all read
    /// in one read transaction so they belong to one serial.
    ///
    /// Each provider gets one listing per source: an ASN or a netblock for ranges, a domain
    /// for domains. Allow-list entries are passed to the builder with their zone. The
    /// expansion already cut out the entries of every zone, but they are passed again so
    /// that a change of the allow list takes effect before the next expansion.
    pub async fn load_snapshot(&self, zones: &[ZoneSpec]) -> Result<Snapshot, StoreError> {
        let mut tx = self.pool.begin().await?;
        let serial = read_serial(&mut tx).await?;

        let mut categories = Vec::new();
        let mut category_index = HashMap::new();
        for row in sqlx::query("SELECT id, name, code, txt FROM categories ORDER BY id")
            .fetch_all(&mut *tx)
            .await?
        {
            let name: String = row.try_get("name")?;
            let code: &str = row.try_get("code")?;
            let code = code.parse().map_err(|_| {
                StoreError::InvalidData(format!("category {name:?} has invalid code {code:?}"))
            })?;
            category_index.insert(row.try_get::<i64, _>("id")?, categories.len());
            categories.push(Category {
                name,
                code,
                txt: row.try_get("txt")?,
            });
        }
        let mut builder = SnapshotBuilder::new(serial, zones.to_vec(), categories);

        let mut providers: HashMap<i64, ActiveProvider> = HashMap::new();
        for row in sqlx::query(
            "SELECT p.id, p.name, p.category_id, o.name AS operator, p.listed_since
             FROM providers p LEFT JOIN operators o ON o.id = p.operator_id
             WHERE p.delisted_at IS NULL",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let category_id: i64 = row.try_get("category_id")?;
            let category = *category_index.get(&category_id).ok_or_else(|| {
                StoreError::InvalidData(format!(
                    "provider refers to missing category {category_id}"
                ))
            })?;
            providers.insert(
                row.try_get("id")?,
                ActiveProvider {
                    name: row.try_get("name")?,
                    operator: row.try_get("operator")?,
                    category,
                    listed_since: row.try_get("listed_since")?,
                },
            );
        }

        // One listing per provider and source, however many ranges it has.
        let mut interned: HashMap<(i64, SourceKey), ListingId> = HashMap::new();
        let mut rows = sqlx::query(
            "SELECT provider_id, family, start_addr, end_addr, asn, netblock FROM listed_ranges",
        )
        .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let provider_id: i64 = row.try_get(0)?;
            let Some(provider) = providers.get(&provider_id) else {
                // Delisted since the last expansion.
                continue;
            };
            let family: i64 = row.try_get(1)?;
            let range = addr::decode_range(family, row.try_get(2)?, row.try_get(3)?)?;
            let source = match row.try_get::<Option<u32>, _>(4)? {
                Some(asn) => SourceKey::Asn(asn),
                None => {
                    let text: &str = row.try_get(5)?;
                    let netblock = text.parse().map_err(|e| {
                        StoreError::InvalidData(format!("listed range with netblock {text:?}: {e}"))
                    })?;
                    SourceKey::Netblock(netblock)
                }
            };
            let listing = match interned.get(&(provider_id, source)) {
                Some(&id) => id,
                None => {
                    let listing_source = match source {
                        SourceKey::Asn(asn) => ListingSource::Asn(asn),
                        SourceKey::Netblock(netblock) => ListingSource::Netblock(netblock),
                    };
                    let id = builder.add_listing(provider.listing(listing_source));
                    interned.insert((provider_id, source), id);
                    id
                }
            };
            builder.add_range(range, listing);
        }
        drop(rows);

        for row in sqlx::query("SELECT provider_id, domain FROM provider_domains")
            .fetch_all(&mut *tx)
            .await?
        {
            let provider_id: i64 = row.try_get("provider_id")?;
            let Some(provider) = providers.get(&provider_id) else {
                continue;
            };
            let domain: String = row.try_get("domain")?;
            let id = builder.add_listing(provider.listing(ListingSource::Domain(domain.clone())));
            builder.add_domain(&domain, id);
        }

        for row in
            sqlx::query("SELECT kind, value, family, start_addr, end_addr, zone FROM allow_entries")
                .fetch_all(&mut *tx)
                .await?
        {
            let zone: Option<&str> = row.try_get("zone")?;
            let kind: &str = row.try_get("kind")?;
            if kind == "range" {
                let family: i64 = row.try_get("family")?;
                let range = addr::decode_range(
                    family,
                    row.try_get("start_addr")?,
                    row.try_get("end_addr")?,
                )?;
                builder.exclude_range(range, zone);
            } else {
                builder.exclude_domain(row.try_get("value")?, zone);
            }
        }
        tx.commit().await?;
        Ok(builder.build()?)
    }
}
