//! DNSBL answers as a pure function of a snapshot and a question.
//!
//! Query names follow RFC 5782: reversed IPv4 octets (§2.1), reversed IPv6 nibbles (§2.4)
//! and domains (§2.3), with the test entries of §5 always present. A listed name has one A
//! record per distinct category code (style zen) or one A record whose last octet ORs the
//! codes (style multi), and one TXT record per distinct text. NXDOMAIN and NODATA
//! carry the zone's SOA in the authority section with the negative TTL of RFC 2308 §3.
//! Names above listed names are empty non-terminals (NODATA, never NXDOMAIN), because
//! resolvers that follow RFC 8020 treat NXDOMAIN as "nothing below this name".
//!
//! An address name is exactly 4 decimal labels (IPv4) or exactly 32 hexadecimal labels
//! (IPv6), least significant first. Non-canonical labels are read by value, as rbldnsd
//! reads them: a decimal label may have leading zeros (`002` is 2, at most 3 digits) and a
//! nibble may be upper case (`A` is 10). Every other name below an address zone is
//! NXDOMAIN unless it is a prefix of a listed address. A listed name asked for a type
//! other than A, TXT or ANY is NODATA, and ANY gives the A and TXT records only.
//! IPv4-mapped IPv6 names (::ffff:0:0/96) are answered from the IPv4 data.
//!
//! A combined zone answers the union of the lookups in the zones it includes: listed when
//! any of them lists the name, with all their listings, and an empty non-terminal when any
//! of them has a listed name below it.

mod address;
mod domain;
mod records;
mod txt;
mod wire;

#[cfg(test)]
mod query_text_tests;
#[cfg(test)]
mod style_tests;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

pub use records::{ZoneNameError, ZoneRecords};
pub use txt::{MAX_TEMPLATE_BYTES, PLACEHOLDERS, check_template, placeholders, render_txt};
pub(crate) use wire::parse_plain_query;
pub use wire::{WireAnswerer, WireOutcome, WireScratch};

use crate::model::{AnswerStyle, ZoneKind, ZoneSpec};
use crate::snapshot::{ListingId, Snapshot, Zone};

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

impl Answer {
    /// REFUSED without AA: the name is outside every zone, or the class or type is not
    /// served.
    fn refused() -> Self {
        Answer {
            rcode: ResponseCode::Refused,
            authoritative: false,
            answers: Vec::new(),
            authority: Vec::new(),
        }
    }

    fn positive(answers: Vec<Record>) -> Self {
        Answer {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers,
            authority: Vec::new(),
        }
    }

    /// NOERROR without answers (NODATA) or NXDOMAIN, with the SOA in authority.
    fn negative(zone: &Zone, rcode: ResponseCode) -> Self {
        Answer {
            rcode,
            authoritative: true,
            answers: Vec::new(),
            authority: vec![zone.records.negative_soa.clone()],
        }
    }
}

/// The result of looking up a name below the apex of a zone.
enum Lookup<'z> {
    /// Listed by these listings (sorted, distinct). `query` is the address or domain for
    /// the TXT `{query}` placeholder.
    Listed {
        listings: Cow<'z, [ListingId]>,
        query: QueryText,
    },
    /// Not listed, but a listed name lies below it.
    EmptyNonTerminal,
    NotFound,
}

/// The address or domain a listed name stands for. An address is kept as a value and
/// formatted only when a TXT template uses `{query}`, so the wire path does not allocate
/// for it.
///
/// Both paths render `{query}` through the `Display` below, which escapes a domain's
/// unsafe bytes as `\DDD` (see [`txt::write_escaped`]).
#[derive(Clone, Debug)]
enum QueryText {
    Address(IpAddr),
    /// Lower case, without a trailing dot, not escaped.
    Domain(String),
}

impl fmt::Display for QueryText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryText::Address(addr) => addr.fmt(f),
            QueryText::Domain(domain) if domain.bytes().all(txt::is_plain) => f.write_str(domain),
            QueryText::Domain(domain) => txt::write_escaped(f, domain.as_bytes()),
        }
    }
}

/// Builds the answer for one question.
///
/// The records in the answer section are owned by `name` exactly as asked, so the letter
/// case of the query comes back (clients that randomise it, "DNS 0x20", compare it).
pub fn answer(snapshot: &Snapshot, name: &Name, qtype: RecordType, qclass: DNSClass) -> Answer {
    let Some(zone) = find_zone(snapshot, name) else {
        return Answer::refused();
    };
    // CHAOS (version.bind), HS, NONE and ANY are not served.
    if qclass != DNSClass::IN {
        return Answer::refused();
    }
    // The zones are built from a database, not kept as zone files, so there is nothing
    // to transfer.
    if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return Answer::refused();
    }
    let below = name.iter().len() - zone.label_count();
    if below == 0 {
        return apex_answer(zone, name, qtype);
    }
    let lookup = if zone.includes.is_empty() {
        lookup_in(zone, name.iter().take(below))
    } else {
        lookup_combined(snapshot, zone, || name.iter().take(below))
    };
    match lookup {
        Lookup::Listed { listings, query } => {
            listed_answer(snapshot, zone, name, qtype, &listings, &query.to_string())
        }
        Lookup::EmptyNonTerminal => Answer::negative(zone, ResponseCode::NoError),
        Lookup::NotFound => Answer::negative(zone, ResponseCode::NXDomain),
    }
}

