//! The records the state machine stores. These are storage types: the HTTP layer converts them
//! into Mastodon entities, and nothing outside this crate writes them.
//!
//! They are encoded with postcard, so fields may only be appended at the end of a struct,
//! together with a migration; see ARCHITECTURE.md.

use roost_types::{Id, Millis, Role, Visibility};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: Id,
    /// As chosen at sign-up; uniqueness is case-insensitive.
    pub username: String,
    pub display_name: String,
    /// The bio as plain text; rendered to HTML on read.
    pub note: String,
    pub email: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    pub role: Role,
    pub locked: bool,
    pub bot: bool,
    pub created_at: Millis,
    pub followers_count: u64,
    pub following_count: u64,
    pub statuses_count: u64,
    pub last_status_at: Option<Millis>,
    /// The profile's name/value rows (format 5), at most `MAX_PROFILE_FIELDS`.
    pub fields: Vec<(String, String)>,
    /// Others may not list whom the account follows and who follows it.
    pub hide_collections: bool,
    /// The account's public posts may appear in search results.
    pub indexable: bool,
    /// The account may be suggested to others.
    pub discoverable: bool,
    /// The profile picture and the banner (format 6): pictures the account uploaded.
    pub avatar: Option<Id>,
    pub header: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: Id,
    pub author: Id,
    pub created_at: Millis,
    /// The text as written (empty for a reblog).
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: Visibility,
    pub language: Option<String>,
    pub in_reply_to: Option<Id>,
    pub in_reply_to_account: Option<Id>,
    pub quote_of: Option<Id>,
    /// Set for a reblog: the post it shares.
    pub reblog_of: Option<Id>,
    /// Accounts mentioned (resolved at creation), in order of appearance, without repeats.
    pub mentions: Vec<Id>,
    /// Hashtags, lowercased, in order of appearance, without repeats.
    pub tags: Vec<String>,
    pub replies_count: u64,
    pub reblogs_count: u64,
    pub favourites_count: u64,
    pub application: Option<String>,
    /// When the author last edited it (earlier versions are in `Table::StatusEdit`).
    pub edited_at: Option<Millis>,
    /// Its poll, if it has one (`Table::Poll`).
    pub poll: Option<Id>,
    /// Its pictures, in order (format 6; `Table::Media`).
    pub media: Vec<Id>,
}

/// An earlier version of an edited post, as `GET /api/v1/statuses/:id/history` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusVersion {
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    /// When this version was written (the post's creation, or an earlier edit).
    pub created_at: Millis,
    /// Its pictures then (format 6).
    pub media: Vec<Id>,
}

/// An uploaded picture (`Table::Media`): its blobs by hash, what the uploader said of it, and
/// the post it belongs to once attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub id: Id,
    pub owner: Id,
    pub created_at: Millis,
    /// The key its file links are signed with.
    pub secret: [u8; 16],
    pub original: roost_types::MediaBlob,
    pub preview: roost_types::MediaBlob,
    pub blurhash: String,
    pub animated: bool,
    pub description: String,
    pub focus: roost_types::Focus,
    /// The post it is attached to, or the scheduled post that holds it (protocol 6); `None`
    /// while it waits for one (or serves as a profile picture, see `is_profile_image`).
    pub status: Option<Id>,
    /// When an upload nothing uses is removed.
    pub expires_at: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationKind {
    Mention,
    Reblog,
    Favourite,
    Follow,
    Quote,
    FollowRequest,
    /// A post the recipient reblogged was edited.
    Update,
    /// An account the recipient follows with notifications on posted.
    Status,
    /// A poll the recipient voted in, or wrote, has ended.
    Poll,
}

impl NotificationKind {
    /// The Mastodon type name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Mention => "mention",
            NotificationKind::Reblog => "reblog",
            NotificationKind::Favourite => "favourite",
            NotificationKind::Follow => "follow",
            NotificationKind::Quote => "quote",
            NotificationKind::FollowRequest => "follow_request",
            NotificationKind::Update => "update",
            NotificationKind::Status => "status",
            NotificationKind::Poll => "poll",
        }
    }

    pub fn parse(s: &str) -> Option<NotificationKind> {
        match s {
            "mention" => Some(NotificationKind::Mention),
            "reblog" => Some(NotificationKind::Reblog),
            "favourite" => Some(NotificationKind::Favourite),
            "follow" => Some(NotificationKind::Follow),
            "quote" => Some(NotificationKind::Quote),
            "follow_request" => Some(NotificationKind::FollowRequest),
            "update" => Some(NotificationKind::Update),
            "status" => Some(NotificationKind::Status),
            "poll" => Some(NotificationKind::Poll),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: Id,
    pub account: Id,
    pub kind: NotificationKind,
    pub from: Id,
    pub status: Option<Id>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follow {
    pub id: Id,
    pub reblogs: bool,
    pub notify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mute {
    pub id: Id,
    pub notifications: bool,
    /// When it lifts by itself; `None`: until unmuted.
    pub expires_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub client_id: String,
    pub client_secret_hash: [u8; 32],
    pub name: String,
    pub website: Option<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub client_id: String,
    /// `None` for an app-only token (client credentials).
    pub account: Option<Id>,
    pub scopes: Vec<String>,
    pub created_at: Millis,
    /// When it was last seen in use, to the day (format 5): the least recently used are pruned
    /// first when an account or app holds too many.
    pub last_used: Millis,
}

/// An OAuth authorization code, redeemable once for a token until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCode {
    pub client_id: String,
    pub account: Id,
    pub scopes: Vec<String>,
    /// The redirect URI the code was issued for; redeeming must name the same.
    pub redirect_uri: String,
    /// PKCE: the S256 code challenge (base64url of the SHA-256 of the verifier), if any.
    pub code_challenge: Option<String>,
    pub expires_at: Millis,
}

/// Where a member stopped reading a timeline; `version` counts the updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub last_read_id: Id,
    pub version: u64,
    pub updated_at: Millis,
}

/// A poll and its counts. Its ID is the ID of the post that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    pub options: Vec<String>,
    /// Votes per option, in option order.
    pub votes: Vec<u64>,
    /// Accounts that voted (one may vote for several options in a multiple-choice poll).
    pub voters: u64,
    pub expires_at: Millis,
    pub multiple: bool,
    pub hide_totals: bool,
}

