//! The Extensions pages, for admins: every extension with its health, a form for a new automod
//! rule, and one extension's page (what is deployed and how it fares, the source of the newest
//! version to edit into a new one, a dry run against the newest posts, deploy, roll back,
//! disable). Plain forms: they work without JavaScript.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use roost_core::model::Extension;
use roost_service::extensions::{self, Draft, DryRun, Figures};
use roost_types::{ExtensionKind, ExtensionMode, FailPolicy, Id};
use serde::Deserialize;

use super::pages::{problem, see_other};
use super::session::WebUser;
use super::timelines::or_problem;
use super::{page, time};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::AppState;

/// A starting point for a new rule.
const EXAMPLE: &str = r#"// judge(post) sees {text, spoiler_text, visibility, reply, editing, author}
// and answers null (allow) or {verdict: "reject", reason: "..."}.
function judge(post) {
  if (/\b(?:\d[ -]?){13,16}\b/.test(post.text)) {
    return { verdict: "reject", reason: "it looks like it holds a card number" };
  }
  return null;
}
"#;

fn health(e: &Extension, f: Option<&Figures>) -> Markup {
    html! {
        @match (e.deployed, f) {
            (None, _) => span.meta { "not deployed" },
            (Some(d), None) => span { (d.mode.as_str()) ", version " (d.version) " · no calls yet on this node" },
            (Some(d), Some(f)) => span {
                (d.mode.as_str()) ", version " (d.version) " · " (f.calls) " calls, " (f.errors) " errors"
                @for (verdict, n) in &f.verdicts { ", " (n) " " (verdict) }
            },
        }
    }
}

/// `GET /admin/extensions`
pub async fn index(State(state): State<AppState>, user: WebUser) -> Response {
    or_problem(&state, &user, list_page(&state, &user, None, None))
}

fn list_page(state: &AppState, user: &WebUser, error: Option<&str>, draft: Option<&NewForm>) -> ApiResult<Response> {
    let all = extensions::list(state.service(), &user.actor())?;
    let figures = extensions::figures(state.service());
    let csrf = user.csrf();
    let body = html! {
        h1 { "Extensions" }
        p { "Rules that judge every post, written in JavaScript and run in a sandbox. Every version is kept in the log with who wrote it; "
            "try one against the newest posts before it goes live, watch it in observe mode, then enforce it." }
        section.card aria-labelledby="all-title" {
            h2 #all-title { "All extensions" }
            @if all.is_empty() { p { "None yet." } }
            @else {
                div.scroll { table {
                    thead { tr { th { "Name" } th { "Kind" } th { "Versions" } th { "Status" } } }
                    tbody {
                        @for e in &all {
                            @let f = figures.iter().find(|(k, f)| e.deployed.is_some_and(|d| *k == (e.id, d.version) && f.since == d.at)).map(|(_, f)| f);
                            tr {
                                td { a href={ "/admin/extensions/" (e.id) } { (e.name) } }
                                td { (e.kind.as_str()) }
                                td { (e.latest) }
                                td { (health(e, f)) }
                            }
                        }
                    }
                } }
            }
        }
        section.card aria-labelledby="new-title" {
            h2 #new-title { "New automod rule" }
            @if let Some(message) = error { p.error role="alert" { (message) } }
            form method="post" action="/admin/extensions" {
                input type="hidden" name="csrf" value=(csrf);
                label for="name" { "Name" }
                input #name type="text" name="name" required maxlength=(extensions::MAX_NAME_CHARS)
                    value=(draft.and_then(|d| d.name.as_deref()).unwrap_or_default());
                label for="description" { "What it is for (optional)" }
                input #description type="text" name="description" maxlength=(extensions::MAX_DESCRIPTION_CHARS)
                    value=(draft.and_then(|d| d.description.as_deref()).unwrap_or_default());
                (on_error_select(FailPolicy::Open))
                label for="source" { "Source" }
                textarea #source .code name="source" rows="14" spellcheck="false" {
                    (draft.and_then(|d| d.source.as_deref()).unwrap_or(EXAMPLE))
                }
                button type="submit" { "Save version 1" }
            }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(page(status, state, "Extensions", Some(user), body))
}

fn on_error_select(current: FailPolicy) -> Markup {
    html! {
        label for="on_error" { "When the rule fails" }
        select #on_error name="on_error" {
            option value="open" selected[current == FailPolicy::Open] { "Let posts through (open)" }
            option value="closed" selected[current == FailPolicy::Closed] { "Refuse posts until it works (closed)" }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct NewForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    csrf: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    name: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    description: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    on_error: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    source: Option<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    version: Option<u64>,
    #[serde(default, deserialize_with = "de::string_opt")]
    mode: Option<String>,
}

fn draft(extension: Option<Id>, f: &NewForm) -> Draft {
    Draft {
        extension,
        name: f.name.clone().unwrap_or_default(),
        kind: Some(ExtensionKind::Automod),
        description: f.description.clone().unwrap_or_default(),
        on_error: Some(if f.on_error.as_deref() == Some("closed") { FailPolicy::Closed } else { FailPolicy::Open }),
        budget: None,
        deadline_ms: None,
        memory_bytes: None,
        feed: None,
        source: f.source.clone().unwrap_or_default(),
    }
}

/// A new version from the edit form: the source and failure policy from the form, the rest of
/// the manifest (kind, limits) as the newest version has it.
fn edit_draft(svc: &roost_service::Service, by: &roost_types::Actor, id: Id, f: &NewForm) -> ApiResult<Draft> {
    let latest = extensions::show(svc, by, id)?.0.latest;
    let m = extensions::version(svc, by, id, latest)?.manifest;
    Ok(Draft {
        kind: Some(m.kind),
        budget: Some(m.budget),
        deadline_ms: Some(m.deadline_ms),
        memory_bytes: Some(m.memory_bytes),
        feed: m.feed,
        ..draft(Some(id), f)
    })
}

/// `POST /admin/extensions`: a new rule, or the form again with the reason it was refused.
pub async fn create(State(state): State<AppState>, user: WebUser, Input(f): Input<NewForm>) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(&state, Some(&user), &e);
    }
    match extensions::save(state.service(), &user.actor(), draft(None, &f)).await {
        Ok((id, _, _)) => see_other(&format!("/admin/extensions/{id}")),
        Err(e) => {
            let e = ApiError::from(e);
            if e.status() == StatusCode::UNPROCESSABLE_ENTITY || e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                or_problem(&state, &user, list_page(&state, &user, Some(&e.to_string()), Some(&f)))
            } else {
                problem(&state, Some(&user), &e)
            }
        }
    }
}

