//! Roost's shared vocabulary: IDs, roles, visibilities and the command enum that is stored in
//! the replicated log.
//!
//! # Versioning
//! Log entries are encoded with `postcard`, which identifies an enum variant by its position.
//! The log is kept forever (and replayed by auditors), so **variants are only ever appended**:
//! never reordered, removed or changed in meaning. A changed command gets a new variant; the old
//! one keeps being applied as it always was.
//!
//! # Protocol versions
//! A cluster upgrades one node at a time, so for a while its members run different binaries. A
//! binary speaks protocol [`PROTOCOL`]: the command variants it can decode and the rules its
//! `apply` follows. The state records the protocol the cluster has *activated*
//! ([`Command::ActivateProtocol`], proposed by the leader once every member speaks it); a variant
//! newer than that ([`Command::since`]) is refused, and a rule that changed is applied the old way
//! until the activation entry, so every replica — and every auditor replaying the log — decides
//! the same. Protocol 1 is everything before versions existed.

use serde::{Deserialize, Serialize};

/// A time-sortable identifier: milliseconds since the Unix epoch in the high 48 bits, a sequence
/// number in the low 16. Assigned by the state machine in `apply`, so every replica agrees.
pub type Id = u64;

/// Milliseconds since the Unix epoch, as stamped by the node that received the request.
pub type Millis = i64;

/// The role of an account on the instance, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    Owner,
    Admin,
    Moderator,
    Member,
}

impl Role {
    /// The lowercase name used on the command line and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Moderator => "moderator",
            Role::Member => "member",
        }
    }

    /// Parses the lowercase name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "moderator" => Some(Role::Moderator),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// Whether this role may remove other people's posts.
    pub fn can_moderate(self) -> bool {
        self <= Role::Moderator
    }

    /// Whether this role may manage members, roles and invites.
    pub fn can_administer(self) -> bool {
        self <= Role::Admin
    }

    /// Whether this role stands strictly above `other`.
    pub fn outranks(self, other: Role) -> bool {
        self < other
    }
}

/// Who may see a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Visibility {
    /// Everyone on the instance, and listed in the public timelines.
    Public,
    /// Everyone on the instance, but not listed in the public timelines.
    Unlisted,
    /// The author's followers and the mentioned accounts.
    Private,
    /// Only the mentioned accounts.
    Direct,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
            Visibility::Direct => "direct",
        }
    }

    pub fn parse(s: &str) -> Option<Visibility> {
        match s {
            "public" => Some(Visibility::Public),
            "unlisted" => Some(Visibility::Unlisted),
            "private" => Some(Visibility::Private),
            "direct" => Some(Visibility::Direct),
            _ => None,
        }
    }
}

/// The newest protocol this binary speaks (see the module docs). Raise it, and mark the new
/// variants in [`Command::since`], whenever a release adds command variants or changes what an
/// existing one does.
pub const PROTOCOL: u32 = 6;

/// One proposal to the replicated log: a command plus everything non-deterministic that its
/// application needs, decided once by the node that received the request.
///
/// # Stored format
/// A request is stored as `(at, command)`. Who asked (`by`), when known, is stored by wrapping
/// the command in [`Command::By`], a variant appended in protocol 3: entries written before it
/// still decode (with `by: None`), and a node that does not speak protocol 3 is never sent one
/// (the service layer attributes commands only once the cluster activated it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The receiving node's clock when the request arrived.
    pub at: Millis,
    /// Who asked, and through what; `None` in entries older than protocol 3.
    pub by: Option<Actor>,
    pub command: Command,
}

impl Request {
    /// A request nobody in particular asked for (or whose asker is not recorded).
    pub fn new(at: Millis, command: Command) -> Request {
        Request { at, by: None, command }
    }
}

/// Position of [`Command::By`] among `Command`'s variants, as postcard numbers them.
const BY_VARIANT: u32 = 63;

impl Serialize for Request {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeStruct, SerializeStructVariant};
        /// `Command::By { by, command }` without moving the command into a box.
        struct By<'a>(&'a Actor, &'a Command);
        impl Serialize for By<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut v = s.serialize_struct_variant("Command", BY_VARIANT, "By", 2)?;
                v.serialize_field("by", self.0)?;
                v.serialize_field("command", self.1)?;
                v.end()
            }
        }
        let mut st = s.serialize_struct("Request", 2)?;
        st.serialize_field("at", &self.at)?;
        match &self.by {
            Some(by) => st.serialize_field("command", &By(by, &self.command))?,
            None => st.serialize_field("command", &self.command)?,
        }
        st.end()
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Request, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "Request")]
        struct Stored {
            at: Millis,
            command: Command,
        }
        let Stored { at, command } = Stored::deserialize(d)?;
        Ok(match command {
            Command::By { by, command } => Request { at, by: Some(by), command: *command },
            command => Request { at, by: None, command },
        })
    }
}

/// Who asked for a command: the account (none for the operator, a sign-up, or the node's own
/// housekeeping) and the way in it came through. Recorded in the log with every command from
/// protocol 3 on (see [`Request`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub account: Option<Id>,
    pub via: Via,
}

