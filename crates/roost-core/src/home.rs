//! Home timelines: a derived, in-memory index fed by `apply`.
//!
//! Fan-out on write puts each new post into the home timeline of every follower. Keeping those
//! entries in the B-tree cost one random page write per follower per post, which dominated the
//! cost of posting (see ARCHITECTURE.md); so, as design §2 and §7 say of derived indexes, home
//! timelines live in memory: the newest [`CAP`] post IDs per account, fed by the fan-out of
//! applied entries and rebuilt from the state at start-up ([`HomeIndex::rebuild`]). They are
//! not part of the state, its digest or snapshots.
//!
//! The index only ever gains entries; what must not be shown any more (deleted posts, posts of
//! accounts no longer followed, blocked or muted) is left out on read by `query::home`.

use std::collections::{HashMap, VecDeque};
use std::ops::Bound;

use roost_types::{Id, Visibility};

use crate::kv::{get_value, k1, read_u64, Dir, ReadTables, Table};
use crate::model::{Follow, Status};
use crate::Result;

/// Posts kept per home timeline (Mastodon keeps 800 in its feed cache).
pub const CAP: usize = 800;

/// Anything that can list a home timeline's entries: the index itself, or a shared handle to
/// it that locks only while copying the IDs out.
pub trait HomeSource {
    /// The account's entries strictly between `after` and `before`, newest first (or, with
    /// `oldest_first`, oldest first).
    fn range(&self, account: Id, after: Option<Id>, before: Option<Id>, oldest_first: bool) -> Vec<Id>;
}

impl HomeSource for HomeIndex {
    fn range(&self, account: Id, after: Option<Id>, before: Option<Id>, oldest_first: bool) -> Vec<Id> {
        HomeIndex::range(self, account, after, before, oldest_first)
    }
}

/// The newest post IDs of each account's home timeline, ascending.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HomeIndex {
    timelines: HashMap<Id, VecDeque<Id>>,
}

impl HomeIndex {
    pub fn new() -> HomeIndex {
        HomeIndex::default()
    }

    /// Adds a post to an account's timeline, in ID order, keeping the newest [`CAP`].
    pub fn insert(&mut self, account: Id, status: Id) {
        let tl = self.timelines.entry(account).or_default();
        // New posts arrive in ID order; merged older ones (after a follow) go in their place.
        match tl.back() {
            Some(&last) if status < last => match tl.binary_search(&status) {
                Ok(_) => return,
                Err(pos) => {
                    if pos == 0 && tl.len() >= CAP {
                        return;
                    }
                    tl.insert(pos, status);
                }
            },
            Some(&last) if status == last => return,
            _ => tl.push_back(status),
        }
        while tl.len() > CAP {
            tl.pop_front();
        }
    }

    /// Adds the insertions of a committed transaction.
    pub fn apply(&mut self, inserts: &[(Id, Id)]) {
        for &(account, status) in inserts {
            self.insert(account, status);
        }
    }

    /// The account's entries strictly between `after` and `before`, newest first (or, with
    /// `oldest_first`, oldest first), for paging.
    pub fn range(&self, account: Id, after: Option<Id>, before: Option<Id>, oldest_first: bool) -> Vec<Id> {
        let Some(tl) = self.timelines.get(&account) else { return Vec::new() };
        let start = after.map_or(0, |a| tl.partition_point(|&x| x <= a));
        let end = before.map_or(tl.len(), |b| tl.partition_point(|&x| x < b));
        if start >= end {
            return Vec::new();
        }
        let mut ids: Vec<Id> = tl.range(start..end).copied().collect();
        if !oldest_first {
            ids.reverse();
        }
        ids
    }

    /// Entries held for one account.
    pub fn len(&self, account: Id) -> usize {
        self.timelines.get(&account).map_or(0, VecDeque::len)
    }

    pub fn is_empty(&self) -> bool {
        self.timelines.is_empty()
    }

