//! The use cases themselves, on a real node in process (the test kit's `Local`): every write
//! of a kind passes its one hook, and every command names who asked and through what.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use roost_core::query;
use roost_service::accounts::{create_account, create_account_by_invite, create_invite, NewAccount};
use roost_service::admin::{moderate, Moderation};
use roost_service::hooks::{AccountDraft, Hook, Hooks, PostDraft, Verdict};
use roost_service::statuses::{create, edit, EditPost, NewPost, Posted};
use roost_service::{audit, Actor, ActorExt, Error, Via};
use roost_testkit::{default_config, iso_in, Local, PASSWORD};
use roost_types::{Command, Role};

/// Refuses what contains "4111 1111" (a card number), accounts named `mallory` and every
/// suspension; records what it was asked.
#[derive(Default)]
struct Strict {
    seen: Mutex<Vec<String>>,
}

impl Hook for Strict {
    fn before_post<'a>(&'a self, _by: &'a Actor, post: &'a PostDraft<'a>) -> Verdict<'a> {
        self.seen.lock().unwrap().push(format!("post {:?} {}", post.editing, post.text));
        let refused = post.text.contains("4111 1111");
        Box::pin(async move {
            if refused {
                Err(Error::invalid("Held: looks like a card number"))
            } else {
                Ok(())
            }
        })
    }

    fn before_account<'a>(&'a self, _by: &'a Actor, account: &'a AccountDraft<'a>) -> Verdict<'a> {
        self.seen.lock().unwrap().push(format!("account {} invite={}", account.username, account.by_invite));
        let refused = account.username == "mallory";
        Box::pin(async move {
            if refused {
                Err(Error::Forbidden("not on our watch".into()))
            } else {
                Ok(())
            }
        })
    }

    fn before_moderation<'a>(&'a self, _by: &'a Actor, action: &'a Command) -> Verdict<'a> {
        self.seen.lock().unwrap().push(format!("moderation {}", action.name()));
        let refused = matches!(action, Command::Suspend { .. });
        Box::pin(async move {
            if refused {
                Err(Error::Forbidden("not on our watch".into()))
            } else {
                Ok(())
            }
        })
    }
}

fn text(s: &str) -> NewPost {
    NewPost { text: Some(s.into()), ..NewPost::default() }
}

fn new_account(username: &str) -> NewAccount {
    NewAccount { username: username.into(), password: PASSWORD.into(), role: None, display_name: None, email: None }
}

/// The commands in the log, oldest first, as the operator sees them.
fn logged(local: &Local) -> Vec<(&'static str, Option<Actor>)> {
    let mut all = audit::recent(&local.service, &Actor::operator(), None, audit::MAX_LIMIT).unwrap();
    all.reverse();
    all.into_iter().map(|l| (l.command, l.by)).collect()
}

#[tokio::test]
async fn every_post_passes_the_post_hook_and_a_refusal_writes_nothing() {
    let strict = Arc::new(Strict::default());
    let local = Local::with(default_config(), Hooks::new(vec![strict.clone()])).await;
    let svc = &local.service;
    let alice = local.member("alice").await;
    let before = logged(&local).len();

    // Now, later, and as an edit: each way a post's text is written meets the hook.
    let Posted::Created { id, .. } = create(svc, &alice, text("hello")).await.unwrap() else { panic!() };
    let refused = create(svc, &alice, text("my card: 4111 1111 1111 1111")).await.unwrap_err();
    assert_eq!((refused.to_string().contains("card number"), refused.status()), (true, 422));
    let later = NewPost { scheduled_at: Some(chrono_ms(&iso_in(3600))), ..text("4111 1111 tomorrow") };
    assert_eq!(create(svc, &alice, later).await.unwrap_err().status(), 422);
    let edited = EditPost { status: id, text: Some("now 4111 1111".into()), ..EditPost::default() };
    assert_eq!(edit(svc, &alice, edited).await.unwrap_err().status(), 422);
    assert_eq!(query::status(&svc.read().unwrap(), id).unwrap().unwrap().text, "hello", "the edit was not made");

    let seen = strict.seen.lock().unwrap().clone();
    let posts: Vec<_> = seen.iter().filter(|s| s.starts_with("post")).collect();
    assert_eq!(posts.len(), 4, "{seen:?}");
    assert!(posts[3].starts_with(&format!("post Some({id})")), "an edit names the post it edits: {seen:?}");
    // Only the accepted post reached the log.
    let after: Vec<_> = logged(&local)[before..].iter().map(|(c, _)| *c).collect();
    assert_eq!(after, ["CreateStatus"]);
}

