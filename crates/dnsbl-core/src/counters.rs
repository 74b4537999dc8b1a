//! Lock-free query counters shared by the DNS listeners and the admin API's `/metrics`:
//! responses by zone, query type and response code (RFC 1035 §4.1.1, RFC 6895 §2.3),
//! responses that reported a listing, and dropped query log lines.
//!
//! Counts are kept by zone name, not by the zone's position in a snapshot, so a reload that
//! reorders, adds or removes zones leaves every zone's series with its own counts. A zone
//! gets a slot the first time it is counted or looked up and keeps it for the life of the
//! process, so a removed zone's series stays at its last value.
//!
//! Recording is one relaxed atomic add into a fixed array, after a scan of the slots'
//! names. The UDP wire path looks up the slots of a snapshot's zones once per snapshot
//! ([`QueryCounters::zone_slots`]) and skips the scan, so it counts without locking or
//! comparing names.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Zone names counted one by one. Responses of further names, after this many distinct
/// names were counted since the start, count as "no zone".
pub const MAX_COUNTED_ZONES: usize = 64;
/// Slot of queries outside every zone (REFUSED, unparsable requests) and of zone names
/// beyond [`MAX_COUNTED_ZONES`].
const NO_ZONE: usize = MAX_COUNTED_ZONES;
const ZONE_SLOTS: usize = MAX_COUNTED_ZONES + 1;

/// Query types counted one by one, in label order; every other type counts as `other`.
pub const TYPE_LABELS: [&str; 5] = ["A", "TXT", "AAAA", "ANY", "other"];
/// Response codes counted one by one, in label order; every other code counts as `other`.
pub const RCODE_LABELS: [&str; 7] = [
    "NOERROR", "NXDOMAIN", "REFUSED", "FORMERR", "NOTIMP", "SERVFAIL", "other",
];

/// Per-zone response counters.
#[derive(Debug)]
pub struct QueryCounters {
    /// The zone name of each slot, set when the first response of that zone is counted.
    zone_names: Box<[OnceLock<Box<str>>]>,
    responses: Box<[AtomicU64]>,
    listed: Box<[AtomicU64]>,
    /// Responses withheld or replaced by response rate limiting and zone access lists.
    pub limits: LimitCounters,
    /// Query log lines dropped because the log's writer thread fell behind.
    pub query_log_dropped: AtomicU64,
}

/// Counters of the client limits, one per outcome other than a normal answer.
#[derive(Debug, Default)]
pub struct LimitCounters {
    /// UDP responses not sent because their client exceeded the response rate.
    pub rate_limited_dropped: AtomicU64,
    /// UDP responses replaced by an empty truncated one (TC set) over the response rate.
    pub rate_limited_slipped: AtomicU64,
    /// Queries answered REFUSED by a zone's access list.
    pub acl_refused: AtomicU64,
    /// Queries left without a response by a zone's access list.
    pub acl_dropped: AtomicU64,
}

impl LimitCounters {
    /// Returns each counter with its Prometheus name and help text.
    pub fn series(&self) -> [(&'static str, &'static str, u64); 4] {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        [
            (
                "dnsbl_dns_rate_limited_dropped_total",
                "UDP responses dropped by response rate limiting.",
                load(&self.rate_limited_dropped),
            ),
            (
                "dnsbl_dns_rate_limited_slipped_total",
                "UDP responses sent truncated (TC, no answers) by response rate limiting.",
                load(&self.rate_limited_slipped),
            ),
            (
                "dnsbl_dns_acl_refused_total",
                "Queries answered REFUSED by a zone's access list.",
                load(&self.acl_refused),
            ),
            (
                "dnsbl_dns_acl_dropped_total",
                "Queries dropped without a response by a zone's access list.",
                load(&self.acl_dropped),
            ),
        ]
    }
}

