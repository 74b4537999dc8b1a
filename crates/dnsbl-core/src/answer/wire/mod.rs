//! Answers written straight into a response buffer, for the plain queries that make up
//! nearly all DNSBL traffic: one question of class IN below a zone apex, with or without
//! an OPT record (RFC 1035 §4.1, RFC 6891 §6.1).
//!
//! The decision is the same [`lookup_in`](super::lookup_in) the record path makes; only the
//! rendering differs. Answer owners are compression pointers to the question (RFC 1035
//! §4.1.4), and TXT data of templates without `{query}` is rendered once per listing and
//! kept. Every other request ([`WireOutcome::Fallback`]) goes to the record path, so both
//! paths answer alike; a seeded test in the DNS front end compares them packet by packet.

mod read_ahead;
mod request;

pub(crate) use request::parse as parse_plain_query;

use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

use hickory_proto::rr::{Name, RData};

use super::{Lookup, QueryText, lookup_in, render_txt};
use crate::model::AnswerStyle;
use crate::snapshot::TxtSlots;
use crate::snapshot::{ListingId, Snapshot, Zone};
use request::{HEADER_LEN, Query};

/// The largest UDP payload answered, as in the record path.
const MAX_UDP_PAYLOAD: u16 = 1232;
/// UDP payload without EDNS (RFC 1035 §4.2.1).
const PLAIN_UDP_PAYLOAD: u16 = 512;
const TYPE_A: u16 = 1;
const TYPE_SOA: u16 = 6;
const TYPE_TXT: u16 = 16;
const TYPE_OPT: u16 = 41;
const TYPE_IXFR: u16 = 251;
const TYPE_AXFR: u16 = 252;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
/// A compression pointer to the question name, which starts right after the header.
const QUESTION_POINTER: [u8; 2] = [0xc0, HEADER_LEN as u8];
/// Two query texts: a template that renders the same for both does not use `{query}`.
const PROBE_QUERIES: [&str; 2] = ["192.0.2.1", "2001:db8::1"];

const RCODE_NOERROR: u8 = 0;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_REFUSED: u8 = 5;

/// What [`WireAnswerer::answer`] did with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireOutcome {
    /// The response is in the output buffer.
    Answered,
    /// The request needs the record path: it is not a plain query, or the response
    /// would need truncation or data the wire path does not write (apex records).
    Fallback,
}

/// Buffers reused from one query to the next, so that answering allocates nothing
/// beyond TXT texts that contain the query.
#[derive(Default)]
pub struct WireScratch {
    codes: Vec<Ipv4Addr>,
    /// Byte ranges of the TXT RDATA already written, to drop duplicate texts.
    texts: Vec<(usize, usize)>,
    /// Query type and zone index of the last answered query, for counters.
    qtype: u16,
    zone: Option<usize>,
}

impl WireScratch {
    /// Returns the query type and the zone index (in the answerer's snapshot) of the last
    /// query that [`WireAnswerer::answer`] answered. The zone is `None` when no zone
    /// contains the name.
    pub fn last_query(&self) -> (u16, Option<usize>) {
        (self.qtype, self.zone)
    }
}

/// The per-zone bytes of negative answers.
struct ZoneWire {
    /// The apex in wire form, as written in the SOA owner when the question's letter case
    /// differs from it.
    apex: Vec<u8>,
    /// The apex's labels in lower case, in wire form, for matching questions.
    suffix: Vec<u8>,
    /// Number of labels in the apex.
    label_count: usize,
    negative_ttl: u32,
    soa_rdata: Vec<u8>,
}

/// A snapshot with the wire forms derived from it.
pub struct WireAnswerer {
    snapshot: Arc<Snapshot>,
    zones: Vec<ZoneWire>,
    /// TXT RDATA per listing, rendered on first use; `None` when the text contains the
    /// query. Shared through the snapshot by every answerer of it.
    txt: TxtSlots,
    /// The category code of each listing, read without touching the listing table.
    codes: Box<[Ipv4Addr]>,
}

