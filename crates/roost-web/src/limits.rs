//! Node-local guards against abuse. They are not replicated state: each node protects itself.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ApiError;

/// Failed password checks, so that guessing is slow without letting anyone lock a member out.
///
/// Failures count per (login, client address): after [`SignInGuard::FREE_TRIES`] failures,
/// each further try from that address for that login must wait twice as long as the last
/// (1 s, 2 s, 4 s… up to [`SignInGuard::MAX_WAIT`]). The member, trying from elsewhere, is not
/// slowed at all. Failures also count per address across logins, with more free tries
/// ([`SignInGuard::FREE_TRIES_PER_ADDRESS`]), so that one address cannot try many accounts in
/// turn. A success clears its (login, address) count. Counts are forgotten after
/// [`SignInGuard::WINDOW`] without failures.
#[derive(Default)]
pub struct SignInGuard {
    pairs: Mutex<HashMap<(String, IpAddr), Failures>>,
    addresses: Mutex<HashMap<IpAddr, Failures>>,
}

/// Recent failures of one key.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// How long after the last failure the next try may come, given `free` tries without delay.
    fn wait(&self, free: u32) -> Duration {
        if self.count < free {
            return Duration::ZERO;
        }
        let doublings = (self.count - free).min(20);
        Duration::from_secs(1u64 << doublings).min(SignInGuard::MAX_WAIT)
    }

    /// The time left before the next try is allowed, if any.
    fn blocked_for(&self, free: u32) -> Option<Duration> {
        let wait = self.wait(free);
        let since = self.last.elapsed();
        (since < wait).then(|| wait - since)
    }
}

impl SignInGuard {
    /// Failures from one address for one login before delays begin.
    pub const FREE_TRIES: u32 = 3;
    /// Failures from one address, over all logins, before delays begin.
    pub const FREE_TRIES_PER_ADDRESS: u32 = 20;
    /// The longest delay between two tries.
    pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
    /// How long failures are remembered after the last one.
    pub const WINDOW: Duration = Duration::from_secs(60 * 60);
    /// Keys tracked at once; beyond, the stale ones are dropped (then all, if need be).
    const CAPACITY: usize = 100_000;

    fn lock<K, V>(m: &Mutex<HashMap<K, V>>) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        // Entries are replaced whole, so a poisoned lock is still consistent.
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key(login: &str, from: IpAddr) -> (String, IpAddr) {
        (login.trim().to_lowercase(), network_of(from))
    }

    /// Refuses a try that comes too soon after failures from this address: 429, saying when
    /// to try again.
    pub fn check(&self, login: &str, from: IpAddr) -> Result<(), ApiError> {
        let pair = Self::lock(&self.pairs).get(&Self::key(login, from)).and_then(|f| f.blocked_for(Self::FREE_TRIES));
        let address = Self::lock(&self.addresses)
            .get(&network_of(from))
            .and_then(|f| f.blocked_for(Self::FREE_TRIES_PER_ADDRESS));
        match pair.max(address) {
            // Rounded up: a client that waits as long as it is told is let in.
            Some(wait) => Err(ApiError::SlowDown((wait.as_millis().div_ceil(1000) as u64).max(1))),
            None => Ok(()),
        }
    }

    pub fn failed(&self, login: &str, from: IpAddr) {
        fn count<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Failures>, key: K) {
            if map.len() >= SignInGuard::CAPACITY && !map.contains_key(&key) {
                // Forget what no longer matters (stale, or still within the free tries); never
                // the rest: filling the map must not wipe the counts of those being slowed.
                map.retain(|_, f| f.last.elapsed() < SignInGuard::WINDOW && f.count >= SignInGuard::FREE_TRIES);
                if map.len() >= SignInGuard::CAPACITY {
                    return;
                }
            }
            let now = Instant::now();
            let f = map.entry(key).or_insert(Failures { count: 0, last: now });
            if f.last.elapsed() >= SignInGuard::WINDOW {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
        }
        count(&mut Self::lock(&self.pairs), Self::key(login, from));
        count(&mut Self::lock(&self.addresses), network_of(from));
    }

