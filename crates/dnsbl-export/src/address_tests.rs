//! The address construction checked against the live answer function: the records are
//! looked up the way RFC 4592 §3.3.1 tells a standard server to, and the outcome must
//! equal [`dnsbl_core::answer`] for full address names.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dnsbl_core::{
    AddrRange, Category, Listing, ListingSource, SnapshotBuilder, SoaSpec, ZoneKind, ZoneSpec,
};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::records::zone_records;

const APEX: &str = "bl.example";

pub(crate) fn zone_spec() -> ZoneSpec {
    ZoneSpec {
        name: APEX.to_string(),
        kind: ZoneKind::Address,
        ttl: 2100,
        soa: SoaSpec {
            mname: "ns1.bl.example".into(),
            rname: "hostmaster.bl.example".into(),
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 300,
            ttl: 3600,
        },
        ns: vec!["ns1.bl.example".into()],
        ns_ttl: 86400,
        categories: None,
        style: Default::default(),
        lookup_url: None,
        includes: Vec::new(),
        acl: Default::default(),
    }
}

/// A snapshot listing each range with its own category code (127.0.0.10 + index) and
/// excluding `exclusions`.
pub(crate) fn snapshot(listed: &[&str], exclusions: &[&str]) -> dnsbl_core::Snapshot {
    let categories = (0..listed.len())
        .map(|index| Category {
            name: format!("c{index}"),
            code: Ipv4Addr::new(127, 0, 0, 10 + index as u8),
            txt: "{query} is listed".to_string(),
        })
        .collect();
    let mut builder = SnapshotBuilder::new(5, vec![zone_spec()], categories);
    for (index, range) in listed.iter().enumerate() {
        let range: AddrRange = range.parse().unwrap();
        let id = builder.add_listing(Listing {
            provider: format!("p{index}"),
            operator: None,
            category: index,
            source: ListingSource::Netblock(range),
            listed_since: None,
        });
        builder.add_range(range, id);
    }
    for range in exclusions {
        builder.exclude_range(range.parse().unwrap(), None);
    }
    builder.build().unwrap()
}

/// A standard authoritative lookup over a record set: exact match, else the wildcard at
/// the closest encloser (RFC 4592 §3.3.1). Returns the rcode and the sorted A values.
pub(crate) struct Authority {
    owners: BTreeMap<Name, Vec<Record>>,
    /// Every owner and every name above one, up to the apex: the names that exist.
    existing: BTreeSet<Name>,
}

impl Authority {
    pub(crate) fn new(records: Vec<Record>) -> Self {
        let mut owners: BTreeMap<Name, Vec<Record>> = BTreeMap::new();
        let mut existing = BTreeSet::new();
        for record in records {
            let mut name = record.name.to_lowercase();
            owners.entry(name.clone()).or_default().push(record);
            while name.num_labels() > 2 && existing.insert(name.clone()) {
                name = name.base_name();
            }
        }
        Authority { owners, existing }
    }

    pub(crate) fn lookup(&self, qname: &Name) -> (ResponseCode, Vec<Ipv4Addr>) {
        let qname = qname.to_lowercase();
        let a_values = |records: &Vec<Record>| {
            let mut values: Vec<Ipv4Addr> = records
                .iter()
                .filter_map(|record| match record.data {
                    RData::A(a) => Some(a.0),
                    _ => None,
                })
                .collect();
            values.sort();
            values
        };
        if self.existing.contains(&qname) {
            let values = self.owners.get(&qname).map(a_values).unwrap_or_default();
            return (ResponseCode::NoError, values);
        }
        let mut encloser = qname.base_name();
        while !self.existing.contains(&encloser) && encloser.num_labels() > 2 {
            encloser = encloser.base_name();
        }
        let wildcard = Name::from_ascii("*")
            .unwrap()
            .append_domain(&encloser)
            .unwrap();
        match self.owners.get(&wildcard) {
            Some(records) => (ResponseCode::NoError, a_values(records)),
            None => (ResponseCode::NXDomain, Vec::new()),
        }
    }
}

