//! Combined zones checked against the live answer function: the exported records of the
//! combined zone, looked up as a standard server does, must give [`dnsbl_core::answer`]'s
//! rcode and A values.

use std::net::{IpAddr, Ipv4Addr};

use dnsbl_core::{
    AddrRange, Category, Listing, ListingSource, Snapshot, SnapshotBuilder, ZoneKind, ZoneSpec,
};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;

use crate::address::tests::{Authority, address_name, live, zone_spec};
use crate::domain::DomainEntry;
use crate::records::zone_records;

/// Zones `a.NAME` serving category c0 and `b.NAME` serving c1 and c2, and the combined
/// zone `NAME` including both, all of `kind`. The combined zone answers in style multi,
/// so a wrong merge of listings shows as a wrong A value.
fn specs(name: &str, kind: ZoneKind) -> Vec<ZoneSpec> {
    let spec = |apex: String, categories: Option<&[&str]>, includes: Vec<String>| ZoneSpec {
        name: apex,
        kind,
        categories: categories.map(|names| names.iter().map(|n| n.to_string()).collect()),
        includes,
        acl: Default::default(),
        ..zone_spec()
    };
    let mut combined = spec(
        name.to_string(),
        None,
        vec![format!("a.{name}"), format!("b.{name}")],
    );
    combined.style = dnsbl_core::AnswerStyle::Multi;
    vec![
        spec(format!("a.{name}"), Some(&["c0"]), Vec::new()),
        spec(format!("b.{name}"), Some(&["c1", "c2"]), Vec::new()),
        combined,
    ]
}

fn categories() -> Vec<Category> {
    [4, 8, 16]
        .iter()
        .enumerate()
        .map(|(index, &code)| Category {
            name: format!("c{index}"),
            code: Ipv4Addr::new(127, 0, 0, code),
            txt: "{query} is listed".to_string(),
        })
        .collect()
}

fn listing(index: usize, source: ListingSource) -> Listing {
    Listing {
        provider: format!("p{index}"),
        operator: None,
        category: index,
        source,
        listed_since: None,
    }
}

fn zone<'s>(snapshot: &'s Snapshot, name: &str) -> &'s dnsbl_core::snapshot::Zone {
    snapshot
        .zones
        .iter()
        .find(|zone| zone.spec.name == name)
        .unwrap()
}

#[test]
fn combined_address_zone_matches_live_answers() {
    let mut builder = SnapshotBuilder::new(5, specs("bl.example", ZoneKind::Address), categories());
    // (category, range): each category is served by one included zone only.
    let listed = [
        (0, "10.0.0.0/8"),
        (1, "10.1.0.0/16"),
        (2, "10.1.2.0/24"),
        (1, "192.0.2.10-192.0.2.20"),
        (0, "192.0.2.15-192.0.2.30"),
        (2, "2001:db8::/32"),
        (0, "2001:db8:1::/48"),
    ];
    for (category, range) in listed {
        let range: AddrRange = range.parse().unwrap();
        let id = builder.add_listing(listing(category, ListingSource::Netblock(range)));
        builder.add_range(range, id);
    }
    // Allow-listed in one included zone only: the other zone still lists it.
    builder.exclude_range("10.1.2.3".parse().unwrap(), Some("a.bl.example"));
    builder.exclude_range("10.9.0.0/16".parse().unwrap(), Some("a.bl.example"));
    builder.exclude_range("2001:db8:1:5::/64".parse().unwrap(), Some("b.bl.example"));
    let snapshot = builder.build().unwrap();
    let combined = zone(&snapshot, "bl.example");
    let authority = Authority::new(zone_records(&snapshot, combined).unwrap());

    let cases = [
        ("10.1.2.3", ResponseCode::NoError, vec![24]),
        ("10.1.2.4", ResponseCode::NoError, vec![28]),
        ("10.1.3.3", ResponseCode::NoError, vec![12]),
        ("10.9.1.1", ResponseCode::NXDomain, vec![]),
        ("10.200.1.1", ResponseCode::NoError, vec![4]),
        ("192.0.2.12", ResponseCode::NoError, vec![8]),
        ("192.0.2.17", ResponseCode::NoError, vec![12]),
        ("192.0.2.31", ResponseCode::NXDomain, vec![]),
        ("127.0.0.2", ResponseCode::NoError, vec![2]),
        ("2001:db8:1:5::1", ResponseCode::NoError, vec![4]),
        ("2001:db8:1:6::1", ResponseCode::NoError, vec![20]),
        ("2001:db8:2::1", ResponseCode::NoError, vec![16]),
    ];
    for (addr, rcode, codes) in cases {
        let addr: IpAddr = addr.parse().unwrap();
        let name = address_name(addr);
        let codes: Vec<Ipv4Addr> = codes.iter().map(|&c| Ipv4Addr::new(127, 0, 0, c)).collect();
        assert_eq!(live(&snapshot, &name), (rcode, codes), "live, {addr}");
        assert_eq!(
            authority.lookup(&name),
            live(&snapshot, &name),
            "export, {addr}"
        );
    }
}

