//! The `{query}` text of question names with bytes that are not printable ASCII: the
//! record path ([`answer`]) and the wire path ([`WireAnswerer`]) write the same escaped
//! TXT text.

use std::sync::Arc;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{WireAnswerer, WireOutcome, WireScratch, answer, txt};
use crate::model::{AnswerStyle, Category, Listing, ListingSource, SoaSpec, ZoneKind, ZoneSpec};
use crate::snapshot::{Snapshot, SnapshotBuilder};

const TEMPLATE: &str = "{query} is listed: {provider}";

/// Builds the zone `dbl.example` (domains) with `example.com` listed under [`TEMPLATE`].
fn snapshot() -> Snapshot {
    let zone = ZoneSpec {
        name: "dbl.example".into(),
        kind: ZoneKind::Domain,
        ttl: 2100,
        soa: SoaSpec {
            mname: "ns1.dbl.example".into(),
            rname: "hostmaster.dbl.example".into(),
            refresh: 7200,
            retry: 900,
            expire: 1209600,
            minimum: 300,
            ttl: 3600,
        },
        ns: vec!["ns1.dbl.example".into()],
        ns_ttl: 86400,
        categories: None,
        style: AnswerStyle::Zen,
        lookup_url: None,
        includes: Vec::new(),
        acl: Default::default(),
    };
    let category = Category {
        name: "bad-service-provider".into(),
        code: [127, 0, 0, 2].into(),
        txt: TEMPLATE.into(),
    };
    let mut builder = SnapshotBuilder::new(1, vec![zone], vec![category]);
    let listing = builder.add_listing(Listing {
        provider: "Example Hosting".into(),
        operator: None,
        category: 0,
        source: ListingSource::Domain("example.com".into()),
        listed_since: None,
    });
    builder.add_domain("example.com", listing);
    builder.build().unwrap()
}

/// Returns the labels of `<first>.example.com.dbl.example.`, with `first` as raw bytes.
fn labels(first: &[u8]) -> [&[u8]; 5] {
    [first, b"example", b"com", b"dbl", b"example"]
}

/// Encodes a TXT query with RD set and no EDNS by hand, so a label can contain any byte.
fn txt_query(first: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in labels(first) {
        packet.push(label.len() as u8);
        packet.extend_from_slice(label);
    }
    packet.push(0);
    packet.extend_from_slice(&16u16.to_be_bytes());
    packet.extend_from_slice(&1u16.to_be_bytes());
    packet
}

/// Returns the TXT data of each TXT record with its character-strings joined. Bytes that
/// are not UTF-8 become U+FFFD, which no expected text contains.
fn txt_texts(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|record| match &record.data {
            RData::TXT(txt) => Some(String::from_utf8_lossy(&txt.txt_data.concat()).into_owned()),
            _ => None,
        })
        .collect()
}

/// Returns the response code and TXT texts of the record path.
fn record_path(snapshot: &Snapshot, first: &[u8]) -> (ResponseCode, Vec<String>) {
    let name = Name::from_labels(labels(first)).unwrap();
    let got = answer(snapshot, &name, RecordType::TXT, DNSClass::IN);
    (got.rcode, txt_texts(&got.answers))
}

/// Returns the response code and TXT texts of the wire path, which must not fall back.
fn wire_path(answerer: &WireAnswerer, first: &[u8]) -> (ResponseCode, Vec<String>) {
    let mut scratch = WireScratch::default();
    let mut out = Vec::new();
    let outcome = answerer.answer(&txt_query(first), &mut scratch, &mut out);
    assert_eq!(
        outcome,
        WireOutcome::Answered,
        "label {}: wire outcome",
        first.escape_ascii()
    );
    let response = Message::from_vec(&out).unwrap();
    (
        response.metadata.response_code,
        txt_texts(&response.answers),
    )
}

#[test]
fn query_text_escaped_on_both_paths() {
    let cases: [(&[u8], &str); 10] = [
        (b"evil\nDATA", "evil\\010data.example.com"),
        (b"a\rb", "a\\013b.example.com"),
        (b"nul\0", "nul\\000.example.com"),
        (b"back\\slash", "back\\092slash.example.com"),
        (b"say \"hi\"", "say\\032\\034hi\\034.example.com"),
        (b"del\x7f", "del\\127.example.com"),
        (b"tab\there", "tab\\009here.example.com"),
        ("é".as_bytes(), "\\195\\169.example.com"),
        (b"WWW", "www.example.com"),
        (b"mx-1_a*", "mx-1_a*.example.com"),
    ];
    let snapshot = snapshot();
    let answerer = WireAnswerer::new(Arc::new(self::snapshot()));
    for (first, query) in cases {
        let expected = format!("{query} is listed: Example Hosting");
        let label = first.escape_ascii();
        let record = record_path(&snapshot, first);
        assert_eq!(
            record.0,
            ResponseCode::NoError,
            "label {label}: record rcode"
        );
        assert_eq!(
            record.1,
            std::slice::from_ref(&expected),
            "label {label}: record TXT"
        );
        let wire = wire_path(&answerer, first);
        assert_eq!(wire.0, ResponseCode::NoError, "label {label}: wire rcode");
        assert_eq!(wire.1, [expected], "label {label}: wire TXT");
    }
}

#[test]
fn label_not_utf8_is_nxdomain() {
    // A label that is not UTF-8 is never part of a register domain, so the name is not
    // listed and no TXT text carries its bytes.
    let snapshot = snapshot();
    let answerer = WireAnswerer::new(Arc::new(self::snapshot()));
    let first: &[u8] = &[0xff];
    let record = record_path(&snapshot, first);
    assert_eq!(record.0, ResponseCode::NXDomain, "record rcode");
    assert!(record.1.is_empty(), "record TXT");
    let wire = wire_path(&answerer, first);
    assert_eq!(wire.0, ResponseCode::NXDomain, "wire rcode");
    assert!(wire.1.is_empty(), "wire TXT");
}

#[test]
fn write_escaped_cases() {
    let cases: [(&[u8], &str); 11] = [
        (b"\n", "\\010"),
        (b"\r", "\\013"),
        (b"\0", "\\000"),
        (&[0xff], "\\255"),
        (&[0x80], "\\128"),
        (b"\\", "\\092"),
        (b"\"", "\\034"),
        (b" ", "\\032"),
        (b"\x7f", "\\127"),
        (b"!~", "!~"),
        (b"a.b-c_d", "a.b-c_d"),
    ];
    for (bytes, expected) in cases {
        let mut text = String::new();
        txt::write_escaped(&mut text, bytes).unwrap();
        assert_eq!(text, expected, "bytes {}", bytes.escape_ascii());
    }
}

#[test]
fn write_escaped_all_bytes() {
    // 0x21..=0x7e is 94 bytes, of which all but `"` and `\` are copied: 92 plain bytes
    // and 164 escapes of 4 characters each.
    let bytes: Vec<u8> = (0..=255).collect();
    let mut text = String::new();
    txt::write_escaped(&mut text, &bytes).unwrap();
    assert_eq!(text.len(), 92 + 164 * 4);
    assert!(text.is_ascii());
    assert!(!text.bytes().any(|byte| byte.is_ascii_control()));
}

/// hickory-proto's `Name` display escapes label bytes in octal (`\012` for a line feed)
/// where RFC 1035 §5.1 `\DDD` is decimal, so the query text is escaped here instead.
#[test]
fn hickory_name_display_is_octal() {
    let name = Name::from_labels(labels(b"evil\nDATA")).unwrap();
    assert_eq!(name.to_string(), "evil\\012DATA.example.com.dbl.example.");
}
