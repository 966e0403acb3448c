//! Random tokens and their hashes, and recording that a token is in use.

use rand::RngCore;
use roost_types::{Actor, Command};

use crate::{ActorExt, Service};

/// 256 random bits as 64 hex characters, for tokens and client credentials.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex(&bytes)
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash under which a token is stored. Tokens are 256-bit random values, so a fast hash
/// is enough (passwords use argon2id).
pub fn token_hash(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

/// Records that a token is in use, at most about once a day per token (so that the least
/// recently used are the ones pruned when an account or app holds too many). The write is
/// proposed in the background: the request that used the token does not wait for it.
pub fn note_use(svc: &Service, token_hash: [u8; 32], token: &roost_core::model::Token) {
    let now = crate::now_ms();
    if now.saturating_sub(token.last_used) < roost_types::TOKEN_TOUCH_INTERVAL_MS {
        return;
    }
    if !svc.touching().start(token_hash) {
        return; // a touch of this token is on its way already
    }
    let svc = svc.clone();
    tokio::spawn(async move {
        if crate::write::protocol(&svc).is_ok_and(|v| v >= 2) {
            let command = Command::TouchToken { token_hash };
            if let Err(e) = crate::write::propose_unchecked(&svc, &Actor::node(), command).await {
                tracing::debug!("recording a token's use: {e}");
            }
        }
        svc.touching().done(&token_hash);
    });
}

/// Tokens whose use is being recorded, so that a burst of requests proposes one touch.
#[derive(Default)]
pub(crate) struct Touching(std::sync::Mutex<std::collections::HashSet<[u8; 32]>>);

impl Touching {
    /// Most touches in flight at once; beyond, uses go unrecorded until some finish.
    const MAX: usize = 10_000;

    fn start(&self, hash: [u8; 32]) -> bool {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        set.len() < Self::MAX && set.insert(hash)
    }

    fn done(&self, hash: &[u8; 32]) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(hash);
    }
}
