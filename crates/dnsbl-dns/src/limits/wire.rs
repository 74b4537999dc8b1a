//! Applying a [`Verdict`] to a response in wire form, for the UDP wire path.

use std::net::IpAddr;
use std::time::Instant;

use dnsbl_core::Snapshot;

use super::{ClientLimits, ResponseKind, Transport, Verdict, name_hash};

/// Header length in bytes (RFC 1035 §4.1.1).
const HEADER_LEN: usize = 12;
/// Type and class after the question name.
const QUESTION_FIXED_LEN: usize = 4;
/// TC bit in the third header byte.
const TC: u8 = 0x02;
/// AA bit in the third header byte.
const AA: u8 = 0x04;
/// rcode REFUSED.
const REFUSED: u8 = 5;
/// Length of the OPT record the wire path writes: root owner, type, payload size, extended
/// rcode, version, flags and an empty RDATA (RFC 6891 §6.1.2).
const OPT_LEN: usize = 11;
/// Record type OPT.
const TYPE_OPT: [u8; 2] = [0, 41];

/// Decides on a wire-path response to `client` and rewrites `response` for
/// [`Verdict::Slip`] and [`Verdict::Refuse`]. Returns whether to send it.
///
/// `response` must be laid out as the wire path writes it: a header, one question without
/// compression pointers, and the OPT record last if it has one. A response too short for
/// that is sent unchanged.
pub(crate) fn apply(
    limits: &ClientLimits,
    snapshot: &Snapshot,
    client: IpAddr,
    zone: Option<usize>,
    qtype: u16,
    response: &mut Vec<u8>,
) -> bool {
    let zone = zone.and_then(|index| Some((index, &snapshot.zones.get(index)?.spec.acl)));
    if !limits.may_limit(zone.map(|(_, acl)| acl)) {
        return true;
    }
    let Some(question_end) = question_end(response) else {
        return true;
    };
    let name = name_hash(labels(&response[HEADER_LEN..question_end]));
    let rcode = u16::from(response[3] & 0x0f);
    let answers = u16::from_be_bytes([response[6], response[7]]);
    let kind = ResponseKind::classify(rcode, answers, name, qtype);
    match limits.decide(client, zone, kind, Transport::Udp, Instant::now()) {
        Verdict::Answer => true,
        Verdict::Drop => false,
        Verdict::Slip => {
            shrink_to_question(response, question_end);
            response[2] |= TC;
            true
        }
        Verdict::Refuse => {
            shrink_to_question(response, question_end);
            response[2] &= !AA;
            response[3] = (response[3] & 0xf0) | REFUSED;
            true
        }
    }
}

/// Returns the offset after the first question, or `None` when the message has no
/// complete uncompressed question.
fn question_end(message: &[u8]) -> Option<usize> {
    if message.len() < HEADER_LEN || message[4..6] == [0, 0] {
        return None;
    }
    let mut offset = HEADER_LEN;
    loop {
        let len = usize::from(*message.get(offset)?);
        if len == 0 {
            offset += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        offset += 1 + len;
    }
    let end = offset + QUESTION_FIXED_LEN;
    (end <= message.len()).then_some(end)
}

/// Iterates over the labels of an uncompressed name in wire form, as checked by
/// [`question_end`].
fn labels(mut name: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let len = usize::from(*name.first()?);
        if len == 0 || name.len() < 1 + len {
            return None;
        }
        let label = &name[1..1 + len];
        name = &name[1 + len..];
        Some(label)
    })
}

/// Keeps the header, the question and the OPT record, and sets the answer and authority
/// counts to 0. A response to a query with an OPT record carries one too (RFC 6891
/// §6.1.1), with the payload size and DO bit the wire path wrote into it, as the record
/// path keeps it in its slipped and refused responses.
fn shrink_to_question(response: &mut Vec<u8>, question_end: usize) {
    match trailing_opt(response, question_end) {
        Some(opt_start) => {
            response.copy_within(opt_start.., question_end);
            response.truncate(question_end + OPT_LEN);
            response[6..10].fill(0);
            response[10..12].copy_from_slice(&1u16.to_be_bytes());
        }
        None => {
            response.truncate(question_end);
            response[6..12].fill(0);
        }
    }
}

