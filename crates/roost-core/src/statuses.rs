//! Posting, deleting, and the interactions with a post: favourite, reblog, bookmark.

use std::ops::Bound;

use roost_types::{Id, Millis, NewPoll, NewStatus, Outcome, Rejection, Visibility};

use crate::accounts::adjust;
use crate::effects::{EffectSink, Event};
use crate::ids::next_id;
use crate::kv::{
    bound_ref, collect_keys, delete_prefix, get_value, k1, k2, ks, prefix_bounds, put_value, read_u64, Dir, Table,
    Tables,
};
use crate::model::{NotificationKind, Status};
use crate::notifications::notify;
use crate::query::{self, idempotency_key};
use crate::visibility::can_see;
use crate::{text, Result};

/// Resolves a reblog to the post it shares; other posts to themselves.
fn original(t: &impl Tables, s: Status) -> Result<Option<Status>> {
    match s.reblog_of {
        Some(o) => query::status(t, o),
        None => Ok(Some(s)),
    }
}

/// A post the actor may see, resolved through reblogs, or why not.
fn target(t: &impl Tables, actor: Id, id: Id, missing: Rejection) -> Result<Result<Status, Rejection>> {
    let Some(s) = query::status(t, id)? else { return Ok(Err(missing)) };
    let Some(s) = original(t, s)? else { return Ok(Err(missing)) };
    if !can_see(t, actor, &s)? {
        return Ok(Err(Rejection::NotFound));
    }
    Ok(Ok(s))
}

pub(crate) fn create(t: &mut impl Tables, at: Millis, new: &NewStatus, fx: &mut dyn EffectSink) -> Result<Outcome> {
    let author = new.author;
    if query::account(t, author)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    if let Some(key) = &new.idempotency_key {
        if let Some(id) = query::idempotent_status(t, author, key)? {
            return Ok(Outcome::created(id));
        }
    }
    let parent = match new.in_reply_to {
        Some(p) => match target(t, author, p, Rejection::TargetDeleted)? {
            Ok(s) => Some(s),
            Err(r) => return Ok(Outcome::Rejected(r)),
        },
        None => None,
    };
    let quoted = match new.quote_of {
        Some(q) => match target(t, author, q, Rejection::TargetDeleted)? {
            Ok(s) if s.author != author && !matches!(s.visibility, Visibility::Public | Visibility::Unlisted) => {
                return Ok(Outcome::Rejected(Rejection::NotReblogable))
            }
            Ok(s) => Some(s),
            Err(r) => return Ok(Outcome::Rejected(r)),
        },
        None => None,
    };

    let mentions = resolve_mentions(t, &new.text)?;
    let tags = text::hashtags(&new.text);

    let id = next_id(t, at)?;
    let status = Status {
        id,
        author,
        created_at: at,
        text: new.text.clone(),
        spoiler_text: new.spoiler_text.clone(),
        sensitive: new.sensitive || !new.spoiler_text.is_empty(),
        visibility: new.visibility,
        language: new.language.clone(),
        in_reply_to: parent.as_ref().map(|p| p.id),
        in_reply_to_account: parent.as_ref().map(|p| p.author),
        quote_of: quoted.as_ref().map(|q| q.id),
        reblog_of: None,
        mentions,
        tags,
        replies_count: 0,
        reblogs_count: 0,
        favourites_count: 0,
        application: new.application.clone(),
        edited_at: None,
        poll: None,
        media: Vec::new(),
    };
    put_value(t, Table::Status, &k1(id), &status)?;
    crate::ids::bump(t, crate::ids::STATUS_COUNT, 1)?;
    t.put(Table::AccountStatuses, &k2(author, id), &[])?;
    adjust(t, author, |a| {
        a.statuses_count += 1;
        a.last_status_at = Some(at);
    })?;
    if let Some(key) = &new.idempotency_key {
        t.put(Table::Idempotency, &idempotency_key(author, key), &k1(id))?;
    }
    if let Some(p) = &parent {
        t.put(Table::Replies, &k2(p.id, id), &[])?;
        let mut p = p.clone();
        p.replies_count += 1;
        put_value(t, Table::Status, &k1(p.id), &p)?;
    }
    if status.visibility == Visibility::Public {
        t.put(Table::Public, &k1(id), &[])?;
        for tag in &status.tags {
            t.put(Table::Tag, &ks(tag, id), &[])?;
        }
    }
    let homes = fan_out(t, &status, fx)?;
    if status.visibility == Visibility::Direct {
        crate::conversations::add(t, &status, fx)?;
    }
    notify_subscribers(t, at, &status, &homes, fx)?;

    let mut notified = Vec::new();
    for &m in &status.mentions {
        if m != author {
            notify(t, at, m, NotificationKind::Mention, author, Some(id), fx)?;
            notified.push(m);
        }
    }
    // A reply notifies the author it answers even when the text does not name them.
    if let Some(pa) = status.in_reply_to_account {
        if pa != author && !notified.contains(&pa) && can_see(t, pa, &status)? {
            notify(t, at, pa, NotificationKind::Mention, author, Some(id), fx)?;
        }
    }
    if let Some(q) = &quoted {
        if q.author != author && can_see(t, q.author, &status)? {
            notify(t, at, q.author, NotificationKind::Quote, author, Some(id), fx)?;
        }
    }
    Ok(Outcome::created(id))
}

