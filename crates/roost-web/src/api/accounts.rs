//! Accounts: profiles, relationships, follows, blocks and mutes.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use roost_core::model::Account;
use roost_core::query::{self, AccountFilter};
use roost_raft::ReadView;
use roost_types::{Command, Id};
use serde::Deserialize;

use super::parse_id;
use crate::auth::User;
use crate::entities::{self, AccountJson, CredentialAccountJson, RelationshipJson, Renderer};
use crate::error::{ApiError, ApiResult};
use crate::paging::{link_header, PageParams, Paged, StatusPage, MAX_LIMIT};
use crate::params::{de, Input};
use crate::service::{propose, Written, MAX_DISPLAY_NAME, MAX_NOTE};
use crate::AppState;

pub async fn verify_credentials(State(state): State<AppState>, user: User) -> ApiResult<Json<CredentialAccountJson>> {
    let view = state.node().read()?;
    let r = Renderer::new(&view, user.id(), &state);
    Ok(Json(r.credential_account(&user.account)))
}

#[derive(Deserialize)]
pub struct UpdateCredentials {
    #[serde(default, deserialize_with = "de::string_opt")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    note: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    locked: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    bot: Option<bool>,
    /// Default visibility of new posts, as a form field…
    #[serde(rename = "source[privacy]", default, deserialize_with = "de::string_opt")]
    source_privacy: Option<String>,
    #[serde(rename = "source[sensitive]", default, deserialize_with = "de::bool_opt")]
    source_sensitive: Option<bool>,
    /// …or as JSON.
    #[serde(default)]
    source: Option<SourceParams>,
}

#[derive(Deserialize, Default)]
pub struct SourceParams {
    #[serde(default, deserialize_with = "de::string_opt")]
    privacy: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    sensitive: Option<bool>,
}

pub async fn update_credentials(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<UpdateCredentials>,
) -> ApiResult<Written<Json<CredentialAccountJson>>> {
    if p.display_name.as_ref().is_some_and(|d| d.chars().count() > MAX_DISPLAY_NAME) {
        return Err(ApiError::unprocessable(format!(
            "Validation failed: Display name is longer than {MAX_DISPLAY_NAME} characters"
        )));
    }
    if p.note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(ApiError::unprocessable(format!("Validation failed: Note is longer than {MAX_NOTE} characters")));
    }
    let source = p.source.unwrap_or_default();
    let privacy = p.source_privacy.or(source.privacy);
    let sensitive = p.source_sensitive.or(source.sensitive);
    let default_visibility = match privacy.as_deref() {
        None | Some("") => None,
        Some(v) => Some(
            roost_types::Visibility::parse(v)
                .filter(|v| *v != roost_types::Visibility::Direct)
                .ok_or_else(|| ApiError::unprocessable("Validation failed: Privacy is not included in the list"))?,
        ),
    };
    let clean = |s: Option<String>| s.map(|s| s.chars().filter(|c| !c.is_control() || *c == '\n').collect::<String>());
    if default_visibility.is_some() || sensitive.is_some() {
        let now = query::preferences(&state.node().read()?, user.id())?;
        let command = Command::SetPreferences {
            account: user.id(),
            default_visibility: default_visibility.unwrap_or(now.default_visibility),
            default_sensitive: sensitive.unwrap_or(now.default_sensitive),
        };
        propose(&state, command).await?;
    }
    let applied = propose(
        &state,
        Command::UpdateAccount {
            account: user.id(),
            display_name: clean(p.display_name).map(|d| d.replace('\n', " ")),
            note: clean(p.note),
            locked: p.locked,
            bot: p.bot,
        },
    )
    .await?;
    let view = state.node().read()?;
    let account = query::account(&view, user.id())?.ok_or(ApiError::NotFound)?;
    let r = Renderer::new(&view, user.id(), &state);
    Ok(Written(Json(r.credential_account(&account)), applied.index))
}

