//! Settings: profile, preferences, password, and the sessions and apps holding the member's
//! account, each revocable.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use roost_core::query;
use roost_service::accounts::{DISPLAY_NAME, NOTE};
use roost_service::media;
use roost_service::profile::{self, PostingDefaults, ProfileChange};
use roost_types::{ProfileImage, Visibility};
use serde::Deserialize;

use super::pages::{problem, see_other};
use super::post::avatar;
use super::session::{WebUser, WEB_CLIENT_ID};
use super::timelines::or_problem;
use super::{page, time};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Files, Input, WithFiles};
use crate::AppState;

/// `GET /settings` (`?saved=…` says what was just saved).
pub async fn show(State(state): State<AppState>, user: WebUser, Input(p): Input<SavedParams>) -> Response {
    let built = settings_page(&state, &user, p.saved.as_deref(), None);
    or_problem(&state, &user, built)
}

#[derive(Deserialize, Default)]
pub struct SavedParams {
    #[serde(default, deserialize_with = "de::string_opt")]
    saved: Option<String>,
}

fn settings_page(
    state: &AppState,
    user: &WebUser,
    saved: Option<&str>,
    error: Option<(&str, &str)>,
) -> ApiResult<Response> {
    let view = state.node().read()?;
    let a = &user.account;
    let prefs = query::preferences(&view, a.id)?;
    let tokens = query::account_tokens(&view, a.id)?;
    let mut sessions = Vec::with_capacity(tokens.len());
    for (hash, t) in &tokens {
        let app = query::app(&view, &t.client_id)?.map(|a| a.name).unwrap_or_else(|| t.client_id.clone());
        sessions.push((roost_service::tokens::hex(hash), t, app, *hash == user.token_hash()));
    }
    let error_for = |part: &str| error.filter(|(p, _)| *p == part).map(|(_, m)| m.to_string());
    let choices = [
        (Visibility::Public, "Everyone"),
        (Visibility::Unlisted, "Everyone, not in public timelines"),
        (Visibility::Private, "Followers only"),
    ];
    let csrf = user.csrf();
    let body = html! {
        h1 { "Settings" }
        @if let Some(what) = saved { p.notice role="status" { "Saved: " (what) "." } }
        form.card method="post" action="/settings/profile" aria-labelledby="profile-h" {
            h2 #profile-h { "Profile" }
            @if let Some(m) = error_for("profile") { p.error role="alert" { (m) } }
            input type="hidden" name="csrf" value=(csrf);
            label for="display_name" { "Display name" }
            input #display_name type="text" name="display_name" value=(a.display_name) maxlength=(DISPLAY_NAME.chars);
            label for="note" { "Bio" }
            textarea #note name="note" maxlength=(NOTE.chars) { (a.note) }
            label { input type="checkbox" name="locked" value="true" checked[a.locked]; " Approve new followers by hand" }
            p { button type="submit" { "Save profile" } }
        }
        form.card method="post" action="/settings/pictures" enctype="multipart/form-data" aria-labelledby="pictures-h" {
            h2 #pictures-h { "Pictures" }
            @if let Some(m) = error_for("pictures") { p.error role="alert" { (m) } }
            input type="hidden" name="csrf" value=(csrf);
            p.pictures { (avatar(&view, a, 96)) }
            label for="avatar" { "Avatar (cut to a square)" }
            input #avatar type="file" name="avatar" accept="image/jpeg,image/png,image/webp,image/gif";
            @if a.avatar.is_some() { label { input type="checkbox" name="remove_avatar" value="true"; " Remove my avatar" } }
            label for="header" { "Header (cut to 3 : 1)" }
            input #header type="file" name="header" accept="image/jpeg,image/png,image/webp,image/gif";
            @if a.header.is_some() { label { input type="checkbox" name="remove_header" value="true"; " Remove my header" } }
            p { button type="submit" { "Save pictures" } }
        }
        form.card method="post" action="/settings/preferences" aria-labelledby="prefs-h" {
            h2 #prefs-h { "Preferences" }
            input type="hidden" name="csrf" value=(csrf);
            label for="default_visibility" { "New posts are seen by" }
            select #default_visibility name="default_visibility" {
                @for (v, text) in choices { option value=(v.as_str()) selected[v == prefs.default_visibility] { (text) } }
            }
            p { button type="submit" { "Save preferences" } }
        }
        form.card method="post" action="/settings/password" aria-labelledby="password-h" {
            h2 #password-h { "Password" }
            @if let Some(m) = error_for("password") { p.error role="alert" { (m) } }
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="username" value=(a.username) autocomplete="username";
            label for="current_password" { "Current password" }
            input #current_password type="password" name="current_password" autocomplete="current-password" required;
            label for="new_password" { "New password (at least 8 characters)" }
            input #new_password type="password" name="new_password" autocomplete="new-password" required minlength="8";
            p { button type="submit" { "Change password" } }
        }
        section.card aria-labelledby="sessions-h" {
            h2 #sessions-h { "Sessions and authorised apps" }
            p.meta { "Everything that can act as you. Revoking one signs it out at once." }
            ul.people {
                @for (id, t, app, current) in &sessions {
                    li {
                        strong { @if t.client_id == WEB_CLIENT_ID { "Web browser" } @else { (app) } }
                        " " span.meta { "since " (time(t.created_at)) " · " (t.scopes.join(" ")) }
                        @if *current { " " span.badge.current { "this session" } }
                        form.inline method="post" action="/settings/revoke" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="token" value=(id);
                            button.plain type="submit" { "Revoke" }
                        }
                    }
                }
            }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(page(status, state, "Settings", Some(user), body))
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    csrf: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    note: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    locked: Option<bool>,
    #[serde(default, deserialize_with = "de::string_opt")]
    default_visibility: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    current_password: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    new_password: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    token: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    remove_avatar: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    remove_header: Option<bool>,
}

