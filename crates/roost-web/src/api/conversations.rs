//! Direct conversations: listing them, marking them read, removing them.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use roost_core::query;
use roost_service::inbox;
use serde_json::{json, Value};

use super::parse_id;
use crate::auth::User;
use crate::entities::{conversation_json, ConversationJson, Renderer};
use crate::error::{ApiError, ApiResult};
use crate::paging::{link_header, PageParams, Paged};
use crate::params::Input;
use crate::written::Written;
use crate::AppState;

/// `GET /api/v1/conversations`
pub async fn index(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<ConversationJson>> {
    let view = state.node().read()?;
    let items = query::conversations(&view, user.id(), &p.page(40))?;
    let link = link_header(state.config(), &uri, &items, |i| i.0);
    let mut r = Renderer::new(&view, user.id(), &state);
    let out = items
        .iter()
        .map(|(_, id, c, shown)| conversation_json(&mut r, &view, user.id(), *id, c, shown.as_ref()))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Paged(out, link))
}

/// `POST /api/v1/conversations/:id/read`
pub async fn read(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<ConversationJson>>> {
    let id = parse_id(&id)?;
    let applied = inbox::read_conversation(state.service(), &user.actor(), id).await?;
    let view = state.node().read()?;
    let mut v = roost_core::visibility::Viewer::new(&view, user.id());
    let (c, shown) = query::conversation_entry(&mut v, id)?.ok_or(ApiError::NotFound)?;
    let mut r = Renderer::new(&view, user.id(), &state);
    Ok(Written(Json(conversation_json(&mut r, &view, user.id(), id, &c, shown.as_ref())?), applied.index))
}

/// `DELETE /api/v1/conversations/:id`
pub async fn remove(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<Value>>> {
    let id = parse_id(&id)?;
    let applied = inbox::remove_conversation(state.service(), &user.actor(), id).await?;
    Ok(Written(Json(json!({})), applied.index))
}
