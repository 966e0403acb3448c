//! Live streams: the WebSocket and server-sent events, what each viewer hears, and who may
//! listen at all.
//!
//! Events on one connection arrive in log order, so "X is not sent" is checked by sending X,
//! then something that is sent, and finding the latter first.

use crate::common::{Server, PASSWORD};

#[test]
fn the_user_stream_carries_home_posts_notifications_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let bob = server.user("bob");
    let carol = server.user("carol");
    alice.post(&format!("/api/v1/accounts/{}/follow", bob.id));
    let events = alice.sse("/api/v1/streaming/user");

    carol.status("alice does not follow carol");
    let hello = bob.status("hello from bob");
    let e = events.next();
    assert_eq!((e.event.as_str(), e.json()["id"].as_str()), ("update", Some(hello.as_str())));
    assert_eq!(e.json()["account"]["username"], "bob");
    assert_eq!(e.json()["content"], "<p>hello from bob</p>");

    let private = bob.status_with(&[("status", "for followers"), ("visibility", "private")]);
    assert_eq!(events.next().json()["id"], private.as_str(), "followers-only posts reach followers");

    // A mention is a home post and a notification, in that order.
    let mention = bob.status("hi @alice");
    assert_eq!(events.next().json()["id"], mention.as_str());
    let n = events.next();
    assert_eq!(n.event, "notification");
    assert_eq!(
        (n.json()["type"].as_str(), n.json()["status"]["id"].as_str()),
        (Some("mention"), Some(mention.as_str()))
    );

    // Her own posts, and what others do with them.
    let own = alice.status("my own");
    assert_eq!(events.next().json()["id"], own.as_str());
    carol.post(&format!("/api/v1/statuses/{own}/favourite"));
    let fav = events.next();
    assert_eq!((fav.event.as_str(), fav.json()["type"].as_str()), ("notification", Some("favourite")));
    assert_eq!(fav.json()["account"]["username"], "carol");
    assert_eq!(fav.json()["status"]["favourites_count"], 1);

    // A reblog by someone she follows shows the reblog, with her own flags.
    alice.post(&format!("/api/v1/statuses/{}/favourite", carol.status("carol's post")));
    let carols = carol.get(&format!("/api/v1/accounts/{}/statuses", carol.id)).ids()[0].clone();
    let rb = bob.post(&format!("/api/v1/statuses/{carols}/reblog")).json["id"].as_str().unwrap().to_string();
    let e = events.next();
    assert_eq!(
        (e.json()["id"].as_str(), e.json()["reblog"]["id"].as_str()),
        (Some(rb.as_str()), Some(carols.as_str()))
    );
    assert_eq!(e.json()["reblog"]["favourited"], true, "rendered for the viewer");

    // An edit arrives as status.update, with the new text and its edit time.
    assert_eq!(bob.put_form(&format!("/api/v1/statuses/{hello}"), &[("status", "hello, edited")]).status, 200);
    let e = events.next();
    assert_eq!((e.event.as_str(), e.json()["id"].as_str()), ("status.update", Some(hello.as_str())));
    assert_eq!(e.json()["content"], "<p>hello, edited</p>");
    assert!(e.json()["edited_at"].is_string());

    assert_eq!(bob.delete(&format!("/api/v1/statuses/{hello}")).status, 200);
    let d = events.next();
    assert_eq!((d.event.as_str(), d.payload.as_str()), ("delete", hello.as_str()));

    // Muting bob silences his posts here as in the home timeline.
    alice.post(&format!("/api/v1/accounts/{}/mute", bob.id));
    bob.status("muted");
    let own = alice.status("after the mute");
    assert_eq!(events.next().json()["id"], own.as_str());

    // Only notifications on user:notification.
    let only = alice.sse("/api/v1/streaming/user/notification");
    alice.status("not a notification");
    carol.post(&format!("/api/v1/accounts/{}/follow", alice.id));
    let n = only.next();
    assert_eq!((n.event.as_str(), n.json()["type"].as_str()), ("notification", Some("follow")));

    // Changing a filter tells the user stream, so that apps refetch them.
    let r = alice.post_json("/api/v2/filters", &serde_json::json!({"title": "f", "context": ["home"]}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    let changed = loop {
        let e = events.next();
        if e.event == "filters_changed" {
            break e;
        }
    };
    assert_eq!(changed.payload, "undefined", "no payload, as Mastodon sends it");
}

#[test]
fn public_and_hashtag_streams_over_a_websocket() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let bob = server.user("bob");
    let dave = server.user("dave");
    dave.post(&format!("/api/v1/accounts/{}/block", alice.id));

    let (ws, _) = alice.websocket("stream=public:local", false).unwrap();
    dave.status("dave blocked alice: she must not see this");
    bob.status_with(&[("status", "unlisted"), ("visibility", "unlisted")]);
    bob.status_with(&[("status", "followers only"), ("visibility", "private")]);
    let public = bob.status("in public #Rust");
    let e = ws.next();
    assert_eq!((e.stream.clone(), e.event.as_str()), (vec!["public:local".to_string()], "update"));
    assert_eq!(e.json()["id"], public.as_str());
    assert_eq!(e.json()["tags"][0]["name"], "rust");

    // Subscribing on the same socket; an error reply proves the server read what came before.
    ws.send(r#"{"type":"subscribe","stream":"hashtag","tag":"RUST"}"#);
    ws.send(r#"{"type":"subscribe","stream":"no such stream"}"#);
    let err = ws.next();
    assert_eq!((err.event.as_str(), err.payload.as_str()), ("error:400", "Unknown stream type"));
    let both = bob.status("again #rust");
    let (a, b) = (ws.next(), ws.next());
    assert_eq!(a.stream, vec!["public:local"]);
    assert_eq!(b.stream, vec!["hashtag", "RUST"], "the tag as subscribed, as Mastodon echoes it");
    assert_eq!((a.json()["id"].as_str(), b.json()["id"].as_str()), (Some(both.as_str()), Some(both.as_str())));

    ws.send(r#"{"type":"unsubscribe","stream":"public:local"}"#);
    ws.send("not json");
    assert_eq!(ws.next().event, "error:400");
    bob.status("no tag here");
    let tagged = bob.status("third #rust");
    let e = ws.next();
    assert_eq!(
        (e.stream.clone(), e.json()["id"].as_str()),
        (vec!["hashtag".into(), "RUST".into()], Some(tagged.as_str()))
    );

    // Deleting a listed post is announced on the streams that carried it.
    bob.delete(&format!("/api/v1/statuses/{tagged}"));
    let d = ws.next();
    assert_eq!(
        (d.event.as_str(), d.payload.as_str(), d.stream.clone()),
        ("delete", tagged.as_str(), vec!["hashtag".into(), "RUST".into()])
    );

    // The token may come as the WebSocket subprotocol, which the server echoes.
    let (ws, protocol) = alice.websocket("stream=user", true).unwrap();
    assert_eq!(protocol.as_deref(), alice.token.as_deref());
    let own = alice.status("mine");
    assert_eq!(ws.next().json()["id"], own.as_str());
}

#[test]
fn streams_need_a_user_token_with_a_read_scope() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let anon = server.anon();
    assert_eq!(anon.try_sse("/api/v1/streaming/user").0, 401);
    assert_eq!(anon.websocket("stream=user", false).err(), Some(401));
    let health = server.anon().http.get(format!("{}/api/v1/streaming/health", server.base)).send().unwrap();
    assert_eq!((health.status().as_u16(), health.text().unwrap()), (200, "OK".to_string()));
    assert_eq!(alice.get("/api/v1/streaming").status, 404, "not a WebSocket: streaming is on this host");
    assert_eq!(alice.try_sse("/api/v1/streaming/hashtag").0, 400, "a tag is required");
    assert_eq!(alice.try_sse("/api/v1/streaming/list?list=1").0, 404, "not her list");
    assert_eq!(alice.try_sse("/api/v1/streaming/list").0, 400, "a list is required");
    assert_eq!(alice.websocket("stream=nonsense", false).err(), Some(400));

    // A token with only the write scope may not listen; read:notifications hears only those.
    let token_with = |scope: &str| server.token_scoped("alice", PASSWORD, scope).unwrap();
    let write_only = crate::common::Api { token: Some(token_with("write")), ..alice.clone() };
    assert_eq!(write_only.try_sse("/api/v1/streaming/public").0, 403);
    assert_eq!(write_only.websocket("stream=user", false).err(), Some(403));
    let notes_only = crate::common::Api { token: Some(token_with("read:notifications")), ..alice.clone() };
    assert_eq!(notes_only.try_sse("/api/v1/streaming/public").0, 403);
    let (ws, _) = notes_only.websocket("stream=user:notification", false).unwrap();
    ws.send(r#"{"type":"subscribe","stream":"public"}"#);
    assert_eq!(ws.next().event, "error:403");

    // A revoked token is refused at once (open streams end at their next heartbeat).
    let (client_id, client_secret) = server.app();
    let r = anon.post_form(
        "/oauth/revoke",
        &[("client_id", &client_id), ("client_secret", &client_secret), ("token", alice.token.as_deref().unwrap())],
    );
    assert_eq!(r.status, 200);
    assert_eq!(alice.try_sse("/api/v1/streaming/user").0, 401);
}
