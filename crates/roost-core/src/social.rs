//! Follows, blocks and mutes between accounts.

use roost_types::{Id, Millis, Outcome, Rejection};

use crate::accounts::adjust;
use crate::effects::EffectSink;
use crate::ids::next_id;
use crate::kv::{get_value, k1, k2, put_value, read_u64, Table, Tables};
use crate::model::{Follow, Mute, NotificationKind};
use crate::notifications::notify;
use crate::statuses::merge_home;
use crate::visibility::blocked_either_way;
use crate::{query, Result};

/// Checks that both accounts exist and differ; the rejection otherwise.
fn pair(t: &impl Tables, account: Id, target: Id) -> Result<Option<Rejection>> {
    if account == target {
        return Ok(Some(Rejection::SelfAction));
    }
    if query::account(t, account)?.is_none() || query::account(t, target)?.is_none() {
        return Ok(Some(Rejection::NotFound));
    }
    Ok(None)
}

pub(crate) fn follow(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    target: Id,
    reblogs: bool,
    notify_posts: bool,
    fx: &mut dyn EffectSink,
) -> Result<Outcome> {
    if let Some(r) = pair(t, account, target)? {
        return Ok(Outcome::Rejected(r));
    }
    if blocked_either_way(t, account, target)? {
        return Ok(Outcome::Rejected(Rejection::Blocked));
    }
    if let Some(mut f) = get_value::<Follow>(t, Table::Follow, &k2(account, target))? {
        f.reblogs = reblogs;
        f.notify = notify_posts;
        put_value(t, Table::Follow, &k2(account, target), &f)?;
        set_notify(t, account, target, notify_posts)?;
        return Ok(Outcome::created(f.id));
    }
    let locked = query::account(t, target)?.is_some_and(|a| a.locked);
    if locked {
        // A locked account approves its followers: ask, or update the pending request.
        if let Some(mut r) = get_value::<Follow>(t, Table::FollowRequest, &k2(account, target))? {
            r.reblogs = reblogs;
            r.notify = notify_posts;
            put_value(t, Table::FollowRequest, &k2(account, target), &r)?;
            return Ok(Outcome::created(r.id));
        }
        let id = next_id(t, at)?;
        put_value(t, Table::FollowRequest, &k2(account, target), &Follow { id, reblogs, notify: notify_posts })?;
        t.put(Table::FollowRequestByTarget, &k2(target, id), &k1(account))?;
        notify(t, at, target, NotificationKind::FollowRequest, account, None, fx)?;
        return Ok(Outcome::created(id));
    }
    let id = start_follow(t, at, account, target, Follow { id: 0, reblogs, notify: notify_posts }, fx)?;
    notify(t, at, target, NotificationKind::Follow, account, None, fx)?;
    Ok(Outcome::created(id))
}

/// Records a follow (with a fresh ID), its counters and the posts it brings home.
fn start_follow(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    target: Id,
    flags: Follow,
    fx: &mut dyn EffectSink,
) -> Result<Id> {
    let id = next_id(t, at)?;
    put_value(t, Table::Follow, &k2(account, target), &Follow { id, ..flags })?;
    set_notify(t, account, target, flags.notify)?;
    t.put(Table::Following, &k2(account, id), &k1(target))?;
    t.put(Table::Followers, &k2(target, id), &k1(account))?;
    adjust(t, account, |a| a.following_count += 1)?;
    adjust(t, target, |a| a.followers_count += 1)?;
    merge_home(t, account, target, fx)?;
    Ok(id)
}

/// Keeps `Table::NotifyOf` in step with a follow's `notify` flag (from protocol 2 on).
fn set_notify(t: &mut impl Tables, follower: Id, target: Id, notify: bool) -> Result<()> {
    if notify && crate::protocol::at_least(t, 2)? {
        t.put(Table::NotifyOf, &k2(target, follower), &[])?;
    } else {
        t.delete(Table::NotifyOf, &k2(target, follower))?;
    }
    Ok(())
}

/// Removes a pending follow request; whether there was one, with its flags. From protocol 2
/// on, the `follow_request` notification it raised goes with it, as on Mastodon.
fn take_request(t: &mut impl Tables, requester: Id, target: Id) -> Result<Option<Follow>> {
    let Some(r) = get_value::<Follow>(t, Table::FollowRequest, &k2(requester, target))? else { return Ok(None) };
    t.delete(Table::FollowRequest, &k2(requester, target))?;
    t.delete(Table::FollowRequestByTarget, &k2(target, r.id))?;
    if crate::protocol::at_least(t, 2)? {
        forget_request_notification(t, target, requester, r.id)?;
    }
    Ok(Some(r))
}

/// Deletes the notification a follow request raised. `follow` creates it right after the
/// request, in the same command, so its ID is the request's plus one (IDs are issued one after
/// another); it is deleted only if it is that notification, from that requester.
fn forget_request_notification(t: &mut impl Tables, target: Id, requester: Id, request: Id) -> Result<()> {
    let key = k2(target, request.saturating_add(1));
    if let Some(n) = get_value::<crate::model::Notification>(t, Table::Notification, &key)? {
        if n.kind == NotificationKind::FollowRequest && n.from == requester {
            t.delete(Table::Notification, &key)?;
        }
    }
    Ok(())
}

