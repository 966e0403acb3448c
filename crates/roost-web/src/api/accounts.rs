//! Accounts: profiles, relationships, follows, blocks and mutes.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use roost_core::model::Account;
use roost_core::query::{self, AccountFilter};
use roost_raft::ReadView;
use roost_service::profile::{self, PostingDefaults, ProfileChange};
use roost_service::social::{self, Relation};
use roost_types::{Id, ProfileImage};
use serde::Deserialize;

use super::parse_id;
use crate::auth::User;
use crate::entities::{self, AccountJson, CredentialAccountJson, RelationshipJson, Renderer};
use crate::error::{ApiError, ApiResult};
use crate::paging::{link_header, PageParams, Paged, StatusPage, MAX_LIMIT};
use crate::params::{de, Input, WithFiles};
use crate::written::Written;
use crate::AppState;

pub async fn verify_credentials(State(state): State<AppState>, user: User) -> ApiResult<Json<CredentialAccountJson>> {
    let view = state.node().read()?;
    let r = Renderer::new(&view, user.id(), &state);
    Ok(Json(r.credential_account(&user.account)))
}

#[derive(Deserialize)]
pub struct UpdateCredentials {
    #[serde(default, deserialize_with = "de::string_opt")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "de::string_opt")]
    note: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    locked: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    bot: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    discoverable: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    hide_collections: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    indexable: Option<bool>,
    /// The profile's name/value table: `fields_attributes[0][name]=…` in a form, an array or an
    /// object keyed by position in JSON.
    #[serde(default)]
    fields_attributes: Option<serde_json::Value>,
    /// Defaults for new posts: `source[privacy]`, `source[sensitive]`, `source[language]`.
    #[serde(default)]
    source: Option<SourceParams>,
    #[serde(default)]
    avatar: Option<serde_json::Value>,
    #[serde(default)]
    header: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
pub struct SourceParams {
    #[serde(default, deserialize_with = "de::string_opt")]
    privacy: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    sensitive: Option<bool>,
    #[serde(default, deserialize_with = "de::string_opt")]
    language: Option<String>,
}

/// The rows of `fields_attributes`, in order (the service drops empty ones and bounds the rest).
fn profile_fields(v: serde_json::Value) -> ApiResult<Vec<(String, String)>> {
    use serde_json::Value;
    let rows: Vec<Value> = match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        Value::Object(map) => {
            let mut keyed = map
                .into_iter()
                .map(|(k, v)| k.parse::<usize>().map(|i| (i, v)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| ApiError::unprocessable("fields_attributes must be indexed 0, 1, 2…"))?;
            keyed.sort_by_key(|(i, _)| *i);
            keyed.into_iter().map(|(_, v)| v).collect()
        }
        _ => return Err(ApiError::unprocessable("fields_attributes must be a list of name and value pairs")),
    };
    let text = |row: &Value, key: &str| -> ApiResult<String> {
        match row.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ApiError::unprocessable(format!("fields_attributes: {key} must be text"))),
        }
    };
    rows.iter().map(|row| Ok((text(row, "name")?, text(row, "value")?))).collect()
}

/// A value given where a file belongs: not a file part of a multipart body (those arrive as
/// an object naming the file), nor empty.
fn not_a_file(v: &Option<serde_json::Value>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_null() && !v.is_object() && v.as_str() != Some(""))
}

pub async fn update_credentials(
    State(state): State<AppState>,
    user: User,
    WithFiles(p, mut files): WithFiles<UpdateCredentials>,
) -> ApiResult<Written<Json<CredentialAccountJson>>> {
    // Pictures come as files of a multipart body; anything else in their place is a mistake.
    if not_a_file(&p.avatar) || not_a_file(&p.header) {
        return Err(ApiError::unprocessable(
            "Validation failed: avatar and header must be uploaded as files (multipart/form-data)",
        ));
    }
    let mut images = Vec::new();
    for (name, image) in [("avatar", ProfileImage::Avatar), ("header", ProfileImage::Header)] {
        if let Some(file) = files.take(name).filter(|f| !f.bytes.is_empty()) {
            images.push((image, file.bytes));
        }
    }
    let source = p.source.unwrap_or_default();
    let visibility = match source.privacy.as_deref() {
        None | Some("") => None,
        Some(v) => Some(
            roost_types::Visibility::parse(v)
                .ok_or_else(|| ApiError::unprocessable("Validation failed: Privacy is not included in the list"))?,
        ),
    };
    let language = match source.language {
        None => None,
        Some(l) if l.is_empty() => Some(None),
        Some(l) => Some(Some(l)),
    };
    let change = ProfileChange {
        display_name: p.display_name,
        note: p.note,
        locked: p.locked,
        bot: p.bot,
        fields: p.fields_attributes.map(profile_fields).transpose()?,
        hide_collections: p.hide_collections,
        indexable: p.indexable,
        discoverable: p.discoverable,
        images,
    };
    let defaults = PostingDefaults { visibility, sensitive: source.sensitive, language };
    let applied = profile::update(state.service(), &user.actor(), change, defaults).await?;
    let view = state.node().read()?;
    let account = query::account(&view, user.id())?.ok_or(ApiError::NotFound)?;
    let r = Renderer::new(&view, user.id(), &state);
    Ok(Written(Json(r.credential_account(&account)), applied.index))
}

