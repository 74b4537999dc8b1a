//! Instruction-count harness of the UDP wire path: builds a snapshot of the full IP-to-ASN
//! dataset (every ASN listed in one address zone, as `bench/gen.py` sets it up), then
//! answers a fixed, seeded query mix with `WireAnswerer::answer` in [`answer_all`].
//!
//! Run it under callgrind and count only that function, so loading the data is left out:
//!
//! ```sh
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*answer_all*' \
//!     target/release/dnsbl-wire-profile /tmp/asn/package 200000
//! ```
//!
//! Instructions per query are the `Ir` total divided by the query count it prints. The mix
//! is half listed and half unlisted names, about 10% IPv6 and 10% TXT queries, as in the
//! dnsperf query file of `bench/gen.py`. Without valgrind it also prints the wall time per
//! query, which is only a rough figure on a shared machine.
//!
//! usage: dnsbl-wire-profile ASN_DIR [QUERIES]

use std::collections::HashMap;
use std::error::Error;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use dnsbl_core::answer::{WireAnswerer, WireOutcome, WireScratch};
use dnsbl_core::{
    AddrRange, AnswerStyle, Category, Listing, ListingSource, Snapshot, SnapshotBuilder, SoaSpec,
    ZoneKind, ZoneSpec,
};

const ZONE: &str = "bl.example";
/// Seed of the query mix, so that every run answers the same queries.
const SEED: u64 = 5782;

/// One row of an IP-to-ASN CSV file: first address, last address, ASN.
type Row = (IpAddr, IpAddr, u32);

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let asn_dir = args
        .next()
        .ok_or("usage: dnsbl-wire-profile ASN_DIR [QUERIES]")?;
    let count: usize = match args.next() {
        Some(text) => text
            .parse()
            .map_err(|e| format!("invalid query count {text:?}: {e}"))?,
        None => 200_000,
    };
    let mut rows = read_rows(&Path::new(&asn_dir).join("asn-ipv4.csv"))?;
    rows.extend(read_rows(&Path::new(&asn_dir).join("asn-ipv6.csv"))?);
    let snapshot = build_snapshot(&rows)?;
    let packets = query_mix(&snapshot, &rows, count);
    let answerer = WireAnswerer::new(Arc::new(snapshot));

    let started = Instant::now();
    let (answered, bytes) = answer_all(&answerer, &packets);
    let elapsed = started.elapsed();
    println!(
        "queries: {count}, answered on the wire path: {answered}, response bytes: {bytes}, \
         wall time: {:.0} ns per query",
        elapsed.as_nanos() as f64 / count as f64
    );
    Ok(())
}

/// Answers every packet; the only function callgrind counts. Returns the number of
/// requests the wire path answered and the total response length.
#[inline(never)]
fn answer_all(answerer: &WireAnswerer, packets: &[Vec<u8>]) -> (usize, usize) {
    let mut scratch = WireScratch::default();
    let mut response = Vec::with_capacity(1232);
    let mut answered = 0;
    let mut bytes = 0;
    for packet in packets {
        if answerer.answer(black_box(packet), &mut scratch, &mut response) == WireOutcome::Answered
        {
            answered += 1;
            bytes += black_box(&response).len();
        }
    }
    (answered, bytes)
}

/// Reads the first three fields of each line; lines with ASN 0 (not routed) are skipped,
/// as `bench/gen.py` does.
fn read_rows(path: &Path) -> Result<Vec<Row>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read {}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut fields = line.splitn(4, ',');
        let (Some(start), Some(end), Some(asn)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let invalid = |what: &str| format!("{}:{}: invalid {what}", path.display(), number + 1);
        let asn: u32 = asn.parse().map_err(|_| invalid("ASN"))?;
        if asn == 0 {
            continue;
        }
        let start = start.parse().map_err(|_| invalid("first address"))?;
        let end = end.parse().map_err(|_| invalid("last address"))?;
        rows.push((start, end, asn));
    }
    Ok(rows)
}

