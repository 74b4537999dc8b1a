//! `dnsbl serve` on the repository's zones/ and bundled routing data slice.

use std::net::Ipv6Addr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::support::{
    Server, a_values, authority_types, dig_available, dig_short, exchange_tcp, exchange_udp,
    nibble_name, query_tcp, query_udp, repo_zones, txt_values,
};

const SOFTLAYER_TXT: &str = "is listed: SoftLayer Technologies Inc. (AS36351) is a hosting provider that sends spam to its customers";

/// What a listed answer must look like: code and TXT.
struct Listed {
    name: String,
    code: &'static str,
    txt: String,
}

fn listed(name: &str, code: &'static str, txt: String) -> Listed {
    Listed {
        name: name.to_string(),
        code,
        txt,
    }
}

fn assert_listed(response_a: &Message, response_txt: &Message, case: &Listed) {
    let name = &case.name;
    assert_eq!(
        response_a.metadata.response_code,
        ResponseCode::NoError,
        "{name} A rcode"
    );
    assert!(response_a.metadata.authoritative, "{name} A: AA bit");
    assert_eq!(a_values(response_a), [case.code], "{name} A values");
    assert_eq!(response_a.answers[0].ttl, 2100, "{name} A TTL");
    assert_eq!(
        response_txt.metadata.response_code,
        ResponseCode::NoError,
        "{name} TXT rcode"
    );
    assert_eq!(
        txt_values(response_txt),
        std::slice::from_ref(&case.txt),
        "{name} TXT values"
    );
}

fn assert_nxdomain(response: &Message, name: &str) {
    assert_eq!(
        response.metadata.response_code,
        ResponseCode::NXDomain,
        "{name} rcode"
    );
    assert!(response.metadata.authoritative, "{name}: AA bit");
    assert!(response.answers.is_empty(), "{name}: no answers");
    assert_eq!(
        authority_types(response),
        [RecordType::SOA],
        "{name}: SOA in authority"
    );
    assert_eq!(
        response.authorities[0].ttl, 300,
        "{name}: negative TTL from the SOA minimum"
    );
}

fn listed_cases() -> Vec<Listed> {
    let v6 = "2401:c900:1800::1".parse::<Ipv6Addr>().unwrap();
    vec![
        // First and last address of the IBM Cloud row 5.10.96.0-5.10.127.255 (AS36351).
        listed("0.96.10.5.bl.example", "127.0.0.2", format!("5.10.96.0 {SOFTLAYER_TXT}")),
        listed("255.127.10.5.bl.example", "127.0.0.2", format!("5.10.127.255 {SOFTLAYER_TXT}")),
        listed("7.100.10.5.bl.example", "127.0.0.2", format!("5.10.100.7 {SOFTLAYER_TXT}")),
        // IPv6: 2401:c900:1800::/40 is announced by AS36351.
        listed(&nibble_name(v6, "bl.example"), "127.0.0.2", format!("2401:c900:1800::1 {SOFTLAYER_TXT}")),
        // RFC 5782 §5 test entries, in both address forms.
        listed("2.0.0.127.bl.example", "127.0.0.2", "RFC 5782 test entry".to_string()),
        listed(
            &nibble_name("::ffff:7f00:2".parse().unwrap(), "bl.example"),
            "127.0.0.2",
            "RFC 5782 test entry".to_string(),
        ),
        listed("test.dbl.example", "127.0.0.2", "RFC 5782 test entry".to_string()),
        // Domains and their subdomains.
        listed(
            "hostgator.com.dbl.example",
            "127.0.0.2",
            "hostgator.com is listed: hostgator.com (hostgator.com) is a hosting provider that sends spam to its customers".to_string(),
        ),
        listed(
            "mx1.mail.hostgator.com.dbl.example",
            "127.0.0.2",
            "mx1.mail.hostgator.com is listed: hostgator.com (hostgator.com) is a hosting provider that sends spam to its customers".to_string(),
        ),
        listed(
            "megamailservers.com.dbl.example",
            "127.0.0.3",
            "megamailservers.com is listed: megamailservers.com (megamailservers.com) runs a mail platform with unresolved abuse".to_string(),
        ),
    ]
}

fn unlisted_names() -> Vec<String> {
    vec![
        // Just outside the IBM Cloud row: 5.10.95.255 is unrouted, 5.10.128.0 is AS16347.
        "255.95.10.5.bl.example".to_string(),
        "0.128.10.5.bl.example".to_string(),
        "1.0.0.127.bl.example".to_string(),
        nibble_name("::ffff:7f00:1".parse().unwrap(), "bl.example"),
        nibble_name("2001:db8::1".parse().unwrap(), "bl.example"),
        "invalid.dbl.example".to_string(),
        "example.org.dbl.example".to_string(),
        "hostgator.net.dbl.example".to_string(),
    ]
}

