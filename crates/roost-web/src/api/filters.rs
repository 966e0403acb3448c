//! Filters (Mastodon's v2): a member's keyword and post filters, with their keywords and posts
//! as sub-resources.

use axum::extract::{Path, State};
use axum::Json;
use roost_core::filters;
use roost_core::model::Filter;
use roost_service::{created_id, now_ms, propose};
use roost_types::{Command, FilterAction, FilterContext, FilterSpec, Id, MAX_FILTER_ITEMS};
use serde::Deserialize;
use serde_json::{json, Value};

use super::parse_id;
use crate::auth::User;
use crate::entities::{filter_json, FilterJson, FilterKeywordJson, FilterStatusJson};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

/// A filter's title and each of its keywords: one line of 100 characters.
const TITLE: roost_core::text::Limit = roost_core::text::Limit::chars(100);
const KEYWORD: roost_core::text::Limit = roost_core::text::Limit::chars(100);

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

fn checked_keyword(k: &str) -> ApiResult<String> {
    let k = roost_core::text::clean_line(k);
    if k.is_empty() {
        return Err(ApiError::unprocessable("Validation failed: A keyword can't be blank"));
    }
    roost_service::accounts::limited("Keyword", &k, KEYWORD)?;
    Ok(k)
}

/// The spec a create or update asks for, starting from the current filter (for updates).
fn spec(p: FilterParams, current: Option<&Filter>) -> ApiResult<FilterSpec> {
    let title = match p.title {
        Some(t) => roost_core::text::clean_line(&t),
        None => current.map(|f| f.title.clone()).unwrap_or_default(),
    };
    if title.is_empty() {
        return Err(ApiError::unprocessable("Validation failed: A filter needs a title"));
    }
    roost_service::accounts::limited("Title", &title, TITLE)?;
    let contexts = if p.context.is_empty() {
        match current {
            Some(f) => f.contexts.clone(),
            None => return Err(ApiError::unprocessable("context[] must name at least one context")),
        }
    } else {
        let mut out = Vec::new();
        for c in &p.context {
            let c = FilterContext::parse(c).ok_or_else(|| {
                ApiError::unprocessable("context must be home, notifications, public, thread or account")
            })?;
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    };
    let action = match p.filter_action.as_deref() {
        Some(a) => {
            FilterAction::parse(a).ok_or_else(|| ApiError::unprocessable("filter_action must be warn, hide or blur"))?
        }
        None => current.map_or(FilterAction::Warn, |f| f.action),
    };
    let expires_at = match &p.expires_in {
        None => current.and_then(|f| f.expires_at),
        Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(v) => {
            let secs = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }
            .filter(|s| (1..=10 * 365 * 24 * 3600).contains(s))
            .ok_or_else(|| ApiError::unprocessable("expires_in must be a number of seconds"))?;
            Some(now_ms() + secs * 1000)
        }
    };
    let mut keywords: Vec<(Option<Id>, String, bool)> =
        current.map(|f| f.keywords.iter().map(|(id, k, w)| (Some(*id), k.clone(), *w)).collect()).unwrap_or_default();
    for a in keyword_attributes(p.keywords_attributes)? {
        match a.id.and_then(|id| keywords.iter().position(|k| k.0 == Some(id))) {
            Some(i) if a.destroy == Some(true) => {
                keywords.remove(i);
            }
            Some(i) => {
                if let Some(k) = &a.keyword {
                    keywords[i].1 = checked_keyword(k)?;
                }
                if let Some(w) = a.whole_word {
                    keywords[i].2 = w;
                }
            }
            None if a.id.is_some() => return Err(ApiError::NotFound),
            None => {
                let k =
                    a.keyword.as_deref().ok_or_else(|| ApiError::unprocessable("A new keyword needs its keyword"))?;
                keywords.push((None, checked_keyword(k)?, a.whole_word.unwrap_or(true)));
            }
        }
    }
    if keywords.len() > MAX_FILTER_ITEMS {
        return Err(ApiError::unprocessable(format!("A filter has at most {MAX_FILTER_ITEMS} keywords")));
    }
    let statuses = current.map(|f| f.statuses.iter().map(|(id, s)| (Some(*id), *s)).collect()).unwrap_or_default();
    Ok(FilterSpec { title, contexts, action, expires_at, keywords, statuses })
}

fn spec_of(f: &Filter) -> FilterSpec {
    FilterSpec {
        title: f.title.clone(),
        contexts: f.contexts.clone(),
        action: f.action,
        expires_at: f.expires_at,
        keywords: f.keywords.iter().map(|(id, k, w)| (Some(*id), k.clone(), *w)).collect(),
        statuses: f.statuses.iter().map(|(id, s)| (Some(*id), *s)).collect(),
    }
}

fn own(state: &AppState, user: &User, id: Id) -> ApiResult<Filter> {
    filters::filter(&state.node().read()?, user.id(), id)?.ok_or(ApiError::NotFound)
}

/// Saves a spec and answers with the filter as stored.
async fn save(state: &AppState, user: &User, filter: Option<Id>, spec: FilterSpec) -> ApiResult<(Filter, u64)> {
    let applied =
        propose(state.service(), &user.actor(), Command::SaveFilter { account: user.id(), filter, spec }).await?;
    let id = created_id(&applied)?;
    Ok((own(state, user, id)?, applied.index))
}

