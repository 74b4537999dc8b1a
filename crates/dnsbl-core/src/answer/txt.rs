//! TXT templates: the text a DNSBL returns for a listing (RFC 5782 §2.1 leaves its content
//! to the list).

use std::fmt::{self, Write};

use crate::listings::{ListingRef, SourceRef};
use crate::model::{Category, ListingSource};

/// Renders a category's TXT template for one listing.
///
/// Placeholders:
/// - `{query}`: the address asked about in its usual text form (`192.0.2.1`,
///   `2001:db8::1`) or the domain asked about, in lower case, with control bytes,
///   space, `"`, `\` and non-ASCII bytes written as the decimal escape `\DDD` of RFC 1035
///   §5.1 (the caller escapes it; see `QueryText`);
/// - `{provider}`: the listed provider;
/// - `{operator}`: the operator behind the provider, empty when none is recorded;
/// - `{source}`: why the range or domain is listed (`AS64500`, `192.0.2.0/24`, a domain);
/// - `{asn}`: the listed ASN (`AS64500`), empty when the listing is not by ASN;
/// - `{netblock}`: the listed netblock (`192.0.2.0/24`), empty when it is not by netblock;
/// - `{category}`: the category name;
/// - `{lookup_url}`: the zone's `lookup_url` with these placeholders filled in, empty when
///   the zone has none.
///
/// `{{` and `}}` stand for literal braces. Any other brace text is copied unchanged,
/// and so is an unknown `{placeholder}`, which dnsbl-config rejects when it reads the
/// register (see [`placeholders`]).
pub fn render_txt(
    template: &str,
    query: &str,
    listing: ListingRef<'_>,
    category: &Category,
    lookup_url: &str,
) -> String {
    let mut output = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(brace) = rest.find(['{', '}']) {
        output.push_str(&rest[..brace]);
        let tail = &rest[brace..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            output.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if let Some(after) = tail.strip_prefix('}') {
            output.push('}');
            rest = after;
            continue;
        }
        let name_len = tail[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len() - 1);
        let name = &tail[1..1 + name_len];
        let closed = tail[1 + name_len..].starts_with('}');
        let substituted =
            closed && substitute(&mut output, name, query, listing, category, lookup_url);
        if substituted {
            rest = &tail[name_len + 2..];
        } else {
            output.push('{');
            rest = &tail[1..];
        }
    }
    output.push_str(rest);
    output
}

/// Appends the labels of a question name, joined with dots, in the presentation format of
/// RFC 1035 §5.1: every byte outside 0x21..=0x7e (control bytes, space, DEL, non-ASCII),
/// `"` and `\` becomes `\` and its three-digit decimal value (a line feed is `\010`).
/// Every other byte is copied.
///
/// A label may hold any byte (RFC 2181 §11), and MTAs copy the TXT text into SMTP replies
/// and logs, so the query text must not carry a line break or other control byte into
/// them. Space and `"` are escaped too, so the query text stays one token that a quoted
/// log field cannot end early. Bytes of 0x80 and above are escaped one by one, so UTF-8
/// labels come out as their encoded bytes (`é` is `\195\169`).
///
/// A `.` is not escaped because a label that contains one never reaches a TXT record:
/// the domain lookup answers NXDOMAIN for it.
pub(super) fn write_escaped(output: &mut impl fmt::Write, text: &[u8]) -> fmt::Result {
    for &byte in text {
        if is_plain(byte) {
            output.write_char(char::from(byte))?;
        } else {
            write!(output, "\\{byte:03}")?;
        }
    }
    Ok(())
}

/// Whether [`write_escaped`] copies `byte` as it is.
pub(super) fn is_plain(byte: u8) -> bool {
    matches!(byte, 0x21..=0x7e) && byte != b'"' && byte != b'\\'
}

/// The placeholder names that [`render_txt`] fills in.
pub const PLACEHOLDERS: [&str; 8] = [
    "query",
    "provider",
    "operator",
    "source",
    "asn",
    "netblock",
    "category",
    "lookup_url",
];

/// Returns the names of the `{name}` placeholders in `template`, known or not, in order.
/// Brace text that [`render_txt`] copies as it is (`{{`, `{ name }`, `{}`) is skipped.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(brace) = rest.find(['{', '}']) {
        let tail = &rest[brace..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = &tail[2..];
            continue;
        }
        if let Some(after) = tail.strip_prefix('}') {
            rest = after;
            continue;
        }
        let name_len = tail[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len() - 1);
        let name = &tail[1..1 + name_len];
        if !name.is_empty() && tail[1 + name_len..].starts_with('}') {
            names.push(name);
            rest = &tail[name_len + 2..];
        } else {
            rest = &tail[1..];
        }
    }
    names
}

