//! The raft log and vote, in the redb database.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{Entry, LogId, LogState, RaftLogReader, StorageError, StorageIOError, Vote};
use roost_store::{Durability, Store};
use tokio::sync::oneshot;

use crate::TypeConfig;

pub(crate) const VOTE: &str = "vote";
pub(crate) const PURGED: &str = "last_purged";
const COMMITTED: &str = "committed";

fn read_err(e: impl std::error::Error + 'static) -> StorageError<u64> {
    StorageIOError::read_logs(&e).into()
}

fn write_err(e: impl std::error::Error + 'static) -> StorageError<u64> {
    StorageIOError::write_logs(&e).into()
}

/// Runs blocking storage work off the async executor.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError<u64>> + Send + 'static,
) -> Result<T, StorageError<u64>> {
    tokio::task::spawn_blocking(f).await.map_err(write_err)?
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError<u64>> {
    postcard::from_bytes(bytes).map_err(read_err)
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StorageError<u64>> {
    postcard::to_stdvec(value).map_err(write_err)
}

/// Encoded entries by index.
type Encoded = Vec<(u64, Arc<Vec<u8>>)>;

/// An operation for the log writer thread, applied in submission order.
enum Op {
    /// Entries to make durable, and whom to tell.
    Append(Encoded, LogFlushed<TypeConfig>),
    /// Remove entries from this index on.
    Truncate(u64, oneshot::Sender<Result<(), StorageError<u64>>>),
    /// Remove entries up to this index, and remember the purged log id.
    Purge(u64, Vec<u8>, oneshot::Sender<Result<(), StorageError<u64>>>),
}

/// Entries handed to the writer but not yet known durable, by index. An index may be rewritten
/// after a truncation, so the writer removes an entry only if it is still the one it wrote.
type Unflushed = Arc<Mutex<BTreeMap<u64, Arc<Vec<u8>>>>>;

/// The log store; clones share the database and the writer thread.
///
/// `append` returns as soon as the entries are queued; a dedicated thread writes everything
/// queued since its last commit in one fsync'd transaction and then reports each batch
/// flushed. Openraft counts an entry only once it is reported flushed, so while one fsync runs
/// the next requests gather behind it: group commit.
#[derive(Clone)]
pub struct LogStore {
    store: Store,
    ops: std::sync::mpsc::Sender<Op>,
    unflushed: Unflushed,
}

impl LogStore {
    pub fn new(store: Store) -> LogStore {
        let (ops, rx) = std::sync::mpsc::channel();
        let unflushed = Unflushed::default();
        let writer = Writer { store: store.clone(), unflushed: unflushed.clone() };
        // The thread ends when the last LogStore clone (and so the last sender) is dropped.
        std::thread::Builder::new()
            .name("roost-log-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| tracing::error!("cannot start the log writer: {e}"))
            .ok();
        LogStore { store, ops, unflushed }
    }

    fn meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError<u64>> {
        let view = self.store.read().map_err(read_err)?;
        view.meta_get(key).map_err(read_err)?.map(|b| decode(&b)).transpose()
    }

    async fn put_meta<T: serde::Serialize>(
        &self,
        key: &'static str,
        value: &T,
        durability: Durability,
    ) -> Result<(), StorageError<u64>> {
        let bytes = encode(value)?;
        let store = self.store.clone();
        blocking(move || store.write(durability, |txn| txn.meta_put(key, &bytes)).map_err(write_err)).await
    }

    fn unflushed(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Vec<u8>>>> {
        // Every critical section leaves the map whole, so a poisoned lock is still usable.
        self.unflushed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, op: Op) -> Result<(), StorageError<u64>> {
        self.ops.send(op).map_err(|_| write_err(std::io::Error::other("the log writer has stopped")))
    }
}

struct Writer {
    store: Store,
    unflushed: Unflushed,
}

impl Writer {
    fn run(self, rx: std::sync::mpsc::Receiver<Op>) {
        let mut next: Option<Op> = None;
        loop {
            let op = match next.take() {
                Some(op) => op,
                None => match rx.recv() {
                    Ok(op) => op,
                    Err(_) => return,
                },
            };
            match op {
                Op::Append(entries, callback) => {
                    // Gather every append queued behind this one into the same commit.
                    let mut batch = vec![(entries, callback)];
                    while let Ok(op) = rx.try_recv() {
                        match op {
                            Op::Append(e, c) => batch.push((e, c)),
                            other => {
                                next = Some(other);
                                break;
                            }
                        }
                    }
                    self.flush(batch);
                }
                Op::Truncate(from, done) => {
                    let r = self.store.write(Durability::Durable, |txn| txn.log_remove(from..)).map_err(write_err);
                    let _ = done.send(r);
                }
                Op::Purge(upto, purged, done) => {
                    let r = self
                        .store
                        .write(Durability::Durable, |txn| {
                            txn.meta_put(PURGED, &purged)?;
                            txn.log_remove((Bound::Unbounded, Bound::Included(upto)))
                        })
                        .map_err(write_err);
                    let _ = done.send(r);
                }
            }
        }
    }

    fn flush(&self, batch: Vec<(Encoded, LogFlushed<TypeConfig>)>) {
        let t0 = std::time::Instant::now();
        let n: usize = batch.iter().map(|b| b.0.len()).sum();
        let result = self.store.write(Durability::Durable, |txn| {
            for (entries, _) in &batch {
                for (index, bytes) in entries {
                    txn.log_put(*index, bytes)?;
                }
            }
            Ok::<_, roost_store::StoreError>(())
        });
        tracing::trace!(entries = n, elapsed = ?t0.elapsed(), "log flush");
        if result.is_ok() {
            let mut unflushed = self.unflushed.lock().unwrap_or_else(|e| e.into_inner());
            for (entries, _) in &batch {
                for (index, bytes) in entries {
                    if unflushed.get(index).is_some_and(|b| Arc::ptr_eq(b, bytes)) {
                        unflushed.remove(index);
                    }
                }
            }
        }
        for (_, callback) in batch {
            callback.log_io_completed(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            });
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<u64>> {
        let range = (range.start_bound().cloned(), range.end_bound().cloned());
        let store = self.store.clone();
        let mut entries: BTreeMap<u64, Arc<Vec<u8>>> = blocking(move || {
            let view = store.read().map_err(read_err)?;
            Ok(view.log_range(range).map_err(read_err)?.into_iter().map(|(i, b)| (i, Arc::new(b))).collect())
        })
        .await?;
        // Entries still on their way to disk are part of the log too.
        for (index, bytes) in self.unflushed().range(range) {
            entries.insert(*index, bytes.clone());
        }
        entries.values().map(|b| decode(b)).collect()
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let last_purged_log_id: Option<LogId<u64>> = self.meta(PURGED)?;
        let view = self.store.read().map_err(read_err)?;
        let pending = self.unflushed().last_key_value().map(|(_, b)| b.clone());
        let last = match pending {
            Some(bytes) => Some(decode::<Entry<TypeConfig>>(&bytes)?.log_id),
            None => match view.log_last().map_err(read_err)? {
                Some((_, bytes)) => Some(decode::<Entry<TypeConfig>>(&bytes)?.log_id),
                None => last_purged_log_id,
            },
        };
        Ok(LogState { last_purged_log_id, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        self.put_meta(VOTE, vote, Durability::Durable).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        self.meta(VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<(), StorageError<u64>> {
        // Deferred: a lost committed index is only an optimisation lost; it is re-learned.
        self.put_meta(COMMITTED, &committed, Durability::Deferred).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.meta::<Option<LogId<u64>>>(COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let encoded = entries
            .into_iter()
            .map(|e| Ok((e.log_id.index, Arc::new(encode(&e)?))))
            .collect::<Result<Vec<_>, StorageError<u64>>>()?;
        {
            let mut unflushed = self.unflushed();
            for (index, bytes) in &encoded {
                unflushed.insert(*index, bytes.clone());
            }
        }
        self.send(Op::Append(encoded, callback))
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.unflushed().retain(|i, _| *i < log_id.index);
        let (tx, rx) = oneshot::channel();
        self.send(Op::Truncate(log_id.index, tx))?;
        rx.await.map_err(write_err)?
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let (tx, rx) = oneshot::channel();
        self.send(Op::Purge(log_id.index, encode(&log_id)?, tx))?;
        rx.await.map_err(write_err)?
    }
}
