//! Editing a post: the author rewrites it, its earlier version stays in its history. The same
//! text rules as a new post, the same hook.

use roost_types::{Actor, Command, Id};

use super::rules::{checked_language, post_text, PollRequest};
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
    /// Its pictures after the edit, all of them (none: the edit removes any it had, as on
    /// Mastodon, whose apps send them again with every edit).
    pub media_ids: Vec<String>,
}

/// Edits one of the actor's posts; the state machine refuses anyone else's.
pub async fn edit(svc: &Service, by: &Actor, e: EditPost) -> Result<Applied> {
    let author = member(by)?;
    if e.poll.is_some() {
        return Err(Error::invalid("Polls cannot be changed by an edit yet"));
    }
    let media = match e.media_ids.is_empty() {
        true => Vec::new(),
        false => crate::media::checked_attachments(svc, author, &e.media_ids, Some(e.status))?,
    };
    let (text, spoiler_text) = post_text(svc, e.text.as_deref(), e.spoiler_text.as_deref(), !media.is_empty())?;
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
    let verdicts = crate::extensions::judge_post(svc, &draft).await?;
    // The older command while the post has no pictures, before and after: what every member
    // of a cluster in a rolling upgrade can apply.
    let command = if media.is_empty() && shown.media.is_empty() {
        Command::EditStatus { actor: author, status: e.status, text, spoiler_text, sensitive: e.sensitive, language }
    } else {
        Command::EditPost {
            actor: author,
            status: e.status,
            text,
            spoiler_text,
            sensitive: e.sensitive,
            language,
            media,
        }
    };
    propose(svc, by, verdicts.command(command)).await
}
