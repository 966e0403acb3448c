//! The narrow storage interface the state machine is written against.
//!
//! The state is a set of ordered byte-keyed tables. `roost-store` implements them on redb inside
//! one transaction per applied batch; [`MemTables`] implements them on a `BTreeMap` for unit and
//! property tests. The state machine never sees which one it runs on.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result};

/// The tables of the state. The discriminant is the on-disk prefix: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Table {
    /// Singletons such as the ID counter.
    Meta = 0,
    /// account id → `Account`
    Account = 1,
    /// lowercase username → account id
    Username = 2,
    /// lowercase email → account id
    Email = 3,
    /// status id → `Status`
    Status = 4,
    /// (account, status) → () : an account's posts and reblogs, newest last
    AccountStatuses = 5,
    // 6 was the home timeline, now a derived in-memory index (`crate::home`).
    /// status → () : the local public timeline
    Public = 7,
    /// (tag, 0, status) → () : posts by hashtag
    Tag = 8,
    /// (parent, child) → () : direct replies
    Replies = 9,
    /// (status, account) → favourite id
    Favourite = 10,
    /// (account, favourite id) → status
    FavouriteByAccount = 11,
    /// (status, account) → reblog status id
    Reblog = 12,
    /// (account, status) → bookmark id
    Bookmark = 13,
    /// (account, bookmark id) → status
    BookmarkByAccount = 14,
    /// (follower, target) → `Follow`
    Follow = 15,
    /// (follower, follow id) → target : whom an account follows, by recency
    Following = 16,
    /// (target, follow id) → follower : who follows an account, by recency
    Followers = 17,
    /// (blocker, blocked) → ()
    Block = 18,
    /// (blocked, blocker) → ()
    BlockedBy = 19,
    /// (muter, muted) → `Mute`
    Mute = 20,
    /// (account, notification id) → `Notification`
    Notification = 21,
    /// client id → `App`
    App = 22,
    /// token hash → `Token`
    Token = 23,
    /// (account, idempotency key) → status id
    Idempotency = 24,
    /// (account, mute id) → muted : mutes by recency
    MuteByAccount = 25,
    /// (account, block id) → blocked : blocks by recency
    BlockByAccount = 26,
    /// code hash → `AuthCode` : OAuth authorization codes not yet redeemed
    AuthCode = 27,
    /// (requester, target) → `Follow` : follow requests to locked accounts, awaiting an answer
    FollowRequest = 28,
    /// (target, request id) → requester : an account's pending requests, by recency
    FollowRequestByTarget = 29,
    /// (account, status) → pin id : posts an account features on its profile
    Pin = 30,
    /// (account, pin id) → status : the same, by recency
    PinByAccount = 31,
    /// (account, timeline) → `Marker` : where the member stopped reading
    Marker = 32,
    /// (status, edit id) → `StatusVersion` : the versions an edit replaced, oldest first
    StatusEdit = 33,
    /// status → `Poll` : a post's poll with its counts
    Poll = 34,
    /// (status, account) → choices (`Vec<u32>`) : who voted for what
    PollVote = 35,
    /// (owner, list id) → `List`
    List = 36,
    /// (list id, member) → () : a list's members
    ListMember = 37,
    /// (owner, member, list id) → () : which of the owner's lists hold an account
    ListsOf = 38,
    /// (account, tag) → follow id : hashtags an account follows
    FollowedTag = 39,
    /// (account, follow id) → tag : the same, by recency
    FollowedTagByAccount = 40,
    /// (tag, 0, account) → () : who follows a hashtag, for fan-out
    TagFollowers = 41,
    /// direct status → conversation id
    ConversationOf = 42,
    /// (conversation, status) → () : a conversation's direct posts
    ConversationStatuses = 43,
    /// (account, conversation) → `AccountConversation`
    AccountConversation = 44,
    /// (account, last status) → conversation : an account's conversations by recency
    ConversationByAccount = 45,
    /// report id → `Report` : reports for the moderators
    Report = 46,
    /// report id → () : reports not yet resolved, the moderators' queue
    OpenReport = 47,
    /// (expires at, muter, muted) → () : mutes that lift by themselves, soonest first
    MuteExpiry = 48,
    /// (account, filter id) → `Filter`
    Filter = 49,
    /// invite id → `Invite`
    Invite = 50,
    /// code hash → invite id
    InviteCode = 51,
    /// account → suspended at (`Millis`) : suspended accounts
    Suspended = 52,
    /// account → `Preferences`
    Preferences = 53,
    /// (account, token hash) → () : an account's tokens, for its sessions and authorised apps
    AccountToken = 54,
    // Tables from here on are written only once protocol 2 is active (see `protocol`), and
    // filled from the rest of the state when it is activated.
    /// (followed, follower) → () : followers who asked to hear of every post
    NotifyOf = 55,
    /// (ends at, poll status) → () : polls still running, soonest end first
    PollEnd = 56,
    /// (account, scheduled id) → `ScheduledPost`
    Scheduled = 57,
    /// (publish at, scheduled id) → account : scheduled posts, soonest first
    ScheduledDue = 58,
    /// (created at, client id) → () : apps no member has signed in to yet; they expire
    AppPending = 59,
    /// (client id, 0, token hash) → () : an app's tokens of its own (client credentials)
    AppOnlyToken = 60,
    /// (account, idempotency key) → scheduled id : a scheduled post's Idempotency-Key
    ScheduledIdempotency = 61,
    /// `Once` id → (applied at, `Outcome`) : writes made exactly once, remembered for a while
    Once = 62,
    /// (applied at, `Once` id) → () : the same, oldest first, for forgetting them
    OnceByTime = 63,
    // Written by protocol 4's commands only.
    /// media id → `Media` : uploaded pictures
    Media = 64,
    /// (owner, media id) → bytes (`u64`) : an account's uploads, for its quota
    MediaByOwner = 65,
    /// (expires at, media id) → () : uploads nothing uses yet, soonest expiry first
    MediaExpiry = 66,
    /// (blob hash, media id) → () : which pictures use a blob, so unused blobs can go
    BlobUse = 67,
    // Written by protocol 6's commands only.
    /// scheduled id → `Vec<Id>` : the pictures a scheduled post holds
    ScheduledMedia = 68,
    /// extension id → `Extension`
    Extension = 69,
    /// (extension id, version) → `ExtensionVersion` : every version, immutable
    ExtensionVersion = 70,
    /// status id → `HeldPost` : posts an automod rule held for review
    HeldPost = 71,
    /// status id → `Vec<PostLabel>` : labels automod rules put on a post
    PostLabel = 72,
    /// (owner, extension id) → () : members' personal feeds
    ExtensionOwner = 73,
    /// (kind, extension id) → () : the deployed extensions that are not personal feeds
    DeployedExtension = 74,
    /// (account, extension id) → () : the feeds a member subscribed to
    FeedSubscription = 75,
}

