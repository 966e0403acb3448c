//! The pages: sign-in and sign-out; home with its composer and timeline; a post with its
//! thread; profiles.

use axum::extract::{Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped};
use roost_core::model::Status;
use roost_core::query::{self, Page};
use roost_raft::ReadView;
use roost_types::{Command, Id, NewStatus, Visibility};
use serde::Deserialize;

use super::page;
use super::session::{
    self, cookie, csrf_for, csrf_ok, set_cookie, WebUser, SESSION_COOKIE, SIGN_IN_COOKIE, WEB_CLIENT_ID,
};
use crate::auth::token_hash;
use crate::entities::{iso, Renderer};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::service::{propose, random_token};
use crate::AppState;

/// How long a session lasts without signing in again.
const SESSION_SECONDS: u64 = 30 * 24 * 3600;
/// Posts per page of a timeline.
const PAGE: usize = 20;

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_string())]).into_response()
}

/// A problem shown as a page (forms never answer with JSON).
fn problem(state: &AppState, user: Option<&WebUser>, e: &ApiError) -> Response {
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

pub async fn sign_in(State(state): State<AppState>, headers: HeaderMap, Input(f): Input<SignInForm>) -> Response {
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
    let account = match crate::api::oauth::check_credentials(&state, login.trim(), f.password.unwrap_or_default()).await
    {
        Ok(Some(a)) => a,
        Ok(None) => return again(StatusCode::UNAUTHORIZED, "That username or password is not right."),
        Err(ApiError::TooManyRequests) => {
            return again(StatusCode::TOO_MANY_REQUESTS, "Too many failed attempts: wait a while and try again.")
        }
        Err(e) => return problem(&state, None, &e),
    };
    match start_session(&state, account.id).await {
        Ok(token) => {
            let mut resp = see_other("/");
            resp.headers_mut().append(SET_COOKIE, set_cookie(&state, SESSION_COOKIE, &token, Some(SESSION_SECONDS)));
            resp.headers_mut().append(SET_COOKIE, set_cookie(&state, SIGN_IN_COOKIE, "", Some(0)));
            resp
        }
        Err(e) => problem(&state, None, &e),
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
    csrf: Option<String>,
    /// Where to go back to (a path on this site).
    #[serde(default, deserialize_with = "de::string_opt")]
    back: Option<String>,
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

// ---- home ----------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct HomeParams {
    #[serde(default, deserialize_with = "de::id_opt")]
    max_id: Option<Id>,
}

pub async fn home(State(state): State<AppState>, user: WebUser, Input(p): Input<HomeParams>) -> Response {
    match home_page(&state, &user, p.max_id, None, "") {
        Ok(r) => r,
        Err(e) => problem(&state, Some(&user), &e),
    }
}

fn home_page(
    state: &AppState,
    user: &WebUser,
    max_id: Option<Id>,
    error: Option<&str>,
    draft: &str,
) -> ApiResult<Response> {
    let view = state.node().read()?;
    let items = query::home(&view, state.node().home(), user.id(), &Page { max_id, limit: PAGE, ..Page::default() })?;
    let mut r = Renderer::new(&view, user.id(), state).filtering(roost_types::FilterContext::Home)?;
    let has_bookmarks = query::has_bookmarks(&view, user.id())?;
    let mut posts = Vec::with_capacity(items.len());
    for (s, o) in &items {
        posts.push(post(&view, &mut r, user, s, o.as_ref(), has_bookmarks)?);
    }
    let older = items.last().map(|(s, _)| s.id);
    let body = html! {
        h1 { "Home" }
        (composer(user, error, draft))
        section aria-label="Home timeline" {
            @if posts.is_empty() { p.card { "Nothing here yet. Follow people, or write the first post." } }
            @for p in &posts { (p) }
        }
        @if let (Some(older), true) = (older, items.len() == PAGE) {
            p.more { a.button href={ "/?max_id=" (older) } { "Load older posts" } }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(page(status, state, "Home", Some(user), body))
}

fn composer(user: &WebUser, error: Option<&str>, draft: &str) -> Markup {
    html! {
        form.card method="post" action="/web/statuses" aria-label="New post" {
            input type="hidden" name="csrf" value=(user.csrf());
            label for="status" { "What's happening?" }
            @if let Some(message) = error { p.error role="alert" #compose-error { (message) } }
            textarea #status name="status" required { (draft) }
            div.row {
                div {
                    label for="spoiler_text" { "Content warning (optional)" }
                    input #spoiler_text type="text" name="spoiler_text";
                }
                div {
                    label for="visibility" { "Who can see it" }
                    select #visibility name="visibility" {
                        option value="public" { "Everyone" }
                        option value="unlisted" { "Everyone, not in public timelines" }
                        option value="private" { "Followers only" }
                        option value="direct" { "Mentioned people only" }
                    }
                }
            }
            p { button type="submit" { "Post" } }
        }
    }
}

/// One post of a timeline as an article, with its actions as small forms.
fn post(
    view: &ReadView,
    r: &mut Renderer<'_, ReadView>,
    user: &WebUser,
    s: &Status,
    original: Option<&Status>,
    has_bookmarks: bool,
) -> ApiResult<Markup> {
    let shown = original.unwrap_or(s);
    let Some(author) = query::account(view, shown.author)? else { return Ok(html! {}) };
    let booster = match original {
        Some(_) => query::account(view, s.author)?,
        None => None,
    };
    let content = r.content(&shown.text, &shown.mentions)?;
    let mine = query::interactions(view, user.id(), shown, has_bookmarks)?;
    let name = if author.display_name.is_empty() { author.username.clone() } else { author.display_name.clone() };
    let action = |label: &str, verb: &str, pressed: Option<bool>, count: Option<u64>| {
        html! {
            form method="post" action={ "/web/statuses/" (shown.id) "/" (verb) } {
                input type="hidden" name="csrf" value=(user.csrf());
                @if let Some(p) = pressed {
                    button type="submit" aria-pressed=(p) { (label) @if let Some(n) = count { " " (n) } }
                } @else {
                    button type="submit" { (label) }
                }
            }
        }
    };
    Ok(html! {
        article.card.post aria-label={ "Post by " (name) } {
            @if let Some(b) = &booster {
                p.meta { (if b.display_name.is_empty() { &b.username } else { &b.display_name }) " reposted" }
            }
            header {
                a.name href={ "/@" (author.username) } { (name) }
                span.handle { "@" (author.username) }
                a href={ "/@" (author.username) "/" (shown.id) } {
                    time datetime=(iso(shown.created_at)) title=(iso(shown.created_at)) { (iso(shown.created_at)) }
                }
                @if shown.edited_at.is_some() { span.meta { "· edited" } }
            }
            @if !shown.spoiler_text.is_empty() {
                details {
                    summary { (shown.spoiler_text) }
                    div.content { (PreEscaped(&content)) }
                }
            } @else {
                div.content { (PreEscaped(&content)) }
            }
            div.actions {
                @if mine.favourited { (action("Liked", "unfavourite", Some(true), Some(shown.favourites_count))) }
                @else { (action("Like", "favourite", Some(false), Some(shown.favourites_count))) }
                @if matches!(shown.visibility, Visibility::Public | Visibility::Unlisted) {
                    @if mine.reblogged { (action("Reposted", "unreblog", Some(true), Some(shown.reblogs_count))) }
                    @else { (action("Repost", "reblog", Some(false), Some(shown.reblogs_count))) }
                }
                @if mine.bookmarked { (action("Bookmarked", "unbookmark", Some(true), None)) }
                @else { (action("Bookmark", "bookmark", Some(false), None)) }
                @if shown.author == user.id() { (action("Delete", "delete", None, None)) }
            }
        }
    })
}

#[derive(Deserialize)]
pub struct ComposeForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    csrf: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    status: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    visibility: Option<String>,
}

pub async fn compose(State(state): State<AppState>, user: WebUser, Input(f): Input<ComposeForm>) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(&state, Some(&user), &e);
    }
    let draft = f.status.clone().unwrap_or_default();
    let result = async {
        let (text, spoiler_text) =
            crate::api::statuses::checked_text(&state, f.status.as_deref(), f.spoiler_text.as_deref())?;
        let visibility = match f.visibility.as_deref() {
            None | Some("") => Visibility::Public,
            Some(v) => Visibility::parse(v).ok_or_else(|| ApiError::unprocessable("Choose who can see the post"))?,
        };
        let new = NewStatus {
            author: user.id(),
            text,
            in_reply_to: None,
            quote_of: None,
            visibility,
            spoiler_text,
            sensitive: false,
            language: None,
            idempotency_key: None,
            application: Some(WEB_CLIENT_ID.into()),
        };
        propose(&state, Command::CreateStatus(new)).await
    }
    .await;
    match result {
        Ok(_) => see_other("/"),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            home_page(&state, &user, None, Some(&e.to_string()), &draft)
                .unwrap_or_else(|e| problem(&state, Some(&user), &e))
        }
        Err(e) => problem(&state, Some(&user), &e),
    }
}

