//! dnsbl behind a real recursive resolver, Unbound, configured with the stub zones of
//! deploy/unbound/dnsbl.conf, query name minimisation (RFC 7816) and
//! harden-below-nxdomain (RFC 8020) on.

use std::net::Ipv6Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::mail::{Unbound, installed, try_query};
use crate::support::{Server, a_values, authority_types, nibble_name, repo_zones, txt_values};

const SOFTLAYER: &str = "is listed: SoftLayer Technologies Inc. (AS36351) is a hosting provider that sends spam to its customers";

/// Unbound walks down one label at a time; every name above a listing must be NOERROR,
/// or harden-below-nxdomain would hide the listing. Unlisted names next to the listings
/// are asked first, so that any wrong NXDOMAIN for a shared parent is already cached.
#[test]
fn minimised_queries_find_every_listing() {
    if !installed("unbound", "unbound") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));
    let unbound = Unbound::start(server.addr);

    let unlisted = [
        "255.95.10.5.bl.example".to_string(),
        "0.128.10.5.bl.example".to_string(),
        nibble_name("2401:c900:1700::1".parse().unwrap(), "bl.example"),
        "hostgator.net.dbl.example".to_string(),
        "example.com.dbl.example".to_string(),
    ];
    for name in &unlisted {
        let response = try_query(unbound.addr, name, RecordType::A)
            .unwrap_or_else(|| panic!("no answer from unbound for {name}"));
        assert_eq!(
            response.metadata.response_code,
            ResponseCode::NXDomain,
            "{name}"
        );
    }

    let v6 = "2401:c900:1800::1".parse::<Ipv6Addr>().unwrap();
    let listed = [
        ("7.100.10.5.bl.example".to_string(), format!("5.10.100.7 {SOFTLAYER}")),
        ("0.96.10.5.bl.example".to_string(), format!("5.10.96.0 {SOFTLAYER}")),
        (nibble_name(v6, "bl.example"), format!("2401:c900:1800::1 {SOFTLAYER}")),
        ("2.0.0.127.bl.example".to_string(), "RFC 5782 test entry".to_string()),
        (
            "mx1.mail.hostgator.com.dbl.example".to_string(),
            "mx1.mail.hostgator.com is listed: hostgator.com (hostgator.com) is a hosting provider that sends spam to its customers".to_string(),
        ),
    ];
    for (name, txt) in &listed {
        let a = try_query(unbound.addr, name, RecordType::A)
            .unwrap_or_else(|| panic!("no answer from unbound for {name} A"));
        assert_eq!(a.metadata.response_code, ResponseCode::NoError, "{name} A");
        assert_eq!(a_values(&a), ["127.0.0.2"], "{name} A");
        let text = try_query(unbound.addr, name, RecordType::TXT)
            .unwrap_or_else(|| panic!("no answer from unbound for {name} TXT"));
        assert_eq!(txt_values(&text), std::slice::from_ref(txt), "{name} TXT");
    }
}

/// RFC 2308: a resolver keeps a negative answer for the TTL of the SOA that comes with
/// it. Once dnsbl is stopped, Unbound still answers NXDOMAIN for the name it asked
/// before, from its cache, and fails for a name it never asked.
#[test]
fn negative_answers_are_cached_for_the_soa_minimum() {
    if !installed("unbound", "unbound") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));
    let unbound = Unbound::start(server.addr);
    let name = "1.2.0.192.bl.example";

    let first = try_query(unbound.addr, name, RecordType::A).expect("first answer");
    assert_eq!(first.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(authority_types(&first), [RecordType::SOA]);
    assert!(
        first.authorities[0].ttl <= 300 && first.authorities[0].ttl > 250,
        "negative TTL from the SOA minimum of 300: {}",
        first.authorities[0].ttl
    );
    drop(server);

    let second = try_query(unbound.addr, name, RecordType::A).expect("answer from the cache");
    assert_eq!(second.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(authority_types(&second), [RecordType::SOA]);

    // 10.bl.example was never asked, so Unbound has to ask dnsbl, which is gone: it
    // fails, or does not answer within the half second `try_query` waits.
    let uncached = try_query(unbound.addr, "1.0.0.10.bl.example", RecordType::A);
    assert!(
        uncached
            .as_ref()
            .is_none_or(|r| r.metadata.response_code == ResponseCode::ServFail),
        "a name not in the cache cannot be answered once dnsbl is gone: {uncached:?}"
    );
}
