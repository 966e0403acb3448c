//! Signing in, out and up (through an invite); the live feed for the script; the helpers
//! every page's handlers share.

use axum::extract::{Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use roost_core::query;
use roost_service::tokens::random_token;
use roost_service::{Actor, ActorExt, Via};
use roost_types::Id;
use serde::Deserialize;

use super::page;
use super::session::{cookie, csrf_for, csrf_ok, set_cookie, WebUser, SESSION_COOKIE, SIGN_IN_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
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
    let password = f.password.unwrap_or_default();
    let account = match roost_service::sign_in::sign_in(state.service(), login.trim(), password, from).await {
        Ok(Some(a)) => a,
        Ok(None) => return again(StatusCode::UNAUTHORIZED, "That username or password is not right."),
        Err(e @ (roost_service::Error::TooManyRequests | roost_service::Error::SlowDown(_))) => {
            return again(StatusCode::TOO_MANY_REQUESTS, &e.to_string())
        }
        Err(roost_service::Error::Forbidden(message)) => return again(StatusCode::FORBIDDEN, &message),
        Err(e) => return problem(&state, None, &e.into()),
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

/// Issues a session token of the web client.
async fn start_session(state: &AppState, account: Id) -> ApiResult<String> {
    Ok(roost_service::sessions::start_web_session(state.service(), account).await?)
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
    if let Err(e) = roost_service::sessions::revoke_own(state.service(), &user.actor(), user.token_hash()).await {
        return problem(&state, Some(&user), &e.into());
    }
    let mut resp = see_other("/auth/sign_in");
    resp.headers_mut().append(SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", Some(0)));
    resp
}

/// Runs a form's action for the signed-in member: checks the form's CSRF token, then runs the
/// action (a call of the service, which may refuse), and goes back where the form says.
pub(super) async fn run_action<T, E: Into<ApiError>>(
    state: &AppState,
    user: &WebUser,
    f: &CsrfForm,
    action: impl std::future::Future<Output = Result<T, E>>,
) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(state, Some(user), &e);
    }
    match action.await {
        Ok(_) => see_other(&crate::uris::back_path(f.back.as_deref())),
        Err(e) => problem(state, Some(user), &e.into()),
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
    Ok(query::invite_by_code(&view, &roost_service::accounts::invite_hash(code))?
        .is_some_and(|i| i.usable(roost_service::now_ms())))
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
    let new = roost_service::accounts::NewAccount {
        username: f.username.as_deref().unwrap_or_default().trim().to_string(),
        password: f.password.clone().unwrap_or_default(),
        role: None,
        display_name: nonempty(&f.display_name),
        email: nonempty(&f.email),
    };
    let by = Actor::anonymous(Via::Web);
    let created = roost_service::accounts::create_account_by_invite(state.service(), &by, &code, new)
        .await
        .map_err(ApiError::from);
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
        .and_then(|(session, inbox)| crate::sse::server_sent_events(session, inbox, crate::streaming::Stream::User));
    opened.unwrap_or_else(|e| e.into_response())
}
