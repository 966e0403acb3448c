//! The clock's work. The leader's: turning on newer protocols once every member speaks them,
//! and proposing `Command::Tick` when something in the state falls due (scheduled posts,
//! polls ending, timed mutes, unused apps and uploads). The state machine decides what is due
//! by the tick's logged time, so every replica agrees; this task only decides *when* to ask.
//! Every node's: fetching from its peers the picture files it lacks, and removing, once an
//! hour, the blobs of its own store that no picture uses.

use std::time::Duration;

use roost_types::{Actor, Command};

use crate::write::propose_unchecked;
use crate::{now_ms, ActorExt, Service};

/// How often the timer looks at the state when nothing is due sooner.
const IDLE: Duration = Duration::from_secs(1);
/// The shortest pause between two ticks, so that a tick that leaves work (each does a bounded
/// amount) is followed soon, but never in a busy loop.
const BETWEEN_TICKS: Duration = Duration::from_millis(50);

/// Proposes `ActivateProtocol` for `version` if the state has an older one active. Callers
/// establish that every member speaks `version`.
pub async fn activate_protocol(svc: &Service, version: u32) -> crate::Result<()> {
    let active = roost_core::protocol::active(&svc.read()?)?;
    if version <= active {
        return Ok(());
    }
    tracing::info!(from = active, to = version, "activating a newer protocol: every member speaks it");
    propose_unchecked(svc, &Actor::node(), Command::ActivateProtocol { version }).await?;
    Ok(())
}

/// How often a node looks for blobs nothing uses, and for blobs it lacks.
const COLLECT_EVERY: Duration = Duration::from_secs(3600);
/// How long after a start a node first looks for blobs it lacks (once it has caught up).
const REPAIR_AFTER_START: Duration = Duration::from_secs(10);

/// Runs for as long as the node does: on the leader, proposes a tick whenever something is
/// due; on every node, collects unused blobs.
pub async fn run(svc: Service) {
    tokio::join!(ticks(svc.clone()), collect_blobs(svc));
}

async fn collect_blobs(svc: Service) {
    loop {
        // Shortly after a start (a cluster node may have been away), then hourly.
        tokio::time::sleep(REPAIR_AFTER_START).await;
        match crate::media::repair(&svc).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(fetched = n, "fetched picture files this node lacked from its peers"),
            Err(e) => tracing::warn!("fetching missing picture files: {e}"),
        }
        tokio::time::sleep(COLLECT_EVERY.saturating_sub(REPAIR_AFTER_START)).await;
        match crate::media::collect_garbage(&svc, crate::media::GARBAGE_AGE).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "removed blobs no picture uses"),
            Err(e) => tracing::warn!("collecting unused blobs: {e}"),
        }
    }
}

async fn ticks(svc: Service) {
    loop {
        let pause = match tick_if_due(&svc).await {
            Ok(Some(wait)) => wait.clamp(BETWEEN_TICKS, IDLE),
            Ok(None) => IDLE,
            Err(e) => {
                tracing::warn!("timer: {e}");
                IDLE
            }
        };
        tokio::time::sleep(pause).await;
    }
}

/// Ticks if this node leads and something is due; how long until the next thing is, if known.
async fn tick_if_due(svc: &Service) -> crate::Result<Option<Duration>> {
    if !svc.node().is_leader() {
        return Ok(None);
    }
    let Some(due) = roost_core::protocol::next_due(&svc.read()?)? else { return Ok(None) };
    let now = now_ms();
    if due > now {
        return Ok(Some(Duration::from_millis((due - now) as u64)));
    }
    propose_unchecked(svc, &Actor::node(), Command::Tick).await?;
    Ok(Some(BETWEEN_TICKS))
}
