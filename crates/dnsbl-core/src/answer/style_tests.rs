//! Table-driven tests of combined zones, the multi answer style and lookup URLs.

use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{Answer, answer};
use crate::model::{AnswerStyle, Category, Listing, ListingSource, SoaSpec, ZoneKind, ZoneSpec};
use crate::snapshot::{Snapshot, SnapshotBuilder, SnapshotError};

const TTL: u32 = 600;
const NEGATIVE_TTL: u32 = 120;
const SERIAL: u32 = 7;

fn zone(name: &str, categories: Option<&[&str]>, includes: &[&str]) -> ZoneSpec {
    ZoneSpec {
        name: name.into(),
        kind: ZoneKind::Address,
        ttl: TTL,
        soa: SoaSpec {
            mname: format!("ns1.{name}"),
            rname: format!("hostmaster.{name}"),
            refresh: 3600,
            retry: 600,
            expire: 604800,
            minimum: NEGATIVE_TTL,
            ttl: 3600,
        },
        ns: vec![format!("ns1.{name}")],
        ns_ttl: 86400,
        categories: categories.map(|names| names.iter().map(|n| n.to_string()).collect()),
        style: AnswerStyle::Zen,
        lookup_url: None,
        includes: includes.iter().map(|n| n.to_string()).collect(),
        acl: Default::default(),
    }
}

fn category(name: &str, last_octet: u8) -> Category {
    Category {
        name: name.into(),
        code: Ipv4Addr::new(127, 0, 0, last_octet),
        txt: "{query}: {provider} {asn}{netblock} {lookup_url}".into(),
    }
}

fn listing(provider: &str, category: usize, source: ListingSource) -> Listing {
    Listing {
        provider: provider.into(),
        operator: None,
        category,
        source,
        listed_since: None,
    }
}

/// `hosting.example` lists AS64500 with 192.0.2.0/24 (code 2); `spam.example` lists the
/// netblock 192.0.2.128/25 (code 4) inside it. `zen.example` and `multi.example` combine
/// both; `multi.example` ORs the codes and has a lookup URL.
fn specs() -> Vec<ZoneSpec> {
    let mut multi = zone("multi.example", None, &["hosting.example", "spam.example"]);
    multi.style = AnswerStyle::Multi;
    multi.lookup_url = Some("https://dnsbl.example.net/lookup/{query}".into());
    vec![
        zone("hosting.example", Some(&["hosting"]), &[]),
        zone("spam.example", Some(&["spam"]), &[]),
        zone("zen.example", None, &["hosting.example", "spam.example"]),
        multi,
    ]
}

fn builder(specs: Vec<ZoneSpec>, spam_code: u8) -> SnapshotBuilder {
    let categories = vec![category("hosting", 2), category("spam", spam_code)];
    let mut builder = SnapshotBuilder::new(SERIAL, specs, categories);
    let hosting = builder.add_listing(listing("Example Hosting", 0, ListingSource::Asn(64500)));
    builder.add_range("192.0.2.0/24".parse().unwrap(), hosting);
    let netblock = "192.0.2.128/25".parse().unwrap();
    let spam = builder.add_listing(listing("Spam Haven", 1, ListingSource::Netblock(netblock)));
    builder.add_range(netblock, spam);
    builder.exclude_range("192.0.2.130".parse().unwrap(), Some("spam.example"));
    builder
}

fn snapshot() -> Snapshot {
    builder(specs(), 4).build().unwrap()
}

fn name(text: &str) -> Name {
    Name::from_ascii(format!("{text}.")).unwrap()
}

fn a(owner: &str, last_octets: &[u8]) -> Vec<Record> {
    last_octets
        .iter()
        .map(|&last| {
            let code = Ipv4Addr::new(127, 0, 0, last);
            Record::from_rdata(name(owner), TTL, RData::A(A(code)))
        })
        .collect()
}

fn txt(owner: &str, texts: &[String]) -> Vec<Record> {
    texts
        .iter()
        .map(|text| {
            let rdata = TXT::new(vec![text.clone()]);
            Record::from_rdata(name(owner), TTL, RData::TXT(rdata))
        })
        .collect()
}

fn positive(answers: Vec<Record>) -> Answer {
    Answer {
        rcode: ResponseCode::NoError,
        authoritative: true,
        answers,
        authority: vec![],
    }
}

fn negative(rcode: ResponseCode, apex: &str) -> Answer {
    let rdata = SOA::new(
        name(&format!("ns1.{apex}")),
        name(&format!("hostmaster.{apex}")),
        SERIAL,
        3600,
        600,
        604800,
        NEGATIVE_TTL,
    );
    let soa = Record::from_rdata(name(apex), NEGATIVE_TTL, RData::SOA(rdata));
    Answer {
        rcode,
        authoritative: true,
        answers: vec![],
        authority: vec![soa],
    }
}

