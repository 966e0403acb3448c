//! Timelines: home, the local public timeline, and hashtags.

use axum::extract::{Path, State};
use axum::http::Uri;
use roost_core::query;
use roost_types::FilterContext;
use serde::Deserialize;

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::paging::{PageParams, StatusPage, MAX_LIMIT};
use crate::params::{de, Input};
use crate::AppState;

pub async fn home(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<StatusPage> {
    let view = state.node().read()?;
    let items = query::home(&view, state.node().home(), user.id(), &p.page(MAX_LIMIT))?;
    super::status_page(&state, &view, user.id(), &uri, &items, |s| s.0.id, |s| s, Some(FilterContext::Home))
}

#[derive(Deserialize)]
pub struct PublicParams {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "de::bool_opt")]
    remote: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    only_media: Option<bool>,
}

pub async fn public(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PublicParams>,
) -> ApiResult<StatusPage> {
    // Everything here is local; remote-only and media-only views are empty until federation
    // and media exist.
    if p.remote == Some(true) || p.only_media == Some(true) {
        return Ok(StatusPage(Vec::new(), None));
    }
    let view = state.node().read()?;
    let items = query::public(&view, user.id(), &p.page.page(MAX_LIMIT))?;
    super::status_page(&state, &view, user.id(), &uri, &items, |s| s.0.id, |s| s, Some(FilterContext::Public))
}

pub async fn tag(
    State(state): State<AppState>,
    user: User,
    Path(hashtag): Path<String>,
    uri: Uri,
    Input(p): Input<PublicParams>,
) -> ApiResult<StatusPage> {
    let name = hashtag.trim_start_matches('#');
    if name.is_empty() || name.chars().count() > 100 || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(ApiError::NotFound);
    }
    if p.remote == Some(true) || p.only_media == Some(true) {
        return Ok(StatusPage(Vec::new(), None));
    }
    let view = state.node().read()?;
    let items = query::tag(&view, user.id(), name, &p.page.page(MAX_LIMIT))?;
    super::status_page(&state, &view, user.id(), &uri, &items, |s| s.0.id, |s| s, Some(FilterContext::Public))
}
