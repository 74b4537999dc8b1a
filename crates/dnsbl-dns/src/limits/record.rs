//! Applying a [`Verdict`] in the record path (TCP, and UDP requests the wire path leaves
//! to hickory-server's parser).

use std::net::IpAddr;
use std::time::Instant;

use dnsbl_core::Snapshot;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, Query, ResponseCode};
use hickory_server::server::{Request, ResponseInfo};

use super::{ClientLimits, ResponseKind, Transport, Verdict, name_hash};

/// Decides on the response to `request`, whose question `query` lies in the zone at
/// `zone` of `snapshot` (`None` outside every zone or for an invalid request).
pub(crate) fn decide(
    limits: &ClientLimits,
    snapshot: &Snapshot,
    request: &Request,
    zone: Option<usize>,
    query: Option<&Query>,
    rcode: ResponseCode,
    answers: usize,
) -> Verdict {
    let name = query.map_or(0, |query| name_hash(query.name().iter()));
    let qtype = query.map_or(0, |query| u16::from(query.query_type()));
    let answers = u16::try_from(answers).unwrap_or(u16::MAX);
    let kind = ResponseKind::classify(u16::from(rcode), answers, name, qtype);
    let transport = match request.protocol() {
        Protocol::Udp => Transport::Udp,
        _ => Transport::Tcp,
    };
    let zone = zone.and_then(|index| Some((index, &snapshot.zones.get(index)?.spec.acl)));
    let client: IpAddr = request.src().ip();
    limits.decide(client, zone, kind, transport, Instant::now())
}

/// The [`ResponseInfo`] of a response that is not sent.
pub(crate) fn unsent(request: &Request) -> ResponseInfo {
    ResponseInfo::from(Header {
        metadata: Metadata::response_from_request(&request.metadata),
        counts: HeaderCounts::default(),
    })
}
