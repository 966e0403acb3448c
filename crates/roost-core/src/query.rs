//! Reads of the state. Every function that returns posts filters them through
//! [`crate::visibility`]; nothing else in Roost reads post tables directly.

use std::ops::Bound;

use roost_types::Id;

use crate::home::HomeSource;
use crate::kv::{bound_ref, get_value, k1, k2, ks, prefix_bounds, read_u64, Dir, ReadTables, Table};
use crate::model::{Account, App, Notification, NotificationKind, Status, Token};
use crate::visibility::{self, Viewer};
use crate::Result;

/// Most items one page may hold.
pub const MAX_PAGE: usize = 80;
/// Most posts a thread view returns in each direction.
pub const MAX_CONTEXT: usize = 4096;

/// A page request in Mastodon's terms. Results are always newest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    /// Only items older than this ID.
    pub max_id: Option<Id>,
    /// Only items newer than this ID, newest first.
    pub since_id: Option<Id>,
    /// Only items newer than this ID, the oldest of them first (then returned newest first).
    pub min_id: Option<Id>,
    pub limit: usize,
}

pub fn account(t: &(impl ReadTables + ?Sized), id: Id) -> Result<Option<Account>> {
    get_value(t, Table::Account, &k1(id))
}

pub fn account_by_username(t: &(impl ReadTables + ?Sized), username: &str) -> Result<Option<Account>> {
    match t.get(Table::Username, username.to_ascii_lowercase().as_bytes())? {
        Some(v) => account(t, read_u64(&v, 0)?),
        None => Ok(None),
    }
}

pub fn account_by_email(t: &(impl ReadTables + ?Sized), email: &str) -> Result<Option<Account>> {
    match t.get(Table::Email, email.to_lowercase().as_bytes())? {
        Some(v) => account(t, read_u64(&v, 0)?),
        None => Ok(None),
    }
}

/// Whether any account exists (the first one is the owner).
pub fn has_accounts(t: &(impl ReadTables + ?Sized)) -> Result<bool> {
    crate::visibility::has_prefix(t, Table::Account, &[])
}

pub fn app(t: &(impl ReadTables + ?Sized), client_id: &str) -> Result<Option<App>> {
    get_value(t, Table::App, client_id.as_bytes())
}

pub fn token(t: &(impl ReadTables + ?Sized), token_hash: &[u8; 32]) -> Result<Option<Token>> {
    get_value(t, Table::Token, token_hash)
}

pub fn auth_code(t: &(impl ReadTables + ?Sized), code_hash: &[u8; 32]) -> Result<Option<crate::model::AuthCode>> {
    get_value(t, Table::AuthCode, code_hash)
}

/// A post as stored, whoever may see it. For the state machine's own use and for moderation.
pub fn status(t: &(impl ReadTables + ?Sized), id: Id) -> Result<Option<Status>> {
    get_value(t, Table::Status, &k1(id))
}

/// A post and, for a reblog, the post it shares; only if the viewer may see both.
pub fn visible_status(t: &(impl ReadTables + ?Sized), viewer: Id, id: Id) -> Result<Option<(Status, Option<Status>)>> {
    visible(&mut Viewer::new(t, viewer), id)
}

/// [`visible_status`] through a viewer that caches what it learns about authors.
pub fn visible<T: ReadTables + ?Sized>(v: &mut Viewer<'_, T>, id: Id) -> Result<Option<Shown>> {
    let t = v.tables();
    let Some(s) = status(t, id)? else { return Ok(None) };
    if !v.can_see(&s)? {
        return Ok(None);
    }
    let original = match s.reblog_of {
        Some(o) => match status(t, o)? {
            Some(orig) if v.can_see(&orig)? => Some(orig),
            _ => return Ok(None),
        },
        None => None,
    };
    Ok(Some((s, original)))
}

/// Walks keys `prefix ++ id` of a table newest first within the page bounds, keeping what
/// `accept` maps to `Some`, until `page.limit` are kept.
fn page_scan<T>(
    t: &(impl ReadTables + ?Sized),
    table: Table,
    prefix: &[u8],
    page: &Page,
    mut accept: impl FnMut(Id, &[u8]) -> Result<Option<T>>,
) -> Result<Vec<T>> {
    let limit = page.limit.clamp(1, MAX_PAGE);
    let with = |id: Id| {
        let mut k = prefix.to_vec();
        k.extend_from_slice(&id.to_be_bytes());
        k
    };
    let (start, end) = prefix_bounds(prefix);
    let max_key = page.max_id.map(with);
    let hi = match &max_key {
        Some(k) => Bound::Excluded(k.as_slice()),
        None => bound_ref(&end),
    };
    let (lower_id, dir) = match (page.min_id, page.since_id) {
        (Some(min), _) => (Some(min), Dir::Forward),
        (None, since) => (since, Dir::Reverse),
    };
    let lower_key = lower_id.map(with);
    let lo = match &lower_key {
        Some(k) => Bound::Excluded(k.as_slice()),
        None => Bound::Included(start.as_slice()),
    };
    let mut out = Vec::new();
    let plen = prefix.len();
    t.scan(table, lo, hi, dir, &mut |k, v| {
        let id = read_u64(k, plen)?;
        if let Some(item) = accept(id, v)? {
            out.push(item);
        }
        Ok(out.len() < limit)
    })?;
    if dir == Dir::Forward {
        out.reverse();
    }
    Ok(out)
}

