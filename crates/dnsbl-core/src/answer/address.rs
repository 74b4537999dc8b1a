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

/// The labels below the apex, read as an IPv4 and as an IPv6 name.
///
/// Each value is the first address of the prefix that the labels name: the labels give
/// the most significant octets or nibbles and the rest are zero. For a full name it is
/// the address itself.
struct ParsedLabels {
    count: usize,
    /// Set when there are at most 4 labels and every one is a decimal octet.
    v4: Option<u32>,
    /// Set when there are at most 32 labels and every one is a hexadecimal digit.
    v6: Option<u128>,
}

impl ParsedLabels {
    /// Returns the address of a full IPv4 or IPv6 name. An IPv4-mapped IPv6 name gives its
    /// IPv4 address, which is looked up in the IPv4 table and named in IPv4 form, as
    /// rbldnsd does.
    fn full_address(&self) -> Option<IpAddr> {
        match (self.count, self.v4, self.v6) {
            (IPV4_LABELS, Some(value), _) => Some(IpAddr::V4(Ipv4Addr::from(value))),
            (IPV6_LABELS, _, Some(value)) if (MAPPED_START..=MAPPED_END).contains(&value) => {
                Some(IpAddr::V4(Ipv4Addr::from(value as u32)))
            }
            (IPV6_LABELS, _, Some(value)) => Some(IpAddr::V6(Ipv6Addr::from(value))),
            _ => None,
        }
    }
}

/// Parses the labels below the apex, leftmost first as they appear in the name.
///
/// The label count decides which forms are read: names of at most 4 labels both ways,
/// names of 5 to 32 labels only as nibbles, and longer names neither way.
fn parse<'a>(labels: impl ExactSizeIterator<Item = &'a [u8]>) -> ParsedLabels {
    let count = labels.len();
    let (v4, v6) = if count <= IPV4_LABELS {
        parse_both(labels)
    } else if count <= IPV6_LABELS {
        (None, parse_nibbles(labels))
    } else {
        (None, None)
    };
    ParsedLabels { count, v4, v6 }
}

/// Reads up to 4 labels both as octets and as nibbles, because a name of single decimal
/// digits is both.
fn parse_both<'a>(labels: impl Iterator<Item = &'a [u8]>) -> (Option<u32>, Option<u128>) {
    let mut v4 = Some(0);
    let mut v6 = Some(0);
    for label in labels {
        match parse_nibble(label) {
            // A single decimal digit is an octet of the same value.
            Some(nibble) => {
                v4 = v4
                    .filter(|_| nibble < 10)
                    .map(|value| push_octet(value, nibble));
                v6 = v6.map(|value| push_nibble(value, nibble));
            }
            None => {
                v4 = v4
                    .zip(parse_octet(label))
                    .map(|(value, octet)| push_octet(value, octet));
                v6 = None;
            }
        }
    }
    (v4, v6)
}

fn parse_nibbles<'a>(mut labels: impl Iterator<Item = &'a [u8]>) -> Option<u128> {
    labels.try_fold(0, |value, label| {
        Some(push_nibble(value, parse_nibble(label)?))
    })
}

/// Puts `octet` above the octets read so far. The leftmost label is the least significant,
/// so after the last label the octets read fill the top of the value.
fn push_octet(value: u32, octet: u8) -> u32 {
    value >> 8 | u32::from(octet) << 24
}

/// Puts `nibble` above the nibbles read so far, as [`push_octet`] does.
fn push_nibble(value: u128, nibble: u8) -> u128 {
    value >> 4 | u128::from(nibble) << 124
}

/// Parses a decimal octet of 1 to 3 digits. Leading zeros are accepted (`002` is 2), as
/// rbldnsd does, because the value stays unambiguous.
fn parse_octet(label: &[u8]) -> Option<u8> {
    let digit = |byte: u8| {
        let value = byte.wrapping_sub(b'0');
        (value < 10).then_some(value)
    };
    match *label {
        [ones] => digit(ones),
        [tens, ones] => Some(digit(tens)? * 10 + digit(ones)?),
        [hundreds, tens, ones] => {
            let below_hundred = digit(tens)? * 10 + digit(ones)?;
            u8::try_from(u16::from(digit(hundreds)?) * 100 + u16::from(below_hundred)).ok()
        }
        _ => None,
    }
}