/// `GET /admin/extensions/:id`
pub async fn show(State(state): State<AppState>, user: WebUser, Path(id): Path<String>) -> Response {
    let built = async { detail_page(&state, &user, parse(&id)?, None, None, None).await };
    or_problem(&state, &user, built.await)
}

fn parse(id: &str) -> ApiResult<Id> {
    id.parse().map_err(|_| ApiError::NotFound)
}

async fn detail_page(
    state: &AppState,
    user: &WebUser,
    id: Id,
    report: Option<(u32, &DryRun)>,
    error: Option<&str>,
    edited: Option<&str>,
) -> ApiResult<Response> {
    let (e, versions, figures) = extensions::show(state.service(), &user.actor(), id)?;
    let latest = extensions::version(state.service(), &user.actor(), id, e.latest)?;
    let csrf = user.csrf();
    let action = |what: &str| format!("/admin/extensions/{id}/{what}");
    let body = html! {
        p { a href="/admin/extensions" { "All extensions" } }
        h1 { (e.name) }
        @if !latest.manifest.description.is_empty() { p { (latest.manifest.description) } }
        section.card aria-labelledby="status-title" {
            h2 #status-title { "Status" }
            p { (health(&e, figures.as_ref())) }
            @if let Some(f) = &figures {
                @if !f.recent_errors.is_empty() {
                    h3 { "Latest errors" }
                    ul { @for err in &f.recent_errors { li { code { (err) } } } }
                }
            }
            form.row method="post" action=(action("deploy")) {
                input type="hidden" name="csrf" value=(csrf);
                (version_select("deploy-version", &versions, e.latest))
                div {
                    label for="deploy-mode" { "Mode" }
                    select #deploy-mode name="mode" {
                        option value="observe" { "Observe: count decisions only" }
                        option value="enforce" { "Enforce: refuse posts it rejects" }
                    }
                }
                button type="submit" { "Deploy" }
            }
            @if e.deployed.is_some() {
                form method="post" action=(action("disable")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button.plain type="submit" { "Disable" }
                }
            }
        }
        section.card aria-labelledby="dry-title" {
            h2 #dry-title { "Dry run" }
            p { "Runs a version over the newest posts and changes nothing." }
            form.row method="post" action=(action("dry_run")) {
                input type="hidden" name="csrf" value=(csrf);
                (version_select("dry-version", &versions, e.latest))
                button type="submit" { "Dry run over the last 1,000 posts" }
            }
            @if let Some((version, r)) = report { (dry_run_report(version, r)) }
        }
        section.card aria-labelledby="edit-title" {
            h2 #edit-title { "Edit: a new version" }
            @if let Some(message) = error { p.error role="alert" { (message) } }
            form method="post" action=(action("versions")) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="name" value=(e.name);
                input type="hidden" name="description" value=(latest.manifest.description);
                (on_error_select(latest.manifest.on_error))
                label for="source" { "Source of version " (e.latest) }
                textarea #source .code name="source" rows="16" spellcheck="false" { (edited.unwrap_or(&latest.source)) }
                button type="submit" { "Save as version " (e.latest + 1) }
            }
        }
        section.card aria-labelledby="versions-title" {
            h2 #versions-title { "Versions" }
            ul {
                @for v in &versions {
                    li {
                        "Version " (v.version) " · " (time(v.at))
                        @if e.deployed.is_some_and(|d| d.version == v.version) { " · deployed" }
                        " · " code { (v.source_hash.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>()) }
                    }
                }
            }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(page(status, state, &e.name, Some(user), body))
}