/// A post with the post it reblogs, ready for rendering.
pub type Shown = (Status, Option<Status>);

/// A post as a timeline shows it to the viewer, if it does: visible, and not hidden from
/// their timelines by a mute.
pub fn feed_entry<T: ReadTables + ?Sized>(v: &mut Viewer<'_, T>, id: Id) -> Result<Option<Shown>> {
    feed_item(v, id)
}

fn feed_item<T: ReadTables + ?Sized>(v: &mut Viewer<'_, T>, id: Id) -> Result<Option<Shown>> {
    match visible(v, id)? {
        Some((s, o)) if !v.hidden_in_feeds(&s, o.as_ref())? => Ok(Some((s, o))),
        _ => Ok(None),
    }
}

/// The viewer's home timeline: their own posts, and posts and reblogs of whom they follow,
/// from the derived index (see [`crate::home`]).
///
/// An entry is shown only while the account that brought it in (its author, or the reblogger)
/// is the viewer or still followed by them, or when it is a direct post to the viewer; and, as
/// everywhere, only while it exists and is visible.
pub fn home(t: &(impl ReadTables + ?Sized), index: &impl HomeSource, viewer: Id, page: &Page) -> Result<Vec<Shown>> {
    let limit = page.limit.clamp(1, MAX_PAGE);
    let (after, oldest_first) = match (page.min_id, page.since_id) {
        (Some(min), _) => (Some(min), true),
        (None, since) => (since, false),
    };
    let ids = index.range(viewer, after, page.max_id, oldest_first);
    let mut v = Viewer::new(t, viewer).preload_following()?;
    let excluded = exclusive_list_members(t, viewer)?;
    let mut out = Vec::new();
    for id in ids {
        if out.len() >= limit {
            break;
        }
        if let Some(shown) = home_entry(&mut v, id)? {
            if excluded.is_empty() || !excluded.contains(&shown.0.author) {
                out.push(shown);
            }
        }
    }
    if oldest_first {
        out.reverse();
    }
    Ok(out)
}

/// Accounts whose posts the viewer moved out of home into exclusive lists.
fn exclusive_list_members(t: &(impl ReadTables + ?Sized), viewer: Id) -> Result<std::collections::HashSet<Id>> {
    let mut out = std::collections::HashSet::new();
    for list in lists(t, viewer)? {
        if list.exclusive {
            out.extend(list_member_ids(t, list.id)?);
        }
    }
    Ok(out)
}

/// The viewer's lists, oldest first.
pub fn lists(t: &(impl ReadTables + ?Sized), owner: Id) -> Result<Vec<crate::model::List>> {
    let mut out = Vec::new();
    let (lo, hi) = prefix_bounds(&k1(owner));
    t.scan(Table::List, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |_, v| {
        out.push(crate::kv::decode(v)?);
        Ok(true)
    })?;
    Ok(out)
}

/// One of the owner's lists.
pub fn list(t: &(impl ReadTables + ?Sized), owner: Id, id: Id) -> Result<Option<crate::model::List>> {
    get_value(t, Table::List, &k2(owner, id))
}

fn list_member_ids(t: &(impl ReadTables + ?Sized), list: Id) -> Result<Vec<Id>> {
    let mut out = Vec::new();
    let (lo, hi) = prefix_bounds(&k1(list));
    t.scan(Table::ListMember, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |k, _| {
        out.push(read_u64(k, 8)?);
        Ok(true)
    })?;
    Ok(out)
}

/// A list's members (paged by account ID), if the list is the owner's.
pub fn list_members(
    t: &(impl ReadTables + ?Sized),
    owner: Id,
    list_id: Id,
    page: &Page,
) -> Result<Option<Vec<(Id, Account)>>> {
    if list(t, owner, list_id)?.is_none() {
        return Ok(None);
    }
    page_scan(t, Table::ListMember, &k1(list_id), page, |member, _| Ok(account(t, member)?.map(|a| (member, a))))
        .map(Some)
}

/// The owner's lists that hold `member`.
pub fn lists_containing(t: &(impl ReadTables + ?Sized), owner: Id, member: Id) -> Result<Vec<crate::model::List>> {
    let mut ids = Vec::new();
    let (lo, hi) = prefix_bounds(&k2(owner, member));
    t.scan(Table::ListsOf, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |k, _| {
        ids.push(read_u64(k, 16)?);
        Ok(true)
    })?;
    let mut out = Vec::new();
    for id in ids {
        out.extend(list(t, owner, id)?);
    }
    Ok(out)
}

