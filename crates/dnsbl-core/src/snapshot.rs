//! The immutable lookup snapshot that the query path reads.
//!
//! A snapshot is built once from the store and then only read, so lookups take no lock.
//! Address listings are cut into disjoint segments, each carrying the set of listings that
//! cover it; a lookup reads one bucket of an index over the span of the listed addresses
//! and binary-searches the few segments in it. A segment of one listing contains the listing
//! itself, and larger listing sets are interned, so the millions of addresses of one provider
//! share one small slice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use crate::answer::{ZoneNameError, ZoneRecords};
use crate::listings::{ListingTable, ListingTableError};
use crate::model::{AnswerStyle, Category, CodeError, Listing, ListingSource, ZoneKind, ZoneSpec};
use crate::net::{AddrRange, MAPPED_END, MAPPED_START};

/// Index of a listing in [`Snapshot::listings`].
pub type ListingId = u32;

/// An unsigned address type: `u32` for IPv4, `u128` for IPv6.
pub trait AddrKey: Copy + Ord + Default + std::hash::Hash + std::fmt::Debug {
    const MAX: Self;
    /// The form a [`Segment`] stores: the value itself for `u32`, and four `u32` words for
    /// `u128`, so that an IPv6 segment needs no padding to a 16-byte boundary.
    type Packed: Copy + Default + std::fmt::Debug;
    fn pack(self) -> Self::Packed;
    fn unpack(packed: Self::Packed) -> Self;
    fn next(self) -> Option<Self>;
    /// The value just below; only called on values above zero.
    fn prev(self) -> Self;
    /// Returns the number of significant bits of `self - base`. Requires `self >= base`.
    fn bits_above(self, base: Self) -> u32;
    /// Returns `(self - base) >> shift`, at most `BUCKETS - 1`. Requires `self >= base`.
    fn bucket(self, base: Self, shift: u32) -> usize;
}

impl AddrKey for u32 {
    const MAX: Self = u32::MAX;
    type Packed = u32;
    fn pack(self) -> u32 {
        self
    }
    fn unpack(packed: u32) -> Self {
        packed
    }
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn prev(self) -> Self {
        self - 1
    }
    fn bits_above(self, base: Self) -> u32 {
        u32::BITS - (self - base).leading_zeros()
    }
    fn bucket(self, base: Self, shift: u32) -> usize {
        ((self - base) >> shift).min(BUCKETS as u32 - 1) as usize
    }
}

impl AddrKey for u128 {
    const MAX: Self = u128::MAX;
    type Packed = [u32; 4];
    fn pack(self) -> [u32; 4] {
        [
            (self >> 96) as u32,
            (self >> 64) as u32,
            (self >> 32) as u32,
            self as u32,
        ]
    }
    fn unpack(packed: [u32; 4]) -> Self {
        packed
            .iter()
            .fold(0, |value, &word| (value << 32) | u128::from(word))
    }
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn prev(self) -> Self {
        self - 1
    }
    fn bits_above(self, base: Self) -> u32 {
        u128::BITS - (self - base).leading_zeros()
    }
    fn bucket(self, base: Self, shift: u32) -> usize {
        ((self - base) >> shift).min(BUCKETS as u128 - 1) as usize
    }
}

/// Marks an allow-list range in the sweep; never a real listing id.
const EXCLUDED: ListingId = ListingId::MAX;
/// The bit set in a [`Segment::group`] that indexes [`RangeTable::set_bounds`]. It is
/// clear in a group that is itself the only listing of its segment, so listing ids stay
/// below it.
const SHARED_SET: u32 = 1 << 31;

/// Buckets of the search index of a table: 2^16 + 1 `u32` values (256 KiB) per non-empty
/// table.
pub const BUCKET_BITS: u32 = 16;
const BUCKETS: usize = 1 << BUCKET_BITS;

/// Addresses `start..=end` and who lists them, stored together so that a lookup reads
/// one place: 12 bytes for IPv4, 36 for IPv6.
#[derive(Clone, Copy, Debug, Default)]
struct Segment<P> {
    start: P,
    end: P,
    /// The segment's listing when it has only one (most segments), so a lookup reads no
    /// further memory. Otherwise [`SHARED_SET`] with the index of its set.
    group: u32,
}

/// Disjoint, sorted address segments, each with the set of listings that cover it.
#[derive(Clone, Debug, Default)]
pub struct RangeTable<T: AddrKey> {
    /// The search index. The addresses from `base` (the first start) to the last start
    /// are cut into [`BUCKETS`] equal spans of `2^shift` addresses. Entry `b` is the index
    /// of the first segment whose start lies in span `b` or above, and one more entry
    /// marks the end. A lookup then searches only the segments of its own span: about 6
    /// on average for the full IPv4 routing table (412,000 segments). Because the spans
    /// follow the data, an IPv6 table of routes in 2000::/3 gets buckets 16 times
    /// narrower than a /16. Empty for an empty table.
    buckets: Vec<u32>,
    base: T,
    shift: u32,
    segments: Vec<Segment<T::Packed>>,
    /// For set `i`, `sets[set_bounds[i]..set_bounds[i + 1]]` are its listings.
    set_bounds: Vec<u32>,
    /// The listings of every set of two or more, one set after the other.
    sets: Vec<ListingId>,
}