/// Looks up the labels below the apex of a zone that is not combined, leftmost first.
/// Both the record path above and the wire path in `wire` decide through this function.
fn lookup_in<'z, 'a>(
    zone: &'z Zone,
    labels: impl ExactSizeIterator<Item = &'a [u8]>,
) -> Lookup<'z> {
    match zone.spec.kind {
        ZoneKind::Address => address::lookup(zone, labels),
        ZoneKind::Domain => domain::lookup(zone, labels),
    }
}

/// Looks the labels up in every zone that `zone` includes and merges the results.
fn lookup_combined<'s, 'a, I>(
    snapshot: &'s Snapshot,
    zone: &Zone,
    labels: impl Fn() -> I,
) -> Lookup<'s>
where
    I: ExactSizeIterator<Item = &'a [u8]>,
{
    let mut listed: Vec<ListingId> = Vec::new();
    let mut listed_query = None;
    let mut empty_non_terminal = false;
    for &index in &zone.includes {
        match lookup_in(&snapshot.zones[index], labels()) {
            Lookup::Listed { listings, query } => {
                listed.extend_from_slice(&listings);
                listed_query.get_or_insert(query);
            }
            Lookup::EmptyNonTerminal => empty_non_terminal = true,
            Lookup::NotFound => {}
        }
    }
    if let Some(query) = listed_query {
        listed.sort_unstable();
        listed.dedup();
        return Lookup::Listed {
            listings: Cow::Owned(listed),
            query,
        };
    }
    if empty_non_terminal {
        Lookup::EmptyNonTerminal
    } else {
        Lookup::NotFound
    }
}

/// Finds the zone with the longest apex that is a suffix of `name`, comparing labels as bytes
/// so that labels which are not UTF-8 need no conversion.
fn find_zone<'s>(snapshot: &'s Snapshot, name: &Name) -> Option<&'s Zone> {
    let label_count = name.iter().len();
    snapshot.zones.iter().find(|zone| {
        let apex = zone.labels();
        apex.len() <= label_count
            && name
                .iter()
                .rev()
                .zip(apex.iter().rev())
                .all(|(label, apex_label)| label.eq_ignore_ascii_case(apex_label.as_bytes()))
    })
}

fn apex_answer(zone: &Zone, name: &Name, qtype: RecordType) -> Answer {
    let records = &zone.records;
    let soa = || records::with_owner(&records.soa, name);
    let ns = || records.ns.iter().map(|ns| records::with_owner(ns, name));
    match qtype {
        RecordType::SOA => Answer::positive(vec![soa()]),
        RecordType::NS => Answer::positive(ns().collect()),
        RecordType::ANY => Answer::positive(std::iter::once(soa()).chain(ns()).collect()),
        _ => Answer::negative(zone, ResponseCode::NoError),
    }
}

fn listed_answer(
    snapshot: &Snapshot,
    zone: &Zone,
    name: &Name,
    qtype: RecordType,
    listings: &[ListingId],
    query: &str,
) -> Answer {
    let ttl = zone.spec.ttl;
    let a_records = || {
        answer_codes(snapshot, &zone.spec, listings)
            .into_iter()
            .map(|code| records::a_record(name, ttl, code))
            .collect::<Vec<_>>()
    };
    let txt_records = || {
        answer_texts(snapshot, &zone.spec, listings, query)
            .iter()
            .map(|text| records::txt_record(name, ttl, text))
            .collect::<Vec<_>>()
    };
    match qtype {
        RecordType::A => Answer::positive(a_records()),
        RecordType::TXT => Answer::positive(txt_records()),
        RecordType::ANY => {
            let mut answers = a_records();
            answers.extend(txt_records());
            Answer::positive(answers)
        }
        _ => Answer::negative(zone, ResponseCode::NoError),
    }
}

/// The A record values for a set of listings in a zone: one per distinct category code
/// (sorted), or in the multi style one code whose last octet ORs them.
pub fn answer_codes(
    snapshot: &Snapshot,
    spec: &ZoneSpec,
    listings: &[ListingId],
) -> Vec<std::net::Ipv4Addr> {
    let mut codes: Vec<_> = listings
        .iter()
        .map(|&id| snapshot.categories[snapshot.listings.category(id)].code)
        .collect();
    if spec.style == AnswerStyle::Multi {
        // The snapshot checked that every code here is 127.0.0.x with x a single bit.
        let bits = codes.iter().fold(0u8, |bits, code| bits | code.octets()[3]);
        codes = vec![std::net::Ipv4Addr::new(127, 0, 0, bits)];
    }
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// The distinct TXT texts for a set of listings in a zone, in listing order, with the
/// zone's `lookup_url` filled in.
pub fn answer_texts(
    snapshot: &Snapshot,
    spec: &ZoneSpec,
    listings: &[ListingId],
    query: &str,
) -> Vec<String> {
    let mut texts: Vec<String> = Vec::with_capacity(listings.len());
    for &id in listings {
        let listing = snapshot.listings.listing(id);
        let category = &snapshot.categories[listing.category];
        // NOTE: `{query}` in `lookup_url` gets the `\DDD` escapes too, not percent-encoding,
        // so the URL for an escaped domain contains `\`, which browsers read as `/`.
        let lookup_url = match &spec.lookup_url {
            Some(template) => render_txt(template, query, listing, category, ""),
            None => String::new(),
        };
        let text = render_txt(&category.txt, query, listing, category, &lookup_url);
        if !texts.contains(&text) {
            texts.push(text);
        }
    }
    texts
}
