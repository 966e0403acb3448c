//! `GET /api/roost/v1/admin/log`: who did what, newest first, for administrators. Each command
//! in the node's log with its time, the account that asked and the way in (an app, the web,
//! the admin socket, an agent, an extension).

use axum::extract::State;
use axum::http::Uri;
use roost_core::query;
use roost_service::audit::{self, Logged, MAX_LIMIT};
use roost_types::Via;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::User;
use crate::entities::iso;
use crate::error::ApiResult;
use crate::paging::{link_header, Paged};
use crate::params::{de, Input};
use crate::AppState;

#[derive(Deserialize)]
pub struct LogParams {
    #[serde(default, deserialize_with = "de::id_opt")]
    max_id: Option<u64>,
    #[serde(default, deserialize_with = "de::i64_opt")]
    limit: Option<i64>,
}

/// One logged command.
#[derive(Debug, Serialize)]
pub struct LoggedJson {
    id: String,
    index: u64,
    created_at: String,
    command: &'static str,
    /// The account that asked: `{id, username}`, or null (the operator, the node itself, a
    /// sign-up, an entry from before attribution).
    account: Value,
    /// The way in: `{"kind": "app", "client_id": …, "name": …}`, `{"kind": "web"}`, …, or null
    /// for entries from before attribution.
    via: Value,
}

pub async fn log(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<LogParams>,
) -> ApiResult<Paged<LoggedJson>> {
    let limit = p.limit.map_or(40, |l| l.clamp(1, MAX_LIMIT as i64) as usize);
    let items = audit::recent(state.service(), &user.actor(), p.max_id, limit)?;
    let view = state.node().read()?;
    let mut out = Vec::with_capacity(items.len());
    for l in &items {
        out.push(json(&view, l)?);
    }
    let link = link_header(state.config(), &uri, &items, |l| l.position);
    Ok(Paged(out, link))
}

fn json(view: &roost_raft::ReadView, l: &Logged) -> ApiResult<LoggedJson> {
    let account = match l.by.as_ref().and_then(|b| b.account) {
        Some(id) => match query::account(view, id)? {
            Some(a) => json!({ "id": id.to_string(), "username": a.username }),
            None => json!({ "id": id.to_string(), "username": null }),
        },
        None => Value::Null,
    };
    let via = match l.by.as_ref().map(|b| &b.via) {
        None => Value::Null,
        Some(v @ (Via::App { client_id } | Via::Agent { client_id })) => {
            let name = query::app(view, client_id)?.map(|a| a.name);
            json!({ "kind": v.kind(), "client_id": client_id, "name": name })
        }
        Some(Via::Extension { extension, version }) => {
            json!({ "kind": "extension", "extension": extension.to_string(), "version": version })
        }
        Some(v) => json!({ "kind": v.kind() }),
    };
    Ok(LoggedJson {
        id: l.position.to_string(),
        index: l.index,
        created_at: iso(l.at),
        command: l.command,
        account,
        via,
    })
}
