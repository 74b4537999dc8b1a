//! Client limits of the real binary over loopback sockets: zone access lists, response
//! rate limiting with slip and exempt prefixes, their `/metrics` counters, TCP connection
//! limits, and TCP answers near and over 65535 bytes.
//!
//! Clients bind their own loopback addresses (127.0.0.0/8 is all local on Linux), so each
//! test client is a distinct client of the server.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::admin::create_token;
use crate::http::request;
use crate::mail::installed;
use crate::support::{Server, a_values, binary, field, query_message, repo_zones};

/// How long a client waits before it takes a missing response as dropped.
const DROP_WAIT: Duration = Duration::from_millis(300);
/// A listed name: the RFC 5782 test entry.
const LISTED: &str = "2.0.0.127.bl.example";

/// Copies the repository's zones/ into `dir`, with `acl` lines added to bl.example.
fn zones_with_acl(dir: &Path, acl: &str) -> PathBuf {
    let zones = dir.join("zones");
    std::fs::create_dir_all(zones.join("data")).unwrap();
    std::fs::copy(
        repo_zones().join("register.toml"),
        zones.join("register.toml"),
    )
    .unwrap();
    for entry in std::fs::read_dir(repo_zones().join("data")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, zones.join("data").join(path.file_name().unwrap())).unwrap();
    }
    let text = std::fs::read_to_string(repo_zones().join("zones.toml")).unwrap();
    let marker = "name = \"bl.example\"\n";
    assert!(text.contains(marker), "zones.toml defines bl.example");
    let text = text.replacen(marker, &format!("{marker}acl = [\n{acl}]\n"), 1);
    std::fs::write(zones.join("zones.toml"), text).unwrap();
    zones
}

/// A UDP client on its own loopback address.
struct Client {
    socket: UdpSocket,
    server: SocketAddr,
    next_id: u16,
}

impl Client {
    fn new(address: &str, server: SocketAddr) -> Client {
        let socket = UdpSocket::bind((address.parse::<IpAddr>().unwrap(), 0))
            .unwrap_or_else(|error| panic!("bind {address}: {error}"));
        Client {
            socket,
            server,
            next_id: 1,
        }
    }

    /// Sends a query and returns its id.
    fn send(&mut self, name: &str, rtype: RecordType) -> u16 {
        let mut message = query_message(name, rtype);
        let id = self.next_id;
        self.next_id += 1;
        message.metadata.id = id;
        self.socket
            .send_to(&message.to_vec().unwrap(), self.server)
            .unwrap();
        id
    }

    /// Waits up to `wait` for the response to `id`; other responses are skipped.
    fn receive(&self, id: u16, wait: Duration) -> Option<Message> {
        let deadline = Instant::now() + wait;
        let mut buffer = [0u8; 4096];
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return None;
            }
            self.socket.set_read_timeout(Some(remaining)).unwrap();
            let Ok((len, _)) = self.socket.recv_from(&mut buffer) else {
                return None;
            };
            let message = Message::from_vec(&buffer[..len]).expect("the response decodes");
            if message.metadata.id == id {
                return Some(message);
            }
        }
    }

    fn ask(&mut self, name: &str, rtype: RecordType, wait: Duration) -> Option<Message> {
        let id = self.send(name, rtype);
        self.receive(id, wait)
    }
}

/// Returns the value of a counter without labels in `/metrics`.
pub fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} is missing from /metrics"))
        .parse()
        .unwrap()
}

pub fn admin_address(server: &Server) -> SocketAddr {
    let line = server.wait_for_log("admin API listening", Duration::from_secs(10));
    field(&line, "address").unwrap().parse().unwrap()
}

