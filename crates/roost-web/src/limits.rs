//! Node-local guards against abuse. They are not replicated state: each node protects itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many requests a caller may make per period: `0` switches the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Per account (or app token), for requests with a valid token.
    pub authenticated: u32,
    /// Per IP address, for requests without one.
    pub unauthenticated: u32,
    pub period: Duration,
}

impl Default for RateLimit {
    /// Mastodon's: 1,500 requests per account and 300 per address, each per five minutes.
    fn default() -> RateLimit {
        RateLimit { authenticated: 1500, unauthenticated: 300, period: Duration::from_secs(300) }
    }
}

/// Who a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    Account(u64),
    App([u8; 32]),
    Address(std::net::IpAddr),
}

/// The state of one caller's window after counting a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// When the window ends and the count starts again.
    pub reset: std::time::SystemTime,
    /// Whether this request is over the limit.
    pub exceeded: bool,
}

/// Fixed-window request counters per caller, in shards so that concurrent requests rarely wait
/// on the same lock.
pub struct RateLimiter {
    limit: RateLimit,
    shards: Vec<Mutex<HashMap<Caller, (Instant, u32)>>>,
}

impl RateLimiter {
    const SHARDS: usize = 32;
    /// Callers tracked per shard before windows that ended are swept out.
    const SHARD_CAPACITY: usize = 10_000;

    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter { limit, shards: (0..Self::SHARDS).map(|_| Mutex::default()).collect() }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Counts one request by `caller`; `None` if callers of its kind are not limited.
    pub fn count(&self, caller: Caller) -> Option<Quota> {
        let limit = match caller {
            Caller::Address(_) => self.limit.unauthenticated,
            _ => self.limit.authenticated,
        };
        if limit == 0 {
            return None;
        }
        let shard = &self.shards[shard_of(&caller) % Self::SHARDS];
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let period = self.limit.period;
        if map.len() >= Self::SHARD_CAPACITY {
            map.retain(|_, (start, _)| now.duration_since(*start) < period);
        }
        let entry = map.entry(caller).or_insert((now, 0));
        if now.duration_since(entry.0) >= period {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let ends_in = period.saturating_sub(now.duration_since(entry.0));
        Some(Quota {
            limit,
            remaining: limit.saturating_sub(entry.1),
            reset: std::time::SystemTime::now() + ends_in,
            exceeded: entry.1 > limit,
        })
    }
}

/// A cheap spread of callers over shards (balance is all it needs).
fn shard_of(caller: &Caller) -> usize {
    let n: u64 = match caller {
        Caller::Account(id) => *id,
        Caller::App(hash) => {
            u64::from_le_bytes([hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7]])
        }
        Caller::Address(std::net::IpAddr::V4(v4)) => u64::from(u32::from(*v4)),
        Caller::Address(std::net::IpAddr::V6(v6)) => (u128::from(*v6) as u64) ^ ((u128::from(*v6) >> 64) as u64),
    };
    // Fibonacci hashing: IDs that differ only in low bits still land apart.
    (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize
}
