//! OAuth client registration and tokens, in the shape Mastodon clients use.

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::Json;
use base64::prelude::{Engine, BASE64_STANDARD, BASE64_URL_SAFE_NO_PAD};
use roost_core::query;
use roost_types::Command;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::{token_hash, Authenticated, ClientIp};
use crate::entities::{self, AppJson};
use crate::error::{ApiError, ApiResult, INVALID_GRANT};
use crate::params::{de, Input};
use crate::service::{self, propose, random_token, Written};
use crate::AppState;

pub use crate::uris::OOB;

/// An app's name: one line of 60 characters. Registering needs no account, and every app is
/// kept in the log, so every field of one is small.
const APP_NAME: roost_core::text::Limit = roost_core::text::Limit::chars(60);
/// An app's website: a URL of at most 256 bytes.
const MAX_WEBSITE: usize = 256;
/// Redirect URIs one app may register, and their total size.
const MAX_REDIRECT_URIS: usize = 5;
const MAX_REDIRECT_URIS_BYTES: usize = 2048;

/// Whether a scope is one Roost knows: `read`, `write`, `follow`, `push`, `profile`, `admin:read`,
/// `admin:write`, and their `:sub` forms.
fn valid_scope(s: &str) -> bool {
    let top = ["read", "write", "follow", "push", "profile"];
    if top.contains(&s) || s == "admin:read" || s == "admin:write" {
        return true;
    }
    match s.split_once(':') {
        Some((head, sub)) => {
            (["read", "write", "admin:read", "admin:write"].contains(&head) || s.starts_with("admin:"))
                && !sub.is_empty()
                && sub.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b':')
        }
        None => false,
    }
}

pub(crate) fn parse_scopes(raw: Option<&str>, default: &[String]) -> ApiResult<Vec<String>> {
    let scopes: Vec<String> = match raw {
        Some(s) if !s.trim().is_empty() => s.split_whitespace().map(str::to_string).collect(),
        _ => default.to_vec(),
    };
    if scopes.len() > 32 || scopes.iter().any(|s| !valid_scope(s)) {
        return Err(ApiError::unprocessable("Validation failed: Scopes are invalid"));
    }
    Ok(scopes)
}

#[derive(Deserialize)]
pub struct CreateApp {
    #[serde(default, deserialize_with = "de::string_opt")]
    client_name: Option<String>,
    #[serde(default, deserialize_with = "de::strings")]
    redirect_uris: Vec<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    scopes: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    website: Option<String>,
}

pub async fn create_app(
    State(state): State<AppState>,
    ClientIp(from): ClientIp,
    Input(p): Input<CreateApp>,
) -> ApiResult<Written<Json<AppJson>>> {
    let name = roost_core::text::clean_line(p.client_name.as_deref().unwrap_or_default());
    if name.is_empty() {
        return Err(ApiError::unprocessable("Validation failed: Application name can't be blank"));
    }
    service::limited("Application name", &name, APP_NAME)?;
    // Several URIs come one per line (Mastodon's form); a URI never holds a space or a newline.
    let redirect_uris: Vec<String> = p
        .redirect_uris
        .iter()
        .flat_map(|s| s.split(['\n', ' ']))
        .map(|u| u.trim_end_matches('\r'))
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    if redirect_uris.is_empty() {
        return Err(ApiError::unprocessable("Validation failed: Redirect URI can't be blank"));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS
        || redirect_uris.iter().map(String::len).sum::<usize>() > MAX_REDIRECT_URIS_BYTES
    {
        return Err(ApiError::unprocessable(format!(
            "Validation failed: At most {MAX_REDIRECT_URIS} redirect URIs of {MAX_REDIRECT_URIS_BYTES} bytes in all"
        )));
    }
    for uri in &redirect_uris {
        crate::uris::check_redirect_uri(uri)
            .map_err(|why| ApiError::unprocessable(format!("Validation failed: {why}")))?;
    }
    let website = p.website.filter(|w| !w.is_empty());
    if let Some(w) = &website {
        let web = w.starts_with("https://") || w.starts_with("http://");
        if w.len() > MAX_WEBSITE || !web || !w.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::unprocessable(format!(
                "Validation failed: Website must be an http(s) URL of at most {MAX_WEBSITE} bytes"
            )));
        }
    }
    let scopes = parse_scopes(p.scopes.as_deref(), &["read".to_string()])?;
    // Counted only once the request is valid: a mistake does not use up the address's quota.
    state.app_registrations().register(from)?;
    let client_id = random_token();
    let secret = random_token();
    let applied = propose(
        &state,
        Command::CreateApp {
            client_id: client_id.clone(),
            client_secret_hash: token_hash(&secret),
            name,
            website,
            redirect_uris,
            scopes,
        },
    )
    .await?;
    let view = state.node().read()?;
    let app = query::app(&view, &client_id)?.ok_or_else(|| ApiError::Internal("app vanished".into()))?;
    Ok(Written(Json(entities::app(&app, Some(secret))), applied.index))
}