/// Runs a form's command for the signed-in member: checks the form's CSRF token, then builds
/// the command (which may refuse), proposes it, and goes back where the form says.
async fn run_form(
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
        Ok(_) => see_other(safe_back(f.back.as_deref())),
        Err(e) => problem(state, Some(user), &e),
    }
}

/// `POST /web/statuses/:id/:action`: like, repost, bookmark (and undo), delete; then back.
pub async fn act(
    State(state): State<AppState>,
    user: WebUser,
    Path((id, action)): Path<(String, String)>,
    Input(f): Input<CsrfForm>,
) -> Response {
    let account = user.id();
    run_form(&state, &user, &f, || {
        let status: Id = id.parse().map_err(|_| ApiError::NotFound)?;
        // Only what the member may see can be acted on; anything else is not found.
        query::visible_status(&state.node().read()?, account, status)?.ok_or(ApiError::NotFound)?;
        Ok(match action.as_str() {
            "favourite" => Command::Favourite { account, status },
            "unfavourite" => Command::Unfavourite { account, status },
            "reblog" => Command::Reblog { account, status, visibility: Visibility::Public },
            "unreblog" => Command::Unreblog { account, status },
            "bookmark" => Command::Bookmark { account, status },
            "unbookmark" => Command::Unbookmark { account, status },
            "delete" => Command::DeleteStatus { actor: account, status },
            _ => return Err(ApiError::NotFound),
        })
    })
    .await
}

