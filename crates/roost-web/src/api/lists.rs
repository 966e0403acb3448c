//! Lists: a member's groupings of accounts they follow, and each list's timeline.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use roost_core::model::List;
use roost_core::query;
use roost_service::lists::{self, ListSettings};
use roost_types::{Id, RepliesPolicy};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::parse_id;
use crate::auth::User;
use crate::entities::AccountJson;
use crate::error::{ApiError, ApiResult};
use crate::paging::{PageParams, Paged, StatusPage, MAX_LIMIT};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

/// Longest list title, in characters.

#[derive(Debug, Serialize)]
pub struct ListJson {
    id: String,
    title: String,
    replies_policy: &'static str,
    exclusive: bool,
}

fn list_json(l: &List) -> ListJson {
    ListJson {
        id: l.id.to_string(),
        title: l.title.clone(),
        replies_policy: l.replies_policy.as_str(),
        exclusive: l.exclusive,
    }
}

#[derive(Deserialize)]
pub struct ListParams {
    #[serde(default, deserialize_with = "de::string_opt")]
    title: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    replies_policy: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    exclusive: Option<bool>,
}

impl ListParams {
    fn settings(self) -> ApiResult<ListSettings> {
        let replies_policy = match self.replies_policy.as_deref() {
            Some(p) => Some(
                RepliesPolicy::parse(p)
                    .ok_or_else(|| ApiError::unprocessable("replies_policy must be followed, list or none"))?,
            ),
            None => None,
        };
        Ok(ListSettings { title: self.title, replies_policy, exclusive: self.exclusive })
    }
}

fn own_list(state: &AppState, user: &User, raw: &str) -> ApiResult<List> {
    Ok(lists::own_list(&state.node().read()?, user.id(), parse_id(raw)?)?)
}

/// A subscribed feed as a list (issue 14): its timeline is the ranked feed.
fn feed_list_json(e: &roost_core::model::Extension) -> ListJson {
    ListJson { id: e.id.to_string(), title: e.name.clone(), replies_policy: "list", exclusive: false }
}

/// The subscribed feed `raw` names, if it names one rather than a list.
fn subscribed_feed(state: &AppState, user: &User, raw: &str) -> ApiResult<Option<roost_core::model::Extension>> {
    let id = parse_id(raw)?;
    let subscriptions = roost_service::feeds::subscriptions(state.service(), &user.actor())?;
    Ok(subscriptions.into_iter().find(|e| e.id == id))
}

/// The member's lists, then the feeds they subscribed to.
pub async fn index(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<ListJson>>> {
    let view = state.node().read()?;
    let mut out: Vec<ListJson> = query::lists(&view, user.id())?.iter().map(list_json).collect();
    out.extend(roost_service::feeds::subscriptions(state.service(), &user.actor())?.iter().map(feed_list_json));
    Ok(Json(out))
}

pub async fn show(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Json<ListJson>> {
    match own_list(&state, &user, &id) {
        Err(ApiError::NotFound) => match subscribed_feed(&state, &user, &id)? {
            Some(e) => Ok(Json(feed_list_json(&e))),
            None => Err(ApiError::NotFound),
        },
        other => Ok(Json(list_json(&other?))),
    }
}

pub async fn create(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<ListParams>,
) -> ApiResult<Written<Json<ListJson>>> {
    let (id, index) = lists::create(state.service(), &user.actor(), p.settings()?).await?;
    let list = query::list(&state.node().read()?, user.id(), id)?.ok_or(ApiError::NotFound)?;
    Ok(Written(Json(list_json(&list)), index))
}

pub async fn update(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<ListParams>,
) -> ApiResult<Written<Json<ListJson>>> {
    let id = parse_id(&id)?;
    let applied = lists::update(state.service(), &user.actor(), id, p.settings()?).await?;
    let list = query::list(&state.node().read()?, user.id(), id)?.ok_or(ApiError::NotFound)?;
    Ok(Written(Json(list_json(&list)), applied.index))
}

pub async fn delete(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<Value>>> {
    // Deleting a subscribed feed's list unsubscribes from it.
    if query::list(&state.node().read()?, user.id(), parse_id(&id)?)?.is_none() {
        if let Some(e) = subscribed_feed(&state, &user, &id)? {
            let applied = roost_service::feeds::subscribe(state.service(), &user.actor(), e.id, false).await?;
            return Ok(Written(Json(json!({})), applied.index));
        }
    }
    let applied = lists::delete(state.service(), &user.actor(), parse_id(&id)?).await?;
    Ok(Written(Json(json!({})), applied.index))
}

/// `GET /api/v1/lists/:id/accounts`; `limit=0` lists every member.
pub async fn members(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    let list = own_list(&state, &user, &id)?;
    let view = state.node().read()?;
    let mut page = p.page(80);
    if p.limit == Some(0) {
        page.limit = roost_types::MAX_LIST_MEMBERS;
    }
    let items = query::list_members(&view, user.id(), list.id, &page)?.ok_or(ApiError::NotFound)?;
    Ok(super::accounts::account_page(&state, &view, user.id(), &uri, items))
}

#[derive(Deserialize)]
pub struct MemberParams {
    #[serde(default, deserialize_with = "de::ids")]
    account_ids: Vec<Id>,
}

pub async fn add_members(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<MemberParams>,
) -> ApiResult<Written<Json<Value>>> {
    let applied = lists::add_members(state.service(), &user.actor(), parse_id(&id)?, p.account_ids).await?;
    Ok(Written(Json(json!({})), applied.index))
}

pub async fn remove_members(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<MemberParams>,
) -> ApiResult<Written<Json<Value>>> {
    let applied = lists::remove_members(state.service(), &user.actor(), parse_id(&id)?, p.account_ids).await?;
    Ok(Written(Json(json!({})), applied.index))
}

/// `GET /api/v1/accounts/:id/lists`: the signed-in member's lists that hold the account.
pub async fn containing(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ListJson>>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    Ok(Json(query::lists_containing(&view, user.id(), id)?.iter().map(list_json).collect()))
}

/// `GET /api/v1/timelines/list/:id`
pub async fn timeline(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<StatusPage> {
    let list = match own_list(&state, &user, &id) {
        Err(ApiError::NotFound) => match subscribed_feed(&state, &user, &id)? {
            Some(e) => return super::feeds::feed_page(&state, &user, e.id, &uri, &p).await,
            None => return Err(ApiError::NotFound),
        },
        other => other?,
    };
    let view = state.node().read()?;
    let items = query::list_timeline(&view, user.id(), list.id, &p.page(MAX_LIMIT))?.ok_or(ApiError::NotFound)?;
    super::status_page(
        &state,
        &view,
        user.id(),
        &uri,
        &items,
        |s| s.0.id,
        |s| s,
        Some(roost_types::FilterContext::Home),
    )
}
