//! Why an address or a domain is listed, or not: every listing of the current snapshot
//! that covers it, and every allow-list entry that exempts it, zone by zone.

use std::net::{IpAddr, Ipv4Addr};

use dnsbl_config::AllowTarget;
use dnsbl_core::snapshot::{TEST_LISTING, Zone};
use dnsbl_core::{AddrRange, ListingId, ListingSource, Snapshot, ZoneKind};
use dnsbl_store::AllowRecord;
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

/// One allow-list entry that exempts the looked-up address or domain in one zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AllowMatch {
    /// The zone in which the entry exempts the query. An entry without a zone appears once
    /// for every zone of the query's kind.
    pub zone: String,
    /// The id of the entry in `GET /v1/allow`.
    pub id: i64,
    /// The range (CIDR prefix or `start-end`) or the domain, as stored.
    pub value: String,
    /// `range` or `domain`.
    pub kind: String,
    pub reason: String,
    /// `file` (register.toml, read-only through the API) or `api`.
    pub source: String,
}

/// Errors of [`lookup`].
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is neither an IP address nor a domain name: {1}")]
pub struct LookupError(pub String, pub String);

/// A parsed lookup query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupQuery {
    Address(IpAddr),
    /// Lower case, without a trailing dot.
    Domain(String),
}

impl LookupQuery {
    /// Parses an IP address or, failing that, a domain name.
    pub fn parse(query: &str) -> Result<Self, LookupError> {
        if let Ok(address) = query.parse::<IpAddr>() {
            return Ok(LookupQuery::Address(address));
        }
        crate::body::parse_domain(query)
            .map(LookupQuery::Domain)
            .map_err(|message| LookupError(query.to_owned(), message))
    }

    fn kind(&self) -> ZoneKind {
        match self {
            LookupQuery::Address(_) => ZoneKind::Address,
            LookupQuery::Domain(_) => ZoneKind::Domain,
        }
    }
}

