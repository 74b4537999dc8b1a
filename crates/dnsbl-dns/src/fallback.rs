//! The record path for UDP requests the wire path leaves alone: hickory-server's parsing
//! and the [`DnsblHandler`], run in place on one datagram.
//!
//! This repeats what hickory-server does with a datagram: no response to fewer than 12
//! bytes or to a response message, FORMERR when the message cannot be parsed (RFC 1035
//! §4.1.1), the handler otherwise, encoded within the UDP size limit (RFC 6891 §6.2.5).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{
    Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_server::proto::rr::Record;
use hickory_server::proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder,
};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};

use crate::handler::{DnsblHandler, PLAIN_UDP_PAYLOAD};

/// Answers one UDP datagram through hickory-server's parser and the handler. Returns
/// `None` when no response is sent.
pub fn respond(handler: &DnsblHandler, packet: &[u8], src: SocketAddr) -> Option<Vec<u8>> {
    let header = Header::read(&mut BinDecoder::new(packet)).ok()?;
    let request = match Request::from_bytes(packet.to_vec(), src, Protocol::Udp) {
        Ok(request) => request,
        Err(_) => {
            let rcode = u16::from(ResponseCode::FormErr);
            handler.counters().record(None, 0, rcode, false);
            return Some(form_error(&header));
        }
    };
    if request.metadata.message_type == MessageType::Response {
        // Answering responses would let anyone reflect traffic through this server.
        return None;
    }
    let captured = Capture::default();
    let future = handler.handle_request::<_, TokioTime>(&request, captured.clone());
    // The handler awaits nothing but the capture, which completes at once.
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(_) => {}
        Poll::Pending => return None,
    }
    captured.0.lock().ok()?.take()
}

/// Returns a FORMERR response with the header's id, for a message that cannot be parsed.
pub(crate) fn form_error(header: &Header) -> Vec<u8> {
    let queries = Queries::read(&mut BinDecoder::new(&[]), 0).expect("no queries to read");
    let response = MessageResponseBuilder::new(&queries, None)
        .error_msg(&header.metadata, ResponseCode::FormErr);
    let mut bytes = Vec::with_capacity(64);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(PLAIN_UDP_PAYLOAD);
    match response.destructive_emit(&mut encoder) {
        Ok(_) => bytes,
        Err(_) => Vec::new(),
    }
}

/// A response handler that keeps the encoded response instead of sending it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Option<Vec<u8>>>>);

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let limit = response
            .edns()
            .map_or(PLAIN_UDP_PAYLOAD, |edns| edns.max_payload());
        let id = response.metadata().id;
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(limit);
        let info = match response.destructive_emit(&mut encoder) {
            Ok(info) => info,
            Err(_) => {
                // As hickory-server does: a bare SERVFAIL when the response cannot be
                // encoded.
                bytes.clear();
                let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
                metadata.response_code = ResponseCode::ServFail;
                let header = Header {
                    metadata,
                    counts: HeaderCounts::default(),
                };
                header.emit(&mut BinEncoder::new(&mut bytes))?;
                ResponseInfo::from(header)
            }
        };
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(bytes);
        }
        Ok(info)
    }
}
