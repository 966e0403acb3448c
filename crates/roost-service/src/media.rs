//! Pictures: uploading one, describing it, attaching it to a post, and who may fetch its files.
//!
//! # Uploading
//! 1. The member's quota, upload rate and uploads in progress are checked, and the alt text
//!    and focal point bounded; the upload gets its ID (this node's clock and random bits) and
//!    a random secret, so that it can be named before it is processed.
//! 2. A task processes it off the async runtime, on [`MediaConfig::concurrency`] threads of
//!    low CPU priority on this node ([`roost_media::process`]: the format from the content, limits checked from
//!    the header, upright, re-encoded without metadata, a preview and a blurhash).
//! 3. The original and preview are stored here (fsync'd) and, in a cluster, on enough peers
//!    that a majority holds them ([`BlobReplicas`]), before anything names them.
//! 4. `AddMedia` is proposed with their hashes, sizes and types. The task finishes even if the
//!    client went away; `upload` waits for it as long as its caller allows (the v2 API answers
//!    202 past that, and the client polls).
//!
//! # Fetching
//! Files are served through links signed for one viewer (see [`Link`]): a link names the
//! picture, the size, the viewer it was made for and when it stops working, and carries a
//! keyed hash of those under the picture's own secret (random, kept in the log, so every node
//! checks every link alike). Opening one checks, at that moment, that the viewer still may see
//! the post it belongs to (following, blocks, deletion), so a link stops working as soon as
//! the viewer loses sight of the post. Links made for the web app also require that viewer's
//! session cookie, so a copied link is of no use to a signed-out browser. Mastodon apps load
//! images without credentials, so their links work for anyone holding them until they expire:
//! an unguessable capability scoped to one picture and one viewer.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use roost_core::model::Media;
use roost_core::{media as stored, query};
pub use roost_media::{blurhash_png, default_avatar, default_header, BlobHash, Blobs, Limits};
use roost_media::{Encoded, Shape};
use roost_types::{
    Actor, Command, Focus, Id, MediaBlob, NewMedia, ProfileImage, MAX_MEDIA_DESCRIPTION_CHARS, MAX_MEDIA_PER_POST,
};
use tokio::sync::{watch, Semaphore};

use crate::window::PerWindow;
use crate::write::{member, propose, protocol};
use crate::{now_ms, Error, Result, Service};

/// The settings of pictures.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Where this node keeps blobs.
    pub dir: PathBuf,
    /// What one upload may cost to decode.
    pub limits: Limits,
    /// How long an upload no post uses is kept, in seconds (Mastodon: a day).
    pub unattached_secs: i64,
    /// Bytes of pictures a member may keep (0: no limit).
    pub quota_bytes: u64,
    /// Uploads a member may make per hour on this node (0: no limit).
    pub uploads_per_hour: u32,
    /// Uploads processed at once on this node.
    pub concurrency: usize,
    /// How long an upload request may wait for processing before the adapter answers that it
    /// is still under way (the v2 API's 202).
    pub processing_wait: Duration,
}

impl MediaConfig {
    /// The defaults, keeping blobs in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> MediaConfig {
        MediaConfig {
            dir: dir.into(),
            limits: Limits::default(),
            unattached_secs: 24 * 3600,
            quota_bytes: 1024 * 1024 * 1024,
            uploads_per_hour: 120,
            // One core keeps serving while the other decodes.
            concurrency: 1,
            processing_wait: Duration::from_secs(5),
        }
    }
}

/// Uploads one member may have in progress at once, and the node in all: beyond, 429.
const MAX_PENDING_PER_MEMBER: usize = 4;
const MAX_PENDING: usize = 64;
/// How long a description change waits for an upload still being processed.
const UPDATE_WAITS: Duration = Duration::from_secs(30);
/// Links work for a week at least, and change once a day: clients can cache them meanwhile.
const LINK_DAYS: i64 = 8;
const DAY_SECS: i64 = 24 * 3600;

