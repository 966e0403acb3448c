//! Who may see what: the one place where Roost decides it. Every read path in [`crate::query`]
//! and every fan-out in `apply` asks these functions.

use roost_types::{Id, Visibility};

use crate::kv::{get_value, k2, ReadTables, Table};
use crate::model::{Mute, Status};
use crate::Result;

/// Whether `a` blocks `b` or `b` blocks `a`.
pub fn blocked_either_way(t: &(impl ReadTables + ?Sized), a: Id, b: Id) -> Result<bool> {
    Ok(t.get(Table::Block, &k2(a, b))?.is_some() || t.get(Table::Block, &k2(b, a))?.is_some())
}

/// Whether `follower` follows `target`.
pub fn follows(t: &(impl ReadTables + ?Sized), follower: Id, target: Id) -> Result<bool> {
    Ok(t.get(Table::Follow, &k2(follower, target))?.is_some())
}

/// The mute `viewer` placed on `target`, if any.
pub fn mute(t: &(impl ReadTables + ?Sized), viewer: Id, target: Id) -> Result<Option<Mute>> {
    get_value(t, Table::Mute, &k2(viewer, target))
}

/// Whether `viewer` may see the post itself (for a reblog, the reblog record; callers check the
/// original too, see [`crate::query::visible_status`]).
pub fn can_see(t: &(impl ReadTables + ?Sized), viewer: Id, s: &Status) -> Result<bool> {
    if s.author == viewer {
        return Ok(true);
    }
    if blocked_either_way(t, viewer, s.author)? {
        return Ok(false);
    }
    Ok(match s.visibility {
        Visibility::Public | Visibility::Unlisted => true,
        Visibility::Private => s.mentions.contains(&viewer) || follows(t, viewer, s.author)?,
        Visibility::Direct => s.mentions.contains(&viewer),
    })
}

/// Whether a post the viewer may see should still be left out of the viewer's timelines
/// (home, public, hashtag, lists): its author, or the author of what it reblogs, is muted or
/// blocked by the viewer.
pub fn hidden_in_feeds(t: &(impl ReadTables + ?Sized), viewer: Id, s: &Status, original: Option<&Status>) -> Result<bool> {
    for author in [Some(s.author), original.map(|o| o.author)].into_iter().flatten() {
        if author != viewer && (mute(t, viewer, author)?.is_some() || blocked_either_way(t, viewer, author)?) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether a notification from `from` should reach `recipient` at all.
pub fn notification_allowed(t: &(impl ReadTables + ?Sized), recipient: Id, from: Id) -> Result<bool> {
    if recipient == from || blocked_either_way(t, recipient, from)? {
        return Ok(false);
    }
    Ok(!mute(t, recipient, from)?.is_some_and(|m| m.notifications))
}