/// `DELETE /api/v1/profile/avatar` and `…/header`: back to the default picture.
pub async fn delete_profile_image(
    State(state): State<AppState>,
    user: User,
    Path(which): Path<String>,
) -> ApiResult<Written<Json<CredentialAccountJson>>> {
    let image = match which.as_str() {
        "avatar" => ProfileImage::Avatar,
        "header" => ProfileImage::Header,
        _ => return Err(ApiError::NotFound),
    };
    let index = roost_service::media::remove_profile_image(state.service(), &user.actor(), image).await?;
    let view = state.node().read()?;
    let account = query::account(&view, user.id())?.ok_or(ApiError::NotFound)?;
    let r = Renderer::new(&view, user.id(), &state);
    Ok(Written(Json(r.credential_account(&account)), index.unwrap_or(0)))
}

/// An account the viewer may see (see `social::visible_account`).
fn visible_account(view: &ReadView, viewer: Id, id: Id) -> ApiResult<Account> {
    Ok(social::visible_account(view, viewer, id)?)
}

pub async fn show(State(state): State<AppState>, user: User, Path(id): Path<String>) -> ApiResult<Json<AccountJson>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    let account = visible_account(&view, user.id(), id)?;
    Ok(Json(Renderer::new(&view, user.id(), &state).account(&account)))
}

#[derive(Deserialize)]
pub struct Lookup {
    #[serde(default, deserialize_with = "de::string_opt")]
    acct: Option<String>,
}

pub async fn lookup(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<Lookup>,
) -> ApiResult<Json<AccountJson>> {
    let acct = p.acct.unwrap_or_default();
    let acct = acct.trim_start_matches('@');
    // `user@this.domain` names a local account too.
    let username = match acct.split_once('@') {
        Some((u, domain)) if domain.eq_ignore_ascii_case(state.config().domain()) => u,
        Some(_) => return Err(ApiError::NotFound),
        None => acct,
    };
    let view = state.node().read()?;
    let account = query::account_by_username(&view, username)?.ok_or(ApiError::NotFound)?;
    let account = visible_account(&view, user.id(), account.id)?;
    Ok(Json(Renderer::new(&view, user.id(), &state).account(&account)))
}

#[derive(Deserialize)]
pub struct RelationshipsQuery {
    #[serde(default, deserialize_with = "de::ids", rename = "id")]
    ids: Vec<Id>,
}

pub async fn relationships(
    State(state): State<AppState>,
    user: User,
    Input(p): Input<RelationshipsQuery>,
) -> ApiResult<Json<Vec<RelationshipJson>>> {
    if p.ids.len() > 100 {
        return Err(ApiError::unprocessable("At most 100 accounts at once"));
    }
    let view = state.node().read()?;
    let mut out = Vec::new();
    for id in p.ids {
        if query::account(&view, id)?.is_some() {
            out.push(entities::relationship(id, query::relationship(&view, user.id(), id)?));
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct StatusesQuery {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "de::bool_opt")]
    exclude_replies: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    exclude_reblogs: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    exclude_direct: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    pinned: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    only_media: Option<bool>,
    #[serde(default, deserialize_with = "de::string_opt")]
    tagged: Option<String>,
}

pub async fn statuses(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    uri: Uri,
    Input(p): Input<StatusesQuery>,
) -> ApiResult<StatusPage> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    visible_account(&view, user.id(), id)?;
    if p.pinned == Some(true) {
        // At most five: one page, no links. A later page (max_id) has nothing more.
        if p.page.max_id.is_some() || p.page.since_id.is_some() || p.page.min_id.is_some() {
            return Ok(StatusPage(Vec::new(), None));
        }
        let items = query::pinned(&view, user.id(), id)?;
        let mut r = Renderer::new(&view, user.id(), &state);
        return Ok(StatusPage(r.statuses(&items)?, None));
    }
    if p.only_media == Some(true) {
        // Nothing has media until media attachments exist.
        return Ok(StatusPage(Vec::new(), None));
    }
    let tagged = p.tagged.as_deref().map(|t| t.trim_start_matches('#').to_lowercase());
    let filter = AccountFilter {
        exclude_replies: p.exclude_replies.unwrap_or(false),
        exclude_reblogs: p.exclude_reblogs.unwrap_or(false),
        exclude_direct: p.exclude_direct.unwrap_or(false),
        tagged: tagged.as_deref(),
    };
    let items = query::account_statuses(&view, user.id(), id, filter, &p.page.page(MAX_LIMIT))?;
    super::status_page(
        &state,
        &view,
        user.id(),
        &uri,
        &items,
        |s| s.0.id,
        |s| s,
        Some(roost_types::FilterContext::Account),
    )
}

