//! Checks of the TXT templates of register.toml and the `lookup_url` templates of
//! zones.toml with [`check_template`], the check of the admin API: every `{name}` must be a
//! placeholder that [`render_txt`](dnsbl_core::answer::render_txt) fills in, other braces
//! are doubled, and no control character or more than
//! [`MAX_TEMPLATE_BYTES`](dnsbl_core::answer::MAX_TEMPLATE_BYTES) bytes are allowed. A
//! category whose template uses `{lookup_url}` may only be served by zones that set
//! `lookup_url`, because the placeholder would otherwise render as empty text.

use std::path::Path;

use dnsbl_core::answer::{PLACEHOLDERS, check_template, placeholders};
use dnsbl_core::{Category, ZoneSpec};

use crate::{ConfigError, Register};

/// Checks every template of `register` (read from `register_path`) and `zones` (read from
/// `zones_path`).
pub(crate) fn check(
    zones: &[ZoneSpec],
    register: &Register,
    zones_path: &Path,
    register_path: &Path,
) -> Result<(), ConfigError> {
    for category in &register.categories {
        check_template(&category.txt, "txt", &PLACEHOLDERS).map_err(|message| {
            ConfigError::Invalid {
                path: register_path.to_path_buf(),
                entry: format!("category {:?}", category.name),
                message,
            }
        })?;
    }
    let without_self: Vec<&str> = PLACEHOLDERS
        .iter()
        .copied()
        .filter(|name| *name != "lookup_url")
        .collect();
    for zone in zones {
        if let Some(url) = &zone.lookup_url {
            check_template(url, "lookup_url", &without_self).map_err(|message| {
                ConfigError::Invalid {
                    path: zones_path.to_path_buf(),
                    entry: format!("zone {:?}", zone.name),
                    message,
                }
            })?;
        }
    }
    if let Some((zone, category)) = lookup_url_missing(zones, &register.categories) {
        return Err(ConfigError::Invalid {
            path: zones_path.to_path_buf(),
            entry: format!("zone {zone:?}"),
            message: format!(
                "serves category {category:?}, whose txt in {} uses {{lookup_url}}, but the \
                 zone sets no lookup_url; set lookup_url for the zone or remove the placeholder",
                register_path.display()
            ),
        });
    }
    Ok(())
}

/// Returns the first zone of `zones` without `lookup_url` that serves a category of
/// `categories` whose template uses `{lookup_url}`, as (zone, category). Checked when the
/// files are read, and again by `dnsbl serve` and `dnsbl check` with the stored
/// categories, which include those of the admin API.
pub fn lookup_url_missing<'a>(
    zones: &'a [ZoneSpec],
    categories: &'a [Category],
) -> Option<(&'a str, &'a str)> {
    zones
        .iter()
        .filter(|zone| zone.lookup_url.is_none())
        .find_map(|zone| {
            served_categories(zone, zones, categories)
                .into_iter()
                .map(|index| &categories[index])
                .find(|category| placeholders(&category.txt).contains(&"lookup_url"))
                .map(|category| (zone.name.as_str(), category.name.as_str()))
        })
}

