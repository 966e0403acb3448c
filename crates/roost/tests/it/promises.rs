//! What the client API promises, as a strict client reads it: scheduled posts, timers, profile
//! parameters, and Mastodon's semantics where Roost had its own.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use roost_testkit::{iso_in, Api, Server};

fn server_with(dir: &std::path::Path, config: &str) -> Server {
    let path = dir.join("roost.toml");
    std::fs::write(&path, config).unwrap();
    Server::start_with(dir, &["--config", path.to_str().unwrap()], &[])
}

/// Waits (polling) until `check` holds; panics after a generous bound.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn scheduled_posts_go_out_at_their_time_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(dir.path(), "scheduled_status_min_secs = 2\n");
    let alice = server.user("alice");
    let bob = server.user("bob");
    bob.post(&format!("/api/v1/accounts/{}/follow", alice.id));

    let too_soon = alice.post_form("/api/v1/statuses", &[("status", "now?"), ("scheduled_at", &iso_in(1))]);
    assert_eq!(too_soon.status, 422, "{:?}", too_soon.json);
    let bad = alice.post_form("/api/v1/statuses", &[("status", "when?"), ("scheduled_at", "tomorrow")]);
    assert_eq!(bad.status, 422);

    let r = alice.post_form(
        "/api/v1/statuses",
        &[
            ("status", "good morning"),
            ("scheduled_at", &iso_in(3)),
            ("poll[options][]", "yes"),
            ("poll[options][]", "no"),
            ("poll[expires_in]", "600"),
        ],
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let scheduled = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(r.json["params"]["text"], "good morning");
    assert_eq!(r.json["params"]["poll"]["options"], json!(["yes", "no"]));
    assert!(r.json.get("content").is_none(), "a ScheduledStatus, not a Status");
    let cancelled = alice.post_form("/api/v1/statuses", &[("status", "never mind"), ("scheduled_at", &iso_in(3))]);
    let cancelled = cancelled.json["id"].as_str().unwrap().to_string();

    let listed = alice.get("/api/v1/scheduled_statuses");
    assert_eq!(listed.ids().len(), 2);
    assert_eq!(bob.get(&format!("/api/v1/scheduled_statuses/{scheduled}")).status, 404, "only its author sees it");
    assert_eq!(alice.delete(&format!("/api/v1/scheduled_statuses/{cancelled}")).status, 200);
    let moved = alice.put_form(&format!("/api/v1/scheduled_statuses/{scheduled}"), &[("scheduled_at", &iso_in(4))]);
    assert_eq!(moved.status, 200, "{:?}", moved.json);
    assert!(bob.get("/api/v1/timelines/home").ids().is_empty(), "not yet");

    // Nothing else happens on the instance: the leader's timer publishes it.
    let home = || bob.get("/api/v1/timelines/home").json;
    eventually("the scheduled post", || home().as_array().is_some_and(|a| !a.is_empty()));
    let posts = home();
    assert_eq!(posts.as_array().unwrap().len(), 1, "published once; the cancelled one never");
    assert_eq!(posts[0]["content"], "<p>good morning</p>");
    assert_eq!(posts[0]["poll"]["options"][0]["title"], "yes");
    assert!(alice.get("/api/v1/scheduled_statuses").ids().is_empty());
}

#[test]
fn timed_mutes_lift_on_time_on_a_quiet_instance() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let bob = server.user("bob");
    let r = alice.post_form(&format!("/api/v1/accounts/{}/mute", bob.id), &[("duration", "2")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.json["muting"], true);
    assert!(r.json["muting_expires_at"].is_string(), "{:?}", r.json);
    let mutes = alice.get("/api/v1/mutes");
    assert_eq!(mutes.json[0]["id"], bob.id.as_str());
    assert_eq!(mutes.json[0]["mute_expires_at"], r.json["muting_expires_at"]);
    let rel = || alice.get(&format!("/api/v1/accounts/relationships?id[]={}", bob.id)).json[0].clone();
    eventually("the mute lifting", || rel()["muting"] == false);
    assert_eq!(rel()["muting_expires_at"], Value::Null);
}

