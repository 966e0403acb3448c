//! Integration tests of the replication layer: openraft's storage suite against our stores, a
//! real single-node raft, and the hash chain.

use std::time::Duration;

use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;
use roost_raft::{LogStore, Node, StateMachine, TypeConfig};
use roost_store::Store;
use roost_types::{Command, Outcome, Request, Role};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<u64>> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.redb")).unwrap();
        Ok((dir, LogStore::new(store.clone()), StateMachine::new(store)))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(Builder).unwrap();
}

fn create_user(name: &str, at: i64) -> Request {
    Request {
        at,
        command: Command::CreateAccount {
            username: name.into(),
            email: None,
            password_hash: "h".into(),
            role: Role::Member,
            display_name: None,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_commits_applies_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await.unwrap();
    node.wait_ready(Duration::from_secs(10)).await.unwrap();
    let first = node.propose(create_user("alice", 1_000)).await.unwrap();
    assert!(matches!(first.outcome, Outcome::Done { id: Some(_) }));
    let dup = node.propose(create_user("ALICE", 1_001)).await.unwrap();
    assert_eq!(dup.outcome, Outcome::Rejected(roost_types::Rejection::UsernameTaken));
    assert!(dup.index > first.index);
    node.wait_applied(dup.index, Duration::from_secs(5)).await.unwrap();

    // Concurrent proposals all land, each exactly once.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let n = node.clone();
        tasks.push(tokio::spawn(async move { n.propose(create_user(&format!("u{i}"), 2_000 + i)).await }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap().unwrap().outcome, Outcome::Done { id: Some(_) }));
    }
    let head = node.chain_head().unwrap();
    let digest = node.state_digest().unwrap();
    assert!(head.index >= dup.index + 50);
    node.shutdown().await;
    drop(node);

    let node = Node::start(dir.path()).await.unwrap();
    node.wait_ready(Duration::from_secs(10)).await.unwrap();
    let view = node.read().unwrap();
    assert!(roost_core::query::account_by_username(&view, "u49").unwrap().is_some());
    assert_eq!(node.state_digest().unwrap(), digest, "the state survives a restart unchanged");
    let after = node.chain_head().unwrap();
    assert!(after.index >= head.index, "the chain resumes where it stopped");
}
