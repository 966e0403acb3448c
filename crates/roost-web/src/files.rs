//! Picture files: `GET /media/:id/:size.:ext?v=&e=&s=[&c=1]`, the links `entities::media_url`
//! makes for one viewer (see `roost_service::media` for what a link grants and why), and the
//! generated default avatar and header.
//!
//! Apps load images without credentials, so this route needs no token, and it sits outside
//! the per-caller rate limit (a timeline page loads dozens): what it costs a stranger is one
//! keyed hash and one row read before a 404. Everything it sends is a file Roost made, with the
//! type Roost determined, `nosniff` and a sandboxing CSP.

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use roost_service::media::{self, Link, Size};
use serde::Deserialize;

use crate::auth::{cookie, known_token, token_hash, SESSION_COOKIE};
use crate::error::ApiError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/media/{id}/{file}", get(file))
        .route("/avatars/default/{file}", get(default_avatar))
        .route("/headers/default.png", get(default_header))
}

/// Default avatars drawn lately (each well under 2 KB): a page of faces is drawn once, and
/// requests for many numbers cost at most one small drawing each.
static AVATARS: LazyLock<quick_cache::sync::Cache<u64, Bytes>> = LazyLock::new(|| quick_cache::sync::Cache::new(4096));

/// `GET /avatars/default/:id.png`: the generated picture of a member without an avatar. It
/// depends on the number alone (it reveals nothing of the account), so it is cached for good.
async fn default_avatar(Path(file): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let seed: u64 = file.strip_suffix(".png").and_then(|n| n.parse().ok()).ok_or(ApiError::NotFound)?;
    let draw = || {
        AVATARS.get_or_insert_with(&seed, || {
            media::default_avatar(seed).map(Bytes::from).map_err(|e| ApiError::Internal(e.to_string()))
        })
    };
    picture(&headers, &format!("\"avatar-{seed}\""), draw, "image/png", FOREVER, false)
}

/// `GET /headers/default.png`: the header of a profile without one (made once).
async fn default_header(headers: HeaderMap) -> Result<Response, ApiError> {
    static HEADER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let made = || match HEADER.get() {
        Some(b) => Ok(Bytes::from_static(b.as_slice())),
        None => {
            let made = media::default_header().map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok(Bytes::from_static(HEADER.get_or_init(|| made).as_slice()))
        }
    };
    picture(&headers, "\"header-default\"", made, "image/png", FOREVER, false)
}

const FOREVER: &str = "public, max-age=31536000, immutable";

#[derive(Deserialize)]
pub struct LinkParams {
    v: Option<u64>,
    e: Option<i64>,
    s: Option<String>,
    c: Option<String>,
}

async fn file(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    Query(q): Query<LinkParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id: u64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let size = file.split_once('.').and_then(|(name, _)| Size::parse(name)).ok_or(ApiError::NotFound)?;
    let (Some(viewer), Some(expires), Some(sig)) = (q.v, q.e, q.s) else { return Err(ApiError::NotFound) };
    if sig.len() != 32 {
        return Err(ApiError::NotFound);
    }
    let needs_session = q.c.as_deref() == Some("1");
    let session = if needs_session { session_account(&state, &headers).await? } else { None };
    let link = Link { media: id, size, viewer, expires, needs_session, sig };
    let etag = format!("\"{}-{}\"", id, size.name());
    let f = media::open(state.service(), &link, session).await?;
    let cache = if needs_session { "private, max-age=86400" } else { "public, max-age=604800, immutable" };
    picture(&headers, &etag, || Ok(Bytes::from(f.bytes)), &f.content_type, cache, needs_session)
}

/// A picture Roost made, or 304 when the client has it (`bytes` is made only when needed).
fn picture(
    headers: &HeaderMap,
    etag: &str,
    bytes: impl FnOnce() -> Result<Bytes, ApiError>,
    content_type: &str,
    cache: &'static str,
    same_origin: bool,
) -> Result<Response, ApiError> {
    let mut resp = if headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let bytes = bytes()?;
        let len = bytes.len();
        let mut r = bytes.into_response();
        r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(len));
        r
    };
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(ETAG, v);
    }
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static(if same_origin { "same-origin" } else { "cross-origin" }),
    );
    Ok(resp)
}

/// The account of the web session the request's cookie names, if it is one.
async fn session_account(state: &AppState, headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(secret) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    let token = known_token(state, &token_hash(secret)).await?;
    Ok(token.filter(|t| t.client_id == roost_service::WEB_CLIENT_ID).and_then(|t| t.account))
}
