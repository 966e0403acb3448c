//! Finding people, posts and hashtags: search, trends, suggestions; the instance's (empty)
//! custom emoji and announcements; the member's preferences; WebFinger and host-meta.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_core::discover::{self, TagTrend};
use roost_core::model::Account;
use roost_core::query;
use roost_raft::ReadView;
use roost_service::tags;
use roost_types::Id;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::{Authenticated, User};
use crate::entities::{AccountJson, Renderer, StatusJson};
use crate::error::{ApiError, ApiResult};
use crate::paging::{link_header, PageParams, Paged};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

/// Days of history a hashtag entity carries, as on Mastodon.
const TAG_HISTORY_DAYS: u32 = 7;
/// Longest search query accepted.
const MAX_QUERY_CHARS: usize = 500;

/// Mastodon's Tag entity, with its recent use.
#[derive(Debug, Serialize)]
pub struct TagEntity {
    name: String,
    url: String,
    history: Vec<TagDay>,
    following: bool,
}

#[derive(Debug, Serialize)]
struct TagDay {
    day: String,
    uses: String,
    accounts: String,
}

fn tag_entity(state: &AppState, trend: TagTrend) -> TagEntity {
    tag_entity_following(state, trend, false)
}

fn tag_entity_following(state: &AppState, trend: TagTrend, following: bool) -> TagEntity {
    TagEntity {
        url: format!("{}/tags/{}", state.config().public_url, trend.name),
        name: trend.name,
        history: trend
            .history
            .into_iter()
            .map(|(day, uses, accounts)| TagDay {
                day: (day / 1000).to_string(),
                uses: uses.to_string(),
                accounts: accounts.to_string(),
            })
            .collect(),
        following,
    }
}

fn tag_name(raw: &str) -> ApiResult<String> {
    Ok(tags::tag_name(raw)?)
}

fn tag_json(state: &AppState, view: &ReadView, viewer: Id, name: &str) -> ApiResult<TagEntity> {
    let history = discover::tag_history(view, viewer, name, now_ms(), TAG_HISTORY_DAYS)?;
    Ok(tag_entity_following(state, history, query::follows_tag(view, viewer, name)?))
}

/// `GET /api/v1/tags/:name`
pub async fn tag(State(state): State<AppState>, user: User, Path(name): Path<String>) -> ApiResult<Json<TagEntity>> {
    let name = tag_name(&name)?;
    let view = state.node().read()?;
    Ok(Json(tag_json(&state, &view, user.id(), &name)?))
}

/// `POST /api/v1/tags/:name/follow`: its public posts come home.
pub async fn follow_tag(
    State(state): State<AppState>,
    user: User,
    Path(name): Path<String>,
) -> ApiResult<Written<Json<TagEntity>>> {
    let (name, applied) = tags::follow_tag(state.service(), &user.actor(), &name, true).await?;
    let view = state.node().read()?;
    Ok(Written(Json(tag_json(&state, &view, user.id(), &name)?), applied.index))
}

pub async fn unfollow_tag(
    State(state): State<AppState>,
    user: User,
    Path(name): Path<String>,
) -> ApiResult<Written<Json<TagEntity>>> {
    let (name, applied) = tags::follow_tag(state.service(), &user.actor(), &name, false).await?;
    let view = state.node().read()?;
    Ok(Written(Json(tag_json(&state, &view, user.id(), &name)?), applied.index))
}

/// `GET /api/v1/followed_tags`
pub async fn followed_tags(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<TagEntity>> {
    let view = state.node().read()?;
    let items = query::followed_tags(&view, user.id(), &p.page(200))?;
    let link = link_header(state.config(), &uri, &items, |i| i.0);
    let out = items
        .iter()
        .map(|(_, name)| {
            let history = discover::tag_history(&view, user.id(), name, now_ms(), TAG_HISTORY_DAYS)?;
            Ok(tag_entity_following(&state, history, true))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Paged(out, link))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "de::usize_opt")]
    limit: Option<usize>,
    #[serde(default, deserialize_with = "de::usize_opt")]
    offset: Option<usize>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    following: Option<bool>,
    #[serde(default, deserialize_with = "de::id_opt")]
    account_id: Option<Id>,
}

impl SearchParams {
    fn query(&self) -> ApiResult<&str> {
        let q = self.q.as_deref().map(str::trim).unwrap_or("");
        if q.is_empty() {
            return Err(ApiError::BadRequest("q is required".into()));
        }
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::unprocessable(format!("q is longer than {MAX_QUERY_CHARS} characters")));
        }
        Ok(q)
    }
}

