//! Editing a post: the author rewrites it, its earlier version stays in its history. The same
//! text rules as a new post, the same hook.

use roost_types::{Actor, Command, Id};

use super::rules::{checked_language, no_media, post_text, PollRequest};
use super::visible;
use crate::hooks::PostDraft;
use crate::write::{member, propose};
use crate::{Applied, Error, Result, Service};

/// A post's new version.
#[derive(Debug, Clone, Default)]
pub struct EditPost {
    pub status: Id,
    pub text: Option<String>,
    pub spoiler_text: Option<String>,
    pub sensitive: bool,
    pub language: Option<String>,
    /// A new poll: refused (polls cannot be changed by an edit yet).
    pub poll: Option<PollRequest>,
    pub media_ids: Vec<String>,
}

/// Edits one of the actor's posts; the state machine refuses anyone else's.
pub async fn edit(svc: &Service, by: &Actor, e: EditPost) -> Result<Applied> {
    let author = member(by)?;
    no_media(&e.media_ids)?;
    if e.poll.is_some() {
        return Err(Error::invalid("Polls cannot be changed by an edit yet"));
    }
    let (text, spoiler_text) = post_text(svc, e.text.as_deref(), e.spoiler_text.as_deref())?;
    let language = checked_language(e.language)?;
    let (shown, _) = visible(&svc.read()?, author, e.status)?;
    let draft = PostDraft {
        author,
        editing: Some(e.status),
        text: &text,
        spoiler_text: &spoiler_text,
        visibility: shown.visibility,
        in_reply_to: shown.in_reply_to,
        quote_of: shown.quote_of,
    };
    svc.hooks().before_post(by, &draft).await?;
    let command =
        Command::EditStatus { actor: author, status: e.status, text, spoiler_text, sensitive: e.sensitive, language };
    propose(svc, by, command).await
}
