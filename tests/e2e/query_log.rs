//! `dnsbl serve --query-log FILE`: every query over UDP (both the wire path and the record
//! path) and TCP gives exactly one line with the expected fields, SIGHUP reopens the file,
//! and lines dropped when nothing reads the log are counted in `/metrics`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::admin::create_token;
use crate::http::request;
use crate::limits::{admin_address, counter};
use crate::support::{Server, field, query_message, repo_zones};

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

/// Returns the query name and the rest of each line after the client field.
fn names_and_results(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| line.splitn(3, ' ').nth(2).unwrap_or("").to_string())
        .collect()
}

/// Starts a server with a database in `dir` that logs to `log_path`, and waits until the
/// line of a first query, 2.0.0.127.bl.example A over UDP, is written.
fn start_with_one_line(dir: &Path, log_path: &Path) -> Server {
    let server = Server::start_with(
        &repo_zones(),
        &dir.join("dnsbl.sqlite"),
        &["--query-log".as_ref(), log_path.as_os_str()],
    );
    ask_udp(server.addr, "2.0.0.127.bl.example", RecordType::A);
    read_lines(log_path, 1);
    server
}

#[test]
fn sighup_reopens_renamed_log() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("queries.log");
    let rotated = dir.path().join("queries.log.1");
    let server = start_with_one_line(dir.path(), &log_path);

    // What logrotate does: rename the file, then send SIGHUP (`systemctl reload`).
    std::fs::rename(&log_path, &rotated).unwrap();
    server.hangup();
    let reopened = server.wait_for_log("query log reopened", TIMEOUT);
    assert_eq!(
        field(&reopened, "path"),
        Some(log_path.to_str().unwrap()),
        "{reopened}"
    );
    ask_udp(server.addr, "1.0.0.127.bl.example", RecordType::A);
    ask_tcp(server.addr, "2.0.0.127.bl.example", RecordType::TXT);

    let new_lines = read_lines(&log_path, 2);
    assert_eq!(
        names_and_results(&new_lines),
        [
            "1.0.0.127.bl.example. A NXDOMAIN -",
            "2.0.0.127.bl.example. TXT NOERROR -"
        ]
    );
    let old_lines = read_lines(&rotated, 1);
    assert_eq!(
        names_and_results(&old_lines),
        ["2.0.0.127.bl.example. A NOERROR 127.0.0.2"]
    );
}

#[test]
fn failed_reopen_keeps_writing_old_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let log_path = dir.path().join("logs/queries.log");
    let server = start_with_one_line(dir.path(), &log_path);

    // Without its directory the path cannot be created again.
    let moved = dir.path().join("moved");
    std::fs::rename(dir.path().join("logs"), &moved).unwrap();
    server.hangup();
    let failed = server.wait_for_log("failed to reopen the query log", TIMEOUT);
    assert_eq!(
        field(&failed, "path"),
        Some(log_path.to_str().unwrap()),
        "{failed}"
    );
    ask_udp(server.addr, "1.0.0.127.bl.example", RecordType::A);

    let lines = read_lines(&moved.join("queries.log"), 2);
    assert_eq!(
        names_and_results(&lines),
        [
            "2.0.0.127.bl.example. A NOERROR 127.0.0.2",
            "1.0.0.127.bl.example. A NXDOMAIN -"
        ]
    );
    assert!(!log_path.exists(), "{} not created", log_path.display());
}

/// Queries sent while nothing reads the query log. The FIFO's pipe buffer (64 KiB on
/// Linux), the writer's 8 KiB buffer and the queue of 4096 lines take about 5,000 lines
/// of about 75 bytes, so the rest is dropped.
const FLOOD_QUERIES: usize = 8000;

#[test]
fn dropped_lines_counted_in_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("queries.fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success(), "mkfifo {}", fifo.display());
    // The server's open of a FIFO waits for a reader, so one opens it before the start.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || File::open(fifo).unwrap())
    };
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "prometheus", "read");
    let server = Server::start_with(
        &repo_zones(),
        &db,
        &["--query-log".as_ref(), fifo.as_os_str()],
    );
    let reader = reader.join().unwrap();
    let admin = admin_address(&server);

    // The log records each response before it is sent, so once the last response has
    // arrived, the count of dropped lines is final.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    let request = query_message("2.0.0.127.bl.example", RecordType::A)
        .to_vec()
        .unwrap();
    let mut buffer = [0u8; 512];
    for index in 0..FLOOD_QUERIES {
        socket.send_to(&request, server.addr).unwrap();
        socket
            .recv_from(&mut buffer)
            .unwrap_or_else(|e| panic!("no response to query {index}: {e}"));
    }
    let metrics = request_metrics(admin, &token);
    assert!(
        metrics.contains(
            "# HELP dnsbl_dns_query_log_dropped_total Query log lines dropped because the \
             log's writer thread fell behind.\n\
             # TYPE dnsbl_dns_query_log_dropped_total counter\n"
        ),
        "{metrics}"
    );
    let dropped = counter(&metrics, "dnsbl_dns_query_log_dropped_total") as usize;
    assert!(dropped > 0, "some lines dropped");
    assert!(dropped < FLOOD_QUERIES, "some lines kept: {dropped}");

    // Every line that was not dropped reaches the reader, and no more.
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            if line.is_err() || sender.send(()).is_err() {
                break;
            }
        }
    });
    let expected = FLOOD_QUERIES - dropped;
    for index in 0..expected {
        lines
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|e| panic!("line {index} of {expected} not written: {e}"));
    }
    let extra = lines.recv_timeout(Duration::from_millis(300));
    assert!(extra.is_err(), "more than {expected} lines written");
}

fn request_metrics(admin: SocketAddr, token: &str) -> String {
    let response = request(admin, "GET", "/metrics", Some(token), None);
    assert_eq!(response.status, 200, "body: {}", response.body);
    response.body
}