/// Where else a blob must be stored before a command may name it: a cluster's peers.
pub trait BlobReplicas: Send + Sync {
    /// Stores the blob on enough peers that, with this node, a majority of the cluster holds it.
    fn replicate<'a>(&'a self, hash: BlobHash, bytes: &'a [u8]) -> BoxFuture<'a, Result<()>>;
    /// The blob from a peer that has it (the caller checks it against its hash).
    fn fetch(&self, hash: BlobHash) -> BoxFuture<'_, Option<Vec<u8>>>;
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// This node's share of the work on pictures.
pub(crate) struct MediaWork {
    blobs: Blobs,
    processors: Processors,
    pending: Mutex<HashMap<Id, Pending>>,
    uploads: PerWindow<Id>,
    replicas: OnceLock<Arc<dyn BlobReplicas>>,
    /// Fetches of missing blobs from peers under way.
    fetching: Semaphore,
    /// Blobs no peer had, lately: not asked for again for a while.
    missing: Mutex<HashMap<BlobHash, std::time::Instant>>,
}

/// Fetches of missing blobs from peers at once on this node, and how long a blob no peer had
/// is not asked for again.
const FETCHES: usize = 2;
const MISSING_FOR: Duration = Duration::from_secs(60);
const MAX_MISSING: usize = 1024;

/// The nice value of the threads that process pictures, the lowest: on a busy core the kernel
/// gives a thread at nice 0 about seventy times their share, so a request that becomes ready
/// while they work gets the core at once, and pictures are processed with the CPU that
/// answering requests leaves over (on an idle node, all of it).
const PROCESSING_NICE: i32 = 19;

type Task = Box<dyn FnOnce() + Send>;

/// The threads that decode and re-encode pictures ([`MediaConfig::concurrency`] of them, at
/// [`PROCESSING_NICE`]), kept apart from the async runtime and from its blocking pool (whose
/// threads also commit the log, and must keep their priority).
struct Processors {
    tasks: std::sync::mpsc::Sender<Task>,
}

impl Processors {
    fn start(threads: usize) -> Processors {
        let (tasks, queue) = std::sync::mpsc::channel::<Task>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            let started = std::thread::Builder::new().name(format!("roost-media-{i}")).spawn(move || {
                // Linux keeps a nice value per thread: this lowers this thread's alone.
                if let Err(e) = rustix::process::setpriority_process(None, PROCESSING_NICE) {
                    tracing::warn!("could not lower the priority of picture processing: {e}");
                }
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(task) = next else { return };
                    // A panic fails its upload (its answer channel is dropped), not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
                }
            });
            if let Err(e) = started {
                tracing::error!("could not start a picture-processing thread: {e}");
            }
        }
        Processors { tasks }
    }

    /// Runs `f` on a processing thread, in turn with the others, and waits for its result.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tasks
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| Error::Internal("picture processing has stopped".into()))?;
        rx.await.map_err(|_| Error::Internal("processing a picture failed".into()))
    }
}

struct Pending {
    owner: Id,
    /// The log index of its command, once proposed.
    done: watch::Receiver<Option<Result<u64>>>,
}

impl MediaWork {
    pub(crate) fn new(config: &MediaConfig) -> MediaWork {
        let blobs = Blobs::new(&config.dir);
        if let Err(e) = blobs.clean() {
            tracing::warn!(dir = %config.dir.display(), "could not clear unfinished blobs: {e}");
        }
        MediaWork {
            blobs,
            processors: Processors::start(config.concurrency),
            pending: Mutex::default(),
            uploads: PerWindow::new(config.uploads_per_hour, Duration::from_secs(3600)),
            replicas: OnceLock::new(),
            fetching: Semaphore::new(FETCHES),
            missing: Mutex::default(),
        }
    }

    fn missing_recently(&self, hash: BlobHash) -> bool {
        let missing = self.missing.lock().unwrap_or_else(|e| e.into_inner());
        missing.get(&hash).is_some_and(|at| at.elapsed() < MISSING_FOR)
    }

