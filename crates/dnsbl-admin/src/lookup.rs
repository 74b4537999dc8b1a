//! Why an address or a domain is listed: every listing of the current snapshot that
//! covers it, zone by zone.

use std::net::IpAddr;

use dnsbl_core::snapshot::TEST_LISTING;
use dnsbl_core::{ListingId, ListingSource, Snapshot, ZoneKind};
use serde::Serialize;

/// One listing that covers the looked-up address or domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LookupMatch {
    pub zone: String,
    /// The A record value of the category, for example `127.0.0.2`.
    pub code: String,
    pub category: String,
    pub provider: String,
    pub operator: Option<String>,
    /// `asn`, `netblock`, `domain` or `test_entry`.
    pub source_kind: &'static str,
    /// The ASN (`AS64500`), netblock or domain that lists it.
    pub source: String,
    pub listed_since: Option<String>,
}

/// Errors of [`lookup`].
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is neither an IP address nor a domain name: {1}")]
pub struct LookupError(pub String, pub String);

/// Returns every listing of `snapshot` that covers `query`, an IP address or a domain.
pub fn lookup(snapshot: &Snapshot, query: &str) -> Result<Vec<LookupMatch>, LookupError> {
    let mut ids: Vec<(&str, ListingId)> = Vec::new();
    if let Ok(address) = query.parse::<IpAddr>() {
        for zone in snapshot
            .zones
            .iter()
            .filter(|z| z.spec.kind == ZoneKind::Address)
        {
            // The snapshot keeps ::ffff:0:0/96 as IPv4, as the DNS answers do.
            let found = match address {
                IpAddr::V4(v4) => zone.v4.lookup(u32::from(v4)),
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => zone.v4.lookup(u32::from(v4)),
                    None => zone.v6.lookup(u128::from(v6)),
                },
            };
            ids.extend(
                found
                    .unwrap_or_default()
                    .iter()
                    .map(|id| (zone.spec.name.as_str(), *id)),
            );
        }
    } else {
        let domain = crate::body::parse_domain(query)
            .map_err(|message| LookupError(query.to_owned(), message))?;
        for zone in snapshot
            .zones
            .iter()
            .filter(|z| z.spec.kind == ZoneKind::Domain)
        {
            let suffixes: Vec<&str> = std::iter::once(domain.as_str())
                .chain(domain.match_indices('.').map(|(i, _)| &domain[i + 1..]))
                .collect();
            if suffixes.iter().any(|s| zone.excluded_domains.contains(*s)) {
                continue;
            }
            for suffix in suffixes {
                if let Some(found) = zone.domains.get(suffix) {
                    // The RFC 5782 `test` entry lists that exact name only, as the live
                    // server answers.
                    let exact = suffix.len() == domain.len();
                    ids.extend(
                        found
                            .iter()
                            .filter(|&&id| exact || id != TEST_LISTING)
                            .map(|id| (zone.spec.name.as_str(), *id)),
                    );
                }
            }
        }
    }
    Ok(ids
        .into_iter()
        .filter_map(|(zone, id)| {
            let listing = snapshot.listings.get(id)?.to_listing();
            let category = snapshot.categories.get(listing.category)?;
            let source_kind = match &listing.source {
                ListingSource::Asn(_) => "asn",
                ListingSource::Netblock(_) => "netblock",
                ListingSource::Domain(_) => "domain",
                ListingSource::TestEntry => "test_entry",
            };
            Some(LookupMatch {
                zone: zone.to_owned(),
                code: category.code.to_string(),
                category: category.name.clone(),
                provider: listing.provider.clone(),
                operator: listing.operator.clone(),
                source_kind,
                source: listing.source.to_string(),
                listed_since: listing.listed_since.clone(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use dnsbl_core::{AnswerStyle, Category, Listing, SnapshotBuilder, SoaSpec, ZoneSpec};

    use super::*;

    fn zone(name: &str, kind: ZoneKind) -> ZoneSpec {
        ZoneSpec {
            name: name.into(),
            kind,
            ttl: 60,
            soa: SoaSpec {
                mname: "ns.example.".into(),
                rname: "hostmaster.example.".into(),
                refresh: 3600,
                retry: 600,
                expire: 86400,
                minimum: 60,
                ttl: 60,
            },
            ns: vec!["ns.example.".into()],
            ns_ttl: 60,
            categories: None,
            style: AnswerStyle::Zen,
            lookup_url: None,
            includes: Vec::new(),
            acl: Default::default(),
        }
    }

    /// Builds a domain zone with `spam.example` and `listed.test` listed by one provider.
    fn snapshot() -> Snapshot {
        let categories = vec![Category {
            name: "bad".into(),
            code: [127, 0, 0, 2].into(),
            txt: "{provider}".into(),
        }];
        let mut builder =
            SnapshotBuilder::new(1, vec![zone("dbl.example", ZoneKind::Domain)], categories);
        for domain in ["spam.example", "listed.test"] {
            let id = builder.add_listing(Listing {
                provider: "p".into(),
                operator: None,
                category: 0,
                source: ListingSource::Domain(domain.into()),
                listed_since: None,
            });
            builder.add_domain(domain, id);
        }
        builder.build().expect("the snapshot builds")
    }

    #[test]
    fn test_entry_exact_only() {
        let snapshot = snapshot();
        let cases = [
            ("test", vec!["test_entry"]),
            ("TEST.", vec!["test_entry"]),
            ("mail.test", vec![]),
            ("a.b.test", vec![]),
            ("listed.test", vec!["domain"]),
            ("www.listed.test", vec!["domain"]),
            ("spam.example", vec!["domain"]),
            ("www.spam.example", vec!["domain"]),
            ("invalid", vec![]),
        ];
        for (query, expected) in cases {
            let kinds: Vec<&str> = lookup(&snapshot, query)
                .expect("the query parses")
                .iter()
                .map(|found| found.source_kind)
                .collect();
            assert_eq!(kinds, expected, "query {query}");
        }
    }
}
