//! People: profiles with their tabs (posts, posts and replies, likes, followers, following),
//! follow / mute / block, a post's page with its thread, and search.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup, PreEscaped};
use roost_core::model::Account;
use roost_core::query::{self, Page};
use roost_raft::ReadView;
use roost_service::media::Size as MediaSize;
use roost_service::social::{self, Relation};
use roost_types::{FilterContext, Id};
use serde::Deserialize;

use super::page;
use super::pages::{run_action, CsrfForm};
use super::post::{avatar, composer, display_name, Cards, Draft};
use super::session::WebUser;
use super::timelines::{or_problem, TimelineParams, PAGE};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::AppState;

/// The tabs of a profile.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Posts,
    WithReplies,
    Likes,
    Followers,
    Following,
}

impl Tab {
    fn path(self) -> &'static str {
        match self {
            Tab::Posts => "",
            Tab::WithReplies => "/with_replies",
            Tab::Likes => "/likes",
            Tab::Followers => "/followers",
            Tab::Following => "/following",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Posts => "Posts",
            Tab::WithReplies => "Posts & replies",
            Tab::Likes => "Likes",
            Tab::Followers => "Followers",
            Tab::Following => "Following",
        }
    }
}

/// `GET /@:username`
pub async fn profile(
    State(state): State<AppState>,
    user: WebUser,
    Path(username): Path<String>,
    Input(p): Input<TimelineParams>,
) -> Response {
    let built = profile_page(&state, &user, &username, Tab::Posts, p.max_id);
    or_problem(&state, &user, built)
}

/// `GET /@:username/:part`: a post (by ID) with its thread, or one of the profile's tabs.
pub async fn profile_part(
    State(state): State<AppState>,
    user: WebUser,
    Path((username, part)): Path<(String, String)>,
    Input(p): Input<TimelineParams>,
) -> Response {
    let tab = match part.as_str() {
        "with_replies" => Tab::WithReplies,
        "likes" => Tab::Likes,
        "followers" => Tab::Followers,
        "following" => Tab::Following,
        id => return or_problem(&state, &user, thread(&state, &user, &username, id)),
    };
    let built = profile_page(&state, &user, &username, tab, p.max_id);
    or_problem(&state, &user, built)
}

fn member(view: &roost_raft::ReadView, user: &WebUser, username: &str) -> ApiResult<Account> {
    let Some(username) = username.strip_prefix('@') else { return Err(ApiError::NotFound) };
    let account = query::account_by_username(view, username)?.ok_or(ApiError::NotFound)?;
    if query::relationship(view, user.id(), account.id)?.blocked_by {
        return Err(ApiError::NotFound);
    }
    // A suspended member's profile is gone for everyone but moderators.
    if !roost_core::visibility::account_shown(view, user.id(), account.id)? {
        return Err(ApiError::NotFound);
    }
    Ok(account)
}

