//! Follows, relationships, favourites, reblogs, bookmarks and notifications.

use roost_testkit::Server;

#[test]
fn follows_interactions_and_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let bob = server.user("bob");
    let carol = server.user("carol");

    // Follow, and the relationship and lists that show it.
    let r = bob.post(&format!("/api/v1/accounts/{}/follow", alice.id));
    assert_eq!(r.status, 200);
    assert_eq!(r.json["following"], true);
    assert_eq!(r.json["showing_reblogs"], true);
    carol.post(&format!("/api/v1/accounts/{}/follow", alice.id));
    carol.post_form(&format!("/api/v1/accounts/{}/follow", bob.id), &[("reblogs", "false")]);
    let rel = alice.get(&format!("/api/v1/accounts/relationships?id[]={}&id[]={}", bob.id, carol.id));
    assert_eq!(rel.json.as_array().unwrap().len(), 2);
    assert_eq!(rel.json[0]["id"], bob.id);
    assert_eq!(rel.json[0]["followed_by"], true);
    assert_eq!(rel.json[0]["following"], false);
    let followers = alice.get(&format!("/api/v1/accounts/{}/followers", alice.id));
    assert_eq!(followers.ids(), vec![carol.id.clone(), bob.id.clone()], "newest follower first");
    assert_eq!(alice.get(&format!("/api/v1/accounts/{}/following", bob.id)).ids(), vec![alice.id.clone()]);
    assert_eq!(alice.get("/api/v1/accounts/verify_credentials").json["followers_count"], 2);
    assert_eq!(bob.post(&format!("/api/v1/accounts/{}/follow", bob.id)).status, 422, "no self-follow");

    // Mentions, replies, favourites, reblogs, quotes and follows notify.
    let post = alice.status("hello @carol");
    bob.status_with(&[("status", "a reply without a mention"), ("in_reply_to_id", &post)]);
    let fav = bob.post(&format!("/api/v1/statuses/{post}/favourite"));
    assert_eq!((fav.json["favourited"].as_bool(), fav.json["favourites_count"].as_u64()), (Some(true), Some(1)));
    assert_eq!(bob.post(&format!("/api/v1/statuses/{post}/favourite")).json["favourites_count"], 1, "idempotent");
    let rb = bob.post(&format!("/api/v1/statuses/{post}/reblog"));
    assert_eq!(rb.status, 200);
    assert_eq!(rb.json["reblog"]["id"], post);
    assert_eq!(rb.json["reblog"]["reblogged"], true);
    bob.status_with(&[("status", "quoting"), ("quoted_status_id", &post)]);
    let bm = bob.post(&format!("/api/v1/statuses/{post}/bookmark"));
    assert_eq!(bm.json["bookmarked"], true);

    let notes = alice.get("/api/v1/notifications");
    assert_eq!(notes.status, 200);
    let kinds: Vec<&str> = notes.json.as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["quote", "reblog", "favourite", "mention", "follow", "follow"]);
    assert_eq!(notes.json[3]["status"]["in_reply_to_id"], post, "a reply notifies as a mention");
    assert_eq!(notes.json[0]["account"]["id"], bob.id);
    assert_eq!(carol.get("/api/v1/notifications").json[0]["type"], "mention");

    let only = alice.get("/api/v1/notifications?types[]=follow&types[]=favourite");
    assert_eq!(only.json.as_array().unwrap().len(), 3);
    let without = alice.get("/api/v1/notifications?exclude_types[]=follow&exclude_types[]=mention");
    assert_eq!(without.json.as_array().unwrap().len(), 3);
    let from_bob = alice.get(&format!("/api/v1/notifications?account_id={}", bob.id));
    assert_eq!(from_bob.json.as_array().unwrap().len(), 5);
    let first = notes.json[0]["id"].as_str().unwrap().to_string();
    assert_eq!(alice.get(&format!("/api/v1/notifications/{first}")).json["type"], "quote");
    assert_eq!(bob.get(&format!("/api/v1/notifications/{first}")).status, 404, "not someone else's");
    assert_eq!(bob.post(&format!("/api/v1/notifications/{first}/dismiss")).status, 404);
    assert_eq!(alice.post(&format!("/api/v1/notifications/{first}/dismiss")).status, 200);
    assert_eq!(alice.get(&format!("/api/v1/notifications/{first}")).status, 404);
    assert_eq!(alice.post("/api/v1/notifications/clear").status, 200);
    assert!(alice.get("/api/v1/notifications").ids().is_empty());

    // Favourites and bookmarks lists, and undoing.
    assert_eq!(bob.get("/api/v1/favourites").ids(), vec![post.clone()]);
    assert_eq!(bob.get("/api/v1/bookmarks").ids(), vec![post.clone()]);
    assert_eq!(alice.get(&format!("/api/v1/statuses/{post}")).json["reblogs_count"], 1);
    // Carol follows bob without reblogs, so bob's reblog stays out of her home.
    let carol_home = carol.get("/api/v1/timelines/home").ids();
    assert!(!carol_home.contains(&rb.json["id"].as_str().unwrap().to_string()));
    let un = bob.post(&format!("/api/v1/statuses/{post}/unreblog"));
    assert_eq!((un.json["id"].as_str(), un.json["reblogged"].as_bool()), (Some(post.as_str()), Some(false)));
    bob.post(&format!("/api/v1/statuses/{post}/unfavourite"));
    bob.post(&format!("/api/v1/statuses/{post}/unbookmark"));
    assert!(bob.get("/api/v1/favourites").ids().is_empty());
    assert!(bob.get("/api/v1/bookmarks").ids().is_empty());
    let p = alice.get(&format!("/api/v1/statuses/{post}"));
    assert_eq!((p.json["favourites_count"].as_u64(), p.json["reblogs_count"].as_u64()), (Some(0), Some(0)));

    // Unfollow ends the relationship and its counts.
    let r = bob.post(&format!("/api/v1/accounts/{}/unfollow", alice.id));
    assert_eq!(r.json["following"], false);
    assert_eq!(alice.get("/api/v1/accounts/verify_credentials").json["followers_count"], 1);
}
