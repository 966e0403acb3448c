//! Posts on a page: the card with its actions, the composer (new post, reply, quote), editing,
//! and the actions' forms. An action submitted by the script (header `X-Roost-Fragment`) is
//! answered with the post's new action bar instead of a redirect, so the page does not move.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::prelude::{Engine, BASE64_STANDARD};
use maud::{html, Markup, PreEscaped};
use roost_core::model::Status;
use roost_core::query::{self, Interactions};
use roost_core::text::countable_length;
use roost_raft::ReadView;
use roost_service::statuses::{self, EditPost, Interaction, NewPost};
use roost_types::{Id, Visibility};
use serde::Deserialize;

use super::pages::{problem, see_other, CsrfForm};
use super::session::WebUser;
use super::{page, time};
use crate::entities::{media_url, Renderer};
use crate::error::{ApiError, ApiResult};
use crate::params::{de, Input, WithFiles};
use crate::AppState;
use roost_service::media::Size as MediaSize;
use roost_service::media::{self, Upload, Uploaded};
use roost_types::MAX_MEDIA_PER_POST;

/// Posts longer than this (as counted) are collapsed behind "Show more".
const LONG_POST: usize = 500;
/// The request header the script sends to get a post's action bar back instead of a redirect.
const FRAGMENT_HEADER: &str = "x-roost-fragment";

/// What a post card needs besides the post: the viewer and their per-request facts.
pub struct Cards<'r> {
    pub view: &'r ReadView,
    pub r: Renderer<'r, ReadView>,
    pub user: &'r WebUser,
    has_bookmarks: bool,
}

impl<'r> Cards<'r> {
    pub fn new(
        view: &'r ReadView,
        state: &'r AppState,
        user: &'r WebUser,
        context: roost_types::FilterContext,
    ) -> ApiResult<Self> {
        let r = Renderer::new(view, user.id(), state).filtering(context)?;
        Ok(Cards { view, r, user, has_bookmarks: query::has_bookmarks(view, user.id())? })
    }

    /// Every post of a timeline page as cards (those a filter hides are left out).
    pub fn all(&mut self, items: &[query::Shown]) -> ApiResult<Vec<Markup>> {
        let mut out = Vec::with_capacity(items.len());
        for (s, o) in items {
            if let Some(card) = self.card(s, o.as_ref())? {
                out.push(card);
            }
        }
        Ok(out)
    }

    /// One post (or a repost of `original`) as an article; `None` if a filter hides it or its
    /// author is gone.
    pub fn card(&mut self, s: &Status, original: Option<&Status>) -> ApiResult<Option<Markup>> {
        let shown = original.unwrap_or(s);
        let Some(warnings) = self.r.filter_titles(shown) else { return Ok(None) };
        let Some(author) = query::account(self.view, shown.author)? else { return Ok(None) };
        let booster = match original {
            Some(_) => query::account(self.view, s.author)?,
            None => None,
        };
        let mine = query::interactions(self.view, self.user.id(), shown, self.has_bookmarks)?;
        let content = self.r.content(&shown.text, &shown.mentions)?;
        let quoted = match shown.quote_of {
            Some(q) => self.quoted(q)?,
            None => None,
        };
        let replying_to = match shown.in_reply_to {
            Some(p) => match query::visible_status(self.view, self.user.id(), p)? {
                Some((parent, _)) => query::account(self.view, parent.author)?.map(|a| (a.username, parent.id)),
                None => None,
            },
            None => None,
        };
        let name = display_name(&author);
        let url = format!("/@{}/{}", author.username, shown.id);
        let long = countable_length(&shown.text) > LONG_POST;
        // Only moderators see a suspended member's posts; they see them marked.
        let suspended = query::suspended(self.view, author.id)?;
        let pictures = self.pictures(shown)?;
        // What automod rules decided: a hold (only its author and moderators see the post at
        // all) and labels, shown to every reader.
        let held = roost_core::extensions::held(self.view, shown.id)?;
        let labels = roost_core::extensions::labels(self.view, shown.id)?;
        let body = html! {
            @if long {
                details.long {
                    summary { "Long post — show all" }
                    div.content { (PreEscaped(&content)) }
                }
            } @else {
                div.content { (PreEscaped(&content)) }
            }
            @if let Some(p) = &pictures { (p) }
            @if let Some(q) = &quoted { (q) }
        };
        Ok(Some(html! {
            article.card.post tabindex="-1" aria-label={ "Post by " (name) } data-id=(shown.id) data-url=(url)
                data-author=(author.username) data-visibility=(shown.visibility.as_str()) {
                @if let Some(b) = &booster {
                    p.meta.boost { a href={ "/@" (b.username) } { (display_name(b)) } " reposted" }
                }
                a.face href={ "/@" (author.username) } tabindex="-1" aria-hidden="true" { (avatar(self.view, &author, 48)) }
                header {
                    a.name href={ "/@" (author.username) } { (name) }
                    span.handle { "@" (author.username) }
                    @if suspended { " " span.badge.suspended { "suspended" } }
                    a.when href=(url) { (time(shown.created_at)) }
                    @if shown.edited_at.is_some() { a.meta href={ (url) "#history" } { "· edited" } }
                    span.meta { "· " (visibility_label(shown.visibility)) }
                }
                @if let Some((to, parent)) = &replying_to {
                    p.meta { "Replying to " a href={ "/@" (to) "/" (parent) } { "@" (to) } }
                }
                @if let Some(h) = &held {
                    p.held role="status" { span.badge.held { "Held for review" } " " (h.reason) }
                }
                @if !labels.is_empty() {
                    p.labels {
                        @for l in &labels { span.badge.label title="Label from an automod rule" { (l.label) } }
                    }
                }
                @if !warnings.is_empty() {
                    details.filtered {
                        summary { "Filtered: " (warnings.join(", ")) }
                        (body)
                    }
                } @else if !shown.spoiler_text.is_empty() {
                    details.cw {
                        summary { (shown.spoiler_text) }
                        (body)
                    }
                } @else {
                    (body)
                }
                (actions(self.user, shown, &author.username, &mine))
            }
        }))
    }

