//! Applying committed entries to the state tables, and snapshots of the state.

use std::path::PathBuf;
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
use serde::Serialize;

use crate::chain::{chain_step, ChainHead};
use crate::log_store::blocking;
use crate::TypeConfig;

/// The longest a state-machine commit stays non-durable. Shorter means more fsyncs; longer
/// means more log to re-apply after a crash.
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

pub(crate) const APPLIED: &str = "sm_applied";
pub(crate) const MEMBERSHIP: &str = "sm_membership";
pub(crate) const CHAIN: &str = "sm_chain";

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

/// The state machine store; clones share the database.
#[derive(Clone)]
pub struct StateMachine {
    store: Store,
    /// The last snapshot built or installed (its file), shared with the snapshot builders.
    current: Arc<Mutex<Option<CurrentSnapshot>>>,
    /// Where snapshot files live.
    snapshots: PathBuf,
    /// The file a snapshot being received from the leader is written to.
    receiving: Arc<Mutex<Option<PathBuf>>>,
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

type CurrentSnapshot = (SnapshotMeta<u64, BasicNode>, PathBuf);

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
    /// Opens the state machine over a store (with its snapshots in `data_dir/snapshots`),
    /// rebuilding the home index from its state.
    pub fn new(store: Store, data_dir: &std::path::Path) -> Result<StateMachine, crate::Error> {
        let snapshots =
            crate::snapshot::dir(data_dir).map_err(|e| crate::Error::Store(StoreError::Engine(e.to_string())))?;
        discard_partial_install(&store)?;
        let current = latest_snapshot(&snapshots);
        if let Some((meta, path)) = &current {
            catch_up_to_snapshot(&store, meta, path)?;
        }
        migrate(&store)?;
        let started = std::time::Instant::now();
        let index = HomeIndex::rebuild(&store.read()?, REBUILD_POSTS).map_err(|e| crate::Error::Store(e.into()))?;
        tracing::info!(elapsed = ?started.elapsed(), "home timelines rebuilt");
        Ok(StateMachine {
            store,
            current: Arc::new(Mutex::new(current)),
            snapshots,
            receiving: Arc::default(),
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

    /// Makes `snapshot` the current one and deletes the file of the one it replaces.
    fn set_current(&self, snapshot: CurrentSnapshot) {
        // A poisoned lock still holds a whole value: the guard is only ever replaced whole.
        let old = self.current.lock().unwrap_or_else(|e| e.into_inner()).replace(snapshot.clone());
        if let Some((_, path)) = old.filter(|(_, p)| *p != snapshot.1) {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), "removing an old snapshot: {e}");
            }
        }
    }
}

/// A state left half-installed by a crash is thrown away: raft sends the snapshot again.
fn discard_partial_install(store: &Store) -> Result<(), crate::Error> {
    let partial = store.read()?.meta_get(crate::snapshot::INSTALLING)?.is_some();
    if partial {
        tracing::warn!("a snapshot install was interrupted: clearing the partial state, the leader sends it again");
        store.write(Durability::Durable, |txn| {
            txn.clear_state()?;
            for key in [APPLIED, MEMBERSHIP, CHAIN, crate::snapshot::INSTALLING] {
                txn.meta_delete(key)?;
            }
            Ok::<_, StoreError>(())
        })?;
    }
    Ok(())
}

/// A state found behind its own snapshot (a crash after an older binary built a snapshot
/// that included commits not yet durable) is replaced by that snapshot, which is complete and
/// checked: raft refuses to start with a snapshot newer than the state, and the log behind the
/// snapshot may have been purged.
fn catch_up_to_snapshot(
    store: &Store,
    meta: &SnapshotMeta<u64, BasicNode>,
    path: &std::path::Path,
) -> Result<(), crate::Error> {
    let applied: Option<LogId<u64>> = get(store.read()?.meta_get(APPLIED)?)?;
    if meta.last_log_id.map(|l| l.index) <= applied.map(|l| l.index) {
        return Ok(());
    }
    tracing::warn!(
        state = ?applied.map(|l| l.index),
        snapshot = ?meta.last_log_id.map(|l| l.index),
        "the state is behind its snapshot: installing the snapshot"
    );
    crate::snapshot::install(path, store, |txn, h| {
        txn.meta_put(APPLIED, &put(&h.applied)?)?;
        txn.meta_put(MEMBERSHIP, &put(&h.membership)?)?;
        txn.meta_put(CHAIN, &put(&h.chain)?)
    })
    .map_err(|e| crate::Error::Store(StoreError::Engine(e.to_string())))?;
    Ok(())
}

