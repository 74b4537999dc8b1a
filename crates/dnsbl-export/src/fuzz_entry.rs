//! Entry point for the `export` fuzz target in `fuzz/` and for the test that replays its
//! corpus without a fuzzer. Not part of the supported API.
//!
//! The input is read as a small program that builds a snapshot. A header byte picks the
//! zone styles and categories. Then each operation byte (see the `match` in
//! [`export_round_trip`]) adds an IPv4 or IPv6 range, a
//! domain, or an allow-list exclusion, taking its operands from the following bytes.

use dnsbl_core::{
    AddrRange, AnswerStyle, Category, Listing, ListingSource, SnapshotBuilder, SoaSpec, ZoneKind,
    ZoneSpec,
};
use hickory_proto::rr::Name;
use hickory_proto::serialize::txt::Parser;

use crate::export_files;

/// Operations read from one input, so that an input cannot make the export arbitrarily large.
const MAX_OPERATIONS: usize = 64;

/// Builds a snapshot from `data`, writes every export file and parses each master file
/// back. Returns the number of files written, or `None` when the snapshot is invalid.
///
/// # Panics
/// Panics when a master file does not parse or contains another number of records than
/// the export reported.
pub fn export_round_trip(data: &[u8]) -> Option<usize> {
    let mut input = Input(data);
    let header = input.byte();
    let category_count = 1 + usize::from(header % 3);
    let categories: Vec<Category> = (0..category_count)
        .map(|index| Category {
            name: format!("c{index}"),
            // Single bits, so that the zone of style multi accepts every code.
            code: [127, 0, 0, 2 << index].into(),
            txt: input.text(),
        })
        .collect();
    let address_style = if header & 0x10 != 0 {
        AnswerStyle::Multi
    } else {
        AnswerStyle::Zen
    };
    let zones = vec![
        zone("bl.example", ZoneKind::Address, address_style, vec![]),
        zone("xbl.example", ZoneKind::Address, AnswerStyle::Zen, vec![]),
        zone("dbl.example", ZoneKind::Domain, AnswerStyle::Zen, vec![]),
        zone(
            "zen.example",
            ZoneKind::Address,
            AnswerStyle::Zen,
            vec!["bl.example".into(), "xbl.example".into()],
        ),
    ];
    let mut builder = SnapshotBuilder::new(u32::from(header), zones, categories);
    for _ in 0..MAX_OPERATIONS {
        if input.0.is_empty() {
            break;
        }
        let operation = input.byte();
        // Bits 0-2 choose the operation, bits 4-5 the category, bit 7 the zone of an
        // exclusion.
        let category = usize::from((operation >> 4) & 0x03) % category_count;
        match operation & 0x07 {
            0 => {
                let range = input.ipv4_range()?;
                let id = builder.add_listing(listing(category, ListingSource::Netblock(range)));
                builder.add_range(range, id);
            }
            1 => {
                let range = input.ipv6_range()?;
                let id = builder.add_listing(listing(category, ListingSource::Asn(64500)));
                builder.add_range(range, id);
            }
            2 => {
                let domain = input.domain();
                let source = ListingSource::Domain(domain.clone());
                let id = builder.add_listing(listing(category, source));
                builder.add_domain(&domain, id);
            }
            3 => {
                let range = input.ipv4_range()?;
                let zone = (operation & 0x80 != 0).then_some("bl.example");
                builder.exclude_range(range, zone);
            }
            4 => {
                let domain = input.domain();
                builder.exclude_domain(&domain, None);
            }
            _ => {
                let range = input.ipv4_range()?;
                let id = builder.add_listing(listing(category, ListingSource::Asn(64501)));
                builder.add_range(range, id);
            }
        }
    }
    let snapshot = builder.build().ok()?;
    let files = export_files(&snapshot).ok()?;
    for file in &files {
        if file.format != "master" {
            continue;
        }
        let origin = Name::from_ascii(format!("{}.", file.zone)).expect("valid zone name");
        let (_, sets) = Parser::new(file.contents.as_str(), None, Some(origin))
            .parse()
            .unwrap_or_else(|error| panic!("{} does not parse: {error}", file.name));
        let parsed: usize = sets
            .values()
            .map(|set| set.records_without_rrsigs().count())
            .sum();
        assert_eq!(parsed, file.records, "records of {}", file.name);
    }
    Some(files.len())
}

fn zone(name: &str, kind: ZoneKind, style: AnswerStyle, includes: Vec<String>) -> ZoneSpec {
    ZoneSpec {
        name: name.into(),
        kind,
        ttl: 2100,
        soa: SoaSpec {
            mname: format!("ns1.{name}"),
            rname: format!("hostmaster.{name}"),
            refresh: 7200,
            retry: 900,
            expire: 1_209_600,
            minimum: 300,
            ttl: 3600,
        },
        ns: vec![format!("ns1.{name}")],
        ns_ttl: 86400,
        categories: None,
        style,
        lookup_url: Some("https://example.net/{query}".into()),
        includes,
        acl: Default::default(),
    }
}

fn listing(category: usize, source: ListingSource) -> Listing {
    Listing {
        provider: "Example \"quoted\" \\ provider".into(),
        operator: None,
        category,
        source,
        listed_since: None,
    }
}

/// The unread rest of the fuzz input; reads past its end return zeros.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&byte, rest)) => {
                self.0 = rest;
                byte
            }
            None => 0,
        }
    }

    /// Reads a length byte (at most 63) and that many bytes as lossy UTF-8.
    fn text(&mut self) -> String {
        let len = usize::from(self.byte() % 64).min(self.0.len());
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8_lossy(text).into_owned()
    }

    /// Reads four address bytes and a prefix length as a CIDR prefix of /8 to /32. A wider
    /// prefix would exceed the default range limit that ingest enforces, and its
    /// thousands of records make each run take seconds.
    fn ipv4_range(&mut self) -> Option<AddrRange> {
        let octets = [self.byte(), self.byte(), self.byte(), self.byte()];
        let len = 8 + self.byte() % 25;
        let address = std::net::Ipv4Addr::from(octets);
        let network = ipnet_v4(address, len);
        format!("{network}/{len}").parse().ok()
    }

    /// Reads sixteen address bytes and a prefix length as a CIDR prefix of /16 to /128, for
    /// the reason given at [`Self::ipv4_range`].
    fn ipv6_range(&mut self) -> Option<AddrRange> {
        let mut octets = [0u8; 16];
        for octet in &mut octets {
            *octet = self.byte();
        }
        let len = 16 + self.byte() % 113;
        let bits = u128::from_be_bytes(octets);
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        let network = std::net::Ipv6Addr::from(bits & mask);
        format!("{network}/{len}").parse().ok()
    }

    /// Reads one to three labels of letters, digits and hyphens, below `example`.
    fn domain(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
        let count = 1 + usize::from(self.byte() % 3);
        let mut labels: Vec<String> = (0..count)
            .map(|_| {
                let len = 1 + usize::from(self.byte() % 4);
                (0..len)
                    .map(|_| char::from(ALPHABET[usize::from(self.byte()) % ALPHABET.len()]))
                    .collect()
            })
            .collect();
        labels.push("example".into());
        labels.join(".")
    }
}

fn ipnet_v4(address: std::net::Ipv4Addr, len: u8) -> std::net::Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    std::net::Ipv4Addr::from(u32::from(address) & mask)
}
