//! Attribution end to end: every command names who asked and through what, and an admin reads
//! it at `GET /api/roost/v1/admin/log` (scope `admin:read`); nobody else can.

use serde_json::Value;

use roost_testkit::{Api, Browser, Server, PASSWORD};

/// A token for `username` with `scope`, from a fresh app that may ask for the admin scopes.
pub(crate) fn admin_token(server: &Server, username: &str, scope: &str) -> Api {
    let anon = server.anon();
    let app = anon.post_form(
        "/api/v1/apps",
        &[
            ("client_name", "admin tool"),
            ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
            ("scopes", "read write admin:read admin:write"),
        ],
    );
    assert_eq!(app.status, 200, "{:?}", app.json);
    let (id, secret) = (app.json["client_id"].as_str().unwrap(), app.json["client_secret"].as_str().unwrap());
    let r = anon.post_form(
        "/oauth/token",
        &[
            ("grant_type", "password"),
            ("client_id", id),
            ("client_secret", secret),
            ("username", username),
            ("password", PASSWORD),
            ("scope", scope),
        ],
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    Api { token: Some(r.json["access_token"].as_str().unwrap().into()), ..anon }
}

/// The logged commands named `command`, newest first.
fn named<'a>(page: &'a Value, command: &str) -> Vec<&'a Value> {
    page.as_array().unwrap().iter().filter(|e| e["command"] == command).collect()
}

#[test]
fn an_admin_sees_who_did_what_and_through_what() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let _owner = server.user("alice");
    let bob = server.user("bob");

    // Bob posts through an app, then through the web app.
    let id = bob.status("through an app");
    let status = bob.get(&format!("/api/v1/statuses/{id}"));
    assert_eq!(status.json["application"]["name"], "roost tests", "a post names the app it came through");
    let mut web = Browser::new(&server);
    assert_eq!(web.sign_in("bob", PASSWORD), 303);
    let csrf = roost_testkit::hidden(&web.get("/").1, "csrf");
    assert_eq!(web.post("/web/statuses", &[("csrf", &csrf), ("status", "through the web")]).0, 303);

    let admin = admin_token(&server, "alice", "admin:read");
    let log = admin.get("/api/roost/v1/admin/log?limit=200");
    assert_eq!(log.status, 200, "{:?}", log.json);
    let posts = named(&log.json, "CreateStatus");
    assert_eq!(posts.len(), 2, "{:?}", log.json);
    let (on_web, on_app) = (posts[0], posts[1]);
    assert_eq!((on_web["account"]["username"].as_str(), on_web["via"]["kind"].as_str()), (Some("bob"), Some("web")));
    assert_eq!(on_app["account"]["id"].as_str(), Some(bob.id.as_str()));
    assert_eq!(on_app["via"]["kind"], "app");
    assert_eq!(on_app["via"]["name"], "roost tests");
    assert_eq!(on_app["via"]["client_id"].as_str(), Some(server.app().0.as_str()));
    // Accounts made with `roost admin create-user` name the admin socket and nobody.
    let accounts = named(&log.json, "AddAccount");
    assert_eq!(accounts.len(), 2);
    assert!(accounts.iter().all(|a| a["via"]["kind"] == "admin-socket" && a["account"].is_null()), "{accounts:?}");
    // Newest first, each once, and the times are the log's.
    let ids: Vec<u64> =
        log.json.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    assert!(on_web["created_at"].as_str().unwrap() >= on_app["created_at"].as_str().unwrap());

    // Pages follow `Link: next` without repeats or gaps (from where the first read started:
    // reading records the token's use, a newer command).
    let mut paged = Vec::new();
    let mut next = Some(format!("/api/roost/v1/admin/log?limit=3&max_id={}", ids[0] + 1));
    while let Some(url) = next {
        let page = admin.get(&url);
        assert_eq!(page.status, 200);
        if page.ids().is_empty() {
            break;
        }
        paged.extend(page.ids());
        next = page.link("next");
    }
    let all: Vec<String> = ids.iter().map(u64::to_string).collect();
    assert_eq!(paged, all);

    // A member may not read it, even with the scope; a token without the scope is refused.
    let member = admin_token(&server, "bob", "admin:read");
    assert_eq!(member.get("/api/roost/v1/admin/log").status, 404);
    let unscoped = admin_token(&server, "alice", "read");
    assert_eq!(unscoped.get("/api/roost/v1/admin/log").status, 403);
    assert_eq!(server.anon().get("/api/roost/v1/admin/log").status, 401);
    assert_eq!(admin.get("/api/roost/v1/admin/log?limit=x").status, 400);
}
