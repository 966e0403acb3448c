//! Mastodon entities, built from `roost-core` records. The one place where storage types
//! become wire types. Shapes follow the Mastodon documentation (`content/en/entities`).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use roost_core::model::{Account, App, Notification, Status};
use roost_core::query::{self, Relationship, Shown};
use roost_core::ReadTables;
use roost_types::{Id, Millis};
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::Arc;

use crate::html;
use crate::{ApiResult, AppState, WebConfig};

/// Rendered post HTML by post ID. A post's text and the accounts it mentions never change, so
/// its HTML never does: render once, serve many times. Bounded: cleared when full.
#[derive(Default)]
pub struct ContentCache {
    map: std::sync::Mutex<HashMap<Id, Arc<str>>>,
}

impl ContentCache {
    const CAPACITY: usize = 200_000;

    pub fn get_or_render(&self, id: Id, render: impl FnOnce() -> String) -> Arc<str> {
        if let Some(html) = self.lock().get(&id) {
            return html.clone();
        }
        let html: Arc<str> = render().into();
        let mut map = self.lock();
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(id, html.clone());
        html
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Arc<str>>> {
        // The map is always whole between statements, so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
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
    pub fields: Vec<()>,
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
    pub fields: Vec<()>,
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

#[derive(Debug, Clone, Serialize)]
pub struct QuoteJson {
    /// `accepted`, or `deleted` when the quoted post is gone or invisible.
    pub state: &'static str,
    pub quoted_status: Option<Box<StatusJson>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusJson {
    pub id: String,
    pub uri: String,
    pub url: String,
    pub created_at: String,
    /// The author, serialised once per request and reused for each of their posts.
    pub account: Arc<RawValue>,
    /// Shared with the rendered-content cache.
    pub content: Arc<str>,
    pub visibility: &'static str,
    pub sensitive: bool,
    pub spoiler_text: String,
    pub media_attachments: Vec<()>,
    pub application: Option<ApplicationJson>,
    pub mentions: Vec<MentionJson>,
    pub tags: Vec<TagJson>,
    pub emojis: Vec<()>,
    pub reblogs_count: u64,
    pub favourites_count: u64,
    pub replies_count: u64,
    pub quotes_count: u64,
    pub in_reply_to_id: Option<String>,
    pub in_reply_to_account_id: Option<String>,
    pub reblog: Option<Box<StatusJson>>,
    pub quote: Option<QuoteJson>,
    pub poll: Option<()>,
    pub card: Option<()>,
    pub language: Option<String>,
    /// The source text: only in the response to a delete (for "delete and redraft").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub edited_at: Option<String>,
    pub favourited: bool,
    pub reblogged: bool,
    pub muted: bool,
    pub bookmarked: bool,
    pub pinned: bool,
    pub filtered: Vec<()>,
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
        requested: false,
        requested_by: false,
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

/// Builds entities for one viewer within one read snapshot, caching accounts.
pub struct Renderer<'a, T: ReadTables> {
    view: &'a T,
    viewer: Id,
    cfg: &'a WebConfig,
    contents: &'a ContentCache,
    accounts: HashMap<Id, Option<(AccountJson, Arc<RawValue>)>>,
    apps: HashMap<String, Option<ApplicationJson>>,
    /// Whether the viewer has any bookmark (decided once per request).
    has_bookmarks: Option<bool>,
}

impl<'a, T: ReadTables> Renderer<'a, T> {
    pub fn new(view: &'a T, viewer: Id, state: &'a AppState) -> Self {
        Renderer {
            view,
            viewer,
            cfg: state.config(),
            contents: state.contents(),
            accounts: HashMap::new(),
            apps: HashMap::new(),
            has_bookmarks: None,
        }
    }

    pub fn account_url(&self, username: &str) -> String {
        format!("{}/@{}", self.cfg.public_url, username)
    }

    pub fn account(&self, a: &Account) -> AccountJson {
        let base = &self.cfg.public_url;
        let avatar = format!("{base}/avatars/original/missing.png");
        let header = format!("{base}/headers/original/missing.png");
        let view = self.view;
        AccountJson {
            id: a.id.to_string(),
            username: a.username.clone(),
            acct: a.username.clone(),
            display_name: a.display_name.clone(),
            locked: a.locked,
            bot: a.bot,
            discoverable: true,
            indexable: false,
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
            hide_collections: false,
            noindex: true,
            emojis: Vec::new(),
            roles: Vec::new(),
            fields: Vec::new(),
        }
    }

    pub fn credential_account(&self, a: &Account) -> CredentialAccountJson {
        CredentialAccountJson {
            account: self.account(a),
            source: SourceJson {
                note: a.note.clone(),
                fields: Vec::new(),
                privacy: "public",
                sensitive: false,
                language: None,
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

    /// An account's entity and its serialisation, cached for the request.
    fn account_by_id(&mut self, id: Id) -> ApiResult<Option<&(AccountJson, Arc<RawValue>)>> {
        if !self.accounts.contains_key(&id) {
            let entry = match query::account(self.view, id)? {
                Some(a) => {
                    let json = self.account(&a);
                    let raw =
                        serde_json::value::to_raw_value(&json).map_err(|e| crate::ApiError::Internal(e.to_string()))?;
                    Some((json, Arc::from(raw)))
                }
                None => None,
            };
            self.accounts.insert(id, entry);
        }
        Ok(self.accounts.get(&id).and_then(Option::as_ref))
    }

    fn application(&mut self, client_id: &str) -> ApiResult<Option<ApplicationJson>> {
        if let Some(cached) = self.apps.get(client_id) {
            return Ok(cached.clone());
        }
        let app = query::app(self.view, client_id)?.map(|a| ApplicationJson { name: a.name, website: a.website });
        self.apps.insert(client_id.to_string(), app.clone());
        Ok(app)
    }

    /// A post as the viewer sees it; `None` if its author is gone.
    pub fn status(&mut self, s: &Status, original: Option<&Status>) -> ApiResult<Option<StatusJson>> {
        let reblog = match original {
            Some(o) => match self.status(o, None)? {
                Some(j) => Some(Box::new(j)),
                None => return Ok(None),
            },
            None => None,
        };
        let Some((author, account)) = self.account_by_id(s.author)? else { return Ok(None) };
        let (author_username, author_url, account) = (author.username.clone(), author.url.clone(), account.clone());
        let base = self.cfg.public_url.clone();
        let mut mentions = Vec::with_capacity(s.mentions.len());
        for &m in &s.mentions {
            if let Some((a, _)) = self.account_by_id(m)? {
                mentions.push(MentionJson {
                    id: a.id.clone(),
                    username: a.username.clone(),
                    url: a.url.clone(),
                    acct: a.acct.clone(),
                });
            }
        }
        let content: Arc<str> = if s.reblog_of.is_some() {
            Arc::from("")
        } else {
            self.contents.get_or_render(s.id, || {
                html::render(&s.text, &base, &|u| {
                    mentions.iter().find(|m| m.username.eq_ignore_ascii_case(u)).map(|m| m.url.clone())
                })
            })
        };
        let quote = match s.quote_of {
            Some(q) => Some(match query::visible_status(self.view, self.viewer, q)? {
                Some((qs, qo)) => match self.status(&qs, qo.as_ref())? {
                    Some(j) => QuoteJson { state: "accepted", quoted_status: Some(Box::new(j)) },
                    None => QuoteJson { state: "deleted", quoted_status: None },
                },
                None => QuoteJson { state: "deleted", quoted_status: None },
            }),
            None => None,
        };
        let has_bookmarks = match self.has_bookmarks {
            Some(b) => b,
            None => *self.has_bookmarks.insert(query::has_bookmarks(self.view, self.viewer)?),
        };
        let mine = query::interactions(self.view, self.viewer, s, has_bookmarks)?;
        let application = match &s.application {
            Some(client_id) => self.application(client_id)?,
            None => None,
        };
        Ok(Some(StatusJson {
            id: s.id.to_string(),
            uri: format!("{base}/users/{author_username}/statuses/{}", s.id),
            url: format!("{author_url}/{}", s.id),
            created_at: iso(s.created_at),
            content,
            visibility: s.visibility.as_str(),
            sensitive: s.sensitive,
            spoiler_text: s.spoiler_text.clone(),
            media_attachments: Vec::new(),
            application,
            mentions,
            tags: s.tags.iter().map(|t| TagJson { name: t.clone(), url: format!("{base}/tags/{t}") }).collect(),
            emojis: Vec::new(),
            reblogs_count: s.reblogs_count,
            favourites_count: s.favourites_count,
            replies_count: s.replies_count,
            quotes_count: 0,
            in_reply_to_id: s.in_reply_to.map(|i| i.to_string()),
            in_reply_to_account_id: s.in_reply_to_account.map(|i| i.to_string()),
            reblog,
            quote,
            poll: None,
            card: None,
            language: s.language.clone(),
            text: None,
            edited_at: None,
            favourited: mine.favourited,
            reblogged: mine.reblogged,
            muted: mine.muted,
            bookmarked: mine.bookmarked,
            pinned: false,
            filtered: Vec::new(),
            account,
        }))
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
        let Some((_, account)) = self.account_by_id(n.from)? else { return Ok(None) };
        let account = account.clone();
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