pub(crate) fn authorize_request(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    requester: Id,
    fx: &mut dyn EffectSink,
) -> Result<Outcome> {
    if let Some(r) = pair(t, account, requester)? {
        return Ok(Outcome::Rejected(r));
    }
    let Some(request) = take_request(t, requester, account)? else {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    };
    let id = start_follow(t, at, requester, account, request, fx)?;
    Ok(Outcome::created(id))
}

pub(crate) fn reject_request(t: &mut impl Tables, account: Id, requester: Id) -> Result<Outcome> {
    if let Some(r) = pair(t, account, requester)? {
        return Ok(Outcome::Rejected(r));
    }
    match take_request(t, requester, account)? {
        Some(_) => Ok(Outcome::done()),
        None => Ok(Outcome::Rejected(Rejection::NotFound)),
    }
}

/// Accepts every pending request to `account` (when it unlocks), oldest first.
pub(crate) fn authorize_all_requests(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    fx: &mut dyn EffectSink,
) -> Result<()> {
    let keys = crate::kv::collect_keys(t, Table::FollowRequestByTarget, &k1(account), usize::MAX)?;
    for key in keys {
        if let Some(v) = t.get(Table::FollowRequestByTarget, &key)? {
            let requester = read_u64(&v, 0)?;
            if let Some(request) = take_request(t, requester, account)? {
                start_follow(t, at, requester, account, request, fx)?;
            }
        }
    }
    Ok(())
}

pub(crate) fn unfollow(t: &mut impl Tables, account: Id, target: Id) -> Result<Outcome> {
    if let Some(r) = pair(t, account, target)? {
        return Ok(Outcome::Rejected(r));
    }
    remove_follow(t, account, target)?;
    // Unfollowing withdraws a request that was still waiting.
    take_request(t, account, target)?;
    Ok(Outcome::done())
}

/// Ends a follow if there is one, with its counters and home-timeline entries.
fn remove_follow(t: &mut impl Tables, account: Id, target: Id) -> Result<()> {
    if let Some(f) = get_value::<Follow>(t, Table::Follow, &k2(account, target))? {
        t.delete(Table::Follow, &k2(account, target))?;
        t.delete(Table::Following, &k2(account, f.id))?;
        t.delete(Table::Followers, &k2(target, f.id))?;
        t.delete(Table::NotifyOf, &k2(target, account))?;
        adjust(t, account, |a| a.following_count = a.following_count.saturating_sub(1))?;
        adjust(t, target, |a| a.followers_count = a.followers_count.saturating_sub(1))?;
        // Lists hold only followed accounts.
        crate::lists::forget_member(t, account, target)?;
    }
    Ok(())
}

pub(crate) fn block(t: &mut impl Tables, at: Millis, account: Id, target: Id) -> Result<Outcome> {
    if let Some(r) = pair(t, account, target)? {
        return Ok(Outcome::Rejected(r));
    }
    if t.get(Table::Block, &k2(account, target))?.is_some() {
        return Ok(Outcome::done());
    }
    remove_follow(t, account, target)?;
    remove_follow(t, target, account)?;
    take_request(t, account, target)?;
    take_request(t, target, account)?;
    let id = next_id(t, at)?;
    t.put(Table::Block, &k2(account, target), &k1(id))?;
    t.put(Table::BlockedBy, &k2(target, account), &k1(id))?;
    t.put(Table::BlockByAccount, &k2(account, id), &k1(target))?;
    Ok(Outcome::created(id))
}

pub(crate) fn unblock(t: &mut impl Tables, account: Id, target: Id) -> Result<Outcome> {
    if let Some(r) = pair(t, account, target)? {
        return Ok(Outcome::Rejected(r));
    }
    if let Some(v) = t.get(Table::Block, &k2(account, target))? {
        t.delete(Table::Block, &k2(account, target))?;
        t.delete(Table::BlockedBy, &k2(target, account))?;
        t.delete(Table::BlockByAccount, &k2(account, read_u64(&v, 0)?))?;
    }
    Ok(Outcome::done())
}

pub(crate) fn mute(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    target: Id,
    notifications: bool,
    expires_at: Option<Millis>,
) -> Result<Outcome> {
    if let Some(r) = pair(t, account, target)? {
        return Ok(Outcome::Rejected(r));
    }
    let id = match get_value::<Mute>(t, Table::Mute, &k2(account, target))? {
        Some(m) => {
            if let Some(e) = m.expires_at {
                t.delete(Table::MuteExpiry, &expiry_key(e, account, target))?;
            }
            m.id
        }
        None => {
            let id = next_id(t, at)?;
            t.put(Table::MuteByAccount, &k2(account, id), &k1(target))?;
            id
        }
    };
    put_value(t, Table::Mute, &k2(account, target), &Mute { id, notifications, expires_at })?;
    if let Some(e) = expires_at {
        t.put(Table::MuteExpiry, &expiry_key(e, account, target), &[])?;
    }
    Ok(Outcome::created(id))
}