/// An account the viewer may see: not one that blocks them (the blocker disappears for the
/// blocked).
fn visible_account(view: &ReadView, viewer: Id, id: Id) -> ApiResult<Account> {
    let account = query::account(view, id)?.ok_or(ApiError::NotFound)?;
    if id != viewer && query::relationship(view, viewer, id)?.blocked_by {
        return Err(ApiError::NotFound);
    }
    Ok(account)
}

pub async fn show(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Json<AccountJson>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    let account = visible_account(&view, user.id(), id)?;
    Ok(Json(Renderer::new(&view, user.id(), &state).account(&account)))
}

#[derive(Deserialize)]
pub struct Lookup {
    #[serde(default, deserialize_with = "de::string_opt")]
    acct: Option<String>,
}

pub async fn lookup(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<Lookup>,
) -> ApiResult<Json<AccountJson>> {
    let acct = p.acct.unwrap_or_default();
    let acct = acct.trim_start_matches('@');
    // `user@this.domain` names a local account too.
    let username = match acct.split_once('@') {
        Some((u, domain)) if domain.eq_ignore_ascii_case(state.config().domain()) => u,
        Some(_) => return Err(ApiError::NotFound),
        None => acct,
    };
    let view = state.node().read()?;
    let account = query::account_by_username(&view, username)?.ok_or(ApiError::NotFound)?;
    let account = visible_account(&view, user.id(), account.id)?;
    Ok(Json(Renderer::new(&view, user.id(), &state).account(&account)))
}

#[derive(Deserialize)]
pub struct RelationshipsQuery {
    #[serde(default, deserialize_with = "de::ids", rename = "id")]
    ids: Vec<Id>,
}

pub async fn relationships(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<RelationshipsQuery>,
) -> ApiResult<Json<Vec<RelationshipJson>>> {
    if p.ids.len() > 100 {
        return Err(ApiError::unprocessable("At most 100 accounts at once"));
    }
    let view = state.node().read()?;
    let mut out = Vec::new();
    for id in p.ids {
        if query::account(&view, id)?.is_some() {
            out.push(entities::relationship(id, query::relationship(&view, user.id(), id)?));
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct StatusesQuery {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "de::bool_opt")]
    exclude_replies: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    exclude_reblogs: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    pinned: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    only_media: Option<bool>,
    #[serde(default, deserialize_with = "de::string_opt")]
    tagged: Option<String>,
}

pub async fn statuses(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    uri: Uri,
    Input(p): Input<StatusesQuery>,
) -> ApiResult<StatusPage> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    visible_account(&view, user.id(), id)?;
    if p.pinned == Some(true) {
        // At most five: one page, no links. A later page (max_id) has nothing more.
        if p.page.max_id.is_some() || p.page.since_id.is_some() || p.page.min_id.is_some() {
            return Ok(StatusPage(Vec::new(), None));
        }
        let items = query::pinned(&view, user.id(), id)?;
        let mut r = Renderer::new(&view, user.id(), &state);
        return Ok(StatusPage(r.statuses(&items)?, None));
    }
    if p.only_media == Some(true) {
        // Nothing has media until media attachments exist.
        return Ok(StatusPage(Vec::new(), None));
    }
    let tagged = p.tagged.as_deref().map(|t| t.trim_start_matches('#').to_lowercase());
    let filter = AccountFilter {
        exclude_replies: p.exclude_replies.unwrap_or(false),
        exclude_reblogs: p.exclude_reblogs.unwrap_or(false),
        tagged: tagged.as_deref(),
    };
    let items = query::account_statuses(&view, user.id(), id, filter, &p.page.page(MAX_LIMIT))?;
    super::status_page(
        &state,
        &view,
        user.id(),
        &uri,
        &items,
        |s| s.0.id,
        |s| s,
        Some(roost_types::FilterContext::Account),
    )
}

