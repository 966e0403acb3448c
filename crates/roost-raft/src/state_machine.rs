//! Applying committed entries to the state tables, and snapshots of the state.

use std::io::Cursor;
use std::sync::{Arc, Mutex, RwLock};

use roost_core::effects::{Effects, Event};
use roost_core::home::{HomeIndex, HomeSource};

use openraft::storage::RaftStateMachine;
use openraft::BasicNode;
use openraft::{
    Entry, EntryPayload, LogId, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use roost_store::{Durability, ReadView, Store, StoreError};
use roost_types::Outcome;
use serde::{Deserialize, Serialize};

use crate::chain::{chain_step, ChainHead};
use crate::log_store::blocking;
use crate::TypeConfig;

/// The longest a state-machine commit stays non-durable. Shorter means more fsyncs; longer
/// means more log to re-apply after a crash.
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

const APPLIED: &str = "sm_applied";
const MEMBERSHIP: &str = "sm_membership";
const CHAIN: &str = "sm_chain";

fn sm_read_err(e: impl std::error::Error + 'static) -> StorageError<u64> {
    StorageIOError::read_state_machine(&e).into()
}

fn sm_write_err(e: impl std::error::Error + 'static) -> StorageError<u64> {
    StorageIOError::write_state_machine(&e).into()
}

fn snap_err(e: impl std::error::Error + 'static) -> StorageError<u64> {
    StorageIOError::read_snapshot(None, &e).into()
}

fn get<T: serde::de::DeserializeOwned + Default>(bytes: Option<Vec<u8>>) -> Result<T, StoreError> {
    match bytes {
        Some(b) => postcard::from_bytes(&b).map_err(|e| StoreError::Engine(format!("decode meta: {e}"))),
        None => Ok(T::default()),
    }
}

fn put<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|e| StoreError::Engine(format!("encode meta: {e}")))
}

pub(crate) fn read_chain(view: &ReadView) -> Result<ChainHead, crate::Error> {
    Ok(get(view.meta_get(CHAIN)?)?)
}

/// Everything a snapshot holds. Built from one read transaction, so it is consistent.
#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    chain: ChainHead,
    /// Raw state entries: keys with their table prefix.
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The state machine store; clones share the database.
#[derive(Clone)]
pub struct StateMachine {
    store: Store,
    /// The last snapshot built or installed, shared with the snapshot builders (clones).
    current: Arc<Mutex<Option<CurrentSnapshot>>>,
    /// When the state was last made durable.
    last_checkpoint: std::time::Instant,
    /// The derived home-timeline index, fed after each applied transaction commits.
    home: SharedHome,
    /// Where the events of each committed transaction go, for live streams.
    events: tokio::sync::broadcast::Sender<Events>,
}

/// The events of one applied batch, in log order.
pub type Events = Arc<[Event]>;

/// Batches of events kept for a slow listener before it starts missing them.
const EVENT_BACKLOG: usize = 1024;

/// A shared handle to the home-timeline index.
#[derive(Clone, Default)]
pub struct SharedHome(Arc<RwLock<HomeIndex>>);

impl SharedHome {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HomeIndex> {
        // Insertions leave the index whole at every step, so a poisoned lock is still usable.
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl HomeSource for SharedHome {
    fn range(&self, account: u64, after: Option<u64>, before: Option<u64>, oldest_first: bool) -> Vec<u64> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).range(account, after, before, oldest_first)
    }
}

/// The most posts walked when rebuilding home timelines at start-up.
const REBUILD_POSTS: usize = 2_000_000;

type CurrentSnapshot = (SnapshotMeta<u64, BasicNode>, Vec<u8>);