fn expiry_key(at: Millis, account: Id, target: Id) -> Vec<u8> {
    let mut k = (at.max(0) as u64).to_be_bytes().to_vec();
    k.extend_from_slice(&k2(account, target));
    k
}

pub(crate) fn unmute(t: &mut impl Tables, account: Id, target: Id) -> Result<Outcome> {
    if let Some(r) = pair(t, account, target)? {
        return Ok(Outcome::Rejected(r));
    }
    remove_mute(t, account, target)?;
    Ok(Outcome::done())
}

fn remove_mute(t: &mut impl Tables, account: Id, target: Id) -> Result<()> {
    if let Some(m) = get_value::<Mute>(t, Table::Mute, &k2(account, target))? {
        t.delete(Table::Mute, &k2(account, target))?;
        t.delete(Table::MuteByAccount, &k2(account, m.id))?;
        if let Some(e) = m.expires_at {
            t.delete(Table::MuteExpiry, &expiry_key(e, account, target))?;
        }
    }
    Ok(())
}

/// Mutes lifted per command at most, so that one command never does unbounded work.
const EXPIRIES_PER_COMMAND: usize = 64;

/// Lifts the mutes whose time has come by `at` (the time of the command being applied): runs
/// before every command, so expiry follows the log's clock on every replica.
pub(crate) fn expire_mutes(t: &mut impl Tables, at: Millis) -> Result<()> {
    let end = ((at.max(0) as u64).saturating_add(1)).to_be_bytes();
    let mut due = Vec::new();
    t.scan(
        Table::MuteExpiry,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Excluded(&end),
        crate::kv::Dir::Forward,
        &mut |k, _| {
            due.push((read_u64(k, 8)?, read_u64(k, 16)?));
            Ok(due.len() < EXPIRIES_PER_COMMAND)
        },
    )?;
    for (account, target) in due {
        remove_mute(t, account, target)?;
    }
    Ok(())
}

/// The key of (account, tag) in `Table::FollowedTag`.
pub(crate) fn followed_tag_key(account: Id, tag: &str) -> Vec<u8> {
    let mut k = k1(account).to_vec();
    k.extend_from_slice(tag.as_bytes());
    k
}

pub(crate) fn follow_tag(t: &mut impl Tables, at: Millis, account: Id, tag: &str) -> Result<Outcome> {
    if query::account(t, account)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    let tag = tag.to_lowercase();
    if t.get(Table::FollowedTag, &followed_tag_key(account, &tag))?.is_some() {
        return Ok(Outcome::done());
    }
    let id = next_id(t, at)?;
    t.put(Table::FollowedTag, &followed_tag_key(account, &tag), &k1(id))?;
    t.put(Table::FollowedTagByAccount, &k2(account, id), tag.as_bytes())?;
    t.put(Table::TagFollowers, &crate::kv::ks(&tag, account), &[])?;
    Ok(Outcome::created(id))
}

pub(crate) fn unfollow_tag(t: &mut impl Tables, account: Id, tag: &str) -> Result<Outcome> {
    let tag = tag.to_lowercase();
    if let Some(v) = t.get(Table::FollowedTag, &followed_tag_key(account, &tag))? {
        t.delete(Table::FollowedTag, &followed_tag_key(account, &tag))?;
        t.delete(Table::FollowedTagByAccount, &k2(account, read_u64(&v, 0)?))?;
        t.delete(Table::TagFollowers, &crate::kv::ks(&tag, account))?;
    }
    Ok(Outcome::done())
}

pub(crate) fn report(
    t: &mut impl Tables,
    at: Millis,
    reporter: Id,
    target: Id,
    statuses: &[Id],
    comment: &str,
    category: roost_types::ReportCategory,
) -> Result<Outcome> {
    // From protocol 2 on, a member may report their own account, as on Mastodon (to draw the
    // moderators' attention to it, say after losing control of it).
    let own = reporter == target && crate::protocol::at_least(t, 2)?;
    if !own {
        if let Some(r) = pair(t, reporter, target)? {
            return Ok(Outcome::Rejected(r));
        }
    } else if query::account(t, target)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    // Only the target's posts that the reporter can see may be named.
    for &id in statuses {
        match query::status(t, id)? {
            Some(s) if s.author == target && crate::visibility::can_see(t, reporter, &s)? => {}
            _ => return Ok(Outcome::Rejected(Rejection::NotFound)),
        }
    }
    let id = next_id(t, at)?;
    let report = crate::model::Report {
        id,
        reporter,
        target,
        statuses: statuses.to_vec(),
        comment: comment.to_string(),
        category,
        created_at: at,
        resolved: false,
    };
    put_value(t, Table::Report, &k1(id), &report)?;
    t.put(Table::OpenReport, &k1(id), &[])?;
    Ok(Outcome::created(id))
}
