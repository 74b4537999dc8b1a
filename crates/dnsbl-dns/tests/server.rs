//! Real queries over UDP and TCP on loopback against a server with a small snapshot.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use dnsbl_core::{AddrRange, Category, Listing, ListingSource, SnapshotBuilder};
use dnsbl_dns::DnsServer;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::{A, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const TTL: u32 = 2100;
const SERIAL: u32 = 7;
/// An address listed by enough listings with long texts that its TXT answer (about 800
/// bytes) exceeds 512 bytes but fits in 1232.
const MANY_TXT: &str = "1.0.51.198.bl.example.";
/// An address whose TXT answer (about 2000 bytes) exceeds 1232 bytes.
const HUGE_TXT: &str = "2.0.51.198.bl.example.";

fn snapshot() -> dnsbl_core::Snapshot {
    let zone = common::bl_example(TTL);
    let category = Category {
        name: "bad-service-provider".into(),
        code: [127, 0, 0, 3].into(),
        txt: format!("{{provider}} listed for {{query}} {}", "x".repeat(180)),
    };
    let mut builder = SnapshotBuilder::new(SERIAL, vec![zone], vec![category]);
    for index in 0..10 {
        let listing = builder.add_listing(Listing {
            provider: format!("Provider {index}"),
            operator: None,
            category: 0,
            source: ListingSource::Asn(64500 + index),
            listed_since: None,
        });
        let range = if index < 4 {
            "198.51.0.1/32"
        } else {
            "198.51.0.2/32"
        };
        builder.add_range(range.parse::<AddrRange>().unwrap(), listing);
    }
    builder.build().unwrap()
}

async fn start() -> (DnsServer, SocketAddr) {
    let current = Arc::new(ArcSwap::from_pointee(snapshot()));
    let server = DnsServer::bind("127.0.0.1:0".parse().unwrap(), current)
        .await
        .unwrap();
    let addr = server.local_addr();
    (server, addr)
}

fn query(id: u16, name: &str, qtype: RecordType) -> Message {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    message
}

fn with_edns(mut message: Message, max_payload: u16, version: u8) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(max_payload);
    edns.set_version(version);
    message.set_edns(edns);
    message
}

async fn udp_exchange(addr: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(request, addr).await.unwrap();
    let mut buffer = vec![0u8; 65535];
    let received = tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buffer)).await;
    let length = received.ok()?.unwrap();
    buffer.truncate(length);
    Some(buffer)
}

async fn udp(addr: SocketAddr, message: &Message) -> (Message, usize) {
    let bytes = udp_exchange(addr, &message.to_vec().unwrap())
        .await
        .expect("no UDP response");
    (Message::from_vec(&bytes).unwrap(), bytes.len())
}

async fn tcp_send(stream: &mut TcpStream, message: &Message) {
    let bytes = message.to_vec().unwrap();
    let length = u16::try_from(bytes.len()).unwrap().to_be_bytes();
    stream.write_all(&length).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
}

async fn tcp_receive(stream: &mut TcpStream) -> Message {
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).await.unwrap();
    let mut bytes = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut bytes).await.unwrap();
    Message::from_vec(&bytes).unwrap()
}

fn a(owner: &str, code: [u8; 4]) -> Record {
    Record::from_rdata(
        Name::from_ascii(owner).unwrap(),
        TTL,
        RData::A(A(Ipv4Addr::from(code))),
    )
}

fn negative_soa() -> Record {
    let soa = SOA::new(
        Name::from_ascii("ns1.bl.example.").unwrap(),
        Name::from_ascii("hostmaster.bl.example.").unwrap(),
        SERIAL,
        7200,
        900,
        1209600,
        300,
    );
    Record::from_rdata(
        Name::from_ascii("bl.example.").unwrap(),
        300,
        RData::SOA(soa),
    )
}

