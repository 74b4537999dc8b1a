//! Expansion of providers into listed ranges: the routing rows of each listed ASN and each
//! netblock, merged per (provider, source), with the allow-list ranges of every zone cut out.

use std::collections::BTreeMap;

use dnsbl_core::AddrRange;
use dnsbl_store::{ListedRange, SourceKey, Update};
use rangemap::RangeInclusiveSet;

use crate::IngestError;

/// Collects ranges per (provider, source) and merges overlapping and adjacent ones.
#[derive(Debug, Default)]
pub struct Expansion {
    v4: BTreeMap<(i64, SourceKey), RangeInclusiveSet<u32>>,
    v6: BTreeMap<(i64, SourceKey), RangeInclusiveSet<u128>>,
}

/// The merged ranges and their totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpandedRanges {
    /// Sorted by provider id, source, family and start.
    pub ranges: Vec<ListedRange>,
    pub ranges_v4: u64,
    pub ranges_v6: u64,
    /// Distinct addresses covered by any provider; an address listed twice counts once.
    pub addresses_v4: u128,
    /// As `addresses_v4`, saturating at `u128::MAX` for all of IPv6.
    pub addresses_v6: u128,
}

impl Expansion {
    pub fn add(&mut self, provider_id: i64, source: SourceKey, range: AddrRange) {
        match range {
            AddrRange::V4 { start, end } => {
                self.v4
                    .entry((provider_id, source))
                    .or_default()
                    .insert(start..=end);
            }
            AddrRange::V6 { start, end } => {
                self.v6
                    .entry((provider_id, source))
                    .or_default()
                    .insert(start..=end);
            }
        }
    }

    /// Cuts `allow` out of every set and returns the remaining ranges with their totals.
    pub fn finish(mut self, allow: &[AddrRange]) -> ExpandedRanges {
        for range in allow {
            match *range {
                AddrRange::V4 { start, end } => {
                    for set in self.v4.values_mut() {
                        set.remove(start..=end);
                    }
                }
                AddrRange::V6 { start, end } => {
                    for set in self.v6.values_mut() {
                        set.remove(start..=end);
                    }
                }
            }
        }

        let mut result = ExpandedRanges::default();
        let mut spans_v4 = Vec::new();
        let mut spans_v6 = Vec::new();
        let mut keys: Vec<(i64, SourceKey)> =
            self.v4.keys().chain(self.v6.keys()).copied().collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let (provider_id, source) = key;
            for range in self.v4.get(&key).into_iter().flat_map(|set| set.iter()) {
                let (start, end) = (*range.start(), *range.end());
                spans_v4.push((start, end));
                result.ranges.push(ListedRange {
                    provider_id,
                    source,
                    range: AddrRange::V4 { start, end },
                });
            }
            for range in self.v6.get(&key).into_iter().flat_map(|set| set.iter()) {
                let (start, end) = (*range.start(), *range.end());
                spans_v6.push((start, end));
                result.ranges.push(ListedRange {
                    provider_id,
                    source,
                    range: AddrRange::V6 { start, end },
                });
            }
        }
        result.ranges_v4 = spans_v4.len() as u64;
        result.ranges_v6 = spans_v6.len() as u64;
        result.addresses_v4 = union_size(
            spans_v4
                .into_iter()
                .map(|(s, e)| (u128::from(s), u128::from(e)))
                .collect(),
        );
        result.addresses_v6 = union_size(spans_v6);
        result
    }
}