#[test]
fn rate_limit_acl_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let zones = zones_with_acl(
        dir.path(),
        "  { prefix = \"127.0.2.66\", action = \"refuse\" },\n  \
         { prefix = \"127.0.3.67/32\", action = \"drop\" },\n",
    );
    let db = dir.path().join("dnsbl.sqlite");
    let token = create_token(&db, "prometheus", "read");
    let args = [
        "--rrl-responses-per-second",
        "1",
        "--rrl-slip",
        "2",
        "--rrl-exempt",
        "127.0.0.9",
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let server = Server::start_with(&zones, &db, &args);
    let admin = admin_address(&server);

    // One response per second is within the rate; then every second limited response
    // is slipped: truncated, with no records.
    let mut flood = Client::new("127.0.0.50", server.addr);
    let started = Instant::now();
    let first = flood
        .ask(LISTED, RecordType::A, DROP_WAIT)
        .expect("first answered");
    assert_eq!(a_values(&first), ["127.0.0.2"]);
    assert!(!first.metadata.truncation);
    let second = flood.ask(LISTED, RecordType::A, Duration::from_millis(100));
    assert!(second.is_none(), "second dropped: {second:?}");
    let third = flood
        .ask(LISTED, RecordType::A, DROP_WAIT)
        .expect("third slipped");
    assert!(third.metadata.truncation, "third has TC: {third:?}");
    assert_eq!(third.metadata.response_code, ResponseCode::NoError);
    assert!(third.answers.is_empty(), "third has no answers");
    assert!(
        third.authorities.is_empty(),
        "third has no authority records"
    );
    assert_eq!(third.queries.len(), 1, "third echoes the question");
    let fourth = flood.ask(LISTED, RecordType::A, Duration::from_millis(100));
    assert!(fourth.is_none(), "fourth dropped: {fourth:?}");
    let fifth = flood
        .ask(LISTED, RecordType::A, DROP_WAIT)
        .expect("fifth slipped");
    assert!(fifth.metadata.truncation, "fifth has TC");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "the sequence ran within one refill interval: {:?}",
        started.elapsed()
    );

    // Names outside every zone take the record path, which applies the same limits to
    // its REFUSED responses.
    let mut outside = Client::new("127.0.4.50", server.addr);
    let refused = outside
        .ask("example.org", RecordType::A, DROP_WAIT)
        .expect("first REFUSED sent");
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    let second = outside.ask("example.org", RecordType::A, Duration::from_millis(100));
    assert!(second.is_none(), "second REFUSED dropped: {second:?}");
    let third = outside
        .ask("example.org", RecordType::A, DROP_WAIT)
        .expect("third REFUSED slipped");
    assert!(third.metadata.truncation, "third has TC");
    assert_eq!(third.metadata.response_code, ResponseCode::Refused);

    // Another client prefix and another response have their own buckets.
    let mut neighbour = Client::new("127.0.1.50", server.addr);
    let answered = neighbour.ask(LISTED, RecordType::A, DROP_WAIT);
    assert!(answered.is_some_and(|message| !message.metadata.truncation));

    // An exempt client is never limited.
    let mut exempt = Client::new("127.0.0.9", server.addr);
    for index in 0..20 {
        let response = exempt
            .ask(LISTED, RecordType::A, DROP_WAIT)
            .unwrap_or_else(|| panic!("exempt query {index} answered"));
        assert_eq!(a_values(&response), ["127.0.0.2"], "exempt query {index}");
    }

    // The access list of bl.example refuses one client and drops another; dbl.example
    // has no list and answers both.
    let mut refused = Client::new("127.0.2.66", server.addr);
    let response = refused
        .ask(LISTED, RecordType::A, DROP_WAIT)
        .expect("refused");
    assert_eq!(response.metadata.response_code, ResponseCode::Refused);
    assert!(response.answers.is_empty());
    let other_zone = refused
        .ask("test.dbl.example", RecordType::A, DROP_WAIT)
        .expect("other zone answered");
    assert_eq!(a_values(&other_zone), ["127.0.0.2"]);
    let mut dropped = Client::new("127.0.3.67", server.addr);
    assert!(dropped.ask(LISTED, RecordType::A, DROP_WAIT).is_none());
    assert!(
        dropped
            .ask("test.dbl.example", RecordType::A, DROP_WAIT)
            .is_some()
    );

    let metrics = request(admin, "GET", "/metrics", Some(&token), None);
    assert_eq!(metrics.status, 200, "body: {}", metrics.body);
    let cases = [
        ("dnsbl_dns_rate_limited_dropped_total", 3),
        ("dnsbl_dns_rate_limited_slipped_total", 3),
        ("dnsbl_dns_acl_refused_total", 1),
        ("dnsbl_dns_acl_dropped_total", 1),
    ];
    for (name, expected) in cases {
        assert_eq!(counter(&metrics.body, name), expected, "{name}");
    }
}

/// The parts of `dig +comments` output that show the header and the OPT record.
#[derive(Debug, PartialEq, Eq)]
struct DigHeader {
    status: String,
    /// The `;; flags:` line: header flags and section counts.
    flags: String,
    /// The `; EDNS:` line of the OPT pseudosection, `None` without an OPT record.
    edns: Option<String>,
}

/// Asks for `LISTED` A with dig from `source` and returns the header. `+ignore` keeps
/// dig from retrying a truncated response over TCP.
fn dig_header(server: SocketAddr, source: &str, options: &[&str]) -> DigHeader {
    let output = std::process::Command::new("dig")
        .args(["-b", source, &format!("@{}", server.ip())])
        .args(["-p", &server.port().to_string()])
        .args(["+noall", "+comments", "+ignore", "+time=2", "+tries=1"])
        .args(options)
        .args([LISTED, "A"])
        .output()
        .expect("dig runs");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "dig {options:?} failed: {text}");
    let find = |prefix: &str| {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .map(str::to_string)
    };
    let header = find(";; ->>HEADER<<-").unwrap_or_else(|| panic!("no header: {text}"));
    let status = header
        .split("status: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no status: {header}"))
        .to_string();
    DigHeader {
        status,
        flags: find(";; flags:").unwrap_or_else(|| panic!("no flags: {text}")),
        edns: find("; EDNS:"),
    }
}

