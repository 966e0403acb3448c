//! Posts: every rule of creating one ([`create`]) and of editing one ([`edit`]), the text,
//! poll and language rules they share ([`rules`]), scheduling ([`scheduled`]), and acting on
//! a post ([`interact`]).

pub mod create;
pub mod edit;
pub mod interact;
pub mod rules;
pub mod scheduled;

pub use create::{create, NewPost, Posted};
pub use edit::{edit, EditPost};
pub use interact::{interact, vote, Interaction};
pub use rules::PollRequest;

use roost_core::query;
use roost_types::Id;

use crate::{Error, Result};

/// A post the viewer may see, or 404: a reply, quote or edit of anything else is refused as if
/// it did not exist.
pub fn visible(view: &roost_raft::ReadView, viewer: Id, id: Id) -> Result<query::Shown> {
    query::visible_status(view, viewer, id)?.ok_or(Error::NotFound)
}
