//! The web app: pages rendered on the server from the same queries and commands the API uses
//! (never by calling Roost's own HTTP API), working without JavaScript; a small hand-written
//! script (`assets/roost.js`) adds live updates, instant actions, a character counter,
//! keyboard shortcuts and relative times.
//!
//! # Invariants
//! - Every page is escaped by construction (maud) and served with a Content-Security-Policy that
//!   allows no inline script or style, `X-Frame-Options: DENY` and `Cache-Control: no-store`.
//! - Every state-changing form carries the session's CSRF token and is refused without it.
//! - Static assets are compiled into the binary and served under content-hashed names, cached
//!   for a year.

mod admin;
mod authorize;
mod extensions;
mod feeds;
mod pages;
mod people;
mod post;
pub mod session;
mod settings;
mod timelines;

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_FRAME_OPTIONS};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use roost_core::query::{self, NotificationFilter, Page};
use roost_types::MarkerTimeline;

use crate::error::ApiError;
use crate::AppState;

/// A static file compiled into the binary, served under a name holding its content's hash.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    name: LazyLock<String>,
}

static STYLESHEET: Asset = Asset {
    body: include_str!("../../assets/roost.css"),
    content_type: "text/css; charset=utf-8",
    name: LazyLock::new(|| hashed_name("roost", "css", include_str!("../../assets/roost.css"))),
};
static SCRIPT: Asset = Asset {
    body: include_str!("../../assets/roost.js"),
    content_type: "text/javascript; charset=utf-8",
    name: LazyLock::new(|| hashed_name("roost", "js", include_str!("../../assets/roost.js"))),
};

fn hashed_name(stem: &str, ext: &str, body: &str) -> String {
    format!("{stem}-{}.{ext}", &blake3::hash(body.as_bytes()).to_hex()[..12])
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/authorize", get(authorize::show).post(authorize::submit))
        .route("/", get(timelines::home))
        .route("/local", get(timelines::local))
        .route("/tags/{tag}", get(timelines::hashtag))
        .route("/bookmarks", get(timelines::bookmarks))
        .route("/notifications", get(timelines::notifications))
        .route("/web/notifications/read", post(timelines::notifications_read))
        .route("/search", get(people::search))
        .route("/lists", get(timelines::lists).post(timelines::create_list))
        .route("/lists/{id}", get(timelines::list))
        .route("/lists/{id}/{action}", post(timelines::change_list))
        .route("/feeds", get(feeds::index).post(feeds::create))
        .route("/feeds/{id}", get(feeds::show))
        .route("/feeds/{id}/{action}", post(feeds::act))
        .route("/settings", get(settings::show))
        .route("/settings/{part}", post(settings::save))
        .route("/admin", get(admin::show))
        .route("/admin/{action}", post(admin::act))
        .route("/admin/extensions", get(extensions::index).post(extensions::create))
        .route("/admin/extensions/{id}", get(extensions::show))
        .route("/admin/extensions/{id}/{what}", post(extensions::act))
        .route("/invite/{code}", get(pages::sign_up_page).post(pages::sign_up))
        .route("/auth/sign_in", get(pages::sign_in_page).post(pages::sign_in))
        .route("/auth/sign_out", post(pages::sign_out))
        .route("/web/live", get(pages::live))
        .route("/web/statuses", post(post::compose))
        .route("/web/statuses/{id}/edit", get(post::edit_page).post(post::edit))
        .route("/web/statuses/{id}/{action}", post(post::act))
        .route("/web/accounts/{id}/{action}", post(people::relate))
        .route("/web/tags/{tag}/{action}", post(timelines::follow_tag))
        .route("/{username}", get(people::profile))
        .route("/{username}/{id}", get(people::profile_part))
        .route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    let Some(a) = [&STYLESHEET, &SCRIPT].into_iter().find(|a| *a.name == name) else {
        return ApiError::NotFound.into_response();
    };
    ([(CONTENT_TYPE, a.content_type), (CACHE_CONTROL, "public, max-age=31536000, immutable")], a.body).into_response()
}

/// The policy every page is served with: nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   object-src 'none'";

/// Unread notifications counted for the badge, at most.
const MAX_BADGE: usize = 40;