impl Default for QueryCounters {
    fn default() -> Self {
        let zeros = |count: usize| (0..count).map(|_| AtomicU64::new(0)).collect();
        QueryCounters {
            zone_names: (0..MAX_COUNTED_ZONES).map(|_| OnceLock::new()).collect(),
            responses: zeros(ZONE_SLOTS * TYPE_LABELS.len() * RCODE_LABELS.len()),
            listed: zeros(ZONE_SLOTS),
            limits: LimitCounters::default(),
            query_log_dropped: AtomicU64::new(0),
        }
    }
}

/// The counters of one zone name, from [`QueryCounters::zone_slots`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneSlot(usize);

/// One cell of [`QueryCounters::snapshot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseCount<'a> {
    /// Zone name; `None` for queries outside every counted zone.
    pub zone: Option<&'a str>,
    pub qtype: &'static str,
    pub rcode: &'static str,
    pub count: u64,
}

impl QueryCounters {
    /// Counts one response. `zone` is the name of the query's zone (`ZoneSpec::name`),
    /// `qtype` the query type number and `rcode` the response code, extended with EDNS
    /// (RFC 6891 §6.1.3) or not.
    pub fn record(&self, zone: Option<&str>, qtype: u16, rcode: u16, listed: bool) {
        self.record_in(Some(ZoneSlot(self.zone_slot(zone))), qtype, rcode, listed);
    }

    /// Returns the slot of each zone name of `names`, in order, for [`Self::record_in`]: a
    /// caller that counts many responses of one snapshot looks its zones up once.
    pub fn zone_slots<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<ZoneSlot> {
        names
            .into_iter()
            .map(|name| ZoneSlot(self.zone_slot(Some(name))))
            .collect()
    }

    /// Counts one response as [`Self::record`] does, for the zone of `slot`, or outside
    /// every zone for `None`.
    pub fn record_in(&self, slot: Option<ZoneSlot>, qtype: u16, rcode: u16, listed: bool) {
        let zone = slot.map_or(NO_ZONE, |ZoneSlot(slot)| slot);
        let index =
            (zone * TYPE_LABELS.len() + type_slot(qtype)) * RCODE_LABELS.len() + rcode_slot(rcode);
        self.responses[index].fetch_add(1, Ordering::Relaxed);
        if listed {
            self.listed[zone].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Returns every non-zero response counter.
    pub fn responses(&self) -> Vec<ResponseCount<'_>> {
        let mut counts = Vec::new();
        for (index, counter) in self.responses.iter().enumerate() {
            let count = counter.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let rcode = index % RCODE_LABELS.len();
            let qtype = index / RCODE_LABELS.len() % TYPE_LABELS.len();
            let zone = index / RCODE_LABELS.len() / TYPE_LABELS.len();
            counts.push(ResponseCount {
                zone: self.zone_name(zone),
                qtype: TYPE_LABELS[qtype],
                rcode: RCODE_LABELS[rcode],
                count,
            });
        }
        counts
    }

    /// Returns the listed answers per zone, non-zero ones only.
    pub fn listed(&self) -> Vec<(Option<&str>, u64)> {
        self.listed
            .iter()
            .enumerate()
            .map(|(zone, counter)| (self.zone_name(zone), counter.load(Ordering::Relaxed)))
            .filter(|(_, count)| *count > 0)
            .collect()
    }

    /// Returns the slot of the zone `name`, taking the first free slot for a new name.
    fn zone_slot(&self, name: Option<&str>) -> usize {
        let Some(name) = name else {
            return NO_ZONE;
        };
        for (slot, cell) in self.zone_names.iter().enumerate() {
            // Another thread may take a free slot for another name between the check and
            // `set`, so the name is compared again after `set`.
            if cell.get().is_none() {
                let _ = cell.set(name.into());
            }
            if cell.get().is_some_and(|stored| **stored == *name) {
                return slot;
            }
        }
        NO_ZONE
    }

    fn zone_name(&self, slot: usize) -> Option<&str> {
        self.zone_names.get(slot)?.get().map(|name| &**name)
    }
}

fn type_slot(qtype: u16) -> usize {
    match qtype {
        1 => 0,
        16 => 1,
        28 => 2,
        255 => 3,
        _ => 4,
    }
}

fn rcode_slot(rcode: u16) -> usize {
    match rcode {
        0 => 0,
        3 => 1,
        5 => 2,
        1 => 3,
        4 => 4,
        2 => 5,
        _ => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell<'a>(
        zone: Option<&'a str>,
        qtype: &'static str,
        rcode: &'static str,
        count: u64,
    ) -> ResponseCount<'a> {
        ResponseCount {
            zone,
            qtype,
            rcode,
            count,
        }
    }

