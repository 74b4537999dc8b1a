//! Many UDP queries in flight at once, from several client sockets, so that the listener
//! receives and sends them in batches of varying size. Every response is checked exactly:
//! against the records the snapshot lists, and byte for byte against the response the same
//! query gets when it is sent alone.

mod common;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use dnsbl_core::{AddrRange, Category, Listing, ListingSource, Snapshot, SnapshotBuilder};
use dnsbl_dns::DnsServer;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

const TTL: u32 = 2100;
/// Client sockets sending at once.
const CLIENTS: usize = 8;
/// Queries each client sends before it reads any response: 200 in flight in total.
const PER_CLIENT: usize = 25;
/// How long a client waits for all of its responses.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(10);

fn snapshot() -> Snapshot {
    let zone = common::bl_example(TTL);
    let categories = vec![
        Category {
            name: "spam".into(),
            code: [127, 0, 0, 2].into(),
            txt: "{provider} listed".into(),
        },
        Category {
            name: "hosting".into(),
            code: [127, 0, 0, 4].into(),
            txt: "{provider} hosts {query}".into(),
        },
    ];
    let mut builder = SnapshotBuilder::new(3, vec![zone], categories);
    for (category, provider, range) in [
        (0, "Spam Provider", "198.51.100.0/24"),
        (1, "Hosting Provider", "203.0.113.0/25"),
    ] {
        let listing = builder.add_listing(Listing {
            provider: provider.into(),
            operator: None,
            category,
            source: ListingSource::Netblock(range.parse::<AddrRange>().unwrap()),
            listed_since: None,
        });
        builder.add_range(range.parse::<AddrRange>().unwrap(), listing);
    }
    builder.build().unwrap()
}

/// What a query should get back.
enum Expected {
    Listed(RData),
    NxDomain,
    /// The apex SOA, which the record path answers.
    Apex,
}

/// Builds query number `index` with its expected answer: listed and unlisted A and TXT
/// names, EDNS and plain, and apex queries that take the record path.
fn case(index: usize) -> (Message, Expected) {
    let host = (index % 250) as u8;
    let (name, qtype, expected) = match index % 5 {
        0 => (
            format!("{host}.100.51.198.bl.example."),
            RecordType::A,
            Expected::Listed(RData::A(A(Ipv4Addr::new(127, 0, 0, 2)))),
        ),
        1 => {
            let host = host % 128;
            (
                format!("{host}.113.0.203.bl.example."),
                RecordType::TXT,
                Expected::Listed(RData::TXT(TXT::new(vec![format!(
                    "Hosting Provider hosts 203.0.113.{host}"
                )]))),
            )
        }
        2 => (
            format!("{host}.99.51.198.bl.example."),
            RecordType::A,
            Expected::NxDomain,
        ),
        3 => (
            format!("{}.113.0.203.BL.example.", 128 + host % 128),
            RecordType::A,
            Expected::NxDomain,
        ),
        _ => ("bl.example.".to_string(), RecordType::SOA, Expected::Apex),
    };
    let mut message = Message::new(index as u16, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(&name).unwrap(), qtype));
    if index.is_multiple_of(2) {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        message.set_edns(edns);
    }
    (message, expected)
}

fn check(index: usize, response: &Message, expected: &Expected) {
    assert_eq!(response.metadata.id, index as u16);
    assert_eq!(response.metadata.message_type, MessageType::Response);
    assert!(response.metadata.authoritative, "query {index}");
    assert_eq!(
        response.edns.is_some(),
        index.is_multiple_of(2),
        "query {index}"
    );
    let name = response.queries[0].name().clone();
    match expected {
        Expected::Listed(rdata) => {
            assert_eq!(response.metadata.response_code, ResponseCode::NoError);
            let record = Record::from_rdata(name, TTL, rdata.clone());
            assert_eq!(response.answers, [record], "query {index}");
        }
        Expected::NxDomain => {
            assert_eq!(
                response.metadata.response_code,
                ResponseCode::NXDomain,
                "query {index}"
            );
            assert!(response.answers.is_empty(), "query {index}");
            assert_eq!(response.authorities.len(), 1, "query {index}");
        }
        Expected::Apex => {
            assert_eq!(response.metadata.response_code, ResponseCode::NoError);
            assert_eq!(response.answers.len(), 1, "query {index}");
            assert_eq!(response.answers[0].record_type(), RecordType::SOA);
        }
    }
}

fn client_socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(RECEIVE_TIMEOUT)).unwrap();
    socket
}

/// Returns the response to `request` when it is the only query in flight.
fn alone(server: SocketAddr, request: &[u8]) -> Vec<u8> {
    let socket = client_socket();
    socket.send_to(request, server).unwrap();
    let mut buffer = [0u8; 4096];
    let length = socket.recv(&mut buffer).unwrap();
    buffer[..length].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_queries_all_answered() {
    let current = Arc::new(ArcSwap::from_pointee(snapshot()));
    let server = DnsServer::bind("127.0.0.1:0".parse().unwrap(), current)
        .await
        .unwrap();
    let addr = server.local_addr();
    let total = CLIENTS * PER_CLIENT;
    let requests: Vec<(Vec<u8>, Expected)> = (0..total)
        .map(|index| {
            let (message, expected) = case(index);
            (message.to_vec().unwrap(), expected)
        })
        .collect();
    let reference: Vec<Vec<u8>> = tokio::task::spawn_blocking({
        let requests: Vec<Vec<u8>> = requests.iter().map(|(bytes, _)| bytes.clone()).collect();
        move || {
            requests
                .iter()
                .map(|request| alone(addr, request))
                .collect()
        }
    })
    .await
    .unwrap();

    let sockets: Vec<UdpSocket> = (0..CLIENTS).map(|_| client_socket()).collect();
    let burst = tokio::task::spawn_blocking({
        let requests: Vec<Vec<u8>> = requests.iter().map(|(bytes, _)| bytes.clone()).collect();
        move || {
            // Every client sends all of its queries before any client reads.
            for (index, request) in requests.iter().enumerate() {
                sockets[index % CLIENTS].send_to(request, addr).unwrap();
            }
            let started = Instant::now();
            let mut responses = HashMap::new();
            for (client, socket) in sockets.iter().enumerate() {
                let mut buffer = [0u8; 4096];
                for _ in 0..PER_CLIENT {
                    let length = socket.recv(&mut buffer).unwrap_or_else(|error| {
                        panic!(
                            "client {client}: {} of {total} responses after {:?}: {error}",
                            responses.len(),
                            started.elapsed()
                        )
                    });
                    let id = u16::from_be_bytes([buffer[0], buffer[1]]) as usize;
                    assert_eq!(
                        id % CLIENTS,
                        client,
                        "response {id} came to client {client}"
                    );
                    let previous = responses.insert(id, buffer[..length].to_vec());
                    assert!(previous.is_none(), "two responses to query {id}");
                }
            }
            responses
        }
    })
    .await
    .unwrap();

    assert_eq!(burst.len(), total);
    for (index, (_, expected)) in requests.iter().enumerate() {
        let bytes = &burst[&index];
        check(index, &Message::from_vec(bytes).unwrap(), expected);
        assert_eq!(
            bytes, &reference[index],
            "query {index} differs from its answer alone"
        );
    }
    server.shutdown().await;
}
