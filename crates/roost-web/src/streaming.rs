//! Live streams: which connection hears of which applied event, and what it is told.
//!
//! The state machine publishes the events of each committed transaction (`roost_core::effects`).
//! One task, the [`Hub`], routes each event to the connections that may want it, cheaply and
//! without reading the store: by the accounts it concerns, by public listing, by hashtag. Each
//! connection has a bounded queue; the hub never waits on one, and a connection whose queue is
//! full is dropped (its client reconnects and catches up through the REST API). Each
//! connection's own task then decides, through the same queries as the REST timelines, whether
//! its viewer sees the event on each of its streams, and renders it for that viewer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use roost_core::effects::Event;
use roost_core::query;
use roost_core::visibility::Viewer;
use roost_raft::state_machine::Events;
use roost_types::{FilterContext, Id, Visibility};
use tokio::sync::{broadcast, mpsc};

use crate::entities::{Renderer, StatusJson};
use crate::error::{ApiError, ApiResult};
use crate::{scopes, AppState};

/// Events waiting for one connection before it counts as too slow and is dropped.
pub const QUEUE: usize = 256;
/// Open streaming connections per account.
pub const MAX_PER_ACCOUNT: usize = 32;
/// Open streaming connections in all.
pub const MAX_CONNECTIONS: usize = 10_000;
/// Streams one WebSocket may subscribe to at once.
pub const MAX_SUBSCRIPTIONS: usize = 64;
/// How often an idle connection hears a heartbeat (and its token is checked again).
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// A stream a client can subscribe to, as Mastodon names them. Everything on a Roost instance
/// is local, so `public` and `public:local` carry the same posts and `public:remote` none.
#[derive(Debug, Clone)]
pub enum Stream {
    User,
    UserNotification,
    Public {
        local: bool,
        remote: bool,
        media: bool,
    },
    /// `tag` lowercased for matching; `given` as the client wrote it, which events echo.
    Hashtag {
        tag: String,
        given: String,
        local: bool,
    },
    /// One of the subscriber's lists (ownership is checked on subscribing).
    List {
        id: Id,
    },
    Direct,
}

/// Two subscriptions are the same stream whatever the case of their hashtag.
impl PartialEq for Stream {
    fn eq(&self, other: &Stream) -> bool {
        match (self, other) {
            (Stream::Hashtag { tag: a, local: la, .. }, Stream::Hashtag { tag: b, local: lb, .. }) => {
                a == b && la == lb
            }
            (Stream::Public { local: a, remote: b, media: c }, Stream::Public { local: x, remote: y, media: z }) => {
                (a, b, c) == (x, y, z)
            }
            (Stream::List { id: a }, Stream::List { id: b }) => a == b,
            _ => {
                std::mem::discriminant(self) == std::mem::discriminant(other)
                    && !matches!(self, Stream::Hashtag { .. } | Stream::Public { .. } | Stream::List { .. })
            }
        }
    }
}

impl Eq for Stream {}

