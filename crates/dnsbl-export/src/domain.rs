//! The names of a domain zone (RFC 5782 §2.3) as records and wildcards (RFC 4592).
//!
//! A listed domain `example.com` becomes two owners, `example.com` and `*.example.com`,
//! each with the listings of the domain and of every listed parent, as the live server
//! answers a subdomain with the union of the listings above it. A listed domain below an
//! allow-listed one is left out, because the live server stops at the allow-listed name.
//!
//! An allow-listed domain below a listed one cannot answer NXDOMAIN from a standard
//! server: the wildcard of the listed parent answers for every name that does not exist.
//! The export therefore writes the allow-listed name as an existing node with one HINFO
//! record (the record type RFC 8482 uses for synthesised answers, which no DNSBL client
//! asks for), without a wildcard below it, as [`crate::address`] does for empty prefixes. A or TXT queries for that name get NODATA,
//! and names below it get NXDOMAIN, so every client reads it as not listed.

use std::collections::{BTreeMap, HashSet};

use dnsbl_core::ListingId;
use dnsbl_core::snapshot::{TEST_LISTING, Zone};

/// One record owner of a domain zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainEntry {
    /// `domain` (wildcard false) or `*.domain` (wildcard true), listed by `listings`.
    Listed {
        domain: String,
        wildcard: bool,
        listings: Box<[ListingId]>,
    },
    /// An allow-listed domain below a listed one, written as an existing empty node.
    Excluded { domain: String },
}

/// Builds the record owners of a domain zone, sorted by domain.
pub fn domain_entries(zone: &Zone) -> Vec<DomainEntry> {
    let is_excluded = |domain: &str| suffixes(domain).any(|s| zone.excluded_domains.contains(s));
    // The listings of each domain, and of the names below it (its wildcard). The RFC 5782
    // `test` entry lists that exact name only, as the live server answers.
    let mut listed: BTreeMap<&str, (Vec<ListingId>, Vec<ListingId>)> = BTreeMap::new();
    for domain in zone.domains.keys() {
        if is_excluded(domain) {
            continue;
        }
        let mut exact = Vec::new();
        let mut below = Vec::new();
        for suffix in suffixes(domain) {
            let Some(ids) = zone.domains.get(suffix) else {
                continue;
            };
            for &id in ids.iter() {
                if id != TEST_LISTING {
                    below.push(id);
                    exact.push(id);
                } else if suffix == domain {
                    exact.push(id);
                }
            }
        }
        for ids in [&mut exact, &mut below] {
            ids.sort_unstable();
            ids.dedup();
        }
        listed.insert(domain.as_str(), (exact, below));
    }
    let mut excluded: Vec<&str> = zone
        .excluded_domains
        .iter()
        .map(String::as_str)
        .filter(|domain| {
            // Only an allow-listed name under a listed domain needs a node of its own, and
            // only the topmost one: names below it are NXDOMAIN already.
            let mut parents = suffixes(domain).skip(1);
            parents.clone().any(|parent| listed.contains_key(parent))
                && !parents.any(|parent| zone.excluded_domains.contains(parent))
        })
        .collect();
    excluded.sort_unstable();
    let excluded: HashSet<&str> = excluded.into_iter().collect();

    let mut owners: BTreeMap<String, DomainEntry> = BTreeMap::new();
    for (domain, (exact, below)) in listed {
        owners.insert(
            sort_key(domain, false),
            DomainEntry::Listed {
                domain: domain.to_string(),
                wildcard: false,
                listings: exact.into(),
            },
        );
        if !below.is_empty() {
            owners.insert(
                sort_key(domain, true),
                DomainEntry::Listed {
                    domain: domain.to_string(),
                    wildcard: true,
                    listings: below.into(),
                },
            );
        }
    }
    for domain in excluded {
        owners.insert(
            sort_key(domain, false),
            DomainEntry::Excluded {
                domain: domain.to_string(),
            },
        );
    }
    owners.into_values().collect()
}

/// A domain and each of its parents, longest first.
pub(crate) fn suffixes(domain: &str) -> impl Iterator<Item = &str> + Clone {
    std::iter::successors(Some(domain), |suffix| {
        suffix.split_once('.').map(|(_, parent)| parent)
    })
}

/// Orders owners by reversed labels, so that a domain, its wildcard and its subdomains are
/// written together.
pub(crate) fn sort_key(domain: &str, wildcard: bool) -> String {
    let mut labels: Vec<&str> = domain.split('.').rev().collect();
    if wildcard {
        labels.push("*");
    }
    labels.join("\u{1}")
}

#[cfg(test)]
mod tests {
    use dnsbl_core::{Category, Listing, ListingSource, SnapshotBuilder, ZoneKind, ZoneSpec};

    use super::*;
    use crate::address::tests::zone_spec;

    /// The owners of a domain zone with `listed.test` listed, as (domain, wildcard, number
    /// of listings).
    fn owners() -> Vec<(String, bool, usize)> {
        let spec = ZoneSpec {
            name: "dbl.example".into(),
            kind: ZoneKind::Domain,
            ..zone_spec()
        };
        let categories = vec![Category {
            name: "c".into(),
            code: [127, 0, 0, 2].into(),
            txt: String::new(),
        }];
        let mut builder = SnapshotBuilder::new(1, vec![spec], categories);
        let id = builder.add_listing(Listing {
            provider: "p".into(),
            operator: None,
            category: 0,
            source: ListingSource::Domain("listed.test".into()),
            listed_since: None,
        });
        builder.add_domain("listed.test", id);
        let snapshot = builder.build().expect("the snapshot builds");
        domain_entries(&snapshot.zones[0])
            .into_iter()
            .filter_map(|entry| match entry {
                DomainEntry::Listed {
                    domain,
                    wildcard,
                    listings,
                } => Some((domain, wildcard, listings.len())),
                DomainEntry::Excluded { .. } => None,
            })
            .collect()
    }

    #[test]
    fn test_entry_has_no_wildcard() {
        let owners = owners();
        assert_eq!(
            owners,
            [
                ("test".to_string(), false, 1),
                ("listed.test".to_string(), false, 1),
                ("listed.test".to_string(), true, 1),
            ]
        );
    }
}
