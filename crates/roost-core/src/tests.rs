//! Use-case tests of the state machine and properties over random command sequences.

use proptest::prelude::*;
use roost_types::{Command, Id, NewStatus, Outcome, Rejection, Request, Role, Visibility};

use crate::effects::{Effects, Event};
use crate::kv::{k1, ReadTables, Table, Tables};
use crate::model::NotificationKind;
use crate::query::{self, NotificationFilter, Page};
use crate::{apply, digest, MemTables};

mod media;
mod protocol2;

/// A public post of plain text, for tests to adjust.
fn new_status(author: Id, text: &str) -> NewStatus {
    NewStatus {
        author,
        text: text.into(),
        in_reply_to: None,
        quote_of: None,
        visibility: Visibility::Public,
        spoiler_text: String::new(),
        sensitive: false,
        language: None,
        idempotency_key: None,
        application: None,
    }
}

/// A state plus a clock, with one helper per command.
struct World {
    t: MemTables,
    home: crate::home::HomeIndex,
    /// Every event applied commands reported, in order.
    events: Vec<Event>,
    now: i64,
}

impl World {
    /// A state under protocol 1's rules (before any activation).
    fn new() -> World {
        World { t: MemTables::new(), home: crate::home::HomeIndex::new(), events: Vec::new(), now: 1_700_000_000_000 }
    }

    /// A state with the newest protocol activated, as a new instance has.
    fn current() -> World {
        let mut w = World::new();
        assert_eq!(w.run(Command::ActivateProtocol { version: roost_types::PROTOCOL }), Outcome::done());
        w
    }

    fn run(&mut self, command: Command) -> Outcome {
        self.now += 1;
        let mut fx = Effects::default();
        let outcome = apply(&mut self.t, &Request { at: self.now, by: None, command }, &mut fx).unwrap();
        self.home.apply(&fx.home);
        self.events.extend(fx.events);
        outcome
    }

    fn id(&mut self, command: Command) -> Id {
        match self.run(command) {
            Outcome::Done { id: Some(id) } => id,
            other => panic!("expected an id, got {other:?}"),
        }
    }

    fn user(&mut self, name: &str) -> Id {
        self.id(Command::CreateAccount {
            username: name.into(),
            email: None,
            password_hash: "x".into(),
            role: Role::Member,
            display_name: None,
        })
    }

    fn post_with(&mut self, author: Id, text: &str, visibility: Visibility, in_reply_to: Option<Id>) -> Outcome {
        self.run(Command::CreateStatus(NewStatus { in_reply_to, visibility, ..new_status(author, text) }))
    }

    fn post(&mut self, author: Id, text: &str) -> Id {
        match self.post_with(author, text, Visibility::Public, None) {
            Outcome::Done { id: Some(id) } => id,
            other => panic!("post failed: {other:?}"),
        }
    }

    fn follow(&mut self, a: Id, b: Id) -> Outcome {
        self.run(Command::Follow { account: a, target: b, reblogs: true, notify: false })
    }

    fn home(&self, viewer: Id) -> Vec<Id> {
        query::home(&self.t, &self.home, viewer, &Page { limit: 40, ..Page::default() })
            .unwrap()
            .into_iter()
            .map(|(s, _)| s.id)
            .collect()
    }

    fn sees(&self, viewer: Id, id: Id) -> bool {
        query::visible_status(&self.t, viewer, id).unwrap().is_some()
    }

    fn notifications(&self, viewer: Id) -> Vec<NotificationKind> {
        query::notifications(&self.t, viewer, &NotificationFilter::default(), &Page { limit: 40, ..Page::default() })
            .unwrap()
            .into_iter()
            .map(|(n, _)| n.kind)
            .collect()
    }
}

