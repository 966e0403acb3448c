//! Roost's embedded durable storage, on redb: one database file holding the state machine's
//! tables, the raft log and the raft metadata (vote, applied index, chain head).
//!
//! # Invariants
//! - Everything one applied batch changes (state tables, applied index, chain head) commits in
//!   one redb transaction: a crash leaves either all of it or none.
//! - A transaction with [`Durability::Durable`] is on disk when [`Store::write`] returns, and so
//!   is every earlier [`Durability::Deferred`] one (redb persists them with the next durable
//!   commit). The raft log is always written durably; state-machine batches are deferred because
//!   the log already holds them and is replayed from the applied index after a crash.
//!
//! # Boundaries
//! Only this crate knows redb. The state machine sees [`roost_core::Tables`]; the replication
//! layer sees [`Txn`] and [`ReadView`].

use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use cache::{Row, RowCache, RowKey, Written};
use redb::{Database, ReadOnlyTable, ReadableDatabase, ReadableTable, TableDefinition};
use roost_core::kv::{bounds_empty, full_bounds, full_key, walk, Dir, Visitor};
use roost_core::{ReadTables, Table, Tables};

const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

/// redb's page cache per database. At the benchmark scale (4.7 GB of state at the time), 2 GiB
/// instead of 256 MiB changed neither posting nor reading speed: the OS page cache serves the
/// rest.
const CACHE_BYTES: usize = 256 * 1024 * 1024;

/// Storage failures. They are not recoverable by retrying the same operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened (in use by another process, unreadable, …).
    #[error("cannot open the database: {0}")]
    Open(String),
    /// redb failed during a transaction.
    #[error("storage engine: {0}")]
    Engine(String),
    /// The state machine failed inside a transaction.
    #[error(transparent)]
    Core(#[from] roost_core::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn engine(e: impl std::fmt::Display) -> StoreError {
    StoreError::Engine(e.to_string())
}

/// How durable a write transaction must be when it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync'd before returning.
    Durable,
    /// Visible to readers at once, on disk with the next durable commit.
    Deferred,
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    /// Recently read state rows; see [`cache`].
    rows: Option<Arc<RowCache>>,
}

impl Store {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<Store> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| StoreError::Open(e.to_string()))?;
        // The database holds every direct message and password hash: its owner's eyes only,
        // whatever the umask or the file copied in (`roost restore`) said.
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| StoreError::Open(format!("restricting {}: {e}", path.display())))?;
        let store = Store { db: Arc::new(db), rows: None };
        // Create the tables so that read transactions can always open them.
        store.write(Durability::Durable, |_| Ok::<_, StoreError>(()))?;
        Ok(store)
    }

    /// Caches state rows that readers look up (see [`cache`]): for the state machine's store,
    /// whose rows timelines read over and over.
    pub fn with_row_cache(mut self) -> Store {
        self.rows = Some(Arc::new(RowCache::new()));
        self
    }

    /// Runs `f` in one write transaction and commits it. If `f` fails nothing is written.
    pub fn write<R, E: From<StoreError>>(
        &self,
        durability: Durability,
        f: impl FnOnce(&mut Txn<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut wt = self.db.begin_write().map_err(engine)?;
        let level = match durability {
            Durability::Durable => redb::Durability::Immediate,
            Durability::Deferred => redb::Durability::None,
        };
        wt.set_durability(level).map_err(engine)?;
        let (result, written) = {
            let mut txn = Txn {
                state: StateTables {
                    table: wt.open_table(STATE).map_err(engine)?,
                    written: Written::Nothing,
                    track: self.rows.is_some(),
                },
                log: wt.open_table(LOG).map_err(engine)?,
                meta: wt.open_table(META).map_err(engine)?,
            };
            let result = f(&mut txn)?;
            (result, std::mem::take(&mut txn.state.written))
        };
        wt.commit().map_err(engine)?;
        if let Some(rows) = &self.rows {
            rows.evict(written);
        }
        Ok(result)
    }

    /// A consistent snapshot of everything, for reads. Never blocks writers.
    pub fn read(&self) -> Result<ReadView> {
        // The generation is noted before the snapshot is opened; see `cache`.
        let rows = self.rows.as_ref().map(|rows| (rows.clone(), rows.generation()));
        let rt = self.db.begin_read().map_err(engine)?;
        Ok(ReadView {
            rows,
            state: rt.open_table(STATE).map_err(engine)?,
            log: rt.open_table(LOG).map_err(engine)?,
            meta: rt.open_table(META).map_err(engine)?,
        })
    }
}

/// One write transaction's tables.
pub struct Txn<'a> {
    pub state: StateTables<'a>,
    log: redb::Table<'a, u64, &'static [u8]>,
    meta: redb::Table<'a, &'static str, &'static [u8]>,
}

