//! The wire path against the record path: seeded random datagrams, plain queries and
//! mangled ones, answered by both; every response the wire path writes must decode to
//! the message hickory-server's path builds for the same datagram.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use dnsbl_core::answer::{WireAnswerer, WireOutcome, WireScratch};
use dnsbl_core::{
    AddrRange, Category, Listing, ListingSource, Snapshot, SnapshotBuilder, SoaSpec, ZoneKind,
    ZoneSpec,
};
use dnsbl_dns::DnsblHandler;
use dnsbl_dns::fallback;
use hickory_proto::op::Message;

const SEED: u64 = 0x5eed_d15b_1000_0001;
const PACKETS: usize = 20_000;

fn zone(name: &str, kind: ZoneKind) -> ZoneSpec {
    ZoneSpec {
        name: name.into(),
        kind,
        ttl: 2100,
        soa: SoaSpec {
            mname: "ns1.Example.net".into(),
            rname: "hostmaster.example.net".into(),
            refresh: 7200,
            retry: 900,
            expire: 1209600,
            minimum: 300,
            ttl: 3600,
        },
        ns: vec!["ns1.example.net".into()],
        ns_ttl: 86400,
        categories: None,
        style: Default::default(),
        lookup_url: None,
        includes: Vec::new(),
        acl: Default::default(),
    }
}

fn snapshot() -> Snapshot {
    let zones = vec![
        zone("bl.example", ZoneKind::Address),
        zone("sub.bl.example", ZoneKind::Address),
        zone("dbl.example", ZoneKind::Domain),
    ];
    let categories = vec![
        Category {
            name: "bad-service-provider".into(),
            code: [127, 0, 0, 3].into(),
            txt: "{provider} ({source}) listed".into(),
        },
        Category {
            name: "spam-source".into(),
            code: [127, 0, 0, 4].into(),
            txt: format!("{{query}} is listed: {{category}} {}", "é".repeat(140)),
        },
    ];
    let mut builder = SnapshotBuilder::new(42, zones, categories);
    let ranges = [
        "198.51.100.0/24",
        "198.51.100.128/25",
        "192.0.2.1/32",
        "2001:db8::/48",
        "2001:db8:0:1::/64",
        "::ffff:203.0.113.0/120",
    ];
    for (index, range) in ranges.iter().enumerate() {
        let listing = builder.add_listing(Listing {
            provider: format!("Provider {}", index % 3),
            operator: None,
            category: index % 2,
            source: ListingSource::Asn(64500 + index as u32 % 3),
            listed_since: None,
        });
        builder.add_range(range.parse::<AddrRange>().unwrap(), listing);
        builder.add_domain(&format!("host{index}.example.com"), listing);
    }
    builder.build().unwrap()
}

/// xorshift64*: a small seeded generator, so that a failure repeats exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const NAMES: &[&str] = &[
    "1.100.51.198.bl.example",
    "200.100.51.198.bl.example",
    "1.2.0.192.bl.example",
    "2.2.0.192.bl.example",
    "2.0.0.127.bl.example",
    "100.51.198.bl.example",
    "51.198.bl.example",
    "9.9.9.9.bl.example",
    "009.100.51.198.bl.example",
    "256.100.51.198.bl.example",
    "1.100.51.198.sub.bl.example",
    "bl.example",
    "sub.bl.example",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example",
    "5.0.0.7.1.7.b.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example",
    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.bl.example",
    "8.b.d.0.1.0.0.2.bl.example",
    "host1.example.com.dbl.example",
    "www.host2.example.com.dbl.example",
    "example.com.dbl.example",
    "com.dbl.example",
    "test.dbl.example",
    "nothere.dbl.example",
    "dbl.example",
    "example.org",
    "",
];

/// Record types: A, NS, SOA, MX, TXT, AAAA, OPT, IXFR, AXFR, ANY, CAA, and 0.
const QTYPES: &[u16] = &[1, 1, 16, 16, 255, 2, 6, 15, 28, 41, 251, 252, 257, 0];
const QCLASSES: &[u16] = &[1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 255, 254, 0];

