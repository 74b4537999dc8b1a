//! Summaries of ingest and expansion runs, for logs and the command line.

use std::fmt;

/// The result of [`crate::ingest`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IngestSummary {
    pub files: usize,
    /// Routing rows read, per family.
    pub rows_v4: u64,
    pub rows_v6: u64,
    /// Active providers with at least one ASN or netblock.
    pub providers_expanded: u64,
    /// Listed ranges written, per family.
    pub ranges_v4: u64,
    pub ranges_v6: u64,
    /// Distinct addresses covered by the listed ranges, per family.
    pub addresses_v4: u128,
    pub addresses_v6: u128,
    /// The serial after the ingest.
    pub serial: u32,
    pub seconds: f64,
}

/// The result of [`crate::expand`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExpandSummary {
    /// Active providers with at least one ASN or netblock.
    pub providers_expanded: u64,
    pub ranges_v4: u64,
    pub ranges_v6: u64,
    pub addresses_v4: u128,
    pub addresses_v6: u128,
    /// The serial after the expansion.
    pub serial: u32,
    pub seconds: f64,
}

fn write_listed(f: &mut fmt::Formatter<'_>, summary: &ExpandSummary) -> fmt::Result {
    write!(
        f,
        "{} providers expanded into {} IPv4 ranges ({} addresses) and {} IPv6 ranges ({}); serial {}",
        summary.providers_expanded,
        summary.ranges_v4,
        summary.addresses_v4,
        summary.ranges_v6,
        ipv6_size(summary.addresses_v6),
        summary.serial
    )
}

/// Describes an IPv6 address count in /64 networks, the unit operators think in, once it
/// reaches one /64.
fn ipv6_size(addresses: u128) -> String {
    let networks = addresses >> 64;
    if networks == 0 {
        format!("{addresses} addresses")
    } else {
        format!("{networks} /64 networks")
    }
}

impl fmt::Display for ExpandSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_listed(f, self)?;
        write!(f, " in {:.2} s", self.seconds)
    }
}

impl fmt::Display for IngestSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {} IPv4 and {} IPv6 routing rows from {} files; ",
            self.rows_v4, self.rows_v6, self.files
        )?;
        write_listed(f, &self.expansion())?;
        write!(f, " in {:.2} s", self.seconds)
    }
}

impl IngestSummary {
    /// Returns the expansion part of the summary.
    pub fn expansion(&self) -> ExpandSummary {
        ExpandSummary {
            providers_expanded: self.providers_expanded,
            ranges_v4: self.ranges_v4,
            ranges_v6: self.ranges_v6,
            addresses_v4: self.addresses_v4,
            addresses_v6: self.addresses_v6,
            serial: self.serial,
            seconds: self.seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_summary_display() {
        let summary = IngestSummary {
            files: 2,
            rows_v4: 10,
            rows_v6: 3,
            providers_expanded: 1,
            ranges_v4: 4,
            ranges_v6: 1,
            addresses_v4: 1024,
            addresses_v6: 1 << 80,
            serial: 7,
            seconds: 0.5,
        };
        assert_eq!(
            summary.to_string(),
            "read 10 IPv4 and 3 IPv6 routing rows from 2 files; 1 providers expanded into \
             4 IPv4 ranges (1024 addresses) and 1 IPv6 ranges (65536 /64 networks); \
             serial 7 in 0.50 s"
        );
    }

    #[test]
    fn ipv6_size_units() {
        assert_eq!(ipv6_size(0), "0 addresses");
        assert_eq!(ipv6_size(256), "256 addresses");
        assert_eq!(ipv6_size(1 << 64), "1 /64 networks");
        assert_eq!(ipv6_size(3 << 64), "3 /64 networks");
    }
}
