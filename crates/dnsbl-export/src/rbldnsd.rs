//! rbldnsd data files (rbldnsd(8), version 1.0pre (snapshot 20210120) in Debian package rbldnsd): `ip4set` for IPv4,
//! `ip6trie` for IPv6, `dnset` for domain zones.
//!
//! Each file starts with `$SOA`, `$NS` and `$TTL` lines, so a mirror answers the apex and
//! negative answers like the live server. Every line after them is one listing of one
//! range or domain, with its own A value and TXT template (`range :code:text`). The TXT
//! `{query}` placeholder becomes rbldnsd's `$`, which rbldnsd replaces with the address or
//! domain asked about; a literal `$` is written `$$`.
//!
//! Address ranges are the disjoint segments of the snapshot, so allow-list holes are
//! already cut and no `!` exclusion lines are needed. `ip6trie` takes CIDR prefixes only,
//! so IPv6 segments are split into prefixes. The IPv4 listings are repeated as
//! ::ffff:0:0/96 prefixes in the `ip6trie` file, because the live server answers
//! IPv4-mapped IPv6 names from them. How rbldnsd answers differently from the live server
//! is listed in [`crate::RBLDNSD_DIFFERENCES`].

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use dnsbl_core::answer::{answer_codes, answer_texts};
use dnsbl_core::model::AnswerStyle;
use dnsbl_core::snapshot::Zone;
use dnsbl_core::{ListingId, Snapshot};

use crate::combined::zone_domain_entries;
use crate::domain::DomainEntry;

/// Start of ::ffff:0:0/96, the IPv4-mapped IPv6 addresses (RFC 4291 §2.5.5.2).
const MAPPED_START: u128 = 0xffff << 32;

/// A placeholder character that cannot appear in a register template after rendering.
const QUERY_MARK: &str = "\u{0}";

/// Builds the header lines shared by every dataset of a zone.
pub fn header(zone: &Zone) -> String {
    let spec = &zone.spec;
    let soa = &spec.soa;
    let mut text = String::new();
    let _ = writeln!(text, "# zone {}, written by dnsbl export", spec.name);
    let _ = writeln!(
        text,
        "$SOA {} {} {} {} {} {} {} {}",
        soa.ttl,
        with_dot(&soa.mname),
        with_dot(&soa.rname),
        zone_serial(zone),
        soa.refresh,
        soa.retry,
        soa.expire,
        soa.minimum
    );
    let servers: Vec<String> = spec.ns.iter().map(|server| with_dot(server)).collect();
    let _ = writeln!(text, "$NS {} {}", spec.ns_ttl, servers.join(" "));
    let _ = writeln!(text, "$TTL {}", spec.ttl);
    text
}

fn zone_serial(zone: &Zone) -> u32 {
    match &zone.records.soa.data {
        hickory_proto::rr::RData::SOA(soa) => soa.serial,
        _ => 0,
    }
}

