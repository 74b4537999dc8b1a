//! The CSV format of the npm package `@ip-location-db/asn`: `start,end,asn,org` per line,
//! no header, inclusive ranges, `org` quoted when it contains a comma.
//!
//! Addresses are written in dotted form (`1.0.0.0`, `2001:200::`) in `asn-ipv4.csv` and
//! `asn-ipv6.csv`, or as decimal integers in the `*-num.csv` files. A decimal integer does
//! not tell its family, so the rule is:
//!
//! * in a file whose name contains `ipv6` (any case), every decimal address is IPv6;
//! * elsewhere a decimal address up to 4294967295 is IPv4 and a larger one is IPv6.
//!
//! An IPv6 range below ::1:0:0 in a decimal file not named `ipv6` is therefore read as IPv4.
//! Such addresses (inside ::/96) are never routed, so the rule loses no real row.
//!
//! Every invalid line stops the parse with `FILE:LINE: what is wrong (value)`, and so does
//! a row wider than the [`RangeLimit`] passed in. Control characters in the value are
//! escaped.

use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use dnsbl_core::{AddrRange, RangeLimit};
use dnsbl_store::{RoutingRow, RoutingSource};

/// Errors from reading a routing data file.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{}:{line}: {message} ({value})", path.display())]
    Line {
        path: PathBuf,
        line: u64,
        message: String,
        value: String,
    },
    #[error("failed to read {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Returns `text` with control characters escaped (`\t`, `\u{1b}`), so that an error
/// message shows them and a terminal does not act on them.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A routing data file, read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingFile {
    pub source: RoutingSource,
    pub rows: Vec<RoutingRow>,
}

/// Reads and parses one routing data file, with no limit on the width of a row.
pub fn read_routing_file(path: &Path) -> Result<RoutingFile, ParseError> {
    read_routing_file_limited(path, &RangeLimit::NONE)
}

/// Reads and parses one routing data file, rejecting a row wider than `limit`.
pub fn read_routing_file_limited(
    path: &Path,
    limit: &RangeLimit,
) -> Result<RoutingFile, ParseError> {
    read_routing_file_with(path, limit, &|_| {})
}

/// Size of one read, so that progress moves while a large file is read.
const READ_CHUNK: usize = 1 << 20;