#[tokio::test]
async fn udp_listed_a_and_txt() {
    let (server, addr) = start().await;
    let name = "2.0.0.127.Bl.Example.";
    let (response, _) = udp(addr, &query(11, name, RecordType::A)).await;
    assert_eq!(response.metadata.id, 11);
    assert_eq!(response.metadata.message_type, MessageType::Response);
    assert_eq!(response.metadata.op_code, OpCode::Query);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(response.metadata.authoritative);
    assert!(response.metadata.recursion_desired);
    assert!(!response.metadata.recursion_available);
    assert!(!response.metadata.truncation);
    assert_eq!(response.queries[0].name().to_string(), name);
    assert_eq!(response.answers, [a(name, [127, 0, 0, 2])]);
    assert!(
        response.answers[0]
            .name
            .eq_case(&Name::from_ascii(name).unwrap())
    );
    assert!(response.authorities.is_empty());
    assert!(response.edns.is_none());

    let (response, _) = udp(addr, &query(12, name, RecordType::TXT)).await;
    let expected = Record::from_rdata(
        Name::from_ascii(name).unwrap(),
        TTL,
        RData::TXT(TXT::new(vec!["RFC 5782 test entry".into()])),
    );
    assert_eq!(response.answers, [expected]);
    server.shutdown().await;
}

#[tokio::test]
async fn udp_nxdomain_and_refused() {
    let (server, addr) = start().await;
    let (response, _) = udp(addr, &query(21, "1.0.0.127.bl.example.", RecordType::A)).await;
    assert_eq!(response.metadata.response_code, ResponseCode::NXDomain);
    assert!(response.metadata.authoritative);
    assert!(response.answers.is_empty());
    assert_eq!(response.authorities, [negative_soa()]);

    let (response, _) = udp(addr, &query(22, "example.org.", RecordType::A)).await;
    assert_eq!(response.metadata.response_code, ResponseCode::Refused);
    assert!(!response.metadata.authoritative);
    assert!(response.answers.is_empty());
    assert!(response.authorities.is_empty());

    let mut chaos = query(23, "version.bind.", RecordType::TXT);
    chaos.queries[0].set_query_class(DNSClass::CH);
    let (response, _) = udp(addr, &chaos).await;
    assert_eq!(response.metadata.response_code, ResponseCode::Refused);
    server.shutdown().await;
}

#[tokio::test]
async fn udp_request_errors() {
    let (server, addr) = start().await;
    let mut two = query(31, "2.0.0.127.bl.example.", RecordType::A);
    two.add_query(Query::query(
        Name::from_ascii("3.0.0.127.bl.example.").unwrap(),
        RecordType::A,
    ));
    let (response, _) = udp(addr, &two).await;
    assert_eq!(response.metadata.response_code, ResponseCode::FormErr);
    assert!(response.answers.is_empty());

    let none = Message::new(32, MessageType::Query, OpCode::Query);
    let (response, _) = udp(addr, &none).await;
    assert_eq!(response.metadata.response_code, ResponseCode::FormErr);

    for (id, op_code) in [
        (33, OpCode::Notify),
        (34, OpCode::Update),
        (35, OpCode::Status),
    ] {
        let mut message = query(id, "bl.example.", RecordType::SOA);
        message.metadata.op_code = op_code;
        let (response, _) = udp(addr, &message).await;
        assert_eq!(response.metadata.id, id);
        assert_eq!(
            response.metadata.response_code,
            ResponseCode::NotImp,
            "{op_code:?}"
        );
        assert_eq!(response.metadata.op_code, op_code);
        assert!(response.answers.is_empty());
    }

    // A question cut short: hickory-server answers FORMERR from the header alone.
    let mut cut = query(36, "2.0.0.127.bl.example.", RecordType::A)
        .to_vec()
        .unwrap();
    cut.truncate(20);
    let bytes = udp_exchange(addr, &cut)
        .await
        .expect("no response to a cut question");
    let response = Message::from_vec(&bytes).unwrap();
    assert_eq!(response.metadata.id, 36);
    assert_eq!(response.metadata.response_code, ResponseCode::FormErr);

    // Shorter than a header, or a response message: no reply at all.
    assert_eq!(udp_exchange(addr, &[0, 1, 2]).await, None);
    let mut reflected = query(37, "2.0.0.127.bl.example.", RecordType::A);
    reflected.metadata.message_type = MessageType::Response;
    assert_eq!(udp_exchange(addr, &reflected.to_vec().unwrap()).await, None);
    server.shutdown().await;
}

