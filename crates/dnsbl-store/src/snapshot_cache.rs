//! The binary form of the snapshot inputs kept in the `snapshot_cache` table.
//!
//! One BLOB replaces the 500,000 rows of `listed_ranges` (plus the providers) that a load
//! from the tables reads one by one: decoding it is a linear walk over fixed-size records
//! and length-prefixed strings. Every number is little-endian. A string is a `u32` byte
//! length and the UTF-8 bytes. An optional string is a `u8` flag (0 absent, 1 present)
//! and then the string. The sections, in order, each start with a `u32` count:
//!
//! 1. categories: name, code (`u32` of the address), TXT template;
//! 2. listings: provider, optional operator, category index (`u32`), optional
//!    `listed_since`, then the source as a `u8` tag (0 ASN with a `u32`, 1 netblock with
//!    the range, 2 domain with a string);
//! 3. ranges: a range and the `u32` index of its listing in section 2, the IPv4 ranges
//!    and then the IPv6 ranges, each sorted by start address. The snapshot build sorts
//!    them again, which costs little on sorted input, so an unsorted BLOB loads as well;
//! 4. domains: a string and a listing index;
//! 5. allow-list ranges: a range and an optional zone;
//! 6. allow-list domains: a string and an optional zone.
//!
//! A range is a `u8` family (4 or 6) and then start and end as `u32` or `u128`.
//!
//! The SHA-256 digest of the sections comes first (32 bytes), so that damage inside the
//! BLOB, which `PRAGMA quick_check` does not look at, is found before anything is served
//! from it.
//!
//! Bump [`FORMAT`] whenever the layout changes: a cache of another format is ignored and
//! rebuilt from the tables.

use std::net::Ipv4Addr;

use dnsbl_core::{AddrRange, Category, Listing, ListingId, ListingSource, SnapshotBuilder};

use sha2::{Digest, Sha256};

use crate::StoreError;

/// Version of the layout above.
pub(crate) const FORMAT: i64 = 2;
/// Length of the SHA-256 digest at the start of the BLOB.
const DIGEST_LEN: usize = 32;

/// Writes the sections of a cache BLOB. Each section is a buffer of its own, because the
/// loaders produce them interleaved.
#[derive(Default)]
pub(crate) struct CacheEncoder {
    sections: [Section; 6],
    /// The ranges section as `(start, end, listing)`, sorted and written by
    /// [`finish`](Self::finish).
    v4_ranges: Vec<(u32, u32, u32)>,
    v6_ranges: Vec<(u128, u128, u32)>,
}

#[derive(Default)]
struct Section {
    count: u32,
    bytes: Vec<u8>,
}

const CATEGORIES: usize = 0;
const LISTINGS: usize = 1;
const RANGES: usize = 2;
const DOMAINS: usize = 3;
const ALLOW_RANGES: usize = 4;
const ALLOW_DOMAINS: usize = 5;

impl Section {
    fn start_record(&mut self) -> &mut Vec<u8> {
        self.count += 1;
        &mut self.bytes
    }
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u32(out, text.len() as u32);
    out.extend_from_slice(text.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => {
            out.push(1);
            put_str(out, text);
        }
        None => out.push(0),
    }
}

fn put_range(out: &mut Vec<u8>, range: &AddrRange) {
    match *range {
        AddrRange::V4 { start, end } => {
            out.push(4);
            put_u32(out, start);
            put_u32(out, end);
        }
        AddrRange::V6 { start, end } => {
            out.push(6);
            out.extend_from_slice(&start.to_le_bytes());
            out.extend_from_slice(&end.to_le_bytes());
        }
    }
}

impl CacheEncoder {
    pub(crate) fn category(&mut self, category: &Category) {
        let out = self.sections[CATEGORIES].start_record();
        put_str(out, &category.name);
        put_u32(out, u32::from(category.code));
        put_str(out, &category.txt);
    }

    /// Adds a listing and returns its index for [`range`](Self::range) and
    /// [`domain`](Self::domain).
    pub(crate) fn listing(
        &mut self,
        provider: &str,
        operator: Option<&str>,
        category: u32,
        listed_since: Option<&str>,
        source: &ListingSource,
    ) -> u32 {
        let section = &mut self.sections[LISTINGS];
        let index = section.count;
        let out = section.start_record();
        put_str(out, provider);
        put_opt_str(out, operator);
        put_u32(out, category);
        put_opt_str(out, listed_since);
        match source {
            ListingSource::Asn(asn) => {
                out.push(0);
                put_u32(out, *asn);
            }
            ListingSource::Netblock(range) => {
                out.push(1);
                put_range(out, range);
            }
            ListingSource::Domain(domain) => {
                out.push(2);
                put_str(out, domain);
            }
            // Added by every SnapshotBuilder itself, so never stored.
            ListingSource::TestEntry => unreachable!("the RFC 5782 test entry is never cached"),
        }
        index
    }

