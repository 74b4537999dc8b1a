//! Query names of address zones: reversed IPv4 octets (RFC 5782 §2.1) and reversed IPv6
//! nibbles (RFC 5782 §2.4), and the names above them.
//!
//! A name of 4 decimal labels is an IPv4 address and a name of 32 hexadecimal nibbles is
//! an IPv6 address. Shorter names of the same forms are prefixes of addresses, and they
//! exist as empty non-terminals when a listed address lies below them. Resolvers that
//! minimise query names (RFC 7816) and stop at NXDOMAIN (RFC 8020) then still reach the
//! listed names.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Lookup, QueryText};
use crate::net::{MAPPED_END, MAPPED_START};
use crate::snapshot::Zone;

/// Labels in a full IPv4 name.
const IPV4_LABELS: usize = 4;
/// Labels in a full IPv6 name.
const IPV6_LABELS: usize = 32;

/// The labels below the apex, read as octets and as nibbles, most significant first.
struct ParsedLabels {
    count: usize,
    /// Set while every label so far is a decimal octet and there are at most 4.
    octets: Option<[u8; IPV4_LABELS]>,
    /// Set while every label so far is one hexadecimal digit and there are at most 32.
    nibbles: Option<[u8; IPV6_LABELS]>,
}

/// Parses the labels below the apex, leftmost first as they appear in the name.
fn parse<'a>(labels: impl ExactSizeIterator<Item = &'a [u8]>) -> ParsedLabels {
    let count = labels.len();
    let mut octets = (count <= IPV4_LABELS).then_some([0u8; IPV4_LABELS]);
    let mut nibbles = (count <= IPV6_LABELS).then_some([0u8; IPV6_LABELS]);
    // The leftmost label is the least significant part, so it goes last.
    for (index, label) in labels.enumerate() {
        let position = count - 1 - index;
        if let Some(array) = octets.as_mut() {
            match parse_octet(label) {
                Some(value) => array[position] = value,
                None => octets = None,
            }
        }
        if let Some(array) = nibbles.as_mut() {
            match parse_nibble(label) {
                Some(value) => array[position] = value,
                None => nibbles = None,
            }
        }
        if octets.is_none() && nibbles.is_none() {
            break;
        }
    }
    ParsedLabels {
        count,
        octets,
        nibbles,
    }
}

/// Parses a decimal octet of 1 to 3 digits. Leading zeros are accepted (`002` is 2), as rbldnsd
/// does, because the value stays unambiguous.
fn parse_octet(label: &[u8]) -> Option<u8> {
    if label.is_empty() || label.len() > 3 || !label.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = label
        .iter()
        .fold(0u16, |value, digit| value * 10 + u16::from(digit - b'0'));
    u8::try_from(value).ok()
}

/// Parses one hexadecimal digit, either case.
fn parse_nibble(label: &[u8]) -> Option<u8> {
    match label {
        [digit] => char::from(*digit).to_digit(16).map(|value| value as u8),
        _ => None,
    }
}

/// The address that the labels below the apex of an address zone name, when they are a
/// full IPv4 or IPv6 name. An IPv4-mapped IPv6 name gives its IPv4 address, which is
/// looked up in the IPv4 table.
pub(super) fn full_address<'a>(labels: impl ExactSizeIterator<Item = &'a [u8]>) -> Option<IpAddr> {
    let parsed = parse(labels);
    match (parsed.count, parsed.octets, parsed.nibbles) {
        (IPV4_LABELS, Some(octets), _) => Some(IpAddr::V4(Ipv4Addr::from(octets))),
        (IPV6_LABELS, _, Some(nibbles)) => {
            let value = nibbles
                .iter()
                .fold(0u128, |value, &nibble| (value << 4) | u128::from(nibble));
            Some(if (MAPPED_START..=MAPPED_END).contains(&value) {
                IpAddr::V4(Ipv4Addr::from(value as u32))
            } else {
                IpAddr::V6(Ipv6Addr::from(value))
            })
        }
        _ => None,
    }
}

/// Looks up the labels below the apex of an address zone.
pub(super) fn lookup<'z, 'a>(
    zone: &'z Zone,
    labels: impl ExactSizeIterator<Item = &'a [u8]>,
) -> Lookup<'z> {
    let parsed = parse(labels);
    if let Some(octets) = parsed.octets
        && parsed.count == IPV4_LABELS
    {
        let address = Ipv4Addr::from(octets);
        if let Some(ids) = zone.v4.lookup(u32::from(address)) {
            return Lookup::Listed {
                listings: Cow::Borrowed(ids),
                query: QueryText::Address(IpAddr::V4(address)),
            };
        }
    }
    if let Some(nibbles) = parsed.nibbles
        && parsed.count == IPV6_LABELS
    {
        let value = nibbles
            .iter()
            .fold(0u128, |value, &nibble| (value << 4) | u128::from(nibble));
        let mapped = (MAPPED_START..=MAPPED_END).contains(&value);
        let listings = if mapped {
            zone.v4.lookup(value as u32)
        } else {
            zone.v6.lookup(value)
        };
        return match listings {
            // An IPv4-mapped address is named in its IPv4 form, as rbldnsd does.
            Some(ids) => Lookup::Listed {
                listings: Cow::Borrowed(ids),
                query: QueryText::Address(if mapped {
                    IpAddr::V4(Ipv4Addr::from(value as u32))
                } else {
                    IpAddr::V6(Ipv6Addr::from(value))
                }),
            },
            None => Lookup::NotFound,
        };
    }
    if has_listed_below(zone, &parsed) {
        Lookup::EmptyNonTerminal
    } else {
        Lookup::NotFound
    }
}

/// Returns whether a listed address lies below a name of fewer labels than a full address.
///
/// A name of 1 to 4 single decimal digits is both an IPv4 and an IPv6 prefix, so both
/// tables are checked. A 4-label IPv4 name that is not listed can still be an empty
/// non-terminal as an IPv6 prefix.
fn has_listed_below(zone: &Zone, parsed: &ParsedLabels) -> bool {
    if let Some(octets) = parsed.octets
        && parsed.count < IPV4_LABELS
    {
        // Octets past the name's labels are zero, so `low` is the prefix's first address.
        let low = u32::from_be_bytes(octets);
        let host_bits = 8 * (IPV4_LABELS - parsed.count) as u32;
        let high = low | (u32::MAX >> (32 - host_bits));
        if zone.v4.intersects(low, high) {
            return true;
        }
    }
    if let Some(nibbles) = parsed.nibbles
        && parsed.count < IPV6_LABELS
    {
        let low = nibbles
            .iter()
            .fold(0u128, |value, &nibble| (value << 4) | u128::from(nibble));
        let host_bits = 4 * (IPV6_LABELS - parsed.count) as u32;
        let high = low | (u128::MAX >> (128 - host_bits));
        if zone.v6.intersects(low, high) {
            return true;
        }
        let mapped_low = low.max(MAPPED_START);
        let mapped_high = high.min(MAPPED_END);
        if mapped_low <= mapped_high && zone.v4.intersects(mapped_low as u32, mapped_high as u32) {
            return true;
        }
    }
    false
}
