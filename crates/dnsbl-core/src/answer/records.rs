//! The fixed records of a zone (SOA, NS) and the A and TXT records of a listing.
//!
//! Negative answers carry the SOA with the TTL RFC 2308 §3 asks for: the minimum of the SOA
//! record's own TTL and its MINIMUM field.

use hickory_proto::ProtoError;
use hickory_proto::rr::rdata::{A, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record};

use crate::model::ZoneSpec;

/// Errors in a zone's apex, SOA or NS names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} {value:?} in zone {zone:?}: {reason}")]
pub struct ZoneNameError {
    pub zone: String,
    /// The setting that contains the name: `apex`, `mname`, `rname` or `ns`.
    pub field: &'static str,
    pub value: String,
    pub reason: String,
}

/// Records of a zone that do not depend on the question, built once per snapshot.
#[derive(Clone, Debug)]
pub struct ZoneRecords {
    /// The apex as a DNS name, the owner of the SOA in the authority section.
    pub apex: Name,
    /// The SOA record with the snapshot serial and the SOA TTL, as answered at the apex.
    pub soa: Record,
    /// The same SOA with TTL min(SOA TTL, MINIMUM), for negative answers (RFC 2308 §3).
    pub negative_soa: Record,
    /// The NS set of the apex.
    pub ns: Vec<Record>,
}

impl ZoneRecords {
    /// Builds the SOA and NS records of `spec` with `serial` as the SOA serial.
    pub fn new(spec: &ZoneSpec, serial: u32) -> Result<Self, ZoneNameError> {
        let parse = |field: &'static str, value: &str| {
            parse_fqdn(value).map_err(|error| ZoneNameError {
                zone: spec.name.clone(),
                field,
                value: value.to_string(),
                reason: error.to_string(),
            })
        };
        let apex = parse("apex", &spec.name)?;
        let soa_spec = &spec.soa;
        // SOA timers are unsigned 32-bit values on the wire (RFC 1035 §3.3.13). hickory
        // stores three of them as i32, so the cast keeps the bit pattern.
        let soa = SOA::new(
            parse("mname", &soa_spec.mname)?,
            parse("rname", &soa_spec.rname)?,
            serial,
            soa_spec.refresh as i32,
            soa_spec.retry as i32,
            soa_spec.expire as i32,
            soa_spec.minimum,
        );
        let negative_ttl = soa_spec.ttl.min(soa_spec.minimum);
        let ns = spec
            .ns
            .iter()
            .map(|server| {
                let server = parse("ns", server)?;
                Ok(Record::from_rdata(
                    apex.clone(),
                    spec.ns_ttl,
                    RData::NS(NS(server)),
                ))
            })
            .collect::<Result<Vec<_>, ZoneNameError>>()?;
        Ok(ZoneRecords {
            soa: Record::from_rdata(apex.clone(), soa_spec.ttl, RData::SOA(soa.clone())),
            negative_soa: Record::from_rdata(apex.clone(), negative_ttl, RData::SOA(soa)),
            ns,
            apex,
        })
    }
}

/// Parses a name written without escapes or with zone-file escapes, and makes it absolute.
fn parse_fqdn(text: &str) -> Result<Name, ProtoError> {
    let mut name = Name::from_ascii(text)?;
    name.set_fqdn(true);
    Ok(name)
}

/// Copies `record` with `owner` as its name, for answers at the apex.
pub(super) fn with_owner(record: &Record, owner: &Name) -> Record {
    let mut record = record.clone();
    record.name = owner.clone();
    record
}

pub(super) fn a_record(owner: &Name, ttl: u32, code: std::net::Ipv4Addr) -> Record {
    Record::from_rdata(owner.clone(), ttl, RData::A(A(code)))
}

/// Builds a TXT record whose text is split into character-strings of at most 255 bytes
/// (RFC 1035 §3.3), never inside a UTF-8 character.
pub(super) fn txt_record(owner: &Name, ttl: u32, text: &str) -> Record {
    Record::from_rdata(
        owner.clone(),
        ttl,
        RData::TXT(TXT::from_bytes(split_character_strings(text))),
    )
}

/// Maximum length of one DNS character-string in bytes.
const MAX_CHARACTER_STRING: usize = 255;

pub(super) fn split_character_strings(text: &str) -> Vec<&[u8]> {
    if text.is_empty() {
        return vec![b""];
    }
    let mut parts = Vec::with_capacity(text.len() / MAX_CHARACTER_STRING + 1);
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(MAX_CHARACTER_STRING);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (part, tail) = rest.split_at(end);
        parts.push(part.as_bytes());
        rest = tail;
    }
    parts
}