    pub(crate) fn range(&mut self, range: &AddrRange, listing: u32) {
        match *range {
            AddrRange::V4 { start, end } => self.v4_ranges.push((start, end, listing)),
            AddrRange::V6 { start, end } => self.v6_ranges.push((start, end, listing)),
        }
    }

    pub(crate) fn domain(&mut self, domain: &str, listing: u32) {
        let out = self.sections[DOMAINS].start_record();
        put_str(out, domain);
        put_u32(out, listing);
    }

    pub(crate) fn allow_range(&mut self, range: &AddrRange, zone: Option<&str>) {
        let out = self.sections[ALLOW_RANGES].start_record();
        put_range(out, range);
        put_opt_str(out, zone);
    }

    pub(crate) fn allow_domain(&mut self, domain: &str, zone: Option<&str>) {
        let out = self.sections[ALLOW_DOMAINS].start_record();
        put_str(out, domain);
        put_opt_str(out, zone);
    }

    /// Returns the BLOB: the sections in order, each after its count.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.v4_ranges.sort_unstable();
        self.v6_ranges.sort_unstable();
        let ranges = &mut self.sections[RANGES];
        for (start, end, listing) in self.v4_ranges.drain(..) {
            put_range(ranges.start_record(), &AddrRange::V4 { start, end });
            put_u32(&mut ranges.bytes, listing);
        }
        for (start, end, listing) in self.v6_ranges.drain(..) {
            put_range(ranges.start_record(), &AddrRange::V6 { start, end });
            put_u32(&mut ranges.bytes, listing);
        }
        let total = DIGEST_LEN
            + self
                .sections
                .iter()
                .map(|s| 4 + s.bytes.len())
                .sum::<usize>();
        let mut blob = Vec::with_capacity(total);
        blob.resize(DIGEST_LEN, 0);
        for section in self.sections {
            put_u32(&mut blob, section.count);
            blob.extend_from_slice(&section.bytes);
        }
        let digest = Sha256::digest(&blob[DIGEST_LEN..]);
        blob[..DIGEST_LEN].copy_from_slice(&digest);
        blob
    }
}

/// Reads a cache BLOB front to back. Every read checks the length left, so a truncated or
/// damaged BLOB is an error, never a panic.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], StoreError> {
        if self.bytes.len() < count {
            return Err(invalid("ends early"));
        }
        let (head, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(head)
    }

    /// Reads a section's record count, which must fit in the bytes left when each record
    /// takes at least `min_record` bytes, so that a damaged count never reserves memory
    /// for records the BLOB cannot hold.
    fn count(&mut self, min_record: usize) -> Result<usize, StoreError> {
        let count = self.u32()? as usize;
        if count.saturating_mul(min_record) > self.bytes.len() {
            return Err(invalid(&format!(
                "holds a count of {count} records, more than its {} bytes left can hold",
                self.bytes.len()
            )));
        }
        Ok(count)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        let bytes = self.take(4)?.try_into().expect("4 bytes taken");
        Ok(u32::from_le_bytes(bytes))
    }

    fn u128(&mut self) -> Result<u128, StoreError> {
        let bytes = self.take(16)?.try_into().expect("16 bytes taken");
        Ok(u128::from_le_bytes(bytes))
    }

    fn str(&mut self) -> Result<&'a str, StoreError> {
        let length = self.u32()? as usize;
        std::str::from_utf8(self.take(length)?).map_err(|_| invalid("holds invalid UTF-8"))
    }

    fn opt_str(&mut self) -> Result<Option<&'a str>, StoreError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.str()?)),
            other => Err(invalid(&format!("holds option flag {other}"))),
        }
    }

    fn range(&mut self) -> Result<AddrRange, StoreError> {
        let range = match self.u8()? {
            4 => AddrRange::V4 {
                start: self.u32()?,
                end: self.u32()?,
            },
            6 => AddrRange::V6 {
                start: self.u128()?,
                end: self.u128()?,
            },
            other => return Err(invalid(&format!("holds address family {other}"))),
        };
        if range.start() > range.end() {
            return Err(invalid(&format!(
                "holds a range that starts after its end ({range})"
            )));
        }
        Ok(range)
    }
}

fn invalid(problem: &str) -> StoreError {
    StoreError::InvalidData(format!(
        "snapshot_cache {problem}; delete the row (DELETE FROM snapshot_cache) to rebuild it"
    ))
}

