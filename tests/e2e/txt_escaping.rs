//! `{query}` in TXT answers for question labels with control bytes: `dnsbl serve` on the
//! repository's zones/ writes them as `\DDD` (RFC 1035 §5.1) on the UDP wire path, on
//! UDP through the record path and on TCP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RData;

use crate::support::{Server, dig_available, dig_short, repo_zones};

const TIMEOUT: Duration = Duration::from_secs(5);
/// The TXT text of hostgator.com after `{query}`, from the `bad-service-provider` template
/// in zones/register.toml.
const HOSTGATOR_TXT: &str = " is listed: hostgator.com (hostgator.com) is a hosting provider that sends spam to its customers";

/// Encodes a TXT query for `<first>.hostgator.com.dbl.example.` by hand, so that `first`
/// can contain any byte. With `cookie`, the query has an OPT record with an 8-byte COOKIE
/// option, which the UDP wire path leaves to the record path.
fn txt_query(id: u16, first: &[u8], cookie: bool) -> Vec<u8> {
    let mut packet = id.to_be_bytes().to_vec();
    packet.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(cookie)]);
    let labels: [&[u8]; 5] = [first, b"hostgator", b"com", b"dbl", b"example"];
    for label in labels {
        packet.push(label.len() as u8);
        packet.extend_from_slice(label);
    }
    packet.extend_from_slice(&[0, 0, 16, 0, 1]);
    if cookie {
        // Root owner, type OPT, payload 1232, version 0, no flags, one 12-byte option.
        packet.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8]);
        packet.extend_from_slice(b"cookie01");
    }
    packet
}

fn udp_exchange(addr: SocketAddr, packet: &[u8]) -> Vec<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.send_to(packet, addr).unwrap();
    let mut buffer = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buffer).expect("a UDP response");
    buffer[..len].to_vec()
}

fn tcp_exchange(addr: SocketAddr, packet: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed).unwrap();
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).unwrap();
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut body).unwrap();
    body
}

/// Returns the TXT data of each answer record as bytes, its character-strings joined.
fn txt_bytes(response: &[u8]) -> Vec<Vec<u8>> {
    let message = Message::from_vec(response).expect("the response decodes");
    assert_eq!(message.metadata.response_code, ResponseCode::NoError);
    message
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::TXT(txt) => Some(txt.txt_data.concat()),
            _ => None,
        })
        .collect()
}

#[test]
fn control_bytes_escaped_in_txt() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));
    let cases: [(&[u8], &str); 5] = [
        (b"evil\nDATA", "evil\\010data"),
        (b"a\r\nb", "a\\013\\010b"),
        (b"nul\0", "nul\\000"),
        (b"back\\slash", "back\\092slash"),
        (b"www", "www"),
    ];
    for (index, (first, escaped)) in cases.into_iter().enumerate() {
        let expected = format!("{escaped}.hostgator.com{HOSTGATOR_TXT}").into_bytes();
        let label = first.escape_ascii();
        let id = 100 + index as u16;
        let wire = udp_exchange(server.addr, &txt_query(id, first, false));
        assert_eq!(
            txt_bytes(&wire),
            std::slice::from_ref(&expected),
            "{label}: UDP"
        );
        let record = udp_exchange(server.addr, &txt_query(id, first, true));
        assert_eq!(
            txt_bytes(&record),
            std::slice::from_ref(&expected),
            "{label}: UDP with EDNS"
        );
        let tcp = tcp_exchange(server.addr, &txt_query(id, first, false));
        assert_eq!(txt_bytes(&tcp), [expected], "{label}: TCP");
    }

    if dig_available() {
        // dig reads `\010` in the name as a line feed and prints TXT in presentation
        // form, where the backslash of the escape appears doubled.
        let lines = dig_short(
            server.addr,
            &["TXT", "evil\\010DATA.hostgator.com.dbl.example"],
        );
        let expected = format!("\"evil\\\\010data.hostgator.com{HOSTGATOR_TXT}\"");
        assert_eq!(lines, [expected]);
    }
}
