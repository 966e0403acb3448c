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

use crate::auth::{token_hash, Authenticated};
use crate::entities::{self, AppJson};
use crate::error::{ApiError, ApiResult, INVALID_GRANT};
use crate::params::{de, Input};
use crate::service::{self, propose, random_token, Written};
use crate::AppState;

/// The out-of-band redirect URI: the code is shown to the user instead of redirected.
pub const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";
const MAX_APP_NAME: usize = 200;
const MAX_URI: usize = 2000;
const MAX_REDIRECT_URIS: usize = 10;

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
    Input(p): Input<CreateApp>,
) -> ApiResult<Written<Json<AppJson>>> {
    let name = p.client_name.unwrap_or_default().trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_APP_NAME {
        return Err(ApiError::unprocessable(format!(
            "Validation failed: Application name must be 1 to {MAX_APP_NAME} characters"
        )));
    }
    let redirect_uris: Vec<String> =
        p.redirect_uris.iter().flat_map(|s| s.split_whitespace()).map(str::to_string).collect();
    if redirect_uris.is_empty() {
        return Err(ApiError::unprocessable("Validation failed: Redirect URI can't be blank"));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS
        || redirect_uris.iter().any(|u| u.len() > MAX_URI || !(u == OOB || u.contains("://")))
    {
        return Err(ApiError::unprocessable("Validation failed: Redirect URI must be an absolute URI"));
    }
    if p.website.as_ref().is_some_and(|w| w.len() > MAX_URI) {
        return Err(ApiError::unprocessable("Validation failed: Website is too long"));
    }
    let scopes = parse_scopes(p.scopes.as_deref(), &["read".to_string()])?;
    let client_id = random_token();
    let secret = random_token();
    let applied = propose(
        &state,
        Command::CreateApp {
            client_id: client_id.clone(),
            client_secret_hash: token_hash(&secret),
            name,
            website: p.website.filter(|w| !w.is_empty()),
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
            Some(check_credentials(&state, &login, password).await?.ok_or_else(invalid_grant)?.id)
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

/// Checks a login (username or email) and password, counting failures against the login. The
/// account on success; `None` for a wrong login or password, with the same effort either way.
pub(crate) async fn check_credentials(
    state: &AppState,
    login: &str,
    password: String,
) -> ApiResult<Option<roost_core::model::Account>> {
    state.sign_ins().check(login)?;
    if password.len() > service::MAX_PASSWORD {
        return Ok(None);
    }
    let found = {
        let view = state.node().read()?;
        if login.contains('@') {
            query::account_by_email(&view, login)?
        } else {
            query::account_by_username(&view, login)?
        }
    };
    let Some(account) = found else {
        // Spend the same effort as a real check, so timing does not reveal usernames.
        let _ = service::verify_password(DUMMY_HASH.to_string(), password).await;
        state.sign_ins().failed(login);
        return Ok(None);
    };
    if !service::verify_password(account.password_hash.clone(), password).await? {
        state.sign_ins().failed(login);
        return Ok(None);
    }
    state.sign_ins().succeeded(login);
    if query::suspended(&state.node().read()?, account.id)? {
        return Err(ApiError::Forbidden("This account is suspended".into()));
    }
    Ok(Some(account))
}

/// Whether an app registered with `registered` may receive `wanted`: the same scope, or a
/// sub-scope of a registered one (`read:statuses` under `read`).
pub(crate) fn scope_allowed(registered: &[String], wanted: &str) -> bool {
    registered.iter().any(|r| r == wanted || wanted.strip_prefix(r.as_str()).is_some_and(|rest| rest.starts_with(':')))
}

/// An argon2id hash of a random password, checked against when the account does not exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4N7uDBcGNX6r1Dh7N2EmqRjdfuSNVl1DXg2iBDmK6Wk";

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
