//! The browser side of OAuth: `GET /oauth/authorize` shows a sign-in and consent page for a
//! client application; `POST /oauth/authorize` signs the member in, and on consent issues an
//! authorization code and sends the browser back to the application (or, for the out-of-band
//! redirect URI, shows the code to copy).
//!
//! Until the web app has sessions, the page asks for the password every time; the password is
//! also what makes a forged form submission useless.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use roost_core::model::App;
use roost_core::query;
use roost_service::oauth::{self, Consent, OOB};
use serde::Deserialize;

use crate::auth::ClientIp;
use crate::error::ApiError;
use crate::params::{de, Input};
use crate::AppState;

/// The longest PKCE challenge accepted (S256 challenges are 43 characters).
const MAX_CHALLENGE: usize = 128;
const MAX_STATE: usize = 2000;

/// The parameters of an authorization request, as the client sent them and as the form
/// carries them back.
#[derive(Deserialize, Default, Clone)]
pub struct AuthorizeParams {
    #[serde(default, deserialize_with = "de::string_opt")]
    response_type: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    redirect_uri: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    state: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    code_challenge: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    code_challenge_method: Option<String>,
}

#[derive(Deserialize)]
pub struct AuthorizeForm {
    #[serde(flatten)]
    params: AuthorizeParams,
    #[serde(default, deserialize_with = "de::string_opt")]
    username: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    password: Option<String>,
    /// `approve` or `deny`.
    #[serde(default, deserialize_with = "de::string_opt")]
    decision: Option<String>,
}

/// A request that passed every check.
struct Valid {
    app: App,
    redirect_uri: String,
    scopes: Vec<String>,
    code_challenge: Option<String>,
}

