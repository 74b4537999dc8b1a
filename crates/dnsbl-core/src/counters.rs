//! Lock-free query counters shared by the DNS listeners and the admin API's `/metrics`:
//! responses by zone, query type and response code (RFC 1035 §4.1.1, RFC 6895 §2.3),
//! responses that reported a listing, and dropped query log lines.
//!
//! Recording is one relaxed atomic add into a fixed array, so the UDP wire path counts
//! without allocating or locking.

use std::sync::atomic::{AtomicU64, Ordering};

/// Zones counted one by one; queries of zones at higher indexes count as "no zone".
pub const MAX_COUNTED_ZONES: usize = 64;
/// Slot of queries outside every zone (REFUSED, unparsable requests) and of zones at
/// index [`MAX_COUNTED_ZONES`] or above.
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
            responses: zeros(ZONE_SLOTS * TYPE_LABELS.len() * RCODE_LABELS.len()),
            listed: zeros(ZONE_SLOTS),
            limits: LimitCounters::default(),
            query_log_dropped: AtomicU64::new(0),
        }
    }
}

/// One cell of [`QueryCounters::snapshot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseCount {
    /// Index into the snapshot's zones; `None` for queries outside every counted zone.
    pub zone: Option<usize>,
    pub qtype: &'static str,
    pub rcode: &'static str,
    pub count: u64,
}

impl QueryCounters {
    /// Counts one response. `zone` is the index of the query's zone in the snapshot that
    /// answered, `qtype` the query type number and `rcode` the response code, extended
    /// with EDNS (RFC 6891 §6.1.3) or not.
    pub fn record(&self, zone: Option<usize>, qtype: u16, rcode: u16, listed: bool) {
        let zone = zone_slot(zone);
        let index =
            (zone * TYPE_LABELS.len() + type_slot(qtype)) * RCODE_LABELS.len() + rcode_slot(rcode);
        self.responses[index].fetch_add(1, Ordering::Relaxed);
        if listed {
            self.listed[zone].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Returns every non-zero response counter.
    pub fn responses(&self) -> Vec<ResponseCount> {
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
                zone: (zone != NO_ZONE).then_some(zone),
                qtype: TYPE_LABELS[qtype],
                rcode: RCODE_LABELS[rcode],
                count,
            });
        }
        counts
    }

    /// Returns the listed answers per zone, non-zero ones only.
    pub fn listed(&self) -> Vec<(Option<usize>, u64)> {
        self.listed
            .iter()
            .enumerate()
            .map(|(zone, counter)| {
                (
                    (zone != NO_ZONE).then_some(zone),
                    counter.load(Ordering::Relaxed),
                )
            })
            .filter(|(_, count)| *count > 0)
            .collect()
    }
}

fn zone_slot(zone: Option<usize>) -> usize {
    match zone {
        Some(index) if index < MAX_COUNTED_ZONES => index,
        _ => NO_ZONE,
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

    #[test]
    fn record_counts_each_cell() {
        let counters = QueryCounters::default();
        let cases = [
            (Some(0), 1, 0, true),
            (Some(0), 1, 0, true),
            (Some(1), 16, 3, false),
            (None, 28, 5, false),
            (Some(MAX_COUNTED_ZONES), 99, 9, false),
            (Some(2), 255, 1, false),
            (Some(2), 15, 4, false),
            (Some(2), 15, 2, false),
        ];
        for (zone, qtype, rcode, listed) in cases {
            counters.record(zone, qtype, rcode, listed);
        }
        let cell = |zone, qtype, rcode, count| ResponseCount {
            zone,
            qtype,
            rcode,
            count,
        };
        assert_eq!(
            counters.responses(),
            vec![
                cell(Some(0), "A", "NOERROR", 2),
                cell(Some(1), "TXT", "NXDOMAIN", 1),
                cell(Some(2), "ANY", "FORMERR", 1),
                cell(Some(2), "other", "NOTIMP", 1),
                cell(Some(2), "other", "SERVFAIL", 1),
                cell(None, "AAAA", "REFUSED", 1),
                cell(None, "other", "other", 1),
            ]
        );
        assert_eq!(counters.listed(), vec![(Some(0), 2)]);
    }
}