pub(crate) fn create_with_poll(
    t: &mut impl Tables,
    at: Millis,
    new: &NewStatus,
    poll: &NewPoll,
    fx: &mut dyn EffectSink,
) -> Result<Outcome> {
    let outcome = create(t, at, new, fx)?;
    let Outcome::Done { id: Some(id) } = outcome else { return Ok(outcome) };
    let Some(mut s) = query::status(t, id)? else { return Ok(outcome) };
    if s.poll.is_some() {
        return Ok(outcome); // an idempotent retry of a post that has its poll already
    }
    s.poll = Some(id);
    put_value(t, Table::Status, &k1(id), &s)?;
    let record = crate::model::Poll {
        options: poll.options.clone(),
        votes: vec![0; poll.options.len()],
        voters: 0,
        expires_at: poll.expires_at,
        multiple: poll.multiple,
        hide_totals: poll.hide_totals,
    };
    put_value(t, Table::Poll, &k1(id), &record)?;
    if crate::protocol::at_least(t, 2)? {
        t.put(Table::PollEnd, &crate::protocol::poll_end_key(poll.expires_at, id), &[])?;
    }
    Ok(outcome)
}

/// A post with pictures (protocol 4), perhaps with a poll: the pictures are checked before
/// anything is written, and attached once the post exists.
pub(crate) fn create_post(
    t: &mut impl Tables,
    at: Millis,
    new: &NewStatus,
    poll: Option<&NewPoll>,
    media: &[Id],
    fx: &mut dyn EffectSink,
) -> Result<Outcome> {
    if let Some(key) = &new.idempotency_key {
        if let Some(id) = query::idempotent_status(t, new.author, key)? {
            return Ok(Outcome::created(id));
        }
    }
    if let Some(r) = crate::media::refuse_attaching(t, new.author, media, None)? {
        return Ok(Outcome::Rejected(r));
    }
    let outcome = match poll {
        Some(p) => create_with_poll(t, at, new, p, fx)?,
        None => create(t, at, new, fx)?,
    };
    let Outcome::Done { id: Some(id) } = outcome else { return Ok(outcome) };
    let Some(mut s) = query::status(t, id)? else { return Ok(outcome) };
    crate::media::attach(t, id, media)?;
    s.media = media.to_vec();
    put_value(t, Table::Status, &k1(id), &s)?;
    Ok(outcome)
}