    /// A post's pictures as a grid of previews, each a link to the full image: sized by their
    /// stored dimensions so the page does not jump, loaded lazily, described by their alt text.
    /// Sensitive ones stay folded until the reader opens them.
    fn pictures(&mut self, s: &Status) -> ApiResult<Option<Markup>> {
        if s.media.is_empty() {
            return Ok(None);
        }
        let viewer = self.user.id();
        let mut items = Vec::with_capacity(s.media.len());
        for &id in &s.media {
            if let Some(m) = roost_core::media::media(self.view, id)? {
                items.push(m);
            }
        }
        if items.is_empty() {
            return Ok(None);
        }
        // How wide each picture shows, so that a browser picks the smallest file that is sharp
        // at its density: side by side in a grid of several, the preview is enough for most.
        let sizes = if items.len() == 1 { "(max-width: 40rem) 100vw, 38rem" } else { "(max-width: 40rem) 50vw, 19rem" };
        let grid = html! {
            div class={ "media n" (items.len()) } {
                @for m in &items {
                    @let full = media_url(m, MediaSize::Original, viewer, true, "");
                    @let small = media_url(m, MediaSize::Preview, viewer, true, "");
                    a.picture href=(full) data-full=(full) data-alt=(m.description) {
                        img src=(small) width=(m.preview.width) height=(m.preview.height) loading="lazy" decoding="async"
                            srcset={ (small) " " (m.preview.width) "w, " (full) " " (m.original.width) "w" }
                            sizes=(sizes)
                            alt=(m.description);
                        @if m.animated { span.tag aria-hidden="true" { "GIF" } }
                        @if !m.description.is_empty() { span.tag.alt aria-hidden="true" { "ALT" } }
                    }
                }
            }
        };
        if !(s.sensitive && s.spoiler_text.is_empty()) {
            return Ok(Some(grid));
        }
        // Folded behind each picture's blurhash, drawn here as a tiny inline PNG (the CSP
        // allows `data:` images only) in the grid's own shape, so opening it does not jump.
        let veil = html! {
            span class={ "media veil n" (items.len()) } aria-hidden="true" {
                @for m in &items {
                    @match media::blurhash_png(&m.blurhash, m.preview.width, m.preview.height) {
                        Ok(png) => img src={ "data:image/png;base64," (BASE64_STANDARD.encode(png)) }
                            width=(m.preview.width) height=(m.preview.height) alt="";
                        Err(_) => span.blank {},
                    }
                }
            }
        };
        Ok(Some(html! {
            details.sensitive {
                summary { (veil) span.show { "Sensitive media — show" } span.hide { "Hide sensitive media" } }
                (grid)
            }
        }))
    }

