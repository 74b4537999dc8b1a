//! Whether a response fits the size the client can receive.
//!
//! hickory-server truncates an oversized message record by record: it keeps the answers
//! that fit, may still add authority records after them and can drop the OPT record. A
//! response that does not fit is instead sent here with the question and OPT only and
//! the TC bit set, so the client retries over TCP and never caches a partial record set.

use hickory_server::proto::op::{Edns, Metadata, Query};
use hickory_server::proto::rr::{RData, Record, RecordType};
use hickory_server::proto::serialize::binary::BinEncoder;
use hickory_server::zone_handler::{MessageResponseBuilder, Queries};

/// Header length in bytes.
const HEADER_LEN: usize = 12;
/// An OPT record without options: root name, type, class, TTL and RDLENGTH.
const OPT_LEN: usize = 11;
/// Type, class, TTL and RDLENGTH of a record.
const RECORD_FIXED_LEN: usize = 10;

/// Whether the response with these sections encodes in at most `limit` bytes.
///
/// An upper bound without name compression settles the usual small answers without
/// encoding; only a response near the limit is encoded once to measure it.
pub(crate) fn fits(
    limit: u16,
    queries: &Queries,
    edns: Option<&Edns>,
    metadata: Metadata,
    answers: &[Record],
    authority: &[Record],
) -> bool {
    let limit = usize::from(limit);
    let opt_len = if edns.is_some() { OPT_LEN } else { 0 };
    let bound = answers.iter().chain(authority).try_fold(
        HEADER_LEN + queries.as_bytes().len() + opt_len,
        |total, record| Some(total + record_bound(record)?),
    );
    if bound.is_some_and(|bound| bound <= limit) {
        return true;
    }
    let mut buffer = Vec::with_capacity(limit);
    let mut encoder = BinEncoder::new(&mut buffer);
    encoder.set_max_size(u16::try_from(limit).unwrap_or(u16::MAX));
    let mut builder = MessageResponseBuilder::new(queries, None);
    if let Some(edns) = edns {
        builder.edns(edns);
    }
    let response = builder.build(
        metadata,
        answers.iter(),
        authority.iter(),
        std::iter::empty(),
        std::iter::empty(),
    );
    match response.destructive_emit(&mut encoder) {
        Ok(info) => !info.truncation,
        Err(_) => false,
    }
}

/// Chooses the answers of a response that does not fit in one TCP message (65535 bytes):
/// for ANY, the leading whole RRsets that fit, which RFC 8482 §4.2 allows; for any other
/// type `None`, because its one RRset cannot be sent whole and a TC bit is meaningless on
/// TCP (RFC 2181 §9). Returns how many of `answers` to keep.
pub(crate) fn whole_rrsets(
    query: &Query,
    queries: &Queries,
    edns: Option<&Edns>,
    metadata: Metadata,
    answers: &[Record],
    authority: &[Record],
) -> Option<usize> {
    if query.query_type() != RecordType::ANY {
        return None;
    }
    // The answer function writes each RRset's records next to each other.
    let mut ends: Vec<usize> = (1..answers.len())
        .filter(|&index| {
            let (previous, record) = (&answers[index - 1], &answers[index]);
            previous.record_type() != record.record_type() || previous.name != record.name
        })
        .collect();
    ends.reverse();
    ends.into_iter().find(|&end| {
        fits(
            u16::MAX,
            queries,
            edns,
            metadata,
            &answers[..end],
            authority,
        )
    })
}

/// Encoded length of a record without name compression, or `None` for record types the
/// answer function does not produce.
fn record_bound(record: &Record) -> Option<usize> {
    // Name::len counts one byte per label separator; the wire form adds the length
    // bytes and the root label, at most one byte more.
    let name_len = |name: &hickory_server::proto::rr::Name| name.len() + 1;
    let rdata_len = match &record.data {
        RData::A(_) => 4,
        RData::AAAA(_) => 16,
        RData::NS(ns) => name_len(&ns.0),
        RData::SOA(soa) => name_len(&soa.mname) + name_len(&soa.rname) + 20,
        RData::TXT(txt) => txt.txt_data.iter().map(|part| part.len() + 1).sum(),
        _ => return None,
    };
    Some(name_len(&record.name) + RECORD_FIXED_LEN + rdata_len)
}
