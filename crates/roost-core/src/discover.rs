//! Finding things: accounts and hashtags by prefix, trending hashtags, whom to follow.
//!
//! Full-text search of posts arrives with its own derived index; these read the tables
//! directly, within fixed bounds on how much each request may walk.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use roost_types::{Id, Millis, Visibility};

use crate::kv::{bound_ref, decode, k1, prefix_bounds, read_u64, Dir, ReadTables, Table};
use crate::model::{Account, Status};
use crate::query::{account, account_by_username};
use crate::visibility::{self, Viewer};
use crate::Result;

/// Accounts a display-name search walks at most.
pub const MAX_ACCOUNTS_WALKED: usize = 50_000;
/// Recent public posts that trends are computed from at most.
pub const MAX_POSTS_FOR_TRENDS: usize = 5_000;
const DAY_MS: Millis = 24 * 60 * 60 * 1000;

/// Accounts whose username starts with `q` (after an optional `@`, and without this
/// instance's `@domain`), then those with a display-name word starting with it; the exact
/// username first. Accounts blocking or blocked by the viewer are left out.
pub fn accounts(
    t: &(impl ReadTables + ?Sized),
    viewer: Id,
    q: &str,
    limit: usize,
    offset: usize,
    following_only: bool,
) -> Result<Vec<Account>> {
    let q = q.trim().trim_start_matches('@').to_lowercase();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let wanted = limit + offset;
    let mut v = Viewer::new(t, viewer);
    let mut seen = BTreeSet::new();
    let mut out: Vec<Account> = Vec::new();
    let mut keep = |a: Account, v: &mut Viewer<'_, _>, out: &mut Vec<Account>| -> Result<()> {
        let hidden = a.id != viewer && (v.blocked(a.id)? || v.suspended_hidden(a.id)?);
        if seen.contains(&a.id) || hidden || (following_only && !v.follows(a.id)?) {
            return Ok(());
        }
        seen.insert(a.id);
        out.push(a);
        Ok(())
    };
    if let Some(exact) = account_by_username(t, &q)? {
        keep(exact, &mut v, &mut out)?;
    }
    // Usernames are stored lowercased as keys: a range scan finds the prefix.
    let mut ids = Vec::new();
    let (lo, hi) = prefix_bounds(q.as_bytes());
    t.scan(Table::Username, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |_, val| {
        ids.push(read_u64(val, 0)?);
        Ok(ids.len() < wanted + 64)
    })?;
    for id in ids {
        if let Some(a) = account(t, id)? {
            keep(a, &mut v, &mut out)?;
        }
    }
    if out.len() < wanted {
        let mut walked = 0;
        let mut by_name = Vec::new();
        t.scan(Table::Account, Bound::Unbounded, Bound::Unbounded, Dir::Forward, &mut |_, val| {
            let a: Account = decode(val)?;
            if a.display_name.to_lowercase().split_whitespace().any(|w| w.starts_with(&q)) {
                by_name.push(a);
            }
            walked += 1;
            Ok(walked < MAX_ACCOUNTS_WALKED && by_name.len() < wanted)
        })?;
        for a in by_name {
            keep(a, &mut v, &mut out)?;
        }
    }
    Ok(out.into_iter().skip(offset).take(limit).collect())
}

/// Hashtags in use that start with `q` (without `#`), in name order.
pub fn hashtags(t: &(impl ReadTables + ?Sized), q: &str, limit: usize, offset: usize) -> Result<Vec<String>> {
    let q = q.trim().trim_start_matches('#').to_lowercase();
    if q.is_empty() || q.contains('\0') {
        return Ok(Vec::new());
    }
    // Keys are `tag ++ 0 ++ post`: each scan reads one key, then skips past that tag.
    let (_, hi) = prefix_bounds(q.as_bytes());
    let mut from = q.as_bytes().to_vec();
    let mut out = Vec::new();
    while out.len() < limit + offset {
        let mut found = None;
        t.scan(Table::Tag, Bound::Included(&from), bound_ref(&hi), Dir::Forward, &mut |k, _| {
            let end = k.iter().position(|&b| b == 0).unwrap_or(k.len());
            found = Some(k[..end].to_vec());
            Ok(false)
        })?;
        let Some(tag) = found else { break };
        from = tag.clone();
        from.push(1);
        out.push(String::from_utf8_lossy(&tag).into_owned());
    }
    Ok(out.into_iter().skip(offset).collect())
}

/// A hashtag's use over the last days: (day start, posts, distinct authors), newest day first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagTrend {
    pub name: String,
    pub history: Vec<(Millis, u64, u64)>,
}

