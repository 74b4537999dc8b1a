//! The listings of a snapshot in packed form.
//!
//! A snapshot of the full IP-to-ASN dataset has one listing per ASN (91,000). In a
//! `Vec<Listing>` each takes 128 bytes plus one to three heap strings. Here the strings of
//! all listings share one buffer and each listing keeps 24 bytes of offsets and codes, so
//! the listings take about a third of the memory.

use std::fmt;

use crate::model::{Listing, ListingSource};
use crate::snapshot::ListingId;

/// The listings of a snapshot, indexed by [`ListingId`].
#[derive(Clone, Debug, Default)]
pub struct ListingTable {
    /// Provider, operator and listing date of every listing, back to back.
    text: String,
    entries: Vec<Entry>,
    /// The sources other than an ASN (netblocks, domains, the test entry), which are few.
    other_sources: Vec<ListingSource>,
}

/// One listing: where its strings end in [`ListingTable::text`] (each starts where the
/// one before ends) and its codes.
#[derive(Clone, Copy, Debug)]
struct Entry {
    provider_end: u32,
    operator_end: u32,
    listed_since_end: u32,
    category: u32,
    /// The ASN, or with [`OTHER_SOURCE`] set in `flags`, an index into
    /// [`ListingTable::other_sources`].
    source: u32,
    flags: u8,
}

const HAS_OPERATOR: u8 = 1;
const HAS_LISTED_SINCE: u8 = 2;
const OTHER_SOURCE: u8 = 4;

/// A listing as stored in a [`ListingTable`], with its strings borrowed from the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListingRef<'a> {
    /// Provider name as in the register.
    pub provider: &'a str,
    /// The operator behind the provider, if recorded.
    pub operator: Option<&'a str>,
    /// Index into the snapshot's categories.
    pub category: usize,
    pub source: SourceRef<'a>,
    /// Date the provider was listed, `YYYY-MM-DD`, if recorded.
    pub listed_since: Option<&'a str>,
}

/// The source of a [`ListingRef`]: an ASN by value, any other source by reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceRef<'a> {
    Asn(u32),
    Other(&'a ListingSource),
}

impl SourceRef<'_> {
    /// Returns the source as an owned value.
    pub fn to_source(self) -> ListingSource {
        match self {
            SourceRef::Asn(asn) => ListingSource::Asn(asn),
            SourceRef::Other(source) => source.clone(),
        }
    }
}

impl fmt::Display for SourceRef<'_> {
    /// Formats the source as [`ListingSource`] does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceRef::Asn(asn) => write!(f, "AS{asn}"),
            SourceRef::Other(source) => source.fmt(f),
        }
    }
}

impl<'a> From<&'a Listing> for ListingRef<'a> {
    fn from(listing: &'a Listing) -> Self {
        ListingRef {
            provider: &listing.provider,
            operator: listing.operator.as_deref(),
            category: listing.category,
            source: match listing.source {
                ListingSource::Asn(asn) => SourceRef::Asn(asn),
                ref other => SourceRef::Other(other),
            },
            listed_since: listing.listed_since.as_deref(),
        }
    }
}

impl ListingRef<'_> {
    /// Returns the listing as an owned value.
    pub fn to_listing(self) -> Listing {
        Listing {
            provider: self.provider.to_string(),
            operator: self.operator.map(str::to_string),
            category: self.category,
            source: self.source.to_source(),
            listed_since: self.listed_since.map(str::to_string),
        }
    }
}

/// Errors from adding a listing to a [`ListingTable`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingTableError {
    #[error("listing refers to category index {0}, which does not fit in 32 bits")]
    CategoryIndex(usize),
    #[error("the listings' provider, operator and date texts exceed 4 GiB")]
    TextSize,
    #[error("a snapshot holds at most 2^32 listings")]
    Count,
}

impl ListingTable {
    /// Number of listings.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reserves room for `additional` more listings with about `text_bytes` bytes of
    /// provider, operator and date text in all.
    pub fn reserve_exact(&mut self, additional: usize, text_bytes: usize) {
        self.entries.reserve_exact(additional);
        self.text.reserve_exact(text_bytes);
    }

    /// Appends a listing and returns its id. Nothing is added on an error.
    pub fn push(&mut self, listing: &Listing) -> Result<ListingId, ListingTableError> {
        let category = u32::try_from(listing.category)
            .map_err(|_| ListingTableError::CategoryIndex(listing.category))?;
        let id = ListingId::try_from(self.entries.len()).map_err(|_| ListingTableError::Count)?;
        let operator = listing.operator.as_deref();
        let listed_since = listing.listed_since.as_deref();
        let provider_end = self.text.len() + listing.provider.len();
        let operator_end = provider_end + operator.map_or(0, str::len);
        let listed_since_end = operator_end + listed_since.map_or(0, str::len);

        let offset = |end: usize| u32::try_from(end).map_err(|_| ListingTableError::TextSize);
        let mut entry = Entry {
            provider_end: offset(provider_end)?,
            operator_end: offset(operator_end)?,
            listed_since_end: offset(listed_since_end)?,
            category,
            source: 0,
            flags: 0,
        };

        match &listing.source {
            ListingSource::Asn(asn) => entry.source = *asn,
            other => {
                entry.source = u32::try_from(self.other_sources.len())
                    .map_err(|_| ListingTableError::Count)?;
                entry.flags |= OTHER_SOURCE;
                self.other_sources.push(other.clone());
            }
        }

        self.text.push_str(&listing.provider);
        if let Some(operator) = operator {
            entry.flags |= HAS_OPERATOR;
            self.text.push_str(operator);
        }
        if let Some(date) = listed_since {
            entry.flags |= HAS_LISTED_SINCE;
            self.text.push_str(date);
        }
        self.entries.push(entry);
        Ok(id)
    }