pub async fn verify_app(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<AppJson>> {
    let view = state.node().read()?;
    let app = query::app(&view, &auth.token.client_id)?.ok_or(ApiError::Unauthorized)?;
    Ok(Json(entities::app(&app, None)))
}

#[derive(Deserialize)]
pub struct TokenRequest {
    #[serde(default, deserialize_with = "de::string_opt")]
    grant_type: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    client_secret: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    username: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    password: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    code: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    redirect_uri: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    code_verifier: Option<String>,
}

/// Checks the client's credentials; the app on success.
fn authenticate_client(state: &AppState, id: Option<&str>, secret: Option<&str>) -> ApiResult<roost_core::model::App> {
    let (Some(id), Some(secret)) = (id, secret) else { return Err(bad_client()) };
    let view = state.node().read()?;
    let app = query::app(&view, id)?.ok_or_else(bad_client)?;
    // Both sides are hashes of fixed length, so the comparison leaks nothing useful.
    if app.client_secret_hash != token_hash(secret) {
        return Err(bad_client());
    }
    Ok(app)
}

pub async fn token(
    State(state): State<AppState>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    Input(p): Input<TokenRequest>,
) -> ApiResult<Written<Json<serde_json::Value>>> {
    let (client_id, secret) = match basic_credentials(&headers) {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (p.client_id.clone(), p.client_secret.clone()),
    };
    // A public client (no secret) may only redeem a code it proves with PKCE.
    let public_code_grant = p.grant_type.as_deref() == Some("authorization_code") && secret.is_none();
    let (app, client_authenticated) = if public_code_grant {
        let view = state.node().read()?;
        let app = client_id.as_deref().map(|id| query::app(&view, id)).transpose()?.flatten();
        (app.ok_or_else(bad_client)?, false)
    } else {
        (authenticate_client(&state, client_id.as_deref(), secret.as_deref())?, true)
    };
    // A code carries the scopes the member consented to; a `scope` parameter does not change them.
    if p.grant_type.as_deref() == Some("authorization_code") {
        return redeem_code(&state, &app, client_authenticated, p.code, p.redirect_uri, p.code_verifier).await;
    }
    let scopes = parse_scopes(p.scope.as_deref(), &["read".to_string()]).map_err(|_| {
        ApiError::OAuth("invalid_scope", "The requested scope is invalid, unknown, or malformed.".into())
    })?;
    if scopes.iter().any(|s| !scope_allowed(&app.scopes, s)) {
        return Err(ApiError::OAuth(
            "invalid_scope",
            "The requested scope is not registered for this application.".into(),
        ));
    }
    let account = match p.grant_type.as_deref() {
        Some("password") => {
            let (Some(login), Some(password)) = (p.username, p.password) else { return Err(invalid_grant()) };
            Some(service::sign_in(&state, &login, password, from).await?.ok_or_else(invalid_grant)?.id)
        }
        Some("client_credentials") => None,
        Some(other) => {
            return Err(ApiError::OAuth(
                "unsupported_grant_type",
                format!("The authorization grant type {other:?} is not supported by the authorization server."),
            ))
        }
        None => return Err(ApiError::OAuth("invalid_request", "grant_type is missing".into())),
    };
    let token = random_token();
    let applied = propose(
        &state,
        Command::IssueToken {
            token_hash: token_hash(&token),
            client_id: app.client_id,
            account,
            scopes: scopes.clone(),
        },
    )
    .await?;
    Ok(Written(token_json(&token, &scopes), applied.index))
}

/// The Token entity.
fn token_json(token: &str, scopes: &[String]) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "scope": scopes.join(" "),
        "created_at": service::now_ms() / 1000,
    }))
}

fn invalid_grant() -> ApiError {
    ApiError::OAuth("invalid_grant", INVALID_GRANT.into())
}