pub(super) fn account_page(
    state: &AppState,
    view: &ReadView,
    viewer: Id,
    uri: &Uri,
    items: Vec<(Id, Account)>,
) -> Paged<AccountJson> {
    let link = link_header(state.config(), uri, &items, |i| i.0);
    let r = Renderer::new(view, viewer, state);
    Paged(items.iter().map(|(_, a)| r.account(a)).collect(), link)
}

pub async fn followers(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    visible_account(&view, user.id(), id)?;
    let items = query::followers(&view, user.id(), id, &p.page(80))?;
    Ok(account_page(&state, &view, user.id(), &uri, items))
}

pub async fn following(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    visible_account(&view, user.id(), id)?;
    let items = query::following(&view, user.id(), id, &p.page(80))?;
    Ok(account_page(&state, &view, user.id(), &uri, items))
}

/// `GET /api/v1/follow_requests`: who waits for the signed-in (locked) account's answer.
pub async fn follow_requests(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    let view = state.node().read()?;
    let items = query::follow_requests(&view, user.id(), &p.page(80))?;
    Ok(account_page(&state, &view, user.id(), &uri, items))
}

pub async fn authorize_follow_request(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, |account, requester| Command::AuthorizeFollowRequest { account, requester }).await
}

pub async fn reject_follow_request(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, |account, requester| Command::RejectFollowRequest { account, requester }).await
}

pub async fn blocks(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    let view = state.node().read()?;
    let items = query::blocks(&view, user.id(), &p.page(80))?;
    Ok(account_page(&state, &view, user.id(), &uri, items))
}

pub async fn mutes(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    let view = state.node().read()?;
    let items = query::mutes(&view, user.id(), &p.page(80))?;
    Ok(account_page(&state, &view, user.id(), &uri, items))
}

/// Runs a relationship command against a visible account and answers with the relationship.
async fn relate(
    state: &AppState,
    user: &User,
    raw_id: &str,
    make: impl FnOnce(Id, Id) -> Command,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    let target = parse_id(raw_id)?;
    {
        let view = state.node().read()?;
        visible_account(&view, user.id(), target)?;
    }
    let applied = propose(state, make(user.id(), target)).await?;
    let view = state.node().read()?;
    Ok(Written(Json(entities::relationship(target, query::relationship(&view, user.id(), target)?)), applied.index))
}

#[derive(Deserialize)]
pub struct FollowParams {
    #[serde(default, deserialize_with = "de::bool_opt")]
    reblogs: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    notify: Option<bool>,
}

pub async fn follow(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<FollowParams>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, |account, target| Command::Follow {
        account,
        target,
        reblogs: p.reblogs.unwrap_or(true),
        notify: p.notify.unwrap_or(false),
    })
    .await
}

pub async fn unfollow(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, |account, target| Command::Unfollow { account, target }).await
}

pub async fn block(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, |account, target| Command::Block { account, target }).await
}

pub async fn unblock(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, |account, target| Command::Unblock { account, target }).await
}

#[derive(Deserialize)]
pub struct MuteParams {
    #[serde(default, deserialize_with = "de::bool_opt")]
    notifications: Option<bool>,
    /// Seconds until the mute lifts by itself; 0 or absent: until unmuted.
    #[serde(default, deserialize_with = "de::i64_opt")]
    duration: Option<i64>,
}

/// The longest timed mute: ten years (beyond, mute without a duration).
const MAX_MUTE_SECONDS: i64 = 10 * 365 * 24 * 3600;

pub async fn mute(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<MuteParams>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    let expires_at = match p.duration {
        None | Some(0) => None,
        Some(d) if (1..=MAX_MUTE_SECONDS).contains(&d) => Some(crate::service::now_ms() + d * 1000),
        Some(_) => return Err(ApiError::unprocessable(format!("duration must be 0 to {MAX_MUTE_SECONDS} seconds"))),
    };
    relate(&state, &user, &id, |account, target| Command::MuteFor {
        account,
        target,
        notifications: p.notifications.unwrap_or(true),
        expires_at,
    })
    .await
}

pub async fn unmute(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, |account, target| Command::Unmute { account, target }).await
}
