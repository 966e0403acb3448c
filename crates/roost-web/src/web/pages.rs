//! Signing in, out and up (through an invite); the live feed for the script; the helpers
//! every page's handlers share.

use axum::extract::{Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use roost_core::query;
use roost_types::{Command, Id};
use serde::Deserialize;

use super::page;
use super::session::{
    self, cookie, csrf_for, csrf_ok, set_cookie, WebUser, SESSION_COOKIE, SIGN_IN_COOKIE, WEB_CLIENT_ID,
};
use crate::auth::token_hash;
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::service::{propose, random_token};
use crate::AppState;

/// How long a session lasts without signing in again.
const SESSION_SECONDS: u64 = 30 * 24 * 3600;

pub(super) fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_string())]).into_response()
}

/// A problem shown as a page (forms never answer with JSON).
pub(super) fn problem(state: &AppState, user: Option<&WebUser>, e: &ApiError) -> Response {
    let body = html! { div.card { h1 { "Something went wrong" } p.error role="alert" { (e.to_string()) } p { a href="/" { "Back home" } } } };
    page(e.status(), state, "Error", user, body)
}

// ---- signing in and out ------------------------------------------------------------------

fn sign_in_form(csrf: &str, login: &str, error: Option<&str>) -> Markup {
    html! {
        div.card {
            h1 { "Sign in" }
            @if let Some(message) = error { p.error role="alert" { (message) } }
            form method="post" action="/auth/sign_in" {
                input type="hidden" name="csrf" value=(csrf);
                label for="username" { "Username or email" }
                input #username type="text" name="username" value=(login) autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                p { button type="submit" { "Sign in" } }
            }
        }
    }
}

pub async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // The form's CSRF token is tied to a cookie of its own (there is no session yet).
    let secret = cookie(&headers, SIGN_IN_COOKIE).map(str::to_string).unwrap_or_else(random_token);
    let mut resp = page(StatusCode::OK, &state, "Sign in", None, sign_in_form(&csrf_for(&secret), "", None));
    resp.headers_mut().append(SET_COOKIE, set_cookie(&state, SIGN_IN_COOKIE, &secret, Some(3600)));
    resp
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    csrf: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    username: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    password: Option<String>,
}

pub async fn sign_in(
    State(state): State<AppState>,
    crate::auth::ClientIp(from): crate::auth::ClientIp,
    headers: HeaderMap,
    Input(f): Input<SignInForm>,
) -> Response {
    let Some(secret) = cookie(&headers, SIGN_IN_COOKIE).map(str::to_string) else {
        return see_other("/auth/sign_in");
    };
    if !csrf_ok(&secret, f.csrf.as_deref()) {
        return problem(
            &state,
            None,
            &ApiError::Forbidden("This form has expired: reload the page and try again".into()),
        );
    }
    let login = f.username.unwrap_or_default();
    let again = |status: StatusCode, message: &str| {
        page(status, &state, "Sign in", None, sign_in_form(&csrf_for(&secret), login.trim(), Some(message)))
    };
    let account = match crate::service::sign_in(&state, login.trim(), f.password.unwrap_or_default(), from).await {
        Ok(Some(a)) => a,
        Ok(None) => return again(StatusCode::UNAUTHORIZED, "That username or password is not right."),
        Err(e @ (ApiError::TooManyRequests | ApiError::SlowDown(_))) => {
            return again(StatusCode::TOO_MANY_REQUESTS, &e.to_string())
        }
        Err(ApiError::Forbidden(message)) => return again(StatusCode::FORBIDDEN, &message),
        Err(e) => return problem(&state, None, &e),
    };
    signed_in(&state, account.id).await
}

/// Starts a session for the account and goes home with its cookie (the sign-in form's cookie
/// is done with).
async fn signed_in(state: &AppState, account: Id) -> Response {
    match start_session(state, account).await {
        Ok(token) => {
            let mut resp = see_other("/");
            resp.headers_mut().append(SET_COOKIE, set_cookie(state, SESSION_COOKIE, &token, Some(SESSION_SECONDS)));
            resp.headers_mut().append(SET_COOKIE, set_cookie(state, SIGN_IN_COOKIE, "", Some(0)));
            resp
        }
        Err(e) => problem(state, None, &e),
    }
}

/// Issues a session token of the web client (registering the client on first use).
async fn start_session(state: &AppState, account: Id) -> ApiResult<String> {
    let scopes: Vec<String> = session::WEB_SCOPES.iter().map(|s| s.to_string()).collect();
    if query::app(&state.node().read()?, WEB_CLIENT_ID)?.is_none() {
        let command = Command::CreateApp {
            client_id: WEB_CLIENT_ID.into(),
            // Nobody holds this secret: the web client signs members in itself.
            client_secret_hash: token_hash(&random_token()),
            name: "Roost web".into(),
            website: None,
            redirect_uris: Vec::new(),
            scopes: scopes.clone(),
        };
        propose(state, command).await?;
    }
    let token = random_token();
    let command = Command::IssueToken {
        token_hash: token_hash(&token),
        client_id: WEB_CLIENT_ID.into(),
        account: Some(account),
        scopes,
    };
    propose(state, command).await?;
    Ok(token)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    pub csrf: Option<String>,
    /// Where to go back to (a path on this site).
    #[serde(default, deserialize_with = "de::string_opt")]
    pub back: Option<String>,
}

