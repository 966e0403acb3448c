//! Acting on a post: likes, reposts, bookmarks, pins (and undoing them), deleting, voting.
//! Only what the actor may see can be acted on; anything else is not found.

use roost_types::{Actor, Command, Id, Visibility, MAX_POLL_OPTIONS};

use super::visible;
use crate::write::{member, propose};
use crate::{Applied, Error, Result, Service};

/// What to do to a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    Favourite,
    Unfavourite,
    /// A repost, seen by everyone on the instance, by everyone but in public timelines, or by
    /// followers only.
    Reblog {
        visibility: Visibility,
    },
    Unreblog,
    Bookmark,
    Unbookmark,
    Pin,
    Unpin,
    /// Removes the post (the author's own, or anyone's for a moderator).
    Delete,
}

/// Acts on a post the actor may see. A repost answers with the repost's ID in its outcome.
pub async fn interact(svc: &Service, by: &Actor, status: Id, what: Interaction) -> Result<Applied> {
    let account = member(by)?;
    visible(&svc.read()?, account, status)?;
    let command = match what {
        Interaction::Favourite => Command::Favourite { account, status },
        Interaction::Unfavourite => Command::Unfavourite { account, status },
        Interaction::Reblog { visibility: Visibility::Direct } => {
            return Err(Error::invalid("Validation failed: Visibility is not included in the list"))
        }
        Interaction::Reblog { visibility } => Command::Reblog { account, status, visibility },
        Interaction::Unreblog => Command::Unreblog { account, status },
        Interaction::Bookmark => Command::Bookmark { account, status },
        Interaction::Unbookmark => Command::Unbookmark { account, status },
        Interaction::Pin => Command::Pin { account, status },
        Interaction::Unpin => Command::Unpin { account, status },
        Interaction::Delete => Command::DeleteStatus { actor: account, status },
    };
    propose(svc, by, command).await
}

/// Votes in the poll of a post the actor may see, with option indexes.
pub async fn vote(svc: &Service, by: &Actor, status: Id, choices: Vec<u32>) -> Result<Applied> {
    let account = member(by)?;
    if choices.is_empty() || choices.len() > MAX_POLL_OPTIONS {
        return Err(Error::invalid("Choose at least one option"));
    }
    let (s, _) = visible(&svc.read()?, account, status)?;
    if s.poll.is_none() {
        return Err(Error::NotFound);
    }
    propose(svc, by, Command::Vote { account, poll: status, choices }).await
}
