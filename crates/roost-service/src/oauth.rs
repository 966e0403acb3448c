//! OAuth 2 (RFC 6749, with PKCE per RFC 7636): registering apps, authenticating them, issuing
//! tokens and authorization codes, redeeming codes, revoking tokens, and the rules of scopes
//! and redirect URIs. The Mastodon API's `/oauth/*` and `/api/v1/apps` handlers, the browser's
//! consent page, and later the agent interface all come here.

use std::net::IpAddr;
use std::time::Duration;

use base64::prelude::{Engine, BASE64_URL_SAFE_NO_PAD};
use roost_core::model::App;
use roost_core::query;
use roost_core::text::{self, Limit};
use roost_types::{Actor, Command, Id, Via};
use sha2::{Digest, Sha256};

use crate::accounts::limited;
use crate::sign_in::network_of;
use crate::tokens::{random_token, token_hash};
use crate::write::propose;
use crate::{ActorExt, Error, Result, Service};

/// An app's name: one line of 60 characters. Registering needs no account, and every app is
/// kept in the log, so every field of one is small.
const APP_NAME: Limit = Limit::chars(60);
/// An app's website: a URL of at most 256 bytes.
const MAX_WEBSITE: usize = 256;
/// Redirect URIs one app may register, and their total size.
const MAX_REDIRECT_URIS: usize = 5;
const MAX_REDIRECT_URIS_BYTES: usize = 2048;
/// The longest redirect URI an app may register.
pub const MAX_REDIRECT_URI: usize = 1024;
/// Scopes one request may name.
const MAX_SCOPES: usize = 32;
/// The out-of-band redirect URI: the code is shown to the member instead of redirected.
pub const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";
/// Schemes that run or read something in the browser instead of reaching an app.
const REFUSED_SCHEMES: [&str; 6] = ["javascript", "data", "file", "vbscript", "blob", "about"];

