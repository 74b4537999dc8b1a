//! `register.toml`: categories, operators, providers and allow-list entries.

use std::collections::HashSet;
use std::path::Path;

use dnsbl_core::{AddrRange, Category, ZoneKind, ZoneSpec};
use serde::Deserialize;

use crate::zones::normalize_name;
use crate::{ConfigError, toml_error};

/// The register as written in `register.toml`, checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Register {
    pub categories: Vec<Category>,
    pub operators: Vec<OperatorEntry>,
    pub providers: Vec<ProviderEntry>,
    pub allow: Vec<AllowEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFile {
    #[serde(rename = "category", default)]
    categories: Vec<CategoryEntry>,
    #[serde(rename = "operator", default)]
    operators: Vec<OperatorEntry>,
    #[serde(rename = "provider", default)]
    providers: Vec<RawProvider>,
    #[serde(rename = "allow", default)]
    allow: Vec<RawAllow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryEntry {
    name: String,
    code: String,
    txt: String,
}

/// A company or spam operation that may run several providers.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OperatorEntry {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Removal of a provider from the listings; the provider stays in the register.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Delisting {
    /// Date of removal, `YYYY-MM-DD`.
    pub date: String,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: String,
    category: String,
    #[serde(default)]
    operator: Option<String>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    asns: Vec<AsnValue>,
    #[serde(default)]
    netblocks: Vec<String>,
    #[serde(default)]
    listed_since: Option<String>,
    #[serde(default)]
    delisted: Option<Delisting>,
    #[serde(default)]
    note: Option<String>,
}

/// An ASN written as a number (`36351`) or with its prefix (`"AS36351"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AsnValue {
    Number(i64),
    Text(String),
}

/// A hosting provider or sender listed in one category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderEntry {
    pub name: String,
    /// Name of a category in [`Register::categories`].
    pub category: String,
    /// Name of an operator in [`Register::operators`].
    pub operator: Option<String>,
    /// Domains in lower case, without trailing dots.
    pub domains: Vec<String>,
    pub asns: Vec<u32>,
    pub netblocks: Vec<AddrRange>,
    pub listed_since: Option<String>,
    pub delisted: Option<Delisting>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    value: String,
    reason: String,
    #[serde(default)]
    zone: Option<String>,
}

/// An allow-list entry: an address, netblock or domain that is never listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowEntry {
    pub target: AllowTarget,
    pub reason: String,
    /// The zone it applies to; `None` applies to every zone.
    pub zone: Option<String>,
}

/// What an allow-list entry exempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowTarget {
    Range(AddrRange),
    /// A domain and all its subdomains, lower case.
    Domain(String),
}

impl AllowTarget {
    /// Checks that the entry takes effect in the zone `zone` of `kind`: an address range in
    /// an address zone, a domain in a domain zone. It never does in a combined zone (one
    /// with `includes`), which serves the listings of the zones it includes. `written` is
    /// the target as the request or the file gives it, for the error.
    pub fn check_zone(
        &self,
        written: &str,
        zone: &str,
        kind: ZoneKind,
        includes: &[String],
    ) -> Result<(), String> {
        if !includes.is_empty() {
            return Err(format!(
                "zone {zone:?} is a combined zone, which serves the listings of {}; name one \
                 of those zones or leave out zone to apply the entry to every zone",
                includes.join(", ")
            ));
        }
        let target_kind = match self {
            AllowTarget::Range(_) => ZoneKind::Address,
            AllowTarget::Domain(_) => ZoneKind::Domain,
        };
        if kind == target_kind {
            return Ok(());
        }
        Err(format!(
            "{written:?} is {}, but zone {zone:?} is {} zone, where the entry has no effect; \
             name {} zone or leave out zone to apply the entry to every zone",
            with_article(target_kind),
            with_article(kind),
            with_article(target_kind),
        ))
    }
}

