//! The admin pages, for moderators and admins: members (roles, suspension), invites, and the
//! reports queue. The state machine checks every rank rule again; these pages only offer what
//! the viewer's role allows.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use roost_core::query::{self, Page};
use roost_service::admin::{self, Moderation};
use roost_types::{Id, Role};
use serde::Deserialize;

use super::pages::{problem, run_action, CsrfForm};
use super::post::display_name;
use super::session::WebUser;
use super::timelines::or_problem;
use super::{page, time};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::AppState;

const MEMBERS_PAGE: usize = 50;

#[derive(Deserialize, Default)]
pub struct AdminParams {
    /// Members after this ID.
    #[serde(default, deserialize_with = "de::id_opt")]
    after: Option<Id>,
}

fn staff(state: &AppState, user: &WebUser) -> ApiResult<Role> {
    Ok(admin::staff_role(state.service(), &user.actor())?)
}

/// `GET /admin`
pub async fn show(State(state): State<AppState>, user: WebUser, Input(p): Input<AdminParams>) -> Response {
    let built = admin_page(&state, &user, p.after, None);
    or_problem(&state, &user, built)
}

fn admin_page(state: &AppState, user: &WebUser, after: Option<Id>, new_invite: Option<&str>) -> ApiResult<Response> {
    let role = staff(state, user)?;
    let view = state.node().read()?;
    let members = query::accounts_page(&view, after, MEMBERS_PAGE)?;
    let mut rows = Vec::with_capacity(members.len());
    for m in &members {
        rows.push((m, query::suspended(&view, m.id)?, roost_core::media::usage(&view, m.id)?));
    }
    let invites =
        if role.can_administer() { query::invites(&view, &Page { limit: 40, ..Page::default() })? } else { Vec::new() };
    let reports = query::open_reports(&view, &Page { limit: 40, ..Page::default() })?;
    let mut report_rows = Vec::with_capacity(reports.len());
    for r in &reports {
        let reporter = query::account(&view, r.reporter)?;
        let target = query::account(&view, r.target)?;
        report_rows.push((r, reporter, target));
    }
    let held = admin::held_posts(state.service(), &user.actor(), None, 40)?;
    let mut held_rows = Vec::with_capacity(held.len());
    for h in &held {
        held_rows.push((h, query::account(&view, h.status.author)?));
    }
    let now = roost_service::now_ms();
    let csrf = user.csrf();
    let grantable: Vec<Role> = [Role::Admin, Role::Moderator, Role::Member]
        .into_iter()
        .filter(|r| role == Role::Owner || role <= *r)
        .collect();
    let body = html! {
        h1 { "Admin" }
        @if role.can_administer() {
            p { a href="/admin/extensions" { "Extensions" } ": automod rules in JavaScript, tried on the newest posts before they go live." }
        }
        @if role.can_administer() {
            section.card aria-labelledby="invites-h" {
                h2 #invites-h { "Invites" }
                @if let Some(link) = new_invite {
                    p.notice role="status" { "New invite link (shown once — copy it now): " }
                    p { code #invite-link { (link) } }
                }
                form method="post" action="/admin/invite" {
                    input type="hidden" name="csrf" value=(csrf);
                    div.row {
                        div { label for="invite-role" { "Role" }
                            select #invite-role name="role" { @for r in &grantable { option value=(r.as_str()) selected[*r == Role::Member] { (r.as_str()) } } } }
                        div { label for="max_uses" { "Uses" }
                            select #max_uses name="max_uses" { option value="1" { "1" } option value="5" { "5" } option value="25" { "25" } option value="" { "No limit" } } }
                        div { label for="expires" { "Expires after" }
                            select #expires name="expires" { option value="3600" { "1 hour" } option value="86400" { "1 day" }
                                option value="604800" selected { "7 days" } option value="" { "Never" } } }
                    }
                    p { button type="submit" { "Create invite link" } }
                }
                @if !invites.is_empty() {
                    div.scroll { table {
                        caption.visually-hidden { "Invites" }
                        thead { tr { th scope="col" { "Created" } th scope="col" { "Role" } th scope="col" { "Used" } th scope="col" { "State" } th scope="col" { span.visually-hidden { "Actions" } } } }
                        tbody {
                            @for i in &invites {
                                tr {
                                    td { (time(i.created_at)) }
                                    td { (i.role.as_str()) }
                                    td { (i.uses) @if let Some(m) = i.max_uses { " / " (m) } }
                                    td { @if i.revoked { "withdrawn" } @else if i.usable(now) { "open" } @else { "expired or used up" } }
                                    td { @if i.usable(now) { (id_form(&csrf, "revoke_invite", i.id, html! { "Withdraw" })) } }
                                }
                            }
                        }
                    } }
                }
            }
        }
        section.card aria-labelledby="held-h" {
            h2 #held-h { "Held for review" }
            @if held_rows.is_empty() { p { "No posts are waiting: automod rules hold posts here (only their authors and moderators see them)." } }
            ul.people {
                @for (h, author) in &held_rows {
                    li {
                        p {
                            @if let Some(a) = author { a href={ "/@" (a.username) "/" (h.status.id) } { "@" (a.username) } } @else { "a deleted account" }
                            " " span.meta { (time(h.held.at)) " · held by the rule " (h.rule.as_deref().unwrap_or("(deleted)")) }
                        }
                        p { strong { "Why: " } (h.held.reason) }
                        blockquote { (h.status.text.chars().take(500).collect::<String>()) }
                        div.row {
                            (id_form(&csrf, "approve_held", h.status.id, html! { "Approve" }))
                            (id_form(&csrf, "remove_held", h.status.id, html! { "Remove" }))
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="reports-h" {
            h2 #reports-h { "Reports" }
            @if report_rows.is_empty() { p { "No open reports." } }
            ul.people {
                @for (r, reporter, target) in &report_rows {
                    li {
                        p {
                            @if let Some(t) = target { a href={ "/@" (t.username) } { "@" (t.username) } } @else { "a deleted account" }
                            " reported by "
                            @if let Some(a) = reporter { a href={ "/@" (a.username) } { "@" (a.username) } } @else { "a deleted account" }
                            " " span.meta { (time(r.created_at)) " · " (format!("{:?}", r.category).to_lowercase()) }
                        }
                        @if !r.comment.is_empty() { blockquote { (r.comment) } }
                        (id_form(&csrf, "resolve", r.id, html! { "Mark resolved" }))
                    }
                }
            }
        }
        section.card aria-labelledby="members-h" {
            h2 #members-h { "Members" }
            div.scroll { table {
                caption.visually-hidden { "Members" }
                thead { tr { th scope="col" { "Member" } th scope="col" { "Role" } th scope="col" { "Joined" } th scope="col" { "Pictures" } th scope="col" { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for (m, suspended, (pictures, bytes)) in &rows {
                        tr {
                            td { a href={ "/@" (m.username) } { (display_name(m)) } " " span.handle { "@" (m.username) }
                                @if *suspended { " " span.badge { "suspended" } } }
                            td {
                                @if role.can_administer() && role.outranks(m.role) && m.id != user.id() {
                                    form.inline method="post" action="/admin/role" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="id" value=(m.id);
                                        label.visually-hidden for={ "role-" (m.id) } { "Role of @" (m.username) }
                                        select id={ "role-" (m.id) } name="role" {
                                            @for r in &grantable { option value=(r.as_str()) selected[*r == m.role] { (r.as_str()) } }
                                        }
                                        button.plain type="submit" { "Set" span.visually-hidden { " role of @" (m.username) } }
                                    }
                                } @else { (m.role.as_str()) }
                            }
                            td { (time(m.created_at)) }
                            td { (pictures) " · " (megabytes(*bytes)) }
                            td {
                                @if role.outranks(m.role) && m.id != user.id() {
                                    (id_form(&csrf, if *suspended { "unsuspend" } else { "suspend" }, m.id, html! {
                                        @if *suspended { "Lift suspension" } @else { "Suspend" }
                                        span.visually-hidden { " @" (m.username) }
                                    }))
                                }
                            }
                        }
                    }
                }
            } }
            @if members.len() >= MEMBERS_PAGE {
                @if let Some(last) = members.last() { p.more { a.button href={ "/admin?after=" (last.id) } rel="next" { "More members" } } }
            }
        }
    };
    Ok(page(StatusCode::OK, state, "Admin", Some(user), body))
}

/// A one-button form that applies `/admin/ACTION` to the record with this ID.
fn id_form(csrf: &str, action: &str, id: Id, label: Markup) -> Markup {
    html! {
        form.inline method="post" action={ "/admin/" (action) } {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="id" value=(id);
            button.plain type="submit" { (label) }
        }
    }
}

#[derive(Deserialize)]
pub struct AdminForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    csrf: Option<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    id: Option<Id>,
    #[serde(default, deserialize_with = "de::string_opt")]
    role: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    max_uses: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    expires: Option<String>,
}

/// `POST /admin/invite|revoke_invite|role|suspend|unsuspend|resolve`
pub async fn act(
    State(state): State<AppState>,
    user: WebUser,
    Path(action): Path<String>,
    Input(f): Input<AdminForm>,
) -> Response {
    if let Err(e) = staff(&state, &user) {
        return problem(&state, Some(&user), &e);
    }
    if action == "invite" {
        if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
            return problem(&state, Some(&user), &e);
        }
        let made = async {
            let role =
                f.role.as_deref().and_then(Role::parse).ok_or_else(|| ApiError::unprocessable("Choose a role"))?;
            let number = |v: &Option<String>| -> ApiResult<Option<u64>> {
                match v.as_deref().map(str::trim) {
                    None | Some("") => Ok(None),
                    Some(n) => n.parse().map(Some).map_err(|_| ApiError::unprocessable("Not a number")),
                }
            };
            let max_uses = number(&f.max_uses)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
            let expires = number(&f.expires)?.map(std::time::Duration::from_secs);
            Ok(roost_service::accounts::create_invite(state.service(), &user.actor(), role, max_uses, expires).await?)
        }
        .await;
        return match made {
            Ok((_, url)) => {
                admin_page(&state, &user, None, Some(&url)).unwrap_or_else(|e| problem(&state, Some(&user), &e))
            }
            Err(e) => problem(&state, Some(&user), &e),
        };
    }
    let back = CsrfForm { csrf: f.csrf.clone(), back: Some("/admin".into()) };
    run_action(&state, &user, &back, async {
        let id = f.id.ok_or(ApiError::NotFound)?;
        let action = match action.as_str() {
            "revoke_invite" => Moderation::RevokeInvite { invite: id },
            "role" => Moderation::SetRole {
                account: id,
                role: f
                    .role
                    .as_deref()
                    .and_then(Role::parse)
                    .ok_or_else(|| ApiError::unprocessable("Choose a role"))?,
            },
            "suspend" => Moderation::Suspend { account: id },
            "unsuspend" => Moderation::Unsuspend { account: id },
            "resolve" => Moderation::ResolveReport { report: id },
            "approve_held" => Moderation::ReviewHeldPost { status: id, approve: true },
            "remove_held" => Moderation::ReviewHeldPost { status: id, approve: false },
            _ => return Err(ApiError::NotFound),
        };
        Ok(admin::moderate(state.service(), &user.actor(), action).await?)
    })
    .await
}

/// Bytes as megabytes with one decimal, as people read disk use.
fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}
