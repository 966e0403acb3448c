//! OAuth client applications and bearer tokens. Secrets and tokens are stored only as hashes.

use roost_types::{Id, Millis, Outcome, Rejection, AUTH_CODE_LIFETIME_MS};

use crate::kv::{get_value, k1, put_value, Table, Tables};
use crate::model::{App, AuthCode, Token};
use crate::{query, Result};

#[allow(clippy::too_many_arguments)]
pub(crate) fn create_app(
    t: &mut impl Tables,
    at: Millis,
    client_id: &str,
    client_secret_hash: &[u8; 32],
    name: &str,
    website: &Option<String>,
    redirect_uris: &[String],
    scopes: &[String],
) -> Result<Outcome> {
    let app = App {
        client_id: client_id.to_string(),
        client_secret_hash: *client_secret_hash,
        name: name.to_string(),
        website: website.clone(),
        redirect_uris: redirect_uris.to_vec(),
        scopes: scopes.to_vec(),
        created_at: at,
    };
    // From protocol 2 on, an app is "unused" until a member signs in to it, and unused apps
    // are bounded in number and expire (see `tick`): registering needs no account.
    if crate::protocol::at_least(t, 2)? && query::app(t, client_id)?.is_none() {
        if crate::ids::counter(t, UNUSED_APPS)? >= roost_types::MAX_UNUSED_APPS as u64 {
            return Ok(Outcome::Rejected(Rejection::TooMany));
        }
        t.put(Table::AppPending, &pending_key(at, client_id), &[])?;
        crate::ids::bump(t, UNUSED_APPS, 1)?;
    }
    put_value(t, Table::App, client_id.as_bytes(), &app)?;
    Ok(Outcome::done())
}

/// Meta key: how many apps no member has signed in to yet (protocol 2).
const UNUSED_APPS: &[u8] = b"unused_apps";

fn pending_key(created_at: Millis, client_id: &str) -> Vec<u8> {
    let mut k = (created_at.max(0) as u64).to_be_bytes().to_vec();
    k.extend_from_slice(client_id.as_bytes());
    k
}

/// A member signed in to the app: it is kept from now on.
fn used_by_member(t: &mut impl Tables, app: &App) -> Result<()> {
    if t.delete(Table::AppPending, &pending_key(app.created_at, &app.client_id))? {
        crate::ids::bump(t, UNUSED_APPS, -1)?;
    }
    Ok(())
}

/// The key of an app's own token in `Table::AppOnlyToken`.
pub(crate) fn app_token_key(client_id: &str, token_hash: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(client_id.len() + 33);
    k.extend_from_slice(client_id.as_bytes());
    k.push(0);
    k.extend_from_slice(token_hash);
    k
}

/// Revokes the least recently used of `hashes` until at most `keep` remain.
fn prune(t: &mut impl Tables, hashes: Vec<[u8; 32]>, keep: usize) -> Result<()> {
    if hashes.len() <= keep {
        return Ok(());
    }
    let mut aged = Vec::with_capacity(hashes.len());
    for h in hashes {
        if let Some(token) = query::token(t, &h)? {
            aged.push((token.last_used, h));
        }
    }
    aged.sort_unstable();
    let excess = aged.len().saturating_sub(keep);
    for (_, h) in aged.into_iter().take(excess) {
        revoke_token(t, &h)?;
    }
    Ok(())
}

/// The tokens an app holds for itself.
fn app_token_hashes(t: &impl Tables, client_id: &str) -> Result<Vec<[u8; 32]>> {
    let mut prefix = client_id.as_bytes().to_vec();
    prefix.push(0);
    let keys = crate::kv::collect_keys(t, Table::AppOnlyToken, &prefix, usize::MAX)?;
    Ok(keys.iter().filter_map(|k| k.get(prefix.len()..).and_then(|h| <[u8; 32]>::try_from(h).ok())).collect())
}

/// Makes room for one more token of `account` (or, for `None`, of the app itself), from
/// protocol 2 on: the least recently used beyond the bound are revoked.
fn make_room(t: &mut impl Tables, app: &App, account: Option<Id>) -> Result<()> {
    match account {
        Some(a) => {
            used_by_member(t, app)?;
            let hashes = query::account_token_hashes(t, a)?;
            prune(t, hashes, roost_types::MAX_ACCOUNT_TOKENS - 1)
        }
        None => {
            let hashes = app_token_hashes(t, &app.client_id)?;
            prune(t, hashes, roost_types::MAX_APP_TOKENS - 1)
        }
    }
}

/// Records a token's use.
pub(crate) fn touch_token(t: &mut impl Tables, at: Millis, token_hash: &[u8; 32]) -> Result<Outcome> {
    let Some(mut token) = query::token(t, token_hash)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    token.last_used = token.last_used.max(at);
    put_value(t, Table::Token, token_hash, &token)?;
    Ok(Outcome::done())
}