#[derive(Serialize)]
pub struct SearchResults {
    accounts: Vec<AccountJson>,
    statuses: Vec<StatusJson>,
    hashtags: Vec<TagEntity>,
}

/// `GET /api/v2/search`: accounts by username or display-name prefix, hashtags by prefix,
/// posts by their URL or ID (full-text search of posts arrives with its index).
pub async fn search(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<SearchParams>,
) -> ApiResult<Json<SearchResults>> {
    let q = p.query()?;
    let limit = p.limit.unwrap_or(20).clamp(1, 40);
    let offset = p.offset.unwrap_or(0).min(10_000);
    let wants = |kind: &str| p.kind.as_deref().is_none_or(|k| k == kind);
    let view = state.node().read()?;
    let mut r = Renderer::new(&view, user.id(), &state);
    let mut out = SearchResults { accounts: Vec::new(), statuses: Vec::new(), hashtags: Vec::new() };
    if wants("accounts") && !q.starts_with('#') {
        let found =
            discover::accounts(&view, user.id(), without_domain(&state, q), limit, offset, p.following == Some(true))?;
        out.accounts = found.iter().map(|a| r.account(a)).collect();
    }
    if wants("hashtags") && !q.starts_with('@') {
        let names = discover::hashtags(&view, q, limit, offset)?;
        out.hashtags =
            names.into_iter().map(|name| tag_entity(&state, TagTrend { name, history: Vec::new() })).collect();
    }
    if wants("statuses") && offset == 0 {
        if let Some(id) = status_reference(&state, q) {
            if let Some((s, o)) = query::visible_status(&view, user.id(), id)? {
                if p.account_id.is_none_or(|a| a == s.author) {
                    out.statuses.extend(r.status(&s, o.as_ref())?);
                }
            }
        }
    }
    Ok(Json(out))
}

/// `alice@this.domain` → `alice`; other text unchanged.
fn without_domain<'q>(state: &AppState, q: &'q str) -> &'q str {
    let q = q.trim_start_matches('@');
    match q.split_once('@') {
        Some((name, domain)) if domain.eq_ignore_ascii_case(state.config().domain()) => name,
        _ => q,
    }
}

/// A post named by its ID or by its URL on this instance (`…/@user/ID`).
fn status_reference(state: &AppState, q: &str) -> Option<Id> {
    if let Ok(id) = q.parse() {
        return Some(id);
    }
    let rest = q.strip_prefix(&state.config().public_url)?;
    rest.rsplit('/').next()?.parse().ok()
}

/// `GET /api/v1/accounts/search`
pub async fn accounts(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<SearchParams>,
) -> ApiResult<Json<Vec<AccountJson>>> {
    let q = p.query()?;
    let limit = p.limit.unwrap_or(40).clamp(1, 80);
    let offset = p.offset.unwrap_or(0).min(10_000);
    let view = state.node().read()?;
    let found =
        discover::accounts(&view, user.id(), without_domain(&state, q), limit, offset, p.following == Some(true))?;
    let r = Renderer::new(&view, user.id(), &state);
    Ok(Json(found.iter().map(|a| r.account(a)).collect()))
}

#[derive(Deserialize)]
pub struct LimitParams {
    #[serde(default, deserialize_with = "de::usize_opt")]
    limit: Option<usize>,
    #[serde(default, deserialize_with = "de::usize_opt")]
    offset: Option<usize>,
}

/// `GET /api/v1/trends/tags`: hashtags of the last week's public posts, by how many people
/// used them.
pub async fn trending_tags(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<LimitParams>,
) -> ApiResult<Json<Vec<TagEntity>>> {
    let limit = p.limit.unwrap_or(10).clamp(1, 20);
    let offset = p.offset.unwrap_or(0).min(100);
    let view = state.node().read()?;
    let trends = discover::trending_tags(&view, user.id(), now_ms(), TAG_HISTORY_DAYS, limit + offset)?;
    Ok(Json(trends.into_iter().skip(offset).map(|t| tag_entity(&state, t)).collect()))
}

/// `GET /api/v1/trends/statuses` and `/links`: Roost does not rank posts or links yet.
pub async fn trending_nothing(_user: User) -> Json<Vec<Value>> {
    Json(Vec::new())
}