    fn note_missing(&self, hash: BlobHash) {
        let mut missing = self.missing.lock().unwrap_or_else(|e| e.into_inner());
        missing.retain(|_, at| at.elapsed() < MISSING_FOR);
        if missing.len() < MAX_MISSING {
            missing.insert(hash, std::time::Instant::now());
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Makes uploads wait until their blobs are on enough peers (set once, when a cluster node
/// starts; a single node needs none).
pub fn set_replicas(svc: &Service, replicas: Arc<dyn BlobReplicas>) {
    let _ = svc.media_work().replicas.set(replicas);
}

/// The node's blob store (for serving peers and repairs).
pub fn blobs(svc: &Service) -> &Blobs {
    &svc.media_work().blobs
}

/// An upload as a member sends it.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub bytes: Vec<u8>,
    pub description: Option<String>,
    /// Mastodon's `"x,y"`, each in -1.0..=1.0.
    pub focus: Option<String>,
}

/// A picture, or where its processing stands.
#[derive(Debug, Clone)]
pub enum Uploaded {
    Ready(Box<Media>),
    /// Still being processed: ask again by its ID.
    Processing {
        id: Id,
    },
}

/// Uploads a picture (see the module docs for the steps). `wait` bounds how long the caller
/// waits for processing (`None`: until it is done).
pub async fn upload(svc: &Service, by: &Actor, up: Upload, wait: Option<Duration>) -> Result<Uploaded> {
    let owner = member(by)?;
    if protocol(svc)? < 4 {
        return Err(Error::UpgradePending(4));
    }
    check_upload_size(svc, &up.bytes)?;
    let description = checked_description(up.description)?.unwrap_or_default();
    let focus = up.focus.as_deref().map(parse_focus).transpose()?.unwrap_or_default();
    let (id, done) = start(svc, by, owner, up.bytes, Purpose::Post { description, focus })?;
    match finished(done, wait).await {
        Some(Ok(_)) => Ok(Uploaded::Ready(Box::new(owned(svc, owner, id)?))),
        Some(Err(e)) => Err(e),
        None => Ok(Uploaded::Processing { id }),
    }
}

/// Sets the actor's avatar or header to an upload (cut to its shape, see
/// [`roost_media::process_profile`]), under the same quota, rate and bounds as any upload;
/// waits until it is done and answers with the write's log index. The picture it replaces goes.
pub async fn set_profile_image(svc: &Service, by: &Actor, image: ProfileImage, bytes: Vec<u8>) -> Result<u64> {
    let owner = member(by)?;
    if protocol(svc)? < 5 {
        return Err(Error::UpgradePending(5));
    }
    check_upload_size(svc, &bytes)?;
    let (_, done) = start(svc, by, owner, bytes, Purpose::Profile(image))?;
    finished(done, None)
        .await
        .unwrap_or_else(|| Err(Error::Internal("the upload's task ended without a result".into())))
}

/// Removes the actor's avatar or header (the default one shows instead); answers with the
/// write's log index, or `None` when there was none to remove.
pub async fn remove_profile_image(svc: &Service, by: &Actor, image: ProfileImage) -> Result<Option<u64>> {
    let account = member(by)?;
    if protocol(svc)? < 5 {
        return Err(Error::UpgradePending(5));
    }
    let current = query::account(&svc.read()?, account)?.ok_or(Error::NotFound)?;
    let set = match image {
        ProfileImage::Avatar => current.avatar,
        ProfileImage::Header => current.header,
    };
    if set.is_none() {
        return Ok(None);
    }
    Ok(Some(propose(svc, by, Command::SetProfileImage { account, image, media: None }).await?.index))
}

fn check_upload_size(svc: &Service, bytes: &[u8]) -> Result<()> {
    let max = svc.config().media.limits.max_bytes;
    if bytes.is_empty() {
        return Err(Error::invalid("Validation failed: File can't be blank"));
    }
    if bytes.len() > max {
        return Err(Error::TooLarge(format!("The file is larger than {max} bytes")));
    }
    Ok(())
}

/// What an upload becomes.
#[derive(Debug, Clone)]
enum Purpose {
    /// A picture for posts, with what its uploader says of it.
    Post { description: String, focus: Focus },
    /// An avatar or header.
    Profile(ProfileImage),
}

/// Checks the quota and the bounds on uploads in progress, and starts processing `bytes`.
fn start(
    svc: &Service,
    by: &Actor,
    owner: Id,
    bytes: Vec<u8>,
    purpose: Purpose,
) -> Result<(Id, watch::Receiver<Option<Result<u64>>>)> {
    check_quota(svc, owner, bytes.len() as u64, &purpose)?;
    let work = svc.media_work();
    let mut pending = work.pending();
    let mine = pending.values().filter(|p| p.owner == owner).count();
    if mine >= MAX_PENDING_PER_MEMBER || pending.len() >= MAX_PENDING {
        return Err(Error::TooManyRequests);
    }
    work.uploads.count(owner)?;
    let id = new_id();
    let (tx, rx) = watch::channel(None);
    pending.insert(id, Pending { owner, done: rx.clone() });
    let job = Job { svc: svc.clone(), by: by.clone(), id, owner, bytes, purpose };
    tokio::spawn(async move {
        let result = job.run().await;
        let _ = tx.send(Some(result));
    });
    Ok((id, rx))
}

/// Waits for a job's result, at most `wait`.
async fn finished(mut done: watch::Receiver<Option<Result<u64>>>, wait: Option<Duration>) -> Option<Result<u64>> {
    let until_done = async {
        match done.wait_for(|r| r.is_some()).await {
            Ok(r) => r.clone(),
            Err(_) => Some(Err(Error::Internal("the upload's task ended without a result".into()))),
        }
    };
    match wait {
        None => until_done.await,
        Some(d) => tokio::time::timeout(d, until_done).await.ok().flatten(),
    }
}

struct Job {
    svc: Service,
    by: Actor,
    id: Id,
    owner: Id,
    bytes: Vec<u8>,
    purpose: Purpose,
}

impl Job {
    async fn run(self) -> Result<u64> {
        let id = self.id;
        let svc = self.svc.clone();
        let result = self.process_and_propose().await;
        if let Err(e) = &result {
            if e.status() >= 500 {
                tracing::error!(media = id, "upload failed: {e:?}");
            }
        }
        svc.media_work().pending().remove(&id);
        result
    }

    async fn process_and_propose(self) -> Result<u64> {
        let work = self.svc.media_work();
        let limits = self.svc.config().media.limits.clone();
        let blobs = work.blobs.clone();
        let bytes = self.bytes;
        let purpose = self.purpose.clone();
        let (processed, original, preview) = (work.processors.run(move || {
            let p = match purpose {
                Purpose::Post { .. } => roost_media::process(&bytes, &limits),
                Purpose::Profile(ProfileImage::Avatar) => roost_media::process_profile(&bytes, &limits, Shape::Avatar),
                Purpose::Profile(ProfileImage::Header) => roost_media::process_profile(&bytes, &limits, Shape::Header),
            }
            .map_err(media_error)?;
            drop(bytes);
            let original = blobs.put(&p.original.bytes).map_err(|e| Error::Internal(format!("storing a blob: {e}")))?;
            let preview = blobs.put(&p.preview.bytes).map_err(|e| Error::Internal(format!("storing a blob: {e}")))?;
            Ok::<_, Error>((p, original, preview))
        }))
        .await??;
        let (original_blob, preview_blob) = (blob(original, &processed.original), blob(preview, &processed.preview));
        check_quota(&self.svc, self.owner, stored::stored_bytes(&original_blob, &preview_blob), &self.purpose)?;
        if let Some(replicas) = work.replicas.get() {
            replicas.replicate(original, &processed.original.bytes).await?;
            if preview != original {
                replicas.replicate(preview, &processed.preview.bytes).await?;
            }
        }
        let new = NewMedia {
            id: self.id,
            owner: self.owner,
            secret: rand::random(),
            original: original_blob,
            preview: preview_blob,
            blurhash: processed.blurhash,
            animated: processed.animated,
            description: String::new(),
            focus: Focus::default(),
            expires_at: now_ms() + self.svc.config().media.unattached_secs * 1000,
        };
        let command = match self.purpose {
            Purpose::Post { description, focus } => Command::AddMedia(NewMedia { description, focus, ..new }),
            Purpose::Profile(image) => Command::SetProfileImage { account: self.owner, image, media: Some(new) },
        };
        Ok(propose(&self.svc, &self.by, command).await?.index)
    }
}

fn blob(hash: BlobHash, e: &Encoded) -> MediaBlob {
    MediaBlob {
        hash: hash.0,
        bytes: e.bytes.len() as u64,
        content_type: e.content_type.to_string(),
        width: e.width,
        height: e.height,
    }
}

fn media_error(e: roost_media::Error) -> Error {
    match e {
        roost_media::Error::TooLarge { .. } => Error::TooLarge(e.to_string()),
        roost_media::Error::Io(io) => Error::Internal(format!("storing a blob: {io}")),
        other => Error::invalid(format!("Validation failed: {other}")),
    }
}

/// An ID for an upload, from this node's clock (so IDs sort by time, as Mastodon's do) and
/// random low bits; the state machine refuses one already taken.
fn new_id() -> Id {
    ((now_ms().max(0) as u64) << 16) | u64::from(rand::random::<u16>())
}

/// Whether `owner` may keep `adding` more bytes of pictures; a new avatar or header counts
/// without the one it replaces.
fn check_quota(svc: &Service, owner: Id, adding: u64, purpose: &Purpose) -> Result<()> {
    let quota = svc.config().media.quota_bytes;
    if quota == 0 {
        return Ok(());
    }
    let view = svc.read()?;
    let (_, used) = stored::usage(&view, owner)?;
    let replaced = match purpose {
        Purpose::Post { .. } => None,
        Purpose::Profile(image) => query::account(&view, owner)?.and_then(|a| match image {
            ProfileImage::Avatar => a.avatar,
            ProfileImage::Header => a.header,
        }),
    };
    let freed = match replaced {
        Some(id) => stored::media(&view, id)?.map_or(0, |m| stored::stored_bytes(&m.original, &m.preview)),
        None => 0,
    };
    if used.saturating_sub(freed).saturating_add(adding) > quota {
        return Err(Error::invalid(format!(
            "Validation failed: Your pictures would take more than your {} MB of storage; delete some posts with pictures first",
            quota / 1_000_000
        )));
    }
    Ok(())
}

/// Alt text: at most [`MAX_MEDIA_DESCRIPTION_CHARS`] characters, control characters removed.
fn checked_description(d: Option<String>) -> Result<Option<String>> {
    let Some(d) = d else { return Ok(None) };
    let d = roost_core::text::clean_multiline(&d);
    if d.chars().count() > MAX_MEDIA_DESCRIPTION_CHARS {
        return Err(Error::invalid(format!(
            "Validation failed: Description is too long (maximum is {MAX_MEDIA_DESCRIPTION_CHARS} characters)"
        )));
    }
    Ok(Some(d))
}

/// Mastodon's focal point, `"x,y"` with each in -1.0..=1.0, as thousandths.
pub fn parse_focus(s: &str) -> Result<Focus> {
    let bad = || Error::invalid("Validation failed: Focus must be two numbers from -1.0 to 1.0, as \"x,y\"");
    let (x, y) = s.split_once(',').ok_or_else(bad)?;
    let one = |v: &str| -> Result<i16> {
        let f: f64 = v.trim().parse().map_err(|_| bad())?;
        if !(-1.0..=1.0).contains(&f) {
            return Err(bad());
        }
        Ok((f * 1000.0).round() as i16)
    };
    Ok(Focus { x: one(x)?, y: one(y)? })
}

/// The actor's own picture by ID, ready or being processed.
pub fn get(svc: &Service, by: &Actor, id: Id) -> Result<Uploaded> {
    let owner = member(by)?;
    if let Some(m) = stored::media(&svc.read()?, id)? {
        if m.owner == owner {
            return Ok(Uploaded::Ready(Box::new(m)));
        }
        return Err(Error::NotFound);
    }
    match svc.media_work().pending().get(&id) {
        Some(p) if p.owner == owner => Ok(Uploaded::Processing { id }),
        _ => Err(Error::NotFound),
    }
}

fn owned(svc: &Service, owner: Id, id: Id) -> Result<Media> {
    match stored::media(&svc.read()?, id)? {
        Some(m) if m.owner == owner => Ok(m),
        _ => Err(Error::NotFound),
    }
}

/// Changes the alt text or focal point of the actor's picture (before or after posting it);
/// an upload still being processed is waited for.
pub async fn update(
    svc: &Service,
    by: &Actor,
    id: Id,
    description: Option<String>,
    focus: Option<String>,
) -> Result<Media> {
    let owner = member(by)?;
    let description = checked_description(description)?;
    let focus = focus.as_deref().map(parse_focus).transpose()?;
    let waiting = svc.media_work().pending().get(&id).filter(|p| p.owner == owner).map(|p| p.done.clone());
    if let Some(done) = waiting {
        if let Some(Err(e)) = finished(done, Some(UPDATE_WAITS)).await {
            return Err(e);
        }
    }
    let current = owned(svc, owner, id)?;
    if description.as_ref().is_none_or(|d| *d == current.description) && focus.is_none_or(|f| f == current.focus) {
        return Ok(current);
    }
    propose(svc, by, Command::UpdateMedia { account: owner, media: id, description, focus }).await?;
    owned(svc, owner, id)
}

/// The pictures a new post names, checked: at most [`MAX_MEDIA_PER_POST`], each the author's
/// own, processed, and on no other post (`editing`: the post being edited may keep its own).
pub fn checked_attachments(svc: &Service, author: Id, ids: &[String], editing: Option<Id>) -> Result<Vec<Id>> {
    if ids.len() > MAX_MEDIA_PER_POST {
        return Err(Error::invalid(format!(
            "Validation failed: A post can carry at most {MAX_MEDIA_PER_POST} pictures"
        )));
    }
    let view = svc.read()?;
    let account = query::account(&view, author)?.ok_or(Error::NotFound)?;
    let mut out: Vec<Id> = Vec::with_capacity(ids.len());
    for raw in ids {
        let unknown = || Error::invalid(format!("Validation failed: Unknown picture {raw:.20}"));
        let id: Id = raw.parse().map_err(|_| unknown())?;
        if out.contains(&id) {
            return Err(Error::invalid("Validation failed: The same picture is attached twice"));
        }
        match stored::media(&view, id)? {
            Some(m)
                if m.owner == author
                    && (m.status.is_none() || m.status == editing)
                    && !stored::is_profile_image(&account, id) =>
            {
                out.push(id)
            }
            Some(_) => return Err(unknown()),
            None => {
                let processing = svc.media_work().pending().get(&id).is_some_and(|p| p.owner == author);
                if processing {
                    return Err(Error::invalid(
                        "Cannot attach files that have not finished processing. Try again in a moment!",
                    ));
                }
                return Err(unknown());
            }
        }
    }
    Ok(out)
}

/// Which file of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Original,
    Preview,
}

impl Size {
    pub fn name(self) -> &'static str {
        match self {
            Size::Original => "original",
            Size::Preview => "small",
        }
    }

    pub fn parse(s: &str) -> Option<Size> {
        match s {
            "original" => Some(Size::Original),
            "small" => Some(Size::Preview),
            _ => None,
        }
    }
}

/// A signed link to one file of a picture, for one viewer (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub media: Id,
    pub size: Size,
    pub viewer: Id,
    /// Seconds since the epoch after which the link no longer works.
    pub expires: i64,
    /// Only with the viewer's web session (links in the web app's pages).
    pub needs_session: bool,
    /// The keyed hash, as 32 hex digits.
    pub sig: String,
}