fn random_case(rng: &mut Rng, name: &str) -> Vec<u8> {
    name.bytes()
        .map(|byte| {
            if rng.below(4) == 0 {
                byte.to_ascii_uppercase()
            } else {
                byte
            }
        })
        .collect()
}

fn packet(rng: &mut Rng) -> Vec<u8> {
    let mut packet = Vec::with_capacity(128);
    packet.extend_from_slice(&(rng.next() as u16).to_be_bytes());
    let flags = [0x00, 0x01, 0x01, 0x05, 0x03, 0x81, 0x09, rng.next() as u8];
    packet.push(*rng.pick(&flags));
    let flags = [0x00, 0x00, 0x10, 0x20, 0x40, 0x03, rng.next() as u8];
    packet.push(*rng.pick(&flags));
    let edns = rng.below(3);
    packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(edns > 0)]);
    let name = *rng.pick(NAMES);
    let name = random_case(rng, name);
    for label in name
        .split(|&byte| byte == b'.')
        .filter(|label| !label.is_empty())
    {
        packet.push(label.len() as u8);
        packet.extend_from_slice(label);
    }
    packet.push(0);
    let qtype = *rng.pick(QTYPES);
    packet.extend_from_slice(&qtype.to_be_bytes());
    let qclass = *rng.pick(QCLASSES);
    packet.extend_from_slice(&qclass.to_be_bytes());
    if edns > 0 {
        let payload = *rng.pick(&[0u16, 511, 512, 1232, 1400, 4096, 65535]);
        let version = *rng.pick(&[0u8, 0, 0, 1]);
        let flags = *rng.pick(&[0u16, 0x8000, 0x8000, 0x0001]);
        packet.push(0);
        packet.extend_from_slice(&41u16.to_be_bytes());
        packet.extend_from_slice(&payload.to_be_bytes());
        packet.extend_from_slice(&[0, version]);
        packet.extend_from_slice(&flags.to_be_bytes());
        if edns == 2 && rng.below(2) == 0 {
            // A cookie option (RFC 7873).
            packet.extend_from_slice(&[0, 12, 0, 10, 0, 8]);
            packet.extend_from_slice(&rng.next().to_be_bytes());
        } else {
            packet.extend_from_slice(&[0, 0]);
        }
    }
    match rng.below(8) {
        0 => {
            let at = rng.below(packet.len());
            packet[at] ^= 1 << rng.below(8);
        }
        1 => packet.truncate(rng.below(packet.len())),
        2 => packet.push(rng.next() as u8),
        _ => {}
    }
    packet
}

#[test]
fn wire_path_matches_record_path() {
    let snapshot = Arc::new(snapshot());
    let handler = DnsblHandler::new(Arc::new(ArcSwap::new(snapshot.clone())));
    let answerer = WireAnswerer::new(snapshot);
    let mut scratch = WireScratch::default();
    let mut out = Vec::new();
    let src: SocketAddr = "192.0.2.53:5300".parse().unwrap();
    let mut rng = Rng(SEED);
    let mut answered = 0;
    for index in 0..PACKETS {
        let packet = packet(&mut rng);
        if answerer.answer(&packet, &mut scratch, &mut out) == WireOutcome::Fallback {
            continue;
        }
        answered += 1;
        let expected = fallback::respond(&handler, &packet, src)
            .unwrap_or_else(|| panic!("packet {index} {packet:02x?}: record path sent nothing"));
        let wire = Message::from_vec(&out)
            .unwrap_or_else(|error| panic!("packet {index} {packet:02x?}: {error}: {out:02x?}"));
        let record = Message::from_vec(&expected).unwrap();
        assert_eq!(
            wire, record,
            "packet {index} {packet:02x?}\nwire   {out:02x?}\nrecord {expected:02x?}"
        );
        assert!(
            out.len() <= expected.len().max(512),
            "packet {index}: longer than hickory's"
        );
    }
    // Most plain queries take the wire path; a generator that stopped producing them
    // would make this test vacuous.
    assert!(
        answered > PACKETS / 8,
        "only {answered} of {PACKETS} answered on the wire path"
    );
}
