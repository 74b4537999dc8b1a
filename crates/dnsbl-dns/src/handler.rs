//! The hickory-server request handler: header, EDNS (RFC 6891) and error codes around the
//! answer function.

use std::sync::Arc;

use arc_swap::ArcSwap;
use dnsbl_core::{QueryCounters, Snapshot};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{
    Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, Query, ResponseCode,
};
use hickory_server::proto::serialize::binary::BinDecoder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};
use tracing::warn;

use crate::cookie;
use crate::limits::{self, ClientLimits, Verdict};
use crate::query_log::QueryLog;
use crate::truncation;
use crate::xfr::{self, XfrAcl};

/// The largest UDP payload the server sends and advertises, in bytes: the value DNS Flag
/// Day 2020 chose so that a response is not fragmented on common paths.
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// Payload size of a UDP response without EDNS (RFC 1035 §4.2.1).
pub(crate) const PLAIN_UDP_PAYLOAD: u16 = 512;

/// The only EDNS version this server implements.
const EDNS_VERSION: u8 = 0;

/// Answers DNS requests from the snapshot currently stored in the `ArcSwap`. Loading it
/// takes no lock, so a reload never pauses answers.
pub struct DnsblHandler {
    snapshot: Arc<ArcSwap<Snapshot>>,
    xfr_acl: XfrAcl,
    counters: Arc<QueryCounters>,
    query_log: QueryLog,
    limits: Arc<ClientLimits>,
}

impl DnsblHandler {
    pub fn new(snapshot: Arc<ArcSwap<Snapshot>>) -> Self {
        DnsblHandler {
            snapshot,
            xfr_acl: XfrAcl::default(),
            counters: Arc::default(),
            query_log: QueryLog::default(),
            limits: Arc::new(ClientLimits::unlimited()),
        }
    }

    /// Sets the query log that every response is recorded in; disabled by default.
    pub fn with_query_log(mut self, query_log: QueryLog) -> Self {
        self.query_log = query_log;
        self
    }

    /// Sets the access lists and rate limits applied before a response is sent.
    pub fn with_limits(mut self, limits: Arc<ClientLimits>) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the counters that every answered query is recorded in.
    pub fn with_counters(mut self, counters: Arc<QueryCounters>) -> Self {
        self.counters = counters;
        self
    }

    pub(crate) fn counters(&self) -> &QueryCounters {
        &self.counters
    }

    /// Sets the clients that may transfer zones (AXFR, IXFR); loopback by default.
    pub fn with_xfr_acl(mut self, acl: XfrAcl) -> Self {
        self.xfr_acl = acl;
        self
    }
}

/// The OPT record of the response: version 0, the DO bit copied (RFC 3225 §3), and a
/// payload size of the client's value clamped to 512..=1232.
fn response_edns(request_edns: &Edns) -> Edns {
    let mut edns = Edns::new();
    edns.set_version(EDNS_VERSION);
    edns.set_dnssec_ok(request_edns.flags().dnssec_ok);
    edns.set_max_payload(request_edns.max_payload().min(MAX_UDP_PAYLOAD));
    edns
}

/// Returns the error code for a request that is not answered from the snapshot: an EDNS
/// version above 0, a malformed COOKIE option, an opcode other than QUERY, or a question
/// count other than 1.
fn request_error(request: &Request) -> Option<ResponseCode> {
    if request
        .edns
        .as_ref()
        .is_some_and(|edns| edns.version() > EDNS_VERSION)
    {
        // RFC 6891 §6.1.3: the response carries an OPT record of the version we support.
        return Some(ResponseCode::BADVERS);
    }
    if request
        .edns
        .as_ref()
        .is_some_and(cookie::has_malformed_cookie)
    {
        return Some(ResponseCode::FormErr);
    }
    if request.metadata.op_code != OpCode::Query {
        return Some(ResponseCode::NotImp);
    }
    if request.queries.len() != 1 || question_has_pointer(&request.queries) {
        return Some(ResponseCode::FormErr);
    }
    None
}

/// Returns whether the name of the first question contains a compression pointer. Only the
/// header precedes that name, and a header contains no name for a pointer to aim at (RFC 1035
/// §4.1.4). hickory-server copies the question bytes into the response, where the pointer
/// would aim into the response's header, so such a request gets FORMERR without its
/// question.
fn question_has_pointer(queries: &Queries) -> bool {
    let bytes = queries.as_bytes();
    let mut offset = 0;
    while let Some(&len) = bytes.get(offset) {
        match len {
            0 => return false,
            0xc0..=0xff => return true,
            _ => offset += 1 + usize::from(len),
        }
    }
    false
}