impl<T: AddrKey> RangeTable<T> {
    /// Builds the table from possibly overlapping `(start, end, listing)` triples. Addresses
    /// covered by an `exclusions` range are left out, whatever lists them.
    fn build(mut entries: Vec<(T, T, ListingId)>, exclusions: &[(T, T)]) -> Self {
        entries.extend(
            exclusions
                .iter()
                .map(|&(start, end)| (start, end, EXCLUDED)),
        );
        // A stable sort, because it costs little on input that is already sorted in runs.
        entries.sort_by_key(|&(start, _, _)| start);
        let mut segments = SegmentWriter::new();
        let mut first = 0;
        while first < entries.len() {
            // A cluster is a run of entries that overlap, directly or through other entries
            // of the run. No segment spans two clusters, so each cluster is cut alone, and
            // one that has a single entry (most of a routing table) is a single segment.
            let mut cluster_end = entries[first].1;
            let mut last = first + 1;
            while last < entries.len() && entries[last].0 <= cluster_end {
                cluster_end = cluster_end.max(entries[last].1);
                last += 1;
            }
            match entries[first..last] {
                [(_, _, EXCLUDED)] => {}
                [(start, end, id)] => segments.push(start, end, &[id]),
                ref cluster => segments.sweep(cluster),
            }
            first = last;
        }
        drop(entries);
        segments.finish()
    }

    /// Builds the table whose segments carry, for every address, the union of the
    /// listings of `tables` covering it: the lookup of a combined zone as one table.
    pub fn union(tables: &[&RangeTable<T>]) -> Self {
        let entries = tables
            .iter()
            .flat_map(|table| table.segments())
            .flat_map(|(start, end, ids)| ids.iter().map(move |&id| (start, end, id)))
            .collect();
        Self::build(entries, &[])
    }

    /// The listings covering `addr`, or `None` when it is not listed.
    pub fn lookup(&self, addr: T) -> Option<&[ListingId]> {
        if addr < self.base {
            return None;
        }
        // The last start <= addr is in addr's bucket, or else it is the last start of an
        // earlier bucket, just before the first of this one.
        let bucket = addr.bucket(self.base, self.shift);
        let first = *self.buckets.get(bucket)? as usize;
        let last = self.buckets[bucket + 1] as usize;
        let after = first
            + self.segments[first..last]
                .partition_point(|segment| T::unpack(segment.start) <= addr);
        let segment = &self.segments[after.checked_sub(1)?];
        if T::unpack(segment.end) < addr {
            return None;
        }
        Some(self.listings_of(&segment.group))
    }

    /// The first read of a [`lookup`](Self::lookup) of `addr`: the index entry of its
    /// bucket, which is the position of the first segment to search. `None` when the
    /// lookup reads nothing. Batch callers make this read for every address, then
    /// [`segment_group`](Self::segment_group), so that the cache misses of a batch overlap
    /// instead of following one another.
    pub fn bucket_start(&self, addr: T) -> Option<usize> {
        if addr < self.base {
            return None;
        }
        self.buckets
            .get(addr.bucket(self.base, self.shift))
            .map(|&first| first as usize)
    }

    /// Reads the segment at `position` (from [`bucket_start`](Self::bucket_start)) and
    /// returns its group, for reading ahead: `0` past the last segment.
    pub fn segment_group(&self, position: usize) -> u32 {
        self.segments
            .get(position)
            .map_or(0, |segment| segment.group)
    }

    /// Returns the listings of a segment whose group is `group`.
    fn listings_of<'a>(&'a self, group: &'a u32) -> &'a [ListingId] {
        if group & SHARED_SET == 0 {
            return std::slice::from_ref(group);
        }
        let set = (group & !SHARED_SET) as usize;
        &self.sets[self.set_bounds[set] as usize..self.set_bounds[set + 1] as usize]
    }

    /// Whether any listed address lies in `low..=high`.
    pub fn intersects(&self, low: T, high: T) -> bool {
        let index = self
            .segments
            .partition_point(|segment| T::unpack(segment.end) < low);
        index < self.segments.len() && T::unpack(self.segments[index].start) <= high
    }

    /// Number of disjoint segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Iterates over the segments as `(start, end, listings)`.
    pub fn segments(&self) -> impl Iterator<Item = (T, T, &[ListingId])> + '_ {
        self.segments.iter().map(move |segment| {
            (
                T::unpack(segment.start),
                T::unpack(segment.end),
                self.listings_of(&segment.group),
            )
        })
    }

    /// Chooses `base` and `shift` so that the starts fill the [`BUCKETS`] spans, and
    /// fills [`buckets`](Self::buckets).
    fn index_buckets(&mut self) {
        let (Some(first), Some(last)) = (self.segments.first(), self.segments.last()) else {
            self.buckets = Vec::new();
            return;
        };
        self.base = T::unpack(first.start);
        self.shift = T::unpack(last.start)
            .bits_above(self.base)
            .saturating_sub(BUCKET_BITS);
        let mut buckets = Vec::with_capacity(BUCKETS + 1);
        let mut segment = 0;
        for bucket in 0..=BUCKETS {
            while segment < self.segments.len()
                && T::unpack(self.segments[segment].start).bucket(self.base, self.shift) < bucket
            {
                segment += 1;
            }
            buckets.push(u32::try_from(segment).expect("fewer than 2^32 segments"));
        }
        self.buckets = buckets;
    }
}

/// Collects the segments of a [`RangeTable`] in address order. A segment that follows the
/// one before without a gap and has the same listings extends it.
struct SegmentWriter<T: AddrKey> {
    table: RangeTable<T>,
    /// The group of each set of two or more listings, so that each set is stored once.
    interned: HashMap<Box<[ListingId]>, u32>,
}

