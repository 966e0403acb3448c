//! Sessions of the web app: a signed-in member holds a token of the web client, the same kind
//! of token an OAuth app holds, so that every rule about tokens (revoking, pruning, suspending)
//! covers both.

use roost_core::query;
use roost_types::{Actor, Command, Id, Via};

use crate::tokens::{random_token, token_hash};
use crate::write::propose;
use crate::{ActorExt, Result, Service, WEB_CLIENT_ID};

/// Scopes a web session holds: everything a member can do.
pub const WEB_SCOPES: [&str; 4] = ["read", "write", "follow", "push"];

/// Issues a session token of the web client to a member who just proved who they are
/// (registering the client on first use). The token is returned once; only its hash is kept.
pub async fn start_web_session(svc: &Service, account: Id) -> Result<String> {
    let by = Actor::member(account, Via::Web);
    let scopes: Vec<String> = WEB_SCOPES.iter().map(|s| s.to_string()).collect();
    if query::app(&svc.read()?, WEB_CLIENT_ID)?.is_none() {
        let command = Command::CreateApp {
            client_id: WEB_CLIENT_ID.into(),
            // Nobody holds this secret: the web client signs members in itself.
            client_secret_hash: token_hash(&random_token()),
            name: "Roost web".into(),
            website: None,
            redirect_uris: Vec::new(),
            scopes: scopes.clone(),
        };
        propose(svc, &by, command).await?;
    }
    let token = random_token();
    let command = Command::IssueToken {
        token_hash: token_hash(&token),
        client_id: WEB_CLIENT_ID.into(),
        account: Some(account),
        scopes,
    };
    propose(svc, &by, command).await?;
    Ok(token)
}

/// Ends one of the actor's own sessions or app tokens (the settings page's list, or signing
/// out); anyone else's is not found.
pub async fn revoke_own(svc: &Service, by: &Actor, token_hash: [u8; 32]) -> Result<()> {
    let account = crate::write::member(by)?;
    let mine = query::account_tokens(&svc.read()?, account)?.iter().any(|(h, _)| *h == token_hash);
    if !mine {
        return Err(crate::Error::NotFound);
    }
    propose(svc, by, Command::RevokeToken { token_hash }).await?;
    Ok(())
}