    /// Releases the spare capacity of a finished table.
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.entries.shrink_to_fit();
        self.other_sources.shrink_to_fit();
    }

    /// Returns the category index of listing `id`, the only field the A records need.
    ///
    /// # Panics
    /// If `id` is not a listing of this table.
    pub fn category(&self, id: ListingId) -> usize {
        self.entries[id as usize].category as usize
    }

    /// Returns listing `id`, or `None` when there is no such listing.
    pub fn get(&self, id: ListingId) -> Option<ListingRef<'_>> {
        let index = id as usize;
        let entry = self.entries.get(index)?;
        let start = match index.checked_sub(1) {
            Some(before) => self.entries[before].listed_since_end as usize,
            None => 0,
        };
        let provider_end = entry.provider_end as usize;
        let operator_end = entry.operator_end as usize;
        let source = if entry.flags & OTHER_SOURCE == 0 {
            SourceRef::Asn(entry.source)
        } else {
            SourceRef::Other(&self.other_sources[entry.source as usize])
        };
        Some(ListingRef {
            provider: &self.text[start..provider_end],
            operator: (entry.flags & HAS_OPERATOR != 0)
                .then(|| &self.text[provider_end..operator_end]),
            category: entry.category as usize,
            source,
            listed_since: (entry.flags & HAS_LISTED_SINCE != 0)
                .then(|| &self.text[operator_end..entry.listed_since_end as usize]),
        })
    }

    /// Returns listing `id`.
    ///
    /// # Panics
    /// If `id` is not a listing of this table.
    pub fn listing(&self, id: ListingId) -> ListingRef<'_> {
        self.get(id)
            .unwrap_or_else(|| panic!("no listing {id} in a table of {} listings", self.len()))
    }

    /// Iterates over the listings in id order.
    pub fn iter(&self) -> impl Iterator<Item = ListingRef<'_>> + '_ {
        (0..self.entries.len() as ListingId).map(|id| self.listing(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(
        provider: &str,
        operator: Option<&str>,
        source: ListingSource,
        listed_since: Option<&str>,
    ) -> Listing {
        Listing {
            provider: provider.to_string(),
            operator: operator.map(str::to_string),
            category: 3,
            source,
            listed_since: listed_since.map(str::to_string),
        }
    }

    /// Every combination of present and absent strings, empty strings and each kind of
    /// source comes back as it went in.
    #[test]
    fn listing_table_round_trip() {
        let listings = [
            listing(
                "Example Hosting",
                Some("Op"),
                ListingSource::Asn(64500),
                None,
            ),
            listing("", None, ListingSource::TestEntry, Some("2024-01-02")),
            listing("é", Some(""), ListingSource::Asn(0), Some("")),
            listing(
                "Net",
                None,
                ListingSource::Netblock("192.0.2.0/24".parse().unwrap()),
                None,
            ),
            listing(
                "Dom",
                Some("Operator"),
                ListingSource::Domain("example.com".into()),
                Some("2025-12-31"),
            ),
            listing("Last", None, ListingSource::Asn(u32::MAX), None),
        ];
        let mut table = ListingTable::default();
        for (index, listing) in listings.iter().enumerate() {
            assert_eq!(table.push(listing), Ok(index as ListingId));
        }
        table.shrink_to_fit();
        assert_eq!(table.len(), listings.len());
        for (index, listing) in listings.iter().enumerate() {
            let id = index as ListingId;
            assert_eq!(table.listing(id), ListingRef::from(listing), "listing {id}");
            assert_eq!(table.listing(id).to_listing(), *listing, "listing {id}");
            assert_eq!(table.category(id), 3, "listing {id}");
        }
        assert_eq!(table.get(listings.len() as ListingId), None);
        assert_eq!(table.iter().count(), listings.len());
    }

    #[test]
    fn source_ref_display() {
        let netblock = ListingSource::Netblock("192.0.2.0/24".parse().unwrap());
        let cases = [
            (SourceRef::Asn(64500), "AS64500"),
            (SourceRef::Other(&netblock), "192.0.2.0/24"),
            (
                SourceRef::Other(&ListingSource::TestEntry),
                "RFC 5782 test entry",
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(source.to_string(), expected);
            assert_eq!(source.to_source().to_string(), expected);
        }
    }

    #[test]
    fn category_beyond_u32_rejected() {
        let mut table = ListingTable::default();
        let mut wide = listing("p", None, ListingSource::Asn(1), None);
        wide.category = usize::MAX;
        assert_eq!(
            table.push(&wide),
            Err(ListingTableError::CategoryIndex(usize::MAX))
        );
        assert!(table.is_empty());
    }
}
