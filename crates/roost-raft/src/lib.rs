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
//! Knows openraft and the storage API of `roost-store`; knows nothing of HTTP. A single node
//! runs with [`network::NoPeers`]; a cluster member is started with a transport (an openraft
//! network factory) and a [`Forwarder`] that sends a follower's proposals to the leader, both
//! provided by `roost-cluster`.

// openraft's storage traits fix their error type (`StorageError`, 200+ bytes); boxing it in
// our helpers would only add conversions.
#![allow(clippy::result_large_err)]

mod batcher;
mod chain;
mod log_store;
pub mod network;
mod restore;
mod snapshot;
pub mod state_machine;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use roost_store::Store;
use roost_types::{Command, Outcome, Request};

pub use chain::{chain_step, ChainHead};
pub use log_store::LogStore;
pub use restore::{restore, Restored};
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
        SnapshotData = tokio::fs::File,
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
    /// The write was not handed to any leader (none was reachable, or the one asked was not the
    /// leader any more): nothing of it can be in the log, so sending it again is safe.
    #[error("not proposed: {0}")]
    NotProposed(String),
    #[error("timed out waiting for log index {0} to be applied")]
    Timeout(u64),
}

/// Sends a proposal to the leader's node and returns what applying it there produced.
pub trait Forwarder: Send + Sync + 'static {
    fn forward(
        &self,
        leader: &BasicNode,
        req: Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Applied>> + Send + '_>>;

    /// The leader's read index: an index that covers every write acknowledged before the call.
    fn read_index(
        &self,
        leader: &BasicNode,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64>> + Send + '_>>;
}

/// How a node joins a cluster when it starts.
pub struct ClusterOptions<N> {
    /// This node's ID (unique in the cluster, kept across restarts).
    pub id: u64,
    /// Where peers reach this node (its cluster address).
    pub addr: String,
    /// The transport to peers.
    pub network: N,
    /// Sends this node's proposals to the leader when it is not the leader.
    pub forwarder: Arc<dyn Forwarder>,
    /// Make a new one-node cluster of an empty data directory (else wait to be added).
    pub bootstrap: bool,
    pub tuning: Tuning,
}

/// What `status` says of a node.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NodeStatus {
    pub id: u64,
    /// leader, follower, learner or candidate.
    pub role: String,
    pub term: u64,
    pub leader: Option<u64>,
    pub last_log_index: u64,
    pub applied_index: u64,
    pub committed_index: u64,
    /// The members: (ID, address, voter?).
    pub members: Vec<(u64, String, bool)>,
    /// On the leader: how far each member's log matches the leader's.
    pub replication: Vec<(u64, Option<u64>)>,
    /// Elections this node has seen start (terms it entered).
    pub elections: u64,
    /// The hash chain's head over the applied log, hex (empty if unreadable).
    pub chain_head: String,
    /// The newest protocol this node's binary speaks (nodes from before protocols existed do not
    /// report one: they speak 1).
    #[serde(default = "protocol_one")]
    pub protocol: u32,
    /// The protocol the cluster activated, as this node has applied it.
    #[serde(default = "protocol_one")]
    pub active_protocol: u32,
    /// The node's release (`roost --version`).
    #[serde(default)]
    pub version: String,
}

fn protocol_one() -> u32 {
    1
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
    /// Where a follower's proposals go (`None`: a single node).
    forwarder: Option<Arc<dyn Forwarder>>,
    /// Terms this node has entered since it started.
    elections: Arc<std::sync::atomic::AtomicU64>,
    /// The newest protocol it reports speaking (see [`Tuning::protocol`]).
    speaks: u32,
}

/// The raft log's database file inside a data directory.
pub const LOG_FILE: &str = "log.redb";
/// The state machine's database file inside a data directory.
pub const STATE_FILE: &str = "state.redb";

