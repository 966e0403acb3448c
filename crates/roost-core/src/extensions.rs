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

fn may_administer(t: &impl Tables, actor: Option<Id>) -> Result<bool> {
    Ok(crate::admin::actor_role(t, actor)?.is_some_and(|r| r.can_administer()))
}

pub(crate) fn save(
    t: &mut impl Tables,
    at: Millis,
    actor: Option<Id>,
    extension: Option<Id>,
    manifest: &ExtensionManifest,
    source: &str,
) -> Result<Outcome> {
    if !may_administer(t, actor)? {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    let mut ext = match extension {
        Some(id) => {
            let Some(e) = self::extension(t, id)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
            if e.kind != manifest.kind {
                return Ok(Outcome::Rejected(Rejection::Forbidden));
            }
            if e.latest >= MAX_VERSIONS {
                return Ok(Outcome::Rejected(Rejection::TooMany));
            }
            e
        }
        None => {
            if crate::query::count_prefix(t, Table::Extension, &[])? as usize >= MAX_EXTENSIONS {
                return Ok(Outcome::Rejected(Rejection::TooMany));
            }
            let id = crate::ids::next_id(t, at)?;
            Extension {
                id,
                name: manifest.name.clone(),
                kind: manifest.kind,
                created_by: actor,
                created_at: at,
                latest: 0,
                deployed: None,
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
    if !may_administer(t, actor)? {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    let Some(mut ext) = extension(t, id)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if version == 0 || version > ext.latest {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    ext.deployed = Some(Deployment { version, mode, by: actor, at });
    put_value(t, Table::Extension, &k1(id), &ext)?;
    Ok(Outcome::created(id))
}

pub(crate) fn disable(t: &mut impl Tables, actor: Option<Id>, id: Id, version: Option<u32>) -> Result<Outcome> {
    if !may_administer(t, actor)? {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    let Some(mut ext) = extension(t, id)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if version.is_some() && ext.deployed.map(|d| d.version) != version {
        return Ok(Outcome::created(id));
    }
    ext.deployed = None;
    put_value(t, Table::Extension, &k1(id), &ext)?;
    Ok(Outcome::created(id))
}

pub fn extension(t: &(impl ReadTables + ?Sized), id: Id) -> Result<Option<Extension>> {
    get_value(t, Table::Extension, &k1(id))
}

/// Every extension, oldest first (there are at most [`MAX_EXTENSIONS`]).
pub fn extensions(t: &(impl ReadTables + ?Sized)) -> Result<Vec<Extension>> {
    let mut out = Vec::new();
    t.scan(Table::Extension, Bound::Unbounded, Bound::Unbounded, Dir::Forward, &mut |_, v| {
        out.push(crate::kv::decode(v)?);
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

/// The deployed automod rules with the version at work, for judging a post.
pub fn deployed(
    t: &(impl ReadTables + ?Sized),
    kind: roost_types::ExtensionKind,
) -> Result<Vec<(Extension, ExtensionVersion)>> {
    let mut out = Vec::new();
    for e in extensions(t)? {
        if e.kind != kind {
            continue;
        }
        let Some(d) = e.deployed else { continue };
        if let Some(v) = version(t, e.id, d.version)? {
            out.push((e, v));
        }
    }
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