/// The filter holding a keyword (or, with `statuses`, a post entry) of the user's.
fn holding(state: &AppState, user: &User, item: Id, statuses: bool) -> ApiResult<Filter> {
    let all = filters::filters(&state.node().read()?, user.id())?;
    all.into_iter()
        .find(
            |f| if statuses { f.statuses.iter().any(|s| s.0 == item) } else { f.keywords.iter().any(|k| k.0 == item) },
        )
        .ok_or(ApiError::NotFound)
}

pub async fn index(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<FilterJson>>> {
    let all = filters::filters(&state.node().read()?, user.id())?;
    Ok(Json(all.iter().map(filter_json).collect()))
}

pub async fn show(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Json<FilterJson>> {
    Ok(Json(filter_json(&own(&state, &user, parse_id(&id)?)?)))
}

pub async fn create(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<FilterParams>,
) -> ApiResult<Written<Json<FilterJson>>> {
    let (f, index) = save(&state, &user, None, spec(p, None)?).await?;
    Ok(Written(Json(filter_json(&f)), index))
}

pub async fn update(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<FilterParams>,
) -> ApiResult<Written<Json<FilterJson>>> {
    let current = own(&state, &user, parse_id(&id)?)?;
    let (f, index) = save(&state, &user, Some(current.id), spec(p, Some(&current))?).await?;
    Ok(Written(Json(filter_json(&f)), index))
}

pub async fn delete(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<Value>>> {
    let f = own(&state, &user, parse_id(&id)?)?;
    let applied =
        propose(state.service(), &user.actor(), Command::DeleteFilter { account: user.id(), filter: f.id }).await?;
    Ok(Written(Json(json!({})), applied.index))
}

pub async fn keywords(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<FilterKeywordJson>>> {
    Ok(Json(filter_json(&own(&state, &user, parse_id(&id)?)?).keywords))
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
    let f = own(&state, &user, parse_id(&id)?)?;
    let keyword = checked_keyword(p.keyword.as_deref().unwrap_or(""))?;
    let mut s = spec_of(&f);
    if s.keywords.len() >= MAX_FILTER_ITEMS {
        return Err(ApiError::unprocessable(format!("A filter has at most {MAX_FILTER_ITEMS} keywords")));
    }
    s.keywords.push((None, keyword, p.whole_word.unwrap_or(true)));
    let (saved, index) = save(&state, &user, Some(f.id), s).await?;
    let added = filter_json(&saved).keywords.pop().ok_or(ApiError::NotFound)?;
    Ok(Written(Json(added), index))
}

pub async fn keyword(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<FilterKeywordJson>> {
    let id = parse_id(&id)?;
    let f = holding(&state, &user, id, false)?;
    filter_json(&f).keywords.into_iter().find(|k| k.id == id.to_string()).map(Json).ok_or(ApiError::NotFound)
}

pub async fn update_keyword(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<KeywordParams>,
) -> ApiResult<Written<Json<FilterKeywordJson>>> {
    let id = parse_id(&id)?;
    let f = holding(&state, &user, id, false)?;
    let mut s = spec_of(&f);
    for k in s.keywords.iter_mut().filter(|k| k.0 == Some(id)) {
        if let Some(word) = &p.keyword {
            k.1 = checked_keyword(word)?;
        }
        if let Some(w) = p.whole_word {
            k.2 = w;
        }
    }
    let (saved, index) = save(&state, &user, Some(f.id), s).await?;
    let k = filter_json(&saved).keywords.into_iter().find(|k| k.id == id.to_string()).ok_or(ApiError::NotFound)?;
    Ok(Written(Json(k), index))
}

pub async fn delete_keyword(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<Value>>> {
    let id = parse_id(&id)?;
    let f = holding(&state, &user, id, false)?;
    let mut s = spec_of(&f);
    s.keywords.retain(|k| k.0 != Some(id));
    let (_, index) = save(&state, &user, Some(f.id), s).await?;
    Ok(Written(Json(json!({})), index))
}

pub async fn statuses(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<FilterStatusJson>>> {
    Ok(Json(filter_json(&own(&state, &user, parse_id(&id)?)?).statuses))
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
    let f = own(&state, &user, parse_id(&id)?)?;
    let status = p.status_id.ok_or_else(|| ApiError::unprocessable("status_id is required"))?;
    roost_core::query::visible_status(&state.node().read()?, user.id(), status)?.ok_or(ApiError::NotFound)?;
    let mut s = spec_of(&f);
    if s.statuses.len() >= MAX_FILTER_ITEMS {
        return Err(ApiError::unprocessable(format!("A filter names at most {MAX_FILTER_ITEMS} posts")));
    }
    s.statuses.push((None, status));
    let (saved, index) = save(&state, &user, Some(f.id), s).await?;
    let added = filter_json(&saved).statuses.pop().ok_or(ApiError::NotFound)?;
    Ok(Written(Json(added), index))
}

pub async fn status(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<FilterStatusJson>> {
    let id = parse_id(&id)?;
    let f = holding(&state, &user, id, true)?;
    filter_json(&f).statuses.into_iter().find(|s| s.id == id.to_string()).map(Json).ok_or(ApiError::NotFound)
}

pub async fn delete_status(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<Value>>> {
    let id = parse_id(&id)?;
    let f = holding(&state, &user, id, true)?;
    let mut s = spec_of(&f);
    s.statuses.retain(|st| st.0 != Some(id));
    let (_, index) = save(&state, &user, Some(f.id), s).await?;
    Ok(Written(Json(json!({})), index))
}

/// `GET /api/v1/filters`: the keywords of the v2 filters in the v1 shape (one per keyword),
/// for older apps.
pub async fn index_v1(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<Value>>> {
    let all = filters::filters(&state.node().read()?, user.id())?;
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