/// Returns every listing of `snapshot` that covers `query`.
pub fn listings_covering(snapshot: &Snapshot, query: &LookupQuery) -> Vec<LookupMatch> {
    let mut ids: Vec<(&str, ListingId)> = Vec::new();
    match query {
        LookupQuery::Address(address) => {
            for zone in snapshot
                .zones
                .iter()
                .filter(|z| z.spec.kind == ZoneKind::Address)
            {
                // The snapshot keeps ::ffff:0:0/96 as IPv4, as the DNS answers do.
                let found = match *address {
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
        }
        LookupQuery::Domain(domain) => {
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
    }
    ids.into_iter()
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
        .collect()
}

/// Returns the allow-list entries of `entries` (from
/// [`dnsbl_store::Store::list_allow_targets`]) that exempt `query` in the zones of
/// `snapshot`, zone by zone in snapshot order and by entry order within a zone. An entry
/// matches as `SnapshotBuilder::build` applies it: in the zone it names or, without one,
/// in every zone of its kind with listings of its own (not a combined zone).
pub fn allow_entries_covering(
    snapshot: &Snapshot,
    query: &LookupQuery,
    entries: &[(AllowRecord, AllowTarget)],
) -> Vec<AllowMatch> {
    let mut matches = Vec::new();
    let zones = snapshot
        .zones
        .iter()
        .filter(|zone| zone.spec.kind == query.kind() && zone.includes.is_empty());
    for zone in zones {
        for (record, target) in entries {
            if applies_in(record, zone) && target_covers(target, query) {
                matches.push(AllowMatch {
                    zone: zone.spec.name.clone(),
                    id: record.id,
                    value: record.value.clone(),
                    kind: record.kind.clone(),
                    reason: record.reason.clone(),
                    source: record.source.clone(),
                });
            }
        }
    }
    matches
}

/// Returns whether `record` applies in `zone`, comparing apexes as `SnapshotBuilder` stores them.
fn applies_in(record: &AllowRecord, zone: &Zone) -> bool {
    record.zone.as_deref().is_none_or(|name| {
        name.trim_end_matches('.')
            .eq_ignore_ascii_case(&zone.spec.name)
    })
}

/// The RFC 5782 test address, which no allow-list entry exempts: clients probe it to see
/// whether the list works.
const TEST_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Returns whether the snapshot build exempts `query` for an entry of `target`.
fn target_covers(target: &AllowTarget, query: &LookupQuery) -> bool {
    match (target, query) {
        (AllowTarget::Range(range), LookupQuery::Address(address)) => {
            range_covers(*range, *address)
        }
        (AllowTarget::Domain(allowed), LookupQuery::Domain(domain)) => {
            domain_covers(allowed, domain)
        }
        _ => false,
    }
}

/// Returns whether `range` contains `address`. The snapshot keeps ::ffff:0:0/96 as IPv4 on both
/// sides, so an IPv4 range contains the IPv4-mapped form of its addresses, and the
/// IPv4-mapped part of an IPv6 range contains the IPv4 addresses it maps.
fn range_covers(range: AddrRange, address: IpAddr) -> bool {
    let v6 = match address {
        IpAddr::V4(v4) => return v4_range_covers(range, v4),
        IpAddr::V6(v6) => v6,
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return v4_range_covers(range, v4);
    }
    let value = u128::from(v6);
    matches!(range, AddrRange::V6 { start, end } if start <= value && value <= end)
}

/// Returns whether the IPv4 part of `range` contains `address`, which is not the test address.
fn v4_range_covers(range: AddrRange, address: Ipv4Addr) -> bool {
    let part = match range {
        AddrRange::V4 { .. } => Some(range),
        AddrRange::V6 { .. } => range.mapped_v4_part(),
    };
    let value = u32::from(address);
    address != TEST_ADDRESS
        && matches!(part, Some(AddrRange::V4 { start, end }) if start <= value && value <= end)
}

/// Returns whether an entry for `allowed` exempts `domain` (lower case, no trailing dot): the
/// domain itself and its subdomains, except the RFC 5782 `test` entry, which no entry
/// exempts.
fn domain_covers(allowed: &str, domain: &str) -> bool {
    let allowed = allowed.trim_end_matches('.').to_ascii_lowercase();
    if allowed == "test" {
        return false;
    }
    domain == allowed
        || domain
            .strip_suffix(allowed.as_str())
            .is_some_and(|prefix| prefix.ends_with('.'))
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
            let parsed = LookupQuery::parse(query).expect("the query parses");
            let kinds: Vec<&str> = listings_covering(&snapshot, &parsed)
                .iter()
                .map(|found| found.source_kind)
                .collect();
            assert_eq!(kinds, expected, "query {query}");
        }
    }

    fn allow_entry(id: i64, value: &str, zone: Option<&str>) -> (AllowRecord, AllowTarget) {
        let target = match value.parse::<AddrRange>() {
            Ok(range) => AllowTarget::Range(range),
            Err(_) => AllowTarget::Domain(value.into()),
        };
        let kind = match target {
            AllowTarget::Range(_) => "range",
            AllowTarget::Domain(_) => "domain",
        };
        let record = AllowRecord {
            id,
            value: value.into(),
            kind: kind.into(),
            reason: format!("reason {id}"),
            zone: zone.map(Into::into),
            source: "api".into(),
        };
        (record, target)
    }

    /// Matches queries against allow-list entries of two address zones, a combined zone of
    /// both and a domain zone, with a near miss on each side of every entry.
    #[test]
    fn allow_entries_match_as_built() {
        let mut combined = zone("all.example", ZoneKind::Address);
        combined.includes = vec!["bl.example".into(), "bl2.example".into()];
        let zones = vec![
            zone("bl.example", ZoneKind::Address),
            zone("bl2.example", ZoneKind::Address),
            combined,
            zone("dbl.example", ZoneKind::Domain),
        ];
        let snapshot = SnapshotBuilder::new(1, zones, Vec::new())
            .build()
            .expect("the snapshot builds");
        let entries = [
            allow_entry(1, "192.0.2.0/25", None),
            allow_entry(2, "2001:db8::/64", Some("bl.example")),
            allow_entry(3, "::ffff:198.51.100.0/120", Some("bl2.example")),
            allow_entry(4, "127.0.0.0/8", Some("bl.example")),
            allow_entry(5, "ok.example", None),
            allow_entry(6, "test", None),
            allow_entry(7, "203.0.113.0/24", Some("gone.example")),
            allow_entry(8, "OK.Example.", Some("DBL.example.")),
        ];
        let both = vec![("bl.example", 1), ("bl2.example", 1)];
        let cases: [(&str, Vec<(&str, i64)>); 25] = [
            ("192.0.2.0", both.clone()),
            ("192.0.2.127", both.clone()),
            ("192.0.1.255", vec![]),
            ("192.0.2.128", vec![]),
            ("::ffff:192.0.2.5", both.clone()),
            ("::ffff:192.0.2.128", vec![]),
            ("2001:db8::1", vec![("bl.example", 2)]),
            ("2001:db8::ffff:ffff:ffff:ffff", vec![("bl.example", 2)]),
            ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", vec![]),
            ("2001:db8:0:1::", vec![]),
            ("198.51.100.9", vec![("bl2.example", 3)]),
            ("::ffff:198.51.100.255", vec![("bl2.example", 3)]),
            ("198.51.99.255", vec![]),
            ("198.51.101.0", vec![]),
            ("127.0.0.3", vec![("bl.example", 4)]),
            ("127.0.0.2", vec![]),
            ("::ffff:127.0.0.2", vec![]),
            ("203.0.113.1", vec![]),
            ("ok.example", vec![("dbl.example", 5), ("dbl.example", 8)]),
            (
                "WWW.Ok.Example.",
                vec![("dbl.example", 5), ("dbl.example", 8)],
            ),
            ("notok.example", vec![]),
            ("example", vec![]),
            ("ok.example.org", vec![]),
            ("test", vec![]),
            ("www.test", vec![]),
        ];
        for (query, expected) in cases {
            let parsed = LookupQuery::parse(query).expect("the query parses");
            let found: Vec<(String, i64)> = allow_entries_covering(&snapshot, &parsed, &entries)
                .into_iter()
                .map(|found| (found.zone, found.id))
                .collect();
            let expected: Vec<(String, i64)> = expected
                .into_iter()
                .map(|(zone, id)| (zone.to_owned(), id))
                .collect();
            assert_eq!(found, expected, "query {query}");
        }
    }

    #[test]
    fn allow_match_fields() {
        let snapshot =
            SnapshotBuilder::new(1, vec![zone("bl.example", ZoneKind::Address)], Vec::new())
                .build()
                .expect("the snapshot builds");
        let entries = [allow_entry(7, "192.0.2.0/25", None)];
        let query = LookupQuery::parse("192.0.2.1").expect("the query parses");
        let found = allow_entries_covering(&snapshot, &query, &entries);
        let expected = AllowMatch {
            zone: "bl.example".into(),
            id: 7,
            value: "192.0.2.0/25".into(),
            kind: "range".into(),
            reason: "reason 7".into(),
            source: "api".into(),
        };
        assert_eq!(found, [expected]);
    }
}