/// Returns the name of `kind` with its article: "an address" or "a domain".
fn with_article(kind: ZoneKind) -> &'static str {
    match kind {
        ZoneKind::Address => "an address",
        ZoneKind::Domain => "a domain",
    }
}

/// Parses and checks `register.toml`, read from `path`. An allow-list entry that names a
/// zone must name one of `zones`, not a combined one, and fit its kind.
pub(crate) fn parse(text: &str, path: &Path, zones: &[ZoneSpec]) -> Result<Register, ConfigError> {
    let file: RegisterFile = toml::from_str(text).map_err(|e| toml_error(text, path, e))?;
    let invalid = |entry: String, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        entry,
        message,
    };

    let mut categories: Vec<Category> = Vec::new();
    for entry in file.categories {
        let place = format!("category {:?}", entry.name);
        check_entry_name(&entry.name).map_err(|message| invalid(place.clone(), message))?;
        if categories.iter().any(|c| c.name == entry.name) {
            return Err(invalid(place, "the category is defined twice".into()));
        }
        dnsbl_core::snapshot::check_category_name(&entry.name)
            .map_err(|message| invalid(place.clone(), message))?;
        let code = entry.code.parse().map_err(|_| {
            invalid(
                place.clone(),
                format!(
                    "invalid code {:?}: expected an IPv4 address such as 127.0.0.2",
                    entry.code
                ),
            )
        })?;
        let category = Category {
            name: entry.name,
            code,
            txt: entry.txt,
        };
        category
            .validate()
            .map_err(|e| invalid(place, e.to_string()))?;
        categories.push(category);
    }

    let mut operators: Vec<OperatorEntry> = Vec::new();
    let mut operator_names: HashSet<String> = HashSet::new();
    for operator in file.operators {
        let place = format!("operator {:?}", operator.name);
        check_entry_name(&operator.name).map_err(|message| invalid(place.clone(), message))?;
        if !operator_names.insert(operator.name.clone()) {
            return Err(invalid(place, "the operator is defined twice".into()));
        }
        operators.push(operator);
    }

    // Name sets keep the checks linear: a register may list every ASN as a provider.
    let category_names: HashSet<String> = categories.iter().map(|c| c.name.clone()).collect();
    let mut provider_names: HashSet<String> = HashSet::new();
    let mut providers: Vec<ProviderEntry> = Vec::new();
    for raw in file.providers {
        let place = format!("provider {:?}", raw.name);
        check_entry_name(&raw.name).map_err(|message| invalid(place.clone(), message))?;
        if !provider_names.insert(raw.name.clone()) {
            return Err(invalid(place, "the provider is defined twice".into()));
        }
        if !category_names.contains(&raw.category) {
            return Err(invalid(
                place,
                format!("category {:?} is not defined", raw.category),
            ));
        }
        if let Some(operator) = &raw.operator
            && !operator_names.contains(operator)
        {
            return Err(invalid(
                place,
                format!("operator {operator:?} is not defined"),
            ));
        }
        let domains = raw
            .domains
            .iter()
            .map(|d| {
                let name = normalize_name(d)?;
                dnsbl_core::width::check_listed_domain(&name)?;
                Ok(name)
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|m| invalid(place.clone(), m))?;
        let asns = raw
            .asns
            .iter()
            .map(parse_asn)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| invalid(place.clone(), m))?;
        let netblocks = raw
            .netblocks
            .iter()
            .map(|n| n.parse::<AddrRange>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(place.clone(), e.to_string()))?;
        for date in raw
            .listed_since
            .iter()
            .chain(raw.delisted.as_ref().map(|d| &d.date))
        {
            check_date(date).map_err(|m| invalid(place.clone(), m))?;
        }
        providers.push(ProviderEntry {
            name: raw.name,
            category: raw.category,
            operator: raw.operator,
            domains,
            asns,
            netblocks,
            listed_since: raw.listed_since,
            delisted: raw.delisted,
            note: raw.note,
        });
    }

    let mut allow = Vec::new();
    for raw in file.allow {
        let place = format!("allow {:?}", raw.value);
        let target = parse_allow_target(&raw.value).map_err(|m| invalid(place.clone(), m))?;
        if raw.reason.trim().is_empty() {
            return Err(invalid(
                place,
                format!(
                    "blank reason {:?}: an allow-list entry needs a reason, as in the admin API",
                    raw.reason
                ),
            ));
        }
        let zone = raw
            .zone
            .as_deref()
            .map(normalize_name)
            .transpose()
            .map_err(|m| invalid(place.clone(), m))?;
        if let Some(name) = zone.as_deref() {
            let Some(spec) = zones.iter().find(|spec| spec.name == name) else {
                let names: Vec<&str> = zones.iter().map(|spec| spec.name.as_str()).collect();
                return Err(invalid(
                    place,
                    format!(
                        "zone {name:?} is not defined in zones.toml; expected one of: {}",
                        names.join(", ")
                    ),
                ));
            };
            target
                .check_zone(&raw.value, &spec.name, spec.kind, &spec.includes)
                .map_err(|m| invalid(place, m))?;
        }
        allow.push(AllowEntry {
            target,
            reason: raw.reason,
            zone,
        });
    }

    Ok(Register {
        categories,
        operators,
        providers,
        allow,
    })
}