/// A list's timeline: its members' posts and reblogs, newest first, within the page, with the
/// list's reply policy applied; `None` if the list is not the viewer's.
pub fn list_timeline(
    t: &(impl ReadTables + ?Sized),
    viewer: Id,
    list_id: Id,
    page: &Page,
) -> Result<Option<Vec<Shown>>> {
    let Some(l) = list(t, viewer, list_id)? else { return Ok(None) };
    let members = list_member_ids(t, list_id)?;
    let limit = page.limit.clamp(1, MAX_PAGE);
    // Enough candidates from each member that filtering rarely leaves a page short.
    let per_member = Page { limit: (limit * 3).min(MAX_PAGE), ..*page };
    let mut ids: Vec<Id> = Vec::new();
    for &m in &members {
        ids.extend(page_scan(t, Table::AccountStatuses, &k1(m), &per_member, |id, _| Ok(Some(id)))?);
    }
    ids.sort_unstable();
    ids.dedup();
    let oldest_first = page.min_id.is_some();
    if !oldest_first {
        ids.reverse();
    }
    let mut v = Viewer::new(t, viewer).preload_following()?;
    let mut out = Vec::new();
    for id in ids {
        if out.len() >= limit {
            break;
        }
        if let Some(shown) = list_entry(&mut v, &l, &members, id)? {
            out.push(shown);
        }
    }
    if oldest_first {
        out.reverse();
    }
    Ok(Some(out))
}

/// A post as a list timeline shows it, if it does: by a member, visible, not muted, and a reply
/// only as the list's policy allows.
pub fn list_entry<T: ReadTables + ?Sized>(
    v: &mut Viewer<'_, T>,
    list: &crate::model::List,
    members: &[Id],
    id: Id,
) -> Result<Option<Shown>> {
    let Some((s, o)) = feed_item(v, id)? else { return Ok(None) };
    if !members.contains(&s.author) {
        return Ok(None);
    }
    if let Some(to) = s.in_reply_to_account.filter(|&to| to != s.author) {
        let shown = match list.replies_policy {
            roost_types::RepliesPolicy::None => false,
            roost_types::RepliesPolicy::List => members.contains(&to) || to == v.id(),
            roost_types::RepliesPolicy::Followed => to == v.id() || v.follows(to)?,
        };
        if !shown {
            return Ok(None);
        }
    }
    Ok(Some((s, o)))
}

/// The member IDs of one of the owner's lists, with the list (for live streams).
pub fn list_with_members(
    t: &(impl ReadTables + ?Sized),
    owner: Id,
    id: Id,
) -> Result<Option<(crate::model::List, Vec<Id>)>> {
    match list(t, owner, id)? {
        Some(l) => Ok(Some((l, list_member_ids(t, id)?))),
        None => Ok(None),
    }
}

/// A post the home index holds for the viewer, if their home timeline shows it now (see
/// [`home`]); live streams ask this of each new post that fan-out sent to the viewer.
pub fn home_entry<T: ReadTables + ?Sized>(v: &mut Viewer<'_, T>, id: Id) -> Result<Option<Shown>> {
    let Some((s, o)) = feed_item(v, id)? else { return Ok(None) };
    let viewer = v.id();
    let direct_to_me = s.visibility == roost_types::Visibility::Direct && s.mentions.contains(&viewer);
    let shown = s.author == viewer
        || direct_to_me
        || v.follows(s.author)?
        || (s.visibility == roost_types::Visibility::Public && s.reblog_of.is_none() && v.follows_any_tag(&s.tags)?);
    Ok(shown.then_some((s, o)))
}

/// A post as the public timeline (or, with `tag`, that hashtag's timeline) shows it to the
/// viewer, if it shows it at all; live streams ask this of each new post.
pub fn public_entry<T: ReadTables + ?Sized>(v: &mut Viewer<'_, T>, id: Id, tag: Option<&str>) -> Result<Option<Shown>> {
    let t = v.tables();
    let listed = match tag {
        None => t.get(Table::Public, &k1(id))?.is_some(),
        Some(tag) => t.get(Table::Tag, &ks(&tag.to_lowercase(), id))?.is_some(),
    };
    if !listed {
        return Ok(None);
    }
    feed_item(v, id)
}

/// Everyone's public posts on this instance.
pub fn public(t: &(impl ReadTables + ?Sized), viewer: Id, page: &Page) -> Result<Vec<Shown>> {
    let mut v = Viewer::new(t, viewer).preload_following()?;
    page_scan(t, Table::Public, &[], page, |id, _| feed_item(&mut v, id))
}

/// Public posts with a hashtag (case-insensitive).
pub fn tag(t: &(impl ReadTables + ?Sized), viewer: Id, tag: &str, page: &Page) -> Result<Vec<Shown>> {
    let mut prefix = ks(&tag.to_lowercase(), 0);
    prefix.truncate(prefix.len() - 8);
    let mut v = Viewer::new(t, viewer).preload_following()?;
    page_scan(t, Table::Tag, &prefix, page, |id, _| feed_item(&mut v, id))
}

/// Filters for an account's posts, as in `GET /api/v1/accounts/:id/statuses`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountFilter<'a> {
    pub exclude_replies: bool,
    pub exclude_reblogs: bool,
    /// Leave out direct posts (Mastodon's `exclude_direct`).
    pub exclude_direct: bool,
    /// Only posts with this hashtag (lowercase).
    pub tagged: Option<&'a str>,
}

