//! Client limits on the query path: zone access lists on UDP and TCP, and response rate
//! limiting (RRL) on UDP.
//!
//! RRL follows the design of BIND 9's `rate-limit`: responses that are identical for a
//! client prefix count against one token bucket, and over the rate a response is dropped
//! or, every `slip`th time, replaced by an empty one with TC set, so that a real resolver
//! behind a spoofed-looking flood still gets its answer over TCP (RFC 7766). Responses
//! count as identical when they have
//! - answers: the same zone, query name and query type;
//! - no answers with NOERROR (NODATA): the same zone and query name, any type;
//! - NXDOMAIN: the same zone, any name, as a random-name flood returns;
//! - another rcode (REFUSED, FORMERR, SERVFAIL, NOTIMP): the same rcode.
//!
//! TCP is never rate limited, because its handshake proves the source address.
//! [`ClientLimits::decide`] makes the whole decision; the listeners only apply it.

pub(crate) mod record;
mod rrl;
pub(crate) mod tcp;
pub(crate) mod wire;

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use dnsbl_core::acl::canonical;
use dnsbl_core::{AclAction, ClientAcl, QueryCounters};
use ipnet::IpNet;

use self::rrl::{RateOutcome, RateTable};

pub use self::tcp::TcpLimits;

/// Settings of response rate limiting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitOptions {
    /// Identical responses per second to one client prefix; 0 turns rate limiting off.
    pub responses_per_second: u32,
    /// Every `slip`th limited response is sent truncated instead of dropped; 0 drops all,
    /// 1 sends every one truncated.
    pub slip: u32,
    /// Prefix length that groups IPv4 clients.
    pub ipv4_prefix_len: u8,
    /// Prefix length that groups IPv6 clients.
    pub ipv6_prefix_len: u8,
    /// Clients that are never rate limited.
    pub exempt: Vec<IpNet>,
    /// Token buckets kept; when all are in use the least recently used is reused.
    pub table_size: usize,
}

impl Default for RateLimitOptions {
    fn default() -> Self {
        RateLimitOptions {
            responses_per_second: 0,
            slip: 2,
            ipv4_prefix_len: 24,
            ipv6_prefix_len: 56,
            exempt: Vec::new(),
            table_size: 65_536,
        }
    }
}

/// The transport a query came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// The listener's decision for one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it.
    Answer,
    /// Send the header, the question and the OPT record (if the query had one) only,
    /// with TC set.
    Slip,
    /// Send nothing.
    Drop,
    /// Send the header, the question and the OPT record (if the query had one) only,
    /// with rcode REFUSED.
    Refuse,
}

/// The part of a response that decides which responses are identical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResponseKind {
    /// NOERROR with answers; `name` is [`name_hash`] of the query name.
    Answer {
        name: u64,
        qtype: u16,
    },
    /// NOERROR without answers.
    NoData {
        name: u64,
    },
    NxDomain,
    /// Any other response code.
    Error {
        rcode: u16,
    },
}

impl ResponseKind {
    /// Classifies a response by rcode and answer count.
    pub fn classify(rcode: u16, answers: u16, name: u64, qtype: u16) -> Self {
        match (rcode, answers) {
            (0, 0) => ResponseKind::NoData { name },
            (0, _) => ResponseKind::Answer { name, qtype },
            (3, _) => ResponseKind::NxDomain,
            (rcode, _) => ResponseKind::Error { rcode },
        }
    }
}

/// Hashes a query name given as its labels, ignoring ASCII case, so that the wire path and
/// the record path key the same name alike.
pub fn name_hash<'a>(labels: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    for label in labels {
        hasher.write_u8(label.len() as u8);
        for byte in label {
            hasher.write_u8(byte.to_ascii_lowercase());
        }
    }
    hasher.finish()
}

/// Access lists and the rate limiter, shared by all listeners.
pub struct ClientLimits {
    rate: RateLimitOptions,
    table: Option<RateTable>,
    counters: Arc<QueryCounters>,
}

impl ClientLimits {
    /// Creates the limits; outcomes other than [`Verdict::Answer`] are counted in
    /// `counters.limits`.
    pub fn new(rate: RateLimitOptions, counters: Arc<QueryCounters>) -> Self {
        let table = (rate.responses_per_second > 0)
            .then(|| RateTable::new(rate.table_size, rate.responses_per_second, Instant::now()));
        ClientLimits {
            rate,
            table,
            counters,
        }
    }

    /// No access list and no rate limit; every response is sent.
    pub fn unlimited() -> Self {
        Self::new(RateLimitOptions::default(), Arc::default())
    }

    /// Returns whether [`decide`](Self::decide) can return anything but
    /// [`Verdict::Answer`] in a zone with access list `acl` (`None` outside every zone).
    /// It is `false` when the rate limit is off and the list is empty, so the caller can
    /// skip describing the response.
    pub fn may_limit(&self, acl: Option<&ClientAcl>) -> bool {
        self.table.is_some() || acl.is_some_and(|acl| !acl.rules.is_empty())
    }

    /// Decides what happens to the response `kind` to `client`. `zone` is the index of the
    /// query's zone in the current snapshot with its access list, `None` for names outside
    /// every zone. The zone's access list is applied first, on any transport.
    pub fn decide(
        &self,
        client: IpAddr,
        zone: Option<(usize, &ClientAcl)>,
        kind: ResponseKind,
        transport: Transport,
        now: Instant,
    ) -> Verdict {
        let counters = &self.counters.limits;
        match zone.map_or(AclAction::Allow, |(_, acl)| acl.action(client)) {
            AclAction::Allow => {}
            AclAction::Refuse => {
                counters.acl_refused.fetch_add(1, Ordering::Relaxed);
                return Verdict::Refuse;
            }
            AclAction::Drop => {
                counters.acl_dropped.fetch_add(1, Ordering::Relaxed);
                return Verdict::Drop;
            }
        }
        let Some(table) = &self.table else {
            return Verdict::Answer;
        };
        let client = canonical(client);
        if transport == Transport::Tcp || self.rate.exempt.iter().any(|net| net.contains(&client)) {
            return Verdict::Answer;
        }
        let prefix = self.client_prefix(client);
        let zone_index = zone.map(|(index, _)| index);
        match table.count((prefix, zone_index, kind), now) {
            RateOutcome::Within => Verdict::Answer,
            RateOutcome::Limited(count) => {
                let slip = u64::from(self.rate.slip);
                if slip > 0 && count % slip == 0 {
                    counters
                        .rate_limited_slipped
                        .fetch_add(1, Ordering::Relaxed);
                    Verdict::Slip
                } else {
                    counters
                        .rate_limited_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    Verdict::Drop
                }
            }
        }
    }

    /// Returns the network of `client` at the configured prefix length.
    fn client_prefix(&self, client: IpAddr) -> IpAddr {
        match client {
            IpAddr::V4(v4) => {
                let len = u32::from(self.rate.ipv4_prefix_len.min(32));
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let len = u32::from(self.rate.ipv6_prefix_len.min(128));
                let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }
}

#[cfg(test)]
mod tests;
