//! Upgrading stored records when their shape changes.
//!
//! Records are postcard-encoded, which is compact but not self-describing: a struct that gains
//! a field cannot read its old encoding. So the state records its format version (in the meta
//! table) and every node, when it opens its state or installs a snapshot, runs the steps from
//! that version to [`FORMAT`] before anything reads it. The steps are deterministic, so every
//! replica that migrates the same state reaches the same bytes (and the same digest).
//!
//! Commands in the log are never reshaped: the `Command` enum only gains variants.

use std::ops::Bound;

use roost_types::{Id, Millis, Visibility};
use serde::{Deserialize, Serialize};

use crate::kv::{decode, encode, get_value, put_value, Dir, Table, Tables};
use crate::model::{Account, Mute, Preferences, Status, StatusVersion, Token};
use crate::Result;

/// The format this code reads and writes.
pub const FORMAT: u32 = 6;
const FORMAT_KEY: &[u8] = b"format";
/// Records re-encoded per scan while migrating, to bound memory.
const CHUNK: usize = 10_000;

/// Brings the state to [`FORMAT`]; returns the version it started from if it changed anything.
pub fn migrate(t: &mut impl Tables) -> Result<Option<u32>> {
    let from: u32 = get_value(t, Table::Meta, FORMAT_KEY)?.unwrap_or(1);
    if from > FORMAT {
        return Err(crate::Error::Corrupt(format!(
            "the state is in format {from}, newer than this binary reads ({FORMAT}): upgrade Roost"
        )));
    }
    if from == FORMAT {
        return Ok(None);
    }
    // Each record shape is read by the one step that knows it: a step that rewrote a record to
    // the current shape is not followed by another that expects an older one.
    if from < 2 {
        reencode::<StatusV1, Status>(t, Table::Status)?;
    } else if from < 6 {
        reencode::<StatusV5, Status>(t, Table::Status)?;
    }
    if from < 3 {
        reencode::<MuteV1, Mute>(t, Table::Mute)?;
    }
    if from < 4 {
        index_tokens(t)?;
    }
    if from < 5 {
        reencode::<AccountV4, Account>(t, Table::Account)?;
        reencode::<TokenV4, Token>(t, Table::Token)?;
        reencode::<PreferencesV4, Preferences>(t, Table::Preferences)?;
    } else if from < 6 {
        reencode::<AccountV5, Account>(t, Table::Account)?;
    }
    if from < 6 {
        reencode::<StatusVersionV5, StatusVersion>(t, Table::StatusEdit)?;
    }
    put_value(t, Table::Meta, FORMAT_KEY, &FORMAT)?;
    Ok(Some(from))
}

/// Rewrites every record of `table` from its old shape to its new one.
fn reencode<Old, New>(t: &mut impl Tables, table: Table) -> Result<()>
where
    Old: for<'de> Deserialize<'de> + Into<New>,
    New: Serialize,
{
    let mut after: Option<Vec<u8>> = None;
    loop {
        let mut chunk: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let lo = match &after {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        t.scan(table, lo, Bound::Unbounded, Dir::Forward, &mut |k, v| {
            chunk.push((k.to_vec(), v.to_vec()));
            Ok(chunk.len() < CHUNK)
        })?;
        let Some((last, _)) = chunk.last() else { return Ok(()) };
        after = Some(last.clone());
        for (k, v) in &chunk {
            let old: Old = decode(v)?;
            t.put(table, k, &encode(&old.into())?)?;
        }
    }
}

/// Format 4 indexes tokens under their accounts (for the sessions and apps a member sees).
fn index_tokens(t: &mut impl Tables) -> Result<()> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    t.scan(Table::Token, Bound::Unbounded, Bound::Unbounded, Dir::Forward, &mut |k, v| {
        let token: crate::model::Token = decode(v)?;
        if let (Some(a), Ok(hash)) = (token.account, <[u8; 32]>::try_from(k)) {
            keys.push(crate::oauth::account_token_key(a, &hash));
        }
        Ok(true)
    })?;
    for k in keys {
        t.put(Table::AccountToken, &k, &[])?;
    }
    Ok(())
}

