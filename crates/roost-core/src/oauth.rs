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
    put_value(t, Table::App, client_id.as_bytes(), &app)?;
    Ok(Outcome::done())
}

pub(crate) fn issue_token(
    t: &mut impl Tables,
    at: Millis,
    token_hash: &[u8; 32],
    client_id: &str,
    account: Option<Id>,
    scopes: &[String],
) -> Result<Outcome> {
    if query::app(t, client_id)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::UnknownClient));
    }
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
    let token = Token { client_id: client_id.to_string(), account, scopes: scopes.to_vec(), created_at: at };
    put_token(t, token_hash, &token)?;
    Ok(Outcome::done())
}

/// Stores a token, indexed under its account.
fn put_token(t: &mut impl Tables, token_hash: &[u8; 32], token: &Token) -> Result<()> {
    put_value(t, Table::Token, token_hash, token)?;
    if let Some(a) = token.account {
        t.put(Table::AccountToken, &account_token_key(a, token_hash), &[])?;
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
        if let Some(a) = token.account {
            t.delete(Table::AccountToken, &account_token_key(a, token_hash))?;
        }
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
    let token = Token { client_id: code.client_id, account: Some(code.account), scopes: code.scopes, created_at: at };
    put_token(t, token_hash, &token)?;
    Ok(Outcome::done())
}
