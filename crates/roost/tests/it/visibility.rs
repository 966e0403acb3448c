//! Visibility, blocks and mutes on every read path, and the wall around signed-out visitors.

use roost_testkit::Server;

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

    let sees = |who: &roost_testkit::Api| -> Vec<bool> {
        all.iter().map(|id| who.get(&format!("/api/v1/statuses/{id}")).status == 200).collect()
    };
    assert_eq!(sees(&alice), vec![true, true, true, true]);
    assert_eq!(sees(&follower), vec![true, true, true, false]);
    assert_eq!(sees(&friend), vec![true, true, false, true]);
    assert_eq!(sees(&stranger), vec![true, true, false, false]);

    let profile = |who: &roost_testkit::Api| who.get(&format!("/api/v1/accounts/{}/statuses", alice.id)).ids();
    assert_eq!(profile(&stranger), vec![unlisted.clone(), public.clone()]);
    assert_eq!(profile(&follower), vec![private.clone(), unlisted.clone(), public.clone()]);
    assert_eq!(follower.get("/api/v1/timelines/home").ids(), vec![private.clone(), unlisted.clone(), public.clone()]);
    // A direct message from someone one does not follow stays out of the home timeline (as on
    // Mastodon): it is in conversations and notifications.
    assert_eq!(friend.get("/api/v1/timelines/home").ids(), Vec::<String>::new());
    assert_eq!(friend.get("/api/v1/conversations").json[0]["last_status"]["id"], direct.as_str());
    assert_eq!(friend.get("/api/v1/notifications").json[0]["status"]["id"], direct.as_str());
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

/// Another member's private things answer 404 to an outsider on every endpoint that names
/// them, never 403: whether they exist does not leak. (The owner reaches each one, so every
/// 404 here is about visibility, not a wrong path.)
#[test]
fn others_private_resources_are_404_not_403() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_unlimited(dir.path());
    let owner = server.user("owner");
    let friend = server.user("friend");
    let outsider = server.user("outsider");
    friend.post(&format!("/api/v1/accounts/{}/follow", owner.id));

    let private = owner.status_with(&[("status", "followers only"), ("visibility", "private")]);
    let direct = owner.status_with(&[("status", "@friend between us"), ("visibility", "direct")]);
    let poll = owner.post_json(
        "/api/v1/statuses",
        &serde_json::json!({"status": "private poll", "visibility": "private",
                            "poll": {"options": ["a", "b"], "expires_in": 3600}}),
    );
    assert_eq!(poll.status, 200, "{:?}", poll.json);
    let poll = poll.json["id"].as_str().unwrap().to_string();
    let list = owner.post_form("/api/v1/lists", &[("title", "mine")]).json["id"].as_str().unwrap().to_string();
    let notification = owner.get("/api/v1/notifications").json[0]["id"].as_str().unwrap().to_string();
    let conversation = owner.get("/api/v1/conversations").json[0]["id"].as_str().unwrap().to_string();

    let mut cases: Vec<(&str, String)> = Vec::new();
    for post in [&private, &direct, &poll] {
        for (method, suffix) in [
            ("GET", ""),
            ("PUT", ""),
            ("DELETE", ""),
            ("GET", "/context"),
            ("GET", "/history"),
            ("GET", "/source"),
            ("GET", "/favourited_by"),
            ("GET", "/reblogged_by"),
            ("POST", "/favourite"),
            ("POST", "/unfavourite"),
            ("POST", "/reblog"),
            ("POST", "/unreblog"),
            ("POST", "/bookmark"),
            ("POST", "/unbookmark"),
            ("POST", "/pin"),
            ("POST", "/unpin"),
        ] {
            cases.push((method, format!("/api/v1/statuses/{post}{suffix}")));
        }
    }
    cases.extend([
        ("GET", format!("/api/v1/polls/{poll}")),
        ("POST", format!("/api/v1/polls/{poll}/votes?choices[]=0")),
        ("POST", format!("/api/v1/statuses?status=reply&in_reply_to_id={private}")),
        ("POST", format!("/api/v1/statuses?status=quote&quoted_status_id={direct}")),
        ("POST", format!("/api/v1/reports?account_id={}&status_ids[]={private}", owner.id)),
        ("GET", format!("/api/v1/lists/{list}")),
        ("PUT", format!("/api/v1/lists/{list}?title=x")),
        ("DELETE", format!("/api/v1/lists/{list}")),
        ("GET", format!("/api/v1/lists/{list}/accounts")),
        ("POST", format!("/api/v1/lists/{list}/accounts?account_ids[]={}", friend.id)),
        ("GET", format!("/api/v1/timelines/list/{list}")),
        ("GET", format!("/api/v1/notifications/{notification}")),
        ("POST", format!("/api/v1/notifications/{notification}/dismiss")),
        ("POST", format!("/api/v1/conversations/{conversation}/read")),
        ("DELETE", format!("/api/v1/conversations/{conversation}")),
        ("POST", format!("/api/v1/follow_requests/{}/authorize", owner.id)),
        ("POST", format!("/api/v1/follow_requests/{}/reject", owner.id)),
    ]);
    let send = |api: &roost_testkit::Api, method: &str, path: &str| {
        let mut req = api.http.request(method.parse().unwrap(), format!("{}{path}", api.base));
        if method == "PUT" && path.starts_with("/api/v1/statuses/") {
            req = req.form(&[("status", "changed")]);
        }
        let r = req.bearer_auth(api.token.as_ref().unwrap()).send().unwrap();
        r.status().as_u16()
    };
    for (method, path) in &cases {
        assert_eq!(send(&outsider, method, path), 404, "{method} {path} as an outsider");
    }
    // The same things exist: their owner (or the friend they are shared with) reaches them.
    for (method, path) in [
        ("GET", format!("/api/v1/statuses/{private}")),
        ("GET", format!("/api/v1/statuses/{direct}/context")),
        ("GET", format!("/api/v1/polls/{poll}")),
        ("GET", format!("/api/v1/lists/{list}")),
        ("GET", format!("/api/v1/notifications/{notification}")),
    ] {
        assert_eq!(send(&owner, method, &path), 200, "{method} {path} as its owner");
    }
    assert_eq!(send(&friend, "GET", &format!("/api/v1/statuses/{private}")), 200);
    assert_eq!(send(&friend, "GET", &format!("/api/v1/statuses/{direct}")), 200);
}
