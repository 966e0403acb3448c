//! The receiving side, served on the node's cluster address: raft RPCs, forwarded writes,
//! membership changes, status, and copies of picture files.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use openraft::{BasicNode, ChangeMembers};
use roost_media::{BlobHash, Blobs};
use roost_raft::{Node, NodeStatus};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::tls::ClusterTls;
use crate::transport::{ForwardAnswer, JoinRequest, Peering, RemoveRequest};
use crate::{secret_matches, AUTHORIZATION};

/// Largest RPC body: a batch of log entries, or one snapshot chunk.
const MAX_RPC_BYTES: usize = 128 * 1024 * 1024;

#[derive(Clone)]
struct Peer {
    node: Node,
    secret: Arc<str>,
    /// How this node calls the others (to pass a join or a removal to the leader).
    peering: Peering,
    /// The cluster's TLS material, when peers talk TLS.
    tls: Option<Arc<ClusterTls>>,
    /// This node's picture files, which peers store copies in and fetch from.
    blobs: Blobs,
}

/// The cluster listener's routes, served over TLS with `tls` (see `ClusterTls::server_config`)
/// or, without, over plain HTTP.
pub fn router(node: Node, secret: &str, peering: &Peering, tls: Option<ClusterTls>, blobs: Blobs) -> Router {
    let peer = Peer { node, secret: secret.into(), peering: peering.clone(), tls: tls.map(Arc::new), blobs };
    Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot))
        .route("/cluster/propose", post(propose))
        .route("/cluster/join", post(join))
        .route("/cluster/remove", post(remove))
        .route("/cluster/status", get(status))
        .route("/cluster/read-index", get(read_index))
        .route("/cluster/ca", get(authority))
        .route("/cluster/certificate", post(certificate))
        .route("/cluster/blobs/{hash}", get(get_blob).put(put_blob))
        .layer(middleware::from_fn_with_state(peer.clone(), authenticate))
        .layer(DefaultBodyLimit::max(MAX_RPC_BYTES))
        .with_state(peer)
}

/// Refuses (and logs) any request without the cluster secret, and, when peers talk TLS, any
/// without a node certificate of the cluster — but for the two steps of joining, made before
/// the joining node has one: `/cluster/ca` (answered with a proof, needs nothing) and
/// `/cluster/certificate` (needs the secret).
async fn authenticate(State(peer): State<Peer>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/cluster/ca" {
        return next.run(req).await;
    }
    let from = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.to_string()).unwrap_or_default();
    let presented = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    if !secret_matches(&peer.secret, presented) {
        tracing::warn!(%from, %path, "refused a cluster request without the cluster secret");
        return (StatusCode::UNAUTHORIZED, "the cluster secret is wrong or missing").into_response();
    }
    let certified = req.extensions().get::<roost_http::ClientCertified>().is_some_and(|c| c.0);
    if peer.tls.is_some() && !certified && path != "/cluster/certificate" {
        tracing::warn!(%from, %path, "refused a cluster request without a node certificate of this cluster");
        return (StatusCode::UNAUTHORIZED, "a node certificate of this cluster is required").into_response();
    }
    next.run(req).await
}

#[derive(serde::Deserialize)]
struct AuthorityQuery {
    nonce: String,
}

/// The cluster's authority, with the proof that this node knows the secret (for a joining
/// node, which checks it before trusting the authority).
async fn authority(State(p): State<Peer>, axum::extract::Query(q): axum::extract::Query<AuthorityQuery>) -> Response {
    let Some(tls) = &p.tls else { return refused(StatusCode::NOT_FOUND, "this cluster's peers talk plain HTTP") };
    if q.nonce.len() < 16 || q.nonce.len() > 128 {
        return refused(StatusCode::BAD_REQUEST, "a nonce of 16 to 128 characters is needed");
    }
    let proof = crate::tls::ca_proof(&p.secret, &q.nonce, &tls.ca);
    Json(crate::transport::CaAnswer { ca: tls.ca.clone(), proof }).into_response()
}

