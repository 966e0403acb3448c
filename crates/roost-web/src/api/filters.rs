//! Filters (Mastodon's v2): a member's keyword and post filters, with their keywords and posts
//! as sub-resources.

use axum::extract::{Path, State};
use axum::Json;
use roost_service::filters::{self, FilterChange, KeywordChange};
use roost_types::{FilterAction, FilterContext, Id, MAX_FILTER_ITEMS};
use serde::Deserialize;
use serde_json::{json, Value};

use super::parse_id;
use crate::auth::User;
use crate::entities::{filter_json, FilterJson, FilterKeywordJson, FilterStatusJson};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

#[derive(Deserialize)]
pub struct FilterParams {
    #[serde(default, deserialize_with = "de::string_opt")]
    title: Option<String>,
    #[serde(default, deserialize_with = "de::strings")]
    context: Vec<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    filter_action: Option<String>,
    /// Seconds from now; empty or absent: never expires.
    #[serde(default)]
    expires_in: Option<Value>,
    /// An array of `{keyword, whole_word, id, _destroy}`, or Rails' `{"0": {...}}` form.
    #[serde(default)]
    keywords_attributes: Option<Value>,
}

/// One `keywords_attributes` entry.
#[derive(Deserialize, Default)]
struct KeywordAttributes {
    #[serde(default, deserialize_with = "de::id_opt")]
    id: Option<Id>,
    #[serde(default, deserialize_with = "de::string_opt")]
    keyword: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    whole_word: Option<bool>,
    #[serde(default, rename = "_destroy", deserialize_with = "de::bool_opt")]
    destroy: Option<bool>,
}

fn keyword_attributes(v: Option<Value>) -> ApiResult<Vec<KeywordAttributes>> {
    let items: Vec<Value> = match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        // Rails' indexed form: keywords_attributes[0][keyword]=…
        Some(Value::Object(map)) => {
            let mut entries: Vec<(u64, Value)> =
                map.into_iter().map(|(k, v)| (k.parse().unwrap_or(u64::MAX), v)).collect();
            entries.sort_by_key(|e| e.0);
            entries.into_iter().map(|e| e.1).collect()
        }
        Some(_) => return Err(ApiError::unprocessable("keywords_attributes must be a list")),
    };
    if items.len() > MAX_FILTER_ITEMS {
        return Err(ApiError::unprocessable(format!("A filter has at most {MAX_FILTER_ITEMS} keywords")));
    }
    items
        .into_iter()
        .map(|v| serde_json::from_value(v).map_err(|e| ApiError::unprocessable(format!("Invalid keyword: {e}"))))
        .collect()
}

/// The change a create or update asks for, in the service's terms.
fn change(p: FilterParams) -> ApiResult<FilterChange> {
    let mut contexts = Vec::new();
    for c in &p.context {
        contexts.push(FilterContext::parse(c).ok_or_else(|| {
            ApiError::unprocessable("context must be home, notifications, public, thread or account")
        })?);
    }
    let action = match p.filter_action.as_deref() {
        Some(a) => Some(
            FilterAction::parse(a)
                .ok_or_else(|| ApiError::unprocessable("filter_action must be warn, hide or blur"))?,
        ),
        None => None,
    };
    let expires_in = match &p.expires_in {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.is_empty() => Some(None),
        Some(v) => Some(Some(
            match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }
            .ok_or_else(|| ApiError::unprocessable("expires_in must be a number of seconds"))?,
        )),
    };
    let keywords = keyword_attributes(p.keywords_attributes)?
        .into_iter()
        .map(|a| KeywordChange {
            id: a.id,
            keyword: a.keyword,
            whole_word: a.whole_word,
            destroy: a.destroy == Some(true),
        })
        .collect();
    Ok(FilterChange { title: p.title, contexts, action, expires_in, keywords })
}