impl Table {
    /// Every table, in prefix order; the state digest walks them in this order.
    pub const ALL: [Table; 75] = [
        Table::Meta,
        Table::Account,
        Table::Username,
        Table::Email,
        Table::Status,
        Table::AccountStatuses,
        Table::Public,
        Table::Tag,
        Table::Replies,
        Table::Favourite,
        Table::FavouriteByAccount,
        Table::Reblog,
        Table::Bookmark,
        Table::BookmarkByAccount,
        Table::Follow,
        Table::Following,
        Table::Followers,
        Table::Block,
        Table::BlockedBy,
        Table::Mute,
        Table::Notification,
        Table::App,
        Table::Token,
        Table::Idempotency,
        Table::MuteByAccount,
        Table::BlockByAccount,
        Table::AuthCode,
        Table::FollowRequest,
        Table::FollowRequestByTarget,
        Table::Pin,
        Table::PinByAccount,
        Table::Marker,
        Table::StatusEdit,
        Table::Poll,
        Table::PollVote,
        Table::List,
        Table::ListMember,
        Table::ListsOf,
        Table::FollowedTag,
        Table::FollowedTagByAccount,
        Table::TagFollowers,
        Table::ConversationOf,
        Table::ConversationStatuses,
        Table::AccountConversation,
        Table::ConversationByAccount,
        Table::Report,
        Table::OpenReport,
        Table::MuteExpiry,
        Table::Filter,
        Table::Invite,
        Table::InviteCode,
        Table::Suspended,
        Table::Preferences,
        Table::AccountToken,
        Table::NotifyOf,
        Table::PollEnd,
        Table::Scheduled,
        Table::ScheduledDue,
        Table::AppPending,
        Table::AppOnlyToken,
        Table::ScheduledIdempotency,
        Table::Once,
        Table::OnceByTime,
        Table::Media,
        Table::MediaByOwner,
        Table::MediaExpiry,
        Table::BlobUse,
        Table::ScheduledMedia,
        Table::Extension,
        Table::ExtensionVersion,
        Table::HeldPost,
        Table::PostLabel,
        Table::ExtensionOwner,
        Table::DeployedExtension,
        Table::FeedSubscription,
    ];

