//! The clock's work, done by the leader: turning on newer protocols once every member speaks
//! them, and proposing `Command::Tick` when something in the state falls due (scheduled posts,
//! polls ending, timed mutes, unused apps). The state machine decides what is due by the
//! tick's logged time, so every replica agrees; this task only decides *when* to ask.

use std::time::Duration;

use roost_types::{Command, Request};

use crate::service::now_ms;
use crate::AppState;

/// How often the timer looks at the state when nothing is due sooner.
const IDLE: Duration = Duration::from_secs(1);
/// The shortest pause between two ticks, so that a tick that leaves work (each does a bounded
/// amount) is followed soon, but never in a busy loop.
const BETWEEN_TICKS: Duration = Duration::from_millis(50);

/// Proposes `ActivateProtocol` for `version` if the state has an older one active. Callers
/// establish that every member speaks `version`.
pub async fn activate_protocol(state: &AppState, version: u32) -> crate::ApiResult<()> {
    let active = roost_core::protocol::active(&state.node().read()?)?;
    if version <= active {
        return Ok(());
    }
    tracing::info!(from = active, to = version, "activating a newer protocol: every member speaks it");
    let req = Request { at: now_ms(), command: Command::ActivateProtocol { version } };
    state.node().propose(req).await?;
    Ok(())
}

/// Runs for as long as the node does: on the leader, proposes a tick whenever something is due.
pub async fn run(state: AppState) {
    loop {
        let pause = match tick_if_due(&state).await {
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
async fn tick_if_due(state: &AppState) -> crate::ApiResult<Option<Duration>> {
    if !state.node().is_leader() {
        return Ok(None);
    }
    let Some(due) = roost_core::protocol::next_due(&state.node().read()?)? else { return Ok(None) };
    let now = now_ms();
    if due > now {
        return Ok(Some(Duration::from_millis((due - now) as u64)));
    }
    state.node().propose(Request { at: now, command: Command::Tick }).await?;
    Ok(Some(BETWEEN_TICKS))
}