/// Raft's timing and compaction: see the operations guide for when to change them.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// How often the leader tells followers it is alive.
    pub heartbeat_ms: u64,
    /// A follower that hears nothing from a leader for this long (up to twice as long, at
    /// random) starts an election.
    pub election_timeout_ms: u64,
    /// Log entries (each a batch of requests) between snapshots; the log before a snapshot is
    /// purged, except the last [`Tuning::log_kept`] entries.
    pub snapshot_every: u64,
    /// Entries kept after a snapshot, so that a member briefly behind catches up from the log.
    pub log_kept: u64,
    /// The newest protocol this node says it speaks (at most `roost_types::PROTOCOL`): an
    /// operator may set it lower on one node to hold the cluster at an older protocol, say to
    /// keep a downgrade possible until a rollout is judged good.
    pub protocol: u32,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            heartbeat_ms: 100,
            election_timeout_ms: 300,
            snapshot_every: 20_000,
            log_kept: 5_000,
            protocol: roost_types::PROTOCOL,
        }
    }
}

/// How long a forwarded write waits to be applied on the node that forwarded it.
const FORWARDED_APPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write that was not handed to a leader yet waits for one: an election takes about
/// a second, but split votes on a loaded machine can take several rounds. Its client sees
/// latency rather than an error.
const HOLD_FOR_LEADER: Duration = Duration::from_secs(10);
/// How often a held write looks for a leader again.
const LEADER_POLL: Duration = Duration::from_millis(50);

/// The highest index a majority of voters hold: on the leader, from what it knows each voter
/// matched; elsewhere, what this node applied (a lower bound: only committed entries apply).
fn committed_index(m: &openraft::RaftMetrics<u64, BasicNode>, voters: &std::collections::BTreeSet<u64>) -> u64 {
    let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
    let Some(replication) = &m.replication else { return applied };
    let mut matched: Vec<u64> = voters
        .iter()
        .map(|v| {
            if *v == m.id {
                m.last_log_index.unwrap_or(0)
            } else {
                replication.get(v).copied().flatten().map(|l| l.index).unwrap_or(0)
            }
        })
        .collect();
    matched.sort_unstable_by(|a, b| b.cmp(a));
    matched.get(matched.len() / 2).copied().unwrap_or(applied).max(applied)
}

/// Counts the terms a node enters (each is an election somewhere in the cluster).
async fn count_elections(
    mut metrics: tokio::sync::watch::Receiver<openraft::RaftMetrics<u64, BasicNode>>,
    count: Arc<std::sync::atomic::AtomicU64>,
) {
    let mut term = metrics.borrow().current_term;
    while metrics.changed().await.is_ok() {
        let now = metrics.borrow().current_term;
        if now > term {
            count.fetch_add(now - term, std::sync::atomic::Ordering::Relaxed);
            term = now;
        }
    }
}

impl Node {
    /// Opens the data directory and starts raft as a single node: a fresh directory becomes a
    /// cluster of one, with no peers.
    pub async fn start(data_dir: &Path) -> Result<Node> {
        Node::start_single(data_dir, Tuning::default()).await
    }

    /// [`Node::start`] with non-default tuning.
    pub async fn start_single(data_dir: &Path, tuning: Tuning) -> Result<Node> {
        let node = Node::open(data_dir, 1, network::NoPeers, None, tuning).await?;
        if !node.raft.is_initialized().await.map_err(|e| Error::Raft(e.to_string()))? {
            let members = std::collections::BTreeMap::from([(1, BasicNode::new("local"))]);
            node.raft.initialize(members).await.map_err(|e| Error::Raft(e.to_string()))?;
        }
        Ok(node)
    }

