//! Signing in: checking a login and password, throttled per client address so that guessing
//! is slow without letting anyone lock a member out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use roost_core::query;

use crate::passwords::{verify_password, MAX_PASSWORD};
use crate::{Error, Result, Service};

/// Checks a login (username or email) and password from a client address, counting failures
/// against the pair (see [`SignInGuard`]). The account on success; `None` for a wrong
/// login or password, with the same effort either way. A suspended account is refused (403).
pub async fn sign_in(
    svc: &Service,
    login: &str,
    password: String,
    from: std::net::IpAddr,
) -> Result<Option<roost_core::model::Account>> {
    svc.sign_ins().check(login, from)?;
    if password.len() > MAX_PASSWORD {
        return Ok(None);
    }
    let found = {
        let view = svc.read()?;
        if login.contains('@') {
            query::account_by_email(&view, login)?
        } else {
            query::account_by_username(&view, login)?
        }
    };
    let Some(account) = found else {
        // Spend the same effort as a real check, so timing does not reveal usernames.
        let _ = verify_password(svc, DUMMY_HASH.to_string(), password).await?;
        svc.sign_ins().failed(login, from);
        return Ok(None);
    };
    if !verify_password(svc, account.password_hash.clone(), password).await? {
        svc.sign_ins().failed(login, from);
        return Ok(None);
    }
    svc.sign_ins().succeeded(login, from);
    if query::suspended(&svc.read()?, account.id)? {
        return Err(Error::Forbidden("This account is suspended".into()));
    }
    Ok(Some(account))
}

/// Checks a signed-in member's current password before a change that needs it, throttled like
/// a sign-in (a stolen session must not be a way to guess the password).
pub async fn confirm_password(
    svc: &Service,
    account: &roost_core::model::Account,
    password: String,
    from: std::net::IpAddr,
) -> Result<bool> {
    svc.sign_ins().check(&account.username, from)?;
    let ok = verify_password(svc, account.password_hash.clone(), password).await?;
    if ok {
        svc.sign_ins().succeeded(&account.username, from);
    } else {
        svc.sign_ins().failed(&account.username, from);
    }
    Ok(ok)
}

/// An argon2id hash of a random password, checked against when the account does not exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4N7uDBcGNX6r1Dh7N2EmqRjdfuSNVl1DXg2iBDmK6Wk";

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
    pub fn check(&self, login: &str, from: IpAddr) -> Result<()> {
        let pair = Self::lock(&self.pairs).get(&Self::key(login, from)).and_then(|f| f.blocked_for(Self::FREE_TRIES));
        let address = Self::lock(&self.addresses)
            .get(&network_of(from))
            .and_then(|f| f.blocked_for(Self::FREE_TRIES_PER_ADDRESS));
        match pair.max(address) {
            // Rounded up: a client that waits as long as it is told is let in.
            Some(wait) => Err(Error::SlowDown((wait.as_millis().div_ceil(1000) as u64).max(1))),
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
        assert!(matches!(g.check("ALICE", attacker), Err(Error::SlowDown(_))), "the attacker waits");
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