impl<T: AddrKey> SegmentWriter<T> {
    fn new() -> Self {
        SegmentWriter {
            table: RangeTable {
                set_bounds: vec![0],
                ..RangeTable::default()
            },
            interned: HashMap::new(),
        }
    }

    /// Returns the group of the listing set `ids` (sorted, no duplicates): the listing
    /// itself for a set of one, else the set's index, storing the set the first time it
    /// occurs.
    fn intern(&mut self, ids: &[ListingId]) -> u32 {
        if let [only] = *ids {
            assert!(only < SHARED_SET, "listing id {only} out of range");
            return only;
        }
        if let Some(&group) = self.interned.get(ids) {
            return group;
        }
        let group = SHARED_SET | self.interned.len() as u32;
        let sets = &mut self.table.sets;
        sets.extend_from_slice(ids);
        let end = u32::try_from(sets.len()).expect("fewer than 2^32 set members");
        self.table.set_bounds.push(end);
        self.interned.insert(ids.into(), group);
        group
    }

    /// Appends the segment `start..=end`, which must start after the last one ends.
    fn push(&mut self, start: T, end: T, ids: &[ListingId]) {
        let group = self.intern(ids);
        match self.table.segments.last_mut() {
            Some(last) if last.group == group && T::unpack(last.end).next() == Some(start) => {
                last.end = end.pack();
            }
            _ => self.table.segments.push(Segment {
                start: start.pack(),
                end: end.pack(),
                group,
            }),
        }
    }

    /// Cuts overlapping entries into segments with a sweep over their start and end
    /// events, and appends the segments.
    fn sweep(&mut self, entries: &[(T, T, ListingId)]) {
        // `None` stands for the position after T::MAX.
        let mut events: Vec<(Option<T>, bool, ListingId)> = Vec::with_capacity(entries.len() * 2);
        for &(start, end, id) in entries {
            events.push((Some(start), true, id));
            events.push((end.next(), false, id));
        }
        events.sort_unstable_by(|a, b| match (a.0, b.0) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });

        let mut active: BTreeMap<ListingId, u32> = BTreeMap::new();
        let mut scratch: Vec<ListingId> = Vec::new();
        let mut index = 0;
        while index < events.len() {
            let Some(position) = events[index].0 else {
                break;
            };
            while index < events.len() && events[index].0 == Some(position) {
                let (_, is_start, id) = events[index];
                if is_start {
                    *active.entry(id).or_insert(0) += 1;
                } else if let Some(count) = active.get_mut(&id) {
                    *count -= 1;
                    if *count == 0 {
                        active.remove(&id);
                    }
                }
                index += 1;
            }
            if active.is_empty() || active.contains_key(&EXCLUDED) {
                continue;
            }
            let segment_end = match events.get(index).map(|event| event.0) {
                Some(Some(next)) => next.prev(),
                _ => T::MAX,
            };
            scratch.clear();
            scratch.extend(active.keys().copied());
            self.push(position, segment_end, &scratch);
        }
    }

    fn finish(self) -> RangeTable<T> {
        let mut table = self.table;
        table.sets.shrink_to_fit();
        table.set_bounds.shrink_to_fit();
        table.segments.shrink_to_fit();
        table.index_buckets();
        table
    }
}

/// The data of one served zone.
#[derive(Clone, Debug)]
pub struct Zone {
    pub spec: ZoneSpec,
    /// The apex split into lower-case labels, for suffix matching.
    labels: Vec<String>,
    pub v4: RangeTable<u32>,
    pub v6: RangeTable<u128>,
    /// Listed domains (lower case, no trailing dot) with their listings. A listed domain
    /// also lists its subdomains.
    pub domains: HashMap<String, Box<[ListingId]>>,
    /// Allow-listed domains: these and their subdomains are never listed in this zone.
    pub excluded_domains: HashSet<String>,
    /// Proper parents of the domains that are listed after exclusions (`com` for
    /// `example.com`): names that exist only because a listed name lies below them.
    pub domain_parents: HashSet<String>,
    /// The SOA and NS records of the apex.
    pub records: ZoneRecords,
    /// For a combined zone, the indices in [`Snapshot::zones`] of the zones it includes;
    /// empty for a zone with listings of its own.
    pub includes: Vec<usize>,
}

impl Zone {
    /// Number of labels in the apex name.
    pub fn label_count(&self) -> usize {
        self.labels.len()
    }

    /// Lower-case labels of the apex, leftmost first.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }
}

/// Everything the query path needs, frozen at one serial.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Increases with every change of the data; used as the SOA serial.
    pub serial: u32,
    pub categories: Vec<Category>,
    pub listings: ListingTable,
    /// Zones sorted by apex label count, longest first, so the first match is the longest.
    pub zones: Vec<Zone>,
    /// The TXT cache of [`crate::answer::WireAnswerer`], made by the first answerer
    /// of this snapshot, so that the answerers of all UDP threads share one.
    pub(crate) wire_txt: WireTxtCache,
}

/// TXT RDATA per listing, rendered on first use: see [`crate::answer::WireAnswerer`].
pub(crate) type TxtSlots = Arc<[OnceLock<Option<Box<[u8]>>>]>;

/// The [`TxtSlots`] of a snapshot, made by its first wire answerer.
pub(crate) type WireTxtCache = OnceLock<TxtSlots>;

