//! Instance metadata (readable without signing in) and Roost's node status.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
        "accounts": { "max_featured_tags": 0, "max_pinned_statuses": roost_types::MAX_PINNED },
        "statuses": {
            "max_characters": c.max_post_chars,
            "max_media_attachments": roost_types::MAX_MEDIA_PER_POST,
            "characters_reserved_per_url": roost_core::text::URL_WEIGHT,
        },
        "media_attachments": {
            "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
            "description_limit": roost_types::MAX_MEDIA_DESCRIPTION_CHARS,
            "image_size_limit": state.service().config().media.limits.max_bytes,
            "image_matrix_limit": state.service().config().media.limits.max_pixels,
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
        out["state_digest"] = roost_service::tokens::hex(&digest).into();
    }
    Ok(Json(out))
}

/// `GET /readyz`: 200 when this node can serve (a leader is known, so writes go through), 503
/// otherwise; for load balancers, without a token.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let s = state.node().status();
    match s.leader {
        Some(leader) => {
            (StatusCode::OK, format!("ready: leader {leader}, applied {}\n", s.applied_index)).into_response()
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, "not ready: no leader\n").into_response(),
    }
}

/// `GET /metrics`: the node's raft state in Prometheus text format (counts and indexes only,
/// no content), without a token so that a scraper needs none.
pub async fn metrics(State(state): State<AppState>) -> Response {
    use std::fmt::Write;
    let s = state.node().status();
    let mut out = String::with_capacity(1024);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let roles = ["leader", "follower", "candidate", "learner"];
    let role_samples: Vec<(String, u64)> =
        roles.iter().map(|r| (format!("{{role=\"{r}\"}}"), u64::from(s.role == *r))).collect();
    metric("roost_raft_role", "gauge", "This node's raft role (1 for the current one).", &role_samples);
    metric("roost_raft_term", "gauge", "The current raft term.", &[(String::new(), s.term)]);
    metric(
        "roost_raft_leader",
        "gauge",
        "The leader's node ID (0: none known).",
        &[(String::new(), s.leader.unwrap_or(0))],
    );
    metric(
        "roost_raft_last_log_index",
        "gauge",
        "The last index in this node's log.",
        &[(String::new(), s.last_log_index)],
    );
    metric(
        "roost_raft_commit_index",
        "gauge",
        "The last index known committed.",
        &[(String::new(), s.committed_index)],
    );
    metric(
        "roost_raft_apply_index",
        "gauge",
        "The last index applied to this node's state.",
        &[(String::new(), s.applied_index)],
    );
    metric(
        "roost_raft_members",
        "gauge",
        "Members of the cluster (voters and learners).",
        &[(String::new(), s.members.len() as u64)],
    );
    let lag: Vec<(String, u64)> = s
        .replication
        .iter()
        .map(|(id, matched)| (format!("{{node=\"{id}\"}}"), s.last_log_index.saturating_sub(matched.unwrap_or(0))))
        .collect();
    metric("roost_raft_replication_lag", "gauge", "On the leader: entries each member's log is behind.", &lag);
    metric(
        "roost_raft_elections_total",
        "counter",
        "Terms this node has entered since it started.",
        &[(String::new(), s.elections)],
    );
    metric(
        "roost_streaming_connections",
        "gauge",
        "Open live-stream connections.",
        &[(String::new(), state.hub().connections() as u64)],
    );
    let figures = roost_service::extensions::figures(state.service());
    let per = |f: &dyn Fn(&roost_service::extensions::Figures) -> u64| -> Vec<(String, u64)> {
        figures.iter().map(|((id, v), x)| (format!("{{extension=\"{id}\",version=\"{v}\"}}"), f(x))).collect()
    };
    metric(
        "roost_extension_calls_total",
        "counter",
        "Calls of each deployed extension version on this node.",
        &per(&|f| f.calls),
    );
    metric(
        "roost_extension_errors_total",
        "counter",
        "Calls that failed (threw, ran out of budget or time).",
        &per(&|f| f.errors),
    );
    let verdicts: Vec<(String, u64)> = figures
        .iter()
        .flat_map(|((id, v), f)| {
            f.verdicts
                .iter()
                .map(move |(verdict, n)| (format!("{{extension=\"{id}\",version=\"{v}\",verdict=\"{verdict}\"}}"), *n))
        })
        .collect();
    metric("roost_extension_verdicts_total", "counter", "Decisions of automod rules, by verdict.", &verdicts);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