#[derive(serde::Deserialize)]
struct CertificateRequest {
    node_id: u64,
}

/// A certificate for a joining node (which presented the secret, over TLS it verified against
/// the authority).
async fn certificate(State(p): State<Peer>, Json(r): Json<CertificateRequest>) -> Response {
    let Some(tls) = &p.tls else { return refused(StatusCode::NOT_FOUND, "this cluster's peers talk plain HTTP") };
    match tls.issue(r.node_id) {
        Ok(issued) => {
            tracing::info!(node = r.node_id, "issued a node certificate to a joining node");
            Json(issued).into_response()
        }
        Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Decodes an RPC body, or says why it could not (as the 400 to answer with).
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    postcard::from_bytes(body)
        .map_err(|e| Box::new((StatusCode::BAD_REQUEST, format!("undecodable RPC: {e}")).into_response()))
}

fn encode<T: Serialize>(value: &T) -> Response {
    match postcard::to_allocvec(value) {
        Ok(bytes) => bytes.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn append(State(p): State<Peer>, body: Bytes) -> Response {
    match decode(&body) {
        Ok(rpc) => encode(&p.node.raft().append_entries(rpc).await),
        Err(r) => *r,
    }
}

async fn vote(State(p): State<Peer>, body: Bytes) -> Response {
    match decode(&body) {
        Ok(rpc) => encode(&p.node.raft().vote(rpc).await),
        Err(r) => *r,
    }
}

async fn snapshot(State(p): State<Peer>, body: Bytes) -> Response {
    match decode(&body) {
        Ok(rpc) => encode(&p.node.raft().install_snapshot(rpc).await),
        Err(r) => *r,
    }
}

/// A follower's forwarded write, proposed here (never forwarded again: a node that lost the
/// leadership says so and the follower's client retries).
async fn propose(State(p): State<Peer>, body: Bytes) -> Response {
    let req = match decode(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    // Not the leader (any more): say so before handing the write to raft, so that the follower
    // knows it was not proposed and may send it to the next leader.
    if !p.node.is_leader() {
        let mut resp = refused(StatusCode::SERVICE_UNAVAILABLE, "not the leader: the write was not proposed");
        resp.headers_mut().insert(crate::NOT_PROPOSED, axum::http::HeaderValue::from_static("1"));
        return resp;
    }
    let answer: ForwardAnswer = match p.node.propose_here(req).await {
        Ok(applied) => Ok((applied.index, applied.outcome)),
        Err(e) => Err(e.to_string()),
    };
    encode(&answer)
}

/// A peer stores a copy of a picture's file here before it names the file in the log; the
/// bytes must hash to the name.
async fn put_blob(State(p): State<Peer>, Path(hash): Path<String>, body: Bytes) -> Response {
    let Some(hash) = BlobHash::from_hex(&hash) else { return refused(StatusCode::NOT_FOUND, "not a blob name") };
    let blobs = p.blobs.clone();
    match tokio::task::spawn_blocking(move || blobs.put_verified(hash, &body)).await {
        Ok(Ok(true)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(false)) => refused(StatusCode::UNPROCESSABLE_ENTITY, "the bytes do not match the blob's hash"),
        Ok(Err(e)) => refused(StatusCode::INTERNAL_SERVER_ERROR, format!("storing a blob: {e}")),
        Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// A picture's file, for a peer that lacks it (it checks the hash itself).
async fn get_blob(State(p): State<Peer>, Path(hash): Path<String>) -> Response {
    let Some(hash) = BlobHash::from_hex(&hash) else { return refused(StatusCode::NOT_FOUND, "not a blob name") };
    let blobs = p.blobs.clone();
    match tokio::task::spawn_blocking(move || blobs.get(hash)).await {
        Ok(Ok(Some(bytes))) => bytes.into_response(),
        Ok(Ok(None)) => StatusCode::NOT_FOUND.into_response(),
        Ok(Err(e)) => refused(StatusCode::INTERNAL_SERVER_ERROR, format!("reading a blob: {e}")),
        Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Where the leader can be reached, if this node knows (and it is not this node).
fn leader_addr(node: &Node) -> Option<String> {
    let s = node.status();
    let leader = s.leader.filter(|l| *l != s.id)?;
    s.members.into_iter().find(|(id, _, _)| *id == leader).map(|(_, addr, _)| addr)
}

fn refused(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, message.to_string()).into_response()
}

/// Adds a node: as a learner first (this returns once it has caught up), then as a voter.
async fn join(State(p): State<Peer>, Json(j): Json<JoinRequest>) -> Response {
    if let Some(leader) = leader_addr(&p.node) {
        return match crate::transport::join_as(&p.peering, &leader, &j).await {
            Ok(status) => Json(status).into_response(),
            Err(e) => refused(StatusCode::BAD_GATEWAY, e),
        };
    }
    // A node that cannot read every command the cluster may now log would stop at the first.
    let active = p.node.active_protocol().unwrap_or(1);
    if j.protocol < active {
        tracing::warn!(node = j.node_id, addr = %j.addr, protocol = j.protocol, active, "refused a node running an older version");
        return refused(
            StatusCode::CONFLICT,
            format!(
                "this cluster runs protocol {active}; the joining node speaks only {}: upgrade it to this cluster's version first",
                j.protocol
            ),
        );
    }
    let raft = p.node.raft();
    tracing::info!(node = j.node_id, addr = %j.addr, "adding a node: it catches up as a learner first");
    if let Err(e) = raft.add_learner(j.node_id, BasicNode::new(&j.addr), true).await {
        return refused(StatusCode::SERVICE_UNAVAILABLE, format!("adding the learner: {e}"));
    }
    // A newer protocol may have been turned on while the node was being added (the leader
    // counted the members before it was one): then it cannot follow the log, and goes.
    let active = p.node.active_protocol().unwrap_or(1);
    if j.protocol < active {
        let _ = raft.change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([j.node_id])), false).await;
        return refused(
            StatusCode::CONFLICT,
            format!(
                "this cluster now runs protocol {active}; the joining node speaks only {}: upgrade it first",
                j.protocol
            ),
        );
    }
    let voters = BTreeSet::from([j.node_id]);
    if let Err(e) = raft.change_membership(ChangeMembers::AddVoterIds(voters), false).await {
        return refused(StatusCode::SERVICE_UNAVAILABLE, format!("promoting it to voter: {e}"));
    }
    tracing::info!(node = j.node_id, "the node is a voter");
    Json(p.node.status()).into_response()
}

/// Takes a node out of the cluster (voter or learner).
async fn remove(State(p): State<Peer>, Json(r): Json<RemoveRequest>) -> Response {
    if let Some(leader) = leader_addr(&p.node) {
        return match crate::transport::remove(&p.peering, &leader, r.node_id).await {
            Ok(status) => Json(status).into_response(),
            Err(e) => refused(StatusCode::BAD_GATEWAY, e),
        };
    }
    let s: NodeStatus = p.node.status();
    let Some((_, _, voter)) = s.members.iter().find(|(id, _, _)| *id == r.node_id) else {
        return refused(StatusCode::NOT_FOUND, format!("node {} is not a member", r.node_id));
    };
    let ids = BTreeSet::from([r.node_id]);
    let change = if *voter { ChangeMembers::RemoveVoters(ids) } else { ChangeMembers::RemoveNodes(ids) };
    if let Err(e) = p.node.raft().change_membership(change, false).await {
        return refused(StatusCode::SERVICE_UNAVAILABLE, format!("removing node {}: {e}", r.node_id));
    }
    tracing::info!(node = r.node_id, "the node was removed from the cluster");
    Json(p.node.status()).into_response()
}

/// The leader's read index, for a follower that must see every acknowledged write.
async fn read_index(State(p): State<Peer>) -> Response {
    match p.node.read_index().await {
        Ok(index) => Json(index).into_response(),
        Err(e) => refused(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn status(State(p): State<Peer>) -> Json<NodeStatus> {
    Json(p.node.status())
}
