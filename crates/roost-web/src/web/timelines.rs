//! Timelines as pages: home (with the composer and the live "new posts" banner), local,
//! hashtags, bookmarks, lists; and notifications, grouped.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use roost_core::model::NotificationKind;
use roost_core::query::{self, NotificationFilter, Page};
use roost_service::lists::{self, ListSettings};
use roost_service::tags;
use roost_types::{FilterContext, Id, MarkerTimeline, RepliesPolicy};
use serde::Deserialize;

use super::page;
use super::pages::{problem, run_action, CsrfForm};
use super::post::{composer, display_name, Cards, Draft};
use super::session::WebUser;
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input};
use crate::AppState;

/// Posts per page of a timeline.
pub const PAGE: usize = 20;

#[derive(Deserialize, Default)]
pub struct TimelineParams {
    #[serde(default, deserialize_with = "de::id_opt")]
    pub max_id: Option<Id>,
    /// Home: quote this post in the composer.
    #[serde(default, deserialize_with = "de::id_opt")]
    quote: Option<Id>,
}

/// Runs a page builder, turning its error into an error page.
pub fn or_problem(state: &AppState, user: &WebUser, built: ApiResult<Response>) -> Response {
    built.unwrap_or_else(|e| problem(state, Some(user), &e))
}

/// A timeline section with its cards, and "load older" when the page was full.
pub(super) fn timeline(label: &str, cards: &[Markup], older: Option<String>, empty: &str) -> Markup {
    html! {
        section.timeline aria-label=(label) {
            @if cards.is_empty() { p.card { (empty) } }
            @for c in cards { (c) }
        }
        @if let Some(href) = older {
            p.more { a.button href=(href) rel="next" { "Load older posts" } }
        }
    }
}

/// The "load older" link for a page of `n` items whose last has ID `last`.
fn older(base: &str, n: usize, last: Option<Id>) -> Option<String> {
    let sep = if base.contains('?') { '&' } else { '?' };
    last.filter(|_| n >= PAGE).map(|id| format!("{base}{sep}max_id={id}"))
}

// ---- home --------------------------------------------------------------------------------------

pub async fn home(State(state): State<AppState>, user: WebUser, Input(p): Input<TimelineParams>) -> Response {
    let built = (|| {
        let view = state.node().read()?;
        let page_ = Page { max_id: p.max_id, limit: PAGE, ..Page::default() };
        let items = query::home(&view, state.node().home(), user.id(), &page_)?;
        let mut cards = Cards::new(&view, &state, &user, FilterContext::Home)?;
        let posts = cards.all(&items)?;
        let quoting = match p.quote {
            Some(q) => {
                let (s, o) = query::visible_status(&view, user.id(), q)?.ok_or(ApiError::NotFound)?;
                cards.card(&s, o.as_ref())?
            }
            None => None,
        };
        let draft = Draft { quote_of: quoting.as_ref().and(p.quote), back: "/", ..Draft::default() };
        let body = html! {
            h1 { "Home" }
            (composer(&state, &user, &draft))
            @if let Some(q) = &quoting { section.quoting aria-label="The post you are quoting" { (q) } }
            // The script shows "N new posts" here; it never moves what is below.
            div #new-posts aria-live="polite" {}
            (timeline("Home timeline", &posts, older("/", items.len(), items.last().map(|(s, _)| s.id)),
                "Nothing here yet. Follow people, or write the first post."))
        };
        Ok(page(StatusCode::OK, &state, "Home", Some(&user), body))
    })();
    or_problem(&state, &user, built)
}

// ---- local, hashtags, bookmarks ---------------------------------------------------------------

pub async fn local(State(state): State<AppState>, user: WebUser, Input(p): Input<TimelineParams>) -> Response {
    let built = (|| {
        let view = state.node().read()?;
        let items = query::public(&view, user.id(), &Page { max_id: p.max_id, limit: PAGE, ..Page::default() })?;
        let posts = Cards::new(&view, &state, &user, FilterContext::Public)?.all(&items)?;
        let body = html! {
            h1 { "Local" }
            p.meta { "Everyone's public posts on " (state.config().title) "." }
            (timeline("Local timeline", &posts, older("/local", items.len(), items.last().map(|(s, _)| s.id)),
                "No public posts yet."))
        };
        Ok(page(StatusCode::OK, &state, "Local", Some(&user), body))
    })();
    or_problem(&state, &user, built)
}

