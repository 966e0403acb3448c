//! Roost's state machine: the pure, deterministic domain logic of a private X.
//!
//! # Invariants
//! - [`apply`] is a deterministic function of (state, request): no clock, no randomness, no
//!   I/O beyond the [`Tables`] it is given, no iteration over hash maps. Every replica that
//!   applies the same log holds the same tables, byte for byte.
//! - Domain refusals are [`Outcome::Rejected`] values, identical on every node, and the refused
//!   command writes nothing: each command checks everything before its first write. (Before
//!   every command, housekeeping by the log's clock runs: timed mutes that are over are lifted.)
//! - The read functions in [`query`] are the only way the outside sees posts, and every one
//!   of them goes through [`visibility`].
//!
//! # Boundaries
//! This crate knows nothing of HTTP, consensus or the storage engine: it depends only on
//! `roost-types` and on the [`Tables`] trait.

pub mod discover;
pub mod effects;
pub mod extensions;
pub mod home;
pub mod kv;
pub mod migrate;
pub mod model;
pub mod query;
pub mod text;
pub mod visibility;

mod accounts;
mod admin;
mod conversations;
pub mod filters;
mod ids;
mod lists;
pub mod media;
mod notifications;
mod oauth;
mod once;
pub mod protocol;
mod scheduled;
mod social;
mod statuses;
mod tick;

pub use ids::{counter, id_millis, STATUS_COUNT, USER_COUNT};
pub use kv::{MemTables, ReadTables, Table, Tables};
use roost_types::{Command, Outcome, Request};