#[test]
fn profile_parameters_are_kept_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let bob = server.user("bob");
    bob.post(&format!("/api/v1/accounts/{}/follow", alice.id));
    let r = alice.patch_form(
        "/api/v1/accounts/update_credentials",
        &[
            ("fields_attributes[0][name]", "Team"),
            ("fields_attributes[0][value]", "infra https://wiki.example/infra"),
            ("fields_attributes[1][name]", "Pronouns"),
            ("fields_attributes[1][value]", "she/her"),
            ("hide_collections", "true"),
            ("indexable", "false"),
            ("discoverable", "false"),
            ("source[language]", "de"),
        ],
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["fields"][0]["name"], "Team");
    assert!(r.json["fields"][0]["value"].as_str().unwrap().contains("<a href=\"https://wiki.example/infra\""));
    assert_eq!(r.json["source"]["fields"][1]["value"], "she/her");
    assert_eq!((r.json["hide_collections"].clone(), r.json["indexable"].clone()), (json!(true), json!(false)));
    assert_eq!(r.json["discoverable"], false);
    assert_eq!(r.json["source"]["language"], "de");
    // Others see the fields, not the follower list.
    let seen = bob.get(&format!("/api/v1/accounts/{}", alice.id));
    assert_eq!(seen.json["fields"][1]["name"], "Pronouns");
    assert!(bob.get(&format!("/api/v1/accounts/{}/followers", alice.id)).ids().is_empty());
    assert_eq!(alice.get(&format!("/api/v1/accounts/{}/followers", alice.id)).ids(), vec![bob.id.clone()]);
    // New posts take the default language.
    let post = alice.post_form("/api/v1/statuses", &[("status", "hallo")]);
    assert_eq!(post.json["language"], "de");
    // JSON arrays work as well; five fields are refused.
    let five: Vec<Value> = (0..5).map(|i| json!({"name": format!("n{i}"), "value": "v"})).collect();
    let r = alice.send_json("PATCH", "/api/v1/accounts/update_credentials", &json!({ "fields_attributes": five }));
    assert_eq!(r.status, 422);
    let r = alice.send_json(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        &json!({ "fields_attributes": [{"name": "Only", "value": "one"}] }),
    );
    assert_eq!(r.json["fields"].as_array().unwrap().len(), 1);

    // A multipart body without files is a form like any other; a file is refused clearly.
    let boundary = "roostBoundary42";
    let part = |name: &str, value: &str| {
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    };
    let body = format!("{}{}--{boundary}--\r\n", part("display_name", "Alice M"), part("note", "from a form"));
    let r = alice.send_raw(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        &format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["display_name"], "Alice M");
    let file = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n--{boundary}--\r\n"
    );
    let r = alice.send_raw(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        &format!("multipart/form-data; boundary={boundary}"),
        file.into_bytes(),
    );
    assert_eq!(r.status, 422, "not silently ignored");
    // Multipart posting works too.
    let body = format!("{}--{boundary}--\r\n", part("status", "posted as multipart"));
    let r = alice.send_raw(
        "POST",
        "/api/v1/statuses",
        &format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
}

/// The kinds of the member's notifications, newest first.
fn kinds(api: &Api) -> Vec<String> {
    api.get("/api/v1/notifications")
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn semantics_follow_mastodon() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let bob = server.user("bob");
    let carol = server.user("carol");
    assert_eq!(server.anon().get("/health").status, 200);

    // Following with notify=true: a `status` notification for each new post.
    let r = bob.post_form(&format!("/api/v1/accounts/{}/follow", alice.id), &[("notify", "true")]);
    assert_eq!(r.json["notifying"], true);
    let post = alice.status("news");
    assert_eq!(kinds(&bob), vec!["status"]);
    assert_eq!(bob.get("/api/v1/notifications").json[0]["status"]["id"], post.as_str());

    // Answered follow requests take their notification away.
    alice.patch_form("/api/v1/accounts/update_credentials", &[("locked", "true")]);
    let dave = server.user("dave");
    carol.post(&format!("/api/v1/accounts/{}/follow", alice.id));
    dave.post(&format!("/api/v1/accounts/{}/follow", alice.id));
    assert_eq!(kinds(&alice).iter().filter(|k| *k == "follow_request").count(), 2);
    alice.post(&format!("/api/v1/follow_requests/{}/authorize", carol.id));
    alice.post(&format!("/api/v1/follow_requests/{}/reject", dave.id));
    assert!(!kinds(&alice).contains(&"follow_request".to_string()), "{:?}", kinds(&alice));

    // reblogged_by lists public and unlisted reblogs only.
    carol.post_form(&format!("/api/v1/statuses/{post}/reblog"), &[("visibility", "private")]);
    dave.post(&format!("/api/v1/statuses/{post}/reblog"));
    let who: Vec<String> = bob.get(&format!("/api/v1/statuses/{post}/reblogged_by")).ids();
    assert_eq!(who, vec![dave.id.clone()]);

    // A direct message from someone one does not follow: notifications and conversations, not
    // the home timeline or the user stream.
    let stream = carol.sse("/api/v1/streaming/user");
    let dm = dave.status_with(&[("status", "@carol psst"), ("visibility", "direct")]);
    let first = stream.next();
    assert_eq!(first.event, "notification", "the stream tells of the mention, not an update");
    assert!(stream.try_next(Duration::from_millis(500)).is_none_or(|e| e.event != "update"));
    assert!(!carol.get("/api/v1/timelines/home").ids().contains(&dm));
    assert_eq!(carol.get("/api/v1/conversations").json[0]["last_status"]["id"], dm.as_str());

    // exclude_direct on an account's posts.
    let mine = dave.get(&format!("/api/v1/accounts/{}/statuses", dave.id)).ids();
    assert!(mine.contains(&dm));
    let mine = dave.get(&format!("/api/v1/accounts/{}/statuses?exclude_direct=true", dave.id)).ids();
    assert!(!mine.contains(&dm));

    // Reporting one's own account works as on Mastodon.
    let r = bob.post_form("/api/v1/reports", &[("account_id", &bob.id), ("comment", "my account was taken over")]);
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["target_account"]["id"], bob.id.as_str());
    let r = bob.post_form("/api/v1/reports", &[("account_id", &alice.id), ("rule_ids[]", "1")]);
    assert_eq!(r.status, 422);
    assert!(r.json["error"].is_string());
}