impl Snapshot {
    /// The zone that contains `labels` (lower case, leftmost first), longest apex first.
    pub fn find_zone(&self, labels: &[&str]) -> Option<&Zone> {
        self.zones.iter().find(|zone| {
            let apex = zone.labels();
            apex.len() <= labels.len()
                && labels[labels.len() - apex.len()..]
                    .iter()
                    .zip(apex)
                    .all(|(label, apex_label)| label.eq_ignore_ascii_case(apex_label))
        })
    }

    /// Total number of address segments over all zones, for logs.
    pub fn segment_count(&self) -> usize {
        self.zones
            .iter()
            .map(|zone| zone.v4.segment_count() + zone.v6.segment_count())
            .sum()
    }

    /// Total number of listed domains over all zones, for logs.
    pub fn domain_count(&self) -> usize {
        self.zones.iter().map(|zone| zone.domains.len()).sum()
    }
}

/// Errors from building a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error("duplicate zone {0:?}")]
    DuplicateZone(String),
    #[error("zone {zone:?} names category {category:?}, which is not defined")]
    UnknownCategory { zone: String, category: String },
    #[error("listing refers to category index {0}, but only {1} categories are defined")]
    CategoryIndex(usize, usize),
    #[error(transparent)]
    Listings(#[from] ListingTableError),
    #[error(transparent)]
    ZoneName(#[from] ZoneNameError),
    #[error(
        "combined zone {zone:?} includes {included:?}, which is not a zone of the same kind with listings of its own"
    )]
    InvalidInclude { zone: String, included: String },
    #[error(
        "allow-list entry for zone {0:?}: it is a combined zone, so name the zones it includes instead"
    )]
    ExclusionInCombinedZone(String),
}

/// Collects categories, listings and their ranges and domains, then builds a [`Snapshot`].
pub struct SnapshotBuilder {
    serial: u32,
    zones: Vec<ZoneSpec>,
    categories: Vec<Category>,
    /// Index in `categories` of the RFC 5782 test category, which every zone serves. It is
    /// found by index, not by name, because a category from the store may have any name.
    test_category: usize,
    listings: ListingTable,
    /// The first listing that [`ListingTable::push`] rejected, reported by `build`.
    listing_error: Option<ListingTableError>,
    v4: Vec<(u32, u32, ListingId)>,
    v6: Vec<(u128, u128, ListingId)>,
    domains: Vec<(String, ListingId)>,
    /// Allow-list ranges with the zone they apply to (`None`: every zone).
    excluded_ranges: Vec<(AddrRange, Option<String>)>,
    /// Allow-listed domains (each with its subdomains) and the zone they apply to.
    excluded_domains: Vec<(String, Option<String>)>,
}

/// The RFC 5782 test address 127.0.0.2 as a number.
const TEST_ADDRESS: u32 = 0x7f00_0002;

/// Returns the excluded IPv4 range `start..=end` without the test address 127.0.0.2, as
/// zero, one or two ranges.
fn around_test_address(start: u32, end: u32) -> impl Iterator<Item = (u32, u32)> {
    let (below, above) = if (start..=end).contains(&TEST_ADDRESS) {
        (
            (start < TEST_ADDRESS).then_some((start, TEST_ADDRESS - 1)),
            (end > TEST_ADDRESS).then_some((TEST_ADDRESS + 1, end)),
        )
    } else {
        (Some((start, end)), None)
    };
    below.into_iter().chain(above)
}

/// Id of the RFC 5782 test entry listing: the first listing of every snapshot.
pub const TEST_LISTING: ListingId = 0;

/// Code and TXT of the RFC 5782 test entries.
pub const TEST_CATEGORY: &str = "rfc5782-test";

/// Rejects the name of the built-in test category, [`TEST_CATEGORY`], for a category of
/// the register, because zones would mistake one for the other in their lists of served
/// categories. Category names are otherwise case-sensitive, but this one is rejected in
/// any letter case, because a reader would take `RFC5782-TEST` for the test category.
pub fn check_category_name(name: &str) -> Result<(), String> {
    if name.eq_ignore_ascii_case(TEST_CATEGORY) {
        return Err(format!(
            "the category name {name:?} is reserved, in any letter case, for the RFC 5782 \
             test entries; choose another name"
        ));
    }
    Ok(())
}

impl SnapshotBuilder {
    /// Starts a snapshot with the given zones and categories. The RFC 5782 test entries are
    /// always added, whatever the register contains: 127.0.0.2 (and so ::ffff:7f00:2) in
    /// address zones, and `test` in domain zones.
    pub fn new(serial: u32, zones: Vec<ZoneSpec>, mut categories: Vec<Category>) -> Self {
        categories.push(Category {
            name: TEST_CATEGORY.to_string(),
            code: [127, 0, 0, 2].into(),
            txt: "RFC 5782 test entry".to_string(),
        });
        let test_category = categories.len() - 1;
        let mut builder = SnapshotBuilder {
            serial,
            zones,
            categories,
            test_category,
            listings: ListingTable::default(),
            listing_error: None,
            v4: Vec::new(),
            v6: Vec::new(),
            domains: Vec::new(),
            excluded_ranges: Vec::new(),
            excluded_domains: Vec::new(),
        };
        let test = builder.add_listing(Listing {
            provider: "RFC 5782 test entry".to_string(),
            operator: None,
            category: test_category,
            source: ListingSource::TestEntry,
            listed_since: None,
        });
        debug_assert_eq!(test, TEST_LISTING);
        builder.add_range(AddrRange::single([127, 0, 0, 2].into()), test);
        builder.add_domain("test", test);
        // RFC 5782 §5: 127.0.0.1 (and so ::ffff:7f00:1) and `invalid` are never listed, so
        // that clients can check that the list is not answering everything.
        builder.exclude_range(AddrRange::single([127, 0, 0, 1].into()), None);
        builder.exclude_domain("invalid", None);
        builder
    }