/// Parses `36351`, `"36351"` or `"AS36351"` (`AS` in any case) into an ASN.
fn parse_asn(value: &AsnValue) -> Result<u32, String> {
    let parsed = match value {
        AsnValue::Number(n) => u32::try_from(*n).ok(),
        AsnValue::Text(text) => dnsbl_core::model::parse_asn(text),
    };
    parsed.ok_or_else(|| {
        let shown = match value {
            AsnValue::Number(n) => n.to_string(),
            AsnValue::Text(text) => format!("{text:?}"),
        };
        format!("invalid ASN {shown}: expected a number from 0 to 4294967295 or \"AS<number>\"")
    })
}

/// Parses an allow-list value: an address, netblock or range, else a domain name.
fn parse_allow_target(value: &str) -> Result<AllowTarget, String> {
    let looks_like_address = value.contains(':')
        || value.contains('/')
        || value
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b' ');
    if looks_like_address {
        value
            .parse::<AddrRange>()
            .map(AllowTarget::Range)
            .map_err(|e| e.to_string())
    } else {
        normalize_name(value).map(AllowTarget::Domain)
    }
}

/// Rejects the name of a category, operator or provider that is empty or has whitespace
/// around it, which would be stored as a different name than the one an operator types.
fn check_entry_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err(format!("invalid name {name:?}: expected a non-empty name"));
    }
    if name.trim() != name {
        return Err(format!(
            "invalid name {name:?}: remove the spaces around it"
        ));
    }
    Ok(())
}