/// Returns the offset of the OPT record that ends `response`, or `None` when it has none.
/// The wire path writes the OPT record last and as the only additional record, so a
/// response with one has an additional count of 1 and ends with a root-owned record of
/// type OPT with an empty RDATA.
fn trailing_opt(response: &[u8], question_end: usize) -> Option<usize> {
    if response.get(10..12)? != [0, 1] {
        return None;
    }
    let start = response.len().checked_sub(OPT_LEN)?;
    if start < question_end {
        return None;
    }
    let opt = &response[start..];
    let is_opt = opt[0] == 0 && opt[1..3] == TYPE_OPT && opt[9..11] == [0, 0];
    is_opt.then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response to `2.0.0.127.bl.example` A with one answer, AA set.
    fn response() -> Vec<u8> {
        let mut message = vec![0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 1];
        for label in ["2", "0", "0", "127", "bl", "example"] {
            message.push(label.len() as u8);
            message.extend_from_slice(label.as_bytes());
        }
        message.extend_from_slice(&[0, 0, 1, 0, 1]);
        // The answer and OPT records; their content does not matter here.
        message.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 2]);
        message.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
        message
    }

    #[test]
    fn question_end_of_messages() {
        let message = response();
        assert_eq!(question_end(&message), Some(12 + 22 + 4));
        assert_eq!(question_end(&message[..20]), None);
        assert_eq!(question_end(&message[..11]), None);
        let mut no_question = message.clone();
        no_question[5] = 0;
        assert_eq!(question_end(&no_question), None);
        let mut pointer = message;
        pointer[12] = 0xc0;
        assert_eq!(question_end(&pointer), None);
    }

    #[test]
    fn labels_hash_like_record_names() {
        let message = response();
        let end = question_end(&message).unwrap();
        let from_wire = name_hash(labels(&message[HEADER_LEN..end]));
        let from_text = name_hash("2.0.0.127.BL.example".split('.').map(str::as_bytes));
        assert_eq!(from_wire, from_text);
    }

    #[test]
    fn shrink_keeps_header_question_and_opt() {
        let mut message = response();
        let question = message[..question_end(&message).unwrap()].to_vec();
        let opt = message[message.len() - OPT_LEN..].to_vec();
        let end = question.len();
        shrink_to_question(&mut message, end);
        assert_eq!(message.len(), end + OPT_LEN);
        assert_eq!(&message[..6], [0x12, 0x34, 0x84, 0x00, 0, 1]);
        assert_eq!(&message[6..12], [0, 0, 0, 0, 0, 1]);
        assert_eq!(&message[12..end], &question[12..]);
        assert_eq!(&message[end..], opt);
    }

    #[test]
    fn shrink_keeps_do_bit_and_payload() {
        let mut message = response();
        let len = message.len();
        // Payload size 1000 and the DO bit, as written for `dig +bufsize=1000 +dnssec`.
        message[len - 8..len - 6].copy_from_slice(&1000u16.to_be_bytes());
        message[len - 4] = 0x80;
        let opt = message[len - OPT_LEN..].to_vec();
        let end = question_end(&message).unwrap();
        shrink_to_question(&mut message, end);
        assert_eq!(&message[end..], opt);
        assert_eq!(&message[end + 3..end + 5], 1000u16.to_be_bytes());
        assert_eq!(message[end + 7], 0x80);
    }

    #[test]
    fn shrink_without_opt_keeps_question_only() {
        let mut message = response();
        message.truncate(message.len() - OPT_LEN);
        message[11] = 0;
        let end = question_end(&message).unwrap();
        shrink_to_question(&mut message, end);
        assert_eq!(message.len(), end);
        assert_eq!(&message[..6], [0x12, 0x34, 0x84, 0x00, 0, 1]);
        assert_eq!(&message[6..12], [0; 6]);
    }

    #[test]
    fn trailing_opt_needs_additional_count() {
        let message = response();
        let end = question_end(&message).unwrap();
        assert_eq!(trailing_opt(&message, end), Some(message.len() - OPT_LEN));
        let mut no_count = message.clone();
        no_count[11] = 0;
        assert_eq!(trailing_opt(&no_count, end), None);
        let mut other_type = message.clone();
        let len = other_type.len();
        other_type[len - 9] = 1;
        assert_eq!(trailing_opt(&other_type, end), None);
        assert_eq!(trailing_opt(&message[..end + 5], end), None);
    }
}
