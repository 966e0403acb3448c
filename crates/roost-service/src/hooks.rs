//! The points where later work hooks in, once per kind of write: automod judges every post
//! before it is created or edited, sign-up rules (SSO, allowlists) every account before it is
//! created, the audit trail every moderation action before it is taken. Today they let
//! everything through unless a [`Hook`] is installed ([`crate::Service::with_hooks`]); each is
//! called from exactly one place.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

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

/// What a hook's judgement is: a future that lets the write through (`Ok`) or refuses it with
/// the error the adapter shows.
pub type Verdict<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// Something that judges writes before they are proposed (automod rules, sign-up rules, an
/// audit trail). Each method defaults to letting the write through.
pub trait Hook: Send + Sync + 'static {
    /// A post about to be created or edited.
    fn before_post<'a>(&'a self, _by: &'a Actor, _post: &'a PostDraft<'a>) -> Verdict<'a> {
        Box::pin(async { Ok(()) })
    }

    /// An account about to be created.
    fn before_account<'a>(&'a self, _by: &'a Actor, _account: &'a AccountDraft<'a>) -> Verdict<'a> {
        Box::pin(async { Ok(()) })
    }

    /// A moderation action about to be taken.
    fn before_moderation<'a>(&'a self, _by: &'a Actor, _action: &'a Command) -> Verdict<'a> {
        Box::pin(async { Ok(()) })
    }
}

/// The hooks of this node, asked in order; the first refusal stands. None by default.
#[derive(Clone, Default)]
pub struct Hooks {
    hooks: Vec<Arc<dyn Hook>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hooks({})", self.hooks.len())
    }
}

impl Hooks {
    pub fn new(hooks: Vec<Arc<dyn Hook>>) -> Hooks {
        Hooks { hooks }
    }

    /// Called by `statuses::create` and `statuses::edit`, after every other rule and before the
    /// clock is read: what an automod rule judges.
    pub(crate) async fn before_post(&self, by: &Actor, post: &PostDraft<'_>) -> Result<()> {
        for h in &self.hooks {
            h.before_post(by, post).await?;
        }
        Ok(())
    }

    /// Called by `accounts::admit` for every way an account is made.
    pub(crate) async fn before_account(&self, by: &Actor, account: &AccountDraft<'_>) -> Result<()> {
        for h in &self.hooks {
            h.before_account(by, account).await?;
        }
        Ok(())
    }

    /// Called by `write::propose` for every command that `write::is_moderation` names.
    pub(crate) async fn before_moderation(&self, by: &Actor, action: &Command) -> Result<()> {
        for h in &self.hooks {
            h.before_moderation(by, action).await?;
        }
        Ok(())
    }
}