/// Every scope Roost grants, for the authorization server metadata.
pub const SCOPES_SUPPORTED: &[&str] = &[
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

/// Whether a scope is one Roost knows: `read`, `write`, `follow`, `push`, `profile`, `admin:read`,
/// `admin:write`, and their `:sub` forms.
pub fn valid_scope(s: &str) -> bool {
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

/// Space-separated scopes, or `read` when none are named; refused if any is unknown.
pub fn parse_scopes(raw: Option<&str>) -> Result<Vec<String>> {
    let scopes: Vec<String> = match raw {
        Some(s) if !s.trim().is_empty() => s.split_whitespace().map(str::to_string).collect(),
        _ => vec!["read".to_string()],
    };
    if scopes.len() > MAX_SCOPES || scopes.iter().any(|s| !valid_scope(s)) {
        return Err(Error::invalid("Validation failed: Scopes are invalid"));
    }
    Ok(scopes)
}

/// Whether an app registered with `registered` may receive `wanted`: the same scope, or a
/// sub-scope of a registered one (`read:statuses` under `read`).
pub fn scope_allowed(registered: &[String], wanted: &str) -> bool {
    registered.iter().any(|r| r == wanted || wanted.strip_prefix(r.as_str()).is_some_and(|rest| rest.starts_with(':')))
}

/// PKCE's S256 transform: base64url (unpadded) of the SHA-256 of the verifier.
pub fn pkce_s256(verifier: &str) -> String {
    BASE64_URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `uri` may be registered as an OAuth redirect URI: the out-of-band URI, or an
/// absolute URI without a fragment (RFC 6749 §3.1.2) whose every byte is visible ASCII — so
/// that, with the code and state added, it is always a valid `Location` header. Custom schemes
/// (`org.example.app://callback`) are what native apps use, and are fine.
pub fn check_redirect_uri(uri: &str) -> std::result::Result<(), &'static str> {
    if uri == OOB {
        return Ok(());
    }
    if uri.is_empty() || uri.len() > MAX_REDIRECT_URI {
        return Err("Redirect URI must be 1 to 1024 characters");
    }
    if !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("Redirect URI must not contain spaces, control or non-ASCII characters (percent-encode them)");
    }
    let parsed = url::Url::parse(uri).map_err(|_| "Redirect URI must be an absolute URI")?;
    if REFUSED_SCHEMES.contains(&parsed.scheme()) {
        return Err("Redirect URI must lead to an app, not run in the browser");
    }
    if parsed.fragment().is_some() {
        return Err("Redirect URI must not contain a fragment");
    }
    Ok(())
}

/// Apps registered per client network per hour. Registering needs no account, and an instance
/// keeps a bounded number of apps nobody has signed in to: without this, one address could fill
/// that bound and keep every new app out. Node-local, like the sign-in throttle.
pub struct AppRegistrations {
    per_network: crate::window::PerWindow<IpAddr>,
}

impl AppRegistrations {
    /// The default bound: enough for an office behind one address installing apps, not enough
    /// for one address to fill the instance's bound on unused apps.
    pub const DEFAULT_PER_HOUR: u32 = 30;
    pub const WINDOW: Duration = Duration::from_secs(3600);

    /// At most `per_window` registrations per network per [`AppRegistrations::WINDOW`] (0: no
    /// limit).
    pub fn new(per_window: u32) -> AppRegistrations {
        AppRegistrations { per_network: crate::window::PerWindow::new(per_window, Self::WINDOW) }
    }

    /// Counts a registration from `from`; refused (429) past the bound.
    pub fn register(&self, from: IpAddr) -> Result<()> {
        self.per_network.count(network_of(from))
    }
}

/// An app as its developer registers it.
#[derive(Debug, Clone, Default)]
pub struct NewApp {
    pub name: Option<String>,
    /// Redirect URIs; several may come in one value, one per line (Mastodon's form).
    pub redirect_uris: Vec<String>,
    pub scopes: Option<String>,
    pub website: Option<String>,
}

/// Registers an app from a client address (no account needed, so counted per network). The
/// app, its secret (shown once: only its hash is kept), and the log index.
pub async fn register_app(svc: &Service, from: IpAddr, new: NewApp) -> Result<(App, String, u64)> {
    let name = text::clean_line(new.name.as_deref().unwrap_or_default());
    if name.is_empty() {
        return Err(Error::invalid("Validation failed: Application name can't be blank"));
    }
    limited("Application name", &name, APP_NAME)?;
    // A URI never holds a space or a newline.
    let redirect_uris: Vec<String> = new
        .redirect_uris
        .iter()
        .flat_map(|s| s.split(['\n', ' ']))
        .map(|u| u.trim_end_matches('\r'))
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    if redirect_uris.is_empty() {
        return Err(Error::invalid("Validation failed: Redirect URI can't be blank"));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS
        || redirect_uris.iter().map(String::len).sum::<usize>() > MAX_REDIRECT_URIS_BYTES
    {
        return Err(Error::invalid(format!(
            "Validation failed: At most {MAX_REDIRECT_URIS} redirect URIs of {MAX_REDIRECT_URIS_BYTES} bytes in all"
        )));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri).map_err(|why| Error::invalid(format!("Validation failed: {why}")))?;
    }
    let website = new.website.filter(|w| !w.is_empty());
    if let Some(w) = &website {
        let web = w.starts_with("https://") || w.starts_with("http://");
        if w.len() > MAX_WEBSITE || !web || !w.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid(format!(
                "Validation failed: Website must be an http(s) URL of at most {MAX_WEBSITE} bytes"
            )));
        }
    }
    let scopes = parse_scopes(new.scopes.as_deref())?;
    // Counted only once the request is valid: a mistake does not use up the address's quota.
    svc.app_registrations().register(from)?;
    let client_id = random_token();
    let secret = random_token();
    let by = Actor::anonymous(Via::App { client_id: client_id.clone() });
    let command = Command::CreateApp {
        client_id: client_id.clone(),
        client_secret_hash: token_hash(&secret),
        name,
        website,
        redirect_uris,
        scopes,
    };
    let applied = propose(svc, &by, command).await?;
    let app = query::app(&svc.read()?, &client_id)?.ok_or_else(|| Error::Internal("app vanished".into()))?;
    Ok((app, secret, applied.index))
}

/// The refusal of a client that did not prove who it is.
pub fn bad_client() -> Error {
    Error::InvalidClient("Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.".into())
}

/// Checks a client's credentials; the app on success.
pub fn authenticate_client(svc: &Service, id: Option<&str>, secret: Option<&str>) -> Result<App> {
    let (Some(id), Some(secret)) = (id, secret) else { return Err(bad_client()) };
    let app = query::app(&svc.read()?, id)?.ok_or_else(bad_client)?;
    // Both sides are hashes of fixed length, so the comparison leaks nothing useful.
    if app.client_secret_hash != token_hash(secret) {
        return Err(bad_client());
    }
    Ok(app)
}

