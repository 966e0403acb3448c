//! Posts: creating, reading, deleting, threads, and favourites, reblogs and bookmarks.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use axum::Json;
use roost_core::query;
use roost_raft::ReadView;
use roost_service::statuses::{self, EditPost, Interaction, NewPost, PollRequest, Posted};
use roost_types::{Id, Visibility};
use serde::{Deserialize, Serialize};

use super::parse_id;
use crate::auth::User;
use crate::entities::{AccountJson, PollJson, Renderer, StatusJson};
use crate::error::{ApiError, ApiResult};
use crate::paging::{PageParams, Paged, StatusPage, MAX_LIMIT};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

#[derive(Deserialize)]
pub struct CreateStatus {
    #[serde(default, deserialize_with = "de::string_opt")]
    status: Option<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    in_reply_to_id: Option<Id>,
    #[serde(default, deserialize_with = "de::id_opt")]
    quoted_status_id: Option<Id>,
    #[serde(default, deserialize_with = "de::id_opt")]
    quote_id: Option<Id>,
    #[serde(default, deserialize_with = "de::string_opt")]
    visibility: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    sensitive: Option<bool>,
    #[serde(default, deserialize_with = "de::string_opt")]
    language: Option<String>,
    #[serde(default, deserialize_with = "de::strings")]
    media_ids: Vec<String>,
    #[serde(default)]
    poll: Option<serde_json::Value>,
    /// When to publish it (ISO 8601); at least `scheduled_status_min_secs` ahead.
    #[serde(default, deserialize_with = "de::string_opt")]
    scheduled_at: Option<String>,
}

#[derive(Deserialize)]
struct PollParams {
    #[serde(default, deserialize_with = "de::strings")]
    options: Vec<String>,
    #[serde(default, deserialize_with = "de::i64_opt")]
    expires_in: Option<i64>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    multiple: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    hide_totals: Option<bool>,
}

/// A poll as the client sent it (`poll[options][]`… or a JSON object), or none.
fn poll_request(v: Option<serde_json::Value>) -> ApiResult<Option<PollRequest>> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(None) };
    let p: PollParams = serde_json::from_value(v).map_err(|e| ApiError::unprocessable(format!("Invalid poll: {e}")))?;
    Ok(Some(PollRequest {
        options: p.options,
        expires_in: p.expires_in,
        multiple: p.multiple.unwrap_or(false),
        hide_totals: p.hide_totals.unwrap_or(false),
    }))
}

/// A post the viewer may see, or 404.
fn visible(view: &ReadView, viewer: Id, id: Id) -> ApiResult<query::Shown> {
    query::visible_status(view, viewer, id)?.ok_or(ApiError::NotFound)
}

fn render_one(state: &AppState, view: &ReadView, viewer: Id, shown: &query::Shown) -> ApiResult<StatusJson> {
    Renderer::new(view, viewer, state).status(&shown.0, shown.1.as_ref())?.ok_or(ApiError::NotFound)
}

pub async fn create(
    State(state): State<AppState>,
    user: User,
    headers: HeaderMap,
    Input(p): Input<CreateStatus>,
) -> ApiResult<axum::response::Response> {
    let poll = poll_request(p.poll)?;
    let visibility = match p.visibility.as_deref() {
        None | Some("") => None,
        Some(v) => Some(
            Visibility::parse(v)
                .ok_or_else(|| ApiError::unprocessable("Validation failed: Visibility is not included in the list"))?,
        ),
    };
    let scheduled_at = match p.scheduled_at.as_deref() {
        None | Some("") => None,
        Some(when) => Some(super::scheduled::parse_time(when)?),
    };
    let idempotency_key = match headers.get("idempotency-key") {
        Some(v) => {
            Some(v.to_str().map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))?.to_string())
        }
        None => None,
    };
    let post = NewPost {
        text: p.status,
        spoiler_text: p.spoiler_text,
        visibility,
        sensitive: p.sensitive.unwrap_or(false),
        language: p.language,
        in_reply_to: p.in_reply_to_id,
        quote_of: p.quoted_status_id.or(p.quote_id),
        poll,
        media_ids: p.media_ids,
        idempotency_key,
        scheduled_at,
    };
    let (id, index) = match statuses::create(state.service(), &user.actor(), post).await? {
        Posted::Scheduled { id, index } => {
            return Ok(super::scheduled::written(&state, &user, id, index)?.into_response())
        }
        Posted::Created { id, index } | Posted::Existing { id, index } => (id, index),
    };
    let view = state.node().read()?;
    let shown = visible(&view, user.id(), id)?;
    Ok(Written(Json(render_one(&state, &view, user.id(), &shown)?), index).into_response())
}

pub async fn show(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Json<StatusJson>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    let shown = visible(&view, user.id(), id)?;
    Ok(Json(render_one(&state, &view, user.id(), &shown)?))
}

