//! Who is calling: bearer tokens resolved to accounts. Tokens are stored only as BLAKE3 hashes
//! (they are 256-bit random values, so a fast hash is enough; passwords use argon2id).

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use roost_core::model::{Account, Token};
use roost_core::query;
use roost_service::{Actor, ActorExt, Via};

use crate::error::{ApiError, ApiResult};
use crate::scopes;
use crate::AppState;

pub use roost_service::tokens::token_hash;

/// The bearer token of a request, if it carries one. Streaming connections may also name it
/// in the `access_token` query parameter or, for WebSockets, as `Sec-WebSocket-Protocol`,
/// since browsers cannot set headers on either.
fn bearer(parts: &Parts) -> Option<String> {
    bearer_of(&parts.headers, &parts.uri)
}

/// [`bearer`] from a request's headers and URI.
pub(crate) fn bearer_of(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty());
    }
    if !uri.path().starts_with("/api/v1/streaming") {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Query {
        access_token: Option<String>,
    }
    let from_query = axum::extract::Query::<Query>::try_from_uri(uri).ok().and_then(|q| q.0.access_token);
    let from_protocol = || {
        let value = headers.get(axum::http::header::SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
        value.split(',').map(str::trim).find(|t| !t.is_empty()).map(str::to_string)
    };
    from_query.filter(|t| !t.is_empty()).or_else(from_protocol)
}

/// A token already found valid for this request (by the rate limiter, which runs first), so
/// that authentication does not look it up again.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub hash: [u8; 32],
    pub token: Token,
}

/// Looks a token up; one this node does not know may have been issued through another node a
/// moment ago, so in a cluster it asks again once caught up with the leader.
pub(crate) async fn known_token(state: &AppState, hash: &[u8; 32]) -> ApiResult<Option<Token>> {
    if let Some(t) = query::token(&state.node().read()?, hash)? {
        return Ok(Some(t));
    }
    if state.node().catch_up(CATCH_UP_TIMEOUT).await.is_err() {
        return Ok(None);
    }
    Ok(query::token(&state.node().read()?, hash)?)
}

/// How long a follower waits to catch up before deciding a token is unknown.
const CATCH_UP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// A valid token, for an app alone or for a user.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub token: Token,
    pub token_hash: [u8; 32],
    pub account: Option<Account>,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (hash, token) = match parts.extensions.remove::<Resolved>() {
            Some(r) => (r.hash, r.token),
            None => {
                let raw = bearer(parts).ok_or(ApiError::Unauthorized)?;
                let hash = token_hash(&raw);
                (hash, known_token(state, &hash).await?.ok_or(ApiError::Unauthorized)?)
            }
        };
        let view = state.node().read()?;
        // Every route that takes a token has a scope rule; one without is refused.
        let route = parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("");
        let need = scopes::required(&parts.method, route)
            .ok_or_else(|| ApiError::Forbidden("This action is outside the scopes of this token".into()))?;
        if !scopes::satisfies(&token.scopes, need) {
            return Err(ApiError::Forbidden("This action is outside the authorized scopes".into()));
        }
        let account = match token.account {
            Some(id) => Some(query::account(&view, id)?.ok_or(ApiError::Unauthorized)?),
            None => None,
        };
        roost_service::tokens::note_use(state.service(), hash, &token);
        Ok(Authenticated { token, token_hash: hash, account })
    }
}

/// A signed-in user: a valid token that belongs to an account.
#[derive(Debug, Clone)]
pub struct User {
    pub account: Account,
    pub token: Token,
    pub token_hash: [u8; 32],
}

impl User {
    pub fn id(&self) -> u64 {
        self.account.id
    }

    /// Who asks, for the service: this member, through the token's app.
    pub fn actor(&self) -> Actor {
        Actor::member(self.account.id, Via::App { client_id: self.token.client_id.clone() })
    }
}

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        match auth.account {
            Some(account) => Ok(User { account, token: auth.token, token_hash: auth.token_hash }),
            None => Err(ApiError::unprocessable("This method requires an authenticated user")),
        }
    }
}

/// The client's address: the peer's, or behind a trusted proxy the one it names (set by the
/// rate-limit layer, which works it out first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return Ok(*ip);
        }
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
        Ok(ClientIp(peer.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))))
    }
}

/// The web app's session cookie (the session's token): the web app signs members in with it,
/// and the rate limit counts a browser against its member by it.
pub const SESSION_COOKIE: &str = "roost_session";

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
