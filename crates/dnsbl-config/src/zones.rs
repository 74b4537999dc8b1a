//! `zones.toml`: the zones the server answers for.

use std::path::Path;

use dnsbl_core::{AnswerStyle, SoaSpec, ZoneKind, ZoneSpec};
use serde::Deserialize;

use crate::{ConfigError, toml_error};

/// Default TTL of A and TXT records: 35 minutes, as rbldnsd uses.
pub const DEFAULT_TTL: u32 = 2100;
/// Default TTL of NS records: one day.
pub const DEFAULT_NS_TTL: u32 = 86400;
/// Default negative caching TTL (SOA minimum): 5 minutes, so a new listing is seen soon
/// by resolvers that cached the NXDOMAIN.
pub const DEFAULT_NEGATIVE_TTL: u32 = 300;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZonesFile {
    #[serde(rename = "zone", default)]
    pub zones: Vec<ZoneEntry>,
}

/// One `[[zone]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneEntry {
    pub name: String,
    /// `address`, `domain` or `combined`.
    pub kind: String,
    /// For `kind = "combined"`: the zones whose listings this zone answers together.
    #[serde(default)]
    pub includes: Vec<String>,
    /// `zen` (default) or `multi`.
    #[serde(default)]
    pub style: Option<String>,
    #[serde(default)]
    pub lookup_url: Option<String>,
    #[serde(default)]
    pub ttl: Option<u32>,
    #[serde(default)]
    pub ns: Vec<String>,
    #[serde(default)]
    pub ns_ttl: Option<u32>,
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    #[serde(default)]
    pub soa: SoaEntry,
    /// Client access list, first match wins; empty answers every client.
    #[serde(default)]
    pub acl: Vec<crate::AclEntry>,
}

/// The optional `[zone.soa]` table; unset fields take the defaults below.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoaEntry {
    pub mname: Option<String>,
    pub rname: Option<String>,
    pub refresh: Option<u32>,
    pub retry: Option<u32>,
    pub expire: Option<u32>,
    pub minimum: Option<u32>,
    pub ttl: Option<u32>,
}

pub(crate) fn parse(text: &str, path: &Path) -> Result<Vec<ZoneSpec>, ConfigError> {
    let file: ZonesFile = toml::from_str(text).map_err(|e| toml_error(text, path, e))?;
    if file.zones.is_empty() {
        return Err(ConfigError::Parse {
            path: path.to_path_buf(),
            message: "no [[zone]] is defined; define at least one zone to serve".to_string(),
        });
    }
    let mut specs: Vec<ZoneSpec> = Vec::with_capacity(file.zones.len());
    for entry in file.zones {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            entry: format!("zone {:?}", entry.name),
            message,
        };
        let name = normalize_name(&entry.name).map_err(invalid)?;
        if specs.iter().any(|spec| spec.name == name) {
            return Err(invalid("the zone is defined twice".to_string()));
        }
        let includes: Vec<String> = entry
            .includes
            .iter()
            .map(|name| normalize_name(name))
            .collect::<Result<_, _>>()
            .map_err(invalid)?;
        let kind = match entry.kind.as_str() {
            "address" => ZoneKind::Address,
            "domain" => ZoneKind::Domain,
            "combined" => combined_kind(&name, &includes, &specs).map_err(invalid)?,
            other => {
                return Err(invalid(format!(
                    "invalid kind {other:?}: expected \"address\", \"domain\" or \"combined\""
                )));
            }
        };
        if entry.kind != "combined" && !includes.is_empty() {
            return Err(invalid(
                "includes is set, but only a zone of kind \"combined\" includes other zones"
                    .to_string(),
            ));
        }
        if entry.kind == "combined" && entry.categories.is_some() {
            return Err(invalid(
                "a combined zone serves what its included zones serve; remove categories"
                    .to_string(),
            ));
        }
        let style = match entry.style.as_deref() {
            None | Some("zen") => AnswerStyle::Zen,
            Some("multi") => AnswerStyle::Multi,
            Some(other) => {
                return Err(invalid(format!(
                    "invalid style {other:?}: expected \"zen\" or \"multi\""
                )));
            }
        };
        if entry
            .lookup_url
            .as_deref()
            .is_some_and(|url| url.trim().is_empty())
        {
            return Err(invalid(
                "lookup_url is empty; remove it or give a URL".to_string(),
            ));
        }
        let ns = if entry.ns.is_empty() {
            vec![format!("ns1.{name}")]
        } else {
            entry
                .ns
                .iter()
                .map(|ns| normalize_name(ns))
                .collect::<Result<_, _>>()
                .map_err(invalid)?
        };
        let mname = match &entry.soa.mname {
            Some(mname) => normalize_name(mname).map_err(invalid)?,
            None => ns[0].clone(),
        };
        let rname = match &entry.soa.rname {
            Some(rname) => normalize_name(rname).map_err(invalid)?,
            None => format!("hostmaster.{name}"),
        };
        let ttl = entry.ttl.unwrap_or(DEFAULT_TTL);
        let acl = crate::acl::parse(&entry.acl, text, path, &name)?;
        specs.push(ZoneSpec {
            name,
            kind,
            ttl,
            soa: SoaSpec {
                mname,
                rname,
                refresh: entry.soa.refresh.unwrap_or(3600),
                retry: entry.soa.retry.unwrap_or(600),
                expire: entry.soa.expire.unwrap_or(604_800),
                minimum: entry.soa.minimum.unwrap_or(DEFAULT_NEGATIVE_TTL),
                ttl: entry.soa.ttl.unwrap_or(ttl),
            },
            ns,
            ns_ttl: entry.ns_ttl.unwrap_or(DEFAULT_NS_TTL),
            categories: entry.categories,
            style,
            lookup_url: entry.lookup_url,
            includes,
            acl,
        });
    }
    Ok(specs)
}

