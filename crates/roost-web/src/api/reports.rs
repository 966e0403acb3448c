//! Reports: members flag an account (and some of its posts) for the moderators.

use axum::extract::State;
use axum::Json;
use roost_core::query;
use roost_service::{created_id, propose};
use roost_types::{Command, Id, ReportCategory, MAX_REPORT_COMMENT_CHARS, MAX_REPORT_STATUSES};
use serde::{Deserialize, Serialize};

use crate::auth::User;
use crate::entities::{iso, AccountJson, Renderer};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

#[derive(Deserialize)]
pub struct ReportParams {
    #[serde(default, deserialize_with = "de::id_opt")]
    account_id: Option<Id>,
    #[serde(default, deserialize_with = "de::ids")]
    status_ids: Vec<Id>,
    #[serde(default, deserialize_with = "de::string_opt")]
    comment: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    category: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    forward: Option<bool>,
    #[serde(default, deserialize_with = "de::strings")]
    rule_ids: Vec<String>,
}

/// A report's comment: lines as typed, within 1,000 characters (Mastodon's).
const COMMENT: roost_core::text::Limit = roost_core::text::Limit::chars(MAX_REPORT_COMMENT_CHARS);

/// Mastodon's Report entity, as its reporter sees it.
#[derive(Debug, Serialize)]
pub struct ReportJson {
    id: String,
    action_taken: bool,
    action_taken_at: Option<String>,
    category: &'static str,
    comment: String,
    forwarded: bool,
    created_at: String,
    status_ids: Vec<String>,
    rule_ids: Vec<String>,
    target_account: AccountJson,
}

/// `POST /api/v1/reports`
pub async fn create(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<ReportParams>,
) -> ApiResult<Written<Json<ReportJson>>> {
    let target = p.account_id.ok_or_else(|| ApiError::unprocessable("account_id is required"))?;
    let comment = roost_core::text::clean_multiline(p.comment.as_deref().unwrap_or_default());
    roost_service::accounts::limited("Comment", &comment, COMMENT)?;
    if !p.rule_ids.is_empty() {
        // The instance publishes no rules (`GET /api/v1/instance/rules` is empty).
        return Err(ApiError::unprocessable("Validation failed: Rule ids does not reference valid rules"));
    }
    if p.status_ids.len() > MAX_REPORT_STATUSES {
        return Err(ApiError::unprocessable(format!("A report names at most {MAX_REPORT_STATUSES} posts")));
    }
    let category = match p.category.as_deref() {
        None | Some("") => ReportCategory::Other,
        Some(c) => ReportCategory::parse(c)
            .ok_or_else(|| ApiError::unprocessable("category must be spam, legal, violation or other"))?,
    };
    // Roost is one instance: there is nowhere to forward to.
    let _ = p.forward;
    let command = Command::CreateReport { reporter: user.id(), target, statuses: p.status_ids, comment, category };
    let applied = propose(state.service(), &user.actor(), command).await?;
    let id = created_id(&applied)?;
    let view = state.node().read()?;
    let report = query::report(&view, id)?.ok_or(ApiError::NotFound)?;
    let target = query::account(&view, report.target)?.ok_or(ApiError::NotFound)?;
    let json = ReportJson {
        id: report.id.to_string(),
        action_taken: report.resolved,
        action_taken_at: None,
        category: report.category.as_str(),
        comment: report.comment,
        forwarded: false,
        created_at: iso(report.created_at),
        status_ids: report.statuses.iter().map(Id::to_string).collect(),
        rule_ids: Vec::new(),
        target_account: Renderer::new(&view, user.id(), &state).account(&target),
    };
    Ok(Written(Json(json), applied.index))
}
