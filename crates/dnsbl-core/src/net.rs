//! Inclusive address ranges and the netblock syntax of the register.
//!
//! A netblock is written as a CIDR prefix (`192.0.2.0/24`, `2001:db8::/32`), an inclusive
//! range (`192.0.2.10-192.0.2.20`) or a single address. Ranges are kept as integers so that
//! merging, subtracting and searching are plain comparisons.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;

/// An inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddrRange {
    V4 { start: u32, end: u32 },
    V6 { start: u128, end: u128 },
}

/// Errors from parsing a netblock or an address range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetblockError {
    #[error("invalid address or netblock {0:?}: expected an address, a CIDR prefix or a range a-b")]
    Syntax(String),
    #[error("invalid CIDR prefix {0:?}: host bits are set; did you mean {1}?")]
    HostBits(String, IpNet),
    #[error("invalid range {0:?}: start is after end")]
    Reversed(String),
    #[error("invalid range {0:?}: start and end are of different address families")]
    MixedFamilies(String),
    #[error("invalid address or netblock {0:?}: remove the spaces around it")]
    Whitespace(String),
}

impl AddrRange {
    /// Builds a range from two addresses of the same family, start not after end.
    pub fn from_addrs(start: IpAddr, end: IpAddr) -> Option<Self> {
        match (start, end) {
            (IpAddr::V4(s), IpAddr::V4(e)) if s <= e => Some(AddrRange::V4 {
                start: s.into(),
                end: e.into(),
            }),
            (IpAddr::V6(s), IpAddr::V6(e)) if s <= e => Some(AddrRange::V6 {
                start: s.into(),
                end: e.into(),
            }),
            _ => None,
        }
    }

    /// The range covering exactly one address.
    pub fn single(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => AddrRange::V4 {
                start: a.into(),
                end: a.into(),
            },
            IpAddr::V6(a) => AddrRange::V6 {
                start: a.into(),
                end: a.into(),
            },
        }
    }

    /// The range covered by a CIDR prefix.
    pub fn from_net(net: IpNet) -> Self {
        match net {
            IpNet::V4(n) => AddrRange::V4 {
                start: n.network().into(),
                end: n.broadcast().into(),
            },
            IpNet::V6(n) => AddrRange::V6 {
                start: n.network().into(),
                end: n.broadcast().into(),
            },
        }
    }

    pub fn start(&self) -> IpAddr {
        match *self {
            AddrRange::V4 { start, .. } => IpAddr::V4(Ipv4Addr::from(start)),
            AddrRange::V6 { start, .. } => IpAddr::V6(Ipv6Addr::from(start)),
        }
    }

    pub fn end(&self) -> IpAddr {
        match *self {
            AddrRange::V4 { end, .. } => IpAddr::V4(Ipv4Addr::from(end)),
            AddrRange::V6 { end, .. } => IpAddr::V6(Ipv6Addr::from(end)),
        }
    }

    pub fn is_ipv4(&self) -> bool {
        matches!(self, AddrRange::V4 { .. })
    }

    /// Number of addresses in the range, saturating at `u128::MAX` for all of IPv6.
    pub fn len(&self) -> u128 {
        match *self {
            AddrRange::V4 { start, end } => u128::from(end - start) + 1,
            AddrRange::V6 { start, end } => (end - start).saturating_add(1),
        }
    }

    /// Always false: a range holds at least one address. Present for clippy's `len` rule.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        match (*self, addr) {
            (AddrRange::V4 { start, end }, IpAddr::V4(a)) => (start..=end).contains(&u32::from(a)),
            (AddrRange::V6 { start, end }, IpAddr::V6(a)) => (start..=end).contains(&u128::from(a)),
            _ => false,
        }
    }

    /// Returns the part of an IPv6 range inside ::ffff:0:0/96 as the IPv4 range it maps,
    /// or `None` for an IPv4 range and an IPv6 range outside ::ffff:0:0/96.
    pub fn mapped_v4_part(&self) -> Option<AddrRange> {
        match *self {
            AddrRange::V6 { start, end } if end >= MAPPED_START && start <= MAPPED_END => {
                Some(AddrRange::V4 {
                    start: (start.max(MAPPED_START) - MAPPED_START) as u32,
                    end: (end.min(MAPPED_END) - MAPPED_START) as u32,
                })
            }
            _ => None,
        }
    }
}

/// The first and last IPv4-mapped IPv6 address, ::ffff:0:0/96 (RFC 4291 §2.5.5.2).
pub(crate) const MAPPED_START: u128 = 0xffff << 32;
pub(crate) const MAPPED_END: u128 = MAPPED_START | 0xffff_ffff;

impl fmt::Display for AddrRange {
    /// Writes the range as a CIDR prefix when it is one, else as `start-end`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(net) = self.as_net() {
            return write!(f, "{net}");
        }
        if self.start() == self.end() {
            return write!(f, "{}", self.start());
        }
        write!(f, "{}-{}", self.start(), self.end())
    }
}

