//! Roost's replication layer: the openraft wiring that turns requests into an ordered,
//! durable, replicated log and applies it to the state machine.
//!
//! # Invariants
//! - No state change bypasses the log: [`Node::propose`] is the only way to write.
//! - An entry is appended durably (fsync) before openraft counts it, so an acknowledged write
//!   survives kill -9. Concurrent proposals share one entry and one fsync (group commit, see
//!   `batcher`).
//! - The state machine's commits are made durable at least every
//!   [`state_machine::CHECKPOINT_INTERVAL`]; after a crash the log is re-applied from the last
//!   durable applied index, so a lost state commit loses nothing.
//! - Every applied entry extends the BLAKE3 chain head, in the same transaction as its effects.
//!
//! # Boundaries
//! Knows openraft and the storage API of `roost-store`; knows nothing of HTTP. Between nodes it
//! will speak the cluster protocol (a later issue); today a node is a cluster of one and
//! [`network::NoPeers`] refuses every peer.

// openraft's storage traits fix their error type (`StorageError`, 200+ bytes); boxing it in
// our helpers would only add conversions.
#![allow(clippy::result_large_err)]

mod batcher;
mod chain;
mod log_store;
pub mod network;
pub mod state_machine;

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use roost_store::Store;
use roost_types::{Outcome, Request};

pub use chain::{chain_step, ChainHead};
pub use log_store::LogStore;
pub use roost_store::ReadView;
pub use state_machine::StateMachine;

openraft::declare_raft_types!(
    /// Roost's openraft type configuration. A log entry carries a batch of requests (see
    /// `batcher`); applying it yields one outcome per request.
    pub TypeConfig:
        D = Vec<Request>,
        R = Vec<Outcome>,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);

pub type RaftHandle = Raft<TypeConfig>;

/// Errors of the replication layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] roost_store::StoreError),
    #[error("consensus: {0}")]
    Raft(String),
    /// This node cannot accept writes right now (no leader, shutting down).
    #[error("not ready to accept writes: {0}")]
    Unavailable(String),
    #[error("timed out waiting for log index {0} to be applied")]
    Timeout(u64),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The result of a proposal: where it landed in the log and what applying it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub index: u64,
    pub outcome: Outcome,
}

/// One Roost node: the raft instance and the store it applies to.
#[derive(Clone)]
pub struct Node {
    raft: RaftHandle,
    batcher: batcher::Batcher,
    /// The state machine's tables.
    store: Store,
    /// The raft log.
    log_store: Store,
    /// Home timelines, derived from the applied log.
    home: state_machine::SharedHome,
    /// Events of applied transactions (see [`Node::subscribe`]).
    events: tokio::sync::broadcast::Sender<state_machine::Events>,
    id: u64,
}

/// The raft log's database file inside a data directory.
pub const LOG_FILE: &str = "log.redb";
/// The state machine's database file inside a data directory.
pub const STATE_FILE: &str = "state.redb";

impl Node {
    /// Opens the data directory and starts raft. A fresh directory becomes a cluster of one.
    pub async fn start(data_dir: &Path) -> Result<Node> {
        // Two files, so that appending to the log and applying to the state are two writers that
        // do not wait for each other.
        let log_store = Store::open(&data_dir.join(LOG_FILE))?;
        let store = Store::open(&data_dir.join(STATE_FILE))?.with_row_cache();
        let id = 1;
        let config = Config {
            cluster_name: "roost".into(),
            heartbeat_interval: 250,
            election_timeout_min: 500,
            election_timeout_max: 1000,
            // Openraft hands the log store up to this many waiting entries at once: the size of a
            // group commit.
            max_payload_entries: 1024,
            // Compaction and snapshot transfer arrive with clustering; until then the log is kept.
            snapshot_policy: SnapshotPolicy::Never,
            ..Config::default()
        };
        let config = Arc::new(config.validate().map_err(|e| Error::Raft(e.to_string()))?);
        let log = LogStore::new(log_store.clone());
        let sm = StateMachine::new(store.clone())?;
        let home = sm.home();
        let events = sm.event_sender();
        let raft = Raft::new(id, config, network::NoPeers, log, sm).await.map_err(|e| Error::Raft(e.to_string()))?;
        if !raft.is_initialized().await.map_err(|e| Error::Raft(e.to_string()))? {
            let members = std::collections::BTreeMap::from([(id, BasicNode::new("local"))]);
            raft.initialize(members).await.map_err(|e| Error::Raft(e.to_string()))?;
        }
        let batcher = batcher::Batcher::start(raft.clone());
        Ok(Node { raft, batcher, store, log_store, home, events, id })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Appends a request to the log (in a batch with whatever else is waiting) and waits until
    /// it is committed and applied here.
    pub async fn propose(&self, req: Request) -> Result<Applied> {
        self.batcher.propose(req).await
    }

    /// Events of every transaction this node applies from now on, in log order, once the
    /// transaction has committed (see `roost_core::effects`). A listener more than a bounded
    /// number of batches behind misses the oldest and receives `Lagged`.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<state_machine::Events> {
        self.events.subscribe()
    }

    /// The home-timeline index (derived; see `roost_core::home`).
    pub fn home(&self) -> &state_machine::SharedHome {
        &self.home
    }

    /// A consistent read snapshot of the local state.
    pub fn read(&self) -> Result<ReadView> {
        Ok(self.store.read()?)
    }

    /// Waits until this node has applied the log up to `index` (read-your-writes).
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<()> {
        if self.applied_index() >= index {
            return Ok(());
        }
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "read-your-writes")
            .await
            .map(|_| ())
            .map_err(|_| Error::Timeout(index))
    }

    /// The last log index applied to the local state.
    pub fn applied_index(&self) -> u64 {
        self.raft.metrics().borrow().last_applied.map(|l| l.index).unwrap_or(0)
    }

    /// Waits until this node is leader and has applied everything before its term, so that
    /// writes are accepted at once. Used at start-up.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        self.raft
            .wait(Some(timeout))
            .metrics(
                |m| m.current_leader == Some(m.id) && m.last_applied.map(|l| l.index) >= m.last_log_index,
                "leader and caught up",
            )
            .await
            .map(|_| ())
            .map_err(|e| Error::Unavailable(e.to_string()))
    }

    /// The chain head and applied index as stored.
    pub fn chain_head(&self) -> Result<ChainHead> {
        state_machine::read_chain(&self.store.read()?)
    }

    /// The raw log entries (postcard-encoded openraft entries) from `from` on, for audits and
    /// replays.
    pub fn log_entries(&self, from: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        Ok(self.log_store.read()?.log_range(from..)?)
    }

    /// The digest of the whole state (walks every table: for verification, not hot paths).
    pub fn state_digest(&self) -> Result<[u8; 32]> {
        let view = self.store.read()?;
        roost_core::digest(&view).map_err(|e| Error::Store(e.into()))
    }

    /// Stops raft and makes the state durable, so that the next start has nothing to re-apply.
    /// (Without this the store is still consistent: every commit is atomic.)
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
        if let Err(e) = self.store.write(roost_store::Durability::Durable, |_| Ok::<_, roost_store::StoreError>(())) {
            tracing::warn!("final checkpoint: {e}");
        }
    }
}
