//! Posts: creating, reading, deleting, threads, and favourites, reblogs and bookmarks.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use axum::Json;
use roost_core::query;
use roost_raft::ReadView;
use roost_types::{
    Command, Id, NewPoll, NewStatus, Visibility, MAX_POLL_OPTIONS, MAX_POLL_OPTION_CHARS, MAX_POLL_SECONDS,
    MIN_POLL_SECONDS,
};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::parse_id;
use crate::auth::User;
use crate::entities::{AccountJson, PollJson, Renderer, StatusJson};
use crate::error::{ApiError, ApiResult};
use crate::paging::{PageParams, Paged, StatusPage, MAX_LIMIT};
use crate::params::{de, Input};
use crate::service::{created_id, propose, Written};
use crate::AppState;

const MAX_IDEMPOTENCY_KEY: usize = 256;
const MAX_LANGUAGE: usize = 16;

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

/// A poll's options, duration in seconds, `multiple` and `hide_totals`, within Mastodon's limits.
fn checked_poll(v: serde_json::Value) -> ApiResult<(Vec<String>, i64, bool, bool)> {
    let p: PollParams = serde_json::from_value(v).map_err(|e| ApiError::unprocessable(format!("Invalid poll: {e}")))?;
    if p.options.len() < 2 || p.options.len() > MAX_POLL_OPTIONS {
        return Err(ApiError::unprocessable(format!("A poll needs 2 to {MAX_POLL_OPTIONS} options")));
    }
    let options: Vec<String> = p.options.iter().map(|o| roost_core::text::clean_line(o)).collect();
    let too_long =
        |o: &String| o.len() > crate::service::POLL_OPTION_BYTES || o.graphemes(true).count() > MAX_POLL_OPTION_CHARS;
    if options.iter().any(|o| o.is_empty() || too_long(o)) {
        return Err(ApiError::unprocessable(format!("Poll options must be 1 to {MAX_POLL_OPTION_CHARS} characters")));
    }
    if (1..options.len()).any(|i| options[..i].contains(&options[i])) {
        return Err(ApiError::unprocessable("Poll options must differ"));
    }
    let expires_in = p.expires_in.ok_or_else(|| ApiError::unprocessable("poll[expires_in] is required"))?;
    if !(MIN_POLL_SECONDS..=MAX_POLL_SECONDS).contains(&expires_in) {
        return Err(ApiError::unprocessable(format!(
            "A poll runs {MIN_POLL_SECONDS} seconds to {MAX_POLL_SECONDS} seconds"
        )));
    }
    Ok((options, expires_in, p.multiple.unwrap_or(false), p.hide_totals.unwrap_or(false)))
}