fn profile_page(state: &AppState, user: &WebUser, username: &str, tab: Tab, max_id: Option<Id>) -> ApiResult<Response> {
    let view = state.node().read()?;
    let account = member(&view, user, username)?;
    let me = account.id == user.id();
    // Likes are private: each member sees only their own.
    if tab == Tab::Likes && !me {
        return Err(ApiError::NotFound);
    }
    let rel = query::relationship(&view, user.id(), account.id)?;
    let page_ = Page { max_id, limit: PAGE, ..Page::default() };
    let base = format!("/@{}{}", account.username, tab.path());
    let mut cards = Cards::new(&view, state, user, FilterContext::Account)?;
    let (content, next): (Markup, Option<Id>) = match tab {
        Tab::Posts | Tab::WithReplies => {
            let filter = query::AccountFilter { exclude_replies: tab == Tab::Posts, ..Default::default() };
            let items = query::account_statuses(&view, user.id(), account.id, filter, &page_)?;
            let posts = cards.all(&items)?;
            let next = items.last().map(|(s, _)| s.id).filter(|_| items.len() >= PAGE);
            (html! { @if posts.is_empty() { p.card { "No posts yet." } } @for p in &posts { (p) } }, next)
        }
        Tab::Likes => {
            let found = query::favourites(&view, user.id(), &page_)?;
            let next = found.last().map(|(f, _)| *f).filter(|_| found.len() >= PAGE);
            let items: Vec<query::Shown> = found.into_iter().map(|(_, s)| s).collect();
            let posts = cards.all(&items)?;
            (html! { @if posts.is_empty() { p.card { "No likes yet." } } @for p in &posts { (p) } }, next)
        }
        Tab::Followers | Tab::Following if account.hide_collections && account.id != user.id() => {
            (html! { p.card { (display_name(&account)) " keeps this list to themselves." } }, None)
        }
        Tab::Followers | Tab::Following => {
            let people = if tab == Tab::Followers {
                query::followers(&view, user.id(), account.id, &page_)?
            } else {
                query::following(&view, user.id(), account.id, &page_)?
            };
            let next = people.last().map(|(f, _)| *f).filter(|_| people.len() >= PAGE);
            (people_list(&view, &people.into_iter().map(|(_, a)| a).collect::<Vec<_>>(), "Nobody yet."), next)
        }
    };
    let name = display_name(&account);
    let note = cards.r.content(&account.note, &[])?;
    let relate = |verb: &str, label: &str, pressed: bool| {
        html! {
            form.inline method="post" action={ "/web/accounts/" (account.id) "/" (verb) } {
                input type="hidden" name="csrf" value=(user.csrf());
                input type="hidden" name="back" value={ "/@" (account.username) };
                button type="submit" aria-pressed=(pressed) { (label) }
            }
        }
    };
    let body = html! {
        div.card.profile {
            (profile_header(&view, &account))
            h1 { (avatar(&view, &account, 96)) " " (name) }
            p.meta { "@" (account.username)
                @if query::suspended(&view, account.id)? { " · " span.badge.suspended { "suspended" } }
                @if rel.followed_by { " · follows you" }
                @if account.locked { " · approves followers" } }
            @if !account.note.is_empty() { div.content { (PreEscaped(&note)) } }
            p.meta {
                (account.statuses_count) " posts · "
                a href={ "/@" (account.username) "/following" } { (account.following_count) " following" } " · "
                a href={ "/@" (account.username) "/followers" } { (account.followers_count) " followers" }
            }
            @if me {
                p { a.button href="/settings" { "Edit profile" } }
            } @else {
                div.actions {
                    @if rel.following { (relate("unfollow", "Unfollow", true)) }
                    @else if rel.requested { (relate("unfollow", "Cancel follow request", true)) }
                    @else if !rel.blocking { (relate("follow", "Follow", false)) }
                    @if rel.muting { (relate("unmute", "Unmute", true)) } @else { (relate("mute", "Mute", false)) }
                    @if rel.blocking { (relate("unblock", "Unblock", true)) } @else { (relate("block", "Block", false)) }
                }
            }
        }
        nav.tabs aria-label="Profile" {
            @for t in [Tab::Posts, Tab::WithReplies, Tab::Likes, Tab::Followers, Tab::Following] {
                @if t != Tab::Likes || me {
                    a href={ "/@" (account.username) (t.path()) } aria-current=[(t == tab).then_some("page")] { (t.label()) }
                }
            }
        }
        section aria-label={ (tab.label()) " of " (name) } { (content) }
        @if let Some(id) = next { p.more { a.button href={ (base) "?max_id=" (id) } rel="next" { "Load more" } } }
    };
    Ok(page(StatusCode::OK, state, name, Some(user), body))
}

/// People as a list of links with their avatars and handles.
fn people_list(view: &ReadView, people: &[Account], empty: &str) -> Markup {
    html! {
        @if people.is_empty() { p.card { (empty) } }
        ul.people.card {
            @for a in people {
                li { (avatar(view, a, 32)) " " a href={ "/@" (a.username) } { (display_name(a)) } " " span.handle { "@" (a.username) } }
            }
        }
    }
}

/// A profile's own header picture, if it has one (the default band is left out of pages).
fn profile_header(view: &ReadView, a: &Account) -> Markup {
    let Some(m) = a.header.and_then(|id| roost_core::media::media(view, id).ok().flatten()) else {
        return html! {};
    };
    let src = crate::entities::media_url(&m, MediaSize::Original, roost_service::media::ANYONE, false, "");
    html! { img.banner src=(src) width=(m.original.width) height=(m.original.height) alt=""; }
}