/// Checks a `YYYY-MM-DD` date, including that the day exists in its month.
fn check_date(date: &str) -> Result<(), String> {
    let bytes = date.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    let number = |range: std::ops::Range<usize>| date.get(range)?.parse::<u16>().ok();
    let calendar_date = match (number(0..4), number(5..7), number(8..10)) {
        (Some(year), Some(month), Some(day)) if shape_ok => {
            let month = u8::try_from(month)
                .ok()
                .and_then(|m| time::Month::try_from(m).ok());
            let day = u8::try_from(day).ok();
            month.zip(day).and_then(|(month, day)| {
                time::Date::from_calendar_date(year.into(), month, day).ok()
            })
        }
        _ => None,
    };
    if calendar_date.is_some() {
        Ok(())
    } else {
        Err(format!(
            "invalid date {date:?}: expected a calendar date YYYY-MM-DD"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATEGORY: &str =
        "[[category]]\nname = \"bad\"\ncode = \"127.0.0.2\"\ntxt = \"{provider}\"\n";

    fn parse_str(text: &str) -> Result<Register, ConfigError> {
        parse(text, Path::new("register.toml"), &[])
    }

    #[test]
    fn allow_zone_kind_checked() {
        let zones_text = "[[zone]]\nname = \"bl.example\"\nkind = \"address\"\n\
                          [[zone]]\nname = \"dbl.example\"\nkind = \"domain\"\n\
                          [[zone]]\nname = \"all.example\"\nkind = \"combined\"\n\
                          includes = [\"dbl.example\"]\n";
        let zones = crate::zones::parse(zones_text, Path::new("zones.toml")).unwrap();
        let allow = |value: &str, zone: &str| {
            let text = format!("[[allow]]\nvalue = \"{value}\"\nreason = \"r\"\n{zone}\n");
            parse(&text, Path::new("zones/register.toml"), &zones)
        };
        let rejected = [
            (
                "mail.example.org",
                "zone = \"BL.example.\"",
                "zones/register.toml: allow \"mail.example.org\": \"mail.example.org\" is a \
                 domain, but zone \"bl.example\" is an address zone, where the entry has no \
                 effect; name a domain zone or leave out zone to apply the entry to every zone",
            ),
            (
                "192.0.2.0/28",
                "zone = \"dbl.example\"",
                "zones/register.toml: allow \"192.0.2.0/28\": \"192.0.2.0/28\" is an \
                 address, but zone \"dbl.example\" is a domain zone, where the entry has no \
                 effect; name an address zone or leave out zone to apply the entry to every zone",
            ),
            (
                "2001:db8::1",
                "zone = \"all.example\"",
                "zones/register.toml: allow \"2001:db8::1\": zone \"all.example\" is a \
                 combined zone, which serves the listings of dbl.example; name one of those \
                 zones or leave out zone to apply the entry to every zone",
            ),
            (
                "mail.example.org",
                "zone = \"all.example\"",
                "zones/register.toml: allow \"mail.example.org\": zone \"all.example\" is a \
                 combined zone, which serves the listings of dbl.example; name one of those \
                 zones or leave out zone to apply the entry to every zone",
            ),
            (
                "192.0.2.1",
                "zone = \"other.example\"",
                "zones/register.toml: allow \"192.0.2.1\": zone \"other.example\" is not \
                 defined in zones.toml; expected one of: bl.example, dbl.example, all.example",
            ),
        ];
        for (value, zone, expected) in rejected {
            let error = allow(value, zone).unwrap_err().to_string();
            assert_eq!(error, expected, "value {value}, {zone}");
        }
        let accepted = [
            ("mail.example.org", "zone = \"DBL.example.\""),
            ("mail.example.org", ""),
            ("192.0.2.0/28", "zone = \"bl.example\""),
            ("192.0.2.1-192.0.2.9", ""),
        ];
        for (value, zone) in accepted {
            let register = allow(value, zone).unwrap();
            assert_eq!(register.allow.len(), 1, "value {value}, {zone}");
            let expected_zone = zone
                .split('"')
                .nth(1)
                .map(|name| name.trim_end_matches('.').to_ascii_lowercase());
            assert_eq!(
                register.allow[0].zone, expected_zone,
                "value {value}, {zone}"
            );
        }
    }

    #[test]
    fn provider_fields_parse() {
        let text = format!(
            "{CATEGORY}[[provider]]\nname = \"P\"\ncategory = \"bad\"\ndomains = [\"Example.COM.\"]\n\
             asns = [36351, \"AS46606\", \"as1\"]\nnetblocks = [\"192.0.2.0/24\", \"2001:db8::1\"]\n"
        );
        let register = parse_str(&text).unwrap();
        let provider = &register.providers[0];
        assert_eq!(provider.domains, ["example.com"]);
        assert_eq!(provider.asns, [36351, 46606, 1]);
        assert_eq!(provider.netblocks.len(), 2);
        assert_eq!(provider.netblocks[0].to_string(), "192.0.2.0/24");
    }

    #[test]
    fn allow_targets_parse() {
        let text = "[[allow]]\nvalue = \"192.0.2.0/28\"\nreason = \"r\"\n\
                    [[allow]]\nvalue = \"mail.example.org\"\nreason = \"r\"\n";
        let register = parse_str(text).unwrap();
        assert_eq!(
            register.allow[0].target,
            AllowTarget::Range("192.0.2.0/28".parse().unwrap())
        );
        assert_eq!(
            register.allow[1].target,
            AllowTarget::Domain("mail.example.org".into())
        );
        assert_eq!(register.allow[1].zone, None);
    }

    #[test]
    fn network_address_code_rejected() {
        let text = "[[category]]\nname = \"x\"\ncode = \"127.0.0.0\"\ntxt = \"\"\n";
        let error = parse_str(text).unwrap_err().to_string();
        assert_eq!(
            error,
            "register.toml: category \"x\": invalid listing code 127.0.0.0 for category \"x\": \
             127.0.0.0 is the network address of 127.0.0.0/8, not a listing code"
        );
    }

    #[test]
    fn register_rejects_what_the_api_rejects() {
        let provider = |extra: &str| {
            format!("{CATEGORY}[[provider]]\nname = \"P\"\ncategory = \"bad\"\n{extra}\n")
        };
        let cases = [
            (
                "[[category]]\nname = \"rfc5782-test\"\ncode = \"127.0.0.3\"\ntxt = \"t\"\n"
                    .to_string(),
                "register.toml: category \"rfc5782-test\": the category name \"rfc5782-test\" \
                 is reserved, in any letter case, for the RFC 5782 test entries; choose another \
                 name",
            ),
            (
                "[[category]]\nname = \"RFC5782-Test\"\ncode = \"127.0.0.3\"\ntxt = \"t\"\n"
                    .to_string(),
                "register.toml: category \"RFC5782-Test\": the category name \"RFC5782-Test\" \
                 is reserved, in any letter case, for the RFC 5782 test entries; choose another \
                 name",
            ),
            (
                "[[allow]]\nvalue = \"192.0.2.1\"\nreason = \"\"\n".to_string(),
                "register.toml: allow \"192.0.2.1\": blank reason \"\": an allow-list entry \
                 needs a reason, as in the admin API",
            ),
            (
                "[[allow]]\nvalue = \"192.0.2.1\"\nreason = \"  \"\n".to_string(),
                "register.toml: allow \"192.0.2.1\": blank reason \"  \": an allow-list entry \
                 needs a reason, as in the admin API",
            ),
            (
                provider("listed_since = \"2026-02-31\""),
                "register.toml: provider \"P\": invalid date \"2026-02-31\": expected a \
                 calendar date YYYY-MM-DD",
            ),
            (
                provider("delisted = { date = \"2025-02-29\", reason = \"gone\" }"),
                "register.toml: provider \"P\": invalid date \"2025-02-29\": expected a \
                 calendar date YYYY-MM-DD",
            ),
            (
                provider("listed_since = \"2026-04-31\""),
                "register.toml: provider \"P\": invalid date \"2026-04-31\": expected a \
                 calendar date YYYY-MM-DD",
            ),
            (
                format!("{CATEGORY}[[provider]]\nname = \"\"\ncategory = \"bad\"\n"),
                "register.toml: provider \"\": invalid name \"\": expected a non-empty name",
            ),
            (
                format!("{CATEGORY}[[provider]]\nname = \" P\"\ncategory = \"bad\"\n"),
                "register.toml: provider \" P\": invalid name \" P\": remove the spaces around it",
            ),
            (
                "[[operator]]\nname = \" \"\n".to_string(),
                "register.toml: operator \" \": invalid name \" \": expected a non-empty name",
            ),
            (
                provider("netblocks = [\" 10.0.0.1\"]"),
                "register.toml: provider \"P\": invalid address or netblock \" 10.0.0.1\": \
                 remove the spaces around it",
            ),
            (
                provider("domains = [\"example.com..\"]"),
                "register.toml: provider \"P\": invalid domain name \"example.com..\": label \
                 \"\" must be 1 to 63 letters, digits, '-' or '_'",
            ),
            (
                provider("domains = [\" example.com\"]"),
                "register.toml: provider \"P\": invalid domain name \" example.com\": label \
                 \" example\" must be 1 to 63 letters, digits, '-' or '_'",
            ),
            (
                provider("asns = [\"AS+5\"]"),
                "register.toml: provider \"P\": invalid ASN \"AS+5\": expected a number from 0 \
                 to 4294967295 or \"AS<number>\"",
            ),
        ];
        for (text, expected) in cases {
            let error = parse_str(&text).unwrap_err().to_string();
            assert_eq!(error, expected, "input {text:?}");
        }
    }

    #[test]
    fn register_accepts_api_forms() {
        let text = format!(
            "{CATEGORY}[[provider]]\nname = \"P\"\ncategory = \"bad\"\n\
             asns = [\"As36351\", \"aS1\", \"as2\", 3]\ndomains = [\"Example.com.\"]\n\
             listed_since = \"2024-02-29\"\n"
        );
        let register = parse_str(&text).unwrap();
        assert_eq!(register.providers[0].asns, [36351, 1, 2, 3]);
        assert_eq!(register.providers[0].domains, ["example.com"]);
    }

    #[test]
    fn register_errors_name_the_entry() {
        let provider = |extra: &str| {
            format!("{CATEGORY}[[provider]]\nname = \"P\"\ncategory = \"bad\"\n{extra}\n")
        };
        let cases = [
            (
                "[[category]]\nname = \"x\"\ncode = \"10.0.0.2\"\ntxt = \"\"\n".to_string(),
                "category \"x\": invalid listing code 10.0.0.2",
            ),
            (
                "[[category]]\nname = \"x\"\ncode = \"127.0.0.1\"\ntxt = \"\"\n".to_string(),
                "category \"x\": invalid listing code 127.0.0.1",
            ),
            (
                "[[category]]\nname = \"x\"\ncode = \"nope\"\ntxt = \"\"\n".to_string(),
                "invalid code \"nope\"",
            ),
            (
                provider("netblocks = [\"192.0.2.1/24\"]"),
                "provider \"P\": invalid CIDR prefix \"192.0.2.1/24\"",
            ),
            (
                provider("netblocks = [\"10.0.0.9-10.0.0.1\"]"),
                "provider \"P\": invalid range \"10.0.0.9-10.0.0.1\"",
            ),
            (provider("asns = [\"ASX\"]"), "invalid ASN \"ASX\""),
            (provider("asns = [-5]"), "invalid ASN -5"),
            (
                provider("operator = \"Nobody\""),
                "operator \"Nobody\" is not defined",
            ),
            (
                provider("listed_since = \"2026-13-01\""),
                "invalid date \"2026-13-01\"",
            ),
            (
                format!("{CATEGORY}[[provider]]\nname = \"P\"\ncategory = \"other\"\n"),
                "category \"other\" is not defined",
            ),
            (
                format!(
                    "{}{}",
                    provider(""),
                    "[[provider]]\nname = \"P\"\ncategory = \"bad\"\n"
                ),
                "provider \"P\": the provider is defined twice",
            ),
            (
                "[[allow]]\nvalue = \"300.1.1.1\"\nreason = \"r\"\n".to_string(),
                "allow \"300.1.1.1\": invalid address",
            ),
            (provider("colour = \"red\""), "unknown field `colour`"),
        ];
        for (text, expected) in cases {
            let error = parse_str(&text).unwrap_err().to_string();
            assert!(
                error.contains(expected),
                "expected {expected:?} in: {error}"
            );
            assert!(error.starts_with("register.toml"), "{error}");
        }
    }
}
