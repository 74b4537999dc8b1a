//! Zone transfer (AXFR, RFC 5936) to secondaries in an access list, and NOTIFY (RFC 1996)
//! when the serial changes.
//!
//! The records are those of [`dnsbl_export::zone_records`], the construction the master
//! files use, so a secondary answers like the exported files. A transfer is sent over TCP
//! only, to clients whose address is in the access list, as a sequence of messages of
//! about [`MESSAGE_TARGET`] bytes each: the SOA first, the SOA again last (RFC 5936 §2.2).
//! Every message repeats the question, which RFC 5936 §2.2.1 allows. An IXFR request
//! (RFC 1995) is answered with the full zone in the same form, which RFC 1995 §4 allows.
//! A client outside the list, a request over UDP and a name that is not a zone apex get
//! REFUSED.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use dnsbl_core::Snapshot;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Message, Metadata, OpCode, Query, ResponseCode};
use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::proto::serialize::binary::BinDecoder;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponseBuilder, Queries};
use ipnet::IpNet;
use tracing::{debug, info, warn};

/// Target size of one transfer message, in bytes, estimated without name compression so
/// the encoded message stays well below the 65535-byte TCP limit (RFC 1035 §4.2.2).
pub const MESSAGE_TARGET: usize = 16 * 1024;

/// How long a transfer waits in total for room in the connection's send queue.
const QUEUE_WAIT: Duration = Duration::from_secs(30);

/// The clients that may transfer zones.
#[derive(Clone, Debug)]
pub struct XfrAcl {
    allowed: Vec<IpNet>,
}

impl XfrAcl {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        XfrAcl { allowed }
    }

    /// The default list: loopback only (127.0.0.0/8 and ::1), so a secondary on the same
    /// host works without configuration and nothing else can copy the whole list.
    pub fn loopback() -> Self {
        XfrAcl::new(vec![
            "127.0.0.0/8".parse().expect("a valid prefix"),
            "::1/128".parse().expect("a valid prefix"),
        ])
    }

    pub fn allows(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            IpAddr::V4(_) => addr,
        };
        self.allowed.iter().any(|net| net.contains(&addr))
    }
}

impl Default for XfrAcl {
    fn default() -> Self {
        XfrAcl::loopback()
    }
}

/// Whether the handler passes a request to [`transfer`]: an AXFR or IXFR question.
pub(crate) fn is_transfer(qtype: RecordType) -> bool {
    matches!(qtype, RecordType::AXFR | RecordType::IXFR)
}

/// Answers an AXFR or IXFR request: REFUSED, or the zone in as many messages as it needs.
///
/// hickory-server 0.26 writes a TCP connection's queued responses only between requests,
/// in the task that awaits this handler, and its queue holds a fixed number of messages.
/// The transfer is therefore sent from a task of its own, and the handler returns at once.
pub(crate) async fn transfer<R: ResponseHandler>(
    snapshot: Arc<Snapshot>,
    acl: &XfrAcl,
    request: &Request,
    response_handle: R,
) -> ResponseInfo {
    let query = request.queries.queries()[0].original();
    let allowed = request.protocol() == Protocol::Tcp && acl.allows(request.src().ip());
    let zone_index = snapshot
        .zones
        .iter()
        .position(|zone| zone.records.apex == *query.name());
    let zone_index = match zone_index {
        Some(index) if allowed && query.query_class() == DNSClass::IN => index,
        _ => return refuse(request, response_handle).await,
    };
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.authoritative = true;
    metadata.response_code = ResponseCode::NoError;
    // The queries are copied for the task by decoding their wire form again.
    let mut decoder = BinDecoder::new(request.queries.as_bytes());
    let Ok(queries) = Queries::read(&mut decoder, request.queries.len()) else {
        return send_error(request, response_handle, ResponseCode::ServFail).await;
    };
    let client = request.src();
    tokio::spawn(send_zone(
        snapshot,
        zone_index,
        queries,
        metadata,
        client,
        response_handle,
    ));
    ResponseInfo::from(hickory_server::proto::op::Header {
        metadata,
        counts: Default::default(),
    })
}

