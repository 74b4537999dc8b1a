//! The listing model shared by every crate: categories, zones and listings.

use std::fmt;
use std::net::Ipv4Addr;

use crate::net::AddrRange;

/// A listing category: what kind of party is listed, with the A record value and TXT
/// template that answers carry for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Category {
    /// Short identifier used in the register, for example `bad-service-provider`.
    pub name: String,
    /// The 127.0.0.x value of the A record.
    pub code: Ipv4Addr,
    /// TXT template; see [`crate::answer::render_txt`] for the placeholders.
    pub txt: String,
}

/// Errors in a category definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("invalid listing code {0} for category {1:?}: it must be inside 127.0.0.0/8")]
    OutsideLoopback(Ipv4Addr, String),
    #[error(
        "invalid listing code {0} for category {1:?}: 127.0.0.0 is the network address of 127.0.0.0/8, not a listing code"
    )]
    NetworkAddress(Ipv4Addr, String),
    #[error(
        "invalid listing code {0} for category {1:?}: 127.0.0.1 means \"not listed\" to many clients"
    )]
    NotListedValue(Ipv4Addr, String),
    #[error(
        "invalid listing code {0} for category {1:?}: 127.255.255.0/24 is kept for error answers by public lists"
    )]
    ErrorRange(Ipv4Addr, String),
    #[error(
        "invalid listing code {code} for category {category:?} in zone {zone:?}: a zone with style \"multi\" needs codes 127.0.0.x where x is one bit (2, 4, 8, 16, 32, 64 or 128)"
    )]
    NotSingleBit {
        code: Ipv4Addr,
        category: String,
        zone: String,
    },
}

impl Category {
    /// Checks that the code is a usable DNSBL answer: inside 127.0.0.0/8, not its network
    /// address 127.0.0.0, not 127.0.0.1, and not in 127.255.255.0/24, which public lists
    /// use to signal errors.
    pub fn validate(&self) -> Result<(), CodeError> {
        let octets = self.code.octets();
        if octets[0] != 127 {
            return Err(CodeError::OutsideLoopback(self.code, self.name.clone()));
        }
        if self.code == Ipv4Addr::new(127, 0, 0, 0) {
            return Err(CodeError::NetworkAddress(self.code, self.name.clone()));
        }
        if self.code == Ipv4Addr::new(127, 0, 0, 1) {
            return Err(CodeError::NotListedValue(self.code, self.name.clone()));
        }
        if octets[1] == 255 && octets[2] == 255 {
            return Err(CodeError::ErrorRange(self.code, self.name.clone()));
        }
        Ok(())
    }

    /// Checks that the code can be ORed with others in a zone of style multi: 127.0.0.x
    /// with x a power of two from 2 to 128. 127.0.0.1 is excluded by the same rule.
    pub fn validate_single_bit(&self, zone: &str) -> Result<(), CodeError> {
        let [first, second, third, last] = self.code.octets();
        if [first, second, third] == [127, 0, 0] && last.is_power_of_two() && last >= 2 {
            return Ok(());
        }
        Err(CodeError::NotSingleBit {
            code: self.code,
            category: self.name.clone(),
            zone: zone.to_string(),
        })
    }
}

/// What a zone lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneKind {
    /// Addresses, queried as reversed IPv4 octets or reversed IPv6 nibbles (RFC 5782 §2.1, §2.4).
    Address,
    /// Domain names, queried as the name itself under the zone (RFC 5782 §2.3).
    Domain,
}

impl ZoneKind {
    /// Returns the name of the kind as zones.toml and the admin API write it.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneKind::Address => "address",
            ZoneKind::Domain => "domain",
        }
    }
}

/// The SOA fields of a zone. Times are in seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoaSpec {
    /// Primary name server (MNAME), a fully qualified name.
    pub mname: String,
    /// Responsible mailbox (RNAME) in DNS form, `hostmaster.example.net`.
    pub rname: String,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// Negative caching TTL (RFC 2308 §4).
    pub minimum: u32,
    /// TTL of the SOA record itself.
    pub ttl: u32,
}

/// One served zone as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneSpec {
    /// Apex name in lower case, without the trailing dot, for example `bl.example`.
    pub name: String,
    pub kind: ZoneKind,
    /// TTL of A and TXT records, in seconds.
    pub ttl: u32,
    pub soa: SoaSpec,
    /// Name servers of the zone, fully qualified names.
    pub ns: Vec<String>,
    /// TTL of the NS records, in seconds.
    pub ns_ttl: u32,
    /// Categories served by this zone; `None` serves every category.
    pub categories: Option<Vec<String>>,
    /// How several listings of one name are given in A records.
    pub style: AnswerStyle,
    /// Template of a web address where the listing is explained, with the TXT placeholders
    /// (`https://dnsbl.example.net/lookup/{query}`); TXT templates insert it as
    /// `{lookup_url}`.
    pub lookup_url: Option<String>,
    /// Apex names of the zones whose listings this zone combines. A combined zone has no
    /// listings of its own: it answers the union of what its included zones answer, so
    /// `categories` is ignored and `kind` must be that of the included zones.
    pub includes: Vec<String>,
    /// Which clients are answered, refused or ignored for names in this zone.
    pub acl: crate::ClientAcl,
}