/// An account's posts and reblogs that the viewer may see.
pub fn account_statuses(
    t: &(impl ReadTables + ?Sized),
    viewer: Id,
    account: Id,
    filter: AccountFilter<'_>,
    page: &Page,
) -> Result<Vec<Shown>> {
    if viewer != account && visibility::blocked_either_way(t, viewer, account)? {
        return Ok(Vec::new());
    }
    let mut v = Viewer::new(t, viewer);
    page_scan(t, Table::AccountStatuses, &k1(account), page, |id, _| {
        let Some((s, o)) = visible(&mut v, id)? else { return Ok(None) };
        // A reply to oneself is part of a thread, not a reply to someone else.
        let replies_elsewhere = s.in_reply_to.is_some() && s.in_reply_to_account != Some(s.author);
        let direct = s.visibility == roost_types::Visibility::Direct;
        if (filter.exclude_replies && replies_elsewhere)
            || (filter.exclude_reblogs && o.is_some())
            || (filter.exclude_direct && direct)
        {
            return Ok(None);
        }
        if filter.tagged.is_some_and(|t| !s.tags.iter().any(|x| x == t)) {
            return Ok(None);
        }
        Ok(Some((s, o)))
    })
}

/// The posts an account pinned that the viewer may see, newest pin first.
pub fn pinned(t: &(impl ReadTables + ?Sized), viewer: Id, account: Id) -> Result<Vec<Shown>> {
    if viewer != account && visibility::blocked_either_way(t, viewer, account)? {
        return Ok(Vec::new());
    }
    let mut v = Viewer::new(t, viewer);
    let page = Page { limit: roost_types::MAX_PINNED, ..Page::default() };
    page_scan(t, Table::PinByAccount, &k1(account), &page, |_, value| visible(&mut v, read_u64(value, 0)?))
}

pub(crate) fn marker_key(account: Id, timeline: roost_types::MarkerTimeline) -> Vec<u8> {
    let mut k = k1(account).to_vec();
    k.push(timeline as u8);
    k
}

/// The member's read marker on a timeline, if they saved one.
pub fn marker(
    t: &(impl ReadTables + ?Sized),
    account: Id,
    timeline: roost_types::MarkerTimeline,
) -> Result<Option<crate::model::Marker>> {
    get_value(t, Table::Marker, &marker_key(account, timeline))
}

/// The versions an edited post had before its current one, oldest first.
pub fn status_versions(t: &(impl ReadTables + ?Sized), status: Id) -> Result<Vec<crate::model::StatusVersion>> {
    let mut out = Vec::new();
    let (lo, hi) = prefix_bounds(&k1(status));
    t.scan(Table::StatusEdit, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |_, v| {
        out.push(crate::kv::decode(v)?);
        Ok(true)
    })?;
    Ok(out)
}

/// A post's poll, with the viewer's own votes (`None`: has not voted).
pub fn poll(
    t: &(impl ReadTables + ?Sized),
    viewer: Id,
    status: Id,
) -> Result<Option<(crate::model::Poll, Option<Vec<u32>>)>> {
    let Some(p) = get_value::<crate::model::Poll>(t, Table::Poll, &k1(status))? else { return Ok(None) };
    let mine: Option<Vec<u32>> = get_value(t, Table::PollVote, &k2(status, viewer))?;
    Ok(Some((p, mine)))
}

/// The hashtags the viewer follows, newest first, with the follow's ID for paging.
pub fn followed_tags(t: &(impl ReadTables + ?Sized), viewer: Id, page: &Page) -> Result<Vec<(Id, String)>> {
    page_scan(t, Table::FollowedTagByAccount, &k1(viewer), page, |id, v| {
        Ok(Some((id, String::from_utf8_lossy(v).into_owned())))
    })
}

/// Whether the viewer follows a hashtag.
pub fn follows_tag(t: &(impl ReadTables + ?Sized), viewer: Id, tag: &str) -> Result<bool> {
    Ok(t.get(Table::FollowedTag, &crate::social::followed_tag_key(viewer, &tag.to_lowercase()))?.is_some())
}

/// A conversation in a listing: the latest post's ID (for paging), the conversation's ID, the
/// viewer's record of it, and its latest post if the viewer still sees it.
pub type ConversationItem = (Id, Id, crate::model::AccountConversation, Option<Shown>);

/// The viewer's direct conversations, most recent activity first.
pub fn conversations(t: &(impl ReadTables + ?Sized), viewer: Id, page: &Page) -> Result<Vec<ConversationItem>> {
    let mut v = Viewer::new(t, viewer);
    page_scan(t, Table::ConversationByAccount, &k1(viewer), page, |last, value| {
        let conversation = read_u64(value, 0)?;
        conversation_entry(&mut v, conversation).map(|c| c.map(|(c, shown)| (last, conversation, c, shown)))
    })
}

