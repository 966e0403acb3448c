//! A member's profile (name, bio, fields, who may find them) and their defaults for new posts.

use roost_core::query;
use roost_core::text;
use roost_types::{Actor, Command, Id, ProfileImage, ProfileUpdate, Visibility, MAX_PROFILE_FIELDS};

use crate::accounts::{bio, display_name, limited, PROFILE_FIELD};
use crate::write::{member, propose, protocol};
use crate::{Applied, Error, Result, Service};

/// A profile change; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    pub note: Option<String>,
    pub locked: Option<bool>,
    pub bot: Option<bool>,
    /// The name/value table, replaced whole; empty rows are dropped.
    pub fields: Option<Vec<(String, String)>>,
    pub hide_collections: Option<bool>,
    pub indexable: Option<bool>,
    pub discoverable: Option<bool>,
    /// A new avatar or header: an upload, cut to its shape (see
    /// [`crate::media::set_profile_image`]).
    pub images: Vec<(ProfileImage, Vec<u8>)>,
}

/// Profile fields as stored: each name and value one line within [`PROFILE_FIELD`], rows
/// with neither dropped, at most [`MAX_PROFILE_FIELDS`].
fn profile_fields(rows: Vec<(String, String)>) -> Result<Vec<(String, String)>> {
    let mut fields = Vec::new();
    for (name, value) in rows {
        let (name, value) = (text::clean_line(&name), text::clean_line(&value));
        if name.is_empty() && value.is_empty() {
            continue;
        }
        limited("Profile field name", &name, PROFILE_FIELD)?;
        limited("Profile field value", &value, PROFILE_FIELD)?;
        fields.push((name, value));
    }
    if fields.len() > MAX_PROFILE_FIELDS {
        return Err(Error::invalid(format!("Validation failed: A profile has at most {MAX_PROFILE_FIELDS} fields")));
    }
    Ok(fields)
}

/// Changes the actor's profile, pictures and, if any are given, their posting defaults: all are
/// checked before any is proposed, the pictures (which may still be refused when decoded)
/// first. Answers with the profile's write.
pub async fn update(
    svc: &Service,
    by: &Actor,
    mut change: ProfileChange,
    defaults: PostingDefaults,
) -> Result<Applied> {
    let account = member(by)?;
    let v2 = protocol(svc)? >= 2;
    let images = std::mem::take(&mut change.images);
    let profile = profile_command(account, change, v2)?;
    let defaults = defaults_command(svc, account, defaults, v2)?;
    for (image, bytes) in images {
        crate::media::set_profile_image(svc, by, image, bytes).await?;
    }
    if let Some(command) = defaults {
        propose(svc, by, command).await?;
    }
    propose(svc, by, profile).await
}

/// The command that changes a profile, as the active protocol has it.
fn profile_command(account: Id, change: ProfileChange, v2: bool) -> Result<Command> {
    let display_name = change.display_name.as_deref().map(display_name).transpose()?;
    let note = change.note.as_deref().map(bio).transpose()?;
    let fields = change.fields.map(profile_fields).transpose()?;
    if v2 {
        return Ok(Command::UpdateProfile(ProfileUpdate {
            account,
            display_name,
            note,
            locked: change.locked,
            bot: change.bot,
            fields,
            hide_collections: change.hide_collections,
            indexable: change.indexable,
            discoverable: change.discoverable,
        }));
    }
    if fields.is_some()
        || change.hide_collections.is_some()
        || change.indexable.is_some()
        || change.discoverable.is_some()
    {
        // A member still runs the version before these existed (a rolling upgrade).
        return Err(Error::UpgradePending(2));
    }
    Ok(Command::UpdateAccount { account, display_name, note, locked: change.locked, bot: change.bot })
}

/// Defaults for new posts; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct PostingDefaults {
    /// Public, unlisted or followers only (a direct post is never a default).
    pub visibility: Option<Visibility>,
    pub sensitive: Option<bool>,
    /// `Some(None)` clears the default language.
    pub language: Option<Option<String>>,
}

impl PostingDefaults {
    fn is_empty(&self) -> bool {
        self.visibility.is_none() && self.sensitive.is_none() && self.language.is_none()
    }
}

/// Changes the actor's defaults for new posts; `None` if nothing was asked.
pub async fn set_posting_defaults(svc: &Service, by: &Actor, d: PostingDefaults) -> Result<Option<Applied>> {
    let account = member(by)?;
    let v2 = protocol(svc)? >= 2;
    match defaults_command(svc, account, d, v2)? {
        Some(command) => Ok(Some(propose(svc, by, command).await?)),
        None => Ok(None),
    }
}

/// The command that sets posting defaults, as the active protocol has it; `None` if nothing
/// changes.
fn defaults_command(svc: &Service, account: Id, d: PostingDefaults, v2: bool) -> Result<Option<Command>> {
    if d.is_empty() {
        return Ok(None);
    }
    if d.visibility == Some(Visibility::Direct) {
        return Err(Error::invalid("Validation failed: Privacy is not included in the list"));
    }
    let language = d.language.map(crate::statuses::rules::checked_language).transpose()?;
    if language.is_some() && !v2 {
        return Err(Error::UpgradePending(2));
    }
    let now = query::preferences(&svc.read()?, account)?;
    let default_visibility = d.visibility.unwrap_or(now.default_visibility);
    let default_sensitive = d.sensitive.unwrap_or(now.default_sensitive);
    Ok(Some(if v2 {
        Command::SetPostingDefaults {
            account,
            default_visibility,
            default_sensitive,
            default_language: language.unwrap_or(now.default_language),
        }
    } else {
        Command::SetPreferences { account, default_visibility, default_sensitive }
    }))
}