/// The viewer a profile picture's links are made for: anyone. An account's JSON, avatar and
/// header links included, is rendered once and shared by every viewer, and a profile is
/// visible to every member; opening such a link still checks that the picture is its owner's
/// current avatar or header and that the owner is not suspended.
pub const ANYONE: Id = 0;

/// When links made now expire (seconds since the epoch): it changes once a day, so a rendering
/// that holds links is current while this is unchanged.
pub fn link_expiry() -> i64 {
    let day = now_ms().div_euclid(1000 * DAY_SECS);
    (day + LINK_DAYS) * DAY_SECS
}

impl Link {
    /// A link to `size` of `m` for `viewer`, valid for a week or more.
    pub fn new(m: &Media, size: Size, viewer: Id, needs_session: bool) -> Link {
        let expires = link_expiry();
        let sig = signature(m, size, viewer, expires, needs_session);
        Link { media: m.id, size, viewer, expires, needs_session, sig }
    }
}

fn signature(m: &Media, size: Size, viewer: Id, expires: i64, needs_session: bool) -> String {
    let key = blake3::derive_key("roost 2026-12 media link", &m.secret);
    let mut h = blake3::Hasher::new_keyed(&key);
    h.update(&m.id.to_be_bytes());
    h.update(size.name().as_bytes());
    h.update(&viewer.to_be_bytes());
    h.update(&expires.to_be_bytes());
    h.update(&[u8::from(needs_session)]);
    let full = h.finalize();
    full.to_hex()[..32].to_string()
}

