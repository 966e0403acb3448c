//! Visibility, blocks and mutes on every read path, and the wall around signed-out visitors.

use crate::common::Server;

#[test]
fn audiences_blocks_and_mutes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let follower = server.user("follower");
    let friend = server.user("friend");
    let stranger = server.user("stranger");
    follower.post(&format!("/api/v1/accounts/{}/follow", alice.id));

    let public = alice.status("public #vis");
    let unlisted = alice.status_with(&[("status", "unlisted #vis"), ("visibility", "unlisted")]);
    let private = alice.status_with(&[("status", "followers only #vis"), ("visibility", "private")]);
    let direct = alice.status_with(&[("status", "@friend just you #vis"), ("visibility", "direct")]);
    let all = [&public, &unlisted, &private, &direct];

    let sees = |who: &crate::common::Api| -> Vec<bool> {
        all.iter().map(|id| who.get(&format!("/api/v1/statuses/{id}")).status == 200).collect()
    };
    assert_eq!(sees(&alice), vec![true, true, true, true]);
    assert_eq!(sees(&follower), vec![true, true, true, false]);
    assert_eq!(sees(&friend), vec![true, true, false, true]);
    assert_eq!(sees(&stranger), vec![true, true, false, false]);

    let profile = |who: &crate::common::Api| who.get(&format!("/api/v1/accounts/{}/statuses", alice.id)).ids();
    assert_eq!(profile(&stranger), vec![unlisted.clone(), public.clone()]);
    assert_eq!(profile(&follower), vec![private.clone(), unlisted.clone(), public.clone()]);
    assert_eq!(follower.get("/api/v1/timelines/home").ids(), vec![private.clone(), unlisted.clone(), public.clone()]);
    assert_eq!(friend.get("/api/v1/timelines/home").ids(), vec![direct.clone()]);
    assert_eq!(stranger.get("/api/v1/timelines/public").ids(), vec![public.clone()]);
    assert_eq!(friend.get("/api/v1/timelines/tag/vis").ids(), vec![public.clone()]);

    // Interacting with what you cannot see is indistinguishable from it not existing.
    assert_eq!(stranger.post(&format!("/api/v1/statuses/{private}/favourite")).status, 404);
    assert_eq!(stranger.post_form("/api/v1/statuses", &[("status", "hi"), ("in_reply_to_id", &direct)]).status, 404);
    assert_eq!(stranger.get(&format!("/api/v1/statuses/{direct}/context")).status, 404);
    assert_eq!(stranger.delete(&format!("/api/v1/statuses/{direct}")).status, 404);
    // Followers-only posts cannot be reblogged by others.
    assert_eq!(follower.post(&format!("/api/v1/statuses/{private}/reblog")).status, 422);
    // A reply to a private post, by someone who can see it, keeps its ancestor hidden from others.
    let reply = follower.status_with(&[("status", "reply"), ("in_reply_to_id", &private)]);
    let ctx = stranger.get(&format!("/api/v1/statuses/{reply}/context"));
    assert_eq!(ctx.status, 200);
    assert!(ctx.json["ancestors"].as_array().unwrap().is_empty());

    // Blocks: the blocked see nothing of the blocker, and the blocker nothing of them.
    let eve = server.user("eve");
    let eve_post = eve.status("eve was here #vis");
    eve.post(&format!("/api/v1/accounts/{}/follow", alice.id));
    assert_eq!(alice.post(&format!("/api/v1/accounts/{}/block", eve.id)).json["blocking"], true);
    assert_eq!(eve.get(&format!("/api/v1/accounts/{}", alice.id)).status, 404);
    assert_eq!(eve.get(&format!("/api/v1/accounts/{}/statuses", alice.id)).status, 404);
    assert_eq!(eve.get(&format!("/api/v1/statuses/{public}")).status, 404);
    assert!(!eve.get("/api/v1/timelines/public").ids().contains(&public));
    assert!(!eve.get("/api/v1/timelines/tag/vis").ids().contains(&public));
    assert!(eve.get("/api/v1/timelines/home").ids().iter().all(|id| !all.contains(&id)));
    assert_eq!(eve.post(&format!("/api/v1/accounts/{}/follow", alice.id)).status, 404);
    assert_eq!(eve.get(&format!("/api/v1/accounts/{}/followers", follower.id)).status, 200);
    assert_eq!(alice.get(&format!("/api/v1/statuses/{eve_post}")).status, 404);
    assert!(!alice.get("/api/v1/timelines/public").ids().contains(&eve_post));
    eve.status("@alice can you hear me");
    assert!(alice.get(&format!("/api/v1/notifications?account_id={}", eve.id)).ids().is_empty());
    assert_eq!(
        alice.get("/api/v1/accounts/verify_credentials").json["followers_count"],
        1,
        "the block ended eve's follow"
    );
    assert_eq!(alice.get("/api/v1/blocks").ids(), vec![eve.id.clone()]);
    let rel = alice.get(&format!("/api/v1/accounts/relationships?id[]={}", eve.id));
    assert_eq!(rel.json[0]["blocking"], true);
    alice.post(&format!("/api/v1/accounts/{}/unblock", eve.id));
    assert_eq!(eve.get(&format!("/api/v1/statuses/{public}")).status, 200);

    // Mutes hide from timelines and notifications, not from direct reads.
    let r = follower.post_form(&format!("/api/v1/accounts/{}/mute", alice.id), &[("notifications", "true")]);
    assert_eq!((r.json["muting"].as_bool(), r.json["muting_notifications"].as_bool()), (Some(true), Some(true)));
    assert!(follower.get("/api/v1/timelines/home").ids().iter().all(|id| !all.contains(&id)));
    assert!(!follower.get("/api/v1/timelines/public").ids().contains(&public));
    assert_eq!(follower.get(&format!("/api/v1/statuses/{public}")).status, 200);
    alice.status("@follower hey");
    assert!(follower.get("/api/v1/notifications").ids().is_empty());
    assert_eq!(follower.get("/api/v1/mutes").ids(), vec![alice.id.clone()]);
    follower.post(&format!("/api/v1/accounts/{}/unmute", alice.id));
    assert!(follower.get("/api/v1/timelines/home").ids().contains(&public));
}

