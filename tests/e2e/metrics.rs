//! `/metrics` of the real binary counts DNS responses by zone, query type and response
//! code, and listed responses, on the UDP wire path, the UDP record path and TCP.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::admin::{create_token, start};
use crate::http::request;
use crate::support::{query_tcp, query_udp};

/// Returns the sorted series lines of one metric family in `text`.
fn series(text: &str, family: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|line| line.starts_with(&format!("{family}{{")))
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[test]
fn metrics_count_dns_responses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("dnsbl.db");
    let token = create_token(&db, "prometheus", "read");
    let (server, admin) = start(&db);

    let before = request(admin, "GET", "/metrics", Some(&token), None);
    assert_eq!(before.status, 200, "body: {}", before.body);
    assert_eq!(
        series(&before.body, "dnsbl_dns_responses_total"),
        Vec::<String>::new()
    );

    // The RFC 5782 test entry 127.0.0.2 is listed, 127.0.0.1 is not.
    let listed = "2.0.0.127.bl.example";
    let unlisted = "1.0.0.127.bl.example";
    let cases = [
        (
            query_udp(server.addr, listed, RecordType::A),
            ResponseCode::NoError,
        ),
        (
            query_udp(server.addr, listed, RecordType::TXT),
            ResponseCode::NoError,
        ),
        (
            query_tcp(server.addr, listed, RecordType::A),
            ResponseCode::NoError,
        ),
        (
            query_udp(server.addr, unlisted, RecordType::A),
            ResponseCode::NXDomain,
        ),
        (
            query_tcp(server.addr, unlisted, RecordType::AAAA),
            ResponseCode::NXDomain,
        ),
        // The apex goes through the record path on UDP, and its NS records are no listing.
        (
            query_udp(server.addr, "bl.example", RecordType::NS),
            ResponseCode::NoError,
        ),
        (
            query_udp(server.addr, "example.org", RecordType::A),
            ResponseCode::Refused,
        ),
    ];
    for (index, (response, rcode)) in cases.iter().enumerate() {
        assert_eq!(response.metadata.response_code, *rcode, "query {index}");
    }

    let after = request(admin, "GET", "/metrics", Some(&token), None);
    assert_eq!(after.status, 200, "body: {}", after.body);
    assert!(
        after
            .body
            .contains("# TYPE dnsbl_dns_responses_total counter\n"),
        "body: {}",
        after.body
    );
    assert_eq!(
        series(&after.body, "dnsbl_dns_responses_total"),
        vec![
            r#"dnsbl_dns_responses_total{zone="",type="A",rcode="REFUSED"} 1"#,
            r#"dnsbl_dns_responses_total{zone="bl.example",type="A",rcode="NOERROR"} 2"#,
            r#"dnsbl_dns_responses_total{zone="bl.example",type="A",rcode="NXDOMAIN"} 1"#,
            r#"dnsbl_dns_responses_total{zone="bl.example",type="AAAA",rcode="NXDOMAIN"} 1"#,
            r#"dnsbl_dns_responses_total{zone="bl.example",type="TXT",rcode="NOERROR"} 1"#,
            r#"dnsbl_dns_responses_total{zone="bl.example",type="other",rcode="NOERROR"} 1"#,
        ]
    );
    assert_eq!(
        series(&after.body, "dnsbl_dns_listed_responses_total"),
        vec![r#"dnsbl_dns_listed_responses_total{zone="bl.example"} 3"#]
    );
}

const ADDRESS_ZONE: &str = "[[zone]]\nname = \"bl.test\"\nkind = \"address\"\n";
const DOMAIN_ZONE: &str = "[[zone]]\nname = \"dbl.test\"\nkind = \"domain\"\n";

/// Fetches `/metrics` and returns the series of one metric family.
fn fetch_series(admin: std::net::SocketAddr, token: &str, family: &str) -> Vec<String> {
    let response = request(admin, "GET", "/metrics", Some(token), None);
    assert_eq!(response.status, 200, "body: {}", response.body);
    series(&response.body, family)
}

/// Writes `zones_toml` and sends SIGHUP, then waits until the new snapshot serves.
fn reload_zones(server: &crate::support::Server, zones: &std::path::Path, zones_toml: &str) {
    std::fs::write(zones.join("zones.toml"), zones_toml).unwrap();
    server.hangup();
    server.wait_for_log("SIGHUP received", std::time::Duration::from_secs(20));
    server.wait_for_log("snapshot loaded", std::time::Duration::from_secs(20));
}

#[test]
fn zone_counts_survive_reorder() {
    let temp = tempfile::tempdir().unwrap();
    let zones = temp.path().join("zones");
    std::fs::create_dir_all(zones.join("data")).unwrap();
    std::fs::write(
        zones.join("data/asn.csv"),
        "203.0.113.0,203.0.113.255,64511,Unrelated\n",
    )
    .unwrap();
    std::fs::write(
        zones.join("register.toml"),
        "[[category]]\nname = \"listed\"\ncode = \"127.0.0.2\"\ntxt = \"{query} listed\"\n",
    )
    .unwrap();
    std::fs::write(
        zones.join("zones.toml"),
        format!("{ADDRESS_ZONE}{DOMAIN_ZONE}"),
    )
    .unwrap();
    let db = temp.path().join("dnsbl.sqlite");
    let token = create_token(&db, "prometheus", "read");
    let (server, admin) = crate::admin::start_in(&zones, &db);

    // The RFC 5782 test entries: 127.0.0.2 and the domain "test" are listed.
    let address = query_udp(server.addr, "2.0.0.127.bl.test", RecordType::A);
    assert_eq!(address.metadata.response_code, ResponseCode::NoError);
    reload_zones(&server, &zones, &format!("{DOMAIN_ZONE}{ADDRESS_ZONE}"));
    for _ in 0..2 {
        let domain = query_udp(server.addr, "test.dbl.test", RecordType::A);
        assert_eq!(domain.metadata.response_code, ResponseCode::NoError);
    }
    assert_eq!(
        fetch_series(admin, &token, "dnsbl_dns_responses_total"),
        vec![
            r#"dnsbl_dns_responses_total{zone="bl.test",type="A",rcode="NOERROR"} 1"#,
            r#"dnsbl_dns_responses_total{zone="dbl.test",type="A",rcode="NOERROR"} 2"#,
        ]
    );

    reload_zones(&server, &zones, DOMAIN_ZONE);
    // TCP goes through the record path, which counts on its own.
    let domain = query_tcp(server.addr, "test.dbl.test", RecordType::A);
    assert_eq!(domain.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        fetch_series(admin, &token, "dnsbl_dns_responses_total"),
        vec![
            r#"dnsbl_dns_responses_total{zone="bl.test",type="A",rcode="NOERROR"} 1"#,
            r#"dnsbl_dns_responses_total{zone="dbl.test",type="A",rcode="NOERROR"} 3"#,
        ]
    );
    assert_eq!(
        fetch_series(admin, &token, "dnsbl_dns_listed_responses_total"),
        vec![
            r#"dnsbl_dns_listed_responses_total{zone="bl.test"} 1"#,
            r#"dnsbl_dns_listed_responses_total{zone="dbl.test"} 3"#,
        ]
    );
}
