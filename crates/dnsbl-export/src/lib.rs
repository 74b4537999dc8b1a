//! Zone export for mirrors: RFC 1035 master files for standard secondaries (BIND, NSD,
//! Knot) and rbldnsd data files, built as pure functions of a [`Snapshot`], and their
//! atomic publication into an export directory.
//!
//! The record set of a zone ([`zone_records`]) is the one a zone transfer sends (RFC 5936)
//! and a master file holds. It uses wildcards (RFC 4592) at octet and nibble boundaries, so
//! that a standard server gives the live server's answer for every full address and
//! listed domain; [`address`] and [`domain`] describe the construction, and
//! [`records`] how TXT `{query}` placeholders are written.
//!
//! A standard secondary fed from these records differs from `dnsbl serve` in these
//! cases, all outside full address names and listed domains:
//!
//! - a prefix name under a wildcard (`1.127.bl.example` when 127.0.0.0/8 is listed)
//!   answers the wildcard's records, where the live server answers NODATA;
//! - a name below a wildcard that is not an address (`x.1.2.3.4.bl.example`) answers the
//!   wildcard's records, where the live server answers NXDOMAIN;
//! - a prefix name without listings below it that sits under a wildcard
//!   (`200.10.bl.example` when 10.0.0.0/8 is listed and 10.200.0.0/16 allow-listed) is a
//!   blocker node and answers NODATA, where the live server answers NXDOMAIN;
//! - a wildcard's TXT names the covered prefix in place of the address asked about;
//! - an allow-listed domain below a listed one answers NODATA, not NXDOMAIN, and has an
//!   HINFO record (see [`domain`]).

pub mod address;
pub mod combined;
pub mod domain;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod master;
pub mod publish;
pub mod rbldnsd;
pub mod records;

use dnsbl_core::{Snapshot, ZoneKind};

pub use master::{MasterError, master_file};
pub use publish::{CHECKSUMS, ExportFile, MANIFEST, Manifest, PublishError, publish};
pub use records::{RecordError, zone_records};

/// How rbldnsd 1.0pre (snapshot 20210120, Debian package rbldnsd) answers differently from `dnsbl serve` on
/// the exported data files. The mirror test accepts exactly these differences.
pub const RBLDNSD_DIFFERENCES: &[&str] = &[
    "no empty non-terminals: a prefix of a listed address or a parent of a listed \
     domain gets NXDOMAIN, where the live server answers NODATA",
    "in dnset, `$` in a TXT template is the listed domain, not the name asked about: \
     a subdomain of a listed domain gets the listed domain's text",
    "in ip6trie, `$` is an IPv4-mapped address in its IPv4 form (`192.0.2.1`), where \
     the live server writes `::ffff:192.0.2.1`",
    "one answer per key in ip6trie: an IPv6 prefix listed by several listings answers \
     with the longest matching prefix's first value only",
];

/// Errors from building the export files.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Records(#[from] RecordError),
    #[error(transparent)]
    Master(#[from] MasterError),
}

/// Builds the files of every zone: `ZONE.zone` (master file), and `ZONE.ip4set` and
/// `ZONE.ip6trie` for an address zone or `ZONE.dnset` for a domain zone. A combined zone
/// is written as one zone with the union of the zones it includes ([`combined`]). Zones
/// are in apex order, so the output is stable.
pub fn export_files(snapshot: &Snapshot) -> Result<Vec<ExportFile>, ExportError> {
    export_files_with_progress(snapshot, &mut |_, _| {})
}

/// Does what [`export_files`] does, and calls `on_zone` with the zone's name and the
/// number of zones before building the files of each zone.
pub fn export_files_with_progress(
    snapshot: &Snapshot,
    on_zone: &mut dyn FnMut(&str, usize),
) -> Result<Vec<ExportFile>, ExportError> {
    let mut zones: Vec<_> = snapshot
        .zones
        .iter()
        .map(|zone| combined::flatten(snapshot, zone))
        .collect();
    zones.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    let mut files = Vec::new();
    let zone_count = zones.len();
    for zone in zones {
        let name = &zone.spec.name;
        on_zone(name, zone_count);
        let file =
            |suffix: &str, format: &'static str, (contents, records): (String, usize)| ExportFile {
                name: format!("{name}.{suffix}"),
                zone: name.clone(),
                format,
                serial: snapshot.serial,
                records,
                contents,
            };
        let zone = &*zone;
        let records = zone_records(snapshot, zone)?;
        let master = master_file(name, snapshot.serial, &records)?;
        files.push(file("zone", "master", (master, records.len())));
        match zone.spec.kind {
            ZoneKind::Address => {
                files.push(file("ip4set", "ip4set", rbldnsd::ip4set(snapshot, zone)));
                files.push(file("ip6trie", "ip6trie", rbldnsd::ip6trie(snapshot, zone)));
            }
            ZoneKind::Domain => {
                files.push(file("dnset", "dnset", rbldnsd::dnset(snapshot, zone)));
            }
        }
    }
    Ok(files)
}
