//! The sending side: raft RPCs to peers, forwarded writes to the leader, and the operator's
//! calls (join, remove, status) to any member.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::BasicNode;
use roost_raft::{Applied, Forwarder, NodeStatus, TypeConfig};
use roost_types::Request;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Error, Result, AUTHORIZATION};

/// How long a forwarded write may take at the leader (it waits for a majority's fsync).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// A peer's base URL from its cluster address (`host:port` or a URL).
pub(crate) fn base_url(addr: &str) -> String {
    if addr.starts_with("http://") || addr.starts_with("https://") {
        addr.trim_end_matches('/').to_string()
    } else {
        format!("http://{addr}")
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// The raft transport: a connection per peer, all sharing one HTTP client.
#[derive(Clone)]
pub struct Transport {
    http: reqwest::Client,
    secret: Arc<str>,
}

impl Transport {
    pub fn new(secret: &str) -> Transport {
        Transport { http: client(), secret: secret.into() }
    }
}

impl RaftNetworkFactory<TypeConfig> for Transport {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Connection {
        Connection { http: self.http.clone(), secret: self.secret.clone(), target, base: base_url(&node.addr) }
    }
}

/// Raft RPCs to one peer.
pub struct Connection {
    http: reqwest::Client,
    secret: Arc<str>,
    target: u64,
    base: String,
}

impl Connection {
    /// Sends one RPC; the peer answers with openraft's own `Result`, postcard-encoded.
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        rpc: &Req,
        ttl: Duration,
    ) -> Result<Resp, RPCError<u64, BasicNode, RaftError<u64, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = postcard::to_allocvec(rpc).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header(AUTHORIZATION, format!("Bearer {}", self.secret))
            .timeout(ttl)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() || e.is_timeout() {
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        if !resp.status().is_success() {
            let io = std::io::Error::other(format!("peer {} answered {}", self.target, resp.status()));
            return Err(RPCError::Network(NetworkError::new(&io)));
        }
        let bytes = resp.bytes().await.map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let answer: Result<Resp, RaftError<u64, E>> =
            postcard::from_bytes(&bytes).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call("/raft/append", &rpc, option.hard_ttl()).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>> {
        self.call("/raft/snapshot", &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call("/raft/vote", &rpc, option.hard_ttl()).await
    }
}

/// What a leader answers a forwarded write with.
pub(crate) type ForwardAnswer = std::result::Result<(u64, roost_types::Outcome), String>;

/// Sends a follower's writes to the leader's `/cluster/propose`.
pub struct HttpForwarder {
    http: reqwest::Client,
    secret: Arc<str>,
}

impl HttpForwarder {
    pub fn new(secret: &str) -> HttpForwarder {
        HttpForwarder { http: client(), secret: secret.into() }
    }
}

impl Forwarder for HttpForwarder {
    fn forward(
        &self,
        leader: &BasicNode,
        req: Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = roost_raft::Result<Applied>> + Send + '_>> {
        let url = format!("{}/cluster/propose", base_url(&leader.addr));
        Box::pin(async move {
            // Whether the leader may have the write: a connection that was never made, or a
            // leader that says it did not propose it, means it is nowhere.
            let unavailable = |e: &dyn std::fmt::Display| roost_raft::Error::Unavailable(format!("forwarding: {e}"));
            let not_proposed = |e: &dyn std::fmt::Display| roost_raft::Error::NotProposed(format!("forwarding: {e}"));
            let body = postcard::to_allocvec(&req).map_err(|e| unavailable(&e))?;
            let resp = self
                .http
                .post(url)
                .header(AUTHORIZATION, format!("Bearer {}", self.secret))
                .timeout(FORWARD_TIMEOUT)
                .body(body)
                .send()
                .await
                .map_err(|e| if e.is_connect() { not_proposed(&e) } else { unavailable(&e) })?;
            if resp.headers().contains_key(crate::NOT_PROPOSED) {
                return Err(not_proposed(&"the node asked is not the leader"));
            }
            if !resp.status().is_success() {
                return Err(unavailable(&format!("the leader answered {}", resp.status())));
            }
            let bytes = resp.bytes().await.map_err(|e| unavailable(&e))?;
            let answer: ForwardAnswer = postcard::from_bytes(&bytes).map_err(|e| unavailable(&e))?;
            let (index, outcome) = answer.map_err(|e| unavailable(&e))?;
            Ok(Applied { index, outcome })
        })
    }

    fn read_index(
        &self,
        leader: &BasicNode,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = roost_raft::Result<u64>> + Send + '_>> {
        let url = format!("{}/cluster/read-index", base_url(&leader.addr));
        Box::pin(async move {
            let unavailable = |e: &dyn std::fmt::Display| roost_raft::Error::Unavailable(format!("read index: {e}"));
            let resp = self
                .http
                .get(url)
                .header(AUTHORIZATION, format!("Bearer {}", self.secret))
                .timeout(FORWARD_TIMEOUT)
                .send()
                .await
                .map_err(|e| unavailable(&e))?;
            if !resp.status().is_success() {
                return Err(unavailable(&format!("the leader answered {}", resp.status())));
            }
            resp.json::<u64>().await.map_err(|e| unavailable(&e))
        })
    }
}

/// A node asking to join: its ID, cluster address and the newest protocol it speaks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    pub node_id: u64,
    pub addr: String,
    /// Nodes from before protocols existed do not send it: they speak 1.
    #[serde(default = "protocol_one")]
    pub protocol: u32,
}

fn protocol_one() -> u32 {
    1
}

/// An operator's request to take a node out of the cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveRequest {
    pub node_id: u64,
}

/// A JSON call to a member's cluster address.
async fn operator_call<T: DeserializeOwned>(
    member: &str,
    secret: &str,
    path: &str,
    body: Option<serde_json::Value>,
    timeout: Duration,
) -> Result<T> {
    let http = client();
    let url = format!("{}{path}", base_url(member));
    let req = match body {
        Some(b) => http.post(&url).json(&b),
        None => http.get(&url),
    };
    let resp = req
        .header(AUTHORIZATION, format!("Bearer {secret}"))
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| Error::Peer(member.into(), e.to_string()))?;
    match resp.status().as_u16() {
        200 => resp.json().await.map_err(|e| Error::Peer(member.into(), e.to_string())),
        401 => Err(Error::Unauthorized),
        status => {
            let text = resp.text().await.unwrap_or_default();
            Err(Error::Refused(format!("{member} answered {status}: {text}")))
        }
    }
}