pub(crate) fn vote(t: &mut impl Tables, at: Millis, account: Id, poll: Id, choices: &[u32]) -> Result<Outcome> {
    let Some(s) = query::status(t, poll)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    let Some(mut p) = get_value::<crate::model::Poll>(t, Table::Poll, &k1(poll))? else {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    };
    if !can_see(t, account, &s)? {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    if at >= p.expires_at {
        return Ok(Outcome::Rejected(Rejection::PollExpired));
    }
    let v2 = crate::protocol::at_least(t, 2)?;
    // From protocol 2 on, as on Mastodon: authors do not vote in their own polls, and a voter in
    // a multiple-choice poll may come back for options they did not choose yet.
    if v2 && s.author == account {
        return Ok(Outcome::Rejected(Rejection::OwnPoll));
    }
    let before: Option<Vec<u32>> = get_value(t, Table::PollVote, &k2(poll, account))?;
    if before.is_some() && !(v2 && p.multiple) {
        return Ok(Outcome::Rejected(Rejection::AlreadyVoted));
    }
    let mut chosen: Vec<u32> = choices.to_vec();
    chosen.sort_unstable();
    chosen.dedup();
    let fits = !chosen.is_empty()
        && (p.multiple || chosen.len() == 1)
        && chosen.iter().all(|&c| (c as usize) < p.options.len());
    if !fits {
        return Ok(Outcome::Rejected(Rejection::InvalidChoice));
    }
    if before.as_ref().is_some_and(|b| chosen.iter().any(|c| b.contains(c))) {
        return Ok(Outcome::Rejected(Rejection::AlreadyVoted));
    }
    for &c in &chosen {
        if let Some(v) = p.votes.get_mut(c as usize) {
            *v += 1;
        }
    }
    let all = match before {
        Some(mut b) => {
            b.extend(&chosen);
            b.sort_unstable();
            b
        }
        None => {
            p.voters += 1;
            chosen
        }
    };
    put_value(t, Table::Poll, &k1(poll), &p)?;
    put_value(t, Table::PollVote, &k2(poll, account), &all)?;
    Ok(Outcome::created(poll))
}

/// The accounts a text mentions, in order of appearance, without repeats.
fn resolve_mentions(t: &impl Tables, text: &str) -> Result<Vec<Id>> {
    let mut mentions = Vec::new();
    for name in text::mentioned_usernames(text) {
        if let Some(a) = query::account_by_username(t, &name)? {
            if !mentions.contains(&a.id) {
                mentions.push(a.id);
            }
        }
    }
    Ok(mentions)
}

/// A post's new version, as an edit asks for it.
pub(crate) struct Revision<'a> {
    pub text: &'a str,
    pub spoiler_text: &'a str,
    pub sensitive: bool,
    pub language: Option<&'a str>,
    /// Its pictures (protocol 4); `None` keeps them as they are.
    pub media: Option<&'a [Id]>,
}

pub(crate) fn edit(
    t: &mut impl Tables,
    at: Millis,
    actor: Id,
    id: Id,
    r: Revision<'_>,
    fx: &mut dyn EffectSink,
) -> Result<Outcome> {
    let Revision { text, spoiler_text, sensitive, language, media } = r;
    let Some(mut s) = query::status(t, id)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if s.author != actor || s.reblog_of.is_some() {
        let visible = can_see(t, actor, &s)?;
        return Ok(Outcome::Rejected(if visible { Rejection::Forbidden } else { Rejection::NotFound }));
    }
    if let Some(ids) = media {
        if let Some(r) = crate::media::refuse_attaching(t, actor, ids, Some(id))? {
            return Ok(Outcome::Rejected(r));
        }
    }
    let sensitive = sensitive || !spoiler_text.is_empty();
    let media_same = media.is_none_or(|m| m == s.media.as_slice());
    if s.text == text
        && s.spoiler_text == spoiler_text
        && s.sensitive == sensitive
        && s.language.as_deref() == language
        && media_same
    {
        return Ok(Outcome::created(id));
    }
    let previous = crate::model::StatusVersion {
        text: std::mem::take(&mut s.text),
        spoiler_text: std::mem::take(&mut s.spoiler_text),
        sensitive: s.sensitive,
        created_at: s.edited_at.unwrap_or(s.created_at),
        media: s.media.clone(),
    };
    let edit_id = next_id(t, at)?;
    put_value(t, Table::StatusEdit, &k2(id, edit_id), &previous)?;

    let old_mentions = std::mem::take(&mut s.mentions);
    let old_tags = std::mem::take(&mut s.tags);
    s.text = text.to_string();
    s.spoiler_text = spoiler_text.to_string();
    s.sensitive = sensitive;
    s.language = language.map(str::to_string);
    s.mentions = resolve_mentions(t, text)?;
    s.tags = text::hashtags(text);
    s.edited_at = Some(at);
    if let Some(ids) = media {
        // Pictures dropped stay attached: the post's history still shows them.
        crate::media::attach(t, id, ids)?;
        s.media = ids.to_vec();
    }
    if s.visibility == Visibility::Public {
        for tag in &old_tags {
            t.delete(Table::Tag, &ks(tag, id))?;
        }
        for tag in &s.tags {
            t.put(Table::Tag, &ks(tag, id), &[])?;
        }
    }
    put_value(t, Table::Status, &k1(id), &s)?;

    // Newly mentioned accounts hear of it; those who reblogged it are told it changed.
    for &m in &s.mentions {
        if m != actor && !old_mentions.contains(&m) {
            notify(t, at, m, NotificationKind::Mention, actor, Some(id), fx)?;
        }
    }
    let rebloggers: Vec<Id> =
        collect_keys(t, Table::Reblog, &k1(id), usize::MAX)?.iter().map(|k| read_u64(k, 8)).collect::<Result<_>>()?;
    for r in rebloggers {
        if r != actor && can_see(t, r, &s)? {
            notify(t, at, r, NotificationKind::Update, actor, Some(id), fx)?;
        }
    }
    let public = s.visibility == Visibility::Public;
    fx.event(Event::Edited { status: id, public, tags: if public { s.tags.clone() } else { Vec::new() } });
    Ok(Outcome::created(id))
}

