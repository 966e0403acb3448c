//! The rules protocol 2 brings, each checked against protocol 1's where they differ: the old
//! rules must keep applying to the log before the activation entry.

use roost_types::{
    Command, Id, NewPoll, Outcome, PollSpec, ProfileUpdate, Rejection, Role, Visibility, APP_UNUSED_LIFETIME_MS,
    MAX_ACCOUNT_TOKENS, MAX_APP_TOKENS, MAX_SCHEDULED_PER_DAY, MAX_UNUSED_APPS,
};

use super::{new_status, World};
use crate::model::NotificationKind;
use crate::query::{self, Page};

fn add(w: &mut World, name: &str, role: Option<Role>) -> Outcome {
    w.run(Command::AddAccount {
        username: name.into(),
        email: None,
        password_hash: "x".into(),
        role,
        display_name: None,
    })
}

fn role(w: &World, id: Id) -> Role {
    query::account(&w.t, id).unwrap().unwrap().role
}

fn with_role(w: &mut World, name: &str, r: Role) -> Id {
    w.id(Command::CreateAccount {
        username: name.into(),
        email: None,
        password_hash: "x".into(),
        role: r,
        display_name: None,
    })
}

#[test]
fn newer_commands_wait_for_their_protocol() {
    let mut w = World::new();
    assert_eq!(add(&mut w, "a", None), Outcome::Rejected(Rejection::NotActive));
    assert_eq!(w.run(Command::Tick), Outcome::Rejected(Rejection::NotActive));
    w.run(Command::ActivateProtocol { version: 2 });
    assert_eq!(crate::protocol::active(&w.t).unwrap(), 2);
    assert!(matches!(add(&mut w, "a", None), Outcome::Done { id: Some(_) }));
    assert_eq!(w.run(Command::Tick), Outcome::done());
}

#[test]
fn there_is_exactly_one_owner_decided_in_apply() {
    let mut w = World::current();
    let ids: Vec<Id> = ["a", "b", "c"]
        .iter()
        .map(|n| match add(&mut w, n, None) {
            Outcome::Done { id: Some(id) } => id,
            o => panic!("{o:?}"),
        })
        .collect();
    assert_eq!(ids.iter().map(|&id| role(&w, id)).collect::<Vec<_>>(), [Role::Owner, Role::Member, Role::Member]);
    assert_eq!(add(&mut w, "d", Some(Role::Owner)), Outcome::Rejected(Rejection::OwnerExists));
    let old_way = w.run(Command::CreateAccount {
        username: "e".into(),
        email: None,
        password_hash: "x".into(),
        role: Role::Owner,
        display_name: None,
    });
    assert_eq!(old_way, Outcome::Rejected(Rejection::OwnerExists));
    assert_eq!(
        w.run(Command::SetRole { actor: None, account: ids[1], role: Role::Owner }),
        Outcome::Rejected(Rejection::Forbidden)
    );
    assert!(matches!(add(&mut w, "f", Some(Role::Admin)), Outcome::Done { .. }));
}

#[test]
fn activation_leaves_one_owner_of_those_protocol_1_let_race() {
    let mut w = World::new();
    let first = with_role(&mut w, "first", Role::Owner);
    let second = with_role(&mut w, "second", Role::Owner);
    assert_eq!(role(&w, second), Role::Owner, "protocol 1 made two owners");
    w.run(Command::ActivateProtocol { version: 2 });
    assert_eq!((role(&w, first), role(&w, second)), (Role::Owner, Role::Admin));
    assert_eq!(crate::protocol::owner(&w.t).unwrap(), Some(first));
}

#[test]
fn moderators_remove_posts_of_lower_ranks_only() {
    for v2 in [false, true] {
        let mut w = if v2 { World::current() } else { World::new() };
        let owner = with_role(&mut w, "owner", Role::Owner);
        let admin = with_role(&mut w, "admin", Role::Admin);
        let moderator = with_role(&mut w, "mod", Role::Moderator);
        let other_mod = with_role(&mut w, "mod2", Role::Moderator);
        let member = w.user("member");
        let by_owner = w.post(owner, "owner's");
        let by_admin = w.post(admin, "admin's");
        let by_peer = w.post(other_mod, "peer's");
        let by_member = w.post(member, "member's");
        let delete = |w: &mut World, actor, status| w.run(Command::DeleteStatus { actor, status });
        if v2 {
            for p in [by_owner, by_admin, by_peer] {
                assert_eq!(delete(&mut w, moderator, p), Outcome::Rejected(Rejection::Forbidden));
            }
            assert_eq!(delete(&mut w, admin, by_owner), Outcome::Rejected(Rejection::Forbidden));
        } else {
            assert!(matches!(delete(&mut w, moderator, by_owner), Outcome::Done { .. }), "protocol 1 allowed it");
        }
        assert!(matches!(delete(&mut w, moderator, by_member), Outcome::Done { .. }));
        assert!(matches!(delete(&mut w, owner, by_admin), Outcome::Done { .. }));
    }
}