/// Returns the kind of a combined zone: that of its included zones, which must be defined
/// above it in the file, all of one kind, and not combined themselves.
fn combined_kind(
    name: &str,
    includes: &[String],
    defined: &[ZoneSpec],
) -> Result<ZoneKind, String> {
    if includes.is_empty() {
        return Err("a combined zone needs includes = [\"zone\", ...]".to_string());
    }
    let mut kind = None;
    for included in includes {
        let Some(spec) = defined.iter().find(|spec| spec.name == *included) else {
            return Err(format!(
                "includes {included:?}, which is not defined above {name:?} in this file"
            ));
        };
        if !spec.includes.is_empty() {
            return Err(format!(
                "includes {included:?}, which is a combined zone itself; include its zones instead"
            ));
        }
        if kind.is_some_and(|kind| kind != spec.kind) {
            return Err(format!(
                "includes {included:?} of another kind; include only address zones or only domain zones"
            ));
        }
        kind = Some(spec.kind);
    }
    Ok(kind.expect("includes is not empty"))
}

/// Lower-cases a domain name, drops one trailing dot and checks its labels. Whitespace
/// and an empty label, as in `example.com..`, are rejected.
pub(crate) fn normalize_name(name: &str) -> Result<String, String> {
    let lower = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if lower.is_empty() || lower.len() > 253 {
        return Err(format!("invalid domain name {name:?}"));
    }
    for label in lower.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(format!(
                "invalid domain name {name:?}: label {label:?} must be 1 to 63 letters, digits, '-' or '_'"
            ));
        }
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Vec<ZoneSpec>, ConfigError> {
        parse(text, Path::new("zones.toml"))
    }

    #[test]
    fn minimal_zone_gets_defaults() {
        let zones = parse_str("[[zone]]\nname = \"BL.Example.\"\nkind = \"address\"\n").unwrap();
        let zone = &zones[0];
        assert_eq!(zone.name, "bl.example");
        assert_eq!(zone.kind, ZoneKind::Address);
        assert_eq!(zone.ttl, DEFAULT_TTL);
        assert_eq!(zone.ns, ["ns1.bl.example"]);
        assert_eq!(zone.soa.mname, "ns1.bl.example");
        assert_eq!(zone.soa.rname, "hostmaster.bl.example");
        assert_eq!(zone.soa.minimum, DEFAULT_NEGATIVE_TTL);
        assert_eq!(zone.categories, None);
        assert_eq!(zone.style, AnswerStyle::Zen);
        assert_eq!(zone.lookup_url, None);
        assert!(zone.includes.is_empty());
    }

    #[test]
    fn combined_zone_takes_included_kind() {
        let text = "[[zone]]\nname = \"bl.example\"\nkind = \"address\"\n\
            [[zone]]\nname = \"xbl.example\"\nkind = \"address\"\n\
            [[zone]]\nname = \"zen.example\"\nkind = \"combined\"\nstyle = \"multi\"\n\
            includes = [\"BL.example\", \"xbl.example\"]\n\
            lookup_url = \"https://dnsbl.example.net/lookup/{query}\"\n";
        let zones = parse_str(text).unwrap();
        let zen = &zones[2];
        assert_eq!(zen.kind, ZoneKind::Address);
        assert_eq!(zen.includes, ["bl.example", "xbl.example"]);
        assert_eq!(zen.style, AnswerStyle::Multi);
        assert_eq!(
            zen.lookup_url.as_deref(),
            Some("https://dnsbl.example.net/lookup/{query}")
        );
    }

    #[test]
    fn zone_errors_name_the_place() {
        let cases = [
            ("", "no [[zone]] is defined"),
            (
                "[[zone]]\nname = \"a\"\nkind = \"ip\"\n",
                "invalid kind \"ip\"",
            ),
            (
                "[[zone]]\nname = \"a..b\"\nkind = \"address\"\n",
                "label \"\"",
            ),
            (
                "[[zone]]\nname = \"a\"\nkind = \"address\"\nttl = -1\n",
                "line 4",
            ),
            (
                "[[zone]]\nname = \"a\"\nkind = \"address\"\nbogus = 1\n",
                "unknown field",
            ),
            (
                "[[zone]]\nname = \"a\"\nkind = \"address\"\n[[zone]]\nname = \"A.\"\nkind = \"domain\"\n",
                "defined twice",
            ),
            (
                "[[zone]]\nname = \"a\"\nkind = \"address\"\nstyle = \"or\"\n",
                "invalid style \"or\"",
            ),
            (
                "[[zone]]\nname = \"a\"\nkind = \"combined\"\n",
                "needs includes",
            ),
            (
                "[[zone]]\nname = \"a\"\nkind = \"combined\"\nincludes = [\"b\"]\n",
                "not defined above",
            ),
            (
                "[[zone]]\nname = \"a\"\nkind = \"address\"\n[[zone]]\nname = \"b\"\nkind = \"domain\"\n\
                 [[zone]]\nname = \"c\"\nkind = \"combined\"\nincludes = [\"a\", \"b\"]\n",
                "of another kind",
            ),
            (
                "[[zone]]\nname = \"a\"\nkind = \"address\"\nincludes = [\"b\"]\n",
                "only a zone of kind",
            ),
            (
                "[[zone]]\nname = \"a\"\nkind = \"address\"\nlookup_url = \" \"\n",
                "lookup_url is empty",
            ),
        ];
        for (text, expected) in cases {
            let error = parse_str(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(error.starts_with("zones.toml"), "{text:?}: {error}");
        }
    }
}
