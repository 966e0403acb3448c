//! Scheduled posts: `POST /api/v1/statuses` with `scheduled_at`, and
//! `/api/v1/scheduled_statuses` to list, move and cancel them. The leader publishes each when
//! its time comes (see `roost_service::timer`).

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use roost_core::model::ScheduledPost;
use roost_core::{query, ReadTables};
use roost_service::statuses::scheduled;
use roost_types::{Id, Millis};
use serde::{Deserialize, Serialize};

use super::parse_id;
use crate::auth::User;
use crate::entities::{iso, media_json, MediaJson};
use crate::error::{ApiError, ApiResult};
use crate::paging::{link_header, PageParams, Paged, MAX_LIMIT};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

/// Mastodon's ScheduledStatus entity.
#[derive(Serialize)]
pub struct ScheduledJson {
    id: String,
    scheduled_at: String,
    params: ParamsJson,
    media_attachments: Vec<MediaJson>,
}

#[derive(Serialize)]
struct ParamsJson {
    text: String,
    poll: Option<PollParamsJson>,
    media_ids: Option<Vec<String>>,
    sensitive: bool,
    spoiler_text: String,
    visibility: &'static str,
    in_reply_to_id: Option<String>,
    quoted_status_id: Option<String>,
    language: Option<String>,
    application_id: Option<String>,
    scheduled_at: Option<String>,
    idempotency: Option<String>,
    with_rate_limit: bool,
}

#[derive(Serialize)]
struct PollParamsJson {
    options: Vec<String>,
    expires_in: String,
    multiple: bool,
    hide_totals: bool,
}

/// The entity as its author sees it, with the pictures it holds.
fn json(
    view: &(impl ReadTables + ?Sized),
    state: &AppState,
    viewer: Id,
    p: &ScheduledPost,
) -> ApiResult<ScheduledJson> {
    let s = &p.status;
    let mut media = Vec::new();
    for id in query::scheduled_media(view, p.id)? {
        if let Some(m) = roost_core::media::media(view, id)? {
            media.push(media_json(&m, viewer, false, &state.config().public_url));
        }
    }
    Ok(ScheduledJson {
        id: p.id.to_string(),
        scheduled_at: iso(p.scheduled_at),
        params: ParamsJson {
            text: s.text.clone(),
            poll: p.poll.as_ref().map(|poll| PollParamsJson {
                options: poll.options.clone(),
                expires_in: poll.expires_in.to_string(),
                multiple: poll.multiple,
                hide_totals: poll.hide_totals,
            }),
            media_ids: (!media.is_empty()).then(|| media.iter().map(|m| m.id.clone()).collect()),
            sensitive: s.sensitive,
            spoiler_text: s.spoiler_text.clone(),
            visibility: s.visibility.as_str(),
            in_reply_to_id: s.in_reply_to.map(|i| i.to_string()),
            quoted_status_id: s.quote_of.map(|i| i.to_string()),
            language: s.language.clone(),
            application_id: s.application.clone(),
            scheduled_at: None,
            idempotency: s.idempotency_key.clone(),
            with_rate_limit: false,
        },
        media_attachments: media,
    })
}

/// The time a post is to be published, from the client's ISO 8601 text (the service decides
/// whether it is far enough ahead).
pub(crate) fn parse_time(when: &str) -> ApiResult<Millis> {
    Ok(chrono::DateTime::parse_from_rfc3339(when.trim())
        .map_err(|_| ApiError::unprocessable("Validation failed: Scheduled at must be a date and time (ISO 8601)"))?
        .timestamp_millis())
}

/// The ScheduledStatus entity of a post just scheduled.
pub(crate) fn written(state: &AppState, user: &User, id: Id, index: u64) -> ApiResult<Written<Json<ScheduledJson>>> {
    let view = state.node().read()?;
    let post = query::scheduled_post(&view, user.id(), id)?.ok_or(ApiError::NotFound)?;
    Ok(Written(Json(json(&view, state, user.id(), &post)?), index))
}

/// `GET /api/v1/scheduled_statuses`
pub async fn index(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<ScheduledJson>> {
    let view = state.node().read()?;
    let items = query::scheduled_posts(&view, user.id(), &p.page(MAX_LIMIT))?;
    let link = link_header(state.config(), &uri, &items, |s| s.id);
    let out = items.iter().map(|p| json(&view, &state, user.id(), p)).collect::<ApiResult<_>>()?;
    Ok(Paged(out, link))
}

/// `GET /api/v1/scheduled_statuses/:id`
pub async fn show(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Json<ScheduledJson>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    let post = query::scheduled_post(&view, user.id(), id)?.ok_or(ApiError::NotFound)?;
    Ok(Json(json(&view, &state, user.id(), &post)?))
}

#[derive(Deserialize)]
pub struct Reschedule {
    #[serde(default, deserialize_with = "de::string_opt")]
    scheduled_at: Option<String>,
}

/// `PUT /api/v1/scheduled_statuses/:id`: moves it to another time.
pub async fn update(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<Reschedule>,
) -> ApiResult<Written<Json<ScheduledJson>>> {
    let id = parse_id(&id)?;
    let when = p.scheduled_at.ok_or_else(|| ApiError::unprocessable("scheduled_at is required"))?;
    let applied = scheduled::reschedule(state.service(), &user.actor(), id, parse_time(&when)?).await?;
    let view = state.node().read()?;
    let post = query::scheduled_post(&view, user.id(), id)?.ok_or(ApiError::NotFound)?;
    Ok(Written(Json(json(&view, &state, user.id(), &post)?), applied.index))
}

/// `DELETE /api/v1/scheduled_statuses/:id`: it will not be published.
pub async fn cancel(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<serde_json::Value>>> {
    let id = parse_id(&id)?;
    let applied = scheduled::cancel(state.service(), &user.actor(), id).await?;
    Ok(Written(Json(serde_json::json!({})), applied.index))
}
