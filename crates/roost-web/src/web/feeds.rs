//! The Feeds pages, for members (issue 14): the feeds they may read (published for everyone,
//! and their own) with subscribe buttons, a form to write a personal feed, and one feed's page
//! (its ranked timeline, or a preview until it is live; for its owner, the source to edit into
//! a new version, deploy, roll back and stop). Plain forms: they work without JavaScript.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use roost_core::query::Page;
use roost_service::extensions::{self, Draft};
use roost_service::feeds::{self, Feed};
use roost_types::{ExtensionKind, ExtensionMode, FeedSpec, FilterContext, Id};
use serde::Deserialize;

use super::page;
use super::pages::{problem, see_other};
use super::post::Cards;
use super::session::WebUser;
use super::timelines::{or_problem, TimelineParams, PAGE};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::AppState;

/// A starting point for a new feed.
const EXAMPLE: &str = r#"// rank(input) gets {reader, now, posts: [{id, text, author: {username, ...},
// created_at, tags, reply, media, replies_count, reblogs_count, favourites_count}]}
// and answers the IDs of the posts to show, in order.
function rank(input) {
  const score = p => p.favourites_count + 2 * p.reblogs_count + p.replies_count;
  return input.posts
    .filter(p => !p.reply)
    .sort((a, b) => score(b) - score(a) || b.created_at - a.created_at)
    .map(p => p.id);
}
"#;

const DEFAULT_WINDOW_HOURS: u64 = 24 * 7;

fn sources_text(view: &roost_raft::ReadView, spec: &FeedSpec) -> ApiResult<String> {
    let parts: Vec<String> = spec.sources.iter().map(|s| feeds::source_text(view, s)).collect::<Result<_, _>>()?;
    Ok(parts.join("\n"))
}

fn subscribe_button(user: &WebUser, f: &Feed) -> Markup {
    html! {
        @if f.extension.deployed.is_some() {
            form.inline method="post" action={ "/feeds/" (f.extension.id) "/" (if f.subscribed { "unsubscribe" } else { "subscribe" }) } {
                input type="hidden" name="csrf" value=(user.csrf());
                button type="submit" {
                    (if f.subscribed { "Unsubscribe" } else { "Subscribe" })
                    span.visually-hidden { " " (f.extension.name) }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct FeedForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    csrf: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    name: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    description: Option<String>,
    /// One source per line.
    #[serde(default, deserialize_with = "de::string_opt")]
    sources: Option<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    window_hours: Option<u64>,
    #[serde(default, deserialize_with = "de::string_opt")]
    source: Option<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    version: Option<u64>,
}

fn draft(state: &AppState, extension: Option<Id>, f: &FeedForm) -> ApiResult<Draft> {
    let mut sources = Vec::new();
    for line in f.sources.as_deref().unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()) {
        if sources.len() > roost_types::MAX_FEED_SOURCES {
            break;
        }
        sources.push(feeds::parse_source(state.service(), line)?);
    }
    let window_hours = u32::try_from(f.window_hours.unwrap_or(DEFAULT_WINDOW_HOURS)).unwrap_or(u32::MAX);
    Ok(Draft {
        extension,
        name: f.name.clone().unwrap_or_default(),
        kind: Some(ExtensionKind::Feed),
        description: f.description.clone().unwrap_or_default(),
        feed: Some(FeedSpec { sources, window_hours, personal: true }),
        source: f.source.clone().unwrap_or_default(),
        ..Draft::default()
    })
}

/// The fields of a feed's form, filled from `f`, or from the version being edited.
fn feed_fields(f: Option<&FeedForm>, sources: &str, window: u64, source: &str) -> Markup {
    html! {
        label for="sources" { "Where its posts come from, one per line" }
        textarea #sources name="sources" rows="3" aria-describedby="sources-help" required {
            (f.and_then(|f| f.sources.as_deref()).unwrap_or(sources))
        }
        p.meta #sources-help {
            code { "home" } " (your home timeline), " code { "local" } " (everyone's public posts), "
            code { "#tag" } ", " code { "@username" } " or " code { "list:ID" } " (one of your lists). "
            "The feed only ever sees posts you may read yourself."
        }
        label for="window_hours" { "How far back, in hours" }
        input #window_hours type="number" name="window_hours" min="1" max=(roost_types::MAX_FEED_WINDOW_HOURS)
            value=(f.and_then(|f| f.window_hours).unwrap_or(window));
        label for="source" { "How it ranks them (JavaScript)" }
        textarea #source .code name="source" rows="14" spellcheck="false" {
            (f.and_then(|f| f.source.as_deref()).unwrap_or(source))
        }
    }
}

