//! A cache of state rows in front of redb, kept coherent by the writer.
//!
//! Reading a timeline looks up the same few thousand rows (recent posts, their authors, the
//! reader's follows and token) again and again; each lookup walks redb's B-tree. The cache keeps
//! recently read rows — and the fact that a key is absent — by their full key.
//!
//! # Coherence
//! A read snapshot may be older than the cache, so a reader must never insert a value that a
//! later commit replaced. Every write transaction records the keys it writes; after the commit
//! the writer, holding `generation` exclusively, bumps the generation and evicts those keys. A
//! reader notes the generation *before* it opens its snapshot and inserts what it read only if,
//! holding `generation` shared, the generation is still the same: then no commit has evicted
//! since, and any commit not yet evicted will evict the key after the insert. Cache hits may
//! therefore come from commits newer than the reader's snapshot, never older ones; callers that
//! need a given write wait for its applied index first, and eviction happens before `write`
//! returns, so before the index is published.

use std::sync::RwLock;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

/// What the cache holds per key: the row, or `None` for a key known to be absent.
pub(crate) type Row = Option<std::sync::Arc<[u8]>>;

/// A full key (table prefix and key), stored inline: comparing keys in the cache then touches
/// no other memory. Longer keys (hashtags, usernames) are not cached.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RowKey {
    len: u8,
    bytes: [u8; RowKey::MAX],
}

impl RowKey {
    const MAX: usize = 40;

    pub(crate) fn new(key: &[u8]) -> Option<RowKey> {
        let mut bytes = [0; RowKey::MAX];
        bytes.get_mut(..key.len())?.copy_from_slice(key);
        Some(RowKey { len: key.len() as u8, bytes })
    }

    fn len(&self) -> u64 {
        u64::from(self.len)
    }
}

/// The bytes the cache may hold, counting keys, values and a per-entry overhead.
const CAPACITY_BYTES: u64 = 192 * 1024 * 1024;
const ENTRY_OVERHEAD: u64 = 64;

#[derive(Clone)]
struct RowWeight;

impl Weighter<RowKey, Row> for RowWeight {
    fn weight(&self, key: &RowKey, row: &Row) -> u64 {
        ENTRY_OVERHEAD + key.len() + row.as_ref().map_or(0, |v| v.len() as u64)
    }
}

pub(crate) struct RowCache {
    rows: Cache<RowKey, Row, RowWeight>,
    generation: RwLock<u64>,
}

/// The keys one write transaction changed.
#[derive(Default)]
pub(crate) enum Written {
    #[default]
    Nothing,
    Keys(Vec<RowKey>),
    /// The whole state was replaced (a snapshot install).
    Everything,
}

impl Written {
    pub(crate) fn key(&mut self, key: &[u8]) {
        // A key too long to be cached needs no eviction.
        let Some(key) = RowKey::new(key) else { return };
        match self {
            Written::Nothing => *self = Written::Keys(vec![key]),
            Written::Keys(keys) => keys.push(key),
            Written::Everything => {}
        }
    }
}

impl RowCache {
    pub(crate) fn new() -> RowCache {
        RowCache {
            rows: Cache::with_weighter((CAPACITY_BYTES / 512) as usize, CAPACITY_BYTES, RowWeight),
            generation: RwLock::new(0),
        }
    }

    /// The generation to note before opening a read snapshot.
    pub(crate) fn generation(&self) -> u64 {
        *self.generation.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, key: &RowKey) -> Option<Row> {
        self.rows.get(key)
    }

    /// Remembers a row read from a snapshot opened at `generation`, unless a commit has been
    /// evicted since.
    pub(crate) fn insert(&self, generation: u64, key: RowKey, row: Row) {
        let current = self.generation.read().unwrap_or_else(|e| e.into_inner());
        if *current == generation {
            self.rows.insert(key, row);
        }
    }

    /// Called after a write transaction committed.
    pub(crate) fn evict(&self, written: Written) {
        if matches!(written, Written::Nothing) {
            return;
        }
        let mut generation = self.generation.write().unwrap_or_else(|e| e.into_inner());
        *generation += 1;
        match written {
            Written::Nothing => {}
            Written::Keys(keys) => {
                for key in keys {
                    self.rows.remove(&key);
                }
            }
            Written::Everything => self.rows.clear(),
        }
    }
}