    /// The post a quote quotes, small, or a note that it is gone or not visible.
    fn quoted(&mut self, id: Id) -> ApiResult<Option<Markup>> {
        let Some((q, _)) = query::visible_status(self.view, self.user.id(), id)? else {
            return Ok(Some(html! { blockquote.quote { p.meta { "This post is unavailable." } } }));
        };
        let Some(author) = query::account(self.view, q.author)? else { return Ok(None) };
        let content = self.r.content(&q.text, &q.mentions)?;
        Ok(Some(html! {
            blockquote.quote {
                p { (avatar(self.view, &author, 20)) " " a.name href={ "/@" (author.username) } { (display_name(&author)) } " "
                    span.handle { "@" (author.username) } " "
                    a href={ "/@" (author.username) "/" (q.id) } { (time(q.created_at)) } }
                @if q.spoiler_text.is_empty() { div.content { (PreEscaped(&content)) } }
                @else { details.cw { summary { (q.spoiler_text) } div.content { (PreEscaped(&content)) } } }
            }
        }))
    }
}

/// An account's avatar at `px` CSS pixels (decorative: the name beside it says who it is).
pub fn avatar(view: &(impl roost_core::ReadTables + ?Sized), a: &roost_core::model::Account, px: u32) -> Markup {
    let (src, _) = crate::entities::profile_images(view, a, "");
    html! { img.avatar src=(src) width=(px) height=(px) alt="" loading="lazy" decoding="async"; }
}

pub fn display_name(a: &roost_core::model::Account) -> &str {
    if a.display_name.is_empty() {
        &a.username
    } else {
        &a.display_name
    }
}

fn visibility_label(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Unlisted => "unlisted",
        Visibility::Private => "followers",
        Visibility::Direct => "mentioned only",
    }
}

/// A post's action bar: reply, like, repost, quote, bookmark; edit and delete for its author.
fn actions(user: &WebUser, s: &Status, author: &str, mine: &Interactions) -> Markup {
    let form =
        |icon_name: &str, label: &str, verb: &str, pressed: Option<bool>, count: Option<u64>, key: Option<&str>| {
            html! {
                form.act method="post" action={ "/web/statuses/" (s.id) "/" (verb) } {
                    input type="hidden" name="csrf" value=(user.csrf());
                    button type="submit" aria-pressed=[pressed] data-key=[key] title=(label) {
                        (icon(icon_name)) span.label { (label) }
                        @if let Some(n) = count { " " span.count { (n) } }
                    }
                }
            }
        };
    let shareable = matches!(s.visibility, Visibility::Public | Visibility::Unlisted);
    html! {
        div.actions {
            a.button href={ "/@" (author) "/" (s.id) "#reply" } data-key="r" title="Reply" {
                (icon("reply")) span.label { "Reply" } " " span.count { (s.replies_count) }
            }
            @if shareable {
                @if mine.reblogged { (form("repost", "Reposted", "unreblog", Some(true), Some(s.reblogs_count), None)) }
                @else { (form("repost", "Repost", "reblog", Some(false), Some(s.reblogs_count), None)) }
            }
            @if mine.favourited { (form("like", "Liked", "unfavourite", Some(true), Some(s.favourites_count), Some("l"))) }
            @else { (form("like", "Like", "favourite", Some(false), Some(s.favourites_count), Some("l"))) }
            @if shareable {
                a.button href={ "/?quote=" (s.id) "#status" } title="Quote" { (icon("quote")) span.label { "Quote" } }
            }
            @if mine.bookmarked { (form("bookmark", "Bookmarked", "unbookmark", Some(true), None, None)) }
            @else { (form("bookmark", "Bookmark", "bookmark", Some(false), None, None)) }
            @if s.author == user.id() {
                a.button href={ "/web/statuses/" (s.id) "/edit" } title="Edit" { (icon("edit")) span.label { "Edit" } }
                (form("delete", "Delete", "delete", None, None, None))
            }
        }
    }
}

