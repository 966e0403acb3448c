//! Filters: a member's keyword and post filters (Mastodon's v2), which hide or warn about posts
//! in the contexts they name.

use roost_core::filters;
use roost_core::model::Filter;
use roost_core::text::{self, Limit};
use roost_types::{Actor, Command, FilterAction, FilterContext, FilterSpec, Id, MAX_FILTER_ITEMS};

use crate::accounts::limited;
use crate::write::{created_id, member, propose};
use crate::{now_ms, Applied, Error, Result, Service};

/// A filter's title and each of its keywords: one line of 100 characters.
const TITLE: Limit = Limit::chars(100);
const KEYWORD: Limit = Limit::chars(100);
/// The longest a filter may run before it expires by itself: ten years.
const MAX_EXPIRES_IN_SECS: i64 = 10 * 365 * 24 * 3600;

/// A change to one keyword of a filter: a new one (no `id`), an edit, or (`destroy`) a removal.
#[derive(Debug, Clone, Default)]
pub struct KeywordChange {
    pub id: Option<Id>,
    pub keyword: Option<String>,
    pub whole_word: Option<bool>,
    pub destroy: bool,
}

/// A filter as asked for; on an update, what is `None` or empty stays as it is.
#[derive(Debug, Clone, Default)]
pub struct FilterChange {
    pub title: Option<String>,
    pub contexts: Vec<FilterContext>,
    pub action: Option<FilterAction>,
    /// Seconds from now; `Some(None)`: never expires.
    pub expires_in: Option<Option<i64>>,
    pub keywords: Vec<KeywordChange>,
}

fn checked_keyword(k: &str) -> Result<String> {
    let k = text::clean_line(k);
    if k.is_empty() {
        return Err(Error::invalid("Validation failed: A keyword can't be blank"));
    }
    limited("Keyword", &k, KEYWORD)?;
    Ok(k)
}

fn too_many(what: &str) -> Error {
    Error::invalid(format!("A filter has at most {MAX_FILTER_ITEMS} {what}"))
}

/// The stored form of a filter, to change a part of it.
fn spec_of(f: &Filter) -> FilterSpec {
    FilterSpec {
        title: f.title.clone(),
        contexts: f.contexts.clone(),
        action: f.action,
        expires_at: f.expires_at,
        keywords: f.keywords.iter().map(|(id, k, w)| (Some(*id), k.clone(), *w)).collect(),
        statuses: f.statuses.iter().map(|(id, s)| (Some(*id), *s)).collect(),
    }
}

/// The spec a create or update asks for, starting from the current filter (for updates).
fn spec(c: FilterChange, current: Option<&Filter>) -> Result<FilterSpec> {
    let title = match c.title {
        Some(t) => text::clean_line(&t),
        None => current.map(|f| f.title.clone()).unwrap_or_default(),
    };
    if title.is_empty() {
        return Err(Error::invalid("Validation failed: A filter needs a title"));
    }
    limited("Title", &title, TITLE)?;
    let contexts = if c.contexts.is_empty() {
        match current {
            Some(f) => f.contexts.clone(),
            None => return Err(Error::invalid("context[] must name at least one context")),
        }
    } else {
        let mut out = Vec::new();
        for context in c.contexts {
            if !out.contains(&context) {
                out.push(context);
            }
        }
        out
    };
    let action = c.action.or(current.map(|f| f.action)).unwrap_or(FilterAction::Warn);
    let expires_at = match c.expires_in {
        None => current.and_then(|f| f.expires_at),
        Some(None) => None,
        Some(Some(secs)) if (1..=MAX_EXPIRES_IN_SECS).contains(&secs) => Some(now_ms() + secs * 1000),
        Some(Some(_)) => return Err(Error::invalid("expires_in must be a number of seconds")),
    };
    let (mut keywords, statuses) = current.map_or((Vec::new(), Vec::new()), |f| {
        let s = spec_of(f);
        (s.keywords, s.statuses)
    });
    if c.keywords.len() > MAX_FILTER_ITEMS {
        return Err(too_many("keywords"));
    }
    for a in c.keywords {
        match a.id.and_then(|id| keywords.iter().position(|k| k.0 == Some(id))) {
            Some(i) if a.destroy => {
                keywords.remove(i);
            }
            Some(i) => {
                if let Some(k) = &a.keyword {
                    keywords[i].1 = checked_keyword(k)?;
                }
                if let Some(w) = a.whole_word {
                    keywords[i].2 = w;
                }
            }
            None if a.id.is_some() => return Err(Error::NotFound),
            None => {
                let k = a.keyword.as_deref().ok_or_else(|| Error::invalid("A new keyword needs its keyword"))?;
                keywords.push((None, checked_keyword(k)?, a.whole_word.unwrap_or(true)));
            }
        }
    }
    if keywords.len() > MAX_FILTER_ITEMS {
        return Err(too_many("keywords"));
    }
    Ok(FilterSpec { title, contexts, action, expires_at, keywords, statuses })
}