fn bad_client() -> ApiError {
    ApiError::InvalidClient("Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.".into())
}

/// `client_secret_basic`: the client's credentials in an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(BASE64_STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

/// The `authorization_code` grant: the code must be this client's, name the redirect URI it was
/// issued for, and, when it was issued with a PKCE challenge, come with the matching verifier.
/// A client without a secret must use PKCE.
async fn redeem_code(
    state: &AppState,
    app: &roost_core::model::App,
    client_authenticated: bool,
    code: Option<String>,
    redirect_uri: Option<String>,
    verifier: Option<String>,
) -> ApiResult<Written<Json<serde_json::Value>>> {
    let code = code.ok_or_else(|| ApiError::OAuth("invalid_request", "code is missing".into()))?;
    let code_hash = token_hash(&code);
    let stored = query::auth_code(&state.node().read()?, &code_hash)?.ok_or_else(invalid_grant)?;
    if stored.client_id != app.client_id || redirect_uri.as_deref() != Some(stored.redirect_uri.as_str()) {
        return Err(invalid_grant());
    }
    match (&stored.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) if pkce_s256(&verifier) == *challenge => {}
        (Some(_), _) => return Err(invalid_grant()),
        (None, _) if !client_authenticated => return Err(bad_client()),
        (None, _) => {}
    }
    let token = random_token();
    let applied = propose(
        state,
        Command::RedeemAuthCode { code_hash, client_id: app.client_id.clone(), token_hash: token_hash(&token) },
    )
    .await?;
    Ok(Written(token_json(&token, &stored.scopes), applied.index))
}

/// PKCE's S256 transform: base64url (unpadded) of the SHA-256 of the verifier.
pub(crate) fn pkce_s256(verifier: &str) -> String {
    BASE64_URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether an app registered with `registered` may receive `wanted`: the same scope, or a
/// sub-scope of a registered one (`read:statuses` under `read`).
pub(crate) fn scope_allowed(registered: &[String], wanted: &str) -> bool {
    registered.iter().any(|r| r == wanted || wanted.strip_prefix(r.as_str()).is_some_and(|rest| rest.starts_with(':')))
}

#[derive(Deserialize)]
pub struct RevokeRequest {
    #[serde(default, deserialize_with = "de::string_opt")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    client_secret: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    token: Option<String>,
}

pub async fn revoke(
    State(state): State<AppState>,
    Input(p): Input<RevokeRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let app = authenticate_client(&state, p.client_id.as_deref(), p.client_secret.as_deref())?;
    let Some(token) = p.token else {
        return Err(ApiError::OAuth("invalid_request", "token is missing".into()));
    };
    let hash = token_hash(&token);
    let owned = query::token(&state.node().read()?, &hash)?.is_some_and(|t| t.client_id == app.client_id);
    // RFC 7009: an unknown token, or another client's, is answered like a revoked one.
    if owned {
        propose(&state, Command::RevokeToken { token_hash: hash }).await?;
    }
    Ok(Json(serde_json::json!({})))
}

/// Every scope Roost grants, for the authorization server metadata.
const SCOPES_SUPPORTED: &[&str] = &[
    "read",
    "write",
    "follow",
    "push",
    "profile",
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
    "admin:read",
    "admin:write",
];

/// RFC 8414 authorization server metadata, as Mastodon 4.3 publishes it.
pub async fn metadata(State(state): State<AppState>) -> Json<serde_json::Value> {
    let base = &state.config().public_url;
    Json(serde_json::json!({
        "issuer": format!("{base}/"),
        "service_documentation": "https://docs.joinmastodon.org/",
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "app_registration_endpoint": format!("{base}/api/v1/apps"),
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "password", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        for ok in ["read", "write:statuses", "admin:read:accounts", "follow", "push"] {
            assert!(valid_scope(ok), "{ok}");
        }
        for bad in ["", "root", "read:", "READ", "read:Statuses"] {
            assert!(!valid_scope(bad), "{bad}");
        }
        for s in SCOPES_SUPPORTED {
            assert!(valid_scope(s), "{s}");
        }
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let reg = vec!["read".to_string(), "write".to_string()];
        assert!(scope_allowed(&reg, "read:statuses"));
        assert!(!scope_allowed(&reg, "follow"));
        assert!(!scope_allowed(&reg, "reader"));
    }
}
