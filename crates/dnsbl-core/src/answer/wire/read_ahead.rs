//! Reading ahead for a batch of requests before responding to them.
//!
//! A lookup of a full address name makes three reads that depend on each other: the
//! bucket entry, the segment, and the category code of its listing. With the full routing
//! table these are cache misses for most queries, and one query's misses cannot start
//! before the one before it has finished. [`WireAnswerer::read_ahead`] makes each of the
//! three reads for every request of the batch in its own short loop, so that the
//! processor keeps many misses in flight at once; the answers that follow then find the
//! lines in the cache. It changes no answer: it only reads.

use std::hint::black_box;
use std::net::IpAddr;

use super::{WireAnswerer, request};
use crate::answer::address;
use crate::model::ZoneKind;
use crate::snapshot::RangeTable;

/// Maximum number of requests read ahead at once. Later requests of a batch get no
/// read-ahead.
const READ_AHEAD: usize = 64;

/// An address to look up and the table that contains it.
#[derive(Clone, Copy)]
enum Target<'s> {
    V4(&'s RangeTable<u32>, u32),
    V6(&'s RangeTable<u128>, u128),
}

impl Target<'_> {
    fn bucket_start(self) -> Option<usize> {
        match self {
            Target::V4(table, addr) => table.bucket_start(addr),
            Target::V6(table, addr) => table.bucket_start(addr),
        }
    }

    fn segment_group(self, position: usize) -> u32 {
        match self {
            Target::V4(table, _) => table.segment_group(position),
            Target::V6(table, _) => table.segment_group(position),
        }
    }

    fn first_listing(self) -> Option<usize> {
        let listings = match self {
            Target::V4(table, addr) => table.lookup(addr),
            Target::V6(table, addr) => table.lookup(addr),
        };
        listings.and_then(|ids| ids.first()).map(|&id| id as usize)
    }
}