#[tokio::test]
async fn udp_edns() {
    let (server, addr) = start().await;
    let message = with_edns(query(41, "2.0.0.127.bl.example.", RecordType::A), 4096, 0);
    let (response, _) = udp(addr, &message).await;
    let edns = response.edns.as_ref().expect("no OPT in the response");
    assert_eq!(edns.max_payload(), 1232);
    assert_eq!(edns.version(), 0);
    assert_eq!(response.answers.len(), 1);

    let message = with_edns(query(42, "2.0.0.127.bl.example.", RecordType::A), 1000, 0);
    let (response, _) = udp(addr, &message).await;
    assert_eq!(response.edns.as_ref().unwrap().max_payload(), 1000);

    let message = with_edns(query(43, "2.0.0.127.bl.example.", RecordType::A), 4096, 1);
    let (response, _) = udp(addr, &message).await;
    // BADVERS shares the value 16 with BADSIG, which hickory-proto decodes it as.
    assert_eq!(u16::from(response.metadata.response_code), 16);
    assert_eq!(response.edns.as_ref().unwrap().rcode_high(), 1);
    assert_eq!(response.edns.as_ref().unwrap().version(), 0);
    assert!(response.answers.is_empty());
    server.shutdown().await;
}

/// Adds an OPT record with one COOKIE option of `len` bytes to `message`.
fn with_cookie(message: Message, len: usize) -> Message {
    let mut message = with_edns(message, 1232, 0);
    let edns = message.edns.as_mut().unwrap();
    edns.options_mut()
        .insert(EdnsOption::Unknown(10, vec![0x5c; len]));
    message
}

#[tokio::test]
async fn cookie_lengths_over_udp_and_tcp() {
    let (server, addr) = start().await;
    let name = "2.0.0.127.bl.example.";
    // RFC 7873 §5.2.2: 8 bytes (a Client Cookie) and 16 to 40 bytes (with a Server
    // Cookie) are well-formed; every other length is FORMERR.
    let cases = [
        (0, ResponseCode::FormErr),
        (7, ResponseCode::FormErr),
        (8, ResponseCode::NoError),
        (9, ResponseCode::FormErr),
        (15, ResponseCode::FormErr),
        (16, ResponseCode::NoError),
        (40, ResponseCode::NoError),
        (41, ResponseCode::FormErr),
    ];
    for (index, (len, rcode)) in cases.into_iter().enumerate() {
        let id = 71 + index as u16;
        let (response, _) = udp(addr, &with_cookie(query(id, name, RecordType::A), len)).await;
        assert_eq!(response.metadata.id, id, "cookie of {len} bytes: id");
        assert_eq!(
            response.metadata.response_code, rcode,
            "cookie of {len} bytes: rcode"
        );
        assert_eq!(response.queries.len(), 1, "cookie of {len} bytes: question");
        let edns = response.edns.as_ref().expect("no OPT in the response");
        assert_eq!(edns.version(), 0, "cookie of {len} bytes: EDNS version");
        assert!(
            edns.options().as_ref().is_empty(),
            "cookie of {len} bytes: the response has no EDNS options"
        );
        let expected = if rcode == ResponseCode::NoError {
            vec![a(name, [127, 0, 0, 2])]
        } else {
            vec![]
        };
        assert_eq!(response.answers, expected, "cookie of {len} bytes: answers");
    }

    let mut stream = TcpStream::connect(addr).await.unwrap();
    tcp_send(&mut stream, &with_cookie(query(81, name, RecordType::A), 7)).await;
    let response = tcp_receive(&mut stream).await;
    assert_eq!(
        response.metadata.response_code,
        ResponseCode::FormErr,
        "TCP rcode"
    );
    assert!(response.edns.is_some(), "TCP: OPT in the response");
    server.shutdown().await;
}

