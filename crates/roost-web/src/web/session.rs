//! Browser sessions: a sign-in issues an OAuth token of Roost's own web client, kept in an
//! `HttpOnly`, `SameSite=Lax` cookie (and `Secure` when the instance is served over TLS), so that
//! sessions are listed and revoked like any authorised app. Every state-changing form carries a
//! CSRF token derived from the session (a keyed hash: nothing to store, useless for another
//! session); the sign-in form, before any session, uses a double-submit cookie instead.

use axum::extract::FromRequestParts;
use axum::http::header::LOCATION;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roost_core::model::{Account, Token};
use roost_core::query;

use crate::auth::token_hash;
use crate::error::ApiError;
use crate::AppState;

pub use crate::auth::{cookie, SESSION_COOKIE};
/// The sign-in form's double-submit cookie.
pub const SIGN_IN_COOKIE: &str = "roost_sign_in";
/// The OAuth client ID of the web app's own sessions.
pub use roost_service::WEB_CLIENT_ID;

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, path `/`, `Secure` over TLS; `max_age`
/// 0 deletes it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let secure = if state.config().public_url.starts_with("https://") { "; Secure" } else { "" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{age}{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The CSRF token of a session (or of a sign-in cookie): a keyed hash of its secret.
pub fn csrf_for(secret: &str) -> String {
    let key = blake3::hash(b"roost web csrf");
    blake3::keyed_hash(key.as_bytes(), secret.as_bytes()).to_hex()[..32].to_string()
}

/// Whether a submitted CSRF token matches the secret, compared in constant time.
pub fn csrf_ok(secret: &str, submitted: Option<&str>) -> bool {
    let expected = csrf_for(secret);
    submitted.is_some_and(|s| {
        s.len() == expected.len() && s.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    })
}

/// A signed-in member of the web app.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub account: Account,
    pub token: Token,
    /// The session's secret (the token), for its CSRF token.
    secret: String,
}

impl WebUser {
    pub fn id(&self) -> u64 {
        self.account.id
    }

    /// The CSRF token this session's forms carry.
    pub fn csrf(&self) -> String {
        csrf_for(&self.secret)
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), ApiError> {
        if csrf_ok(&self.secret, submitted) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "This form has expired or came from elsewhere: reload the page and try again".into(),
            ))
        }
    }

    pub fn token_hash(&self) -> [u8; 32] {
        token_hash(&self.secret)
    }

    /// Who asks, for the service: this member, through the web app.
    pub fn actor(&self) -> roost_service::Actor {
        <roost_service::Actor as roost_service::ActorExt>::member(self.account.id, roost_service::Via::Web)
    }
}

/// Why a page needs a session it does not have: go and sign in.
pub struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        (StatusCode::SEE_OTHER, [(LOCATION, "/auth/sign_in")]).into_response()
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string) else {
            return Err(SignInFirst.into_response());
        };
        let token = crate::auth::known_token(state, &token_hash(&secret)).await.map_err(IntoResponse::into_response)?;
        let view = state.node().read().map_err(|e| ApiError::from(e).into_response())?;
        // Only the web client's own tokens make sessions: an app's token in a cookie is not one.
        let Some(token) = token.filter(|t| t.client_id == WEB_CLIENT_ID) else {
            return Err(SignInFirst.into_response());
        };
        let Some(id) = token.account else { return Err(SignInFirst.into_response()) };
        let Some(account) = query::account(&view, id).map_err(|e| ApiError::from(e).into_response())? else {
            return Err(SignInFirst.into_response());
        };
        roost_service::tokens::note_use(state.service(), token_hash(&secret), &token);
        Ok(WebUser { account, token, secret })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let mine = csrf_for("session one");
        assert!(csrf_ok("session one", Some(&mine)));
        assert!(!csrf_ok("session two", Some(&mine)));
        assert!(!csrf_ok("session one", None));
        assert!(!csrf_ok("session one", Some("")));
    }

    #[test]
    fn cookies_are_found_among_others() {
        use axum::http::{header::COOKIE, HeaderMap};
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("a=1; roost_session=abc; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