pub async fn delete(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    let id = parse_id(&id)?;
    // Rendered just before: the post is gone afterwards. Its source text comes along, for
    // "delete and redraft".
    let json = {
        let view = state.node().read()?;
        let (s, o) = visible(&view, user.id(), id)?;
        Renderer::new(&view, user.id(), &state).deleted_status(&s, o.as_ref())?.ok_or(ApiError::NotFound)?
    };
    let applied = statuses::interact(state.service(), &user.actor(), id, Interaction::Delete).await?;
    Ok(Written(Json(json), applied.index))
}

/// `GET /api/v1/polls/:id`
pub async fn poll(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Json<PollJson>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    let (s, _) = visible(&view, user.id(), id)?;
    let json = Renderer::new(&view, user.id(), &state).poll(&s)?.ok_or(ApiError::NotFound)?;
    Ok(Json(json))
}

#[derive(Deserialize)]
pub struct VoteParams {
    #[serde(default, deserialize_with = "de::strings")]
    choices: Vec<String>,
}

/// `POST /api/v1/polls/:id/votes` with `choices[]` (option indexes).
pub async fn vote(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<VoteParams>,
) -> ApiResult<Written<Json<PollJson>>> {
    let id = parse_id(&id)?;
    let choices = p
        .choices
        .iter()
        .map(|c| c.parse::<u32>().map_err(|_| ApiError::unprocessable("choices must be option indexes")))
        .collect::<ApiResult<Vec<u32>>>()?;
    let applied = statuses::vote(state.service(), &user.actor(), id, choices).await?;
    let view = state.node().read()?;
    let (s, _) = visible(&view, user.id(), id)?;
    let json = Renderer::new(&view, user.id(), &state).poll(&s)?.ok_or(ApiError::NotFound)?;
    Ok(Written(Json(json), applied.index))
}

#[derive(Deserialize)]
pub struct EditStatus {
    #[serde(default, deserialize_with = "de::string_opt")]
    status: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    sensitive: Option<bool>,
    #[serde(default, deserialize_with = "de::string_opt")]
    language: Option<String>,
    #[serde(default, deserialize_with = "de::strings")]
    media_ids: Vec<String>,
    #[serde(default)]
    poll: Option<serde_json::Value>,
}

/// `PUT /api/v1/statuses/:id`: the author rewrites a post; its earlier version stays in its
/// history.
pub async fn edit(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<EditStatus>,
) -> ApiResult<Written<Json<StatusJson>>> {
    let id = parse_id(&id)?;
    let change = EditPost {
        status: id,
        text: p.status,
        spoiler_text: p.spoiler_text,
        sensitive: p.sensitive.unwrap_or(false),
        language: p.language,
        poll: poll_request(p.poll)?,
        media_ids: p.media_ids,
    };
    let applied = statuses::edit(state.service(), &user.actor(), change).await?;
    let view = state.node().read()?;
    let shown = visible(&view, user.id(), id)?;
    Ok(Written(Json(render_one(&state, &view, user.id(), &shown)?), applied.index))
}

/// One version of a post, as Mastodon's StatusEdit entity.
#[derive(Serialize)]
pub struct StatusEditJson {
    content: String,
    spoiler_text: String,
    sensitive: bool,
    created_at: String,
    account: AccountJson,
    poll: Option<()>,
    media_attachments: Vec<crate::entities::MediaJson>,
    emojis: [(); 0],
}

/// `GET /api/v1/statuses/:id/history`: every version of a post, oldest first, the current one
/// last.
pub async fn history(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<StatusEditJson>>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    let (s, _) = visible(&view, user.id(), id)?;
    let author = query::account(&view, s.author)?.ok_or(ApiError::NotFound)?;
    let mut r = Renderer::new(&view, user.id(), &state);
    let account = r.account(&author);
    let mut versions = query::status_versions(&view, s.id)?;
    versions.push(roost_core::model::StatusVersion {
        text: s.text.clone(),
        spoiler_text: s.spoiler_text.clone(),
        sensitive: s.sensitive,
        created_at: s.edited_at.unwrap_or(s.created_at),
        media: s.media.clone(),
    });
    let out = versions
        .into_iter()
        .map(|v| {
            Ok(StatusEditJson {
                content: r.content(&v.text, &s.mentions)?,
                spoiler_text: v.spoiler_text,
                sensitive: v.sensitive,
                created_at: crate::entities::iso(v.created_at),
                account: account.clone(),
                poll: None,
                media_attachments: r.media(&v.media)?,
                emojis: [],
            })
        })
        .collect::<ApiResult<Vec<_>>>();
    Ok(Json(out?))
}

/// `GET /api/v1/statuses/:id/source`: the text as written, for editing.
pub async fn source(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    let (s, _) = visible(&view, user.id(), id)?;
    Ok(Json(serde_json::json!({ "id": s.id.to_string(), "text": s.text, "spoiler_text": s.spoiler_text })))
}

