//! Node-local guards against abuse. They are not replicated state: each node protects itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ApiError;

/// Failed password sign-ins per login name. After [`SignInGuard::MAX_FAILURES`] failures within
/// [`SignInGuard::WINDOW`], further attempts for that name are refused with 429 until the
/// window passes: this slows password guessing and stops it from burning CPU on argon2.
#[derive(Default)]
pub struct SignInGuard {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl SignInGuard {
    pub const MAX_FAILURES: u32 = 10;
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);
    /// Names tracked at once; beyond this, expired entries are dropped (then all, if need be).
    const CAPACITY: usize = 100_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        // Entries are replaced whole, so a poisoned lock is still consistent.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuses a sign-in attempt for a login that failed too often recently.
    pub fn check(&self, login: &str) -> Result<(), ApiError> {
        let key = login.to_lowercase();
        let mut map = self.lock();
        match map.get(&key) {
            Some(&(_, since)) if since.elapsed() >= Self::WINDOW => {
                map.remove(&key);
                Ok(())
            }
            Some(&(n, _)) if n >= Self::MAX_FAILURES => Err(ApiError::TooManyRequests),
            _ => Ok(()),
        }
    }

    pub fn failed(&self, login: &str) {
        let mut map = self.lock();
        if map.len() >= Self::CAPACITY {
            map.retain(|_, (_, since)| since.elapsed() < Self::WINDOW);
            if map.len() >= Self::CAPACITY {
                map.clear();
            }
        }
        let entry = map.entry(login.to_lowercase()).or_insert((0, Instant::now()));
        entry.0 += 1;
    }

    pub fn succeeded(&self, login: &str) {
        self.lock().remove(&login.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_repeated_failures_per_login() {
        let g = SignInGuard::default();
        for _ in 0..SignInGuard::MAX_FAILURES {
            assert!(g.check("Alice").is_ok());
            g.failed("alice");
        }
        assert!(matches!(g.check("ALICE"), Err(ApiError::TooManyRequests)));
        assert!(g.check("bob").is_ok());
        g.succeeded("alice");
        assert!(g.check("alice").is_ok());
    }
}