/// Builds the records of one zone and sends them, SOA first and last.
async fn send_zone<R: ResponseHandler>(
    snapshot: Arc<Snapshot>,
    zone_index: usize,
    queries: Queries,
    metadata: Metadata,
    client: SocketAddr,
    mut response_handle: R,
) {
    let zone = &snapshot.zones[zone_index];
    let started = std::time::Instant::now();
    let records = match dnsbl_export::zone_records(&snapshot, zone) {
        Ok(records) => records,
        Err(error) => {
            warn!(%error, zone = %zone.spec.name, %client, "failed to build the records of a zone transfer");
            let builder = MessageResponseBuilder::new(&queries, None);
            let response = builder.error_msg(&metadata, ResponseCode::ServFail);
            let _ = response_handle.send_response(response).await;
            return;
        }
    };
    let soa = records[0].clone();
    let all: Vec<&Record> = records.iter().chain(std::iter::once(&soa)).collect();
    let mut messages = 0usize;
    for chunk in chunks(&all) {
        if let Err(error) = send_queued(&mut response_handle, &queries, metadata, chunk).await {
            warn!(%error, zone = %zone.spec.name, %client, messages, "zone transfer aborted");
            return;
        }
        messages += 1;
    }
    info!(
        zone = %zone.spec.name,
        serial = snapshot.serial,
        %client,
        records = all.len(),
        messages,
        millis = started.elapsed().as_millis() as u64,
        "zone transfer sent"
    );
}

/// Splits the records into messages of about [`MESSAGE_TARGET`] bytes.
fn chunks<'r>(records: &'r [&'r Record]) -> Vec<&'r [&'r Record]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (index, record) in records.iter().enumerate() {
        let record_size = record_size(record);
        if index > start && size + record_size > MESSAGE_TARGET {
            chunks.push(&records[start..index]);
            start = index;
            size = 0;
        }
        size += record_size;
    }
    if start < records.len() {
        chunks.push(&records[start..]);
    }
    chunks
}

/// Encoded size of a record without name compression, an upper bound.
fn record_size(record: &Record) -> usize {
    let name = |name: &Name| name.len() + 2;
    let rdata = match &record.data {
        RData::A(_) => 4,
        RData::NS(ns) => name(&ns.0),
        RData::SOA(soa) => name(&soa.mname) + name(&soa.rname) + 20,
        RData::TXT(txt) => txt.txt_data.iter().map(|part| part.len() + 1).sum(),
        RData::HINFO(hinfo) => hinfo.cpu.len() + hinfo.os.len() + 2,
        // The export writes no other types; a generous bound keeps messages valid.
        _ => 1024,
    };
    name(&record.name) + 10 + rdata
}

/// Sends one message, waiting while the connection's send queue is full.
///
/// NOTE: hickory-server 0.26 queues TCP responses in a bounded channel and fails a send
/// when it is full, without telling a full queue from a closed connection. A transfer
/// produces messages faster than the socket drains them, so a failed send is retried with
/// a growing pause until [`QUEUE_WAIT`] has passed.
async fn send_queued<R: ResponseHandler>(
    response_handle: &mut R,
    queries: &Queries,
    metadata: Metadata,
    records: &[&Record],
) -> Result<ResponseInfo, String> {
    let deadline = std::time::Instant::now() + QUEUE_WAIT;
    let mut pause = Duration::from_millis(1);
    loop {
        let builder = MessageResponseBuilder::new(queries, None);
        let response = builder.build(
            metadata,
            records.iter().copied(),
            std::iter::empty(),
            std::iter::empty(),
            std::iter::empty(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => return Ok(info),
            Err(error) if std::time::Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(error) => return Err(error.to_string()),
        }
    }
}

async fn refuse<R: ResponseHandler>(request: &Request, response_handle: R) -> ResponseInfo {
    debug!(client = %request.src(), protocol = ?request.protocol(), "zone transfer refused");
    send_error(request, response_handle, ResponseCode::Refused).await
}

async fn send_error<R: ResponseHandler>(
    request: &Request,
    mut response_handle: R,
    rcode: ResponseCode,
) -> ResponseInfo {
    let builder = MessageResponseBuilder::new(&request.queries, None);
    let response = builder.error_msg(&request.metadata, rcode);
    match response_handle.send_response(response).await {
        Ok(info) => info,
        Err(_) => error_info(request, rcode),
    }
}

fn error_info(request: &Request, rcode: ResponseCode) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = rcode;
    ResponseInfo::from(hickory_server::proto::op::Header {
        metadata,
        counts: Default::default(),
    })
}