impl Stream {
    /// Parses a stream name with its `tag` (and `list`) parameter.
    pub fn parse(name: &str, tag: Option<&str>, list: Option<&str>) -> Result<Stream, &'static str> {
        let public = |local, remote, media| Ok(Stream::Public { local, remote, media });
        match name {
            "user" => Ok(Stream::User),
            "user:notification" => Ok(Stream::UserNotification),
            "public" => public(false, false, false),
            "public:media" => public(false, false, true),
            "public:local" => public(true, false, false),
            "public:local:media" => public(true, false, true),
            "public:remote" => public(false, true, false),
            "public:remote:media" => public(false, true, true),
            "hashtag" | "hashtag:local" => {
                let tag =
                    tag.map(|t| t.trim_start_matches('#')).filter(|t| !t.is_empty()).ok_or("Tag not specified")?;
                if tag.chars().count() > 100 || !tag.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err("Invalid tag");
                }
                Ok(Stream::Hashtag { tag: tag.to_lowercase(), given: tag.to_string(), local: name == "hashtag:local" })
            }
            "direct" => Ok(Stream::Direct),
            "list" => match list.map(str::parse::<Id>) {
                Some(Ok(id)) => Ok(Stream::List { id }),
                Some(Err(_)) => Err("List not found"),
                None => Err("List not specified"),
            },
            _ => Err("Unknown stream type"),
        }
    }

    /// The scopes a token needs for this stream (any one of them).
    pub fn need(&self) -> scopes::Need {
        match self {
            Stream::UserNotification => &["read:notifications"],
            Stream::List { .. } => &["read:lists"],
            _ => &["read:statuses"],
        }
    }

    /// The stream's name as events carry it (`["hashtag", "Rust"]`, the tag as subscribed).
    pub fn names(&self) -> Vec<String> {
        let name = match self {
            Stream::User => "user",
            Stream::UserNotification => "user:notification",
            Stream::Public { local, remote, media } => match (local, remote, media) {
                (true, _, false) => "public:local",
                (true, _, true) => "public:local:media",
                (_, true, false) => "public:remote",
                (_, true, true) => "public:remote:media",
                (false, false, true) => "public:media",
                (false, false, false) => "public",
            },
            Stream::Hashtag { local: true, .. } => "hashtag:local",
            Stream::Hashtag { .. } => "hashtag",
            Stream::List { .. } => "list",
            Stream::Direct => "direct",
        };
        match self {
            Stream::Hashtag { given, .. } => vec![name.to_string(), given.clone()],
            Stream::List { id } => vec![name.to_string(), id.to_string()],
            _ => vec![name.to_string()],
        }
    }

    /// Whether posts appear here at all: remote and media-only streams stay silent until
    /// Roost federates and stores media.
    fn carries_posts(&self) -> bool {
        !matches!(self, Stream::Public { remote: true, .. } | Stream::Public { media: true, .. })
    }
}

/// One applied event, handed to a connection: the batch it belongs to and its place in it.
#[derive(Clone)]
pub struct Delivery {
    batch: Events,
    index: usize,
}

impl Delivery {
    fn event(&self) -> Option<&Event> {
        self.batch.get(self.index)
    }
}

/// What a connection receives: events, until the hub drops it.
pub type Inbox = mpsc::Receiver<Delivery>;

/// A connection as the hub knows it.
struct Conn {
    account: Id,
    tx: mpsc::Sender<Delivery>,
    public: bool,
    tags: Vec<String>,
}

#[derive(Default)]
struct Registry {
    next: u64,
    conns: HashMap<u64, Conn>,
    by_account: HashMap<Id, Vec<u64>>,
    public: HashSet<u64>,
    tags: HashMap<String, HashSet<u64>>,
}

impl Registry {
    fn remove(&mut self, id: u64) {
        let Some(c) = self.conns.remove(&id) else { return };
        if let Some(list) = self.by_account.get_mut(&c.account) {
            list.retain(|&x| x != id);
            if list.is_empty() {
                self.by_account.remove(&c.account);
            }
        }
        self.set_interest_of(id, &c, false, &[]);
    }

    /// Moves a connection's entries in the public and hashtag indexes to a new interest.
    fn set_interest_of(&mut self, id: u64, old: &Conn, public: bool, tags: &[String]) {
        if old.public && !public {
            self.public.remove(&id);
        } else if public {
            self.public.insert(id);
        }
        for t in &old.tags {
            if let Some(set) = self.tags.get_mut(t) {
                set.remove(&id);
                if set.is_empty() {
                    self.tags.remove(t);
                }
            }
        }
        for t in tags {
            self.tags.entry(t.clone()).or_default().insert(id);
        }
    }
}