#[async_trait::async_trait]
impl RequestHandler for DnsblHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        let edns = request.edns.as_ref().map(response_edns);
        let no_queries;
        let echoed = if question_has_pointer(&request.queries) {
            no_queries = Queries::read(&mut BinDecoder::new(&[]), 0).expect("no queries to read");
            &no_queries
        } else {
            &request.queries
        };
        let mut builder = MessageResponseBuilder::new(echoed, None);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }

        if let Some(rcode) = request_error(request) {
            let qtype = request
                .queries
                .queries()
                .first()
                .map_or(0, |query| u16::from(query.original().query_type()));
            let snapshot = self.snapshot.load();
            let verdict =
                limits::record::decide(&self.limits, &snapshot, request, None, None, rcode, 0);
            if verdict == Verdict::Drop {
                return limits::record::unsent(request);
            }
            self.counters.record(None, qtype, u16::from(rcode), false);
            let query = request
                .queries
                .queries()
                .first()
                .map(|query| query.original());
            self.query_log
                .record(request.src(), query, u16::from(rcode), &[]);
            if verdict == Verdict::Slip {
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = rcode;
                metadata.truncation = true;
                let response = builder.build(
                    metadata,
                    [].iter(),
                    [].iter(),
                    std::iter::empty(),
                    std::iter::empty(),
                );
                return send(request, response_handle, response).await;
            }
            let response = builder.error_msg(&request.metadata, rcode);
            return send(request, response_handle, response).await;
        }

        let query = request.queries.queries()[0].original();
        let snapshot = self.snapshot.load();
        if xfr::is_transfer(query.query_type()) {
            let snapshot = arc_swap::Guard::into_inner(snapshot);
            let info = xfr::transfer(snapshot, &self.xfr_acl, request, response_handle).await;
            // A transfer sends many records; the log line carries its outcome only.
            let rcode = u16::from(info.response_code);
            self.query_log
                .record(request.src(), Some(query), rcode, &[]);
            return info;
        }
        let answer = dnsbl_core::answer(
            &snapshot,
            query.name(),
            query.query_type(),
            query.query_class(),
        );

        let zone = zone_index(&snapshot, query);
        let verdict = limits::record::decide(
            &self.limits,
            &snapshot,
            request,
            zone,
            Some(query),
            answer.rcode,
            answer.answers.len(),
        );
        match verdict {
            Verdict::Drop => return limits::record::unsent(request),
            Verdict::Refuse => {
                let rcode = ResponseCode::Refused;
                let qtype = u16::from(query.query_type());
                let name = zone.map(|index| snapshot.zones[index].spec.name.as_str());
                self.counters.record(name, qtype, u16::from(rcode), false);
                let response = builder.error_msg(&request.metadata, rcode);
                return send(request, response_handle, response).await;
            }
            Verdict::Answer | Verdict::Slip => {}
        }
        self.record(&snapshot, query, &answer);

        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = answer.rcode;
        metadata.authoritative = answer.authoritative;
        let limit = match request.protocol() {
            Protocol::Udp => edns.as_ref().map_or(PLAIN_UDP_PAYLOAD, Edns::max_payload),
            _ => u16::MAX,
        };
        let fits = truncation::fits(
            limit,
            &request.queries,
            edns.as_ref(),
            metadata,
            &answer.answers,
            &answer.authority,
        );
        let sent: &[_] = if fits { &answer.answers } else { &[] };
        let rcode = u16::from(answer.rcode);
        self.query_log
            .record(request.src(), Some(query), rcode, sent);
        if !fits && request.protocol() != Protocol::Udp {
            let response = truncation::whole_rrsets(
                query,
                &request.queries,
                edns.as_ref(),
                metadata,
                &answer.answers,
                &answer.authority,
            );
            return match response {
                Some(kept) => {
                    let response = builder.build(
                        metadata,
                        answer.answers[..kept].iter(),
                        answer.authority.iter(),
                        std::iter::empty(),
                        std::iter::empty(),
                    );
                    send(request, response_handle, response).await
                }
                None => {
                    warn!(
                        name = %query.name(),
                        qtype = %query.query_type(),
                        "the answer does not fit in 65535 bytes; sending SERVFAIL"
                    );
                    let response = builder.error_msg(&request.metadata, ResponseCode::ServFail);
                    send(request, response_handle, response).await
                }
            };
        }
        let response = if fits && verdict != Verdict::Slip {
            builder.build(
                metadata,
                answer.answers.iter(),
                answer.authority.iter(),
                std::iter::empty(),
                std::iter::empty(),
            )
        } else {
            metadata.truncation = true;
            builder.build(
                metadata,
                [].iter(),
                [].iter(),
                std::iter::empty(),
                std::iter::empty(),
            )
        };
        send(request, response_handle, response).await
    }
}

/// Returns the index in `snapshot.zones` of the zone that contains the query name.
fn zone_index(snapshot: &Snapshot, query: &Query) -> Option<usize> {
    let labels: Vec<&str> = query
        .name()
        .iter()
        .map(|label| std::str::from_utf8(label).unwrap_or(""))
        .collect();
    let zone = snapshot.find_zone(&labels)?;
    snapshot
        .zones
        .iter()
        .position(|candidate| std::ptr::eq(candidate, zone))
}

impl DnsblHandler {
    /// Counts a response of the record path. A response is listed when it has answers
    /// for a name below its zone's apex, which only listings produce.
    fn record(&self, snapshot: &Snapshot, query: &Query, answer: &dnsbl_core::Answer) {
        let labels: Vec<&str> = query
            .name()
            .iter()
            .map(|label| std::str::from_utf8(label).unwrap_or(""))
            .collect();
        let zone = snapshot.find_zone(&labels);
        let listed = answer.rcode == ResponseCode::NoError
            && !answer.answers.is_empty()
            && zone.is_some_and(|zone| labels.len() > zone.label_count());
        self.counters.record(
            zone.map(|zone| zone.spec.name.as_str()),
            u16::from(query.query_type()),
            u16::from(answer.rcode),
            listed,
        );
    }
}

async fn send<'a, R: ResponseHandler>(
    request: &Request,
    mut response_handle: R,
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a hickory_server::proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_server::proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_server::proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_server::proto::rr::Record> + Send + 'a,
    >,
) -> ResponseInfo {
    match response_handle.send_response(response).await {
        Ok(info) => info,
        Err(error) => {
            warn!(
                %error,
                id = request.metadata.id,
                client = %request.src(),
                "failed to send a DNS response"
            );
            let mut metadata = Metadata::new(
                request.metadata.id,
                MessageType::Response,
                request.metadata.op_code,
            );
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        }
    }
}