/// A small line icon for an action (drawn here; decorative, the button's text names it).
fn icon(name: &str) -> Markup {
    let paths: &[&str] = match name {
        "reply" => &["M9 14 4 9l5-5", "M4 9h10a6 6 0 0 1 6 6v5"],
        "repost" => &["m17 2 3 3-3 3", "M4 11V9a4 4 0 0 1 4-4h12", "m7 22-3-3 3-3", "M20 13v2a4 4 0 0 1-4 4H4"],
        "like" => &["M12 20s-7-4.5-7-10a4 4 0 0 1 7-2.6A4 4 0 0 1 19 10c0 5.5-7 10-7 10z"],
        "quote" => &["M6 7h4v4l-2 6H6l2-6H6z", "M14 7h4v4l-2 6h-2l2-6h-2z"],
        "bookmark" => &["M6 3h12v18l-6-4-6 4z"],
        "edit" => &["M4 20h4L19 9l-4-4L4 16z"],
        "delete" => &["M4 7h16", "M9 7V4h6v3", "m6 7 1 13h10l1-13"],
        _ => &[],
    };
    html! {
        svg.icon viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false" {
            @for d in paths { path d=(d) {} }
        }
    }
}

/// What the composer starts with.
#[derive(Default)]
pub struct Draft<'a> {
    pub text: &'a str,
    pub spoiler_text: &'a str,
    pub in_reply_to: Option<Id>,
    pub quote_of: Option<Id>,
    pub visibility: Option<Visibility>,
    pub error: Option<&'a str>,
    /// Where to go after posting.
    pub back: &'a str,
}

