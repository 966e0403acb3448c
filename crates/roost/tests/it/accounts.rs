//! Accounts, sign-in and the instance metadata.

use serde_json::json;

use roost_testkit::{Server, PASSWORD};

#[test]
fn sign_in_profiles_and_instance_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());

    // The first account is the owner; the next ones are members unless a role is given.
    let (ok, owner_id, _) =
        server.admin_create_user("Alice", PASSWORD, &["--email", "alice@example.org", "--display-name", "Alice A."]);
    assert!(ok);
    let (ok, _, _) = server.admin_create_user("mod", PASSWORD, &["--role", "moderator"]);
    assert!(ok);
    let (ok, _, err) = server.admin_create_user("alice", PASSWORD, &[]);
    assert!(!ok && err.contains("already been taken"), "{err}");
    let (ok, _, err) = server.admin_create_user("bad name", PASSWORD, &[]);
    assert!(!ok && err.contains("Username"), "{err}");
    let (ok, _, err) = server.admin_create_user("shorty", "short", &[]);
    assert!(!ok && err.contains("Password"), "{err}");

    // Password grant with username (any case) or email, form or JSON.
    let token = server.token("alice", PASSWORD).expect("username sign-in");
    assert!(server.token("ALICE@example.org", PASSWORD).is_some(), "email sign-in");
    assert!(server.token("alice", "wrong password").is_none());
    let (client_id, client_secret) = server.app();
    let anon = server.anon();
    let r = anon.post_json(
        "/oauth/token",
        &json!({"grant_type": "password", "client_id": client_id, "client_secret": client_secret, "username": "alice", "password": "nope"}),
    );
    assert_eq!((r.status, r.json["error"].as_str()), (400, Some("invalid_grant")));
    let r = anon.post_json(
        "/oauth/token",
        &json!({"grant_type": "password", "client_id": client_id, "client_secret": "wrong", "username": "alice", "password": PASSWORD}),
    );
    assert_eq!((r.status, r.json["error"].as_str()), (401, Some("invalid_client")));
    let r = anon.post_json(
        "/oauth/token",
        &json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}),
    );
    assert_eq!(r.status, 200);
    let app_token = r.json["access_token"].as_str().unwrap().to_string();

    let mut alice = server.anon();
    alice.token = Some(token);
    let me = alice.get("/api/v1/accounts/verify_credentials");
    assert_eq!(me.status, 200);
    assert_eq!(me.json["id"], owner_id.trim());
    assert_eq!(me.json["username"], "Alice");
    assert_eq!(me.json["display_name"], "Alice A.");
    assert_eq!(me.json["role"]["name"], "owner");
    assert_eq!(me.json["source"]["privacy"], "public");

    // An app token is valid for the app but is not a user.
    let mut app = server.anon();
    app.token = Some(app_token);
    assert_eq!(app.get("/api/v1/apps/verify_credentials").json["name"], "roost tests");
    assert_eq!(app.get("/api/v1/accounts/verify_credentials").status, 422);

    // Profile edits: text is stored as written and rendered escaped.
    let r = alice.patch_form(
        "/api/v1/accounts/update_credentials",
        &[("display_name", "Alice <b>"), ("note", "I like <script>alert(1)</script> and #rust"), ("locked", "true")],
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["display_name"], "Alice <b>");
    let note = r.json["note"].as_str().unwrap();
    assert!(note.contains("&lt;script&gt;") && !note.contains("<script>"), "{note}");
    assert!(note.contains("class=\"mention hashtag\""), "{note}");
    assert_eq!(r.json["source"]["note"], "I like <script>alert(1)</script> and #rust");
    assert_eq!(r.json["locked"], true);
    let too_long = "x".repeat(31);
    assert_eq!(alice.patch_form("/api/v1/accounts/update_credentials", &[("display_name", &too_long)]).status, 422);

    let bob = server.user("bob");
    let id = owner_id.trim();
    let r = bob.get(&format!("/api/v1/accounts/{id}"));
    assert_eq!((r.status, r.json["username"].as_str()), (200, Some("Alice")));
    assert_eq!(bob.get("/api/v1/accounts/lookup?acct=alice").json["id"], id);
    let domain = server.base.trim_start_matches("http://").to_string();
    assert_eq!(bob.get(&format!("/api/v1/accounts/lookup?acct=alice@{domain}")).json["id"], id);
    assert_eq!(bob.get("/api/v1/accounts/lookup?acct=alice@elsewhere.example").status, 404);
    assert_eq!(bob.get("/api/v1/accounts/lookup?acct=nobody").status, 404);
    assert_eq!(bob.get("/api/v1/accounts/123456789").status, 404);
    assert_eq!(bob.get("/api/v1/accounts/not-an-id").status, 404);

    // Revoking a token ends it.
    let (cid, cs) = server.app();
    let t = bob.token.clone().unwrap();
    assert_eq!(
        anon.post_form("/oauth/revoke", &[("client_id", &cid), ("client_secret", &cs), ("token", &t)]).status,
        200
    );
    assert_eq!(bob.get("/api/v1/accounts/verify_credentials").status, 401);

    // Instance metadata is public and says which Mastodon API it speaks.
    let v1 = anon.get("/api/v1/instance");
    assert_eq!(v1.status, 200);
    let version = v1.json["version"].as_str().unwrap();
    assert!(version.starts_with("4.3.0 (compatible; Roost "), "{version}");
    assert_eq!(v1.json["stats"]["user_count"], 3);
    assert_eq!(v1.json["configuration"]["statuses"]["max_characters"], 500);
    let v2 = anon.get("/api/v2/instance");
    assert_eq!(v2.json["version"], version);
    assert_eq!(v2.json["api_versions"]["mastodon"], 1);
    let links = anon.get("/.well-known/nodeinfo");
    let href = links.json["links"][0]["href"].as_str().unwrap().to_string();
    let ni = anon.get(&href);
    assert_eq!(ni.json["version"], "2.0");
    assert_eq!(ni.json["metadata"]["upstream"]["name"], "mastodon");
    assert_eq!(anon.get("/avatars/original/missing.png").status, 200);
}

#[test]
fn discovery_host_meta_and_webfinger() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let anon = server.anon();
    let host_meta = anon.http.get(format!("{}/.well-known/host-meta", server.base)).send().unwrap();
    assert_eq!(host_meta.status(), 200);
    assert!(host_meta.text().unwrap().contains("/.well-known/webfinger?resource={uri}"));

    // Private by default: WebFinger says nothing to strangers, not even whether a name exists.
    assert_eq!(anon.get("/.well-known/webfinger?resource=acct:alice").status, 401);
    assert_eq!(anon.get("/.well-known/webfinger?resource=acct:nobody").status, 401);
    let domain = server.base.trim_start_matches("http://");
    let r = alice.get(&format!("/.well-known/webfinger?resource=acct:alice@{domain}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json["subject"], format!("acct:alice@{domain}"));
    assert_eq!(r.json["links"][0]["href"], format!("{}/@alice", server.base));
    assert_eq!(alice.get("/.well-known/webfinger?resource=acct:nobody").status, 404);
    assert_eq!(alice.get("/.well-known/webfinger?resource=acct:alice@elsewhere.example").status, 404);
    assert_eq!(alice.get("/.well-known/webfinger").status, 400);
}