    #[test]
    fn record_counts_each_cell() {
        let counters = QueryCounters::default();
        let cases = [
            (Some("bl.example"), 1, 0, true),
            (Some("bl.example"), 1, 0, true),
            (Some("dbl.example"), 16, 3, false),
            (None, 28, 5, false),
            (None, 99, 9, false),
            (Some("v6.example"), 255, 1, false),
            (Some("v6.example"), 15, 4, false),
            (Some("v6.example"), 15, 2, false),
        ];
        for (zone, qtype, rcode, listed) in cases {
            counters.record(zone, qtype, rcode, listed);
        }
        assert_eq!(
            counters.responses(),
            vec![
                cell(Some("bl.example"), "A", "NOERROR", 2),
                cell(Some("dbl.example"), "TXT", "NXDOMAIN", 1),
                cell(Some("v6.example"), "ANY", "FORMERR", 1),
                cell(Some("v6.example"), "other", "NOTIMP", 1),
                cell(Some("v6.example"), "other", "SERVFAIL", 1),
                cell(None, "AAAA", "REFUSED", 1),
                cell(None, "other", "other", 1),
            ]
        );
        assert_eq!(counters.listed(), vec![(Some("bl.example"), 2)]);
    }

    #[test]
    fn counts_follow_zone_name() {
        let counters = QueryCounters::default();
        counters.record(Some("bl.example"), 1, 0, true);
        counters.record(Some("dbl.example"), 16, 0, false);
        // A reload that lists the zones in the other order and removes bl.example.
        counters.record(Some("dbl.example"), 16, 0, true);
        counters.record(Some("new.example"), 1, 3, false);
        assert_eq!(
            counters.responses(),
            vec![
                cell(Some("bl.example"), "A", "NOERROR", 1),
                cell(Some("dbl.example"), "TXT", "NOERROR", 2),
                cell(Some("new.example"), "A", "NXDOMAIN", 1),
            ]
        );
        assert_eq!(
            counters.listed(),
            vec![(Some("bl.example"), 1), (Some("dbl.example"), 1)]
        );
    }

    #[test]
    fn zone_slots_count_as_names() {
        let counters = QueryCounters::default();
        counters.record(Some("dbl.example"), 16, 0, false);
        let slots = counters.zone_slots(["bl.example", "dbl.example"]);
        counters.record_in(Some(slots[0]), 1, 0, true);
        counters.record_in(Some(slots[1]), 16, 0, false);
        counters.record_in(None, 1, 5, false);
        assert_eq!(
            counters.responses(),
            vec![
                cell(Some("dbl.example"), "TXT", "NOERROR", 2),
                cell(Some("bl.example"), "A", "NOERROR", 1),
                cell(None, "A", "REFUSED", 1),
            ]
        );
    }

    #[test]
    fn zones_beyond_max_count_as_none() {
        let counters = QueryCounters::default();
        for index in 0..MAX_COUNTED_ZONES {
            counters.record(Some(&format!("z{index}.example")), 1, 0, false);
        }
        counters.record(Some("extra.example"), 1, 0, false);
        counters.record(Some("z0.example"), 1, 0, false);
        let responses = counters.responses();
        assert_eq!(responses.len(), MAX_COUNTED_ZONES + 1);
        assert_eq!(responses[0].zone, Some("z0.example"));
        assert_eq!(responses[0].count, 2);
        assert_eq!(responses[MAX_COUNTED_ZONES].zone, None);
        assert_eq!(responses[MAX_COUNTED_ZONES].count, 1);
    }
}