impl WireAnswerer {
    /// Prepares the wire forms of `snapshot`. The cost is one small allocation per zone
    /// and one code per listing, and for the first answerer of a snapshot one empty slot
    /// per listing, so a new snapshot is ready at once.
    pub fn new(snapshot: Arc<Snapshot>) -> Self {
        let zones = snapshot.zones.iter().map(zone_wire).collect();
        let txt = snapshot
            .wire_txt
            .get_or_init(|| {
                (0..snapshot.listings.len())
                    .map(|_| OnceLock::new())
                    .collect()
            })
            .clone();
        let codes = (0..snapshot.listings.len())
            .map(|id| snapshot.categories[snapshot.listings.category(id as ListingId)].code)
            .collect();
        WireAnswerer {
            snapshot,
            zones,
            txt,
            codes,
        }
    }

    /// The snapshot this answerer reads.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// Writes the response to `packet` into `out` (cleared first), or returns
    /// [`WireOutcome::Fallback`] with `out` in an unspecified state.
    pub fn answer(
        &self,
        packet: &[u8],
        scratch: &mut WireScratch,
        out: &mut Vec<u8>,
    ) -> WireOutcome {
        out.clear();
        let Some(query) = request::parse(packet) else {
            return WireOutcome::Fallback;
        };
        if query.qclass != CLASS_IN || matches!(query.qtype, TYPE_AXFR | TYPE_IXFR) {
            return WireOutcome::Fallback;
        }
        scratch.qtype = query.qtype;
        scratch.zone = None;
        let limit = query.edns.map_or(PLAIN_UDP_PAYLOAD, |(payload, _)| {
            payload.clamp(PLAIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD)
        });
        out.extend_from_slice(&packet[..query.question_end]);
        let Some((index, zone)) = self.find_zone(packet, &query) else {
            finish(out, packet, &query, RCODE_REFUSED, false, [0, 0]);
            return fits(out, 0, limit);
        };
        scratch.zone = Some(index);
        let below = query.label_count - zone.label_count();
        // The apex, combined zones, the multi style and lookup URLs are answered by the
        // record path, which implements them; this path covers the plain zen-style lookup.
        let plain_zone = zone.includes.is_empty()
            && zone.spec.style == AnswerStyle::Zen
            && zone.spec.lookup_url.is_none();
        if below == 0 || !plain_zone {
            return WireOutcome::Fallback;
        }
        let labels = query.labels(packet, below);
        let decided = match lookup_in(zone, labels) {
            Lookup::Listed {
                listings,
                query: text,
            } => {
                let ttl = zone.spec.ttl;
                let mut answers = 0;
                if matches!(query.qtype, TYPE_A | TYPE_ANY) {
                    answers += self.write_a(out, scratch, &listings, ttl);
                }
                if matches!(query.qtype, TYPE_TXT | TYPE_ANY) {
                    answers += self.write_txt(out, scratch, &listings, ttl, &text);
                }
                if answers == 0 {
                    let saved = self.write_soa(out, packet, &query, index, below);
                    (RCODE_NOERROR, [0, 1], saved)
                } else {
                    let name_len = query.question_end - 4 - HEADER_LEN;
                    let saved = usize::from(answers) * (name_len - QUESTION_POINTER.len());
                    (RCODE_NOERROR, [answers, 0], saved)
                }
            }
            Lookup::EmptyNonTerminal => {
                let saved = self.write_soa(out, packet, &query, index, below);
                (RCODE_NOERROR, [0, 1], saved)
            }
            Lookup::NotFound => {
                let saved = self.write_soa(out, packet, &query, index, below);
                (RCODE_NXDOMAIN, [0, 1], saved)
            }
        };
        let (rcode, counts, saved) = decided;
        finish(out, packet, &query, rcode, true, counts);
        fits(out, saved, limit)
    }