/// `GET /feeds`
pub async fn index(State(state): State<AppState>, user: WebUser) -> Response {
    or_problem(&state, &user, list_page(&state, &user, None, None))
}

fn list_page(state: &AppState, user: &WebUser, error: Option<&str>, draft: Option<&FeedForm>) -> ApiResult<Response> {
    let all = feeds::available(state.service(), &user.actor())?;
    let view = state.node().read()?;
    let mut rows = Vec::with_capacity(all.len());
    for f in &all {
        rows.push((f, sources_text(&view, &f.spec)?.replace('\n', ", ")));
    }
    let body = html! {
        h1 { "Feeds" }
        p { "Timelines ranked your way. A feed picks and orders posts from the sources it names, "
            "and only ever among posts you may read. Subscribed feeds also appear among your lists in Mastodon apps." }
        section.card aria-labelledby="feeds-title" {
            h2 #feeds-title { "Feeds you can read" }
            @if rows.is_empty() { p { "None yet: write one below." } }
            @else {
                ul.feeds {
                    @for (f, sources) in &rows {
                        li {
                            a href={ "/feeds/" (f.extension.id) } { (f.extension.name) }
                            " " span.meta {
                                (if f.extension.owner.is_some() { "yours" } else { "for everyone" })
                                " · " (sources)
                                @if f.extension.deployed.is_none() { " · not live yet" }
                            }
                            @if !f.description.is_empty() { br; span { (f.description) } }
                            " " (subscribe_button(user, f))
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="new-title" {
            h2 #new-title { "Write a personal feed" }
            @if let Some(message) = error { p.error role="alert" { (message) } }
            form method="post" action="/feeds" {
                input type="hidden" name="csrf" value=(user.csrf());
                label for="name" { "Name" }
                input #name type="text" name="name" required maxlength=(extensions::MAX_NAME_CHARS)
                    value=(draft.and_then(|d| d.name.as_deref()).unwrap_or_default());
                label for="description" { "What it is for (optional)" }
                input #description type="text" name="description" maxlength=(extensions::MAX_DESCRIPTION_CHARS)
                    value=(draft.and_then(|d| d.description.as_deref()).unwrap_or_default());
                (feed_fields(draft, "home", DEFAULT_WINDOW_HOURS, EXAMPLE))
                button type="submit" { "Save and preview" }
            }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(page(status, state, "Feeds", Some(user), body))
}

fn refused(e: &ApiError) -> bool {
    e.status() == StatusCode::UNPROCESSABLE_ENTITY || e.status() == StatusCode::PAYLOAD_TOO_LARGE
}

/// `POST /feeds`: a new personal feed, or the form again with the reason it was refused.
pub async fn create(State(state): State<AppState>, user: WebUser, Input(f): Input<FeedForm>) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(&state, Some(&user), &e);
    }
    let saved = async {
        let d = draft(&state, None, &f)?;
        Ok::<_, ApiError>(extensions::save(state.service(), &user.actor(), d).await?)
    };
    match saved.await {
        Ok((id, _, _)) => see_other(&format!("/feeds/{id}")),
        Err(e) if refused(&e) => or_problem(&state, &user, list_page(&state, &user, Some(&e.to_string()), Some(&f))),
        Err(e) => problem(&state, Some(&user), &e),
    }
}

/// `GET /feeds/:id`
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Input(p): Input<TimelineParams>,
) -> Response {
    let built = async { detail_page(&state, &user, parse(&id)?, p.max_id, None, None).await };
    or_problem(&state, &user, built.await)
}

fn parse(id: &str) -> ApiResult<Id> {
    id.parse().map_err(|_| ApiError::NotFound)
}

async fn detail_page(
    state: &AppState,
    user: &WebUser,
    id: Id,
    max_id: Option<Id>,
    error: Option<&str>,
    edited: Option<&FeedForm>,
) -> ApiResult<Response> {
    let by = user.actor();
    let feed =
        feeds::available(state.service(), &by)?.into_iter().find(|f| f.extension.id == id).ok_or(ApiError::NotFound)?;
    let e = &feed.extension;
    let live = e.deployed.is_some();
    let items = if live {
        feeds::timeline(state.service(), &by, id, &Page { max_id, limit: PAGE, ..Page::default() }).await?
    } else {
        feeds::preview(state.service(), &by, id, None, PAGE).await?
    };
    let mine = e.owner == Some(user.id());
    let owned = if mine { Some(extensions::show(state.service(), &by, id)?) } else { None };
    let latest = if mine { Some(extensions::version(state.service(), &by, id, e.latest)?) } else { None };
    let view = state.node().read()?;
    let posts = Cards::new(&view, state, user, FilterContext::Home)?.all(&items)?;
    let sources = sources_text(&view, &feed.spec)?;
    let base = format!("/feeds/{id}");
    let older =
        (live && items.len() >= PAGE).then(|| items.last().map(|s| format!("{base}?max_id={}", s.0.id))).flatten();
    let csrf = user.csrf();
    let body = html! {
        h1 { (e.name) }
        section.card aria-label="About this feed" {
            @if !feed.description.is_empty() { p { (feed.description) } }
            p.meta {
                (if mine { "Your personal feed" } else { "A feed for everyone" })
                " · from " (sources.replace('\n', ", ")) " · the last " (feed.spec.window_hours) " hours"
                @match e.deployed { Some(d) => { " · live, version " (d.version) } None => { " · not live yet: this is a preview" } }
            }
            (subscribe_button(user, &feed))
        }
        @if let (Some((_, versions, figures)), Some(latest)) = (&owned, &latest) {
            details.card open[error.is_some() || !live] {
                summary { "Source and versions" }
                @if let Some(f) = figures {
                    p.meta { (f.calls) " rankings on this node, " (f.errors) " failed" }
                    @for message in &f.recent_errors { p.error { (message) } }
                }
                @if let Some(message) = error { p.error role="alert" { (message) } }
                form method="post" action={ (base) "/version" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="name" value=(e.name);
                    input type="hidden" name="description" value=(feed.description);
                    (feed_fields(edited, &sources, u64::from(feed.spec.window_hours), &latest.source))
                    button type="submit" { "Save version " (e.latest + 1) }
                }
                div.scroll { table {
                    thead { tr { th { "Version" } th { "Saved" } th { "" } } }
                    tbody {
                        @for v in versions {
                            tr {
                                td { (v.version) }
                                td { (super::time(v.at)) }
                                td {
                                    @if e.deployed.is_some_and(|d| d.version == v.version) { "live" }
                                    @else {
                                        form.inline method="post" action={ (base) "/deploy" } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="version" value=(v.version);
                                            button type="submit" { "Make version " (v.version) " live" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
                @if live {
                    form method="post" action={ (base) "/disable" } {
                        input type="hidden" name="csrf" value=(csrf);
                        p { button.danger type="submit" { "Stop this feed" } }
                    }
                }
            }
        }
        (super::timelines::timeline(&e.name, &posts, older, "No posts in this feed right now."))
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(page(status, state, &e.name, Some(user), body))
}

/// `POST /feeds/:id/subscribe|unsubscribe|version|deploy|disable`
pub async fn act(
    State(state): State<AppState>,
    user: WebUser,
    Path((id, what)): Path<(String, String)>,
    Input(f): Input<FeedForm>,
) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(&state, Some(&user), &e);
    }
    let Ok(id) = parse(&id) else { return problem(&state, Some(&user), &ApiError::NotFound) };
    let (svc, by) = (state.service(), user.actor());
    let done: ApiResult<Option<Response>> = async {
        match what.as_str() {
            "subscribe" | "unsubscribe" => {
                feeds::subscribe(svc, &by, id, what == "subscribe").await?;
            }
            "version" => {
                let saved =
                    async { Ok::<_, ApiError>(extensions::save(svc, &by, draft(&state, Some(id), &f)?).await?) };
                if let Err(e) = saved.await {
                    if refused(&e) {
                        return Ok(Some(detail_page(&state, &user, id, None, Some(&e.to_string()), Some(&f)).await?));
                    }
                    return Err(e);
                }
            }
            "deploy" => {
                let version = f
                    .version
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| ApiError::unprocessable("Choose a version"))?;
                extensions::deploy(svc, &by, id, version, ExtensionMode::Enforce).await?;
            }
            "disable" => {
                extensions::disable(svc, &by, id).await?;
            }
            _ => return Err(ApiError::NotFound),
        }
        Ok(None)
    }
    .await;
    match done {
        Ok(Some(page)) => page,
        Ok(None) => see_other(&format!("/feeds/{id}")),
        Err(e) => problem(&state, Some(&user), &e),
    }
}