#[test]
fn bundled_data_answers_over_udp_and_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));

    for case in listed_cases() {
        assert_listed(
            &query_udp(server.addr, &case.name, RecordType::A),
            &query_udp(server.addr, &case.name, RecordType::TXT),
            &case,
        );
        assert_listed(
            &query_tcp(server.addr, &case.name, RecordType::A),
            &query_tcp(server.addr, &case.name, RecordType::TXT),
            &case,
        );
    }
    for name in unlisted_names() {
        assert_nxdomain(&query_udp(server.addr, &name, RecordType::A), &name);
        assert_nxdomain(&query_tcp(server.addr, &name, RecordType::TXT), &name);
    }
}

#[test]
fn apex_and_outside_names() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));

    let soa = query_udp(server.addr, "bl.example", RecordType::SOA);
    assert_eq!(soa.metadata.response_code, ResponseCode::NoError);
    assert!(soa.metadata.authoritative);
    assert_eq!(soa.answers.len(), 1, "one SOA");
    let RData::SOA(fields) = &soa.answers[0].data else {
        panic!("expected an SOA, got {:?}", soa.answers[0]);
    };
    assert_eq!(fields.mname.to_ascii(), "ns1.bl.example.");
    assert_eq!(fields.rname.to_ascii(), "hostmaster.bl.example.");
    assert_eq!(fields.minimum, 300);

    let ns = query_tcp(server.addr, "dbl.example", RecordType::NS);
    assert_eq!(ns.metadata.response_code, ResponseCode::NoError);
    let names: Vec<String> = ns
        .answers
        .iter()
        .map(|record| match &record.data {
            RData::NS(ns) => ns.0.to_ascii(),
            other => panic!("expected NS, got {other:?}"),
        })
        .collect();
    assert_eq!(names, ["ns1.dbl.example."]);

    let outside = query_udp(server.addr, "4.3.2.1.example.org", RecordType::A);
    assert_eq!(outside.metadata.response_code, ResponseCode::Refused);
    assert!(
        !outside.metadata.authoritative,
        "no AA outside the served zones"
    );
    assert!(outside.answers.is_empty());
}

#[test]
fn dig_reads_a_listing() {
    if !dig_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install dig (dnsutils)"
        );
        eprintln!("dig is not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));

    assert_eq!(
        dig_short(server.addr, &["7.100.10.5.bl.example", "A"]),
        ["127.0.0.2"]
    );
    assert_eq!(
        dig_short(server.addr, &["+tcp", "7.100.10.5.bl.example", "TXT"]),
        [format!("\"5.10.100.7 {SOFTLAYER_TXT}\"")]
    );
    assert!(dig_short(server.addr, &["1.0.0.127.bl.example", "A"]).is_empty());
}

/// The SOA serial of `zone` as the server answers it.
fn soa_serial(server: &Server, zone: &str) -> u32 {
    let response = query_udp(server.addr, zone, RecordType::SOA);
    match &response.answers[0].data {
        RData::SOA(soa) => soa.serial,
        other => panic!("expected an SOA, got {other:?}"),
    }
}

#[test]
fn zone_settings_change_raises_serial() {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir_all(zones.join("data")).unwrap();
    for name in ["zones.toml", "register.toml"] {
        std::fs::copy(repo_zones().join(name), zones.join(name)).unwrap();
    }
    for name in ["asn-ipv4-slice.csv", "asn-ipv6-slice.csv"] {
        std::fs::copy(
            repo_zones().join("data").join(name),
            zones.join("data").join(name),
        )
        .unwrap();
    }
    let server = Server::start(&zones, &dir.path().join("dnsbl.sqlite"));
    let before = soa_serial(&server, "bl.example");

    let settings = std::fs::read_to_string(zones.join("zones.toml")).unwrap();
    let changed = settings.replacen("ttl = 2100", "ttl = 1000", 1);
    assert_ne!(changed, settings, "zones.toml sets ttl = 2100");
    std::fs::write(zones.join("zones.toml"), changed).unwrap();
    server.hangup();
    server.wait_for_log("zone settings changed", Duration::from_secs(20));
    server.wait_for_log("snapshot loaded", Duration::from_secs(20));

    let after = soa_serial(&server, "bl.example");
    assert!(
        after > before,
        "serial {after} after the change, {before} before"
    );
    let listed = query_udp(server.addr, "7.100.10.5.bl.example", RecordType::A);
    assert_eq!(listed.answers[0].ttl, 1000, "new TTL served");
}

/// A compression pointer in the question can only aim into the header, because nothing
/// else precedes it. The response is FORMERR without the question, so that no copied
/// pointer aims into the response's header.
#[test]
fn question_pointer_gets_formerr() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));
    // ID 0x5151 with RD and one question: the label "a", a pointer to offset 2, A and IN.
    let request = [
        0x51, 0x51, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0xc0, 0x02, 0, 1, 0, 1,
    ];
    // QR, RD and FORMERR, with every count 0.
    let expected = [0x51, 0x51, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0];
    let udp = exchange_udp(server.addr, &request).expect("a UDP response");
    assert_eq!(udp, expected, "UDP");
    let tcp = exchange_tcp(server.addr, &request);
    assert_eq!(tcp, expected, "TCP");
}
