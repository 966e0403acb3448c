//! Cross-origin requests, as Mastodon allows them: browser apps on their own origins (Elk,
//! Phanpy and the like) call the client API, the token and revocation endpoints, and the
//! discovery documents. Tokens travel in headers, never in cookies, so any origin may call:
//! `Access-Control-Allow-Origin: *` without credentials. The web app's pages and the consent
//! page are not opened to other origins.
//!
//! This is the outermost layer, so that refusals (401, 429) are readable by the app too.

use axum::extract::Request;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The methods other origins may use.
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// The response headers an app on another origin may read (Mastodon's, and Roost's index).
const EXPOSED: &str = "Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-Request-Id, X-Roost-Index";
/// How long a browser may reuse a preflight's answer.
const MAX_AGE_SECS: u32 = 7200;

/// Whether other origins may call `path`, as in Mastodon's `config/initializers/cors.rb`.
pub fn open_to_other_origins(path: &str) -> bool {
    path.starts_with("/api/")
        || matches!(path, "/oauth/token" | "/oauth/revoke")
        || path.starts_with("/.well-known/")
        || path.starts_with("/nodeinfo/")
}

pub async fn layer(req: Request, next: Next) -> Response {
    if !open_to_other_origins(req.uri().path()) || !req.headers().contains_key(ORIGIN) {
        return next.run(req).await;
    }
    let preflight = req.method() == Method::OPTIONS && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        let h = resp.headers_mut();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(METHODS));
        // Any request header may be sent (`Authorization`, `Idempotency-Key`, …): the asked-for
        // list is echoed, after checking it is a list of header names.
        if let Some(asked) = req.headers().get(ACCESS_CONTROL_REQUEST_HEADERS) {
            let names_only = asked.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || b"-_, ".contains(b));
            if names_only && asked.len() <= 1024 {
                h.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            }
        }
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECS));
        h.insert(VARY, HeaderValue::from_static("Access-Control-Request-Method, Access-Control-Request-Headers"));
        return resp;
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodons_paths_are_open_and_the_web_app_is_not() {
        for open in [
            "/api/v1/statuses",
            "/api/v1/streaming/user",
            "/oauth/token",
            "/oauth/revoke",
            "/.well-known/nodeinfo",
            "/nodeinfo/2.0",
        ] {
            assert!(open_to_other_origins(open), "{open}");
        }
        for closed in ["/", "/oauth/authorize", "/auth/sign_in", "/settings", "/@alice", "/web/live"] {
            assert!(!open_to_other_origins(closed), "{closed}");
        }
    }
}