/// Asks a member (any: a follower passes it to the leader) to add this node: first as a
/// learner that catches up, then as a voter. Returns once it is a voter.
/// `protocol` is the newest protocol the node speaks: a cluster that runs a newer one refuses it.
pub async fn join(member: &str, secret: &str, node_id: u64, addr: &str, protocol: u32) -> Result<NodeStatus> {
    let request = JoinRequest { node_id, addr: addr.into(), protocol };
    let body = serde_json::to_value(request).map_err(std::io::Error::other)?;
    operator_call(member, secret, "/cluster/join", Some(body), Duration::from_secs(600)).await
}

/// Passes another node's join request on (to the leader), as it was made.
pub(crate) async fn join_as(member: &str, secret: &str, request: &JoinRequest) -> Result<NodeStatus> {
    let body = serde_json::to_value(request).map_err(std::io::Error::other)?;
    operator_call(member, secret, "/cluster/join", Some(body), Duration::from_secs(600)).await
}

/// Asks a member to take a node out of the cluster.
pub async fn remove(member: &str, secret: &str, node_id: u64) -> Result<NodeStatus> {
    let body = serde_json::to_value(RemoveRequest { node_id }).map_err(std::io::Error::other)?;
    operator_call(member, secret, "/cluster/remove", Some(body), Duration::from_secs(60)).await
}

/// A member's view of the cluster.
pub async fn status(member: &str, secret: &str) -> Result<NodeStatus> {
    operator_call(member, secret, "/cluster/status", None, Duration::from_secs(5)).await
}

/// The newest protocol every member speaks (voters and learners, this node included), or `None`
/// if a member cannot be asked right now: a protocol is activated only when all of them are
/// known to speak it.
pub async fn members_protocol(node: &roost_raft::Node, secret: &str) -> Option<u32> {
    let own = node.status();
    let mut lowest = own.protocol;
    for (id, addr, _) in &own.members {
        if *id == own.id {
            continue;
        }
        let s = status(addr, secret).await.ok()?;
        lowest = lowest.min(s.protocol);
    }
    Some(lowest)
}