/// Builds one listing per ASN with the text `AS<number> is listed`, all in zone `bl.example`.
fn build_snapshot(rows: &[Row]) -> Result<Snapshot, Box<dyn Error>> {
    let zone = ZoneSpec {
        name: ZONE.into(),
        kind: ZoneKind::Address,
        ttl: 2100,
        soa: SoaSpec {
            mname: format!("ns1.{ZONE}"),
            rname: format!("hostmaster.{ZONE}"),
            refresh: 7200,
            retry: 900,
            expire: 1_209_600,
            minimum: 300,
            ttl: 3600,
        },
        ns: vec![format!("ns1.{ZONE}")],
        ns_ttl: 86400,
        categories: None,
        style: AnswerStyle::Zen,
        lookup_url: None,
        includes: Vec::new(),
        acl: Default::default(),
    };
    let category = Category {
        name: "listed-asn".into(),
        code: Ipv4Addr::new(127, 0, 0, 2),
        txt: "{provider} is listed".into(),
    };
    let mut builder = SnapshotBuilder::new(1, vec![zone], vec![category]);
    let mut listings = HashMap::new();
    for &(start, end, asn) in rows {
        let listing = *listings.entry(asn).or_insert_with(|| {
            builder.add_listing(Listing {
                provider: format!("AS{asn}"),
                operator: None,
                category: 0,
                source: ListingSource::Asn(asn),
                listed_since: None,
            })
        });
        let range = AddrRange::from_addrs(start, end)
            .ok_or_else(|| format!("invalid range {start}-{end}"))?;
        builder.add_range(range, listing);
    }
    Ok(builder.build()?)
}

/// A xorshift generator: enough to spread queries, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Returns a value below `bound`, with a bias too small to matter here.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Builds the seeded query packets: half listed, half unlisted, 10% IPv6, 10% TXT.
fn query_mix(snapshot: &Snapshot, rows: &[Row], count: usize) -> Vec<Vec<u8>> {
    let zone = &snapshot.zones[0];
    let (v4_rows, v6_rows): (Vec<&Row>, Vec<&Row>) =
        rows.iter().partition(|(start, _, _)| start.is_ipv4());
    let mut rng = Rng(SEED);
    (0..count)
        .map(|index| {
            let ipv6 = rng.chance(10);
            let listed = rng.chance(50);
            let qtype = if rng.chance(10) { 16 } else { 1 };
            let addr = if ipv6 {
                let value = if listed {
                    let &&(start, end, _) = &v6_rows[rng.below(v6_rows.len() as u64) as usize];
                    pick_between(&mut rng, v6_value(start), v6_value(end))
                } else {
                    loop {
                        // 2000::/3, where the routed IPv6 space is.
                        let value =
                            (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> 3 | 1 << 125;
                        if zone.v6.lookup(value).is_none() {
                            break value;
                        }
                    }
                };
                IpAddr::V6(Ipv6Addr::from(value))
            } else {
                let value = if listed {
                    let &&(start, end, _) = &v4_rows[rng.below(v4_rows.len() as u64) as usize];
                    pick_between(
                        &mut rng,
                        u128::from(v4_value(start)),
                        u128::from(v4_value(end)),
                    ) as u32
                } else {
                    loop {
                        let value = rng.next() as u32;
                        if zone.v4.lookup(value).is_none() {
                            break value;
                        }
                    }
                };
                IpAddr::V4(Ipv4Addr::from(value))
            };
            packet(index as u16, &reverse_name(addr), qtype)
        })
        .collect()
}

fn v4_value(addr: IpAddr) -> u32 {
    match addr {
        IpAddr::V4(v4) => u32::from(v4),
        IpAddr::V6(_) => unreachable!("IPv4 rows hold IPv4 addresses"),
    }
}

fn v6_value(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V6(v6) => u128::from(v6),
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
    }
}

fn pick_between(rng: &mut Rng, start: u128, end: u128) -> u128 {
    let span = end - start;
    let offset = (u128::from(rng.next()) << 64 | u128::from(rng.next())) % span.saturating_add(1);
    start + offset
}

/// Returns the query name of `addr` below the zone: reversed octets or nibbles (RFC 5782 §2.1, §2.4).
fn reverse_name(addr: IpAddr) -> String {
    let labels: Vec<String> = match addr {
        IpAddr::V4(v4) => v4.octets().iter().rev().map(u8::to_string).collect(),
        IpAddr::V6(v6) => format!("{:032x}", u128::from(v6))
            .chars()
            .rev()
            .map(String::from)
            .collect(),
    };
    format!("{}.{ZONE}", labels.join("."))
}

/// Encodes a query with RD set and no EDNS, as dnsperf sends by default.
fn packet(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut packet = Vec::with_capacity(12 + name.len() + 6);
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        packet.push(label.len() as u8);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&1u16.to_be_bytes());
    packet
}
