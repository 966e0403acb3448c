//! Custom feeds (issue 14): an extension that ranks candidate posts for a reader.
//!
//! A feed's manifest names where its candidates come from ([`FeedSource`]: the reader's home,
//! the local timeline, hashtags, the owner's lists, accounts) and how far back. Roost gathers
//! them *for the reader*, through the same reads the reader's own timelines use — visibility,
//! blocks, mutes, held posts and filters of feeds are applied before the extension sees
//! anything — so a feed can never show a reader what they could not otherwise read. The
//! feed's `rank(input)` answers with the IDs of the posts to show, in order; IDs it was not
//! given are ignored, so it can only choose among and order the candidates. A feed that
//! fails (throws, runs out of budget, answers nonsense) shows its candidates newest first,
//! and the failure is counted like any extension's.
//!
//! Members write personal feeds (only they see them); administrators publish feeds for
//! everyone. A member subscribes to feeds: subscribed feeds appear to Mastodon apps as lists,
//! whose timeline is the ranked feed.
//!
//! Paging: a ranking is kept for [`KEPT`] per reader and feed, so that `max_id` continues in
//! the ranked order; a first page newer than [`FRESH`] reuses it too, which bounds the work one
//! reader can cause to one ranking per feed per [`FRESH`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roost_core::extensions as stored;
use roost_core::model::{Account, Extension};
use roost_core::query::{self, Page, Shown, MAX_PAGE};
use roost_ext::Host;
use roost_types::{Actor, Command, FeedSource, FeedSpec, Id, MAX_FEED_SOURCES, MAX_FEED_WINDOW_HOURS};

use crate::extensions::{self as ext, Judgement};
use crate::write::{member, propose};
use crate::{now_ms, Applied, Error, Result, Service};

/// Candidate posts a feed ranks, at most.
pub const MAX_CANDIDATES: usize = 500;
/// Rankings at once on this node.
pub const TURNS: usize = 2;
/// How long a ranking is kept for paging.
pub const KEPT: Duration = Duration::from_secs(300);
/// How long a ranking stays fresh enough to serve a first page again.
pub const FRESH: Duration = Duration::from_secs(10);
/// Rankings kept on this node, at most.
const MAX_RANKINGS: usize = 2_048;
/// Pages of one source read while gathering candidates, at most.
const MAX_SOURCE_PAGES: usize = 20;

/// A feed's ranking for one reader.
pub(crate) struct Ranked {
    at: Instant,
    version: u32,
    order: Arc<Vec<Id>>,
}

/// A feed as a member finds it.
#[derive(Debug, Clone)]
pub struct Feed {
    pub extension: Extension,
    pub description: String,
    pub spec: FeedSpec,
    pub subscribed: bool,
}

/// Reads a source as people write it: `home`, `local`, `#tag`, `@username` or `list:ID`.
pub fn parse_source(svc: &Service, raw: &str) -> Result<FeedSource> {
    let raw = raw.trim();
    let bad = || {
        Error::invalid(format!(
            "Validation failed: Unknown feed source {raw:.60}: use home, local, #tag, @username or list:ID"
        ))
    };
    match raw {
        "home" => return Ok(FeedSource::Home),
        "local" | "public" => return Ok(FeedSource::Local),
        _ => {}
    }
    if let Some(tag) = raw.strip_prefix('#') {
        return Ok(FeedSource::Hashtag(tag.to_lowercase()));
    }
    if let Some(name) = raw.strip_prefix('@') {
        let a = query::account_by_username(&svc.read()?, name)?.ok_or_else(bad)?;
        return Ok(FeedSource::Account(a.id));
    }
    if let Some(id) = raw.strip_prefix("list:") {
        return Ok(FeedSource::List(id.parse().map_err(|_| bad())?));
    }
    Err(bad())
}

/// A source as people write it (see [`parse_source`]).
pub fn source_text(view: &crate::ReadView, s: &FeedSource) -> Result<String> {
    Ok(match s {
        FeedSource::Home => "home".into(),
        FeedSource::Local => "local".into(),
        FeedSource::Hashtag(t) => format!("#{t}"),
        FeedSource::List(id) => format!("list:{id}"),
        FeedSource::Account(id) => match query::account(view, *id)? {
            Some(a) => format!("@{}", a.username),
            None => format!("account:{id}"),
        },
    })
}

