//! Creating a post: every rule of posting, in order, for every way in (the Mastodon API, the
//! web app, and later agents and bots).
//!
//! 1. The pictures must be the author's own, processed and on no other post (at most four;
//!    `media::checked_attachments`); the text and content warning are cleaned and bounded
//!    (the text may be empty when there are pictures).
//! 2. The poll, language and idempotency key are checked; missing visibility and language come
//!    from the member's defaults.
//! 3. A retry with the same idempotency key returns the first post instead.
//! 4. The post it replies to and the one it quotes must be visible to the author.
//! 5. The hook for new posts judges it (automod).
//! 6. The clock is read (a poll's end, a scheduled time), then one command is proposed:
//!    `ScheduleStatus` (`SchedulePost` with pictures), `CreatePost` (with pictures),
//!    `CreateStatusWithPoll` or `CreateStatus`. The state machine still refuses a target
//!    deleted in between; a scheduled post's pictures are held for it until it is published.

use roost_core::query;
use roost_types::{Actor, Command, Id, Millis, NewPoll, NewStatus, Visibility};

use super::rules::{checked_idempotency_key, checked_language, checked_poll, post_text, PollRequest};
use super::scheduled::checked_time;
use super::visible;
use crate::hooks::PostDraft;
use crate::write::{created_id, member, propose};
use crate::{now_ms, ActorExt, Error, Result, Service};

/// A post as its author asks for it.
#[derive(Debug, Clone, Default)]
pub struct NewPost {
    pub text: Option<String>,
    pub spoiler_text: Option<String>,
    /// `None`: the author's default.
    pub visibility: Option<Visibility>,
    pub sensitive: bool,
    /// `None`: the author's default language, if any.
    pub language: Option<String>,
    pub in_reply_to: Option<Id>,
    pub quote_of: Option<Id>,
    pub poll: Option<PollRequest>,
    pub media_ids: Vec<String>,
    /// The client's key: a retry with the same one returns the first post.
    pub idempotency_key: Option<String>,
    /// When to publish it instead of now.
    pub scheduled_at: Option<Millis>,
}

/// What posting did, with the log index to read it at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    /// The post was created.
    Created { id: Id, index: u64 },
    /// An earlier post with the same idempotency key (the first attempt of a retry).
    Existing { id: Id, index: u64 },
    /// The post is kept to be published later: `id` names the scheduled post.
    Scheduled { id: Id, index: u64 },
}

/// Creates (or schedules) a post by the actor. See the module docs for the rules, in order.
pub async fn create(svc: &Service, by: &Actor, p: NewPost) -> Result<Posted> {
    let author = member(by)?;
    let media = match p.media_ids.is_empty() {
        true => Vec::new(),
        false => crate::media::checked_attachments(svc, author, &p.media_ids, None)?,
    };
    if !media.is_empty() && p.poll.is_some() {
        return Err(Error::invalid("Validation failed: A post cannot carry both pictures and a poll"));
    }
    let poll = p.poll.map(checked_poll).transpose()?;
    let (text, spoiler_text) = post_text(svc, p.text.as_deref(), p.spoiler_text.as_deref(), !media.is_empty())?;
    let language = checked_language(p.language)?;
    let scheduled_at = p.scheduled_at.map(|at| checked_time(svc, at)).transpose()?;
    let idempotency_key = checked_idempotency_key(p.idempotency_key)?;
    let (visibility, language) = {
        let view = svc.read()?;
        let prefs = query::preferences(&view, author)?;
        if let Some(key) = &idempotency_key {
            if let Some(id) = query::idempotent_status(&view, author, key)? {
                visible(&view, author, id)?;
                return Ok(Posted::Existing { id, index: svc.node().applied_index() });
            }
        }
        for target in [p.in_reply_to, p.quote_of].into_iter().flatten() {
            visible(&view, author, target)?;
        }
        (p.visibility.unwrap_or(prefs.default_visibility), language.or(prefs.default_language))
    };
    let draft = PostDraft {
        author,
        editing: None,
        text: &text,
        spoiler_text: &spoiler_text,
        visibility,
        in_reply_to: p.in_reply_to,
        quote_of: p.quote_of,
    };
    svc.hooks().before_post(by, &draft).await?;
    let mut verdicts = crate::extensions::judge_post(svc, &draft).await?;
    // A rule's content warning, for a post that has none.
    let warned = spoiler_text.is_empty() && verdicts.content_warning.is_some();
    let spoiler_text = match verdicts.content_warning.take() {
        Some(cw) if spoiler_text.is_empty() => cw,
        _ => spoiler_text,
    };
    let status = NewStatus {
        author,
        text,
        in_reply_to: p.in_reply_to,
        quote_of: p.quote_of,
        visibility,
        spoiler_text,
        sensitive: p.sensitive || warned,
        language,
        idempotency_key,
        application: by.application(),
    };
    if let Some(scheduled_at) = scheduled_at {
        // A scheduled post is published by the node's clock, with nobody to review it first.
        if let Some((rule, reason)) = verdicts.held_by {
            return Err(Error::invalid(format!(
                "This post needs a moderator's review (the rule \u{201c}{rule}\u{201d}: {reason}) and cannot be scheduled; post it now to send it for review"
            )));
        }
        let command = match media.is_empty() {
            true => Command::ScheduleStatus { status, poll, scheduled_at },
            false => Command::SchedulePost { status, scheduled_at, media },
        };
        let applied = propose(svc, by, command).await?;
        return Ok(Posted::Scheduled { id: created_id(&applied)?, index: applied.index });
    }
    let command = match poll {
        None if !media.is_empty() => Command::CreatePost { status, poll: None, media },
        Some(p) => Command::CreateStatusWithPoll {
            status,
            poll: NewPoll {
                options: p.options,
                expires_at: now_ms() + p.expires_in * 1000,
                multiple: p.multiple,
                hide_totals: p.hide_totals,
            },
        },
        None => Command::CreateStatus(status),
    };
    let applied = propose(svc, by, verdicts.command(command)).await?;
    Ok(Posted::Created { id: created_id(&applied)?, index: applied.index })
}