    /// Reserves room for `additional` more listings, so that a loader that has read the count
    /// allocates the list once.
    pub fn reserve_listings(&mut self, additional: usize) {
        self.listings.reserve_exact(additional, 0);
    }

    /// Registers a listing and returns its id for [`add_range`](Self::add_range) and
    /// [`add_domain`](Self::add_domain).
    pub fn add_listing(&mut self, listing: Listing) -> ListingId {
        match self.listings.push(&listing) {
            Ok(id) => id,
            Err(error) => {
                // `build` fails with the error, so the id is never looked up.
                self.listing_error.get_or_insert(error);
                self.listings.len() as ListingId
            }
        }
    }

    /// Adds a listed range. The part of an IPv6 range inside ::ffff:0:0/96 is stored as
    /// IPv4, because queries for IPv4-mapped addresses are looked up as IPv4.
    pub fn add_range(&mut self, range: AddrRange, listing: ListingId) {
        for part in split_mapped(range) {
            match part {
                AddrRange::V4 { start, end } => self.v4.push((start, end, listing)),
                AddrRange::V6 { start, end } => self.v6.push((start, end, listing)),
            }
        }
    }

    /// Adds a listed domain; the name is stored in lower case without a trailing dot.
    pub fn add_domain(&mut self, domain: &str, listing: ListingId) {
        let name = domain.trim_end_matches('.').to_ascii_lowercase();
        self.domains.push((name, listing));
    }

    /// Exempts a range from listing, in one zone (by apex name) or, with `None`, in all.
    /// An IPv4-mapped part of an IPv6 range is exempted as IPv4, as in
    /// [`add_range`](Self::add_range).
    pub fn exclude_range(&mut self, range: AddrRange, zone: Option<&str>) {
        let zone = zone.map(|z| z.trim_end_matches('.').to_ascii_lowercase());
        for part in split_mapped(range) {
            self.excluded_ranges.push((part, zone.clone()));
        }
    }

    /// Exempts a domain and its subdomains, in one zone or, with `None`, in all.
    pub fn exclude_domain(&mut self, domain: &str, zone: Option<&str>) {
        self.excluded_domains.push((
            domain.trim_end_matches('.').to_ascii_lowercase(),
            zone.map(|z| z.trim_end_matches('.').to_ascii_lowercase()),
        ));
    }

    /// Validates the categories and zones and builds the lookup tables of every zone.
    pub fn build(self) -> Result<Snapshot, SnapshotError> {
        for category in &self.categories {
            category.validate()?;
        }
        if let Some(error) = self.listing_error {
            return Err(error.into());
        }
        let category_names: Vec<&str> = self.categories.iter().map(|c| c.name.as_str()).collect();
        for listing in self.listings.iter() {
            if listing.category >= self.categories.len() {
                return Err(SnapshotError::CategoryIndex(
                    listing.category,
                    self.categories.len(),
                ));
            }
        }

        let mut zones = Vec::with_capacity(self.zones.len());
        for spec in self.zones {
            if zones.iter().any(|zone: &Zone| zone.spec.name == spec.name) {
                return Err(SnapshotError::DuplicateZone(spec.name));
            }
            for name in spec.categories.iter().flatten() {
                if !category_names.contains(&name.as_str()) {
                    return Err(SnapshotError::UnknownCategory {
                        zone: spec.name.clone(),
                        category: name.clone(),
                    });
                }
            }
            // A combined zone keeps no tables of its own: it looks up its included zones.
            // The flags are computed once per listing, because the ranges come in address
            // order and a lookup of each range's listing and category would jump around.
            let served_categories: Vec<bool> = self
                .categories
                .iter()
                .enumerate()
                .map(|(index, category)| {
                    spec.includes.is_empty()
                        && (index == self.test_category || spec.serves_category(&category.name))
                })
                .collect();
            let served: Vec<bool> = (0..self.listings.len())
                .map(|id| served_categories[self.listings.category(id as ListingId)])
                .collect();
            let serves = |id: ListingId| served[id as usize];
            let applies = |zone: &Option<String>| zone.as_ref().is_none_or(|z| *z == spec.name);
            let mut excluded_v4 = Vec::new();
            let mut excluded_v6 = Vec::new();
            for (range, zone) in &self.excluded_ranges {
                match *range {
                    AddrRange::V4 { start, end } if applies(zone) => {
                        excluded_v4.extend(around_test_address(start, end));
                    }
                    AddrRange::V6 { start, end } if applies(zone) => excluded_v6.push((start, end)),
                    _ => {}
                }
            }
            // An allow-list entry never removes the RFC 5782 test entries: clients probe
            // them to see whether the list works.
            let excluded_domains: HashSet<String> = self
                .excluded_domains
                .iter()
                .filter(|(domain, zone)| applies(zone) && domain != "test")
                .map(|(domain, _)| domain.clone())
                .collect();
            let (v4, v6, domains) = match spec.kind {
                ZoneKind::Address => {
                    let v4 = self.v4.iter().copied().filter(|e| serves(e.2)).collect();
                    let v6 = self.v6.iter().copied().filter(|e| serves(e.2)).collect();
                    (
                        RangeTable::build(v4, &excluded_v4),
                        RangeTable::build(v6, &excluded_v6),
                        HashMap::new(),
                    )
                }
                ZoneKind::Domain => {
                    let mut domains: HashMap<String, Vec<ListingId>> = HashMap::new();
                    for (name, id) in &self.domains {
                        if serves(*id) {
                            domains.entry(name.clone()).or_default().push(*id);
                        }
                    }
                    let domains = domains
                        .into_iter()
                        .map(|(name, mut ids)| {
                            ids.sort_unstable();
                            ids.dedup();
                            (name, ids.into_boxed_slice())
                        })
                        .collect();
                    (RangeTable::default(), RangeTable::default(), domains)
                }
            };
            let domain_parents = parents_of_listed(&domains, &excluded_domains);
            let records = ZoneRecords::new(&spec, self.serial)?;
            let labels = spec
                .name
                .split('.')
                .filter(|label| !label.is_empty())
                .map(str::to_ascii_lowercase)
                .collect();
            zones.push(Zone {
                spec,
                labels,
                v4,
                v6,
                domains,
                excluded_domains,
                domain_parents,
                records,
                includes: Vec::new(),
            });
        }
        zones.sort_by_key(|zone| std::cmp::Reverse(zone.label_count()));
        resolve_includes(&mut zones)?;
        let named_zones = self
            .excluded_ranges
            .iter()
            .map(|(_, zone)| zone)
            .chain(self.excluded_domains.iter().map(|(_, zone)| zone));
        for name in named_zones.flatten() {
            if zones
                .iter()
                .any(|zone| zone.spec.name == *name && !zone.includes.is_empty())
            {
                return Err(SnapshotError::ExclusionInCombinedZone(name.clone()));
            }
        }
        for zone in zones.iter().filter(|z| z.spec.style == AnswerStyle::Multi) {
            let served = served_categories(&zones, zone, &self.categories, self.test_category);
            for category in served {
                category.validate_single_bit(&zone.spec.name)?;
            }
        }

        let mut listings = self.listings;
        listings.shrink_to_fit();
        Ok(Snapshot {
            serial: self.serial,
            categories: self.categories,
            listings,
            zones,
            wire_txt: OnceLock::new(),
        })
    }
}