/// Brings the stored state to the record format this binary reads (`roost_core::migrate`).
fn migrate(store: &Store) -> Result<(), crate::Error> {
    let started = std::time::Instant::now();
    let from =
        store.write(Durability::Durable, |txn| Ok::<_, StoreError>(roost_core::migrate::migrate(&mut txn.state)?))?;
    if let Some(from) = from {
        tracing::info!(from, to = roost_core::migrate::FORMAT, elapsed = ?started.elapsed(), "state format upgraded");
    }
    Ok(())
}

impl StateMachine {
    /// Opens the state machine over a store, rebuilding the home index from its state.
    pub fn new(store: Store) -> Result<StateMachine, crate::Error> {
        migrate(&store)?;
        let started = std::time::Instant::now();
        let index = HomeIndex::rebuild(&store.read()?, REBUILD_POSTS).map_err(|e| crate::Error::Store(e.into()))?;
        tracing::info!(elapsed = ?started.elapsed(), "home timelines rebuilt");
        Ok(StateMachine {
            store,
            current: Arc::default(),
            last_checkpoint: std::time::Instant::now(),
            home: SharedHome(Arc::new(RwLock::new(index))),
            events: tokio::sync::broadcast::channel(EVENT_BACKLOG).0,
        })
    }

    /// The channel that carries the events of every committed transaction. A listener that
    /// falls more than [`EVENT_BACKLOG`] batches behind misses the oldest (and is told so).
    pub(crate) fn event_sender(&self) -> tokio::sync::broadcast::Sender<Events> {
        self.events.clone()
    }

    /// The home-timeline index this state machine feeds.
    pub fn home(&self) -> SharedHome {
        self.home.clone()
    }

    /// The chain head this state machine has reached.
    pub fn chain_head(&self) -> Result<ChainHead, crate::Error> {
        read_chain(&self.store.read()?)
    }

    /// The digest of its whole state.
    pub fn state_digest(&self) -> Result<[u8; 32], crate::Error> {
        roost_core::digest(&self.store.read()?).map_err(|e| crate::Error::Store(e.into()))
    }