/// The way a command came in. Variants are only ever appended (see the crate docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Via {
    /// The node itself: its clock's housekeeping ([`Command::Tick`], protocol activation),
    /// recording a token's use.
    Node,
    /// An OAuth app (a Mastodon client), by its client ID.
    App { client_id: String },
    /// The web app, in a signed-in session (or signing up through it).
    Web,
    /// The operator's admin socket (`roost admin …`).
    AdminSocket,
    /// An agent session (the agent interface), under the OAuth app it signed in with.
    Agent { client_id: String },
    /// An extension, at the version that caused the effect.
    Extension { extension: Id, version: u32 },
}

impl Via {
    /// A short name for logs and the admin's view: `app`, `web`, `admin-socket`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Via::Node => "node",
            Via::App { .. } => "app",
            Via::Web => "web",
            Via::AdminSocket => "admin-socket",
            Via::Agent { .. } => "agent",
            Via::Extension { .. } => "extension",
        }
    }

    /// The OAuth client behind this way in, if any.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Via::App { client_id } | Via::Agent { client_id } => Some(client_id),
            _ => None,
        }
    }
}

/// Every change of state Roost knows. See the module docs for the versioning rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Creates an account. The password was hashed (argon2id) before proposing.
    CreateAccount {
        username: String,
        email: Option<String>,
        password_hash: String,
        role: Role,
        display_name: Option<String>,
    },
    /// Changes profile fields; `None` leaves a field as it is.
    UpdateAccount {
        account: Id,
        display_name: Option<String>,
        note: Option<String>,
        locked: Option<bool>,
        bot: Option<bool>,
    },
    /// Registers an OAuth client application. Secrets arrive already hashed.
    CreateApp {
        client_id: String,
        client_secret_hash: [u8; 32],
        name: String,
        website: Option<String>,
        redirect_uris: Vec<String>,
        scopes: Vec<String>,
    },
    /// Issues a bearer token (hash of the random token) for an app, for a user or the app itself.
    IssueToken {
        token_hash: [u8; 32],
        client_id: String,
        account: Option<Id>,
        scopes: Vec<String>,
    },
    RevokeToken {
        token_hash: [u8; 32],
    },
    CreateStatus(NewStatus),
    DeleteStatus {
        actor: Id,
        status: Id,
    },
    Favourite {
        account: Id,
        status: Id,
    },
    Unfavourite {
        account: Id,
        status: Id,
    },
    Reblog {
        account: Id,
        status: Id,
        visibility: Visibility,
    },
    Unreblog {
        account: Id,
        status: Id,
    },
    Bookmark {
        account: Id,
        status: Id,
    },
    Unbookmark {
        account: Id,
        status: Id,
    },
    Follow {
        account: Id,
        target: Id,
        reblogs: bool,
        notify: bool,
    },
    Unfollow {
        account: Id,
        target: Id,
    },
    Block {
        account: Id,
        target: Id,
    },
    Unblock {
        account: Id,
        target: Id,
    },
    Mute {
        account: Id,
        target: Id,
        notifications: bool,
    },
    Unmute {
        account: Id,
        target: Id,
    },
    DismissNotification {
        account: Id,
        notification: Id,
    },
    ClearNotifications {
        account: Id,
    },
    /// Issues an OAuth authorization code (hash of the random code) after the user consented;
    /// it expires [`AUTH_CODE_LIFETIME_MS`] after the command's time.
    IssueAuthCode {
        code_hash: [u8; 32],
        client_id: String,
        account: Id,
        scopes: Vec<String>,
        redirect_uri: String,
        code_challenge: Option<String>,
    },
    /// Exchanges an authorization code for a token: the code is used up, the token issued with
    /// its account and scopes. Checks of the redirect URI and PKCE verifier happen before
    /// proposing; the client and the expiry are checked here.
    RedeemAuthCode {
        code_hash: [u8; 32],
        client_id: String,
        token_hash: [u8; 32],
    },
    /// `account` (locked) accepts `requester`'s follow request: the follow begins.
    AuthorizeFollowRequest {
        account: Id,
        requester: Id,
    },
    /// `account` turns `requester`'s follow request down.
    RejectFollowRequest {
        account: Id,
        requester: Id,
    },
    /// Features one of the account's own posts on its profile (at most [`MAX_PINNED`]).
    Pin {
        account: Id,
        status: Id,
    },
    Unpin {
        account: Id,
        status: Id,
    },
    /// Saves where the member stopped reading a timeline, for their other apps.
    SetMarker {
        account: Id,
        timeline: MarkerTimeline,
        last_read_id: Id,
    },
    /// A new post with a poll (a separate command so that `CreateStatus` keeps its shape).
    CreateStatusWithPoll {
        status: NewStatus,
        poll: NewPoll,
    },
    /// Votes in a poll (`poll` is the ID of the post that carries it); refused once the poll's
    /// logged expiry time has passed by the command's time.
    Vote {
        account: Id,
        poll: Id,
        choices: Vec<u32>,
    },
    /// Creates a list (`list` is its new ID's place: assigned in apply) of followed accounts.
    CreateList {
        account: Id,
        title: String,
        replies_policy: RepliesPolicy,
        exclusive: bool,
    },
    UpdateList {
        account: Id,
        list: Id,
        title: String,
        replies_policy: RepliesPolicy,
        exclusive: bool,
    },
    DeleteList {
        account: Id,
        list: Id,
    },
    /// Adds accounts the owner follows to one of their lists.
    AddToList {
        account: Id,
        list: Id,
        members: Vec<Id>,
    },
    RemoveFromList {
        account: Id,
        list: Id,
        members: Vec<Id>,
    },
    /// Public posts with this hashtag (lowercase) come to the account's home timeline.
    FollowTag {
        account: Id,
        tag: String,
    },
    UnfollowTag {
        account: Id,
        tag: String,
    },
    /// Creates a filter, or (with `filter`) replaces one of the account's filters with `spec`;
    /// keywords without an ID are new.
    SaveFilter {
        account: Id,
        filter: Option<Id>,
        spec: FilterSpec,
    },
    DeleteFilter {
        account: Id,
        filter: Id,
    },
    /// Mutes an account, until `expires_at` if given (the first command applied at or after
    /// that time lifts it). Replaces `Mute`, which stays for the log's older entries.
    MuteFor {
        account: Id,
        target: Id,
        notifications: bool,
        expires_at: Option<Millis>,
    },
    /// Reports an account (and some of its posts) to the moderators.
    CreateReport {
        reporter: Id,
        target: Id,
        statuses: Vec<Id>,
        comment: String,
        category: ReportCategory,
    },
    /// Marks a direct conversation read for the account.
    ReadConversation {
        account: Id,
        conversation: Id,
    },
    /// Removes a direct conversation from the account's list (a new message brings it back).
    RemoveConversation {
        account: Id,
        conversation: Id,
    },
    /// The author rewrites a post; the version it replaces is kept for its history.
    EditStatus {
        actor: Id,
        status: Id,
        text: String,
        spoiler_text: String,
        sensitive: bool,
        language: Option<String>,
    },
    /// Creates an invite link (the random code arrives hashed). `created_by` is `None` when the
    /// operator made it from the command line; otherwise an admin, who cannot hand out a role
    /// above their own. Refused past [`MAX_OPEN_INVITES`].
    CreateInvite {
        code_hash: [u8; 32],
        created_by: Option<Id>,
        role: Role,
        max_uses: Option<u32>,
        expires_at: Option<Millis>,
    },
    /// Withdraws an invite; its link stops working.
    RevokeInvite {
        actor: Option<Id>,
        invite: Id,
    },
    /// Creates an account through an invite (refused if the invite is unknown, withdrawn,
    /// expired by the command's time or used up); the account gets the invite's role.
    CreateAccountByInvite {
        code_hash: [u8; 32],
        username: String,
        email: Option<String>,
        password_hash: String,
        display_name: Option<String>,
    },
    /// Replaces an account's password (hashed with argon2id before proposing) and ends every
    /// session and app token of the account but `keep` (the session that changed it).
    SetPassword {
        account: Id,
        password_hash: String,
        keep: Option<[u8; 32]>,
    },
    /// Gives an account a role. `actor` `None` is the operator; otherwise an admin who outranks
    /// both the account's role and the new one. Nobody becomes or stops being the owner this way.
    SetRole {
        actor: Option<Id>,
        account: Id,
        role: Role,
    },
    /// Suspends an account: it cannot sign in and its sessions and tokens end. The actor must
    /// be a moderator who outranks the account.
    Suspend {
        actor: Option<Id>,
        account: Id,
    },
    Unsuspend {
        actor: Option<Id>,
        account: Id,
    },
    /// A member's defaults for new posts.
    SetPreferences {
        account: Id,
        default_visibility: Visibility,
        default_sensitive: bool,
    },
    /// A moderator closes a report.
    ResolveReport {
        actor: Id,
        report: Id,
    },

    // ---- protocol 2 ------------------------------------------------------------------------
    /// Turns on protocol `version` (never lowers it). The leader proposes it once every member
    /// reports that it speaks `version`.
    ActivateProtocol {
        version: u32,
    },
    /// Creates an account. `role` `None` means "the owner on an empty instance, else a member";
    /// the owner is decided in `apply`, so that accounts created at the same moment on an empty
    /// instance make one owner. An owner is refused while there is one.
    AddAccount {
        username: String,
        email: Option<String>,
        password_hash: String,
        role: Option<Role>,
        display_name: Option<String>,
    },
    /// Housekeeping by the log's clock, proposed by the leader when something is due: scheduled
    /// posts are published, timed mutes lift, ended polls notify, unused apps expire.
    Tick,
    /// Keeps a post to be published at `scheduled_at` (by the first [`Command::Tick`] at or after
    /// it). Its poll, if any, runs from the moment it is published.
    ScheduleStatus {
        status: NewStatus,
        poll: Option<PollSpec>,
        scheduled_at: Millis,
    },
    /// Moves a scheduled post to another time.
    RescheduleStatus {
        account: Id,
        scheduled: Id,
        scheduled_at: Millis,
    },
    /// Drops a scheduled post before it is published.
    CancelScheduledStatus {
        account: Id,
        scheduled: Id,
    },
    /// Changes a profile (replaces `UpdateAccount`, which stays for older entries); `None`
    /// leaves a field as it is.
    UpdateProfile(ProfileUpdate),
    /// A member's defaults for new posts (replaces `SetPreferences`, adding the language).
    SetPostingDefaults {
        account: Id,
        default_visibility: Visibility,
        default_sensitive: bool,
        default_language: Option<String>,
    },
    /// Records that a token was used (at most about once a day per token), so that the least
    /// recently used are the ones pruned when an account or app holds too many.
    TouchToken {
        token_hash: [u8; 32],
    },
    /// A write made exactly once however often it is sent: the node that received it gives it
    /// a random `id`, and a retry with the same `id` (after its first attempt's fate became
    /// unknown, the leader having died) gets the first outcome back instead of applying again.
    Once {
        id: [u8; 16],
        command: Box<Command>,
    },
    /// Who asked for `command`: how [`Request::by`] is stored (see [`Request`]). Never built
    /// by hand: a request's `by` is encoded as this and decoded back into `by`.
    By {
        by: Actor,
        command: Box<Command>,
    },
    /// A processed upload (protocol 4). Its blobs were stored (on a majority of a cluster's
    /// nodes) before this was proposed; the log holds their hashes, never their bytes.
    AddMedia(NewMedia),
    /// The uploader changes a picture's description or focal point; `None` keeps it.
    UpdateMedia {
        account: Id,
        media: Id,
        description: Option<String>,
        focus: Option<Focus>,
    },
    /// A new post with pictures (at most [`MAX_MEDIA_PER_POST`], the author's own, not yet
    /// attached) and perhaps a poll.
    CreatePost {
        status: NewStatus,
        poll: Option<NewPoll>,
        media: Vec<Id>,
    },
    /// An edit that also sets the post's pictures (protocol 4): those it drops stay in its
    /// history.
    EditPost {
        actor: Id,
        status: Id,
        text: String,
        spoiler_text: String,
        sensitive: bool,
        language: Option<String>,
        media: Vec<Id>,
    },
    /// Sets a member's avatar or header to a processed upload (protocol 5; its blobs stored
    /// as for [`Command::AddMedia`], the record added in the same step) or, with `None`,
    /// removes it. The picture it replaces is removed.
    SetProfileImage {
        account: Id,
        image: ProfileImage,
        media: Option<NewMedia>,
    },
    /// A scheduled post with pictures (protocol 6): they are the author's, on no post, and are
    /// held for it until it is published (or, cancelled, become unused uploads again).
    SchedulePost {
        status: NewStatus,
        scheduled_at: Millis,
        media: Vec<Id>,
    },
    /// A new version of an extension (protocol 6), or a new extension with `extension`
    /// `None`: its manifest and source, immutable once written. `actor` (`None`: the operator)
    /// must administer the instance.
    SaveExtension {
        actor: Option<Id>,
        extension: Option<Id>,
        manifest: ExtensionManifest,
        source: String,
    },
    /// Puts a version of an extension to work in a mode (a roll back is a deploy of an earlier
    /// version).
    DeployExtension {
        actor: Option<Id>,
        extension: Id,
        version: u32,
        mode: ExtensionMode,
    },
    /// Stops an extension; its versions stay. With `version`, only if that version is the one
    /// at work (a node stopping a failing version must not stop a newer one deployed since).
    DisableExtension {
        actor: Option<Id>,
        extension: Id,
        version: Option<u32>,
    },
    /// A new post or an edit (`command`: `CreateStatus`, `CreateStatusWithPoll`, `CreatePost`,
    /// `EditStatus` or `EditPost`) with what the deployed automod rules decided of it on the
    /// node that received it (execute once: replicas apply the decision, they never re-run
    /// the rules). The post and its holds and labels are written in one step.
    Judged {
        effects: Vec<RuleEffect>,
        command: Box<Command>,
    },
    /// A moderator approves a held post (it becomes visible as its visibility says) or removes
    /// it.
    ReviewHeldPost {
        actor: Id,
        status: Id,
        approve: bool,
    },
    /// A member subscribes to a feed (it shows among their lists) or unsubscribes.
    SubscribeFeed {
        account: Id,
        extension: Id,
        subscribe: bool,
    },
}