#[tokio::test]
async fn udp_truncation() {
    let (server, addr) = start().await;
    // Without EDNS the limit is 512 bytes: TC set, question only.
    let (response, length) = udp(addr, &query(51, MANY_TXT, RecordType::TXT)).await;
    assert!(response.metadata.truncation);
    assert!(response.metadata.authoritative);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(response.queries.len(), 1);
    assert!(response.answers.is_empty());
    assert!(response.authorities.is_empty());
    assert!(length <= 512, "response of {length} bytes");

    // With EDNS the same answer fits in 1232 bytes.
    let message = with_edns(query(52, MANY_TXT, RecordType::TXT), 4096, 0);
    let (response, length) = udp(addr, &message).await;
    assert!(!response.metadata.truncation);
    assert_eq!(response.answers.len(), 4);
    assert!(length > 512, "response of {length} bytes");
    assert!(length <= 1232, "response of {length} bytes");

    // Too large even for 1232 bytes: TC set, and the OPT record is kept.
    let message = with_edns(query(53, HUGE_TXT, RecordType::TXT), 4096, 0);
    let (response, _) = udp(addr, &message).await;
    assert!(response.metadata.truncation);
    assert!(response.answers.is_empty());
    assert_eq!(response.edns.as_ref().unwrap().max_payload(), 1232);

    // Small answers for the same name are not affected.
    let (response, _) = udp(addr, &query(54, HUGE_TXT, RecordType::A)).await;
    assert!(!response.metadata.truncation);
    assert_eq!(response.answers, [a(HUGE_TXT, [127, 0, 0, 3])]);
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_two_queries_one_connection() {
    let (server, addr) = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    tcp_send(&mut stream, &query(61, HUGE_TXT, RecordType::TXT)).await;
    let first = tcp_receive(&mut stream).await;
    assert_eq!(first.metadata.id, 61);
    assert!(!first.metadata.truncation);
    assert_eq!(first.answers.len(), 6);

    tcp_send(
        &mut stream,
        &query(62, "1.0.0.127.bl.example.", RecordType::A),
    )
    .await;
    let second = tcp_receive(&mut stream).await;
    assert_eq!(second.metadata.id, 62);
    assert_eq!(second.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(second.authorities, [negative_soa()]);
    server.shutdown().await;
}

#[tokio::test]
async fn reload_swaps_snapshot() {
    let current = Arc::new(ArcSwap::from_pointee(snapshot()));
    let server = DnsServer::bind("127.0.0.1:0".parse().unwrap(), current.clone())
        .await
        .unwrap();
    let addr = server.local_addr();
    let (response, _) = udp(addr, &query(71, "bl.example.", RecordType::SOA)).await;
    let RData::SOA(soa) = &response.answers[0].data else {
        panic!("expected an SOA record, got {:?}", response.answers);
    };
    assert_eq!(soa.serial, SERIAL);

    let mut next = snapshot();
    next.serial = SERIAL + 1;
    let rebuilt = SnapshotBuilder::new(
        next.serial,
        next.zones.iter().map(|z| z.spec.clone()).collect(),
        vec![],
    )
    .build()
    .unwrap();
    current.store(Arc::new(rebuilt));
    let (response, _) = udp(addr, &query(72, "bl.example.", RecordType::SOA)).await;
    let RData::SOA(soa) = &response.answers[0].data else {
        panic!("expected an SOA record, got {:?}", response.answers);
    };
    assert_eq!(soa.serial, SERIAL + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn run_until_stops_on_signal() {
    let current = Arc::new(ArcSwap::from_pointee(snapshot()));
    let server = DnsServer::bind("127.0.0.1:0".parse().unwrap(), current)
        .await
        .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let (response, _) = udp(addr, &query(81, "2.0.0.127.bl.example.", RecordType::A)).await;
    assert_eq!(response.answers.len(), 1);
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), running).await;
    assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
}

#[tokio::test]
async fn tcp_idle_connection_closed() {
    let current = Arc::new(ArcSwap::from_pointee(snapshot()));
    let options = dnsbl_dns::ServerOptions {
        tcp: dnsbl_dns::TcpLimits {
            idle_timeout: Duration::from_millis(200),
            ..Default::default()
        },
        ..Default::default()
    };
    let server = DnsServer::bind_with("127.0.0.1:0".parse().unwrap(), current, options)
        .await
        .unwrap();
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut buffer = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await;
    assert!(
        matches!(read, Ok(Ok(0))),
        "expected end of stream, got {read:?}"
    );
    server.shutdown().await;
}