#[test]
fn combined_and_multi_answers() {
    let snapshot = snapshot();
    let both = "129.2.0.192";
    let url = "https://dnsbl.example.net/lookup/192.0.2.129";
    let cases: Vec<(String, RecordType, Answer)> = vec![
        // Each component zone answers its own category only.
        (
            format!("{both}.hosting.example"),
            RecordType::A,
            positive(a(&format!("{both}.hosting.example"), &[2])),
        ),
        (
            format!("{both}.spam.example"),
            RecordType::A,
            positive(a(&format!("{both}.spam.example"), &[4])),
        ),
        // Zen style: one A per category, one TXT per listing.
        (
            format!("{both}.zen.example"),
            RecordType::A,
            positive(a(&format!("{both}.zen.example"), &[2, 4])),
        ),
        (
            format!("{both}.zen.example"),
            RecordType::TXT,
            positive(txt(
                &format!("{both}.zen.example"),
                &[
                    "192.0.2.129: Example Hosting AS64500 ".into(),
                    "192.0.2.129: Spam Haven 192.0.2.128/25 ".into(),
                ],
            )),
        ),
        // Multi style: one A with the bits ORed, and the lookup URL in the TXT.
        (
            format!("{both}.multi.example"),
            RecordType::A,
            positive(a(&format!("{both}.multi.example"), &[6])),
        ),
        (
            format!("{both}.multi.example"),
            RecordType::TXT,
            positive(txt(
                &format!("{both}.multi.example"),
                &[
                    format!("192.0.2.129: Example Hosting AS64500 {url}"),
                    format!("192.0.2.129: Spam Haven 192.0.2.128/25 {url}"),
                ],
            )),
        ),
        (
            "1.2.0.192.multi.example".into(),
            RecordType::A,
            positive(a("1.2.0.192.multi.example", &[2])),
        ),
        // The exclusion of spam.example leaves the hosting listing in the union.
        (
            "130.2.0.192.zen.example".into(),
            RecordType::A,
            positive(a("130.2.0.192.zen.example", &[2])),
        ),
        (
            "130.2.0.192.spam.example".into(),
            RecordType::A,
            negative(ResponseCode::NXDomain, "spam.example"),
        ),
        // The test entry, in a combined zone of style multi.
        (
            "2.0.0.127.multi.example".into(),
            RecordType::A,
            positive(a("2.0.0.127.multi.example", &[2])),
        ),
        // Empty non-terminal and miss with the combined zone's own SOA.
        (
            "2.0.192.zen.example".into(),
            RecordType::A,
            negative(ResponseCode::NoError, "zen.example"),
        ),
        (
            "1.1.1.1.zen.example".into(),
            RecordType::A,
            negative(ResponseCode::NXDomain, "zen.example"),
        ),
        (
            "x.zen.example".into(),
            RecordType::TXT,
            negative(ResponseCode::NXDomain, "zen.example"),
        ),
        // A listed name asked for another type: NODATA.
        (
            format!("{both}.multi.example"),
            RecordType::MX,
            negative(ResponseCode::NoError, "multi.example"),
        ),
    ];
    for (qname, qtype, expected) in cases {
        let got = answer(&snapshot, &name(&qname), qtype, DNSClass::IN);
        assert_eq!(got, expected, "{qname} {qtype}");
    }
}

#[test]
fn multi_style_needs_single_bit_codes() {
    let error = builder(specs(), 3).build().unwrap_err();
    assert!(
        matches!(&error, SnapshotError::Code(_)),
        "unexpected error {error}"
    );
    let message = error.to_string();
    assert!(message.contains("127.0.0.3"), "{message}");
    assert!(message.contains("\"multi.example\""), "{message}");
    // Zen style accepts any valid code.
    let zen_only: Vec<ZoneSpec> = specs().into_iter().take(3).collect();
    assert!(builder(zen_only, 3).build().is_ok());
}

#[test]
fn category_named_like_test_entry() {
    // A category from the store named like the built-in test category is an ordinary
    // category: served only where a zone names it, and not checked for a single bit in a
    // zone of style multi that does not serve it.
    let categories = vec![
        category("hosting", 2),
        category("spam", 4),
        category("rfc5782-test", 3),
    ];
    let mut builder = SnapshotBuilder::new(SERIAL, specs(), categories);
    let netblock = "198.51.100.0/24".parse().unwrap();
    let listed = builder.add_listing(listing("Lookalike", 2, ListingSource::Netblock(netblock)));
    builder.add_range(netblock, listed);
    let snapshot = builder.build().unwrap();
    let cases = [
        (
            "1.100.51.198.hosting.example",
            negative(ResponseCode::NXDomain, "hosting.example"),
        ),
        (
            "1.100.51.198.multi.example",
            negative(ResponseCode::NXDomain, "multi.example"),
        ),
        (
            "2.0.0.127.hosting.example",
            positive(a("2.0.0.127.hosting.example", &[2])),
        ),
        (
            "2.0.0.127.multi.example",
            positive(a("2.0.0.127.multi.example", &[2])),
        ),
    ];
    for (qname, expected) in cases {
        let got = answer(&snapshot, &name(qname), RecordType::A, DNSClass::IN);
        assert_eq!(got, expected, "{qname}");
    }
}

#[test]
fn combined_zone_errors() {
    let mut specs_with_unknown = specs();
    specs_with_unknown[2]
        .includes
        .push("nowhere.example".into());
    let error = builder(specs_with_unknown, 4).build().unwrap_err();
    assert!(
        matches!(error, SnapshotError::InvalidInclude { .. }),
        "{error}"
    );

    let mut excluded = builder(specs(), 4);
    excluded.exclude_range("192.0.2.1".parse().unwrap(), Some("zen.example"));
    let error = excluded.build().unwrap_err();
    assert!(
        matches!(error, SnapshotError::ExclusionInCombinedZone(ref zone) if zone == "zen.example"),
        "{error}"
    );
}
