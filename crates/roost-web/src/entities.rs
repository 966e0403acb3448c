//! Mastodon entities, built from `roost-core` records. The one place where storage types
//! become wire types. Shapes follow the Mastodon documentation (`content/en/entities`).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use roost_core::model::{Account, AccountConversation, App, Media, Notification, Status};
use roost_core::query::{self, Relationship, Shown};
use roost_core::ReadTables;
use roost_raft::ReadView;
use roost_service::media::{Link, Size as MediaSize};
use roost_types::{Id, Millis};
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::Arc;

use crate::html;
use crate::{ApiResult, AppState, WebConfig};

/// Rendered entities shared by all requests: each post's and account's JSON, kept with the
/// record it was rendered from and reused while the record read is equal to it. A rendering
/// depends only on its record and on facts that never change (usernames, application names,
/// the public URL), so equality is the whole validity check and no write has to invalidate
/// anything. Bounded in bytes; the least useful entries go first.
pub struct EntityCache {
    statuses: quick_cache::sync::Cache<Id, Arc<RenderedStatus>, Weight>,
    accounts: quick_cache::sync::Cache<Id, Arc<RenderedAccount>, Weight>,
}

const STATUS_CACHE_BYTES: u64 = 96 * 1024 * 1024;
const ACCOUNT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

impl Default for EntityCache {
    fn default() -> Self {
        EntityCache {
            statuses: quick_cache::sync::Cache::with_weighter(
                (STATUS_CACHE_BYTES / 1500) as usize,
                STATUS_CACHE_BYTES,
                Weight,
            ),
            accounts: quick_cache::sync::Cache::with_weighter(
                (ACCOUNT_CACHE_BYTES / 1500) as usize,
                ACCOUNT_CACHE_BYTES,
                Weight,
            ),
        }
    }
}

/// Weighs cache entries by their size in bytes.
#[derive(Clone)]
struct Weight;

trait Bytes {
    fn bytes(&self) -> u64;
}

impl<T: Bytes> quick_cache::Weighter<Id, Arc<T>> for Weight {
    fn weight(&self, _: &Id, value: &Arc<T>) -> u64 {
        value.bytes()
    }
}

/// A post's JSON without its viewer-dependent fields, its author, reblog and quote: the text of
/// an object without its closing brace.
struct RenderedStatus {
    record: Status,
    open_json: String,
}

impl Bytes for RenderedStatus {
    fn bytes(&self) -> u64 {
        (128 + self.open_json.len() + self.record.text.len() + self.record.spoiler_text.len()) as u64
    }
}

/// An account's JSON and the facts about it that posts need.
struct RenderedAccount {
    record: Account,
    /// Whether it was suspended when rendered (kept outside the record, so compared apart).
    suspended: bool,
    /// When its picture links expire: a rendering from an earlier day is made again.
    links_expire: i64,
    json: Arc<RawValue>,
    url: String,
}

impl Bytes for RenderedAccount {
    fn bytes(&self) -> u64 {
        (256 + self.json.get().len() + self.record.note.len() + self.url.len()) as u64
    }
}

fn internal(e: serde_json::Error) -> crate::ApiError {
    crate::ApiError::Internal(e.to_string())
}

