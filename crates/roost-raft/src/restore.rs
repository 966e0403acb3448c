//! Disaster recovery: a new one-node cluster from a copy of any member's data directory.
//!
//! The copy's state is kept as it is (applied index, chain head, every record); its membership
//! is replaced by this node alone and its log starts empty after the copy's applied index, as
//! if that much had been compacted into a snapshot. The node then elects itself in the next
//! term, and others can join it.

use std::path::Path;

use openraft::{BasicNode, LogId, Membership, StoredMembership, Vote};
use roost_store::{Durability, Store, StoreError};

use crate::chain::ChainHead;
use crate::{Error, Result, LOG_FILE, STATE_FILE};

/// What a restore started from.
#[derive(Debug, Clone)]
pub struct Restored {
    pub applied_index: u64,
    pub chain: ChainHead,
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(|e| Error::Store(StoreError::Engine(e.to_string())))
}

/// Makes `to` (which must not hold a node) a one-node cluster holding `from`'s state.
pub fn restore(from: &Path, to: &Path) -> Result<Restored> {
    let unavailable = |m: String| Error::Unavailable(m);
    if to.join(LOG_FILE).exists() || to.join(STATE_FILE).exists() {
        return Err(unavailable(format!("{} already holds a node: restore into a new directory", to.display())));
    }
    std::fs::create_dir_all(to).map_err(|e| unavailable(format!("creating {}: {e}", to.display())))?;
    std::fs::set_permissions(to, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(|e| unavailable(format!("restricting {}: {e}", to.display())))?;
    std::fs::copy(from.join(STATE_FILE), to.join(STATE_FILE))
        .map_err(|e| unavailable(format!("copying {}: {e}", from.join(STATE_FILE).display())))?;
    let state = Store::open(&to.join(STATE_FILE))?;
    let view = state.read()?;
    if view.meta_get(crate::snapshot::INSTALLING)?.is_some() {
        return Err(unavailable("the copy was taken during a snapshot install: take another".into()));
    }
    let applied: Option<LogId<u64>> = match view.meta_get(crate::state_machine::APPLIED)? {
        Some(b) => postcard::from_bytes(&b).map_err(|e| Error::Store(StoreError::Engine(e.to_string())))?,
        None => None,
    };
    let chain = crate::state_machine::read_chain(&view)?;
    drop(view);
    let Some(applied) = applied else { return Err(unavailable("the copy holds no applied state".into())) };
    let members = std::collections::BTreeMap::from([(1u64, BasicNode::new("local"))]);
    let membership = StoredMembership::new(Some(applied), Membership::new(vec![[1u64].into()], members));
    state.write(Durability::Durable, |txn| {
        txn.meta_put(
            crate::state_machine::MEMBERSHIP,
            &encode(&membership).map_err(|e| StoreError::Engine(e.to_string()))?,
        )
    })?;
    // The log: empty after the applied index (as if compacted), and a vote in the copy's term,
    // so that this node's first election opens the next term.
    let log = Store::open(&to.join(LOG_FILE))?;
    let vote = Vote::new(applied.leader_id.term, 1);
    log.write(Durability::Durable, |txn| {
        txn.meta_put(crate::log_store::PURGED, &encode(&applied).map_err(|e| StoreError::Engine(e.to_string()))?)?;
        txn.meta_put(crate::log_store::VOTE, &encode(&vote).map_err(|e| StoreError::Engine(e.to_string()))?)
    })?;
    Ok(Restored { applied_index: applied.index, chain })
}
