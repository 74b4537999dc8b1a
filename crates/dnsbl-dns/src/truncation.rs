//! Whether a response fits the size the client can receive, and the truncated form of an
//! encoded response.
//!
//! hickory-server truncates an oversized message record by record: it keeps the answers
//! that fit, may still add authority records after them and can drop the OPT record. A
//! response that does not fit is instead sent here with the question and OPT only and
//! the TC bit set, so the client retries over TCP and never caches a partial record set.

use std::ops::Range;

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
/// The TC flag in the third byte of the header.
const TC_FLAG: u8 = 0x02;
/// Record type of the EDNS OPT pseudo-record.
const TYPE_OPT: u16 = 41;
/// Type and class of a question.
const QUESTION_FIXED_LEN: usize = 4;

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

/// Rewrites an encoded response of one question to its truncated form: the TC flag set
/// and the sections cut as [`shrink_to_question`] does, so that the client retries over
/// TCP. Returns `false` and leaves `response` as it is when it is truncated already or is
/// not a well-formed message of one question.
pub(crate) fn truncate_encoded(response: &mut Vec<u8>) -> bool {
    if response.get(2).is_none_or(|flags| flags & TC_FLAG != 0) {
        return false;
    }
    if !shrink_to_question(response) {
        return false;
    }
    response[2] |= TC_FLAG;
    true
}

/// Keeps the header, the question and the OPT record of an encoded response of one
/// question, and sets the answer and authority counts to 0. A response to a query with an
/// OPT record carries one too (RFC 6891 §6.1.1), with its payload size, DO bit and
/// options unchanged. Returns `false` and leaves `response` as it is when it is not a
/// well-formed message of one question.
pub(crate) fn shrink_to_question(response: &mut Vec<u8>) -> bool {
    let Some((question_end, opt)) = question_and_opt(response) else {
        return false;
    };
    let mut end = question_end;
    if let Some(opt) = opt {
        response.copy_within(opt.clone(), question_end);
        end += opt.len();
    }
    response.truncate(end);
    let additional: u16 = if end > question_end { 1 } else { 0 };
    response[6..10].fill(0);
    response[10..12].copy_from_slice(&additional.to_be_bytes());
    true
}

/// Returns where the question of `message` ends and the byte range of its OPT record, or
/// `None` when the message does not have exactly one question or a record runs past its
/// end.
fn question_and_opt(message: &[u8]) -> Option<(usize, Option<Range<usize>>)> {
    let header = message.get(..HEADER_LEN)?;
    let count = |at: usize| usize::from(u16::from_be_bytes([header[at], header[at + 1]]));
    if count(4) != 1 {
        return None;
    }
    let question_end = skip_name(message, HEADER_LEN)? + QUESTION_FIXED_LEN;
    let mut position = question_end;
    if position > message.len() {
        return None;
    }
    let mut opt = None;
    for _ in 0..count(6) + count(8) + count(10) {
        let start = position;
        let fixed = skip_name(message, position)?;
        let fields = message.get(fixed..fixed + RECORD_FIXED_LEN)?;
        let record_type = u16::from_be_bytes([fields[0], fields[1]]);
        let rdata_len = usize::from(u16::from_be_bytes([fields[8], fields[9]]));
        position = fixed + RECORD_FIXED_LEN + rdata_len;
        if position > message.len() {
            return None;
        }
        if record_type == TYPE_OPT {
            opt = Some(start..position);
        }
    }
    Some((question_end, opt))
}