/// One of the viewer's conversations, with its latest post as the viewer sees it.
pub fn conversation_entry<T: ReadTables + ?Sized>(
    v: &mut Viewer<'_, T>,
    conversation: Id,
) -> Result<Option<(crate::model::AccountConversation, Option<Shown>)>> {
    let t = v.tables();
    let Some(c) =
        get_value::<crate::model::AccountConversation>(t, Table::AccountConversation, &k2(v.id(), conversation))?
    else {
        return Ok(None);
    };
    let shown = visible(v, c.last_status)?;
    Ok(Some((c, shown)))
}

/// A report, for its reporter or a moderator.
pub fn report(t: &(impl ReadTables + ?Sized), id: Id) -> Result<Option<crate::model::Report>> {
    get_value(t, Table::Report, &k1(id))
}

/// Unresolved reports, newest first: the moderators' queue.
pub fn open_reports(t: &(impl ReadTables + ?Sized), page: &Page) -> Result<Vec<crate::model::Report>> {
    page_scan(t, Table::OpenReport, &[], page, |id, _| report(t, id))
}

/// Whether the account pinned the post.
pub fn is_pinned(t: &(impl ReadTables + ?Sized), account: Id, status: Id) -> Result<bool> {
    Ok(t.get(Table::Pin, &k2(account, status))?.is_some())
}

/// The most interactions of one kind that a "who favourited / reblogged" list walks.
pub const MAX_INTERACTIONS_LISTED: usize = 100_000;

/// Who favourited a post the viewer may see (`None` if they may not), newest first, with the
/// favourite's ID for paging; blocked accounts are left out.
pub fn favourited_by(
    t: &(impl ReadTables + ?Sized),
    viewer: Id,
    status: Id,
    page: &Page,
) -> Result<Option<Vec<(Id, Account)>>> {
    interacted(t, viewer, status, Table::Favourite, page)
}

/// Who reblogged a post the viewer may see, newest first, with the reblog's ID for paging.
/// Only public and unlisted reblogs are listed (as on Mastodon): one shared with followers
/// only is the reblogger's followers' business.
pub fn reblogged_by(
    t: &(impl ReadTables + ?Sized),
    viewer: Id,
    status: Id,
    page: &Page,
) -> Result<Option<Vec<(Id, Account)>>> {
    interacted(t, viewer, status, Table::Reblog, page)
}

/// Whether an interaction entry (its ID, and who) is listed: every favourite; only public and
/// unlisted reblogs.
fn listed(t: &(impl ReadTables + ?Sized), table: Table, id: Id) -> Result<bool> {
    if table != Table::Reblog {
        return Ok(true);
    }
    Ok(status(t, id)?
        .is_some_and(|r| matches!(r.visibility, roost_types::Visibility::Public | roost_types::Visibility::Unlisted)))
}

/// Walks `table`'s (status, account) → time-ordered ID entries of one post, ordered by that ID.
fn interacted(
    t: &(impl ReadTables + ?Sized),
    viewer: Id,
    status: Id,
    table: Table,
    page: &Page,
) -> Result<Option<Vec<(Id, Account)>>> {
    let Some((s, _)) = visible_status(t, viewer, status)? else { return Ok(None) };
    let mut all: Vec<(Id, Id)> = Vec::new();
    let (lo, hi) = prefix_bounds(&k1(s.id));
    t.scan(table, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |k, v| {
        all.push((read_u64(v, 0)?, read_u64(k, 8)?));
        Ok(all.len() < MAX_INTERACTIONS_LISTED)
    })?;
    all.retain(|&(id, _)| {
        page.max_id.is_none_or(|m| id < m) && page.since_id.is_none_or(|m| id > m) && page.min_id.is_none_or(|m| id > m)
    });
    let mut kept = Vec::with_capacity(all.len());
    for entry in all {
        if listed(t, table, entry.0)? {
            kept.push(entry);
        }
    }
    let mut all = kept;
    // Newest first; with `min_id`, the page just above it.
    all.sort_unstable_by_key(|&(id, _)| std::cmp::Reverse(id));
    let limit = page.limit.clamp(1, MAX_PAGE);
    let chosen: Vec<(Id, Id)> = if page.min_id.is_some() {
        let skip = all.len().saturating_sub(limit);
        all.into_iter().skip(skip).collect()
    } else {
        all.into_iter().take(limit).collect()
    };
    let mut out = Vec::with_capacity(chosen.len());
    let mut v = Viewer::new(t, viewer);
    for (id, who) in chosen {
        if who != viewer && (v.blocked(who)? || v.suspended_hidden(who)?) {
            continue;
        }
        if let Some(a) = account(t, who)? {
            out.push((id, a));
        }
    }
    Ok(Some(out))
}

/// The viewer's favourites, newest first, with the favourite's ID for paging.
pub fn favourites(t: &(impl ReadTables + ?Sized), viewer: Id, page: &Page) -> Result<Vec<(Id, Shown)>> {
    let mut v = Viewer::new(t, viewer);
    page_scan(t, Table::FavouriteByAccount, &k1(viewer), page, |fav, value| {
        Ok(visible(&mut v, read_u64(value, 0)?)?.map(|s| (fav, s)))
    })
}

