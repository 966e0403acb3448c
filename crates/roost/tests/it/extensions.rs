//! Extensions through the API (issue 14): an administrator writes an automod rule, dry-runs it
//! against the posts already there, deploys it to observe and then to enforce, rolls back and
//! disables it; members see the rule's reason when it refuses their post; nobody else may touch
//! extensions.

use serde_json::{json, Value};

use crate::audit::admin_token;
use roost_testkit::Server;

/// Refuses posts that look like they carry a card number (the first version); the second also
/// refuses any that shout.
const CARDS: &str = r#"
function judge(post) {
  if (/\b(?:\d[ -]?){13,16}\b/.test(post.text)) return { verdict: "reject", reason: "it looks like it holds a card number" };
  return { verdict: "allow" };
}
"#;

const CARDS_AND_SHOUTING: &str = r#"
function judge(post) {
  if (/\b(?:\d[ -]?){13,16}\b/.test(post.text)) return { verdict: "reject", reason: "it looks like it holds a card number" };
  if (post.text.length > 8 && post.text === post.text.toUpperCase()) return { verdict: "reject", reason: "no shouting" };
  return null;
}
"#;

#[test]
fn an_automod_rule_is_written_dry_run_deployed_rolled_back_and_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server.user("olga");
    let member = server.user("mia");
    for text in ["lunch at noon?", "my card: 4111 1111 1111 1111", "THE BUILD IS BROKEN AGAIN", "deploy done"] {
        member.status(text);
    }
    let admin = admin_token(&server, "olga", "read write admin:read admin:write");

    // A source that does not load, or lacks `judge`, is refused before anything is written.
    let broken = admin.post_json(
        "/api/roost/v1/extensions",
        &json!({"name": "broken", "kind": "automod", "source": "function judge( {"}),
    );
    assert_eq!(broken.status, 422, "{:?}", broken.json);
    let no_judge = admin.post_json(
        "/api/roost/v1/extensions",
        &json!({"name": "x", "kind": "automod", "source": "function rank() {}"}),
    );
    assert_eq!(no_judge.status, 422, "{:?}", no_judge.json);
    assert!(no_judge.json["error"].as_str().unwrap().contains("judge"), "{:?}", no_judge.json);

    let made = admin.post_json(
        "/api/roost/v1/extensions",
        &json!({"name": "No card numbers", "kind": "automod", "description": "PCI", "source": CARDS}),
    );
    assert_eq!(made.status, 200, "{:?}", made.json);
    let id = made.json["id"].as_str().unwrap().to_string();
    assert_eq!(made.json["version"], 1);

    // The dry run judges the posts already there and changes nothing.
    let report = admin.post_json(&format!("/api/roost/v1/extensions/{id}/dry_run"), &json!({"version": 1}));
    assert_eq!(report.status, 200, "{:?}", report.json);
    assert_eq!(report.json["posts"], 4);
    assert_eq!(report.json["verdicts"], json!({"allow": 3, "reject": 1}));
    let example = &report.json["examples"]["reject"][0];
    assert_eq!(example["reason"], "it looks like it holds a card number");
    assert!(example["text"].as_str().unwrap().contains("4111"));
    assert!(report.json["time_ms"]["p99"].as_f64().unwrap() > 0.0);

    // Observe: the rule decides, nothing happens to the post.
    let deploy = |version: u32, mode: &str| {
        let r = admin
            .post_json(&format!("/api/roost/v1/extensions/{id}/deploy"), &json!({"version": version, "mode": mode}));
        assert_eq!(r.status, 200, "{:?}", r.json);
        r.json
    };
    assert_eq!(deploy(1, "observe")["deployed"]["mode"], "observe");
    let card = [("status", "card 4111 1111 1111 1111 again")];
    assert_eq!(member.post_form("/api/v1/statuses", &card).status, 200);
    let shown = admin.get(&format!("/api/roost/v1/extensions/{id}"));
    assert_eq!(shown.json["figures"]["verdicts"]["reject"], 1, "{:?}", shown.json);

    // Enforce: the member sees why, and an ordinary post goes through.
    deploy(1, "enforce");
    let refused = member.post_form("/api/v1/statuses", &card);
    assert_eq!(refused.status, 422, "{:?}", refused.json);
    let message = refused.json["error"].as_str().unwrap();
    assert!(message.contains("No card numbers") && message.contains("card number"), "{message}");
    assert_eq!(member.post_form("/api/v1/statuses", &[("status", "ALL CAPS IS FINE FOR NOW")]).status, 200);
    // An edit is judged too.
    let post = member.status("an innocent post");
    let edit = member.put_form(&format!("/api/v1/statuses/{post}"), &[("status", "now with 4111 1111 1111 1111")]);
    assert_eq!(edit.status, 422, "{:?}", edit.json);

    // A second version, deployed; then a roll back to the first brings the old behaviour back.
    let v2 = admin.post_json(
        &format!("/api/roost/v1/extensions/{id}/versions"),
        &json!({"name": "No card numbers", "kind": "automod", "source": CARDS_AND_SHOUTING}),
    );
    assert_eq!(v2.json["version"], 2, "{:?}", v2.json);
    deploy(2, "enforce");
    let shouting = [("status", "SHOUTING ABOUT THE BUILD")];
    assert_eq!(member.post_form("/api/v1/statuses", &shouting).status, 422);
    deploy(1, "enforce");
    assert_eq!(member.post_form("/api/v1/statuses", &shouting).status, 200, "rolled back");
    let versions = admin.get(&format!("/api/roost/v1/extensions/{id}"));
    assert_eq!(versions.json["versions"].as_array().unwrap().len(), 2);
    let first = admin.get(&format!("/api/roost/v1/extensions/{id}/versions/1"));
    assert_eq!(first.json["source"], CARDS);

    // Disabled: nothing is judged.
    let off = admin.post(&format!("/api/roost/v1/extensions/{id}/disable"));
    assert_eq!(off.status, 200, "{:?}", off.json);
    assert!(off.json["deployed"].is_null());
    assert_eq!(member.post_form("/api/v1/statuses", &card).status, 200);

    // Every change is in the log with who made it.
    let log = admin.get("/api/roost/v1/admin/log?limit=200");
    let names: Vec<&str> = log.json.as_array().unwrap().iter().map(|e| e["command"].as_str().unwrap()).collect();
    for command in ["SaveExtension", "DeployExtension", "DisableExtension"] {
        assert!(names.contains(&command), "{command} is not in the log: {names:?}");
    }
}