pub(super) fn account_page(
    state: &AppState,
    view: &ReadView,
    viewer: Id,
    uri: &Uri,
    items: Vec<(Id, Account)>,
) -> Paged<AccountJson> {
    let link = link_header(state.config(), uri, &items, |i| i.0);
    let r = Renderer::new(view, viewer, state);
    Paged(items.iter().map(|(_, a)| r.account(a)).collect(), link)
}

pub async fn followers(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    let account = visible_account(&view, user.id(), id)?;
    // An account that hides its collections shows them to itself only, as on Mastodon.
    if account.hide_collections && id != user.id() {
        return Ok(Paged(Vec::new(), None));
    }
    let items = query::followers(&view, user.id(), id, &p.page(80))?;
    Ok(account_page(&state, &view, user.id(), &uri, items))
}

pub async fn following(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    let id = parse_id(&id)?;
    let view = state.node().read()?;
    let account = visible_account(&view, user.id(), id)?;
    // An account that hides its collections shows them to itself only, as on Mastodon.
    if account.hide_collections && id != user.id() {
        return Ok(Paged(Vec::new(), None));
    }
    let items = query::following(&view, user.id(), id, &p.page(80))?;
    Ok(account_page(&state, &view, user.id(), &uri, items))
}

/// `GET /api/v1/follow_requests`: who waits for the signed-in (locked) account's answer.
pub async fn follow_requests(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    let view = state.node().read()?;
    let items = query::follow_requests(&view, user.id(), &p.page(80))?;
    Ok(account_page(&state, &view, user.id(), &uri, items))
}

pub async fn authorize_follow_request(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, Relation::AuthorizeRequest).await
}

pub async fn reject_follow_request(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, Relation::RejectRequest).await
}

pub async fn blocks(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<AccountJson>> {
    let view = state.node().read()?;
    let items = query::blocks(&view, user.id(), &p.page(80))?;
    Ok(account_page(&state, &view, user.id(), &uri, items))
}

/// A muted account as `GET /api/v1/mutes` lists it: with when the mute lifts.
#[derive(serde::Serialize)]
pub struct MutedJson {
    #[serde(flatten)]
    account: AccountJson,
    mute_expires_at: Option<String>,
}

pub async fn mutes(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<PageParams>,
) -> ApiResult<Paged<MutedJson>> {
    let view = state.node().read()?;
    let items = query::mutes(&view, user.id(), &p.page(80))?;
    let link = link_header(state.config(), &uri, &items, |i| i.0);
    let r = Renderer::new(&view, user.id(), &state);
    let mut out = Vec::with_capacity(items.len());
    for (_, a) in &items {
        let ends = roost_core::visibility::mute(&view, user.id(), a.id)?.and_then(|m| m.expires_at);
        out.push(MutedJson { account: r.account(a), mute_expires_at: ends.map(crate::entities::iso) });
    }
    Ok(Paged(out, link))
}

/// Changes a relationship with a visible account and answers with the relationship.
async fn relate(
    state: &AppState,
    user: &User,
    raw_id: &str,
    what: Relation,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    let target = parse_id(raw_id)?;
    let applied = social::relate(state.service(), &user.actor(), target, what).await?;
    let view = state.node().read()?;
    Ok(Written(Json(entities::relationship(target, query::relationship(&view, user.id(), target)?)), applied.index))
}

#[derive(Deserialize)]
pub struct FollowParams {
    #[serde(default, deserialize_with = "de::bool_opt")]
    reblogs: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    notify: Option<bool>,
}

pub async fn follow(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<FollowParams>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    let what = Relation::Follow { reblogs: p.reblogs.unwrap_or(true), notify: p.notify.unwrap_or(false) };
    relate(&state, &user, &id, what).await
}

pub async fn unfollow(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, Relation::Unfollow).await
}

pub async fn block(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, Relation::Block).await
}

pub async fn unblock(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, Relation::Unblock).await
}

#[derive(Deserialize)]
pub struct MuteParams {
    #[serde(default, deserialize_with = "de::bool_opt")]
    notifications: Option<bool>,
    /// Seconds until the mute lifts by itself; 0 or absent: until unmuted.
    #[serde(default, deserialize_with = "de::i64_opt")]
    duration: Option<i64>,
}

pub async fn mute(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Input(p): Input<MuteParams>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    let what = Relation::Mute { notifications: p.notifications.unwrap_or(true), duration: p.duration };
    relate(&state, &user, &id, what).await
}

pub async fn unmute(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> ApiResult<Written<Json<RelationshipJson>>> {
    relate(&state, &user, &id, Relation::Unmute).await
}