pub(crate) fn address_name(addr: IpAddr) -> Name {
    let text = match addr {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.{APEX}.")
        }
        IpAddr::V6(v6) => {
            let hex = format!("{:032x}", u128::from(v6));
            let mut labels: Vec<String> = hex.chars().rev().map(String::from).collect();
            labels.push(format!("{APEX}."));
            labels.join(".")
        }
    };
    Name::from_ascii(text).unwrap()
}

pub(crate) fn live(snapshot: &dnsbl_core::Snapshot, name: &Name) -> (ResponseCode, Vec<Ipv4Addr>) {
    let answer = dnsbl_core::answer(snapshot, name, RecordType::A, DNSClass::IN);
    let mut values: Vec<Ipv4Addr> = answer
        .answers
        .iter()
        .filter_map(|record| match record.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    values.sort();
    (answer.rcode, values)
}

fn assert_same(snapshot: &dnsbl_core::Snapshot, authority: &Authority, addr: IpAddr) {
    let name = address_name(addr);
    assert_eq!(
        authority.lookup(&name),
        live(snapshot, &name),
        "answers for {addr}"
    );
}

fn v4(text: &str) -> IpAddr {
    IpAddr::V4(text.parse().unwrap())
}

#[test]
fn nested_entry_keeps_wildcards_of_wider_range() {
    let snapshot = snapshot(&["127.0.0.0/8", "127.0.0.3"], &[]);
    let authority = Authority::new(zone_records(&snapshot, &snapshot.zones[0]).unwrap());
    for owner in ["*.127", "*.0.127", "3.0.0.127", "4.0.0.127"] {
        let name = Name::from_ascii(format!("{owner}.{APEX}.")).unwrap();
        assert!(
            authority.owners.contains_key(&name),
            "owner {owner} written"
        );
    }
    // 127.0.0.1 is never listed (RFC 5782 §5), so 127.0.0.0/24 has an empty full address
    // and gets explicit owners instead of a wildcard, which would match 127.0.0.1 too.
    let wildcard = Name::from_ascii(format!("*.0.0.127.{APEX}.")).unwrap();
    assert!(!authority.owners.contains_key(&wildcard), "no *.0.0.127");
    let excluded = Name::from_ascii(format!("1.0.0.127.{APEX}.")).unwrap();
    assert!(!authority.owners.contains_key(&excluded), "no 1.0.0.127");
    let cases = [
        ("127.0.0.3", ResponseCode::NoError, vec![10, 11]),
        ("127.0.0.2", ResponseCode::NoError, vec![2, 10]),
        ("127.0.0.4", ResponseCode::NoError, vec![10]),
        ("127.0.1.5", ResponseCode::NoError, vec![10]),
        ("127.9.9.9", ResponseCode::NoError, vec![10]),
        ("128.0.0.0", ResponseCode::NXDomain, vec![]),
    ];
    for (addr, rcode, codes) in cases {
        let codes: Vec<Ipv4Addr> = codes.iter().map(|&c| Ipv4Addr::new(127, 0, 0, c)).collect();
        let name = address_name(v4(addr));
        assert_eq!(authority.lookup(&name), (rcode, codes), "secondary, {addr}");
        assert_same(&snapshot, &authority, v4(addr));
    }
}

#[test]
fn exclusion_inside_range_is_nxdomain() {
    let snapshot = snapshot(&["10.0.0.0/8"], &["10.1.2.3", "10.200.0.0/16"]);
    let authority = Authority::new(zone_records(&snapshot, &snapshot.zones[0]).unwrap());
    let cases = [
        ("10.1.2.3", ResponseCode::NXDomain),
        ("10.200.7.7", ResponseCode::NXDomain),
        ("10.1.2.2", ResponseCode::NoError),
        ("10.1.2.4", ResponseCode::NoError),
        ("10.1.3.3", ResponseCode::NoError),
        ("10.199.255.255", ResponseCode::NoError),
        ("10.201.0.0", ResponseCode::NoError),
    ];
    for (addr, rcode) in cases {
        assert_eq!(authority.lookup(&address_name(v4(addr))).0, rcode, "{addr}");
        assert_same(&snapshot, &authority, v4(addr));
    }
}

#[test]
fn unaligned_ranges_split_at_labels() {
    let snapshot = snapshot(&["192.0.2.10-192.0.3.20", "2001:db8::8-2001:db8::1:7"], &[]);
    let authority = Authority::new(zone_records(&snapshot, &snapshot.zones[0]).unwrap());
    for addr in [
        "192.0.2.9",
        "192.0.2.10",
        "192.0.2.255",
        "192.0.3.0",
        "192.0.3.20",
        "192.0.3.21",
        "2001:db8::7",
        "2001:db8::8",
        "2001:db8::ffff",
        "2001:db8::1:7",
        "2001:db8::1:8",
        "::ffff:127.0.0.2",
        "::ffff:127.0.0.3",
    ] {
        assert_same(&snapshot, &authority, addr.parse().unwrap());
    }
}

/// Addresses around every range edge and random addresses inside a few prefixes, over
/// overlapping, nested and excluded ranges of both families, including ranges whose
/// labels are single digits, which IPv4 and IPv6 names share.
#[test]
fn random_addresses_match_live_answers() {
    let listed = [
        "2.6.0.0/16",
        "2.6.7.0/24",
        "2600::/12",
        "3.0.0.0/8",
        "3.1.2.3-3.1.9.200",
        "198.51.100.0/22",
        "198.51.101.77",
        "2001:db8::/32",
        "2001:db8:1::/48",
        "::ffff:203.0.113.0/120",
    ];
    let exclusions = ["3.3.3.3", "2001:db8:0:ff::/64", "198.51.102.0/25"];
    let snapshot = snapshot(&listed, &exclusions);
    let authority = Authority::new(zone_records(&snapshot, &snapshot.zones[0]).unwrap());

    let mut addresses: Vec<IpAddr> = Vec::new();
    for range in listed.iter().chain(&exclusions) {
        let range: AddrRange = range.parse().unwrap();
        for edge in [range.start(), range.end()] {
            addresses.push(edge);
            match edge {
                IpAddr::V4(a) => {
                    let value = u32::from(a);
                    addresses.push(IpAddr::V4(value.wrapping_sub(1).into()));
                    addresses.push(IpAddr::V4(value.wrapping_add(1).into()));
                }
                IpAddr::V6(a) => {
                    let value = u128::from(a);
                    addresses.push(IpAddr::V6(value.wrapping_sub(1).into()));
                    addresses.push(IpAddr::V6(value.wrapping_add(1).into()));
                }
            }
        }
    }
    // A fixed-seed xorshift generator, so a failure reproduces.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let v4_bases = [0x0200_0000u32, 0x0206_0000, 0x0300_0000, 0xc633_6400];
    let v6_bases: [u128; 3] = [
        0x2600_u128 << 112,
        0x2001_0db8_u128 << 96,
        0x2001_0db8_0000_00ff_u128 << 64,
    ];
    for _ in 0..1000 {
        let base = v4_bases[next() as usize % v4_bases.len()];
        let bits = next() % 25;
        addresses.push(IpAddr::V4(
            (base | (next() as u32 & ((1u32 << bits) - 1))).into(),
        ));
        let base = v6_bases[next() as usize % v6_bases.len()];
        let bits = next() % 81;
        let mask = (1u128 << bits) - 1;
        let random = (u128::from(next()) << 64) | u128::from(next());
        addresses.push(IpAddr::V6(Ipv6Addr::from(base | (random & mask))));
    }
    for addr in addresses {
        assert_same(&snapshot, &authority, addr);
    }
}