/// `POST /settings/profile|pictures|preferences|password|revoke`
pub async fn save(
    State(state): State<AppState>,
    crate::auth::ClientIp(from): crate::auth::ClientIp,
    user: WebUser,
    Path(part): Path<String>,
    WithFiles(f, files): WithFiles<SettingsForm>,
) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(&state, Some(&user), &e);
    }
    let result = match part.as_str() {
        "profile" => save_profile(&state, &user, &f).await.map(|_| "profile"),
        "pictures" => save_pictures(&state, &user, &f, files).await.map(|_| "pictures"),
        "preferences" => save_preferences(&state, &user, &f).await.map(|_| "preferences"),
        "password" => save_password(&state, &user, &f, from).await.map(|_| "password"),
        "revoke" => revoke(&state, &user, &f).await.map(|_| "revoked"),
        _ => Err(ApiError::NotFound),
    };
    match result {
        Ok("revoked") if f.token.as_deref().and_then(unhex) == Some(user.token_hash()) => see_other("/auth/sign_in"),
        Ok(what) => see_other(&format!("/settings?saved={what}")),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            settings_page(&state, &user, None, Some((&part, &e.to_string())))
                .unwrap_or_else(|e| problem(&state, Some(&user), &e))
        }
        Err(e) => problem(&state, Some(&user), &e),
    }
}

async fn save_profile(state: &AppState, user: &WebUser, f: &SettingsForm) -> ApiResult<()> {
    let change = ProfileChange {
        display_name: Some(f.display_name.clone().unwrap_or_default()),
        note: Some(f.note.clone().unwrap_or_default()),
        locked: Some(f.locked.unwrap_or(false)),
        ..ProfileChange::default()
    };
    profile::update(state.service(), &user.actor(), change, PostingDefaults::default()).await?;
    Ok(())
}

async fn save_pictures(state: &AppState, user: &WebUser, f: &SettingsForm, mut files: Files) -> ApiResult<()> {
    let (svc, by) = (state.service(), user.actor());
    for (name, image, remove) in
        [("avatar", ProfileImage::Avatar, f.remove_avatar), ("header", ProfileImage::Header, f.remove_header)]
    {
        match files.take(name).filter(|f| !f.bytes.is_empty()) {
            Some(file) => {
                media::set_profile_image(svc, &by, image, file.bytes).await?;
            }
            None if remove == Some(true) => {
                media::remove_profile_image(svc, &by, image).await?;
            }
            None => {}
        }
    }
    Ok(())
}

async fn save_preferences(state: &AppState, user: &WebUser, f: &SettingsForm) -> ApiResult<()> {
    let visibility = f
        .default_visibility
        .as_deref()
        .and_then(Visibility::parse)
        .filter(|v| *v != Visibility::Direct)
        .ok_or_else(|| ApiError::unprocessable("Choose who sees new posts"))?;
    let defaults = PostingDefaults { visibility: Some(visibility), ..PostingDefaults::default() };
    profile::set_posting_defaults(state.service(), &user.actor(), defaults).await?;
    Ok(())
}

async fn save_password(state: &AppState, user: &WebUser, f: &SettingsForm, from: std::net::IpAddr) -> ApiResult<()> {
    let new = f.new_password.clone().unwrap_or_default();
    let current = f.current_password.clone().unwrap_or_default();
    let keep = Some(user.token_hash());
    roost_service::passwords::change_password(state.service(), &user.actor(), current, new, from, keep).await?;
    Ok(())
}

async fn revoke(state: &AppState, user: &WebUser, f: &SettingsForm) -> ApiResult<()> {
    let hash = f.token.as_deref().and_then(unhex).ok_or(ApiError::NotFound)?;
    roost_service::sessions::revoke_own(state.service(), &user.actor(), hash).await?;
    Ok(())
}
