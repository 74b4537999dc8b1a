//! Query names of domain zones (RFC 5782 §2.3): the domain written below the apex.
//!
//! A listed domain also lists its subdomains, and an allow-listed domain removes itself
//! and its subdomains. The parents of listed domains exist as empty non-terminals (RFC
//! 8020), so that `com.dbl.example` is NODATA when `example.com` is listed.

use std::borrow::Cow;

use super::{Lookup, QueryText};
use crate::snapshot::{ListingId, TEST_LISTING, Zone};

/// Looks up the labels below the apex of a domain zone, leftmost first.
pub(super) fn lookup<'z, 'a>(zone: &'z Zone, labels: impl Iterator<Item = &'a [u8]>) -> Lookup<'z> {
    let Some(domain) = join_labels(labels) else {
        return Lookup::NotFound;
    };
    let mut listings: Vec<ListingId> = Vec::new();
    let mut suffix = domain.as_str();
    loop {
        if zone.excluded_domains.contains(suffix) {
            return Lookup::NotFound;
        }
        if let Some(ids) = zone.domains.get(suffix) {
            // The RFC 5782 `test` entry lists that exact name only: listing every name
            // under `.test` would make a sender domain there look listed.
            let exact = suffix.len() == domain.len();
            listings.extend(ids.iter().filter(|&&id| exact || id != TEST_LISTING));
        }
        match suffix.split_once('.') {
            Some((_, parent)) => suffix = parent,
            None => break,
        }
    }
    if !listings.is_empty() {
        listings.sort_unstable();
        listings.dedup();
        return Lookup::Listed {
            listings: Cow::Owned(listings),
            query: QueryText::Domain(domain),
        };
    }
    if zone.domain_parents.contains(&domain) {
        Lookup::EmptyNonTerminal
    } else {
        Lookup::NotFound
    }
}

/// Joins labels into a lower-case domain, or `None` when a label cannot be part of a
/// register domain: not UTF-8, or containing a dot, which would shift the label
/// boundaries of the lookup.
fn join_labels<'a>(labels: impl Iterator<Item = &'a [u8]>) -> Option<String> {
    let mut domain = String::new();
    for label in labels {
        let label = std::str::from_utf8(label).ok()?;
        if label.contains('.') {
            return None;
        }
        if !domain.is_empty() {
            domain.push('.');
        }
        domain.push_str(label);
    }
    domain.make_ascii_lowercase();
    Some(domain)
}
