//! Live streams: the WebSocket and server-sent events, what each viewer hears, and who may
//! listen at all.
//!
//! Events on one connection arrive in log order, so "X is not sent" is checked by sending X,
//! then something that is sent, and finding the latter first.

use roost_testkit::{Server, PASSWORD};

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
    let write_only = roost_testkit::Api { token: Some(token_with("write")), ..alice.clone() };
    assert_eq!(write_only.try_sse("/api/v1/streaming/public").0, 403);
    assert_eq!(write_only.websocket("stream=user", false).err(), Some(403));
    let notes_only = roost_testkit::Api { token: Some(token_with("read:notifications")), ..alice.clone() };
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

/// A client that stops reading fills its own queue and is dropped; the server and the other
/// clients go on as if nothing happened.
#[test]
fn a_client_that_stops_reading_is_dropped_without_slowing_others() {
    use std::io::Read;
    use tungstenite::client::IntoClientRequest;

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_unlimited(dir.path());
    let poster = server.user("poster");
    let fast = server.user("fast");
    let slow = server.user("slow");

    // The slow client: a tiny receive buffer, subscribed to public posts, never reading.
    let addr: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: std::net::TcpStream = socket.into();
    let url = format!("ws://{addr}/api/v1/streaming?stream=public&access_token={}", slow.token.as_deref().unwrap());
    let (mut slow_ws, _) =
        tungstenite::client(url.into_client_request().unwrap(), stream.try_clone().unwrap()).unwrap();

    let fast_events = fast.sse("/api/v1/streaming/public");
    let text = "x".repeat(480);
    let mut posted = Vec::new();
    // Enough posts to fill the kernel's buffers and the slow client's queue many times over.
    for _batch in 0..20 {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let api = poster.clone();
                let text = text.clone();
                std::thread::spawn(move || (0..50).map(|_| api.status(&text)).collect::<Vec<_>>())
            })
            .collect();
        for h in handles {
            posted.extend(h.join().unwrap());
        }
    }
    // The fast client heard every post, in order.
    let mut heard = Vec::new();
    while heard.len() < posted.len() {
        let e = fast_events.next();
        if e.event == "update" {
            heard.push(e.json()["id"].as_str().unwrap().to_string());
        }
    }
    posted.sort();
    let mut sorted = heard.clone();
    sorted.sort();
    assert_eq!(sorted, posted, "the fast client missed nothing");
    assert_eq!(heard, sorted, "and heard it in order");

    // The slow client now reads: what was queued, then the server's goodbye.
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let mut updates = 0;
    let close = loop {
        match slow_ws.read() {
            Ok(tungstenite::Message::Text(_)) => updates += 1,
            Ok(tungstenite::Message::Close(frame)) => break frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(_) => break None,
        }
    };
    eprintln!("the slow client read {updates} of {} posts before it was dropped", posted.len());
    assert!(updates < posted.len(), "the slow client was dropped before the end ({updates} of {})", posted.len());
    assert!(matches!(close, Some(1013) | None), "closed as too slow (or cut off): {close:?}");
    let mut rest = Vec::new();
    let _ = (&stream).read_to_end(&mut rest);
    assert_eq!(server.anon().http.get(format!("{}/healthz", server.base)).send().unwrap().status(), 200);
}