/// One of the viewer's filters, or 404.
pub fn own(svc: &Service, viewer: Id, id: Id) -> Result<Filter> {
    filters::filter(&svc.read()?, viewer, id)?.ok_or(Error::NotFound)
}

/// The viewer's filter holding a keyword (or, with `statuses`, a post entry), or 404.
pub fn holding(svc: &Service, viewer: Id, item: Id, statuses: bool) -> Result<Filter> {
    let all = filters::filters(&svc.read()?, viewer)?;
    all.into_iter()
        .find(
            |f| if statuses { f.statuses.iter().any(|s| s.0 == item) } else { f.keywords.iter().any(|k| k.0 == item) },
        )
        .ok_or(Error::NotFound)
}

/// Saves a spec; the filter as stored and the log index.
async fn store(svc: &Service, by: &Actor, filter: Option<Id>, spec: FilterSpec) -> Result<(Filter, u64)> {
    let account = member(by)?;
    let applied = propose(svc, by, Command::SaveFilter { account, filter, spec }).await?;
    Ok((own(svc, account, created_id(&applied)?)?, applied.index))
}

/// Creates a filter (`filter` `None`) or changes one of the actor's.
pub async fn save(svc: &Service, by: &Actor, filter: Option<Id>, change: FilterChange) -> Result<(Filter, u64)> {
    let account = member(by)?;
    let current = filter.map(|id| own(svc, account, id)).transpose()?;
    store(svc, by, filter, spec(change, current.as_ref())?).await
}

/// Deletes one of the actor's filters.
pub async fn delete(svc: &Service, by: &Actor, filter: Id) -> Result<Applied> {
    let account = member(by)?;
    own(svc, account, filter)?;
    propose(svc, by, Command::DeleteFilter { account, filter }).await
}

/// Adds a keyword to one of the actor's filters.
pub async fn add_keyword(
    svc: &Service,
    by: &Actor,
    filter: Id,
    keyword: &str,
    whole_word: bool,
) -> Result<(Filter, u64)> {
    let f = own(svc, member(by)?, filter)?;
    let keyword = checked_keyword(keyword)?;
    let mut s = spec_of(&f);
    if s.keywords.len() >= MAX_FILTER_ITEMS {
        return Err(too_many("keywords"));
    }
    s.keywords.push((None, keyword, whole_word));
    store(svc, by, Some(f.id), s).await
}

/// Changes one of the actor's keywords.
pub async fn update_keyword(
    svc: &Service,
    by: &Actor,
    id: Id,
    keyword: Option<&str>,
    whole_word: Option<bool>,
) -> Result<(Filter, u64)> {
    let f = holding(svc, member(by)?, id, false)?;
    let mut s = spec_of(&f);
    for k in s.keywords.iter_mut().filter(|k| k.0 == Some(id)) {
        if let Some(word) = keyword {
            k.1 = checked_keyword(word)?;
        }
        if let Some(w) = whole_word {
            k.2 = w;
        }
    }
    store(svc, by, Some(f.id), s).await
}

/// Removes one of the actor's keywords, or (with `statuses`) one of their filtered posts.
pub async fn remove_item(svc: &Service, by: &Actor, id: Id, statuses: bool) -> Result<u64> {
    let f = holding(svc, member(by)?, id, statuses)?;
    let mut s = spec_of(&f);
    s.keywords.retain(|k| statuses || k.0 != Some(id));
    s.statuses.retain(|st| !statuses || st.0 != Some(id));
    Ok(store(svc, by, Some(f.id), s).await?.1)
}

/// Adds a post the actor may see to one of their filters.
pub async fn add_status(svc: &Service, by: &Actor, filter: Id, status: Id) -> Result<(Filter, u64)> {
    let account = member(by)?;
    let f = own(svc, account, filter)?;
    crate::statuses::visible(&svc.read()?, account, status)?;
    let mut s = spec_of(&f);
    if s.statuses.len() >= MAX_FILTER_ITEMS {
        return Err(Error::invalid(format!("A filter names at most {MAX_FILTER_ITEMS} posts")));
    }
    s.statuses.push((None, status));
    store(svc, by, Some(f.id), s).await
}