#[derive(Serialize)]
pub struct Context {
    ancestors: Vec<StatusJson>,
    descendants: Vec<StatusJson>,
}

pub async fn context(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Json<Context>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    let (ancestors, descendants) = query::context(&view, user.id(), id)?.ok_or(ApiError::NotFound)?;
    let mut r = Renderer::new(&view, user.id(), &state).filtering(roost_types::FilterContext::Thread)?;
    let render = |r: &mut Renderer<'_, ReadView>, list: Vec<roost_core::model::Status>| -> ApiResult<Vec<StatusJson>> {
        let mut out = Vec::with_capacity(list.len());
        for s in list {
            if let Some(j) = r.status(&s, None)? {
                out.push(j);
            }
        }
        Ok(out)
    };
    Ok(Json(Context { ancestors: render(&mut r, ancestors)?, descendants: render(&mut r, descendants)? }))
}

/// Acts on a post and answers with it (for a repost, with the repost, which carries the
/// original in `reblog`; for an undone repost, with the original).
async fn act(state: &AppState, user: &User, raw_id: &str, what: Interaction) -> ApiResult<Written<Json<StatusJson>>> {
    let id = parse_id(raw_id)?;
    let applied = statuses::interact(state.service(), &user.actor(), id, what).await?;
    let shown_id = match (what, applied.outcome) {
        // A repost answers with the repost, an undone one with the original.
        (Interaction::Reblog { .. } | Interaction::Unreblog, roost_types::Outcome::Done { id: Some(shown) }) => shown,
        _ => id,
    };
    let view = state.node().read()?;
    let shown = visible(&view, user.id(), shown_id)?;
    Ok(Written(Json(render_one(state, &view, user.id(), &shown)?), applied.index))
}

pub async fn favourite(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    act(&state, &user, &id, Interaction::Favourite).await
}

pub async fn unfavourite(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    act(&state, &user, &id, Interaction::Unfavourite).await
}

#[derive(Deserialize)]
pub struct ReblogParams {
    #[serde(default, deserialize_with = "de::string_opt")]
    visibility: Option<String>,
}

pub async fn reblog(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<ReblogParams>,
) -> ApiResult<Written<Json<StatusJson>>> {
    let visibility = match p.visibility.as_deref() {
        None | Some("") => Visibility::Public,
        Some(v) => Visibility::parse(v)
            .ok_or_else(|| ApiError::unprocessable("Validation failed: Visibility is not included in the list"))?,
    };
    // The response is the reblog itself, which carries the original in `reblog`.
    act(&state, &user, &id, Interaction::Reblog { visibility }).await
}

pub async fn unreblog(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    act(&state, &user, &id, Interaction::Unreblog).await
}

pub async fn bookmark(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    act(&state, &user, &id, Interaction::Bookmark).await
}

pub async fn unbookmark(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    act(&state, &user, &id, Interaction::Unbookmark).await
}

pub async fn pin(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    act(&state, &user, &id, Interaction::Pin).await
}

pub async fn unpin(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    act(&state, &user, &id, Interaction::Unpin).await
}

/// `GET /api/v1/statuses/:id/favourited_by`
pub async fn favourited_by(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    who_interacted(&state, &user, &id, &uri, &p, query::favourited_by)
}

/// `GET /api/v1/statuses/:id/reblogged_by`
pub async fn reblogged_by(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    who_interacted(&state, &user, &id, &uri, &p, query::reblogged_by)
}

/// The accounts `list` finds for a post the viewer may see, as a page.
fn who_interacted(
    state: &AppState,
    user: &User,
    raw_id: &str,
    uri: &Uri,
    p: &PageParams,
    list: impl FnOnce(&ReadView, Id, Id, &query::Page) -> roost_core::Result<Option<Vec<(Id, roost_core::model::Account)>>>,
) -> ApiResult<Paged<AccountJson>> {
    let id = parse_id(raw_id)?;
    let view = state.node().read()?;
    let items = list(&view, user.id(), id, &p.page(80))?.ok_or(ApiError::NotFound)?;
    Ok(super::accounts::account_page(state, &view, user.id(), uri, items))
}

pub async fn favourites(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<StatusPage> {
    let view = state.node().read()?;
    let items = query::favourites(&view, user.id(), &p.page(MAX_LIMIT))?;
    super::status_page(&state, &view, user.id(), &uri, &items, |i| i.0, |i| &i.1, None)
}

pub async fn bookmarks(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<StatusPage> {
    let view = state.node().read()?;
    let items = query::bookmarks(&view, user.id(), &p.page(MAX_LIMIT))?;
    super::status_page(&state, &view, user.id(), &uri, &items, |i| i.0, |i| &i.1, None)
}
