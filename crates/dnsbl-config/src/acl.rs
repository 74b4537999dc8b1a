//! The `acl` list of a `[[zone]]` in `zones.toml`: which clients are answered, refused or
//! ignored for names in that zone.

use std::net::IpAddr;
use std::path::Path;

use dnsbl_core::{AclAction, AclRule, ClientAcl};
use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use crate::ConfigError;

/// One `{ prefix = "...", action = "..." }` entry of a zone's `acl` list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclEntry {
    /// A CIDR prefix (`192.0.2.0/24`, `2001:db8::/32`) or a single address.
    pub prefix: Spanned<String>,
    /// `allow`, `refuse` or `drop`.
    pub action: Spanned<String>,
}

/// Checks a zone's `acl` entries and returns them as a [`ClientAcl`]. Errors name the file,
/// the zone, the line and the value.
pub(crate) fn parse(
    entries: &[AclEntry],
    text: &str,
    path: &Path,
    zone: &str,
) -> Result<ClientAcl, ConfigError> {
    let mut rules = Vec::with_capacity(entries.len());
    for entry in entries {
        let invalid = |span: std::ops::Range<usize>, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            entry: format!("zone {zone:?}, acl, line {}", line_of(text, span.start)),
            message,
        };
        let prefix = parse_prefix(entry.prefix.get_ref())
            .map_err(|message| invalid(entry.prefix.span(), message))?;
        let action = match entry.action.get_ref().as_str() {
            "allow" => AclAction::Allow,
            "refuse" => AclAction::Refuse,
            "drop" => AclAction::Drop,
            other => {
                return Err(invalid(
                    entry.action.span(),
                    format!("invalid action {other:?}: expected \"allow\", \"refuse\" or \"drop\""),
                ));
            }
        };
        rules.push(AclRule { prefix, action });
    }
    Ok(ClientAcl { rules })
}

/// Parses a CIDR prefix without host bits, or a single address as a /32 or /128.
pub fn parse_prefix(value: &str) -> Result<IpNet, String> {
    if let Ok(address) = value.parse::<IpAddr>() {
        return Ok(IpNet::from(address));
    }
    let prefix: IpNet = value.parse().map_err(|_| {
        format!("invalid prefix {value:?}: expected an address or a CIDR prefix such as 192.0.2.0/24 or 2001:db8::/32")
    })?;
    if prefix.trunc() != prefix {
        return Err(format!(
            "invalid prefix {value:?}: bits are set after the prefix length; write {}",
            prefix.trunc()
        ));
    }
    Ok(prefix)
}

/// Returns the 1-based line of the byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_syntax() {
        let cases = [
            ("192.0.2.0/24", Ok("192.0.2.0/24")),
            ("192.0.2.7", Ok("192.0.2.7/32")),
            ("2001:db8::/32", Ok("2001:db8::/32")),
            ("::1", Ok("::1/128")),
            ("192.0.2.1/24", Err("write 192.0.2.0/24")),
            ("192.0.2.0/33", Err("invalid prefix \"192.0.2.0/33\"")),
            ("example.com", Err("invalid prefix \"example.com\"")),
            ("", Err("invalid prefix \"\"")),
        ];
        for (value, expected) in cases {
            let parsed = parse_prefix(value).map(|prefix| prefix.to_string());
            match (parsed, expected) {
                (Ok(prefix), Ok(expected)) => assert_eq!(prefix, expected, "{value}"),
                (Err(message), Err(expected)) => {
                    assert!(message.contains(expected), "{value}: {message}")
                }
                (parsed, expected) => panic!("{value}: {parsed:?}, expected {expected:?}"),
            }
        }
    }

    fn zone_with_acl(acl: &str) -> String {
        format!("[[zone]]\nname = \"bl.example\"\nkind = \"address\"\nacl = [\n{acl}]\n")
    }

    #[test]
    fn zone_acl_is_read_in_order() {
        let text = zone_with_acl(
            "  { prefix = \"192.0.2.128/25\", action = \"allow\" },\n  \
             { prefix = \"192.0.2.0/24\", action = \"refuse\" },\n  \
             { prefix = \"2001:db8::1\", action = \"drop\" },\n",
        );
        let zones = crate::zones::parse(&text, Path::new("zones.toml")).unwrap();
        let rule = |prefix: &str, action| AclRule {
            prefix: prefix.parse().unwrap(),
            action,
        };
        assert_eq!(
            zones[0].acl.rules,
            [
                rule("192.0.2.128/25", AclAction::Allow),
                rule("192.0.2.0/24", AclAction::Refuse),
                rule("2001:db8::1/128", AclAction::Drop),
            ]
        );
    }

    #[test]
    fn acl_errors_name_file_line_and_value() {
        let cases = [
            (
                "  { prefix = \"192.0.2.0/24\", action = \"allow\" },\n  \
                 { prefix = \"192.0.2.300/24\", action = \"allow\" },\n",
                "zones.toml: zone \"bl.example\", acl, line 6: invalid prefix \"192.0.2.300/24\"",
            ),
            (
                "  { prefix = \"10.1.2.3/8\", action = \"refuse\" },\n",
                "zones.toml: zone \"bl.example\", acl, line 5: invalid prefix \"10.1.2.3/8\": \
                 bits are set after the prefix length; write 10.0.0.0/8",
            ),
            (
                "  { prefix = \"10.0.0.0/8\", action = \"deny\" },\n",
                "zones.toml: zone \"bl.example\", acl, line 5: invalid action \"deny\"",
            ),
            ("  { prefix = \"10.0.0.0/8\" },\n", "missing field `action`"),
        ];
        for (acl, expected) in cases {
            let error = crate::zones::parse(&zone_with_acl(acl), Path::new("zones.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}\nexpected: {expected}");
        }
    }
}
