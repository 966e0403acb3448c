//! Reports: members flag an account (and some of its posts) for the moderators.

use axum::extract::State;
use axum::Json;
use roost_core::query;
use roost_service::reports::{self, NewReport};
use roost_types::{Id, ReportCategory};
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
    let category = match p.category.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            ReportCategory::parse(c)
                .ok_or_else(|| ApiError::unprocessable("category must be spam, legal, violation or other"))?,
        ),
    };
    // Roost is one instance: there is nowhere to forward to.
    let _ = p.forward;
    let new = NewReport { target, statuses: p.status_ids, comment: p.comment, category, rule_ids: p.rule_ids };
    let (id, index) = reports::report(state.service(), &user.actor(), new).await?;
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
    Ok(Written(Json(json), index))
}