/// A member's list of accounts they follow, with its own timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct List {
    pub id: Id,
    pub title: String,
    pub replies_policy: roost_types::RepliesPolicy,
    /// Posts of its members leave the home timeline.
    pub exclusive: bool,
}

/// A direct conversation as one participant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountConversation {
    pub last_status: Id,
    pub unread: bool,
    /// Everyone in it, this account included.
    pub participants: Vec<Id>,
}

/// A member's report of an account (and some of its posts) to the moderators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub id: Id,
    pub reporter: Id,
    pub target: Id,
    pub statuses: Vec<Id>,
    pub comment: String,
    pub category: roost_types::ReportCategory,
    pub created_at: Millis,
    pub resolved: bool,
}

/// A member's filter: posts matching its keywords (or naming its posts) in its contexts are
/// hidden or shown behind a warning, until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub id: Id,
    pub title: String,
    pub contexts: Vec<roost_types::FilterContext>,
    pub action: roost_types::FilterAction,
    pub expires_at: Option<Millis>,
    /// (keyword ID, keyword, whole word)
    pub keywords: Vec<(Id, String, bool)>,
    /// (entry ID, post)
    pub statuses: Vec<(Id, Id)>,
}

/// An invite link: whoever holds its code may create an account with its role, while it is
/// not withdrawn, expired or used up. Only the code's hash is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub id: Id,
    pub code_hash: [u8; 32],
    /// `None`: the operator, from the command line.
    pub created_by: Option<Id>,
    pub role: Role,
    pub max_uses: Option<u32>,
    pub uses: u32,
    pub expires_at: Option<Millis>,
    pub created_at: Millis,
    pub revoked: bool,
}

impl Invite {
    /// Whether the invite still creates accounts at `at`.
    pub fn usable(&self, at: Millis) -> bool {
        !self.revoked && self.expires_at.is_none_or(|e| at < e) && self.max_uses.is_none_or(|m| self.uses < m)
    }
}

/// A member's defaults for new posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    pub default_visibility: Visibility,
    pub default_sensitive: bool,
    /// The language of new posts that name none (format 5).
    pub default_language: Option<String>,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences { default_visibility: Visibility::Public, default_sensitive: false, default_language: None }
    }
}

/// An extension (protocol 6): its versions are in `Table::ExtensionVersion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub id: Id,
    pub name: String,
    pub kind: roost_types::ExtensionKind,
    pub created_by: Option<Id>,
    pub created_at: Millis,
    /// The newest version's number (versions count from 1).
    pub latest: u32,
    /// The version at work and how, if any.
    pub deployed: Option<Deployment>,
    /// For a member's personal feed: the member (only they see it, write it and deploy it).
    pub owner: Option<Id>,
}

/// Which version of an extension is at work, since when and by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub version: u32,
    pub mode: roost_types::ExtensionMode,
    pub by: Option<Id>,
    pub at: Millis,
}

/// A post an automod rule held (protocol 6): visible only to its author and moderators until a
/// moderator approves or removes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldPost {
    pub status: Id,
    pub extension: Id,
    pub version: u32,
    pub reason: String,
    pub at: Millis,
}

/// A label an automod rule put on a post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostLabel {
    pub extension: Id,
    pub version: u32,
    pub label: String,
}

/// One immutable version of an extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionVersion {
    pub extension: Id,
    pub version: u32,
    pub manifest: roost_types::ExtensionManifest,
    pub source: String,
    /// BLAKE3 of the source.
    pub source_hash: [u8; 32],
    pub by: Option<Id>,
    pub at: Millis,
}

/// A post waiting to be published at its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledPost {
    pub id: Id,
    pub scheduled_at: Millis,
    pub status: roost_types::NewStatus,
    pub poll: Option<roost_types::PollSpec>,
    pub created_at: Millis,
}
