//! Read markers: where a member stopped reading home and notifications, shared by their apps.

use axum::extract::State;
use axum::Json;
use roost_core::query;
use roost_raft::ReadView;
use roost_types::{Id, MarkerTimeline};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::User;
use crate::entities::iso;
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

#[derive(Deserialize)]
pub struct ShowParams {
    #[serde(default, deserialize_with = "de::strings")]
    timeline: Vec<String>,
}

fn markers(view: &ReadView, account: Id, which: &[MarkerTimeline]) -> ApiResult<Value> {
    let mut out = Map::new();
    for &timeline in which {
        if let Some(m) = query::marker(view, account, timeline)? {
            out.insert(
                timeline.as_str().into(),
                json!({ "last_read_id": m.last_read_id.to_string(), "version": m.version, "updated_at": iso(m.updated_at) }),
            );
        }
    }
    Ok(Value::Object(out))
}

/// `GET /api/v1/markers?timeline[]=home&timeline[]=notifications`
pub async fn show(State(state): State<AppState>, user: User, Input(p): Input<ShowParams>) -> ApiResult<Json<Value>> {
    let which: Vec<MarkerTimeline> = p.timeline.iter().filter_map(|t| MarkerTimeline::parse(t)).collect();
    let view = state.node().read()?;
    Ok(Json(markers(&view, user.id(), &which)?))
}

#[derive(Deserialize, Default)]
pub struct Position {
    #[serde(default, deserialize_with = "de::id_opt")]
    last_read_id: Option<Id>,
}

#[derive(Deserialize)]
pub struct SaveParams {
    home: Option<Position>,
    notifications: Option<Position>,
}

/// `POST /api/v1/markers` with `home[last_read_id]` and/or `notifications[last_read_id]`.
pub async fn save(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<SaveParams>,
) -> ApiResult<Written<Json<Value>>> {
    let wanted: Vec<(MarkerTimeline, Id)> =
        [(MarkerTimeline::Home, p.home), (MarkerTimeline::Notifications, p.notifications)]
            .into_iter()
            .filter_map(|(t, pos)| pos.and_then(|p| p.last_read_id).map(|id| (t, id)))
            .collect();
    if wanted.is_empty() {
        return Err(ApiError::unprocessable("Give home[last_read_id] or notifications[last_read_id]"));
    }
    let mut index = 0;
    for &(timeline, last_read_id) in &wanted {
        index = roost_service::markers::set_marker(state.service(), &user.actor(), timeline, last_read_id).await?.index;
    }
    let view = state.node().read()?;
    let which: Vec<MarkerTimeline> = wanted.iter().map(|w| w.0).collect();
    Ok(Written(Json(markers(&view, user.id(), &which)?), index))
}