/// `Account` before format 5 (no profile fields or search and listing choices).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccountV4 {
    pub id: Id,
    pub username: String,
    pub display_name: String,
    pub note: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: roost_types::Role,
    pub locked: bool,
    pub bot: bool,
    pub created_at: Millis,
    pub followers_count: u64,
    pub following_count: u64,
    pub statuses_count: u64,
    pub last_status_at: Option<Millis>,
}

impl From<AccountV4> for Account {
    fn from(a: AccountV4) -> Account {
        Account {
            id: a.id,
            username: a.username,
            display_name: a.display_name,
            note: a.note,
            email: a.email,
            password_hash: a.password_hash,
            role: a.role,
            locked: a.locked,
            bot: a.bot,
            created_at: a.created_at,
            followers_count: a.followers_count,
            following_count: a.following_count,
            statuses_count: a.statuses_count,
            last_status_at: a.last_status_at,
            fields: Vec::new(),
            hide_collections: false,
            indexable: true,
            discoverable: true,
            avatar: None,
            header: None,
        }
    }
}

/// `Account` before format 6 (no avatar or header).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccountV5 {
    pub id: Id,
    pub username: String,
    pub display_name: String,
    pub note: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: roost_types::Role,
    pub locked: bool,
    pub bot: bool,
    pub created_at: Millis,
    pub followers_count: u64,
    pub following_count: u64,
    pub statuses_count: u64,
    pub last_status_at: Option<Millis>,
    pub fields: Vec<(String, String)>,
    pub hide_collections: bool,
    pub indexable: bool,
    pub discoverable: bool,
}

impl From<AccountV5> for Account {
    fn from(a: AccountV5) -> Account {
        Account {
            id: a.id,
            username: a.username,
            display_name: a.display_name,
            note: a.note,
            email: a.email,
            password_hash: a.password_hash,
            role: a.role,
            locked: a.locked,
            bot: a.bot,
            created_at: a.created_at,
            followers_count: a.followers_count,
            following_count: a.following_count,
            statuses_count: a.statuses_count,
            last_status_at: a.last_status_at,
            fields: a.fields,
            hide_collections: a.hide_collections,
            indexable: a.indexable,
            discoverable: a.discoverable,
            avatar: None,
            header: None,
        }
    }
}

/// `Status` before format 6 (no pictures).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StatusV5 {
    pub id: Id,
    pub author: Id,
    pub created_at: Millis,
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: Visibility,
    pub language: Option<String>,
    pub in_reply_to: Option<Id>,
    pub in_reply_to_account: Option<Id>,
    pub quote_of: Option<Id>,
    pub reblog_of: Option<Id>,
    pub mentions: Vec<Id>,
    pub tags: Vec<String>,
    pub replies_count: u64,
    pub reblogs_count: u64,
    pub favourites_count: u64,
    pub application: Option<String>,
    pub edited_at: Option<Millis>,
    pub poll: Option<Id>,
}

impl From<StatusV5> for Status {
    fn from(s: StatusV5) -> Status {
        Status {
            id: s.id,
            author: s.author,
            created_at: s.created_at,
            text: s.text,
            spoiler_text: s.spoiler_text,
            sensitive: s.sensitive,
            visibility: s.visibility,
            language: s.language,
            in_reply_to: s.in_reply_to,
            in_reply_to_account: s.in_reply_to_account,
            quote_of: s.quote_of,
            reblog_of: s.reblog_of,
            mentions: s.mentions,
            tags: s.tags,
            replies_count: s.replies_count,
            reblogs_count: s.reblogs_count,
            favourites_count: s.favourites_count,
            application: s.application,
            edited_at: s.edited_at,
            poll: s.poll,
            media: Vec::new(),
        }
    }
}

/// `StatusVersion` before format 6 (no pictures).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StatusVersionV5 {
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub created_at: Millis,
}

impl From<StatusVersionV5> for StatusVersion {
    fn from(v: StatusVersionV5) -> StatusVersion {
        StatusVersion {
            text: v.text,
            spoiler_text: v.spoiler_text,
            sensitive: v.sensitive,
            created_at: v.created_at,
            media: Vec::new(),
        }
    }
}

/// `Token` before format 5 (no record of its last use: its creation stands in).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TokenV4 {
    pub client_id: String,
    pub account: Option<Id>,
    pub scopes: Vec<String>,
    pub created_at: Millis,
}

