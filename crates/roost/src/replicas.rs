//! Picture files in a cluster: the glue between the service's [`BlobReplicas`] and the cluster
//! transport. An upload's files are on a majority of the voters before its command is proposed,
//! so losing any minority of nodes (this one included, right after it answered) loses no
//! picture; a node missing a file fetches it from a peer.

use std::sync::Arc;

use roost_cluster::Peering;
use roost_raft::Node;
use roost_service::media::{BlobHash, BlobReplicas, BoxFuture};
use roost_service::{Error, Result};

pub struct ClusterBlobs {
    pub node: Node,
    pub peering: Peering,
}

impl ClusterBlobs {
    /// The other members: (address, voter?).
    fn peers(members: Vec<(u64, String, bool)>, me: u64) -> Vec<(String, bool)> {
        members.into_iter().filter(|(id, _, _)| *id != me).map(|(_, addr, voter)| (addr, voter)).collect()
    }
}

impl BlobReplicas for ClusterBlobs {
    fn replicate<'a>(&'a self, hash: BlobHash, bytes: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (members, me) = (self.node.members(), self.node.id());
            let voters = members.iter().filter(|(_, _, voter)| *voter).count();
            let here = usize::from(members.iter().any(|(id, _, voter)| *id == me && *voter));
            // With this node's own copy, a majority of the voters.
            let needed = (voters / 2 + 1).saturating_sub(here);
            let peers = Self::peers(members, me);
            let bytes: Arc<[u8]> = Arc::from(bytes);
            let (tx, mut rx) = tokio::sync::mpsc::channel(peers.len().max(1));
            for (addr, voter) in peers {
                let (peering, bytes, tx) = (self.peering.clone(), bytes.clone(), tx.clone());
                // Every peer gets a copy; the copies beyond the majority finish in the background.
                tokio::spawn(async move {
                    let result = roost_cluster::put_blob(&peering, &addr, &hash.to_hex(), bytes.to_vec()).await;
                    if let Err(e) = &result {
                        tracing::warn!(blob = %hash, peer = %addr, "storing a copy of a picture: {e}");
                    }
                    let _ = tx.send((voter, result.is_ok())).await;
                });
            }
            drop(tx);
            let mut stored = 0;
            while stored < needed {
                match rx.recv().await {
                    Some((true, true)) => stored += 1,
                    Some(_) => {}
                    None => {
                        tracing::error!(blob = %hash, stored, needed, "too few peers took a copy of a picture");
                        return Err(Error::Unavailable);
                    }
                }
            }
            Ok(())
        })
    }

    fn fetch(&self, hash: BlobHash) -> BoxFuture<'_, Option<Vec<u8>>> {
        Box::pin(async move {
            for (addr, _) in Self::peers(self.node.members(), self.node.id()) {
                match roost_cluster::get_blob(&self.peering, &addr, &hash.to_hex()).await {
                    Ok(Some(bytes)) if BlobHash::of(&bytes) == hash => return Some(bytes),
                    Ok(Some(_)) => {
                        tracing::error!(blob = %hash, peer = %addr, "a peer sent a file that is not the blob")
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(blob = %hash, peer = %addr, "fetching a picture: {e}"),
                }
            }
            None
        })
    }
}
