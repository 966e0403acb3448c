//! Who may see what: the one place where Roost decides it. Every read path in [`crate::query`]
//! and every fan-out in `apply` asks these functions.
//!
//! The rules live in [`Viewer`], which remembers what it learned about each author for the
//! length of one request (a timeline page shows the same authors again and again); the free
//! functions are one-off questions asked through a fresh `Viewer`.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;

use roost_types::{Id, Visibility};

use crate::kv::{get_value, k2, Dir, ReadTables, Table};
use crate::model::{Mute, Status};
use crate::Result;

/// What the viewer's relationship with one author implies.
#[derive(Debug, Clone, Copy)]
struct Relation {
    /// One of the two blocks the other.
    blocked: bool,
    /// The viewer muted the author.
    muted: bool,
    /// The viewer follows the author.
    follows: bool,
    /// The author is suspended and the viewer may not see them (see [`Viewer::hides_suspended`]).
    suspended: bool,
}

/// One account's view of the network, with per-author answers cached.
pub struct Viewer<'t, T: ReadTables + ?Sized> {
    t: &'t T,
    id: Id,
    relations: HashMap<Id, Relation>,
    /// Whether the viewer blocks anyone, is blocked by anyone, mutes anyone: most accounts do
    /// none of these, and then no per-author lookup is needed for them.
    any: Option<(bool, bool, bool)>,
    /// Everyone the viewer follows, when read in one scan (see [`Viewer::preload_following`]).
    following: Option<HashSet<Id>>,
    /// The hashtags the viewer follows, read when first needed.
    followed_tags: Option<Vec<String>>,
    /// Whether suspended accounts are hidden from this viewer, read when first needed: from
    /// protocol 2 on, whenever any account is suspended and the viewer is not a moderator.
    hides_suspended: Option<bool>,
    /// Whether held posts are hidden from this viewer, read when first needed: whenever any
    /// post is held and the viewer is not a moderator.
    hides_held: Option<bool>,
}

/// The most follows [`Viewer::preload_following`] reads in one scan; beyond, per-author
/// lookups are cheaper.
const PRELOAD_FOLLOWING_MAX: usize = 1000;

impl<'t, T: ReadTables + ?Sized> Viewer<'t, T> {
    pub fn new(t: &'t T, id: Id) -> Self {
        Viewer {
            t,
            id,
            relations: HashMap::new(),
            any: None,
            following: None,
            followed_tags: None,
            hides_suspended: None,
            hides_held: None,
        }
    }

    /// Reads whom the viewer follows in one range scan instead of one lookup per author, for
    /// pages of many authors (timelines). Does nothing for viewers who follow very many.
    pub fn preload_following(mut self) -> Result<Self> {
        let (lo, hi) = crate::kv::prefix_bounds(&crate::kv::k1(self.id));
        let mut set = HashSet::new();
        let mut complete = true;
        self.t.scan(Table::Follow, Bound::Included(&lo), crate::kv::bound_ref(&hi), Dir::Forward, &mut |k, _| {
            if set.len() >= PRELOAD_FOLLOWING_MAX {
                complete = false;
                return Ok(false);
            }
            set.insert(crate::kv::read_u64(k, 8)?);
            Ok(true)
        })?;
        if complete {
            self.following = Some(set);
        }
        Ok(self)
    }

    fn any(&mut self) -> Result<(bool, bool, bool)> {
        if let Some(any) = self.any {
            return Ok(any);
        }
        let prefix = crate::kv::k1(self.id);
        let any = (
            has_prefix(self.t, Table::BlockByAccount, &prefix)?,
            has_prefix(self.t, Table::BlockedBy, &prefix)?,
            has_prefix(self.t, Table::MuteByAccount, &prefix)?,
        );
        self.any = Some(any);
        Ok(any)
    }

    pub fn id(&self) -> Id {
        self.id
    }