/// How many notifications the member has not seen (up to [`MAX_BADGE`]).
fn unread(state: &AppState, user: &session::WebUser) -> usize {
    let Ok(view) = state.node().read() else { return 0 };
    let since = query::marker(&view, user.id(), MarkerTimeline::Notifications).ok().flatten().map(|m| m.last_read_id);
    let page = Page { since_id: since, limit: MAX_BADGE, ..Page::default() };
    query::notifications(&view, user.id(), &NotificationFilter::default(), &page).map_or(0, |n| n.len())
}

/// A whole page: the top bar with the navigation (for a member), then `body` as the main content.
fn page(status: StatusCode, state: &AppState, title: &str, user: Option<&session::WebUser>, body: Markup) -> Response {
    let instance = &state.config().title;
    let nav = user.map(|u| (u, unread(state, u)));
    // The member's own face beside "Profile", as social apps show who is signed in.
    let face = user.and_then(|u| state.node().read().ok().map(|view| post::avatar(&view, &u.account, 24)));
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (instance) }
                link rel="stylesheet" href={ "/assets/" (*STYLESHEET.name) };
                @if user.is_some() { script src={ "/assets/" (*SCRIPT.name) } defer {} }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { (instance) }
                    @if let Some((u, unread)) = nav {
                        nav aria-label="Main" {
                            a href="/" { "Home" }
                            a href="/local" { "Local" }
                            a href="/notifications" {
                                "Notifications"
                                span #unread .badge hidden[unread == 0] aria-label={ (unread) " unread" } { (unread) }
                            }
                            a href="/search" { "Search" }
                            a href="/bookmarks" { "Bookmarks" }
                            a href="/lists" { "Lists" }
                            a href="/feeds" { "Feeds" }
                            a.me href={ "/@" (u.account.username) } { @if let Some(f) = &face { (f) } "Profile" }
                            a href="/settings" { "Settings" }
                            @if u.account.role.can_moderate() { a href="/admin" { "Admin" } }
                        }
                        form.signout method="post" action="/auth/sign_out" {
                            input type="hidden" name="csrf" value=(u.csrf());
                            button.plain type="submit" { "Sign out @" (u.account.username) }
                        }
                    }
                }
                main #main { (body) }
                @if user.is_some() {
                    dialog #help aria-labelledby="help-title" {
                        h2 #help-title { "Keyboard shortcuts" }
                        dl {
                            dt { kbd { "j" } " / " kbd { "k" } } dd { "Next / previous post" }
                            dt { kbd { "n" } } dd { "New post" }
                            dt { kbd { "l" } } dd { "Like the selected post" }
                            dt { kbd { "r" } } dd { "Reply to the selected post" }
                            dt { kbd { "o" } } dd { "Open the selected post" }
                            dt { kbd { "?" } } dd { "This help" }
                        }
                        form method="dialog" { button type="submit" { "Close" } }
                    }
                }
            }
        }
    };
    (
        status,
        [
            (CONTENT_SECURITY_POLICY, CSP),
            (X_FRAME_OPTIONS, "DENY"),
            (REFERRER_POLICY, "same-origin"),
            (CACHE_CONTROL, "no-store"),
        ],
        Html(markup.into_string()),
    )
        .into_response()
}

/// A page outside the member's navigation (the OAuth consent page for other apps).
pub(crate) fn plain_page(status: StatusCode, state: &AppState, title: &str, body: Markup) -> Response {
    page(status, state, title, None, html! { div.card { (body) } })
}

/// Relative time for a timestamp ("5m", "3h", "2d", or a date), as the script keeps updating.
fn relative(ms: i64) -> String {
    let secs = (roost_service::now_ms() - ms).max(0) / 1000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        86_400..604_800 => format!("{}d", secs / 86_400),
        _ => chrono::DateTime::from_timestamp_millis(ms).map(|d| d.format("%-d %b %Y").to_string()).unwrap_or_default(),
    }
}

/// A timestamp as `<time>`: relative text, the absolute time on hover.
fn time(ms: i64) -> Markup {
    let absolute = chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%-d %b %Y, %H:%M UTC").to_string())
        .unwrap_or_default();
    html! { time datetime=(crate::entities::iso(ms)) title=(absolute) { (relative(ms)) } }
}
