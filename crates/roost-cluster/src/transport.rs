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

use crate::tls::ClusterTls;
use crate::{Error, Result, AUTHORIZATION};

/// How long a forwarded write may take at the leader (it waits for a majority's fsync).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// How this node reaches its peers: one HTTP client for every peer (over TLS verified against
/// the cluster's authority, presenting this node's certificate, when the cluster has one) and
/// the cluster secret. Cheap to clone.
#[derive(Clone)]
pub struct Peering {
    http: reqwest::Client,
    secret: Arc<str>,
    scheme: &'static str,
}

/// How long a connection to a peer may sit idle in the pool: well under the peers' listener's
/// header timeout (60 s), so that the pool drops it before the peer does.
const POOL_IDLE: Duration = Duration::from_secs(20);

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).tcp_nodelay(true).pool_idle_timeout(POOL_IDLE)
}

impl Peering {
    /// Peers over TLS with `tls`, or over plain HTTP without.
    pub fn new(secret: &str, tls: Option<&ClusterTls>) -> Result<Peering> {
        let (http, scheme) = match tls {
            Some(t) => (builder().use_preconfigured_tls(t.client_config()?).build(), "https"),
            None => (builder().build(), "http"),
        };
        let http = http.map_err(|e| Error::Refused(format!("the peers' HTTP client: {e}")))?;
        Ok(Peering { http, secret: secret.into(), scheme })
    }

    /// For a joining node before it has a certificate: TLS verified against `ca`, no client
    /// certificate.
    pub(crate) fn anonymous(secret: &str, ca: &str) -> Result<Peering> {
        let config = ClusterTls::anonymous_client(ca)?;
        let http = builder().use_preconfigured_tls(config).build().map_err(|e| Error::Refused(e.to_string()))?;
        Ok(Peering { http, secret: secret.into(), scheme: "https" })
    }

    /// A peer's URL for `path`, from its cluster address (`host:port`, or a URL).
    pub(crate) fn url(&self, addr: &str, path: &str) -> String {
        if addr.starts_with("http://") || addr.starts_with("https://") {
            format!("{}{path}", addr.trim_end_matches('/'))
        } else {
            format!("{}://{addr}{path}", self.scheme)
        }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.secret)
    }
}

/// The raft transport: a connection per peer, all sharing one HTTP client.
#[derive(Clone)]
pub struct Transport {
    peering: Peering,
}

impl Transport {
    pub fn new(peering: &Peering) -> Transport {
        Transport { peering: peering.clone() }
    }
}

impl RaftNetworkFactory<TypeConfig> for Transport {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Connection {
        Connection { peering: self.peering.clone(), target, addr: node.addr.clone() }
    }
}

/// Raft RPCs to one peer.
pub struct Connection {
    peering: Peering,
    target: u64,
    addr: String,
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
            .peering
            .http
            .post(self.peering.url(&self.addr, path))
            .header(AUTHORIZATION, self.peering.bearer())
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
    peering: Peering,
}

impl HttpForwarder {
    pub fn new(peering: &Peering) -> HttpForwarder {
        HttpForwarder { peering: peering.clone() }
    }
}