/// What one automod rule's verdict does to a post (see [`Command::Judged`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleEffect {
    pub extension: Id,
    pub version: u32,
    pub action: RuleAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleAction {
    /// Visible only to its author and moderators until a moderator reviews it.
    Hold { reason: String },
    /// Shown with the post.
    Label { label: String },
}

/// Characters of a rule's reason and of a label.
pub const MAX_RULE_REASON_CHARS: usize = 500;
pub const MAX_LABEL_CHARS: usize = 64;

/// What an extension does (issue 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExtensionKind {
    /// Judges each post before it is written.
    Automod,
    /// Ranks candidate posts for a reader.
    Feed,
    /// Reacts to events with actions.
    Bot,
}

impl ExtensionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExtensionKind::Automod => "automod",
            ExtensionKind::Feed => "feed",
            ExtensionKind::Bot => "bot",
        }
    }

    pub fn parse(s: &str) -> Option<ExtensionKind> {
        match s {
            "automod" => Some(ExtensionKind::Automod),
            "feed" => Some(ExtensionKind::Feed),
            "bot" => Some(ExtensionKind::Bot),
            _ => None,
        }
    }
}

/// How a deployed extension's decisions count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExtensionMode {
    /// Decisions are recorded and have no effect.
    Observe,
    /// Decisions take effect.
    Enforce,
}