/// A file to send: Roost made its bytes and knows their type.
#[derive(Debug, Clone)]
pub struct File {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// Opens the file a link names, if the link is genuine and current and its viewer may still
/// see the picture; `session` is the account of the web session the request carries, if any.
/// Everything else is 404, so a link reveals nothing it does not grant.
pub async fn open(svc: &Service, link: &Link, session: Option<Id>) -> Result<File> {
    let (hash, content_type) = {
        let view = svc.read()?;
        let m = stored::media(&view, link.media)?.ok_or(Error::NotFound)?;
        let expected = signature(&m, link.size, link.viewer, link.expires, link.needs_session);
        let genuine = constant_time_eq(expected.as_bytes(), link.sig.as_bytes());
        if !genuine || link.expires < now_ms() / 1000 || (link.needs_session && session != Some(link.viewer)) {
            return Err(Error::NotFound);
        }
        if !may_see(&view, link.viewer, &m)? {
            return Err(Error::NotFound);
        }
        let blob = match link.size {
            Size::Original => &m.original,
            Size::Preview => &m.preview,
        };
        (BlobHash(blob.hash), blob.content_type.clone())
    };
    Ok(File { bytes: blob_bytes(svc, hash).await?, content_type })
}

/// Whether `viewer` may see picture `m` now: its owner always; anyone who may see the post it
/// is on, or the profile it is the avatar or header of; nobody else while it is on neither.
/// For [`ANYONE`]: a current profile picture of an account not suspended.
fn may_see(view: &roost_raft::ReadView, viewer: Id, m: &Media) -> Result<bool> {
    let profile = || -> Result<bool> {
        let Some(owner) = query::account(view, m.owner)? else { return Ok(false) };
        Ok(m.status.is_none() && stored::is_profile_image(&owner, m.id))
    };
    if viewer == ANYONE {
        return Ok(profile()? && !query::suspended(view, m.owner)?);
    }
    if query::account(view, viewer)?.is_none() || query::suspended(view, viewer)? {
        return Ok(false);
    }
    if m.owner == viewer {
        return Ok(true);
    }
    match m.status {
        Some(s) => Ok(query::visible_status(view, viewer, s)?.is_some()),
        None => Ok(profile()? && crate::social::visible_account(view, viewer, m.owner).is_ok()),
    }
}

/// A blob's bytes from this node, or else from a peer (checked against the hash and kept).
async fn blob_bytes(svc: &Service, hash: BlobHash) -> Result<Vec<u8>> {
    let work = svc.media_work();
    let blobs = work.blobs.clone();
    let local = tokio::task::spawn_blocking(move || blobs.get(hash))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(format!("reading a blob: {e}")))?;
    if let Some(bytes) = local {
        return Ok(bytes);
    }
    let Some(replicas) = work.replicas.get() else {
        tracing::error!(blob = %hash, "a picture's blob is missing and there is no peer to ask");
        return Err(Error::NotFound);
    };
    if work.missing_recently(hash) {
        return Err(Error::NotFound);
    }
    // A few fetches from peers at once, whatever the number of requests for missing files.
    let _turn = work.fetching.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
    if let Ok(Some(bytes)) = work.blobs.get(hash) {
        return Ok(bytes);
    }
    let Some(bytes) = replicas.fetch(hash).await else {
        tracing::error!(blob = %hash, "a picture's blob is missing here and on every peer asked");
        work.note_missing(hash);
        return Err(Error::NotFound);
    };
    if !work.blobs.put_verified(hash, &bytes).map_err(|e| Error::Internal(format!("storing a blob: {e}")))? {
        return Err(Error::NotFound);
    }
    Ok(bytes)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Fetches from peers every blob a picture uses that this node lacks (a node that joined by
/// snapshot, was restored from a backup without its blobs, or was down while an upload
/// reached only the others); returns how many it fetched. Without peers there is nothing to ask.
pub async fn repair(svc: &Service) -> Result<usize> {
    const PAGE: usize = 512;
    if svc.media_work().replicas.get().is_none() {
        return Ok(0);
    }
    let blobs = svc.media_work().blobs.clone();
    let (mut after, mut fetched) = (None, 0);
    loop {
        let page = stored::blobs_in_use(&svc.read()?, after.as_ref(), PAGE)?;
        for hash in &page {
            let hash = BlobHash(*hash);
            if !blobs.contains(hash) && blob_bytes(svc, hash).await.is_ok() {
                fetched += 1;
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(*last),
            _ => return Ok(fetched),
        }
    }
}

/// How old a blob must be before a collection may remove it: younger ones may belong to an
/// upload whose command is not applied yet (here, or on the peer that sent it).
pub const GARBAGE_AGE: Duration = Duration::from_secs(3600);

/// Removes blobs no picture uses any more (a post deleted, an upload expired, an avatar
/// replaced), but those younger than `age`; returns how many went. Every node runs it for its
/// own copies, off the async runtime. A pass is skipped while uploads are in progress here
/// (one may be about to name an old blob again), and a blob stored again since it was listed
/// is kept.
pub async fn collect_garbage(svc: &Service, age: Duration) -> Result<usize> {
    let svc = svc.clone();
    tokio::task::spawn_blocking(move || {
        let work = svc.media_work();
        let hashes = work.blobs.list_older_than(age).map_err(|e| Error::Internal(format!("listing blobs: {e}")))?;
        let mut removed = 0;
        for hash in hashes {
            // Holding the map of uploads in progress keeps new ones from starting meanwhile.
            let pending = work.pending();
            if !pending.is_empty() {
                return Ok(removed);
            }
            if !stored::blob_in_use(&svc.read()?, &hash.0)?
                && work
                    .blobs
                    .remove_if_older_than(hash, age)
                    .map_err(|e| Error::Internal(format!("removing a blob: {e}")))?
            {
                removed += 1;
            }
            drop(pending);
        }
        Ok(removed)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}
