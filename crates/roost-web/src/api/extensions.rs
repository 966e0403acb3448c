//! `/api/roost/v1/extensions`: administrators write extensions (issue 14), dry-run a version
//! against the newest posts, deploy it in observe or enforce mode, roll back (deploy an
//! earlier version) and disable. Every change is a command in the log, with its actor.

use axum::extract::{Path, State};
use axum::Json;
use roost_core::model::{Extension, ExtensionVersion};
use roost_service::extensions::{self, Draft, DryRun, Figures};
use roost_types::{ExtensionKind, ExtensionMode, FailPolicy};
use serde::Deserialize;
use serde_json::{json, Value};

use super::parse_id;
use crate::auth::User;
use crate::entities::iso;
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

#[derive(Deserialize)]
pub struct VersionForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    pub(crate) name: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    pub(crate) kind: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    pub(crate) description: Option<String>,
    /// `open` or `closed`.
    #[serde(default, deserialize_with = "de::string_opt")]
    pub(crate) on_error: Option<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    pub(crate) budget: Option<u64>,
    #[serde(default, deserialize_with = "de::id_opt")]
    pub(crate) deadline_ms: Option<u64>,
    #[serde(default, deserialize_with = "de::id_opt")]
    pub(crate) memory_bytes: Option<u64>,
    #[serde(default, deserialize_with = "de::string_opt")]
    pub(crate) source: Option<String>,
    /// A feed's sources: `home`, `local`, `#tag`, `@username`, `list:ID` (an array, or one
    /// per line).
    #[serde(default, deserialize_with = "de::strings")]
    pub(crate) sources: Vec<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    pub(crate) window_hours: Option<u64>,
    /// A member's own feed (the default for feeds) or one for everyone (administrators).
    #[serde(default, deserialize_with = "de::bool_opt")]
    pub(crate) personal: Option<bool>,
}

/// The most hours a feed looks back by default: a week.
const DEFAULT_WINDOW_HOURS: u32 = 24 * 7;

pub(crate) fn draft(state: &AppState, extension: Option<u64>, f: VersionForm) -> ApiResult<Draft> {
    let kind = match f.kind.as_deref() {
        None => None,
        Some(k) => Some(
            ExtensionKind::parse(k)
                .ok_or_else(|| ApiError::unprocessable("Validation failed: kind must be automod, feed or bot"))?,
        ),
    };
    let on_error = match f.on_error.as_deref() {
        None | Some("open") => Some(FailPolicy::Open),
        Some("closed") => Some(FailPolicy::Closed),
        Some(_) => return Err(ApiError::unprocessable("Validation failed: on_error must be open or closed")),
    };
    let feed = if kind == Some(ExtensionKind::Feed) {
        let mut sources = Vec::new();
        for raw in f.sources.iter().flat_map(|s| s.split(['\n', ',']).map(str::trim)).filter(|s| !s.is_empty()) {
            if sources.len() > roost_types::MAX_FEED_SOURCES {
                break;
            }
            sources.push(roost_service::feeds::parse_source(state.service(), raw)?);
        }
        let window_hours = match f.window_hours {
            None => DEFAULT_WINDOW_HOURS,
            Some(h) => u32::try_from(h).unwrap_or(u32::MAX),
        };
        Some(roost_types::FeedSpec { sources, window_hours, personal: f.personal.unwrap_or(true) })
    } else {
        None
    };
    Ok(Draft {
        extension,
        feed,
        name: f.name.unwrap_or_default(),
        kind,
        description: f.description.unwrap_or_default(),
        on_error,
        budget: f.budget,
        deadline_ms: f.deadline_ms,
        memory_bytes: f.memory_bytes,
        source: f.source.ok_or_else(|| ApiError::unprocessable("Validation failed: source is required"))?,
    })
}

pub(crate) fn extension_json(e: &Extension) -> Value {
    json!({
        "personal": e.owner.is_some(),
        "id": e.id.to_string(),
        "name": e.name,
        "kind": e.kind.as_str(),
        "created_at": iso(e.created_at),
        "created_by": e.created_by.map(|a| a.to_string()),
        "latest_version": e.latest,
        "deployed": e.deployed.map(|d| json!({
            "version": d.version,
            "mode": d.mode.as_str(),
            "at": iso(d.at),
            "by": d.by.map(|a| a.to_string()),
        })),
    })
}

