//! The complete record set of a zone, as a zone transfer sends it and a master file
//! writes it: SOA, NS, then the listing records in address or domain order.
//!
//! A listed owner has one A record per distinct category code and one TXT record per
//! distinct rendered text, as the live server answers. The TXT `{query}` placeholder is
//! rendered with the address or domain for an exact owner. A wildcard answers for many
//! names and cannot name the one asked about, so `{query}` is rendered as the covered
//! prefix (`192.0.2.0/24`, `2001:db8::/32`, both joined by ` or ` for the labels 0 to 9
//! that IPv4 and IPv6 share) or as `*.example.com` for a domain wildcard.

use std::net::{Ipv4Addr, Ipv6Addr};

use dnsbl_core::answer::{answer_codes, answer_texts};
use dnsbl_core::snapshot::Zone;
use dnsbl_core::{ListingId, Snapshot, ZoneKind};
use hickory_proto::rr::rdata::{A, HINFO, TXT};
use hickory_proto::rr::{Name, RData, Record};

use crate::address::{AddressEntry, HEX_BASE, address_tree, label_text};
use crate::combined::zone_domain_entries;
use crate::domain::DomainEntry;

/// CPU text of the HINFO record of an empty node under a wildcard: an address prefix
/// without listings, or an allow-listed domain below a listed one.
pub const EMPTY_NODE_HINFO: &str = "not-listed";

/// Errors from building the records of a zone.
#[derive(Debug, thiserror::Error)]
#[error("invalid owner name {name:?} in zone {zone:?}: {reason}")]
pub struct RecordError {
    pub zone: String,
    pub name: String,
    pub reason: String,
}

/// Builds every record of `zone`: the SOA first, the NS set, then the listings. A zone
/// transfer appends the SOA again at the end (RFC 5936 §2.2).
pub fn zone_records(snapshot: &Snapshot, zone: &Zone) -> Result<Vec<Record>, RecordError> {
    let zone = &*crate::combined::flatten(snapshot, zone);
    let mut records = vec![zone.records.soa.clone()];
    records.extend(zone.records.ns.iter().cloned());
    let apex = &zone.records.apex;
    match zone.spec.kind {
        ZoneKind::Address => {
            let tree = address_tree(zone);
            for entry in &tree.entries {
                let owner = address_owner(entry, apex).map_err(|reason| RecordError {
                    zone: zone.spec.name.clone(),
                    name: format!("{entry:?}"),
                    reason,
                })?;
                if entry.blocker {
                    records.push(Record::from_rdata(owner, zone.spec.ttl, empty_node_hinfo()));
                    continue;
                }
                let query = address_query(entry);
                let ids = &tree.groups[entry.group as usize];
                push_listed(&mut records, snapshot, zone, &owner, ids, &query);
            }
        }
        ZoneKind::Domain => {
            for entry in zone_domain_entries(snapshot, zone) {
                let (relative, listed) = match &entry {
                    DomainEntry::Listed {
                        domain,
                        wildcard,
                        listings,
                    } => {
                        let relative = if *wildcard {
                            format!("*.{domain}")
                        } else {
                            domain.clone()
                        };
                        (relative, Some(listings))
                    }
                    DomainEntry::Excluded { domain } => (domain.clone(), None),
                };
                let owner = Name::from_ascii(&relative)
                    .and_then(|name| name.append_domain(apex))
                    .map_err(|error| RecordError {
                        zone: zone.spec.name.clone(),
                        name: relative.clone(),
                        reason: error.to_string(),
                    })?;
                match listed {
                    Some(ids) => push_listed(&mut records, snapshot, zone, &owner, ids, &relative),
                    None => {
                        records.push(Record::from_rdata(owner, zone.spec.ttl, empty_node_hinfo()))
                    }
                }
            }
        }
    }
    Ok(records)
}

fn empty_node_hinfo() -> RData {
    RData::HINFO(HINFO::new(EMPTY_NODE_HINFO.to_string(), String::new()))
}

/// Appends the A and TXT records of one listed owner.
fn push_listed(
    records: &mut Vec<Record>,
    snapshot: &Snapshot,
    zone: &Zone,
    owner: &Name,
    ids: &[ListingId],
    query: &str,
) {
    let ttl = zone.spec.ttl;
    for code in answer_codes(snapshot, &zone.spec, ids) {
        records.push(Record::from_rdata(owner.clone(), ttl, RData::A(A(code))));
    }
    for text in answer_texts(snapshot, &zone.spec, ids, query) {
        records.push(Record::from_rdata(
            owner.clone(),
            ttl,
            RData::TXT(TXT::from_bytes(split_character_strings(&text))),
        ));
    }
}

/// The owner name of an address entry below `apex`.
fn address_owner(entry: &AddressEntry, apex: &Name) -> Result<Name, String> {
    let mut text = String::new();
    if entry.wildcard {
        text.push('*');
    }
    for &label in entry.path.iter().rev() {
        if !text.is_empty() {
            text.push('.');
        }
        text.push_str(&label_text(label));
    }
    if text.is_empty() {
        return Ok(apex.clone());
    }
    Name::from_ascii(&text)
        .and_then(|name| name.append_domain(apex))
        .map_err(|error| error.to_string())
}

/// The `{query}` text of an address entry: the address of an exact owner, the covered
/// prefixes of a wildcard.
pub fn address_query(entry: &AddressEntry) -> String {
    let path = &entry.path;
    if !entry.wildcard {
        if path.len() == 4 {
            let octets: Vec<u8> = path.iter().map(|&label| label as u8).collect();
            return Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]).to_string();
        }
        let addr = Ipv6Addr::from(nibble_value(path));
        // The live server writes an IPv4-mapped address in its IPv4 form.
        return match addr.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => addr.to_string(),
        };
    }
    let mut prefixes = Vec::new();
    if entry.v4 && path.len() < 4 && path.iter().all(|&label| label < HEX_BASE) {
        let mut octets = [0u8; 4];
        for (index, &label) in path.iter().enumerate() {
            octets[index] = label as u8;
        }
        prefixes.push(format!("{}/{}", Ipv4Addr::from(octets), 8 * path.len()));
    }
    let is_nibble = |label: &u16| *label < 10 || *label >= HEX_BASE + 10;
    if entry.v6 && path.iter().all(is_nibble) {
        let network = Ipv6Addr::from(nibble_value(path));
        let length = 4 * path.len();
        // A prefix inside ::ffff:0:0/96 is written as the IPv4 prefix it maps.
        match network.to_ipv4_mapped() {
            Some(v4) if length >= 96 => prefixes.push(format!("{v4}/{}", length - 96)),
            _ => prefixes.push(format!("{network}/{length}")),
        }
    }
    prefixes.join(" or ")
}

/// The IPv6 address whose leading nibbles are `path`, the rest zero.
fn nibble_value(path: &[u16]) -> u128 {
    let mut value = 0u128;
    for (index, &label) in path.iter().enumerate() {
        let nibble = if label >= HEX_BASE {
            label - HEX_BASE
        } else {
            label
        };
        value |= u128::from(nibble) << (124 - 4 * index as u32);
    }
    value
}

/// Maximum length of one DNS character-string in bytes (RFC 1035 §3.3).
const MAX_CHARACTER_STRING: usize = 255;

/// Splits a text into character-strings of at most 255 bytes, never inside a UTF-8
/// character, the way the live server splits its TXT records.
fn split_character_strings(text: &str) -> Vec<&[u8]> {
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
