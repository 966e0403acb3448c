//! Accounts: creating them (by the operator, a first sign-up, an invite), invites, and the
//! rules of a profile's text.

use roost_core::query;
use roost_core::text::{self, Limit};
use roost_types::{Actor, Command, Id, Role};

use crate::hooks::AccountDraft;
use crate::passwords::{hash_password, validate_password};
use crate::write::{created_id, propose, protocol};
use crate::{now_ms, Error, Result, Service};

/// A display name: one line of 30 characters, as on Mastodon.
pub const DISPLAY_NAME: Limit = Limit::chars(30);
/// A bio: 500 characters, as on Mastodon.
pub const NOTE: Limit = Limit::chars(500);
/// A profile field's name or value: 255 characters, as on Mastodon.
pub const PROFILE_FIELD: Limit = Limit::chars(roost_types::MAX_PROFILE_FIELD_CHARS);
/// Longest email address (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;

/// What an operator or an invite supplies to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub password: String,
    pub role: Option<Role>,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

/// Refuses a string beyond its limit, naming the field.
pub fn limited(field: &str, s: &str, limit: Limit) -> Result<()> {
    if limit.admits(s) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "Validation failed: {field} is too long (at most {} characters and {} bytes)",
        limit.chars, limit.bytes
    )))
}

/// A display name as stored: one line (see `text::clean_line`), within [`DISPLAY_NAME`].
pub fn display_name(raw: &str) -> Result<String> {
    let name = text::clean_line(raw);
    limited("Display name", &name, DISPLAY_NAME)?;
    Ok(name)
}

/// A bio as stored: lines as typed (see `text::clean_multiline`), within [`NOTE`].
pub fn bio(raw: &str) -> Result<String> {
    let note = text::clean_multiline(raw).trim().to_string();
    limited("Note", &note, NOTE)?;
    Ok(note)
}

/// Every rule an account must meet before it is made, however it is made: its fields fit
/// (username, password, display name, email), then the sign-up hook.
async fn admit(svc: &Service, by: &Actor, new: &NewAccount, by_invite: bool) -> Result<()> {
    if !text::valid_username(&new.username) {
        return Err(Error::invalid("Validation failed: Username must be 1 to 30 letters, digits or underscores"));
    }
    validate_password(&new.password)?;
    if let Some(d) = &new.display_name {
        if display_name(d)? != *d {
            return Err(Error::invalid("Validation failed: Display name must be one line of text"));
        }
    }
    if let Some(e) = &new.email {
        if e.len() > MAX_EMAIL || !e.contains('@') || e.chars().any(char::is_whitespace) {
            return Err(Error::invalid("Validation failed: Email is invalid"));
        }
    }
    let draft = AccountDraft { username: &new.username, email: new.email.as_deref(), role: new.role, by_invite };
    svc.hooks().before_account(by, &draft).await
}

/// Validates and creates an account. Without a role, the state machine makes it the owner if
/// the instance has none yet, else a member (deciding it there is what keeps racing first
/// sign-ups from making several owners). Returns its ID, its role and the log index.
pub async fn create_account(svc: &Service, by: &Actor, new: NewAccount) -> Result<(Id, Role, u64)> {
    admit(svc, by, &new, false).await?;
    let password_hash = hash_password(svc, new.password).await?;
    let (username, email, display_name) = (new.username, new.email, new.display_name);
    let command = if protocol(svc)? >= 2 {
        Command::AddAccount { username, email, password_hash, role: new.role, display_name }
    } else {
        // During a rolling upgrade, as protocol 1 did it (the first account is decided here).
        let role = match new.role {
            Some(r) => r,
            None if query::has_accounts(&svc.read()?)? => Role::Member,
            None => Role::Owner,
        };
        Command::CreateAccount { username, email, password_hash, role, display_name }
    };
    let applied = propose(svc, by, command).await?;
    let id = created_id(&applied)?;
    let role = query::account(&svc.read()?, id)?.map_or(Role::Member, |a| a.role);
    Ok((id, role, applied.index))
}

/// The hash an invite code is stored under.
pub fn invite_hash(code: &str) -> [u8; 32] {
    *blake3::hash(code.as_bytes()).as_bytes()
}

/// Creates an invite link for `role`, made by `by` (the operator, or an admin). Returns the
/// invite's ID and the link, which holds the code: it is shown once, only its hash is kept.
pub async fn create_invite(
    svc: &Service,
    by: &Actor,
    role: Role,
    max_uses: Option<u32>,
    expires_in: Option<std::time::Duration>,
) -> Result<(Id, String)> {
    if max_uses == Some(0) {
        return Err(Error::invalid("An invite must allow at least one use"));
    }
    let expires_at = expires_in.map(|d| now_ms().saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
    // 128 bits are plenty for a link, and keep it short enough to paste.
    let code = crate::tokens::random_token()[..32].to_string();
    let command =
        Command::CreateInvite { code_hash: invite_hash(&code), created_by: by.account, role, max_uses, expires_at };
    let applied = propose(svc, by, command).await?;
    let url = format!("{}/invite/{code}", svc.config().public_url.trim_end_matches('/'));
    Ok((created_id(&applied)?, url))
}

/// Creates an account through an invite code; it gets the invite's role.
pub async fn create_account_by_invite(svc: &Service, by: &Actor, code: &str, new: NewAccount) -> Result<Id> {
    admit(svc, by, &new, true).await?;
    let code_hash = invite_hash(code);
    // Refuse a dead link before spending a password hash on it.
    if !query::invite_by_code(&svc.read()?, &code_hash)?.is_some_and(|i| i.usable(now_ms())) {
        return Err(Error::from_rejection(roost_types::Rejection::InvalidInvite));
    }
    let password_hash = hash_password(svc, new.password).await?;
    let command = Command::CreateAccountByInvite {
        code_hash,
        username: new.username,
        email: new.email,
        password_hash,
        display_name: new.display_name,
    };
    created_id(&propose(svc, by, command).await?)
}