#[test]
fn reports_are_closed_and_invites_withdrawn_by_higher_ranks() {
    let mut w = World::current();
    let _owner = with_role(&mut w, "owner", Role::Owner);
    let admin = with_role(&mut w, "admin", Role::Admin);
    let admin2 = with_role(&mut w, "admin2", Role::Admin);
    let moderator = with_role(&mut w, "mod", Role::Moderator);
    let member = w.user("member");
    let report = |w: &mut World, target| {
        w.id(Command::CreateReport {
            reporter: member,
            target,
            statuses: vec![],
            comment: String::new(),
            category: roost_types::ReportCategory::Other,
        })
    };
    let about_mod = report(&mut w, moderator);
    let about_admin = report(&mut w, admin);
    assert_eq!(
        w.run(Command::ResolveReport { actor: moderator, report: about_mod }),
        Outcome::Rejected(Rejection::Forbidden),
        "nobody closes the reports about themselves"
    );
    assert_eq!(
        w.run(Command::ResolveReport { actor: moderator, report: about_admin }),
        Outcome::Rejected(Rejection::Forbidden)
    );
    assert_eq!(w.run(Command::ResolveReport { actor: admin, report: about_mod }), Outcome::done());
    let invite = |w: &mut World, by: Option<Id>, code: u8| {
        w.id(Command::CreateInvite {
            code_hash: [code; 32],
            created_by: by,
            role: Role::Member,
            max_uses: None,
            expires_at: None,
        })
    };
    let operators = invite(&mut w, None, 1);
    let peers = invite(&mut w, Some(admin2), 2);
    let own = invite(&mut w, Some(admin), 3);
    for i in [operators, peers] {
        assert_eq!(
            w.run(Command::RevokeInvite { actor: Some(admin), invite: i }),
            Outcome::Rejected(Rejection::Forbidden)
        );
    }
    assert_eq!(w.run(Command::RevokeInvite { actor: Some(admin), invite: own }), Outcome::done());
    assert_eq!(w.run(Command::RevokeInvite { actor: None, invite: peers }), Outcome::done());
}

fn poll_post(w: &mut World, author: Id, multiple: bool, ends_in: i64) -> Id {
    let poll = NewPoll {
        options: vec!["x".into(), "y".into(), "z".into()],
        expires_at: w.now + ends_in,
        multiple,
        hide_totals: false,
    };
    w.id(Command::CreateStatusWithPoll { status: new_status(author, "which?"), poll })
}

#[test]
fn authors_do_not_vote_and_multiple_choice_voters_may_come_back() {
    let mut w = World::current();
    let (a, b) = (w.user("a"), w.user("b"));
    let single = poll_post(&mut w, a, false, 60_000);
    let multi = poll_post(&mut w, a, true, 60_000);
    let vote = |w: &mut World, account, poll, choices: &[u32]| {
        w.run(Command::Vote { account, poll, choices: choices.to_vec() })
    };
    assert_eq!(vote(&mut w, a, single, &[0]), Outcome::Rejected(Rejection::OwnPoll));
    assert!(matches!(vote(&mut w, b, multi, &[0]), Outcome::Done { .. }));
    assert!(matches!(vote(&mut w, b, multi, &[2]), Outcome::Done { .. }), "another option, later");
    assert_eq!(vote(&mut w, b, multi, &[2]), Outcome::Rejected(Rejection::AlreadyVoted), "the same option again");
    assert_eq!(vote(&mut w, b, multi, &[1, 2]), Outcome::Rejected(Rejection::AlreadyVoted), "all or nothing");
    let (p, mine) = query::poll(&w.t, b, multi).unwrap().unwrap();
    assert_eq!((p.votes, p.voters, mine), (vec![1, 0, 1], 1, Some(vec![0, 2])), "one voter, two votes");
    assert!(matches!(vote(&mut w, b, single, &[1]), Outcome::Done { .. }));
    assert_eq!(vote(&mut w, b, single, &[2]), Outcome::Rejected(Rejection::AlreadyVoted));

    let mut old = World::new();
    let a = old.user("a");
    let multi = poll_post(&mut old, a, true, 60_000);
    assert!(matches!(vote(&mut old, a, multi, &[0]), Outcome::Done { .. }), "protocol 1 let authors vote");
    assert_eq!(vote(&mut old, a, multi, &[1]), Outcome::Rejected(Rejection::AlreadyVoted));
}