/// The live answer for `domain` below `dbl.example` and the one a standard server gives
/// from the export. An allow-listed name below a listed one is an empty node in the
/// export (see `crate::domain`), so NODATA stands for the live NXDOMAIN there.
fn domain_outcomes(
    snapshot: &Snapshot,
    authority: &Authority,
    empty_nodes: &[String],
    domain: &str,
) -> ((ResponseCode, Vec<Ipv4Addr>), (ResponseCode, Vec<Ipv4Addr>)) {
    let name = Name::from_ascii(format!("{domain}.dbl.example.")).unwrap();
    let live = live(snapshot, &name);
    let mut exported = authority.lookup(&name);
    if empty_nodes.iter().any(|node| node == domain) && exported == (ResponseCode::NoError, vec![])
    {
        exported = (ResponseCode::NXDomain, vec![]);
    }
    (live, exported)
}

#[test]
fn combined_domain_zone_matches_live_answers() {
    let mut builder = SnapshotBuilder::new(5, specs("dbl.example", ZoneKind::Domain), categories());
    let listed = [
        (0, "example.com"),
        (1, "b.a.example.com"),
        (2, "other.org"),
        (0, "x.other.org"),
        (1, "example.com"),
    ];
    for (category, domain) in listed {
        let id = builder.add_listing(listing(category, ListingSource::Domain(domain.into())));
        builder.add_domain(domain, id);
    }
    builder.exclude_domain("a.example.com", Some("a.dbl.example"));
    builder.exclude_domain("y.other.org", Some("b.dbl.example"));
    builder.exclude_domain("x.other.org", Some("b.dbl.example"));
    let snapshot = builder.build().unwrap();
    let combined = zone(&snapshot, "dbl.example");
    let authority = Authority::new(zone_records(&snapshot, combined).unwrap());
    let empty_nodes: Vec<String> = crate::combined::zone_domain_entries(&snapshot, combined)
        .into_iter()
        .filter_map(|entry| match entry {
            DomainEntry::Excluded { domain } => Some(domain),
            DomainEntry::Listed { .. } => None,
        })
        .collect();

    let cases = [
        ("example.com", ResponseCode::NoError, vec![12]),
        ("q.example.com", ResponseCode::NoError, vec![12]),
        ("a.example.com", ResponseCode::NoError, vec![8]),
        ("z.a.example.com", ResponseCode::NoError, vec![8]),
        ("b.a.example.com", ResponseCode::NoError, vec![8]),
        ("c.b.a.example.com", ResponseCode::NoError, vec![8]),
        ("other.org", ResponseCode::NoError, vec![16]),
        ("x.other.org", ResponseCode::NoError, vec![4]),
        ("w.x.other.org", ResponseCode::NoError, vec![4]),
        ("y.other.org", ResponseCode::NXDomain, vec![]),
        ("w.y.other.org", ResponseCode::NXDomain, vec![]),
        ("com", ResponseCode::NoError, vec![]),
        ("nope.net", ResponseCode::NXDomain, vec![]),
        ("test", ResponseCode::NoError, vec![2]),
    ];
    for (domain, rcode, codes) in cases {
        let codes: Vec<Ipv4Addr> = codes.iter().map(|&c| Ipv4Addr::new(127, 0, 0, c)).collect();
        let (live, exported) = domain_outcomes(&snapshot, &authority, &empty_nodes, domain);
        assert_eq!(live, (rcode, codes), "live, {domain}");
        assert_eq!(exported, live, "export, {domain}");
    }
}
