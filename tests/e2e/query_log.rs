//! `dnsbl serve --query-log FILE`: every query over UDP (both the wire path and the record
//! path) and TCP gives exactly one line with the expected fields.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::{Server, query_message, repo_zones};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Sends one query over UDP; returns the client address the server saw.
fn ask_udp(server: SocketAddr, name: &str, rtype: RecordType) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    let request = query_message(name, rtype).to_vec().unwrap();
    socket.send_to(&request, server).unwrap();
    let mut buffer = [0u8; 4096];
    let (len, _) = socket
        .recv_from(&mut buffer)
        .unwrap_or_else(|e| panic!("no UDP response for {name} {rtype}: {e}"));
    Message::from_vec(&buffer[..len]).expect("the response decodes");
    socket.local_addr().unwrap()
}

/// Sends one query over TCP; returns the client address the server saw.
fn ask_tcp(server: SocketAddr, name: &str, rtype: RecordType) -> SocketAddr {
    let mut stream = TcpStream::connect_timeout(&server, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let request = query_message(name, rtype).to_vec().unwrap();
    let mut framed = (request.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&request);
    stream.write_all(&framed).unwrap();
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).unwrap();
    let mut body = vec![0u8; u16::from_be_bytes(length) as usize];
    stream.read_exact(&mut body).unwrap();
    Message::from_vec(&body).expect("the response decodes");
    stream.local_addr().unwrap()
}

/// Waits until `path` contains at least `count` lines and returns them.
fn read_lines(path: &Path, count: usize) -> Vec<String> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= count && text.ends_with('\n') {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "the query log has {} lines, expected {count}:\n{text}",
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn each_query_gives_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("queries.log");
    let server = Server::start_with(
        &repo_zones(),
        &dir.path().join("dnsbl.sqlite"),
        &["--query-log".as_ref(), log_path.as_os_str()],
    );
    let started = OffsetDateTime::now_utc();

    type Ask = fn(SocketAddr, &str, RecordType) -> SocketAddr;
    // (transport, name, type, expected name, type, rcode and codes)
    let cases: [(Ask, &str, RecordType, &str); 8] = [
        // UDP wire path.
        (
            ask_udp,
            "7.100.10.5.bl.example",
            RecordType::A,
            "7.100.10.5.bl.example. A NOERROR 127.0.0.2",
        ),
        (
            ask_udp,
            "1.0.0.127.bl.example",
            RecordType::TXT,
            "1.0.0.127.bl.example. TXT NXDOMAIN -",
        ),
        (
            ask_udp,
            "7.100.10.5.bl.example",
            RecordType::TXT,
            "7.100.10.5.bl.example. TXT NOERROR -",
        ),
        // UDP record path: names at an apex and outside every zone.
        (
            ask_udp,
            "bl.example",
            RecordType::SOA,
            "bl.example. SOA NOERROR -",
        ),
        (
            ask_udp,
            "www.example.com",
            RecordType::A,
            "www.example.com. A REFUSED -",
        ),
        // TCP.
        (
            ask_tcp,
            "2.0.0.127.bl.example",
            RecordType::A,
            "2.0.0.127.bl.example. A NOERROR 127.0.0.2",
        ),
        (
            ask_tcp,
            "hostgator.com.dbl.example",
            RecordType::ANY,
            "hostgator.com.dbl.example. ANY NOERROR 127.0.0.2",
        ),
        (
            ask_tcp,
            "1.0.0.127.bl.example",
            RecordType::A,
            "1.0.0.127.bl.example. A NXDOMAIN -",
        ),
    ];
    let mut expected = Vec::new();
    for (ask, name, rtype, rest) in cases {
        let client = ask(server.addr, name, rtype);
        expected.push(format!("{client} {rest}"));
    }
    let finished = OffsetDateTime::now_utc();

    let lines = read_lines(&log_path, expected.len());
    assert_eq!(
        lines.len(),
        expected.len(),
        "one line per query: {lines:#?}"
    );
    for (line, expected) in lines.iter().zip(&expected) {
        let (time, rest) = line.split_once(' ').expect("a time field");
        assert_eq!(rest, expected, "line {line:?}");
        assert!(time.ends_with('Z'), "time in UTC: {time}");
        let time = OffsetDateTime::parse(time, &Rfc3339)
            .unwrap_or_else(|e| panic!("time {time:?} is not RFC 3339: {e}"));
        // The log keeps microseconds; the bounds are rounded to whole milliseconds.
        assert!(
            time >= started - Duration::from_millis(1),
            "{time} before {started}"
        );
        assert!(
            time <= finished + Duration::from_millis(1),
            "{time} after {finished}"
        );
    }
}
