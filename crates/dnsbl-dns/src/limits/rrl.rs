//! The response rate limiter's table: one token bucket per client prefix and response
//! key, in a fixed number of slots, as BIND's response rate limiting (RRL) keeps them.
//!
//! A bucket holds at most one second of responses and refills at the configured rate.
//! The table never grows: a key hashes to a set of [`WAYS`] slots in one shard, and a new
//! key takes the slot of that set that was used longest ago, so under a flood of distinct
//! keys the oldest buckets are forgotten. A forgotten bucket starts full again.

use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Instant;

/// Slots a key may occupy; the least recently used of them is replaced.
const WAYS: usize = 4;
/// Independent locks, so that the UDP threads rarely wait for each other.
const SHARDS: usize = 64;
/// One response, in thousandths of a token.
const TOKEN: u64 = 1000;

/// Whether a response is within its client's rate, and what to do when it is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RateOutcome {
    Within,
    /// Over the rate; this is the first, second, ... limited response of the bucket since
    /// it was last within the rate.
    Limited(u64),
}

#[derive(Clone, Copy, Default)]
struct Slot {
    /// Hash of the key; 0 marks a free slot.
    tag: u64,
    /// Tokens left, in thousandths.
    balance: u64,
    /// Milliseconds after the table's start of the last response counted.
    last_ms: u64,
    /// Limited responses since the bucket was last within the rate.
    limited: u64,
}

/// The fixed-size table of token buckets.
pub(crate) struct RateTable {
    hasher: RandomState,
    shards: Box<[Mutex<Box<[Slot]>>]>,
    sets_per_shard: usize,
    /// Responses per second of one bucket.
    rate: u64,
    start: Instant,
}

impl RateTable {
    /// Creates a table of about `slots` buckets (at least one set per shard), each refilled
    /// at `rate` responses per second.
    pub(crate) fn new(slots: usize, rate: u32, start: Instant) -> Self {
        let sets_per_shard = (slots / (SHARDS * WAYS)).max(1);
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(vec![Slot::default(); sets_per_shard * WAYS].into_boxed_slice()))
            .collect();
        RateTable {
            // Random hash keys, so that a client cannot choose names that all land in one
            // set and push other clients' buckets out.
            hasher: RandomState::new(),
            shards,
            sets_per_shard,
            rate: u64::from(rate),
            start,
        }
    }

    /// Counts one response for `key` at `now` and returns whether it is within the rate.
    pub(crate) fn count(&self, key: impl std::hash::Hash, now: Instant) -> RateOutcome {
        let hash = self.hasher.hash_one(key).max(1);
        let now_ms = now.saturating_duration_since(self.start).as_millis() as u64;
        let shard = (hash % SHARDS as u64) as usize;
        let set = ((hash / SHARDS as u64) % self.sets_per_shard as u64) as usize;
        let capacity = self.rate * TOKEN;
        let mut slots = match self.shards[shard].lock() {
            Ok(slots) => slots,
            Err(poisoned) => poisoned.into_inner(),
        };
        let ways = &mut slots[set * WAYS..(set + 1) * WAYS];
        let index = match ways.iter().position(|slot| slot.tag == hash) {
            Some(index) => index,
            None => {
                let oldest = (0..WAYS)
                    .min_by_key(|&way| (ways[way].tag != 0, ways[way].last_ms))
                    .expect("a set has slots");
                ways[oldest] = Slot {
                    tag: hash,
                    balance: capacity,
                    last_ms: now_ms,
                    limited: 0,
                };
                oldest
            }
        };
        let slot = &mut ways[index];
        // `rate` tokens per second are `rate` thousandths per millisecond.
        let refill = now_ms
            .saturating_sub(slot.last_ms)
            .saturating_mul(self.rate);
        slot.balance = slot.balance.saturating_add(refill).min(capacity);
        slot.last_ms = now_ms.max(slot.last_ms);
        if slot.balance >= TOKEN {
            slot.balance -= TOKEN;
            slot.limited = 0;
            RateOutcome::Within
        } else {
            slot.limited += 1;
            RateOutcome::Limited(slot.limited)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bucket_allows_rate_then_limits() {
        let start = Instant::now();
        let table = RateTable::new(1024, 3, start);
        let outcomes: Vec<RateOutcome> = (0..6).map(|_| table.count("key", start)).collect();
        assert_eq!(
            outcomes,
            [
                RateOutcome::Within,
                RateOutcome::Within,
                RateOutcome::Within,
                RateOutcome::Limited(1),
                RateOutcome::Limited(2),
                RateOutcome::Limited(3),
            ]
        );
        // A third of a second refills one token at 3 per second.
        let later = start + Duration::from_millis(334);
        assert_eq!(table.count("key", later), RateOutcome::Within);
        assert_eq!(table.count("key", later), RateOutcome::Limited(1));
        // A long pause refills no more than one second's worth.
        let much_later = later + Duration::from_secs(60);
        let within = (0..5)
            .filter(|_| table.count("key", much_later) == RateOutcome::Within)
            .count();
        assert_eq!(within, 3);
    }

    #[test]
    fn keys_have_separate_buckets() {
        let start = Instant::now();
        let table = RateTable::new(1024, 1, start);
        assert_eq!(table.count("a", start), RateOutcome::Within);
        assert_eq!(table.count("a", start), RateOutcome::Limited(1));
        assert_eq!(table.count("b", start), RateOutcome::Within);
    }

    #[test]
    fn full_table_forgets_least_recent_key() {
        let start = Instant::now();
        // The smallest table: one set of WAYS slots in each shard.
        let table = RateTable::new(1, 1, start);
        assert_eq!(table.count(0u32, start), RateOutcome::Within);
        assert_eq!(table.count(0u32, start), RateOutcome::Limited(1));
        // Far more keys than the table has slots, all used later than key 0.
        for key in 1..(SHARDS * WAYS * 8) as u32 {
            table.count(key, start + Duration::from_millis(1));
        }
        // Key 0 was evicted, so its bucket starts full again.
        assert_eq!(
            table.count(0u32, start + Duration::from_millis(2)),
            RateOutcome::Within
        );
    }
}
