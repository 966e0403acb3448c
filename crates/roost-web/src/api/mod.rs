//! The routes of the Mastodon client API and Roost's own API. Handlers are thin: extract,
//! authorize, call the service or a query, convert.

mod accounts;
mod audit;
pub(crate) mod conversations;
mod discover;
mod extensions;
mod feeds;
mod filters;
mod instance;
mod lists;
mod markers;
mod media;
mod notifications;
pub(crate) mod oauth;
mod reports;
mod scheduled;
pub(crate) mod statuses;
pub(crate) mod streaming;
mod timelines;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use roost_types::Id;

use crate::error::ApiError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/apps", post(oauth::create_app))
        .route("/api/v1/apps/verify_credentials", get(oauth::verify_app))
        .route("/.well-known/oauth-authorization-server", get(oauth::metadata))
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .route("/api/v1/accounts/verify_credentials", get(accounts::verify_credentials))
        .route("/api/v1/accounts/update_credentials", axum::routing::patch(accounts::update_credentials))
        .route("/api/v1/profile/{image}", axum::routing::delete(accounts::delete_profile_image))
        .route("/api/v1/accounts/lookup", get(accounts::lookup))
        .route("/api/v1/accounts/relationships", get(accounts::relationships))
        .route("/api/v1/accounts/{id}", get(accounts::show))
        .route("/api/v1/accounts/{id}/statuses", get(accounts::statuses))
        .route("/api/v1/accounts/{id}/followers", get(accounts::followers))
        .route("/api/v1/accounts/{id}/following", get(accounts::following))
        .route("/api/v1/accounts/{id}/follow", post(accounts::follow))
        .route("/api/v1/accounts/{id}/unfollow", post(accounts::unfollow))
        .route("/api/v1/accounts/{id}/block", post(accounts::block))
        .route("/api/v1/accounts/{id}/unblock", post(accounts::unblock))
        .route("/api/v1/accounts/{id}/mute", post(accounts::mute))
        .route("/api/v1/accounts/{id}/unmute", post(accounts::unmute))
        .route("/api/v1/follow_requests", get(accounts::follow_requests))
        .route("/api/v1/follow_requests/{id}/authorize", post(accounts::authorize_follow_request))
        .route("/api/v1/follow_requests/{id}/reject", post(accounts::reject_follow_request))
        .route("/api/v1/blocks", get(accounts::blocks))
        .route("/api/v1/mutes", get(accounts::mutes))
        .route("/api/v1/statuses", post(statuses::create))
        .route("/api/v1/statuses/{id}", get(statuses::show).delete(statuses::delete).put(statuses::edit))
        .route("/api/v1/statuses/{id}/history", get(statuses::history))
        .route("/api/v1/statuses/{id}/source", get(statuses::source))
        .route("/api/v1/statuses/{id}/context", get(statuses::context))
        .route("/api/v1/statuses/{id}/favourite", post(statuses::favourite))
        .route("/api/v1/statuses/{id}/unfavourite", post(statuses::unfavourite))
        .route("/api/v1/statuses/{id}/reblog", post(statuses::reblog))
        .route("/api/v1/statuses/{id}/unreblog", post(statuses::unreblog))
        .route("/api/v1/statuses/{id}/pin", post(statuses::pin))
        .route("/api/v1/statuses/{id}/unpin", post(statuses::unpin))
        .route("/api/v1/statuses/{id}/favourited_by", get(statuses::favourited_by))
        .route("/api/v1/statuses/{id}/reblogged_by", get(statuses::reblogged_by))
        .route("/api/v1/statuses/{id}/bookmark", post(statuses::bookmark))
        .route("/api/v1/statuses/{id}/unbookmark", post(statuses::unbookmark))
        .route("/api/v1/scheduled_statuses", get(scheduled::index))
        .route("/api/v1/scheduled_statuses/{id}", get(scheduled::show).put(scheduled::update).delete(scheduled::cancel))
        .route("/api/v1/media", post(media::create_v1))
        .route("/api/v2/media", post(media::create_v2))
        .route("/api/v1/media/{id}", get(media::show).put(media::update))
        .route("/api/v1/polls/{id}", get(statuses::poll))
        .route("/api/v1/polls/{id}/votes", post(statuses::vote))
        .route("/api/v1/favourites", get(statuses::favourites))
        .route("/api/v1/bookmarks", get(statuses::bookmarks))
        .route("/api/v1/timelines/home", get(timelines::home))
        .route("/api/v1/timelines/public", get(timelines::public))
        .route("/api/v1/timelines/tag/{hashtag}", get(timelines::tag))
        .route("/api/v1/timelines/list/{id}", get(lists::timeline))
        .route("/api/v1/reports", post(reports::create))
        .route("/api/v1/filters", get(filters::index_v1))
        .route("/api/v2/filters", get(filters::index).post(filters::create))
        .route("/api/v2/filters/{id}", get(filters::show).put(filters::update).delete(filters::delete))
        .route("/api/v2/filters/{id}/keywords", get(filters::keywords).post(filters::add_keyword))
        .route("/api/v2/filters/{id}/statuses", get(filters::statuses).post(filters::add_status))
        .route(
            "/api/v2/filters/keywords/{id}",
            get(filters::keyword).put(filters::update_keyword).delete(filters::delete_keyword),
        )
        .route("/api/v2/filters/statuses/{id}", get(filters::status).delete(filters::delete_status))
        .route("/api/v1/conversations", get(conversations::index))
        .route("/api/v1/conversations/{id}", axum::routing::delete(conversations::remove))
        .route("/api/v1/conversations/{id}/read", post(conversations::read))
        .route("/api/v1/lists", get(lists::index).post(lists::create))
        .route("/api/v1/lists/{id}", get(lists::show).put(lists::update).delete(lists::delete))
        .route(
            "/api/v1/lists/{id}/accounts",
            get(lists::members).post(lists::add_members).delete(lists::remove_members),
        )
        .route("/api/v1/accounts/{id}/lists", get(lists::containing))
        .route("/api/v1/notifications", get(notifications::list))
        .route("/api/v1/notifications/clear", post(notifications::clear))
        .route("/api/v1/notifications/{id}", get(notifications::show))
        .route("/api/v1/notifications/{id}/dismiss", post(notifications::dismiss))
        .route("/api/v1/streaming", get(streaming::websocket))
        .route("/api/v1/streaming/health", get(streaming::health))
        .route("/api/v1/streaming/user", get(streaming::server_sent))
        .route("/api/v1/streaming/user/notification", get(streaming::server_sent))
        .route("/api/v1/streaming/public", get(streaming::server_sent))
        .route("/api/v1/streaming/public/local", get(streaming::server_sent))
        .route("/api/v1/streaming/public/remote", get(streaming::server_sent))
        .route("/api/v1/streaming/hashtag", get(streaming::server_sent))
        .route("/api/v1/streaming/hashtag/local", get(streaming::server_sent))
        .route("/api/v1/streaming/list", get(streaming::server_sent))
        .route("/api/v1/streaming/direct", get(streaming::server_sent))
        .route("/api/v2/search", get(discover::search))
        .route("/api/v1/tags/{name}", get(discover::tag))
        .route("/api/v1/tags/{name}/follow", post(discover::follow_tag))
        .route("/api/v1/tags/{name}/unfollow", post(discover::unfollow_tag))
        .route("/api/v1/followed_tags", get(discover::followed_tags))
        .route("/api/v1/accounts/search", get(discover::accounts))
        .route("/api/v1/trends", get(discover::trending_tags))
        .route("/api/v1/trends/tags", get(discover::trending_tags))
        .route("/api/v1/trends/statuses", get(discover::trending_nothing))
        .route("/api/v1/trends/links", get(discover::trending_nothing))
        .route("/api/v1/suggestions", get(discover::suggestions_v1))
        .route("/api/v2/suggestions", get(discover::suggestions))
        .route("/api/v1/custom_emojis", get(discover::custom_emojis))
        .route("/api/v1/announcements", get(discover::announcements))
        .route("/api/v1/preferences", get(discover::preferences))
        .route("/api/v1/markers", get(markers::show).post(markers::save))
        .route("/.well-known/host-meta", get(discover::host_meta))
        .route("/.well-known/webfinger", get(discover::webfinger))
        .route("/api/v1/instance", get(instance::v1))
        .route("/api/v2/instance", get(instance::v2))
        .route("/.well-known/nodeinfo", get(instance::nodeinfo_links))
        .route("/nodeinfo/2.0", get(instance::nodeinfo))
        .route("/api/roost/v1/node", get(instance::node))
        .route("/api/roost/v1/admin/log", get(audit::log))
        .route("/api/roost/v1/extensions", get(extensions::index).post(extensions::create))
        .route("/api/roost/v1/extensions/{id}", get(extensions::show))
        .route("/api/roost/v1/extensions/{id}/versions", post(extensions::add_version))
        .route("/api/roost/v1/extensions/{id}/versions/{version}", get(extensions::show_version))
        .route("/api/roost/v1/extensions/{id}/deploy", post(extensions::deploy))
        .route("/api/roost/v1/extensions/{id}/disable", post(extensions::disable))
        .route("/api/roost/v1/extensions/{id}/dry_run", post(extensions::dry_run))
        .route("/api/roost/v1/feeds", get(feeds::index).post(feeds::create))
        .route("/api/roost/v1/feeds/{id}", get(feeds::show))
        .route("/api/roost/v1/feeds/{id}/versions", post(feeds::add_version))
        .route("/api/roost/v1/feeds/{id}/deploy", post(feeds::deploy))
        .route("/api/roost/v1/feeds/{id}/disable", post(feeds::disable))
        .route("/api/roost/v1/feeds/{id}/preview", get(feeds::preview))
        .route("/api/roost/v1/feeds/{id}/timeline", get(feeds::timeline))
        .route("/api/roost/v1/feeds/{id}/{action}", post(feeds::subscribe))
        .route("/api/roost/v1/moderation/held", get(extensions::held))
        .route("/api/roost/v1/moderation/held/{id}/{action}", post(extensions::review_held))
        .route("/avatars/original/missing.png", get(avatar))
        .route("/headers/original/missing.png", get(header))
        .route("/healthz", get(|| async { "ok" }))
        .route("/health", get(|| async { "OK" }))
        .route("/readyz", get(instance::readyz))
        .route("/metrics", get(instance::metrics))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async {
            (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(serde_json::json!({"error": "Method not allowed"})))
        })
}

