//! DNSBL answers as a pure function of a snapshot and a question (RFC 5782).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use crate::snapshot::Snapshot;

/// The parts of a response that depend on the data: the DNS front end copies the id,
/// flags, question and EDNS from the request.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub rcode: ResponseCode,
    /// The AA bit: set for names inside a served zone.
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
}

/// Builds the answer for one question.
pub fn answer(snapshot: &Snapshot, name: &Name, qtype: RecordType, qclass: DNSClass) -> Answer {
    let _ = (snapshot, name, qtype, qclass);
    Answer {
        rcode: ResponseCode::Refused,
        authoritative: false,
        answers: Vec::new(),
        authority: Vec::new(),
    }
}