    fn set_current(&self, snapshot: CurrentSnapshot) {
        // A poisoned lock still holds a whole value: the guard is only ever replaced whole.
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        let view = self.store.read().map_err(sm_read_err)?;
        let applied = get(view.meta_get(APPLIED).map_err(sm_read_err)?).map_err(sm_read_err)?;
        let membership = get(view.meta_get(MEMBERSHIP).map_err(sm_read_err)?).map_err(sm_read_err)?;
        Ok((applied, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<Outcome>>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let store = self.store.clone();
        let t0 = std::time::Instant::now();
        let n: usize = entries
            .iter()
            .map(|e| match &e.payload {
                EntryPayload::Normal(requests) => requests.len(),
                _ => 1,
            })
            .sum();
        // Deferred durability: the log holds these entries durably already, and a restart
        // re-applies from the last durable applied index. Every CHECKPOINT_INTERVAL one commit
        // is made durable, which makes the deferred ones before it durable too.
        let durability = if self.last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL {
            self.last_checkpoint = std::time::Instant::now();
            Durability::Durable
        } else {
            Durability::Deferred
        };
        let r = blocking(move || {
            store
                .write(durability, |txn| {
                    let mut fx = Effects::default();
                    let mut chain: ChainHead = get(txn.meta_get(CHAIN)?)?;
                    let mut membership: Option<StoredMembership<u64, BasicNode>> = None;
                    let mut outcomes = Vec::with_capacity(entries.len());
                    for entry in &entries {
                        let outcome = match &entry.payload {
                            EntryPayload::Blank => Vec::new(),
                            EntryPayload::Normal(requests) => requests
                                .iter()
                                .map(|req| roost_core::apply(&mut txn.state, req, &mut fx))
                                .collect::<Result<Vec<_>, _>>()?,
                            EntryPayload::Membership(m) => {
                                membership = Some(StoredMembership::new(Some(entry.log_id), m.clone()));
                                Vec::new()
                            }
                        };
                        let payload = put(&entry.payload)?;
                        chain = ChainHead {
                            index: entry.log_id.index,
                            head: chain_step(&chain.head, entry.log_id.index, entry.log_id.leader_id.term, &payload),
                        };
                        outcomes.push(outcome);
                    }
                    if let Some(last) = entries.last() {
                        txn.meta_put(APPLIED, &put(&Some(last.log_id))?)?;
                        txn.meta_put(CHAIN, &put(&chain)?)?;
                    }
                    if let Some(m) = membership {
                        txn.meta_put(MEMBERSHIP, &put(&m)?)?;
                    }
                    Ok::<_, StoreError>((outcomes, fx))
                })
                .map_err(sm_write_err)
        })
        .await;
        // The transaction committed: readers may now see these posts in home timelines, and
        // live streams may report them.
        let r = r.map(|(outcomes, fx)| {
            self.home.write().apply(&fx.home);
            if !fx.events.is_empty() && self.events.receiver_count() > 0 {
                // Nobody listening is not an error: the events are simply not needed.
                let _ = self.events.send(fx.events.into());
            }
            outcomes
        });
        tracing::trace!(requests = n, elapsed = ?t0.elapsed(), "apply");
        r
    }

    async fn get_snapshot_builder(&mut self) -> StateMachine {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let bytes = snapshot.into_inner();
        let file: SnapshotFile = postcard::from_bytes(&bytes).map_err(snap_err)?;
        let store = self.store.clone();
        blocking(move || {
            store
                .write(Durability::Durable, |txn| {
                    txn.clear_state()?;
                    for (k, v) in &file.entries {
                        txn.put_raw_state(k, v)?;
                    }
                    txn.meta_put(APPLIED, &put(&file.applied)?)?;
                    txn.meta_put(MEMBERSHIP, &put(&file.membership)?)?;
                    txn.meta_put(CHAIN, &put(&file.chain)?)
                })
                .map_err(sm_write_err)
        })
        .await?;
        // A snapshot from a node running an older binary arrives in its format.
        migrate(&self.store).map_err(|e| sm_read_err(std::io::Error::other(e.to_string())))?;
        let index = HomeIndex::rebuild(&self.store.read().map_err(sm_read_err)?, REBUILD_POSTS)
            .map_err(|e| sm_read_err(std::io::Error::other(e.to_string())))?;
        *self.home.write() = index;
        self.set_current((meta.clone(), bytes));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        Ok(current
            .as_ref()
            .map(|(meta, bytes)| Snapshot { meta: meta.clone(), snapshot: Box::new(Cursor::new(bytes.clone())) }))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let store = self.store.clone();
        let file = blocking(move || {
            // Make every deferred state-machine commit durable before the log behind it may be
            // purged.
            store.write(Durability::Durable, |_| Ok::<_, StoreError>(())).map_err(sm_write_err)?;
            let view = store.read().map_err(sm_read_err)?;
            let mut entries = Vec::new();
            view.state_entries(&mut |k, v| {
                entries.push((k.to_vec(), v.to_vec()));
                Ok(())
            })
            .map_err(sm_read_err)?;
            Ok(SnapshotFile {
                applied: get(view.meta_get(APPLIED).map_err(sm_read_err)?).map_err(sm_read_err)?,
                membership: get(view.meta_get(MEMBERSHIP).map_err(sm_read_err)?).map_err(sm_read_err)?,
                chain: read_chain(&view).map_err(|e| sm_read_err(std::io::Error::other(e.to_string())))?,
                entries,
            })
        })
        .await?;
        let bytes = postcard::to_stdvec(&file).map_err(snap_err)?;
        let snapshot_id = match file.applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, file.chain.hex()),
            None => format!("empty-{}", file.chain.hex()),
        };
        let meta = SnapshotMeta { last_log_id: file.applied, last_membership: file.membership, snapshot_id };
        self.set_current((meta.clone(), bytes.clone()));
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(bytes)) })
    }
}
