//! Table-driven tests of the answer function: every rule, with exact sections.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, NS, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{Answer, answer};
use crate::model::{AnswerStyle, Category, Listing, ListingSource, SoaSpec, ZoneKind, ZoneSpec};
use crate::net::AddrRange;
use crate::snapshot::{Snapshot, SnapshotBuilder};

const TTL: u32 = 2100;
const SOA_TTL: u32 = 3600;
const NEGATIVE_TTL: u32 = 300;
const NS_TTL: u32 = 86400;
const SERIAL: u32 = 2024060101;

const BAD_TXT: &str =
    "{provider} ({source}) listed for {query}, see https://example.net/{category}";
const SPAM_TXT: &str = "{provider} operated by {operator}: {query}";

/// 250 ASCII bytes and 10 two-byte characters: 270 bytes, so the template is split, and
/// the split at 255 bytes would fall inside a character.
fn long_txt() -> String {
    format!("{}{}", "x".repeat(250), "é".repeat(10))
}

fn zone(name: &str, kind: ZoneKind, categories: Option<Vec<String>>) -> ZoneSpec {
    ZoneSpec {
        name: name.into(),
        kind,
        ttl: TTL,
        soa: SoaSpec {
            mname: format!("ns1.{name}"),
            rname: format!("hostmaster.{name}"),
            refresh: 7200,
            retry: 900,
            expire: 1209600,
            minimum: NEGATIVE_TTL,
            ttl: SOA_TTL,
        },
        ns: vec![format!("ns1.{name}"), format!("ns2.{name}")],
        ns_ttl: NS_TTL,
        categories,
        style: AnswerStyle::Zen,
        lookup_url: None,
        includes: Vec::new(),
        acl: Default::default(),
    }
}

fn listing(
    provider: &str,
    operator: Option<&str>,
    category: usize,
    source: ListingSource,
) -> Listing {
    Listing {
        provider: provider.into(),
        operator: operator.map(str::to_string),
        category,
        source,
        listed_since: None,
    }
}

fn range(text: &str) -> AddrRange {
    text.parse().unwrap()
}

/// Zones `bl.example` (addresses, every category), `spam.bl.example` (addresses, the
/// `spam-haven` category only) and `dbl.example` (domains), with overlapping listings of
/// two categories, allow-list entries, IPv6, an IPv4-mapped range and a long TXT.
pub(in crate::answer) fn snapshot() -> Snapshot {
    let zones = vec![
        zone("bl.example", ZoneKind::Address, None),
        zone("dbl.example", ZoneKind::Domain, None),
        zone(
            "spam.bl.example",
            ZoneKind::Address,
            Some(vec!["spam-haven".into()]),
        ),
    ];
    let categories = vec![
        Category {
            name: "bad-service-provider".into(),
            code: [127, 0, 0, 3].into(),
            txt: BAD_TXT.into(),
        },
        Category {
            name: "spam-haven".into(),
            code: [127, 0, 0, 4].into(),
            txt: SPAM_TXT.into(),
        },
        Category {
            name: "long".into(),
            code: [127, 0, 0, 5].into(),
            txt: long_txt(),
        },
    ];
    let mut builder = SnapshotBuilder::new(SERIAL, zones, categories);
    let hosting = ListingSource::Asn(64500);
    let bad = builder.add_listing(listing("Example Hosting", None, 0, hosting.clone()));
    builder.add_range(range("192.0.2.0/24"), bad);
    builder.add_range(range("2001:db8::/32"), bad);
    // A second listing with the same text: its TXT and A record are given once.
    let same_text = builder.add_listing(listing("Example Hosting", None, 0, hosting));
    builder.add_range(range("192.0.2.0/26"), same_text);
    let spam = builder.add_listing(listing(
        "Spam Haven Ltd",
        Some("J. Doe"),
        1,
        ListingSource::Netblock(range("192.0.2.128/25")),
    ));
    builder.add_range(range("192.0.2.128/25"), spam);
    builder.add_range(range("::ffff:203.0.113.0/120"), spam);
    let long = builder.add_listing(listing(
        "Long Text",
        None,
        2,
        ListingSource::Netblock(range("198.51.100.7")),
    ));
    builder.add_range(range("198.51.100.7"), long);
    builder.exclude_range(range("192.0.2.200"), None);

    let bad_domain = builder.add_listing(listing(
        "Example Hosting",
        None,
        0,
        ListingSource::Domain("example.com".into()),
    ));
    builder.add_domain("example.com", bad_domain);
    builder.add_domain("Bad.Example.org.", bad_domain);
    builder.add_domain("a.gone.invalid", bad_domain);
    let spam_domain = builder.add_listing(listing(
        "Spam Haven Ltd",
        Some("J. Doe"),
        1,
        ListingSource::Domain("spam.example.net".into()),
    ));
    builder.add_domain("spam.example.net", spam_domain);
    builder.add_domain("sub.example.com", spam_domain);
    builder.exclude_domain("good.example.com", None);
    builder.exclude_domain("gone.invalid", Some("dbl.example"));
    builder.build().unwrap()
}

