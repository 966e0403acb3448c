//! Moderation and administration: roles, suspensions, the reports queue, invites. The state
//! machine checks ranks (an actor acts only on lower ranks, nobody becomes owner); every such
//! command passes the moderation hook in `write::propose`.

use roost_types::{Actor, Command, Id, Role};

use crate::write::{member, propose};
use crate::{Applied, Error, Result, Service};

/// A moderator's or admin's action on someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    SetRole {
        account: Id,
        role: Role,
    },
    Suspend {
        account: Id,
    },
    Unsuspend {
        account: Id,
    },
    ResolveReport {
        report: Id,
    },
    RevokeInvite {
        invite: Id,
    },
    /// A post an automod rule held: approved (it becomes visible) or removed.
    ReviewHeldPost {
        status: Id,
        approve: bool,
    },
}

/// Takes a moderation action as `by` (a member, or the operator through the admin socket for
/// everything but resolving a report, which names who resolved it).
pub async fn moderate(svc: &Service, by: &Actor, action: Moderation) -> Result<Applied> {
    let actor = by.account;
    let command = match action {
        Moderation::SetRole { account, role } => Command::SetRole { actor, account, role },
        Moderation::Suspend { account } => Command::Suspend { actor, account },
        Moderation::Unsuspend { account } => Command::Unsuspend { actor, account },
        Moderation::ResolveReport { report } => Command::ResolveReport { actor: member(by)?, report },
        Moderation::RevokeInvite { invite } => Command::RevokeInvite { actor, invite },
        Moderation::ReviewHeldPost { status, approve } => {
            Command::ReviewHeldPost { actor: member(by)?, status, approve }
        }
    };
    propose(svc, by, command).await
}

/// The actor's role if they moderate (moderators, admins, the owner), else 404: staff pages and
/// tools do not exist for anyone else.
pub fn staff_role(svc: &Service, by: &Actor) -> Result<Role> {
    let account = by.account.ok_or(Error::NotFound)?;
    let role = roost_core::query::account(&svc.read()?, account)?.ok_or(Error::NotFound)?.role;
    if role.can_moderate() {
        Ok(role)
    } else {
        Err(Error::NotFound)
    }
}

/// A post waiting in the held-posts queue, with the rule that held it (its name, if it still
/// exists).
#[derive(Debug, Clone)]
pub struct Held {
    pub held: roost_core::model::HeldPost,
    pub rule: Option<String>,
    pub status: roost_core::model::Status,
}

/// The held-posts queue, oldest first, after `after`: for moderators (404 for anyone else).
pub fn held_posts(svc: &Service, by: &Actor, after: Option<Id>, limit: usize) -> Result<Vec<Held>> {
    staff_role(svc, by)?;
    let view = svc.read()?;
    let mut out = Vec::new();
    for held in roost_core::extensions::held_posts(&view, after, limit)? {
        let Some(status) = roost_core::query::status(&view, held.status)? else { continue };
        let rule = roost_core::extensions::extension(&view, held.extension)?.map(|e| e.name);
        out.push(Held { held, rule, status });
    }
    Ok(out)
}
