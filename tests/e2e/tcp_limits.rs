//! TCP limits of the real binary: idle connections from one client do not lock out
//! another, and answers near and over the 65535-byte message limit (RFC 1035 §4.2.2).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::support::{Server, query_message, query_tcp, repo_zones};

/// Opens a TCP connection from `source` (a loopback address) to `server`.
fn connect_from(source: &str, server: SocketAddr) -> std::io::Result<TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source.parse().unwrap(), 0))?;
        let stream = socket.connect(server).await?;
        stream.into_std()
    })
}

/// Sends one query on `stream` and reads the response, or returns the I/O error.
fn ask(stream: &mut TcpStream, name: &str, rtype: RecordType) -> std::io::Result<Message> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let request = query_message(name, rtype).to_vec().unwrap();
    let mut framed = (request.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&request);
    stream.write_all(&framed)?;
    let mut length = [0u8; 2];
    stream.read_exact(&mut length)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut body)?;
    Ok(Message::from_vec(&body).expect("the response decodes"))
}

#[test]
fn idle_connections_do_not_starve_others() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let args = [
        "--tcp-max-connections-per-client",
        "4",
        "--tcp-idle-seconds",
        "30",
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let server = Server::start_with(&repo_zones(), &db, &args);

    // One client opens many connections and sends nothing.
    let mut idle: Vec<TcpStream> = (0..40)
        .map(|index| {
            connect_from("127.0.0.20", server.addr)
                .unwrap_or_else(|error| panic!("connection {index}: {error}"))
        })
        .collect();

    // Another client still gets answers over TCP.
    let mut other = connect_from("127.0.0.21", server.addr).unwrap();
    let response = ask(&mut other, "2.0.0.127.bl.example", RecordType::A).unwrap();
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(response.answers.len(), 1);

    // The first four connections of the idle client are served; the server closed the
    // rest, so a query on one of them gets no response.
    for (index, stream) in idle.iter_mut().enumerate().take(4) {
        let response = ask(stream, "2.0.0.127.bl.example", RecordType::A)
            .unwrap_or_else(|error| panic!("connection {index} served: {error}"));
        assert_eq!(response.answers.len(), 1, "connection {index}");
    }
    let over = ask(&mut idle[39], "2.0.0.127.bl.example", RecordType::A);
    assert!(over.is_err(), "connection 39 was closed: {over:?}");
}

#[test]
fn oversized_request_closes_connection() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let args = ["--tcp-max-request-size", "512"];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let server = Server::start_with(&repo_zones(), &db, &args);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(&600u16.to_be_bytes()).unwrap();
    let mut buffer = [0u8; 1];
    let read = stream.read(&mut buffer);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "expected a closed connection, got {read:?}"
    );
}

/// Providers per case and the length of each provider's TXT text. A template has at most
/// 1000 bytes, so a large answer comes from many listings of one address, one TXT record
/// each: 60 texts of 997 bytes fit in a DNS message, and 70 do not.
const NEAR_PROVIDERS: usize = 60;
const OVER_PROVIDERS: usize = 70;
const TEXT_BYTES: usize = 997;

/// Writes a zones/ directory whose register lists 198.51.100.0/24 by [`NEAR_PROVIDERS`]
/// providers and 192.0.2.0/24 by [`OVER_PROVIDERS`], each with a TXT text of
/// [`TEXT_BYTES`]: a provider name of 7 bytes and 990 bytes of filler.
fn zones_with_large_answers(dir: &Path) -> PathBuf {
    let zones = dir.join("zones");
    std::fs::create_dir_all(zones.join("data")).unwrap();
    std::fs::copy(repo_zones().join("zones.toml"), zones.join("zones.toml")).unwrap();
    for entry in std::fs::read_dir(repo_zones().join("data")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, zones.join("data").join(path.file_name().unwrap())).unwrap();
    }
    let filler = "x".repeat(TEXT_BYTES - 7);
    let mut register = String::new();
    let cases = [
        ("near", NEAR_PROVIDERS, "198.51.100.0/24"),
        ("over", OVER_PROVIDERS, "192.0.2.0/24"),
    ];
    for (index, (name, providers, netblock)) in cases.into_iter().enumerate() {
        register.push_str(&format!(
            "[[category]]\nname = \"{name}\"\ncode = \"127.0.0.{}\"\n\
             txt = \"{{provider}}{filler}\"\n\n",
            index + 2
        ));
        for provider in 0..providers {
            register.push_str(&format!(
                "[[provider]]\nname = \"{name}-{provider:02}\"\ncategory = \"{name}\"\n\
                 netblocks = [\"{netblock}\"]\n\n"
            ));
        }
    }
    std::fs::write(zones.join("register.toml"), register).unwrap();
    zones
}

fn txt_bytes(message: &Message) -> usize {
    message
        .answers
        .iter()
        .map(|record| match &record.data {
            RData::TXT(txt) => txt.txt_data.iter().map(|part| part.len()).sum(),
            _ => 0,
        })
        .sum()
}

#[test]
fn tcp_answers_near_and_over_limit() {
    let dir = tempfile::tempdir().unwrap();
    let zones = zones_with_large_answers(dir.path());
    let db = dir.path().join("dnsbl.sqlite");
    let server = Server::start(&zones, &db);

    // 60 TXT records of 997 bytes fit in one TCP message and are sent whole.
    let response = query_tcp(server.addr, "7.100.51.198.bl.example", RecordType::TXT);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(!response.metadata.truncation, "not truncated");
    assert_eq!(response.answers.len(), NEAR_PROVIDERS);
    assert_eq!(txt_bytes(&response), NEAR_PROVIDERS * TEXT_BYTES);

    // 70 TXT records of 997 bytes fit in no DNS message: SERVFAIL, not an empty response
    // with TC set.
    let response = query_tcp(server.addr, "7.2.0.192.bl.example", RecordType::TXT);
    assert_eq!(response.metadata.response_code, ResponseCode::ServFail);
    assert!(!response.metadata.truncation, "no TC over TCP");
    assert!(response.answers.is_empty());

    // ANY keeps the whole RRsets that fit: the A record without the TXT record.
    let response = query_tcp(server.addr, "7.2.0.192.bl.example", RecordType::ANY);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(!response.metadata.truncation, "no TC over TCP");
    let types: Vec<RecordType> = response.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::A]);

    // The A query is small and unaffected.
    let response = query_tcp(server.addr, "7.2.0.192.bl.example", RecordType::A);
    assert_eq!(response.answers.len(), 1);
}
