//! Entry points for the fuzz targets in `fuzz/` and for the tests that replay their corpus
//! without a fuzzer. Not part of the supported API.

use std::sync::OnceLock;

use hickory_proto::op::{Message, MessageType, OpCode};

use crate::model::{AnswerStyle, Category, Listing, ListingSource, SoaSpec, ZoneKind, ZoneSpec};
use crate::snapshot::{Snapshot, SnapshotBuilder};
use crate::{AddrRange, answer};

/// Decodes `packet` as a DNS message, answers every query in it from a fixed sample
/// snapshot and encodes the response. Returns `None` for a packet that does not decode.
///
/// # Panics
/// Panics if the response does not encode, because every answer must be sendable.
pub fn answer_packet(packet: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(packet).ok()?;
    let snapshot = sample_snapshot();
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    for query in &request.queries {
        let found = answer(
            snapshot,
            query.name(),
            query.query_type(),
            query.query_class(),
        );
        response.metadata.response_code = found.rcode;
        response.metadata.authoritative = found.authoritative;
        response.add_query(query.clone());
        response.add_answers(found.answers);
        response.add_authorities(found.authority);
    }
    Some(response.to_vec().expect("an answer always encodes"))
}

/// Parses `text` as a netblock and checks that its display form parses back to it.
///
/// # Panics
/// Panics if the display form of a parsed range does not parse to the same range.
pub fn netblock_round_trip(text: &str) {
    let Ok(range) = text.parse::<AddrRange>() else {
        return;
    };
    let displayed = range.to_string();
    let again: AddrRange = displayed
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} displays as {displayed:?}, which fails: {e}"));
    assert_eq!(again, range, "{text:?} displays as {displayed:?}");
}

/// Zones of every kind and style with listings of addresses, IPv6, domains and an
/// allow-list exclusion, built once.
fn sample_snapshot() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let zone =
            |name: &str, kind: ZoneKind, style: AnswerStyle, includes: Vec<String>| ZoneSpec {
                name: name.into(),
                kind,
                ttl: 2100,
                soa: SoaSpec {
                    mname: format!("ns1.{name}"),
                    rname: format!("hostmaster.{name}"),
                    refresh: 7200,
                    retry: 900,
                    expire: 1209600,
                    minimum: 300,
                    ttl: 3600,
                },
                ns: vec![format!("ns1.{name}")],
                ns_ttl: 86400,
                categories: None,
                style,
                lookup_url: Some("https://example.net/{query}".into()),
                includes,
                acl: Default::default(),
            };
        let zones = vec![
            zone("bl.example", ZoneKind::Address, AnswerStyle::Zen, vec![]),
            zone(
                "multi.example",
                ZoneKind::Address,
                AnswerStyle::Multi,
                vec![],
            ),
            zone("dbl.example", ZoneKind::Domain, AnswerStyle::Zen, vec![]),
            zone(
                "all.example",
                ZoneKind::Address,
                AnswerStyle::Zen,
                vec!["bl.example".into(), "multi.example".into()],
            ),
        ];
        let categories = vec![
            Category {
                name: "bad".into(),
                code: [127, 0, 0, 2].into(),
                txt: "{query} {provider} {operator} {source} {asn} {netblock} {category} \
                      {lookup_url}"
                    .into(),
            },
            Category {
                name: "spam".into(),
                code: [127, 0, 0, 4].into(),
                txt: "x".repeat(600),
            },
        ];
        let mut builder = SnapshotBuilder::new(1, zones, categories);
        let listing = |category: usize, source: ListingSource| Listing {
            provider: "Example".into(),
            operator: Some("Operator".into()),
            category,
            source,
            listed_since: None,
        };
        let asn = builder.add_listing(listing(0, ListingSource::Asn(64500)));
        let block: AddrRange = "192.0.2.0/24".parse().expect("valid netblock");
        let net = builder.add_listing(listing(1, ListingSource::Netblock(block)));
        for text in ["192.0.2.0/24", "2001:db8::/32", "::ffff:198.51.100.0/120"] {
            builder.add_range(text.parse().expect("valid netblock"), asn);
        }
        builder.add_range(block, net);
        builder.exclude_range("192.0.2.7".parse().expect("valid address"), None);
        let domain = builder.add_listing(listing(0, ListingSource::Domain("example.com".into())));
        builder.add_domain("example.com", domain);
        builder.add_domain("a.b.c.example.org", domain);
        builder.build().expect("the sample snapshot is valid")
    })
}

/// Parses `packet` with the wire path's request parser and with hickory-proto's
/// `Message::from_vec`. When the wire parser accepts the packet, hickory-proto must
/// accept it too and read the same id, opcode, RD and CD bits, question (name compared
/// without regard to ASCII case, type, class) and EDNS (presence, version 0, DO bit and
/// payload size, which hickory raises to 512 following RFC 6891 §6.2.5).
///
/// Returns whether the wire parser accepted the packet, so that both were compared.
///
/// # Panics
/// Panics on the first field that differs, naming it.
pub fn compare_request_parsers(packet: &[u8]) -> bool {
    let Some(query) = crate::answer::parse_plain_query(packet) else {
        return false;
    };
    let message = match Message::from_vec(packet) {
        Ok(message) => message,
        Err(error) => panic!("the wire parser accepts a packet hickory-proto rejects: {error}"),
    };
    let metadata = &message.metadata;
    assert_eq!(
        metadata.id,
        u16::from_be_bytes([packet[0], packet[1]]),
        "id"
    );
    assert_eq!(metadata.message_type, MessageType::Query, "QR");
    assert_eq!(metadata.op_code, OpCode::Query, "opcode");
    assert_eq!(metadata.recursion_desired, packet[2] & 0x01 != 0, "RD");
    assert_eq!(metadata.checking_disabled, packet[3] & 0x10 != 0, "CD");
    assert_eq!(message.queries.len(), 1, "question count");
    assert!(message.answers.is_empty(), "answer count");
    assert!(message.authorities.is_empty(), "authority count");
    assert!(
        message.additionals.is_empty(),
        "additional records besides OPT"
    );

    let question = &message.queries[0];
    let labels: Vec<&[u8]> = question.name().iter().collect();
    assert_eq!(labels.len(), query.label_count, "label count");
    for (index, label) in labels.iter().enumerate() {
        assert!(
            label.eq_ignore_ascii_case(query.label(packet, index)),
            "label {index}: {:?} and {:?}",
            label,
            query.label(packet, index)
        );
    }
    assert_eq!(u16::from(question.query_type()), query.qtype, "type");
    assert_eq!(u16::from(question.query_class()), query.qclass, "class");

    match (&message.edns, query.edns) {
        (None, None) => {}
        (Some(edns), Some((payload, dnssec_ok))) => {
            assert_eq!(edns.version(), 0, "EDNS version");
            assert_eq!(edns.flags().dnssec_ok, dnssec_ok, "DO bit");
            assert_eq!(edns.max_payload(), payload.max(512), "EDNS payload size");
            assert!(edns.options().options.is_empty(), "EDNS options");
        }
        (hickory, wire) => panic!(
            "EDNS: hickory-proto reads {:?}, the wire parser {wire:?}",
            hickory.as_ref().map(|edns| edns.max_payload())
        ),
    }
    true
}
