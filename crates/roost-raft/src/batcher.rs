//! Group commit of proposals. openraft 0.9 appends and fsyncs one client write at a time, so
//! Roost puts many requests into one log entry instead: the batcher takes every request that
//! arrived while the previous entries were being committed and proposes them together. One
//! entry, one fsync, one apply transaction, for as many requests as were waiting.

use std::sync::Arc;

use roost_types::{Outcome, Request};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::{Applied, Error, RaftHandle, Result};

/// Most requests in one log entry.
const MAX_BATCH: usize = 512;
/// Entries proposed but not yet applied: the second is appended while the first is applied.
const MAX_IN_FLIGHT: usize = 2;
/// Requests waiting for a batch before senders are slowed down.
const QUEUE: usize = 16 * 1024;

type Waiter = oneshot::Sender<Result<Applied>>;

/// The sending side; cheap to clone. The batching task ends when the last clone is dropped.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::Sender<(Request, Waiter)>,
}

impl Batcher {
    pub fn start(raft: RaftHandle) -> Batcher {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(raft, rx));
        Batcher { tx }
    }

    /// Proposes one request and waits until it is applied.
    pub async fn propose(&self, req: Request) -> Result<Applied> {
        let (done, wait) = oneshot::channel();
        self.tx.send((req, done)).await.map_err(|_| Error::Unavailable("the node is shutting down".into()))?;
        wait.await.map_err(|_| Error::Unavailable("the node is shutting down".into()))?
    }
}

async fn run(raft: RaftHandle, mut rx: mpsc::Receiver<(Request, Waiter)>) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        // Wait for a free slot first, so that requests keep gathering while all slots are busy.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let Some(first) = rx.recv().await else { return };
        let mut requests = vec![first.0];
        let mut waiters = vec![first.1];
        while requests.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((req, w)) => {
                    requests.push(req);
                    waiters.push(w);
                }
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let result = raft.client_write(requests).await;
            drop(slot);
            match result {
                Ok(resp) => {
                    let index = resp.log_id.index;
                    let mut outcomes = resp.data.into_iter();
                    for w in waiters {
                        let outcome = outcomes.next().unwrap_or(Outcome::done());
                        let _ = w.send(Ok(Applied { index, outcome }));
                    }
                }
                Err(e) => {
                    // Not the leader (any more): raft may still commit what it took, so the
                    // requests are not sent anywhere else; their callers learn it may or may not
                    // be applied.
                    // (openraft 0.9 also answers a write it had appended, when it steps down,
                    // with ForwardToLeader: the two cannot be told apart here.)
                    let lost_leadership = e.forward_to_leader::<openraft::BasicNode>().is_some();
                    let unavailable = matches!(e, openraft::error::RaftError::APIError(_));
                    for w in waiters {
                        let err = if lost_leadership {
                            Error::Unavailable("the leader changed: the write may or may not be applied".into())
                        } else if unavailable {
                            Error::Unavailable(e.to_string())
                        } else {
                            Error::Raft(e.to_string())
                        };
                        let _ = w.send(Err(err));
                    }
                }
            }
        });
    }
}