#[test]
fn members_cannot_see_or_change_extensions_and_broken_rules_fail_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server.user("olga");
    let member = server.user("mia");
    let admin = admin_token(&server, "olga", "read write admin:read admin:write");
    let nosy = admin_token(&server, "mia", "read write admin:read admin:write");
    assert_eq!(nosy.get("/api/roost/v1/extensions").status, 404);
    let attempt = nosy.post_json(
        "/api/roost/v1/extensions",
        &json!({"name": "mine", "kind": "automod", "source": "function judge() {}"}),
    );
    assert_eq!(attempt.status, 404);
    // A token without the admin scopes is refused even for the owner.
    let plain = admin_token(&server, "olga", "read write");
    assert_eq!(plain.get("/api/roost/v1/extensions").status, 403);

    // A rule that loops forever: open lets posts through, closed refuses them.
    let make = |on_error: &str| -> String {
        let r = admin.post_json(
            "/api/roost/v1/extensions",
            &json!({"name": format!("loop {on_error}"), "kind": "automod", "on_error": on_error,
                    "source": "function judge(post) { for (;;) {} }"}),
        );
        assert_eq!(r.status, 200, "{:?}", r.json);
        r.json["id"].as_str().unwrap().to_string()
    };
    let open = make("open");
    let deployed =
        admin.post_json(&format!("/api/roost/v1/extensions/{open}/deploy"), &json!({"version": 1, "mode": "enforce"}));
    assert_eq!(deployed.status, 200);
    assert_eq!(member.post_form("/api/v1/statuses", &[("status", "still works")]).status, 200);
    let figures: Value = admin.get(&format!("/api/roost/v1/extensions/{open}")).json["figures"].clone();
    assert_eq!(figures["errors"], 1, "{figures:?}");
    // Its budget or, on a busy machine, its deadline ends it first.
    let error = figures["recent_errors"][0].as_str().unwrap();
    assert!(error.contains("budget") || error.contains("deadline"), "{figures:?}");
    let metrics = server.anon().get_bytes("/metrics").2;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains(&format!("roost_extension_errors_total{{extension=\"{open}\",version=\"1\"}} 1")),
        "{metrics}"
    );
    // Failing again and again on one member's posts, it keeps running (one member cannot
    // switch a rule off); failing on several members' posts, it is stopped by the node.
    for i in 0..12 {
        assert_eq!(member.post_form("/api/v1/statuses", &[("status", &format!("post {i}"))]).status, 200);
    }
    assert!(!admin.get(&format!("/api/roost/v1/extensions/{open}")).json["deployed"].is_null());
    for name in ["nia", "noor"] {
        let other = server.user(name);
        for i in 0..3 {
            assert_eq!(other.post_form("/api/v1/statuses", &[("status", &format!("{name} {i}"))]).status, 200);
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !admin.get(&format!("/api/roost/v1/extensions/{open}")).json["deployed"].is_null() {
        assert!(std::time::Instant::now() < deadline, "the failing rule was never disabled");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let log = admin.get("/api/roost/v1/admin/log?limit=50");
    let stopped = log.json.as_array().unwrap().iter().find(|e| e["command"] == "DisableExtension").unwrap();
    assert_eq!(stopped["via"]["kind"], "node", "{stopped:?}");
    let closed = make("closed");
    admin.post_json(&format!("/api/roost/v1/extensions/{closed}/deploy"), &json!({"version": 1, "mode": "enforce"}));
    let refused = member.post_form("/api/v1/statuses", &[("status", "blocked by a broken rule")]);
    assert_eq!(refused.status, 422, "{:?}", refused.json);
    assert!(refused.json["error"].as_str().unwrap().contains("could not be checked"));

    // Bad input is refused with the reason.
    for (body, what) in [
        (json!({"name": "", "kind": "automod", "source": "function judge() {}"}), "name"),
        (json!({"name": "x", "kind": "sometimes", "source": "function judge() {}"}), "kind"),
        (json!({"name": "x", "kind": "automod", "budget": 10_000_000, "source": "function judge() {}"}), "budget"),
        (json!({"name": "x", "kind": "automod"}), "source"),
    ] {
        let r = admin.post_json("/api/roost/v1/extensions", &body);
        assert_eq!(r.status, 422, "{what}: {:?}", r.json);
        assert!(r.json["error"].as_str().unwrap().contains(what), "{what}: {:?}", r.json);
    }
    let huge = admin
        .post_json("/api/roost/v1/extensions", &json!({"name": "x", "kind": "automod", "source": "x".repeat(70_000)}));
    assert!(huge.status == 413 || huge.status == 422, "{}", huge.status);
    let unknown = admin.post_json("/api/roost/v1/extensions/12345/deploy", &json!({"version": 1, "mode": "enforce"}));
    assert_eq!(unknown.status, 404);
}

/// Holds posts that look like they carry a card number; labels posts with links, with a
/// content warning.
const HOLD_AND_LABEL: &str = r#"
function judge(post) {
  if (/\b(?:\d[ -]?){13,16}\b/.test(post.text)) return { verdict: "hold", reason: "it may hold a card number" };
  if (/https?:\/\//.test(post.text)) return { verdict: "label", label: "external link", content_warning: "Leaves the network" };
  return null;
}
"#;

#[test]
fn a_held_post_waits_for_a_moderator_and_a_labelled_one_shows_its_label() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server.user("olga");
    let author = server.user("mia");
    let reader = server.user("nia");
    let admin = admin_token(&server, "olga", "read write admin:read admin:write");
    let made = admin.post_json(
        "/api/roost/v1/extensions",
        &json!({"name": "Card numbers held", "kind": "automod", "source": HOLD_AND_LABEL}),
    );
    assert_eq!(made.status, 200, "{:?}", made.json);
    let id = made.json["id"].as_str().unwrap().to_string();
    let deployed =
        admin.post_json(&format!("/api/roost/v1/extensions/{id}/deploy"), &json!({"version": 1, "mode": "enforce"}));
    assert_eq!(deployed.status, 200, "{:?}", deployed.json);

    // Held: the author is told why and sees the post; nobody else does, anywhere.
    let posted = author.post_form("/api/v1/statuses", &[("status", "refund to 4111 1111 1111 1111 please")]);
    assert_eq!(posted.status, 200, "{:?}", posted.json);
    assert_eq!(posted.json["roost_held"]["reason"], "it may hold a card number", "{:?}", posted.json);
    assert_eq!(posted.json["roost_held"]["rule"], "Card numbers held");
    let held = posted.json["id"].as_str().unwrap().to_string();
    assert_eq!(author.get(&format!("/api/v1/statuses/{held}")).status, 200);
    assert_eq!(reader.get(&format!("/api/v1/statuses/{held}")).status, 404);
    let in_list = |list: &Value| list.as_array().unwrap().iter().any(|s| s["id"] == held.as_str());
    assert!(!in_list(&reader.get("/api/v1/timelines/public").json));
    let author_id = author.get("/api/v1/accounts/verify_credentials").json["id"].as_str().unwrap().to_string();
    assert!(!in_list(&reader.get(&format!("/api/v1/accounts/{author_id}/statuses")).json));
    assert!(in_list(&author.get(&format!("/api/v1/accounts/{author_id}/statuses")).json));
    // A held post cannot be scheduled past its review.
    let scheduled = author.post_form(
        "/api/v1/statuses",
        &[("status", "later: 4111 1111 1111 1111"), ("scheduled_at", "2099-01-01T00:00:00Z")],
    );
    assert_eq!(scheduled.status, 422, "{:?}", scheduled.json);

    // The queue is for moderators, with the rule and its reason.
    let nosy = admin_token(&server, "nia", "read write admin:read admin:write");
    assert_eq!(nosy.get("/api/roost/v1/moderation/held").status, 404);
    assert_eq!(nosy.post(&format!("/api/roost/v1/moderation/held/{held}/approve")).status, 404);
    let queue = admin.get("/api/roost/v1/moderation/held");
    assert_eq!(queue.status, 200, "{:?}", queue.json);
    let entry = &queue.json[0];
    assert_eq!(entry["status"]["id"], held.as_str(), "{:?}", queue.json);
    assert_eq!(entry["reason"], "it may hold a card number");
    assert_eq!(entry["rule"], "Card numbers held");
    assert_eq!(entry["version"], 1);

    // Approved: everyone who may read it sees it, without the mark.
    let approved = admin.post(&format!("/api/roost/v1/moderation/held/{held}/approve"));
    assert_eq!(approved.status, 200, "{:?}", approved.json);
    let seen = reader.get(&format!("/api/v1/statuses/{held}"));
    assert_eq!(seen.status, 200);
    assert!(seen.json.get("roost_held").is_none(), "{:?}", seen.json);
    assert!(in_list(&reader.get("/api/v1/timelines/public").json));
    assert_eq!(admin.get("/api/roost/v1/moderation/held").json, json!([]));
    assert_eq!(admin.post(&format!("/api/roost/v1/moderation/held/{held}/approve")).status, 404, "reviewed once");

    // Removed: the post is gone for its author too.
    let again = author.post_form("/api/v1/statuses", &[("status", "card 4111 1111 1111 1111")]);
    let gone = again.json["id"].as_str().unwrap().to_string();
    assert_eq!(admin.post(&format!("/api/roost/v1/moderation/held/{gone}/remove")).status, 200);
    assert_eq!(author.get(&format!("/api/v1/statuses/{gone}")).status, 404);

    // Labelled: the label and the rule's content warning come with the post.
    let linked = author.post_form("/api/v1/statuses", &[("status", "read https://example.com/post")]);
    assert_eq!(linked.status, 200, "{:?}", linked.json);
    let link_id = linked.json["id"].as_str().unwrap().to_string();
    let shown = reader.get(&format!("/api/v1/statuses/{link_id}"));
    assert_eq!(shown.json["roost_labels"], json!(["external link"]), "{:?}", shown.json);
    assert_eq!(shown.json["spoiler_text"], "Leaves the network");
    assert_eq!(shown.json["sensitive"], true);
    // A post with its own content warning keeps it.
    let own = author.post_form("/api/v1/statuses", &[("status", "https://example.com"), ("spoiler_text", "mine")]);
    assert_eq!(own.json["spoiler_text"], "mine", "{:?}", own.json);
    let plain = author.post_form("/api/v1/statuses", &[("status", "nothing to see")]);
    assert!(plain.json.get("roost_labels").is_none(), "{:?}", plain.json);

    let log = admin.get("/api/roost/v1/admin/log?limit=200");
    let names: Vec<&str> = log.json.as_array().unwrap().iter().map(|e| e["command"].as_str().unwrap()).collect();
    assert!(names.contains(&"ReviewHeldPost"), "{names:?}");
}

/// Ranks the most favourited first, then the oldest; `EXTRA` is an ID the feed was not given.
const MOST_LIKED: &str = r#"
const EXTRA = "__EXTRA__";
function rank(input) {
  const posts = input.posts.slice().sort((a, b) => b.favourites_count - a.favourites_count || a.created_at - b.created_at);
  return [EXTRA].concat(posts.map(p => p.id));
}
"#;

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_member_writes_a_personal_feed_and_reads_it_as_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let olga = server.user("olga");
    let mia = server.user("mia");
    let ana = server.user("ana");
    let bob = server.user("bob");
    let carl = server.user("carl");
    let nia = server.user("nia");
    let id_of = |api: &roost_testkit::Api| {
        api.get("/api/v1/accounts/verify_credentials").json["id"].as_str().unwrap().to_string()
    };
    let carl_id = id_of(&carl);
    assert_eq!(mia.post(&format!("/api/v1/accounts/{carl_id}/block")).status, 200);

    let first = ana.status("#incident the database is down");
    let second = ana.status("#incident failing over now");
    let third = ana.status("#incident resolved, postmortem to follow");
    ana.status("lunch, anyone?");
    // Not for mia to read: followers-only from someone she does not follow, and a post by
    // someone she blocked.
    let secret =
        bob.status_with(&[("status", "#incident the root password is in the wiki"), ("visibility", "private")]);
    carl.status("#incident carl's take");
    for liker in [&olga, &nia] {
        assert_eq!(liker.post(&format!("/api/v1/statuses/{third}/favourite")).status, 200);
    }
    assert_eq!(olga.post(&format!("/api/v1/statuses/{second}/favourite")).status, 200);

    let source = MOST_LIKED.replace("__EXTRA__", &secret);
    let made = mia.post_json(
        "/api/roost/v1/feeds",
        &json!({"name": "Incidents", "sources": ["#incident"], "window_hours": 48, "source": source}),
    );
    assert_eq!(made.status, 200, "{:?}", made.json);
    let feed = made.json["id"].as_str().unwrap().to_string();

    // Previewed before it is live: most liked first; the post it named but was not given, and
    // those mia may not read, are not there.
    let preview = mia.get(&format!("/api/roost/v1/feeds/{feed}/preview"));
    assert_eq!(preview.status, 200, "{:?}", preview.json);
    assert_eq!(ids_of(&preview.json), vec![third.clone(), second.clone(), first.clone()]);
    assert_eq!(mia.get(&format!("/api/roost/v1/feeds/{feed}/timeline")).status, 404, "not deployed yet");

    // Only its owner sees a personal feed.
    for path in [format!("/api/roost/v1/feeds/{feed}"), format!("/api/roost/v1/feeds/{feed}/preview")] {
        assert_eq!(nia.get(&path).status, 404, "{path}");
    }
    assert_eq!(nia.post(&format!("/api/roost/v1/feeds/{feed}/subscribe")).status, 404);
    assert_eq!(nia.post(&format!("/api/roost/v1/feeds/{feed}/deploy")).status, 404);

    let deployed = mia.post(&format!("/api/roost/v1/feeds/{feed}/deploy"));
    assert_eq!(deployed.status, 200, "{:?}", deployed.json);
    assert_eq!(mia.post(&format!("/api/roost/v1/feeds/{feed}/subscribe")).status, 200);
    let listed = mia.get("/api/roost/v1/feeds");
    let entry = listed.json.as_array().unwrap().iter().find(|f| f["id"] == feed.as_str()).unwrap().clone();
    assert_eq!(entry["subscribed"], true);
    assert_eq!(entry["feed"]["sources"], json!(["#incident"]));
    assert_eq!(entry["personal"], true);

    // To a Mastodon app it is one more list, whose timeline is the ranked feed, paged in that
    // order.
    let lists = mia.get("/api/v1/lists");
    assert!(lists.json.as_array().unwrap().iter().any(|l| l["id"] == feed.as_str() && l["title"] == "Incidents"));
    assert_eq!(mia.get(&format!("/api/v1/lists/{feed}")).json["title"], "Incidents");
    let page = mia.get(&format!("/api/v1/timelines/list/{feed}?limit=2"));
    assert_eq!(ids_of(&page.json), vec![third.clone(), second.clone()]);
    let next = mia.get(&format!("/api/v1/timelines/list/{feed}?limit=2&max_id={second}"));
    assert_eq!(ids_of(&next.json), vec![first.clone()]);
    assert!(nia.get("/api/v1/lists").json.as_array().unwrap().is_empty());
    assert_eq!(nia.get(&format!("/api/v1/timelines/list/{feed}")).status, 404);

    // A deleted post leaves the feed at once; a version that throws shows the candidates
    // newest first and is counted.
    assert_eq!(ana.delete(&format!("/api/v1/statuses/{second}")).status, 200);
    let v2 = mia.post_json(
        &format!("/api/roost/v1/feeds/{feed}/versions"),
        &json!({"name": "Incidents", "sources": "#incident", "source": "function rank() { throw new Error('no'); }"}),
    );
    assert_eq!(v2.json["version"], 2, "{:?}", v2.json);
    assert_eq!(mia.post_json(&format!("/api/roost/v1/feeds/{feed}/deploy"), &json!({"version": 2})).status, 200);
    let fallback = mia.get(&format!("/api/roost/v1/feeds/{feed}/timeline"));
    assert_eq!(ids_of(&fallback.json), vec![third.clone(), first.clone()]);
    let shown = mia.get(&format!("/api/roost/v1/feeds/{feed}"));
    assert_eq!(shown.json["figures"]["errors"], 1, "{:?}", shown.json);
    assert_eq!(shown.json["versions"][0]["source"], "function rank() { throw new Error('no'); }");

    // Deleting the list in an app unsubscribes; the feed itself stays.
    assert_eq!(mia.delete(&format!("/api/v1/lists/{feed}")).status, 200);
    assert!(mia.get("/api/v1/lists").json.as_array().unwrap().is_empty());
    assert_eq!(mia.get(&format!("/api/roost/v1/feeds/{feed}")).status, 200);

    // A feed for everyone is an administrator's, through the extensions API; members subscribe.
    let admin = admin_token(&server, "olga", "read write admin:read admin:write");
    let shared = admin.post_json(
        "/api/roost/v1/extensions",
        &json!({"name": "Everything", "kind": "feed", "personal": false, "sources": ["local"],
                "source": "function rank(input) { return input.posts.map(p => p.id); }"}),
    );
    assert_eq!(shared.status, 200, "{:?}", shared.json);
    let everything = shared.json["id"].as_str().unwrap().to_string();
    assert_eq!(nia.post(&format!("/api/roost/v1/feeds/{everything}/subscribe")).status, 404, "not deployed");
    admin
        .post_json(&format!("/api/roost/v1/extensions/{everything}/deploy"), &json!({"version": 1, "mode": "enforce"}));
    assert_eq!(nia.post(&format!("/api/roost/v1/feeds/{everything}/subscribe")).status, 200);
    let hers = nia.get(&format!("/api/v1/timelines/list/{everything}?limit=40"));
    assert!(!ids_of(&hers.json).contains(&secret), "{:?}", hers.json);
    assert!(ids_of(&hers.json).contains(&third));
    // Members cannot change it, nor write feeds for everyone.
    assert_eq!(nia.post(&format!("/api/roost/v1/feeds/{everything}/deploy")).status, 404);
    let for_all = nia.post_json(
        "/api/roost/v1/feeds",
        &json!({"name": "x", "personal": false, "sources": ["local"], "source": "function rank() {}"}),
    );
    assert_eq!(for_all.status, 422, "{:?}", for_all.json);

    // Bad input is refused with the reason.
    for (body, what) in [
        (json!({"name": "x", "sources": [], "source": "function rank() {}"}), "sources"),
        (json!({"name": "x", "sources": ["#no spaces"], "source": "function rank() {}"}), "hashtag"),
        (json!({"name": "x", "sources": ["@nobody"], "source": "function rank() {}"}), "nobody"),
        (
            json!({"name": "x", "sources": ["home"], "window_hours": 100_000, "source": "function rank() {}"}),
            "window_hours",
        ),
        (json!({"name": "x", "sources": ["home"], "source": "function judge() {}"}), "rank"),
    ] {
        let r = mia.post_json("/api/roost/v1/feeds", &body);
        assert_eq!(r.status, 422, "{what}: {:?}", r.json);
        assert!(r.json["error"].as_str().unwrap().contains(what), "{what}: {:?}", r.json);
    }
    // A list source must be one's own list, in a personal feed.
    let list = olga.post_form("/api/v1/lists", &[("title", "olga's")]).json["id"].as_str().unwrap().to_string();
    let theirs = mia.post_json(
        "/api/roost/v1/feeds",
        &json!({"name": "x", "sources": [format!("list:{list}")], "source": "function rank() {}"}),
    );
    assert_eq!(theirs.status, 422, "{:?}", theirs.json);
}
