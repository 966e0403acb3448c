//! Relationships between members: following (and answering follow requests), blocking,
//! muting. Only an account the actor may see can be acted on.

use roost_core::model::Account;
use roost_core::query;
use roost_types::{Actor, Command, Id, Millis};

use crate::write::{member, propose};
use crate::{now_ms, Applied, Error, Result, Service};

/// The longest timed mute: ten years (beyond, mute without a duration).
pub const MAX_MUTE_SECONDS: i64 = 10 * 365 * 24 * 3600;

/// What to do about another account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Follow (or ask to, if the account is locked); `reblogs`: see their reposts at home;
    /// `notify`: hear of each of their posts.
    Follow {
        reblogs: bool,
        notify: bool,
    },
    Unfollow,
    /// Answer a follow request from this account.
    AuthorizeRequest,
    RejectRequest,
    Block,
    Unblock,
    /// Mute their posts (and, with `notifications`, their notifications), for `duration`
    /// seconds or (`None` or 0) until unmuted.
    Mute {
        notifications: bool,
        duration: Option<i64>,
    },
    Unmute,
}

/// An account the viewer may see: not one that blocks them (the blocker disappears for the
/// blocked), nor a suspended one (unless the viewer moderates).
pub fn visible_account(view: &roost_raft::ReadView, viewer: Id, id: Id) -> Result<Account> {
    let account = query::account(view, id)?.ok_or(Error::NotFound)?;
    if id != viewer && query::relationship(view, viewer, id)?.blocked_by {
        return Err(Error::NotFound);
    }
    // A suspended account is gone for everyone but moderators (and itself).
    if !roost_core::visibility::account_shown(view, viewer, id)? {
        return Err(Error::NotFound);
    }
    Ok(account)
}

/// Changes the actor's relationship with an account they may see.
pub async fn relate(svc: &Service, by: &Actor, target: Id, what: Relation) -> Result<Applied> {
    let account = member(by)?;
    visible_account(&svc.read()?, account, target)?;
    let command = match what {
        Relation::Follow { reblogs, notify } => Command::Follow { account, target, reblogs, notify },
        Relation::Unfollow => Command::Unfollow { account, target },
        Relation::AuthorizeRequest => Command::AuthorizeFollowRequest { account, requester: target },
        Relation::RejectRequest => Command::RejectFollowRequest { account, requester: target },
        Relation::Block => Command::Block { account, target },
        Relation::Unblock => Command::Unblock { account, target },
        Relation::Mute { notifications, duration } => {
            Command::MuteFor { account, target, notifications, expires_at: mute_ends(duration)? }
        }
        Relation::Unmute => Command::Unmute { account, target },
    };
    propose(svc, by, command).await
}

/// When a mute of `duration` seconds from now lifts (`None` or 0: never by itself).
fn mute_ends(duration: Option<i64>) -> Result<Option<Millis>> {
    match duration {
        None | Some(0) => Ok(None),
        Some(d) if (1..=MAX_MUTE_SECONDS).contains(&d) => Ok(Some(now_ms() + d * 1000)),
        Some(_) => Err(Error::invalid(format!("duration must be 0 to {MAX_MUTE_SECONDS} seconds"))),
    }
}