impl Txn<'_> {
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(key).map_err(engine)?.map(|v| v.value().to_vec()))
    }

    pub fn meta_put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.meta.insert(key, value).map_err(engine)?;
        Ok(())
    }

    pub fn meta_delete(&mut self, key: &str) -> Result<()> {
        self.meta.remove(key).map_err(engine)?;
        Ok(())
    }

    pub fn log_put(&mut self, index: u64, entry: &[u8]) -> Result<()> {
        self.log.insert(index, entry).map_err(engine)?;
        Ok(())
    }

    /// Removes the log entries in a range of indexes.
    pub fn log_remove(&mut self, range: impl RangeBounds<u64>) -> Result<()> {
        self.log.retain_in(range, |_, _| false).map_err(engine)?;
        Ok(())
    }

    /// Removes every state table entry (before installing a snapshot).
    pub fn clear_state(&mut self) -> Result<()> {
        self.state.table.retain(|_, _| false).map_err(engine)?;
        self.state.written = Written::Everything;
        Ok(())
    }

    /// Puts a raw state entry (key including its table prefix), as read from a snapshot.
    pub fn put_raw_state(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.state.table.insert(key, value).map_err(engine)?;
        self.state.wrote(key);
        Ok(())
    }
}

/// The state machine's tables inside a write transaction.
pub struct StateTables<'a> {
    table: redb::Table<'a, &'static [u8], &'static [u8]>,
    /// The keys written, for the row cache to evict after the commit.
    written: Written,
    track: bool,
}

impl StateTables<'_> {
    fn wrote(&mut self, key: &[u8]) {
        if self.track {
            self.written.key(key);
        }
    }
}

fn core_err(e: impl std::fmt::Display) -> roost_core::Error {
    roost_core::Error::Store(e.to_string())
}

/// Scans a redb table of byte keys on behalf of [`ReadTables::scan`].
fn scan_table(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    t: Table,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    dir: Dir,
    visit: &mut Visitor<'_>,
) -> roost_core::Result<()> {
    let bounds = full_bounds(t, lo, hi);
    if bounds_empty(&bounds) {
        return Ok(());
    }
    let range = (bounds.0.as_ref().map(Vec::as_slice), bounds.1.as_ref().map(Vec::as_slice));
    let iter = table.range::<&[u8]>(range).map_err(core_err)?;
    walk(iter, dir, |item| {
        let (k, v) = item.map_err(core_err)?;
        visit(&k.value()[1..], v.value())
    })
}

impl ReadTables for StateTables<'_> {
    fn get(&self, table: Table, key: &[u8]) -> roost_core::Result<Option<Vec<u8>>> {
        Ok(self.table.get(full_key(table, key).as_slice()).map_err(core_err)?.map(|v| v.value().to_vec()))
    }

    fn scan(
        &self,
        table: Table,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        dir: Dir,
        visit: &mut Visitor<'_>,
    ) -> roost_core::Result<()> {
        scan_table(&self.table, table, lo, hi, dir, visit)
    }
}

impl Tables for StateTables<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> roost_core::Result<()> {
        let key = full_key(table, key);
        self.table.insert(key.as_slice(), value).map_err(core_err)?;
        self.wrote(&key);
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> roost_core::Result<bool> {
        let key = full_key(table, key);
        let existed = self.table.remove(key.as_slice()).map_err(core_err)?.is_some();
        self.wrote(&key);
        Ok(existed)
    }
}

/// A callback over raw state entries (keys with their table prefix).
pub type RawVisitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// A read snapshot of the whole database.
pub struct ReadView {
    /// The row cache with the generation noted before this snapshot was opened.
    rows: Option<(Arc<RowCache>, u64)>,
    state: ReadOnlyTable<&'static [u8], &'static [u8]>,
    log: ReadOnlyTable<u64, &'static [u8]>,
    meta: ReadOnlyTable<&'static str, &'static [u8]>,
}

impl ReadView {
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(key).map_err(engine)?.map(|v| v.value().to_vec()))
    }

    /// Log entries in a range of indexes, in order.
    pub fn log_range(&self, range: impl RangeBounds<u64>) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.log.range(range).map_err(engine)? {
            let (k, v) = item.map_err(engine)?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The last log entry, if any.
    pub fn log_last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        Ok(self.log.last().map_err(engine)?.map(|(k, v)| (k.value(), v.value().to_vec())))
    }

    /// Every raw state entry (key including its table prefix), in key order, for snapshots.
    pub fn state_entries(&self, visit: &mut RawVisitor<'_>) -> Result<()> {
        for item in self.state.iter().map_err(engine)? {
            let (k, v) = item.map_err(engine)?;
            visit(k.value(), v.value())?;
        }
        Ok(())
    }
}

impl ReadTables for ReadView {
    fn get(&self, table: Table, key: &[u8]) -> roost_core::Result<Option<Vec<u8>>> {
        let key = full_key(table, key);
        let (Some((rows, generation)), Some(cached_key)) = (&self.rows, RowKey::new(&key)) else {
            return Ok(self.state.get(key.as_slice()).map_err(core_err)?.map(|v| v.value().to_vec()));
        };
        if let Some(row) = rows.get(&cached_key) {
            return Ok(row.map(|v| v.to_vec()));
        }
        let row: Row = self.state.get(key.as_slice()).map_err(core_err)?.map(|v| Arc::from(v.value()));
        let value = row.as_ref().map(|v| v.to_vec());
        rows.insert(*generation, cached_key, row);
        Ok(value)
    }

    fn scan(
        &self,
        table: Table,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        dir: Dir,
        visit: &mut Visitor<'_>,
    ) -> roost_core::Result<()> {
        scan_table(&self.state, table, lo, hi, dir, visit)
    }
}

mod cache;
#[cfg(test)]
mod tests;