impl AddrRange {
    /// The CIDR prefix equal to this range, if there is one.
    pub fn as_net(&self) -> Option<IpNet> {
        let (start, end, bits) = match *self {
            AddrRange::V4 { start, end } => (u128::from(start), u128::from(end), 32u32),
            AddrRange::V6 { start, end } => (start, end, 128u32),
        };
        let size = (end - start).checked_add(1);
        let host_bits = match size {
            None => 128,
            Some(n) if n.is_power_of_two() => n.trailing_zeros(),
            Some(_) => return None,
        };
        if host_bits < 128 && start & ((1u128 << host_bits) - 1) != 0 {
            return None;
        }
        let prefix = u8::try_from(bits - host_bits).ok()?;
        IpNet::new(self.start(), prefix).ok()
    }
}

impl FromStr for AddrRange {
    type Err = NetblockError;

    /// Parses a CIDR prefix, an inclusive range `a-b` or a single address.
    ///
    /// A prefix with host bits set (`192.0.2.1/24`) is rejected, because it usually means a
    /// typing mistake and silently widening it would list addresses nobody meant to list.
    /// Whitespace around the value is rejected for the same reason; around the `-` of a
    /// range it is allowed.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let value = text.trim();
        if value.len() != text.len() && !value.is_empty() {
            return Err(NetblockError::Whitespace(text.to_string()));
        }
        let syntax = || NetblockError::Syntax(text.to_string());
        if let Some((start, end)) = value.split_once('-') {
            let start: IpAddr = start.trim().parse().map_err(|_| syntax())?;
            let end: IpAddr = end.trim().parse().map_err(|_| syntax())?;
            if start.is_ipv4() != end.is_ipv4() {
                return Err(NetblockError::MixedFamilies(text.to_string()));
            }
            return AddrRange::from_addrs(start, end)
                .ok_or_else(|| NetblockError::Reversed(text.to_string()));
        }
        if value.contains('/') {
            let net: IpNet = value.parse().map_err(|_| syntax())?;
            if net.trunc() != net {
                return Err(NetblockError::HostBits(text.to_string(), net.trunc()));
            }
            return Ok(AddrRange::from_net(net));
        }
        let addr: IpAddr = value.parse().map_err(|_| syntax())?;
        Ok(AddrRange::single(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> AddrRange {
        text.parse().unwrap()
    }

    #[test]
    fn parse_netblock_forms() {
        assert_eq!(
            range("192.0.2.0/24"),
            AddrRange::V4 {
                start: 0xC000_0200,
                end: 0xC000_02FF
            }
        );
        assert_eq!(
            range("192.0.2.10 - 192.0.2.20"),
            AddrRange::V4 {
                start: 0xC000_020A,
                end: 0xC000_0214
            }
        );
        assert_eq!(
            range("192.0.2.7"),
            AddrRange::V4 {
                start: 0xC000_0207,
                end: 0xC000_0207
            }
        );
        assert_eq!(
            range("2001:db8::/32"),
            AddrRange::V6 {
                start: 0x2001_0db8 << 96,
                end: (0x2001_0db8 << 96) | ((1u128 << 96) - 1)
            }
        );
        assert_eq!(range("0.0.0.0/0").len(), 1 << 32);
        assert_eq!(range("::/0").len(), u128::MAX);
    }

    #[test]
    fn parse_netblock_errors() {
        let cases = [
            ("192.0.2.0/33", NetblockError::Syntax("192.0.2.0/33".into())),
            ("example.com", NetblockError::Syntax("example.com".into())),
            ("", NetblockError::Syntax("".into())),
            ("192.0.2.300", NetblockError::Syntax("192.0.2.300".into())),
            (
                "192.0.2.1/24",
                NetblockError::HostBits("192.0.2.1/24".into(), "192.0.2.0/24".parse().unwrap()),
            ),
            (
                "192.0.2.9-192.0.2.1",
                NetblockError::Reversed("192.0.2.9-192.0.2.1".into()),
            ),
            (
                "192.0.2.1-2001:db8::1",
                NetblockError::MixedFamilies("192.0.2.1-2001:db8::1".into()),
            ),
            (" 10.0.0.1", NetblockError::Whitespace(" 10.0.0.1".into())),
            (
                "10.0.0.0/8\t",
                NetblockError::Whitespace("10.0.0.0/8\t".into()),
            ),
            (" ", NetblockError::Syntax(" ".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<AddrRange>(), Err(expected), "input {text:?}");
        }
    }

    #[test]
    fn display_prefers_cidr() {
        assert_eq!(range("192.0.2.0-192.0.2.255").to_string(), "192.0.2.0/24");
        assert_eq!(
            range("192.0.2.1-192.0.2.255").to_string(),
            "192.0.2.1-192.0.2.255"
        );
        assert_eq!(range("192.0.2.1").to_string(), "192.0.2.1/32");
        assert_eq!(range("::/0").to_string(), "::/0");
        assert_eq!(range("0.0.0.0/0").to_string(), "0.0.0.0/0");
    }

    #[test]
    fn contains_checks_family() {
        let net = range("10.0.0.0/8");
        assert!(net.contains("10.255.255.255".parse().unwrap()));
        assert!(!net.contains("11.0.0.0".parse().unwrap()));
        assert!(!net.contains("::ffff:10.0.0.1".parse().unwrap()));
    }
}