impl From<TokenV4> for Token {
    fn from(t: TokenV4) -> Token {
        Token {
            client_id: t.client_id,
            account: t.account,
            scopes: t.scopes,
            created_at: t.created_at,
            last_used: t.created_at,
        }
    }
}

/// `Preferences` before format 5 (no default language).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PreferencesV4 {
    pub default_visibility: Visibility,
    pub default_sensitive: bool,
}

impl From<PreferencesV4> for Preferences {
    fn from(p: PreferencesV4) -> Preferences {
        Preferences {
            default_visibility: p.default_visibility,
            default_sensitive: p.default_sensitive,
            default_language: None,
        }
    }
}

/// `Mute` before format 3 (no expiry).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MuteV1 {
    pub id: Id,
    pub notifications: bool,
}

impl From<MuteV1> for Mute {
    fn from(m: MuteV1) -> Mute {
        Mute { id: m.id, notifications: m.notifications, expires_at: None }
    }
}

/// `Status` before format 2 (no edits, no polls).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StatusV1 {
    pub id: Id,
    pub author: Id,
    pub created_at: Millis,
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: Visibility,
    pub language: Option<String>,
    pub in_reply_to: Option<Id>,
    pub in_reply_to_account: Option<Id>,
    pub quote_of: Option<Id>,
    pub reblog_of: Option<Id>,
    pub mentions: Vec<Id>,
    pub tags: Vec<String>,
    pub replies_count: u64,
    pub reblogs_count: u64,
    pub favourites_count: u64,
    pub application: Option<String>,
}

impl From<StatusV1> for Status {
    fn from(s: StatusV1) -> Status {
        Status {
            id: s.id,
            author: s.author,
            created_at: s.created_at,
            text: s.text,
            spoiler_text: s.spoiler_text,
            sensitive: s.sensitive,
            visibility: s.visibility,
            language: s.language,
            in_reply_to: s.in_reply_to,
            in_reply_to_account: s.in_reply_to_account,
            quote_of: s.quote_of,
            reblog_of: s.reblog_of,
            mentions: s.mentions,
            tags: s.tags,
            replies_count: s.replies_count,
            reblogs_count: s.reblogs_count,
            favourites_count: s.favourites_count,
            application: s.application,
            edited_at: None,
            poll: None,
            media: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{k1, ReadTables};
    use crate::MemTables;

    #[test]
    fn old_posts_are_reencoded_once_and_newer_formats_refused() {
        let mut t = MemTables::new();
        let old = StatusV1 {
            id: 7,
            author: 1,
            created_at: 5,
            text: "from before edits".into(),
            spoiler_text: String::new(),
            sensitive: false,
            visibility: Visibility::Public,
            language: None,
            in_reply_to: None,
            in_reply_to_account: None,
            quote_of: None,
            reblog_of: None,
            mentions: vec![2],
            tags: vec!["x".into()],
            replies_count: 1,
            reblogs_count: 0,
            favourites_count: 3,
            application: None,
        };
        for id in 0..25_000u64 {
            t.put(Table::Status, &k1(id), &encode(&StatusV1 { id, ..old.clone() }).unwrap()).unwrap();
        }
        t.put(Table::Mute, &crate::kv::k2(1, 2), &encode(&MuteV1 { id: 9, notifications: true }).unwrap()).unwrap();
        assert!(get_value::<Status>(&t, Table::Status, &k1(7)).is_err(), "the new shape cannot read the old bytes");
        assert_eq!(migrate(&mut t).unwrap(), Some(1));
        let s: Status = get_value(&t, Table::Status, &k1(24_999)).unwrap().unwrap();
        assert_eq!((s.id, s.text.as_str(), s.favourites_count, s.edited_at), (24_999, "from before edits", 3, None));
        let m: Mute = get_value(&t, Table::Mute, &crate::kv::k2(1, 2)).unwrap().unwrap();
        assert_eq!(m, Mute { id: 9, notifications: true, expires_at: None });
        assert_eq!(migrate(&mut t).unwrap(), None, "already current");
        put_value(&mut t, Table::Meta, FORMAT_KEY, &(FORMAT + 1)).unwrap();
        assert!(migrate(&mut t).is_err());
        assert!(t.get(Table::Status, &k1(0)).unwrap().is_some());
    }
}