/// Errors from sending a NOTIFY.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("failed to send NOTIFY for {zone} to {target}: {source}")]
    Io {
        zone: String,
        target: SocketAddr,
        source: std::io::Error,
    },
    #[error("no response to NOTIFY for {zone} from {target} after {attempts} attempts")]
    TimedOut {
        zone: String,
        target: SocketAddr,
        attempts: u32,
    },
}

/// Attempts of one NOTIFY, with [`NOTIFY_TIMEOUT`] between them (RFC 1996 §3.6 asks for
/// retransmission until a response arrives).
const NOTIFY_ATTEMPTS: u32 = 5;
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends a NOTIFY for `zone` (opcode NOTIFY, AA set, the SOA in the question and the
/// answer section, RFC 1996 §3.7) over UDP and waits for the response.
pub async fn send_notify(target: SocketAddr, zone: &Name, soa: &Record) -> Result<(), NotifyError> {
    let io_error = |source| NotifyError::Io {
        zone: zone.to_string(),
        target,
        source,
    };
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().expect("a valid address")
    } else {
        "[::]:0".parse().expect("a valid address")
    };
    let socket = tokio::net::UdpSocket::bind(bind).await.map_err(io_error)?;
    let mut message = Message::query();
    message.metadata.op_code = OpCode::Notify;
    message.metadata.authoritative = true;
    message.metadata.recursion_desired = false;
    let mut query = Query::query(zone.clone(), RecordType::SOA);
    query.set_query_class(DNSClass::IN);
    message.add_query(query);
    message.add_answer(soa.clone());
    let bytes = message
        .to_vec()
        .map_err(|error| io_error(std::io::Error::other(error.to_string())))?;
    let mut buffer = [0u8; 4096];
    for _ in 0..NOTIFY_ATTEMPTS {
        socket.send_to(&bytes, target).await.map_err(io_error)?;
        let received = tokio::time::timeout(NOTIFY_TIMEOUT, socket.recv_from(&mut buffer)).await;
        if let Ok(Ok((len, from))) = received
            && from == target
            && let Ok(response) = Message::from_vec(&buffer[..len])
            && response.metadata.id == message.metadata.id
        {
            return Ok(());
        }
    }
    Err(NotifyError::TimedOut {
        zone: zone.to_string(),
        target,
        attempts: NOTIFY_ATTEMPTS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_matches_prefixes() {
        let acl = XfrAcl::new(vec!["192.0.2.0/24".parse().unwrap()]);
        let cases = [
            ("192.0.2.1", true),
            ("192.0.3.1", false),
            ("::ffff:192.0.2.9", true),
            ("2001:db8::1", false),
        ];
        for (addr, allowed) in cases {
            assert_eq!(acl.allows(addr.parse().unwrap()), allowed, "{addr}");
        }
        assert!(XfrAcl::loopback().allows("127.0.0.1".parse().unwrap()));
        assert!(XfrAcl::loopback().allows("::1".parse().unwrap()));
        assert!(!XfrAcl::loopback().allows("10.0.0.1".parse().unwrap()));
    }
}
