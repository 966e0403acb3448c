//! Who did what: the commands in this node's log with who asked for each and through what
//! (protocol 3 on; older entries name nobody), for administrators.

use roost_types::{Actor, Command, Millis};

use crate::{Error, Result, Service};

/// Requests one log entry may hold at most (the batcher's bound is lower): an entry's index
/// times this, plus the request's place in it, is a request's position in the log.
const PER_ENTRY: u64 = 1024;
/// Entries read per step backwards, and at most per call, so that a page of a log full of
/// entries without requests (elections, membership) is still bounded work.
const STEP: u64 = 256;
const MAX_SCANNED: u64 = 4096;
/// Most commands per page.
pub const MAX_LIMIT: usize = 200;

/// One command as it was logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// Its position in the log (entry index × 1024 + place in the entry): sorts by log order,
    /// and pages with `before`.
    pub position: u64,
    /// The log entry that holds it.
    pub index: u64,
    /// The receiving node's clock.
    pub at: Millis,
    /// Who asked; `None` before protocol 3.
    pub by: Option<Actor>,
    /// The command's name (inside the once-only wrapper a cluster adds).
    pub command: &'static str,
}

/// The latest commands before `before` (a position; `None`: the newest), newest first, at
/// most `limit`. Only administrators (or the operator) may look.
pub fn recent(svc: &Service, by: &Actor, before: Option<u64>, limit: usize) -> Result<Vec<Logged>> {
    if let Some(account) = by.account {
        let role = roost_core::query::account(&svc.read()?, account)?.ok_or(Error::NotFound)?.role;
        if !role.can_administer() {
            return Err(Error::NotFound);
        }
    } else if by.via != roost_types::Via::AdminSocket {
        return Err(Error::NotFound);
    }
    let limit = limit.clamp(1, MAX_LIMIT);
    let Some(last) = svc.node().last_log_index()? else { return Ok(Vec::new()) };
    let mut end = before.map_or(last + 1, |p| (p / PER_ENTRY + 1).min(last + 1));
    let floor = end.saturating_sub(MAX_SCANNED);
    let mut out = Vec::new();
    while out.len() < limit && end > floor {
        let start = end.saturating_sub(STEP).max(floor);
        let requests = svc.node().logged_requests(start..end)?;
        let mut place = 0;
        let mut entry = None;
        let mut step = Vec::with_capacity(requests.len());
        for (index, req) in requests {
            if entry != Some(index) {
                (entry, place) = (Some(index), 0);
            }
            let position = index * PER_ENTRY + place;
            place += 1;
            if before.is_some_and(|b| position >= b) {
                continue;
            }
            let command = match &req.command {
                Command::Once { command, .. } => command.name(),
                other => other.name(),
            };
            step.push(Logged { position, index, at: req.at, by: req.by, command });
        }
        out.extend(step.into_iter().rev());
        end = start;
    }
    out.truncate(limit);
    Ok(out)
}