    pub fn prefix(self) -> u8 {
        self as u8
    }
}

/// Which way a scan walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Forward,
    Reverse,
}

/// A scan's callback: given each key (without its table prefix) and value, says whether to go
/// on.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'a;

/// Read access to the tables.
pub trait ReadTables {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Visits the entries of `table` whose keys lie within the bounds, in key order (or its
    /// reverse), until `visit` returns `false`.
    fn scan(&self, table: Table, lo: Bound<&[u8]>, hi: Bound<&[u8]>, dir: Dir, visit: &mut Visitor<'_>) -> Result<()>;
}

/// Read and write access; the state machine's `apply` gets one of these.
pub trait Tables: ReadTables {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()>;
    /// Removes a key; returns whether it was there.
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool>;
}

/// An in-memory implementation, for tests and for tools that replay a log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemTables {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemTables {
    pub fn new() -> MemTables {
        MemTables::default()
    }

    /// All entries as (prefixed key, value), for comparisons in tests.
    pub fn entries(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.map
    }
}

/// Prepends the table prefix to a key.
pub fn full_key(table: Table, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(table.prefix());
    k.extend_from_slice(key);
    k
}

/// The bounds of a table-local range as bounds over prefixed keys.
pub fn full_bounds(table: Table, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lo = match lo {
        Bound::Included(k) => Bound::Included(full_key(table, k)),
        Bound::Excluded(k) => Bound::Excluded(full_key(table, k)),
        Bound::Unbounded => Bound::Included(vec![table.prefix()]),
    };
    let hi = match hi {
        Bound::Included(k) => Bound::Included(full_key(table, k)),
        Bound::Excluded(k) => Bound::Excluded(full_key(table, k)),
        Bound::Unbounded => Bound::Excluded(vec![table.prefix() + 1]),
    };
    (lo, hi)
}

impl ReadTables for MemTables {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.get(&full_key(table, key)).cloned())
    }

    fn scan(&self, table: Table, lo: Bound<&[u8]>, hi: Bound<&[u8]>, dir: Dir, visit: &mut Visitor<'_>) -> Result<()> {
        let bounds = full_bounds(table, lo, hi);
        if bounds_empty(&bounds) {
            return Ok(());
        }
        walk(self.map.range(bounds), dir, |(k, v)| visit(&k[1..], v))
    }
}

