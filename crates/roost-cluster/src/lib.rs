//! Roost's cluster transport: how nodes of one cluster talk to each other over HTTP on their
//! cluster address (separate from the address members and apps use).
//!
//! - Raft RPCs (`/raft/append`, `/raft/vote`, `/raft/snapshot`), postcard-encoded: [`Transport`]
//!   sends them, [`router`] receives them.
//! - Write forwarding (`/cluster/propose`): a follower sends a member's write to the leader
//!   ([`HttpForwarder`]) and answers once it has applied the result itself.
//! - Membership (`/cluster/join`, `/cluster/remove`) and status (`/cluster/status`).
//! - Picture files (`/cluster/blobs/:hash`): a node stores copies on its peers before a
//!   command names them ([`put_blob`]) and fetches one it lacks ([`get_blob`]); the name is
//!   the BLAKE3 hash of the bytes, checked by whoever stores them.
//!
//! # Invariants
//! - Every request carries the cluster secret (`Authorization: Bearer`), created when the
//!   cluster is and required to join; a request without it is refused with 401 and logged with
//!   the caller's address. The secret never travels in a URL.
//! - Nothing here changes state except through raft (`Node::propose_here`, membership changes).
//!
//! # Boundaries
//! Knows `roost-raft` (the node, openraft's RPC types) and HTTP; knows nothing of the API that
//! members use.

mod identity;
mod server;
mod tls;
mod transport;

pub use identity::{Identity, NODE_ID_FILE, SECRET_ENV, SECRET_FILE};
pub use server::router;
pub use tls::ClusterTls;
pub use transport::{
    fetch_certificate, get_blob, join, members_protocol, put_blob, remove, status, HttpForwarder, Peering, Transport,
};

/// Errors of cluster calls.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the cluster secret is wrong or missing (set {SECRET_ENV} or put it in {SECRET_FILE})")]
    Unauthorized,
    #[error("peer {0}: {1}")]
    Peer(String, String),
    #[error("{0}")]
    Refused(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The request header holding the cluster secret.
pub(crate) const AUTHORIZATION: &str = "authorization";
/// The response header a node sets when it did not propose a forwarded write (it is not the
/// leader): the follower may send the write again, to the next leader.
pub(crate) const NOT_PROPOSED: &str = "x-roost-not-proposed";

/// Whether a presented secret is the cluster's, compared in constant time.
pub(crate) fn secret_matches(expected: &str, presented: Option<&str>) -> bool {
    let Some(p) = presented.and_then(|p| p.strip_prefix("Bearer ")) else { return false };
    let (a, b) = (blake3::hash(expected.as_bytes()), blake3::hash(p.as_bytes()));
    // Comparing fixed-size hashes byte by byte, without an early exit.
    a.as_bytes().iter().zip(b.as_bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_checked_exactly() {
        assert!(secret_matches("s3cret", Some("Bearer s3cret")));
        assert!(!secret_matches("s3cret", Some("Bearer s3cre")));
        assert!(!secret_matches("s3cret", Some("s3cret")));
        assert!(!secret_matches("s3cret", None));
    }
}
