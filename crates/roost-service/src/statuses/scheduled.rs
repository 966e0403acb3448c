//! Scheduled posts: when one may be published, and moving or dropping one.

use roost_types::{Actor, Command, Id, Millis};

use crate::write::propose;
use crate::{now_ms, Applied, Error, Result, Service};

/// How far ahead a post may be scheduled.
const MAX_AHEAD_MS: Millis = 366 * 24 * 3600 * 1000;

/// A time a post may be published at: at least the instance's minimum ahead (Mastodon's is
/// five minutes), and within a year.
pub fn checked_time(svc: &Service, at: Millis) -> Result<Millis> {
    let min_secs = svc.config().scheduled_min_secs;
    let now = now_ms();
    if at < now.saturating_add(min_secs.saturating_mul(1000)) {
        return Err(Error::invalid(format!(
            "Validation failed: Scheduled at The scheduled date must be at least {min_secs} seconds in the future"
        )));
    }
    if at > now.saturating_add(MAX_AHEAD_MS) {
        return Err(Error::invalid("Validation failed: Scheduled at must be within a year"));
    }
    Ok(at)
}

/// Moves one of the member's scheduled posts to another time.
pub async fn reschedule(svc: &Service, by: &Actor, scheduled: Id, at: Millis) -> Result<Applied> {
    let account = crate::write::member(by)?;
    let scheduled_at = checked_time(svc, at)?;
    propose(svc, by, Command::RescheduleStatus { account, scheduled, scheduled_at }).await
}

/// Drops one of the actor's scheduled posts before it is published.
pub async fn cancel(svc: &Service, by: &Actor, scheduled: Id) -> Result<Applied> {
    let account = crate::write::member(by)?;
    propose(svc, by, Command::CancelScheduledStatus { account, scheduled }).await
}