/// The composer: text with a live counter, content warning, who can see it; replying to or
/// quoting a post when the draft says so.
pub fn composer(state: &AppState, user: &WebUser, d: &Draft<'_>) -> Markup {
    let max = state.config().max_post_chars;
    let default = d.visibility.unwrap_or_else(|| {
        state
            .node()
            .read()
            .ok()
            .and_then(|v| query::preferences(&v, user.id()).ok())
            .map_or(Visibility::Public, |p| p.default_visibility)
    });
    let (form_label, label) = if d.in_reply_to.is_some() {
        ("Reply", "Your reply")
    } else if d.quote_of.is_some() {
        ("Quote", "Your quote")
    } else {
        ("New post", "What's happening?")
    };
    let choices = [
        (Visibility::Public, "Everyone"),
        (Visibility::Unlisted, "Everyone, not in public timelines"),
        (Visibility::Private, "Followers only"),
        (Visibility::Direct, "Mentioned people only"),
    ];
    html! {
        form.card.composer #reply method="post" action="/web/statuses" enctype="multipart/form-data" aria-label=(form_label) {
            input type="hidden" name="csrf" value=(user.csrf());
            input type="hidden" name="back" value=(d.back);
            @if let Some(id) = d.in_reply_to { input type="hidden" name="in_reply_to_id" value=(id); }
            @if let Some(id) = d.quote_of { input type="hidden" name="quote_id" value=(id); }
            label for="status" { (label) }
            @if let Some(message) = d.error { p.error role="alert" #compose-error { (message) } }
            textarea #status name="status" data-max=(max) aria-describedby="counter" { (d.text) }
            details.attach {
                summary { "Add pictures" }
                label for="media" { "Pictures (up to " (MAX_MEDIA_PER_POST) ": JPEG, PNG, GIF or WebP)" }
                input #media type="file" name="media" accept="image/jpeg,image/png,image/gif,image/webp" multiple;
                p.meta #media-hint { "Describe each picture for people who cannot see it." }
                div.alts {
                    @for i in 1..=MAX_MEDIA_PER_POST {
                        label for={ "description" (i) } { "Description of picture " (i) }
                        input type="text" id={ "description" (i) } name="description[]" maxlength=(roost_types::MAX_MEDIA_DESCRIPTION_CHARS);
                    }
                }
                label { input type="checkbox" name="sensitive" value="true"; " Sensitive: blur the pictures until opened" }
            }
            div.row {
                div {
                    label for="spoiler_text" { "Content warning (optional)" }
                    input #spoiler_text type="text" name="spoiler_text" value=(d.spoiler_text);
                }
                div {
                    label for="visibility" { "Who can see it" }
                    select #visibility name="visibility" {
                        @for (v, text) in choices {
                            option value=(v.as_str()) selected[v == default] { (text) }
                        }
                    }
                }
            }
            p.row {
                span #counter .meta aria-live="polite" { (max - countable_length(d.text).min(max)) " characters left" }
                button type="submit" { @if d.in_reply_to.is_some() { "Reply" } @else { "Post" } }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ComposeForm {
    #[serde(default, deserialize_with = "de::string_opt")]
    csrf: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    status: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    visibility: Option<String>,
    #[serde(default, deserialize_with = "de::id_opt")]
    in_reply_to_id: Option<Id>,
    #[serde(default, deserialize_with = "de::id_opt")]
    quote_id: Option<Id>,
    #[serde(default, deserialize_with = "de::string_opt")]
    back: Option<String>,
    /// Alt text of each picture, in the order of the files.
    #[serde(default, deserialize_with = "de::strings")]
    description: Vec<String>,
    /// The checkbox: blur the pictures until a reader opens them.
    #[serde(default, deserialize_with = "de::string_opt")]
    sensitive: Option<String>,
}

/// `POST /web/statuses`: a new post, reply or quote, with its pictures (uploaded first, each
/// with its description). A refused post comes back in the composer with the reason and its
/// text (a browser cannot be handed its files back: they are chosen again).
pub async fn compose(
    State(state): State<AppState>,
    user: WebUser,
    WithFiles(f, mut files): WithFiles<ComposeForm>,
) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(&state, Some(&user), &e);
    }
    let back = crate::uris::back_path(f.back.as_deref());
    let visibility = f.visibility.as_deref().and_then(Visibility::parse);
    let result = async {
        let visibility = match f.visibility.as_deref() {
            None | Some("") => None,
            Some(_) => Some(visibility.ok_or_else(|| ApiError::unprocessable("Choose who can see the post"))?),
        };
        let mut media_ids = Vec::new();
        for (i, file) in files.take_all("media").into_iter().enumerate() {
            if i >= MAX_MEDIA_PER_POST {
                return Err(ApiError::unprocessable(format!("A post can carry at most {MAX_MEDIA_PER_POST} pictures")));
            }
            let description = f.description.get(i).filter(|d| !d.trim().is_empty()).cloned();
            let up = Upload { bytes: file.bytes, description, focus: None };
            match media::upload(state.service(), &user.actor(), up, None).await? {
                Uploaded::Ready(m) => media_ids.push(m.id.to_string()),
                Uploaded::Processing { .. } => {
                    return Err(ApiError::Internal("an upload waited for was not done".into()))
                }
            }
        }
        let post = NewPost {
            text: f.status.clone(),
            spoiler_text: f.spoiler_text.clone(),
            visibility,
            in_reply_to: f.in_reply_to_id,
            quote_of: f.quote_id,
            media_ids,
            sensitive: f.sensitive.is_some(),
            ..NewPost::default()
        };
        Ok::<_, ApiError>(statuses::create(state.service(), &user.actor(), post).await?)
    }
    .await;
    match result {
        Ok(_) => see_other(&back),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let draft = Draft {
                text: f.status.as_deref().unwrap_or_default(),
                spoiler_text: f.spoiler_text.as_deref().unwrap_or_default(),
                in_reply_to: f.in_reply_to_id,
                quote_of: f.quote_id,
                visibility,
                error: Some(&e.to_string()),
                back: &back,
            };
            let body = html! { h1 { "New post" } (composer(&state, &user, &draft)) };
            page(StatusCode::UNPROCESSABLE_ENTITY, &state, "New post", Some(&user), body)
        }
        Err(e) => problem(&state, Some(&user), &e),
    }
}

/// The member's own post, for editing.
fn own_post(state: &AppState, user: &WebUser, id: &str) -> ApiResult<(Status, String)> {
    let id: Id = id.parse().map_err(|_| ApiError::NotFound)?;
    let view = state.node().read()?;
    let (s, o) = query::visible_status(&view, user.id(), id)?.ok_or(ApiError::NotFound)?;
    if s.author != user.id() || o.is_some() {
        return Err(ApiError::NotFound);
    }
    let url = format!("/@{}/{}", user.account.username, s.id);
    Ok((s, url))
}