impl WireAnswerer {
    /// Reads the table data that answering `requests` will read, for the first
    /// [`READ_AHEAD`] of them whose question is a full address name in an address zone.
    /// Worth calling for batches of several requests, because for one it only adds work.
    pub fn read_ahead<'p>(&self, requests: impl IntoIterator<Item = &'p [u8]>) {
        let mut targets = [None; READ_AHEAD];
        let mut count = 0;
        for packet in requests.into_iter().take(READ_AHEAD) {
            targets[count] = self.target(packet);
            count += 1;
        }
        let targets = &targets[..count];
        // Each loop is short, so the loads of many requests are issued before the first
        // one returns. Folding the values into one sum keeps every load.
        let mut starts = [None; READ_AHEAD];
        for (start, target) in starts.iter_mut().zip(targets) {
            *start = target.and_then(Target::bucket_start);
        }
        let groups = starts
            .iter()
            .zip(targets)
            .filter_map(|(start, target)| Some(target.as_ref()?.segment_group((*start)?)))
            .fold(0u32, |sum, group| sum ^ group);
        let codes = targets
            .iter()
            .filter_map(|target| target.as_ref()?.first_listing())
            .fold(0u32, |sum, id| sum ^ u32::from(self.codes[id]));
        black_box(groups ^ codes);
    }

    /// Returns the address lookup that the response to `packet` needs, if any.
    fn target(&self, packet: &[u8]) -> Option<Target<'_>> {
        let query = request::parse(packet)?;
        let (_, zone) = self.find_zone(packet, &query)?;
        if zone.spec.kind != ZoneKind::Address {
            return None;
        }
        let below = query.label_count - zone.label_count();
        let labels = query.labels(packet, below);
        Some(match address::full_address(labels)? {
            IpAddr::V4(addr) => Target::V4(&zone.v4, u32::from(addr)),
            IpAddr::V6(addr) => Target::V6(&zone.v6, u128::from(addr)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::str::FromStr;
    use std::sync::Arc;

    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RecordType};

    use super::*;
    use crate::answer::WireScratch;
    use crate::answer::tests::snapshot;

    fn packet(name: &str) -> Vec<u8> {
        let mut message = Message::query();
        message.add_query(Query::query(Name::from_str(name).unwrap(), RecordType::A));
        message.to_vec().unwrap()
    }

    /// IPv6 query name of `address` below `apex`.
    fn nibble_name(address: Ipv6Addr, apex: &str) -> String {
        let hex = format!("{:032x}", u128::from(address));
        let mut labels: Vec<String> = hex.chars().rev().map(String::from).collect();
        labels.push(apex.into());
        labels.join(".")
    }

    /// Checks the lookup read ahead for each question: the zone whose table it reads and
    /// the address, or none.
    #[test]
    fn target_matches_answer_lookup() {
        let answerer = WireAnswerer::new(Arc::new(snapshot()));
        let zone = |apex: &str| {
            let zones = &answerer.snapshot().zones;
            zones.iter().find(|zone| zone.spec.name == apex).unwrap()
        };
        let v4 = |apex: &str, address: [u8; 4]| {
            Some(Target::V4(
                &zone(apex).v4,
                u32::from(Ipv4Addr::from(address)),
            ))
        };
        let v6 = Ipv6Addr::from_str("2001:db8::7").unwrap();
        let mapped = Ipv6Addr::from_str("::ffff:203.0.113.9").unwrap();
        let cases = [
            (
                "2.2.0.192.bl.example.".to_string(),
                v4("bl.example", [192, 0, 2, 2]),
            ),
            (
                "2.2.0.192.BL.Example.".into(),
                v4("bl.example", [192, 0, 2, 2]),
            ),
            (
                "002.2.0.192.bl.example.".into(),
                v4("bl.example", [192, 0, 2, 2]),
            ),
            // The zone with the longest apex that ends the name.
            (
                "9.2.0.192.spam.bl.example.".into(),
                v4("spam.bl.example", [192, 0, 2, 9]),
            ),
            // Unlisted addresses are read ahead too: their answer looks them up.
            (
                "1.1.1.10.bl.example.".into(),
                v4("bl.example", [10, 1, 1, 1]),
            ),
            (
                nibble_name(v6, "bl.example"),
                Some(Target::V6(&zone("bl.example").v6, u128::from(v6))),
            ),
            (
                nibble_name(mapped, "bl.example"),
                v4("bl.example", [203, 0, 113, 9]),
            ),
            ("2.0.192.bl.example.".into(), None),
            ("256.2.0.192.bl.example.".into(), None),
            ("x.2.2.0.192.bl.example.".into(), None),
            ("bl.example.".into(), None),
            ("example.com.dbl.example.".into(), None),
            ("2.2.0.192.other.example.".into(), None),
        ];
        for (name, expected) in cases {
            let found = answerer.target(&packet(&name));
            let same = match (found, expected) {
                (Some(Target::V4(table, addr)), Some(Target::V4(other, expected))) => {
                    std::ptr::eq(table, other) && addr == expected
                }
                (Some(Target::V6(table, addr)), Some(Target::V6(other, expected))) => {
                    std::ptr::eq(table, other) && addr == expected
                }
                (None, None) => true,
                _ => false,
            };
            let show = |target: Option<Target<'_>>| match target {
                Some(Target::V4(table, addr)) => format!("{table:p} {}", Ipv4Addr::from(addr)),
                Some(Target::V6(table, addr)) => format!("{table:p} {}", Ipv6Addr::from(addr)),
                None => "none".into(),
            };
            assert!(
                same,
                "{name}: {} instead of {}",
                show(found),
                show(expected)
            );
        }
    }

    /// Checks that datagrams that are not plain queries, and batches longer than the
    /// read-ahead, cause no panic and leave the response unchanged.
    #[test]
    fn read_ahead_accepts_any_batch() {
        let answerer = WireAnswerer::new(Arc::new(snapshot()));
        let listed = packet("2.2.0.192.bl.example.");
        let mut batch: Vec<Vec<u8>> = vec![Vec::new(), vec![0; 11], listed[..20].to_vec()];
        batch.extend(std::iter::repeat_n(listed.clone(), READ_AHEAD + 5));
        let mut scratch = WireScratch::default();
        let mut before = Vec::new();
        answerer.answer(&listed, &mut scratch, &mut before);
        answerer.read_ahead(batch.iter().map(Vec::as_slice));
        let mut after = Vec::new();
        answerer.answer(&listed, &mut scratch, &mut after);
        assert_eq!(after, before);
    }
}
