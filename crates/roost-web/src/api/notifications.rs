//! Notifications: listing, one, dismissing, clearing.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use roost_core::model::NotificationKind;
use roost_core::query::{self, NotificationFilter};
use roost_service::inbox;
use roost_types::Id;
use serde::Deserialize;

use super::parse_id;
use crate::auth::User;
use crate::entities::{NotificationJson, Renderer};
use crate::error::{ApiError, ApiResult};
use crate::paging::{link_header, PageParams, Paged};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

#[derive(Deserialize)]
pub struct ListParams {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "de::strings")]
    types: Vec<String>,
    #[serde(default, deserialize_with = "de::strings")]
    exclude_types: Vec<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    account_id: Option<Id>,
}

/// Known kinds; unknown names (types Roost does not produce yet) are ignored as Mastodon does.
fn kinds(names: &[String]) -> Vec<NotificationKind> {
    names.iter().filter_map(|n| NotificationKind::parse(n)).collect()
}

pub async fn list(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<ListParams>,
) -> ApiResult<Paged<NotificationJson>> {
    let types = kinds(&p.types);
    if !p.types.is_empty() && types.is_empty() {
        // Only kinds that Roost never produces were asked for.
        return Ok(Paged(Vec::new(), None));
    }
    let filter = NotificationFilter { types, exclude_types: kinds(&p.exclude_types), account: p.account_id };
    let view = state.node().read()?;
    let items = query::notifications(&view, user.id(), &filter, &p.page.page(80))?;
    let link = link_header(state.config(), &uri, &items, |n| n.0.id);
    let mut r = Renderer::new(&view, user.id(), &state).filtering(roost_types::FilterContext::Notifications)?;
    let mut out = Vec::with_capacity(items.len());
    for (n, shown) in &items {
        if let Some(j) = r.notification(n, shown.as_ref())? {
            out.push(j);
        }
    }
    Ok(Paged(out, link))
}

pub async fn show(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Json<NotificationJson>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    let (n, shown) = query::notification(&view, user.id(), id)?.ok_or(ApiError::NotFound)?;
    let json = Renderer::new(&view, user.id(), &state).notification(&n, shown.as_ref())?;
    json.map(Json).ok_or(ApiError::NotFound)
}

pub async fn dismiss(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<serde_json::Value>>> {
    let id = parse_id(&id)?;
    let applied = inbox::dismiss_notification(state.service(), &user.actor(), id).await?;
    Ok(Written(Json(serde_json::json!({})), applied.index))
}

pub async fn clear(State(state): State<AppState>, user: User) -> ApiResult<Written<Json<serde_json::Value>>> {
    let applied = inbox::clear_notifications(state.service(), &user.actor()).await?;
    Ok(Written(Json(serde_json::json!({})), applied.index))
}