impl ExtensionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ExtensionMode::Observe => "observe",
            ExtensionMode::Enforce => "enforce",
        }
    }

    pub fn parse(s: &str) -> Option<ExtensionMode> {
        match s {
            "observe" => Some(ExtensionMode::Observe),
            "enforce" => Some(ExtensionMode::Enforce),
            _ => None,
        }
    }
}

/// What happens to a post when an automod rule fails (throws, runs out of budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailPolicy {
    /// The post goes through (the default: a broken rule does not stop the network).
    Open,
    /// The post is refused until the rule works.
    Closed,
}

/// What an extension declares beside its source; checked by the service (sizes, limits within
/// the instance's maxima) before it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionManifest {
    pub name: String,
    pub kind: ExtensionKind,
    pub description: String,
    pub on_error: FailPolicy,
    /// Interrupt checks a call may use (see `roost_ext::Limits::budget`).
    pub budget: u64,
    pub deadline_ms: u64,
    pub memory_bytes: u64,
    /// A feed's candidates (required for feeds, absent for other kinds).
    pub feed: Option<FeedSpec>,
}

/// Where a feed's candidate posts come from and how far back (issue 14). Roost gathers them
/// for the reader, through the reader's own visibility, blocks and mutes, before the feed's
/// `rank` sees any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedSpec {
    /// At least one, at most [`MAX_FEED_SOURCES`].
    pub sources: Vec<FeedSource>,
    /// Only posts of the last this many hours (1 to [`MAX_FEED_WINDOW_HOURS`]).
    pub window_hours: u32,
    /// A member's own feed (only they see it and write it) rather than one an administrator
    /// publishes for everyone; fixed for the extension's life.
    pub personal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeedSource {
    /// The reader's home timeline.
    Home,
    /// The instance's public timeline.
    Local,
    /// Public posts with this hashtag (lowercase, without `#`).
    Hashtag(String),
    /// One of the owner's lists (personal feeds only).
    List(Id),
    /// The posts of one account that the reader may see.
    Account(Id),
}