/// A path on this site to return to, or home.
fn safe_back(back: Option<&str>) -> &str {
    match back {
        Some(b) if b.starts_with('/') && !b.starts_with("//") && !b.contains('\\') => b,
        _ => "/",
    }
}

// ---- a post and its thread; a profile ------------------------------------------------------

/// `GET /@:username/:id`: the post with its whole thread (the URL posts carry in the API).
pub async fn thread(
    State(state): State<AppState>,
    user: WebUser,
    Path((username, id)): Path<(String, String)>,
) -> Response {
    let page_or_error = (|| -> ApiResult<Response> {
        let id: Id = id.parse().map_err(|_| ApiError::NotFound)?;
        let view = state.node().read()?;
        let (s, o) = query::visible_status(&view, user.id(), id)?.ok_or(ApiError::NotFound)?;
        let author = query::account(&view, s.author)?.ok_or(ApiError::NotFound)?;
        if !author.username.eq_ignore_ascii_case(username.trim_start_matches('@')) {
            return Err(ApiError::NotFound);
        }
        let (ancestors, descendants) = query::context(&view, user.id(), id)?.ok_or(ApiError::NotFound)?;
        let mut r = Renderer::new(&view, user.id(), &state).filtering(roost_types::FilterContext::Thread)?;
        let has_bookmarks = query::has_bookmarks(&view, user.id())?;
        let mut before = Vec::new();
        for a in &ancestors {
            before.push(post(&view, &mut r, &user, a, None, has_bookmarks)?);
        }
        let main = post(&view, &mut r, &user, &s, o.as_ref(), has_bookmarks)?;
        let mut after = Vec::new();
        for d in &descendants {
            after.push(post(&view, &mut r, &user, d, None, has_bookmarks)?);
        }
        let body = html! {
            h1 { "Post" }
            @if !before.is_empty() { section aria-label="Earlier in the thread" { @for p in &before { (p) } } }
            section aria-label="The post" { (main) }
            @if !after.is_empty() { section aria-label="Replies" { @for p in &after { (p) } } }
        };
        Ok(page(StatusCode::OK, &state, "Post", Some(&user), body))
    })();
    page_or_error.unwrap_or_else(|e| problem(&state, Some(&user), &e))
}