/// Returns the indexes in `categories` of the categories `zone` serves: those it names,
/// all without a list, and for a combined zone those of the zones it includes.
fn served_categories(zone: &ZoneSpec, zones: &[ZoneSpec], categories: &[Category]) -> Vec<usize> {
    let specs: Vec<&ZoneSpec> = if zone.includes.is_empty() {
        vec![zone]
    } else {
        zones
            .iter()
            .filter(|other| zone.includes.contains(&other.name))
            .collect()
    };
    (0..categories.len())
        .filter(|&index| {
            let name = &categories[index].name;
            specs.iter().any(|spec| {
                spec.categories
                    .as_ref()
                    .is_none_or(|names| names.contains(name))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::ZonesDir;
    use std::path::Path;

    const ZONES: &str = "[[zone]]\nname = \"bl.example\"\nkind = \"address\"\n";

    fn register(txt: &str) -> String {
        format!("[[category]]\nname = \"bad\"\ncode = \"127.0.0.2\"\ntxt = \"{txt}\"\n")
    }

    fn load(zones: &str, register: &str) -> Result<(), String> {
        ZonesDir::from_texts(Path::new("z"), zones, register)
            .map(|_| ())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn known_placeholders_pass() {
        let txt = "{query} {provider} {operator} {source} {asn} {netblock} {category} {{x}}";
        assert_eq!(load(ZONES, &register(txt)), Ok(()));
        let with_url = format!("{ZONES}lookup_url = \"https://x.example/{{query}}\"\n");
        assert_eq!(load(&with_url, &register("see {lookup_url}")), Ok(()));
    }

    #[test]
    fn template_errors_name_the_place() {
        let url_zone = |url: &str| format!("{ZONES}lookup_url = \"{url}\"\n");
        let combined = "[[zone]]\nname = \"a.example\"\nkind = \"address\"\n\
                        lookup_url = \"https://x.example/\"\n\
                        [[zone]]\nname = \"b.example\"\nkind = \"address\"\n\
                        [[zone]]\nname = \"all.example\"\nkind = \"combined\"\n\
                        includes = [\"a.example\", \"b.example\"]\n\
                        lookup_url = \"https://x.example/\"\n";
        let cases = [
            (
                ZONES.to_string(),
                register("{query} {Provider}"),
                "z/register.toml: category \"bad\": unknown placeholder {Provider} in txt; \
                 the placeholders are {query}, {provider}, {operator}, {source}, {asn}, \
                 {netblock}, {category}, {lookup_url} (write {{ and }} for literal braces)",
            ),
            (
                url_zone("https://x.example/{address}"),
                register("{query}"),
                "z/zones.toml: zone \"bl.example\": unknown placeholder {address} in \
                 lookup_url; the placeholders are {query}, {provider}, {operator}, {source}, \
                 {asn}, {netblock}, {category} (write {{ and }} for literal braces)",
            ),
            (
                url_zone("https://x.example/{lookup_url}"),
                register("{query}"),
                "z/zones.toml: zone \"bl.example\": unknown placeholder {lookup_url} in \
                 lookup_url; the placeholders are {query}, {provider}, {operator}, {source}, \
                 {asn}, {netblock}, {category} (write {{ and }} for literal braces)",
            ),
            (
                ZONES.to_string(),
                register("see {lookup_url}"),
                "z/zones.toml: zone \"bl.example\": serves category \"bad\", whose txt in \
                 z/register.toml uses {lookup_url}, but the zone sets no lookup_url; set \
                 lookup_url for the zone or remove the placeholder",
            ),
            (
                combined.to_string(),
                register("see {lookup_url}"),
                "z/zones.toml: zone \"b.example\": serves category \"bad\", whose txt in \
                 z/register.toml uses {lookup_url}, but the zone sets no lookup_url; set \
                 lookup_url for the zone or remove the placeholder",
            ),
        ];
        for (zones, register, expected) in cases {
            assert_eq!(load(&zones, &register), Err(expected.to_string()));
        }
    }

    #[test]
    fn templates_checked_as_in_the_api() {
        let long = "x".repeat(1001);
        let cases = [
            (
                register("{query}\\nRCPT TO:<x>"),
                "z/register.toml: category \"bad\": txt contains the control character '\\n' at \
                 character 8; a template must be one line of printable text"
                    .to_string(),
            ),
            (
                register("a } b"),
                "z/register.toml: category \"bad\": unmatched '}' at character 3 in txt; write \
                 '}}' for a literal brace"
                    .to_string(),
            ),
            (
                register("{query listed"),
                "z/register.toml: category \"bad\": unclosed '{' at character 1 in txt; write \
                 '{{' for a literal brace"
                    .to_string(),
            ),
            (
                register(&long),
                "z/register.toml: category \"bad\": txt is 1001 bytes long, more than the \
                 maximum of 1000 bytes"
                    .to_string(),
            ),
        ];
        for (register, expected) in cases {
            assert_eq!(load(ZONES, &register), Err(expected), "{register:?}");
        }
        assert_eq!(load(ZONES, &register(&long[1..])), Ok(()));
        let url_zone = format!("{ZONES}lookup_url = \"https://x.example/{{query}}}}\"\n");
        assert_eq!(
            load(&url_zone, &register("{query}")),
            Err(
                "z/zones.toml: zone \"bl.example\": unmatched '}' at character 26 in \
                 lookup_url; write '}}' for a literal brace"
                    .to_string()
            )
        );
    }

    #[test]
    fn lookup_url_only_where_served() {
        // The category with {lookup_url} is served only by the zone that has a URL.
        let zones = "[[zone]]\nname = \"a.example\"\nkind = \"address\"\n\
                     lookup_url = \"https://x.example/\"\n\
                     [[zone]]\nname = \"b.example\"\nkind = \"address\"\n\
                     categories = [\"plain\"]\n";
        let register = "[[category]]\nname = \"bad\"\ncode = \"127.0.0.2\"\n\
                        txt = \"see {lookup_url}\"\n\
                        [[category]]\nname = \"plain\"\ncode = \"127.0.0.3\"\ntxt = \"x\"\n";
        assert_eq!(load(zones, register), Ok(()));
    }
}
