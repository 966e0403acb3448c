//! The layers every request passes, whichever adapter serves it: the rate limit (which also
//! finds the caller and the client's address) and read-your-writes.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::written::MIN_INDEX_HEADER;
use crate::AppState;

/// Counts the request against its caller's rate limit and says where they stand in
/// `X-RateLimit-Limit`, `-Remaining` and `-Reset` (as Mastodon does); refuses it with 429 when
/// over. Callers are accounts (or app tokens) for requests with a valid token, addresses
/// otherwise.
pub async fn rate_limit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let caller = match caller_of(&state, &mut req) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    // Later layers ask who is calling (a read that waits for an index needs a member).
    req.extensions_mut().insert(caller.clone());
    if matches!(req.uri().path(), "/healthz" | "/health" | "/readyz" | "/metrics") {
        return next.run(req).await;
    }
    let Some(quota) = state.limiter().count(caller) else { return next.run(req).await };
    let mut resp = if quota.exceeded { ApiError::TooManyRequests.into_response() } else { next.run(req).await };
    let reset: chrono::DateTime<chrono::Utc> = quota.reset.into();
    let headers = resp.headers_mut();
    headers.insert("x-ratelimit-limit", quota.limit.into());
    headers.insert("x-ratelimit-remaining", quota.remaining.into());
    if let Ok(v) = HeaderValue::from_str(&reset.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)) {
        headers.insert("x-ratelimit-reset", v);
    }
    resp
}

/// Who the request counts against; a valid token found on the way is kept for authentication,
/// and the client's address for the handlers.
fn caller_of(state: &AppState, req: &mut Request) -> Result<crate::limits::Caller, ApiError> {
    use crate::limits::Caller;
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let ip = client_address(peer, req.headers(), &state.config().trusted_proxies);
    req.extensions_mut().insert(crate::auth::ClientIp(ip));
    if let Some(raw) = crate::auth::bearer_of(req.headers(), req.uri()) {
        let hash = crate::auth::token_hash(&raw);
        if let Some(token) = roost_core::query::token(&state.node().read()?, &hash)? {
            let caller = token.account.map_or(Caller::App(hash), Caller::Account);
            req.extensions_mut().insert(crate::auth::Resolved { hash, token });
            return Ok(caller);
        }
    }
    // A browser session counts against its member, as a token would.
    if let Some(secret) = crate::auth::cookie(req.headers(), crate::auth::SESSION_COOKIE) {
        let hash = crate::auth::token_hash(secret);
        if let Some(token) = roost_core::query::token(&state.node().read()?, &hash)? {
            return Ok(token.account.map_or(Caller::App(hash), Caller::Account));
        }
    }
    Ok(Caller::Address(ip))
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the last address in
/// `X-Forwarded-For` that is not itself a trusted proxy (earlier entries are the client's to
/// forge).
fn client_address(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded.into_iter().rev().find(|a| !trusted.contains(a)).unwrap_or(peer)
}

/// How long a read waits for this node to apply the index a client asked for.
const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(5);

/// Waits until this node has applied the log index named by `X-Roost-Min-Index`. Only for
/// callers with a valid token or session: a stranger's far-future index must not hold a
/// request (and a connection) for seconds.
pub async fn read_your_writes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let known = matches!(
        req.extensions().get::<crate::limits::Caller>(),
        Some(crate::limits::Caller::Account(_) | crate::limits::Caller::App(_))
    );
    let wanted = req.headers().get(MIN_INDEX_HEADER).and_then(|v| v.to_str().ok()).and_then(|s| s.parse::<u64>().ok());
    if let Some(index) = wanted.filter(|_| known) {
        if let Err(e) = state.node().wait_applied(index, READ_YOUR_WRITES_WAIT).await {
            return ApiError::from(e).into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::client_address;
    use axum::http::HeaderMap;
    use std::net::IpAddr;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 10.0.0.7, 10.0.0.2".parse().unwrap());
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(client_address(ip("10.0.0.1"), &h, &proxies), ip("10.0.0.7"), "the last untrusted hop");
        assert_eq!(client_address(ip("9.9.9.9"), &h, &proxies), ip("9.9.9.9"), "a stranger's header is ignored");
        assert_eq!(client_address(ip("10.0.0.1"), &HeaderMap::new(), &proxies), ip("10.0.0.1"));
        assert_eq!(client_address(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"), "no trusted proxies: no header");
    }
}