/// Number of distinct addresses in possibly overlapping inclusive spans, saturating.
fn union_size(mut spans: Vec<(u128, u128)>) -> u128 {
    spans.sort_unstable();
    let mut total: u128 = 0;
    let mut current: Option<(u128, u128)> = None;
    for (start, end) in spans {
        current = match current {
            Some((low, high)) if start <= high.saturating_add(1) => Some((low, high.max(end))),
            Some((low, high)) => {
                total = total.saturating_add((high - low).saturating_add(1));
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((low, high)) = current {
        total = total.saturating_add((high - low).saturating_add(1));
    }
    total
}

/// Totals of one expansion written to the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExpansionCounts {
    pub providers_expanded: u64,
    pub ranges_v4: u64,
    pub ranges_v6: u64,
    pub addresses_v4: u128,
    pub addresses_v6: u128,
    /// The serial after the expansion.
    pub serial: u32,
}

/// Expands every active provider from the routing rows visible inside `update` (the new
/// rows during an ingest), replaces the listed ranges, increases the serial and stores
/// the snapshot cache for it.
pub(crate) async fn expand_in(update: &mut Update) -> Result<ExpansionCounts, IngestError> {
    let input = update.expansion_input().await?;
    let mut expansion = Expansion::default();
    for provider in &input.providers {
        for netblock in &provider.netblocks {
            expansion.add(provider.id, SourceKey::Netblock(*netblock), *netblock);
        }
    }
    update
        .for_each_asn_range(|provider_id, asn, range| {
            expansion.add(provider_id, SourceKey::Asn(asn), range);
        })
        .await?;
    let expanded = expansion.finish(&input.allow_ranges);
    update.replace_listed_ranges(&expanded.ranges).await?;
    let serial = update.bump_serial().await?;
    update.write_snapshot_cache(&expanded.ranges).await?;
    let providers_expanded = input
        .providers
        .iter()
        .filter(|p| !p.asns.is_empty() || !p.netblocks.is_empty())
        .count();
    Ok(ExpansionCounts {
        providers_expanded: providers_expanded as u64,
        ranges_v4: expanded.ranges_v4,
        ranges_v6: expanded.ranges_v6,
        addresses_v4: expanded.addresses_v4,
        addresses_v6: expanded.addresses_v6,
        serial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> AddrRange {
        text.parse().unwrap()
    }

    /// Expands `(provider, source, range)` entries minus `allow`, as `(provider, source, range text)`.
    fn expand(
        entries: &[(i64, SourceKey, &str)],
        allow: &[&str],
    ) -> (Vec<(i64, SourceKey, String)>, ExpandedRanges) {
        let mut expansion = Expansion::default();
        for &(provider, source, text) in entries {
            expansion.add(provider, source, range(text));
        }
        let allow: Vec<AddrRange> = allow.iter().map(|text| range(text)).collect();
        let expanded = expansion.finish(&allow);
        let listed = expanded
            .ranges
            .iter()
            .map(|r| (r.provider_id, r.source, r.range.to_string()))
            .collect();
        (listed, expanded)
    }

    const AS1: SourceKey = SourceKey::Asn(1);
    const AS2: SourceKey = SourceKey::Asn(2);

    #[test]
    fn adjacent_and_overlapping_rows_merge() {
        let (listed, totals) = expand(
            &[
                (1, AS1, "192.0.2.0/25"),
                (1, AS1, "192.0.2.128/25"),
                (1, AS1, "198.51.100.0/24"),
                (1, AS1, "198.51.100.16/28"),
            ],
            &[],
        );
        assert_eq!(
            listed,
            [
                (1, AS1, "192.0.2.0/24".to_string()),
                (1, AS1, "198.51.100.0/24".to_string())
            ]
        );
        assert_eq!(totals.ranges_v4, 2);
        assert_eq!(totals.addresses_v4, 512);
    }

    #[test]
    fn sources_and_providers_stay_apart() {
        let netblock = SourceKey::Netblock(range("192.0.2.0/24"));
        let (listed, totals) = expand(
            &[
                (1, AS1, "192.0.2.0/25"),
                (1, AS2, "192.0.2.128/25"),
                (2, AS1, "192.0.2.0/25"),
                (1, netblock, "192.0.2.0/24"),
            ],
            &[],
        );
        assert_eq!(listed.len(), 4);
        assert!(listed.contains(&(1, AS2, "192.0.2.128/25".to_string())));
        assert!(listed.contains(&(2, AS1, "192.0.2.0/25".to_string())));
        assert!(listed.contains(&(1, netblock, "192.0.2.0/24".to_string())));
        // Every entry lies inside 192.0.2.0/24, so the distinct total is 256.
        assert_eq!(totals.addresses_v4, 256);
    }

    #[test]
    fn allow_ranges_cut_holes() {
        let (listed, totals) = expand(
            &[(1, AS1, "192.0.2.0/24"), (1, AS2, "203.0.113.0/24")],
            &["192.0.2.16/28", "203.0.113.0/24", "10.0.0.0/8"],
        );
        assert_eq!(
            listed,
            [
                (1, AS1, "192.0.2.0/28".to_string()),
                (1, AS1, "192.0.2.32-192.0.2.255".to_string())
            ]
        );
        assert_eq!(totals.addresses_v4, 256 - 16);
    }

    #[test]
    fn ipv6_ranges_merge_and_cut() {
        let (listed, totals) = expand(
            &[
                (1, AS1, "2001:db8::/33"),
                (1, AS1, "2001:db8:8000::/33"),
                (1, AS1, "192.0.2.0/24"),
            ],
            &["2001:db8:ffff::/48"],
        );
        assert_eq!(
            listed,
            [
                (1, AS1, "192.0.2.0/24".to_string()),
                (
                    1,
                    AS1,
                    "2001:db8::-2001:db8:fffe:ffff:ffff:ffff:ffff:ffff".to_string()
                )
            ]
        );
        assert_eq!(totals.ranges_v6, 1);
        assert_eq!(totals.addresses_v6, (1 << 96) - (1 << 80));
    }

    #[test]
    fn whole_address_space_saturates() {
        let (_, totals) = expand(&[(1, AS1, "::/0"), (2, AS1, "::/1")], &[]);
        assert_eq!(totals.addresses_v6, u128::MAX);
        let (_, totals) = expand(&[(1, AS1, "0.0.0.0/0")], &[]);
        assert_eq!(totals.addresses_v4, 1 << 32);
    }
}
