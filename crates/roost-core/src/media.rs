//! Pictures: uploads, what their uploader says of them, attaching them to posts, and removing
//! them with their post or when nothing used them in time.
//!
//! The state holds each picture's record and its blobs' hashes; the bytes live in every node's
//! blob store, outside the log. `Table::BlobUse` says which records use a blob, so that a node
//! can drop blobs nothing uses any more.

use std::ops::Bound;

use roost_types::{Focus, Id, MediaBlob, Millis, NewMedia, Outcome, ProfileImage, Rejection, MAX_MEDIA_PER_POST};

use crate::kv::{get_value, k1, k2, put_value, Dir, Table, Tables};
use crate::model::{Account, Media, Status};
use crate::{query, ReadTables, Result};

/// Uploads removed by one tick at most, so a tick stays short however many expire at once.
pub const EXPIRE_PER_TICK: usize = 256;

fn expiry_key(expires_at: Millis, id: Id) -> [u8; 16] {
    k2(expires_at.max(0) as u64, id)
}

fn blob_use_key(hash: &[u8; 32], id: Id) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(hash);
    k[32..].copy_from_slice(&id.to_be_bytes());
    k
}

pub(crate) fn add(t: &mut impl Tables, at: Millis, new: &NewMedia) -> Result<Outcome> {
    if query::account(t, new.owner)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    if t.get(Table::Media, &k1(new.id))?.is_some() {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    let media = Media {
        id: new.id,
        owner: new.owner,
        created_at: at,
        secret: new.secret,
        original: new.original.clone(),
        preview: new.preview.clone(),
        blurhash: new.blurhash.clone(),
        animated: new.animated,
        description: new.description.clone(),
        focus: new.focus,
        status: None,
        expires_at: new.expires_at,
    };
    put_value(t, Table::Media, &k1(media.id), &media)?;
    put_value(t, Table::MediaByOwner, &k2(media.owner, media.id), &stored_bytes(&media.original, &media.preview))?;
    t.put(Table::MediaExpiry, &expiry_key(media.expires_at, media.id), &[])?;
    t.put(Table::BlobUse, &blob_use_key(&media.original.hash, media.id), &[])?;
    t.put(Table::BlobUse, &blob_use_key(&media.preview.hash, media.id), &[])?;
    Ok(Outcome::created(media.id))
}

/// Sets or removes a profile picture. The new one is added without an expiry (nothing else
/// may use it: it is on no post and cannot be attached to one); the one it replaces goes.
pub(crate) fn set_profile_image(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    image: ProfileImage,
    new: Option<&NewMedia>,
) -> Result<Outcome> {
    let Some(mut a) = query::account(t, account)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if new.is_some_and(|n| n.owner != account) {
        return Ok(Outcome::Rejected(Rejection::Forbidden));
    }
    if let Some(n) = new {
        if let Outcome::Rejected(r) = add(t, at, n)? {
            return Ok(Outcome::Rejected(r));
        }
        t.delete(Table::MediaExpiry, &expiry_key(n.expires_at, n.id))?;
    }
    let slot = match image {
        ProfileImage::Avatar => &mut a.avatar,
        ProfileImage::Header => &mut a.header,
    };
    let old = std::mem::replace(slot, new.map(|n| n.id));
    if let Some(old) = old.and_then(|id| media(t, id).transpose()) {
        remove(t, &old?)?;
    }
    crate::accounts::save(t, &a)?;
    Ok(match new {
        Some(n) => Outcome::created(n.id),
        None => Outcome::done(),
    })
}

/// Whether `m` is its owner's avatar or header.
pub fn is_profile_image(a: &Account, m: Id) -> bool {
    a.avatar == Some(m) || a.header == Some(m)
}

/// What a picture takes on disk (its preview may be its original: counted once).
pub fn stored_bytes(original: &MediaBlob, preview: &MediaBlob) -> u64 {
    if preview.hash == original.hash {
        original.bytes
    } else {
        original.bytes + preview.bytes
    }
}

pub(crate) fn update(
    t: &mut impl Tables,
    account: Id,
    id: Id,
    description: Option<&str>,
    focus: Option<Focus>,
) -> Result<Outcome> {
    let Some(mut m) = media(t, id)? else { return Ok(Outcome::Rejected(Rejection::NotFound)) };
    if m.owner != account {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    if let Some(d) = description {
        m.description = d.to_string();
    }
    if let Some(f) = focus {
        m.focus = f;
    }
    put_value(t, Table::Media, &k1(id), &m)?;
    Ok(Outcome::created(id))
}

/// Why `author` may not attach `ids` to a post (`post`, when editing it), if they may not:
/// too many, one named twice, or one that is not theirs or already on another post.
pub(crate) fn refuse_attaching(t: &impl Tables, author: Id, ids: &[Id], post: Option<Id>) -> Result<Option<Rejection>> {
    if ids.len() > MAX_MEDIA_PER_POST {
        return Ok(Some(Rejection::TooMany));
    }
    let Some(account) = query::account(t, author)? else { return Ok(Some(Rejection::NotFound)) };
    for (i, &id) in ids.iter().enumerate() {
        if ids[..i].contains(&id) {
            return Ok(Some(Rejection::NotFound));
        }
        let Some(m) = media(t, id)? else { return Ok(Some(Rejection::NotFound)) };
        if m.owner != author || (m.status.is_some() && m.status != post) || is_profile_image(&account, id) {
            return Ok(Some(Rejection::NotFound));
        }
    }
    Ok(None)
}

/// Attaches checked pictures to a post: they no longer expire.
pub(crate) fn attach(t: &mut impl Tables, post: Id, ids: &[Id]) -> Result<()> {
    for &id in ids {
        let Some(mut m) = media(t, id)? else { continue };
        if m.status == Some(post) {
            continue;
        }
        t.delete(Table::MediaExpiry, &expiry_key(m.expires_at, id))?;
        m.status = Some(post);
        put_value(t, Table::Media, &k1(id), &m)?;
    }
    Ok(())
}

/// How long pictures given back by a scheduled post (cancelled, or its author suspended) stay
/// before they expire unused, as a fresh upload would.
pub const RELEASED_LIFETIME_MS: Millis = 24 * 3600 * 1000;

/// Gives pictures held by a scheduled post back to their owner as unused uploads, which expire
/// by the log's clock unless a post takes them; returns those that still exist.
pub(crate) fn release(t: &mut impl Tables, at: Millis, holder: Id, ids: &[Id]) -> Result<Vec<Id>> {
    let mut kept = Vec::with_capacity(ids.len());
    for &id in ids {
        let Some(mut m) = media(t, id)? else { continue };
        if m.status != Some(holder) {
            continue;
        }
        {
            m.status = None;
            m.expires_at = at.saturating_add(RELEASED_LIFETIME_MS).max(m.expires_at);
            t.put(Table::MediaExpiry, &expiry_key(m.expires_at, id), &[])?;
            put_value(t, Table::Media, &k1(id), &m)?;
        }
        kept.push(id);
    }
    Ok(kept)
}

/// Removes a picture's record and what points at it; its blobs go once nothing else uses them.
fn remove(t: &mut impl Tables, m: &Media) -> Result<()> {
    t.delete(Table::Media, &k1(m.id))?;
    t.delete(Table::MediaByOwner, &k2(m.owner, m.id))?;
    t.delete(Table::MediaExpiry, &expiry_key(m.expires_at, m.id))?;
    t.delete(Table::BlobUse, &blob_use_key(&m.original.hash, m.id))?;
    t.delete(Table::BlobUse, &blob_use_key(&m.preview.hash, m.id))?;
    Ok(())
}

/// Removes the pictures of a post being deleted: those it shows and those of its earlier
/// versions.
pub(crate) fn remove_of_status(t: &mut impl Tables, s: &Status) -> Result<()> {
    let mut ids = s.media.clone();
    for v in query::status_versions(t, s.id)? {
        ids.extend(v.media);
    }
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        if let Some(m) = media(t, id)? {
            if m.status == Some(s.id) {
                remove(t, &m)?;
            }
        }
    }
    Ok(())
}

/// Removes uploads that expired by `at` unused, at most [`EXPIRE_PER_TICK`]; returns whether
/// more remain due.
pub(crate) fn expire(t: &mut impl Tables, at: Millis) -> Result<bool> {
    let mut due: Vec<Id> = Vec::new();
    let hi = expiry_key(at, Id::MAX);
    t.scan(Table::MediaExpiry, Bound::Unbounded, Bound::Included(&hi), Dir::Forward, &mut |k, _| {
        due.push(crate::kv::read_u64(k, 8)?);
        Ok(due.len() <= EXPIRE_PER_TICK)
    })?;
    let more = due.len() > EXPIRE_PER_TICK;
    due.truncate(EXPIRE_PER_TICK);
    for id in due {
        if let Some(m) = media(t, id)? {
            remove(t, &m)?;
        }
    }
    Ok(more)
}

/// When the next unused upload expires.
pub fn next_expiry(t: &(impl ReadTables + ?Sized)) -> Result<Option<Millis>> {
    let mut first = None;
    t.scan(Table::MediaExpiry, Bound::Unbounded, Bound::Unbounded, Dir::Forward, &mut |k, _| {
        first = Some(crate::kv::read_u64(k, 0)? as Millis);
        Ok(false)
    })?;
    Ok(first)
}

/// A picture's record.
pub fn media(t: &(impl ReadTables + ?Sized), id: Id) -> Result<Option<Media>> {
    get_value(t, Table::Media, &k1(id))
}

/// Whether any picture still uses the blob `hash`.
pub fn blob_in_use(t: &(impl ReadTables + ?Sized), hash: &[u8; 32]) -> Result<bool> {
    let lo = blob_use_key(hash, 0);
    let hi = blob_use_key(hash, Id::MAX);
    let mut used = false;
    t.scan(Table::BlobUse, Bound::Included(&lo), Bound::Included(&hi), Dir::Forward, &mut |_, _| {
        used = true;
        Ok(false)
    })?;
    Ok(used)
}

/// Up to `limit` distinct blobs that pictures use, in hash order after `after`: for a node
/// that checks it holds them all.
pub fn blobs_in_use(t: &(impl ReadTables + ?Sized), after: Option<&[u8; 32]>, limit: usize) -> Result<Vec<[u8; 32]>> {
    let mut out: Vec<[u8; 32]> = Vec::new();
    let lo = after.map(|h| blob_use_key(h, Id::MAX));
    let lower = match &lo {
        Some(k) => Bound::Excluded(&k[..]),
        None => Bound::Unbounded,
    };
    t.scan(Table::BlobUse, lower, Bound::Unbounded, Dir::Forward, &mut |k, _| {
        let hash: [u8; 32] = k[..32].try_into().map_err(|_| crate::Error::Corrupt("a blob use key".into()))?;
        if out.last() == Some(&hash) {
            return Ok(true);
        }
        if out.len() == limit {
            return Ok(false);
        }
        out.push(hash);
        Ok(true)
    })?;
    Ok(out)
}

/// An account's uploads: how many, and the bytes they take.
pub fn usage(t: &(impl ReadTables + ?Sized), owner: Id) -> Result<(u64, u64)> {
    let (mut count, mut bytes) = (0u64, 0u64);
    let lo = k2(owner, 0);
    let hi = k2(owner, Id::MAX);
    t.scan(Table::MediaByOwner, Bound::Included(&lo), Bound::Included(&hi), Dir::Forward, &mut |_, v| {
        count += 1;
        bytes += crate::kv::decode::<u64>(v)?;
        Ok(true)
    })?;
    Ok((count, bytes))
}
