//! Integration tests of the replication layer: openraft's storage suite against our stores, a
//! real single-node raft, and the hash chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
        let sm = StateMachine::new(store.clone(), dir.path()).unwrap();
        Ok((dir, LogStore::new(store), sm))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(Builder).unwrap();
}

fn create_user(name: &str, at: i64) -> Request {
    Request {
        at,
        by: None,
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
    assert!(head.index > dup.index);
    node.shutdown().await;
    drop(node);

    // The background tasks release the database file a moment after shutdown.
    let mut reopened = Node::start(dir.path()).await;
    for _ in 0..100 {
        if reopened.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        reopened = Node::start(dir.path()).await;
    }
    let node = reopened.unwrap();
    node.wait_ready(Duration::from_secs(10)).await.unwrap();
    let view = node.read().unwrap();
    assert!(roost_core::query::account_by_username(&view, "u49").unwrap().is_some());
    assert_eq!(node.state_digest().unwrap(), digest, "the state survives a restart unchanged");
    let after = node.chain_head().unwrap();
    assert!(after.index >= head.index, "the chain resumes where it stopped");
}

/// A random but valid-looking command over a small world, so that sequences collide often.
fn random_command(rng: &mut impl rand::Rng, users: &[u64], statuses: &[u64]) -> roost_types::Command {
    use roost_types::{Command, NewStatus, Visibility};
    let a = users[rng.gen_range(0..users.len())];
    let b = users[rng.gen_range(0..users.len())];
    let s = statuses.get(rng.gen_range(0..statuses.len().max(1))).copied().unwrap_or(1);
    match rng.gen_range(0..10) {
        0..=3 => Command::CreateStatus(NewStatus {
            author: a,
            text: format!("post {} #t{} @u{}", rng.gen::<u16>(), rng.gen_range(0..3), rng.gen_range(0..users.len())),
            in_reply_to: rng.gen_bool(0.3).then_some(s),
            quote_of: None,
            visibility: [Visibility::Public, Visibility::Unlisted, Visibility::Private, Visibility::Direct]
                [rng.gen_range(0..4)],
            spoiler_text: String::new(),
            sensitive: false,
            language: None,
            idempotency_key: None,
            application: None,
        }),
        4 => Command::Favourite { account: a, status: s },
        5 => Command::Reblog { account: a, status: s, visibility: Visibility::Public },
        6 => Command::Follow { account: a, target: b, reblogs: true, notify: false },
        7 => Command::Unfollow { account: a, target: b },
        8 => Command::DeleteStatus { actor: a, status: s },
        _ => Command::Block { account: a, target: b },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_the_log_into_a_fresh_store_gives_the_same_chain_and_state() {
    use openraft::storage::RaftStateMachine;
    use rand::{Rng, SeedableRng};

    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await.unwrap();
    node.wait_ready(Duration::from_secs(10)).await.unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut users = Vec::new();
    for i in 0..6 {
        let applied = node.propose(create_user(&format!("u{i}"), 1_000 + i)).await.unwrap();
        let Outcome::Done { id: Some(id) } = applied.outcome else { panic!("{applied:?}") };
        users.push(id);
    }
    let mut statuses = Vec::new();
    for i in 0..300 {
        let command = random_command(&mut rng, &users, &statuses);
        let is_post = matches!(command, Command::CreateStatus(_));
        let applied = node.propose(Request::new(2_000 + i, command)).await.unwrap();
        if let (true, Outcome::Done { id: Some(id) }) = (is_post, applied.outcome) {
            statuses.push(id);
        }
    }
    let head = node.chain_head().unwrap();
    let digest = node.state_digest().unwrap();

    let entries: Vec<openraft::Entry<TypeConfig>> =
        node.log_entries(0).unwrap().iter().map(|(_, bytes)| postcard::from_bytes(bytes).unwrap()).collect();
    assert_eq!(entries.last().unwrap().log_id.index, head.index);
    let fresh_dir = tempfile::tempdir().unwrap();
    let mut fresh =
        StateMachine::new(Store::open(&fresh_dir.path().join("replay.redb")).unwrap(), fresh_dir.path()).unwrap();
    // Apply in uneven batches: batching must not change the result.
    let mut rest = entries.as_slice();
    while !rest.is_empty() {
        let n = rng.gen_range(1..=rest.len().min(50));
        fresh.apply(rest[..n].to_vec()).await.unwrap();
        rest = &rest[n..];
    }
    assert_eq!(fresh.chain_head().unwrap(), head);
    assert_eq!(fresh.state_digest().unwrap(), digest);
}

/// A crash can leave the state machine's durable state behind the newest snapshot file (the
/// snapshot is written durably, the state's last commits were deferred). Raft refuses to start
/// on a snapshot newer than the state, and the log behind it may be purged: the state is
/// brought up to the snapshot when it is opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_found_behind_its_snapshot_is_brought_up_to_it() {
    use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};

    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await.unwrap();
    node.wait_ready(Duration::from_secs(10)).await.unwrap();
    for i in 0..40 {
        node.propose(create_user(&format!("u{i}"), 1_000 + i)).await.unwrap();
    }
    let entries: Vec<openraft::Entry<TypeConfig>> =
        node.log_entries(0).unwrap().iter().map(|(_, bytes)| postcard::from_bytes(bytes).unwrap()).collect();
    node.shutdown().await;

    // The whole log applied, and a snapshot of it.
    let full_dir = tempfile::tempdir().unwrap();
    let mut full = StateMachine::new(Store::open(&full_dir.path().join("s.redb")).unwrap(), full_dir.path()).unwrap();
    full.apply(entries.clone()).await.unwrap();
    let snapshot = full.build_snapshot().await.unwrap();
    let digest = full.state_digest().unwrap();
    let head = full.chain_head().unwrap();

    // A state that reached only half of it, beside that snapshot file.
    let behind_dir = tempfile::tempdir().unwrap();
    let store_path = behind_dir.path().join("s.redb");
    {
        let mut behind = StateMachine::new(Store::open(&store_path).unwrap(), behind_dir.path()).unwrap();
        behind.apply(entries[..entries.len() / 2].to_vec()).await.unwrap();
        assert_ne!(behind.state_digest().unwrap(), digest);
    }
    for file in std::fs::read_dir(full_dir.path().join("snapshots")).unwrap().flatten() {
        std::fs::copy(file.path(), behind_dir.path().join("snapshots").join(file.file_name())).unwrap();
    }

    let mut reopened = StateMachine::new(Store::open(&store_path).unwrap(), behind_dir.path()).unwrap();
    let (applied, _) = reopened.applied_state().await.unwrap();
    assert_eq!(applied, snapshot.meta.last_log_id, "the state is at its snapshot");
    assert_eq!(reopened.state_digest().unwrap(), digest);
    assert_eq!(reopened.chain_head().unwrap(), head);
}
