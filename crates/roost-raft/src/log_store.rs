//! The raft log and vote, in the redb database.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{Entry, LogId, LogState, RaftLogReader, StorageError, StorageIOError, Vote};
use roost_store::{Durability, Store};

use crate::TypeConfig;

const VOTE: &str = "vote";
const PURGED: &str = "last_purged";
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

/// The log store; clones share the database.
#[derive(Clone)]
pub struct LogStore {
    store: Store,
}

impl LogStore {
    pub fn new(store: Store) -> LogStore {
        LogStore { store }
    }

    fn meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError<u64>> {
        let view = self.store.read().map_err(read_err)?;
        view.meta_get(key).map_err(read_err)?.map(|b| decode(&b)).transpose()
    }

    async fn put_meta<T: serde::Serialize>(&self, key: &'static str, value: &T, durability: Durability) -> Result<(), StorageError<u64>> {
        let bytes = encode(value)?;
        let store = self.store.clone();
        blocking(move || store.write(durability, |txn| txn.meta_put(key, &bytes)).map_err(write_err)).await
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<u64>> {
        let range = (range.start_bound().cloned(), range.end_bound().cloned());
        let store = self.store.clone();
        blocking(move || {
            let view = store.read().map_err(read_err)?;
            view.log_range(range).map_err(read_err)?.iter().map(|(_, b)| decode(b)).collect()
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let last_purged_log_id: Option<LogId<u64>> = self.meta(PURGED)?;
        let view = self.store.read().map_err(read_err)?;
        let last = match view.log_last().map_err(read_err)? {
            Some((_, bytes)) => Some(decode::<Entry<TypeConfig>>(&bytes)?.log_id),
            None => last_purged_log_id,
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
            .map(|e| Ok((e.log_id.index, encode(&e)?)))
            .collect::<Result<Vec<_>, StorageError<u64>>>()?;
        let store = self.store.clone();
        // One durable transaction for the whole batch: this is the group commit.
        let result = blocking(move || {
            store
                .write(Durability::Durable, |txn| {
                    for (index, bytes) in &encoded {
                        txn.log_put(*index, bytes)?;
                    }
                    Ok::<_, roost_store::StoreError>(())
                })
                .map_err(write_err)
        })
        .await;
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let store = self.store.clone();
        blocking(move || store.write(Durability::Durable, |txn| txn.log_remove(log_id.index..)).map_err(write_err)).await
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let bytes = encode(&log_id)?;
        let store = self.store.clone();
        blocking(move || {
            store
                .write(Durability::Durable, |txn| {
                    txn.meta_put(PURGED, &bytes)?;
                    txn.log_remove((Bound::Unbounded, Bound::Included(log_id.index)))
                })
                .map_err(write_err)
        })
        .await
    }
}
