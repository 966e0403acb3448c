//! What applying a command did beyond the state: entries for the derived home-timeline index
//! and events for live streams.
//!
//! Both are outputs of `apply`, deterministic like the state itself, but not part of it: a
//! node feeds them to in-memory consumers after the transaction that produced them commits.

use roost_types::Id;

use crate::home::HomeIndex;
use crate::model::Status;

/// Something live streams report (Mastodon's `update`, `delete` and `notification` events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new post or reblog. `home` lists the accounts whose home timelines received it (its
    /// author, followers, or for a direct post the mentioned), in fan-out order; `public` says
    /// whether it entered the public timeline, and then `tags` are its hashtags.
    Posted { status: Id, home: Vec<Id>, public: bool, tags: Vec<String> },
    /// A post or reblog was deleted; the record as it was, so that streams can tell who could
    /// have seen it.
    Deleted { status: Box<Status> },
    /// A post was edited; `public` and `tags` as for `Posted`, after the edit.
    Edited { status: Id, public: bool, tags: Vec<String> },
    /// A direct conversation of `account` gained (or lost) a message.
    Conversation { account: Id, conversation: Id },
    /// `account` changed its filters (clients refetch them).
    FiltersChanged { account: Id },
    /// A notification was created for `account`.
    Notified { account: Id, notification: Id },
}

/// Where `apply` sends its effects.
pub trait EffectSink {
    /// A post enters an account's home timeline.
    fn home(&mut self, account: Id, status: Id);
    /// Something happened that live streams report.
    fn event(&mut self, _event: Event) {}
}

/// A sink that drops everything: for dry runs and for tools that only need the state.
pub struct NoEffects;

impl EffectSink for NoEffects {
    fn home(&mut self, _account: Id, _status: Id) {}
}

/// Effects collected during one transaction, handed on after it commits.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Effects {
    /// Home-timeline insertions: (account, post).
    pub home: Vec<(Id, Id)>,
    pub events: Vec<Event>,
}

impl EffectSink for Effects {
    fn home(&mut self, account: Id, status: Id) {
        self.home.push((account, status));
    }

    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
}

/// The index itself can be fed directly, when nothing needs the events.
impl EffectSink for HomeIndex {
    fn home(&mut self, account: Id, status: Id) {
        crate::home::HomeIndex::insert(self, account, status);
    }
}