/// An absolute name; the trailing dot is optional in `text`.
fn name(text: &str) -> Name {
    let mut name = Name::from_ascii(text).unwrap();
    name.set_fqdn(true);
    name
}

fn a(owner: &str, code: [u8; 4]) -> Record {
    Record::from_rdata(name(owner), TTL, RData::A(A(Ipv4Addr::from(code))))
}

fn txt(owner: &str, strings: &[&str]) -> Record {
    let strings = strings.iter().map(|s| s.to_string()).collect();
    Record::from_rdata(name(owner), TTL, RData::TXT(TXT::new(strings)))
}

fn soa(owner: &str, apex: &str, ttl: u32) -> Record {
    let rdata = SOA::new(
        name(&format!("ns1.{apex}.")),
        name(&format!("hostmaster.{apex}.")),
        SERIAL,
        7200,
        900,
        1209600,
        NEGATIVE_TTL,
    );
    Record::from_rdata(name(owner), ttl, RData::SOA(rdata))
}

fn ns(owner: &str, apex: &str) -> Vec<Record> {
    ["ns1", "ns2"]
        .iter()
        .map(|host| {
            let server = name(&format!("{host}.{apex}."));
            Record::from_rdata(name(owner), NS_TTL, RData::NS(NS(server)))
        })
        .collect()
}

fn listed(answers: Vec<Record>) -> Answer {
    Answer {
        rcode: ResponseCode::NoError,
        authoritative: true,
        answers,
        authority: vec![],
    }
}

fn negative(rcode: ResponseCode, apex: &str) -> Answer {
    Answer {
        rcode,
        authoritative: true,
        answers: vec![],
        authority: vec![soa(&format!("{apex}."), apex, NEGATIVE_TTL)],
    }
}

fn nxdomain(apex: &str) -> Answer {
    negative(ResponseCode::NXDomain, apex)
}

fn nodata(apex: &str) -> Answer {
    negative(ResponseCode::NoError, apex)
}

fn refused() -> Answer {
    Answer {
        rcode: ResponseCode::Refused,
        authoritative: false,
        answers: vec![],
        authority: vec![],
    }
}

/// The reversed-nibble name of the first `count` nibbles of `address`, without the zone.
pub(in crate::answer) fn nibbles(address: &str, count: usize) -> String {
    let value = u128::from(Ipv6Addr::from_str(address).unwrap());
    let mut labels: Vec<String> = (0..count)
        .map(|i| format!("{:x}", (value >> (124 - 4 * i)) & 0xf))
        .collect();
    labels.reverse();
    labels.join(".")
}

fn bad_text(query: &str, source: &str) -> String {
    format!(
        "Example Hosting ({source}) listed for {query}, see https://example.net/bad-service-provider"
    )
}

fn spam_text(query: &str) -> String {
    format!("Spam Haven Ltd operated by J. Doe: {query}")
}