/// From protocol 2 on, followers who asked to hear of every post of the author (`notify` on
/// their follow) get a `status` notification when a post reaches their home timeline, as on
/// Mastodon: not for reblogs, direct posts, or replies to someone else.
fn notify_subscribers(
    t: &mut impl Tables,
    at: Millis,
    s: &Status,
    homes: &[Id],
    fx: &mut dyn EffectSink,
) -> Result<()> {
    let reply_elsewhere = s.in_reply_to_account.is_some_and(|a| a != s.author);
    if s.reblog_of.is_some() || s.visibility == Visibility::Direct || reply_elsewhere {
        return Ok(());
    }
    if !crate::protocol::at_least(t, 2)? {
        return Ok(());
    }
    let mut subscribers = Vec::new();
    let (lo, hi) = prefix_bounds(&k1(s.author));
    t.scan(Table::NotifyOf, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |k, _| {
        subscribers.push(read_u64(k, 8)?);
        Ok(true)
    })?;
    for follower in subscribers {
        if follower != s.author && homes.contains(&follower) {
            notify(t, at, follower, NotificationKind::Status, s.author, Some(s.id), fx)?;
        }
    }
    Ok(())
}

/// Sends a new post or reblog to the home timelines it belongs in (see
/// [`crate::home::fan_out_targets`]); returns whose.
fn fan_out(t: &mut impl Tables, s: &Status, fx: &mut dyn EffectSink) -> Result<Vec<Id>> {
    let followers: Vec<(Id, bool)> = if s.visibility == Visibility::Direct {
        Vec::new()
    } else if s.reblog_of.is_some() {
        // Only reblogs need each follow's "show reblogs" flag.
        crate::home::followers_with_flags(t, s.author)?
    } else {
        followers_of(t, s.author)?.into_iter().map(|f| (f, true)).collect()
    };
    let targets = crate::home::fan_out_targets(t, s, &followers)?;
    for &account in &targets {
        fx.home(account, s.id);
    }
    // Only original public posts are listed publicly (see `create`).
    let public = s.visibility == Visibility::Public && s.reblog_of.is_none();
    let tags = if public { s.tags.clone() } else { Vec::new() };
    fx.event(Event::Posted { status: s.id, home: targets.clone(), public, tags });
    Ok(targets)
}

pub(crate) fn followers_of(t: &impl Tables, account: Id) -> Result<Vec<Id>> {
    let mut out = Vec::new();
    let (lo, hi) = prefix_bounds(&k1(account));
    t.scan(Table::Followers, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |_, v| {
        out.push(read_u64(v, 0)?);
        Ok(true)
    })?;
    Ok(out)
}

