//! `Command::Tick`: what falls due by the log's clock. The leader proposes a tick when the
//! state says something is due (`protocol::next_due`); applying it does a bounded amount of
//! each kind of work, and the leader ticks again while anything remains.

use std::ops::Bound;

use roost_types::{Millis, Outcome};

use crate::effects::EffectSink;
use crate::kv::{collect_keys, k1, read_u64, Dir, Table, Tables};
use crate::model::NotificationKind;
use crate::Result;

/// Work one tick does at most, per kind.
const SCHEDULED_PER_TICK: usize = 32;
const POLLS_PER_TICK: usize = 16;
const APPS_PER_TICK: usize = 64;
const ONCE_PER_TICK: usize = 1024;

pub(crate) fn tick(t: &mut impl Tables, at: Millis, fx: &mut dyn EffectSink) -> Result<Outcome> {
    // Timed mutes lift before every command already (`social::expire_mutes`).
    crate::scheduled::publish_due(t, at, SCHEDULED_PER_TICK, fx)?;
    end_polls(t, at, fx)?;
    crate::oauth::expire_unused_apps(t, at, APPS_PER_TICK)?;
    crate::once::forget(t, at, ONCE_PER_TICK)?;
    crate::media::expire(t, at)?;
    Ok(Outcome::done())
}

/// Polls whose end has come notify their author and everyone who voted, as on Mastodon.
fn end_polls(t: &mut impl Tables, at: Millis, fx: &mut dyn EffectSink) -> Result<()> {
    let end = (at.max(0) as u64).saturating_add(1).to_be_bytes();
    let mut ended = Vec::new();
    t.scan(Table::PollEnd, Bound::Unbounded, Bound::Excluded(&end), Dir::Forward, &mut |k, _| {
        ended.push((k.to_vec(), read_u64(k, 8)?));
        Ok(ended.len() < POLLS_PER_TICK)
    })?;
    for (key, status) in ended {
        t.delete(Table::PollEnd, &key)?;
        let Some(s) = crate::query::status(t, status)? else { continue };
        crate::notifications::notify_own(t, at, s.author, NotificationKind::Poll, Some(status), fx)?;
        for vote in collect_keys(t, Table::PollVote, &k1(status), usize::MAX)? {
            let voter = read_u64(&vote, 8)?;
            if voter != s.author {
                crate::notifications::notify(t, at, voter, NotificationKind::Poll, s.author, Some(status), fx)?;
            }
        }
    }
    Ok(())
}