#[test]
fn ended_polls_notify_their_author_and_voters_once() {
    let mut w = World::current();
    let (a, b, c) = (w.user("a"), w.user("b"), w.user("c"));
    let poll = poll_post(&mut w, a, false, 1_000);
    w.run(Command::Vote { account: b, poll, choices: vec![1] });
    let ends = query::poll(&w.t, b, poll).unwrap().unwrap().0.expires_at;
    assert_eq!(crate::protocol::next_due(&w.t).unwrap(), Some(ends), "the timer knows when");
    w.run(Command::Tick);
    assert!(w.notifications(b).is_empty(), "not over yet");
    w.now += 1_000;
    w.run(Command::Tick);
    assert_eq!(w.notifications(a), vec![NotificationKind::Poll]);
    assert_eq!(w.notifications(b), vec![NotificationKind::Poll]);
    assert!(w.notifications(c).is_empty(), "only voters");
    w.now += 1_000;
    w.run(Command::Tick);
    assert_eq!(w.notifications(b).len(), 1, "once");
    assert_eq!(crate::protocol::next_due(&w.t).unwrap(), None);

    // A poll that ended before protocol 2 was activated stays quiet.
    let mut old = World::new();
    let (a, b) = (old.user("a"), old.user("b"));
    let poll = poll_post(&mut old, a, false, 10);
    old.run(Command::Vote { account: b, poll, choices: vec![0] });
    old.now += 100;
    old.run(Command::ActivateProtocol { version: 2 });
    old.run(Command::Tick);
    assert!(old.notifications(b).is_empty());
}

#[test]
fn following_with_notify_brings_status_notifications() {
    let mut w = World::new();
    let (a, b, c) = (w.user("a"), w.user("b"), w.user("c"));
    w.run(Command::Follow { account: b, target: a, reblogs: true, notify: true });
    w.post(a, "before protocol 2");
    assert!(w.notifications(b).is_empty(), "protocol 1 ignored notify");
    w.run(Command::ActivateProtocol { version: 2 });
    let post = w.post(a, "hello");
    assert_eq!(w.notifications(b), vec![NotificationKind::Status], "the activation found the follow");
    let n = query::notifications(&w.t, b, &Default::default(), &Page { limit: 5, ..Page::default() }).unwrap();
    assert_eq!(n[0].0.status, Some(post));
    let other = w.post(c, "elsewhere");
    let reply_elsewhere = w.post_with(a, "@c yes", Visibility::Public, Some(other));
    assert!(matches!(reply_elsewhere, Outcome::Done { .. }));
    w.run(Command::Reblog { account: a, status: other, visibility: Visibility::Public });
    assert_eq!(w.notifications(b).len(), 1, "no status notification for replies to others or reblogs");
    w.post_with(a, "private", Visibility::Private, None);
    assert_eq!(w.notifications(b).len(), 2, "followers see private posts");
    w.run(Command::Follow { account: b, target: a, reblogs: true, notify: false });
    w.post(a, "quiet now");
    assert_eq!(w.notifications(b).len(), 2);
    w.run(Command::Follow { account: b, target: a, reblogs: true, notify: true });
    w.run(Command::Unfollow { account: b, target: a });
    w.post(a, "unfollowed");
    assert_eq!(w.notifications(b).len(), 1, "nothing new (and the private post is out of sight)");
}

