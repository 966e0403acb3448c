//! OAuth client registration and tokens, in the shape Mastodon clients use.

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::Json;
use base64::prelude::{Engine, BASE64_STANDARD};
use roost_core::query;
use roost_service::oauth::{self, NewApp, SCOPES_SUPPORTED};
use serde::Deserialize;

use crate::auth::{Authenticated, ClientIp};
use crate::entities::{self, AppJson};
use crate::error::{ApiError, ApiResult, INVALID_GRANT};
use crate::params::{de, Input};
use crate::written::Written;
use crate::AppState;

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
    let new = NewApp { name: p.client_name, redirect_uris: p.redirect_uris, scopes: p.scopes, website: p.website };
    let (app, secret, index) = oauth::register_app(state.service(), from, new).await?;
    Ok(Written(Json(entities::app(&app, Some(secret))), index))
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

pub async fn token(
    State(state): State<AppState>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    Input(p): Input<TokenRequest>,
) -> ApiResult<Written<Json<serde_json::Value>>> {
    let svc = state.service();
    let (client_id, secret) = match basic_credentials(&headers) {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (p.client_id.clone(), p.client_secret.clone()),
    };
    // A public client (no secret) may only redeem a code it proves with PKCE.
    let public_code_grant = p.grant_type.as_deref() == Some("authorization_code") && secret.is_none();
    let (app, client_authenticated) = if public_code_grant {
        let view = state.node().read()?;
        let app = client_id.as_deref().map(|id| query::app(&view, id)).transpose()?.flatten();
        (app.ok_or_else(oauth::bad_client)?, false)
    } else {
        (oauth::authenticate_client(svc, client_id.as_deref(), secret.as_deref())?, true)
    };
    // A code carries the scopes the member consented to; a `scope` parameter does not change them.
    if p.grant_type.as_deref() == Some("authorization_code") {
        let code = p.code.ok_or_else(|| ApiError::OAuth("invalid_request", "code is missing".into()))?;
        let (token, scopes, index) = oauth::redeem_code(
            svc,
            &app,
            client_authenticated,
            &code,
            p.redirect_uri.as_deref(),
            p.code_verifier.as_deref(),
        )
        .await?;
        return Ok(Written(token_json(&token, &scopes), index));
    }
    let scopes = oauth::requested_scopes(&app, p.scope.as_deref())
        .map_err(|why| ApiError::OAuth("invalid_scope", why.into()))?;
    let account = match p.grant_type.as_deref() {
        Some("password") => {
            let (Some(login), Some(password)) = (p.username, p.password) else { return Err(invalid_grant()) };
            let account = roost_service::sign_in::sign_in(svc, &login, password, from).await?;
            Some(account.ok_or_else(invalid_grant)?.id)
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
    let (token, index) = oauth::issue_token(svc, &app, account, scopes.clone()).await?;
    Ok(Written(token_json(&token, &scopes), index))
}

/// The Token entity.
fn token_json(token: &str, scopes: &[String]) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "scope": scopes.join(" "),
        "created_at": roost_service::now_ms() / 1000,
    }))
}

fn invalid_grant() -> ApiError {
    ApiError::OAuth("invalid_grant", INVALID_GRANT.into())
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
    let app = oauth::authenticate_client(state.service(), p.client_id.as_deref(), p.client_secret.as_deref())?;
    let Some(token) = p.token else {
        return Err(ApiError::OAuth("invalid_request", "token is missing".into()));
    };
    oauth::revoke(state.service(), &app, &token).await?;
    Ok(Json(serde_json::json!({})))
}

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
