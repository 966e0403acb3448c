//! Direct conversations: the direct posts between a set of accounts, threaded by replies, as
//! each participant lists them (newest activity first, read or unread).

use std::ops::Bound;

use roost_types::{Id, Outcome, Rejection};

use crate::effects::{EffectSink, Event};
use crate::kv::{bound_ref, get_value, k1, k2, prefix_bounds, put_value, read_u64, Dir, Table, Tables};
use crate::model::{AccountConversation, Status};
use crate::Result;

/// Files a new direct post into its conversation (its parent's, or a new one named after it)
/// for its author and everyone it mentions.
pub(crate) fn add(t: &mut impl Tables, s: &Status, fx: &mut dyn EffectSink) -> Result<()> {
    let parent = match s.in_reply_to {
        Some(p) => get_value::<Id>(t, Table::ConversationOf, &k1(p))?,
        None => None,
    };
    let conversation = parent.unwrap_or(s.id);
    put_value(t, Table::ConversationOf, &k1(s.id), &conversation)?;
    t.put(Table::ConversationStatuses, &k2(conversation, s.id), &[])?;
    let mut participants = vec![s.author];
    for &m in &s.mentions {
        if !participants.contains(&m) {
            participants.push(m);
        }
    }
    for &p in &participants {
        if p != s.author && crate::visibility::blocked_either_way(t, p, s.author)? {
            continue;
        }
        let unread = p != s.author;
        set_last(t, p, conversation, s.id, unread, participants.clone())?;
        fx.event(Event::Conversation { account: p, conversation });
    }
    Ok(())
}

/// Points one participant's conversation at a (new) latest post.
fn set_last(
    t: &mut impl Tables,
    account: Id,
    conversation: Id,
    last: Id,
    unread: bool,
    participants: Vec<Id>,
) -> Result<()> {
    if let Some(old) = get_value::<AccountConversation>(t, Table::AccountConversation, &k2(account, conversation))? {
        t.delete(Table::ConversationByAccount, &k2(account, old.last_status))?;
    }
    let record = AccountConversation { last_status: last, unread, participants };
    put_value(t, Table::AccountConversation, &k2(account, conversation), &record)?;
    t.put(Table::ConversationByAccount, &k2(account, last), &k1(conversation))
}

/// Takes a deleted direct post out of its conversation: participants whose latest it was see
/// the one before, or lose the conversation if none is left.
pub(crate) fn forget(t: &mut impl Tables, s: &Status, fx: &mut dyn EffectSink) -> Result<()> {
    let Some(conversation) = get_value::<Id>(t, Table::ConversationOf, &k1(s.id))? else { return Ok(()) };
    t.delete(Table::ConversationOf, &k1(s.id))?;
    t.delete(Table::ConversationStatuses, &k2(conversation, s.id))?;
    let mut newest = None;
    let (lo, hi) = prefix_bounds(&k1(conversation));
    t.scan(Table::ConversationStatuses, Bound::Included(&lo), bound_ref(&hi), Dir::Reverse, &mut |k, _| {
        newest = Some(read_u64(k, 8)?);
        Ok(false)
    })?;
    let mut everyone = vec![s.author];
    everyone.extend(s.mentions.iter().copied());
    for p in everyone {
        let Some(c) = get_value::<AccountConversation>(t, Table::AccountConversation, &k2(p, conversation))? else {
            continue;
        };
        if c.last_status != s.id {
            continue;
        }
        match newest {
            Some(last) => set_last(t, p, conversation, last, c.unread, c.participants)?,
            None => {
                t.delete(Table::ConversationByAccount, &k2(p, c.last_status))?;
                t.delete(Table::AccountConversation, &k2(p, conversation))?;
            }
        }
        fx.event(Event::Conversation { account: p, conversation });
    }
    Ok(())
}

pub(crate) fn read(t: &mut impl Tables, account: Id, conversation: Id) -> Result<Outcome> {
    let Some(mut c) = get_value::<AccountConversation>(t, Table::AccountConversation, &k2(account, conversation))?
    else {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    };
    c.unread = false;
    put_value(t, Table::AccountConversation, &k2(account, conversation), &c)?;
    Ok(Outcome::created(conversation))
}

pub(crate) fn remove(t: &mut impl Tables, account: Id, conversation: Id) -> Result<Outcome> {
    let Some(c) = get_value::<AccountConversation>(t, Table::AccountConversation, &k2(account, conversation))? else {
        return Ok(Outcome::Rejected(Rejection::NotFound));
    };
    t.delete(Table::ConversationByAccount, &k2(account, c.last_status))?;
    t.delete(Table::AccountConversation, &k2(account, conversation))?;
    Ok(Outcome::done())
}