#[test]
fn answered_follow_requests_take_their_notification_away() {
    let mut w = World::current();
    let (a, b, c, d) = (w.user("a"), w.user("b"), w.user("c"), w.user("d"));
    w.run(Command::UpdateAccount { account: a, display_name: None, note: None, locked: Some(true), bot: None });
    for requester in [b, c, d] {
        w.run(Command::Follow { account: requester, target: a, reblogs: true, notify: false });
    }
    w.post(b, "a mention for @a");
    assert_eq!(w.notifications(a).iter().filter(|k| **k == NotificationKind::FollowRequest).count(), 3);
    w.run(Command::AuthorizeFollowRequest { account: a, requester: b });
    w.run(Command::RejectFollowRequest { account: a, requester: c });
    w.run(Command::Unfollow { account: d, target: a });
    assert_eq!(w.notifications(a), vec![NotificationKind::Mention], "only the unrelated notification stays");
}

#[test]
fn scheduled_posts_wait_for_the_logs_clock() {
    let mut w = World::current();
    let (a, b) = (w.user("a"), w.user("b"));
    w.follow(b, a);
    let at = w.now + 10_000;
    let poll = PollSpec { options: vec!["y".into(), "n".into()], expires_in: 600, multiple: false, hide_totals: false };
    let scheduled =
        w.id(Command::ScheduleStatus { status: new_status(a, "later"), poll: Some(poll), scheduled_at: at });
    let page = Page { limit: 20, ..Page::default() };
    assert_eq!(query::scheduled_posts(&w.t, a, &page).unwrap().len(), 1);
    assert_eq!(crate::protocol::next_due(&w.t).unwrap(), Some(at));
    w.run(Command::Tick);
    assert!(w.home(b).is_empty(), "not yet");
    let later = at + 5_000;
    assert_eq!(
        w.run(Command::RescheduleStatus { account: b, scheduled, scheduled_at: later }),
        Outcome::Rejected(Rejection::NotFound),
        "only its author"
    );
    w.run(Command::RescheduleStatus { account: a, scheduled, scheduled_at: later });
    w.now = at;
    w.run(Command::Tick);
    assert!(w.home(b).is_empty(), "moved later");
    w.now = later;
    w.run(Command::Tick);
    let home = w.home(b);
    assert_eq!(home.len(), 1, "published at its time");
    let s = query::status(&w.t, home[0]).unwrap().unwrap();
    assert_eq!((s.text.as_str(), s.created_at), ("later", later + 1));
    let p = query::poll(&w.t, b, s.id).unwrap().unwrap().0;
    assert_eq!(p.expires_at, later + 1 + 600_000, "its poll runs from publication");
    assert!(query::scheduled_posts(&w.t, a, &page).unwrap().is_empty());

    let gone = w.id(Command::ScheduleStatus { status: new_status(a, "never"), poll: None, scheduled_at: w.now + 5 });
    w.run(Command::CancelScheduledStatus { account: a, scheduled: gone });
    w.now += 10;
    w.run(Command::Tick);
    assert_eq!(w.home(b).len(), 1);

    let day = w.now + 86_400_000;
    for i in 0..MAX_SCHEDULED_PER_DAY {
        w.id(Command::ScheduleStatus { status: new_status(a, "x"), poll: None, scheduled_at: day + i as i64 });
    }
    assert_eq!(
        w.run(Command::ScheduleStatus { status: new_status(a, "x"), poll: None, scheduled_at: day + 100 }),
        Outcome::Rejected(Rejection::TooMany)
    );
}

fn app(client_id: &str) -> Command {
    Command::CreateApp {
        client_id: client_id.into(),
        client_secret_hash: [0; 32],
        name: "app".into(),
        website: None,
        redirect_uris: vec!["urn:ietf:wg:oauth:2.0:oob".into()],
        scopes: vec!["read".into()],
    }
}

fn token(w: &mut World, hash: u8, client_id: &str, account: Option<Id>) -> Outcome {
    w.run(Command::IssueToken {
        token_hash: [hash; 32],
        client_id: client_id.into(),
        account,
        scopes: vec!["read".into()],
    })
}

