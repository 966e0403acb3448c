//! A member's inbox: notifications (dismissing them) and direct conversations (marking them
//! read, removing them from the list). Each acts only on the actor's own; the state machine
//! refuses anything else as not found.

use roost_types::{Actor, Command, Id};

use crate::write::{member, propose};
use crate::{Applied, Result, Service};

/// Dismisses one of the actor's notifications.
pub async fn dismiss_notification(svc: &Service, by: &Actor, notification: Id) -> Result<Applied> {
    let account = member(by)?;
    propose(svc, by, Command::DismissNotification { account, notification }).await
}

/// Dismisses all of the actor's notifications.
pub async fn clear_notifications(svc: &Service, by: &Actor) -> Result<Applied> {
    let account = member(by)?;
    propose(svc, by, Command::ClearNotifications { account }).await
}

/// Marks one of the actor's conversations read.
pub async fn read_conversation(svc: &Service, by: &Actor, conversation: Id) -> Result<Applied> {
    let account = member(by)?;
    propose(svc, by, Command::ReadConversation { account, conversation }).await
}

/// Takes one of the actor's conversations off their list (until a new message comes).
pub async fn remove_conversation(svc: &Service, by: &Actor, conversation: Id) -> Result<Applied> {
    let account = member(by)?;
    propose(svc, by, Command::RemoveConversation { account, conversation }).await
}