/// Routes applied events to the connections that may want them.
#[derive(Default)]
pub struct Hub {
    registry: Mutex<Registry>,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Every update leaves the registry consistent, so a poisoned lock is still usable.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Feeds the hub from a node's applied events until the node goes away.
    pub async fn run(self: Arc<Hub>, mut events: broadcast::Receiver<Events>) {
        loop {
            match events.recv().await {
                Ok(batch) => self.route(&batch),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // The hub itself fell behind: streams miss these events, clients see them
                    // on their next REST read.
                    tracing::warn!(batches = n, "live streams skipped events");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    fn route(&self, batch: &Events) {
        let mut r = self.lock();
        if r.conns.is_empty() {
            return;
        }
        let mut targets: Vec<u64> = Vec::new();
        let mut slow: Vec<u64> = Vec::new();
        for (index, event) in batch.iter().enumerate() {
            targets.clear();
            match event {
                Event::Posted { home, public, tags, .. } => {
                    for a in home {
                        if let Some(c) = r.by_account.get(a) {
                            targets.extend_from_slice(c);
                        }
                    }
                    if *public {
                        targets.extend(r.public.iter().copied());
                        for t in tags {
                            if let Some(c) = r.tags.get(t) {
                                targets.extend(c.iter().copied());
                            }
                        }
                    }
                }
                // Anyone might have seen it; each connection checks whether its viewer could.
                Event::Deleted { .. } | Event::Edited { .. } => targets.extend(r.conns.keys().copied()),
                Event::Notified { account, .. }
                | Event::Conversation { account, .. }
                | Event::FiltersChanged { account } => {
                    if let Some(c) = r.by_account.get(account) {
                        targets.extend_from_slice(c);
                    }
                }
            }
            targets.sort_unstable();
            targets.dedup();
            for id in &targets {
                let Some(c) = r.conns.get(id) else { continue };
                if c.tx.try_send(Delivery { batch: batch.clone(), index }).is_err() {
                    slow.push(*id);
                }
            }
        }
        slow.sort_unstable();
        slow.dedup();
        for id in slow {
            // Dropping its sender ends the connection once it has read what is queued.
            tracing::info!(connection = id, "dropping a streaming connection that fell behind");
            r.remove(id);
        }
    }

    /// Registers a connection for `account`, or refuses it when limits are reached.
    pub fn connect(self: &Arc<Hub>, account: Id) -> ApiResult<(Registration, Inbox)> {
        let mut r = self.lock();
        if r.conns.len() >= MAX_CONNECTIONS || r.by_account.get(&account).is_some_and(|c| c.len() >= MAX_PER_ACCOUNT) {
            return Err(ApiError::TooManyRequests);
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        r.next += 1;
        let id = r.next;
        r.conns.insert(id, Conn { account, tx, public: false, tags: Vec::new() });
        r.by_account.entry(account).or_default().push(id);
        Ok((Registration { hub: self.clone(), id }, rx))
    }

    /// Open connections, for tests and metrics.
    pub fn connections(&self) -> usize {
        self.lock().conns.len()
    }
}

/// A connection's place in the hub; leaving it (dropping this) unregisters the connection.
pub struct Registration {
    hub: Arc<Hub>,
    id: u64,
}

impl Registration {
    /// Tells the hub which public and hashtag posts this connection wants.
    fn set_interest(&self, subs: &[Stream]) {
        let public = subs.iter().any(|s| matches!(s, Stream::Public { .. }) && s.carries_posts());
        let mut tags: Vec<String> = subs
            .iter()
            .filter_map(|s| match s {
                Stream::Hashtag { tag, .. } => Some(tag.clone()),
                _ => None,
            })
            .collect();
        tags.sort();
        tags.dedup();
        let mut r = self.hub.lock();
        let Some(mut c) = r.conns.remove(&self.id) else { return };
        r.set_interest_of(self.id, &c, public, &tags);
        c.public = public;
        c.tags = tags;
        r.conns.insert(self.id, c);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.lock().remove(self.id);
    }
}

/// One event as a client receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The stream it arrived on, as [`Stream::names`].
    pub stream: Vec<String>,
    /// `update`, `delete`, `notification`…
    pub event: &'static str,
    /// A JSON entity as text, or for `delete` the post's ID.
    pub payload: String,
}

/// One client's live view: who it is, what it subscribed to, and its inbox.
pub struct Session {
    state: AppState,
    account: Id,
    token_hash: [u8; 32],
    scopes: Vec<String>,
    subs: Vec<Stream>,
    registration: Registration,
}

/// A new or edited post, as streams decide about it.
struct PostEvent<'e> {
    status: Id,
    /// Whether it may be in the viewer's home timeline.
    in_home: bool,
    public: bool,
    tags: &'e [String],
}

/// Why a session cannot go on.
#[derive(Debug)]
pub enum Ended {
    /// Its queue filled up and the hub dropped it.
    TooSlow,
    /// Its token was revoked, or its account is gone.
    Revoked,
}

impl Session {
    /// Opens a session for a signed-in user; it hears nothing until it subscribes.
    pub fn open(
        state: &AppState,
        account: Id,
        token_hash: [u8; 32],
        scopes: Vec<String>,
    ) -> ApiResult<(Session, Inbox)> {
        let (registration, inbox) = state.hub().connect(account)?;
        let session = Session { state: state.clone(), account, token_hash, scopes, subs: Vec::new(), registration };
        Ok((session, inbox))
    }

    /// Adds a stream, checking the token's scopes for it (403) and, for a list, that it is the
    /// subscriber's (404).
    pub fn subscribe(&mut self, stream: Stream) -> ApiResult<()> {
        if !scopes::satisfies(&self.scopes, stream.need()) {
            return Err(ApiError::Forbidden("This stream is outside the authorized scopes".into()));
        }
        if self.subs.contains(&stream) {
            return Ok(());
        }
        if self.subs.len() >= MAX_SUBSCRIPTIONS {
            return Err(ApiError::unprocessable(format!("At most {MAX_SUBSCRIPTIONS} streams per connection")));
        }
        if let Stream::List { id } = stream {
            if query::list(&self.state.node().read()?, self.account, id)?.is_none() {
                return Err(ApiError::NotFound);
            }
        }
        self.subs.push(stream);
        self.registration.set_interest(&self.subs);
        Ok(())
    }

    pub fn unsubscribe(&mut self, stream: &Stream) {
        self.subs.retain(|s| s != stream);
        self.registration.set_interest(&self.subs);
    }

    /// Checks, at each heartbeat, that the token still stands.
    pub fn still_valid(&self) -> ApiResult<Result<(), Ended>> {
        let view = self.state.node().read()?;
        let valid = query::token(&view, &self.token_hash)?.is_some_and(|t| t.account == Some(self.account))
            && query::account(&view, self.account)?.is_some();
        Ok(if valid { Ok(()) } else { Err(Ended::Revoked) })
    }

    /// Sends a new or edited post on each stream that shows it to the viewer, rendered at most
    /// twice (as the home timeline shows it, and as public ones do, each with the viewer's
    /// filters for that context) and only if some stream shows it.
    fn post_messages<T: roost_core::ReadTables>(
        &self,
        view: &T,
        viewer: &mut Viewer<'_, T>,
        post: &PostEvent<'_>,
        event: &'static str,
        push: &mut dyn FnMut(&Stream, &'static str, &str),
    ) -> ApiResult<()> {
        let mut home = None;
        let mut public = None;
        for stream in &self.subs {
            let shown = match stream {
                Stream::User if post.in_home => self.rendered_once(&mut home, view, FilterContext::Home, || {
                    Ok(query::home_entry(viewer, post.status)?)
                })?,
                Stream::Public { .. } if post.public && stream.carries_posts() => {
                    self.rendered_once(&mut public, view, FilterContext::Public, || {
                        Ok(query::public_entry(viewer, post.status, None)?)
                    })?
                }
                Stream::Hashtag { tag, .. } if post.public && post.tags.contains(tag) => {
                    self.rendered_once(&mut public, view, FilterContext::Public, || {
                        Ok(query::public_entry(viewer, post.status, Some(tag))?)
                    })?
                }
                Stream::List { id } if post.in_home => {
                    let Some((list, members)) = query::list_with_members(view, self.account, *id)? else {
                        continue;
                    };
                    if query::list_entry(viewer, &list, &members, post.status)?.is_none() {
                        continue;
                    }
                    // Shown as home shows it: the same viewer, the same record.
                    self.rendered_once(&mut home, view, FilterContext::Home, || {
                        Ok(query::home_entry(viewer, post.status)?)
                    })?
                }
                _ => None,
            };
            if let Some(json) = shown {
                push(stream, event, json.as_str());
            }
        }
        Ok(())
    }

    /// Renders a post for one filter context the first time a stream asks (`entry` says how that
    /// context's timeline shows it, if at all), and the remembered result after.
    fn rendered_once<'s, T: roost_core::ReadTables>(
        &self,
        slot: &'s mut Option<Option<StatusJson>>,
        view: &T,
        context: FilterContext,
        entry: impl FnOnce() -> ApiResult<Option<query::Shown>>,
    ) -> ApiResult<Option<&'s StatusJson>> {
        if slot.is_none() {
            let json = match entry()? {
                Some((s, o)) => {
                    Renderer::new(view, self.account, &self.state).filtering(context)?.status(&s, o.as_ref())?
                }
                None => None,
            };
            *slot = Some(json);
        }
        Ok(slot.as_ref().and_then(Option::as_ref))
    }

    /// What the viewer is told of one applied event, on each of its streams.
    pub fn render(&self, delivery: &Delivery) -> ApiResult<Vec<Message>> {
        let Some(event) = delivery.event() else { return Ok(Vec::new()) };
        let view = self.state.node().read()?;
        let me = self.account;
        let mut viewer = Viewer::new(&view, me);
        let mut renderer = Renderer::new(&view, me, &self.state);
        let mut notes_renderer = None;
        let mut out = Vec::new();
        let mut push = |stream: &Stream, event: &'static str, payload: &str| {
            out.push(Message { stream: stream.names(), event, payload: payload.to_string() })
        };
        match event {
            Event::Posted { status, home, public, tags } => {
                let post = PostEvent { status: *status, in_home: home.contains(&me), public: *public, tags };
                self.post_messages(&view, &mut viewer, &post, "update", &mut push)?;
            }
            // An edit reaches whoever the post reaches now (the home check asks the timeline's rule).
            Event::Edited { status, public, tags } => {
                let post = PostEvent { status: *status, in_home: true, public: *public, tags };
                self.post_messages(&view, &mut viewer, &post, "status.update", &mut push)?;
            }
            Event::Deleted { status } => {
                let id = status.id.to_string();
                let listed = status.visibility == Visibility::Public && status.reblog_of.is_none();
                for stream in &self.subs {
                    let told = match stream {
                        Stream::User => viewer.can_see(status)?,
                        Stream::Public { .. } => listed && stream.carries_posts(),
                        Stream::Hashtag { tag, .. } => listed && status.tags.contains(tag),
                        Stream::List { id } => match query::list_with_members(&view, me, *id)? {
                            Some((_, members)) => members.contains(&status.author) && viewer.can_see(status)?,
                            None => false,
                        },
                        _ => false,
                    };
                    if told {
                        push(stream, "delete", &id);
                    }
                }
            }
            Event::Notified { account, notification } if *account == me => {
                let wants = |s: &Stream| {
                    matches!(s, Stream::UserNotification)
                        || (matches!(s, Stream::User) && scopes::satisfies(&self.scopes, &["read:notifications"]))
                };
                if self.subs.iter().any(wants) {
                    let r = match &mut notes_renderer {
                        Some(r) => r,
                        None => notes_renderer
                            .insert(Renderer::new(&view, me, &self.state).filtering(FilterContext::Notifications)?),
                    };
                    let json = match query::notification(&view, me, *notification)? {
                        Some((n, shown)) => r.notification(&n, shown.as_ref())?,
                        None => None,
                    };
                    if let Some(n) = json {
                        let payload = serde_json::to_string(&n).map_err(|e| ApiError::Internal(e.to_string()))?;
                        for stream in self.subs.iter().filter(|s| wants(s)) {
                            push(stream, "notification", &payload);
                        }
                    }
                }
            }
            Event::Notified { .. } => {}
            Event::Conversation { account, conversation } if *account == me => {
                if self.subs.contains(&Stream::Direct) {
                    if let Some((c, shown)) = query::conversation_entry(&mut viewer, *conversation)? {
                        let json = crate::entities::conversation_json(
                            &mut renderer,
                            &view,
                            me,
                            *conversation,
                            &c,
                            shown.as_ref(),
                        )?;
                        let payload = serde_json::to_string(&json).map_err(|e| ApiError::Internal(e.to_string()))?;
                        push(&Stream::Direct, "conversation", &payload);
                    }
                }
            }
            Event::Conversation { .. } => {}
            Event::FiltersChanged { account } if *account == me => {
                if self.subs.contains(&Stream::User) {
                    push(&Stream::User, "filters_changed", "");
                }
            }
            Event::FiltersChanged { .. } => {}
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notified(account: Id, n: u64) -> Events {
        Arc::from(vec![Event::Notified { account, notification: n }])
    }

    #[test]
    fn a_full_queue_drops_only_that_connection() {
        let hub = Arc::new(Hub::default());
        let (slow, mut slow_inbox) = hub.connect(1).unwrap();
        let (_fast, mut fast_inbox) = hub.connect(2).unwrap();
        let mut fast_seen = 0;
        for n in 0..(QUEUE as u64 + 10) {
            hub.route(&notified(1, n));
            hub.route(&notified(2, n));
            // The fast one keeps up; the slow one never reads.
            while fast_inbox.try_recv().is_ok() {
                fast_seen += 1;
            }
        }
        assert_eq!(fast_seen, QUEUE + 10, "the fast connection heard everything");
        assert_eq!(hub.connections(), 1, "the slow one was dropped");
        // It still reads what was queued, then learns it was dropped.
        let mut queued = 0;
        while let Ok(d) = slow_inbox.try_recv() {
            assert!(matches!(d.event(), Some(Event::Notified { account: 1, .. })));
            queued += 1;
        }
        assert_eq!(queued, QUEUE);
        assert!(matches!(slow_inbox.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
        drop(slow);
        assert_eq!(hub.connections(), 1);
    }

    #[test]
    fn events_go_only_to_the_connections_they_concern() {
        let hub = Arc::new(Hub::default());
        let (_a, mut a) = hub.connect(1).unwrap();
        let (b_reg, mut b) = hub.connect(2).unwrap();
        b_reg.set_interest(&[Stream::Hashtag { tag: "rust".into(), given: "Rust".into(), local: false }]);
        let posted = |public: bool, tags: &[&str]| -> Events {
            Arc::from(vec![Event::Posted {
                status: 9,
                home: vec![1],
                public,
                tags: tags.iter().map(|t| t.to_string()).collect(),
            }])
        };
        hub.route(&posted(true, &["go"]));
        assert!(a.try_recv().is_ok(), "in account 1's home");
        assert!(b.try_recv().is_err(), "neither in 2's home nor tagged #rust");
        hub.route(&posted(true, &["rust"]));
        assert!(b.try_recv().is_ok(), "tagged #rust");
        hub.route(&posted(false, &["rust"]));
        assert!(b.try_recv().is_err(), "not listed publicly");
        drop(b_reg);
        assert_eq!(hub.connections(), 1);
        for _ in 0..MAX_PER_ACCOUNT - 1 {
            std::mem::forget(hub.connect(1).unwrap());
        }
        assert!(matches!(hub.connect(1), Err(ApiError::TooManyRequests)), "at most {MAX_PER_ACCOUNT} per account");
    }
}