/// Feeds the items of a double-ended iterator to `step` in the scan's direction until it
/// returns `false`: the one loop behind every [`ReadTables::scan`].
pub fn walk<I, E>(
    iter: I,
    dir: Dir,
    mut step: impl FnMut(I::Item) -> std::result::Result<bool, E>,
) -> std::result::Result<(), E>
where
    I: DoubleEndedIterator,
{
    match dir {
        Dir::Forward => {
            for item in iter {
                if !step(item)? {
                    break;
                }
            }
        }
        Dir::Reverse => {
            for item in iter.rev() {
                if !step(item)? {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Whether a range is empty or inverted (BTreeMap and redb panic or error on inverted ranges).
pub fn bounds_empty(bounds: &(Bound<Vec<u8>>, Bound<Vec<u8>>)) -> bool {
    match bounds {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a >= b,
        _ => false,
    }
}

impl Tables for MemTables {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.map.insert(full_key(table, key), value.to_vec());
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool> {
        Ok(self.map.remove(&full_key(table, key)).is_some())
    }
}

// ---- typed helpers -------------------------------------------------------------------------

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|e| Error::Corrupt(format!("encode: {e}")))
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::Corrupt(format!("decode: {e}")))
}

/// Reads and decodes one value.
pub fn get_value<T: DeserializeOwned>(t: &(impl ReadTables + ?Sized), table: Table, key: &[u8]) -> Result<Option<T>> {
    match t.get(table, key)? {
        Some(bytes) => Ok(Some(decode(&bytes)?)),
        None => Ok(None),
    }
}

pub(crate) fn put_value<T: Serialize>(
    t: &mut (impl Tables + ?Sized),
    table: Table,
    key: &[u8],
    value: &T,
) -> Result<()> {
    t.put(table, key, &encode(value)?)
}

/// Key of one u64, big-endian so that byte order is numeric order.
pub fn k1(a: u64) -> [u8; 8] {
    a.to_be_bytes()
}

/// Key of two u64s.
pub fn k2(a: u64, b: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&a.to_be_bytes());
    k[8..].copy_from_slice(&b.to_be_bytes());
    k
}

/// Key of a string then a u64; the zero byte keeps "ab"+id from colliding with "a"+…
pub fn ks(s: &str, b: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(s.len() + 9);
    k.extend_from_slice(s.as_bytes());
    k.push(0);
    k.extend_from_slice(&b.to_be_bytes());
    k
}

/// Reads the u64 at byte offset `at` of a key or value.
pub fn read_u64(bytes: &[u8], at: usize) -> Result<u64> {
    bytes
        .get(at..at + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| Error::Corrupt(format!("short key or value: {} bytes", bytes.len())))
}

/// Deletes every key of `table` with the given prefix; returns how many there were.
pub(crate) fn delete_prefix(t: &mut (impl Tables + ?Sized), table: Table, prefix: &[u8]) -> Result<usize> {
    let keys = collect_keys(t, table, prefix, usize::MAX)?;
    for k in &keys {
        t.delete(table, k)?;
    }
    Ok(keys.len())
}

/// The keys of `table` starting with `prefix`, in order, at most `max`.
pub(crate) fn collect_keys(
    t: &(impl ReadTables + ?Sized),
    table: Table,
    prefix: &[u8],
    max: usize,
) -> Result<Vec<Vec<u8>>> {
    let mut keys = Vec::new();
    let (lo, hi) = prefix_bounds(prefix);
    t.scan(table, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |k, _| {
        keys.push(k.to_vec());
        Ok(keys.len() < max)
    })?;
    Ok(keys)
}

/// The smallest key after every key that starts with `prefix` (None if there is none).
pub fn prefix_bounds(prefix: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut hi = prefix.to_vec();
    while let Some(last) = hi.pop() {
        if last < u8::MAX {
            hi.push(last + 1);
            return (prefix.to_vec(), Some(hi));
        }
    }
    (prefix.to_vec(), None)
}

pub fn bound_ref(hi: &Option<Vec<u8>>) -> Bound<&[u8]> {
    match hi {
        Some(h) => Bound::Excluded(h.as_slice()),
        None => Bound::Unbounded,
    }
}

/// The behaviour every [`Tables`] implementation must show; run by each implementation's tests
/// on an empty instance. Returns what differed.
pub fn conformance(t: &mut impl Tables) -> std::result::Result<(), String> {
    fn expect(cond: bool, what: &str) -> std::result::Result<(), String> {
        if cond {
            Ok(())
        } else {
            Err(what.to_string())
        }
    }
    let collect = |t: &dyn ReadTables, table: Table, lo: Bound<&[u8]>, hi: Bound<&[u8]>, dir: Dir, max: usize| {
        let mut out: Vec<Vec<u8>> = Vec::new();
        t.scan(table, lo, hi, dir, &mut |k, _| {
            out.push(k.to_vec());
            Ok(out.len() < max)
        })
        .map(|()| out)
        .map_err(|e| e.to_string())
    };
    let e = |e: Error| e.to_string();
    expect(t.get(Table::Status, b"a").map_err(e)?.is_none(), "empty table has no keys")?;
    for k in [&b"b"[..], b"a", b"c", b"ab"] {
        t.put(Table::Status, k, k).map_err(e)?;
    }
    // Neighbouring tables must not leak into each other's scans.
    t.put(Table::Account, b"zz", b"other").map_err(e)?;
    t.put(Table::AccountStatuses, b"", b"other").map_err(e)?;
    expect(t.get(Table::Status, b"ab").map_err(e)?.as_deref() == Some(&b"ab"[..]), "get returns what put stored")?;
    let all = collect(t, Table::Status, Bound::Unbounded, Bound::Unbounded, Dir::Forward, usize::MAX)?;
    expect(all == vec![b"a".to_vec(), b"ab".to_vec(), b"b".to_vec(), b"c".to_vec()], "forward scan in key order")?;
    let rev = collect(t, Table::Status, Bound::Unbounded, Bound::Unbounded, Dir::Reverse, 2)?;
    expect(rev == vec![b"c".to_vec(), b"b".to_vec()], "reverse scan stops when told")?;
    let mid = collect(t, Table::Status, Bound::Excluded(b"a"), Bound::Included(b"b"), Dir::Forward, usize::MAX)?;
    expect(mid == vec![b"ab".to_vec(), b"b".to_vec()], "bounds are honoured")?;
    let none = collect(t, Table::Status, Bound::Excluded(b"c"), Bound::Excluded(b"a"), Dir::Forward, usize::MAX)?;
    expect(none.is_empty(), "an inverted range is empty")?;
    t.put(Table::Status, b"a", b"new").map_err(e)?;
    expect(t.get(Table::Status, b"a").map_err(e)?.as_deref() == Some(&b"new"[..]), "put overwrites")?;
    expect(t.delete(Table::Status, b"a").map_err(e)?, "delete reports a present key")?;
    expect(!t.delete(Table::Status, b"a").map_err(e)?, "delete reports an absent key")?;
    expect(t.get(Table::Status, b"a").map_err(e)?.is_none(), "deleted keys are gone")?;
    Ok(())
}

/// Pending writes over a read-only base: lets the service layer dry-run a command against the
/// current state (to refuse it before it reaches the log) without writing anything.
pub struct Overlay<'a, R: ReadTables + ?Sized> {
    base: &'a R,
    /// Full key → new value, or `None` for a deletion.
    changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a, R: ReadTables + ?Sized> Overlay<'a, R> {
    pub fn new(base: &'a R) -> Self {
        Overlay { base, changes: BTreeMap::new() }
    }
}

