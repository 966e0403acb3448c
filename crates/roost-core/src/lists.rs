//! Lists: a member's own groupings of accounts they follow, each with a timeline.
//!
//! A list timeline is read by merging its members' posts (`query::list_timeline`), so it needs
//! no index of its own and is never out of date; lists are small ([`MAX_LIST_MEMBERS`]).

use roost_types::{Id, Millis, Outcome, Rejection, RepliesPolicy, MAX_LISTS, MAX_LIST_MEMBERS};

use crate::ids::next_id;
use crate::kv::{collect_keys, delete_prefix, get_value, k1, k2, put_value, read_u64, Table, Tables};
use crate::model::List;
use crate::visibility::follows;
use crate::{query, Result};

fn owned(t: &impl Tables, account: Id, list: Id) -> Result<Option<List>> {
    get_value(t, Table::List, &k2(account, list))
}

fn k3(a: Id, b: Id, c: Id) -> Vec<u8> {
    let mut k = k2(a, b).to_vec();
    k.extend_from_slice(&c.to_be_bytes());
    k
}

pub(crate) fn create(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    title: &str,
    replies_policy: RepliesPolicy,
    exclusive: bool,
) -> Result<Outcome> {
    if query::account(t, account)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    if collect_keys(t, Table::List, &k1(account), MAX_LISTS)?.len() >= MAX_LISTS {
        return Ok(Outcome::Rejected(Rejection::LimitReached));
    }
    let id = next_id(t, at)?;
    put_value(t, Table::List, &k2(account, id), &List { id, title: title.to_string(), replies_policy, exclusive })?;
    Ok(Outcome::created(id))
}

pub(crate) fn update(
    t: &mut impl Tables,
    account: Id,
    list: Id,
    title: &str,
    replies_policy: RepliesPolicy,
    exclusive: bool,
) -> Result<Outcome> {
    if owned(t, account, list)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    put_value(
        t,
        Table::List,
        &k2(account, list),
        &List { id: list, title: title.to_string(), replies_policy, exclusive },
    )?;
    Ok(Outcome::created(list))
}

pub(crate) fn delete(t: &mut impl Tables, account: Id, list: Id) -> Result<Outcome> {
    if owned(t, account, list)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    for key in collect_keys(t, Table::ListMember, &k1(list), usize::MAX)? {
        t.delete(Table::ListsOf, &k3(account, read_u64(&key, 8)?, list))?;
    }
    delete_prefix(t, Table::ListMember, &k1(list))?;
    t.delete(Table::List, &k2(account, list))?;
    Ok(Outcome::done())
}

pub(crate) fn add(t: &mut impl Tables, account: Id, list: Id, members: &[Id]) -> Result<Outcome> {
    if owned(t, account, list)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    for &m in members {
        if query::account(t, m)?.is_none() {
            return Ok(Outcome::Rejected(Rejection::NotFound));
        }
        if !follows(t, account, m)? {
            return Ok(Outcome::Rejected(Rejection::NotFollowed));
        }
    }
    let mut new = Vec::new();
    for &m in members {
        if !new.contains(&m) && t.get(Table::ListMember, &k2(list, m))?.is_none() {
            new.push(m);
        }
    }
    let present = collect_keys(t, Table::ListMember, &k1(list), MAX_LIST_MEMBERS + 1)?.len();
    if present + new.len() > MAX_LIST_MEMBERS {
        return Ok(Outcome::Rejected(Rejection::LimitReached));
    }
    for m in new {
        t.put(Table::ListMember, &k2(list, m), &[])?;
        t.put(Table::ListsOf, &k3(account, m, list), &[])?;
    }
    Ok(Outcome::done())
}

pub(crate) fn remove(t: &mut impl Tables, account: Id, list: Id, members: &[Id]) -> Result<Outcome> {
    if owned(t, account, list)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    for &m in members {
        t.delete(Table::ListMember, &k2(list, m))?;
        t.delete(Table::ListsOf, &k3(account, m, list))?;
    }
    Ok(Outcome::done())
}

/// Takes `member` out of all of `owner`'s lists (when the owner stops following them).
pub(crate) fn forget_member(t: &mut impl Tables, owner: Id, member: Id) -> Result<()> {
    for key in collect_keys(t, Table::ListsOf, &k2(owner, member), usize::MAX)? {
        let list = read_u64(&key, 16)?;
        t.delete(Table::ListMember, &k2(list, member))?;
        t.delete(Table::ListsOf, &key)?;
    }
    Ok(())
}
