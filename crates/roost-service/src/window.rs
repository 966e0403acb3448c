//! Counting what a caller does per period, on this node (app registrations per network,
//! uploads per member): a fixed window per key, in a map of bounded size.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Error, Result};

pub(crate) struct PerWindow<K> {
    /// What one key may do per window (0: no limit).
    per_window: u32,
    window: Duration,
    counts: Mutex<HashMap<K, (Instant, u32)>>,
}

/// Keys tracked at most; past it, expired windows are dropped, and if none has expired the
/// caller is refused rather than the map grown.
const CAPACITY: usize = 100_000;

impl<K: Hash + Eq> PerWindow<K> {
    pub(crate) fn new(per_window: u32, window: Duration) -> PerWindow<K> {
        PerWindow { per_window, window, counts: Mutex::default() }
    }

    /// Counts one use by `key`; refused (429 with the wait) past the bound.
    pub(crate) fn count(&self, key: K) -> Result<()> {
        if self.per_window == 0 {
            return Ok(());
        }
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CAPACITY {
            map.retain(|_, (start, _)| start.elapsed() < self.window);
            if map.len() >= CAPACITY {
                return Err(Error::TooManyRequests);
            }
        }
        let now = Instant::now();
        let entry = map.entry(key).or_insert((now, 0));
        if entry.0.elapsed() >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            let wait = self.window.saturating_sub(entry.0.elapsed());
            return Err(Error::SlowDown(wait.as_secs().max(1)));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_window() {
        let w = PerWindow::new(2, Duration::from_secs(3600));
        assert!(w.count(1).is_ok());
        assert!(w.count(1).is_ok());
        assert!(matches!(w.count(1), Err(Error::SlowDown(s)) if s > 3500));
        assert!(w.count(2).is_ok());
        let unlimited = PerWindow::new(0, Duration::from_secs(1));
        assert!((0..10).all(|_| unlimited.count(1).is_ok()));
    }
}
