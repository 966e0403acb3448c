//! The web app over real HTTP (the browser suite comes with the rest of the web app): sessions,
//! CSRF, the home page, posting and acting through forms, and the headers every page carries.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use roost_testkit::{hidden, Browser, Server, PASSWORD};

#[test]
fn sign_in_post_act_and_sign_out_without_javascript() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let bob = server.user("bob");
    server.create_user("alice");
    let mut alice = Browser::new(&server);

    // Signed out, home sends you to sign in; the page is locked down.
    let (status, _, headers) = alice.get("/");
    assert_eq!((status, headers[LOCATION].to_str().unwrap()), (303, "/auth/sign_in"));
    let (status, page, headers) = alice.get("/auth/sign_in");
    assert_eq!(status, 200);
    assert!(headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert!(!headers["content-security-policy"].to_str().unwrap().contains("unsafe-inline"));
    assert_eq!(headers["x-frame-options"], "DENY");
    let stylesheet = page.split("href=\"/assets/").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(stylesheet.starts_with("roost-") && stylesheet.ends_with(".css"));
    let css = alice.http.get(format!("{}/assets/{stylesheet}", server.base)).send().unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(alice.get("/assets/roost-0000.css").0, 404);

    // A forged sign-in (no CSRF token) and a wrong password both fail, and make no session.
    assert_eq!(alice.post("/auth/sign_in", &[("username", "alice"), ("password", PASSWORD)]).0, 403);
    assert_eq!(alice.sign_in("alice", "wrong password"), 401);
    assert!(!alice.cookies.iter().any(|(k, _)| k == "roost_session"));
    assert_eq!(alice.sign_in("alice", PASSWORD), 303);
    let session = alice.cookies.iter().find(|(k, _)| k == "roost_session").expect("a session cookie").clone();

    // The session cookie is HttpOnly and SameSite=Lax.
    let mut probe = Browser::new(&server);
    let (_, page, _) = probe.get("/auth/sign_in");
    let resp = probe
        .http
        .post(format!("{}/auth/sign_in", server.base))
        .header(COOKIE, probe.cookie_header())
        .form(&[("csrf", hidden(&page, "csrf").as_str()), ("username", "alice"), ("password", PASSWORD)])
        .send()
        .unwrap();
    let set = resp.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>();
    let cookie = set.iter().find(|c| c.starts_with("roost_session=")).unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");

    // Home: the composer; a post made through it, escaped, reaches a follower through the API.
    let alice_id = bob.get("/api/v1/accounts/lookup?acct=alice").json["id"].as_str().unwrap().to_string();
    bob.post(&format!("/api/v1/accounts/{alice_id}/follow"));
    let (status, page, _) = alice.get("/");
    assert_eq!(status, 200);
    let csrf = hidden(&page, "csrf");
    // Bob's follow is an unread notification: the badge says so until she marks it read.
    assert!(page.contains("aria-label=\"1 unread\""), "the badge counts it");
    let (status, page, _) = alice.get("/notifications");
    assert_eq!(status, 200);
    assert!(page.contains("followed you"));
    let newest = hidden(&page, "last_read_id");
    assert_eq!(alice.post("/web/notifications/read", &[("last_read_id", &newest)]).0, 403, "no CSRF token");
    assert_eq!(alice.post("/web/notifications/read", &[("csrf", &csrf), ("last_read_id", &newest)]).0, 303);
    let (_, page, _) = alice.get("/");
    assert!(page.contains("aria-label=\"0 unread\"") && !alice.get("/notifications").1.contains("Mark all as read"));
    assert_eq!(alice.post("/web/statuses", &[("status", "hello <script>alert(1)</script>")]).0, 403, "no CSRF token");
    assert_eq!(alice.post("/web/statuses", &[("csrf", &csrf), ("status", "hello <script>alert(1)</script>")]).0, 303);
    let home = bob.get("/api/v1/timelines/home");
    assert_eq!(home.json[0]["content"], "<p>hello &lt;script&gt;alert(1)&lt;/script&gt;</p>");
    let post = home.json[0]["id"].as_str().unwrap().to_string();
    let (_, page, _) = alice.get("/");
    assert!(page.contains("hello &lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains("<script>alert"));
    let (status, page, _) = alice.post("/web/statuses", &[("csrf", &csrf), ("status", "   ")]);
    assert_eq!(status, 422);
    assert!(page.contains("can&#39;t be blank") || page.contains("can't be blank"), "the error is on the page");

    // Acting on a post through its form (alice follows bob, through an app of hers).
    let alice_api = roost_testkit::Api { token: server.token("alice", PASSWORD), ..bob.clone() };
    alice_api.post(&format!("/api/v1/accounts/{}/follow", bob.id));
    let bob_post = bob.status("from bob");
    let (_, page, _) = alice.get("/");
    assert!(page.contains("from bob"));
    assert_eq!(alice.post(&format!("/web/statuses/{bob_post}/favourite"), &[("csrf", &csrf)]).0, 303);
    assert_eq!(bob.get(&format!("/api/v1/statuses/{bob_post}")).json["favourites_count"], 1);
    assert_eq!(alice.post(&format!("/web/statuses/{bob_post}/favourite"), &[("csrf", "forged")]).0, 403);
    assert_eq!(alice.post(&format!("/web/statuses/{bob_post}/delete"), &[("csrf", &csrf)]).0, 403, "not hers");
    assert_eq!(alice.post(&format!("/web/statuses/{post}/delete"), &[("csrf", &csrf)]).0, 303);
    assert_eq!(bob.get(&format!("/api/v1/statuses/{post}")).status, 404);

    // A post's page shows its thread; a profile shows its posts and a follow form.
    let reply = bob.status_with(&[("status", "a reply to myself"), ("in_reply_to_id", &bob_post)]);
    let (status, page, _) = alice.get(&format!("/@bob/{bob_post}"));
    assert_eq!(status, 200);
    assert!(page.contains("from bob") && page.contains("a reply to myself"));
    assert_eq!(alice.get(&format!("/@alice/{bob_post}")).0, 404, "the URL names the author");
    assert_eq!(alice.get(&format!("/@bob/{reply}")).0, 200);
    let (status, page, _) = alice.get("/@bob");
    assert_eq!(status, 200);
    assert!(page.contains("from bob") && page.contains("Unfollow"));
    assert_eq!(alice.post(&format!("/web/accounts/{}/unfollow", bob.id), &[("csrf", &csrf), ("back", "/@bob")]).0, 303);
    assert!(alice.get("/@bob").1.contains(">Follow<"));
    assert_eq!(alice.get("/@nobody").0, 404);

    // Signing out ends the session on the server, not just in the browser.
    assert_eq!(alice.post("/auth/sign_out", &[("csrf", &csrf)]).0, 303);
    let mut replay = Browser::new(&server);
    replay.cookies.push(session);
    assert_eq!(replay.get("/").0, 303, "the old cookie no longer signs anyone in");
}

#[test]
fn invites_settings_sessions_and_admin_without_javascript() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server.create_user("alice"); // the owner

    // `roost admin invite` prints a link; bad flags are refused before anything is made.
    let (ok, _, err) = server.admin_invite(&["--role", "owner"]);
    assert!(!ok && err.contains("admin, moderator or member"), "{err}");
    let (ok, _, err) = server.admin_invite(&["--expires", "soon"]);
    assert!(!ok && err.contains("30m, 12h or 7d"), "{err}");
    let (ok, link, err) = server.admin_invite(&["--max-uses", "1", "--role", "moderator", "--expires", "7d"]);
    assert!(ok, "{err}");
    let path = link.trim().strip_prefix(&server.base).unwrap().to_string();

    // Signing up: a bad username comes back with the reason and the form filled; then it works
    // and signs the new member in, with the invite's role.
    let mut mia = Browser::new(&server);
    let (status, page, _) = mia.get(&path);
    assert_eq!(status, 200);
    let csrf = hidden(&page, "csrf");
    assert_eq!(mia.post(&path, &[("username", "mia"), ("password", PASSWORD)]).0, 403, "no CSRF token");
    let (status, page, _) =
        mia.post(&path, &[("csrf", &csrf), ("username", "no spaces"), ("display_name", "Mia"), ("password", PASSWORD)]);
    assert_eq!(status, 422);
    assert!(page.contains("Username must be") && page.contains("value=\"Mia\""));
    let (status, _, headers) = mia.post(&path, &[("csrf", &csrf), ("username", "mia"), ("password", PASSWORD)]);
    assert_eq!((status, headers[LOCATION].to_str().unwrap()), (303, "/"));
    let (status, page, _) = mia.get("/admin");
    assert_eq!(status, 200, "the invite made a moderator");
    assert!(page.contains("Reports") && !page.contains("Create invite link"), "moderators do not invite");
    let mut late = Browser::new(&server);
    assert_eq!(late.get(&path).0, 404, "a one-use invite is spent");

    // Settings: profile and preferences through forms; the API sees both.
    let (_, page, _) = mia.get("/settings");
    let csrf = hidden(&page, "csrf");
    let form = [("csrf", csrf.as_str()), ("display_name", "Mia M"), ("note", "<b>hi</b>")];
    assert_eq!(mia.post("/settings/profile", &form).0, 303);
    let long = "x".repeat(31);
    let (status, page, _) = mia.post("/settings/profile", &[("csrf", &csrf), ("display_name", &long)]);
    assert_eq!(status, 422);
    assert!(page.contains("Display name is too long"));
    assert_eq!(mia.post("/settings/preferences", &[("csrf", &csrf), ("default_visibility", "private")]).0, 303);
    let zed_api = server.user("zed");
    let mia_api = roost_testkit::Api { token: server.token("mia", PASSWORD), ..zed_api.clone() };
    let me = mia_api.get("/api/v1/accounts/verify_credentials");
    assert_eq!(
        (me.json["display_name"].as_str(), me.json["source"]["privacy"].as_str()),
        (Some("Mia M"), Some("private"))
    );
    mia_api.status("default visibility");
    let posted = mia_api.get(&format!("/api/v1/accounts/{}/statuses", me.json["id"].as_str().unwrap()));
    assert_eq!(posted.json[0]["visibility"], "private", "a post without a visibility takes the member's default");
    assert!(mia.get("/@mia").1.contains("&lt;b&gt;hi&lt;/b&gt;"), "the bio is escaped");

    // Password: the current one is required; the new one signs in.
    let (status, page, _) = mia.post(
        "/settings/password",
        &[("csrf", &csrf), ("current_password", "wrong one"), ("new_password", "a new password")],
    );
    assert_eq!(status, 422);
    assert!(page.contains("current password is not right"));
    let form = [("csrf", csrf.as_str()), ("current_password", PASSWORD), ("new_password", "a new password")];
    assert_eq!(mia.post("/settings/password", &form).0, 303);
    assert_eq!(mia.get("/settings").0, 200, "the session that changed it stays");
    assert_eq!(mia_api.get("/api/v1/accounts/verify_credentials").status, 401, "every other token ends");
    assert!(server.token("mia", PASSWORD).is_none() && server.token("mia", "a new password").is_some());

    // Sessions: a second browser's session is listed and revoked from the first.
    let mut other = Browser::new(&server);
    assert_eq!(other.sign_in("mia", "a new password"), 303);
    let (_, page, _) = mia.get("/settings");
    let tokens: Vec<String> = page.split("name=\"token\" value=\"").skip(1).map(|s| s[..64].to_string()).collect();
    assert!(tokens.len() >= 3, "two browsers and the API token: {tokens:?}");
    assert!(page.contains("this session"));
    assert_eq!(mia.post("/settings/revoke", &[("csrf", &csrf), ("token", &"0".repeat(64))]).0, 404, "not hers");
    for t in &tokens {
        let (status, _, headers) = mia.post("/settings/revoke", &[("csrf", &csrf), ("token", t)]);
        assert_eq!(status, 303);
        if headers[LOCATION] == "/auth/sign_in" {
            break; // that was this session: signed out
        }
    }
    assert_eq!(other.get("/").0, 303, "the revoked session is signed out");
    assert_eq!(mia.get("/").0, 303);

    // Admin: only staff see it; the owner suspends and reinstates; roles follow rank.
    let mut zed = Browser::new(&server);
    assert_eq!(zed.sign_in("zed", PASSWORD), 303);
    assert_eq!(zed.get("/admin").0, 404, "members have no admin page");
    let mut alice = Browser::new(&server);
    assert_eq!(alice.sign_in("alice", PASSWORD), 303);
    let (status, page, _) = alice.get("/admin");
    assert_eq!(status, 200);
    let csrf = hidden(&page, "csrf");
    let zed_id = zed_api.get("/api/v1/accounts/lookup?acct=zed").json["id"].as_str().unwrap().to_string();
    assert_eq!(alice.post("/admin/suspend", &[("id", &zed_id)]).0, 403, "no CSRF token");
    assert_eq!(alice.post("/admin/suspend", &[("csrf", &csrf), ("id", &zed_id)]).0, 303);
    assert_eq!(zed.get("/").0, 303, "a suspension ends the member's sessions");
    assert_eq!(zed.sign_in("zed", PASSWORD), 403, "and refuses new ones");
    assert!(server.token("zed", PASSWORD).is_none());
    assert_eq!(alice.post("/admin/unsuspend", &[("csrf", &csrf), ("id", &zed_id)]).0, 303);
    assert_eq!(zed.sign_in("zed", PASSWORD), 303);
    assert_eq!(alice.post("/admin/role", &[("csrf", &csrf), ("id", &zed_id), ("role", "admin")]).0, 303);
    let (status, page, _) = alice.post("/admin/role", &[("csrf", &csrf), ("id", &zed_id), ("role", "owner")]);
    assert_eq!(status, 403, "{page}");

    // An admin's invite from the page: the link is shown once, and works.
    let (status, page, _) =
        alice.post("/admin/invite", &[("csrf", &csrf), ("role", "member"), ("max_uses", "1"), ("expires", "3600")]);
    assert_eq!(status, 200);
    let link = page.split("id=\"invite-link\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    let path = link.strip_prefix(&server.base).unwrap();
    assert_eq!(Browser::new(&server).get(path).0, 200);
}

#[test]
fn session_cookies_are_secure_behind_https() {
    let dir = tempfile::tempdir().unwrap();
    // Served over TLS by a proxy in front: the public URL says https.
    let server = Server::start_with(dir.path(), &["--public-url", "https://roost.example"], &[]);
    server.create_user("alice");
    let mut b = Browser::new(&server);
    let (_, page, headers) = b.get("/auth/sign_in");
    let set = headers[SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("roost_sign_in=") && set.contains("Secure") && set.contains("HttpOnly"), "{set}");
    let resp = b
        .http
        .post(format!("{}/auth/sign_in", server.base))
        .header(COOKIE, b.cookie_header())
        .form(&[("csrf", hidden(&page, "csrf").as_str()), ("username", "alice"), ("password", PASSWORD)])
        .send()
        .unwrap();
    let session = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("roost_session="))
        .expect("a session cookie");
    assert!(session.contains("Secure") && session.contains("SameSite=Lax"), "{session}");
}