/// Sets [`Zone::includes`] of every combined zone to the indices of the zones it names.
/// An included zone must exist, have the same kind and not be combined itself.
fn resolve_includes(zones: &mut [Zone]) -> Result<(), SnapshotError> {
    for index in 0..zones.len() {
        let mut resolved = Vec::with_capacity(zones[index].spec.includes.len());
        for included in &zones[index].spec.includes {
            let position = zones.iter().position(|zone| {
                zone.spec.name == *included
                    && zone.spec.includes.is_empty()
                    && zone.spec.kind == zones[index].spec.kind
            });
            match position {
                Some(position) => resolved.push(position),
                None => {
                    return Err(SnapshotError::InvalidInclude {
                        zone: zones[index].spec.name.clone(),
                        included: included.clone(),
                    });
                }
            }
        }
        zones[index].includes = resolved;
    }
    Ok(())
}

/// The categories whose codes can appear in answers of `zone`, the test category (at index
/// `test_category`) included.
fn served_categories<'c>(
    zones: &[Zone],
    zone: &Zone,
    categories: &'c [Category],
    test_category: usize,
) -> Vec<&'c Category> {
    let sources: Vec<&Zone> = if zone.includes.is_empty() {
        vec![zone]
    } else {
        zone.includes.iter().map(|&index| &zones[index]).collect()
    };
    categories
        .iter()
        .enumerate()
        .filter(|(index, category)| {
            *index == test_category
                || sources
                    .iter()
                    .any(|z| z.spec.serves_category(&category.name))
        })
        .map(|(_, category)| category)
        .collect()
}

/// Splits an IPv6 range into the parts below, inside and above ::ffff:0:0/96, with the
/// inside part as an IPv4 range. An IPv4 range is returned unchanged. The parts come back
/// in a fixed array (unused slots `None`), so the load of a large snapshot allocates
/// nothing per range.
fn split_mapped(range: AddrRange) -> impl Iterator<Item = AddrRange> {
    let mut parts = [None; 3];
    match (range, range.mapped_v4_part()) {
        (AddrRange::V6 { start, end }, Some(mapped)) => {
            if start < MAPPED_START {
                parts[0] = Some(AddrRange::V6 {
                    start,
                    end: MAPPED_START - 1,
                });
            }
            parts[1] = Some(mapped);
            if end > MAPPED_END {
                parts[2] = Some(AddrRange::V6 {
                    start: MAPPED_END + 1,
                    end,
                });
            }
        }
        _ => parts[0] = Some(range),
    }
    parts.into_iter().flatten()
}