fn suggested<'a>(
    state: &'a AppState,
    view: &'a ReadView,
    viewer: Id,
    limit: usize,
) -> ApiResult<(Vec<Account>, Renderer<'a, ReadView>)> {
    let found = discover::suggestions(view, viewer, limit)?;
    Ok((found, Renderer::new(view, viewer, state)))
}

/// `GET /api/v2/suggestions`: the most followed members one does not follow yet.
pub async fn suggestions(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<LimitParams>,
) -> ApiResult<Json<Value>> {
    let view = state.node().read()?;
    let (found, r) = suggested(&state, &view, user.id(), p.limit.unwrap_or(40).clamp(1, 80))?;
    let items: Vec<Value> =
        found.iter().map(|a| json!({ "source": "global", "sources": ["featured"], "account": r.account(a) })).collect();
    Ok(Json(Value::Array(items)))
}

/// `GET /api/v1/suggestions`: the same, as bare accounts.
pub async fn suggestions_v1(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<LimitParams>,
) -> ApiResult<Json<Vec<AccountJson>>> {
    let view = state.node().read()?;
    let (found, r) = suggested(&state, &view, user.id(), p.limit.unwrap_or(40).clamp(1, 80))?;
    Ok(Json(found.iter().map(|a| r.account(a)).collect()))
}

/// `GET /api/v1/custom_emojis`: Roost has no custom emoji (yet), like a fresh Mastodon.
pub async fn custom_emojis() -> Json<Vec<Value>> {
    Json(Vec::new())
}

/// `GET /api/v1/announcements`: administrators' announcements arrive with the admin pages.
pub async fn announcements(_user: User) -> Json<Vec<Value>> {
    Json(Vec::new())
}

/// `GET /api/v1/preferences`: the defaults apps apply when composing and reading.
pub async fn preferences(State(state): State<AppState>, user: User) -> ApiResult<Json<Value>> {
    let prefs = query::preferences(&state.node().read()?, user.id())?;
    Ok(Json(json!({
        "posting:default:visibility": prefs.default_visibility.as_str(),
        "posting:default:sensitive": prefs.default_sensitive,
        "posting:default:language": null,
        "posting:default:quote_policy": "public",
        "reading:expand:media": "default",
        "reading:expand:spoilers": false,
        "reading:autoplay:gifs": false,
    })))
}

/// `GET /.well-known/host-meta`: where WebFinger lives (XRD, as Mastodon serves it).
pub async fn host_meta(State(state): State<AppState>) -> Response {
    let base = &state.config().public_url;
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
         <Link rel=\"lrdd\" template=\"{base}/.well-known/webfinger?resource={{uri}}\"/>\n</XRD>\n"
    );
    ([(CONTENT_TYPE, "application/xrd+xml; charset=utf-8")], xml).into_response()
}

#[derive(Deserialize)]
pub struct WebfingerParams {
    resource: Option<String>,
}

/// `GET /.well-known/webfinger?resource=acct:name@domain`: a local account's links. Like
/// everything else on a private instance, only for callers with a valid token.
pub async fn webfinger(
    State(state): State<AppState>,
    _caller: Authenticated,
    Input(p): Input<WebfingerParams>,
) -> ApiResult<Response> {
    let resource = p.resource.ok_or_else(|| ApiError::BadRequest("resource is required".into()))?;
    let cfg = state.config();
    let name = if let Some(acct) = resource.strip_prefix("acct:") {
        without_domain(&state, acct).to_string()
    } else if let Some(rest) = resource.strip_prefix(&format!("{}/@", cfg.public_url)) {
        rest.to_string()
    } else if let Some(rest) = resource.strip_prefix(&format!("{}/users/", cfg.public_url)) {
        rest.to_string()
    } else {
        return Err(ApiError::NotFound);
    };
    if name.contains('@') || name.contains('/') {
        return Err(ApiError::NotFound);
    }
    let view = state.node().read()?;
    let account = query::account_by_username(&view, &name)?.ok_or(ApiError::NotFound)?;
    let url = format!("{}/@{}", cfg.public_url, account.username);
    let body = json!({
        "subject": format!("acct:{}@{}", account.username, cfg.domain()),
        "aliases": [url, format!("{}/users/{}", cfg.public_url, account.username)],
        "links": [
            { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": url },
        ],
    });
    Ok(([(CONTENT_TYPE, "application/jrd+json; charset=utf-8")], Json(body)).into_response())
}
