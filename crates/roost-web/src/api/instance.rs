//! Instance metadata (readable without signing in) and Roost's node status.

use axum::extract::State;
use axum::Json;
use roost_core::{counter, STATUS_COUNT, USER_COUNT};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::{AppState, MASTODON_COMPAT};

pub const ROOST_VERSION: &str = env!("CARGO_PKG_VERSION");

fn version() -> String {
    format!("{MASTODON_COMPAT} (compatible; Roost {ROOST_VERSION})")
}

fn streaming_url(public_url: &str) -> String {
    public_url.replacen("https://", "wss://", 1).replacen("http://", "ws://", 1)
}

fn counts(state: &AppState) -> ApiResult<(u64, u64)> {
    let view = state.node().read()?;
    Ok((counter(&view, USER_COUNT)?, counter(&view, STATUS_COUNT)?))
}

fn configuration(state: &AppState) -> Value {
    let c = state.config();
    json!({
        "urls": { "streaming": streaming_url(&c.public_url), "status": null },
        "vapid": { "public_key": "" },
        "accounts": { "max_featured_tags": 0, "max_pinned_statuses": 0 },
        "statuses": {
            "max_characters": c.max_post_chars,
            "max_media_attachments": 0,
            "characters_reserved_per_url": roost_core::text::URL_WEIGHT,
        },
        "media_attachments": {
            "supported_mime_types": [],
            "image_size_limit": 0,
            "image_matrix_limit": 0,
            "video_size_limit": 0,
            "video_frame_rate_limit": 0,
            "video_matrix_limit": 0,
        },
        "polls": {
            "max_options": roost_types::MAX_POLL_OPTIONS,
            "max_characters_per_option": roost_types::MAX_POLL_OPTION_CHARS,
            "min_expiration": roost_types::MIN_POLL_SECONDS,
            "max_expiration": roost_types::MAX_POLL_SECONDS,
        },
        "translation": { "enabled": false },
    })
}

pub async fn v1(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let (users, statuses) = counts(&state)?;
    let c = state.config();
    let mut config = configuration(&state);
    if let Some(obj) = config.as_object_mut() {
        obj.remove("urls");
    }
    Ok(Json(json!({
        "uri": c.domain(),
        "title": c.title,
        "short_description": "A private Roost network.",
        "description": "A private Roost network.",
        "email": "",
        "version": version(),
        "urls": { "streaming_api": streaming_url(&c.public_url) },
        "stats": { "user_count": users, "status_count": statuses, "domain_count": 0 },
        "thumbnail": null,
        "languages": ["en"],
        "registrations": false,
        "approval_required": true,
        "invites_enabled": true,
        "configuration": config,
        "contact_account": null,
        "rules": [],
    })))
}

pub async fn v2(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let (users, _) = counts(&state)?;
    let c = state.config();
    Ok(Json(json!({
        "domain": c.domain(),
        "title": c.title,
        "version": version(),
        "source_url": "https://github.com/roost-social/roost",
        "description": "A private Roost network.",
        "usage": { "users": { "active_month": users } },
        "thumbnail": { "url": format!("{}/headers/original/missing.png", c.public_url) },
        "icon": [],
        "languages": ["en"],
        "configuration": configuration(&state),
        "registrations": { "enabled": false, "approval_required": true, "message": null, "url": null },
        "api_versions": { "mastodon": 1 },
        "contact": { "email": "", "account": null },
        "rules": [],
    })))
}

pub async fn nodeinfo_links(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "links": [{
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
            "href": format!("{}/nodeinfo/2.0", state.config().public_url),
        }]
    }))
}

pub async fn nodeinfo(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let (users, statuses) = counts(&state)?;
    Ok(Json(json!({
        "version": "2.0",
        "software": { "name": "roost", "version": ROOST_VERSION },
        "protocols": [],
        "services": { "outbound": [], "inbound": [] },
        "usage": { "users": { "total": users, "activeMonth": users, "activeHalfyear": users }, "localPosts": statuses },
        "openRegistrations": false,
        "metadata": {
            "nodeName": state.config().title,
            "upstream": { "name": "mastodon", "version": MASTODON_COMPAT },
        },
    })))
}

#[derive(Deserialize)]
pub struct NodeParams {
    #[serde(default, deserialize_with = "de::bool_opt")]
    digest: Option<bool>,
}

/// Where this node's log stands: applied index and chain head; with `?digest=true` (admins
/// only, it walks the whole state) the state digest too.
pub async fn node(State(state): State<AppState>, user: User, Input(p): Input<NodeParams>) -> ApiResult<Json<Value>> {
    let node = state.node();
    let head = node.chain_head()?;
    let mut out = json!({
        "node_id": node.id().to_string(),
        "version": ROOST_VERSION,
        "applied_index": node.applied_index(),
        "chain": { "index": head.index, "head": head.hex() },
    });
    if p.digest == Some(true) {
        if !matches!(user.account.role, roost_types::Role::Owner | roost_types::Role::Admin) {
            return Err(ApiError::Forbidden("The state digest is for administrators".into()));
        }
        let digest = node.state_digest()?;
        out["state_digest"] = digest.iter().map(|b| format!("{b:02x}")).collect::<String>().into();
    }
    Ok(Json(out))
}
