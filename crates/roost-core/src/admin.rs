//! Running the network: invites, roles, suspensions, passwords, preferences, the reports queue.
//!
//! An `actor` of `None` is the operator at the server's command line (who may do anything but
//! make a second owner); an account acting must hold the role the action needs and outrank
//! whoever it acts on.

use roost_types::{Id, Millis, Outcome, Rejection, Role, Visibility, MAX_OPEN_INVITES};

use crate::ids::next_id;
use crate::kv::{get_value, k1, put_value, Table, Tables};
use crate::model::{Invite, Preferences, Report};
use crate::{accounts, query, Result};

pub(crate) fn suspended(t: &impl Tables, account: Id) -> Result<bool> {
    query::suspended(t, account)
}

/// The actor's role: `Owner`'s powers for the operator, `None` for an unknown or suspended account.
pub(crate) fn actor_role(t: &impl Tables, actor: Option<Id>) -> Result<Option<Role>> {
    let Some(id) = actor else { return Ok(Some(Role::Owner)) };
    if suspended(t, id)? {
        return Ok(None);
    }
    Ok(query::account(t, id)?.map(|a| a.role))
}

pub(crate) fn create_invite(
    t: &mut impl Tables,
    at: Millis,
    code_hash: &[u8; 32],
    created_by: Option<Id>,
    role: Role,
    max_uses: Option<u32>,
    expires_at: Option<Millis>,
) -> Result<Outcome> {
    let Some(actor) = actor_role(t, created_by)? else { return Ok(Outcome::Rejected(Rejection::Forbidden)) };
    // Nobody invites an owner; an admin hands out at most their own role.
    if role == Role::Owner || !actor.can_administer() || (created_by.is_some() && actor > role) {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    if t.get(Table::InviteCode, code_hash)?.is_some() {
        return Ok(Outcome::Rejected(Rejection::InvalidInvite));
    }
    let mut open = 0;
    t.scan(
        Table::Invite,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
        crate::kv::Dir::Forward,
        &mut |_, v| {
            let i: Invite = crate::kv::decode(v)?;
            if i.usable(at) {
                open += 1;
            }
            Ok(open < MAX_OPEN_INVITES)
        },
    )?;
    if open >= MAX_OPEN_INVITES {
        return Ok(Outcome::Rejected(Rejection::LimitReached));
    }
    let id = next_id(t, at)?;
    let invite = Invite {
        id,
        code_hash: *code_hash,
        created_by,
        role,
        max_uses,
        uses: 0,
        expires_at,
        created_at: at,
        revoked: false,
    };
    put_value(t, Table::Invite, &k1(id), &invite)?;
    t.put(Table::InviteCode, code_hash, &k1(id))?;
    Ok(Outcome::created(id))
}

pub(crate) fn revoke_invite(t: &mut impl Tables, actor: Option<Id>, invite: Id) -> Result<Outcome> {
    let Some(role) = actor_role(t, actor)? else { return Ok(Outcome::Rejected(Rejection::Forbidden)) };
    if !role.can_administer() {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    let Some(mut i) = get_value::<Invite>(t, Table::Invite, &k1(invite))? else {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    };
    // From protocol 2 on, an admin withdraws their own invites and those of lower ranks (the
    // operator's count as the owner's).
    if actor.is_some() && i.created_by != actor && crate::protocol::at_least(t, 2)? {
        let creator = actor_role(t, i.created_by)?.unwrap_or(Role::Member);
        if !role.outranks(creator) {
            return Ok(Outcome::Rejected(Rejection::Forbidden));
        }
    }
    i.revoked = true;
    put_value(t, Table::Invite, &k1(invite), &i)?;
    Ok(Outcome::done())
}

pub(crate) fn create_account_by_invite(
    t: &mut impl Tables,
    at: Millis,
    code_hash: &[u8; 32],
    username: &str,
    email: Option<&str>,
    password_hash: &str,
    display_name: Option<&str>,
) -> Result<Outcome> {
    let Some(mut invite) = query::invite_by_code(t, code_hash)? else {
        return Ok(Outcome::Rejected(Rejection::InvalidInvite));
    };
    if !invite.usable(at) {
        return Ok(Outcome::Rejected(Rejection::InvalidInvite));
    }
    let outcome = accounts::create(t, at, username, email, password_hash, invite.role, display_name)?;
    if matches!(outcome, Outcome::Done { id: Some(_) }) {
        invite.uses += 1;
        put_value(t, Table::Invite, &k1(invite.id), &invite)?;
    }
    Ok(outcome)
}

pub(crate) fn set_password(
    t: &mut impl Tables,
    account: Id,
    password_hash: &str,
    keep: Option<&[u8; 32]>,
) -> Result<Outcome> {
    let Some(mut a) = query::account(t, account)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    a.password_hash = password_hash.to_string();
    accounts::save(t, &a)?;
    // Whoever knew the old password is signed out everywhere else.
    for hash in query::account_token_hashes(t, account)? {
        if Some(&hash) != keep {
            crate::oauth::revoke_token(t, &hash)?;
        }
    }
    Ok(Outcome::done())
}

pub(crate) fn set_role(t: &mut impl Tables, actor: Option<Id>, account: Id, role: Role) -> Result<Outcome> {
    let Some(actor_role) = actor_role(t, actor)? else { return Ok(Outcome::Rejected(Rejection::Forbidden)) };
    let Some(mut a) = query::account(t, account)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if actor == Some(account) {
        return Ok(Outcome::Rejected(Rejection::SelfAction));
    }
    let allowed = role != Role::Owner
        && a.role != Role::Owner
        && actor_role.can_administer()
        && (actor.is_none() || (actor_role.outranks(a.role) && actor_role <= role));
    if !allowed {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    a.role = role;
    accounts::save(t, &a)?;
    Ok(Outcome::done())
}

/// Whether `actor` may act as a moderator on something of `account`'s (remove their posts):
/// a moderator who outranks them. The operator (`None`) may.
pub(crate) fn may_moderate(t: &impl Tables, actor: Option<Id>, account: Id) -> Result<bool> {
    let Some(role) = actor_role(t, actor)? else { return Ok(false) };
    if actor.is_none() {
        return Ok(true);
    }
    let target = query::account(t, account)?.map_or(Role::Member, |a| a.role);
    Ok(role.can_moderate() && role.outranks(target))
}

/// Whether `actor` may suspend or lift the suspension of `account`.
fn may_suspend(t: &impl Tables, actor: Option<Id>, account: Id) -> Result<std::result::Result<(), Rejection>> {
    let Some(role) = actor_role(t, actor)? else { return Ok(Err(Rejection::Forbidden)) };
    let Some(a) = query::account(t, account)? else { return Ok(Err(Rejection::NotFound)) };
    if actor == Some(account) {
        return Ok(Err(Rejection::SelfAction));
    }
    if a.role == Role::Owner || !role.can_moderate() || (actor.is_some() && !role.outranks(a.role)) {
        return Ok(Err(Rejection::Forbidden));
    }
    Ok(Ok(()))
}

pub(crate) fn suspend(t: &mut impl Tables, at: Millis, actor: Option<Id>, account: Id) -> Result<Outcome> {
    if let Err(r) = may_suspend(t, actor, account)? {
        return Ok(Outcome::Rejected(r));
    }
    put_value(t, Table::Suspended, &k1(account), &at)?;
    crate::oauth::revoke_all(t, account)?;
    Ok(Outcome::done())
}

pub(crate) fn unsuspend(t: &mut impl Tables, actor: Option<Id>, account: Id) -> Result<Outcome> {
    if let Err(r) = may_suspend(t, actor, account)? {
        return Ok(Outcome::Rejected(r));
    }
    t.delete(Table::Suspended, &k1(account))?;
    Ok(Outcome::done())
}

pub(crate) fn set_preferences(
    t: &mut impl Tables,
    account: Id,
    default_visibility: Visibility,
    default_sensitive: bool,
) -> Result<Outcome> {
    if query::account(t, account)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    let default_language = query::preferences(t, account)?.default_language;
    put_value(
        t,
        Table::Preferences,
        &k1(account),
        &Preferences { default_visibility, default_sensitive, default_language },
    )?;
    Ok(Outcome::done())
}

pub(crate) fn resolve_report(t: &mut impl Tables, actor: Id, report: Id) -> Result<Outcome> {
    let Some(role) = actor_role(t, Some(actor))?.filter(|r| r.can_moderate()) else {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    };
    let Some(mut r) = get_value::<Report>(t, Table::Report, &k1(report))? else {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    };
    // From protocol 2 on, a report is closed only by someone who outranks the reported account
    // (nobody closes the reports about themselves).
    if crate::protocol::at_least(t, 2)? {
        let target = query::account(t, r.target)?.map_or(Role::Member, |a| a.role);
        if r.target == actor || !role.outranks(target) {
            return Ok(Outcome::Rejected(Rejection::Forbidden));
        }
    }
    r.resolved = true;
    put_value(t, Table::Report, &k1(report), &r)?;
    t.delete(Table::OpenReport, &k1(report))?;
    Ok(Outcome::done())
}
