//! Writes made exactly once (`Command::Once`): a retry of a write whose first attempt's fate
//! is unknown gets that attempt's outcome back, so a node may send a write again after the
//! leader it handed it to died (Raft's client session, in its simplest form). Remembered for
//! `ONCE_LIFETIME_MS` by the log's clock; `tick` forgets older ones.

use std::ops::Bound;

use roost_types::{Command, Millis, Outcome, Rejection, Request, ONCE_LIFETIME_MS};

use crate::effects::EffectSink;
use crate::kv::{decode, encode, Dir, Table, Tables};
use crate::Result;

fn time_key(at: Millis, id: &[u8; 16]) -> Vec<u8> {
    let mut k = (at.max(0) as u64).to_be_bytes().to_vec();
    k.extend_from_slice(id);
    k
}

pub(crate) fn apply_once(
    t: &mut impl Tables,
    req: &Request,
    id: &[u8; 16],
    command: &Command,
    fx: &mut dyn EffectSink,
) -> Result<Outcome> {
    if !crate::protocol::at_least(t, 2)? {
        return Ok(Outcome::Rejected(Rejection::NotActive));
    }
    if let Some(v) = t.get(Table::Once, id)? {
        let (_, outcome): (Millis, Outcome) = decode(&v)?;
        return Ok(outcome);
    }
    // A `Once` inside a `Once` is not something a node sends: refused, not unwrapped.
    if matches!(command, Command::Once { .. }) {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    let at = req.at;
    let outcome = crate::apply(t, &Request { at, by: req.by.clone(), command: command.clone() }, fx)?;
    t.put(Table::Once, id, &encode(&(at, outcome.clone()))?)?;
    t.put(Table::OnceByTime, &time_key(at, id), &[])?;
    Ok(outcome)
}

/// Forgets the writes older than `ONCE_LIFETIME_MS` by `at`, at most `max`.
pub(crate) fn forget(t: &mut impl Tables, at: Millis, max: usize) -> Result<()> {
    let cutoff = (at.saturating_sub(ONCE_LIFETIME_MS).max(0) as u64).to_be_bytes();
    let mut old = Vec::new();
    t.scan(Table::OnceByTime, Bound::Unbounded, Bound::Excluded(&cutoff), Dir::Forward, &mut |k, _| {
        old.push(k.to_vec());
        Ok(old.len() < max)
    })?;
    for k in old {
        if let Some(id) = k.get(8..) {
            t.delete(Table::Once, id)?;
        }
        t.delete(Table::OnceByTime, &k)?;
    }
    Ok(())
}

/// When the oldest remembered write may be forgotten (for the leader's timer).
pub(crate) fn next_forget(t: &(impl crate::ReadTables + ?Sized)) -> Result<Option<Millis>> {
    let mut first = None;
    t.scan(Table::OnceByTime, Bound::Unbounded, Bound::Unbounded, Dir::Forward, &mut |k, _| {
        first = Some((crate::kv::read_u64(k, 0)? as Millis).saturating_add(ONCE_LIFETIME_MS));
        Ok(false)
    })?;
    Ok(first)
}