/// The scopes a token request asks of `app`: each known and registered by the app.
pub fn requested_scopes(app: &App, raw: Option<&str>) -> std::result::Result<Vec<String>, &'static str> {
    let scopes = parse_scopes(raw).map_err(|_| "The requested scope is invalid, unknown, or malformed.")?;
    if scopes.iter().any(|s| !scope_allowed(&app.scopes, s)) {
        return Err("The requested scope is not registered for this application.");
    }
    Ok(scopes)
}

/// Issues a token of `app` for `account` (a member who signed in with the password grant) or
/// for the app alone (client credentials). The token (shown once) and the log index.
pub async fn issue_token(svc: &Service, app: &App, account: Option<Id>, scopes: Vec<String>) -> Result<(String, u64)> {
    let token = random_token();
    let by = Actor { account, via: Via::App { client_id: app.client_id.clone() } };
    let command =
        Command::IssueToken { token_hash: token_hash(&token), client_id: app.client_id.clone(), account, scopes };
    let applied = propose(svc, &by, command).await?;
    Ok((token, applied.index))
}

/// What a member consented to on the authorization page, for an authorization code.
#[derive(Debug, Clone)]
pub struct Consent {
    pub account: Id,
    pub scopes: Vec<String>,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
}

/// Issues an authorization code for a member's consent; the code (shown once).
pub async fn issue_code(svc: &Service, app: &App, consent: Consent) -> Result<String> {
    let code = random_token();
    let by = Actor::member(consent.account, Via::App { client_id: app.client_id.clone() });
    let command = Command::IssueAuthCode {
        code_hash: token_hash(&code),
        client_id: app.client_id.clone(),
        account: consent.account,
        scopes: consent.scopes,
        redirect_uri: consent.redirect_uri,
        code_challenge: consent.code_challenge,
    };
    propose(svc, &by, command).await?;
    Ok(code)
}

/// The `authorization_code` grant: the code must be this client's, name the redirect URI it was
/// issued for, and, when it was issued with a PKCE challenge, come with the matching verifier.
/// A client without a secret must use PKCE. The token, its scopes and the log index.
pub async fn redeem_code(
    svc: &Service,
    app: &App,
    client_authenticated: bool,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Result<(String, Vec<String>, u64)> {
    let code_hash = token_hash(code);
    let stored = query::auth_code(&svc.read()?, &code_hash)?.ok_or(Error::InvalidGrant)?;
    if stored.client_id != app.client_id || redirect_uri != Some(stored.redirect_uri.as_str()) {
        return Err(Error::InvalidGrant);
    }
    match (&stored.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) if pkce_s256(verifier) == *challenge => {}
        (Some(_), _) => return Err(Error::InvalidGrant),
        (None, _) if !client_authenticated => return Err(bad_client()),
        (None, _) => {}
    }
    let token = random_token();
    let by = Actor::member(stored.account, Via::App { client_id: app.client_id.clone() });
    let command =
        Command::RedeemAuthCode { code_hash, client_id: app.client_id.clone(), token_hash: token_hash(&token) };
    let applied = propose(svc, &by, command).await?;
    Ok((token, stored.scopes, applied.index))
}

/// Revokes a token the app holds (RFC 7009: an unknown token, or another client's, is answered
/// like a revoked one).
pub async fn revoke(svc: &Service, app: &App, token: &str) -> Result<()> {
    let hash = token_hash(token);
    let owned = query::token(&svc.read()?, &hash)?.is_some_and(|t| t.client_id == app.client_id);
    if owned {
        let by = Actor::anonymous(Via::App { client_id: app.client_id.clone() });
        propose(svc, &by, Command::RevokeToken { token_hash: hash }).await?;
    }
    Ok(())
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

    #[test]
    fn redirect_uris_that_apps_use_are_taken() {
        for ok in [
            OOB,
            "https://app.example/callback",
            "http://localhost:4000/oauth?x=1",
            "org.joinmastodon.app://oauth",
            "com.example.app:/callback",
            "elk://callback",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn redirect_uris_that_cannot_be_a_location_are_refused() {
        for bad in [
            "",
            "not a uri",
            "https://app.example/cb\r\nSet-Cookie: x=1",
            "https://app.example/\tcb",
            "https://app.example/caf\u{e9}",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://app.example/cb#frag",
            "/relative",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad:?}");
        }
        assert!(check_redirect_uri(&format!("https://a.example/{}", "x".repeat(MAX_REDIRECT_URI))).is_err());
    }
}