pub(crate) fn delete(t: &mut impl Tables, actor: Id, id: Id, fx: &mut dyn EffectSink) -> Result<Outcome> {
    let Some(s) = query::status(t, id)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if s.author != actor {
        let Some(a) = query::account(t, actor)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
        // A moderator removes others' posts; from protocol 2 on, only posts of lower ranks.
        let allowed = if crate::protocol::at_least(t, 2)? {
            crate::admin::may_moderate(t, Some(actor), s.author)?
        } else {
            a.role.can_moderate()
        };
        if !allowed {
            let visible = can_see(t, actor, &s)?;
            return Ok(Outcome::Rejected(if visible { Rejection::Forbidden } else { Rejection::NotFound }));
        }
    }
    remove(t, &s, fx)?;
    Ok(Outcome::created(id))
}

/// Removes a post and everything that points at it: timeline entries, reblogs, favourites,
/// thread links and counters. Notifications and bookmarks that name it are skipped on read.
fn remove(t: &mut impl Tables, s: &Status, fx: &mut dyn EffectSink) -> Result<()> {
    t.delete(Table::Status, &k1(s.id))?;
    fx.event(Event::Deleted { status: Box::new(s.clone()) });
    if s.visibility == Visibility::Direct {
        crate::conversations::forget(t, s, fx)?;
    }
    if s.reblog_of.is_none() {
        crate::ids::bump(t, crate::ids::STATUS_COUNT, -1)?;
    }
    t.delete(Table::AccountStatuses, &k2(s.author, s.id))?;
    remove_pin(t, s.author, s.id)?;
    adjust(t, s.author, |a| a.statuses_count = a.statuses_count.saturating_sub(1))?;
    t.delete(Table::Public, &k1(s.id))?;
    for tag in &s.tags {
        t.delete(Table::Tag, &ks(tag, s.id))?;
    }
    if let Some(p) = s.in_reply_to {
        if t.delete(Table::Replies, &k2(p, s.id))? {
            if let Some(mut ps) = query::status(t, p)? {
                ps.replies_count = ps.replies_count.saturating_sub(1);
                put_value(t, Table::Status, &k1(p), &ps)?;
            }
        }
    }
    delete_prefix(t, Table::Replies, &k1(s.id))?;
    crate::media::remove_of_status(t, s)?;
    delete_prefix(t, Table::StatusEdit, &k1(s.id))?;
    crate::extensions::forget_post(t, s.id)?;
    if s.poll.is_some() {
        if let Some(p) = get_value::<crate::model::Poll>(t, Table::Poll, &k1(s.id))? {
            t.delete(Table::PollEnd, &crate::protocol::poll_end_key(p.expires_at, s.id))?;
        }
        t.delete(Table::Poll, &k1(s.id))?;
        delete_prefix(t, Table::PollVote, &k1(s.id))?;
    }
    if let Some(o) = s.reblog_of {
        if t.delete(Table::Reblog, &k2(o, s.author))? {
            if let Some(mut os) = query::status(t, o)? {
                os.reblogs_count = os.reblogs_count.saturating_sub(1);
                put_value(t, Table::Status, &k1(o), &os)?;
            }
        }
    }
    // Reblogs of this post go with it.
    for key in collect_keys(t, Table::Reblog, &k1(s.id), usize::MAX)? {
        if let Some(v) = t.get(Table::Reblog, &key)? {
            if let Some(rs) = query::status(t, read_u64(&v, 0)?)? {
                remove(t, &rs, fx)?;
            }
        }
        t.delete(Table::Reblog, &key)?;
    }
    for key in collect_keys(t, Table::Favourite, &k1(s.id), usize::MAX)? {
        if let Some(v) = t.get(Table::Favourite, &key)? {
            t.delete(Table::FavouriteByAccount, &k2(read_u64(&key, 8)?, read_u64(&v, 0)?))?;
        }
        t.delete(Table::Favourite, &key)?;
    }
    Ok(())
}