/// A feed's sources and window, as people write them.
pub(crate) fn feed_json(view: &roost_raft::ReadView, spec: &roost_types::FeedSpec) -> ApiResult<Value> {
    let sources: Vec<String> =
        spec.sources.iter().map(|s| roost_service::feeds::source_text(view, s)).collect::<Result<_, _>>()?;
    Ok(json!({"sources": sources, "window_hours": spec.window_hours, "personal": spec.personal}))
}

pub(crate) fn version_json(view: &roost_raft::ReadView, v: &ExtensionVersion, with_source: bool) -> ApiResult<Value> {
    let m = &v.manifest;
    let hex: String = v.source_hash.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = json!({
        "version": v.version,
        "created_at": iso(v.at),
        "created_by": v.by.map(|a| a.to_string()),
        "source_hash": hex,
        "manifest": {
            "name": m.name,
            "kind": m.kind.as_str(),
            "description": m.description,
            "on_error": match m.on_error { FailPolicy::Open => "open", FailPolicy::Closed => "closed" },
            "budget": m.budget,
            "deadline_ms": m.deadline_ms,
            "memory_bytes": m.memory_bytes,
        },
    });
    if let Some(spec) = &m.feed {
        out["manifest"]["feed"] = feed_json(view, spec)?;
    }
    if with_source {
        out["source"] = json!(v.source);
    }
    Ok(out)
}

pub(crate) fn figures_json(f: &Figures) -> Value {
    json!({ "calls": f.calls, "verdicts": f.verdicts, "errors": f.errors, "recent_errors": f.recent_errors })
}

/// `GET /api/roost/v1/extensions`
pub async fn index(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<Value>>> {
    let all = extensions::list(state.service(), &user.actor())?;
    Ok(Json(all.iter().map(extension_json).collect()))
}

/// `POST /api/roost/v1/extensions`: a new extension with its first version.
pub async fn create(
    State(state): State<AppState>,
    user: User,
    Input(f): Input<VersionForm>,
) -> ApiResult<Written<Json<Value>>> {
    let (id, version, applied) = extensions::save(state.service(), &user.actor(), draft(&state, None, f)?).await?;
    Ok(Written(Json(json!({"id": id.to_string(), "version": version})), applied.index))
}

/// `POST /api/roost/v1/extensions/:id/versions`: a new version.
pub async fn add_version(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(f): Input<VersionForm>,
) -> ApiResult<Written<Json<Value>>> {
    let id = parse_id(&id)?;
    let (id, version, applied) = extensions::save(state.service(), &user.actor(), draft(&state, Some(id), f)?).await?;
    Ok(Written(Json(json!({"id": id.to_string(), "version": version})), applied.index))
}

/// `GET /api/roost/v1/extensions/:id`: the extension, its versions (newest first, without
/// their sources) and what its deployed version decided on this node.
pub async fn show(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (e, versions, figures) = extensions::show(state.service(), &user.actor(), parse_id(&id)?)?;
    let mut out = extension_json(&e);
    let view = state.node().read()?;
    out["versions"] = versions.iter().map(|v| version_json(&view, v, false)).collect::<ApiResult<Vec<_>>>()?.into();
    out["figures"] = figures.as_ref().map_or(Value::Null, figures_json);
    Ok(Json(out))
}

/// `GET /api/roost/v1/extensions/:id/versions/:version`: one version with its source.
pub async fn show_version(
    State(state): State<AppState>,
    user: User,
    Path((id, version)): Path<(String, u32)>,
) -> ApiResult<Json<Value>> {
    let v = extensions::version(state.service(), &user.actor(), parse_id(&id)?, version)?;
    Ok(Json(version_json(&state.node().read()?, &v, true)?))
}

#[derive(Deserialize)]
pub struct DeployForm {
    #[serde(default, deserialize_with = "de::id_opt")]
    version: Option<u64>,
    #[serde(default, deserialize_with = "de::string_opt")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    posts: Option<u64>,
}

fn version_of(f: &DeployForm) -> ApiResult<u32> {
    f.version
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| ApiError::unprocessable("Validation failed: version is required"))
}

