//! Pictures: `POST /api/v1/media` and `/api/v2/media` (a multipart `file` with optional
//! `description` and `focus`), `GET` and `PUT /api/v1/media/:id`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_service::media::{self, Upload, Uploaded};
use serde::Deserialize;

use super::parse_id;
use crate::auth::User;
use crate::entities::{media_json, processing_media_json, MediaJson};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input, WithFiles};
use crate::AppState;

#[derive(Deserialize)]
pub struct MediaParams {
    #[serde(default, deserialize_with = "de::string_opt")]
    description: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    focus: Option<String>,
}

fn rendered(state: &AppState, user: &User, u: Uploaded) -> (StatusCode, Json<MediaJson>) {
    match u {
        Uploaded::Ready(m) => (StatusCode::OK, Json(media_json(&m, user.id(), false, &state.config().public_url))),
        Uploaded::Processing { id } => (StatusCode::ACCEPTED, Json(processing_media_json(id))),
    }
}

async fn upload(
    state: &AppState,
    user: &User,
    p: MediaParams,
    mut files: crate::params::Files,
    wait: Option<std::time::Duration>,
) -> ApiResult<Uploaded> {
    let file = files.take("file").ok_or_else(|| ApiError::unprocessable("Validation failed: File can't be blank"))?;
    let up = Upload { bytes: file.bytes, description: p.description, focus: p.focus };
    Ok(media::upload(state.service(), &user.actor(), up, wait).await?)
}

/// `POST /api/v1/media`: answers once the picture is processed.
pub async fn create_v1(
    State(state): State<AppState>,
    user: User,
    WithFiles(p, files): WithFiles<MediaParams>,
) -> ApiResult<Response> {
    let u = upload(&state, &user, p, files, None).await?;
    Ok(rendered(&state, &user, u).into_response())
}

/// `POST /api/v2/media`: 200 if the picture was processed within the configured wait, else 202
/// with `url: null`, and the client asks `GET /api/v1/media/:id` until it is ready.
pub async fn create_v2(
    State(state): State<AppState>,
    user: User,
    WithFiles(p, files): WithFiles<MediaParams>,
) -> ApiResult<Response> {
    let wait = state.service().config().media.processing_wait;
    let u = upload(&state, &user, p, files, Some(wait)).await?;
    Ok(rendered(&state, &user, u).into_response())
}

/// `GET /api/v1/media/:id`: one's own picture; 206 while it is being processed, as Mastodon.
pub async fn show(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let (status, json) = rendered(&state, &user, media::get(state.service(), &user.actor(), id)?);
    let status = if status == StatusCode::ACCEPTED { StatusCode::PARTIAL_CONTENT } else { status };
    Ok((status, json).into_response())
}

/// `PUT /api/v1/media/:id`: changes the alt text or focal point, before or after posting.
pub async fn update(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<MediaParams>,
) -> ApiResult<Json<MediaJson>> {
    let id = parse_id(&id)?;
    let m = media::update(state.service(), &user.actor(), id, p.description, p.focus).await?;
    Ok(Json(media_json(&m, user.id(), false, &state.config().public_url)))
}
