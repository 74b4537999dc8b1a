//! The EDNS COOKIE option (RFC 7873) over UDP: `dnsbl serve` on the repository's zones/
//! answers FORMERR with an OPT record to a malformed option and answers normally when the
//! option contains a Client Cookie.

use std::net::UdpSocket;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::EdnsOption;

use crate::support::{Server, a_values, query_message, repo_zones};

const NAME: &str = "hostgator.com.dbl.example.";

/// Sends an A query for [`NAME`] with a COOKIE option of `len` bytes and returns the
/// decoded response and its bytes.
fn query_with_cookie(addr: std::net::SocketAddr, len: usize) -> (Message, Vec<u8>) {
    let mut request = query_message(NAME, RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.options_mut()
        .insert(EdnsOption::Unknown(10, vec![0x42; len]));
    request.set_edns(edns);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket.send_to(&request.to_vec().unwrap(), addr).unwrap();
    let mut buffer = [0u8; 4096];
    let (received, _) = socket
        .recv_from(&mut buffer)
        .unwrap_or_else(|e| panic!("no UDP response to a cookie of {len} bytes: {e}"));
    let response = Message::from_vec(&buffer[..received]).expect("the response decodes");
    assert_eq!(response.metadata.id, request.metadata.id, "response id");
    (response, buffer[..received].to_vec())
}

#[test]
fn cookie_length_decides_formerr() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));

    let (response, bytes) = query_with_cookie(server.addr, 7);
    // RCODE is the low 4 bits of the fourth header byte: 1 is FORMERR (RFC 1035 §4.1.1).
    assert_eq!(bytes[3] & 0x0f, 1, "7-byte cookie: RCODE in the header");
    assert_eq!(response.metadata.response_code, ResponseCode::FormErr);
    assert!(!response.metadata.authoritative, "7-byte cookie: AA bit");
    assert!(response.answers.is_empty(), "7-byte cookie: no answers");
    assert_eq!(response.queries.len(), 1, "7-byte cookie: question copied");
    let edns = response.edns.as_ref().expect("7-byte cookie: OPT record");
    assert_eq!(edns.rcode_high(), 0, "7-byte cookie: extended RCODE");
    assert_eq!(edns.version(), 0, "7-byte cookie: EDNS version");

    let (response, _) = query_with_cookie(server.addr, 8);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(response.metadata.authoritative, "8-byte cookie: AA bit");
    assert_eq!(
        a_values(&response),
        ["127.0.0.2"],
        "8-byte cookie: A values"
    );
    let edns = response.edns.as_ref().expect("8-byte cookie: OPT record");
    assert!(
        edns.options().as_ref().is_empty(),
        "8-byte cookie: no COOKIE option in the response, as no Server Cookie is made"
    );
}
