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