/// Runs each case and compares the whole answer, then checks that every answer record
/// keeps the query name's letter case.
fn check(cases: Vec<(String, RecordType, DNSClass, Answer)>) {
    let snapshot = snapshot();
    for (qname, qtype, qclass, expected) in cases {
        let query = name(&qname);
        let got = answer(&snapshot, &query, qtype, qclass);
        assert_eq!(got, expected, "{qname} {qtype} {qclass}");
        for record in &got.answers {
            assert!(
                record.name.eq_case(&query),
                "{qname} {qtype}: owner {} lost the query's case",
                record.name
            );
        }
    }
}

fn q(qname: &str, qtype: RecordType, expected: Answer) -> (String, RecordType, DNSClass, Answer) {
    (qname.to_string(), qtype, DNSClass::IN, expected)
}

#[test]
fn ipv4_listings() {
    use RecordType::{A as TA, ANY, MX, TXT as TTXT};
    let one = "1.2.0.192.bl.example";
    let both = "129.2.0.192.bl.example";
    check(vec![
        // The same code and the same text from two listings are given once.
        q(one, TA, listed(vec![a(one, [127, 0, 0, 3])])),
        q(
            one,
            TTXT,
            listed(vec![txt(one, &[&bad_text("192.0.2.1", "AS64500")])]),
        ),
        // Two categories: the A records sorted by code, one TXT per listing.
        q(
            both,
            TA,
            listed(vec![a(both, [127, 0, 0, 3]), a(both, [127, 0, 0, 4])]),
        ),
        q(
            both,
            TTXT,
            listed(vec![
                txt(both, &[&bad_text("192.0.2.129", "AS64500")]),
                txt(both, &[&spam_text("192.0.2.129")]),
            ]),
        ),
        q(
            both,
            ANY,
            listed(vec![
                a(both, [127, 0, 0, 3]),
                a(both, [127, 0, 0, 4]),
                txt(both, &[&bad_text("192.0.2.129", "AS64500")]),
                txt(both, &[&spam_text("192.0.2.129")]),
            ]),
        ),
        q(both, MX, nodata("bl.example")),
        q(both, RecordType::AAAA, nodata("bl.example")),
        // Allow-listed inside both listed ranges.
        q("200.2.0.192.bl.example", TA, nxdomain("bl.example")),
        q(
            "201.2.0.192.bl.example",
            TA,
            listed(vec![
                a("201.2.0.192.bl.example", [127, 0, 0, 3]),
                a("201.2.0.192.bl.example", [127, 0, 0, 4]),
            ]),
        ),
        q("1.3.0.192.bl.example", TA, nxdomain("bl.example")),
        // Leading zeros are read as decimal; the TXT shows the address in usual form.
        q(
            "001.002.000.192.bl.example",
            TA,
            listed(vec![a("001.002.000.192.bl.example", [127, 0, 0, 3])]),
        ),
        q(
            "001.002.000.192.bl.example",
            TTXT,
            listed(vec![txt(
                "001.002.000.192.bl.example",
                &[&bad_text("192.0.2.1", "AS64500")],
            )]),
        ),
        q("0001.2.0.192.bl.example", TA, nxdomain("bl.example")),
        q("256.2.0.192.bl.example", TA, nxdomain("bl.example")),
        q("1x.2.0.192.bl.example", TA, nxdomain("bl.example")),
        // Letter case of the query is kept in the owner name.
        q(
            "1.2.0.192.BL.Example",
            TA,
            listed(vec![a("1.2.0.192.BL.Example", [127, 0, 0, 3])]),
        ),
    ]);
}