#[test]
fn nothing_is_readable_signed_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let post = alice.status("secret company news");
    let anon = server.anon();
    let a = &alice.id;
    for path in [
        "/api/v1/timelines/home".to_string(),
        "/api/v1/timelines/public?local=true".into(),
        "/api/v1/timelines/tag/news".into(),
        format!("/api/v1/accounts/{a}"),
        format!("/api/v1/accounts/{a}/statuses"),
        format!("/api/v1/accounts/{a}/followers"),
        format!("/api/v1/accounts/{a}/following"),
        "/api/v1/accounts/lookup?acct=alice".into(),
        format!("/api/v1/accounts/relationships?id[]={a}"),
        "/api/v1/accounts/verify_credentials".into(),
        format!("/api/v1/statuses/{post}"),
        format!("/api/v1/statuses/{post}/context"),
        "/api/v1/notifications".into(),
        "/api/v1/favourites".into(),
        "/api/v1/bookmarks".into(),
        "/api/v1/blocks".into(),
        "/api/v1/mutes".into(),
        "/api/roost/v1/node".into(),
    ] {
        let r = anon.get(&path);
        assert_eq!(r.status, 401, "{path}");
        assert!(r.json["error"].is_string(), "{path}: {:?}", r.json);
        let r = server.anon().get(&path);
        assert!(!r.json.to_string().contains("secret company news"));
    }
    for path in [
        "/api/v1/statuses".to_string(),
        format!("/api/v1/statuses/{post}/favourite"),
        format!("/api/v1/statuses/{post}/reblog"),
        format!("/api/v1/accounts/{a}/follow"),
        "/api/v1/notifications/clear".into(),
    ] {
        assert_eq!(anon.post_form(&path, &[("status", "x")]).status, 401, "{path}");
    }
    assert_eq!(anon.delete(&format!("/api/v1/statuses/{post}")).status, 401);
    let mut forged = server.anon();
    forged.token = Some("0".repeat(64));
    assert_eq!(forged.get("/api/v1/timelines/home").status, 401);
}