/// A hashtag as typed in a URL (see `tags::tag_name`).
fn tag_name(raw: &str) -> ApiResult<String> {
    Ok(tags::tag_name(raw)?)
}

pub async fn hashtag(
    State(state): State<AppState>,
    user: WebUser,
    Path(tag): Path<String>,
    Input(p): Input<TimelineParams>,
) -> Response {
    let built = (|| {
        let tag = tag_name(&tag)?;
        let view = state.node().read()?;
        let items = query::tag(&view, user.id(), &tag, &Page { max_id: p.max_id, limit: PAGE, ..Page::default() })?;
        let posts = Cards::new(&view, &state, &user, FilterContext::Public)?.all(&items)?;
        let following = query::follows_tag(&view, user.id(), &tag)?;
        let body = html! {
            div.card {
                h1 { "#" (tag) }
                form method="post" action={ "/web/tags/" (tag) "/" (if following { "unfollow" } else { "follow" }) } {
                    input type="hidden" name="csrf" value=(user.csrf());
                    input type="hidden" name="back" value={ "/tags/" (tag) };
                    button type="submit" aria-pressed=(following) {
                        @if following { "Following #" (tag) } @else { "Follow #" (tag) }
                    }
                }
            }
            (timeline(&format!("Posts with #{tag}"), &posts,
                older(&format!("/tags/{tag}"), items.len(), items.last().map(|(s, _)| s.id)), "No posts with this hashtag yet."))
        };
        Ok(page(StatusCode::OK, &state, &format!("#{tag}"), Some(&user), body))
    })();
    or_problem(&state, &user, built)
}

/// `POST /web/tags/:tag/follow|unfollow`
pub async fn follow_tag(
    State(state): State<AppState>,
    user: WebUser,
    Path((tag, action)): Path<(String, String)>,
    Input(f): Input<CsrfForm>,
) -> Response {
    run_action(&state, &user, &f, async {
        let follow = match action.as_str() {
            "follow" => true,
            "unfollow" => false,
            _ => return Err(ApiError::NotFound),
        };
        Ok(tags::follow_tag(state.service(), &user.actor(), &tag, follow).await?)
    })
    .await
}

pub async fn bookmarks(State(state): State<AppState>, user: WebUser, Input(p): Input<TimelineParams>) -> Response {
    let built = (|| {
        let view = state.node().read()?;
        let found = query::bookmarks(&view, user.id(), &Page { max_id: p.max_id, limit: PAGE, ..Page::default() })?;
        let last = found.last().map(|(b, _)| *b);
        let items: Vec<query::Shown> = found.into_iter().map(|(_, s)| s).collect();
        let posts = Cards::new(&view, &state, &user, FilterContext::Account)?.all(&items)?;
        let body = html! {
            h1 { "Bookmarks" }
            (timeline("Bookmarked posts", &posts, older("/bookmarks", items.len(), last), "No bookmarks yet."))
        };
        Ok(page(StatusCode::OK, &state, "Bookmarks", Some(&user), body))
    })();
    or_problem(&state, &user, built)
}

// ---- notifications -----------------------------------------------------------------------------

/// Notifications shown on one page (grouped into fewer rows).
const NOTIFICATIONS_PAGE: usize = 40;

/// Consecutive notifications of one kind about one post (or follows) become one row.
struct Group {
    kind: NotificationKind,
    status: Option<query::Shown>,
    from: Vec<roost_core::model::Account>,
    newest: roost_core::model::Notification,
}

fn kind_text(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Favourite => "liked your post",
        NotificationKind::Reblog => "reposted your post",
        NotificationKind::Follow => "followed you",
        NotificationKind::FollowRequest => "asked to follow you",
        NotificationKind::Mention => "mentioned you",
        NotificationKind::Quote => "quoted your post",
        NotificationKind::Update => "edited a post you reposted",
        NotificationKind::Status => "posted",
        NotificationKind::Poll => "ran a poll that has ended",
    }
}