/// A post with its whole thread, a reply composer, and its edit history.
fn thread(state: &AppState, user: &WebUser, username: &str, id: &str) -> ApiResult<Response> {
    let id: Id = id.parse().map_err(|_| ApiError::NotFound)?;
    let view = state.node().read()?;
    let (s, o) = query::visible_status(&view, user.id(), id)?.ok_or(ApiError::NotFound)?;
    let author = query::account(&view, s.author)?.ok_or(ApiError::NotFound)?;
    if !author.username.eq_ignore_ascii_case(username.trim_start_matches('@')) {
        return Err(ApiError::NotFound);
    }
    let (ancestors, descendants) = query::context(&view, user.id(), id)?.ok_or(ApiError::NotFound)?;
    let mut cards = Cards::new(&view, state, user, FilterContext::Thread)?;
    let before = cards.all(&ancestors.into_iter().map(|a| (a, None)).collect::<Vec<_>>())?;
    let main = cards.card(&s, o.as_ref())?;
    let after = cards.all(&descendants.into_iter().map(|d| (d, None)).collect::<Vec<_>>())?;
    let shown = o.as_ref().unwrap_or(&s);
    let versions = if shown.edited_at.is_some() { query::status_versions(&view, shown.id)? } else { Vec::new() };
    // A reply starts by mentioning the author (and whoever they mention), as on Mastodon.
    let mut mention = String::new();
    if author.id != user.id() {
        mention = format!("@{} ", author.username);
    }
    let back = format!("/@{}/{}", author.username, s.id);
    let draft = Draft {
        text: &mention,
        in_reply_to: Some(shown.id),
        visibility: Some(shown.visibility),
        back: &back,
        ..Draft::default()
    };
    let body = html! {
        h1 { "Post" }
        @if !before.is_empty() { section aria-label="Earlier in the thread" { @for p in &before { (p) } } }
        section aria-label="The post" { @if let Some(m) = &main { (m) } }
        @if !versions.is_empty() {
            details.card #history {
                summary { "Edit history (" (versions.len() + 1) " versions)" }
                ol {
                    li { strong { "Current" } " — " (super::time(shown.edited_at.unwrap_or(shown.created_at))) div.content { (shown.text) } }
                    @for v in versions.iter().rev() {
                        li { (super::time(v.created_at)) div.content { (v.text) } }
                    }
                }
            }
        }
        (composer(state, user, &draft))
        @if !after.is_empty() { section aria-label="Replies" { @for p in &after { (p) } } }
    };
    Ok(page(StatusCode::OK, state, "Post", Some(user), body))
}

/// `POST /web/accounts/:id/follow|unfollow|mute|unmute|block|unblock`
pub async fn relate(
    State(state): State<AppState>,
    user: WebUser,
    Path((id, action)): Path<(String, String)>,
    Input(f): Input<CsrfForm>,
) -> Response {
    run_action(&state, &user, &f, async {
        let target: Id = id.parse().map_err(|_| ApiError::NotFound)?;
        let what = match action.as_str() {
            "follow" => Relation::Follow { reblogs: true, notify: false },
            "unfollow" => Relation::Unfollow,
            "mute" => Relation::Mute { notifications: true, duration: None },
            "unmute" => Relation::Unmute,
            "block" => Relation::Block,
            "unblock" => Relation::Unblock,
            _ => return Err(ApiError::NotFound),
        };
        Ok(social::relate(state.service(), &user.actor(), target, what).await?)
    })
    .await
}

#[derive(Deserialize, Default)]
pub struct SearchParams {
    #[serde(default, deserialize_with = "de::string_opt")]
    q: Option<String>,
}

/// `GET /search?q=`: people and hashtags (full-text search of posts comes later).
pub async fn search(State(state): State<AppState>, user: WebUser, Input(p): Input<SearchParams>) -> Response {
    let built = (|| {
        let q = p.q.as_deref().unwrap_or_default().trim().chars().take(100).collect::<String>();
        let view = state.node().read()?;
        let (people, tags) = if q.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            (
                roost_core::discover::accounts(&view, user.id(), &q, 20, 0, false)?,
                roost_core::discover::hashtags(&view, q.trim_start_matches('#'), 20, 0)?,
            )
        };
        let body = html! {
            h1 { "Search" }
            form.card role="search" method="get" action="/search" {
                label for="q" { "People and hashtags" }
                input #q type="search" name="q" value=(q) autofocus;
                p { button type="submit" { "Search" } }
            }
            @if !q.is_empty() {
                section aria-label="People" {
                    h2 { "People" }
                    (people_list(&view, &people, "Nobody matches."))
                }
                section aria-label="Hashtags" {
                    h2 { "Hashtags" }
                    @if tags.is_empty() { p.card { "No hashtags match." } }
                    ul.people.card { @for t in &tags { li { a href={ "/tags/" (t) } { "#" (t) } } } }
                }
            }
        };
        Ok(page(StatusCode::OK, &state, "Search", Some(&user), body))
    })();
    or_problem(&state, &user, built)
}
