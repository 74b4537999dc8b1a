//! Combined zones (`kind = "combined"` with `includes`) as one table, for export and zone
//! transfer (RFC 5936).
//!
//! The live server answers a combined zone by looking the name up in every included zone
//! and merging the results. The export builds that union once: for an address zone a
//! segment table merged from the included zones' tables, for a domain zone the record
//! owners of every included zone, each with the union of the listings the included zones
//! give that name (or, for a wildcard, a new name just below it). The answers are rendered
//! with the combined zone's own style and texts, as the live server does.
//!
//! NOTE: the rbldnsd `dnset` file keys a domain and its subdomains together, so where a
//! combined domain zone gives a subdomain other listings than the domain itself (one
//! included zone allow-lists it, another does not), rbldnsd answers with the domain's.

use std::borrow::Cow;
use std::collections::BTreeSet;

use dnsbl_core::snapshot::{RangeTable, TEST_LISTING, Zone};
use dnsbl_core::{ListingId, Snapshot, ZoneKind};

use crate::domain::{DomainEntry, domain_entries, sort_key, suffixes};

/// Returns `zone` itself, or for a combined address zone a copy whose `v4` and `v6`
/// tables are the union of the included zones' tables and which includes nothing.
pub fn flatten<'s>(snapshot: &'s Snapshot, zone: &'s Zone) -> Cow<'s, Zone> {
    if zone.includes.is_empty() || zone.spec.kind != ZoneKind::Address {
        return Cow::Borrowed(zone);
    }
    let included: Vec<&Zone> = zone
        .includes
        .iter()
        .map(|&index| &snapshot.zones[index])
        .collect();
    let mut flat = zone.clone();
    flat.v4 = RangeTable::union(&included.iter().map(|zone| &zone.v4).collect::<Vec<_>>());
    flat.v6 = RangeTable::union(&included.iter().map(|zone| &zone.v6).collect::<Vec<_>>());
    flat.includes.clear();
    Cow::Owned(flat)
}

/// Builds the record owners of a domain zone, combined or not, sorted as
/// [`domain_entries`] sorts them.
pub fn zone_domain_entries(snapshot: &Snapshot, zone: &Zone) -> Vec<DomainEntry> {
    if zone.includes.is_empty() {
        return domain_entries(zone);
    }
    let included: Vec<&Zone> = zone
        .includes
        .iter()
        .map(|&index| &snapshot.zones[index])
        .collect();
    combined_domain_entries(&included)
}

/// Computes the listings `zone` gives `domain` (`child` false) or a name just below
/// `domain` that is no key of the zone (`child` true), as the live domain lookup does.
fn listings_in(zone: &Zone, domain: &str, child: bool) -> Vec<ListingId> {
    if suffixes(domain).any(|suffix| zone.excluded_domains.contains(suffix)) {
        return Vec::new();
    }
    suffixes(domain)
        .filter_map(|suffix| zone.domains.get(suffix).map(|ids| (suffix, ids)))
        .flat_map(|(suffix, ids)| {
            let exact = !child && suffix == domain;
            ids.iter()
                .copied()
                .filter(move |&id| exact || id != TEST_LISTING)
        })
        .collect()
}

fn union_of(zones: &[&Zone], domain: &str, child: bool) -> Box<[ListingId]> {
    let mut ids: Vec<ListingId> = zones
        .iter()
        .flat_map(|zone| listings_in(zone, domain, child))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into()
}

/// Merges the record owners of `zones`. Every name that is an owner in one of them is
/// written with its exact listings and a wildcard with its child listings, where these
/// are not empty; a name listed by none but lying below a written wildcard becomes an
/// empty node, so that the wildcard does not answer for it.
fn combined_domain_entries(zones: &[&Zone]) -> Vec<DomainEntry> {
    let names: BTreeSet<String> = zones
        .iter()
        .flat_map(|zone| domain_entries(zone))
        .map(|entry| match entry {
            DomainEntry::Listed { domain, .. } | DomainEntry::Excluded { domain } => domain,
        })
        .collect();
    let wildcards: BTreeSet<&str> = names
        .iter()
        .filter(|name| !union_of(zones, name, true).is_empty())
        .map(String::as_str)
        .collect();
    let mut owners = Vec::new();
    for name in &names {
        let exact = union_of(zones, name, false);
        if !exact.is_empty() {
            owners.push((
                sort_key(name, false),
                DomainEntry::Listed {
                    domain: name.clone(),
                    wildcard: false,
                    listings: exact,
                },
            ));
        } else if suffixes(name)
            .skip(1)
            .any(|parent| wildcards.contains(parent))
        {
            owners.push((
                sort_key(name, false),
                DomainEntry::Excluded {
                    domain: name.clone(),
                },
            ));
        }
        if wildcards.contains(name.as_str()) {
            owners.push((
                sort_key(name, true),
                DomainEntry::Listed {
                    domain: name.clone(),
                    wildcard: true,
                    listings: union_of(zones, name, true),
                },
            ));
        }
    }
    owners.sort_by(|a, b| a.0.cmp(&b.0));
    owners.into_iter().map(|(_, entry)| entry).collect()
}

#[cfg(test)]
#[path = "combined_tests.rs"]
mod tests;