    pub fn succeeded(&self, login: &str, from: IpAddr) {
        Self::lock(&self.pairs).remove(&Self::key(login, from));
    }
}

/// The network an address counts as: itself for IPv4, its /64 for IPv6 (one host usually holds
/// a whole /64, so counting single IPv6 addresses would count nothing).
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_count_as_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network_of(a), network_of(b));
        assert_ne!(network_of(a), network_of(c));
        let g = SignInGuard::default();
        for _ in 0..SignInGuard::FREE_TRIES {
            g.failed("alice", a);
        }
        assert!(g.check("alice", b).is_err(), "another address of the same /64 waits too");
        assert!(g.check("alice", c).is_ok());
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn failures_slow_the_address_that_fails_not_the_member() {
        let g = SignInGuard::default();
        let attacker = ip("203.0.113.9");
        for _ in 0..SignInGuard::FREE_TRIES {
            assert!(g.check("alice", attacker).is_ok());
            g.failed("Alice", attacker);
        }
        assert!(matches!(g.check("ALICE", attacker), Err(ApiError::SlowDown(_))), "the attacker waits");
        assert!(g.check("alice", ip("198.51.100.1")).is_ok(), "alice, elsewhere, does not");
        assert!(g.check("bob", attacker).is_ok(), "another login from the same address has its own count");
        g.succeeded("alice", attacker);
        assert!(g.check("alice", attacker).is_ok());
    }

    #[test]
    fn delays_double_up_to_a_bound() {
        let f = |count| Failures { count, last: Instant::now() };
        assert_eq!(f(2).wait(3), Duration::ZERO);
        assert_eq!(f(3).wait(3), Duration::from_secs(1));
        assert_eq!(f(5).wait(3), Duration::from_secs(4));
        assert_eq!(f(40).wait(3), SignInGuard::MAX_WAIT);
    }

    #[test]
    fn one_address_cannot_try_many_accounts() {
        let g = SignInGuard::default();
        let attacker = ip("203.0.113.9");
        for i in 0..SignInGuard::FREE_TRIES_PER_ADDRESS {
            let login = format!("member{i}");
            assert!(g.check(&login, attacker).is_ok(), "{login}");
            g.failed(&login, attacker);
        }
        assert!(g.check("someone_new", attacker).is_err());
    }
}

/// Apps registered per client network per hour. Registering needs no account, and an instance
/// keeps a bounded number of apps nobody has signed in to: without this, one address could fill
/// that bound and keep every new app out.
pub struct AppRegistrations {
    /// Registrations one network may make per [`AppRegistrations::WINDOW`] (0: no limit).
    per_window: u32,
    counts: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AppRegistrations {
    /// The default bound: enough for an office behind one address installing apps, not enough
    /// for one address to fill the instance's bound on unused apps.
    pub const DEFAULT_PER_HOUR: u32 = 30;
    pub const WINDOW: Duration = Duration::from_secs(3600);
    const CAPACITY: usize = 100_000;

    pub fn new(per_window: u32) -> AppRegistrations {
        AppRegistrations { per_window, counts: Mutex::default() }
    }

    /// Counts a registration from `from`; refused (429) past the bound.
    pub fn register(&self, from: IpAddr) -> Result<(), ApiError> {
        if self.per_window == 0 {
            return Ok(());
        }
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::CAPACITY {
            map.retain(|_, (start, _)| start.elapsed() < Self::WINDOW);
            if map.len() >= Self::CAPACITY {
                return Err(ApiError::TooManyRequests);
            }
        }
        let now = Instant::now();
        let entry = map.entry(network_of(from)).or_insert((now, 0));
        if entry.0.elapsed() >= Self::WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            let wait = Self::WINDOW.saturating_sub(entry.0.elapsed());
            return Err(ApiError::SlowDown(wait.as_secs().max(1)));
        }
        entry.1 += 1;
        Ok(())
    }
}

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