/// Does what [`read_routing_file_limited`] does, and calls `on_read` with the size of each
/// chunk read, in bytes.
pub(crate) fn read_routing_file_with(
    path: &Path,
    limit: &RangeLimit,
    on_read: &dyn Fn(u64),
) -> Result<RoutingFile, ParseError> {
    let read_error = |error| ParseError::Read {
        path: path.to_path_buf(),
        error,
    };
    let mut file = File::open(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    let mut data = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    loop {
        let before = data.len();
        let read = (&mut file)
            .take(READ_CHUNK as u64)
            .read_to_end(&mut data)
            .map_err(read_error)?;
        if read == 0 {
            break;
        }
        debug_assert_eq!(data.len() - before, read);
        on_read(read as u64);
    }
    let rows = parse_routing_limited(&data, path, limit)?;
    Ok(RoutingFile {
        source: RoutingSource {
            path: path.to_path_buf(),
            rows: rows.len() as u64,
            size: metadata.len(),
            modified: metadata.modified().ok(),
        },
        rows,
    })
}

/// An address of either family, before start and end are paired.
#[derive(Clone, Copy)]
enum Address {
    V4(u32),
    V6(u128),
}

/// Parses routing rows from the contents of a file, with no limit on the width of a row.
/// `path` names the file in errors and decides the family of decimal addresses, as the
/// module documentation describes.
pub fn parse_routing(data: &[u8], path: &Path) -> Result<Vec<RoutingRow>, ParseError> {
    parse_routing_limited(data, path, &RangeLimit::NONE)
}

/// Parses routing rows as [`parse_routing`] does and rejects a row wider than `limit`.
pub fn parse_routing_limited(
    data: &[u8],
    path: &Path,
    limit: &RangeLimit,
) -> Result<Vec<RoutingRow>, ParseError> {
    let ipv6_file = path
        .file_name()
        .is_some_and(|name| name.to_string_lossy().to_ascii_lowercase().contains("ipv6"));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    // The csv crate accepts a quoted field that the end of the file cuts off, as a
    // download that stopped midway leaves it, so an odd quote count on the last line is
    // checked here.
    let last_line_start = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let last_line = &data[last_line_start..];
    if last_line.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
        return Err(ParseError::Line {
            path: path.to_path_buf(),
            line: data.iter().filter(|&&b| b == b'\n').count() as u64 + 1,
            message: "unterminated quote at the end of the file: is the file cut off?".to_string(),
            value: printable(&String::from_utf8_lossy(last_line)),
        });
    }
    let mut record = csv::ByteRecord::new();
    let mut rows = Vec::new();
    loop {
        // The line number is counted only for an error, because counting it for every
        // record would scan the file once per record.
        let line_error = |offset: u64, message: &str, value: &str| ParseError::Line {
            path: path.to_path_buf(),
            line: line_at(data, offset),
            message: message.to_string(),
            value: printable(value),
        };
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                let offset = error.position().map_or(0, |p| p.byte());
                if let csv::ErrorKind::Io(source) = error.into_kind() {
                    return Err(ParseError::Read {
                        path: path.to_path_buf(),
                        error: source,
                    });
                }
                return Err(line_error(offset, "invalid CSV", "unreadable record"));
            }
        }
        let offset = record.position().map_or(0, |p| p.byte());
        let mut fields = [""; 4];
        if record.len() != fields.len() {
            let message = format!(
                "expected 4 fields start,end,asn,org but found {}",
                record.len()
            );
            let joined: Vec<_> = record.iter().map(String::from_utf8_lossy).collect();
            return Err(line_error(offset, &message, &joined.join(",")));
        }
        for (slot, bytes) in fields.iter_mut().zip(record.iter()) {
            *slot = std::str::from_utf8(bytes).map_err(|_| {
                line_error(offset, "invalid UTF-8", &String::from_utf8_lossy(bytes))
            })?;
        }
        let [start_text, end_text, asn_text, org] = fields;
        // A record never spans lines in this format. A line break inside a field means an
        // unterminated quote, which would otherwise swallow the lines after it.
        if org.contains(['\n', '\r']) {
            let first_line = org.lines().next().unwrap_or_default();
            return Err(line_error(
                offset,
                "unterminated quote in the organisation field",
                first_line,
            ));
        }
        let start = parse_address(start_text, ipv6_file)
            .ok_or_else(|| line_error(offset, "invalid start address", start_text))?;
        let end = parse_address(end_text, ipv6_file)
            .ok_or_else(|| line_error(offset, "invalid end address", end_text))?;
        let pair = || format!("{start_text},{end_text}");
        let range = match (start, end) {
            (Address::V4(start), Address::V4(end)) if start <= end => AddrRange::V4 { start, end },
            (Address::V6(start), Address::V6(end)) if start <= end => AddrRange::V6 { start, end },
            (Address::V4(_), Address::V4(_)) | (Address::V6(_), Address::V6(_)) => {
                return Err(line_error(offset, "start is after end", &pair()));
            }
            _ => {
                return Err(line_error(
                    offset,
                    "start and end are of different address families",
                    &pair(),
                ));
            }
        };
        if !limit.allows(&range) {
            return Err(line_error(offset, &limit.message(&range), &pair()));
        }
        let asn = parse_asn(asn_text).ok_or_else(|| {
            line_error(
                offset,
                "invalid ASN: expected a number from 0 to 4294967295",
                asn_text,
            )
        })?;
        rows.push(RoutingRow {
            range,
            asn,
            org: org.to_string(),
        });
    }
    Ok(rows)
}