/// `GET /@:username`: a member's profile and posts.
pub async fn profile(
    State(state): State<AppState>,
    user: WebUser,
    Path(username): Path<String>,
    Input(p): Input<HomeParams>,
) -> Response {
    let page_or_error = (|| -> ApiResult<Response> {
        let view = state.node().read()?;
        let Some(username) = username.strip_prefix('@') else { return Err(ApiError::NotFound) };
        let account = query::account_by_username(&view, username)?.ok_or(ApiError::NotFound)?;
        let rel = query::relationship(&view, user.id(), account.id)?;
        if rel.blocked_by {
            return Err(ApiError::NotFound);
        }
        let filter = query::AccountFilter::default();
        let items = query::account_statuses(
            &view,
            user.id(),
            account.id,
            filter,
            &Page { max_id: p.max_id, limit: PAGE, ..Page::default() },
        )?;
        let mut r = Renderer::new(&view, user.id(), &state).filtering(roost_types::FilterContext::Account)?;
        let has_bookmarks = query::has_bookmarks(&view, user.id())?;
        let mut posts = Vec::new();
        for (s, o) in &items {
            posts.push(post(&view, &mut r, &user, s, o.as_ref(), has_bookmarks)?);
        }
        let name = if account.display_name.is_empty() { &account.username } else { &account.display_name };
        let note = r.content(&account.note, &[])?;
        let older = items.last().map(|(s, _)| s.id);
        let body = html! {
            div.card {
                h1 { (name) }
                p.meta { "@" (account.username)
                    " · " (account.statuses_count) " posts · " (account.following_count) " following · "
                    (account.followers_count) " followers" }
                @if !account.note.is_empty() { div.content { (PreEscaped(&note)) } }
                @if account.id != user.id() {
                    form method="post" action={ "/web/accounts/" (account.id) "/" (if rel.following || rel.requested { "unfollow" } else { "follow" }) } {
                        input type="hidden" name="csrf" value=(user.csrf());
                        input type="hidden" name="back" value={ "/@" (account.username) };
                        button type="submit" {
                            @if rel.following { "Unfollow" } @else if rel.requested { "Cancel follow request" } @else { "Follow" }
                        }
                    }
                }
            }
            section aria-label={ "Posts by " (name) } {
                @if posts.is_empty() { p.card { "No posts yet." } }
                @for p in &posts { (p) }
            }
            @if let (Some(older), true) = (older, items.len() == PAGE) {
                p.more { a.button href={ "/@" (account.username) "?max_id=" (older) } { "Load older posts" } }
            }
        };
        Ok(page(StatusCode::OK, &state, name, Some(&user), body))
    })();
    page_or_error.unwrap_or_else(|e| problem(&state, Some(&user), &e))
}

/// `POST /web/accounts/:id/follow|unfollow`
pub async fn relate(
    State(state): State<AppState>,
    user: WebUser,
    Path((id, action)): Path<(String, String)>,
    Input(f): Input<CsrfForm>,
) -> Response {
    let account = user.id();
    run_form(&state, &user, &f, || {
        let target: Id = id.parse().map_err(|_| ApiError::NotFound)?;
        Ok(match action.as_str() {
            "follow" => Command::Follow { account, target, reblogs: true, notify: false },
            "unfollow" => Command::Unfollow { account, target },
            _ => return Err(ApiError::NotFound),
        })
    })
    .await
}