async fn avatar() -> impl IntoResponse {
    ([(CONTENT_TYPE, "image/png"), (CACHE_CONTROL, "public, max-age=86400")], &include_bytes!("missing_avatar.png")[..])
}

async fn header() -> impl IntoResponse {
    ([(CONTENT_TYPE, "image/png"), (CACHE_CONTROL, "public, max-age=86400")], &include_bytes!("missing_header.png")[..])
}

/// A page of posts with its `Link` header. `key` gives each item's paging ID (the post's own,
/// or that of the favourite or bookmark that lists it) and `shown` the post to render.
#[allow(clippy::too_many_arguments)] // each caller names every part; a struct would only rename them
pub(crate) fn status_page<T>(
    state: &AppState,
    view: &roost_raft::ReadView,
    viewer: Id,
    uri: &axum::http::Uri,
    items: &[T],
    key: impl Fn(&T) -> Id,
    shown: impl Fn(&T) -> &roost_core::query::Shown,
    context: Option<roost_types::FilterContext>,
) -> Result<crate::paging::StatusPage, ApiError> {
    let link = crate::paging::link_header(state.config(), uri, items, key);
    let mut r = crate::entities::Renderer::new(view, viewer, state);
    if let Some(context) = context {
        r = r.filtering(context)?;
    }
    let json = r.statuses(items.iter().map(shown))?;
    Ok(crate::paging::StatusPage(json, link))
}

/// Parses an ID from a path; anything unparsable is simply not found.
pub(crate) fn parse_id(raw: &str) -> Result<Id, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}