/// Allow-list entries covering 127.0.0.2 and `test` leave the test entries listed and
/// exempt the rest of what they cover.
#[test]
fn test_entries_survive_allow_list() {
    let zones = vec![
        zone("bl.example", ZoneKind::Address, None),
        zone("dbl.example", ZoneKind::Domain, None),
    ];
    let mut builder = SnapshotBuilder::new(SERIAL, zones, Vec::new());
    builder.exclude_range(range("127.0.0.0/8"), None);
    builder.exclude_range(range("::ffff:127.0.0.2"), Some("bl.example"));
    builder.exclude_domain("test", None);
    let snapshot = builder.build().unwrap();
    let cases = [
        ("2.0.0.127.bl.example", Some([127, 0, 0, 2])),
        ("3.0.0.127.bl.example", None),
        ("1.0.0.127.bl.example", None),
        ("test.dbl.example", Some([127, 0, 0, 2])),
    ];
    for (qname, code) in cases {
        let got = answer(&snapshot, &name(qname), RecordType::A, DNSClass::IN);
        // Every unlisted case is an address in bl.example.
        let expected = match code {
            Some(code) => listed(vec![a(qname, code)]),
            None => nxdomain("bl.example"),
        };
        assert_eq!(got, expected, "{qname}");
    }
}

#[test]
fn test_entries() {
    use RecordType::{A as TA, ANY, TXT as TTXT};
    let v4 = "2.0.0.127.bl.example";
    let mapped = format!("{}.bl.example", nibbles("::ffff:127.0.0.2", 32));
    let mapped_one = format!("{}.bl.example", nibbles("::ffff:127.0.0.1", 32));
    check(vec![
        q(v4, TA, listed(vec![a(v4, [127, 0, 0, 2])])),
        q(v4, TTXT, listed(vec![txt(v4, &["RFC 5782 test entry"])])),
        q(
            v4,
            ANY,
            listed(vec![
                a(v4, [127, 0, 0, 2]),
                txt(v4, &["RFC 5782 test entry"]),
            ]),
        ),
        q("1.0.0.127.bl.example", TA, nxdomain("bl.example")),
        q(&mapped, TA, listed(vec![a(&mapped, [127, 0, 0, 2])])),
        q(&mapped_one, TA, nxdomain("bl.example")),
        q(
            "test.dbl.example",
            TA,
            listed(vec![a("test.dbl.example", [127, 0, 0, 2])]),
        ),
        q(
            "test.dbl.example",
            TTXT,
            listed(vec![txt("test.dbl.example", &["RFC 5782 test entry"])]),
        ),
        q("invalid.dbl.example", TA, nxdomain("dbl.example")),
        // The test entry lists `test` only, not the names under it.
        q("sender.test.dbl.example", TA, nxdomain("dbl.example")),
        // The test entry is in every zone, whatever categories the zone serves.
        q(
            "2.0.0.127.spam.bl.example",
            TA,
            listed(vec![a("2.0.0.127.spam.bl.example", [127, 0, 0, 2])]),
        ),
    ]);
}

#[test]
fn ipv6_listings() {
    use RecordType::{A as TA, TXT as TTXT};
    let v6 = format!("{}.bl.example", nibbles("2001:db8::1", 32));
    let upper = v6.to_uppercase();
    let outside = format!("{}.bl.example", nibbles("2001:db9::1", 32));
    let mapped = format!("{}.bl.example", nibbles("::ffff:203.0.113.5", 32));
    let too_long = format!("0.{v6}");
    let short = format!("{}.bl.example", nibbles("2001:db8::1", 31));
    let mapped_v4 = "5.113.0.203.bl.example";
    check(vec![
        q(&v6, TA, listed(vec![a(&v6, [127, 0, 0, 3])])),
        q(
            &v6,
            TTXT,
            listed(vec![txt(&v6, &[&bad_text("2001:db8::1", "AS64500")])]),
        ),
        // Upper-case nibbles are hexadecimal too.
        q(&upper, TA, listed(vec![a(&upper, [127, 0, 0, 3])])),
        q(&outside, TA, nxdomain("bl.example")),
        // An IPv6 range inside ::ffff:0:0/96 is listed as IPv4, and asked either way.
        q(
            &mapped,
            TTXT,
            listed(vec![txt(&mapped, &[&spam_text("203.0.113.5")])]),
        ),
        q(
            mapped_v4,
            TTXT,
            listed(vec![txt(mapped_v4, &[&spam_text("203.0.113.5")])]),
        ),
        q(&too_long, TA, nxdomain("bl.example")),
        // 31 nibbles above a listed address: an empty non-terminal.
        q(&short, TA, nodata("bl.example")),
        q("1.2.3.4.5.bl.example", TA, nxdomain("bl.example")),
        q("example.com.bl.example", TA, nxdomain("bl.example")),
        q(
            "10.2.0.192.bl.example",
            TA,
            listed(vec![a("10.2.0.192.bl.example", [127, 0, 0, 3])]),
        ),
        q("a.2.0.192.bl.example", TA, nxdomain("bl.example")),
    ]);
}