#[tokio::test]
async fn every_way_of_making_an_account_passes_the_account_hook() {
    let strict = Arc::new(Strict::default());
    let local = Local::with(default_config(), Hooks::new(vec![strict.clone()])).await;
    let svc = &local.service;
    let owner = local.member("owner").await;
    assert!(matches!(create_account(svc, &Actor::operator(), new_account("mallory")).await, Err(Error::Forbidden(_))));
    let (_, link) = create_invite(svc, &owner, Role::Member, None, None).await.unwrap();
    let code = link.rsplit('/').next().unwrap().to_string();
    let guest = Actor::anonymous(Via::Web);
    assert!(matches!(
        create_account_by_invite(svc, &guest, &code, new_account("mallory")).await,
        Err(Error::Forbidden(_))
    ));
    create_account_by_invite(svc, &guest, &code, new_account("mia")).await.unwrap();
    let seen = strict.seen.lock().unwrap().clone();
    let accounts: Vec<_> = seen.iter().filter(|s| s.starts_with("account")).cloned().collect();
    assert_eq!(
        accounts,
        [
            "account owner invite=false",
            "account mallory invite=false",
            "account mallory invite=true",
            "account mia invite=true"
        ]
    );
    let view = svc.read().unwrap();
    assert!(query::account_by_username(&view, "mallory").unwrap().is_none());
    assert!(query::account_by_username(&view, "mia").unwrap().is_some());
}

#[tokio::test]
async fn moderation_passes_the_moderation_hook() {
    let strict = Arc::new(Strict::default());
    let local = Local::with(default_config(), Hooks::new(vec![strict.clone()])).await;
    let svc = &local.service;
    let owner = local.member("owner").await;
    let bob = local.member("bob").await.account.unwrap();
    let suspend = moderate(svc, &owner, Moderation::Suspend { account: bob }).await;
    assert!(matches!(suspend, Err(Error::Forbidden(_))), "{suspend:?}");
    moderate(svc, &owner, Moderation::SetRole { account: bob, role: Role::Moderator }).await.unwrap();
    let seen = strict.seen.lock().unwrap().clone();
    let moderation: Vec<_> = seen.iter().filter(|s| s.starts_with("moderation")).cloned().collect();
    assert_eq!(moderation, ["moderation Suspend", "moderation SetRole"]);
    let view = svc.read().unwrap();
    let role = query::account(&view, bob).unwrap().unwrap().role;
    assert_eq!((role, query::suspended(&view, bob).unwrap()), (Role::Moderator, false));
}

#[tokio::test]
async fn every_command_names_who_asked_and_only_admins_may_read_it() {
    let local = Local::start().await;
    let svc = &local.service;
    let owner = local.member("owner").await;
    let bob = local.member("bob").await;
    let on_web = Actor::member(bob.account.unwrap(), Via::Web);
    create(svc, &bob, text("from an app")).await.unwrap();
    create(svc, &on_web, text("from the web")).await.unwrap();

    let log = logged(&local);
    let posts: Vec<_> = log.iter().filter(|(c, _)| *c == "CreateStatus").map(|(_, by)| by.clone()).collect();
    assert_eq!(posts, [Some(bob.clone()), Some(on_web)]);
    let accounts: Vec<_> = log.iter().filter(|(c, _)| *c == "AddAccount").map(|(_, by)| by.clone()).collect();
    assert_eq!(accounts, [Some(Actor::operator()), Some(Actor::operator())]);
    // Turning protocol 3 on is the last command that names nobody.
    let names: Vec<_> = log.iter().map(|(c, _)| *c).collect();
    assert_eq!(names, ["ActivateProtocol", "AddAccount", "AddAccount", "CreateStatus", "CreateStatus"]);
    assert!(log[0].1.is_none());

    // The owner reads the same, newest first; a member may not (nor tell that the log exists).
    let by_owner = audit::recent(svc, &owner, None, 10).unwrap();
    assert_eq!(by_owner.iter().rev().map(|l| (l.command, l.by.clone())).collect::<Vec<_>>(), log);
    assert!(matches!(audit::recent(svc, &bob, None, 10), Err(Error::NotFound)));
    assert!(matches!(audit::recent(svc, &Actor::anonymous(Via::Web), None, 10), Err(Error::NotFound)));
    // Paging walks back through the whole log without repeats.
    let (mut seen, mut before) = (Vec::new(), None);
    loop {
        let page = audit::recent(svc, &owner, before, 3).unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.position);
        seen.extend(page.iter().map(|l| l.position));
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!((seen.len(), &seen), (log.len(), &sorted));
}