pub const MAX_FEED_SOURCES: usize = 10;
pub const MAX_FEED_WINDOW_HOURS: u32 = 24 * 30;

/// Which of a profile's two pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProfileImage {
    /// The square picture beside every post.
    Avatar,
    /// The wide banner at the top of the profile.
    Header,
}

/// How long a [`Command::Once`] is remembered, by the log's clock: far longer than a write is
/// ever retried.
pub const ONCE_LIFETIME_MS: Millis = 10 * 60 * 1000;

impl Command {
    /// Whether applying this command twice does what applying it once does, so that a write
    /// whose fate is unknown (the leader died while committing it) may be sent again: a post or
    /// scheduled post that carries the client's `Idempotency-Key`.
    pub fn is_idempotent(&self) -> bool {
        match self {
            Command::Once { .. } => true,
            Command::By { command, .. } => command.is_idempotent(),
            Command::CreateStatus(s)
            | Command::CreateStatusWithPoll { status: s, .. }
            | Command::CreatePost { status: s, .. } => s.idempotency_key.is_some(),
            Command::ScheduleStatus { status, .. } | Command::SchedulePost { status, .. } => {
                status.idempotency_key.is_some()
            }
            _ => false,
        }
    }

    /// The variant's name, for logs and the audit of who did what.
    pub fn name(&self) -> &'static str {
        match self {
            Command::CreateAccount { .. } => "CreateAccount",
            Command::UpdateAccount { .. } => "UpdateAccount",
            Command::CreateApp { .. } => "CreateApp",
            Command::IssueToken { .. } => "IssueToken",
            Command::RevokeToken { .. } => "RevokeToken",
            Command::CreateStatus(..) => "CreateStatus",
            Command::DeleteStatus { .. } => "DeleteStatus",
            Command::Favourite { .. } => "Favourite",
            Command::Unfavourite { .. } => "Unfavourite",
            Command::Reblog { .. } => "Reblog",
            Command::Unreblog { .. } => "Unreblog",
            Command::Bookmark { .. } => "Bookmark",
            Command::Unbookmark { .. } => "Unbookmark",
            Command::Follow { .. } => "Follow",
            Command::Unfollow { .. } => "Unfollow",
            Command::Block { .. } => "Block",
            Command::Unblock { .. } => "Unblock",
            Command::Mute { .. } => "Mute",
            Command::Unmute { .. } => "Unmute",
            Command::DismissNotification { .. } => "DismissNotification",
            Command::ClearNotifications { .. } => "ClearNotifications",
            Command::IssueAuthCode { .. } => "IssueAuthCode",
            Command::RedeemAuthCode { .. } => "RedeemAuthCode",
            Command::AuthorizeFollowRequest { .. } => "AuthorizeFollowRequest",
            Command::RejectFollowRequest { .. } => "RejectFollowRequest",
            Command::Pin { .. } => "Pin",
            Command::Unpin { .. } => "Unpin",
            Command::SetMarker { .. } => "SetMarker",
            Command::CreateStatusWithPoll { .. } => "CreateStatusWithPoll",
            Command::Vote { .. } => "Vote",
            Command::CreateList { .. } => "CreateList",
            Command::UpdateList { .. } => "UpdateList",
            Command::DeleteList { .. } => "DeleteList",
            Command::AddToList { .. } => "AddToList",
            Command::RemoveFromList { .. } => "RemoveFromList",
            Command::FollowTag { .. } => "FollowTag",
            Command::UnfollowTag { .. } => "UnfollowTag",
            Command::SaveFilter { .. } => "SaveFilter",
            Command::DeleteFilter { .. } => "DeleteFilter",
            Command::MuteFor { .. } => "MuteFor",
            Command::CreateReport { .. } => "CreateReport",
            Command::ReadConversation { .. } => "ReadConversation",
            Command::RemoveConversation { .. } => "RemoveConversation",
            Command::EditStatus { .. } => "EditStatus",
            Command::CreateInvite { .. } => "CreateInvite",
            Command::RevokeInvite { .. } => "RevokeInvite",
            Command::CreateAccountByInvite { .. } => "CreateAccountByInvite",
            Command::SetPassword { .. } => "SetPassword",
            Command::SetRole { .. } => "SetRole",
            Command::Suspend { .. } => "Suspend",
            Command::Unsuspend { .. } => "Unsuspend",
            Command::SetPreferences { .. } => "SetPreferences",
            Command::ResolveReport { .. } => "ResolveReport",
            Command::ActivateProtocol { .. } => "ActivateProtocol",
            Command::AddAccount { .. } => "AddAccount",
            Command::Tick => "Tick",
            Command::ScheduleStatus { .. } => "ScheduleStatus",
            Command::RescheduleStatus { .. } => "RescheduleStatus",
            Command::CancelScheduledStatus { .. } => "CancelScheduledStatus",
            Command::UpdateProfile(..) => "UpdateProfile",
            Command::SetPostingDefaults { .. } => "SetPostingDefaults",
            Command::TouchToken { .. } => "TouchToken",
            Command::Once { .. } => "Once",
            Command::By { .. } => "By",
            Command::AddMedia(..) => "AddMedia",
            Command::UpdateMedia { .. } => "UpdateMedia",
            Command::CreatePost { .. } => "CreatePost",
            Command::EditPost { .. } => "EditPost",
            Command::SetProfileImage { .. } => "SetProfileImage",
            Command::SchedulePost { .. } => "SchedulePost",
            Command::SaveExtension { .. } => "SaveExtension",
            Command::DeployExtension { .. } => "DeployExtension",
            Command::DisableExtension { .. } => "DisableExtension",
            Command::Judged { .. } => "Judged",
            Command::ReviewHeldPost { .. } => "ReviewHeldPost",
            Command::SubscribeFeed { .. } => "SubscribeFeed",
        }
    }

    /// The protocol that introduced this variant: proposed only once the cluster activated it.
    pub fn since(&self) -> u32 {
        match self {
            Command::ActivateProtocol { .. }
            | Command::AddAccount { .. }
            | Command::Tick
            | Command::ScheduleStatus { .. }
            | Command::RescheduleStatus { .. }
            | Command::CancelScheduledStatus { .. }
            | Command::UpdateProfile(_)
            | Command::SetPostingDefaults { .. }
            | Command::TouchToken { .. } => 2,
            Command::AddMedia(_)
            | Command::UpdateMedia { .. }
            | Command::CreatePost { .. }
            | Command::EditPost { .. } => 4,
            Command::SetProfileImage { .. } => 5,
            Command::SchedulePost { .. }
            | Command::SaveExtension { .. }
            | Command::DeployExtension { .. }
            | Command::DisableExtension { .. }
            | Command::ReviewHeldPost { .. }
            | Command::SubscribeFeed { .. } => 6,
            Command::Judged { command, .. } => command.since().max(6),
            Command::Once { command, .. } => command.since().max(2),
            Command::By { command, .. } => command.since().max(3),
            _ => 1,
        }
    }
}