/// The proper parents of every listed domain that no exclusion removes.
fn parents_of_listed(
    domains: &HashMap<String, Box<[ListingId]>>,
    excluded: &HashSet<String>,
) -> HashSet<String> {
    let is_excluded = |domain: &str| {
        let mut suffix = domain;
        loop {
            if excluded.contains(suffix) {
                return true;
            }
            match suffix.split_once('.') {
                Some((_, parent)) => suffix = parent,
                None => return false,
            }
        }
    };
    let mut parents = HashSet::new();
    for domain in domains.keys() {
        if is_excluded(domain) {
            continue;
        }
        let mut suffix = domain.as_str();
        while let Some((_, parent)) = suffix.split_once('.') {
            if !parents.insert(parent.to_string()) {
                // Its own parents were added together with it.
                break;
            }
            suffix = parent;
        }
    }
    parents
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_v4(entries: &[(u32, u32, ListingId)]) -> RangeTable<u32> {
        RangeTable::build(entries.to_vec(), &[])
    }

    /// Checks `lookup` against a linear scan of the segments, at `probes` and at both
    /// edges of every segment and the addresses just outside them. Also checks that the
    /// bucket read ahead for a listed address is the one whose search finds it: it starts
    /// at most one segment after the segment that holds the address.
    fn assert_matches_scan<T: AddrKey>(table: &RangeTable<T>, probes: impl Iterator<Item = T>) {
        let segments: Vec<_> = table.segments().collect();
        let edges = segments.iter().flat_map(|&(start, end, _)| {
            let before = (start > T::default()).then(|| start.prev());
            [Some(start), Some(end), before, end.next()]
        });
        for addr in edges.flatten().chain(probes) {
            let holder = segments
                .iter()
                .position(|&(start, end, _)| start <= addr && addr <= end);
            let expected = holder.map(|index| segments[index].2);
            assert_eq!(table.lookup(addr), expected, "address {addr:?}");
            if let Some(index) = holder {
                let first = table.bucket_start(addr);
                assert!(
                    first.is_some_and(|first| first <= index + 1),
                    "address {addr:?} in segment {index}: bucket starts at {first:?}"
                );
            }
        }
    }

    /// Returns a seeded xorshift generator, so that the random tables are the same in
    /// every run.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn range_table_overlaps() {
        // 10..=20 by listing 0, 15..=30 by listing 1, 31..=40 by listing 1 (adjacent).
        let table = table_v4(&[(10, 20, 0), (15, 30, 1), (31, 40, 1)]);
        let segments: Vec<_> = table
            .segments()
            .map(|(s, e, ids)| (s, e, ids.to_vec()))
            .collect();
        assert_eq!(
            segments,
            vec![(10, 14, vec![0]), (15, 20, vec![0, 1]), (21, 40, vec![1])]
        );
        assert_eq!(table.lookup(9), None);
        assert_eq!(table.lookup(10), Some(&[0][..]));
        assert_eq!(table.lookup(20), Some(&[0, 1][..]));
        assert_eq!(table.lookup(40), Some(&[1][..]));
        assert_eq!(table.lookup(41), None);
    }

    #[test]
    fn range_table_union_merges_listings() {
        // The second table has a hole at 15..=16, as an allow-list entry leaves one.
        let first = table_v4(&[(10, 20, 0)]);
        let second = RangeTable::<u32>::build(vec![(12, 30, 1), (18, 18, 2)], &[(15, 16)]);
        let union = RangeTable::union(&[&first, &second]);
        let segments: Vec<_> = union
            .segments()
            .map(|(s, e, ids)| (s, e, ids.to_vec()))
            .collect();
        assert_eq!(
            segments,
            vec![
                (10, 11, vec![0]),
                (12, 14, vec![0, 1]),
                (15, 16, vec![0]),
                (17, 17, vec![0, 1]),
                (18, 18, vec![0, 1, 2]),
                (19, 20, vec![0, 1]),
                (21, 30, vec![1]),
            ]
        );
        assert_eq!(RangeTable::<u32>::union(&[]).segment_count(), 0);
    }

    /// Lookups through the bucket index against a linear scan, on a table built from
    /// seeded random ranges: most buckets hold none or one start, and the first buckets
    /// many.
    #[test]
    fn range_table_lookup_matches_scan() {
        let mut random = xorshift(0x9e37_79b9_7f4a_7c15);
        let mut next = move || random() as u32;
        let mut entries: Vec<_> = (0..3000)
            .map(|id| {
                let start = next() >> 2;
                (start, start + (next() >> 20), id % 7)
            })
            .collect();
        // Dense buckets: 1000 short ranges in 0.0.0.0/15.
        entries.extend((0..1000).map(|id| {
            let start = next() >> 15;
            (start, start + (next() >> 28), id % 5)
        }));
        let table = table_v4(&entries);
        assert!(table.segment_count() > 3000);
        assert_matches_scan(&table, (0..5000).map(|_| next()));
    }

    /// Segments of seeded random entries and exclusions in a small address space, against
    /// the sets of listings computed address by address: single entries, adjacent
    /// entries, overlapping clusters and holes all occur.
    #[test]
    fn range_table_matches_per_address_sets() {
        const SPACE: u32 = 300;
        let mut random = xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = move |below: u32| (random() % u64::from(below)) as u32;
        for round in 0..200 {
            let entries: Vec<(u32, u32, ListingId)> = (0..next(12))
                .map(|_| {
                    let start = next(SPACE - 20);
                    (start, start + next(20), next(4))
                })
                .collect();
            let exclusions: Vec<(u32, u32)> = (0..next(3))
                .map(|_| {
                    let start = next(SPACE - 10);
                    (start, start + next(10))
                })
                .collect();
            let mut expected: Vec<(u32, u32, Vec<ListingId>)> = Vec::new();
            for addr in 0..SPACE {
                if exclusions.iter().any(|&(s, e)| s <= addr && addr <= e) {
                    continue;
                }
                let mut ids: Vec<ListingId> = entries
                    .iter()
                    .filter(|&&(s, e, _)| s <= addr && addr <= e)
                    .map(|&(_, _, id)| id)
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                if ids.is_empty() {
                    continue;
                }
                match expected.last_mut() {
                    Some(last) if last.1 + 1 == addr && last.2 == ids => last.1 = addr,
                    _ => expected.push((addr, addr, ids)),
                }
            }
            let table = RangeTable::<u32>::build(entries.clone(), &exclusions);
            let segments: Vec<_> = table
                .segments()
                .map(|(s, e, ids)| (s, e, ids.to_vec()))
                .collect();
            assert_eq!(
                segments, expected,
                "round {round}: {entries:?} without {exclusions:?}"
            );
        }
    }

    /// Lookups in an IPv6 table against a linear scan. The ranges lie in 2000::/3, as
    /// routed ones do, so the bucket spans start at the first range and are narrower
    /// than a /16.
    #[test]
    fn range_table_v6_matches_scan() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let entries: Vec<(u128, u128, ListingId)> = (0..2000)
            .map(|id| {
                let start = (0x2000u128 << 112) | (u128::from(next()) << 61) | u128::from(next());
                (start, start + (u128::from(next()) << 20), id % 9)
            })
            .collect();
        let table = RangeTable::build(entries, &[]);
        assert!(table.shift < 128 - BUCKET_BITS);
        let random = (0..3000).map(|_| (0x2000u128 << 112) | (u128::from(next()) << 61));
        assert_matches_scan(&table, random.chain([0, 0x2000u128 << 112, u128::MAX]));
    }

    #[test]
    fn range_table_edges_of_space() {
        let table = table_v4(&[(0, 0, 0), (u32::MAX - 1, u32::MAX, 1)]);
        assert_eq!(table.lookup(0), Some(&[0][..]));
        assert_eq!(table.lookup(1), None);
        assert_eq!(table.lookup(u32::MAX), Some(&[1][..]));
        let all = RangeTable::<u128>::build(vec![(0, u128::MAX, 3)], &[]);
        assert_eq!(all.lookup(u128::MAX / 2), Some(&[3][..]));
        assert_eq!(all.segment_count(), 1);
        assert_eq!(RangeTable::<u32>::default().lookup(7), None);
        assert_eq!(table_v4(&[]).lookup(7), None);
    }

    /// A segment that starts in one bucket and covers the following ones is found from
    /// any of them, also when a later bucket contains starts of its own.
    #[test]
    fn range_table_spans_buckets() {
        let v6 = |prefix: u128, rest: u128| prefix << 112 | rest;
        let table = RangeTable::<u128>::build(
            vec![
                (v6(0x2001, 5), v6(0x2a00, 0) - 1, 0),
                (v6(0x2400, 100), v6(0x2400, 200), 1),
            ],
            &[],
        );
        assert_eq!(table.lookup(v6(0x2001, 4)), None);
        assert_eq!(table.lookup(v6(0x2001, 5)), Some(&[0][..]));
        assert_eq!(table.lookup(v6(0x2200, 0)), Some(&[0][..]));
        assert_eq!(table.lookup(v6(0x2400, 99)), Some(&[0][..]));
        assert_eq!(table.lookup(v6(0x2400, 150)), Some(&[0, 1][..]));
        assert_eq!(table.lookup(v6(0x2400, 201)), Some(&[0][..]));
        assert_eq!(
            table.lookup(v6(0x29ff, u128::from(u64::MAX))),
            Some(&[0][..])
        );
        assert_eq!(table.lookup(v6(0x2a00, 0)), None);
        assert_eq!(table.lookup(u128::MAX), None);
    }

    #[test]
    fn range_table_intersects() {
        let table = table_v4(&[(100, 200, 0)]);
        assert!(table.intersects(0, 100));
        assert!(table.intersects(150, 160));
        assert!(table.intersects(200, 300));
        assert!(!table.intersects(0, 99));
        assert!(!table.intersects(201, 300));
    }

    #[test]
    fn range_table_exclusions_cut_holes() {
        let table = RangeTable::<u32>::build(vec![(10, 40, 0), (20, 30, 1)], &[(15, 22), (40, 50)]);
        let segments: Vec<_> = table
            .segments()
            .map(|(s, e, ids)| (s, e, ids.to_vec()))
            .collect();
        assert_eq!(
            segments,
            vec![(10, 14, vec![0]), (23, 30, vec![0, 1]), (31, 39, vec![0])]
        );
    }

    #[test]
    fn range_table_nested_duplicate() {
        // The same listing twice over a range, and a hole between two ranges.
        let table = table_v4(&[(10, 20, 0), (12, 14, 0), (30, 40, 0)]);
        let segments: Vec<_> = table
            .segments()
            .map(|(s, e, ids)| (s, e, ids.to_vec()))
            .collect();
        assert_eq!(segments, vec![(10, 20, vec![0]), (30, 40, vec![0])]);
    }

    #[test]
    fn split_mapped_ranges() {
        let range = |text: &str| text.parse::<AddrRange>().unwrap();
        let split = |text: &str| split_mapped(range(text)).collect::<Vec<_>>();
        assert_eq!(split("::ffff:192.0.2.0/120"), [range("192.0.2.0/24")]);
        assert_eq!(
            split("::fffe:ffff:ffff-::1:0:0:1"),
            [
                range("::fffe:ffff:ffff-::fffe:ffff:ffff"),
                range("0.0.0.0/0"),
                range("::1:0:0:0-::1:0:0:1"),
            ]
        );
        assert_eq!(split("2001:db8::/32"), [range("2001:db8::/32")]);
        assert_eq!(split("192.0.2.0/24"), [range("192.0.2.0/24")]);
    }
}