#[test]
fn apps_nobody_signed_in_to_expire_and_are_bounded() {
    let mut w = World::current();
    let alice = w.user("alice");
    w.run(app("used"));
    w.run(app("unused"));
    assert_eq!(token(&mut w, 1, "unused", None), Outcome::done(), "an app's own token does not count as use");
    assert_eq!(token(&mut w, 2, "used", Some(alice)), Outcome::done());
    w.now += APP_UNUSED_LIFETIME_MS + 1;
    w.run(Command::Tick);
    assert!(query::app(&w.t, "unused").unwrap().is_none());
    assert!(query::token(&w.t, &[1; 32]).unwrap().is_none(), "its tokens went with it");
    assert!(query::app(&w.t, "used").unwrap().is_some());

    let mut many = World::current();
    for i in 0..MAX_UNUSED_APPS {
        assert_eq!(many.run(app(&format!("app{i}"))), Outcome::done());
    }
    assert_eq!(many.run(app("one too many")), Outcome::Rejected(Rejection::TooMany));
}

#[test]
fn tokens_are_bounded_per_account_and_per_app_least_recently_used_first() {
    let mut w = World::current();
    let alice = w.user("alice");
    w.run(app("client"));
    for i in 0..MAX_ACCOUNT_TOKENS {
        token(&mut w, i as u8, "client", Some(alice));
    }
    // The oldest is still in use; the second oldest is the least recently used.
    w.run(Command::TouchToken { token_hash: [0; 32] });
    token(&mut w, 200, "client", Some(alice));
    assert_eq!(query::account_token_hashes(&w.t, alice).unwrap().len(), MAX_ACCOUNT_TOKENS);
    assert!(query::token(&w.t, &[0; 32]).unwrap().is_some(), "used lately: kept");
    assert!(query::token(&w.t, &[1; 32]).unwrap().is_none(), "least recently used: revoked");
    assert!(query::token(&w.t, &[200; 32]).unwrap().is_some());

    for i in 0..MAX_APP_TOKENS + 3 {
        token(&mut w, 220 + i as u8, "client", None);
    }
    let own =
        (220..220 + MAX_APP_TOKENS as u8 + 3).filter(|h| query::token(&w.t, &[*h; 32]).unwrap().is_some()).count();
    assert_eq!(own, MAX_APP_TOKENS);
}

#[test]
fn profiles_gain_fields_and_choices() {
    let mut w = World::current();
    let a = w.user("a");
    let update = ProfileUpdate {
        account: a,
        display_name: Some("A".into()),
        note: None,
        locked: None,
        bot: None,
        fields: Some(vec![("Pronouns".into(), "they/them".into()), ("Team".into(), "infra".into())]),
        hide_collections: Some(true),
        indexable: Some(false),
        discoverable: None,
    };
    w.run(Command::UpdateProfile(update));
    let acc = query::account(&w.t, a).unwrap().unwrap();
    assert_eq!(acc.display_name, "A");
    assert_eq!(acc.fields.len(), 2);
    assert!(acc.hide_collections && !acc.indexable && acc.discoverable);
    w.run(Command::SetPostingDefaults {
        account: a,
        default_visibility: Visibility::Unlisted,
        default_sensitive: false,
        default_language: Some("de".into()),
    });
    let p = query::preferences(&w.t, a).unwrap();
    assert_eq!((p.default_visibility, p.default_language.as_deref()), (Visibility::Unlisted, Some("de")));
}

#[test]
fn a_write_sent_twice_is_made_once() {
    let mut w = World::current();
    let a = w.user("a");
    let once = |id: u8| Command::Once { id: [id; 16], command: Box::new(Command::CreateStatus(new_status(a, "hi"))) };
    let first = w.run(once(1));
    assert!(matches!(first, Outcome::Done { id: Some(_) }));
    assert_eq!(w.run(once(1)), first, "the retry gets the first outcome");
    assert_eq!(query::account(&w.t, a).unwrap().unwrap().statuses_count, 1, "and makes nothing more");
    assert_ne!(w.run(once(2)), first, "another write is another post");
    // Forgotten after their lifetime, by the log's clock.
    assert!(crate::protocol::next_due(&w.t).unwrap().is_some());
    w.now += roost_types::ONCE_LIFETIME_MS + 1;
    w.run(Command::Tick);
    assert!(crate::kv::ReadTables::get(&w.t, crate::kv::Table::Once, &[1; 16]).unwrap().is_none());
    assert_eq!(crate::protocol::next_due(&w.t).unwrap(), None);
    let nested = Command::Once { id: [3; 16], command: Box::new(once(4)) };
    assert_eq!(w.run(nested), Outcome::Rejected(Rejection::Forbidden));
    let mut old = World::new();
    assert_eq!(old.run(once(5)), Outcome::Rejected(Rejection::NotActive));
}