/// A profile change: each `None` leaves that part as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileUpdate {
    pub account: Id,
    pub display_name: Option<String>,
    pub note: Option<String>,
    pub locked: Option<bool>,
    pub bot: Option<bool>,
    /// The profile's name/value table (at most [`MAX_PROFILE_FIELDS`]), replaced whole.
    pub fields: Option<Vec<(String, String)>>,
    /// Whether others may list whom the account follows and who follows it.
    pub hide_collections: Option<bool>,
    /// Whether the account's public posts may appear in search results.
    pub indexable: Option<bool>,
    /// Whether the account may be suggested to others and listed in the directory.
    pub discoverable: Option<bool>,
}

/// Rows of a profile's name/value table, and how long a name or value may be (characters).
pub const MAX_PROFILE_FIELDS: usize = 4;
pub const MAX_PROFILE_FIELD_CHARS: usize = 255;

/// A poll of a scheduled post: it runs for `expires_in` seconds from publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollSpec {
    pub options: Vec<String>,
    pub expires_in: i64,
    pub multiple: bool,
    pub hide_totals: bool,
}

/// How long an app that no member has signed in to is kept (a day): registering apps needs no
/// account, so unused ones must not pile up.
pub const APP_UNUSED_LIFETIME_MS: Millis = 24 * 3600 * 1000;
/// Apps no member has signed in to yet, on the whole instance (each network may register ten an
/// hour, so filling this takes many).
pub const MAX_UNUSED_APPS: usize = 20_000;
/// Tokens an account may hold (sessions and authorised apps); beyond, the least recently used
/// is revoked.
pub const MAX_ACCOUNT_TOKENS: usize = 100;
/// Tokens an app may hold for itself (client credentials); beyond, the least recently used is
/// revoked.
pub const MAX_APP_TOKENS: usize = 10;
/// How stale a token's "last used" may get before a use is recorded again.
pub const TOKEN_TOUCH_INTERVAL_MS: Millis = 24 * 3600 * 1000;

