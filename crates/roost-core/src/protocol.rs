//! The protocol the cluster has activated, and what activating a protocol does to the state.
//!
//! A binary speaks [`roost_types::PROTOCOL`]; the state records the protocol the cluster turned
//! on (`Command::ActivateProtocol`, proposed by the leader once every member speaks it). Rules
//! that changed between protocols are applied the old way until the activation entry, so every
//! replica — and every auditor replaying the log — reaches the same state at the same index.
//!
//! Tables that a protocol introduces are written only once it is active, and filled from the
//! rest of the state by the activation itself: a node that upgraded early and one that upgraded
//! late hold the same bytes from the activation on.

use std::ops::Bound;

use roost_types::{Id, Millis, Outcome, Role, PROTOCOL};

use crate::kv::{decode, get_value, k2, put_value, Dir, ReadTables, Table, Tables};
use crate::model::{Account, Follow, Poll, Token};
use crate::{Error, Result};

const KEY: &[u8] = b"protocol";
/// The owner's account ID (written from protocol 2 on).
const OWNER: &[u8] = b"owner";

/// The protocol whose rules `apply` follows: 1 until the cluster activates a newer one.
pub fn active(t: &(impl ReadTables + ?Sized)) -> Result<u32> {
    Ok(get_value(t, Table::Meta, KEY)?.unwrap_or(1))
}

/// Whether the rules of protocol `version` (or a newer one) are in force.
pub(crate) fn at_least(t: &(impl ReadTables + ?Sized), version: u32) -> Result<bool> {
    Ok(active(t)? >= version)
}

/// The owner of the instance, once protocol 2 keeps track of it.
pub fn owner(t: &(impl ReadTables + ?Sized)) -> Result<Option<Id>> {
    get_value(t, Table::Meta, OWNER)
}

pub(crate) fn set_owner(t: &mut impl Tables, id: Id) -> Result<()> {
    put_value(t, Table::Meta, OWNER, &id)
}

/// Turns on `version` and every protocol before it that is not on yet. A log that activates a
/// protocol this binary does not speak cannot be applied: the node stops rather than diverge.
pub(crate) fn activate(t: &mut impl Tables, at: Millis, version: u32) -> Result<Outcome> {
    let current = active(t)?;
    if version > PROTOCOL {
        return Err(Error::Corrupt(format!(
            "the log activates protocol {version}, but this binary speaks only {PROTOCOL}: upgrade Roost"
        )));
    }
    if version <= current {
        return Ok(Outcome::done());
    }
    for v in current + 1..=version {
        if v == 2 {
            to_v2(t, at)?;
        }
    }
    put_value(t, Table::Meta, KEY, &version)?;
    Ok(Outcome::done())
}

/// Protocol 2 keeps one owner, lets members hear of every post of accounts they follow,
/// notifies voters when polls end, and bounds tokens per account and per app. Its tables are
/// filled from the state as it stands.
fn to_v2(t: &mut impl Tables, at: Millis) -> Result<()> {
    // Exactly one owner: the earliest; any other (made by racing first sign-ups before protocol
    // 2) becomes an admin.
    let mut owners: Vec<Account> = Vec::new();
    each(t, Table::Account, &mut |_, v| {
        let a: Account = decode(v)?;
        if a.role == Role::Owner {
            owners.push(a);
        }
        Ok(())
    })?;
    if let Some(first) = owners.first() {
        set_owner(t, first.id)?;
    }
    for mut extra in owners.into_iter().skip(1) {
        extra.role = Role::Admin;
        crate::accounts::save(t, &extra)?;
    }

    let mut notify = Vec::new();
    each(t, Table::Follow, &mut |k, v| {
        let f: Follow = decode(v)?;
        if f.notify {
            notify.push(k2(crate::kv::read_u64(k, 8)?, crate::kv::read_u64(k, 0)?));
        }
        Ok(())
    })?;
    for key in notify {
        t.put(Table::NotifyOf, &key, &[])?;
    }

    // Polls that end from now on notify; those that ended already stay quiet.
    let mut running = Vec::new();
    each(t, Table::Poll, &mut |k, v| {
        let p: Poll = decode(v)?;
        if p.expires_at > at {
            running.push(poll_end_key(p.expires_at, crate::kv::read_u64(k, 0)?));
        }
        Ok(())
    })?;
    for key in running {
        t.put(Table::PollEnd, &key, &[])?;
    }

    let mut app_only = Vec::new();
    each(t, Table::Token, &mut |k, v| {
        let token: Token = decode(v)?;
        if let (None, Ok(hash)) = (token.account, <[u8; 32]>::try_from(k)) {
            app_only.push(crate::oauth::app_token_key(&token.client_id, &hash));
        }
        Ok(())
    })?;
    for key in app_only {
        t.put(Table::AppOnlyToken, &key, &[])?;
    }
    Ok(())
}

/// The key of a running poll in `Table::PollEnd`.
pub(crate) fn poll_end_key(expires_at: Millis, status: Id) -> [u8; 16] {
    k2(expires_at.max(0) as u64, status)
}

/// What [`each`] calls with every key and value.
type Each<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// Visits every entry of a table.
fn each(t: &impl Tables, table: Table, f: &mut Each<'_>) -> Result<()> {
    t.scan(table, Bound::Unbounded, Bound::Unbounded, Dir::Forward, &mut |k, v| {
        f(k, v)?;
        Ok(true)
    })
}

/// The soonest moment something in the state falls due by the clock (a scheduled post, a poll
/// ending, a mute lifting, an unused app expiring), for the leader's timer; `None` if nothing
/// waits, or if protocol 2 (which brings the timer's command) is not active yet.
pub fn next_due(t: &(impl ReadTables + ?Sized)) -> Result<Option<Millis>> {
    if active(t)? < 2 {
        return Ok(None);
    }
    let first = |table: Table| -> Result<Option<Millis>> {
        let mut found = None;
        t.scan(table, Bound::Unbounded, Bound::Unbounded, Dir::Forward, &mut |k, _| {
            found = Some(crate::kv::read_u64(k, 0)? as Millis);
            Ok(false)
        })?;
        Ok(found)
    };
    let apps = first(Table::AppPending)?.map(|created| created.saturating_add(roost_types::APP_UNUSED_LIFETIME_MS));
    let due = [
        first(Table::ScheduledDue)?,
        first(Table::PollEnd)?,
        first(Table::MuteExpiry)?,
        apps,
        crate::once::next_forget(t)?,
        first(Table::MediaExpiry)?,
    ];
    Ok(due.into_iter().flatten().min())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemTables;

    #[test]
    fn activation_goes_up_only_and_refuses_what_this_binary_does_not_speak() {
        let mut t = MemTables::new();
        assert_eq!(active(&t).unwrap(), 1);
        activate(&mut t, 5, 2).unwrap();
        assert_eq!(active(&t).unwrap(), 2);
        activate(&mut t, 6, 1).unwrap();
        assert_eq!(active(&t).unwrap(), 2, "never lowered");
        assert!(activate(&mut t, 7, PROTOCOL + 1).is_err());
    }
}