pub async fn index(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<FilterJson>>> {
    let all = roost_core::filters::filters(&state.node().read()?, user.id())?;
    Ok(Json(all.iter().map(filter_json).collect()))
}

pub async fn show(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Json<FilterJson>> {
    Ok(Json(filter_json(&filters::own(state.service(), user.id(), parse_id(&id)?)?)))
}

pub async fn create(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<FilterParams>,
) -> ApiResult<Written<Json<FilterJson>>> {
    let (f, index) = filters::save(state.service(), &user.actor(), None, change(p)?).await?;
    Ok(Written(Json(filter_json(&f)), index))
}

pub async fn update(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<FilterParams>,
) -> ApiResult<Written<Json<FilterJson>>> {
    let (f, index) = filters::save(state.service(), &user.actor(), Some(parse_id(&id)?), change(p)?).await?;
    Ok(Written(Json(filter_json(&f)), index))
}

pub async fn delete(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<Value>>> {
    let applied = filters::delete(state.service(), &user.actor(), parse_id(&id)?).await?;
    Ok(Written(Json(json!({})), applied.index))
}

pub async fn keywords(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<FilterKeywordJson>>> {
    Ok(Json(filter_json(&filters::own(state.service(), user.id(), parse_id(&id)?)?).keywords))
}

#[derive(Deserialize)]
pub struct KeywordParams {
    #[serde(default, deserialize_with = "de::string_opt")]
    keyword: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    whole_word: Option<bool>,
}

pub async fn add_keyword(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<KeywordParams>,
) -> ApiResult<Written<Json<FilterKeywordJson>>> {
    let keyword = p.keyword.as_deref().unwrap_or("");
    let whole_word = p.whole_word.unwrap_or(true);
    let (saved, index) =
        filters::add_keyword(state.service(), &user.actor(), parse_id(&id)?, keyword, whole_word).await?;
    let added = filter_json(&saved).keywords.pop().ok_or(ApiError::NotFound)?;
    Ok(Written(Json(added), index))
}

pub async fn keyword(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<FilterKeywordJson>> {
    let id = parse_id(&id)?;
    let f = filters::holding(state.service(), user.id(), id, false)?;
    filter_json(&f).keywords.into_iter().find(|k| k.id == id.to_string()).map(Json).ok_or(ApiError::NotFound)
}

pub async fn update_keyword(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<KeywordParams>,
) -> ApiResult<Written<Json<FilterKeywordJson>>> {
    let id = parse_id(&id)?;
    let (saved, index) =
        filters::update_keyword(state.service(), &user.actor(), id, p.keyword.as_deref(), p.whole_word).await?;
    let k = filter_json(&saved).keywords.into_iter().find(|k| k.id == id.to_string()).ok_or(ApiError::NotFound)?;
    Ok(Written(Json(k), index))
}

pub async fn delete_keyword(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<Value>>> {
    let index = filters::remove_item(state.service(), &user.actor(), parse_id(&id)?, false).await?;
    Ok(Written(Json(json!({})), index))
}

pub async fn statuses(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<FilterStatusJson>>> {
    Ok(Json(filter_json(&filters::own(state.service(), user.id(), parse_id(&id)?)?).statuses))
}

#[derive(Deserialize)]
pub struct StatusParams {
    #[serde(default, deserialize_with = "de::id_opt")]
    status_id: Option<Id>,
}

pub async fn add_status(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<StatusParams>,
) -> ApiResult<Written<Json<FilterStatusJson>>> {
    let filter = parse_id(&id)?;
    let status = p.status_id.ok_or_else(|| ApiError::unprocessable("status_id is required"))?;
    let (saved, index) = filters::add_status(state.service(), &user.actor(), filter, status).await?;
    let added = filter_json(&saved).statuses.pop().ok_or(ApiError::NotFound)?;
    Ok(Written(Json(added), index))
}

pub async fn status(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<FilterStatusJson>> {
    let id = parse_id(&id)?;
    let f = filters::holding(state.service(), user.id(), id, true)?;
    filter_json(&f).statuses.into_iter().find(|s| s.id == id.to_string()).map(Json).ok_or(ApiError::NotFound)
}

pub async fn delete_status(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<Value>>> {
    let index = filters::remove_item(state.service(), &user.actor(), parse_id(&id)?, true).await?;
    Ok(Written(Json(json!({})), index))
}

/// `GET /api/v1/filters`: the keywords of the v2 filters in the v1 shape (one per keyword),
/// for older apps.
pub async fn index_v1(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<Value>>> {
    let all = roost_core::filters::filters(&state.node().read()?, user.id())?;
    let mut out = Vec::new();
    for f in &all {
        for (id, keyword, whole_word) in &f.keywords {
            out.push(json!({
                "id": id.to_string(),
                "phrase": keyword,
                "context": f.contexts.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                "whole_word": whole_word,
                "expires_at": f.expires_at.map(crate::entities::iso),
                "irreversible": f.action == FilterAction::Hide,
            }));
        }
    }
    Ok(Json(out))
}