    /// The tables this viewer reads.
    pub fn tables(&self) -> &'t T {
        self.t
    }

    /// Whether this viewer is kept from suspended accounts' posts and profiles: a suspension
    /// hides them from other members (moderators still see them) from protocol 2 on. Cheap when
    /// nobody is suspended: one lookup per viewer.
    pub fn hides_suspended(&mut self) -> Result<bool> {
        if let Some(h) = self.hides_suspended {
            return Ok(h);
        }
        let t = self.t;
        let hides = crate::protocol::at_least(t, 2)?
            && has_prefix(t, Table::Suspended, &[])?
            && !crate::query::account(t, self.id)?.is_some_and(|a| a.role.can_moderate());
        self.hides_suspended = Some(hides);
        Ok(hides)
    }

    /// Whether posts held by an automod rule are hidden from this viewer (everyone but their
    /// authors and moderators). Cheap when nothing is held: one lookup per viewer.
    fn hides_held(&mut self) -> Result<bool> {
        if let Some(h) = self.hides_held {
            return Ok(h);
        }
        let t = self.t;
        let hides = crate::extensions::any_held(t)?
            && !crate::query::account(t, self.id)?.is_some_and(|a| a.role.can_moderate());
        self.hides_held = Some(hides);
        Ok(hides)
    }

    /// Whether `account` is hidden from this viewer because it is suspended.
    pub fn suspended_hidden(&mut self, account: Id) -> Result<bool> {
        Ok(account != self.id && self.relation(account)?.suspended)
    }

    fn relation(&mut self, author: Id) -> Result<Relation> {
        if let Some(r) = self.relations.get(&author) {
            return Ok(*r);
        }
        let (blocks, blocked_by, mutes) = self.any()?;
        let suspended = self.hides_suspended()? && crate::query::suspended(self.t, author)?;
        let (t, v) = (self.t, self.id);
        let r = Relation {
            blocked: (blocks && t.get(Table::Block, &k2(v, author))?.is_some())
                || (blocked_by && t.get(Table::Block, &k2(author, v))?.is_some()),
            muted: mutes && t.get(Table::Mute, &k2(v, author))?.is_some(),
            follows: match &self.following {
                Some(set) => set.contains(&author),
                None => t.get(Table::Follow, &k2(v, author))?.is_some(),
            },
            suspended,
        };
        self.relations.insert(author, r);
        Ok(r)
    }

    /// Whether the viewer may see the post itself (for a reblog, the reblog record; callers
    /// check the original too, see [`crate::query::visible_status`]).
    pub fn can_see(&mut self, s: &Status) -> Result<bool> {
        if s.author == self.id {
            return Ok(true);
        }
        let r = self.relation(s.author)?;
        if r.blocked || r.suspended {
            return Ok(false);
        }
        if self.hides_held()? && self.t.get(Table::HeldPost, &crate::kv::k1(s.id))?.is_some() {
            return Ok(false);
        }
        Ok(match s.visibility {
            Visibility::Public | Visibility::Unlisted => true,
            Visibility::Private => r.follows || s.mentions.contains(&self.id),
            Visibility::Direct => s.mentions.contains(&self.id),
        })
    }

    /// Whether a post the viewer may see should still be left out of the viewer's timelines
    /// (home, public, hashtag, lists): its author, or the author of what it reblogs, is muted
    /// or blocked by the viewer.
    pub fn hidden_in_feeds(&mut self, s: &Status, original: Option<&Status>) -> Result<bool> {
        for author in [Some(s.author), original.map(|o| o.author)].into_iter().flatten() {
            if author != self.id {
                let r = self.relation(author)?;
                if r.muted || r.blocked {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Whether the viewer follows one of these (lowercase) hashtags.
    pub fn follows_any_tag(&mut self, tags: &[String]) -> Result<bool> {
        if tags.is_empty() {
            return Ok(false);
        }
        if self.followed_tags.is_none() {
            let mut list = Vec::new();
            let (lo, hi) = crate::kv::prefix_bounds(&crate::kv::k1(self.id));
            self.t.scan(
                Table::FollowedTag,
                Bound::Included(&lo),
                crate::kv::bound_ref(&hi),
                Dir::Forward,
                &mut |k, _| {
                    list.push(String::from_utf8_lossy(&k[8..]).into_owned());
                    Ok(true)
                },
            )?;
            self.followed_tags = Some(list);
        }
        Ok(self.followed_tags.as_ref().is_some_and(|followed| tags.iter().any(|t| followed.contains(t))))
    }

    /// Whether the viewer follows `other`.
    pub fn follows(&mut self, other: Id) -> Result<bool> {
        Ok(other != self.id && self.relation(other)?.follows)
    }

    /// Whether the viewer blocks `other` or is blocked by them.
    pub fn blocked(&mut self, other: Id) -> Result<bool> {
        Ok(other != self.id && self.relation(other)?.blocked)
    }
}

/// Whether a table has any key starting with `prefix` (any key at all, with an empty one).
pub(crate) fn has_prefix(t: &(impl ReadTables + ?Sized), table: Table, prefix: &[u8]) -> Result<bool> {
    let (lo, hi) = crate::kv::prefix_bounds(prefix);
    let mut any = false;
    t.scan(table, std::ops::Bound::Included(&lo), crate::kv::bound_ref(&hi), crate::kv::Dir::Forward, &mut |_, _| {
        any = true;
        Ok(false)
    })?;
    Ok(any)
}

/// Whether `a` blocks `b` or `b` blocks `a`.
pub fn blocked_either_way(t: &(impl ReadTables + ?Sized), a: Id, b: Id) -> Result<bool> {
    Viewer::new(t, a).blocked(b)
}

/// Whether `follower` follows `target`.
pub fn follows(t: &(impl ReadTables + ?Sized), follower: Id, target: Id) -> Result<bool> {
    Ok(t.get(Table::Follow, &k2(follower, target))?.is_some())
}

/// The mute `viewer` placed on `target`, if any.
pub fn mute(t: &(impl ReadTables + ?Sized), viewer: Id, target: Id) -> Result<Option<Mute>> {
    get_value(t, Table::Mute, &k2(viewer, target))
}

/// Whether `viewer` may see `account` at all: not when it is suspended (from protocol 2 on)
/// and the viewer is not a moderator. Blocks are the caller's to weigh.
pub fn account_shown(t: &(impl ReadTables + ?Sized), viewer: Id, account: Id) -> Result<bool> {
    Ok(!Viewer::new(t, viewer).suspended_hidden(account)?)
}

/// Whether `viewer` may see the post; see [`Viewer::can_see`].
pub fn can_see(t: &(impl ReadTables + ?Sized), viewer: Id, s: &Status) -> Result<bool> {
    Viewer::new(t, viewer).can_see(s)
}

/// Whether a notification from `from` should reach `recipient` at all.
pub fn notification_allowed(t: &(impl ReadTables + ?Sized), recipient: Id, from: Id) -> Result<bool> {
    if recipient == from || blocked_either_way(t, recipient, from)? {
        return Ok(false);
    }
    Ok(!mute(t, recipient, from)?.is_some_and(|m| m.notifications))
}
