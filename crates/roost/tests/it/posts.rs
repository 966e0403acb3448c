//! Posting, threads, deleting, quotes and the post limits.

use roost_testkit::Server;

#[test]
fn posts_threads_quotes_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let bob = server.user("bob");
    let moderator = {
        server.admin_create_user("mo", roost_testkit::PASSWORD, &["--role", "moderator"]);
        let mut m = server.anon();
        m.token = server.token("mo", roost_testkit::PASSWORD);
        m
    };

    let r = alice.post_form(
        "/api/v1/statuses",
        &[
            ("status", "Hi @bob and @nobody, #Rust at https://example.org/x?a=1&b=2 <img src=x onerror=alert(1)>"),
            ("spoiler_text", "cw"),
            ("language", "en"),
        ],
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let root = r.json["id"].as_str().unwrap().to_string();
    let content = r.json["content"].as_str().unwrap();
    assert!(content.contains("&lt;img"), "{content}");
    assert!(!content.contains("<img"), "{content}");
    assert!(content.contains("href=\"https://example.org/x?a=1&amp;b=2\""), "{content}");
    assert!(content.contains("@<span>bob</span>") && content.contains("@nobody"), "{content}");
    assert_eq!(r.json["mentions"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["mentions"][0]["id"], bob.id);
    assert_eq!(r.json["tags"][0]["name"], "rust");
    assert_eq!(r.json["spoiler_text"], "cw");
    assert_eq!(r.json["sensitive"], true, "a content warning makes a post sensitive");
    assert_eq!(r.json["language"], "en");
    assert_eq!(r.json["visibility"], "public");
    assert_eq!(r.json["application"]["name"], "roost tests");
    assert!(r.headers.contains_key("x-roost-index"));

    // A thread three replies deep, read from the middle.
    let r1 = bob.status_with(&[("status", "@alice reply 1"), ("in_reply_to_id", &root)]);
    let r2 = alice.status_with(&[("status", "reply 2"), ("in_reply_to_id", &r1)]);
    let r3 = bob.status_with(&[("status", "reply 3"), ("in_reply_to_id", &r2)]);
    let side = bob.status_with(&[("status", "side branch"), ("in_reply_to_id", &root)]);
    let ctx = bob.get(&format!("/api/v1/statuses/{r2}/context"));
    assert_eq!(ctx.status, 200);
    let ids = |v: &serde_json::Value| {
        v.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&ctx.json["ancestors"]), vec![root.clone(), r1.clone()]);
    assert_eq!(ids(&ctx.json["descendants"]), vec![r3.clone()]);
    let ctx = bob.get(&format!("/api/v1/statuses/{root}/context"));
    assert_eq!(
        ids(&ctx.json["descendants"]),
        vec![r1.clone(), r2.clone(), r3.clone(), side.clone()],
        "depth first, in reply order"
    );
    let reply = bob.get(&format!("/api/v1/statuses/{r1}"));
    assert_eq!(reply.json["in_reply_to_id"], root);
    assert_eq!(reply.json["in_reply_to_account_id"], alice.id);
    assert_eq!(bob.get(&format!("/api/v1/statuses/{root}")).json["replies_count"], 2);

    // Quotes show the quoted post, and notify its author.
    let q = bob.post_form("/api/v1/statuses", &[("status", "look at this"), ("quoted_status_id", &root)]);
    assert_eq!(q.status, 200, "{:?}", q.json);
    assert_eq!(q.json["quote"]["state"], "accepted");
    assert_eq!(q.json["quote"]["quoted_status"]["id"], root);

    // Idempotency-Key: a retried post is created once.
    let first =
        alice.post_with_headers("/api/v1/statuses", &[("status", "only once")], &[("Idempotency-Key", "abc-123")]);
    let again =
        alice.post_with_headers("/api/v1/statuses", &[("status", "only once")], &[("Idempotency-Key", "abc-123")]);
    assert_eq!(first.json["id"], again.json["id"]);
    let count = alice.get("/api/v1/accounts/verify_credentials").json["statuses_count"].as_u64().unwrap();

    // Deleting: the author can, another member cannot, a moderator can.
    assert_eq!(bob.delete(&format!("/api/v1/statuses/{root}")).status, 403);
    let del = alice.delete(&format!("/api/v1/statuses/{r2}"));
    assert_eq!(del.status, 200);
    assert_eq!(del.json["text"], "reply 2", "delete returns the source for redrafting");
    assert_eq!(alice.get(&format!("/api/v1/statuses/{r2}")).status, 404);
    assert_eq!(alice.get("/api/v1/accounts/verify_credentials").json["statuses_count"].as_u64().unwrap(), count - 1);
    assert_eq!(bob.post_form("/api/v1/statuses", &[("status", "too late"), ("in_reply_to_id", &r2)]).status, 404);
    assert_eq!(alice.delete(&format!("/api/v1/statuses/{r2}")).status, 404);
    assert_eq!(moderator.delete(&format!("/api/v1/statuses/{side}")).status, 200);
    // The thread closes over the gap.
    let ctx = bob.get(&format!("/api/v1/statuses/{root}/context"));
    assert_eq!(ids(&ctx.json["descendants"]), vec![r1.clone()]);
    let q = bob.get(&format!("/api/v1/statuses/{}", q.json["id"].as_str().unwrap()));
    assert_eq!(q.json["quote"]["state"], "accepted");
    alice.delete(&format!("/api/v1/statuses/{root}"));
    let q = bob.get(&format!("/api/v1/statuses/{}", q.json["id"].as_str().unwrap()));
    assert_eq!(q.json["quote"]["state"], "deleted", "a quote of a deleted post says so");
}

#[test]
fn post_length_counts_like_mastodon() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let url = format!("https://example.org/{}", "a".repeat(200));
    // 476 characters + a space + a URL counted as 23 = exactly 500.
    let text = format!("{} {url}", "x".repeat(476));
    assert_eq!(alice.post_form("/api/v1/statuses", &[("status", &text)]).status, 200);
    let text = format!("{} {url}", "x".repeat(477));
    let r = alice.post_form("/api/v1/statuses", &[("status", &text)]);
    assert_eq!(r.status, 422);
    assert!(r.json["error"].as_str().unwrap().contains("500"), "{:?}", r.json);
    // The content warning counts too.
    let r = alice.post_form("/api/v1/statuses", &[("status", &"y".repeat(490)), ("spoiler_text", &"z".repeat(11))]);
    assert_eq!(r.status, 422);
    // Emoji count as one character each.
    assert_eq!(alice.post_form("/api/v1/statuses", &[("status", &"👩‍💻".repeat(500))]).status, 200);
    assert_eq!(alice.post_form("/api/v1/statuses", &[("status", "   \n ")]).status, 422);
    assert_eq!(alice.post_form("/api/v1/statuses", &[]).status, 422);
    assert_eq!(alice.post_form("/api/v1/statuses", &[("status", "x"), ("visibility", "everyone")]).status, 422);
}

#[test]
fn the_post_limit_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("roost.toml"), "max_post_chars = 10\ntitle = \"Tiny\"\n").unwrap();
    let config = dir.path().join("roost.toml");
    let server = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    let alice = server.user("alice");
    assert_eq!(alice.post_form("/api/v1/statuses", &[("status", "0123456789")]).status, 200);
    assert_eq!(alice.post_form("/api/v1/statuses", &[("status", "0123456789a")]).status, 422);
    let v2 = server.anon().get("/api/v2/instance");
    assert_eq!(v2.json["title"], "Tiny");
    assert_eq!(v2.json["configuration"]["statuses"]["max_characters"], 10);
}
