//! A node's identity in its data directory: its node ID and the cluster secret, each in a file
//! of its own (mode 0600), written once and kept.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rand::RngCore;

use crate::{Error, Result};

/// The file holding the cluster secret inside a data directory.
pub const SECRET_FILE: &str = "cluster.secret";
/// The environment variable a joining node reads the secret from (when its file is absent).
pub const SECRET_ENV: &str = "ROOST_CLUSTER_SECRET";
/// The file holding the node's ID: present once the directory held a cluster member.
pub const NODE_ID_FILE: &str = "node.id";
/// The shortest cluster secret taken from the environment.
const MIN_SECRET: usize = 32;
/// The raft log, whose presence says the directory held a node before.
const LOG_FILE: &str = roost_raft::LOG_FILE;

/// Who this node is and the secret its cluster shares.
#[derive(Debug, Clone)]
pub struct Identity {
    pub node_id: u64,
    pub secret: String,
}

impl Identity {
    /// Loads the identity, or makes it on first start. A new cluster (no `join`) creates its
    /// secret; a joining node takes it from `secret` (the environment) and keeps it. A directory
    /// that ran as a single node before keeps node ID 1.
    pub fn load_or_create(data_dir: &Path, joining: bool, secret: Option<String>) -> Result<Identity> {
        let id_path = data_dir.join(NODE_ID_FILE);
        let node_id = match std::fs::read_to_string(&id_path) {
            Ok(s) => s.trim().parse().map_err(|_| Error::Refused(format!("{} is not a node ID", id_path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let former_single_node = data_dir.join(LOG_FILE).exists();
                if former_single_node && joining {
                    return Err(Error::Refused(format!(
                        "{} already holds a Roost node with its own data: --join needs an empty data directory",
                        data_dir.display()
                    )));
                }
                let id = if former_single_node { 1 } else { random_id() };
                write_private(&id_path, &id.to_string())?;
                id
            }
            Err(e) => return Err(e.into()),
        };
        let secret_path = data_dir.join(SECRET_FILE);
        let secret = match std::fs::read_to_string(&secret_path) {
            Ok(s) => s.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let s = match (secret, joining) {
                    // A secret short enough to guess would let anyone check guesses offline
                    // against a member's proof of it (see `tls::ca_proof`).
                    (Some(s), _) if !s.trim().is_empty() && s.trim().len() < MIN_SECRET => {
                        return Err(Error::Refused(format!(
                            "the cluster secret must be at least {MIN_SECRET} characters (the one a cluster makes is 64)"
                        )))
                    }
                    (Some(s), _) if !s.trim().is_empty() => s.trim().to_string(),
                    (_, true) => return Err(Error::Unauthorized),
                    (_, false) => random_secret(),
                };
                write_private(&secret_path, &s)?;
                s
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Identity { node_id, secret })
    }
}

/// A node ID: random, never 0 (and never 1, which a former single node keeps).
fn random_id() -> u64 {
    loop {
        let id = rand::rngs::OsRng.next_u64() >> 1;
        if id > 1 {
            return id;
        }
    }
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a file readable by its owner only, durably.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = Identity::load_or_create(dir.path(), false, None).unwrap();
        assert!(first.node_id > 1 && first.secret.len() == 64);
        let again = Identity::load_or_create(dir.path(), false, Some("other".into())).unwrap();
        assert_eq!((again.node_id, again.secret), (first.node_id, first.secret));

        let joiner = tempfile::tempdir().unwrap();
        assert!(matches!(Identity::load_or_create(joiner.path(), true, None), Err(Error::Unauthorized)));
        assert!(Identity::load_or_create(joiner.path(), true, Some("short".into())).is_err());
        let shared = "a shared secret of at least thirty-two characters";
        let joined = Identity::load_or_create(joiner.path(), true, Some(shared.into())).unwrap();
        assert_eq!(joined.secret, shared);
    }
}