/// Scheduled posts an account may hold, and how many may fall on one day, as on Mastodon.
pub const MAX_SCHEDULED: usize = 300;
pub const MAX_SCHEDULED_PER_DAY: usize = 25;

/// Invites not yet withdrawn an instance may hold.
pub const MAX_OPEN_INVITES: usize = 1_000;

/// The timelines that keep a read marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MarkerTimeline {
    Home,
    Notifications,
}

impl MarkerTimeline {
    pub const ALL: [MarkerTimeline; 2] = [MarkerTimeline::Home, MarkerTimeline::Notifications];

    pub fn as_str(self) -> &'static str {
        match self {
            MarkerTimeline::Home => "home",
            MarkerTimeline::Notifications => "notifications",
        }
    }

    pub fn parse(s: &str) -> Option<MarkerTimeline> {
        MarkerTimeline::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Pinned posts per account, as on Mastodon.
pub const MAX_PINNED: usize = 5;

/// How long an authorization code may be redeemed: ten minutes, as RFC 6749 recommends at most.
pub const AUTH_CODE_LIFETIME_MS: Millis = 10 * 60 * 1000;

/// Where a filter applies, as Mastodon names the contexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterContext {
    Home,
    Notifications,
    Public,
    Thread,
    Account,
}

impl FilterContext {
    pub const ALL: [FilterContext; 5] = [
        FilterContext::Home,
        FilterContext::Notifications,
        FilterContext::Public,
        FilterContext::Thread,
        FilterContext::Account,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FilterContext::Home => "home",
            FilterContext::Notifications => "notifications",
            FilterContext::Public => "public",
            FilterContext::Thread => "thread",
            FilterContext::Account => "account",
        }
    }

    pub fn parse(s: &str) -> Option<FilterContext> {
        FilterContext::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What a matching filter does: show the post behind a warning, hide it, or blur its media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterAction {
    Warn,
    Hide,
    Blur,
}

impl FilterAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterAction::Warn => "warn",
            FilterAction::Hide => "hide",
            FilterAction::Blur => "blur",
        }
    }

    pub fn parse(s: &str) -> Option<FilterAction> {
        [FilterAction::Warn, FilterAction::Hide, FilterAction::Blur].into_iter().find(|a| a.as_str() == s)
    }
}

/// A filter as its owner describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterSpec {
    pub title: String,
    pub contexts: Vec<FilterContext>,
    pub action: FilterAction,
    pub expires_at: Option<Millis>,
    /// (existing keyword ID, keyword, whole word)
    pub keywords: Vec<(Option<Id>, String, bool)>,
    /// (existing entry ID, post)
    pub statuses: Vec<(Option<Id>, Id)>,
}

/// Filters per account, and keywords or posts per filter.
pub const MAX_FILTERS: usize = 100;
pub const MAX_FILTER_ITEMS: usize = 100;

/// Why something is reported, as Mastodon's categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReportCategory {
    Spam,
    Legal,
    Violation,
    Other,
}

impl ReportCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportCategory::Spam => "spam",
            ReportCategory::Legal => "legal",
            ReportCategory::Violation => "violation",
            ReportCategory::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ReportCategory> {
        [ReportCategory::Spam, ReportCategory::Legal, ReportCategory::Violation, ReportCategory::Other]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Posts one report may name, and how long its comment may be.
pub const MAX_REPORT_STATUSES: usize = 100;
pub const MAX_REPORT_COMMENT_CHARS: usize = 1000;

/// Which replies a list timeline shows: to anyone followed, to list members, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepliesPolicy {
    Followed,
    List,
    None,
}

impl RepliesPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RepliesPolicy::Followed => "followed",
            RepliesPolicy::List => "list",
            RepliesPolicy::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<RepliesPolicy> {
        [RepliesPolicy::Followed, RepliesPolicy::List, RepliesPolicy::None].into_iter().find(|p| p.as_str() == s)
    }
}

/// Lists per account, and members per list.
pub const MAX_LISTS: usize = 50;
pub const MAX_LIST_MEMBERS: usize = 500;

/// A stored image: what the log knows of a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaBlob {
    /// BLAKE3 of the bytes: the blob's name in every node's blob store.
    pub hash: [u8; 32],
    pub bytes: u64,
    /// As Roost determined it when it made the file (`image/jpeg`, `image/png`, `image/gif`).
    pub content_type: String,
    pub width: u32,
    pub height: u32,
}

/// Where the eye goes in a picture, so that crops keep it: thousandths of the way from the
/// centre to the right (`x`) and to the top (`y`) edge, each in -1000..=1000 (Mastodon's
/// `focus`, scaled to integers so that every replica stores the same bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Focus {
    pub x: i16,
    pub y: i16,
}

/// An upload, processed by the node that received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMedia {
    /// Chosen by the receiving node (its clock and random bits), so that an upload can be
    /// named before it is processed; `apply` refuses one already taken.
    pub id: Id,
    pub owner: Id,
    /// Random bytes chosen by the receiving node: the key its file links are signed with
    /// (see `roost_service::media`), the same on every node.
    pub secret: [u8; 16],
    pub original: MediaBlob,
    pub preview: MediaBlob,
    pub blurhash: String,
    pub animated: bool,
    /// Alt text, at most [`MAX_MEDIA_DESCRIPTION_CHARS`].
    pub description: String,
    pub focus: Focus,
    /// When it is removed if no post uses it by then.
    pub expires_at: Millis,
}