/// An ISO 8601 timestamp with milliseconds, as Mastodon sends them.
pub fn iso(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountJson {
    pub id: String,
    pub username: String,
    pub acct: String,
    pub display_name: String,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    pub indexable: bool,
    pub group: bool,
    pub created_at: String,
    pub note: String,
    pub url: String,
    pub uri: String,
    pub avatar: String,
    pub avatar_static: String,
    pub header: String,
    pub header_static: String,
    pub followers_count: u64,
    pub following_count: u64,
    pub statuses_count: u64,
    pub last_status_at: Option<String>,
    pub hide_collections: bool,
    pub noindex: bool,
    pub emojis: Vec<()>,
    pub roles: Vec<()>,
    pub fields: Vec<FieldJson>,
    /// Present, and true, only for a suspended account (which only moderators see).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
}

/// A row of a profile's name/value table; `value` is HTML in an account, plain text in its
/// `source`.
#[derive(Debug, Clone, Serialize)]
pub struct FieldJson {
    pub name: String,
    pub value: String,
    pub verified_at: Option<String>,
}

/// The signed-in user's own account, with its editable source fields and role.
#[derive(Debug, Clone, Serialize)]
pub struct CredentialAccountJson {
    #[serde(flatten)]
    pub account: AccountJson,
    pub source: SourceJson,
    pub role: RoleJson,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceJson {
    pub note: String,
    pub fields: Vec<FieldJson>,
    pub privacy: &'static str,
    pub sensitive: bool,
    pub language: Option<String>,
    pub follow_requests_count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleJson {
    pub id: String,
    pub name: &'static str,
    pub color: &'static str,
    pub permissions: String,
    pub highlighted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MentionJson {
    pub id: String,
    pub username: String,
    pub url: String,
    pub acct: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TagJson {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationJson {
    pub name: String,
    pub website: Option<String>,
}

/// The part of a post's JSON that is the same for every viewer (see [`RenderedStatus`]).
#[derive(Serialize)]
struct SharedStatusJson<'a> {
    id: String,
    uri: String,
    url: String,
    created_at: String,
    content: String,
    visibility: &'static str,
    sensitive: bool,
    spoiler_text: &'a str,
    application: Option<ApplicationJson>,
    mentions: Vec<MentionJson>,
    tags: Vec<TagJson>,
    emojis: [(); 0],
    reblogs_count: u64,
    favourites_count: u64,
    replies_count: u64,
    quotes_count: u64,
    in_reply_to_id: Option<String>,
    in_reply_to_account_id: Option<String>,
    card: Option<()>,
    language: Option<&'a str>,
    edited_at: Option<String>,
}

/// The part of a post's JSON that depends on who looks.
#[derive(Serialize)]
struct ViewerStatusJson<'a> {
    favourited: bool,
    reblogged: bool,
    muted: bool,
    bookmarked: bool,
    pinned: bool,
    filtered: Vec<FilterResultJson>,
    /// Polls change with every vote and show the viewer's own votes, so they are rendered here
    /// rather than in the shared, cached part.
    poll: Option<PollJson>,
    /// Pictures carry links signed for the viewer (and their alt text may change without the
    /// post changing).
    media_attachments: Vec<MediaJson>,
    /// The source text: only in the response to a delete (for "delete and redraft").
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    /// Roost: labels automod rules put on the post (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roost_labels: Vec<String>,
    /// Roost: why the post waits for a moderator's review (only its author and moderators see
    /// such a post).
    #[serde(skip_serializing_if = "Option::is_none")]
    roost_held: Option<HeldJson>,
}

#[derive(Debug, Clone, Serialize)]
struct HeldJson {
    reason: String,
    rule: Option<String>,
}

/// Mastodon's MediaAttachment entity, its links signed for one viewer.
#[derive(Debug, Clone, Serialize)]
pub struct MediaJson {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `null` while the upload is being processed.
    pub url: Option<String>,
    pub preview_url: Option<String>,
    pub remote_url: Option<String>,
    pub preview_remote_url: Option<String>,
    pub text_url: Option<String>,
    pub meta: Option<MediaMetaJson>,
    pub description: Option<String>,
    pub blurhash: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MediaMetaJson {
    pub original: MediaSizeJson,
    pub small: MediaSizeJson,
    pub focus: FocusJson,
}

#[derive(Debug, Clone, Serialize)]
pub struct MediaSizeJson {
    pub width: u32,
    pub height: u32,
    pub size: String,
    pub aspect: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FocusJson {
    pub x: f64,
    pub y: f64,
}

fn size_json(b: &roost_types::MediaBlob) -> MediaSizeJson {
    MediaSizeJson {
        width: b.width,
        height: b.height,
        size: format!("{}x{}", b.width, b.height),
        aspect: f64::from(b.width) / f64::from(b.height.max(1)),
    }
}

/// The address of one file of a picture, signed for `viewer` (see `roost_service::media`).
/// `needs_session`: only with the viewer's web session (for the web app's pages).
pub fn media_url(m: &Media, size: MediaSize, viewer: Id, needs_session: bool, base: &str) -> String {
    let link = Link::new(m, size, viewer, needs_session);
    let blob = match size {
        MediaSize::Original => &m.original,
        MediaSize::Preview => &m.preview,
    };
    let ext = match blob.content_type.as_str() {
        "image/png" => "png",
        "image/gif" => "gif",
        _ => "jpg",
    };
    let session = if needs_session { "&c=1" } else { "" };
    format!("{base}/media/{}/{}.{ext}?v={}&e={}&s={}{session}", m.id, size.name(), link.viewer, link.expires, link.sig)
}

/// The addresses of an account's avatar and header: its own pictures, signed for
/// [`roost_service::media::ANYONE`] (an account's JSON is shared by every viewer), or the
/// defaults.
pub fn profile_images(view: &(impl ReadTables + ?Sized), a: &Account, base: &str) -> (String, String) {
    let own = |id: Option<Id>| {
        let m = roost_core::media::media(view, id?).ok()??;
        Some(media_url(&m, MediaSize::Original, roost_service::media::ANYONE, false, base))
    };
    let avatar = own(a.avatar).unwrap_or_else(|| default_avatar_url(a.id, base));
    let header = own(a.header).unwrap_or_else(|| format!("{base}/headers/default.png"));
    (avatar, header)
}

/// The generated picture of an account without an avatar.
pub fn default_avatar_url(id: Id, base: &str) -> String {
    format!("{base}/avatars/default/{id}.png")
}

/// A picture as `viewer` sees it.
pub fn media_json(m: &Media, viewer: Id, needs_session: bool, base: &str) -> MediaJson {
    MediaJson {
        id: m.id.to_string(),
        kind: "image",
        url: Some(media_url(m, MediaSize::Original, viewer, needs_session, base)),
        preview_url: Some(media_url(m, MediaSize::Preview, viewer, needs_session, base)),
        remote_url: None,
        preview_remote_url: None,
        text_url: None,
        meta: Some(MediaMetaJson {
            original: size_json(&m.original),
            small: size_json(&m.preview),
            focus: FocusJson { x: f64::from(m.focus.x) / 1000.0, y: f64::from(m.focus.y) / 1000.0 },
        }),
        description: (!m.description.is_empty()).then(|| m.description.clone()),
        blurhash: Some(m.blurhash.clone()),
    }
}

/// An upload still being processed: no file yet.
pub fn processing_media_json(id: Id) -> MediaJson {
    MediaJson {
        id: id.to_string(),
        kind: "image",
        url: None,
        preview_url: None,
        remote_url: None,
        preview_remote_url: None,
        text_url: None,
        meta: None,
        description: None,
        blurhash: None,
    }
}

/// Mastodon's Filter entity.
#[derive(Debug, Clone, Serialize)]
pub struct FilterJson {
    pub id: String,
    pub title: String,
    pub context: Vec<&'static str>,
    pub expires_at: Option<String>,
    pub filter_action: &'static str,
    pub keywords: Vec<FilterKeywordJson>,
    pub statuses: Vec<FilterStatusJson>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterKeywordJson {
    pub id: String,
    pub keyword: String,
    pub whole_word: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterStatusJson {
    pub id: String,
    pub status_id: String,
}

pub fn filter_json(f: &roost_core::model::Filter) -> FilterJson {
    FilterJson {
        id: f.id.to_string(),
        title: f.title.clone(),
        context: f.contexts.iter().map(|c| c.as_str()).collect(),
        expires_at: f.expires_at.map(iso),
        filter_action: f.action.as_str(),
        keywords: f
            .keywords
            .iter()
            .map(|(id, keyword, whole_word)| FilterKeywordJson {
                id: id.to_string(),
                keyword: keyword.clone(),
                whole_word: *whole_word,
            })
            .collect(),
        statuses: f
            .statuses
            .iter()
            .map(|(id, status)| FilterStatusJson { id: id.to_string(), status_id: status.to_string() })
            .collect(),
    }
}

/// Mastodon's FilterResult: which filter matched a post, and how.
#[derive(Debug, Clone, Serialize)]
pub struct FilterResultJson {
    filter: FilterJson,
    keyword_matches: Vec<String>,
    status_matches: Vec<String>,
}

fn filter_result(m: &roost_core::filters::Match<'_>) -> FilterResultJson {
    FilterResultJson {
        filter: filter_json(m.filter),
        keyword_matches: m.keywords.iter().map(|k| k.to_string()).collect(),
        status_matches: m.statuses.iter().map(Id::to_string).collect(),
    }
}

/// Mastodon's Poll entity, as one viewer sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PollJson {
    id: String,
    expires_at: Option<String>,
    expired: bool,
    multiple: bool,
    votes_count: u64,
    voters_count: Option<u64>,
    options: Vec<PollOptionJson>,
    emojis: [(); 0],
    voted: bool,
    own_votes: Vec<u32>,
}

#[derive(Debug, Clone, Serialize)]
struct PollOptionJson {
    title: String,
    /// Hidden (`null`) while a `hide_totals` poll runs, except to its author.
    votes_count: Option<u64>,
}

/// A Mastodon Status entity as one viewer sees it: the text of a JSON object, assembled from
/// parts that serde wrote (so always valid JSON).
#[derive(Debug, Clone)]
pub struct StatusJson(String);

impl StatusJson {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for StatusJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawValue::from_string(self.0.clone()).map_err(serde::ser::Error::custom)?.serialize(serializer)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NotificationJson {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub created_at: String,
    pub group_key: String,
    pub account: Arc<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusJson>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RelationshipJson {
    pub id: String,
    pub following: bool,
    pub showing_reblogs: bool,
    pub notifying: bool,
    pub languages: Option<Vec<String>>,
    pub followed_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    pub muting: bool,
    pub muting_notifications: bool,
    /// When a timed mute lifts (ISO 8601), or `null`.
    pub muting_expires_at: Option<String>,
    pub requested: bool,
    pub requested_by: bool,
    pub domain_blocking: bool,
    pub endorsed: bool,
    pub note: String,
}

pub fn relationship(id: Id, r: Relationship) -> RelationshipJson {
    RelationshipJson {
        id: id.to_string(),
        following: r.following,
        showing_reblogs: r.showing_reblogs,
        notifying: r.notifying,
        languages: None,
        followed_by: r.followed_by,
        blocking: r.blocking,
        blocked_by: r.blocked_by,
        muting: r.muting,
        muting_notifications: r.muting_notifications,
        muting_expires_at: r.muting_expires_at.map(iso),
        requested: r.requested,
        requested_by: r.requested_by,
        domain_blocking: false,
        endorsed: false,
        note: String::new(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AppJson {
    pub id: String,
    pub name: String,
    pub website: Option<String>,
    pub scopes: Vec<String>,
    pub redirect_uri: String,
    pub redirect_uris: Vec<String>,
    pub vapid_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

pub fn app(a: &App, secret: Option<String>) -> AppJson {
    AppJson {
        id: a.client_id.clone(),
        name: a.name.clone(),
        website: a.website.clone(),
        scopes: a.scopes.clone(),
        redirect_uri: a.redirect_uris.join("\n"),
        redirect_uris: a.redirect_uris.clone(),
        vapid_key: String::new(),
        client_id: secret.as_ref().map(|_| a.client_id.clone()),
        client_secret: secret,
    }
}

/// Post HTML: escaped text with links, and mentions linked to the accounts they resolved to.
fn render_text(text: &str, base: &str, mentions: &[MentionJson]) -> String {
    html::render(text, base, &|u| mentions.iter().find(|m| m.username.eq_ignore_ascii_case(u)).map(|m| m.url.clone()))
}

/// Builds entities for one viewer within one read snapshot.
pub struct Renderer<'a, T: ReadTables> {
    view: &'a T,
    viewer: Id,
    cfg: &'a WebConfig,
    cache: &'a EntityCache,
    /// Accounts met in this request (`None`: gone).
    accounts: HashMap<Id, Option<Arc<RenderedAccount>>>,
    /// Whether the viewer has any bookmark (decided once per request).
    has_bookmarks: Option<bool>,
    /// Whether any post is held or labelled by an automod rule (most instances: none, and then
    /// no post needs a lookup).
    moderated: Option<(bool, bool)>,
    /// The viewer's filters in force for this request's context (see [`Renderer::filtering`]).
    filters: Vec<roost_core::model::Filter>,
}

impl<'a, T: ReadTables> Renderer<'a, T> {
    pub fn new(view: &'a T, viewer: Id, state: &'a AppState) -> Self {
        Renderer {
            view,
            viewer,
            cfg: state.config(),
            cache: state.entities(),
            accounts: HashMap::new(),
            has_bookmarks: None,
            moderated: None,
            filters: Vec::new(),
        }
    }

    /// Applies the viewer's filters for `context` to the posts rendered from now on: posts a
    /// `hide` filter matches are left out, others carry their matches in `filtered`.
    pub fn filtering(mut self, context: roost_types::FilterContext) -> ApiResult<Self> {
        let now = roost_service::now_ms();
        let all = roost_core::filters::filters(self.view, self.viewer)?;
        self.filters = roost_core::filters::active(&all, context, now).into_iter().cloned().collect();
        Ok(self)
    }

    pub fn account_url(&self, username: &str) -> String {
        format!("{}/@{}", self.cfg.public_url, username)
    }

    pub fn account(&self, a: &Account) -> AccountJson {
        let base = &self.cfg.public_url;
        let view = self.view;
        let (avatar, header) = profile_images(view, a, base);
        AccountJson {
            id: a.id.to_string(),
            username: a.username.clone(),
            acct: a.username.clone(),
            display_name: a.display_name.clone(),
            locked: a.locked,
            bot: a.bot,
            discoverable: a.discoverable,
            indexable: a.indexable,
            group: false,
            created_at: iso(a.created_at),
            note: html::render(&a.note, base, &|u| {
                query::account_by_username(view, u).ok().flatten().map(|m| format!("{base}/@{}", m.username))
            }),
            url: self.account_url(&a.username),
            uri: format!("{base}/users/{}", a.username),
            avatar: avatar.clone(),
            avatar_static: avatar,
            header: header.clone(),
            header_static: header,
            followers_count: a.followers_count,
            following_count: a.following_count,
            statuses_count: a.statuses_count,
            last_status_at: a.last_status_at.map(|ms| iso(ms)[..10].to_string()),
            hide_collections: a.hide_collections,
            noindex: true,
            emojis: Vec::new(),
            roles: Vec::new(),
            fields: a
                .fields
                .iter()
                .map(|(name, value)| FieldJson {
                    name: name.clone(),
                    value: html::render_inline(value, base),
                    verified_at: None,
                })
                .collect(),
            suspended: query::suspended(view, a.id).unwrap_or(false).then_some(true),
        }
    }

    pub fn credential_account(&self, a: &Account) -> CredentialAccountJson {
        let prefs = query::preferences(self.view, a.id).unwrap_or_default();
        CredentialAccountJson {
            account: self.account(a),
            source: SourceJson {
                note: a.note.clone(),
                fields: a
                    .fields
                    .iter()
                    .map(|(name, value)| FieldJson { name: name.clone(), value: value.clone(), verified_at: None })
                    .collect(),
                privacy: prefs.default_visibility.as_str(),
                sensitive: prefs.default_sensitive,
                language: prefs.default_language.clone(),
                follow_requests_count: 0,
            },
            role: RoleJson {
                id: match a.role {
                    roost_types::Role::Owner => "3",
                    roost_types::Role::Admin => "2",
                    roost_types::Role::Moderator => "1",
                    roost_types::Role::Member => "-99",
                }
                .to_string(),
                name: a.role.as_str(),
                color: "",
                permissions: match a.role {
                    roost_types::Role::Owner | roost_types::Role::Admin => "1048575",
                    roost_types::Role::Moderator => "1300",
                    roost_types::Role::Member => "0",
                }
                .to_string(),
                highlighted: a.role != roost_types::Role::Member,
            },
        }
    }

    /// An account's rendering, from the shared cache while its record is unchanged.
    fn account_by_id(&mut self, id: Id) -> ApiResult<Option<Arc<RenderedAccount>>> {
        if let Some(known) = self.accounts.get(&id) {
            return Ok(known.clone());
        }
        let rendered = match query::account(self.view, id)? {
            Some(a) => Some(match self.cache.accounts.get(&id) {
                Some(hit)
                    if hit.record == a
                        && hit.suspended == query::suspended(self.view, id)?
                        && hit.links_expire == roost_service::media::link_expiry() =>
                {
                    hit
                }
                _ => {
                    let links_expire = roost_service::media::link_expiry();
                    let json = self.account(&a);
                    let suspended = json.suspended.is_some();
                    let raw = serde_json::value::to_raw_value(&json).map_err(internal)?;
                    let rendered = Arc::new(RenderedAccount {
                        json: Arc::from(raw),
                        url: json.url,
                        record: a,
                        suspended,
                        links_expire,
                    });
                    self.cache.accounts.insert(id, rendered.clone());
                    rendered
                }
            }),
            None => None,
        };
        self.accounts.insert(id, rendered.clone());
        Ok(rendered)
    }

    /// The viewer-independent part of a post's JSON, from the shared cache while the post's
    /// record is unchanged.
    fn shared_status(&mut self, s: &Status, author: &RenderedAccount) -> ApiResult<Arc<RenderedStatus>> {
        if let Some(hit) = self.cache.statuses.get(&s.id) {
            if hit.record == *s {
                return Ok(hit);
            }
        }
        let base = &self.cfg.public_url;
        let mut mentions = Vec::with_capacity(s.mentions.len());
        for &m in &s.mentions {
            if let Some(a) = self.account_by_id(m)? {
                mentions.push(MentionJson {
                    id: a.record.id.to_string(),
                    username: a.record.username.clone(),
                    url: a.url.clone(),
                    acct: a.record.username.clone(),
                });
            }
        }
        let content = if s.reblog_of.is_some() { String::new() } else { render_text(&s.text, base, &mentions) };
        let application = match &s.application {
            Some(client_id) => {
                query::app(self.view, client_id)?.map(|a| ApplicationJson { name: a.name, website: a.website })
            }
            None => None,
        };
        let shared = SharedStatusJson {
            id: s.id.to_string(),
            uri: format!("{base}/users/{}/statuses/{}", author.record.username, s.id),
            url: format!("{}/{}", author.url, s.id),
            created_at: iso(s.created_at),
            content,
            visibility: s.visibility.as_str(),
            sensitive: s.sensitive,
            spoiler_text: &s.spoiler_text,
            application,
            mentions,
            tags: s.tags.iter().map(|t| TagJson { name: t.clone(), url: format!("{base}/tags/{t}") }).collect(),
            emojis: [],
            reblogs_count: s.reblogs_count,
            favourites_count: s.favourites_count,
            replies_count: s.replies_count,
            quotes_count: 0,
            in_reply_to_id: s.in_reply_to.map(|i| i.to_string()),
            in_reply_to_account_id: s.in_reply_to_account.map(|i| i.to_string()),
            card: None,
            language: s.language.as_deref(),
            edited_at: s.edited_at.map(iso),
        };
        let mut open_json = serde_json::to_string(&shared).map_err(internal)?;
        open_json.pop(); // the closing brace
        let rendered = Arc::new(RenderedStatus { record: s.clone(), open_json });
        self.cache.statuses.insert(s.id, rendered.clone());
        Ok(rendered)
    }

    /// A post's poll as the viewer sees it, if it has one.
    pub fn poll(&self, s: &Status) -> ApiResult<Option<PollJson>> {
        if s.poll.is_none() {
            return Ok(None);
        }
        let Some((p, mine)) = query::poll(self.view, self.viewer, s.id)? else { return Ok(None) };
        let expired = roost_service::now_ms() >= p.expires_at;
        let show_counts = !p.hide_totals || expired || s.author == self.viewer;
        Ok(Some(PollJson {
            id: s.id.to_string(),
            expires_at: Some(iso(p.expires_at)),
            expired,
            multiple: p.multiple,
            votes_count: p.votes.iter().sum(),
            voters_count: p.multiple.then_some(p.voters),
            options: p
                .options
                .iter()
                .zip(&p.votes)
                .map(|(title, &n)| PollOptionJson { title: title.clone(), votes_count: show_counts.then_some(n) })
                .collect(),
            emojis: [],
            voted: mine.is_some() || s.author == self.viewer,
            own_votes: mine.unwrap_or_default(),
        }))
    }

    /// Pictures, as the viewer sees them (any gone are left out).
    pub fn media(&self, ids: &[Id]) -> ApiResult<Vec<MediaJson>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(m) = roost_core::media::media(self.view, id)? {
                out.push(media_json(&m, self.viewer, false, &self.cfg.public_url));
            }
        }
        Ok(out)
    }

    /// A text as post HTML, with links to the given mentioned accounts (as on the post).
    pub fn content(&mut self, text: &str, mentioned: &[Id]) -> ApiResult<String> {
        let mut mentions = Vec::with_capacity(mentioned.len());
        for &m in mentioned {
            if let Some(a) = self.account_by_id(m)? {
                mentions.push(MentionJson {
                    id: a.record.id.to_string(),
                    username: a.record.username.clone(),
                    url: a.url.clone(),
                    acct: a.record.username.clone(),
                });
            }
        }
        Ok(render_text(text, &self.cfg.public_url, &mentions))
    }

    /// A post as the viewer sees it; `None` if its author is gone or a `hide` filter of the
    /// viewer's matches it.
    pub fn status(&mut self, s: &Status, original: Option<&Status>) -> ApiResult<Option<StatusJson>> {
        let filtered = if self.filters.is_empty() {
            Vec::new()
        } else {
            let active: Vec<&roost_core::model::Filter> = self.filters.iter().collect();
            let found = roost_core::filters::matches(&active, original.unwrap_or(s));
            if found.iter().any(|m| m.filter.action == roost_types::FilterAction::Hide) {
                return Ok(None);
            }
            found.iter().map(|m| filter_result(m)).collect()
        };
        self.status_with(s, original, None, filtered)
    }

    /// What the viewer's filters say of a post: `None` if one hides it, else the titles of the
    /// filters that want it behind a warning.
    pub fn filter_titles(&self, s: &Status) -> Option<Vec<String>> {
        if self.filters.is_empty() {
            return Some(Vec::new());
        }
        let active: Vec<&roost_core::model::Filter> = self.filters.iter().collect();
        let found = roost_core::filters::matches(&active, s);
        if found.iter().any(|m| m.filter.action == roost_types::FilterAction::Hide) {
            return None;
        }
        Some(found.iter().map(|m| m.filter.title.clone()).collect())
    }

    /// A post with its source text, as the response to deleting it.
    pub fn deleted_status(&mut self, s: &Status, original: Option<&Status>) -> ApiResult<Option<StatusJson>> {
        self.status_with(s, original, Some(&s.text), Vec::new())
    }

    /// A post inside another (what a reblog shares, what a quote quotes): filters apply to the
    /// outer post only.
    fn inner_status(&mut self, s: &Status, original: Option<&Status>) -> ApiResult<Option<StatusJson>> {
        self.status_with(s, original, None, Vec::new())
    }

    fn status_with(
        &mut self,
        s: &Status,
        original: Option<&Status>,
        text: Option<&str>,
        filtered: Vec<FilterResultJson>,
    ) -> ApiResult<Option<StatusJson>> {
        let reblog = match original {
            Some(o) => match self.inner_status(o, None)? {
                Some(j) => Some(j),
                None => return Ok(None),
            },
            None => None,
        };
        let Some(author) = self.account_by_id(s.author)? else { return Ok(None) };
        let shared = self.shared_status(s, &author)?;
        let quote = match s.quote_of {
            Some(q) => Some(match query::visible_status(self.view, self.viewer, q)? {
                Some((qs, qo)) => self.inner_status(&qs, qo.as_ref())?,
                None => None,
            }),
            None => None,
        };
        let has_bookmarks = match self.has_bookmarks {
            Some(b) => b,
            None => *self.has_bookmarks.insert(query::has_bookmarks(self.view, self.viewer)?),
        };
        // A reblog shows the viewer's relation to the post it shares, as on Mastodon.
        let mine = query::interactions(self.view, self.viewer, original.unwrap_or(s), has_bookmarks)?;
        let (any_held, any_labels) = match self.moderated {
            Some(m) => m,
            None => *self
                .moderated
                .insert((roost_core::extensions::any_held(self.view)?, roost_core::extensions::any_labels(self.view)?)),
        };
        let roost_labels = if any_labels {
            roost_core::extensions::labels(self.view, s.id)?.into_iter().map(|l| l.label).collect()
        } else {
            Vec::new()
        };
        let roost_held = match any_held.then(|| roost_core::extensions::held(self.view, s.id)).transpose()?.flatten() {
            Some(h) => Some(HeldJson {
                reason: h.reason,
                rule: roost_core::extensions::extension(self.view, h.extension)?.map(|e| e.name),
            }),
            None => None,
        };
        let viewer_part = serde_json::to_string(&ViewerStatusJson {
            favourited: mine.favourited,
            reblogged: mine.reblogged,
            muted: mine.muted,
            bookmarked: mine.bookmarked,
            // Only one's own posts can be pinned, so others' need no lookup.
            pinned: original.is_none() && s.author == self.viewer && query::is_pinned(self.view, self.viewer, s.id)?,
            filtered,
            poll: self.poll(s)?,
            media_attachments: self.media(&s.media)?,
            text,
            roost_labels,
            roost_held,
        })
        .map_err(internal)?;

        let mut json = String::with_capacity(
            shared.open_json.len()
                + author.json.get().len()
                + reblog.as_ref().map_or(0, |r| r.0.len())
                + viewer_part.len()
                + 64,
        );
        json.push_str(&shared.open_json);
        json.push_str(",\"account\":");
        json.push_str(author.json.get());
        json.push_str(",\"reblog\":");
        json.push_str(reblog.as_ref().map_or("null", StatusJson::as_str));
        json.push_str(",\"quote\":");
        // A Quote entity: `accepted`, or `deleted` when the quoted post is gone or invisible.
        match &quote {
            None => json.push_str("null"),
            Some(Some(quoted)) => {
                json.push_str("{\"state\":\"accepted\",\"quoted_status\":");
                json.push_str(quoted.as_str());
                json.push('}');
            }
            Some(None) => json.push_str("{\"state\":\"deleted\",\"quoted_status\":null}"),
        }
        json.push(',');
        json.push_str(&viewer_part[1..]); // from after the opening brace
        Ok(Some(StatusJson(json)))
    }

    /// Renders a list of posts, leaving out any whose author vanished.
    pub fn statuses<'s>(&mut self, items: impl IntoIterator<Item = &'s Shown>) -> ApiResult<Vec<StatusJson>> {
        let mut out = Vec::new();
        for (s, o) in items {
            if let Some(j) = self.status(s, o.as_ref())? {
                out.push(j);
            }
        }
        Ok(out)
    }

    pub fn notification(&mut self, n: &Notification, shown: Option<&Shown>) -> ApiResult<Option<NotificationJson>> {
        let Some(from) = self.account_by_id(n.from)? else { return Ok(None) };
        let account = from.json.clone();
        let status = match shown {
            Some((s, o)) => match self.status(s, o.as_ref())? {
                Some(j) => Some(j),
                None => return Ok(None),
            },
            None => None,
        };
        Ok(Some(NotificationJson {
            id: n.id.to_string(),
            kind: n.kind.as_str(),
            created_at: iso(n.created_at),
            group_key: format!("ungrouped-{}", n.id),
            account,
            status,
        }))
    }
}

/// Mastodon's Conversation entity.
#[derive(Debug, Serialize)]
pub struct ConversationJson {
    id: String,
    unread: bool,
    /// The other participants.
    accounts: Vec<AccountJson>,
    last_status: Option<StatusJson>,
}

/// Renders one conversation for `viewer`.
pub fn conversation_json(
    r: &mut Renderer<'_, ReadView>,
    view: &ReadView,
    viewer: Id,
    id: Id,
    c: &AccountConversation,
    shown: Option<&Shown>,
) -> ApiResult<ConversationJson> {
    let mut accounts = Vec::new();
    for &p in c.participants.iter().filter(|&&p| p != viewer) {
        if let Some(a) = query::account(view, p)? {
            accounts.push(r.account(&a));
        }
    }
    let last_status = match shown {
        Some((s, o)) => r.status(s, o.as_ref())?,
        None => None,
    };
    Ok(ConversationJson { id: id.to_string(), unread: c.unread, accounts, last_status })
}