    /// Opens the data directory and starts raft as a member of a cluster. A fresh directory
    /// either starts a new cluster of one (`bootstrap`) or waits to be added by the leader.
    /// A directory that ran as a single node keeps its state and becomes the first member, at
    /// `addr`.
    pub async fn start_clustered<N>(data_dir: &Path, o: ClusterOptions<N>) -> Result<Node>
    where
        N: openraft::network::RaftNetworkFactory<TypeConfig>,
    {
        let node = Node::open(data_dir, o.id, o.network, Some(o.forwarder), o.tuning).await?;
        if !node.raft.is_initialized().await.map_err(|e| Error::Raft(e.to_string()))? {
            if o.bootstrap {
                let members = std::collections::BTreeMap::from([(o.id, BasicNode::new(&o.addr))]);
                node.raft.initialize(members).await.map_err(|e| Error::Raft(e.to_string()))?;
            }
        } else {
            node.update_own_address(&o.addr).await?;
        }
        Ok(node)
    }

    /// When this node is the only voter (a former single node, or a restart at a new address),
    /// records the address its peers must use.
    async fn update_own_address(&self, addr: &str) -> Result<()> {
        let membership = self.raft.metrics().borrow().membership_config.clone();
        let mut voters = membership.membership().voter_ids();
        let only_me = voters.next() == Some(self.id) && voters.next().is_none();
        let current = membership.membership().get_node(&self.id).map(|n| n.addr.clone());
        if !only_me || current.as_deref() == Some(addr) {
            return Ok(());
        }
        // A lone voter elects itself at once.
        self.wait_leader(Duration::from_secs(10)).await?;
        let nodes = std::collections::BTreeMap::from([(self.id, BasicNode::new(addr))]);
        self.raft
            .change_membership(openraft::ChangeMembers::SetNodes(nodes), false)
            .await
            .map_err(|e| Error::Raft(e.to_string()))?;
        tracing::info!(addr, "this node's cluster address is recorded");
        Ok(())
    }

