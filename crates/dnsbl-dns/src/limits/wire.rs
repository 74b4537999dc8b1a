//! Applying a [`Verdict`] to a response in wire form, for the UDP wire path.

use std::net::IpAddr;
use std::time::Instant;

use dnsbl_core::Snapshot;

use super::{ClientLimits, ResponseKind, Transport, Verdict, name_hash};
use crate::truncation;

/// Header length in bytes (RFC 1035 §4.1.1).
const HEADER_LEN: usize = 12;
/// Type and class after the question name.
const QUESTION_FIXED_LEN: usize = 4;
/// AA bit in the third header byte.
const AA: u8 = 0x04;
/// rcode REFUSED.
const REFUSED: u8 = 5;

/// Decides on a wire-path response to `client` and rewrites `response` for
/// [`Verdict::Slip`] and [`Verdict::Refuse`]. Returns whether to send it.
///
/// `response` must have one question without compression pointers, as the wire path
/// writes it. A response without one is sent unchanged.
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
            truncation::truncate_encoded(response);
            true
        }
        Verdict::Refuse => {
            truncation::shrink_to_question(response);
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A response to `2.0.0.127.bl.example` A with one answer, AA set.
    pub(crate) fn response() -> Vec<u8> {
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
}
