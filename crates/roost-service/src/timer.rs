//! The clock's work, done by the leader: turning on newer protocols once every member speaks
//! them, and proposing `Command::Tick` when something in the state falls due (scheduled posts,
//! polls ending, timed mutes, unused apps). The state machine decides what is due by the
//! tick's logged time, so every replica agrees; this task only decides *when* to ask.

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

/// Runs for as long as the node does: on the leader, proposes a tick whenever something is due.
pub async fn run(svc: Service) {
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