#[test]
fn limited_responses_keep_opt() {
    if !installed("dig", "dnsutils") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let zones = zones_with_acl(
        dir.path(),
        "  { prefix = \"127.0.2.66\", action = \"refuse\" },\n",
    );
    let args = ["--rrl-responses-per-second", "1", "--rrl-slip", "1"];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let server = Server::start_with(&zones, &dir.path().join("dnsbl.sqlite"), &args);

    let slipped_flags = ";; flags: qr aa tc rd; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1";
    let edns = |flags: &str, payload: u16| {
        Some(format!("; EDNS: version: 0, flags:{flags}; udp: {payload}"))
    };
    // Without a COOKIE option dig's query is a plain one, which the wire path answers;
    // with one (dig's default) the record path answers it. Each case runs from its own
    // client /24, so it starts with a full token bucket.
    let slips = [
        (&["+nocookie", "+bufsize=1000"][..], edns("", 1000)),
        (&["+bufsize=1000"], edns("", 1000)),
        (
            &["+nocookie", "+bufsize=4096", "+dnssec"],
            edns(" do", 1232),
        ),
        (&["+bufsize=4096", "+dnssec"], edns(" do", 1232)),
        (&["+nocookie", "+bufsize=300"], edns("", 512)),
        (&["+bufsize=300"], edns("", 512)),
    ];
    for (index, (options, expected_edns)) in slips.into_iter().enumerate() {
        let source = format!("127.0.{}.1", 10 + index);
        let first = dig_header(server.addr, &source, options);
        assert_eq!(first.status, "NOERROR", "{options:?}");
        assert!(!first.flags.contains(" tc"), "{options:?}: {first:?}");
        assert_eq!(first.edns, expected_edns, "first answer of {options:?}");
        let slipped = dig_header(server.addr, &source, options);
        assert_eq!(slipped.status, "NOERROR", "{options:?}");
        assert_eq!(slipped.flags, slipped_flags, "{options:?}");
        assert_eq!(slipped.edns, expected_edns, "slipped answer of {options:?}");
    }

    // A query without EDNS gets a slipped response without an OPT record.
    let source = "127.0.30.1";
    dig_header(server.addr, source, &["+noedns"]);
    let slipped = dig_header(server.addr, source, &["+noedns"]);
    assert_eq!(
        slipped.flags,
        ";; flags: qr aa tc rd; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 0"
    );
    assert_eq!(slipped.edns, None);

    // The access list refuses 127.0.2.66 on every path alike: UDP wire path, UDP record
    // path and TCP.
    for options in [
        &["+nocookie", "+bufsize=1000"][..],
        &["+bufsize=1000"],
        &["+tcp", "+bufsize=1000"],
        &["+tcp", "+nocookie", "+bufsize=1000", "+dnssec"],
    ] {
        let refused = dig_header(server.addr, "127.0.2.66", options);
        let expected_edns = if options.contains(&"+dnssec") {
            edns(" do", 1000)
        } else {
            edns("", 1000)
        };
        let expected = DigHeader {
            status: "REFUSED".to_string(),
            flags: ";; flags: qr rd; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1".to_string(),
            edns: expected_edns,
        };
        assert_eq!(refused, expected, "{options:?}");
    }
}

#[test]
fn check_reports_bad_acl_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let zones = zones_with_acl(
        dir.path(),
        "  { prefix = \"192.0.2.0/24\", action = \"allow\" },\n  \
         { prefix = \"192.0.2.0/40\", action = \"refuse\" },\n",
    );
    let output = binary()
        .arg("check")
        .arg("--zones")
        .arg(&zones)
        .arg("--db")
        .arg(dir.path().join("none.sqlite"))
        .output()
        .unwrap();
    assert!(!output.status.success(), "check fails");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let written = std::fs::read_to_string(zones.join("zones.toml")).unwrap();
    let line = 1 + written
        .lines()
        .position(|line| line.contains("192.0.2.0/40"))
        .unwrap();
    let expected = format!(
        "zones.toml: zone \"bl.example\", acl, line {line}: invalid prefix \"192.0.2.0/40\""
    );
    assert!(stderr.contains(&expected), "stderr: {stderr}");
    assert!(
        stderr.contains(&zones.display().to_string()),
        "stderr: {stderr}"
    );
}