/// Checks a feed's manifest part: its sources exist and are the author's to name.
pub(crate) fn checked_spec(svc: &Service, by: &Actor, spec: &FeedSpec) -> Result<FeedSpec> {
    if spec.sources.is_empty() || spec.sources.len() > MAX_FEED_SOURCES {
        return Err(Error::invalid(format!("Validation failed: A feed needs 1 to {MAX_FEED_SOURCES} sources")));
    }
    if !(1..=MAX_FEED_WINDOW_HOURS).contains(&spec.window_hours) {
        return Err(Error::invalid(format!(
            "Validation failed: window_hours must be between 1 and {MAX_FEED_WINDOW_HOURS}"
        )));
    }
    let view = svc.read()?;
    let mut sources: Vec<FeedSource> = Vec::with_capacity(spec.sources.len());
    for s in &spec.sources {
        match s {
            FeedSource::Hashtag(t) => {
                if t.is_empty() || t.chars().count() > 100 || !t.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(Error::invalid("Validation failed: A hashtag source is # and letters, digits or _"));
                }
            }
            FeedSource::List(id) => {
                let own = by.account.is_some_and(|me| query::list(&view, me, *id).ok().flatten().is_some());
                if !spec.personal || !own {
                    return Err(Error::invalid(
                        "Validation failed: A list source must be one of your own lists, in a personal feed",
                    ));
                }
            }
            FeedSource::Account(id) => {
                if query::account(&view, *id)?.is_none() {
                    return Err(Error::invalid("Validation failed: A feed names an account that does not exist"));
                }
            }
            FeedSource::Home | FeedSource::Local => {}
        }
        if !sources.contains(s) {
            sources.push(s.clone());
        }
    }
    Ok(FeedSpec { sources, window_hours: spec.window_hours, personal: spec.personal })
}

fn spec_of(svc: &Service, e: &Extension, version: u32) -> Result<FeedSpec> {
    let v = stored::version(&svc.read()?, e.id, version)?.ok_or(Error::NotFound)?;
    v.manifest.feed.ok_or(Error::NotFound)
}

/// The feeds a member may read: those published for everyone and their own deployed ones,
/// with whether they subscribed; and, for `mine`, also their personal feeds not deployed.
pub fn available(svc: &Service, by: &Actor) -> Result<Vec<Feed>> {
    let me = member(by)?;
    let view = svc.read()?;
    let mut all = stored::deployed_of(&view, roost_types::ExtensionKind::Feed)?;
    all.extend(stored::personal_feeds(&view, me)?);
    let mut out = Vec::with_capacity(all.len());
    for e in all {
        let version = e.deployed.map_or(e.latest, |d| d.version);
        let Some(v) = stored::version(&view, e.id, version)? else { continue };
        let Some(spec) = v.manifest.feed else { continue };
        let subscribed = stored::subscribed(&view, me, e.id)?;
        out.push(Feed { extension: e, description: v.manifest.description, spec, subscribed });
    }
    Ok(out)
}

/// The feeds a member subscribed to and may read (a Mastodon app's lists, after their own).
pub fn subscriptions(svc: &Service, by: &Actor) -> Result<Vec<Extension>> {
    Ok(stored::subscriptions(&svc.read()?, member(by)?)?)
}

/// A feed the member may read now, or 404.
pub fn readable(svc: &Service, by: &Actor, id: Id) -> Result<Extension> {
    let me = member(by)?;
    match stored::extension(&svc.read()?, id)? {
        Some(e) if stored::may_read_feed(&e, me) => Ok(e),
        _ => Err(Error::NotFound),
    }
}

pub async fn subscribe(svc: &Service, by: &Actor, id: Id, on: bool) -> Result<Applied> {
    let account = member(by)?;
    if on {
        readable(svc, by, id)?;
    }
    propose(svc, by, Command::SubscribeFeed { account, extension: id, subscribe: on }).await
}