#[test]
fn applied_commands_report_events_for_live_streams() {
    let mut w = World::new();
    let (a, b, c) = (w.user("a"), w.user("b"), w.user("c"));
    w.follow(b, a);
    w.events.clear();
    let p = w.post(a, "hello @c #Roost");
    let Event::Posted { status, home, public, tags } = &w.events[0] else { panic!("{:?}", w.events) };
    assert_eq!((*status, home.clone()), (p, vec![a, b]), "the post reaches its author's and follower's homes");
    assert!(*public);
    assert_eq!(tags, &vec!["roost".to_string()]);
    let Event::Notified { account, notification } = w.events[1] else { panic!("{:?}", w.events) };
    assert_eq!(account, c);
    assert_eq!(
        query::notification(&w.t, c, notification).unwrap().map(|(n, _)| n.kind),
        Some(NotificationKind::Mention)
    );
    assert_eq!(w.events.len(), 2);

    w.events.clear();
    let r = w.id(Command::Reblog { account: b, status: p, visibility: Visibility::Public });
    assert!(
        matches!(&w.events[0], Event::Posted { status, public: false, .. } if *status == r),
        "reblogs are not listed"
    );
    assert!(matches!(w.events[1], Event::Notified { account, .. } if account == a));

    w.events.clear();
    let refused = w.run(Command::DeleteStatus { actor: c, status: p });
    assert_eq!(refused, Outcome::Rejected(Rejection::Forbidden));
    assert!(w.events.is_empty(), "a refused command reports nothing");
    w.run(Command::DeleteStatus { actor: a, status: p });
    let deleted: Vec<Id> = w
        .events
        .iter()
        .map(|e| match e {
            Event::Deleted { status } => status.id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(deleted, vec![p, r], "deleting a post deletes its reblogs, and says so");
}

#[test]
fn locked_accounts_approve_their_followers() {
    let mut w = World::new();
    let (lock, a, b, c) = (w.user("lock"), w.user("a"), w.user("b"), w.user("c"));
    let update = |locked| Command::UpdateAccount {
        account: lock,
        display_name: None,
        note: None,
        locked: Some(locked),
        bot: None,
    };
    w.run(update(true));
    let private = w.post_with(lock, "for followers", Visibility::Private, None);
    let Outcome::Done { id: Some(private) } = private else { panic!() };

    w.follow(a, lock);
    let rel = query::relationship(&w.t, a, lock).unwrap();
    assert!(rel.requested && !rel.following, "a request, not a follow");
    assert!(query::relationship(&w.t, lock, a).unwrap().requested_by);
    assert!(!w.sees(a, private), "no followers-only posts before approval");
    assert_eq!(w.notifications(lock), vec![NotificationKind::FollowRequest]);
    assert_eq!(query::follow_requests(&w.t, lock, &Page { limit: 40, ..Page::default() }).unwrap().len(), 1);

    let ok = w.run(Command::AuthorizeFollowRequest { account: lock, requester: a });
    assert!(matches!(ok, Outcome::Done { .. }));
    let rel = query::relationship(&w.t, a, lock).unwrap();
    assert!(rel.following && !rel.requested);
    assert!(w.sees(a, private));
    assert_eq!(w.home(a), vec![private], "approval brings the posts home");
    let again = w.run(Command::AuthorizeFollowRequest { account: lock, requester: a });
    assert_eq!(again, Outcome::Rejected(Rejection::NotFound), "nothing left to approve");

    w.follow(b, lock);
    assert_eq!(w.run(Command::RejectFollowRequest { account: lock, requester: b }), Outcome::done());
    assert!(!query::relationship(&w.t, b, lock).unwrap().requested);
    assert!(!query::relationship(&w.t, b, lock).unwrap().following);

    // Withdrawn by unfollowing; cleared by a block; accepted wholesale by unlocking.
    w.follow(b, lock);
    w.run(Command::Unfollow { account: b, target: lock });
    assert!(!query::relationship(&w.t, b, lock).unwrap().requested);
    w.follow(c, lock);
    w.run(Command::Block { account: lock, target: c });
    assert!(!query::relationship(&w.t, c, lock).unwrap().requested);
    w.follow(b, lock);
    w.run(update(false));
    assert!(query::relationship(&w.t, b, lock).unwrap().following, "unlocking accepts who waited");
    assert!(query::follow_requests(&w.t, lock, &Page { limit: 40, ..Page::default() }).unwrap().is_empty());
    assert_eq!(query::account(&w.t, lock).unwrap().unwrap().followers_count, 2);
}

#[test]
fn pins_are_own_posts_at_most_five_and_go_with_the_post() {
    let mut w = World::new();
    let (a, b) = (w.user("a"), w.user("b"));
    let posts: Vec<Id> = (0..6).map(|i| w.post(a, &format!("p{i}"))).collect();
    let theirs = w.post(b, "not yours");
    assert_eq!(w.run(Command::Pin { account: a, status: theirs }), Outcome::Rejected(Rejection::NotPinnable));
    let direct = w.post_with(a, "@b psst", Visibility::Direct, None);
    let Outcome::Done { id: Some(direct) } = direct else { panic!() };
    assert_eq!(w.run(Command::Pin { account: a, status: direct }), Outcome::Rejected(Rejection::NotPinnable));
    for &p in &posts[..5] {
        assert!(matches!(w.run(Command::Pin { account: a, status: p }), Outcome::Done { .. }));
    }
    assert_eq!(w.run(Command::Pin { account: a, status: posts[5] }), Outcome::Rejected(Rejection::LimitReached));
    let shown: Vec<Id> = query::pinned(&w.t, b, a).unwrap().into_iter().map(|(s, _)| s.id).collect();
    assert_eq!(shown, posts[..5].iter().rev().copied().collect::<Vec<_>>(), "newest pin first");
    w.run(Command::DeleteStatus { actor: a, status: posts[0] });
    assert!(
        matches!(w.run(Command::Pin { account: a, status: posts[5] }), Outcome::Done { .. }),
        "deleting freed a slot"
    );
    w.run(Command::Unpin { account: a, status: posts[1] });
    assert!(!query::is_pinned(&w.t, a, posts[1]).unwrap());
    assert_eq!(query::pinned(&w.t, a, a).unwrap().len(), 4);
}

#[test]
fn search_finds_prefixes_and_respects_blocks() {
    let mut w = World::new();
    let (ann, anna, andy, bo) = (w.user("ann"), w.user("anna"), w.user("andy"), w.user("bo"));
    w.run(Command::UpdateAccount {
        account: bo,
        display_name: Some("Annie Bo".into()),
        note: None,
        locked: None,
        bot: None,
    });
    w.run(Command::Block { account: andy, target: ann });
    let names = |found: Vec<crate::model::Account>| found.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let found = names(crate::discover::accounts(&w.t, ann, "@an", 10, 0, false).unwrap());
    assert_eq!(found, vec![ann, anna, bo], "exact first, then usernames, then display names; andy blocks ann");
    assert_eq!(names(crate::discover::accounts(&w.t, ann, "an", 1, 1, false).unwrap()), vec![anna]);
    w.follow(ann, bo);
    assert_eq!(names(crate::discover::accounts(&w.t, ann, "an", 10, 0, true).unwrap()), vec![bo]);

    for (i, tag) in ["rust", "rust", "rustacean", "ruby", "go"].iter().enumerate() {
        w.post(anna, &format!("post {i} #{tag}"));
    }
    assert_eq!(crate::discover::hashtags(&w.t, "#RU", 10, 0).unwrap(), vec!["ruby", "rust", "rustacean"]);
    assert_eq!(crate::discover::hashtags(&w.t, "rus", 1, 1).unwrap(), vec!["rustacean"]);
    let trends = crate::discover::trending_tags(&w.t, ann, w.now, 7, 10).unwrap();
    assert_eq!(trends[0].name, "rust");
    assert_eq!(trends[0].history[0].1, 2, "two posts today");
}

#[test]
fn edits_keep_history_retag_and_tell_rebloggers() {
    let mut w = World::new();
    let (a, b, c) = (w.user("a"), w.user("b"), w.user("c"));
    let p = w.post(a, "first #old");
    w.id(Command::Reblog { account: b, status: p, visibility: Visibility::Public });
    let edit = |w: &mut World, actor: Id, text: &str| {
        w.run(Command::EditStatus {
            actor,
            status: p,
            text: text.into(),
            spoiler_text: String::new(),
            sensitive: false,
            language: None,
        })
    };
    assert_eq!(edit(&mut w, b, "not yours"), Outcome::Rejected(Rejection::Forbidden));
    w.events.clear();
    assert!(matches!(edit(&mut w, a, "second #new, hi @c"), Outcome::Done { .. }));
    let s = query::status(&w.t, p).unwrap().unwrap();
    assert_eq!(
        (s.text.as_str(), s.tags.clone(), s.mentions.clone()),
        ("second #new, hi @c", vec!["new".to_string()], vec![c])
    );
    assert_eq!(s.edited_at, Some(w.now));
    let page = Page { limit: 40, ..Page::default() };
    assert!(query::tag(&w.t, a, "old", &page).unwrap().is_empty(), "the old hashtag no longer lists it");
    assert_eq!(query::tag(&w.t, a, "new", &page).unwrap().len(), 1);
    assert_eq!(w.notifications(b), vec![NotificationKind::Update], "the reblogger hears of the edit");
    assert_eq!(w.notifications(c), vec![NotificationKind::Mention], "the newly mentioned too");
    assert!(w.events.iter().any(|e| matches!(e, Event::Edited { status, public: true, .. } if *status == p)));

    let before = w.now;
    edit(&mut w, a, "third");
    assert_eq!(edit(&mut w, a, "third"), Outcome::created(p), "an edit that changes nothing is no edit");
    let versions = query::status_versions(&w.t, p).unwrap();
    assert_eq!(versions.iter().map(|v| v.text.as_str()).collect::<Vec<_>>(), vec!["first #old", "second #new, hi @c"]);
    assert_eq!(versions[1].created_at, before, "each version dated when it was written");
    w.run(Command::DeleteStatus { actor: a, status: p });
    assert!(query::status_versions(&w.t, p).unwrap().is_empty(), "history goes with the post");
}

#[test]
fn polls_count_votes_until_their_logged_end() {
    let mut w = World::new();
    let (a, b, c, d) = (w.user("a"), w.user("b"), w.user("c"), w.user("d"));
    let new = |author| new_status(author, "which?");
    let ends = w.now + 1_000;
    let poll = |multiple| roost_types::NewPoll {
        options: vec!["x".into(), "y".into(), "z".into()],
        expires_at: ends,
        multiple,
        hide_totals: false,
    };
    let single = w.id(Command::CreateStatusWithPoll { status: new(a), poll: poll(false) });
    let multi = w.id(Command::CreateStatusWithPoll { status: new(a), poll: poll(true) });
    assert_eq!(query::status(&w.t, single).unwrap().unwrap().poll, Some(single));
    let vote = |w: &mut World, account, poll, choices: &[u32]| {
        w.run(Command::Vote { account, poll, choices: choices.to_vec() })
    };
    assert_eq!(vote(&mut w, b, single, &[0, 1]), Outcome::Rejected(Rejection::InvalidChoice), "one choice only");
    assert_eq!(vote(&mut w, b, single, &[3]), Outcome::Rejected(Rejection::InvalidChoice), "no such option");
    assert!(matches!(vote(&mut w, b, single, &[1]), Outcome::Done { .. }));
    assert_eq!(vote(&mut w, b, single, &[2]), Outcome::Rejected(Rejection::AlreadyVoted));
    assert!(matches!(vote(&mut w, b, multi, &[0, 2, 2]), Outcome::Done { .. }));
    assert!(matches!(vote(&mut w, c, multi, &[2]), Outcome::Done { .. }));
    let (p, mine) = query::poll(&w.t, b, multi).unwrap().unwrap();
    assert_eq!((p.votes.clone(), p.voters, mine), (vec![1, 0, 2], 2, Some(vec![0, 2])));
    w.now = ends - 1; // the next command runs at `ends`: the poll is over by the log's clock
    assert_eq!(vote(&mut w, d, single, &[0]), Outcome::Rejected(Rejection::PollExpired));
    w.run(Command::DeleteStatus { actor: a, status: single });
    assert!(query::poll(&w.t, b, single).unwrap().is_none(), "the poll goes with its post");
}

#[test]
fn lists_hold_followed_accounts_and_show_their_posts() {
    let mut w = World::new();
    let (me, a, b, c) = (w.user("me"), w.user("a"), w.user("b"), w.user("c"));
    for x in [a, b] {
        w.follow(me, x);
    }
    let list = w.id(Command::CreateList {
        account: me,
        title: "friends".into(),
        replies_policy: roost_types::RepliesPolicy::List,
        exclusive: false,
    });
    let add = |w: &mut World, members: Vec<Id>| w.run(Command::AddToList { account: me, list, members });
    assert_eq!(add(&mut w, vec![c]), Outcome::Rejected(Rejection::NotFollowed));
    assert_eq!(
        w.run(Command::AddToList { account: a, list, members: vec![b] }),
        Outcome::Rejected(Rejection::NotFound),
        "not a's list"
    );
    assert_eq!(add(&mut w, vec![a, b, a]), Outcome::done());
    let pa = w.post(a, "from a");
    let pb = w.post(b, "from b");
    let to_c = w.post_with(a, "@c hi", Visibility::Public, None);
    let Outcome::Done { id: Some(_) } = to_c else { panic!() };
    let pc = w.post(c, "c is not listed");
    let reply_to_b = w.post_with(a, "answering b", Visibility::Public, Some(pb));
    let Outcome::Done { id: Some(reply_to_b) } = reply_to_b else { panic!() };
    let reply_to_c = w.post_with(a, "answering c", Visibility::Public, Some(pc));
    let Outcome::Done { id: Some(reply_to_c) } = reply_to_c else { panic!() };
    let page = Page { limit: 40, ..Page::default() };
    let ids = |w: &World, page: &Page| -> Vec<Id> {
        query::list_timeline(&w.t, me, list, page).unwrap().unwrap().into_iter().map(|(s, _)| s.id).collect()
    };
    let shown = ids(&w, &page);
    assert!(shown.contains(&pa) && shown.contains(&pb) && shown.contains(&reply_to_b));
    assert!(!shown.contains(&pc) && !shown.contains(&reply_to_c), "not a member; a reply outside the list");
    assert_eq!(ids(&w, &Page { limit: 1, max_id: Some(pb), ..Page::default() }), vec![pa]);
    assert!(query::list_timeline(&w.t, a, list, &page).unwrap().is_none(), "only its owner reads it");

    // Exclusive lists take their members' posts out of home; unfollowing leaves the list.
    assert!(w.home(me).contains(&pa));
    w.run(Command::UpdateList {
        account: me,
        list,
        title: "friends".into(),
        replies_policy: roost_types::RepliesPolicy::List,
        exclusive: true,
    });
    assert!(!w.home(me).contains(&pa) && !w.home(me).contains(&pb));
    w.run(Command::Unfollow { account: me, target: b });
    assert_eq!(query::lists_containing(&w.t, me, b).unwrap(), vec![]);
    assert_eq!(query::list_members(&w.t, me, list, &page).unwrap().unwrap().len(), 1);
    w.run(Command::DeleteList { account: me, list });
    assert!(query::lists(&w.t, me).unwrap().is_empty());
    assert!(query::lists_containing(&w.t, me, a).unwrap().is_empty());
}

#[test]
fn followed_hashtags_bring_public_posts_home() {
    let mut w = World::new();
    let (me, a, blocker) = (w.user("me"), w.user("a"), w.user("blocker"));
    w.run(Command::FollowTag { account: me, tag: "Rust".into() });
    w.run(Command::Block { account: blocker, target: me });
    let tagged = w.post(a, "about #rust");
    let other = w.post(a, "about #go");
    w.post(blocker, "also #rust");
    let private = w.post_with(a, "followers only #rust", Visibility::Private, None);
    let Outcome::Done { id: Some(private) } = private else { panic!() };
    assert_eq!(w.home(me), vec![tagged], "only the public post with the hashtag, from someone not blocking");
    assert!(!w.home(me).contains(&other) && !w.home(me).contains(&private));
    let page = Page { limit: 40, ..Page::default() };
    assert_eq!(
        query::followed_tags(&w.t, me, &page).unwrap().into_iter().map(|(_, t)| t).collect::<Vec<_>>(),
        vec!["rust"]
    );
    w.run(Command::UnfollowTag { account: me, tag: "rust".into() });
    assert!(w.home(me).is_empty(), "unfollowing the hashtag takes its posts out");
    assert!(!query::follows_tag(&w.t, me, "rust").unwrap());
}

#[test]
fn direct_posts_make_conversations() {
    let mut w = World::new();
    let (a, b, c) = (w.user("a"), w.user("b"), w.user("c"));
    let direct = |w: &mut World, author, text: &str, reply| match w.post_with(author, text, Visibility::Direct, reply) {
        Outcome::Done { id: Some(id) } => id,
        other => panic!("{other:?}"),
    };
    let page = Page { limit: 40, ..Page::default() };
    let convs = |w: &World, who| query::conversations(&w.t, who, &page).unwrap();
    let first = direct(&mut w, a, "@b psst", None);
    let [(_, conv, ca, _)] = &convs(&w, a)[..] else { panic!() };
    let [(_, conv_b, cb, Some((shown, _)))] = &convs(&w, b)[..] else { panic!() };
    assert_eq!((conv, conv_b, shown.id), (&first, &first, first));
    assert!(!ca.unread && cb.unread, "unread for the recipient only");
    assert!(convs(&w, c).is_empty());

    let reply = direct(&mut w, b, "@a yes", Some(first));
    assert_eq!(convs(&w, a)[0].2.last_status, reply, "a reply joins the conversation");
    assert!(convs(&w, a)[0].2.unread);
    w.run(Command::ReadConversation { account: a, conversation: first });
    assert!(!convs(&w, a)[0].2.unread);
    w.run(Command::DeleteStatus { actor: b, status: reply });
    assert_eq!(convs(&w, a)[0].2.last_status, first, "back to the message before");
    w.run(Command::RemoveConversation { account: b, conversation: first });
    assert!(convs(&w, b).is_empty());
    assert_eq!(
        w.run(Command::ReadConversation { account: c, conversation: first }),
        Outcome::Rejected(Rejection::NotFound)
    );
    w.run(Command::DeleteStatus { actor: a, status: first });
    assert!(convs(&w, a).is_empty(), "no message left");
}

#[test]
fn timed_mutes_lift_by_the_logs_clock() {
    let mut w = World::new();
    let (a, b, c) = (w.user("a"), w.user("b"), w.user("c"));
    w.follow(a, b);
    let until = w.now + 100;
    w.run(Command::MuteFor { account: a, target: b, notifications: true, expires_at: Some(until) });
    w.run(Command::MuteFor { account: a, target: c, notifications: false, expires_at: None });
    let p = w.post(b, "muted for now");
    assert!(w.home(a).is_empty());
    assert!(query::relationship(&w.t, a, b).unwrap().muting);
    w.now = until - 1; // the next command is applied at `until`
    w.post(c, "any command");
    assert!(!query::relationship(&w.t, a, b).unwrap().muting, "lifted by the first command at its time");
    assert!(query::relationship(&w.t, a, c).unwrap().muting, "an open-ended mute stays");
    assert_eq!(w.home(a), vec![p]);
    let page = Page { limit: 40, ..Page::default() };
    assert_eq!(query::mutes(&w.t, a, &page).unwrap().len(), 1);
}

#[test]
fn filters_keep_item_ids_across_updates_and_match_words() {
    let mut w = World::new();
    let (a, b) = (w.user("a"), w.user("b"));
    let ends = w.now + 1_000;
    let spec = |keywords: Vec<(Option<Id>, String, bool)>| roost_types::FilterSpec {
        title: "f".into(),
        contexts: vec![roost_types::FilterContext::Home],
        action: roost_types::FilterAction::Hide,
        expires_at: Some(ends),
        keywords,
        statuses: vec![],
    };
    let f = w.id(Command::SaveFilter { account: a, filter: None, spec: spec(vec![(None, "Rust".into(), true)]) });
    let saved = crate::filters::filter(&w.t, a, f).unwrap().unwrap();
    let kid = saved.keywords[0].0;
    let next = spec(vec![(Some(kid), "Rust".into(), true), (None, "go".into(), false)]);
    w.run(Command::SaveFilter { account: a, filter: Some(f), spec: next });
    let saved = crate::filters::filter(&w.t, a, f).unwrap().unwrap();
    assert_eq!(saved.keywords[0].0, kid, "a kept keyword keeps its ID");
    assert_ne!(saved.keywords[1].0, kid);
    assert_eq!(
        w.run(Command::SaveFilter { account: b, filter: Some(f), spec: spec(vec![]) }),
        Outcome::Rejected(Rejection::NotFound),
        "not b's filter"
    );
    let p = w.post(b, "I like rust, and goats");
    let s = query::status(&w.t, p).unwrap().unwrap();
    let all = crate::filters::filters(&w.t, a).unwrap();
    let active = crate::filters::active(&all, roost_types::FilterContext::Home, w.now);
    let found = crate::filters::matches(&active, &s);
    assert_eq!(found[0].keywords, vec!["Rust", "go"], "whole word, and part of a word");
    assert!(crate::filters::active(&all, roost_types::FilterContext::Public, w.now).is_empty());
    assert!(crate::filters::active(&all, roost_types::FilterContext::Home, ends).is_empty(), "expired");
}

#[test]
fn usernames_are_unique_ignoring_case() {
    let mut w = World::new();
    w.user("Alice");
    let again = w.run(Command::CreateAccount {
        username: "alice".into(),
        email: None,
        password_hash: "x".into(),
        role: Role::Member,
        display_name: None,
    });
    assert_eq!(again, Outcome::Rejected(Rejection::UsernameTaken));
    assert_eq!(query::account_by_username(&w.t, "ALICE").unwrap().unwrap().username, "Alice");
}

#[test]
fn home_timeline_gets_followed_posts_newest_first() {
    let mut w = World::new();
    let (a, b, c) = (w.user("a"), w.user("b"), w.user("c"));
    w.follow(a, b);
    let p1 = w.post(b, "one");
    let p2 = w.post(c, "not followed");
    let p3 = w.post(a, "mine");
    assert_eq!(w.home(a), vec![p3, p1]);
    assert!(!w.home(a).contains(&p2));
    assert_eq!(query::account(&w.t, b).unwrap().unwrap().followers_count, 1);
    assert_eq!(w.notifications(b), vec![NotificationKind::Follow]);
}

#[test]
fn follow_merges_and_unfollow_purges_home() {
    let mut w = World::new();
    let (a, b) = (w.user("a"), w.user("b"));
    let p = w.post(b, "before the follow");
    w.follow(a, b);
    assert_eq!(w.home(a), vec![p]);
    w.run(Command::Unfollow { account: a, target: b });
    assert!(w.home(a).is_empty());
    assert_eq!(query::account(&w.t, a).unwrap().unwrap().following_count, 0);
}

#[test]
fn self_follow_is_rejected_and_writes_nothing() {
    let mut w = World::new();
    let a = w.user("a");
    let before = w.t.clone();
    assert_eq!(w.follow(a, a), Outcome::Rejected(Rejection::SelfAction));
    assert_eq!(w.t, before);
}

#[test]
fn private_and_direct_posts_reach_only_their_audience() {
    let mut w = World::new();
    let (a, follower, stranger, friend) = (w.user("a"), w.user("f"), w.user("s"), w.user("friend"));
    w.follow(follower, a);
    let private = match w.post_with(a, "for followers", Visibility::Private, None) {
        Outcome::Done { id: Some(id) } => id,
        o => panic!("{o:?}"),
    };
    let direct = match w.post_with(a, "psst @friend", Visibility::Direct, None) {
        Outcome::Done { id: Some(id) } => id,
        o => panic!("{o:?}"),
    };
    assert!(w.sees(follower, private) && !w.sees(stranger, private) && w.sees(a, private));
    assert!(w.sees(friend, direct) && !w.sees(follower, direct) && !w.sees(stranger, direct));
    // A direct message from someone the recipient does not follow reaches their conversations
    // and notifications, not their home timeline (as on Mastodon); from someone they follow, it
    // does.
    assert_eq!(w.home(friend), Vec::<Id>::new());
    assert_eq!(w.home(follower), vec![private]);
    assert_eq!(w.notifications(friend), vec![NotificationKind::Mention]);
    w.follow(friend, a);
    let followed_dm = match w.post_with(a, "again @friend", Visibility::Direct, None) {
        Outcome::Done { id: Some(id) } => id,
        o => panic!("{o:?}"),
    };
    assert!(w.home(friend).contains(&followed_dm));
    assert!(!w.home(friend).contains(&direct), "the stranger-time message stays out");
}

#[test]
fn blocks_hide_everything_both_ways_and_end_follows() {
    let mut w = World::new();
    let (a, b) = (w.user("a"), w.user("b"));
    w.follow(b, a);
    let p = w.post(a, "hello");
    w.run(Command::Block { account: a, target: b });
    assert!(!w.sees(b, p));
    assert!(w.home(b).is_empty());
    assert_eq!(w.follow(b, a), Outcome::Rejected(Rejection::Blocked));
    assert_eq!(query::account(&w.t, a).unwrap().unwrap().followers_count, 0);
    let q = w.post(b, "can a see me?");
    assert!(!w.sees(a, q));
    w.run(Command::Unblock { account: a, target: b });
    assert!(w.sees(b, p));
}

#[test]
fn replies_build_threads_and_deleted_parents_refuse_replies() {
    let mut w = World::new();
    let (a, b) = (w.user("a"), w.user("b"));
    let root = w.post(a, "root");
    let r1 = match w.post_with(b, "reply", Visibility::Public, Some(root)) {
        Outcome::Done { id: Some(id) } => id,
        o => panic!("{o:?}"),
    };
    let r2 = match w.post_with(a, "reply to reply", Visibility::Public, Some(r1)) {
        Outcome::Done { id: Some(id) } => id,
        o => panic!("{o:?}"),
    };
    let (anc, desc) = query::context(&w.t, b, r1).unwrap().unwrap();
    assert_eq!(anc.iter().map(|s| s.id).collect::<Vec<_>>(), vec![root]);
    assert_eq!(desc.iter().map(|s| s.id).collect::<Vec<_>>(), vec![r2]);
    assert_eq!(query::status(&w.t, root).unwrap().unwrap().replies_count, 1);
    assert_eq!(w.notifications(a), vec![NotificationKind::Mention]);

    assert_eq!(w.run(Command::DeleteStatus { actor: a, status: root }), Outcome::created(root));
    assert_eq!(w.post_with(b, "too late", Visibility::Public, Some(root)), Outcome::Rejected(Rejection::TargetDeleted));
    assert_eq!(w.run(Command::DeleteStatus { actor: b, status: r2 }), Outcome::Rejected(Rejection::Forbidden));
}

#[test]
fn favourites_and_reblogs_count_notify_and_undo() {
    let mut w = World::new();
    let (a, b, c) = (w.user("a"), w.user("b"), w.user("c"));
    w.follow(c, b);
    let p = w.post(a, "like me");
    w.run(Command::Favourite { account: b, status: p });
    w.run(Command::Favourite { account: b, status: p });
    let r = w.id(Command::Reblog { account: b, status: p, visibility: Visibility::Public });
    let s = query::status(&w.t, p).unwrap().unwrap();
    assert_eq!((s.favourites_count, s.reblogs_count), (1, 1));
    assert_eq!(w.home(c), vec![r], "the reblog reaches b's followers");
    assert_eq!(w.notifications(a), vec![NotificationKind::Reblog, NotificationKind::Favourite]);
    w.run(Command::Unreblog { account: b, status: p });
    w.run(Command::Unfavourite { account: b, status: p });
    let s = query::status(&w.t, p).unwrap().unwrap();
    assert_eq!((s.favourites_count, s.reblogs_count), (0, 0));
    assert!(w.home(c).is_empty());
    assert!(query::favourites(&w.t, b, &Page { limit: 20, ..Page::default() }).unwrap().is_empty());
}

#[test]
fn private_posts_cannot_be_reblogged_by_others() {
    let mut w = World::new();
    let (a, b) = (w.user("a"), w.user("b"));
    w.follow(b, a);
    let Outcome::Done { id: Some(p) } = w.post_with(a, "private", Visibility::Private, None) else { panic!() };
    assert_eq!(
        w.run(Command::Reblog { account: b, status: p, visibility: Visibility::Public }),
        Outcome::Rejected(Rejection::NotReblogable)
    );
}

#[test]
fn idempotency_key_returns_the_first_post() {
    let mut w = World::new();
    let a = w.user("a");
    let new = NewStatus {
        author: a,
        text: "once".into(),
        in_reply_to: None,
        quote_of: None,
        visibility: Visibility::Public,
        spoiler_text: String::new(),
        sensitive: false,
        language: None,
        idempotency_key: Some("k1".into()),
        application: None,
    };
    let first = w.run(Command::CreateStatus(new.clone()));
    let second = w.run(Command::CreateStatus(new));
    assert_eq!(first, second);
    assert_eq!(query::account(&w.t, a).unwrap().unwrap().statuses_count, 1);
}

#[test]
fn pagination_with_max_since_and_min_id() {
    let mut w = World::new();
    let a = w.user("a");
    let posts: Vec<Id> = (0..10).map(|i| w.post(a, &format!("post {i}"))).collect();
    let page = |max_id, since_id, min_id, limit| {
        query::public(&w.t, a, &Page { max_id, since_id, min_id, limit })
            .unwrap()
            .into_iter()
            .map(|(s, _)| s.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(page(None, None, None, 3), vec![posts[9], posts[8], posts[7]]);
    assert_eq!(page(Some(posts[7]), None, None, 3), vec![posts[6], posts[5], posts[4]]);
    assert_eq!(page(None, Some(posts[5]), None, 2), vec![posts[9], posts[8]]);
    assert_eq!(page(None, None, Some(posts[5]), 2), vec![posts[7], posts[6]]);
}

#[test]
fn notifications_dismiss_and_clear() {
    let mut w = World::new();
    let (a, b) = (w.user("a"), w.user("b"));
    w.follow(b, a);
    w.post(b, "hi @a");
    assert_eq!(w.notifications(a), vec![NotificationKind::Mention, NotificationKind::Follow]);
    let all =
        query::notifications(&w.t, a, &NotificationFilter::default(), &Page { limit: 5, ..Page::default() }).unwrap();
    let filtered = NotificationFilter { types: vec![NotificationKind::Follow], ..NotificationFilter::default() };
    assert_eq!(query::notifications(&w.t, a, &filtered, &Page { limit: 5, ..Page::default() }).unwrap().len(), 1);
    assert_eq!(w.run(Command::DismissNotification { account: a, notification: all[0].0.id }), Outcome::done());
    assert_eq!(
        w.run(Command::DismissNotification { account: b, notification: all[1].0.id }),
        Outcome::Rejected(Rejection::NotFound)
    );
    w.run(Command::ClearNotifications { account: a });
    assert!(w.notifications(a).is_empty());
}

#[test]
fn mutes_hide_from_feeds_but_not_from_direct_reads() {
    let mut w = World::new();
    let (a, b) = (w.user("a"), w.user("b"));
    w.follow(a, b);
    let p = w.post(b, "noise");
    w.run(Command::Mute { account: a, target: b, notifications: true });
    assert!(w.home(a).is_empty());
    assert!(w.sees(a, p));
    w.post(b, "@a hello");
    assert!(w.notifications(a).is_empty());
    w.run(Command::Unmute { account: a, target: b });
    assert_eq!(w.home(a).len(), 2);
}

// ---- properties ----------------------------------------------------------------------------

const USERS: usize = 5;

fn arb_command() -> impl Strategy<Value = (u8, u8, u8, u8)> {
    (0u8..27, 0u8..USERS as u8, 0u8..USERS as u8, 0u8..40)
}

/// Turns random numbers into commands over a small world, so that sequences hit the same
/// accounts and posts often.
fn to_command(w: &World, users: &[Id], (op, a, b, n): (u8, u8, u8, u8)) -> Command {
    let (a, b) = (users[a as usize], users[b as usize]);
    let statuses: Vec<Id> = query::public(&w.t, a, &Page { limit: 80, ..Page::default() })
        .unwrap()
        .into_iter()
        .map(|(s, _)| s.id)
        .chain(w.home(a))
        .collect();
    let status = statuses.get(n as usize % statuses.len().max(1)).copied().unwrap_or(n as Id);
    let vis = [Visibility::Public, Visibility::Unlisted, Visibility::Private, Visibility::Direct][n as usize % 4];
    match op {
        0 | 1 => Command::CreateStatus(NewStatus {
            in_reply_to: (n % 3 == 0).then_some(status),
            quote_of: (n % 7 == 0).then_some(status),
            visibility: vis,
            ..new_status(a, &format!("post {n} @u{b} #t{}", n % 3))
        }),
        2 => Command::DeleteStatus { actor: a, status },
        3 => Command::Favourite { account: a, status },
        4 => Command::Unfavourite { account: a, status },
        5 => Command::Reblog { account: a, status, visibility: Visibility::Public },
        6 => Command::Unreblog { account: a, status },
        7 => Command::Follow { account: a, target: b, reblogs: n % 2 == 0, notify: false },
        8 => Command::Unfollow { account: a, target: b },
        9 => Command::Block { account: a, target: b },
        10 => Command::Unblock { account: a, target: b },
        11 => {
            Command::UpdateAccount { account: a, display_name: None, note: None, locked: Some(n % 2 == 0), bot: None }
        }
        12 => Command::AuthorizeFollowRequest { account: a, requester: b },
        13 => Command::RejectFollowRequest { account: a, requester: b },
        14 => Command::Pin { account: a, status },
        15 => Command::Unpin { account: a, status },
        19 => Command::FollowTag { account: a, tag: format!("t{}", n % 3) },
        20 => Command::UnfollowTag { account: a, tag: format!("t{}", n % 3) },
        17 => Command::CreateList {
            account: a,
            title: format!("l{n}"),
            replies_policy: roost_types::RepliesPolicy::Followed,
            exclusive: n % 2 == 0,
        },
        18 => match query::lists(&w.t, a).unwrap().first() {
            Some(l) => Command::AddToList { account: a, list: l.id, members: vec![b] },
            None => Command::DeleteList { account: a, list: n as Id },
        },
        16 => Command::EditStatus {
            actor: a,
            status,
            text: format!("edited {n} @u{b} #t{}", n % 4),
            spoiler_text: String::new(),
            sensitive: false,
            language: None,
        },
        21 => Command::MuteFor { account: a, target: b, notifications: true, expires_at: Some(w.now + i64::from(n)) },
        23 => Command::Follow { account: a, target: b, reblogs: true, notify: true },
        24 => Command::Tick,
        25 => Command::ScheduleStatus {
            status: NewStatus {
                in_reply_to: (n % 3 == 0).then_some(status),
                visibility: vis,
                ..new_status(a, &format!("later {n} @u{b}"))
            },
            poll: None,
            scheduled_at: w.now + i64::from(n % 5),
        },
        26 => Command::Vote { account: a, poll: status, choices: vec![u32::from(n % 3)] },
        _ => Command::Mute { account: a, target: b, notifications: n % 2 == 0 },
    }
}

fn play(ops: &[(u8, u8, u8, u8)]) -> (World, Vec<Id>, Vec<Request>) {
    let mut w = World::new();
    let users: Vec<Id> = (0..USERS).map(|i| w.user(&format!("u{i}"))).collect();
    let mut log = Vec::new();
    // Half the sequences run under the newest protocol's rules, activated after the accounts
    // exist (as on an upgraded instance).
    if ops.first().is_some_and(|op| op.3 % 2 == 0) {
        w.now += 1;
        let req =
            Request { at: w.now, by: None, command: Command::ActivateProtocol { version: roost_types::PROTOCOL } };
        apply(&mut w.t, &req, &mut w.home).unwrap();
        log.push(req);
    }
    for &op in ops {
        let command = to_command(&w, &users, op);
        w.now += 1;
        let req = Request { at: w.now, by: None, command };
        apply(&mut w.t, &req, &mut w.home).unwrap();
        log.push(req);
    }
    (w, users, log)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn counts_match_the_relations_they_count(ops in prop::collection::vec(arb_command(), 1..120)) {
        let (w, users, _) = play(&ops);
        for &u in &users {
            let a = query::account(&w.t, u).unwrap().unwrap();
            prop_assert_eq!(a.followers_count, query::count_prefix(&w.t, Table::Followers, &k1(u)).unwrap());
            prop_assert_eq!(a.following_count, query::count_prefix(&w.t, Table::Following, &k1(u)).unwrap());
            prop_assert_eq!(a.statuses_count, query::count_prefix(&w.t, Table::AccountStatuses, &k1(u)).unwrap());
        }
        let mut all = Vec::new();
        w.t.scan(Table::Status, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, crate::kv::Dir::Forward, &mut |_, v| {
            all.push(crate::kv::decode::<crate::model::Status>(v)?);
            Ok(true)
        }).unwrap();
        for s in all {
            prop_assert_eq!(s.favourites_count, query::count_prefix(&w.t, Table::Favourite, &k1(s.id)).unwrap());
            prop_assert_eq!(s.reblogs_count, query::count_prefix(&w.t, Table::Reblog, &k1(s.id)).unwrap());
            prop_assert_eq!(s.replies_count, query::count_prefix(&w.t, Table::Replies, &k1(s.id)).unwrap());
        }
    }

    #[test]
    fn timelines_show_only_existing_visible_posts(ops in prop::collection::vec(arb_command(), 1..120)) {
        let (w, users, _) = play(&ops);
        for &u in &users {
            let page = Page { limit: 80, ..Page::default() };
            let mut shown = query::home(&w.t, &w.home, u, &page).unwrap();
            shown.extend(query::public(&w.t, u, &page).unwrap());
            for &other in &users {
                shown.extend(query::account_statuses(&w.t, u, other, Default::default(), &page).unwrap());
            }
            for (s, original) in shown {
                prop_assert!(query::status(&w.t, s.id).unwrap().is_some());
                prop_assert!(crate::visibility::can_see(&w.t, u, &s).unwrap());
                if let Some(o) = original {
                    prop_assert!(crate::visibility::can_see(&w.t, u, &o).unwrap());
                }
            }
        }
        // Every raw timeline entry points at a post that exists: deletion cleans up eagerly.
        for (table, id_at) in [(Table::Public, 0), (Table::AccountStatuses, 8), (Table::Replies, 8)] {
            let mut ids = Vec::new();
            w.t.scan(table, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, crate::kv::Dir::Forward, &mut |k, _| {
                ids.push(crate::kv::read_u64(k, id_at)?);
                Ok(true)
            }).unwrap();
            for id in ids {
                prop_assert!(query::status(&w.t, id).unwrap().is_some(), "{:?} points at deleted {}", table, id);
            }
        }
    }

    #[test]
    fn replay_gives_the_same_digest(ops in prop::collection::vec(arb_command(), 1..80)) {
        let (w, _, log) = play(&ops);
        let mut fresh = World::new();
        for i in 0..USERS {
            fresh.user(&format!("u{i}"));
        }
        for req in &log {
            apply(&mut fresh.t, req, &mut fresh.home).unwrap();
        }
        prop_assert_eq!(digest(&w.t).unwrap(), digest(&fresh.t).unwrap());
        prop_assert_eq!(&w.t, &fresh.t);
        prop_assert_eq!(&w.home, &fresh.home, "the derived home index is deterministic too");
    }
}

#[test]
fn mem_tables_conform() {
    crate::kv::conformance(&mut MemTables::new()).unwrap();
}

#[test]
fn overlay_conforms_and_leaves_its_base_alone() {
    let base = MemTables::new();
    let mut overlay = crate::kv::Overlay::new(&base);
    crate::kv::conformance(&mut overlay).unwrap();
    assert!(base.entries().is_empty());

    let mut w = World::new();
    let a = w.user("a");
    let before = w.t.clone();
    let mut dry = crate::kv::Overlay::new(&w.t);
    let outcome = apply(
        &mut dry,
        &Request {
            at: w.now,
            by: None,
            command: Command::Follow { account: a, target: a, reblogs: true, notify: false },
        },
        &mut crate::effects::NoEffects,
    )
    .unwrap();
    assert_eq!(outcome, Outcome::Rejected(Rejection::SelfAction));
    assert_eq!(w.t, before);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// An overlay over a base reads exactly like a copy of the base with the changes applied.
    #[test]
    fn overlay_reads_like_the_changed_copy(
        base_keys in prop::collection::vec(0u8..40, 0..30),
        changes in prop::collection::vec((0u8..40, prop::option::of(0u8..5)), 0..30),
        lo in 0u8..40,
        hi in 0u8..40,
        stop_after in 1usize..40,
    ) {
        use crate::kv::{Dir, Overlay};
        use std::ops::Bound;
        let mut base = MemTables::new();
        for k in &base_keys {
            base.put(Table::Status, &[*k], &[*k]).unwrap();
        }
        base.put(Table::Account, &[1], b"neighbour").unwrap();
        let mut copy = base.clone();
        let mut overlay = Overlay::new(&base);
        for (k, v) in &changes {
            match v {
                Some(v) => {
                    overlay.put(Table::Status, &[*k], &[*v]).unwrap();
                    copy.put(Table::Status, &[*k], &[*v]).unwrap();
                }
                None => {
                    let a = overlay.delete(Table::Status, &[*k]).unwrap();
                    let b = copy.delete(Table::Status, &[*k]).unwrap();
                    prop_assert_eq!(a, b);
                }
            }
        }
        for dir in [Dir::Forward, Dir::Reverse] {
            let read = |t: &dyn ReadTables| {
                let mut out = Vec::new();
                t.scan(Table::Status, Bound::Included(&[lo][..]), Bound::Excluded(&[hi][..]), dir, &mut |k, v| {
                    out.push((k.to_vec(), v.to_vec()));
                    Ok(out.len() < stop_after)
                }).unwrap();
                out
            };
            prop_assert_eq!(read(&overlay), read(&copy));
        }
    }
}

#[test]
fn home_index_rebuilds_from_the_state() {
    let mut w = World::new();
    let (a, b, c) = (w.user("a"), w.user("b"), w.user("c"));
    w.follow(a, b);
    let p1 = w.post(b, "one");
    let p2 = w.post(c, "not followed");
    let p3 = w.post(a, "mine");
    let Outcome::Done { id: Some(d) } = w.post_with(b, "@a psst", Visibility::Direct, None) else { panic!() };
    let Outcome::Done { id: Some(stranger_dm) } = w.post_with(c, "@a hi", Visibility::Direct, None) else { panic!() };
    let rebuilt = crate::home::HomeIndex::rebuild(&w.t, 1_000_000).unwrap();
    let page = Page { limit: 40, ..Page::default() };
    let read = |h: &crate::home::HomeIndex| {
        query::home(&w.t, h, a, &page).unwrap().into_iter().map(|(s, _)| s.id).collect::<Vec<_>>()
    };
    assert_eq!(read(&rebuilt), vec![d, p3, p1]);
    assert_eq!(read(&rebuilt), read(&w.home));
    assert!(!read(&rebuilt).contains(&p2));
    assert!(!read(&rebuilt).contains(&stranger_dm));
}

#[test]
fn authorization_codes_are_redeemed_once_by_their_client_before_they_expire() {
    let mut w = World::new();
    let alice = w.user("alice");
    let app = |client_id: &str| Command::CreateApp {
        client_id: client_id.into(),
        client_secret_hash: [0; 32],
        name: "app".into(),
        website: None,
        redirect_uris: vec!["urn:ietf:wg:oauth:2.0:oob".into()],
        scopes: vec!["read".into()],
    };
    w.run(app("c1"));
    w.run(app("c2"));
    let issue = |code: u8| Command::IssueAuthCode {
        code_hash: [code; 32],
        client_id: "c1".into(),
        account: alice,
        scopes: vec!["read".into()],
        redirect_uri: "urn:ietf:wg:oauth:2.0:oob".into(),
        code_challenge: None,
    };
    let redeem = |code: u8, client: &str, token: u8| Command::RedeemAuthCode {
        code_hash: [code; 32],
        client_id: client.into(),
        token_hash: [token; 32],
    };
    assert_eq!(w.run(issue(1)), Outcome::done());
    assert_eq!(w.run(redeem(1, "c1", 10)), Outcome::done());
    let token = query::token(&w.t, &[10; 32]).unwrap().unwrap();
    assert_eq!((token.account, token.scopes.clone()), (Some(alice), vec!["read".to_string()]));
    assert_eq!(w.run(redeem(1, "c1", 11)), Outcome::Rejected(Rejection::InvalidGrant), "used up");
    assert!(query::token(&w.t, &[11; 32]).unwrap().is_none());

    w.run(issue(2));
    assert_eq!(w.run(redeem(2, "c2", 12)), Outcome::Rejected(Rejection::InvalidGrant), "another client's");
    assert_eq!(w.run(redeem(2, "c1", 12)), Outcome::Rejected(Rejection::InvalidGrant), "one attempt only");

    w.run(issue(3));
    w.now += roost_types::AUTH_CODE_LIFETIME_MS;
    assert_eq!(w.run(redeem(3, "c1", 13)), Outcome::Rejected(Rejection::InvalidGrant), "expired");
    assert!(query::token(&w.t, &[13; 32]).unwrap().is_none());
}

#[test]
fn invites_create_accounts_with_their_role_until_used_up_expired_or_withdrawn() {
    let mut w = World::new();
    let admin = w.id(Command::CreateAccount {
        username: "admin".into(),
        email: None,
        password_hash: "x".into(),
        role: Role::Admin,
        display_name: None,
    });
    let member = w.user("member");
    let by_invite = |code: u8, name: &str| Command::CreateAccountByInvite {
        code_hash: [code; 32],
        username: name.into(),
        email: None,
        password_hash: "x".into(),
        display_name: None,
    };
    let invite = |code: u8, by: Option<Id>, role: Role, max_uses: Option<u32>, expires_at: Option<i64>| {
        Command::CreateInvite { code_hash: [code; 32], created_by: by, role, max_uses, expires_at }
    };
    // Members do not invite; admins do not hand out the owner's or a higher role.
    assert_eq!(w.run(invite(1, Some(member), Role::Member, None, None)), Outcome::Rejected(Rejection::Forbidden));
    assert_eq!(w.run(invite(1, Some(admin), Role::Owner, None, None)), Outcome::Rejected(Rejection::Forbidden));
    assert_eq!(w.run(invite(1, None, Role::Owner, None, None)), Outcome::Rejected(Rejection::Forbidden));
    let once = w.id(invite(1, Some(admin), Role::Member, Some(1), None));
    assert_eq!(w.run(invite(1, Some(admin), Role::Member, None, None)), Outcome::Rejected(Rejection::InvalidInvite));

    let carol = w.id(by_invite(1, "carol"));
    assert_eq!(query::account(&w.t, carol).unwrap().map(|a| a.role), Some(Role::Member));
    assert_eq!(w.run(by_invite(1, "dave")), Outcome::Rejected(Rejection::InvalidInvite), "used up");
    assert_eq!(w.run(by_invite(9, "dave")), Outcome::Rejected(Rejection::InvalidInvite), "unknown");
    let taken = w.id(invite(2, None, Role::Moderator, Some(5), None));
    assert_eq!(w.run(by_invite(2, "carol")), Outcome::Rejected(Rejection::UsernameTaken));
    let listed = query::invites(&w.t, &Page { limit: 10, ..Page::default() }).unwrap();
    assert_eq!(listed.iter().map(|i| (i.id, i.uses)).collect::<Vec<_>>(), vec![(taken, 0), (once, 1)]);
    let mod_ = w.id(by_invite(2, "erin"));
    assert_eq!(query::account(&w.t, mod_).unwrap().map(|a| a.role), Some(Role::Moderator));
    w.run(Command::RevokeInvite { actor: Some(admin), invite: taken });
    assert_eq!(w.run(by_invite(2, "frank")), Outcome::Rejected(Rejection::InvalidInvite), "withdrawn");
    let soon = w.now + 5;
    w.id(invite(3, None, Role::Member, None, Some(soon)));
    w.id(by_invite(3, "gina"));
    w.now = soon;
    assert_eq!(w.run(by_invite(3, "hank")), Outcome::Rejected(Rejection::InvalidInvite), "expired");
}

#[test]
fn roles_and_suspensions_follow_rank() {
    let mut w = World::new();
    let mk = |w: &mut World, name: &str, role: Role| {
        w.id(Command::CreateAccount {
            username: name.into(),
            email: None,
            password_hash: "x".into(),
            role,
            display_name: None,
        })
    };
    let owner = mk(&mut w, "owner", Role::Owner);
    let admin = mk(&mut w, "admin", Role::Admin);
    let moderator = mk(&mut w, "mod", Role::Moderator);
    let member = mk(&mut w, "member", Role::Member);
    let forbidden = Outcome::Rejected(Rejection::Forbidden);
    assert_eq!(w.run(Command::SetRole { actor: Some(moderator), account: member, role: Role::Moderator }), forbidden);
    assert_eq!(w.run(Command::SetRole { actor: Some(admin), account: member, role: Role::Owner }), forbidden);
    assert_eq!(w.run(Command::SetRole { actor: None, account: owner, role: Role::Member }), forbidden);
    assert_eq!(
        w.run(Command::SetRole { actor: Some(admin), account: admin, role: Role::Member }),
        Outcome::Rejected(Rejection::SelfAction)
    );
    assert_eq!(w.run(Command::SetRole { actor: Some(admin), account: member, role: Role::Moderator }), Outcome::done());
    assert_eq!(query::account(&w.t, member).unwrap().map(|a| a.role), Some(Role::Moderator));
    w.run(Command::SetRole { actor: Some(owner), account: member, role: Role::Member });

    w.run(Command::CreateApp {
        client_id: "app".into(),
        client_secret_hash: [0; 32],
        name: "app".into(),
        website: None,
        redirect_uris: Vec::new(),
        scopes: Vec::new(),
    });
    let token = |w: &mut World, n: u8| {
        w.run(Command::IssueToken {
            token_hash: [n; 32],
            client_id: "app".into(),
            account: Some(member),
            scopes: Vec::new(),
        })
    };
    token(&mut w, 1);
    token(&mut w, 2);
    assert_eq!(query::account_tokens(&w.t, member).unwrap().len(), 2);
    assert_eq!(w.run(Command::Suspend { actor: Some(member), account: moderator }), forbidden);
    assert_eq!(w.run(Command::Suspend { actor: Some(moderator), account: admin }), forbidden);
    assert_eq!(w.run(Command::Suspend { actor: Some(moderator), account: member }), Outcome::done());
    assert!(query::suspended(&w.t, member).unwrap());
    assert!(query::token(&w.t, &[1; 32]).unwrap().is_none(), "a suspension ends every session");
    assert!(query::account_tokens(&w.t, member).unwrap().is_empty());
    assert_eq!(token(&mut w, 3), forbidden, "no new sessions while suspended");
    assert_eq!(w.run(Command::Unsuspend { actor: Some(admin), account: member }), Outcome::done());
    assert_eq!(token(&mut w, 3), Outcome::done());
    w.run(Command::RevokeToken { token_hash: [3; 32] });
    assert!(query::account_tokens(&w.t, member).unwrap().is_empty(), "revoking leaves no index entry");

    // A new password ends every session but the one that set it.
    for n in 4..7 {
        token(&mut w, n);
    }
    w.run(Command::SetPassword { account: member, password_hash: "y".into(), keep: Some([5; 32]) });
    let left: Vec<[u8; 32]> = query::account_tokens(&w.t, member).unwrap().into_iter().map(|(h, _)| h).collect();
    assert_eq!(left, vec![[5; 32]]);
    assert_eq!(query::account(&w.t, member).unwrap().map(|a| a.password_hash), Some("y".to_string()));
}

/// Who asked is recorded from protocol 3 on: an attributed request is refused before it (as
/// every replica of an older log decides), applied like any other after, and a `By` nested
/// where only decoding puts one is refused.
#[test]
fn attribution_needs_protocol_3() {
    let by = roost_types::Actor { account: None, via: roost_types::Via::AdminSocket };
    let mut w = World::new();
    assert_eq!(w.run(Command::ActivateProtocol { version: 2 }), Outcome::done());
    let a = w.user("alice");
    let attributed = |w: &mut World, command| {
        let mut fx = Effects::default();
        w.now += 1;
        apply(&mut w.t, &Request { at: w.now, by: Some(by.clone()), command }, &mut fx).unwrap()
    };
    let lock = || Command::UpdateAccount { account: a, display_name: None, note: None, locked: Some(true), bot: None };
    assert_eq!(attributed(&mut w, lock()), Outcome::Rejected(Rejection::NotActive));
    assert_eq!(w.run(Command::ActivateProtocol { version: 3 }), Outcome::done());
    assert!(matches!(attributed(&mut w, lock()), Outcome::Done { .. }));
    let nested = Command::By { by: by.clone(), command: Box::new(lock()) };
    assert_eq!(attributed(&mut w, nested), Outcome::Rejected(Rejection::Forbidden));
}
