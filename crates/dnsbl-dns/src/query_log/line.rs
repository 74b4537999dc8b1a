//! The text of one query log line; see the parent module for its fields.

use std::fmt::Write as _;

use hickory_server::proto::op::Message;
use hickory_server::proto::rr::{Name, RecordType};
use time::OffsetDateTime;
use time::macros::format_description;

use super::{Content, Entry, a_value};

/// Appends the line of `entry`, with its newline, to `line`.
pub(super) fn format_line(entry: &Entry, line: &mut String) {
    let time = OffsetDateTime::from(entry.time)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
        .unwrap_or_else(|_| "-".to_string());
    let (question, rcode, codes) = match &entry.content {
        Content::Wire(bytes) => match Message::from_vec(bytes) {
            Ok(message) => {
                let question = message
                    .queries
                    .first()
                    .map(|query| (presentation_name(query.name()), query.query_type()));
                let codes = message.answers.iter().filter_map(a_value).collect();
                (question, u16::from(message.metadata.response_code), codes)
            }
            // The wire path only sends messages it built; this is a safety net.
            Err(_) => (
                None,
                u16::from(bytes.get(3).map_or(0, |b| b & 0x0f)),
                vec![],
            ),
        },
        Content::Fields {
            question,
            rcode,
            codes,
        } => (question.clone(), *rcode, codes.clone()),
    };
    let _ = write!(line, "{time} {} ", entry.client);
    match &question {
        Some((name, qtype)) => {
            let _ = write!(line, "{name} ");
            push_type(line, *qtype);
        }
        None => line.push_str("- -"),
    }
    line.push(' ');
    push_rcode(line, rcode);
    line.push(' ');
    if codes.is_empty() {
        line.push('-');
    }
    for (index, code) in codes.iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        let _ = write!(line, "{code}");
    }
    line.push('\n');
}

/// Returns `name` in the presentation form of RFC 1035 §5.1, with a trailing dot. A
/// backslash goes before `.`, `\` and the other characters special in zone files, and
/// space, control and non-ASCII bytes become the decimal escape `\DDD`. hickory-proto's
/// `Name` display writes those bytes in octal instead (`\012` for a line feed).
pub(super) fn presentation_name(name: &Name) -> String {
    let mut text = String::with_capacity(name.len() + 1);
    for label in name.iter() {
        for &byte in label {
            match byte {
                b'.' | b'\\' | b'"' | b';' | b'(' | b')' | b'@' | b'$' => {
                    text.push('\\');
                    text.push(char::from(byte));
                }
                0x21..=0x7e => text.push(char::from(byte)),
                _ => {
                    let _ = write!(text, "\\{byte:03}");
                }
            }
        }
        text.push('.');
    }
    if text.is_empty() {
        text.push('.');
    }
    text
}

fn push_type(line: &mut String, qtype: RecordType) {
    match qtype {
        RecordType::Unknown(number) => {
            let _ = write!(line, "TYPE{number}");
        }
        known => {
            let _ = write!(line, "{known}");
        }
    }
}

/// Writes the mnemonic of RFC 1035 §4.1.1 and RFC 6891 §9, or `RCODEn`.
fn push_rcode(line: &mut String, rcode: u16) {
    let mnemonic = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        9 => "NOTAUTH",
        16 => "BADVERS",
        other => {
            let _ = write!(line, "RCODE{other}");
            return;
        }
    };
    line.push_str(mnemonic);
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::{Duration, SystemTime};

    use hickory_server::proto::op::Query;
    use hickory_server::proto::rr::{Name, RData, Record, rdata::A};

    use super::*;

    fn entry(content: Content) -> Entry {
        Entry {
            time: SystemTime::UNIX_EPOCH + Duration::from_micros(1_796_406_894_123_456),
            client: "127.0.0.1:53211".parse().unwrap(),
            content,
        }
    }

    fn fields(name: Option<&str>, qtype: RecordType, rcode: u16, codes: &[[u8; 4]]) -> Content {
        Content::Fields {
            question: name.map(|name| (name.to_string(), qtype)),
            rcode,
            codes: codes.iter().map(|octets| Ipv4Addr::from(*octets)).collect(),
        }
    }

    #[test]
    fn names_use_decimal_escapes() {
        let cases: [(&[&[u8]], &str); 6] = [
            (&[b"7", b"100", b"bl", b"example"], "7.100.bl.example."),
            (&[b"evil\nDATA", b"example"], "evil\\010DATA.example."),
            (&[b"a b", b"example"], "a\\032b.example."),
            (&[b"a.b", b"c\\d"], "a\\.b.c\\\\d."),
            (
                &[b"\xff\x00", b"q\"(;)@$"],
                "\\255\\000.q\\\"\\(\\;\\)\\@\\$.",
            ),
            (&[], "."),
        ];
        for (labels, expected) in cases {
            let mut name = Name::from_labels(labels.iter().copied()).unwrap();
            name.set_fqdn(true);
            assert_eq!(presentation_name(&name), expected, "{labels:?}");
        }
    }

    #[test]
    fn lines_have_six_fields() {
        let cases = [
            (
                fields(
                    Some("7.100.10.5.bl.example."),
                    RecordType::A,
                    0,
                    &[[127, 0, 0, 2], [127, 0, 0, 4]],
                ),
                "2026-12-04T17:54:54.123456Z 127.0.0.1:53211 7.100.10.5.bl.example. A NOERROR 127.0.0.2,127.0.0.4\n",
            ),
            (
                fields(Some("1.0.0.127.bl.example."), RecordType::TXT, 3, &[]),
                "2026-12-04T17:54:54.123456Z 127.0.0.1:53211 1.0.0.127.bl.example. TXT NXDOMAIN -\n",
            ),
            (
                fields(Some("x.example."), RecordType::Unknown(65280), 5, &[]),
                "2026-12-04T17:54:54.123456Z 127.0.0.1:53211 x.example. TYPE65280 REFUSED -\n",
            ),
            (
                fields(None, RecordType::A, 1, &[]),
                "2026-12-04T17:54:54.123456Z 127.0.0.1:53211 - - FORMERR -\n",
            ),
            (
                fields(Some("bl.example."), RecordType::SOA, 23, &[]),
                "2026-12-04T17:54:54.123456Z 127.0.0.1:53211 bl.example. SOA RCODE23 -\n",
            ),
        ];
        for (content, expected) in cases {
            let mut line = String::new();
            format_line(&entry(content), &mut line);
            assert_eq!(line, expected);
        }
    }

    #[test]
    fn wire_responses_are_decoded() {
        let name = Name::from_ascii("2.0.0.127.bl.example.").unwrap();
        let mut message = Message::query();
        message.metadata.message_type = hickory_server::proto::op::MessageType::Response;
        message.add_query(Query::query(name.clone(), RecordType::A));
        message.add_answer(Record::from_rdata(
            name,
            300,
            RData::A(A::new(127, 0, 0, 2)),
        ));
        let mut line = String::new();
        format_line(&entry(Content::Wire(message.to_vec().unwrap())), &mut line);
        assert_eq!(
            line,
            "2026-12-04T17:54:54.123456Z 127.0.0.1:53211 2.0.0.127.bl.example. A NOERROR 127.0.0.2\n"
        );
    }
}