fn edit_form(state: &AppState, user: &WebUser, s: &Status, text: &str, spoiler: &str, error: Option<&str>) -> Markup {
    let max = state.config().max_post_chars;
    html! {
        h1 { "Edit post" }
        form.card.composer method="post" action={ "/web/statuses/" (s.id) "/edit" } aria-label="Edit post" {
            input type="hidden" name="csrf" value=(user.csrf());
            label for="status" { "Text" }
            @if let Some(message) = error { p.error role="alert" { (message) } }
            textarea #status name="status" required data-max=(max) aria-describedby="counter" { (text) }
            label for="spoiler_text" { "Content warning (optional)" }
            input #spoiler_text type="text" name="spoiler_text" value=(spoiler);
            p.row {
                span #counter .meta aria-live="polite" { (max - countable_length(text).min(max)) " characters left" }
                button type="submit" { "Save" }
            }
        }
    }
}

/// `GET /web/statuses/:id/edit`
pub async fn edit_page(State(state): State<AppState>, user: WebUser, Path(id): Path<String>) -> Response {
    match own_post(&state, &user, &id) {
        Ok((s, _)) => {
            let body = edit_form(&state, &user, &s, &s.text, &s.spoiler_text, None);
            page(StatusCode::OK, &state, "Edit post", Some(&user), body)
        }
        Err(e) => problem(&state, Some(&user), &e),
    }
}

/// `POST /web/statuses/:id/edit`: saves the new version; the old one stays in its history.
pub async fn edit(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Input(f): Input<ComposeForm>,
) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(&state, Some(&user), &e);
    }
    let (s, url) = match own_post(&state, &user, &id) {
        Ok(found) => found,
        Err(e) => return problem(&state, Some(&user), &e),
    };
    let change = EditPost {
        status: s.id,
        text: f.status.clone(),
        spoiler_text: f.spoiler_text.clone(),
        sensitive: s.sensitive,
        language: s.language.clone(),
        ..EditPost::default()
    };
    let result = statuses::edit(state.service(), &user.actor(), change).await.map_err(ApiError::from);
    match result {
        Ok(_) => see_other(&url),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let text = f.status.as_deref().unwrap_or_default();
            let spoiler = f.spoiler_text.as_deref().unwrap_or_default();
            let body = edit_form(&state, &user, &s, text, spoiler, Some(&e.to_string()));
            page(StatusCode::UNPROCESSABLE_ENTITY, &state, "Edit post", Some(&user), body)
        }
        Err(e) => problem(&state, Some(&user), &e),
    }
}

/// `POST /web/statuses/:id/:action`: like, repost, bookmark (and undo), delete; then back, or
/// (for the script) the post's new action bar.
pub async fn act(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Input(f): Input<CsrfForm>,
) -> Response {
    if let Err(e) = user.check_csrf(f.csrf.as_deref()) {
        return problem(&state, Some(&user), &e);
    }
    let account = user.id();
    let result = async {
        let status: Id = id.parse().map_err(|_| ApiError::NotFound)?;
        let what = match action.as_str() {
            "favourite" => Interaction::Favourite,
            "unfavourite" => Interaction::Unfavourite,
            "reblog" => Interaction::Reblog { visibility: Visibility::Public },
            "unreblog" => Interaction::Unreblog,
            "bookmark" => Interaction::Bookmark,
            "unbookmark" => Interaction::Unbookmark,
            "delete" => Interaction::Delete,
            _ => return Err(ApiError::NotFound),
        };
        statuses::interact(state.service(), &user.actor(), status, what).await?;
        Ok(status)
    }
    .await;
    let status = match result {
        Ok(s) => s,
        Err(e) if headers.contains_key(FRAGMENT_HEADER) => return (e.status(), e.to_string()).into_response(),
        Err(e) => return problem(&state, Some(&user), &e),
    };
    if !headers.contains_key(FRAGMENT_HEADER) {
        return see_other(&crate::uris::back_path(f.back.as_deref()));
    }
    // The script replaces the post's action bar with this (nothing, for a deleted post).
    let bar = (|| -> ApiResult<Markup> {
        let view = state.node().read()?;
        let Some((s, _)) = query::visible_status(&view, account, status)? else { return Ok(html! {}) };
        let Some(author) = query::account(&view, s.author)? else { return Ok(html! {}) };
        let mine = query::interactions(&view, account, &s, query::has_bookmarks(&view, account)?)?;
        Ok(actions(&user, &s, &author.username, &mine))
    })();
    match bar {
        Ok(markup) => Html(markup.into_string()).into_response(),
        Err(e) => (e.status(), e.to_string()).into_response(),
    }
}
