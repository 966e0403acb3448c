//! Lists: a member's own named sets of accounts they follow, each with its timeline.

use roost_core::model::List;
use roost_core::query;
use roost_core::text::{self, Limit};
use roost_types::{Actor, Command, Id, RepliesPolicy, MAX_LIST_MEMBERS};

use crate::accounts::limited;
use crate::write::{created_id, member, propose};
use crate::{Applied, Error, Result, Service};

/// A list's title: one line of 100 characters.
pub const LIST_TITLE: Limit = Limit::chars(100);

/// A list title as stored.
pub fn list_title(raw: &str) -> Result<String> {
    let title = text::clean_line(raw);
    if title.is_empty() {
        return Err(Error::invalid("Validation failed: A list needs a title"));
    }
    limited("Title", &title, LIST_TITLE)?;
    Ok(title)
}

/// A list's settings as asked for; `None` keeps what it has (or, for a new list, Mastodon's
/// default: replies to members of the list, not exclusive). A new list needs a title.
#[derive(Debug, Clone, Default)]
pub struct ListSettings {
    pub title: Option<String>,
    pub replies_policy: Option<RepliesPolicy>,
    pub exclusive: Option<bool>,
}

impl ListSettings {
    fn resolve(self, current: Option<&List>) -> Result<(String, RepliesPolicy, bool)> {
        let title = match (self.title, current) {
            (Some(t), _) => list_title(&t)?,
            (None, Some(l)) => l.title.clone(),
            (None, None) => return Err(Error::invalid("Validation failed: A list needs a title")),
        };
        let policy = self.replies_policy.or(current.map(|l| l.replies_policy)).unwrap_or(RepliesPolicy::List);
        Ok((title, policy, self.exclusive.or(current.map(|l| l.exclusive)).unwrap_or(false)))
    }
}

/// One of the viewer's lists, or 404.
pub fn own_list(view: &roost_raft::ReadView, viewer: Id, id: Id) -> Result<List> {
    query::list(view, viewer, id)?.ok_or(Error::NotFound)
}

/// Makes a list; its ID and the log index.
pub async fn create(svc: &Service, by: &Actor, settings: ListSettings) -> Result<(Id, u64)> {
    let account = member(by)?;
    let (title, replies_policy, exclusive) = settings.resolve(None)?;
    let applied = propose(svc, by, Command::CreateList { account, title, replies_policy, exclusive }).await?;
    Ok((created_id(&applied)?, applied.index))
}

/// Changes one of the actor's lists.
pub async fn update(svc: &Service, by: &Actor, list: Id, settings: ListSettings) -> Result<Applied> {
    let account = member(by)?;
    let current = own_list(&svc.read()?, account, list)?;
    let (title, replies_policy, exclusive) = settings.resolve(Some(&current))?;
    propose(svc, by, Command::UpdateList { account, list, title, replies_policy, exclusive }).await
}

/// Deletes one of the actor's lists.
pub async fn delete(svc: &Service, by: &Actor, list: Id) -> Result<Applied> {
    let account = member(by)?;
    own_list(&svc.read()?, account, list)?;
    propose(svc, by, Command::DeleteList { account, list }).await
}

/// Adds accounts the actor follows to one of their lists.
pub async fn add_members(svc: &Service, by: &Actor, list: Id, members: Vec<Id>) -> Result<Applied> {
    let account = member(by)?;
    own_list(&svc.read()?, account, list)?;
    if members.is_empty() || members.len() > MAX_LIST_MEMBERS {
        return Err(Error::invalid("Give account_ids[] to add"));
    }
    propose(svc, by, Command::AddToList { account, list, members }).await
}

/// Takes accounts off one of the actor's lists.
pub async fn remove_members(svc: &Service, by: &Actor, list: Id, members: Vec<Id>) -> Result<Applied> {
    let account = member(by)?;
    own_list(&svc.read()?, account, list)?;
    if members.len() > MAX_LIST_MEMBERS {
        return Err(Error::invalid("Too many account_ids[]"));
    }
    propose(svc, by, Command::RemoveFromList { account, list, members }).await
}