/// `POST /api/roost/v1/extensions/:id/deploy` with `version` and `mode` (`observe` or
/// `enforce`): also how to roll back.
pub async fn deploy(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(f): Input<DeployForm>,
) -> ApiResult<Written<Json<Value>>> {
    let id = parse_id(&id)?;
    let version = version_of(&f)?;
    let mode = ExtensionMode::parse(f.mode.as_deref().unwrap_or("observe"))
        .ok_or_else(|| ApiError::unprocessable("Validation failed: mode must be observe or enforce"))?;
    let applied = extensions::deploy(state.service(), &user.actor(), id, version, mode).await?;
    let (e, _, _) = extensions::show(state.service(), &user.actor(), id)?;
    Ok(Written(Json(extension_json(&e)), applied.index))
}

/// `POST /api/roost/v1/extensions/:id/disable`
pub async fn disable(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<Value>>> {
    let id = parse_id(&id)?;
    let applied = extensions::disable(state.service(), &user.actor(), id).await?;
    let (e, _, _) = extensions::show(state.service(), &user.actor(), id)?;
    Ok(Written(Json(extension_json(&e)), applied.index))
}

/// `POST /api/roost/v1/extensions/:id/dry_run` with `version` and `posts` (default 1,000):
/// what the version would decide of the newest posts, changing nothing.
pub async fn dry_run(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(f): Input<DeployForm>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let version = version_of(&f)?;
    let posts = f.posts.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let r: DryRun = extensions::dry_run(state.service(), &user.actor(), id, version, posts).await?;
    let examples: serde_json::Map<String, Value> = r
        .examples
        .iter()
        .map(|(verdict, list)| {
            let items =
                list.iter().map(|x| json!({"id": x.post.to_string(), "reason": x.reason, "text": x.text})).collect();
            (verdict.clone(), Value::Array(items))
        })
        .collect();
    Ok(Json(json!({
        "posts": r.posts,
        "complete": r.complete,
        "verdicts": r.verdicts.iter().map(|(v, n)| (v.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "examples": examples,
        "errors": r.errors,
        "error_examples": r.error_examples.iter().map(|(p, e)| json!({"id": p.to_string(), "error": e})).collect::<Vec<_>>(),
        "time_ms": {"p50": r.p50_ms, "p99": r.p99_ms},
        "budget": {"p50": r.budget_p50, "p99": r.budget_p99},
    })))
}

#[derive(Deserialize, Default)]
pub struct HeldParams {
    /// Held posts after this post's ID (the queue is oldest first).
    #[serde(default, deserialize_with = "de::id_opt")]
    after: Option<u64>,
    #[serde(default, deserialize_with = "de::id_opt")]
    limit: Option<u64>,
}

/// `GET /api/roost/v1/moderation/held`: the posts automod rules held, oldest first, for
/// moderators: each with the post (as its author's followers would see it), the rule and its
/// reason.
pub async fn held(State(state): State<AppState>, user: User, Input(p): Input<HeldParams>) -> ApiResult<Json<Value>> {
    let limit = p.limit.map_or(40, |n| usize::try_from(n).unwrap_or(usize::MAX)).clamp(1, 80);
    let queue = roost_service::admin::held_posts(state.service(), &user.actor(), p.after, limit)?;
    let view = state.node().read()?;
    let mut renderer = crate::entities::Renderer::new(&view, user.id(), &state);
    let mut out = Vec::with_capacity(queue.len());
    for h in queue {
        let Some(status) = renderer.status(&h.status, None)? else { continue };
        out.push(json!({
            "status": status,
            "reason": h.held.reason,
            "rule": h.rule,
            "extension": h.held.extension.to_string(),
            "version": h.held.version,
            "held_at": iso(h.held.at),
        }));
    }
    Ok(Json(Value::Array(out)))
}

/// `POST /api/roost/v1/moderation/held/:id/approve` and `…/remove`: a moderator's review of a
/// held post (approve: it becomes visible as its visibility says; remove: it is deleted).
pub async fn review_held(
    State(state): State<AppState>,
    user: User,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Written<Json<Value>>> {
    let status = parse_id(&id)?;
    let approve = match action.as_str() {
        "approve" => true,
        "remove" => false,
        _ => return Err(ApiError::NotFound),
    };
    roost_service::admin::staff_role(state.service(), &user.actor())?;
    let applied = roost_service::admin::moderate(
        state.service(),
        &user.actor(),
        roost_service::admin::Moderation::ReviewHeldPost { status, approve },
    )
    .await?;
    Ok(Written(Json(json!({"id": status.to_string(), "approved": approve})), applied.index))
}
