//! The wire path answers plain listed and unlisted queries without a heap allocation,
//! once the TXT data of each listing it answers has been rendered (on first use). dhat
//! is this test binary's global allocator and counts every allocation. The binary has no
//! test harness (`harness = false`), so nothing else runs beside the check.

use std::net::Ipv6Addr;
use std::sync::Arc;

use dnsbl_core::answer::{WireAnswerer, WireOutcome, WireScratch};
use dnsbl_core::{
    AddrRange, Category, Listing, ListingSource, SnapshotBuilder, SoaSpec, ZoneKind, ZoneSpec,
};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// Rounds of all queries after the warm-up round.
const ROUNDS: usize = 100;

fn answerer() -> WireAnswerer {
    let zone = ZoneSpec {
        name: "bl.example".into(),
        kind: ZoneKind::Address,
        ttl: 2100,
        soa: SoaSpec {
            mname: "ns1.bl.example".into(),
            rname: "hostmaster.bl.example".into(),
            refresh: 7200,
            retry: 900,
            expire: 1209600,
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
    };
    let category = Category {
        name: "listed-asn".into(),
        code: [127, 0, 0, 2].into(),
        txt: "{provider} is listed".into(),
    };
    let mut builder = SnapshotBuilder::new(1, vec![zone], vec![category]);
    for (asn, range) in [(64500, "192.0.2.0/24"), (64501, "2001:db8::/32")] {
        let listing = builder.add_listing(Listing {
            provider: format!("AS{asn}"),
            operator: None,
            category: 0,
            source: ListingSource::Asn(asn),
            listed_since: None,
        });
        builder.add_range(range.parse::<AddrRange>().unwrap(), listing);
    }
    WireAnswerer::new(Arc::new(builder.build().unwrap()))
}

/// Encodes a query with RD set, with an OPT record of payload 1232 when `edns` is set.
fn packet(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)];
    for label in name.split('.') {
        packet.push(label.len() as u8);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&1u16.to_be_bytes());
    if edns {
        packet.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    packet
}

/// Returns the reversed-nibble name of an IPv6 address in `bl.example` (RFC 5782 §2.4).
fn ipv6_name(addr: &str) -> String {
    let value = u128::from(addr.parse::<Ipv6Addr>().unwrap());
    let nibbles: Vec<String> = format!("{value:032x}")
        .chars()
        .rev()
        .map(String::from)
        .collect();
    format!("{}.bl.example", nibbles.join("."))
}

fn main() {
    wire_answers_allocate_nothing();
    println!("wire_answers_allocate_nothing: ok");
}

fn wire_answers_allocate_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let queries = [
        packet("7.2.0.192.bl.example", 1, false),
        packet("7.2.0.192.bl.example", 16, true),
        packet("7.2.0.192.bl.example", 255, false),
        packet("7.2.0.192.bl.example", 28, true),
        packet("7.3.0.192.bl.example", 1, false),
        packet("2.0.0.127.bl.example", 16, false),
        packet(&ipv6_name("2001:db8::1"), 1, true),
        packet(&ipv6_name("2001:db8::2"), 16, false),
        packet(&ipv6_name("2001:db9::1"), 1, false),
        packet(&ipv6_name("::ffff:192.0.2.9"), 1, false),
        packet("1.0.0.127.bl.example", 1, false),
        packet("192.bl.example", 1, true),
        packet("example.org", 1, false),
    ];
    let answerer = answerer();
    let mut scratch = WireScratch::default();
    let mut response = Vec::with_capacity(1232);
    // The first round renders the TXT data of each listing once.
    for query in &queries {
        let outcome = answerer.answer(query, &mut scratch, &mut response);
        assert_eq!(outcome, WireOutcome::Answered, "{query:?}");
    }

    let before = dhat::HeapStats::get();
    for _ in 0..ROUNDS {
        for query in &queries {
            answerer.answer(query, &mut scratch, &mut response);
        }
    }
    let after = dhat::HeapStats::get();
    dhat::assert_eq!(after.total_blocks - before.total_blocks, 0);
}