    async fn open<N>(
        data_dir: &Path,
        id: u64,
        network: N,
        forwarder: Option<Arc<dyn Forwarder>>,
        tuning: Tuning,
    ) -> Result<Node>
    where
        N: openraft::network::RaftNetworkFactory<TypeConfig>,
    {
        // Two files, so that appending to the log and applying to the state are two writers that
        // do not wait for each other.
        let log_store = Store::open(&data_dir.join(LOG_FILE))?;
        let store = Store::open(&data_dir.join(STATE_FILE))?.with_row_cache();
        let config = Config {
            cluster_name: "roost".into(),
            heartbeat_interval: tuning.heartbeat_ms,
            election_timeout_min: tuning.election_timeout_ms,
            election_timeout_max: tuning.election_timeout_ms * 2,
            // Openraft hands the log store up to this many waiting entries at once: the size of a
            // group commit.
            max_payload_entries: 1024,
            // A snapshot (a file, see `snapshot`) every SNAPSHOT_EVERY entries lets the log
            // before it be purged, bounding disk use; a member too far behind, or new, gets the
            // snapshot in chunks, then the log after it.
            snapshot_policy: SnapshotPolicy::LogsSinceLast(tuning.snapshot_every),
            max_in_snapshot_log_to_keep: tuning.log_kept,
            // Installing a large snapshot's last chunk waits for the whole install.
            install_snapshot_timeout: 120_000,
            ..Config::default()
        };
        let config = Arc::new(config.validate().map_err(|e| Error::Raft(e.to_string()))?);
        let log = LogStore::new(log_store.clone());
        let sm = StateMachine::new(store.clone(), data_dir)?;
        let home = sm.home();
        let events = sm.event_sender();
        let raft = Raft::new(id, config, network, log, sm).await.map_err(|e| Error::Raft(e.to_string()))?;
        let elections = Arc::new(std::sync::atomic::AtomicU64::new(0));
        tokio::spawn(count_elections(raft.metrics(), elections.clone()));
        let batcher = batcher::Batcher::start(raft.clone());
        let speaks = tuning.protocol.clamp(1, roost_types::PROTOCOL);
        Ok(Node { raft, batcher, store, log_store, home, events, id, forwarder, elections, speaks })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Appends a request to the log (in a batch with whatever else is waiting) and waits until
    /// it is committed and applied here. On a follower, the request goes to the leader and the
    /// answer comes once this node has applied it too (so that reading here sees it).
    ///
    /// During an election a write waits (up to [`HOLD_FOR_LEADER`]) for a leader, rather than
    /// failing: until it is handed to a leader, nothing of it is in any log, so sending it when
    /// one is known is safe. Once handed over, a write whose fate becomes unknown (the leader
    /// died or stepped down before answering) is never sent again — it may yet be committed, and
    /// applying it twice would be wrong — unless applying it twice is harmless
    /// ([`roost_types::Command::is_idempotent`]: a post with an `Idempotency-Key`).
    pub async fn propose(&self, req: Request) -> Result<Applied> {
        let Some(f) = &self.forwarder else { return self.batcher.propose(req).await };
        let deadline = tokio::time::Instant::now() + HOLD_FOR_LEADER;
        // In a cluster (from protocol 2 on) every write is made exactly once, so that one whose
        // fate became unknown may be sent again: the retry gets the first attempt's outcome.
        let req = match req.command {
            Command::Once { .. } => req,
            command if self.active_protocol().unwrap_or(1) >= 2 => {
                Request { command: Command::Once { id: rand::random(), command: Box::new(command) }, ..req }
            }
            command => Request { command, ..req },
        };
        let retry_unknown = req.command.is_idempotent();
        loop {
            let last_chance = tokio::time::Instant::now() >= deadline;
            let leader = {
                let metrics = self.raft.metrics();
                let m = metrics.borrow();
                m.current_leader.map(|l| (l, m.membership_config.membership().get_node(&l).cloned()))
            };
            let attempt = match leader {
                None => Err(Error::NotProposed("no leader yet: an election is under way".into())),
                Some((l, _)) if l == self.id => self.batcher.propose(req.clone()).await,
                Some((_, None)) => Err(Error::NotProposed("the leader's address is not known yet".into())),
                Some((_, Some(node))) => match f.forward(&node, req.clone()).await {
                    Ok(applied) => {
                        self.wait_applied(applied.index, FORWARDED_APPLY_TIMEOUT).await?;
                        Ok(applied)
                    }
                    Err(e) => Err(e),
                },
            };
            match attempt {
                Ok(applied) => return Ok(applied),
                Err(Error::NotProposed(why)) if last_chance => {
                    return Err(Error::Unavailable(format!("no leader took the write in time: {why}")))
                }
                Err(Error::NotProposed(_)) => {}
                Err(Error::Unavailable(_)) if retry_unknown && !last_chance => {}
                Err(e) => return Err(e),
            }
            tokio::time::sleep(LEADER_POLL).await;
        }
    }

    /// Waits until this node has applied every write acknowledged anywhere in the cluster
    /// before the call (the leader's read index). A single node, or the leader, has nothing
    /// to wait for. Used when a request names something this node does not know yet (a token
    /// issued through another node a moment ago).
    pub async fn catch_up(&self, timeout: Duration) -> Result<()> {
        let Some(f) = &self.forwarder else { return Ok(()) };
        let (leader, node) = {
            let m = self.raft.metrics().borrow().clone();
            let Some(leader) = m.current_leader else { return Err(Error::Unavailable("no leader".into())) };
            (leader, m.membership_config.membership().get_node(&leader).cloned())
        };
        if leader == self.id {
            return Ok(());
        }
        let Some(node) = node else { return Err(Error::Unavailable("the leader's address is unknown".into())) };
        let index = tokio::time::timeout(timeout, f.read_index(&node))
            .await
            .map_err(|_| Error::Unavailable("the leader did not answer".into()))??;
        self.wait_applied(index, timeout).await
    }

    /// The read index, on the leader: confirms leadership with a quorum and returns the index
    /// every earlier acknowledged write is at or below.
    pub async fn read_index(&self) -> Result<u64> {
        let read = self.raft.ensure_linearizable().await.map_err(|e| match e.forward_to_leader::<BasicNode>() {
            Some(_) => Error::Unavailable("not the leader".into()),
            None => Error::Unavailable(e.to_string()),
        })?;
        Ok(read.map(|l| l.index).unwrap_or(0))
    }

    /// Proposes on this node only, never forwarding (what a leader does for its followers).
    pub async fn propose_here(&self, req: Request) -> Result<Applied> {
        self.batcher.propose(req).await
    }

    /// The raft instance, for the cluster transport and membership changes.
    pub fn raft(&self) -> &RaftHandle {
        &self.raft
    }

    /// Waits until some node is known to lead.
    pub async fn wait_leader(&self, timeout: Duration) -> Result<u64> {
        let m = self
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader")
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        m.current_leader.ok_or_else(|| Error::Unavailable("no leader".into()))
    }

    /// This node's view of the cluster.
    pub fn status(&self) -> NodeStatus {
        let m = self.raft.metrics().borrow().clone();
        let voters: std::collections::BTreeSet<u64> = m.membership_config.membership().voter_ids().collect();
        let members = self.members();
        let role = match m.state {
            openraft::ServerState::Leader => "leader",
            openraft::ServerState::Candidate => "candidate",
            openraft::ServerState::Learner => "learner",
            openraft::ServerState::Follower if voters.contains(&m.id) => "follower",
            openraft::ServerState::Follower => "learner",
            openraft::ServerState::Shutdown => "shutdown",
        };
        let replication = m
            .replication
            .as_ref()
            .map(|r| r.iter().map(|(id, log)| (*id, log.map(|l| l.index))).collect())
            .unwrap_or_default();
        NodeStatus {
            id: m.id,
            role: role.into(),
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index.unwrap_or(0),
            applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            committed_index: committed_index(&m, &voters),
            members,
            replication,
            elections: self.elections.load(std::sync::atomic::Ordering::Relaxed),
            chain_head: self.chain_head().map(|c| c.hex()).unwrap_or_default(),
            protocol: self.speaks,
            active_protocol: self.active_protocol().unwrap_or(1),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The cluster's members as this node knows them: (id, address, voter?), without the rest
    /// of [`Node::status`] (which also reads the chain head and the state).
    pub fn members(&self) -> Vec<(u64, String, bool)> {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<u64> = membership.voter_ids().collect();
        membership.nodes().map(|(id, n)| (*id, n.addr.clone(), voters.contains(id))).collect()
    }

    /// The protocol the cluster activated, as this node has applied it.
    pub fn active_protocol(&self) -> Result<u32> {
        let view = self.store.read()?;
        roost_core::protocol::active(&view).map_err(|e| Error::Store(e.into()))
    }

    /// The newest protocol this node reports speaking.
    pub fn speaks(&self) -> u32 {
        self.speaks
    }

    /// Whether this node leads (a single node always does once started).
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.id)
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

    /// The requests of the log entries in `entries` (a range of entry indexes), oldest first,
    /// each with its entry's index: what an audit of who did what reads. Only the entries this
    /// node still keeps (the log before the last snapshot is purged, but for the last
    /// `Tuning::log_kept`).
    pub fn logged_requests(&self, entries: std::ops::Range<u64>) -> Result<Vec<(u64, Request)>> {
        let mut out = Vec::new();
        for (index, bytes) in self.log_store.read()?.log_range(entries)? {
            let entry: openraft::Entry<TypeConfig> = postcard::from_bytes(&bytes)
                .map_err(|e| Error::Store(roost_store::StoreError::Engine(format!("log entry: {e}"))))?;
            if let openraft::EntryPayload::Normal(requests) = entry.payload {
                out.extend(requests.into_iter().map(|r| (index, r)));
            }
        }
        Ok(out)
    }

    /// The index of the last entry in this node's log.
    pub fn last_log_index(&self) -> Result<Option<u64>> {
        Ok(self.log_store.read()?.log_last()?.map(|(i, _)| i))
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
