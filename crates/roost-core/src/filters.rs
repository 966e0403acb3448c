//! Filters: a member's own rules for hiding posts, or showing them behind a warning, by
//! keyword or by naming posts, in chosen contexts, until they expire.
//!
//! Stored as commands like everything else; applied on read (timelines, threads,
//! notifications, streams) by [`matches`], with the reader's clock deciding expiry.

use std::ops::Bound;

use roost_types::{FilterContext, FilterSpec, Id, Millis, Outcome, Rejection, MAX_FILTERS};

use crate::effects::{EffectSink, Event};
use crate::ids::next_id;
use crate::kv::{bound_ref, collect_keys, get_value, k1, k2, prefix_bounds, put_value, Dir, ReadTables, Table, Tables};
use crate::model::{Filter, Status};
use crate::{query, Result};

pub(crate) fn save(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    filter: Option<Id>,
    spec: &FilterSpec,
    fx: &mut dyn EffectSink,
) -> Result<Outcome> {
    if query::account(t, account)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    let current = match filter {
        Some(id) => match get_value::<Filter>(t, Table::Filter, &k2(account, id))? {
            Some(f) => Some(f),
            None => return Ok(Outcome::Rejected(Rejection::NotFound)),
        },
        None => {
            if collect_keys(t, Table::Filter, &k1(account), MAX_FILTERS)?.len() >= MAX_FILTERS {
                return Ok(Outcome::Rejected(Rejection::LimitReached));
            }
            None
        }
    };
    // Items keep their IDs when they name ones the filter has; others are new.
    let known = |id: Option<Id>, list: &[Id]| id.filter(|i| list.contains(i));
    let old_keywords: Vec<Id> = current.iter().flat_map(|f| f.keywords.iter().map(|k| k.0)).collect();
    let old_statuses: Vec<Id> = current.iter().flat_map(|f| f.statuses.iter().map(|s| s.0)).collect();
    let id = match &current {
        Some(f) => f.id,
        None => next_id(t, at)?,
    };
    let mut keywords = Vec::with_capacity(spec.keywords.len());
    for (kid, word, whole) in &spec.keywords {
        let kid = match known(*kid, &old_keywords) {
            Some(k) => k,
            None => next_id(t, at)?,
        };
        keywords.push((kid, word.clone(), *whole));
    }
    let mut statuses = Vec::with_capacity(spec.statuses.len());
    for (sid, status) in &spec.statuses {
        let sid = match known(*sid, &old_statuses) {
            Some(s) => s,
            None => next_id(t, at)?,
        };
        statuses.push((sid, *status));
    }
    let record = Filter {
        id,
        title: spec.title.clone(),
        contexts: spec.contexts.clone(),
        action: spec.action,
        expires_at: spec.expires_at,
        keywords,
        statuses,
    };
    put_value(t, Table::Filter, &k2(account, id), &record)?;
    fx.event(Event::FiltersChanged { account });
    Ok(Outcome::created(id))
}

pub(crate) fn delete(t: &mut impl Tables, account: Id, filter: Id, fx: &mut dyn EffectSink) -> Result<Outcome> {
    if t.delete(Table::Filter, &k2(account, filter))? {
        fx.event(Event::FiltersChanged { account });
        Ok(Outcome::done())
    } else {
        Ok(Outcome::Rejected(Rejection::NotFound))
    }
}

/// The account's filters, oldest first.
pub fn filters(t: &(impl ReadTables + ?Sized), account: Id) -> Result<Vec<Filter>> {
    let mut out = Vec::new();
    let (lo, hi) = prefix_bounds(&k1(account));
    t.scan(Table::Filter, Bound::Included(&lo), bound_ref(&hi), Dir::Forward, &mut |_, v| {
        out.push(crate::kv::decode(v)?);
        Ok(true)
    })?;
    Ok(out)
}

/// One of the account's filters.
pub fn filter(t: &(impl ReadTables + ?Sized), account: Id, id: Id) -> Result<Option<Filter>> {
    get_value(t, Table::Filter, &k2(account, id))
}

/// The filters in force for a context at time `now`.
pub fn active(all: &[Filter], context: FilterContext, now: Millis) -> Vec<&Filter> {
    all.iter().filter(|f| f.contexts.contains(&context) && f.expires_at.is_none_or(|e| e > now)).collect()
}

/// How a filter matched a post: the keywords found, and its entries that name the post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match<'f> {
    pub filter: &'f Filter,
    pub keywords: Vec<&'f str>,
    pub statuses: Vec<Id>,
}

/// Which of `filters` match a post (its text and content warning; for a reblog, pass the post
/// it shares).
pub fn matches<'f>(filters: &[&'f Filter], s: &Status) -> Vec<Match<'f>> {
    let text = format!("{}\n{}", s.spoiler_text, s.text).to_lowercase();
    let mut out = Vec::new();
    for &f in filters {
        let keywords: Vec<&str> = f
            .keywords
            .iter()
            .filter(|(_, word, whole)| contains(&text, &word.to_lowercase(), *whole))
            .map(|(_, word, _)| word.as_str())
            .collect();
        let statuses: Vec<Id> = f.statuses.iter().filter(|&&(_, id)| id == s.id).map(|&(entry, _)| entry).collect();
        if !keywords.is_empty() || !statuses.is_empty() {
            out.push(Match { filter: f, keywords, statuses });
        }
    }
    out
}

/// Whether `word` occurs in `text`; with `whole_word`, only where neither side continues a word.
fn contains(text: &str, word: &str, whole_word: bool) -> bool {
    if word.is_empty() {
        return false;
    }
    if !whole_word {
        return text.contains(word);
    }
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !is_word(before) && !is_word(after)
    })
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn whole_words_only_when_asked() {
        assert!(contains("i love rust.", "rust", true));
        assert!(!contains("trusty tools", "rust", true));
        assert!(contains("trusty tools", "rust", false));
        assert!(contains("#rust!", "rust", true));
        assert!(!contains("anything", "", false));
    }
}