pub async fn notifications(State(state): State<AppState>, user: WebUser, Input(p): Input<TimelineParams>) -> Response {
    let built = (|| {
        let view = state.node().read()?;
        let page_ = Page { max_id: p.max_id, limit: NOTIFICATIONS_PAGE, ..Page::default() };
        let items = query::notifications(&view, user.id(), &NotificationFilter::default(), &page_)?;
        let read_up_to = query::marker(&view, user.id(), MarkerTimeline::Notifications)?.map(|m| m.last_read_id);
        let newest_unread = items.first().map(|(n, _)| n.id).filter(|&n| read_up_to.is_none_or(|r| r < n));
        let mut groups: Vec<Group> = Vec::new();
        for (n, s) in items.iter().cloned() {
            let Some(from) = query::account(&view, n.from)? else { continue };
            let groupable =
                matches!(n.kind, NotificationKind::Favourite | NotificationKind::Reblog | NotificationKind::Follow);
            if let Some(g) = groups.last_mut() {
                if groupable && g.kind == n.kind && g.newest.status == n.status {
                    if !g.from.iter().any(|a| a.id == from.id) {
                        g.from.push(from);
                    }
                    continue;
                }
            }
            groups.push(Group { kind: n.kind, status: s, from: vec![from], newest: n });
        }
        let mut cards = Cards::new(&view, &state, &user, FilterContext::Notifications)?;
        let mut rows = Vec::new();
        for g in &groups {
            let post = match &g.status {
                Some((s, o)) => cards.card(s, o.as_ref())?,
                None => None,
            };
            let unread = read_up_to.is_none_or(|r| g.newest.id > r);
            let who = html! {
                a href={ "/@" (g.from[0].username) } { (display_name(&g.from[0])) }
                @match g.from.len() {
                    1 => {},
                    2 => { " and " a href={ "/@" (g.from[1].username) } { (display_name(&g.from[1])) } },
                    n => { " and " (n - 1) " others" },
                }
            };
            rows.push(html! {
                li.notification.unread[unread] {
                    p { strong { (who) } " " (kind_text(g.kind)) " " span.meta { (super::time(g.newest.created_at)) } }
                    @if let Some(p) = post { (p) }
                }
            });
        }
        let last = items.last().map(|(n, _)| n.id).filter(|_| items.len() >= NOTIFICATIONS_PAGE);
        let body = html! {
            h1 { "Notifications" }
            // The script sends this form once the page is shown; without it, the reader does.
            @if let Some(newest) = newest_unread {
                form #mark-read method="post" action="/web/notifications/read" {
                    input type="hidden" name="csrf" value=(user.csrf());
                    input type="hidden" name="last_read_id" value=(newest);
                    button.plain type="submit" { "Mark all as read" }
                }
            }
            @if rows.is_empty() { p.card { "No notifications yet." } }
            ol.notifications aria-label="Notifications" { @for r in &rows { (r) } }
            @if let Some(id) = last { p.more { a.button href={ "/notifications?max_id=" (id) } rel="next" { "Older notifications" } } }
        };
        Ok(page(StatusCode::OK, &state, "Notifications", Some(&user), body))
    })();
    or_problem(&state, &user, built)
}

#[derive(Deserialize)]
pub struct ReadForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    csrf: Option<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    last_read_id: Option<Id>,
}

/// `POST /web/notifications/read`: the member has seen notifications up to `last_read_id` (the
/// read marker their other apps see too).
pub async fn notifications_read(State(state): State<AppState>, user: WebUser, Input(f): Input<ReadForm>) -> Response {
    let csrf = CsrfForm { csrf: f.csrf, back: Some("/notifications".into()) };
    run_action(&state, &user, &csrf, async {
        let last_read_id = f.last_read_id.ok_or_else(|| ApiError::unprocessable("Which notifications were read?"))?;
        let timeline = MarkerTimeline::Notifications;
        Ok::<_, ApiError>(
            roost_service::markers::set_marker(state.service(), &user.actor(), timeline, last_read_id).await?,
        )
    })
    .await
}

// ---- lists ---------------------------------------------------------------------------------------

pub async fn lists(State(state): State<AppState>, user: WebUser) -> Response {
    let built = (|| {
        let view = state.node().read()?;
        let lists = query::lists(&view, user.id())?;
        let body = html! {
            h1 { "Lists" }
            section.card aria-label="Your lists" {
                @if lists.is_empty() { p { "No lists yet. A list is a timeline of some of the people you follow." } }
                ul { @for l in &lists { li { a href={ "/lists/" (l.id) } { (l.title) } @if l.exclusive { span.meta { " · not in home" } } } } }
            }
            form.card method="post" action="/lists" aria-label="New list" {
                input type="hidden" name="csrf" value=(user.csrf());
                label for="title" { "Title of the new list" }
                input #title type="text" name="title" required maxlength="100";
                label { input type="checkbox" name="exclusive" value="true"; " Leave its members' posts out of home" }
                p { button type="submit" { "Create list" } }
            }
        };
        Ok(page(StatusCode::OK, &state, "Lists", Some(&user), body))
    })();
    or_problem(&state, &user, built)
}