/// Removes apps no member signed in to within [`roost_types::APP_UNUSED_LIFETIME_MS`] of
/// their registration, with their own tokens; at most `max` per call.
pub(crate) fn expire_unused_apps(t: &mut impl Tables, at: Millis, max: usize) -> Result<usize> {
    let cutoff = (at.saturating_sub(roost_types::APP_UNUSED_LIFETIME_MS).max(0) as u64).saturating_add(1);
    let end = cutoff.to_be_bytes();
    let mut due = Vec::new();
    t.scan(
        Table::AppPending,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Excluded(&end),
        crate::kv::Dir::Forward,
        &mut |k, _| {
            due.push(k.to_vec());
            Ok(due.len() < max)
        },
    )?;
    for key in &due {
        let client_id = String::from_utf8_lossy(key.get(8..).unwrap_or_default()).into_owned();
        for h in app_token_hashes(t, &client_id)? {
            revoke_token(t, &h)?;
        }
        t.delete(Table::App, client_id.as_bytes())?;
        t.delete(Table::AppPending, key)?;
        crate::ids::bump(t, UNUSED_APPS, -1)?;
    }
    Ok(due.len())
}

pub(crate) fn issue_token(
    t: &mut impl Tables,
    at: Millis,
    token_hash: &[u8; 32],
    client_id: &str,
    account: Option<Id>,
    scopes: &[String],
) -> Result<Outcome> {
    let Some(app) = query::app(t, client_id)? else {
        return Ok(Outcome::Rejected(Rejection::UnknownClient));
    };
    if let Some(a) = account {
        if query::account(t, a)?.is_none() {
            return Ok(Outcome::Rejected(Rejection::NotFound));
        }
    }
    if let Some(a) = account {
        if crate::admin::suspended(t, a)? {
            return Ok(Outcome::Rejected(Rejection::Forbidden));
        }
    }
    let token =
        Token { client_id: client_id.to_string(), account, scopes: scopes.to_vec(), created_at: at, last_used: at };
    put_token(t, &app, token_hash, &token)?;
    Ok(Outcome::done())
}

/// Stores a token, indexed under its account (or, for an app's own, under its app), after
/// making room for it.
fn put_token(t: &mut impl Tables, app: &App, token_hash: &[u8; 32], token: &Token) -> Result<()> {
    let v2 = crate::protocol::at_least(t, 2)?;
    if v2 {
        make_room(t, app, token.account)?;
    }
    put_value(t, Table::Token, token_hash, token)?;
    match token.account {
        Some(a) => t.put(Table::AccountToken, &account_token_key(a, token_hash), &[])?,
        None if v2 => t.put(Table::AppOnlyToken, &app_token_key(&token.client_id, token_hash), &[])?,
        None => {}
    }
    Ok(())
}

pub(crate) fn account_token_key(account: Id, token_hash: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(40);
    k.extend_from_slice(&k1(account));
    k.extend_from_slice(token_hash);
    k
}

pub(crate) fn revoke_token(t: &mut impl Tables, token_hash: &[u8; 32]) -> Result<Outcome> {
    if let Some(token) = query::token(t, token_hash)? {
        match token.account {
            Some(a) => t.delete(Table::AccountToken, &account_token_key(a, token_hash))?,
            None => t.delete(Table::AppOnlyToken, &app_token_key(&token.client_id, token_hash))?,
        };
    }
    t.delete(Table::Token, token_hash)?;
    Ok(Outcome::done())
}

/// Ends every token of an account (its sessions and authorised apps).
pub(crate) fn revoke_all(t: &mut impl Tables, account: Id) -> Result<()> {
    for hash in query::account_token_hashes(t, account)? {
        revoke_token(t, &hash)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn issue_auth_code(
    t: &mut impl Tables,
    at: Millis,
    code_hash: &[u8; 32],
    client_id: &str,
    account: Id,
    scopes: &[String],
    redirect_uri: &str,
    code_challenge: &Option<String>,
) -> Result<Outcome> {
    if query::app(t, client_id)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::UnknownClient));
    }
    if query::account(t, account)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    let code = AuthCode {
        client_id: client_id.to_string(),
        account,
        scopes: scopes.to_vec(),
        redirect_uri: redirect_uri.to_string(),
        code_challenge: code_challenge.clone(),
        expires_at: at.saturating_add(AUTH_CODE_LIFETIME_MS),
    };
    put_value(t, Table::AuthCode, code_hash, &code)?;
    Ok(Outcome::done())
}

/// Uses up a code and issues its token. A code is gone after one attempt, whatever the result,
/// so that a leaked code cannot be tried twice.
pub(crate) fn redeem_auth_code(
    t: &mut impl Tables,
    at: Millis,
    code_hash: &[u8; 32],
    client_id: &str,
    token_hash: &[u8; 32],
) -> Result<Outcome> {
    let Some(code) = get_value::<AuthCode>(t, Table::AuthCode, code_hash)? else {
        return Ok(Outcome::Rejected(Rejection::InvalidGrant));
    };
    t.delete(Table::AuthCode, code_hash)?;
    if code.client_id != client_id
        || at > code.expires_at
        || query::account(t, code.account)?.is_none()
        || crate::admin::suspended(t, code.account)?
    {
        return Ok(Outcome::Rejected(Rejection::InvalidGrant));
    }
    let Some(app) = query::app(t, &code.client_id)? else { return Ok(Outcome::Rejected(Rejection::InvalidGrant)) };
    let token = Token {
        client_id: code.client_id,
        account: Some(code.account),
        scopes: code.scopes,
        created_at: at,
        last_used: at,
    };
    put_token(t, &app, token_hash, &token)?;
    Ok(Outcome::done())
}