/// A page of a deployed feed for the reader, in its ranked order.
pub async fn timeline(svc: &Service, by: &Actor, id: Id, page: &Page) -> Result<Vec<Shown>> {
    let reader = member(by)?;
    let e = readable(svc, by, id)?;
    let version = e.deployed.map_or(e.latest, |d| d.version);
    let limit = page.limit.clamp(1, MAX_PAGE);
    let kept = {
        let rankings = svc.ext_work().rankings.lock().unwrap_or_else(|e| e.into_inner());
        rankings.get(&(reader, id)).and_then(|r| {
            let age = r.at.elapsed();
            let usable = r.version == version && if page.max_id.is_some() { age < KEPT } else { age < FRESH };
            usable.then(|| r.order.clone())
        })
    };
    let order = match kept {
        Some(order) if page.max_id.is_none_or(|m| order.contains(&m)) => order,
        _ => {
            let order = Arc::new(rank(svc, reader, &e, version, true).await?.into_iter().map(|s| s.0.id).collect());
            let mut rankings = svc.ext_work().rankings.lock().unwrap_or_else(|e| e.into_inner());
            if rankings.len() >= MAX_RANKINGS {
                rankings.retain(|_, r| r.at.elapsed() < FRESH);
                if rankings.len() >= MAX_RANKINGS {
                    rankings.clear();
                }
            }
            rankings.insert((reader, id), Ranked { at: Instant::now(), version, order: Arc::clone(&order) });
            order
        }
    };
    let start = match page.max_id {
        Some(m) => match order.iter().position(|&x| x == m) {
            Some(i) => i + 1,
            None => return Ok(Vec::new()),
        },
        None => 0,
    };
    let newer = page.min_id.or(page.since_id);
    // Each post is read again as the reader sees it now: one deleted or hidden since the
    // ranking is left out.
    let view = svc.read()?;
    let mut v = roost_core::visibility::Viewer::new(&view, reader).preload_following()?;
    let mut out = Vec::with_capacity(limit);
    for &sid in order.iter().skip(start) {
        if out.len() >= limit {
            break;
        }
        if newer.is_some_and(|n| sid <= n) {
            continue;
        }
        if let Some(shown) = query::feed_entry(&mut v, sid)? {
            out.push(shown);
        }
    }
    Ok(out)
}

/// What a feed's author sees before deploying: the newest version (or `version`) ranked for
/// them, unkept.
pub async fn preview(svc: &Service, by: &Actor, id: Id, version: Option<u32>, limit: usize) -> Result<Vec<Shown>> {
    let reader = member(by)?;
    let e = stored::extension(&svc.read()?, id)?.ok_or(Error::NotFound)?;
    if e.kind != roost_types::ExtensionKind::Feed {
        return Err(Error::NotFound);
    }
    if !stored::may_read_feed(&e, reader) {
        ext::may_change(svc, by, &e, false)?;
    }
    let mut out = rank(svc, reader, &e, version.unwrap_or(e.latest), false).await?;
    out.truncate(limit.clamp(1, MAX_PAGE));
    Ok(out)
}

/// Gathers the feed's candidates for the reader and ranks them with the version's `rank`.
async fn rank(svc: &Service, reader: Id, e: &Extension, version: u32, live: bool) -> Result<Vec<Shown>> {
    let spec = spec_of(svc, e, version)?;
    let at = now_ms();
    let (candidates, input) = {
        let view = svc.read()?;
        let candidates = candidates(svc, &view, reader, &spec, at)?;
        let input = rank_input(&view, reader, &candidates, at)?;
        (candidates, input)
    };
    let rule = {
        let view = svc.read()?;
        ext::rule(svc, &view, e.id, version)?.ok_or(Error::NotFound)?
    };
    let host = Host { now_ms: at, seed: reader ^ e.id };
    let turns = svc.ext_work().feed_turns.clone();
    let answer = ext::on_engine(svc, &turns, move |engine| match engine.call(&rule.program, "rank", &input, host) {
        Ok((value, _)) => order(&value),
        Err(e) => Err(ext::without_content(&e)),
    })
    .await?;
    if live {
        if let Some(d) = e.deployed.filter(|d| d.version == version) {
            let judged = answer.as_ref().map(|_| Judgement {
                verdict: "ranked".into(),
                reason: String::new(),
                label: None,
                content_warning: None,
            });
            if ext::record(svc, e.id, d, reader, &judged.map_err(Clone::clone)) {
                ext::stop(svc, e, d.version);
            }
        }
    }
    match answer {
        Ok(ids) => {
            let mut by_id: HashMap<Id, Shown> = candidates.into_iter().map(|s| (s.0.id, s)).collect();
            Ok(ids.into_iter().filter_map(|id| by_id.remove(&id)).collect())
        }
        Err(err) => {
            tracing::warn!(extension = e.id, version, "a feed failed to rank, shown newest first: {err}");
            let mut all = candidates;
            all.sort_by(|a, b| b.0.id.cmp(&a.0.id));
            Ok(all)
        }
    }
}

