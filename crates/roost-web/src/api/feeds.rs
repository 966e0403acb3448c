//! `/api/roost/v1/feeds`: custom feeds for members (issue 14). A member finds the feeds they
//! may read (those published for everyone and their own), writes personal feeds, previews,
//! deploys and subscribes; a subscribed feed also shows among the member's lists in every
//! Mastodon app (`/api/v1/lists`), and its list timeline is the ranked feed. Feeds for
//! everyone are written by administrators through `/api/roost/v1/extensions`.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use roost_core::model::Extension;
use roost_service::extensions;
use roost_service::feeds::{self, Feed};
use roost_types::ExtensionMode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extensions::{draft, extension_json, feed_json, figures_json, version_json, VersionForm};
use super::parse_id;
use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::paging::{PageParams, StatusPage, MAX_LIMIT};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

fn feed_entity(view: &roost_raft::ReadView, f: &Feed) -> ApiResult<Value> {
    let mut out = extension_json(&f.extension);
    out["description"] = json!(f.description);
    out["subscribed"] = json!(f.subscribed);
    out["feed"] = feed_json(view, &f.spec)?;
    Ok(out)
}

/// `GET /api/roost/v1/feeds`: the feeds the member may read, and their own personal feeds.
pub async fn index(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<Value>>> {
    let all = feeds::available(state.service(), &user.actor())?;
    let view = state.node().read()?;
    Ok(Json(all.iter().map(|f| feed_entity(&view, f)).collect::<ApiResult<_>>()?))
}

/// One of the member's own personal feeds, or 404.
fn own(state: &AppState, user: &User, raw: &str) -> ApiResult<Extension> {
    let id = parse_id(raw)?;
    match roost_core::extensions::extension(&state.node().read()?, id)? {
        Some(e) if e.owner.is_some() && e.owner == Some(user.id()) => Ok(e),
        _ => Err(ApiError::NotFound),
    }
}

/// `POST /api/roost/v1/feeds`: a new personal feed with its first version (not deployed).
pub async fn create(
    State(state): State<AppState>,
    user: User,
    Input(mut f): Input<VersionForm>,
) -> ApiResult<Written<Json<Value>>> {
    f.kind = Some("feed".into());
    if f.personal == Some(false) {
        return Err(ApiError::unprocessable(
            "Validation failed: Feeds for everyone are published by administrators through /api/roost/v1/extensions",
        ));
    }
    let d = draft(&state, None, f)?;
    let (id, version, applied) = extensions::save(state.service(), &user.actor(), d).await?;
    Ok(Written(Json(json!({"id": id.to_string(), "version": version})), applied.index))
}

/// `GET /api/roost/v1/feeds/:id`: a feed the member may read or their own; for their own,
/// with its versions, the newest one's source and what it did on this node.
pub async fn show(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let feed = feeds::available(state.service(), &user.actor())?
        .into_iter()
        .find(|f| f.extension.id == id)
        .ok_or(ApiError::NotFound)?;
    let view = state.node().read()?;
    let mut out = feed_entity(&view, &feed)?;
    if feed.extension.owner == Some(user.id()) {
        let (_, versions, figures) = extensions::show(state.service(), &user.actor(), id)?;
        out["versions"] = versions
            .iter()
            .enumerate()
            .map(|(i, v)| version_json(&view, v, i == 0))
            .collect::<ApiResult<Vec<_>>>()?
            .into();
        out["figures"] = figures.as_ref().map_or(Value::Null, figures_json);
    }
    Ok(Json(out))
}

/// `POST /api/roost/v1/feeds/:id/versions`: a new version of one's own feed.
pub async fn add_version(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(mut f): Input<VersionForm>,
) -> ApiResult<Written<Json<Value>>> {
    let e = own(&state, &user, &id)?;
    f.kind = Some("feed".into());
    f.personal = Some(true);
    let d = draft(&state, Some(e.id), f)?;
    let (id, version, applied) = extensions::save(state.service(), &user.actor(), d).await?;
    Ok(Written(Json(json!({"id": id.to_string(), "version": version})), applied.index))
}

#[derive(Deserialize, Default)]
pub struct VersionParams {
    #[serde(default, deserialize_with = "de::id_opt")]
    version: Option<u64>,
    #[serde(default, deserialize_with = "de::id_opt")]
    limit: Option<u64>,
}

fn version_param(v: Option<u64>) -> ApiResult<Option<u32>> {
    v.map(|v| u32::try_from(v).map_err(|_| ApiError::NotFound)).transpose()
}

/// `POST /api/roost/v1/feeds/:id/deploy` with `version` (default: the newest): one's own
/// feed goes live (a roll back names an earlier version).
pub async fn deploy(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<VersionParams>,
) -> ApiResult<Written<Json<Value>>> {
    let e = own(&state, &user, &id)?;
    let version = version_param(p.version)?.unwrap_or(e.latest);
    let applied = extensions::deploy(state.service(), &user.actor(), e.id, version, ExtensionMode::Enforce).await?;
    let e = own(&state, &user, &id)?;
    Ok(Written(Json(extension_json(&e)), applied.index))
}

/// `POST /api/roost/v1/feeds/:id/disable`
pub async fn disable(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<Value>>> {
    let e = own(&state, &user, &id)?;
    let applied = extensions::disable(state.service(), &user.actor(), e.id).await?;
    let e = own(&state, &user, &id)?;
    Ok(Written(Json(extension_json(&e)), applied.index))
}

/// `POST /api/roost/v1/feeds/:id/subscribe` and `…/unsubscribe`.
pub async fn subscribe(
    State(state): State<AppState>,
    user: User,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Written<Json<Value>>> {
    let id = parse_id(&id)?;
    let on = match action.as_str() {
        "subscribe" => true,
        "unsubscribe" => false,
        _ => return Err(ApiError::NotFound),
    };
    let applied = feeds::subscribe(state.service(), &user.actor(), id, on).await?;
    Ok(Written(Json(json!({"id": id.to_string(), "subscribed": on})), applied.index))
}

/// `GET /api/roost/v1/feeds/:id/preview` with `version` (default: the newest) and `limit`:
/// the feed ranked for the member now, as it would show once deployed.
pub async fn preview(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<VersionParams>,
) -> ApiResult<Json<Vec<crate::entities::StatusJson>>> {
    let id = parse_id(&id)?;
    let limit = p.limit.map_or(40, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let items = feeds::preview(state.service(), &user.actor(), id, version_param(p.version)?, limit).await?;
    let view = state.node().read()?;
    let mut r = crate::entities::Renderer::new(&view, user.id(), &state);
    Ok(Json(r.statuses(items.iter())?))
}

/// `GET /api/roost/v1/feeds/:id/timeline` (and `/api/v1/timelines/list/:id` for a subscribed
/// feed): the deployed feed, in its ranked order; `max_id` continues it.
pub async fn timeline(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<StatusPage> {
    feed_page(&state, &user, parse_id(&id)?, &uri, &p).await
}

pub(crate) async fn feed_page(
    state: &AppState,
    user: &User,
    id: roost_types::Id,
    uri: &Uri,
    p: &PageParams,
) -> ApiResult<StatusPage> {
    let items = feeds::timeline(state.service(), &user.actor(), id, &p.page(MAX_LIMIT)).await?;
    let view = state.node().read()?;
    super::status_page(state, &view, user.id(), uri, &items, |s| s.0.id, |s| s, Some(roost_types::FilterContext::Home))
}