/// A language code (`en`, `pt-BR`), or none.
pub(crate) fn checked_language(language: Option<String>) -> ApiResult<Option<String>> {
    let language = language.filter(|l| !l.is_empty());
    if language
        .as_ref()
        .is_some_and(|l| l.len() > MAX_LANGUAGE || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(ApiError::unprocessable("Validation failed: Language is not a language code"));
    }
    Ok(language)
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
    if !p.media_ids.is_empty() {
        return Err(ApiError::unprocessable("Media attachments are not supported yet"));
    }
    let poll = match p.poll {
        Some(v) if !v.is_null() => Some(checked_poll(v)?),
        _ => None,
    };
    let (text, spoiler_text) = crate::service::post_text(&state, p.status.as_deref(), p.spoiler_text.as_deref())?;
    let prefs = query::preferences(&state.node().read()?, user.id())?;
    let visibility = match p.visibility.as_deref() {
        None | Some("") => prefs.default_visibility,
        Some(v) => Visibility::parse(v)
            .ok_or_else(|| ApiError::unprocessable("Validation failed: Visibility is not included in the list"))?,
    };
    let language = checked_language(p.language)?.or(prefs.default_language);
    let scheduled_at = match p.scheduled_at.as_deref() {
        None | Some("") => None,
        Some(when) => Some(super::scheduled::checked_time(&state, when)?),
    };
    let idempotency_key = match headers.get("idempotency-key") {
        Some(v) => {
            let k = v.to_str().map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))?;
            if k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY {
                return Err(ApiError::bad_request(format!(
                    "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters"
                )));
            }
            Some(k.to_string())
        }
        None => None,
    };
    let quote_of = p.quoted_status_id.or(p.quote_id);
    {
        let view = state.node().read()?;
        if let Some(key) = &idempotency_key {
            if let Some(id) = query::idempotent_status(&view, user.id(), key)? {
                let shown = visible(&view, user.id(), id)?;
                let json = render_one(&state, &view, user.id(), &shown)?;
                return Ok(Written(Json(json), state.node().applied_index()).into_response());
            }
        }
        for target in [p.in_reply_to_id, quote_of].into_iter().flatten() {
            visible(&view, user.id(), target)?;
        }
    }
    let new = NewStatus {
        author: user.id(),
        text,
        in_reply_to: p.in_reply_to_id,
        quote_of,
        visibility,
        spoiler_text,
        sensitive: p.sensitive.unwrap_or(false),
        language,
        idempotency_key,
        application: Some(user.token.client_id.clone()),
    };
    if let Some(at) = scheduled_at {
        let poll = poll.map(|(options, expires_in, multiple, hide_totals)| roost_types::PollSpec {
            options,
            expires_in,
            multiple,
            hide_totals,
        });
        return Ok(super::scheduled::schedule(&state, &user, new, poll, at).await?.into_response());
    }
    let command = match poll {
        Some((options, expires_in, multiple, hide_totals)) => Command::CreateStatusWithPoll {
            status: new,
            poll: NewPoll { options, expires_at: crate::service::now_ms() + expires_in * 1000, multiple, hide_totals },
        },
        None => Command::CreateStatus(new),
    };
    let applied = propose(&state, command).await?;
    let id = created_id(&applied)?;
    let view = state.node().read()?;
    let shown = visible(&view, user.id(), id)?;
    Ok(Written(Json(render_one(&state, &view, user.id(), &shown)?), applied.index).into_response())
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
    let applied = propose(&state, Command::DeleteStatus { actor: user.id(), status: id }).await?;
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
    if choices.is_empty() || choices.len() > MAX_POLL_OPTIONS {
        return Err(ApiError::unprocessable("Choose at least one option"));
    }
    {
        let view = state.node().read()?;
        let (s, _) = visible(&view, user.id(), id)?;
        if s.poll.is_none() {
            return Err(ApiError::NotFound);
        }
    }
    let applied = propose(&state, Command::Vote { account: user.id(), poll: id, choices }).await?;
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
    if !p.media_ids.is_empty() {
        return Err(ApiError::unprocessable("Media attachments are not supported yet"));
    }
    if p.poll.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(ApiError::unprocessable("Polls cannot be changed by an edit yet"));
    }
    let (text, spoiler_text) = crate::service::post_text(&state, p.status.as_deref(), p.spoiler_text.as_deref())?;
    let language = checked_language(p.language)?;
    visible(&state.node().read()?, user.id(), id)?;
    let command = Command::EditStatus {
        actor: user.id(),
        status: id,
        text,
        spoiler_text,
        sensitive: p.sensitive.unwrap_or(false),
        language,
    };
    let applied = propose(&state, command).await?;
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
    media_attachments: [(); 0],
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
                media_attachments: [],
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

/// Runs an interaction on a visible post and answers with the post `show` names.
async fn interact(
    state: &AppState,
    user: &User,
    raw_id: &str,
    make: impl FnOnce(Id, Id) -> Command,
    show: impl FnOnce(Id, Option<Id>) -> Id,
) -> ApiResult<Written<Json<StatusJson>>> {
    let id = parse_id(raw_id)?;
    visible(&state.node().read()?, user.id(), id)?;
    let applied = propose(state, make(user.id(), id)).await?;
    let created = match applied.outcome {
        roost_types::Outcome::Done { id } => id,
        roost_types::Outcome::Rejected(_) => None,
    };
    let view = state.node().read()?;
    let shown = visible(&view, user.id(), show(id, created))?;
    Ok(Written(Json(render_one(state, &view, user.id(), &shown)?), applied.index))
}

pub async fn favourite(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    interact(&state, &user, &id, |account, status| Command::Favourite { account, status }, |id, _| id).await
}

pub async fn unfavourite(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    interact(&state, &user, &id, |account, status| Command::Unfavourite { account, status }, |id, _| id).await
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
        Some(v) => match Visibility::parse(v) {
            Some(vis @ (Visibility::Public | Visibility::Unlisted | Visibility::Private)) => vis,
            _ => return Err(ApiError::unprocessable("Validation failed: Visibility is not included in the list")),
        },
    };
    // The response is the reblog itself, which carries the original in `reblog`.
    interact(
        &state,
        &user,
        &id,
        |account, status| Command::Reblog { account, status, visibility },
        |id, created| created.unwrap_or(id),
    )
    .await
}

pub async fn unreblog(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    interact(
        &state,
        &user,
        &id,
        |account, status| Command::Unreblog { account, status },
        |id, created| created.unwrap_or(id),
    )
    .await
}

pub async fn bookmark(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    interact(&state, &user, &id, |account, status| Command::Bookmark { account, status }, |id, _| id).await
}

pub async fn unbookmark(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    interact(&state, &user, &id, |account, status| Command::Unbookmark { account, status }, |id, _| id).await
}

pub async fn pin(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    interact(&state, &user, &id, |account, status| Command::Pin { account, status }, |id, _| id).await
}

pub async fn unpin(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<StatusJson>>> {
    interact(&state, &user, &id, |account, status| Command::Unpin { account, status }, |id, _| id).await
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
