//! Reading the plain queries the wire path answers: one question (RFC 1035 §4.1.1-§4.1.2)
//! and at most an OPT record without options (RFC 6891 §6.1.2).
//!
//! Anything else is left to the full parser by returning `None`: compression pointers in
//! the question, other opcodes, responses, answer or authority records, EDNS versions
//! above 0, EDNS flags other than DO, EDNS options, trailing bytes.

/// Size of the DNS header.
pub(super) const HEADER_LEN: usize = 12;
/// Longest name on the wire, with its length octets and the root label (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;
/// Most labels a name of 255 octets can hold.
pub(super) const MAX_LABELS: usize = 127;
/// Record type of OPT (RFC 6891 §6.1.2).
const TYPE_OPT: u16 = 41;
/// The DO bit in the OPT flags (RFC 3225 §3).
const FLAG_DO: u16 = 0x8000;

/// The parts of a plain query the response needs.
pub(crate) struct Query {
    /// Label starts (offsets of the length octet) in the packet, leftmost first.
    pub label_offsets: [u16; MAX_LABELS],
    pub label_count: usize,
    /// The question as it appears on the wire: name, type and class.
    pub question_end: usize,
    pub qtype: u16,
    pub qclass: u16,
    /// The requested UDP payload size and the DO bit, when the query has an OPT record.
    pub edns: Option<(u16, bool)>,
}

impl Query {
    /// The label at `index` (0 is the leftmost) without its length octet.
    pub fn label<'p>(&self, packet: &'p [u8], index: usize) -> &'p [u8] {
        let offset = usize::from(self.label_offsets[index]);
        let len = usize::from(packet[offset]);
        &packet[offset + 1..offset + 1 + len]
    }

    /// Returns the leftmost `count` labels (at most [`Query::label_count`]) of the question
    /// in `packet`, which must be the packet this query was parsed from.
    pub fn labels<'p>(&self, packet: &'p [u8], count: usize) -> Labels<'p> {
        debug_assert!(count <= self.label_count);
        Labels {
            rest: &packet[HEADER_LEN..],
            remaining: count,
        }
    }
}

/// Labels of a question name without their length octets, leftmost first. It walks the
/// name from one length octet to the next, which takes fewer instructions per label than
/// looking up each label's offset.
pub(crate) struct Labels<'p> {
    /// The name from the next label on.
    rest: &'p [u8],
    /// Labels left to return.
    remaining: usize,
}

impl<'p> Iterator for Labels<'p> {
    type Item = &'p [u8];

    fn next(&mut self) -> Option<&'p [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let (&len, after_len) = self.rest.split_first()?;
        let (label, rest) = after_len.split_at_checked(usize::from(len))?;
        self.rest = rest;
        self.remaining -= 1;
        Some(label)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Labels<'_> {}

fn u16_at(packet: &[u8], offset: usize) -> Option<u16> {
    let bytes = packet.get(offset..offset + 2)?;
    Some(u16::from_be_bytes([bytes[0], bytes[1]]))
}

/// Parses `packet` as a plain query, or returns `None` for anything the wire path leaves
/// to the full parser.
pub(crate) fn parse(packet: &[u8]) -> Option<Query> {
    if packet.len() < HEADER_LEN {
        return None;
    }
    // QR must be 0 (a query) and the opcode 0 (QUERY); AA, TC and RD are ignored here.
    if packet[2] & 0xf8 != 0 {
        return None;
    }
    let counts = [
        u16_at(packet, 4)?,
        u16_at(packet, 6)?,
        u16_at(packet, 8)?,
        u16_at(packet, 10)?,
    ];
    if counts[0] != 1 || counts[1] != 0 || counts[2] != 0 || counts[3] > 1 {
        return None;
    }
    let mut query = Query {
        label_offsets: [0; MAX_LABELS],
        label_count: 0,
        question_end: 0,
        qtype: 0,
        qclass: 0,
        edns: None,
    };
    let mut offset = HEADER_LEN;
    loop {
        let len = usize::from(*packet.get(offset)?);
        if len == 0 {
            offset += 1;
            break;
        }
        if len > MAX_LABEL_LEN || query.label_count == MAX_LABELS {
            return None;
        }
        query.label_offsets[query.label_count] = u16::try_from(offset).ok()?;
        query.label_count += 1;
        offset += 1 + len;
        if offset - HEADER_LEN >= MAX_NAME_LEN {
            return None;
        }
    }
    query.qtype = u16_at(packet, offset)?;
    query.qclass = u16_at(packet, offset + 2)?;
    offset += 4;
    query.question_end = offset;
    if counts[3] == 1 {
        // Root owner, type OPT, payload size as class, extended RCODE, version, flags,
        // and an empty RDATA.
        if packet.get(offset) != Some(&0) || u16_at(packet, offset + 1)? != TYPE_OPT {
            return None;
        }
        let payload = u16_at(packet, offset + 3)?;
        let (extended_rcode, version) = (*packet.get(offset + 5)?, *packet.get(offset + 6)?);
        let flags = u16_at(packet, offset + 7)?;
        let rdata_len = u16_at(packet, offset + 9)?;
        if extended_rcode != 0 || version != 0 || flags & !FLAG_DO != 0 || rdata_len != 0 {
            return None;
        }
        query.edns = Some((payload, flags & FLAG_DO != 0));
        offset += 11;
    }
    (offset == packet.len()).then_some(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a query for `name` (labels separated by dots, no trailing dot), type A, class IN.
    fn packet(name: &str) -> Vec<u8> {
        let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            packet.push(label.len() as u8);
            packet.extend_from_slice(label.as_bytes());
        }
        packet.extend_from_slice(&[0, 0, 1, 0, 1]);
        packet
    }

    fn labels(packet: &[u8], count: usize) -> Vec<&[u8]> {
        let query = parse(packet).unwrap();
        let labels = query.labels(packet, count);
        assert_eq!(labels.len(), count);
        labels.collect()
    }

    #[test]
    fn labels_walk_the_name() {
        let packet = packet("002.2.0.192.bl.example");
        let expected: [&[u8]; 6] = [b"002", b"2", b"0", b"192", b"bl", b"example"];
        assert_eq!(labels(&packet, 4), expected[..4]);
        assert_eq!(labels(&packet, 6), expected);
        assert!(labels(&packet, 0).is_empty());
    }

    #[test]
    fn labels_of_long_labels() {
        let long = "a".repeat(MAX_LABEL_LEN);
        let packet = packet(&format!("{long}.b.{long}"));
        let expected: [&[u8]; 3] = [long.as_bytes(), b"b", long.as_bytes()];
        assert_eq!(labels(&packet, 3), expected);
    }
}