pub async fn sign_out(State(state): State<AppState>, user: WebUser, Input(f): Input<CsrfForm>) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(&state, Some(&user), &e);
    }
    if let Err(e) = propose(&state, Command::RevokeToken { token_hash: user.token_hash() }).await {
        return problem(&state, Some(&user), &e);
    }
    let mut resp = see_other("/auth/sign_in");
    resp.headers_mut().append(SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", Some(0)));
    resp
}

/// Runs a form's command for the signed-in member: checks the form's CSRF token, then builds
/// the command (which may refuse), proposes it, and goes back where the form says.
pub(super) async fn run_form(
    state: &AppState,
    user: &WebUser,
    f: &CsrfForm,
    command: impl FnOnce() -> ApiResult<Command>,
) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(state, Some(user), &e);
    }
    let result = match command() {
        Ok(c) => propose(state, c).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => see_other(&crate::uris::back_path(f.back.as_deref())),
        Err(e) => problem(state, Some(user), &e),
    }
}

// ---- signing up through an invite ------------------------------------------------------------

fn sign_up_form(csrf: &str, code: &str, f: &SignUpForm, error: Option<&str>) -> Markup {
    html! {
        div.card {
            h1 { "Join" }
            p { "You have been invited. Choose how you will appear and sign in." }
            @if let Some(message) = error { p.error role="alert" { (message) } }
            form method="post" action={ "/invite/" (code) } {
                input type="hidden" name="csrf" value=(csrf);
                label for="username" { "Username" }
                input #username type="text" name="username" value=(f.username.as_deref().unwrap_or_default())
                    autocomplete="username" required maxlength="30" pattern="[A-Za-z0-9_]+" autofocus
                    aria-describedby="username-help";
                p.meta #username-help { "Letters, digits and underscores; people will mention you as @username." }
                label for="display_name" { "Display name (optional)" }
                input #display_name type="text" name="display_name" maxlength="30"
                    value=(f.display_name.as_deref().unwrap_or_default()) autocomplete="name";
                label for="email" { "Email (optional)" }
                input #email type="email" name="email" value=(f.email.as_deref().unwrap_or_default()) autocomplete="email";
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="new-password" required minlength="8"
                    aria-describedby="password-help";
                p.meta #password-help { "At least 8 characters." }
                p { button type="submit" { "Create account" } }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct SignUpForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    csrf: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    username: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    email: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    password: Option<String>,
}

/// Whether an invite code opens a usable invite now.
fn invite_usable(state: &AppState, code: &str) -> ApiResult<bool> {
    let view = state.node().read()?;
    Ok(query::invite_by_code(&view, &crate::service::invite_hash(code))?
        .is_some_and(|i| i.usable(crate::service::now_ms())))
}

fn dead_invite(state: &AppState) -> Response {
    let body = html! { div.card { h1 { "This invite has expired" }
    p.error role="alert" { "This invite link is not valid: it may have expired or been used up. Ask for a new one." }
    p { a href="/auth/sign_in" { "Sign in" } } } };
    page(StatusCode::NOT_FOUND, state, "Invite", None, body)
}

/// `GET /invite/:code`: the sign-up form, if the invite still works.
pub async fn sign_up_page(State(state): State<AppState>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    match invite_usable(&state, &code) {
        Ok(true) => {}
        Ok(false) => return dead_invite(&state),
        Err(e) => return problem(&state, None, &e),
    }
    let secret = cookie(&headers, SIGN_IN_COOKIE).map(str::to_string).unwrap_or_else(random_token);
    let form = sign_up_form(&csrf_for(&secret), &code, &SignUpForm::default(), None);
    let mut resp = page(StatusCode::OK, &state, "Join", None, form);
    resp.headers_mut().append(SET_COOKIE, set_cookie(&state, SIGN_IN_COOKIE, &secret, Some(3600)));
    resp
}

/// `POST /invite/:code`: creates the account, signs it in and goes home.
pub async fn sign_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Input(f): Input<SignUpForm>,
) -> Response {
    let Some(secret) = cookie(&headers, SIGN_IN_COOKIE).map(str::to_string) else {
        return see_other(&format!("/invite/{code}"));
    };
    if !csrf_ok(&secret, f.csrf.as_deref()) {
        return problem(
            &state,
            None,
            &ApiError::Forbidden("This form has expired: reload the page and try again".into()),
        );
    }
    let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let new = crate::service::NewAccount {
        username: f.username.as_deref().unwrap_or_default().trim().to_string(),
        password: f.password.clone().unwrap_or_default(),
        role: None,
        display_name: nonempty(&f.display_name),
        email: nonempty(&f.email),
    };
    let created = crate::service::create_account_by_invite(&state, &code, new).await;
    let id = match created {
        Ok(id) => id,
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let form = sign_up_form(&csrf_for(&secret), &code, &f, Some(&e.to_string()));
            return page(StatusCode::UNPROCESSABLE_ENTITY, &state, "Join", None, form);
        }
        Err(e) => return problem(&state, None, &e),
    };
    signed_in(&state, id).await
}

// ---- the live feed ---------------------------------------------------------------------------

/// `GET /web/live`: the member's home and notifications as server-sent events, for the script's
/// "N new posts" and unread badge. The session cookie authenticates it (`SameSite=Lax` keeps
/// other sites from opening it with the member's cookie).
pub async fn live(State(state): State<AppState>, user: WebUser) -> Response {
    let opened = crate::streaming::Session::open(&state, user.id(), user.token_hash(), user.token.scopes.clone())
        .and_then(|(session, inbox)| {
            crate::api::streaming::server_sent_events(session, inbox, crate::streaming::Stream::User)
        });
    opened.unwrap_or_else(|e| e.into_response())
}