/// The viewer's bookmarks, newest first, with the bookmark's ID for paging.
pub fn bookmarks(t: &(impl ReadTables + ?Sized), viewer: Id, page: &Page) -> Result<Vec<(Id, Shown)>> {
    let mut v = Viewer::new(t, viewer);
    page_scan(t, Table::BookmarkByAccount, &k1(viewer), page, |bm, value| {
        Ok(visible(&mut v, read_u64(value, 0)?)?.map(|s| (bm, s)))
    })
}

/// Which notifications a listing wants.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    /// Only these kinds (all when empty).
    pub types: Vec<NotificationKind>,
    pub exclude_types: Vec<NotificationKind>,
    /// Only those from this account.
    pub account: Option<Id>,
}

/// A notification whose post, if any, still exists and is visible; `None` otherwise.
fn live_notification<T: ReadTables + ?Sized>(
    v: &mut Viewer<'_, T>,
    n: Notification,
) -> Result<Option<(Notification, Option<Shown>)>> {
    let from_elsewhere = n.from != n.account;
    if from_elsewhere && (v.blocked(n.from)? || v.suspended_hidden(n.from)?) {
        return Ok(None);
    }
    if account(v.tables(), n.from)?.is_none() {
        return Ok(None);
    }
    match n.status {
        None => Ok(Some((n, None))),
        Some(sid) => Ok(visible(v, sid)?.map(|s| (n, Some(s)))),
    }
}

pub fn notifications(
    t: &(impl ReadTables + ?Sized),
    viewer: Id,
    filter: &NotificationFilter,
    page: &Page,
) -> Result<Vec<(Notification, Option<Shown>)>> {
    let mut v = Viewer::new(t, viewer);
    page_scan(t, Table::Notification, &k1(viewer), page, |_, value| {
        let n: Notification = crate::kv::decode(value)?;
        let wanted = (filter.types.is_empty() || filter.types.contains(&n.kind))
            && !filter.exclude_types.contains(&n.kind)
            && filter.account.is_none_or(|a| a == n.from);
        if !wanted {
            return Ok(None);
        }
        live_notification(&mut v, n)
    })
}

pub fn notification(
    t: &(impl ReadTables + ?Sized),
    viewer: Id,
    id: Id,
) -> Result<Option<(Notification, Option<Shown>)>> {
    match get_value::<Notification>(t, Table::Notification, &k2(viewer, id))? {
        Some(n) => live_notification(&mut Viewer::new(t, viewer), n),
        None => Ok(None),
    }
}

/// Accounts following `account` (or that it follows), newest relation first, with the
/// relation's ID for paging. Blocked accounts are left out for the viewer.
pub fn followers(t: &(impl ReadTables + ?Sized), viewer: Id, account: Id, page: &Page) -> Result<Vec<(Id, Account)>> {
    relation_list(t, Table::Followers, viewer, account, page)
}

pub fn following(t: &(impl ReadTables + ?Sized), viewer: Id, account: Id, page: &Page) -> Result<Vec<(Id, Account)>> {
    relation_list(t, Table::Following, viewer, account, page)
}

/// The viewer's blocks or mutes, newest first.
pub fn blocks(t: &(impl ReadTables + ?Sized), viewer: Id, page: &Page) -> Result<Vec<(Id, Account)>> {
    page_scan(t, Table::BlockByAccount, &k1(viewer), page, |rid, v| Ok(account(t, read_u64(v, 0)?)?.map(|a| (rid, a))))
}

/// Accounts waiting for the viewer to answer their follow requests, newest first, with the
/// request's ID for paging.
pub fn follow_requests(t: &(impl ReadTables + ?Sized), viewer: Id, page: &Page) -> Result<Vec<(Id, Account)>> {
    page_scan(t, Table::FollowRequestByTarget, &k1(viewer), page, |rid, v| {
        Ok(account(t, read_u64(v, 0)?)?.map(|a| (rid, a)))
    })
}

pub fn mutes(t: &(impl ReadTables + ?Sized), viewer: Id, page: &Page) -> Result<Vec<(Id, Account)>> {
    page_scan(t, Table::MuteByAccount, &k1(viewer), page, |rid, v| Ok(account(t, read_u64(v, 0)?)?.map(|a| (rid, a))))
}

fn relation_list(
    t: &(impl ReadTables + ?Sized),
    table: Table,
    viewer: Id,
    whose: Id,
    page: &Page,
) -> Result<Vec<(Id, Account)>> {
    if viewer != whose && visibility::blocked_either_way(t, viewer, whose)? {
        return Ok(Vec::new());
    }
    let mut v = Viewer::new(t, viewer);
    page_scan(t, table, &k1(whose), page, |rid, value| {
        let other = read_u64(value, 0)?;
        if other != viewer && (v.blocked(other)? || v.suspended_hidden(other)?) {
            return Ok(None);
        }
        Ok(account(t, other)?.map(|a| (rid, a)))
    })
}

/// The viewer's relationship with another account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relationship {
    pub following: bool,
    pub showing_reblogs: bool,
    pub notifying: bool,
    pub followed_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    pub muting: bool,
    pub muting_notifications: bool,
    /// When the viewer's mute of the other lifts by itself, if it does.
    pub muting_expires_at: Option<roost_types::Millis>,
    /// The viewer asked to follow the other, who has not answered yet.
    pub requested: bool,
    /// The other asked to follow the viewer.
    pub requested_by: bool,
}