/// Returns the 1-based line of the record that starts at `offset`. The csv crate (1.4)
/// reports the position before the blank lines that precede a record, so they are skipped.
fn line_at(data: &[u8], offset: u64) -> u64 {
    let mut offset = usize::try_from(offset)
        .unwrap_or(data.len())
        .min(data.len());
    while offset < data.len() && matches!(data[offset], b'\r' | b'\n') {
        offset += 1;
    }
    data[..offset].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

fn parse_address(text: &str, ipv6_file: bool) -> Option<Address> {
    if text.contains(':') {
        return text.parse::<Ipv6Addr>().ok().map(|a| Address::V6(a.into()));
    }
    if text.contains('.') {
        return text.parse::<Ipv4Addr>().ok().map(|a| Address::V4(a.into()));
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u128 = text.parse().ok()?;
    if ipv6_file {
        return Some(Address::V6(value));
    }
    Some(match u32::try_from(value) {
        Ok(v4) => Address::V4(v4),
        Err(_) => Address::V6(value),
    })
}

fn parse_asn(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, name: &str) -> Result<Vec<RoutingRow>, ParseError> {
        parse_routing(text.as_bytes(), Path::new(name))
    }

    fn v4(start: [u8; 4], end: [u8; 4]) -> AddrRange {
        AddrRange::V4 {
            start: u32::from_be_bytes(start),
            end: u32::from_be_bytes(end),
        }
    }

    #[test]
    fn dotted_rows_parse() {
        let rows = parse(
            "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n\
             2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project\n",
            "asn.csv",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].range, v4([1, 0, 0, 0], [1, 0, 0, 255]));
        assert_eq!(rows[0].asn, 13335);
        assert_eq!(rows[0].org, "Cloudflare, Inc.");
        assert_eq!(
            rows[1].range,
            "2001:200::-2001:200:1b9:ffff:ffff:ffff:ffff:ffff"
                .parse()
                .unwrap()
        );
        assert_eq!(rows[1].org, "WIDE Project");
    }

    #[test]
    fn numeric_rows_parse() {
        let rows = parse(
            "16777216,16777471,13335,\"Cloudflare, Inc.\"\n",
            "asn-ipv4-num.csv",
        )
        .unwrap();
        assert_eq!(rows[0].range, v4([1, 0, 0, 0], [1, 0, 0, 255]));

        let text = "42540488161975842760550356425300246528,42540488241204005274814694018844196863,6939,Hurricane Electric LLC\n";
        let rows = parse(text, "asn-ipv6-num.csv").unwrap();
        assert_eq!(rows[0].range, "2001::/32".parse().unwrap());
        assert_eq!(rows[0].asn, 6939);
    }

    #[test]
    fn numeric_family_follows_file_name() {
        let rows = parse("0,65535,1,x\n", "asn-IPv6-num.csv").unwrap();
        assert_eq!(
            rows[0].range,
            AddrRange::V6 {
                start: 0,
                end: 65535
            }
        );
        let rows = parse("0,65535,1,x\n", "asn-num.csv").unwrap();
        assert_eq!(
            rows[0].range,
            AddrRange::V4 {
                start: 0,
                end: 65535
            }
        );
        let rows = parse("4294967296,4294967297,1,x\n", "asn-num.csv").unwrap();
        assert_eq!(
            rows[0].range,
            AddrRange::V6 {
                start: 1 << 32,
                end: (1 << 32) + 1
            }
        );
    }

    #[test]
    fn empty_org_and_empty_file() {
        assert!(parse("", "asn.csv").unwrap().is_empty());
        let rows = parse("192.0.2.0,192.0.2.255,64496,\n", "asn.csv").unwrap();
        assert_eq!(rows[0].org, "");
    }

    #[test]
    fn invalid_lines_name_file_and_line() {
        let good = "1.0.0.0,1.0.0.255,13335,Cloudflare\n";
        let cases = [
            (
                "1.0.0.0,1.0.0.255,13335\n",
                "asn.csv:2: expected 4 fields start,end,asn,org but found 3 (1.0.0.0,1.0.0.255,13335)",
            ),
            (
                "1.0.0.0,1.0.0.255,13335,a,b\n",
                "asn.csv:2: expected 4 fields start,end,asn,org but found 5 (1.0.0.0,1.0.0.255,13335,a,b)",
            ),
            (
                "1.0.0.x,1.0.0.255,13335,a\n",
                "asn.csv:2: invalid start address (1.0.0.x)",
            ),
            (
                "1.0.0.0,1.0.0.256,13335,a\n",
                "asn.csv:2: invalid end address (1.0.0.256)",
            ),
            (
                ",1.0.0.255,13335,a\n",
                "asn.csv:2: invalid start address ()",
            ),
            (
                "1.0.0.9,1.0.0.1,13335,a\n",
                "asn.csv:2: start is after end (1.0.0.9,1.0.0.1)",
            ),
            (
                "1.0.0.0,2001:db8::,13335,a\n",
                "asn.csv:2: start and end are of different address families (1.0.0.0,2001:db8::)",
            ),
            (
                "1.0.0.0,4294967296,13335,a\n",
                "asn.csv:2: start and end are of different address families (1.0.0.0,4294967296)",
            ),
            (
                "1.0.0.0,1.0.0.255,AS13335,a\n",
                "asn.csv:2: invalid ASN: expected a number from 0 to 4294967295 (AS13335)",
            ),
            (
                "1.0.0.0,1.0.0.255,4294967296,a\n",
                "asn.csv:2: invalid ASN: expected a number from 0 to 4294967295 (4294967296)",
            ),
            (
                "1.0.0.0,1.0.0.255,-1,a\n",
                "asn.csv:2: invalid ASN: expected a number from 0 to 4294967295 (-1)",
            ),
            (
                "1.0.0.0,1.0.0.255,\x1b[2J13335,a\n",
                "asn.csv:2: invalid ASN: expected a number from 0 to 4294967295 (\\u{1b}[2J13335)",
            ),
            (
                "1.0.0\t.0,1.0.0.255,13335,a\n",
                "asn.csv:2: invalid start address (1.0.0\\t.0)",
            ),
        ];
        for (bad, expected) in cases {
            let text = format!("{good}{bad}");
            let error = parse(&text, "asn.csv").unwrap_err().to_string();
            assert_eq!(error, expected, "input {bad:?}");
        }
    }

    #[test]
    fn wide_rows_are_rejected() {
        let text = "1.0.0.0,1.0.0.255,1,a\n0.0.0.0,255.255.255.255,2,b\n";
        let limit = RangeLimit::DEFAULT;
        let error = parse_routing_limited(text.as_bytes(), Path::new("asn.csv"), &limit)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("asn.csv:2: range is wider than the maximum IPv4 size /6"),
            "{error}"
        );
        assert!(error.ends_with("(0.0.0.0,255.255.255.255)"), "{error}");
        let text = "::,ffff::,1,a\n";
        let error = parse_routing_limited(text.as_bytes(), Path::new("asn.csv"), &limit)
            .unwrap_err()
            .to_string();
        assert!(error.contains("IPv6 size /16"), "{error}");
        let rows = parse_routing_limited(
            b"28.4.61.0,30.255.255.255,749,DoD\n2002::,2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff,6939,HE\n",
            Path::new("asn.csv"),
            &limit,
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(parse(text, "asn.csv").unwrap().len(), 1);
    }

    #[test]
    fn wide_mapped_rows_are_rejected() {
        // Rows inside ::ffff:0:0/96 are looked up as IPv4, so they meet the IPv4 limit even
        // in the IPv6 file, and a wider one fails the run like any other too wide row.
        let limit = RangeLimit::DEFAULT;
        let text = "2001:db8::,2001:db8::ffff,1,a\n::ffff:0.0.0.0,::ffff:255.255.255.255,36351,x\n";
        let error = parse_routing_limited(text.as_bytes(), Path::new("asn-ipv6.csv"), &limit)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "asn-ipv6.csv:2: its ::ffff:0:0/96 part covers the IPv4 range 0.0.0.0/0, wider \
             than the maximum IPv4 size /6; pass --allow-wide-ranges or a smaller \
             --max-prefix-v4 if it is real (::ffff:0.0.0.0,::ffff:255.255.255.255)"
        );
        let text = "::ffff:10.0.0.0,::ffff:10.255.255.255,36351,x\n";
        let rows =
            parse_routing_limited(text.as_bytes(), Path::new("asn-ipv6.csv"), &limit).unwrap();
        assert_eq!(rows.len(), 1);
        let rows = parse_routing_limited(
            b"::,ffff::,1,a\n",
            Path::new("asn-ipv6.csv"),
            &RangeLimit::NONE,
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn invalid_utf8_names_line() {
        let mut bytes = b"1.0.0.0,1.0.0.255,13335,a\n\n1.0.0.0,1.0.0.255,13335,caf".to_vec();
        bytes.extend([0xff, b'\n']);
        let error = parse_routing(&bytes, Path::new("data/asn.csv")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "data/asn.csv:3: invalid UTF-8 (caf\u{fffd})"
        );
    }

    #[test]
    fn crlf_and_blank_lines_count() {
        let text = "\r\n1.0.0.0,1.0.0.255,1,a\r\n\r\n\r\n1.0.0.0,x,1,a\r\n";
        let error = parse(text, "asn.csv").unwrap_err().to_string();
        assert_eq!(error, "asn.csv:5: invalid end address (x)");
    }

    #[test]
    fn unterminated_quote_is_rejected() {
        let cases = [
            // A stray quote that would swallow the next line.
            (
                "1.0.0.0,1.0.0.255,1,\"Cloud\n2.0.0.0,2.0.0.255,2,b\n",
                "asn.csv:1:",
            ),
            // A download cut off inside a quoted field, at the end of the file.
            (
                "1.0.0.0,1.0.0.255,1,a\n2.0.0.0,2.0.0.255,2,\"Frontier, In",
                "asn.csv:2:",
            ),
            // A quoted line break, which this format never has.
            ("1.0.0.0,1.0.0.255,1,\"two\nlines\"\n", "asn.csv:1:"),
        ];
        for (text, place) in cases {
            let error = parse(text, "asn.csv").unwrap_err().to_string();
            assert!(error.starts_with(place), "{text:?}: {error}");
            assert!(
                error.contains("unterminated quote") || error.contains("invalid CSV"),
                "{text:?}: {error}"
            );
        }
    }

    #[test]
    fn missing_file_is_read_error() {
        let error = read_routing_file(Path::new("/nonexistent/asn.csv")).unwrap_err();
        assert!(matches!(error, ParseError::Read { .. }), "{error}");
        assert!(
            error
                .to_string()
                .starts_with("failed to read /nonexistent/asn.csv: ")
        );
    }

    #[test]
    fn committed_slices_parse() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones/data");
        let v4 = read_routing_file(&data.join("asn-ipv4-slice.csv")).unwrap();
        assert!(v4.rows.iter().all(|row| row.range.is_ipv4()));
        assert_eq!(v4.source.rows, v4.rows.len() as u64);
        let v6 = read_routing_file(&data.join("asn-ipv6-slice.csv")).unwrap();
        assert!(v6.rows.iter().all(|row| !row.range.is_ipv4()));
    }
}