/// Why a request cannot go on. Shown on the page, never redirected: until the member has
/// signed in and decided, a redirect to an app's registered URI would let anyone use this
/// instance's address to send browsers anywhere (RFC 6749 §4.1.2.1 allows telling the member
/// instead).
struct Refusal(StatusCode, &'static str);

fn check(state: &AppState, p: &AuthorizeParams) -> Result<Valid, Refusal> {
    let internal = |_| Refusal(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong. Please try again.");
    let view = state.node().read().map_err(|e| internal(ApiError::from(e)))?;
    let app = match p.client_id.as_deref() {
        Some(id) => query::app(&view, id).map_err(|e| internal(ApiError::from(e)))?,
        None => None,
    };
    let Some(app) = app else {
        return Err(Refusal(StatusCode::BAD_REQUEST, "This application is not registered with this server."));
    };
    let redirect_uri = match p.redirect_uri.as_deref() {
        Some(u) if app.redirect_uris.iter().any(|r| r == u) => u.to_string(),
        // One registered URI may be left out.
        None if app.redirect_uris.len() == 1 => app.redirect_uris[0].clone(),
        _ => return Err(Refusal(StatusCode::BAD_REQUEST, "The redirect URI is not one this application registered.")),
    };
    if oauth::check_redirect_uri(&redirect_uri).is_err() {
        // Registered before redirect URIs were checked, and not one a browser can be sent to.
        return Err(Refusal(StatusCode::BAD_REQUEST, "This application's redirect URI is not valid."));
    }
    let back = |_error: &str, description| Err(Refusal(StatusCode::BAD_REQUEST, description));
    if p.response_type.as_deref() != Some("code") {
        return back(
            "unsupported_response_type",
            "Only the authorization code flow (response_type=code) is supported.",
        );
    }
    let scopes = match oauth::requested_scopes(&app, p.scope.as_deref()) {
        Ok(scopes) => scopes,
        Err(why) => return back("invalid_scope", why),
    };
    let code_challenge = match (p.code_challenge.as_deref(), p.code_challenge_method.as_deref()) {
        (None, _) => None,
        (Some(c), Some("S256")) if !c.is_empty() && c.len() <= MAX_CHALLENGE => Some(c.to_string()),
        (Some(_), Some("S256")) => return back("invalid_request", "The code challenge is malformed."),
        (Some(_), _) => return back("invalid_request", "Only the S256 code challenge method is supported."),
    };
    if p.state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return back("invalid_request", "The state parameter is too long.");
    }
    Ok(Valid { app, redirect_uri, scopes, code_challenge })
}

pub async fn show(State(state): State<AppState>, Input(p): Input<AuthorizeParams>) -> Response {
    match check(&state, &p) {
        Ok(valid) => page(StatusCode::OK, &state, consent(&valid, &p, None, "")),
        Err(refusal) => refuse(&state, refusal, &p),
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(from): ClientIp,
    Input(form): Input<AuthorizeForm>,
) -> Response {
    let p = &form.params;
    let valid = match check(&state, p) {
        Ok(valid) => valid,
        Err(refusal) => return refuse(&state, refusal, p),
    };
    if form.decision.as_deref() != Some("approve") {
        return redirect_error(&state, &valid.redirect_uri, p, "access_denied", "The member denied the request.");
    }
    let login = form.username.unwrap_or_default();
    let again = |status, message| page(status, &state, consent(&valid, p, Some(message), &login));
    let password = form.password.unwrap_or_default();
    let account = match roost_service::sign_in::sign_in(state.service(), login.trim(), password, from).await {
        Ok(Some(account)) => account,
        Ok(None) => return again(StatusCode::UNAUTHORIZED, "Wrong username, email or password."),
        Err(e @ (roost_service::Error::TooManyRequests | roost_service::Error::SlowDown(_))) => {
            return again(StatusCode::TOO_MANY_REQUESTS, &e.to_string())
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let consent = Consent {
        account: account.id,
        scopes: valid.scopes.clone(),
        redirect_uri: valid.redirect_uri.clone(),
        code_challenge: valid.code_challenge.clone(),
    };
    let code = match oauth::issue_code(state.service(), &valid.app, consent).await {
        Ok(code) => code,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if valid.redirect_uri == OOB {
        return page(StatusCode::OK, &state, show_code(&valid.app, &code));
    }
    redirect(&state, &valid.redirect_uri, &[("code", Some(&code)), ("state", p.state.as_deref())])
}

fn refuse(state: &AppState, Refusal(status, message): Refusal, _p: &AuthorizeParams) -> Response {
    page(status, state, problem(message))
}

/// The member said no. No redirect (the member has not signed in: an automatic one would let
/// anyone bounce browsers through this page); a page says so, with a link back to the app for
/// the member to follow if they wish, carrying OAuth's `access_denied`.
fn redirect_error(state: &AppState, uri: &str, p: &AuthorizeParams, error: &str, description: &str) -> Response {
    let params = [("error", Some(error)), ("error_description", Some(description)), ("state", p.state.as_deref())];
    let back = (uri != OOB)
        .then(|| crate::uris::redirect_target(uri, &params))
        .flatten()
        .and_then(|v| v.to_str().ok().map(str::to_string));
    let body = html! {
        p role="status" { "You denied the request. The app has no access to your account." }
        @if let Some(link) = back { p { a href=(link) rel="noreferrer" { "Go back to the app" } } }
    };
    page(StatusCode::OK, state, body)
}

/// A redirect to the client with query parameters added to its redirect URI.
fn redirect(state: &AppState, uri: &str, params: &[(&str, Option<&str>)]) -> Response {
    match crate::uris::redirect_target(uri, params) {
        Some(target) => (StatusCode::FOUND, [(LOCATION, target)]).into_response(),
        None => page(StatusCode::BAD_REQUEST, state, problem("This application's redirect URI is not valid.")),
    }
}

/// A whole page in the web app's design, never cached, never framed, running no script.
fn page(status: StatusCode, state: &AppState, body: Markup) -> Response {
    let markup = html! { h1 { "Authorize an app" } (body) };
    super::plain_page(status, state, "Authorize an app", markup)
}

fn consent(valid: &Valid, p: &AuthorizeParams, error: Option<&str>, login: &str) -> Markup {
    let hidden = [
        ("response_type", Some("code")),
        ("client_id", Some(valid.app.client_id.as_str())),
        ("redirect_uri", Some(valid.redirect_uri.as_str())),
        ("scope", p.scope.as_deref()),
        ("state", p.state.as_deref()),
        ("code_challenge", valid.code_challenge.as_deref()),
        ("code_challenge_method", valid.code_challenge.as_ref().map(|_| "S256")),
    ];
    html! {
        p { strong { (valid.app.name) } " would like to use your account, with access to:" }
        ul { @for scope in &valid.scopes { li { code { (scope) } } } }
        @if let Some(message) = error { p.error role="alert" { (message) } }
        form method="post" action="/oauth/authorize" {
            @for (name, value) in hidden {
                @if let Some(value) = value { input type="hidden" name=(name) value=(value); }
            }
            label for="username" { "Username or email" }
            input #username type="text" name="username" value=(login) autocomplete="username" required autofocus;
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password" required;
            div.actions {
                button type="submit" name="decision" value="approve" { "Authorize" }
                button type="submit" name="decision" value="deny" formnovalidate { "Deny" }
            }
        }
    }
}

fn show_code(app: &App, code: &str) -> Markup {
    html! {
        p { "Copy this authorization code and paste it into " strong { (app.name) } ":" }
        code #code { (code) }
    }
}

fn problem(message: &str) -> Markup {
    html! { p.error role="alert" { (message) } }
}
