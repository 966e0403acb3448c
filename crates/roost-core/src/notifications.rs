//! Creating, dismissing and clearing notifications.

use roost_types::{Id, Millis, Outcome, Rejection};

use crate::effects::{EffectSink, Event};
use crate::ids::next_id;
use crate::kv::{delete_prefix, k1, k2, put_value, Table, Tables};
use crate::model::{Notification, NotificationKind};
use crate::visibility::notification_allowed;
use crate::Result;

/// Notifies `recipient` of something `from` did, unless blocks or mutes say otherwise.
pub(crate) fn notify(
    t: &mut impl Tables,
    at: Millis,
    recipient: Id,
    kind: NotificationKind,
    from: Id,
    status: Option<Id>,
    fx: &mut dyn EffectSink,
) -> Result<()> {
    if !notification_allowed(t, recipient, from)? {
        return Ok(());
    }
    let id = next_id(t, at)?;
    let n = Notification { id, account: recipient, kind, from, status, created_at: at };
    put_value(t, Table::Notification, &k2(recipient, id), &n)?;
    fx.event(Event::Notified { account: recipient, notification: id });
    Ok(())
}

/// Notifies an account of something of its own (its poll ended): no blocks or mutes apply.
pub(crate) fn notify_own(
    t: &mut impl Tables,
    at: Millis,
    account: Id,
    kind: NotificationKind,
    status: Option<Id>,
    fx: &mut dyn EffectSink,
) -> Result<()> {
    let id = next_id(t, at)?;
    let n = Notification { id, account, kind, from: account, status, created_at: at };
    put_value(t, Table::Notification, &k2(account, id), &n)?;
    fx.event(Event::Notified { account, notification: id });
    Ok(())
}

pub(crate) fn dismiss(t: &mut impl Tables, account: Id, notification: Id) -> Result<Outcome> {
    if t.delete(Table::Notification, &k2(account, notification))? {
        Ok(Outcome::done())
    } else {
        Ok(Outcome::Rejected(Rejection::NotFound))
    }
}

pub(crate) fn clear(t: &mut impl Tables, account: Id) -> Result<Outcome> {
    delete_prefix(t, Table::Notification, &k1(account))?;
    Ok(Outcome::done())
}
