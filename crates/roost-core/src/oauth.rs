//! OAuth client applications and bearer tokens. Secrets and tokens are stored only as hashes.

use roost_types::{Id, Millis, Outcome, Rejection};

use crate::kv::{put_value, Table, Tables};
use crate::model::{App, Token};
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
    let token = Token { client_id: client_id.to_string(), account, scopes: scopes.to_vec(), created_at: at };
    put_value(t, Table::Token, token_hash, &token)?;
    Ok(Outcome::done())
}

pub(crate) fn revoke_token(t: &mut impl Tables, token_hash: &[u8; 32]) -> Result<Outcome> {
    t.delete(Table::Token, token_hash)?;
    Ok(Outcome::done())
}