    /// The zone with the longest apex that is a suffix of the question, compared
    /// without regard to ASCII case.
    ///
    /// The names are compared in wire form, from the question's label where the apex
    /// would start to its root label. Length octets are below 64, so they never differ by
    /// case alone, and two such byte strings are equal exactly when their labels are.
    fn find_zone(&self, packet: &[u8], query: &Query) -> Option<(usize, &Zone)> {
        let name_end = query.question_end - 4;
        let index = self.zones.iter().position(|wire| {
            let Some(first) = query.label_count.checked_sub(wire.label_count) else {
                return false;
            };
            // A zone at the root has no label to start from: only the root label is left.
            let start = match query.label_offsets.get(first) {
                Some(&offset) if first < query.label_count => usize::from(offset),
                _ => name_end - 1,
            };
            let name = &packet[start..name_end];
            // Most questions are in lower case already; the plain comparison is cheaper.
            name == wire.suffix.as_slice() || name.eq_ignore_ascii_case(&wire.suffix)
        })?;
        Some((index, &self.snapshot.zones[index]))
    }

    /// One A record per distinct category code, in ascending order.
    fn write_a(
        &self,
        out: &mut Vec<u8>,
        scratch: &mut WireScratch,
        listings: &[ListingId],
        ttl: u32,
    ) -> u16 {
        scratch.codes.clear();
        scratch
            .codes
            .extend(listings.iter().map(|&id| self.codes[id as usize]));
        if scratch.codes.len() > 1 {
            scratch.codes.sort_unstable();
            scratch.codes.dedup();
        }
        for code in &scratch.codes {
            record_head(out, &QUESTION_POINTER, TYPE_A, ttl);
            out.extend_from_slice(&4u16.to_be_bytes());
            out.extend_from_slice(&code.octets());
        }
        scratch.codes.len() as u16
    }

    /// One TXT record per distinct text, in listing order.
    fn write_txt(
        &self,
        out: &mut Vec<u8>,
        scratch: &mut WireScratch,
        listings: &[ListingId],
        ttl: u32,
        query: &QueryText,
    ) -> u16 {
        scratch.texts.clear();
        for &id in listings {
            let record_start = out.len();
            record_head(out, &QUESTION_POINTER, TYPE_TXT, ttl);
            let length_at = out.len();
            out.extend_from_slice(&[0, 0]);
            let rdata_start = out.len();
            match self.txt[id as usize].get_or_init(|| self.static_txt(id)) {
                Some(rdata) => out.extend_from_slice(rdata),
                None => {
                    let listing = self.snapshot.listings.listing(id);
                    let category = &self.snapshot.categories[listing.category];
                    let query = query.to_string();
                    let text = render_txt(&category.txt, &query, listing, category, "");
                    push_character_strings(out, &text);
                }
            }
            let rdata_end = out.len();
            let duplicate = scratch
                .texts
                .iter()
                .any(|&(start, end)| out[start..end] == out[rdata_start..rdata_end]);
            if duplicate {
                out.truncate(record_start);
                continue;
            }
            let rdata_len = (rdata_end - rdata_start) as u16;
            out[length_at..length_at + 2].copy_from_slice(&rdata_len.to_be_bytes());
            scratch.texts.push((rdata_start, rdata_end));
        }
        scratch.texts.len() as u16
    }

    /// The TXT RDATA of listing `id` when its template does not use the query.
    fn static_txt(&self, id: ListingId) -> Option<Box<[u8]>> {
        let listing = self.snapshot.listings.listing(id);
        let category = &self.snapshot.categories[listing.category];
        let [first, second] =
            PROBE_QUERIES.map(|query| render_txt(&category.txt, query, listing, category, ""));
        if first != second {
            return None;
        }
        let mut rdata = Vec::with_capacity(first.len() + 1);
        push_character_strings(&mut rdata, &first);
        Some(rdata.into_boxed_slice())
    }

