//! Extensions in the state (protocol 6): each is a name, a kind and numbered, immutable
//! versions (manifest and source); at most one version is at work, in a mode. Only those who
//! administer the instance (or the operator) write them. Running them is the service's work
//! (`roost_service::extensions`); the state only keeps what was written and what is deployed.

use std::ops::Bound;

use roost_types::{ExtensionManifest, ExtensionMode, Id, Millis, Outcome, Rejection};

use crate::kv::{bound_ref, get_value, k1, k2, prefix_bounds, put_value, Dir, Table, Tables};
use crate::model::{Deployment, Extension, ExtensionVersion, HeldPost, PostLabel};
use crate::{ReadTables, Result};

/// Extensions an instance may have, at most.
pub const MAX_EXTENSIONS: usize = 200;
/// Versions one extension may have, at most.
pub const MAX_VERSIONS: u32 = 1_000;

/// Personal feeds a member may have, at most.
pub const MAX_PERSONAL_FEEDS: usize = 10;
/// Feeds a member may subscribe to, at most.
pub const MAX_FEED_SUBSCRIPTIONS: usize = 20;

fn may_administer(t: &impl Tables, actor: Option<Id>) -> Result<bool> {
    Ok(crate::admin::actor_role(t, actor)?.is_some_and(|r| r.can_administer()))
}

/// Whether `actor` may change `ext`: its owner for a personal feed (or an administrator, who
/// may stop one), an administrator for everything else.
fn may_change(t: &impl Tables, actor: Option<Id>, ext: &Extension, stopping: bool) -> Result<bool> {
    match ext.owner {
        Some(owner) if actor == Some(owner) => Ok(crate::admin::actor_role(t, actor)?.is_some()),
        Some(_) if !stopping => Ok(false),
        _ => may_administer(t, actor),
    }
}

fn personal(manifest: &ExtensionManifest) -> bool {
    manifest.kind == roost_types::ExtensionKind::Feed && manifest.feed.as_ref().is_some_and(|f| f.personal)
}

fn deployed_key(kind: roost_types::ExtensionKind, id: Id) -> Vec<u8> {
    let mut k = vec![kind as u8];
    k.extend_from_slice(&k1(id));
    k
}

pub(crate) fn save(
    t: &mut impl Tables,
    at: Millis,
    actor: Option<Id>,
    extension: Option<Id>,
    manifest: &ExtensionManifest,
    source: &str,
) -> Result<Outcome> {
    let personal = personal(manifest);
    let mut ext = match extension {
        Some(id) => {
            let Some(e) = self::extension(t, id)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
            if e.kind != manifest.kind || e.owner.is_some() != personal || !may_change(t, actor, &e, false)? {
                return Ok(Outcome::Rejected(Rejection::Forbidden));
            }
            if e.latest >= MAX_VERSIONS {
                return Ok(Outcome::Rejected(Rejection::TooMany));
            }
            e
        }
        None => {
            let owner = match (personal, actor) {
                (true, Some(member)) if crate::admin::actor_role(t, actor)?.is_some() => Some(member),
                (true, _) => return Ok(Outcome::Rejected(Rejection::Forbidden)),
                (false, _) if !may_administer(t, actor)? => return Ok(Outcome::Rejected(Rejection::Forbidden)),
                (false, _) => None,
            };
            let full = match owner {
                Some(o) => crate::query::count_prefix(t, Table::ExtensionOwner, &k1(o))? as usize >= MAX_PERSONAL_FEEDS,
                None => {
                    let all = crate::query::count_prefix(t, Table::Extension, &[])?;
                    let personal = crate::query::count_prefix(t, Table::ExtensionOwner, &[])?;
                    all.saturating_sub(personal) as usize >= MAX_EXTENSIONS
                }
            };
            if full {
                return Ok(Outcome::Rejected(Rejection::TooMany));
            }
            let id = crate::ids::next_id(t, at)?;
            if let Some(o) = owner {
                t.put(Table::ExtensionOwner, &k2(o, id), &[])?;
            }
            Extension {
                id,
                name: manifest.name.clone(),
                kind: manifest.kind,
                created_by: actor,
                created_at: at,
                latest: 0,
                deployed: None,
                owner,
            }
        }
    };
    ext.latest += 1;
    ext.name = manifest.name.clone();
    let version = ExtensionVersion {
        extension: ext.id,
        version: ext.latest,
        manifest: manifest.clone(),
        source: source.to_string(),
        source_hash: *blake3::hash(source.as_bytes()).as_bytes(),
        by: actor,
        at,
    };
    put_value(t, Table::ExtensionVersion, &k2(ext.id, u64::from(ext.latest)), &version)?;
    put_value(t, Table::Extension, &k1(ext.id), &ext)?;
    Ok(Outcome::created(ext.id))
}