/// Hashtags of the public posts of the last `days` days (counting at most
/// [`MAX_POSTS_FOR_TRENDS`] posts), ranked by distinct authors, then posts. Posts the viewer
/// does not see (blocked, muted authors) do not count for them.
pub fn trending_tags(
    t: &(impl ReadTables + ?Sized),
    viewer: Id,
    now: Millis,
    days: u32,
    limit: usize,
) -> Result<Vec<TagTrend>> {
    let today = now - now.rem_euclid(DAY_MS);
    let since = today - DAY_MS * (i64::from(days) - 1);
    let mut ids = Vec::new();
    t.scan(Table::Public, Bound::Unbounded, Bound::Unbounded, Dir::Reverse, &mut |k, _| {
        let id = read_u64(k, 0)?;
        if crate::id_millis(id) < since {
            return Ok(false);
        }
        ids.push(id);
        Ok(ids.len() < MAX_POSTS_FOR_TRENDS)
    })?;
    // tag → day → (posts, authors)
    let mut per_tag: HashMap<String, BTreeMap<Millis, (u64, BTreeSet<Id>)>> = HashMap::new();
    let mut v = Viewer::new(t, viewer);
    for id in ids {
        let Some(s) = crate::kv::get_value::<Status>(t, Table::Status, &k1(id))? else { continue };
        if s.tags.is_empty() || s.visibility != Visibility::Public || !v.can_see(&s)? || v.hidden_in_feeds(&s, None)? {
            continue;
        }
        let day = s.created_at - s.created_at.rem_euclid(DAY_MS);
        for tag in &s.tags {
            let e = per_tag.entry(tag.clone()).or_default().entry(day).or_default();
            e.0 += 1;
            e.1.insert(s.author);
        }
    }
    let mut trends: Vec<(u64, u64, TagTrend)> = per_tag
        .into_iter()
        .map(|(name, by_day)| {
            let authors: BTreeSet<Id> = by_day.values().flat_map(|(_, a)| a.iter().copied()).collect();
            let posts: u64 = by_day.values().map(|(n, _)| n).sum();
            let history = (0..i64::from(days))
                .map(|d| {
                    let day = today - d * DAY_MS;
                    let (n, a) = by_day.get(&day).map_or((0, 0), |(n, a)| (*n, a.len() as u64));
                    (day, n, a)
                })
                .collect();
            (authors.len() as u64, posts, TagTrend { name, history })
        })
        .collect();
    trends.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.name.cmp(&b.2.name)));
    Ok(trends.into_iter().take(limit).map(|(_, _, t)| t).collect())
}

/// Whom the viewer might follow: the most followed accounts they do not follow yet and have
/// not blocked or muted (walking at most [`MAX_ACCOUNTS_WALKED`] accounts).
pub fn suggestions(t: &(impl ReadTables + ?Sized), viewer: Id, limit: usize) -> Result<Vec<Account>> {
    let mut all = Vec::new();
    t.scan(Table::Account, Bound::Unbounded, Bound::Unbounded, Dir::Forward, &mut |_, val| {
        let a: Account = decode(val)?;
        all.push(a);
        Ok(all.len() < MAX_ACCOUNTS_WALKED)
    })?;
    all.sort_by(|a, b| b.followers_count.cmp(&a.followers_count).then(a.id.cmp(&b.id)));
    let mut out = Vec::new();
    let mut v = Viewer::new(t, viewer);
    for a in all {
        if out.len() >= limit {
            break;
        }
        // Only accounts that chose to be suggested (`discoverable`).
        if a.id == viewer || !a.discoverable || v.follows(a.id)? || v.blocked(a.id)? || v.suspended_hidden(a.id)? {
            continue;
        }
        if visibility::mute(t, viewer, a.id)?.is_some() {
            continue;
        }
        out.push(a);
    }
    Ok(out)
}

/// One hashtag's use over the last `days` days, newest day first (counting at most
/// [`MAX_POSTS_FOR_TRENDS`] posts).
pub fn tag_history(t: &(impl ReadTables + ?Sized), viewer: Id, tag: &str, now: Millis, days: u32) -> Result<TagTrend> {
    let tag = tag.to_lowercase();
    let today = now - now.rem_euclid(DAY_MS);
    let since = today - DAY_MS * (i64::from(days) - 1);
    let mut prefix = crate::kv::ks(&tag, 0);
    prefix.truncate(prefix.len() - 8);
    let (lo, hi) = prefix_bounds(&prefix);
    let mut ids = Vec::new();
    t.scan(Table::Tag, Bound::Included(&lo), bound_ref(&hi), Dir::Reverse, &mut |k, _| {
        let id = read_u64(k, prefix.len())?;
        if crate::id_millis(id) < since {
            return Ok(false);
        }
        ids.push(id);
        Ok(ids.len() < MAX_POSTS_FOR_TRENDS)
    })?;
    let mut by_day: BTreeMap<Millis, (u64, BTreeSet<Id>)> = BTreeMap::new();
    let mut v = Viewer::new(t, viewer);
    for id in ids {
        let Some(s) = crate::kv::get_value::<Status>(t, Table::Status, &k1(id))? else { continue };
        if !v.can_see(&s)? {
            continue;
        }
        let e = by_day.entry(s.created_at - s.created_at.rem_euclid(DAY_MS)).or_default();
        e.0 += 1;
        e.1.insert(s.author);
    }
    let history = (0..i64::from(days))
        .map(|d| {
            let day = today - d * DAY_MS;
            let (n, a) = by_day.get(&day).map_or((0, 0), |(n, a)| (*n, a.len() as u64));
            (day, n, a)
        })
        .collect();
    Ok(TagTrend { name: tag, history })
}