impl<R: ReadTables + ?Sized> ReadTables for Overlay<'_, R> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.changes.get(&full_key(table, key)) {
            Some(change) => Ok(change.clone()),
            None => self.base.get(table, key),
        }
    }

    fn scan(&self, table: Table, lo: Bound<&[u8]>, hi: Bound<&[u8]>, dir: Dir, visit: &mut Visitor<'_>) -> Result<()> {
        // Walk the base in order, splicing in the pending changes of this range as their keys
        // come up, so that a scan that stops early reads only what it needs.
        let bounds = full_bounds(table, lo, hi);
        if bounds_empty(&bounds) {
            return Ok(());
        }
        let mut changes: Vec<(&[u8], Option<&[u8]>)> =
            self.changes.range(bounds).map(|(k, v)| (&k[1..], v.as_deref())).collect();
        if dir == Dir::Reverse {
            changes.reverse();
        }
        let before = |a: &[u8], b: &[u8]| if dir == Dir::Forward { a < b } else { a > b };
        let mut next = 0;
        let mut go_on = true;
        self.base.scan(table, lo, hi, dir, &mut |k, v| {
            // Changes to keys before this one come first.
            while next < changes.len() && before(changes[next].0, k) {
                if let (key, Some(value)) = changes[next] {
                    if !visit(key, value)? {
                        go_on = false;
                        return Ok(false);
                    }
                }
                next += 1;
            }
            // A change to this very key replaces (or deletes) it.
            if next < changes.len() && changes[next].0 == k {
                let change = changes[next].1;
                next += 1;
                return match change {
                    Some(value) => {
                        go_on = visit(k, value)?;
                        Ok(go_on)
                    }
                    None => Ok(true),
                };
            }
            go_on = visit(k, v)?;
            Ok(go_on)
        })?;
        while go_on && next < changes.len() {
            if let (key, Some(value)) = changes[next] {
                go_on = visit(key, value)?;
            }
            next += 1;
        }
        Ok(())
    }
}

impl<R: ReadTables + ?Sized> Tables for Overlay<'_, R> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.changes.insert(full_key(table, key), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool> {
        let existed = self.get(table, key)?.is_some();
        self.changes.insert(full_key(table, key), None);
        Ok(existed)
    }
}