impl Forwarder for HttpForwarder {
    fn forward(
        &self,
        leader: &BasicNode,
        req: Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = roost_raft::Result<Applied>> + Send + '_>> {
        let url = self.peering.url(&leader.addr, "/cluster/propose");
        Box::pin(async move {
            // Whether the leader may have the write: a connection that was never made, or a
            // leader that says it did not propose it, means it is nowhere.
            let unavailable = |e: &dyn std::fmt::Display| roost_raft::Error::Unavailable(format!("forwarding: {e}"));
            let not_proposed = |e: &dyn std::fmt::Display| roost_raft::Error::NotProposed(format!("forwarding: {e}"));
            let body = postcard::to_allocvec(&req).map_err(|e| unavailable(&e))?;
            let resp = self
                .peering
                .http
                .post(url)
                .header(AUTHORIZATION, self.peering.bearer())
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
        let url = self.peering.url(&leader.addr, "/cluster/read-index");
        Box::pin(async move {
            let unavailable = |e: &dyn std::fmt::Display| roost_raft::Error::Unavailable(format!("read index: {e}"));
            let resp = self
                .peering
                .http
                .get(url)
                .header(AUTHORIZATION, self.peering.bearer())
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
    peering: &Peering,
    member: &str,
    path: &str,
    body: Option<serde_json::Value>,
    timeout: Duration,
) -> Result<T> {
    let url = peering.url(member, path);
    let req = match body {
        Some(b) => peering.http.post(&url).json(&b),
        None => peering.http.get(&url),
    };
    let resp = req
        .header(AUTHORIZATION, peering.bearer())
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

/// How long storing or fetching one picture file on a peer may take (up to 16 MiB).
const BLOB_TIMEOUT: Duration = Duration::from_secs(30);

/// Stores a copy of a picture's file (named by its BLAKE3 hash, hex) on the peer at `addr`.
pub async fn put_blob(peering: &Peering, addr: &str, hash: &str, bytes: Vec<u8>) -> Result<()> {
    let url = peering.url(addr, &format!("/cluster/blobs/{hash}"));
    let resp = peering
        .http
        .put(url)
        .header(AUTHORIZATION, peering.bearer())
        .timeout(BLOB_TIMEOUT)
        .body(bytes)
        .send()
        .await
        .map_err(|e| Error::Peer(addr.into(), e.to_string()))?;
    if !resp.status().is_success() {
        return Err(Error::Peer(addr.into(), format!("storing a blob answered {}", resp.status())));
    }
    Ok(())
}

/// A picture's file from the peer at `addr`, if it has it (unchecked: the caller compares the
/// bytes with the hash).
pub async fn get_blob(peering: &Peering, addr: &str, hash: &str) -> Result<Option<Vec<u8>>> {
    let url = peering.url(addr, &format!("/cluster/blobs/{hash}"));
    let resp = peering
        .http
        .get(url)
        .header(AUTHORIZATION, peering.bearer())
        .timeout(BLOB_TIMEOUT)
        .send()
        .await
        .map_err(|e| Error::Peer(addr.into(), e.to_string()))?;
    match resp.status() {
        reqwest::StatusCode::NOT_FOUND => Ok(None),
        s if s.is_success() => {
            Ok(Some(resp.bytes().await.map_err(|e| Error::Peer(addr.into(), e.to_string()))?.to_vec()))
        }
        s => Err(Error::Peer(addr.into(), format!("fetching a blob answered {s}"))),
    }
}

/// Asks a member (any: a follower passes it to the leader) to add this node: first as a
/// learner that catches up, then as a voter. Returns once it is a voter. `protocol` is the
/// newest protocol the node speaks: a cluster that runs a newer one refuses it.
pub async fn join(peering: &Peering, member: &str, node_id: u64, addr: &str, protocol: u32) -> Result<NodeStatus> {
    let request = JoinRequest { node_id, addr: addr.into(), protocol };
    join_as(peering, member, &request).await
}

/// Passes a join request on (to the leader), as it was made.
pub(crate) async fn join_as(peering: &Peering, member: &str, request: &JoinRequest) -> Result<NodeStatus> {
    let body = serde_json::to_value(request).map_err(std::io::Error::other)?;
    operator_call(peering, member, "/cluster/join", Some(body), Duration::from_secs(600)).await
}

/// Asks a member to take a node out of the cluster.
pub async fn remove(peering: &Peering, member: &str, node_id: u64) -> Result<NodeStatus> {
    let body = serde_json::to_value(RemoveRequest { node_id }).map_err(std::io::Error::other)?;
    operator_call(peering, member, "/cluster/remove", Some(body), Duration::from_secs(60)).await
}

/// A member's view of the cluster.
pub async fn status(peering: &Peering, member: &str) -> Result<NodeStatus> {
    operator_call(peering, member, "/cluster/status", None, Duration::from_secs(5)).await
}

/// What `/cluster/ca` answers: the authority, and the proof that the member knows the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CaAnswer {
    pub ca: String,
    pub proof: String,
}

/// A joining node's TLS material, from a member: first the cluster's authority, accepted only
/// with a proof that the member knows the cluster secret (so a machine in between cannot pass
/// off its own), then this node's certificate, over TLS checked against that authority, asked
/// for with the secret.
pub async fn fetch_certificate(member: &str, secret: &str, node_id: u64) -> Result<ClusterTls> {
    let nonce = {
        let mut b = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    };
    let unverified = builder()
        .use_preconfigured_tls(crate::tls::proof_client_config()?)
        .build()
        .map_err(|e| Error::Refused(e.to_string()))?;
    let url = if member.starts_with("https://") {
        member.trim_end_matches('/').to_string()
    } else {
        format!("https://{member}")
    };
    let answer: CaAnswer = unverified
        .get(format!("{url}/cluster/ca?nonce={nonce}"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| Error::Peer(member.into(), e.to_string()))?
        .json()
        .await
        .map_err(|e| {
            Error::Peer(member.into(), format!("no cluster authority: {e} (does the member run plain HTTP?)"))
        })?;
    if !crate::tls::proof_holds(secret, &nonce, &answer.ca, &answer.proof) {
        return Err(Error::Refused(format!(
            "{member} could not prove it knows the cluster secret: not joining (a wrong secret, or someone in between)"
        )));
    }
    let trusted = Peering::anonymous(secret, &answer.ca)?;
    let body = serde_json::json!({ "node_id": node_id });
    operator_call(&trusted, member, "/cluster/certificate", Some(body), Duration::from_secs(10)).await
}

/// The newest protocol every member speaks (voters and learners, this node included), or `None`
/// if a member cannot be asked right now: a protocol is activated only when all of them are
/// known to speak it.
pub async fn members_protocol(node: &roost_raft::Node, peering: &Peering) -> Option<u32> {
    let own = node.status();
    let mut lowest = own.protocol;
    for (id, addr, _) in &own.members {
        if *id == own.id {
            continue;
        }
        let s = status(peering, addr).await.ok()?;
        lowest = lowest.min(s.protocol);
    }
    Some(lowest)
}