/// Returns the position after the encoded name that starts at `position`. A name ends
/// with the root label or with a compression pointer, which is followed no further.
fn skip_name(message: &[u8], mut position: usize) -> Option<usize> {
    loop {
        let length = *message.get(position)?;
        match length {
            0 => return Some(position + 1),
            1..=63 => position += 1 + usize::from(length),
            0xc0..=0xff => {
                message.get(position + 1)?;
                return Some(position + 2);
            }
            // 64 to 191 are reserved label types.
            _ => return None,
        }
    }
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

#[cfg(test)]
mod tests {
    use hickory_server::proto::op::Message;
    use hickory_server::proto::rr::rdata::opt::EdnsOption;
    use hickory_server::proto::rr::rdata::{A, TXT};
    use hickory_server::proto::rr::{Name, RecordType};

    use super::*;
    use crate::limits::wire::tests::response;

    /// Length of the OPT record at the end of [`response`].
    const SAMPLE_OPT_LEN: usize = 11;
    /// End offset of the question of [`response`]: the header, 22 bytes of name, type and class.
    const SAMPLE_QUESTION_END: usize = 12 + 22 + 4;

    #[test]
    fn shrink_keeps_header_question_and_opt() {
        let mut message = response();
        let question = message[..SAMPLE_QUESTION_END].to_vec();
        let opt = message[message.len() - SAMPLE_OPT_LEN..].to_vec();
        assert!(shrink_to_question(&mut message));
        assert_eq!(message.len(), SAMPLE_QUESTION_END + SAMPLE_OPT_LEN);
        assert_eq!(&message[..6], [0x12, 0x34, 0x84, 0x00, 0, 1]);
        assert_eq!(&message[6..12], [0, 0, 0, 0, 0, 1]);
        assert_eq!(&message[12..SAMPLE_QUESTION_END], &question[12..]);
        assert_eq!(&message[SAMPLE_QUESTION_END..], opt);
    }

    #[test]
    fn shrink_keeps_do_bit_and_payload() {
        let mut message = response();
        let len = message.len();
        // Payload size 1000 and the DO bit, as written for `dig +bufsize=1000 +dnssec`.
        message[len - 8..len - 6].copy_from_slice(&1000u16.to_be_bytes());
        message[len - 4] = 0x80;
        let opt = message[len - SAMPLE_OPT_LEN..].to_vec();
        assert!(shrink_to_question(&mut message));
        let end = SAMPLE_QUESTION_END;
        assert_eq!(&message[end..], opt);
        assert_eq!(&message[end + 3..end + 5], 1000u16.to_be_bytes());
        assert_eq!(message[end + 7], 0x80);
    }

    #[test]
    fn shrink_without_opt_keeps_question_only() {
        let mut message = response();
        message.truncate(message.len() - SAMPLE_OPT_LEN);
        message[11] = 0;
        assert!(shrink_to_question(&mut message));
        assert_eq!(message.len(), SAMPLE_QUESTION_END);
        assert_eq!(&message[..6], [0x12, 0x34, 0x84, 0x00, 0, 1]);
        assert_eq!(&message[6..12], [0; 6]);
    }

    #[test]
    fn malformed_messages_stay_unchanged() {
        let message = response();
        let mut cases = vec![message[..11].to_vec(), message[..20].to_vec()];
        // The OPT record cut short.
        cases.push(message[..message.len() - 1].to_vec());
        // Two questions.
        let mut two_questions = message.clone();
        two_questions[5] = 2;
        cases.push(two_questions);
        // A reserved label type (0x40) in the question name.
        let mut reserved_label = message.clone();
        reserved_label[12] = 0x40;
        cases.push(reserved_label);
        // One more additional record than the message holds.
        let mut extra_count = message;
        extra_count[11] = 2;
        cases.push(extra_count);
        for case in cases {
            let mut rewritten = case.clone();
            assert!(!shrink_to_question(&mut rewritten), "{case:?}");
            assert_eq!(rewritten, case);
            assert!(!truncate_encoded(&mut rewritten), "{case:?}");
            assert_eq!(rewritten, case);
        }
    }

    #[test]
    fn truncate_sets_tc_once() {
        let mut message = response();
        assert!(truncate_encoded(&mut message));
        assert_eq!(message[2], 0x84 | TC_FLAG);
        assert_eq!(message.len(), SAMPLE_QUESTION_END + SAMPLE_OPT_LEN);
        let truncated = message.clone();
        assert!(!truncate_encoded(&mut message));
        assert_eq!(message, truncated);
    }

    /// A response as hickory encodes it, with compressed record names, two TXT records
    /// and an OPT record with an option: the truncated form parses to the same header and
    /// question, no records and the same EDNS.
    #[test]
    fn truncate_encoded_by_hickory() {
        let name = Name::from_ascii("2.0.0.127.bl.example.").unwrap();
        let mut message = Message::query();
        message.metadata.id = 0x4321;
        message.metadata.authoritative = true;
        message.add_query(Query::query(name.clone(), RecordType::TXT));
        for text in ["first", "second"] {
            let rdata = RData::TXT(TXT::new(vec![text.repeat(40)]));
            message.add_answer(Record::from_rdata(name.clone(), 60, rdata));
        }
        message.add_additional(Record::from_rdata(
            name.clone(),
            60,
            RData::A(A::new(127, 0, 0, 2)),
        ));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.options_mut()
            .insert(EdnsOption::Unknown(65001, vec![7; 5]));
        message.set_edns(edns.clone());
        let mut encoded = message.to_vec().unwrap();

        assert!(truncate_encoded(&mut encoded));
        let truncated = Message::from_vec(&encoded).unwrap();
        assert!(truncated.metadata.truncation);
        assert!(truncated.metadata.authoritative);
        assert_eq!(truncated.metadata.id, 0x4321);
        assert_eq!(truncated.queries, message.queries);
        assert!(truncated.answers.is_empty());
        assert!(truncated.authorities.is_empty());
        assert!(truncated.additionals.is_empty());
        let kept_edns = truncated.edns.expect("the OPT record is kept");
        assert_eq!(kept_edns.max_payload(), 1232);
        assert_eq!(kept_edns.options(), edns.options());
    }
}