pub fn relationship(t: &(impl ReadTables + ?Sized), viewer: Id, other: Id) -> Result<Relationship> {
    let follow: Option<crate::model::Follow> = get_value(t, Table::Follow, &k2(viewer, other))?;
    let mute = visibility::mute(t, viewer, other)?;
    Ok(Relationship {
        following: follow.is_some(),
        showing_reblogs: follow.is_some_and(|f| f.reblogs),
        notifying: follow.is_some_and(|f| f.notify),
        followed_by: visibility::follows(t, other, viewer)?,
        blocking: t.get(Table::Block, &k2(viewer, other))?.is_some(),
        blocked_by: t.get(Table::Block, &k2(other, viewer))?.is_some(),
        muting: mute.is_some(),
        muting_notifications: mute.is_some_and(|m| m.notifications),
        muting_expires_at: mute.and_then(|m| m.expires_at),
        requested: t.get(Table::FollowRequest, &k2(viewer, other))?.is_some(),
        requested_by: t.get(Table::FollowRequest, &k2(other, viewer))?.is_some(),
    })
}

/// What the viewer has done to a post, for the `favourited`/`reblogged`/`bookmarked`/`muted`
/// fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interactions {
    pub favourited: bool,
    pub reblogged: bool,
    pub bookmarked: bool,
    pub muted: bool,
}

/// `viewer_has_bookmarks` may be `false` only if the viewer has no bookmark at all (see
/// [`has_bookmarks`]); it saves a lookup per post.
pub fn interactions(
    t: &(impl ReadTables + ?Sized),
    viewer: Id,
    s: &Status,
    viewer_has_bookmarks: bool,
) -> Result<Interactions> {
    // The counters are exact (the property tests hold them to it), so a post nobody favourited
    // or reblogged needs no lookup.
    Ok(Interactions {
        favourited: s.favourites_count > 0 && t.get(Table::Favourite, &k2(s.id, viewer))?.is_some(),
        reblogged: s.reblogs_count > 0 && t.get(Table::Reblog, &k2(s.id, viewer))?.is_some(),
        bookmarked: viewer_has_bookmarks && t.get(Table::Bookmark, &k2(viewer, s.id))?.is_some(),
        muted: false,
    })
}

/// Whether the account has bookmarked anything.
pub fn has_bookmarks(t: &(impl ReadTables + ?Sized), account: Id) -> Result<bool> {
    let mut any = false;
    let (lo, hi) = prefix_bounds(&k1(account));
    t.scan(Table::BookmarkByAccount, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |_, _| {
        any = true;
        Ok(false)
    })?;
    Ok(any)
}

/// The thread around a post: its ancestors (oldest first) and descendants (depth first, in
/// reply order), as far as the viewer may see, each at most [`MAX_CONTEXT`].
pub fn context(t: &(impl ReadTables + ?Sized), viewer: Id, id: Id) -> Result<Option<(Vec<Status>, Vec<Status>)>> {
    let mut v = Viewer::new(t, viewer);
    let Some((s, _)) = visible(&mut v, id)? else { return Ok(None) };
    let mut ancestors = Vec::new();
    let mut parent = s.in_reply_to;
    while let Some(p) = parent {
        if ancestors.len() >= MAX_CONTEXT {
            break;
        }
        match visible(&mut v, p)? {
            Some((ps, _)) => {
                parent = ps.in_reply_to;
                ancestors.push(ps);
            }
            None => break,
        }
    }
    ancestors.reverse();

    let mut descendants = Vec::new();
    let mut stack = children(t, s.id)?;
    stack.reverse();
    while let Some(c) = stack.pop() {
        if descendants.len() >= MAX_CONTEXT {
            break;
        }
        if let Some((cs, _)) = visible(&mut v, c)? {
            if v.hidden_in_feeds(&cs, None)? {
                continue;
            }
            let mut kids = children(t, cs.id)?;
            kids.reverse();
            stack.extend(kids);
            descendants.push(cs);
        }
    }
    Ok(Some((ancestors, descendants)))
}

fn children(t: &(impl ReadTables + ?Sized), parent: Id) -> Result<Vec<Id>> {
    let mut out = Vec::new();
    let (lo, hi) = prefix_bounds(&k1(parent));
    t.scan(Table::Replies, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |k, _| {
        out.push(read_u64(k, 8)?);
        Ok(out.len() < MAX_CONTEXT)
    })?;
    Ok(out)
}

/// The post an account created earlier with this idempotency key, if it still exists.
pub fn idempotent_status(t: &(impl ReadTables + ?Sized), account: Id, key: &str) -> Result<Option<Id>> {
    match t.get(Table::Idempotency, &idempotency_key(account, key))? {
        Some(v) => {
            let id = read_u64(&v, 0)?;
            Ok(status(t, id)?.map(|_| id))
        }
        None => Ok(None),
    }
}