/// How a name with listings in several categories is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AnswerStyle {
    /// One A record per distinct category code, as Spamhaus ZEN does.
    #[default]
    Zen,
    /// One A record whose last octet is the bitwise OR of the category codes' last octets,
    /// as SURBL's multi list does. Every code served by such a zone must be 127.0.0.x with
    /// x a single bit from 2 to 128, so that a client can test each bit.
    Multi,
}

impl ZoneSpec {
    /// Whether listings of the named category belong in this zone.
    pub fn serves_category(&self, category: &str) -> bool {
        match &self.categories {
            None => true,
            Some(names) => names.iter().any(|name| name == category),
        }
    }
}

/// Why a range or domain is listed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListingSource {
    /// All routed ranges of an autonomous system.
    Asn(u32),
    /// A netblock written in the register.
    Netblock(AddrRange),
    /// A domain written in the register.
    Domain(String),
    /// The RFC 5782 §5 test entries (127.0.0.2, ::ffff:7f00:2, `test`), present in every zone.
    TestEntry,
}

impl fmt::Display for ListingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListingSource::Asn(asn) => write!(f, "AS{asn}"),
            ListingSource::Netblock(range) => write!(f, "{range}"),
            ListingSource::Domain(domain) => write!(f, "{domain}"),
            ListingSource::TestEntry => write!(f, "RFC 5782 test entry"),
        }
    }
}

/// Parses an AS number written as digits (`36351`) or with the prefix `AS` in any case
/// (`AS36351`, `as36351`, `As36351`), as register.toml and the admin API take it.
pub fn parse_asn(text: &str) -> Option<u32> {
    let digits = match text.get(..2) {
        Some(prefix) if prefix.eq_ignore_ascii_case("as") => &text[2..],
        _ => text,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One reason for a listing: a provider listed in a category because of one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Provider name as in the register.
    pub provider: String,
    /// The operator (company or spam operation) behind the provider, if recorded.
    pub operator: Option<String>,
    /// Index into the snapshot's categories.
    pub category: usize,
    pub source: ListingSource,
    /// Date the provider was listed, `YYYY-MM-DD`, if recorded.
    pub listed_since: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_asn_forms() {
        let cases = [
            ("36351", Some(36351)),
            ("AS36351", Some(36351)),
            ("as36351", Some(36351)),
            ("As36351", Some(36351)),
            ("aS36351", Some(36351)),
            ("AS0", Some(0)),
            ("AS4294967295", Some(u32::MAX)),
            ("AS4294967296", None),
            ("AS", None),
            ("", None),
            ("ASX", None),
            ("+5", None),
            ("AS+5", None),
            (" AS5", None),
            ("AS 5", None),
            ("ASN5", None),
            ("é5", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_asn(text), expected, "{text:?}");
        }
    }

    fn category(code: [u8; 4]) -> Category {
        Category {
            name: "c".into(),
            code: code.into(),
            txt: String::new(),
        }
    }

    #[test]
    fn category_code_rules() {
        assert!(category([127, 0, 0, 2]).validate().is_ok());
        assert!(category([127, 1, 2, 3]).validate().is_ok());
        assert!(matches!(
            category([10, 0, 0, 2]).validate(),
            Err(CodeError::OutsideLoopback(..))
        ));
        assert_eq!(
            category([127, 0, 0, 0]).validate(),
            Err(CodeError::NetworkAddress(
                Ipv4Addr::new(127, 0, 0, 0),
                "c".into()
            ))
        );
        assert_eq!(
            category([127, 0, 0, 0]).validate().unwrap_err().to_string(),
            "invalid listing code 127.0.0.0 for category \"c\": 127.0.0.0 is the network \
             address of 127.0.0.0/8, not a listing code"
        );
        assert!(matches!(
            category([127, 0, 0, 1]).validate(),
            Err(CodeError::NotListedValue(..))
        ));
        assert!(matches!(
            category([127, 255, 255, 254]).validate(),
            Err(CodeError::ErrorRange(..))
        ));
    }

    #[test]
    fn single_bit_code_rules() {
        for last in [2, 4, 8, 16, 32, 64, 128] {
            assert!(category([127, 0, 0, last]).validate_single_bit("z").is_ok());
        }
        for code in [
            [127, 0, 0, 1],
            [127, 0, 0, 3],
            [127, 0, 0, 0],
            [127, 0, 1, 2],
        ] {
            assert!(
                matches!(
                    category(code).validate_single_bit("z"),
                    Err(CodeError::NotSingleBit { .. })
                ),
                "{code:?}"
            );
        }
    }
}