    /// The zone's SOA with the negative TTL (RFC 2308 §3), owned by the apex. The owner
    /// points into the question when the letters there are the apex's own. Returns the
    /// bytes the pointer saved.
    fn write_soa(
        &self,
        out: &mut Vec<u8>,
        packet: &[u8],
        query: &Query,
        zone: usize,
        below: usize,
    ) -> usize {
        let wire = &self.zones[zone];
        let apex_offset = usize::from(query.label_offsets[below]);
        let in_question = &packet[apex_offset..apex_offset + wire.apex.len()];
        let pointer = (0xc000 | apex_offset as u16).to_be_bytes();
        let (owner, saved) = if in_question == wire.apex.as_slice() {
            (pointer.as_slice(), wire.apex.len() - pointer.len())
        } else {
            (wire.apex.as_slice(), 0)
        };
        record_head(out, owner, TYPE_SOA, wire.negative_ttl);
        out.extend_from_slice(&(wire.soa_rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&wire.soa_rdata);
        saved
    }
}

/// Whether the response fits `limit` even without the `saved` bytes of name compression.
///
/// hickory's encoder compresses less than the wire path does, so near the limit it may
/// truncate a response the wire path could send whole. A response that fits without
/// compression fits either way; any other goes to the record path, which decides on
/// truncation by its own encoding.
fn fits(out: &[u8], saved: usize, limit: u16) -> WireOutcome {
    if out.len() + saved > usize::from(limit) {
        WireOutcome::Fallback
    } else {
        WireOutcome::Answered
    }
}

/// Owner, type, class IN and TTL of a record; the RDATA length follows.
fn record_head(out: &mut Vec<u8>, owner: &[u8], rtype: u16, ttl: u32) {
    out.extend_from_slice(owner);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
}

/// Sets the header of the response in `out[..12]` and appends the OPT record when the
/// query had one: version 0, the DO bit copied, the payload size clamped to 512..=1232.
fn finish(out: &mut Vec<u8>, packet: &[u8], query: &Query, rcode: u8, aa: bool, counts: [u16; 2]) {
    // QR set; opcode QUERY; AA as decided; TC clear; RD copied. RA and AD clear; CD copied.
    out[2] = 0x80 | if aa { 0x04 } else { 0 } | (packet[2] & 0x01);
    out[3] = (packet[3] & 0x10) | rcode;
    out[6..8].copy_from_slice(&counts[0].to_be_bytes());
    out[8..10].copy_from_slice(&counts[1].to_be_bytes());
    match query.edns {
        Some((payload, dnssec_ok)) => {
            out[10..12].copy_from_slice(&1u16.to_be_bytes());
            let payload = payload.clamp(PLAIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD);
            out.push(0);
            out.extend_from_slice(&TYPE_OPT.to_be_bytes());
            out.extend_from_slice(&payload.to_be_bytes());
            out.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
        }
        None => out[10..12].copy_from_slice(&0u16.to_be_bytes()),
    }
}

/// Appends `text` as character-strings of at most 255 bytes, never split inside a UTF-8
/// character (RFC 1035 §3.3), as the record path splits it.
fn push_character_strings(out: &mut Vec<u8>, text: &str) {
    for part in super::records::split_character_strings(text) {
        out.push(part.len() as u8);
        out.extend_from_slice(part);
    }
}

fn name_wire(name: &Name) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in name.iter() {
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
    }
    wire.push(0);
    wire
}

fn labels_wire(labels: &[String]) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in labels {
        wire.push(label.len() as u8);
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    wire
}

fn zone_wire(zone: &Zone) -> ZoneWire {
    let records = &zone.records;
    let mut soa_rdata = Vec::new();
    if let RData::SOA(soa) = &records.negative_soa.data {
        soa_rdata.extend(name_wire(&soa.mname));
        soa_rdata.extend(name_wire(&soa.rname));
        soa_rdata.extend_from_slice(&soa.serial.to_be_bytes());
        // The three timers hickory keeps as i32 are u32 on the wire (RFC 1035 §3.3.13).
        soa_rdata.extend_from_slice(&(soa.refresh as u32).to_be_bytes());
        soa_rdata.extend_from_slice(&(soa.retry as u32).to_be_bytes());
        soa_rdata.extend_from_slice(&(soa.expire as u32).to_be_bytes());
        soa_rdata.extend_from_slice(&soa.minimum.to_be_bytes());
    }
    ZoneWire {
        apex: name_wire(&records.apex),
        suffix: labels_wire(zone.labels()),
        label_count: zone.label_count(),
        negative_ttl: records.negative_soa.ttl,
        soa_rdata,
    }
}