pub(crate) fn idempotency_key(account: Id, key: &str) -> Vec<u8> {
    let mut k = k1(account).to_vec();
    k.extend_from_slice(key.as_bytes());
    k
}

/// Counts of a table's entries under a prefix (for tests and consistency checks).
pub fn count_prefix(t: &(impl ReadTables + ?Sized), table: Table, prefix: &[u8]) -> Result<u64> {
    let mut n = 0;
    let (lo, hi) = prefix_bounds(prefix);
    t.scan(table, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |_, _| {
        n += 1;
        Ok(true)
    })?;
    Ok(n)
}

// ---- administration ------------------------------------------------------------------------

/// The hashes of every token an account holds (web sessions and apps' tokens).
pub fn account_token_hashes(t: &(impl ReadTables + ?Sized), account: Id) -> Result<Vec<[u8; 32]>> {
    let (lo, hi) = prefix_bounds(&k1(account));
    let mut hashes = Vec::new();
    t.scan(Table::AccountToken, Bound::Included(lo.as_slice()), bound_ref(&hi), Dir::Forward, &mut |k, _| {
        if let Ok(h) = <[u8; 32]>::try_from(&k[8..]) {
            hashes.push(h);
        }
        Ok(true)
    })?;
    Ok(hashes)
}

/// An account's tokens with their records, newest first: the sessions and apps it sees.
pub fn account_tokens(t: &(impl ReadTables + ?Sized), account: Id) -> Result<Vec<([u8; 32], Token)>> {
    let mut out = Vec::new();
    for h in account_token_hashes(t, account)? {
        if let Some(tok) = token(t, &h)? {
            out.push((h, tok));
        }
    }
    out.sort_by_key(|(_, tok)| std::cmp::Reverse(tok.created_at));
    Ok(out)
}

/// Every account, oldest first, after `after`: the members page.
pub fn accounts_page(t: &(impl ReadTables + ?Sized), after: Option<Id>, limit: usize) -> Result<Vec<Account>> {
    let key = after.map(k1);
    let lo = match &key {
        Some(k) => Bound::Excluded(k.as_slice()),
        None => Bound::Unbounded,
    };
    let mut out = Vec::new();
    let limit = limit.clamp(1, MAX_PAGE);
    let mut failed = None;
    t.scan(Table::Account, lo, Bound::Unbounded, Dir::Forward, &mut |_, v| {
        match crate::kv::decode::<Account>(v) {
            Ok(a) => out.push(a),
            Err(e) => failed = Some(e),
        }
        Ok(failed.is_none() && out.len() < limit)
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Whether an account is suspended.
pub fn suspended(t: &(impl ReadTables + ?Sized), account: Id) -> Result<bool> {
    Ok(t.get(Table::Suspended, &k1(account))?.is_some())
}

/// A member's defaults for new posts.
pub fn preferences(t: &(impl ReadTables + ?Sized), account: Id) -> Result<crate::model::Preferences> {
    Ok(get_value(t, Table::Preferences, &k1(account))?.unwrap_or_default())
}

/// The invite a code opens, whatever its state.
pub fn invite_by_code(t: &(impl ReadTables + ?Sized), code_hash: &[u8; 32]) -> Result<Option<crate::model::Invite>> {
    match t.get(Table::InviteCode, code_hash)? {
        Some(v) => get_value(t, Table::Invite, &v),
        None => Ok(None),
    }
}

/// Invites, newest first.
pub fn invites(t: &(impl ReadTables + ?Sized), page: &Page) -> Result<Vec<crate::model::Invite>> {
    page_scan(t, Table::Invite, &[], page, |_, v| crate::kv::decode(v).map(Some))
}

// ---- scheduled posts -----------------------------------------------------------------------

/// An account's scheduled posts, newest scheduled ID first.
pub fn scheduled_posts(
    t: &(impl ReadTables + ?Sized),
    account: Id,
    page: &Page,
) -> Result<Vec<crate::model::ScheduledPost>> {
    page_scan(t, Table::Scheduled, &k1(account), page, |_, v| crate::kv::decode(v).map(Some))
}

/// The newest posts of the instance, newest first, at most `limit` (every visibility: for
/// automod dry runs, whose reports show only what their reader may read).
pub fn newest_statuses(t: &(impl ReadTables + ?Sized), limit: usize) -> Result<Vec<Status>> {
    let mut out = Vec::with_capacity(limit.min(1024));
    t.scan(Table::Status, Bound::Unbounded, Bound::Unbounded, Dir::Reverse, &mut |_, v| {
        out.push(crate::kv::decode(v)?);
        Ok(out.len() < limit)
    })?;
    Ok(out)
}

/// The pictures a scheduled post holds, in order.
pub fn scheduled_media(t: &(impl ReadTables + ?Sized), id: Id) -> Result<Vec<Id>> {
    crate::scheduled::media_of(t, id)
}

/// One of an account's scheduled posts.
pub fn scheduled_post(
    t: &(impl ReadTables + ?Sized),
    account: Id,
    id: Id,
) -> Result<Option<crate::model::ScheduledPost>> {
    get_value(t, Table::Scheduled, &k2(account, id))
}
