//! RFC 1035 §5 master files: one record a line, absolute owner names, explicit TTL and
//! class, in the order of [`zone_records`](crate::zone_records).
//!
//! Character-strings are quoted, with `"` and `\` escaped and every byte outside printable
//! ASCII written as `\DDD` (RFC 1035 §5.1), so the file is plain ASCII whatever the TXT
//! templates contain.

use std::fmt::Write;

use hickory_proto::rr::{RData, Record};

/// Errors from writing a master file.
#[derive(Debug, thiserror::Error)]
#[error("record type {record_type} of {owner} cannot be written to a master file")]
pub struct MasterError {
    pub owner: String,
    pub record_type: String,
}

/// Writes `records` as a master file, with a comment line naming the zone and serial.
pub fn master_file(zone: &str, serial: u32, records: &[Record]) -> Result<String, MasterError> {
    let mut text = String::with_capacity(records.len() * 64);
    // Writing to a String cannot fail.
    let _ = writeln!(
        text,
        "; zone {zone}, serial {serial}, written by dnsbl export"
    );
    for record in records {
        write_record(&mut text, record)?;
    }
    Ok(text)
}

fn write_record(text: &mut String, record: &Record) -> Result<(), MasterError> {
    let _ = write!(text, "{} {} IN ", record.name, record.ttl);
    match &record.data {
        RData::SOA(soa) => {
            let _ = write!(
                text,
                "SOA {} {} {} {} {} {} {}",
                soa.mname,
                soa.rname,
                soa.serial,
                soa.refresh as u32,
                soa.retry as u32,
                soa.expire as u32,
                soa.minimum
            );
        }
        RData::NS(ns) => {
            let _ = write!(text, "NS {}", ns.0);
        }
        RData::A(a) => {
            let _ = write!(text, "A {}", a.0);
        }
        RData::TXT(txt) => {
            text.push_str("TXT");
            for part in txt.txt_data.iter() {
                text.push(' ');
                push_character_string(text, part);
            }
        }
        RData::HINFO(hinfo) => {
            text.push_str("HINFO ");
            push_character_string(text, &hinfo.cpu);
            text.push(' ');
            push_character_string(text, &hinfo.os);
        }
        other => {
            return Err(MasterError {
                owner: record.name.to_string(),
                record_type: other.record_type().to_string(),
            });
        }
    }
    text.push('\n');
    Ok(())
}

/// Appends a quoted character-string (RFC 1035 §5.1).
fn push_character_string(text: &mut String, bytes: &[u8]) {
    text.push('"');
    for &byte in bytes {
        match byte {
            b'"' | b'\\' => {
                text.push('\\');
                text.push(char::from(byte));
            }
            0x20..=0x7e => text.push(char::from(byte)),
            _ => {
                let _ = write!(text, "\\{byte:03}");
            }
        }
    }
    text.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_string_escapes() {
        let cases: [(&[u8], &str); 4] = [
            (b"plain text", "\"plain text\""),
            (b"say \"hi\" \\o/", "\"say \\\"hi\\\" \\\\o/\""),
            ("é".as_bytes(), "\"\\195\\169\""),
            (b"tab\there", "\"tab\\009here\""),
        ];
        for (bytes, expected) in cases {
            let mut text = String::new();
            push_character_string(&mut text, bytes);
            assert_eq!(text, expected, "bytes {bytes:?}");
        }
    }
}