#[test]
fn empty_non_terminals() {
    use RecordType::A as TA;
    let v6_zone = |address: &str, count: usize| format!("{}.bl.example", nibbles(address, count));
    check(vec![
        q("127.bl.example", TA, nodata("bl.example")),
        q("0.127.bl.example", TA, nodata("bl.example")),
        q("0.0.127.bl.example", TA, nodata("bl.example")),
        q("1.0.127.bl.example", TA, nxdomain("bl.example")),
        q("1.127.bl.example", TA, nxdomain("bl.example")),
        q("2.0.192.bl.example", TA, nodata("bl.example")),
        q("3.0.192.bl.example", TA, nxdomain("bl.example")),
        q("100.51.198.bl.example", TA, nodata("bl.example")),
        q("101.51.198.bl.example", TA, nxdomain("bl.example")),
        q(&v6_zone("2001:db8::", 8), TA, nodata("bl.example")),
        q(&v6_zone("2001:db9::", 8), TA, nxdomain("bl.example")),
        q(&v6_zone("2001:db8:ffff::", 20), TA, nodata("bl.example")),
        // Above the IPv4-mapped test entry ::ffff:127.0.0.2.
        q(&v6_zone("::ffff:127.0.0.0", 30), TA, nodata("bl.example")),
        q(&v6_zone("::ffff:127.1.0.0", 28), TA, nxdomain("bl.example")),
        // Four single digits are an IPv4 address (2.0.0.1, not listed) and also the IPv6
        // prefix 2001::/16, above 2001:db8::/32.
        q("1.0.0.2.bl.example", TA, nodata("bl.example")),
        q("2.0.0.2.bl.example", TA, nxdomain("bl.example")),
        // The spam zone does not serve 192.0.2.0/26.
        q("0.2.0.192.spam.bl.example", TA, nxdomain("spam.bl.example")),
        q("2.0.192.spam.bl.example", TA, nodata("spam.bl.example")),
        q("com.dbl.example", TA, nodata("dbl.example")),
        q("org.dbl.example", TA, nodata("dbl.example")),
        q("example.org.dbl.example", TA, nodata("dbl.example")),
        q("example.net.dbl.example", TXT_TYPE, nodata("dbl.example")),
        q("other.com.dbl.example", TA, nxdomain("dbl.example")),
        // Parents of allow-listed domains only do not exist.
        q("gone.invalid.dbl.example", TA, nxdomain("dbl.example")),
    ]);
}

/// Names of 1 to 3 single digits, and upper-case nibbles, as prefixes of IPv6 addresses.
#[test]
fn short_ipv6_prefixes() {
    use RecordType::A as TA;
    let upper = format!("{}.bl.example", nibbles("2001:db8::", 8).to_uppercase());
    let upper_outside = format!("{}.bl.example", nibbles("2001:db9::", 8).to_uppercase());
    check(vec![
        // 2.0.0.0/8 contains no listing, but 2000::/4 contains 2001:db8::/32.
        q("2.bl.example", TA, nodata("bl.example")),
        // 2.0.0.0/24 contains no listing, but 2000::/12 does.
        q("0.0.2.bl.example", TA, nodata("bl.example")),
        q("3.bl.example", TA, nxdomain("bl.example")),
        q("1.0.3.bl.example", TA, nxdomain("bl.example")),
        // 0::/4 contains ::ffff:0:0/96, so every IPv4 listing.
        q("0.bl.example", TA, nodata("bl.example")),
        // A hexadecimal letter makes the name an IPv6 prefix only.
        q("d.bl.example", TA, nxdomain("bl.example")),
        q(&upper, TA, nodata("bl.example")),
        q(&upper_outside, TA, nxdomain("bl.example")),
    ]);
}

