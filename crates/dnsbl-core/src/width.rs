//! The maximum width of one address range that ingest and the register accept.
//!
//! A single row or netblock that covers a large part of the address space is almost always
//! a broken file or a typo (`0.0.0.0/0`, `::/0`), and listing it would return "listed" for
//! most of the Internet. The defaults come from the widest rows of real routing data (the
//! npm package `@ip-location-db/asn`, 2026): the widest IPv4 row is
//! 28.4.61.0-30.255.255.255 (about 50 million addresses, between a /7 and a /6) and the
//! widest IPv6 row is 2002::/16 (6to4).

use std::fmt;

use crate::AddrRange;

/// The shortest prefix length, per family, whose size a single range may reach.
///
/// A range is too wide when it contains more addresses than a prefix of that length, so
/// with the default a range of 2^26 IPv4 addresses passes and one of 2^26 + 1 fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeLimit {
    /// Prefix length 0 to 32; 0 allows every IPv4 range.
    pub max_v4_prefix: u8,
    /// Prefix length 0 to 128; 0 allows every IPv6 range.
    pub max_v6_prefix: u8,
}

impl RangeLimit {
    /// IPv4 ranges up to the size of a /6 and IPv6 ranges up to the size of a /16.
    pub const DEFAULT: RangeLimit = RangeLimit {
        max_v4_prefix: 6,
        max_v6_prefix: 16,
    };

    /// Accepts every range, including all of IPv4 or IPv6.
    pub const NONE: RangeLimit = RangeLimit {
        max_v4_prefix: 0,
        max_v6_prefix: 0,
    };

    /// Returns whether `range` is no wider than a prefix of the configured length. Prefix
    /// lengths above the family's width are read as the full width (a single address).
    pub fn allows(&self, range: &AddrRange) -> bool {
        let (bits, prefix) = match range {
            AddrRange::V4 { .. } => (32u32, u32::from(self.max_v4_prefix).min(32)),
            AddrRange::V6 { .. } => (128u32, u32::from(self.max_v6_prefix).min(128)),
        };
        let host_bits = bits - prefix;
        if host_bits >= 128 {
            return true;
        }
        // `len` saturates at u128::MAX for all of IPv6, which only a prefix of 0 allows.
        range.len() <= 1u128 << host_bits
    }

    /// Returns the prefix length that `range` must not exceed, as `/N`.
    pub fn max_prefix_for(&self, range: &AddrRange) -> u8 {
        match range {
            AddrRange::V4 { .. } => self.max_v4_prefix,
            AddrRange::V6 { .. } => self.max_v6_prefix,
        }
    }

    /// Returns an error message for a range that [`allows`](Self::allows) rejects.
    pub fn message(&self, range: &AddrRange) -> String {
        let family = if range.is_ipv4() { "IPv4" } else { "IPv6" };
        format!(
            "range is wider than the maximum {family} size /{}; pass --allow-wide-ranges \
             or a smaller --max-prefix-{} if it is real",
            self.max_prefix_for(range),
            if range.is_ipv4() { "v4" } else { "v6" }
        )
    }
}

impl Default for RangeLimit {
    fn default() -> Self {
        RangeLimit::DEFAULT
    }
}

impl fmt::Display for RangeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv4 /{}, IPv6 /{}",
            self.max_v4_prefix, self.max_v6_prefix
        )
    }
}

/// Rejects a listed domain of one label. A listed domain covers all its subdomains, so
/// `com` would list every name under a top-level domain; like a `0.0.0.0/0` netblock,
/// that is a typo rather than a listing. `domain` is lower case without a trailing dot.
pub fn check_listed_domain(domain: &str) -> Result<(), String> {
    if domain.contains('.') {
        Ok(())
    } else {
        Err(format!(
            "{domain:?} is a top-level domain, and listing it would list every name under \
             it; list the registered domain, such as example.{domain}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_by_family() {
        let cases = [
            ("0.0.0.0/0", RangeLimit::DEFAULT, false),
            ("::/0", RangeLimit::DEFAULT, false),
            ("0.0.0.0/0", RangeLimit::NONE, true),
            ("::/0", RangeLimit::NONE, true),
            ("4.0.0.0/6", RangeLimit::DEFAULT, true),
            ("0.0.0.0/5", RangeLimit::DEFAULT, false),
            ("28.4.61.0-30.255.255.255", RangeLimit::DEFAULT, true),
            ("4.0.0.0-8.0.0.0", RangeLimit::DEFAULT, false),
            ("2002::/16", RangeLimit::DEFAULT, true),
            ("2000::/15", RangeLimit::DEFAULT, false),
            (
                "10.0.0.0/8",
                RangeLimit {
                    max_v4_prefix: 8,
                    max_v6_prefix: 16,
                },
                true,
            ),
            (
                "10.0.0.0/7",
                RangeLimit {
                    max_v4_prefix: 8,
                    max_v6_prefix: 16,
                },
                false,
            ),
            (
                "192.0.2.1",
                RangeLimit {
                    max_v4_prefix: 40,
                    max_v6_prefix: 200,
                },
                true,
            ),
            (
                "192.0.2.0/31",
                RangeLimit {
                    max_v4_prefix: 32,
                    max_v6_prefix: 128,
                },
                false,
            ),
        ];
        for (text, limit, expected) in cases {
            let range: AddrRange = text.parse().unwrap();
            assert_eq!(limit.allows(&range), expected, "{text} with {limit}");
        }
    }

    #[test]
    fn message_names_family_and_limit() {
        let range: AddrRange = "::/0".parse().unwrap();
        let message = RangeLimit::DEFAULT.message(&range);
        assert!(
            message.starts_with("range is wider than the maximum IPv6 size /16"),
            "{message}"
        );
        assert!(message.contains("--max-prefix-v6"), "{message}");
    }
}
