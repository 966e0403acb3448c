//! Home, local and hashtag timelines, and pagination.

use std::collections::HashSet;

use roost_testkit::Server;

#[test]
fn timelines_and_pagination() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let bob = server.user("bob");
    let carol = server.user("carol");
    alice.post(&format!("/api/v1/accounts/{}/follow", bob.id));

    let mut expected = Vec::new();
    for i in 0..45 {
        let who = if i % 3 == 0 { &alice } else { &bob };
        expected.push(who.status(&format!("post {i} #Paging")));
        carol.status(&format!("carol {i}"));
    }
    expected.reverse();

    // Home: own posts and followed accounts' posts, newest first, never carol's.
    let page = alice.get("/api/v1/timelines/home");
    assert_eq!(page.ids().len(), 20, "default limit");
    assert_eq!(alice.get("/api/v1/timelines/home?limit=100").ids().len(), 40, "max limit");
    let all = alice.all_pages("/api/v1/timelines/home?limit=7");
    assert_eq!(all, expected);

    // Paging stays stable while new posts arrive.
    let first = alice.get("/api/v1/timelines/home?limit=10");
    for i in 0..5 {
        bob.status(&format!("late {i}"));
    }
    let second = alice.get(&first.link("next").unwrap());
    assert_eq!(second.ids(), expected[10..20].to_vec());
    let newer = alice.get(&first.link("prev").unwrap());
    assert_eq!(newer.ids().len(), 5, "prev (min_id) returns just the newer posts");
    let since = alice.get(&format!("/api/v1/timelines/home?since_id={}&limit=2", expected[0]));
    assert_eq!(since.ids().len(), 2);
    let min = alice.get(&format!("/api/v1/timelines/home?min_id={}&limit=2", expected[0]));
    let since_all = alice.get(&format!("/api/v1/timelines/home?since_id={}", expected[0])).ids();
    assert_eq!(min.ids(), since_all[since_all.len() - 2..].to_vec(), "min_id gives the oldest newer ones");

    // Local timeline: everyone's public posts; unlisted ones stay out.
    let unlisted = carol.status_with(&[("status", "quiet"), ("visibility", "unlisted")]);
    let local = bob.all_pages("/api/v1/timelines/public?local=true&limit=40");
    assert_eq!(local.len(), 45 * 2 + 5);
    assert!(!local.contains(&unlisted));
    assert_eq!(local.iter().collect::<HashSet<_>>().len(), local.len(), "no duplicates across pages");
    assert!(bob.get("/api/v1/timelines/public?remote=true").ids().is_empty());

    // Hashtags, case-insensitively.
    let tagged = carol.all_pages("/api/v1/timelines/tag/paging?limit=40");
    assert_eq!(tagged, expected);
    assert_eq!(carol.get("/api/v1/timelines/tag/PAGING?limit=1").ids(), vec![expected[0].clone()]);
    assert!(carol.get("/api/v1/timelines/tag/nothing").ids().is_empty());

    // An account's posts, with its filters.
    let reply = bob.status_with(&[("status", "a reply"), ("in_reply_to_id", &expected[2])]);
    let rb = bob.post(&format!("/api/v1/statuses/{}/reblog", expected[0])).json["id"].as_str().unwrap().to_string();
    let mine = alice.get(&format!("/api/v1/accounts/{}/statuses?limit=3", bob.id)).ids();
    assert_eq!(mine, vec![rb.clone(), reply.clone(), bob.get("/api/v1/timelines/home?limit=3").ids()[2].clone()]);
    let filtered = alice
        .get(&format!("/api/v1/accounts/{}/statuses?exclude_replies=true&exclude_reblogs=true&limit=40", bob.id))
        .ids();
    assert!(!filtered.contains(&reply) && !filtered.contains(&rb));
    let link =
        alice.get(&format!("/api/v1/accounts/{}/statuses?exclude_replies=true&limit=2", bob.id)).link("next").unwrap();
    assert!(link.contains("exclude_replies=true") && link.contains("max_id="), "{link}");
}

/// Posts and accounts are rendered once and reused across requests: a timeline read after a
/// change must show the change, never the earlier rendering.
#[test]
fn timelines_show_every_change_to_posts_and_authors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let bob = server.user("bob");
    alice.post(&format!("/api/v1/accounts/{}/follow", bob.id));
    let post = bob.status("hello from bob");
    let first = |api: &roost_testkit::Api| api.get("/api/v1/timelines/home").json[0].clone();
    assert_eq!(first(&alice)["favourites_count"], 0);
    assert_eq!(first(&alice)["account"]["display_name"], "");

    alice.post(&format!("/api/v1/statuses/{post}/favourite"));
    let seen = first(&alice);
    assert_eq!((seen["favourites_count"].as_u64(), seen["favourited"].as_bool()), (Some(1), Some(true)));
    assert_eq!(first(&bob)["favourited"], false, "favourited is per viewer");

    bob.patch_form("/api/v1/accounts/update_credentials", &[("display_name", "Bob B.")]);
    bob.status("second");
    let seen = alice.get("/api/v1/timelines/home").json;
    assert_eq!(seen[1]["id"], post.as_str());
    assert_eq!(seen[1]["account"]["display_name"], "Bob B.");
    assert_eq!(seen[1]["account"]["statuses_count"], 2);

    alice.post(&format!("/api/v1/statuses/{post}/unfavourite"));
    assert_eq!(alice.get(&format!("/api/v1/statuses/{post}")).json["favourites_count"], 0);
}