/// A choice of one of the versions, the newest chosen.
fn version_select(id: &str, versions: &[roost_core::model::ExtensionVersion], latest: u32) -> Markup {
    html! {
        div {
            label for=(id) { "Version" }
            select id=(id) name="version" {
                @for v in versions { option value=(v.version) selected[v.version == latest] { "Version " (v.version) } }
            }
        }
    }
}

fn dry_run_report(version: u32, r: &DryRun) -> Markup {
    html! {
        div role="status" {
            h3 { "Version " (version) " over " (r.posts) " posts" }
            p {
                @for (i, (verdict, n)) in r.verdicts.iter().enumerate() { @if i > 0 { ", " } (n) " " (verdict) }
                @if r.errors > 0 { ", " (r.errors) " errors" }
                " · " (format!("{:.2}", r.p50_ms)) " ms per post (p99 " (format!("{:.2}", r.p99_ms)) " ms)"
            }
            @for (verdict, list) in &r.examples {
                h4 { "Would " (verdict) }
                ul {
                    @for x in list {
                        li {
                            "Post " (x.post)
                            @if !x.reason.is_empty() { " — " (x.reason) }
                            @if let Some(text) = &x.text { blockquote { (text) } }
                        }
                    }
                }
            }
            @if !r.error_examples.is_empty() {
                h4 { "Errors" }
                ul { @for (post, err) in &r.error_examples { li { "Post " (post) ": " code { (err) } } } }
            }
        }
    }
}

/// `POST /admin/extensions/:id/versions|dry_run|deploy|disable`
pub async fn act(
    State(state): State<AppState>,
    user: WebUser,
    Path((id, what)): Path<(String, String)>,
    Input(f): Input<NewForm>,
) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(&state, Some(&user), &e);
    }
    let Ok(id) = parse(&id) else { return problem(&state, Some(&user), &ApiError::NotFound) };
    let svc = state.service();
    let by = user.actor();
    let version = f.version.and_then(|v| u32::try_from(v).ok());
    let done: ApiResult<Option<Response>> = async {
        match what.as_str() {
            "versions" => match extensions::save(svc, &by, edit_draft(svc, &by, id, &f)?).await {
                Ok(_) => Ok(None),
                Err(e) => {
                    let e = ApiError::from(e);
                    if e.status() == StatusCode::UNPROCESSABLE_ENTITY || e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        let page =
                            detail_page(&state, &user, id, None, Some(&e.to_string()), f.source.as_deref()).await?;
                        Ok(Some(page))
                    } else {
                        Err(e)
                    }
                }
            },
            "dry_run" => {
                let version = version.ok_or_else(|| ApiError::unprocessable("Choose a version"))?;
                let report = extensions::dry_run(svc, &by, id, version, None).await?;
                Ok(Some(detail_page(&state, &user, id, Some((version, &report)), None, None).await?))
            }
            "deploy" => {
                let version = version.ok_or_else(|| ApiError::unprocessable("Choose a version"))?;
                let mode = f
                    .mode
                    .as_deref()
                    .and_then(ExtensionMode::parse)
                    .ok_or_else(|| ApiError::unprocessable("Choose a mode"))?;
                extensions::deploy(svc, &by, id, version, mode).await?;
                Ok(None)
            }
            "disable" => {
                extensions::disable(svc, &by, id).await?;
                Ok(None)
            }
            _ => Err(ApiError::NotFound),
        }
    }
    .await;
    match done {
        Ok(Some(page)) => page,
        Ok(None) => see_other(&format!("/admin/extensions/{id}")),
        Err(e) => problem(&state, Some(&user), &e),
    }
}
