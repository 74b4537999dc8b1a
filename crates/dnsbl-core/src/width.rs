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

    /// Returns whether `range` is no wider than a prefix of the configured length, and
    /// whether the part of an IPv6 range inside ::ffff:0:0/96 is no wider than the IPv4
    /// limit. That part is looked up as IPv4, so `::/16` would otherwise list all of IPv4.
    /// Prefix lengths above the family's width are read as the full width.
    pub fn allows(&self, range: &AddrRange) -> bool {
        self.violation(range).is_none()
    }

    /// Returns what makes `range` too wide, or `None` when [`allows`](Self::allows) passes.
    fn violation(&self, range: &AddrRange) -> Option<WidthViolation> {
        if !self.fits(range) {
            return Some(WidthViolation::Range);
        }
        let mapped = range.mapped_v4_part()?;
        (!self.fits(&mapped)).then_some(WidthViolation::MappedPart(mapped))
    }

    /// Returns whether `range` is no wider than the limit of its own family.
    fn fits(&self, range: &AddrRange) -> bool {
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

    /// Describes why [`allows`](Self::allows) rejects `range`, without a hint at the
    /// options that change the limit.
    pub fn reason(&self, range: &AddrRange) -> String {
        match self.violation(range) {
            Some(WidthViolation::MappedPart(mapped)) => format!(
                "its ::ffff:0:0/96 part covers the IPv4 range {mapped}, wider than the \
                 maximum IPv4 size /{}",
                self.max_v4_prefix
            ),
            _ => format!(
                "range is wider than the maximum {} size /{}",
                if range.is_ipv4() { "IPv4" } else { "IPv6" },
                self.max_prefix_for(range)
            ),
        }
    }

    /// Returns an error message for a range that [`allows`](Self::allows) rejects, with
    /// the option that changes the limit it exceeds.
    pub fn message(&self, range: &AddrRange) -> String {
        let option = match self.violation(range) {
            Some(WidthViolation::MappedPart(_)) => "v4",
            _ if range.is_ipv4() => "v4",
            _ => "v6",
        };
        format!(
            "{}; pass --allow-wide-ranges or a smaller --max-prefix-{option} if it is real",
            self.reason(range)
        )
    }
}

/// The reason a range fails a [`RangeLimit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WidthViolation {
    /// The range is wider than the limit of its family.
    Range,
    /// The part of an IPv6 range inside ::ffff:0:0/96, given as the IPv4 range it maps,
    /// is wider than the IPv4 limit.
    MappedPart(AddrRange),
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
            // The part inside ::ffff:0:0/96 is looked up as IPv4 and meets the IPv4 limit.
            ("::/16", RangeLimit::DEFAULT, false),
            ("::ffff:0:0/96", RangeLimit::DEFAULT, false),
            ("::ffff:0:0/101", RangeLimit::DEFAULT, false),
            ("::ffff:0:0/102", RangeLimit::DEFAULT, true),
            ("::ffff:10.0.0.0/104", RangeLimit::DEFAULT, true),
            (
                "::fffe:ffff:ffff-::ffff:3ff:ffff",
                RangeLimit::DEFAULT,
                true,
            ),
            ("::fffe:ffff:ffff-::ffff:400:0", RangeLimit::DEFAULT, false),
            ("::/16", RangeLimit::NONE, true),
            (
                "::/16",
                RangeLimit {
                    max_v4_prefix: 0,
                    max_v6_prefix: 16,
                },
                true,
            ),
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

    #[test]
    fn message_names_mapped_part() {
        let range: AddrRange = "::/16".parse().unwrap();
        assert_eq!(
            RangeLimit::DEFAULT.message(&range),
            "its ::ffff:0:0/96 part covers the IPv4 range 0.0.0.0/0, wider than the maximum \
             IPv4 size /6; pass --allow-wide-ranges or a smaller --max-prefix-v4 if it is real"
        );
        let range: AddrRange = "::ffff:0:0/100".parse().unwrap();
        assert_eq!(
            RangeLimit::DEFAULT.reason(&range),
            "its ::ffff:0:0/96 part covers the IPv4 range 0.0.0.0/4, wider than the maximum \
             IPv4 size /6"
        );
    }
}
