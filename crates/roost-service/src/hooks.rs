//! The points where later work hooks in, once per kind of write: automod judges every post
//! before it is created or edited, sign-up rules (SSO, allowlists) every account before it is
//! created, the audit trail every moderation action before it is taken. Today they let
//! everything through; each is called from exactly one place.

use roost_types::{Actor, Command, Id, Role, Visibility};

use crate::Result;

/// A post about to be created or edited, as cleaned and checked by the service.
#[derive(Debug, Clone, Copy)]
pub struct PostDraft<'a> {
    pub author: Id,
    /// The post being edited, if this is an edit.
    pub editing: Option<Id>,
    pub text: &'a str,
    pub spoiler_text: &'a str,
    pub visibility: Visibility,
    pub in_reply_to: Option<Id>,
    pub quote_of: Option<Id>,
}

/// An account about to be created.
#[derive(Debug, Clone, Copy)]
pub struct AccountDraft<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    /// The role asked for (`None`: owner of an empty instance, else member); through an invite,
    /// the invite's.
    pub role: Option<Role>,
    pub by_invite: bool,
}

/// The hooks of this node. A refusal is an [`crate::Error`] the adapter shows.
#[derive(Debug, Default)]
pub struct Hooks {}

impl Hooks {
    /// Called by `statuses::create` and `statuses::edit`, after every other rule and before the
    /// clock is read: what an automod rule judges.
    pub async fn before_post(&self, _by: &Actor, _post: &PostDraft<'_>) -> Result<()> {
        Ok(())
    }

    /// Called by `accounts::admit` for every way an account is made.
    pub async fn before_account(&self, _by: &Actor, _account: &AccountDraft<'_>) -> Result<()> {
        Ok(())
    }

    /// Called by `write::propose` for every command that `write::is_moderation` names.
    pub async fn before_moderation(&self, _by: &Actor, _action: &Command) -> Result<()> {
        Ok(())
    }
}
