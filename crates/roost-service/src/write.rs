//! Proposing: the one way a use case changes state.

use roost_raft::Applied;
use roost_types::{Actor, Command, Id, Outcome, Request};

use crate::{Error, Result, Service};

/// The wall clock in milliseconds; read only here, before proposing.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Proposes a command stamped with this node's clock and the actor who asked; a refusal
/// becomes the matching error.
///
/// Commands other than new posts are first dry-run against the local state, so that one the
/// state machine would refuse is answered at once and never reaches the log. Posts are
/// validated by [`crate::statuses::create`] instead: their fan-out makes a dry run as costly as
/// the real one. The state machine still decides: it refuses whatever changed in between,
/// identically on every node. Every moderation command passes its hook here.
pub(crate) async fn propose(svc: &Service, by: &Actor, command: Command) -> Result<Applied> {
    if is_moderation(svc, &command)? {
        svc.hooks().before_moderation(by, &command).await?;
    }
    let view = svc.read()?;
    let req = request(&view, by, command)?;
    let post = |c: &Command| matches!(c, Command::CreateStatus(_) | Command::CreatePost { .. });
    let new_post = post(&req.command) || matches!(&req.command, Command::Judged { command, .. } if post(command));
    if !new_post {
        let mut dry = roost_core::kv::Overlay::new(&view);
        if let Outcome::Rejected(r) = roost_core::apply(&mut dry, &req, &mut roost_core::effects::NoEffects)? {
            return Err(Error::from_rejection(r));
        }
    }
    drop(view);
    outcome(svc.node().propose(req).await?)
}

/// Proposes without a dry run: for the node's own housekeeping (a tick, a token's use), whose
/// refusal changes nothing and which a dry run would only make cost twice.
pub(crate) async fn propose_unchecked(svc: &Service, by: &Actor, command: Command) -> Result<Applied> {
    let req = request(&svc.read()?, by, command)?;
    outcome(svc.node().propose(req).await?)
}

/// The request for a command: stamped with the clock, and naming who asked once the cluster
/// records it (protocol 3; an older member could not decode it).
fn request(view: &roost_raft::ReadView, by: &Actor, command: Command) -> Result<Request> {
    let attributed = roost_core::protocol::active(view)? >= 3;
    Ok(Request { at: now_ms(), by: attributed.then(|| by.clone()), command })
}

fn outcome(applied: Applied) -> Result<Applied> {
    match applied.outcome {
        Outcome::Rejected(r) => Err(Error::from_rejection(r)),
        Outcome::Done { .. } => Ok(applied),
    }
}

/// Whether a command is a moderator's or an admin's action on others (roles, suspensions,
/// reports, invites, removing someone else's post): what the moderation hook (and later the
/// audit trail) sees.
pub fn is_moderation(svc: &Service, command: &Command) -> Result<bool> {
    Ok(match command {
        Command::SetRole { .. }
        | Command::Suspend { .. }
        | Command::Unsuspend { .. }
        | Command::ResolveReport { .. }
        | Command::CreateInvite { .. }
        | Command::RevokeInvite { .. }
        | Command::ReviewHeldPost { .. } => true,
        Command::DeleteStatus { actor, status } => {
            roost_core::query::status(&svc.read()?, *status)?.is_some_and(|s| s.author != *actor)
        }
        _ => false,
    })
}

/// The account of a signed-in actor: use cases that act as a member refuse anyone else.
pub fn member(by: &Actor) -> Result<Id> {
    by.account.ok_or_else(|| Error::Forbidden("This needs a signed-in member".into()))
}

/// The protocol the cluster has activated: what commands may be proposed (see
/// `roost_types::PROTOCOL`). Use cases whose command changed propose the older one while a
/// rolling upgrade is under way.
pub fn protocol(svc: &Service) -> Result<u32> {
    Ok(roost_core::protocol::active(&svc.read()?)?)
}

/// The ID a successful command created.
pub fn created_id(applied: &Applied) -> Result<Id> {
    match applied.outcome {
        Outcome::Done { id: Some(id) } => Ok(id),
        _ => Err(Error::Internal("the command created nothing".into())),
    }
}