pub(crate) fn favourite(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    id: Id,
    fx: &mut dyn EffectSink,
) -> Result<Outcome> {
    let s = match target(t, account, id, Rejection::NotFound)? {
        Ok(s) => s,
        Err(r) => return Ok(Outcome::Rejected(r)),
    };
    if t.get(Table::Favourite, &k2(s.id, account))?.is_some() {
        return Ok(Outcome::created(s.id));
    }
    let fav = next_id(t, at)?;
    t.put(Table::Favourite, &k2(s.id, account), &k1(fav))?;
    t.put(Table::FavouriteByAccount, &k2(account, fav), &k1(s.id))?;
    let mut s = s;
    s.favourites_count += 1;
    put_value(t, Table::Status, &k1(s.id), &s)?;
    notify(t, at, s.author, NotificationKind::Favourite, account, Some(s.id), fx)?;
    Ok(Outcome::created(s.id))
}

pub(crate) fn unfavourite(t: &mut impl Tables, account: Id, id: Id) -> Result<Outcome> {
    let s = match target(t, account, id, Rejection::NotFound)? {
        Ok(s) => s,
        Err(r) => return Ok(Outcome::Rejected(r)),
    };
    if let Some(v) = t.get(Table::Favourite, &k2(s.id, account))? {
        t.delete(Table::Favourite, &k2(s.id, account))?;
        t.delete(Table::FavouriteByAccount, &k2(account, read_u64(&v, 0)?))?;
        let mut s = s;
        s.favourites_count = s.favourites_count.saturating_sub(1);
        put_value(t, Table::Status, &k1(s.id), &s)?;
    }
    Ok(Outcome::created(id))
}

pub(crate) fn reblog(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    id: Id,
    visibility: Visibility,
    fx: &mut dyn EffectSink,
) -> Result<Outcome> {
    let s = match target(t, account, id, Rejection::NotFound)? {
        Ok(s) => s,
        Err(r) => return Ok(Outcome::Rejected(r)),
    };
    let own_private = s.author == account && s.visibility == Visibility::Private;
    if !matches!(s.visibility, Visibility::Public | Visibility::Unlisted) && !own_private {
        return Ok(Outcome::Rejected(Rejection::NotReblogable));
    }
    if let Some(v) = t.get(Table::Reblog, &k2(s.id, account))? {
        return Ok(Outcome::created(read_u64(&v, 0)?));
    }
    let rid = next_id(t, at)?;
    let visibility = if own_private { Visibility::Private } else { visibility };
    let r = Status {
        id: rid,
        author: account,
        created_at: at,
        text: String::new(),
        spoiler_text: String::new(),
        sensitive: false,
        visibility,
        language: None,
        in_reply_to: None,
        in_reply_to_account: None,
        quote_of: None,
        reblog_of: Some(s.id),
        mentions: Vec::new(),
        tags: Vec::new(),
        replies_count: 0,
        reblogs_count: 0,
        favourites_count: 0,
        application: None,
        edited_at: None,
        poll: None,
        media: Vec::new(),
    };
    put_value(t, Table::Status, &k1(rid), &r)?;
    t.put(Table::AccountStatuses, &k2(account, rid), &[])?;
    // Reblogs count among an account's statuses, as on Mastodon.
    adjust(t, account, |a| a.statuses_count += 1)?;
    t.put(Table::Reblog, &k2(s.id, account), &k1(rid))?;
    let mut s = s;
    s.reblogs_count += 1;
    put_value(t, Table::Status, &k1(s.id), &s)?;
    fan_out(t, &r, fx)?;
    notify(t, at, s.author, NotificationKind::Reblog, account, Some(s.id), fx)?;
    Ok(Outcome::created(rid))
}

pub(crate) fn unreblog(t: &mut impl Tables, account: Id, id: Id, fx: &mut dyn EffectSink) -> Result<Outcome> {
    let s = match target(t, account, id, Rejection::NotFound)? {
        Ok(s) => s,
        Err(r) => return Ok(Outcome::Rejected(r)),
    };
    if let Some(v) = t.get(Table::Reblog, &k2(s.id, account))? {
        if let Some(rs) = query::status(t, read_u64(&v, 0)?)? {
            remove(t, &rs, fx)?;
        }
    }
    Ok(Outcome::created(s.id))
}