/// Milliseconds since the epoch of an ISO 8601 time.
fn chrono_ms(iso: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso).unwrap().timestamp_millis()
}

#[tokio::test]
async fn pictures_are_processed_once_attributed_and_their_blobs_collected_when_unused() {
    use roost_service::media::{self, Upload, Uploaded};
    let strict = Arc::new(Strict::default());
    let local = Local::with(default_config(), Hooks::new(vec![strict.clone()])).await;
    let svc = &local.service;
    let alice = local.member("alice").await;
    let photo = roost_testkit::samples::jpeg(900, 600);
    let up = |description: &str| Upload { bytes: photo.clone(), description: Some(description.into()), focus: None };
    let Uploaded::Ready(m) = media::upload(svc, &alice, up("a boat"), None).await.unwrap() else { panic!() };
    assert_eq!((m.original.width, m.original.height, m.owner), (900, 600, alice.account.unwrap()));
    let blobs = media::blobs(svc);
    assert!(blobs.contains(media::BlobHash(m.original.hash)));
    assert!(blobs.contains(media::BlobHash(m.preview.hash)));
    assert_eq!(blobs.list().unwrap().len(), 2);

    // A post with a picture meets the post hook like any other, and a refusal attaches nothing.
    let with = |s: &str| NewPost { media_ids: vec![m.id.to_string()], ..text(s) };
    assert_eq!(create(svc, &alice, with("4111 1111 1111 1111")).await.unwrap_err().status(), 422);
    assert!(roost_core::media::media(&svc.read().unwrap(), m.id).unwrap().unwrap().status.is_none());
    let Posted::Created { id, .. } = create(svc, &alice, with("a boat")).await.unwrap() else { panic!() };
    assert_eq!(query::status(&svc.read().unwrap(), id).unwrap().unwrap().media, [m.id]);
    let log = logged(&local);
    let adds: Vec<_> = log.iter().filter(|(c, _)| *c == "AddMedia" || *c == "CreatePost").collect();
    assert_eq!(adds.len(), 2);
    assert!(adds.iter().all(|(_, by)| by.as_ref() == Some(&alice)), "{adds:?}");

    // The same bytes uploaded again share the blobs; an upload nobody posts is unused.
    let Uploaded::Ready(spare) = media::upload(svc, &alice, up("spare"), None).await.unwrap() else { panic!() };
    assert_eq!(spare.original.hash, m.original.hash);
    assert_eq!(media::collect_garbage(svc, std::time::Duration::ZERO).await.unwrap(), 0, "all in use");

    // Once the post is gone (and the spare upload with it, by expiry), the blobs go too.
    roost_service::statuses::interact(svc, &alice, id, roost_service::statuses::Interaction::Delete).await.unwrap();
    assert_eq!(media::collect_garbage(svc, std::time::Duration::ZERO).await.unwrap(), 0, "the spare still uses them");
    assert_eq!(media::collect_garbage(svc, std::time::Duration::from_secs(3600)).await.unwrap(), 0, "too young");
    assert!(roost_core::media::media(&svc.read().unwrap(), m.id).unwrap().is_none());
    let (count, bytes) = roost_core::media::usage(&svc.read().unwrap(), alice.account.unwrap()).unwrap();
    assert_eq!(count, 1);
    assert!(bytes > 0);
}