const TXT_TYPE: RecordType = RecordType::TXT;

#[test]
fn domain_listings() {
    use RecordType::{A as TA, ANY, MX, TXT as TTXT};
    let apex = "example.com.dbl.example";
    let mixed = "www.Example.COM.dbl.example";
    let nested = "a.sub.example.com.dbl.example";
    check(vec![
        q(apex, TA, listed(vec![a(apex, [127, 0, 0, 3])])),
        q(
            apex,
            TTXT,
            listed(vec![txt(apex, &[&bad_text("example.com", "example.com")])]),
        ),
        q(apex, MX, nodata("dbl.example")),
        q(
            mixed,
            TTXT,
            listed(vec![txt(
                mixed,
                &[&bad_text("www.example.com", "example.com")],
            )]),
        ),
        q(mixed, TA, listed(vec![a(mixed, [127, 0, 0, 3])])),
        // Listed itself and through a parent: both listings answer.
        q(
            nested,
            TA,
            listed(vec![a(nested, [127, 0, 0, 3]), a(nested, [127, 0, 0, 4])]),
        ),
        q(
            nested,
            ANY,
            listed(vec![
                a(nested, [127, 0, 0, 3]),
                a(nested, [127, 0, 0, 4]),
                txt(nested, &[&bad_text("a.sub.example.com", "example.com")]),
                txt(nested, &[&spam_text("a.sub.example.com")]),
            ]),
        ),
        q(
            "bad.example.org.dbl.example",
            TA,
            listed(vec![a("bad.example.org.dbl.example", [127, 0, 0, 3])]),
        ),
        q(
            "spam.example.net.dbl.example",
            TTXT,
            listed(vec![txt(
                "spam.example.net.dbl.example",
                &[&spam_text("spam.example.net")],
            )]),
        ),
        q("good.example.com.dbl.example", TA, nxdomain("dbl.example")),
        q(
            "x.good.example.com.dbl.example",
            TA,
            nxdomain("dbl.example"),
        ),
        q("a.gone.invalid.dbl.example", TA, nxdomain("dbl.example")),
        q("example.co.dbl.example", TA, nxdomain("dbl.example")),
        q("2.0.0.127.dbl.example", TA, nxdomain("dbl.example")),
    ]);
}

#[test]
fn domain_label_with_dot_or_binary() {
    let snapshot = snapshot();
    let labels: [&[u8]; 3] = [b"example.com", b"dbl", b"example"];
    let query = Name::from_labels(labels).unwrap();
    let got = answer(&snapshot, &query, RecordType::A, DNSClass::IN);
    assert_eq!(got, nxdomain("dbl.example"));
    let labels: [&[u8]; 3] = [&[0xff], b"dbl", b"example"];
    let binary = Name::from_labels(labels).unwrap();
    let got = answer(&snapshot, &binary, RecordType::A, DNSClass::IN);
    assert_eq!(got, nxdomain("dbl.example"));
}

#[test]
fn apex_answers() {
    use RecordType::{A as TA, ANY, AXFR, IXFR, NS as TNS, SOA as TSOA, TXT as TTXT};
    let mut soa_and_ns = vec![soa("BL.example", "bl.example", SOA_TTL)];
    soa_and_ns.extend(ns("BL.example", "bl.example"));
    check(vec![
        q(
            "BL.example",
            TSOA,
            listed(vec![soa("BL.example", "bl.example", SOA_TTL)]),
        ),
        q("BL.example", TNS, listed(ns("BL.example", "bl.example"))),
        q("BL.example", ANY, listed(soa_and_ns)),
        q("bl.example", TA, nodata("bl.example")),
        q("bl.example", TTXT, nodata("bl.example")),
        q("bl.example", AXFR, refused()),
        q("bl.example", IXFR, refused()),
        q(
            "dbl.example",
            TSOA,
            listed(vec![soa("dbl.example", "dbl.example", SOA_TTL)]),
        ),
        // The longest apex wins.
        q(
            "spam.bl.example",
            TSOA,
            listed(vec![soa("spam.bl.example", "spam.bl.example", SOA_TTL)]),
        ),
    ]);
}