/// Errors of the state machine. They mean the storage failed or holds bytes this code cannot
/// read; domain refusals are never errors (see [`Outcome::Rejected`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage engine failed; the batch being applied must not be committed.
    #[error("storage: {0}")]
    Store(String),
    /// A stored record could not be decoded.
    #[error("corrupt state: {0}")]
    Corrupt(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Applies one request to the state, sending home-timeline insertions (a derived index, see
/// [`home`]) and events for live streams to `fx` (see [`effects`]). See the crate docs for the
/// rules it keeps.
pub fn apply(t: &mut impl Tables, req: &Request, fx: &mut dyn effects::EffectSink) -> Result<Outcome> {
    if let Command::Once { id, command } = &req.command {
        return once::apply_once(t, req, id, command, fx);
    }
    let at = req.at;
    // Housekeeping by the log's clock, before the command itself: timed mutes that are over.
    social::expire_mutes(t, at)?;
    // A variant newer than the protocol the cluster activated is refused (see `protocol`).
    // So is a request that names who asked before protocol 3, which recorded nobody.
    let active = protocol::active(t)?;
    if (req.command.since() > active || (req.by.is_some() && active < 3))
        && !matches!(req.command, Command::ActivateProtocol { .. })
    {
        return Ok(Outcome::Rejected(roost_types::Rejection::NotActive));
    }
    match &req.command {
        Command::CreateAccount { username, email, password_hash, role, display_name } => {
            accounts::create(t, at, username, email.as_deref(), password_hash, *role, display_name.as_deref())
        }
        Command::UpdateAccount { account, display_name, note, locked, bot } => {
            accounts::update(t, at, *account, display_name.as_deref(), note.as_deref(), *locked, *bot, fx)
        }
        Command::CreateApp { client_id, client_secret_hash, name, website, redirect_uris, scopes } => {
            oauth::create_app(t, at, client_id, client_secret_hash, name, website, redirect_uris, scopes)
        }
        Command::IssueToken { token_hash, client_id, account, scopes } => {
            oauth::issue_token(t, at, token_hash, client_id, *account, scopes)
        }
        Command::RevokeToken { token_hash } => oauth::revoke_token(t, token_hash),
        Command::IssueAuthCode { code_hash, client_id, account, scopes, redirect_uri, code_challenge } => {
            oauth::issue_auth_code(t, at, code_hash, client_id, *account, scopes, redirect_uri, code_challenge)
        }
        Command::RedeemAuthCode { code_hash, client_id, token_hash } => {
            oauth::redeem_auth_code(t, at, code_hash, client_id, token_hash)
        }
        Command::CreateStatus(new) => statuses::create(t, at, new, fx),
        Command::DeleteStatus { actor, status } => statuses::delete(t, *actor, *status, fx),
        Command::Favourite { account, status } => statuses::favourite(t, at, *account, *status, fx),
        Command::Unfavourite { account, status } => statuses::unfavourite(t, *account, *status),
        Command::Reblog { account, status, visibility } => statuses::reblog(t, at, *account, *status, *visibility, fx),
        Command::Unreblog { account, status } => statuses::unreblog(t, *account, *status, fx),
        Command::Bookmark { account, status } => statuses::bookmark(t, at, *account, *status),
        Command::Unbookmark { account, status } => statuses::unbookmark(t, *account, *status),
        Command::Follow { account, target, reblogs, notify } => {
            social::follow(t, at, *account, *target, *reblogs, *notify, fx)
        }
        Command::Unfollow { account, target } => social::unfollow(t, *account, *target),
        Command::AuthorizeFollowRequest { account, requester } => {
            social::authorize_request(t, at, *account, *requester, fx)
        }
        Command::RejectFollowRequest { account, requester } => social::reject_request(t, *account, *requester),
        Command::Pin { account, status } => statuses::pin(t, at, *account, *status),
        Command::Unpin { account, status } => statuses::unpin(t, *account, *status),
        Command::CreateStatusWithPoll { status, poll } => statuses::create_with_poll(t, at, status, poll, fx),
        Command::Vote { account, poll, choices } => statuses::vote(t, at, *account, *poll, choices),
        Command::CreateList { account, title, replies_policy, exclusive } => {
            lists::create(t, at, *account, title, *replies_policy, *exclusive)
        }
        Command::UpdateList { account, list, title, replies_policy, exclusive } => {
            lists::update(t, *account, *list, title, *replies_policy, *exclusive)
        }
        Command::DeleteList { account, list } => lists::delete(t, *account, *list),
        Command::AddToList { account, list, members } => lists::add(t, *account, *list, members),
        Command::RemoveFromList { account, list, members } => lists::remove(t, *account, *list, members),
        Command::FollowTag { account, tag } => social::follow_tag(t, at, *account, tag),
        Command::UnfollowTag { account, tag } => social::unfollow_tag(t, *account, tag),
        Command::SaveFilter { account, filter, spec } => filters::save(t, at, *account, *filter, spec, fx),
        Command::DeleteFilter { account, filter } => filters::delete(t, *account, *filter, fx),
        Command::CreateReport { reporter, target, statuses, comment, category } => {
            social::report(t, at, *reporter, *target, statuses, comment, *category)
        }
        Command::ReadConversation { account, conversation } => conversations::read(t, *account, *conversation),
        Command::RemoveConversation { account, conversation } => conversations::remove(t, *account, *conversation),
        Command::EditStatus { actor, status, text, spoiler_text, sensitive, language } => {
            let r = statuses::Revision {
                text,
                spoiler_text,
                sensitive: *sensitive,
                language: language.as_deref(),
                media: None,
            };
            statuses::edit(t, at, *actor, *status, r, fx)
        }
        Command::SetMarker { account, timeline, last_read_id } => {
            accounts::set_marker(t, at, *account, *timeline, *last_read_id)
        }
        Command::Block { account, target } => social::block(t, at, *account, *target),
        Command::Unblock { account, target } => social::unblock(t, *account, *target),
        Command::Mute { account, target, notifications } => {
            social::mute(t, at, *account, *target, *notifications, None)
        }
        Command::MuteFor { account, target, notifications, expires_at } => {
            social::mute(t, at, *account, *target, *notifications, *expires_at)
        }
        Command::Unmute { account, target } => social::unmute(t, *account, *target),
        Command::DismissNotification { account, notification } => notifications::dismiss(t, *account, *notification),
        Command::ClearNotifications { account } => notifications::clear(t, *account),
        Command::CreateInvite { code_hash, created_by, role, max_uses, expires_at } => {
            admin::create_invite(t, at, code_hash, *created_by, *role, *max_uses, *expires_at)
        }
        Command::RevokeInvite { actor, invite } => admin::revoke_invite(t, *actor, *invite),
        Command::CreateAccountByInvite { code_hash, username, email, password_hash, display_name } => {
            admin::create_account_by_invite(
                t,
                at,
                code_hash,
                username,
                email.as_deref(),
                password_hash,
                display_name.as_deref(),
            )
        }
        Command::SetPassword { account, password_hash, keep } => {
            admin::set_password(t, *account, password_hash, keep.as_ref())
        }
        Command::SetRole { actor, account, role } => admin::set_role(t, *actor, *account, *role),
        Command::Suspend { actor, account } => admin::suspend(t, at, *actor, *account),
        Command::Unsuspend { actor, account } => admin::unsuspend(t, *actor, *account),
        Command::SetPreferences { account, default_visibility, default_sensitive } => {
            admin::set_preferences(t, *account, *default_visibility, *default_sensitive)
        }
        Command::ResolveReport { actor, report } => admin::resolve_report(t, *actor, *report),
        Command::ActivateProtocol { version } => protocol::activate(t, at, *version),
        Command::AddAccount { username, email, password_hash, role, display_name } => {
            accounts::add(t, at, username, email.as_deref(), password_hash, *role, display_name.as_deref())
        }
        Command::Tick => tick::tick(t, at, fx),
        Command::ScheduleStatus { status, poll, scheduled_at } => {
            scheduled::schedule(t, at, status, poll.as_ref(), *scheduled_at, &[])
        }
        Command::SchedulePost { status, scheduled_at, media } => {
            scheduled::schedule(t, at, status, None, *scheduled_at, media)
        }
        Command::SaveExtension { actor, extension, manifest, source } => {
            extensions::save(t, at, *actor, *extension, manifest, source)
        }
        Command::DeployExtension { actor, extension, version, mode } => {
            extensions::deploy(t, at, *actor, *extension, *version, *mode)
        }
        Command::DisableExtension { actor, extension, version } => extensions::disable(t, *actor, *extension, *version),
        Command::Judged { effects, command } => extensions::apply_judged(t, req, effects, command, fx),
        Command::ReviewHeldPost { actor, status, approve } => extensions::review_held(t, *actor, *status, *approve, fx),
        Command::SubscribeFeed { account, extension, subscribe } => {
            extensions::subscribe(t, *account, *extension, *subscribe)
        }
        Command::RescheduleStatus { account, scheduled, scheduled_at } => {
            scheduled::reschedule(t, *account, *scheduled, *scheduled_at)
        }
        Command::CancelScheduledStatus { account, scheduled } => scheduled::cancel(t, at, *account, *scheduled),
        Command::UpdateProfile(update) => accounts::update_profile(t, at, update, fx),
        Command::SetPostingDefaults { account, default_visibility, default_sensitive, default_language } => {
            accounts::set_posting_defaults(
                t,
                *account,
                *default_visibility,
                *default_sensitive,
                default_language.as_deref(),
            )
        }
        Command::TouchToken { token_hash } => oauth::touch_token(t, at, token_hash),
        // Handled above, before housekeeping (the command it wraps does that).
        Command::Once { .. } => Ok(Outcome::Rejected(roost_types::Rejection::NotActive)),
        // Decoding turns `By` into the request's `by`; one nested deeper is not something a
        // node sends: refused, not unwrapped.
        Command::By { .. } => Ok(Outcome::Rejected(roost_types::Rejection::Forbidden)),
        Command::AddMedia(new) => media::add(t, at, new),
        Command::UpdateMedia { account, media, description, focus } => {
            media::update(t, *account, *media, description.as_deref(), *focus)
        }
        Command::CreatePost { status, poll, media } => statuses::create_post(t, at, status, poll.as_ref(), media, fx),
        Command::EditPost { actor, status, text, spoiler_text, sensitive, language, media } => {
            let r = statuses::Revision {
                text,
                spoiler_text,
                sensitive: *sensitive,
                language: language.as_deref(),
                media: Some(media),
            };
            statuses::edit(t, at, *actor, *status, r, fx)
        }
        Command::SetProfileImage { account, image, media } => {
            media::set_profile_image(t, at, *account, *image, media.as_ref())
        }
    }
}

/// A digest of the whole state: BLAKE3 over every table's entries in key order. Two replicas
/// with equal digests hold equal state.
pub fn digest(t: &impl ReadTables) -> Result<[u8; 32]> {
    let mut h = blake3::Hasher::new();
    for table in Table::ALL {
        h.update(&[table.prefix()]);
        t.scan(table, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, kv::Dir::Forward, &mut |k, v| {
            h.update(&(k.len() as u64).to_be_bytes());
            h.update(k);
            h.update(&(v.len() as u64).to_be_bytes());
            h.update(v);
            Ok(true)
        })?;
    }
    Ok(*h.finalize().as_bytes())
}

#[cfg(test)]
mod tests;