#[derive(Deserialize)]
pub struct ListForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    csrf: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    title: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    exclusive: Option<bool>,
    #[serde(default, deserialize_with = "de::string_opt")]
    username: Option<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    member: Option<Id>,
}

/// `POST /lists`: a new list.
pub async fn create_list(State(state): State<AppState>, user: WebUser, Input(f): Input<ListForm>) -> Response {
    let csrf = CsrfForm { csrf: f.csrf.clone(), back: Some("/lists".into()) };
    let settings = ListSettings {
        title: Some(f.title.clone().unwrap_or_default()),
        replies_policy: Some(RepliesPolicy::List),
        exclusive: Some(f.exclusive.unwrap_or(false)),
    };
    run_action(&state, &user, &csrf, lists::create(state.service(), &user.actor(), settings)).await
}

pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Input(p): Input<TimelineParams>,
) -> Response {
    let built = (|| {
        let id: Id = id.parse().map_err(|_| ApiError::NotFound)?;
        let view = state.node().read()?;
        let l = query::list(&view, user.id(), id)?.ok_or(ApiError::NotFound)?;
        let items =
            query::list_timeline(&view, user.id(), id, &Page { max_id: p.max_id, limit: PAGE, ..Page::default() })?
                .ok_or(ApiError::NotFound)?;
        let members =
            query::list_members(&view, user.id(), id, &Page { limit: 80, ..Page::default() })?.unwrap_or_default();
        let posts = Cards::new(&view, &state, &user, FilterContext::Home)?.all(&items)?;
        let base = format!("/lists/{id}");
        let body = html! {
            h1 { (l.title) }
            details.card {
                summary { "Members (" (members.len()) ")" }
                ul.people {
                    @for (_, a) in &members {
                        li {
                            a href={ "/@" (a.username) } { (display_name(a)) } " " span.handle { "@" (a.username) }
                            form.inline method="post" action={ (base) "/remove" } {
                                input type="hidden" name="csrf" value=(user.csrf());
                                input type="hidden" name="member" value=(a.id);
                                button.plain type="submit" { "Remove" span.visually-hidden { " @" (a.username) } }
                            }
                        }
                    }
                }
                form method="post" action={ (base) "/add" } {
                    input type="hidden" name="csrf" value=(user.csrf());
                    label for="username" { "Add someone you follow (username)" }
                    input #username type="text" name="username" required;
                    p { button type="submit" { "Add" } }
                }
                form method="post" action={ (base) "/delete" } {
                    input type="hidden" name="csrf" value=(user.csrf());
                    p { button.danger type="submit" { "Delete this list" } }
                }
            }
            (timeline(&l.title, &posts, older(&base, items.len(), items.last().map(|(s, _)| s.id)), "No posts from this list's members yet."))
        };
        Ok(page(StatusCode::OK, &state, &l.title, Some(&user), body))
    })();
    or_problem(&state, &user, built)
}

/// `POST /lists/:id/add|remove|delete`
pub async fn change_list(
    State(state): State<AppState>,
    user: WebUser,
    Path((id, action)): Path<(String, String)>,
    Input(f): Input<ListForm>,
) -> Response {
    let back = if action == "delete" { "/lists".to_string() } else { format!("/lists/{id}") };
    let csrf = CsrfForm { csrf: f.csrf.clone(), back: Some(back) };
    run_action(&state, &user, &csrf, async {
        let (svc, by) = (state.service(), &user.actor());
        let list: Id = id.parse().map_err(|_| ApiError::NotFound)?;
        Ok(match action.as_str() {
            "add" => {
                let name = f.username.as_deref().unwrap_or_default().trim().trim_start_matches('@');
                let who = query::account_by_username(&state.node().read()?, name)?
                    .ok_or_else(|| ApiError::unprocessable(format!("Nobody here is called @{name}")))?;
                lists::add_members(svc, by, list, vec![who.id]).await?
            }
            "remove" => lists::remove_members(svc, by, list, f.member.into_iter().collect()).await?,
            "delete" => lists::delete(svc, by, list).await?,
            _ => return Err(ApiError::NotFound),
        })
    })
    .await
}