pub(crate) fn deploy(
    t: &mut impl Tables,
    at: Millis,
    actor: Option<Id>,
    id: Id,
    version: u32,
    mode: ExtensionMode,
) -> Result<Outcome> {
    let Some(mut ext) = extension(t, id)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if !may_change(t, actor, &ext, false)? {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    if version == 0 || version > ext.latest {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    ext.deployed = Some(Deployment { version, mode, by: actor, at });
    if ext.owner.is_none() {
        t.put(Table::DeployedExtension, &deployed_key(ext.kind, id), &[])?;
    }
    put_value(t, Table::Extension, &k1(id), &ext)?;
    Ok(Outcome::created(id))
}

pub(crate) fn disable(t: &mut impl Tables, actor: Option<Id>, id: Id, version: Option<u32>) -> Result<Outcome> {
    let Some(mut ext) = extension(t, id)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if !may_change(t, actor, &ext, true)? {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    if version.is_some() && ext.deployed.map(|d| d.version) != version {
        return Ok(Outcome::created(id));
    }
    ext.deployed = None;
    t.delete(Table::DeployedExtension, &deployed_key(ext.kind, id))?;
    put_value(t, Table::Extension, &k1(id), &ext)?;
    Ok(Outcome::created(id))
}

/// Whether `account` may read the feed `ext` now: a deployed feed, published for everyone or
/// the account's own.
pub fn may_read_feed(ext: &Extension, account: Id) -> bool {
    ext.kind == roost_types::ExtensionKind::Feed
        && ext.deployed.is_some()
        && ext.owner.is_none_or(|owner| owner == account)
}

pub(crate) fn subscribe(t: &mut impl Tables, account: Id, id: Id, on: bool) -> Result<Outcome> {
    if crate::admin::actor_role(t, Some(account))?.is_none() {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    let key = k2(account, id);
    if !on {
        t.delete(Table::FeedSubscription, &key)?;
        return Ok(Outcome::created(id));
    }
    match extension(t, id)? {
        Some(e) if may_read_feed(&e, account) => {}
        _ => return Ok(Outcome::Rejected(Rejection::NotFound)),
    }
    if t.get(Table::FeedSubscription, &key)?.is_none() {
        if crate::query::count_prefix(t, Table::FeedSubscription, &k1(account))? as usize >= MAX_FEED_SUBSCRIPTIONS {
            return Ok(Outcome::Rejected(Rejection::TooMany));
        }
        t.put(Table::FeedSubscription, &key, &[])?;
    }
    Ok(Outcome::created(id))
}

/// The feeds `account` subscribed to that it may read now, oldest first.
pub fn subscriptions(t: &(impl ReadTables + ?Sized), account: Id) -> Result<Vec<Extension>> {
    let mut ids = Vec::new();
    let (lo, hi) = prefix_bounds(&k1(account));
    t.scan(Table::FeedSubscription, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |k, _| {
        ids.push(crate::kv::read_u64(k, 8)?);
        Ok(ids.len() < MAX_FEED_SUBSCRIPTIONS)
    })?;
    let mut out = Vec::new();
    for id in ids {
        out.extend(extension(t, id)?.filter(|e| may_read_feed(e, account)));
    }
    Ok(out)
}

/// Whether `account` subscribed to the feed `id`.
pub fn subscribed(t: &(impl ReadTables + ?Sized), account: Id, id: Id) -> Result<bool> {
    Ok(t.get(Table::FeedSubscription, &k2(account, id))?.is_some())
}

/// A member's personal feeds, deployed or not, oldest first.
pub fn personal_feeds(t: &(impl ReadTables + ?Sized), owner: Id) -> Result<Vec<Extension>> {
    let mut ids = Vec::new();
    let (lo, hi) = prefix_bounds(&k1(owner));
    t.scan(Table::ExtensionOwner, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |k, _| {
        ids.push(crate::kv::read_u64(k, 8)?);
        Ok(ids.len() < MAX_PERSONAL_FEEDS)
    })?;
    let mut out = Vec::new();
    for id in ids {
        out.extend(extension(t, id)?);
    }
    Ok(out)
}

/// The deployed extensions of a kind that are not personal feeds, oldest first.
pub fn deployed_of(t: &(impl ReadTables + ?Sized), kind: roost_types::ExtensionKind) -> Result<Vec<Extension>> {
    let mut ids = Vec::new();
    let (lo, hi) = prefix_bounds(&[kind as u8]);
    t.scan(Table::DeployedExtension, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |k, _| {
        ids.push(crate::kv::read_u64(k, 1)?);
        Ok(ids.len() < MAX_EXTENSIONS)
    })?;
    let mut out = Vec::new();
    for id in ids {
        out.extend(extension(t, id)?.filter(|e| e.deployed.is_some()));
    }
    Ok(out)
}

pub fn extension(t: &(impl ReadTables + ?Sized), id: Id) -> Result<Option<Extension>> {
    get_value(t, Table::Extension, &k1(id))
}

/// Every extension but members' personal feeds, oldest first (there are at most
/// [`MAX_EXTENSIONS`]).
pub fn extensions(t: &(impl ReadTables + ?Sized)) -> Result<Vec<Extension>> {
    let mut out = Vec::new();
    t.scan(Table::Extension, Bound::Unbounded, Bound::Unbounded, Dir::Forward, &mut |_, v| {
        let e: Extension = crate::kv::decode(v)?;
        if e.owner.is_none() {
            out.push(e);
        }
        Ok(out.len() < MAX_EXTENSIONS)
    })?;
    Ok(out)
}

pub fn version(t: &(impl ReadTables + ?Sized), id: Id, version: u32) -> Result<Option<ExtensionVersion>> {
    get_value(t, Table::ExtensionVersion, &k2(id, u64::from(version)))
}

/// An extension's versions, newest first, at most `limit`.
pub fn versions(t: &(impl ReadTables + ?Sized), id: Id, limit: usize) -> Result<Vec<ExtensionVersion>> {
    let (lo, hi) = prefix_bounds(&k1(id));
    let mut out = Vec::new();
    t.scan(Table::ExtensionVersion, Bound::Included(&lo), bound_ref(&hi), Dir::Reverse, &mut |_, v| {
        out.push(crate::kv::decode(v)?);
        Ok(out.len() < limit)
    })?;
    Ok(out)
}

/// Held posts a moderator's queue shows, at most, per page.
pub const MAX_HELD_PAGE: usize = 200;

/// Applies a post command with what the automod rules decided of it (see
/// [`roost_types::Command::Judged`]): the post, then its holds and labels, in one step.
pub(crate) fn apply_judged(
    t: &mut impl Tables,
    req: &roost_types::Request,
    effects: &[roost_types::RuleEffect],
    command: &roost_types::Command,
    fx: &mut dyn crate::effects::EffectSink,
) -> Result<Outcome> {
    use roost_types::{Command, RuleAction, MAX_LABEL_CHARS, MAX_RULE_REASON_CHARS};
    let edited = match command {
        Command::CreateStatus(_) | Command::CreateStatusWithPoll { .. } | Command::CreatePost { .. } => None,
        Command::EditStatus { status, .. } | Command::EditPost { status, .. } => Some(*status),
        _ => return Ok(Outcome::Rejected(Rejection::Forbidden)),
    };
    let bounded = effects.len() <= MAX_EXTENSIONS
        && effects.iter().all(|e| match &e.action {
            RuleAction::Hold { reason } => reason.chars().count() <= MAX_RULE_REASON_CHARS,
            RuleAction::Label { label } => !label.is_empty() && label.chars().count() <= MAX_LABEL_CHARS,
        });
    if !bounded {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    let inner = roost_types::Request { at: req.at, by: req.by.clone(), command: command.clone() };
    let outcome = crate::apply(t, &inner, fx)?;
    let status = match (&outcome, edited) {
        (Outcome::Done { .. }, Some(id)) => id,
        (Outcome::Done { id: Some(id) }, None) => *id,
        _ => return Ok(outcome),
    };
    let mut labels: Vec<PostLabel> = get_value(t, Table::PostLabel, &k1(status))?.unwrap_or_default();
    for e in effects {
        match &e.action {
            RuleAction::Hold { reason } => {
                // The first rule that held the post names it; a held edit holds the post again.
                if t.get(Table::HeldPost, &k1(status))?.is_none() {
                    let held = HeldPost {
                        status,
                        extension: e.extension,
                        version: e.version,
                        reason: reason.clone(),
                        at: req.at,
                    };
                    put_value(t, Table::HeldPost, &k1(status), &held)?;
                }
            }
            RuleAction::Label { label } => {
                if !labels.iter().any(|l| l.label == *label) {
                    labels.push(PostLabel { extension: e.extension, version: e.version, label: label.clone() });
                }
            }
        }
    }
    if !labels.is_empty() {
        labels.truncate(MAX_EXTENSIONS);
        put_value(t, Table::PostLabel, &k1(status), &labels)?;
    }
    Ok(outcome)
}

/// A moderator approves a held post (it becomes visible) or removes it.
pub(crate) fn review_held(
    t: &mut impl Tables,
    actor: Id,
    status: Id,
    approve: bool,
    fx: &mut dyn crate::effects::EffectSink,
) -> Result<Outcome> {
    let Some(s) = crate::query::status(t, status)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if !crate::admin::may_moderate(t, Some(actor), s.author)? {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    if held(t, status)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    if approve {
        t.delete(Table::HeldPost, &k1(status))?;
        Ok(Outcome::created(status))
    } else {
        crate::statuses::delete(t, actor, status, fx)
    }
}

/// Forgets a removed post's holds and labels.
pub(crate) fn forget_post(t: &mut impl Tables, status: Id) -> Result<()> {
    t.delete(Table::HeldPost, &k1(status))?;
    t.delete(Table::PostLabel, &k1(status))?;
    Ok(())
}

/// Why a post is held, if it is.
pub fn held(t: &(impl ReadTables + ?Sized), status: Id) -> Result<Option<HeldPost>> {
    get_value(t, Table::HeldPost, &k1(status))
}

/// Whether any post is held (then viewers who are not moderators ask per post).
pub fn any_held(t: &(impl ReadTables + ?Sized)) -> Result<bool> {
    crate::visibility::has_prefix(t, Table::HeldPost, &[])
}

/// Whether any post carries a label.
pub fn any_labels(t: &(impl ReadTables + ?Sized)) -> Result<bool> {
    crate::visibility::has_prefix(t, Table::PostLabel, &[])
}

/// The held posts, oldest first, after `after` (a status id), at most `limit`.
pub fn held_posts(t: &(impl ReadTables + ?Sized), after: Option<Id>, limit: usize) -> Result<Vec<HeldPost>> {
    let from = after.map(|a| k1(a.saturating_add(1)));
    let lo = match &from {
        Some(k) => Bound::Included(k.as_slice()),
        None => Bound::Unbounded,
    };
    let mut out = Vec::new();
    t.scan(Table::HeldPost, lo, Bound::Unbounded, Dir::Forward, &mut |_, v| {
        out.push(crate::kv::decode(v)?);
        Ok(out.len() < limit.min(MAX_HELD_PAGE))
    })?;
    Ok(out)
}

/// The labels rules put on a post.
pub fn labels(t: &(impl ReadTables + ?Sized), status: Id) -> Result<Vec<PostLabel>> {
    Ok(get_value(t, Table::PostLabel, &k1(status))?.unwrap_or_default())
}
