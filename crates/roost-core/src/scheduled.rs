//! Posts scheduled for later: kept until their time, then published by the leader's
//! `Command::Tick` (the log's clock decides when, so every replica publishes the same post at
//! the same index).

use std::ops::Bound;

use roost_types::{Id, Millis, NewPoll, NewStatus, Outcome, PollSpec, Rejection, MAX_SCHEDULED, MAX_SCHEDULED_PER_DAY};

use crate::effects::EffectSink;
use crate::ids::next_id;
use crate::kv::{bound_ref, get_value, k1, k2, prefix_bounds, put_value, read_u64, Dir, Table, Tables};
use crate::model::ScheduledPost;
use crate::{query, Result};

const DAY_MS: Millis = 86_400_000;

/// How many of the account's scheduled posts fall on the (UTC) day of `at`, leaving out `except`.
fn on_day(t: &impl Tables, account: Id, at: Millis, except: Option<Id>) -> Result<usize> {
    let day = at.div_euclid(DAY_MS);
    let mut n = 0;
    let (lo, hi) = prefix_bounds(&k1(account));
    t.scan(Table::Scheduled, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |_, v| {
        let p: ScheduledPost = crate::kv::decode(v)?;
        if p.scheduled_at.div_euclid(DAY_MS) == day && Some(p.id) != except {
            n += 1;
        }
        Ok(true)
    })?;
    Ok(n)
}

pub(crate) fn schedule(
    t: &mut impl Tables,
    at: Millis,
    status: &NewStatus,
    poll: Option<&PollSpec>,
    scheduled_at: Millis,
    media: &[Id],
) -> Result<Outcome> {
    let account = status.author;
    if query::account(t, account)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    // A retry with the same Idempotency-Key gets the first scheduled post back.
    let key = status.idempotency_key.as_deref().map(|k| idempotency_key(account, k));
    if let Some(k) = &key {
        if let Some(v) = t.get(Table::ScheduledIdempotency, k)? {
            return Ok(Outcome::created(read_u64(&v, 0)?));
        }
    }
    if let Some(r) = crate::media::refuse_attaching(t, account, media, None)? {
        return Ok(Outcome::Rejected(r));
    }
    let held = query::count_prefix(t, Table::Scheduled, &k1(account))? as usize;
    if held >= MAX_SCHEDULED || on_day(t, account, scheduled_at, None)? >= MAX_SCHEDULED_PER_DAY {
        return Ok(Outcome::Rejected(Rejection::TooMany));
    }
    let id = next_id(t, at)?;
    let post = ScheduledPost { id, scheduled_at, status: status.clone(), poll: poll.cloned(), created_at: at };
    put_value(t, Table::Scheduled, &k2(account, id), &post)?;
    t.put(Table::ScheduledDue, &k2(scheduled_at.max(0) as u64, id), &k1(account))?;
    if let Some(k) = &key {
        t.put(Table::ScheduledIdempotency, k, &k1(id))?;
    }
    if !media.is_empty() {
        crate::media::attach(t, id, media)?;
        put_value(t, Table::ScheduledMedia, &k1(id), &media.to_vec())?;
    }
    Ok(Outcome::created(id))
}

/// The pictures a scheduled post holds (protocol 6), in order.
pub(crate) fn media_of(t: &(impl crate::ReadTables + ?Sized), id: Id) -> Result<Vec<Id>> {
    Ok(get_value(t, Table::ScheduledMedia, &k1(id))?.unwrap_or_default())
}

/// Lets go of a scheduled post's pictures (it is cancelled or due): they are unused uploads
/// again until a post takes them. Returns those that still exist.
fn release_media(t: &mut impl Tables, at: Millis, id: Id) -> Result<Vec<Id>> {
    let held = media_of(t, id)?;
    if held.is_empty() {
        return Ok(held);
    }
    t.delete(Table::ScheduledMedia, &k1(id))?;
    crate::media::release(t, at, id, &held)
}

/// The key of (account, Idempotency-Key) in `Table::ScheduledIdempotency`.
fn idempotency_key(account: Id, key: &str) -> Vec<u8> {
    crate::query::idempotency_key(account, key)
}

pub(crate) fn reschedule(t: &mut impl Tables, account: Id, id: Id, scheduled_at: Millis) -> Result<Outcome> {
    let Some(mut post) = get_value::<ScheduledPost>(t, Table::Scheduled, &k2(account, id))? else {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    };
    if on_day(t, account, scheduled_at, Some(id))? >= MAX_SCHEDULED_PER_DAY {
        return Ok(Outcome::Rejected(Rejection::TooMany));
    }
    t.delete(Table::ScheduledDue, &k2(post.scheduled_at.max(0) as u64, id))?;
    post.scheduled_at = scheduled_at;
    put_value(t, Table::Scheduled, &k2(account, id), &post)?;
    t.put(Table::ScheduledDue, &k2(scheduled_at.max(0) as u64, id), &k1(account))?;
    Ok(Outcome::created(id))
}

pub(crate) fn cancel(t: &mut impl Tables, at: Millis, account: Id, id: Id) -> Result<Outcome> {
    let Some(post) = get_value::<ScheduledPost>(t, Table::Scheduled, &k2(account, id))? else {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    };
    release_media(t, at, id)?;
    t.delete(Table::Scheduled, &k2(account, id))?;
    t.delete(Table::ScheduledDue, &k2(post.scheduled_at.max(0) as u64, id))?;
    forget_key(t, &post)?;
    Ok(Outcome::done())
}

/// Drops a scheduled post's Idempotency-Key (it is cancelled or published: once published, the
/// post's own key takes over).
fn forget_key(t: &mut impl Tables, post: &ScheduledPost) -> Result<()> {
    if let Some(k) = &post.status.idempotency_key {
        t.delete(Table::ScheduledIdempotency, &idempotency_key(post.status.author, k))?;
    }
    Ok(())
}

/// Publishes the scheduled posts due by `at` (at most `max`), as if posted at `at`.
pub(crate) fn publish_due(t: &mut impl Tables, at: Millis, max: usize, fx: &mut dyn EffectSink) -> Result<usize> {
    let end = (at.max(0) as u64).saturating_add(1).to_be_bytes();
    let mut due = Vec::new();
    t.scan(Table::ScheduledDue, Bound::Unbounded, Bound::Excluded(&end), Dir::Forward, &mut |k, v| {
        due.push((k.to_vec(), read_u64(k, 8)?, read_u64(v, 0)?));
        Ok(due.len() < max)
    })?;
    for (key, id, account) in &due {
        t.delete(Table::ScheduledDue, key)?;
        let Some(post) = get_value::<ScheduledPost>(t, Table::Scheduled, &k2(*account, *id))? else { continue };
        t.delete(Table::Scheduled, &k2(*account, *id))?;
        forget_key(t, &post)?;
        let media = release_media(t, at, *id)?;
        // A suspended member's queued posts are dropped, not published.
        if query::suspended(t, *account)? {
            continue;
        }
        // A refusal (the post it answers is gone) drops it, as on Mastodon.
        let _outcome = match &post.poll {
            None if !media.is_empty() => crate::statuses::create_post(t, at, &post.status, None, &media, fx)?,
            Some(p) => {
                let poll = NewPoll {
                    options: p.options.clone(),
                    expires_at: at.saturating_add(p.expires_in.saturating_mul(1000)),
                    multiple: p.multiple,
                    hide_totals: p.hide_totals,
                };
                crate::statuses::create_with_poll(t, at, &post.status, &poll, fx)?
            }
            None => crate::statuses::create(t, at, &post.status, fx)?,
        };
    }
    Ok(due.len())
}