/// A feed's answer, read strictly: an array of post IDs (strings, or objects with an `id`), in
/// order; repeats are dropped.
fn order(v: &serde_json::Value) -> std::result::Result<Vec<Id>, String> {
    let items = v.as_array().ok_or("rank must return an array of post IDs")?;
    let mut seen = HashSet::with_capacity(items.len());
    let mut out = Vec::with_capacity(items.len().min(MAX_CANDIDATES));
    for item in items.iter().take(MAX_CANDIDATES * 2) {
        let raw = match item {
            serde_json::Value::String(s) => s.as_str(),
            serde_json::Value::Object(o) => o.get("id").and_then(|x| x.as_str()).ok_or("an item has no id")?,
            _ => return Err("rank must return an array of post IDs".into()),
        };
        let id: Id = raw.parse().map_err(|_| "an item is not a post ID".to_string())?;
        if seen.insert(id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The feed's candidates as the reader may see them, newest first within each source, at most
/// [`MAX_CANDIDATES`], none older than the window.
fn candidates(svc: &Service, view: &crate::ReadView, reader: Id, spec: &FeedSpec, now: i64) -> Result<Vec<Shown>> {
    let since = now.saturating_sub(i64::from(spec.window_hours) * 3_600_000);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for source in &spec.sources {
        let mut page = Page { limit: MAX_PAGE, ..Page::default() };
        for _ in 0..MAX_SOURCE_PAGES {
            let items = match source {
                FeedSource::Home => query::home(view, svc.node().home(), reader, &page)?,
                FeedSource::Local => query::public(view, reader, &page)?,
                FeedSource::Hashtag(t) => query::tag(view, reader, t, &page)?,
                FeedSource::List(l) => query::list_timeline(view, reader, *l, &page)?.unwrap_or_default(),
                FeedSource::Account(a) => {
                    query::account_statuses(view, reader, *a, query::AccountFilter::default(), &page)?
                }
            };
            let Some(last) = items.last() else { break };
            page.max_id = Some(last.0.id);
            let mut past = false;
            for item in items {
                if item.0.created_at < since {
                    past = true;
                    break;
                }
                if seen.insert(item.0.id) {
                    out.push(item);
                    if out.len() >= MAX_CANDIDATES {
                        return Ok(out);
                    }
                }
            }
            if past {
                break;
            }
        }
    }
    Ok(out)
}

/// What `rank` is given: the reader, the time and the candidates.
fn rank_input(view: &crate::ReadView, reader: Id, candidates: &[Shown], now: i64) -> Result<serde_json::Value> {
    let mut accounts: HashMap<Id, Option<Account>> = HashMap::new();
    let mut who = |id: Id| -> Result<serde_json::Value> {
        if !accounts.contains_key(&id) {
            accounts.insert(id, query::account(view, id)?);
        }
        Ok(match &accounts[&id] {
            Some(a) => {
                serde_json::json!({"id": id.to_string(), "username": a.username, "display_name": a.display_name, "bot": a.bot})
            }
            None => serde_json::json!({"id": id.to_string()}),
        })
    };
    let me = who(reader)?;
    let mut posts = Vec::with_capacity(candidates.len());
    for (entry, original) in candidates {
        let s = original.as_ref().unwrap_or(entry);
        posts.push(serde_json::json!({
            "id": entry.id.to_string(),
            "text": s.text,
            "spoiler_text": s.spoiler_text,
            "author": who(s.author)?,
            "reblogged_by": if original.is_some() { who(entry.author)? } else { serde_json::Value::Null },
            "created_at": s.created_at,
            "visibility": s.visibility.as_str(),
            "language": s.language,
            "tags": s.tags,
            "reply": s.in_reply_to.is_some(),
            "media": s.media.len(),
            "replies_count": s.replies_count,
            "reblogs_count": s.reblogs_count,
            "favourites_count": s.favourites_count,
        }));
    }
    Ok(serde_json::json!({"reader": me, "now": now, "posts": posts}))
}