/// Parses one hexadecimal digit, either case.
fn parse_nibble(label: &[u8]) -> Option<u8> {
    match *label {
        [digit @ b'0'..=b'9'] => Some(digit - b'0'),
        [digit @ b'a'..=b'f'] => Some(digit - b'a' + 10),
        [digit @ b'A'..=b'F'] => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Parses the labels below the apex of an address zone and returns the address they name
/// when they are a full IPv4 or IPv6 name, as [`ParsedLabels::full_address`] does.
pub(super) fn full_address<'a>(labels: impl ExactSizeIterator<Item = &'a [u8]>) -> Option<IpAddr> {
    parse(labels).full_address()
}

/// Looks up the labels below the apex of an address zone.
pub(super) fn lookup<'z, 'a>(
    zone: &'z Zone,
    labels: impl ExactSizeIterator<Item = &'a [u8]>,
) -> Lookup<'z> {
    let parsed = parse(labels);
    if let Some(address) = parsed.full_address() {
        let listings = match address {
            IpAddr::V4(v4) => zone.v4.lookup(u32::from(v4)),
            IpAddr::V6(v6) => zone.v6.lookup(u128::from(v6)),
        };
        if let Some(ids) = listings {
            return Lookup::Listed {
                listings: Cow::Borrowed(ids),
                query: QueryText::Address(address),
            };
        }
    }
    // An unlisted full IPv6 name is not found. An unlisted IPv4 name of 4 single digits
    // is still an IPv6 prefix.
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
    if let Some(low) = parsed.v4
        && parsed.count < IPV4_LABELS
    {
        let host_bits = 8 * (IPV4_LABELS - parsed.count) as u32;
        let high = low | (u32::MAX >> (32 - host_bits));
        if zone.v4.intersects(low, high) {
            return true;
        }
    }
    if let Some(low) = parsed.v6
        && parsed.count < IPV6_LABELS
    {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::tests::nibbles;

    /// Parses a name below the apex written as text, such as `2.0.192`.
    fn parse_text(name: &str) -> ParsedLabels {
        let labels: Vec<&[u8]> = if name.is_empty() {
            Vec::new()
        } else {
            name.split('.').map(str::as_bytes).collect()
        };
        parse(labels.into_iter())
    }

    fn full(name: &str) -> Option<IpAddr> {
        parse_text(name).full_address()
    }

    fn nibble_name(address: &str) -> String {
        nibbles(address, IPV6_LABELS)
    }

    fn v4(text: &str) -> Option<IpAddr> {
        Some(IpAddr::V4(text.parse().unwrap()))
    }

    fn v6(text: &str) -> Option<IpAddr> {
        Some(IpAddr::V6(text.parse().unwrap()))
    }

    #[test]
    fn full_ipv4_names() {
        let cases = [
            ("4.3.2.1", v4("1.2.3.4")),
            ("002.2.0.192", v4("192.0.2.2")),
            ("000.00.0.10", v4("10.0.0.0")),
            ("255.255.255.255", v4("255.255.255.255")),
            ("9.99.199.249", v4("249.199.99.9")),
            ("256.0.0.10", None),
            ("0.0.0.300", None),
            ("999.0.0.10", None),
            ("0001.0.0.10", None),
            ("1x.0.0.10", None),
            ("x1.0.0.10", None),
            ("1x1.0.0.10", None),
            // The bytes on either side of the decimal digits.
            ("/.0.0.10", None),
            (":.0.0.10", None),
            ("a.0.0.10", None),
            ("-1.0.0.10", None),
            ("+1.0.0.10", None),
            ("2.0.192", None),
            ("1.2.0.192.0", None),
        ];
        for (name, expected) in cases {
            assert_eq!(full(name), expected, "{name}");
        }
    }

    #[test]
    fn full_ipv6_names() {
        let address = nibble_name("2001:db8:abcd:ef01:2345:6789:abcd:ef01");
        let cases = [
            (
                address.clone(),
                v6("2001:db8:abcd:ef01:2345:6789:abcd:ef01"),
            ),
            (
                address.to_uppercase(),
                v6("2001:db8:abcd:ef01:2345:6789:abcd:ef01"),
            ),
            (nibble_name("::"), v6("::")),
            (
                nibble_name("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ),
            // IPv4-mapped names give the IPv4 address, up to both ends of ::ffff:0:0/96.
            (nibble_name("::ffff:203.0.113.9"), v4("203.0.113.9")),
            (nibble_name("::ffff:0.0.0.0"), v4("0.0.0.0")),
            (nibble_name("::ffff:255.255.255.255"), v4("255.255.255.255")),
            (nibble_name("::fffe:ffff:ffff"), v6("::fffe:ffff:ffff")),
            (nibble_name("::1:0:0:0"), v6("::1:0:0:0")),
            (format!("0.{address}"), None),
            (address[2..].to_string(), None),
        ];
        for (name, expected) in cases {
            assert_eq!(full(&name), expected, "{name}");
        }
    }

    /// Checks that a letter outside `a`-`f` and `A`-`F`, or a label of more than one byte,
    /// in place of the first nibble makes a 32-label name invalid.
    #[test]
    fn invalid_nibbles() {
        let address = nibble_name("2001:db8::1");
        for label in ["g", "G", "@", "`", "/", ":", "00", "1f"] {
            let name = format!("{label}{}", &address[1..]);
            assert_eq!(full(&name), None, "{name}");
        }
        for label in ["a", "A", "f", "F"] {
            let name = format!("{label}{}", &address[1..]);
            assert!(full(&name).is_some(), "{name}");
        }
    }

    /// Checks the first address of each prefix: the labels fill the most significant
    /// octets or nibbles.
    #[test]
    fn prefix_values() {
        let cases: [(&str, Option<u32>, Option<u128>); 10] = [
            ("", Some(0), Some(0)),
            ("192", Some(0xc000_0000), None),
            ("0.192", Some(0xc000_0000), None),
            ("2.0.192", Some(0xc000_0200), None),
            ("2", Some(0x0200_0000), Some(0x2 << 124)),
            ("0.0.2", Some(0x0200_0000), Some(0x200 << 116)),
            ("1.0.0.2", Some(0x0200_0001), Some(0x2001 << 112)),
            ("a", None, Some(0xa << 124)),
            ("8.B.d.0", None, Some(0x0db8 << 112)),
            ("5.4.3.2.1", None, Some(0x12345 << 108)),
        ];
        for (name, v4, v6) in cases {
            let parsed = parse_text(name);
            assert_eq!(parsed.v4, v4, "{name}: IPv4");
            assert_eq!(parsed.v6, v6, "{name}: IPv6");
        }
    }

    #[test]
    fn prefix_counts() {
        assert_eq!(parse_text("").count, 0);
        assert_eq!(parse_text("2.0.192").count, 3);
        let too_long = format!("0.{}", nibble_name("2001:db8::1"));
        let parsed = parse_text(&too_long);
        assert_eq!(parsed.count, 33);
        assert_eq!(parsed.v4, None);
        assert_eq!(parsed.v6, None);
    }
}
