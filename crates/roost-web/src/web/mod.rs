//! The web app: pages rendered on the server from the same queries and commands the API uses
//! (never by calling Roost's own HTTP API), working without JavaScript.
//!
//! # Invariants
//! - Every page is escaped by construction (maud) and served with a Content-Security-Policy that
//!   allows no inline script or style, `X-Frame-Options: DENY` and `Cache-Control: no-store`.
//! - Every state-changing form carries the session's CSRF token and is refused without it.
//! - Static assets are compiled into the binary and served under content-hashed names, cached
//!   for a year.

mod pages;
pub mod session;

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_FRAME_OPTIONS};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use crate::error::ApiError;
use crate::AppState;

/// The stylesheet, and the content-hashed name it is served under.
const STYLESHEET: &str = include_str!("../../assets/roost.css");
static STYLESHEET_NAME: LazyLock<String> =
    LazyLock::new(|| format!("roost-{}.css", &blake3::hash(STYLESHEET.as_bytes()).to_hex()[..12]));

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/auth/sign_in", get(pages::sign_in_page).post(pages::sign_in))
        .route("/auth/sign_out", post(pages::sign_out))
        .route("/web/statuses", post(pages::compose))
        .route("/web/statuses/{id}/{action}", post(pages::act))
        .route("/web/accounts/{id}/{action}", post(pages::relate))
        .route("/{username}", get(pages::profile))
        .route("/{username}/{id}", get(pages::thread))
        .route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    if name != *STYLESHEET_NAME {
        return ApiError::NotFound.into_response();
    }
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=31536000, immutable")], STYLESHEET)
        .into_response()
}

/// The policy every page is served with: nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// A whole page: the top bar (with sign-out for a member), then `body` as the main content.
fn page(status: StatusCode, state: &AppState, title: &str, user: Option<&session::WebUser>, body: Markup) -> Response {
    let instance = &state.config().title;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (instance) }
                link rel="stylesheet" href={ "/assets/" (*STYLESHEET_NAME) };
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { (instance) }
                    @if let Some(u) = user {
                        form method="post" action="/auth/sign_out" {
                            input type="hidden" name="csrf" value=(u.csrf());
                            span.meta { "@" (u.account.username) " " }
                            button.plain type="submit" { "Sign out" }
                        }
                    }
                }
                main #main { (body) }
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
