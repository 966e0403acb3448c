//! Roost's HTTP adapters: the Mastodon client API (`api`), the web app (`web`) and the live
//! streams (`streaming`). They parse their input, call the service layer (`roost-service`),
//! and render what it returns.
//!
//! # Invariants
//! - Only this crate knows HTTP and wire formats. Entities are built from `roost-core` records
//!   in [`entities`] and nowhere else.
//! - Every state change goes through `roost_service` (its `propose` stamps the time and who
//!   asked, and hands the request to the replicated log). Reads come from the local store,
//!   never through the log.
//! - `web` never imports `api`, nor `api` `web`: what both need lives in `roost-service` or in
//!   the shared modules here (`auth`, `entities`, `params`, `streaming`…).
//! - Nothing is readable without a valid access token except the instance metadata.
//!
//! # Boundaries
//! Depends on `roost-service` (use cases), `roost-core` (queries) and `roost-raft` (reading);
//! never on the storage engine.

pub mod api;
pub mod auth;
pub mod cors;
pub mod entities;
pub mod error;
mod files;
pub mod html;
pub mod layers;
pub mod limits;
pub mod paging;
pub mod params;
pub mod scopes;
pub mod sse;
pub mod streaming;
pub mod uris;
pub mod web;
pub mod written;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use roost_raft::Node;
use roost_service::{Service, ServiceConfig};
use tower_http::normalize_path::NormalizePath;

pub use error::{ApiError, ApiResult};

/// The version of the Mastodon API Roost speaks, as clients detect it.
pub const MASTODON_COMPAT: &str = "4.3.0";

/// The settings the HTTP layer needs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The instance's external URL, without a trailing slash (`https://social.example.org`).
    pub public_url: String,
    /// The instance name shown to clients.
    pub title: String,
    /// Longest post, in characters as Mastodon counts them.
    pub max_post_chars: usize,
    /// Largest post (text and content warning), in bytes.
    pub max_post_bytes: usize,
    /// How far ahead a post must be scheduled, at least (Mastodon: five minutes).
    pub scheduled_min_secs: i64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Requests per caller and period (`X-RateLimit-*` headers, 429 beyond).
    pub rate_limit: limits::RateLimit,
    /// Reverse proxies whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Apps one client network may register per hour (0: no limit).
    pub app_registrations_per_hour: u32,
    /// Pictures: where blobs live, upload limits, quotas.
    pub media: roost_service::media::MediaConfig,
}

impl WebConfig {
    /// The host part of the public URL, as Mastodon's `domain`/`uri` fields want it.
    pub fn domain(&self) -> &str {
        let rest = self.public_url.split("://").nth(1).unwrap_or(&self.public_url);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// Shared state of the handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    service: Service,
    config: WebConfig,
    entities: entities::EntityCache,
    limiter: limits::RateLimiter,
    hub: Arc<streaming::Hub>,
}

impl AppState {
    /// The handlers' state; starts the task that routes the node's events to live streams,
    /// so it must be called within a Tokio runtime.
    pub fn new(node: Node, config: WebConfig) -> AppState {
        let hub = Arc::new(streaming::Hub::default());
        tokio::spawn(hub.clone().run(node.subscribe()));
        let limiter = limits::RateLimiter::new(config.rate_limit);
        let service = Service::new(
            node,
            ServiceConfig {
                public_url: config.public_url.clone(),
                max_post_chars: config.max_post_chars,
                max_post_bytes: config.max_post_bytes,
                scheduled_min_secs: config.scheduled_min_secs,
                app_registrations_per_hour: config.app_registrations_per_hour,
                media: config.media.clone(),
            },
        );
        AppState {
            inner: Arc::new(Inner { service, limiter, config, entities: entities::EntityCache::default(), hub }),
        }
    }

    /// The use cases, which every handler calls.
    pub fn service(&self) -> &Service {
        &self.inner.service
    }

    pub fn node(&self) -> &Node {
        self.inner.service.node()
    }

    pub fn config(&self) -> &WebConfig {
        &self.inner.config
    }

    pub fn entities(&self) -> &entities::EntityCache {
        &self.inner.entities
    }

    pub fn limiter(&self) -> &limits::RateLimiter {
        &self.inner.limiter
    }

    pub fn hub(&self) -> &Arc<streaming::Hub> {
        &self.inner.hub
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> App {
    // Bodies are read (and limited) by `params::Input`, which answers oversized ones with 413.
    let router = api::routes()
        .merge(web::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), layers::read_your_writes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), layers::rate_limit))
        .layer(axum::middleware::map_response(no_sniffing))
        .layer(axum::middleware::from_fn(cors::layer))
        // Picture files: no token, no per-caller limit (see `files`).
        .merge(files::routes())
        .layer(DefaultBodyLimit::disable())
        .with_state(state);
    // Clients written against Rails ask for `/api/v1/instance/` as readily as without the
    // slash; the path is trimmed before routing, as Mastodon's router ignores it.
    NormalizePath::trim_trailing_slash(router)
}

/// Every response says its content type is to be believed: a browser must not guess HTML or
/// script out of a JSON body or a post's text.
async fn no_sniffing(mut resp: axum::response::Response) -> axum::response::Response {
    resp.headers_mut()
        .insert(axum::http::header::X_CONTENT_TYPE_OPTIONS, axum::http::HeaderValue::from_static("nosniff"));
    resp
}

/// The HTTP application as a service: serve it with
/// `axum::ServiceExt::into_make_service_with_connect_info::<SocketAddr>` (rate limits of
/// callers without a token count by address).
pub type App = NormalizePath<Router>;
