//! Creating and editing accounts.

use roost_types::{Id, MarkerTimeline, Millis, Outcome, ProfileUpdate, Rejection, Role, Visibility};

use crate::effects::EffectSink;
use crate::ids::next_id;
use crate::kv::{get_value, k1, put_value, Table, Tables};
use crate::model::{Account, Marker};
use crate::{query, Result};

pub(crate) fn create(
    t: &mut impl Tables,
    at: Millis,
    username: &str,
    email: Option<&str>,
    password_hash: &str,
    role: Role,
    display_name: Option<&str>,
) -> Result<Outcome> {
    let lower = username.to_ascii_lowercase();
    // From protocol 2 on there is exactly one owner (see `add`).
    let one_owner = crate::protocol::at_least(t, 2)?;
    if one_owner && role == Role::Owner && crate::protocol::owner(t)?.is_some() {
        return Ok(Outcome::Rejected(Rejection::OwnerExists));
    }
    if t.get(Table::Username, lower.as_bytes())?.is_some() {
        return Ok(Outcome::Rejected(Rejection::UsernameTaken));
    }
    let email = email.map(str::to_lowercase);
    if let Some(e) = &email {
        if t.get(Table::Email, e.as_bytes())?.is_some() {
            return Ok(Outcome::Rejected(Rejection::EmailTaken));
        }
    }
    let id = next_id(t, at)?;
    let account = Account {
        id,
        username: username.to_string(),
        display_name: display_name.unwrap_or_default().to_string(),
        note: String::new(),
        email: email.clone(),
        password_hash: password_hash.to_string(),
        role,
        locked: false,
        bot: false,
        created_at: at,
        followers_count: 0,
        following_count: 0,
        statuses_count: 0,
        last_status_at: None,
        fields: Vec::new(),
        hide_collections: false,
        indexable: true,
        discoverable: true,
        avatar: None,
        header: None,
    };
    put_value(t, Table::Account, &k1(id), &account)?;
    if one_owner && role == Role::Owner {
        crate::protocol::set_owner(t, id)?;
    }
    crate::ids::bump(t, crate::ids::USER_COUNT, 1)?;
    t.put(Table::Username, lower.as_bytes(), &k1(id))?;
    if let Some(e) = &email {
        t.put(Table::Email, e.as_bytes(), &k1(id))?;
    }
    Ok(Outcome::created(id))
}

/// Creates an account whose role, when not given, is decided here: the owner on an empty
/// instance, else a member. Deciding it in `apply` is what makes accounts created at the
/// same moment on an empty instance one owner and members, not several owners.
pub(crate) fn add(
    t: &mut impl Tables,
    at: Millis,
    username: &str,
    email: Option<&str>,
    password_hash: &str,
    role: Option<Role>,
    display_name: Option<&str>,
) -> Result<Outcome> {
    // The first account of an empty instance owns it; any later one without a role is a member
    // (an instance whose first account was made an admin gets no owner by surprise).
    let role = match role {
        Some(r) => r,
        None if crate::protocol::owner(t)?.is_none() && !query::has_accounts(t)? => Role::Owner,
        None => Role::Member,
    };
    create(t, at, username, email, password_hash, role, display_name)
}

/// Applies a profile change (protocol 2's `UpdateProfile`).
pub(crate) fn update_profile(
    t: &mut impl Tables,
    at: Millis,
    u: &ProfileUpdate,
    fx: &mut dyn EffectSink,
) -> Result<Outcome> {
    let Some(mut a) = query::account(t, u.account)? else {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    };
    if let Some(fields) = &u.fields {
        a.fields = fields.iter().take(roost_types::MAX_PROFILE_FIELDS).cloned().collect();
    }
    if let Some(h) = u.hide_collections {
        a.hide_collections = h;
    }
    if let Some(i) = u.indexable {
        a.indexable = i;
    }
    if let Some(d) = u.discoverable {
        a.discoverable = d;
    }
    save(t, &a)?;
    update(t, at, u.account, u.display_name.as_deref(), u.note.as_deref(), u.locked, u.bot, fx)
}

/// A member's defaults for new posts (protocol 2's `SetPostingDefaults`).
pub(crate) fn set_posting_defaults(
    t: &mut impl Tables,
    account: Id,
    default_visibility: Visibility,
    default_sensitive: bool,
    default_language: Option<&str>,
) -> Result<Outcome> {
    if query::account(t, account)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    let prefs = crate::model::Preferences {
        default_visibility,
        default_sensitive,
        default_language: default_language.map(str::to_string),
    };
    put_value(t, Table::Preferences, &k1(account), &prefs)?;
    Ok(Outcome::done())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn update(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    display_name: Option<&str>,
    note: Option<&str>,
    locked: Option<bool>,
    bot: Option<bool>,
    fx: &mut dyn EffectSink,
) -> Result<Outcome> {
    let Some(mut a) = query::account(t, account)? else {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    };
    if let Some(d) = display_name {
        a.display_name = d.to_string();
    }
    if let Some(n) = note {
        a.note = n.to_string();
    }
    let unlocking = a.locked && locked == Some(false);
    if let Some(l) = locked {
        a.locked = l;
    }
    if let Some(b) = bot {
        a.bot = b;
    }
    save(t, &a)?;
    // An account that stops approving followers accepts everyone who was waiting, as on Mastodon.
    if unlocking {
        crate::social::authorize_all_requests(t, at, account, fx)?;
    }
    Ok(Outcome::created(account))
}

pub(crate) fn save(t: &mut impl Tables, a: &Account) -> Result<()> {
    put_value(t, Table::Account, &k1(a.id), a)
}

/// Applies `f` to a stored account's counters, if the account exists.
pub(crate) fn adjust(t: &mut impl Tables, id: Id, f: impl FnOnce(&mut Account)) -> Result<()> {
    if let Some(mut a) = get_value::<Account>(t, Table::Account, &k1(id))? {
        f(&mut a);
        save(t, &a)?;
    }
    Ok(())
}

pub(crate) fn set_marker(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    timeline: MarkerTimeline,
    last_read_id: Id,
) -> Result<Outcome> {
    if query::account(t, account)?.is_none() {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    }
    let key = crate::query::marker_key(account, timeline);
    let version = get_value::<Marker>(t, Table::Marker, &key)?.map_or(0, |m| m.version) + 1;
    put_value(t, Table::Marker, &key, &Marker { last_read_id, version, updated_at: at })?;
    Ok(Outcome::done())
}
