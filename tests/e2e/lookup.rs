//! `dnsbl lookup` and `GET /v1/lookup/...` list the RFC 5782 test entry for the name
//! `test` only, as the DNS server answers, and not for the names under it.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::admin::{create_token, start};
use crate::http::request;
use crate::support::{binary, query_udp, repo_zones};

#[test]
fn test_entry_lookup_exact_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "ops", "read");
    let (server, admin) = start(&db);

    let cases = [("test", true), ("mail.test", false), ("a.b.test", false)];
    for (name, listed) in cases {
        let dns = query_udp(server.addr, &format!("{name}.dbl.example."), RecordType::A);
        let expected_rcode = if listed {
            ResponseCode::NoError
        } else {
            ResponseCode::NXDomain
        };
        assert_eq!(dns.metadata.response_code, expected_rcode, "DNS for {name}");

        let api = request(
            admin,
            "GET",
            &format!("/v1/lookup/{name}"),
            Some(&token),
            None,
        );
        assert_eq!(api.status, 200, "body: {}", api.body);
        assert_eq!(api.json()["listed"], listed, "API for {name}: {}", api.body);

        let output = binary()
            .arg("lookup")
            .arg("--zones")
            .arg(repo_zones())
            .arg("--db")
            .arg(&db)
            .arg(name)
            .output()
            .expect("dnsbl lookup runs");
        assert!(output.status.success(), "lookup {name}: {output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            stdout.contains("RFC 5782 test entry"),
            listed,
            "dnsbl lookup {name}: {stdout}"
        );
    }
}