    /// Rebuilds the index from the state: walks posts newest first (at most `max_posts`) and
    /// replays their fan-out with today's follows, until timelines are full.
    pub fn rebuild(t: &(impl ReadTables + ?Sized), max_posts: usize) -> Result<HomeIndex> {
        let mut index = HomeIndex::new();
        let mut followers_cache: HashMap<Id, Vec<(Id, bool)>> = HashMap::new();
        let mut seen = 0usize;
        t.scan(Table::Status, Bound::Unbounded, Bound::Unbounded, Dir::Reverse, &mut |_, v| {
            let s: Status = crate::kv::decode(v)?;
            let followers = match followers_cache.entry(s.author) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(followers_with_flags(t, s.author)?),
            };
            for account in fan_out_targets(t, &s, followers)? {
                if index.len(account) < CAP {
                    index.insert(account, s.id);
                }
            }
            seen += 1;
            Ok(seen < max_posts)
        })?;
        Ok(index)
    }
}

/// Followers of an account with whether they want its reblogs.
pub(crate) fn followers_with_flags(t: &(impl ReadTables + ?Sized), account: Id) -> Result<Vec<(Id, bool)>> {
    let mut out = Vec::new();
    let (lo, hi) = crate::kv::prefix_bounds(&k1(account));
    t.scan(Table::Followers, Bound::Included(&lo), crate::kv::bound_ref(&hi), Dir::Forward, &mut |_, v| {
        out.push(read_u64(v, 0)?);
        Ok(true)
    })?;
    let mut with_flags = Vec::with_capacity(out.len());
    for f in out {
        let follow: Option<Follow> = get_value(t, Table::Follow, &crate::kv::k2(f, account))?;
        with_flags.push((f, follow.is_some_and(|x| x.reblogs)));
    }
    Ok(with_flags)
}

/// Whose home timelines a post belongs in: its author; each follower who may see it (for a
/// reblog, each who wants reblogs; for a reply, only followers who also follow the account
/// replied to, as on Mastodon); for a direct post, the mentioned accounts that follow its
/// author instead (a direct message from a stranger reaches conversations and notifications,
/// not the home timeline, as on Mastodon).
pub(crate) fn fan_out_targets(t: &(impl ReadTables + ?Sized), s: &Status, followers: &[(Id, bool)]) -> Result<Vec<Id>> {
    let mut out = vec![s.author];
    if s.visibility == Visibility::Direct {
        for &m in &s.mentions {
            if m != s.author
                && crate::visibility::follows(t, m, s.author)?
                && !crate::visibility::blocked_either_way(t, m, s.author)?
            {
                out.push(m);
            }
        }
        return Ok(out);
    }
    for &(follower, wants_reblogs) in followers {
        if s.reblog_of.is_some() && !wants_reblogs {
            continue;
        }
        if let Some(ra) = s.in_reply_to_account {
            if ra != s.author && ra != follower && !crate::visibility::follows(t, follower, ra)? {
                continue;
            }
        }
        out.push(follower);
    }
    // Followers of its hashtags get a public post too (reblogs and replies included as for
    // followers would be too many: only original posts, as on Mastodon).
    if s.visibility == Visibility::Public && s.reblog_of.is_none() && !s.tags.is_empty() {
        let mut extra = Vec::new();
        for tag in &s.tags {
            let mut prefix = crate::kv::ks(tag, 0);
            prefix.truncate(prefix.len() - 8);
            let (lo, hi) = crate::kv::prefix_bounds(&prefix);
            t.scan(Table::TagFollowers, Bound::Included(&lo), crate::kv::bound_ref(&hi), Dir::Forward, &mut |k, _| {
                extra.push(read_u64(k, prefix.len())?);
                Ok(true)
            })?;
        }
        extra.sort_unstable();
        extra.dedup();
        for account in extra {
            if !out.contains(&account) && !crate::visibility::blocked_either_way(t, account, s.author)? {
                out.push(account);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_in_order_and_pages() {
        let mut h = HomeIndex::new();
        for id in [5, 1, 9, 3, 9, 7] {
            h.insert(1, id);
        }
        assert_eq!(h.range(1, None, None, false), vec![9, 7, 5, 3, 1]);
        assert_eq!(h.range(1, Some(3), Some(9), false), vec![7, 5]);
        assert_eq!(h.range(1, Some(3), None, true), vec![5, 7, 9]);
        assert!(h.range(2, None, None, false).is_empty());
        for id in 100..100 + CAP as u64 {
            h.insert(1, id);
        }
        assert_eq!(h.len(1), CAP);
        h.insert(1, 2);
        assert_eq!(h.len(1), CAP, "older than everything kept: dropped");
        assert_eq!(h.range(1, None, None, true)[0], 100);
    }
}