/// Maximum length of a TXT or `lookup_url` template, in bytes. It guards against mistakes
/// and is no protocol limit: a rendered TXT text is split into character-strings of 255
/// bytes (RFC 1035 §3.3), and the whole answer must fit one DNS message.
pub const MAX_TEMPLATE_BYTES: usize = 1000;

/// Checks a template that [`render_txt`] fills in, with `key` naming it in the messages.
/// The template must have at most [`MAX_TEMPLATE_BYTES`] and no control character,
/// because a line feed would reach the TXT text and so an SMTP reply that quotes it.
/// Every `{name}` must be a name in `known`, and every other brace must be doubled.
/// Positions in the messages count characters from 1.
pub fn check_template(template: &str, key: &str, known: &[&str]) -> Result<(), String> {
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(format!(
            "{key} is {} bytes long, more than the maximum of {MAX_TEMPLATE_BYTES} bytes",
            template.len()
        ));
    }
    let control = template.chars().enumerate().find(|(_, c)| c.is_control());
    if let Some((index, c)) = control {
        return Err(format!(
            "{key} contains the control character {:?} at character {}; a template must be \
             one line of printable text",
            c,
            index + 1
        ));
    }
    let mut chars = template.char_indices().enumerate().peekable();
    while let Some((index, (offset, c))) = chars.next() {
        let position = index + 1;
        let doubled = chars.peek().is_some_and(|&(_, (_, next))| next == c);
        match c {
            '{' | '}' if doubled => {
                chars.next();
            }
            '}' => {
                return Err(format!(
                    "unmatched '}}' at character {position} in {key}; write '}}}}' for a \
                     literal brace"
                ));
            }
            '{' => {
                let tail = &template[offset + 1..];
                let name = match tail.find(['{', '}']) {
                    Some(end) if tail[end..].starts_with('}') => &tail[..end],
                    _ => {
                        return Err(format!(
                            "unclosed '{{' at character {position} in {key}; write '{{{{' \
                             for a literal brace"
                        ));
                    }
                };
                if !known.contains(&name) {
                    return Err(unknown_placeholder(name, key, known));
                }
                // Skip the name and its closing brace.
                for _ in 0..=name.chars().count() {
                    chars.next();
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Returns the message for the unknown placeholder `{name}` in the template `key`.
fn unknown_placeholder(name: &str, key: &str, known: &[&str]) -> String {
    let list = known
        .iter()
        .map(|name| format!("{{{name}}}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "unknown placeholder {{{name}}} in {key}; the placeholders are {list} (write {{{{ \
         and }}}} for literal braces)"
    )
}

/// Appends the value of placeholder `name`; returns false for an unknown name.
fn substitute(
    output: &mut String,
    name: &str,
    query: &str,
    listing: ListingRef<'_>,
    category: &Category,
    lookup_url: &str,
) -> bool {
    match name {
        "query" => output.push_str(query),
        "provider" => output.push_str(listing.provider),
        "operator" => output.push_str(listing.operator.unwrap_or("")),
        "source" => {
            // Writing to a String cannot fail.
            let _ = write!(output, "{}", listing.source);
        }
        "asn" => {
            if let SourceRef::Asn(asn) = listing.source {
                let _ = write!(output, "AS{asn}");
            }
        }
        "netblock" => {
            if let SourceRef::Other(ListingSource::Netblock(range)) = listing.source {
                let _ = write!(output, "{range}");
            }
        }
        "category" => output.push_str(&category.name),
        "lookup_url" => output.push_str(lookup_url),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Listing;

    #[test]
    fn placeholders_cases() {
        let cases: [(&str, &[&str]); 8] = [
            ("{query} is listed: {provider}", &["query", "provider"]),
            ("{unknown} {query", &["unknown"]),
            ("{{query}} {{{query}}}", &["query"]),
            ("{ query } {}", &[]),
            ("{a{query}}", &["query"]),
            ("a}b{", &[]),
            ("{Query}{lookup_url}", &["Query", "lookup_url"]),
            ("", &[]),
        ];
        for (template, expected) in cases {
            assert_eq!(placeholders(template), expected, "template {template:?}");
        }
    }

    #[test]
    fn check_template_cases() {
        let list = "{query}, {provider}, {operator}, {source}, {asn}, {netblock}, \
                    {category}, {lookup_url}";
        let unknown = |name: &str| {
            format!(
                "unknown placeholder {{{name}}} in txt; the placeholders are {list} (write {{{{ \
                 and }}}} for literal braces)"
            )
        };
        let long = "x".repeat(MAX_TEMPLATE_BYTES + 1);
        let cases: Vec<(&str, Result<(), String>)> = vec![
            ("{query} is listed: {provider}", Ok(())),
            ("{{query}} {{{query}}} a}}b", Ok(())),
            ("é{lookup_url}ü", Ok(())),
            ("", Ok(())),
            (&long[1..], Ok(())),
            (
                &long,
                Err("txt is 1001 bytes long, more than the maximum of 1000 bytes".into()),
            ),
            ("{querry} listed", Err(unknown("querry"))),
            ("{} listed", Err(unknown(""))),
            ("{ query }", Err(unknown(" query "))),
            (
                "{query listed",
                Err("unclosed '{' at character 1 in txt; write '{{' for a literal brace".into()),
            ),
            (
                "é {a{query}}",
                Err("unclosed '{' at character 3 in txt; write '{{' for a literal brace".into()),
            ),
            (
                "a}b",
                Err("unmatched '}' at character 2 in txt; write '}}' for a literal brace".into()),
            ),
            (
                "{query}} x",
                Err("unmatched '}' at character 8 in txt; write '}}' for a literal brace".into()),
            ),
            (
                "ü{{x}}}",
                Err("unmatched '}' at character 7 in txt; write '}}' for a literal brace".into()),
            ),
            (
                "listed\nRCPT TO:<x>",
                Err(
                    "txt contains the control character '\\n' at character 7; a template \
                     must be one line of printable text"
                        .into(),
                ),
            ),
            (
                "a\u{1b}",
                Err(
                    "txt contains the control character '\\u{1b}' at character 2; a template \
                     must be one line of printable text"
                        .into(),
                ),
            ),
        ];
        for (template, expected) in cases {
            assert_eq!(
                check_template(template, "txt", &PLACEHOLDERS),
                expected,
                "template {template:?}"
            );
        }
    }

    fn listing(operator: Option<&str>) -> Listing {
        Listing {
            provider: "Example Hosting".into(),
            operator: operator.map(str::to_string),
            category: 0,
            source: ListingSource::Asn(64500),
            listed_since: None,
        }
    }

    fn category() -> Category {
        Category {
            name: "bad-service-provider".into(),
            code: [127, 0, 0, 3].into(),
            txt: String::new(),
        }
    }

    #[test]
    fn every_placeholder_substituted() {
        for name in PLACEHOLDERS {
            let mut output = String::new();
            let known = substitute(
                &mut output,
                name,
                "q",
                (&listing(None)).into(),
                &category(),
                "u",
            );
            assert!(known, "placeholder {name}");
        }
    }

    #[test]
    fn render_txt_cases() {
        let cases = [
            ("{query} listed", Some("Op"), "192.0.2.1 listed"),
            (
                "{provider}/{operator}/{source}/{category}",
                Some("Op"),
                "Example Hosting/Op/AS64500/bad-service-provider",
            ),
            ("[{operator}]", None, "[]"),
            ("{{query}} {{{query}}}", None, "{query} {192.0.2.1}"),
            ("{unknown} {query", None, "{unknown} {query"),
            ("{ query } {}", None, "{ query } {}"),
            ("a}b{", None, "a}b{"),
            ("{a{query}}", None, "{a192.0.2.1}"),
            ("é{query}ü", None, "é192.0.2.1ü"),
            ("", None, ""),
            ("{asn}|{netblock}", None, "AS64500|"),
            ("see {lookup_url}", None, "see https://x.example/192.0.2.1"),
        ];
        for (template, operator, expected) in cases {
            let url = "https://x.example/192.0.2.1";
            assert_eq!(
                render_txt(
                    template,
                    "192.0.2.1",
                    (&listing(operator)).into(),
                    &category(),
                    url
                ),
                expected,
                "template {template:?}"
            );
        }
        let mut by_netblock = listing(None);
        by_netblock.source = ListingSource::Netblock("192.0.2.0/24".parse().unwrap());
        assert_eq!(
            render_txt(
                "{asn}|{netblock}",
                "q",
                (&by_netblock).into(),
                &category(),
                ""
            ),
            "|192.0.2.0/24"
        );
    }
}