fn with_dot(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// Builds the `ip4set` dataset of an address zone and counts its data lines.
pub fn ip4set(snapshot: &Snapshot, zone: &Zone) -> (String, usize) {
    let mut text = header(zone);
    let mut lines = 0;
    for (start, end, ids) in zone.v4.segments() {
        let range = format!("{}-{}", Ipv4Addr::from(start), Ipv4Addr::from(end));
        lines += push_values(&mut text, snapshot, zone, &range, ids);
    }
    (text, lines)
}

/// Builds the `ip6trie` dataset of an address zone, with the IPv4 listings as IPv4-mapped
/// prefixes.
pub fn ip6trie(snapshot: &Snapshot, zone: &Zone) -> (String, usize) {
    let mut text = header(zone);
    let mut lines = 0;
    let mut segments: Vec<(u128, u128, &[ListingId])> = zone.v6.segments().collect();
    segments.extend(zone.v4.segments().map(|(start, end, ids)| {
        (
            MAPPED_START + u128::from(start),
            MAPPED_START + u128::from(end),
            ids,
        )
    }));
    segments.sort_unstable_by_key(|segment| segment.0);
    for (start, end, ids) in segments {
        for (network, length) in cidr_cover(start, end) {
            let prefix = format!("{}/{length}", full_ipv6(network));
            lines += push_values(&mut text, snapshot, zone, &prefix, ids);
        }
    }
    (text, lines)
}

/// Builds the `dnset` dataset of a domain zone: `.domain` lists a domain with its subdomains,
/// a bare `domain` (the RFC 5782 `test` entry) that name only, and `!.domain` removes an
/// allow-listed domain with its subdomains.
pub fn dnset(snapshot: &Snapshot, zone: &Zone) -> (String, usize) {
    let mut text = header(zone);
    let mut lines = 0;
    let entries = zone_domain_entries(snapshot, zone);
    let with_wildcard: std::collections::HashSet<&str> = entries
        .iter()
        .filter_map(|entry| match entry {
            DomainEntry::Listed {
                domain,
                wildcard: true,
                ..
            } => Some(domain.as_str()),
            _ => None,
        })
        .collect();
    for entry in &entries {
        match entry {
            DomainEntry::Listed { wildcard: true, .. } => {}
            DomainEntry::Listed {
                domain,
                wildcard: false,
                listings,
            } => {
                let key = if with_wildcard.contains(domain.as_str()) {
                    format!(".{domain}")
                } else {
                    domain.clone()
                };
                lines += push_values(&mut text, snapshot, zone, &key, listings);
            }
            DomainEntry::Excluded { domain } => {
                let _ = writeln!(text, "!.{domain}");
                lines += 1;
            }
        }
    }
    (text, lines)
}

/// Writes one line per distinct (code, text) of a listing set; returns the line count.
fn push_values(
    text: &mut String,
    snapshot: &Snapshot,
    zone: &Zone,
    key: &str,
    ids: &[ListingId],
) -> usize {
    // In the multi style the live server answers one code that ORs the categories, so
    // every line of the set carries that code.
    let multi_code = match zone.spec.style {
        AnswerStyle::Multi => answer_codes(snapshot, &zone.spec, ids).first().copied(),
        AnswerStyle::Zen => None,
    };
    let mut written: Vec<(Ipv4Addr, String)> = Vec::with_capacity(ids.len());
    for &id in ids {
        let category = &snapshot.categories[snapshot.listings.category(id)];
        let rendered = answer_texts(snapshot, &zone.spec, &[id], QUERY_MARK);
        let template = rendered
            .first()
            .map(String::as_str)
            .unwrap_or_default()
            .replace('$', "$$")
            .replace(QUERY_MARK, "$")
            .replace(['\n', '\r'], " ");
        let value = (multi_code.unwrap_or(category.code), template);
        if !written.contains(&value) {
            written.push(value);
        }
    }
    for (code, template) in &written {
        let _ = writeln!(text, "{key} :{code}:{template}");
    }
    written.len()
}

/// Formats an IPv6 address as eight hexadecimal groups: rbldnsd 1.0pre rejects the dotted
/// IPv4-mapped form (`::ffff:192.0.2.1`) that `Ipv6Addr` displays.
fn full_ipv6(value: u128) -> String {
    let groups: Vec<String> = Ipv6Addr::from(value)
        .segments()
        .iter()
        .map(|group| format!("{group:x}"))
        .collect();
    groups.join(":")
}

/// Returns the CIDR prefixes that exactly cover `start..=end`, in address order.
pub fn cidr_cover(mut start: u128, end: u128) -> Vec<(u128, u32)> {
    let mut prefixes = Vec::new();
    loop {
        // The largest aligned block at `start` that does not pass `end`.
        let mut host_bits = if start == 0 {
            128
        } else {
            start.trailing_zeros()
        };
        while host_bits > 0 {
            let last = start | (u128::MAX >> (128 - host_bits));
            if last <= end {
                break;
            }
            host_bits -= 1;
        }
        prefixes.push((start, 128 - host_bits));
        let last = if host_bits == 0 {
            start
        } else {
            start | (u128::MAX >> (128 - host_bits))
        };
        if last >= end {
            return prefixes;
        }
        start = last + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// First address, last address, expected prefixes.
    type CoverCase = (u128, u128, &'static [(u128, u32)]);

    #[test]
    fn cidr_cover_cases() {
        let cases: [CoverCase; 4] = [
            (0, u128::MAX, &[(0, 0)]),
            (16, 31, &[(16, 124)]),
            (15, 32, &[(15, 128), (16, 124), (32, 128)]),
            (u128::MAX, u128::MAX, &[(u128::MAX, 128)]),
        ];
        for (start, end, expected) in cases {
            assert_eq!(cidr_cover(start, end), expected, "{start}..={end}");
        }
    }
}