/// The newest complete snapshot file in `dir` (removing anything else there).
fn latest_snapshot(dir: &std::path::Path) -> Option<CurrentSnapshot> {
    let mut found: Vec<(SnapshotMeta<u64, BasicNode>, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let complete = path.extension().is_some_and(|e| e == "snap") && !path.to_string_lossy().contains("incoming-");
        match complete.then(|| crate::snapshot::header(&path)) {
            Some(Ok(h)) => found.push((meta_of(&h), path)),
            _ => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    found.sort_by_key(|(m, _)| m.last_log_id.map(|l| l.index));
    let newest = found.pop();
    for (_, old) in found {
        let _ = std::fs::remove_file(old);
    }
    newest
}

fn meta_of(h: &crate::snapshot::Header) -> SnapshotMeta<u64, BasicNode> {
    let snapshot_id = match h.applied {
        Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, h.chain.hex()),
        None => format!("empty-{}", h.chain.hex()),
    };
    SnapshotMeta { last_log_id: h.applied, last_membership: h.membership.clone(), snapshot_id }
}

/// The file name of a snapshot.
fn snapshot_file(dir: &std::path::Path, meta: &SnapshotMeta<u64, BasicNode>) -> PathBuf {
    match meta.last_log_id {
        Some(l) => dir.join(format!("{:020}-{}.snap", l.index, l.leader_id.term)),
        None => dir.join("empty.snap"),
    }
}

async fn open_snapshot(path: &std::path::Path) -> Result<Box<tokio::fs::File>, StorageError<u64>> {
    Ok(Box::new(tokio::fs::File::open(path).await.map_err(snap_err)?))
}

impl StateMachine {}

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

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError<u64>> {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = self.snapshots.join(format!("incoming-{nanos}.snap"));
        let file = tokio::fs::File::from_std(crate::snapshot::private_file(&path).map_err(snap_err)?);
        *self.receiving.lock().unwrap_or_else(|e| e.into_inner()) = Some(path);
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        mut snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError<u64>> {
        use tokio::io::{AsyncSeekExt, AsyncWriteExt};
        snapshot.flush().await.map_err(snap_err)?;
        // What was handed over is copied to a file of our own (written durably) before anything
        // is installed: the handle may be the file the leader's chunks went to, or any other.
        let path = self.snapshots.join("incoming-install.snap");
        let mut copy = tokio::fs::File::from_std(crate::snapshot::private_file(&path).map_err(snap_err)?);
        snapshot.seek(std::io::SeekFrom::Start(0)).await.map_err(snap_err)?;
        tokio::io::copy(&mut snapshot, &mut copy).await.map_err(snap_err)?;
        copy.sync_all().await.map_err(snap_err)?;
        drop((snapshot, copy));
        if let Some(received) = self.receiving.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = std::fs::remove_file(received);
        }
        let store = self.store.clone();
        let from = path.clone();
        blocking(move || {
            crate::snapshot::install(&from, &store, |txn, h| {
                txn.meta_put(APPLIED, &put(&h.applied)?)?;
                txn.meta_put(MEMBERSHIP, &put(&h.membership)?)?;
                txn.meta_put(CHAIN, &put(&h.chain)?)
            })
            .map_err(snap_err)
        })
        .await?;
        // A snapshot from a node running an older binary arrives in its format.
        migrate(&self.store).map_err(|e| sm_read_err(std::io::Error::other(e.to_string())))?;
        let index = HomeIndex::rebuild(&self.store.read().map_err(sm_read_err)?, REBUILD_POSTS)
            .map_err(|e| sm_read_err(std::io::Error::other(e.to_string())))?;
        *self.home.write() = index;
        let kept = snapshot_file(&self.snapshots, meta);
        std::fs::rename(&path, &kept).map_err(snap_err)?;
        tracing::info!(index = ?meta.last_log_id.map(|l| l.index), "snapshot installed");
        self.set_current((meta.clone(), kept));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match current {
            Some((meta, path)) => Ok(Some(Snapshot { meta, snapshot: open_snapshot(&path).await? })),
            None => Ok(None),
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let store = self.store.clone();
        let dir = self.snapshots.clone();
        let (meta, path) = blocking(move || {
            // The view is taken first, then every deferred commit up to it (and perhaps beyond)
            // is made durable: the snapshot never gets ahead of the durable state, even while
            // entries go on being applied beside this build. (Made durable first and read
            // after, a commit applied between the two would be in a snapshot whose state is
            // lost by a crash, and raft refuses to start on a snapshot newer than its state.)
            let view = store.read().map_err(sm_read_err)?;
            store.write(Durability::Durable, |_| Ok::<_, StoreError>(())).map_err(sm_write_err)?;
            let header = crate::snapshot::Header {
                applied: get(view.meta_get(APPLIED).map_err(sm_read_err)?).map_err(sm_read_err)?,
                membership: get(view.meta_get(MEMBERSHIP).map_err(sm_read_err)?).map_err(sm_read_err)?,
                chain: read_chain(&view).map_err(|e| sm_read_err(std::io::Error::other(e.to_string())))?,
            };
            let meta = meta_of(&header);
            let path = snapshot_file(&dir, &meta);
            let started = std::time::Instant::now();
            let size = crate::snapshot::write(&path, &view, &header).map_err(snap_err)?;
            tracing::info!(index = ?header.applied.map(|l| l.index), size, elapsed = ?started.elapsed(), "snapshot built");
            Ok((meta, path))
        })
        .await?;
        self.set_current((meta.clone(), path.clone()));
        Ok(Snapshot { meta, snapshot: open_snapshot(&path).await? })
    }
}