#[test]
fn refused_outside_zones_and_class_in() {
    use RecordType::{A as TA, SOA as TSOA, TXT as TTXT};
    check(vec![
        q("example.org", TA, refused()),
        q("example", TSOA, refused()),
        q("bl.example.org", TA, refused()),
        q("xbl.example", TA, refused()),
        q(".", TSOA, refused()),
        ("2.0.0.127.bl.example".into(), TTXT, DNSClass::CH, refused()),
        ("version.bind".into(), TTXT, DNSClass::CH, refused()),
        ("bl.example".into(), TSOA, DNSClass::HS, refused()),
        ("bl.example".into(), TSOA, DNSClass::ANY, refused()),
    ]);
}

#[test]
fn long_txt_split_at_character() {
    let owner = "7.100.51.198.bl.example";
    let text = long_txt();
    // 250 bytes of x and 2 characters of 2 bytes fit in 254 bytes; the third would end at 256.
    let (first, second) = text.split_at(254);
    check(vec![q(
        owner,
        RecordType::TXT,
        listed(vec![txt(owner, &[first, second])]),
    )]);
    let snapshot = snapshot();
    let got = answer(&snapshot, &name(owner), RecordType::TXT, DNSClass::IN);
    let RData::TXT(rdata) = &got.answers[0].data else {
        panic!("expected a TXT record, got {:?}", got.answers[0]);
    };
    let lengths: Vec<usize> = rdata.txt_data.iter().map(|part| part.len()).collect();
    assert_eq!(lengths, [254, 16]);
}

#[test]
fn negative_ttl_min_of_soa_fields() {
    let mut spec = zone("bl.example", ZoneKind::Address, None);
    spec.soa.ttl = 60;
    let snapshot = SnapshotBuilder::new(1, vec![spec], vec![]).build().unwrap();
    let got = answer(
        &snapshot,
        &name("1.0.0.127.bl.example"),
        RecordType::A,
        DNSClass::IN,
    );
    assert_eq!(got.rcode, ResponseCode::NXDomain);
    assert_eq!(got.authority[0].ttl, 60);
}

#[test]
fn rfc5782_negative_entries_never_listed() {
    use RecordType::A as TA;
    let zones = vec![
        zone("bl.example", ZoneKind::Address, None),
        zone("dbl.example", ZoneKind::Domain, None),
    ];
    let categories = vec![Category {
        name: "bad-service-provider".into(),
        code: [127, 0, 0, 3].into(),
        txt: BAD_TXT.into(),
    }];
    let mut builder = SnapshotBuilder::new(SERIAL, zones, categories);
    let everything = builder.add_listing(listing(
        "Everything",
        None,
        0,
        ListingSource::Netblock(range("0.0.0.0/0")),
    ));
    builder.add_range(range("0.0.0.0/0"), everything);
    builder.add_range(range("::/0"), everything);
    builder.add_domain("invalid", everything);
    builder.add_domain("test", everything);
    let snapshot = builder.build().unwrap();

    let mapped_one = format!("{}.bl.example", nibbles("::ffff:7f00:1", 32));
    let cases = [
        ("1.0.0.127.bl.example", ResponseCode::NXDomain),
        (mapped_one.as_str(), ResponseCode::NXDomain),
        ("invalid.dbl.example", ResponseCode::NXDomain),
        ("3.0.0.127.bl.example", ResponseCode::NoError),
        ("0.0.0.127.bl.example", ResponseCode::NoError),
        ("test.dbl.example", ResponseCode::NoError),
    ];
    for (qname, expected) in cases {
        let result = answer(&snapshot, &name(qname), TA, DNSClass::IN);
        assert_eq!(result.rcode, expected, "{qname}");
    }
}