/// Decodes `blob` into a new [`SnapshotBuilder`] for `zones` at `serial`.
pub(crate) fn decode(
    blob: &[u8],
    serial: u32,
    zones: &[dnsbl_core::ZoneSpec],
) -> Result<SnapshotBuilder, StoreError> {
    if blob.len() < DIGEST_LEN {
        return Err(invalid("is shorter than its SHA-256 digest"));
    }
    let (digest, sections) = blob.split_at(DIGEST_LEN);
    if Sha256::digest(sections)[..] != *digest {
        return Err(invalid("does not match its SHA-256 digest"));
    }
    let mut reader = Reader { bytes: sections };

    // The smallest record of each section: counts and lengths are 4 bytes, a flag or
    // family 1 byte, an IPv4 range 9 bytes.
    let count = reader.count(12)?;
    let mut categories = Vec::with_capacity(count);
    for _ in 0..count {
        categories.push(Category {
            name: reader.str()?.to_string(),
            code: Ipv4Addr::from(reader.u32()?),
            txt: reader.str()?.to_string(),
        });
    }
    let category_count = categories.len();
    let mut builder = SnapshotBuilder::new(serial, zones.to_vec(), categories);

    let count = reader.count(12)?;
    builder.reserve_listings(count);
    let mut ids: Vec<ListingId> = Vec::with_capacity(count);
    for _ in 0..count {
        let provider = reader.str()?.to_string();
        let operator = reader.opt_str()?.map(str::to_string);
        let category = reader.u32()? as usize;
        if category >= category_count {
            return Err(invalid(&format!("names category index {category}")));
        }
        let listed_since = reader.opt_str()?.map(str::to_string);
        let source = match reader.u8()? {
            0 => ListingSource::Asn(reader.u32()?),
            1 => ListingSource::Netblock(reader.range()?),
            2 => ListingSource::Domain(reader.str()?.to_string()),
            other => return Err(invalid(&format!("holds listing source tag {other}"))),
        };
        ids.push(builder.add_listing(Listing {
            provider,
            operator,
            category,
            source,
            listed_since,
        }));
    }
    let listing = |index: u32| {
        ids.get(index as usize)
            .copied()
            .ok_or_else(|| invalid(&format!("names listing index {index}")))
    };

    let count = reader.count(13)?;
    for _ in 0..count {
        let range = reader.range()?;
        builder.add_range(range, listing(reader.u32()?)?);
    }
    let count = reader.count(8)?;
    for _ in 0..count {
        let domain = reader.str()?;
        builder.add_domain(domain, listing(reader.u32()?)?);
    }
    let count = reader.count(10)?;
    for _ in 0..count {
        let range = reader.range()?;
        builder.exclude_range(range, reader.opt_str()?);
    }
    let count = reader.count(5)?;
    for _ in 0..count {
        let domain = reader.str()?;
        builder.exclude_domain(domain, reader.opt_str()?);
    }
    if !reader.bytes.is_empty() {
        return Err(invalid(&format!(
            "has {} bytes after its last section",
            reader.bytes.len()
        )));
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsbl_core::{AnswerStyle, SoaSpec, ZoneKind, ZoneSpec};

    fn zone(name: &str, kind: ZoneKind) -> ZoneSpec {
        ZoneSpec {
            name: name.to_string(),
            kind,
            ttl: 60,
            soa: SoaSpec {
                mname: "ns.example".to_string(),
                rname: "hostmaster.example".to_string(),
                refresh: 1,
                retry: 1,
                expire: 1,
                minimum: 1,
                ttl: 1,
            },
            ns: vec!["ns.example".to_string()],
            ns_ttl: 60,
            categories: None,
            style: AnswerStyle::Zen,
            lookup_url: None,
            includes: Vec::new(),
            acl: Default::default(),
        }
    }

    fn range(text: &str) -> AddrRange {
        text.parse().unwrap()
    }

    /// Encodes a BLOB with one record in every section.
    fn sample() -> Vec<u8> {
        let mut cache = CacheEncoder::default();
        cache.category(&Category {
            name: "bad".to_string(),
            code: [127, 0, 0, 3].into(),
            txt: "{provider}".to_string(),
        });
        let asn = cache.listing(
            "P",
            Some("Op"),
            0,
            Some("2026-01-01"),
            &ListingSource::Asn(64500),
        );
        let netblock = range("2001:db8::/32");
        let block = cache.listing("Q", None, 0, None, &ListingSource::Netblock(netblock));
        let domain = ListingSource::Domain("spam.example".to_string());
        let named = cache.listing("R", None, 0, None, &domain);
        cache.range(&range("192.0.2.0/24"), asn);
        cache.range(&netblock, block);
        cache.domain("spam.example", named);
        cache.allow_range(&range("192.0.2.128/25"), None);
        cache.allow_domain("ok.spam.example", Some("dbl.example"));
        cache.finish()
    }

    #[test]
    fn blob_round_trip() {
        let zones = [
            zone("bl.example", ZoneKind::Address),
            zone("dbl.example", ZoneKind::Domain),
        ];
        let snapshot = decode(&sample(), 7, &zones).unwrap().build().unwrap();
        assert_eq!(snapshot.serial, 7);
        assert_eq!(snapshot.categories[0].code, Ipv4Addr::new(127, 0, 0, 3));
        // Listing 0 is the RFC 5782 test entry of every snapshot.
        let asn = snapshot.listings.listing(1).to_listing();
        assert_eq!(asn.provider, "P");
        assert_eq!(asn.operator.as_deref(), Some("Op"));
        assert_eq!(asn.listed_since.as_deref(), Some("2026-01-01"));
        assert_eq!(asn.source, ListingSource::Asn(64500));
        assert_eq!(
            snapshot.listings.listing(2).source.to_source(),
            ListingSource::Netblock(range("2001:db8::/32"))
        );
        let bl = snapshot
            .zones
            .iter()
            .find(|z| z.spec.name == "bl.example")
            .unwrap();
        assert_eq!(bl.v4.lookup(0xc000_0201), Some(&[1][..]));
        assert_eq!(bl.v4.lookup(0xc000_0281), None, "allow-list range cut out");
        assert_eq!(bl.v6.lookup(0x2001_0db8 << 96), Some(&[2][..]));
        let dbl = snapshot
            .zones
            .iter()
            .find(|z| z.spec.name == "dbl.example")
            .unwrap();
        assert_eq!(dbl.domains["spam.example"][..], [3]);
        assert!(dbl.excluded_domains.contains("ok.spam.example"));
    }

    #[test]
    fn ranges_written_sorted() {
        let mut cache = CacheEncoder::default();
        let added = [
            (range("2001:db8::/32"), 0),
            (range("192.0.2.0/24"), 1),
            (range("10.0.0.0/8"), 2),
            (range("::ffff:0:0/96"), 3),
            (range("10.0.0.0/16"), 4),
        ];
        for (range, listing) in &added {
            cache.range(range, *listing);
        }

        let blob = cache.finish();
        let mut reader = Reader {
            bytes: &blob[DIGEST_LEN..],
        };
        assert_eq!(reader.u32().unwrap(), 0, "categories");
        assert_eq!(reader.u32().unwrap(), 0, "listings");
        assert_eq!(reader.u32().unwrap(), 5, "ranges");

        let mut read = Vec::new();
        for _ in 0..5 {
            read.push((reader.range().unwrap(), reader.u32().unwrap()));
        }
        let expected = [
            (range("10.0.0.0/16"), 4),
            (range("10.0.0.0/8"), 2),
            (range("192.0.2.0/24"), 1),
            (range("::ffff:0:0/96"), 3),
            (range("2001:db8::/32"), 0),
        ];
        assert_eq!(read, expected);
    }

    /// A count that the bytes left cannot hold is an error before anything is reserved,
    /// also when the digest matches (a BLOB written by a faulty encoder).
    #[test]
    fn huge_count_is_an_error() {
        let mut sections = Vec::new();
        put_u32(&mut sections, u32::MAX);
        let mut blob = Sha256::digest(&sections).to_vec();
        blob.extend_from_slice(&sections);
        let zones = [zone("bl.example", ZoneKind::Address)];
        let error = decode(&blob, 1, &zones).err();
        assert!(
            matches!(&error, Some(StoreError::InvalidData(message)) if message.contains("holds a count of 4294967295")),
            "{error:?}"
        );
    }

    /// One changed byte inside a section fails the digest.
    #[test]
    fn changed_byte_fails_digest() {
        let mut blob = sample();
        let middle = DIGEST_LEN + (blob.len() - DIGEST_LEN) / 2;
        blob[middle] ^= 0x5a;
        let zones = [zone("bl.example", ZoneKind::Address)];
        let error = decode(&blob, 1, &zones).err();
        assert!(
            matches!(&error, Some(StoreError::InvalidData(message)) if message.contains("SHA-256")),
            "{error:?}"
        );
    }

    #[test]
    fn damaged_blob_is_an_error() {
        let blob = sample();
        let zones = [zone("bl.example", ZoneKind::Address)];
        for length in 0..blob.len() {
            let error = decode(&blob[..length], 1, &zones).err();
            assert!(
                matches!(&error, Some(StoreError::InvalidData(message)) if message.contains("snapshot_cache")),
                "cut at {length}: {error:?}"
            );
        }
        let mut longer = blob.clone();
        longer.push(0);
        assert!(decode(&longer, 1, &zones).is_err(), "trailing byte");
        let mut bad_index = CacheEncoder::default();
        bad_index.range(&range("192.0.2.0/24"), 99);
        let bad_index = bad_index.finish();
        assert!(decode(&bad_index, 1, &zones).is_err(), "listing index 99");
    }
}
