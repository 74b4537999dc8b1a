//! Reading ahead for a batch of requests before answering them.
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

/// The most requests read ahead at once; later ones are answered without it.
const READ_AHEAD: usize = 64;

/// An address to look up and the table that holds it.
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
    /// Worth calling for batches of several requests; for one it only adds work.
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

    /// The address lookup that answering `packet` makes, if it makes one.
    fn target(&self, packet: &[u8]) -> Option<Target<'_>> {
        let query = request::parse(packet)?;
        let (_, zone) = self.find_zone(packet, &query)?;
        if zone.spec.kind != ZoneKind::Address {
            return None;
        }
        let below = query.label_count - zone.label_count();
        let labels = (0..below).map(|label| query.label(packet, label));
        Some(match address::full_address(labels)? {
            IpAddr::V4(addr) => Target::V4(&zone.v4, u32::from(addr)),
            IpAddr::V6(addr) => Target::V6(&zone.v6, u128::from(addr)),
        })
    }
}