/// Pictures a post may carry, and how long an alt text may be (characters), as on Mastodon.
pub const MAX_MEDIA_PER_POST: usize = 4;
pub const MAX_MEDIA_DESCRIPTION_CHARS: usize = 1_500;

/// A poll as its author asks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPoll {
    pub options: Vec<String>,
    /// When voting ends (the author's `expires_in` added to the request's time).
    pub expires_at: Millis,
    pub multiple: bool,
    /// Counts stay hidden from voters until the poll ends.
    pub hide_totals: bool,
}

/// Options a poll may offer, and how long each may be (in characters).
pub const MAX_POLL_OPTIONS: usize = 4;
pub const MAX_POLL_OPTION_CHARS: usize = 50;
/// How long a poll may run: five minutes to a month, as on Mastodon.
pub const MIN_POLL_SECONDS: i64 = 300;
pub const MAX_POLL_SECONDS: i64 = 2_629_746;

/// The fields of a new post. Text is stored as written; HTML is rendered from it on read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStatus {
    pub author: Id,
    pub text: String,
    pub in_reply_to: Option<Id>,
    pub quote_of: Option<Id>,
    pub visibility: Visibility,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub language: Option<String>,
    /// The client's `Idempotency-Key`: a retry with the same key returns the first post.
    pub idempotency_key: Option<String>,
    /// The OAuth client that posted, for the `application` field.
    pub application: Option<String>,
}

/// What applying a command produced. Identical on every replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The command took effect (or was already in effect); `id` names what it created, if
    /// anything.
    Done { id: Option<Id> },
    /// The command was valid when proposed but the state said no when it was applied.
    Rejected(Rejection),
}

impl Outcome {
    pub fn done() -> Outcome {
        Outcome::Done { id: None }
    }

    pub fn created(id: Id) -> Outcome {
        Outcome::Done { id: Some(id) }
    }
}

/// Why the state machine refused a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rejection {
    /// The account, post or notification does not exist (or is invisible to the actor).
    NotFound,
    /// The actor may not do this.
    Forbidden,
    /// The username is taken (case-insensitively).
    UsernameTaken,
    /// The email address is taken.
    EmailTaken,
    /// The post being replied to or quoted was deleted.
    TargetDeleted,
    /// Accounts cannot follow, block or mute themselves.
    SelfAction,
    /// One of the two accounts blocks the other.
    Blocked,
    /// The OAuth client is unknown.
    UnknownClient,
    /// Private and direct posts cannot be reblogged.
    NotReblogable,
    /// The authorization code is unknown, used, expired or another client's.
    InvalidGrant,
    /// The account already has as many of these as it may (pinned posts).
    LimitReached,
    /// Only one's own posts (and not direct ones or reblogs) can be pinned.
    NotPinnable,
    /// The poll has ended.
    PollExpired,
    /// The account already voted in this poll.
    AlreadyVoted,
    /// The choices do not fit the poll (out of range, or several in a single-choice poll).
    InvalidChoice,
    /// Only accounts one follows can be added to one's lists.
    NotFollowed,
    /// The invite is unknown, withdrawn, expired or used up.
    InvalidInvite,
    /// The command belongs to a protocol the cluster has not activated yet (a member runs an
    /// older version).
    NotActive,
    /// Authors do not vote in their own polls.
    OwnPoll,
    /// The instance has an owner already; ownership is not given by creating or promoting.
    OwnerExists,
    /// Too many of these are waiting already (scheduled posts, unused apps).
    TooMany,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post() -> Command {
        Command::Favourite { account: 7, status: 9 }
    }

    /// An entry written before attribution existed decodes, with nobody recorded.
    #[test]
    fn unattributed_requests_keep_their_old_bytes() {
        #[derive(Serialize)]
        struct Old {
            at: Millis,
            command: Command,
        }
        let old = postcard::to_stdvec(&Old { at: 1_700_000_000_000, command: post() }).unwrap();
        let req = Request::new(1_700_000_000_000, post());
        assert_eq!(postcard::to_stdvec(&req).unwrap(), old);
        assert_eq!(postcard::from_bytes::<Request>(&old).unwrap(), req);
    }

    /// `by` is stored as `Command::By` around the command, and decodes back into `by`.
    #[test]
    fn attribution_is_stored_as_the_by_variant() {
        let by = Actor { account: Some(7), via: Via::App { client_id: "abc".into() } };
        let req = Request { at: 5, by: Some(by.clone()), command: post() };
        let bytes = postcard::to_stdvec(&req).unwrap();
        let wrapped = (5i64, Command::By { by, command: Box::new(post()) });
        assert_eq!(bytes, postcard::to_stdvec(&wrapped).unwrap(), "BY_VARIANT names Command::By's position");
        assert_eq!(postcard::from_bytes::<Request>(&bytes).unwrap(), req);
        assert_eq!(req.command.since(), 1);
        assert_eq!(Command::By { by: req.by.clone().unwrap(), command: Box::new(post()) }.since(), 3);
    }
}
