//! The hash chain over the applied log.
//!
//! Each applied entry extends the head: `head' = BLAKE3(head ‖ index ‖ term ‖ payload)`, where
//! index and term are big-endian u64s and payload is the postcard encoding of the entry's
//! payload (blank, membership or request). Two replicas with the same head applied the same
//! history; an auditor can recompute it from an exported log.

use serde::{Deserialize, Serialize};

/// The chain head after applying the entry at `index`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub index: u64,
    pub head: [u8; 32],
}

impl ChainHead {
    pub fn hex(&self) -> String {
        self.head.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Extends a chain head by one entry.
pub fn chain_step(prev: &[u8; 32], index: u64, term: u64, payload: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(&index.to_be_bytes());
    h.update(&term.to_be_bytes());
    h.update(payload);
    *h.finalize().as_bytes()
}