pub(crate) fn bookmark(t: &mut impl Tables, at: Millis, account: Id, id: Id) -> Result<Outcome> {
    let s = match target(t, account, id, Rejection::NotFound)? {
        Ok(s) => s,
        Err(r) => return Ok(Outcome::Rejected(r)),
    };
    if t.get(Table::Bookmark, &k2(account, s.id))?.is_none() {
        let bm = next_id(t, at)?;
        t.put(Table::Bookmark, &k2(account, s.id), &k1(bm))?;
        t.put(Table::BookmarkByAccount, &k2(account, bm), &k1(s.id))?;
    }
    Ok(Outcome::created(s.id))
}

pub(crate) fn unbookmark(t: &mut impl Tables, account: Id, id: Id) -> Result<Outcome> {
    let s = match target(t, account, id, Rejection::NotFound)? {
        Ok(s) => s,
        Err(r) => return Ok(Outcome::Rejected(r)),
    };
    if let Some(v) = t.get(Table::Bookmark, &k2(account, s.id))? {
        t.delete(Table::Bookmark, &k2(account, s.id))?;
        t.delete(Table::BookmarkByAccount, &k2(account, read_u64(&v, 0)?))?;
    }
    Ok(Outcome::created(s.id))
}

pub(crate) fn pin(t: &mut impl Tables, at: Millis, account: Id, id: Id) -> Result<Outcome> {
    let Some(s) = query::status(t, id)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if s.author != account {
        let visible = can_see(t, account, &s)?;
        return Ok(Outcome::Rejected(if visible { Rejection::NotPinnable } else { Rejection::NotFound }));
    }
    if s.reblog_of.is_some() || s.visibility == Visibility::Direct {
        return Ok(Outcome::Rejected(Rejection::NotPinnable));
    }
    if t.get(Table::Pin, &k2(account, id))?.is_some() {
        return Ok(Outcome::created(id));
    }
    if collect_keys(t, Table::PinByAccount, &k1(account), roost_types::MAX_PINNED)?.len() >= roost_types::MAX_PINNED {
        return Ok(Outcome::Rejected(Rejection::LimitReached));
    }
    let pin = next_id(t, at)?;
    t.put(Table::Pin, &k2(account, id), &k1(pin))?;
    t.put(Table::PinByAccount, &k2(account, pin), &k1(id))?;
    Ok(Outcome::created(id))
}

pub(crate) fn unpin(t: &mut impl Tables, account: Id, id: Id) -> Result<Outcome> {
    let Some(s) = query::status(t, id)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if s.author != account && !can_see(t, account, &s)? {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    remove_pin(t, account, id)?;
    Ok(Outcome::created(id))
}

fn remove_pin(t: &mut impl Tables, account: Id, id: Id) -> Result<()> {
    if let Some(v) = t.get(Table::Pin, &k2(account, id))? {
        t.delete(Table::Pin, &k2(account, id))?;
        t.delete(Table::PinByAccount, &k2(account, read_u64(&v, 0)?))?;
    }
    Ok(())
}

/// Brings the most recent posts of a newly followed account into the follower's home.
pub(crate) fn merge_home(t: &mut impl Tables, follower: Id, target: Id, fx: &mut dyn EffectSink) -> Result<()> {
    const MERGE: usize = 40;
    let mut ids = Vec::new();
    let (lo, hi) = prefix_bounds(&k1(target));
    t.scan(Table::AccountStatuses, Bound::Included(&lo), bound_ref(&hi), Dir::Reverse, &mut |k, _| {
        ids.push(read_u64(k, 8)?);
        Ok(ids.len() < MERGE * 4)
    })?;
    let mut merged = 0;
    for id in ids {
        if merged >= MERGE {
            break;
        }
        let Some(s) = query::status(t, id)? else { continue };
        let reply_elsewhere = s.in_reply_to_account.is_some_and(|a| a != target && a != follower);
        if s.visibility == Visibility::Direct || reply_elsewhere || !can_see(t, follower, &s)? {
            continue;
        }
        fx.home(follower, id);
        merged += 1;
    }
    Ok(())
}
