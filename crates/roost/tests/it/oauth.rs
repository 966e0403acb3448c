//! OAuth as browser-based clients use it (authorization code with PKCE through the consent
//! page), and scopes enforced on every endpoint.

use reqwest::blocking::Client;
use reqwest::redirect::Policy;
use serde_json::Value;

use roost_testkit::{Server, PASSWORD};

const CALLBACK: &str = "http://127.0.0.1:9/callback?from=app";
const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";
// RFC 7636, appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A browser that does not follow redirects, so that the test sees where it is sent.
fn browser() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_encoding::percent_decode_str(v).decode_utf8().unwrap().into_owned())
    })
}

#[test]
fn authorization_code_with_pkce_through_the_consent_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let anon = server.anon();
    let b = browser();
    let base = &server.base;

    let meta = anon.get("/.well-known/oauth-authorization-server").json;
    assert_eq!(meta["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(meta["authorization_endpoint"], format!("{base}/oauth/authorize"));

    let app = anon.post_form(
        "/api/v1/apps",
        &[
            ("client_name", "Pixel <b>Client</b>"),
            ("redirect_uris", &format!("{CALLBACK}\n{OOB}")),
            ("scopes", "read write"),
        ],
    );
    let (client_id, client_secret) =
        (app.json["client_id"].as_str().unwrap().to_string(), app.json["client_secret"].as_str().unwrap().to_string());
    let authorize = |extra: &[(&str, &str)]| {
        let mut q = vec![
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", CALLBACK),
            ("scope", "read"),
            ("state", "s t&ate"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        q.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        q.extend_from_slice(extra);
        q.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>()
    };

    // The consent page names the app (escaped) and the scopes, and runs no script.
    let page = b.get(format!("{base}/oauth/authorize")).query(&authorize(&[])).send().unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().unwrap();
    assert!(!html.contains("<script"), "the consent page runs no script: {html}");
    assert!(html.contains("Pixel &lt;b&gt;Client&lt;/b&gt;") && !html.contains("<b>Client"), "{html}");
    assert!(html.contains(r#"name="code_challenge" value="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM""#));

    // A wrong password shows the page again; nothing is issued.
    let mut form = authorize(&[]);
    form.extend([("username".into(), "alice".into()), ("password".into(), "wrong".into())]);
    form.push(("decision".into(), "approve".into()));
    let wrong = b.post(format!("{base}/oauth/authorize")).form(&form).send().unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().unwrap().contains("Wrong username"));

    // Denying (no sign-in needed) does not send the browser anywhere by itself: a page says so,
    // with a link back to the app carrying access_denied and the state.
    let deny: Vec<(String, String)> = authorize(&[]).into_iter().chain([("decision".into(), "deny".into())]).collect();
    let denied = b.post(format!("{base}/oauth/authorize")).form(&deny).send().unwrap();
    assert_eq!(denied.status(), 200);
    assert!(denied.headers().get("location").is_none());
    let page = denied.text().unwrap();
    assert!(page.contains("You denied the request"));
    let start = page.find("href=\"http://127.0.0.1:9/callback").expect("a link back to the app") + 6;
    let location = page[start..start + page[start..].find('"').unwrap()].replace("&amp;", "&");
    assert!(location.starts_with("http://127.0.0.1:9/callback?from=app&"), "{location}");
    assert_eq!(query_param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&location, "state").as_deref(), Some("s t&ate"));

    // Approving with the right password redirects with a code and the state.
    let mut form = authorize(&[]);
    form.extend([
        ("username".into(), "alice".into()),
        ("password".into(), PASSWORD.into()),
        ("decision".into(), "approve".into()),
    ]);
    let approved = b.post(format!("{base}/oauth/authorize")).form(&form).send().unwrap();
    assert_eq!(approved.status(), 302);
    let location = approved.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(query_param(&location, "state").as_deref(), Some("s t&ate"));
    let code = query_param(&location, "code").unwrap();

    // The code needs the verifier that matches the challenge; a public client sends no secret.
    let exchange = |verifier: Option<&str>, redirect: &str| {
        let mut f = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect),
        ];
        if let Some(v) = verifier {
            f.push(("code_verifier", v));
        }
        anon.post_form("/oauth/token", &f)
    };
    assert_eq!(exchange(None, CALLBACK).json["error"], "invalid_grant");
    assert_eq!(exchange(Some("not-the-verifier"), CALLBACK).json["error"], "invalid_grant");
    assert_eq!(exchange(Some(VERIFIER), OOB).json["error"], "invalid_grant", "another redirect URI");
    let token = exchange(Some(VERIFIER), CALLBACK);
    assert_eq!(token.status, 200, "{:?}", token.json);
    assert_eq!(token.json["scope"], "read");
    let again = exchange(Some(VERIFIER), CALLBACK);
    assert_eq!((again.status, again.json["error"].as_str()), (400, Some("invalid_grant")), "a code works once");

    // The token is alice's, limited to the scope she granted.
    let mut app_user = anon.clone();
    app_user.token = Some(token.json["access_token"].as_str().unwrap().to_string());
    assert_eq!(app_user.get("/api/v1/accounts/verify_credentials").json["id"], alice.id.as_str());
    assert_eq!(app_user.get("/api/v1/timelines/home").status, 200);
    assert_eq!(app_user.post_form("/api/v1/statuses", &[("status", "hi")]).status, 403);

    // Out of band: the page shows the code; a confidential client redeems it with its secret.
    let mut form = authorize(&[("redirect_uri", OOB)]);
    form.retain(|(k, _)| !k.starts_with("code_challenge"));
    form.extend([
        ("username".into(), "ALICE".into()),
        ("password".into(), PASSWORD.into()),
        ("decision".into(), "approve".into()),
    ]);
    let shown = b.post(format!("{base}/oauth/authorize")).form(&form).send().unwrap();
    assert_eq!(shown.status(), 200);
    let oob_code = extract_code(&shown.text().unwrap());
    let redeem = |secret: &str| {
        anon.post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &oob_code),
                ("client_id", &client_id),
                ("client_secret", secret),
                ("redirect_uri", OOB),
            ],
        )
    };
    assert_eq!(redeem("wrong").status, 401, "a wrong secret is an invalid client");
    let t = redeem(&client_secret);
    assert_eq!(t.status, 200, "{:?}", t.json);
    // Without PKCE, a client must authenticate.
    let t = anon.post_form(
        "/oauth/token",
        &[("grant_type", "authorization_code"), ("code", "whatever"), ("client_id", &client_id), ("redirect_uri", OOB)],
    );
    assert_eq!(t.status, 400, "an unknown code is an invalid grant: {:?}", t.json);
}

fn extract_code(html: &str) -> String {
    let start = html.find(r#"<code id="code">"#).expect("the page shows the code") + r#"<code id="code">"#.len();
    let end = start + html[start..].find("</code>").unwrap();
    html[start..end].to_string()
}

#[test]
fn bad_authorization_requests_are_refused_without_trusting_the_redirect() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let anon = server.anon();
    let b = browser();
    let app =
        anon.post_form("/api/v1/apps", &[("client_name", "app"), ("redirect_uris", CALLBACK), ("scopes", "read")]);
    let client_id = app.json["client_id"].as_str().unwrap().to_string();
    let get = |q: &[(&str, &str)]| b.get(format!("{}/oauth/authorize", server.base)).query(q).send().unwrap();

    // Unknown client or unregistered redirect URI: an error page, no redirect.
    let r = get(&[("response_type", "code"), ("client_id", "nope"), ("redirect_uri", CALLBACK)]);
    assert_eq!(r.status(), 400);
    let r = get(&[("response_type", "code"), ("client_id", &client_id), ("redirect_uri", "http://evil.example/")]);
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());

    // Anything else wrong is shown on a page too: until the member has signed in and chosen,
    // no request sends the browser to the app (or Roost's address would redirect anywhere).
    for (q, says) in [
        (vec![("response_type", "token")], "Only the authorization code flow"),
        (vec![("response_type", "code"), ("scope", "write")], "not registered for this application"),
        (vec![("response_type", "code"), ("code_challenge", "abc"), ("code_challenge_method", "plain")], "S256"),
    ] {
        let mut q = q.clone();
        q.extend([("client_id", client_id.as_str()), ("redirect_uri", CALLBACK)]);
        let r = get(&q);
        assert_eq!(r.status(), 400, "{q:?}");
        assert!(r.headers().get("location").is_none(), "{q:?}");
        assert!(r.text().unwrap().contains(says), "{q:?}");
    }

    // A redirect URI that could not be a Location header is refused when the app registers.
    for bad in
        ["http://127.0.0.1:9/cb\r\nSet-Cookie: a=b", "http://127.0.0.1:9/\tcb", "javascript:alert(1)", "http://x/#f"]
    {
        let r = anon.post_form("/api/v1/apps", &[("client_name", "app"), ("redirect_uris", bad)]);
        assert_eq!(r.status, 422, "{bad:?}: {:?}", r.json);
    }
    // And app fields are small: nobody fills the log through this unauthenticated endpoint.
    let long_name = "n".repeat(61);
    assert_eq!(anon.post_form("/api/v1/apps", &[("client_name", &long_name), ("redirect_uris", CALLBACK)]).status, 422);
    let many = [CALLBACK; 6].join("\n");
    assert_eq!(anon.post_form("/api/v1/apps", &[("client_name", "a"), ("redirect_uris", &many)]).status, 422);
    let site = format!("https://example.org/{}", "w".repeat(300));
    let r = anon.post_form("/api/v1/apps", &[("client_name", "a"), ("redirect_uris", CALLBACK), ("website", &site)]);
    assert_eq!(r.status, 422);
}

/// Every endpoint that takes a token: without one → 401; with a token lacking the scope → 403;
/// with the scope → neither.
#[test]
fn every_endpoint_needs_a_token_with_its_scope() {
    let dir = tempfile::tempdir().unwrap();
    // This test signs in hundreds of times from one address.
    let server = Server::start_unlimited(dir.path());
    server.create_user("alice");
    let bob = server.user("bob");
    let post = bob.status("a post");
    let app = server.anon().post_form(
        "/api/v1/apps",
        &[
            ("client_name", "scopes"),
            ("redirect_uris", OOB),
            ("scopes", "read write follow push profile admin:read admin:write"),
        ],
    );
    let (client_id, client_secret) =
        (app.json["client_id"].as_str().unwrap().to_string(), app.json["client_secret"].as_str().unwrap().to_string());
    // One token per scope: an account holds a bounded number of tokens (the least recently
    // used are revoked beyond it), so the test does not mint one per request.
    let tokens = std::cell::RefCell::new(std::collections::HashMap::<String, String>::new());
    let token_with = |scope: &str| {
        if let Some(t) = tokens.borrow().get(scope) {
            return t.clone();
        }
        let r = server.anon().post_form(
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("client_id", &client_id),
                ("client_secret", &client_secret),
                ("username", "alice"),
                ("password", PASSWORD),
                ("scope", scope),
            ],
        );
        assert_eq!(r.status, 200, "{:?}", r.json);
        let t = r.json["access_token"].as_str().unwrap().to_string();
        tokens.borrow_mut().insert(scope.to_string(), t.clone());
        t
    };
    let push_only = token_with("push");
    let (b, a) = (bob.id.as_str(), post.as_str());
    // (method, path, a scope that grants it, one that does not)
    let endpoints: Vec<(&str, String, &str, &str)> = vec![
        ("GET", "/api/v1/apps/verify_credentials".into(), "push", ""),
        ("GET", "/api/v1/accounts/verify_credentials".into(), "profile", "write"),
        ("PATCH", "/api/v1/accounts/update_credentials".into(), "write:accounts", "read"),
        ("GET", "/api/v1/accounts/lookup?acct=bob".into(), "read:accounts", "write"),
        ("GET", format!("/api/v1/accounts/relationships?id[]={b}"), "follow", "read:accounts"),
        ("GET", format!("/api/v1/accounts/{b}"), "read", "read:statuses"),
        ("GET", format!("/api/v1/accounts/{b}/statuses"), "read:statuses", "read:accounts"),
        ("GET", format!("/api/v1/accounts/{b}/followers"), "read:accounts", "write"),
        ("GET", format!("/api/v1/accounts/{b}/following"), "read:accounts", "write"),
        ("POST", format!("/api/v1/accounts/{b}/follow"), "write:follows", "read"),
        ("POST", format!("/api/v1/accounts/{b}/unfollow"), "follow", "write:statuses"),
        ("POST", format!("/api/v1/accounts/{b}/mute"), "write:mutes", "write:blocks"),
        ("POST", format!("/api/v1/accounts/{b}/unmute"), "write", "read"),
        ("POST", format!("/api/v1/accounts/{b}/block"), "write:blocks", "write:mutes"),
        ("POST", format!("/api/v1/accounts/{b}/unblock"), "follow", "read"),
        ("GET", "/api/v1/follow_requests".into(), "read:follows", "write:follows"),
        ("POST", format!("/api/v1/follow_requests/{b}/authorize"), "write:follows", "read:follows"),
        ("POST", format!("/api/v1/follow_requests/{b}/reject"), "follow", "read"),
        ("GET", "/api/v1/blocks".into(), "read:blocks", "write:blocks"),
        ("GET", "/api/v1/mutes".into(), "read:mutes", "read:blocks"),
        ("GET", format!("/api/v1/statuses/{a}"), "read:statuses", "write:statuses"),
        ("GET", format!("/api/v1/statuses/{a}/context"), "read", "write"),
        ("GET", format!("/api/v1/statuses/{a}/history"), "read:statuses", "write:statuses"),
        ("GET", format!("/api/v1/statuses/{a}/source"), "read", "write"),
        ("PUT", format!("/api/v1/statuses/{a}"), "write:statuses", "read:statuses"),
        ("POST", format!("/api/v1/statuses/{a}/favourite"), "write:favourites", "write:bookmarks"),
        ("POST", format!("/api/v1/statuses/{a}/unfavourite"), "write", "read"),
        ("POST", format!("/api/v1/statuses/{a}/reblog"), "write:statuses", "write:favourites"),
        ("POST", format!("/api/v1/statuses/{a}/unreblog"), "write:statuses", "read"),
        ("POST", format!("/api/v1/statuses/{a}/bookmark"), "write:bookmarks", "write:favourites"),
        ("POST", format!("/api/v1/statuses/{a}/pin"), "write:accounts", "write:statuses"),
        ("POST", format!("/api/v1/statuses/{a}/unpin"), "write", "read"),
        ("GET", format!("/api/v1/statuses/{a}/favourited_by"), "read:accounts", "read:statuses"),
        ("GET", format!("/api/v1/statuses/{a}/reblogged_by"), "read", "write"),
        ("POST", format!("/api/v1/statuses/{a}/unbookmark"), "write:bookmarks", "read:bookmarks"),
        ("GET", format!("/api/v1/polls/{a}"), "read:statuses", "write:statuses"),
        ("POST", "/api/v1/media".into(), "write:media", "write:statuses"),
        ("POST", "/api/v2/media".into(), "write", "read"),
        ("GET", "/api/v1/media/1".into(), "write:media", "read:statuses"),
        ("PUT", "/api/v1/media/1".into(), "write:media", "write:accounts"),
        ("DELETE", "/api/v1/profile/avatar".into(), "write:accounts", "write:media"),
        ("GET", "/api/v1/scheduled_statuses".into(), "read:statuses", "write:statuses"),
        ("GET", "/api/v1/scheduled_statuses/1".into(), "read", "write"),
        ("PUT", "/api/v1/scheduled_statuses/1".into(), "write:statuses", "read:statuses"),
        ("DELETE", "/api/v1/scheduled_statuses/1".into(), "write", "read"),
        ("POST", format!("/api/v1/polls/{a}/votes?choices[]=0"), "write:statuses", "read:statuses"),
        ("GET", "/api/v1/favourites".into(), "read:favourites", "read:bookmarks"),
        ("GET", "/api/v1/bookmarks".into(), "read:bookmarks", "read:favourites"),
        ("GET", "/api/v1/timelines/home".into(), "read:statuses", "write"),
        ("GET", "/api/v1/timelines/public".into(), "read", "write"),
        ("GET", "/api/v1/timelines/tag/rust".into(), "read:statuses", "read:accounts"),
        ("GET", "/api/v1/notifications".into(), "read:notifications", "read:statuses"),
        ("POST", "/api/v1/notifications/clear".into(), "write:notifications", "read:notifications"),
        ("GET", "/api/v1/notifications/1".into(), "read:notifications", "write:notifications"),
        ("POST", "/api/v1/notifications/1/dismiss".into(), "write:notifications", "read:notifications"),
        ("GET", "/api/roost/v1/node".into(), "push", ""),
        ("GET", "/api/roost/v1/admin/log".into(), "admin:read", "read"),
        ("GET", "/api/roost/v1/extensions".into(), "admin:read", "read"),
        ("POST", "/api/roost/v1/extensions".into(), "admin:write", "admin:read"),
        ("GET", "/api/roost/v1/extensions/1".into(), "admin:read", "write"),
        ("POST", "/api/roost/v1/extensions/1/versions".into(), "admin:write", "admin:read"),
        ("GET", "/api/roost/v1/extensions/1/versions/1".into(), "admin:read", "read"),
        ("POST", "/api/roost/v1/extensions/1/deploy".into(), "admin:write", "write"),
        ("POST", "/api/roost/v1/extensions/1/disable".into(), "admin:write", "admin:read"),
        ("POST", "/api/roost/v1/extensions/1/dry_run".into(), "admin:write", "read"),
        ("GET", "/api/roost/v1/moderation/held".into(), "admin:read:reports", "read"),
        ("POST", "/api/roost/v1/moderation/held/1/approve".into(), "admin:write:reports", "admin:read"),
        ("GET", "/api/roost/v1/feeds".into(), "read:lists", "write:lists"),
        ("POST", "/api/roost/v1/feeds".into(), "write:lists", "read:lists"),
        ("GET", "/api/roost/v1/feeds/1".into(), "read", "write"),
        ("POST", "/api/roost/v1/feeds/1/versions".into(), "write:lists", "read:lists"),
        ("POST", "/api/roost/v1/feeds/1/deploy".into(), "write", "read"),
        ("POST", "/api/roost/v1/feeds/1/disable".into(), "write:lists", "admin:write"),
        ("GET", "/api/roost/v1/feeds/1/preview".into(), "read:lists", "read:statuses"),
        ("GET", "/api/roost/v1/feeds/1/timeline".into(), "read:lists", "write:lists"),
        ("POST", "/api/roost/v1/feeds/1/subscribe".into(), "write:lists", "read:lists"),
        ("POST", format!("/api/v1/reports?account_id={b}"), "write:reports", "write:statuses"),
        ("GET", "/api/v1/filters".into(), "read:filters", "write:filters"),
        ("GET", "/api/v2/filters".into(), "read:filters", "read:statuses"),
        ("POST", "/api/v2/filters?title=x&context[]=home".into(), "write:filters", "read:filters"),
        ("GET", "/api/v2/filters/1".into(), "read", "write"),
        ("PUT", "/api/v2/filters/1".into(), "write:filters", "read:filters"),
        ("DELETE", "/api/v2/filters/1".into(), "write", "read"),
        ("GET", "/api/v2/filters/1/keywords".into(), "read:filters", "write:filters"),
        ("POST", "/api/v2/filters/1/statuses".into(), "write:filters", "read:filters"),
        ("GET", "/api/v2/filters/keywords/1".into(), "read:filters", "write:filters"),
        ("DELETE", "/api/v2/filters/statuses/1".into(), "write:filters", "read:filters"),
        ("GET", "/api/v1/conversations".into(), "read:statuses", "write:conversations"),
        ("POST", "/api/v1/conversations/1/read".into(), "write:conversations", "read:statuses"),
        ("DELETE", "/api/v1/conversations/1".into(), "write", "read"),
        ("GET", "/api/v1/lists".into(), "read:lists", "write:lists"),
        ("POST", "/api/v1/lists?title=x".into(), "write:lists", "read:lists"),
        ("GET", "/api/v1/lists/1".into(), "read", "write"),
        ("PUT", "/api/v1/lists/1".into(), "write:lists", "read:lists"),
        ("DELETE", "/api/v1/lists/1".into(), "write", "read"),
        ("GET", "/api/v1/lists/1/accounts".into(), "read:lists", "read:accounts"),
        ("POST", "/api/v1/lists/1/accounts".into(), "write:lists", "write:accounts"),
        ("GET", format!("/api/v1/accounts/{b}/lists"), "read:lists", "read:accounts"),
        ("GET", "/api/v1/timelines/list/1".into(), "read:lists", "read:statuses"),
        ("GET", "/api/v2/search?q=bob".into(), "read:search", "read:accounts"),
        ("GET", "/api/v1/tags/rust".into(), "read", "write"),
        ("POST", "/api/v1/tags/rust/follow".into(), "write:follows", "read:follows"),
        ("POST", "/api/v1/tags/rust/unfollow".into(), "follow", "read"),
        ("GET", "/api/v1/followed_tags".into(), "read:follows", "write:follows"),
        ("GET", "/api/v1/accounts/search?q=bob".into(), "read:accounts", "read:search"),
        ("GET", "/api/v1/trends".into(), "read", "write"),
        ("GET", "/api/v1/trends/tags".into(), "read", "write"),
        ("GET", "/api/v1/trends/links".into(), "read", "write"),
        ("GET", "/api/v1/suggestions".into(), "read", "write"),
        ("GET", "/api/v1/trends/statuses".into(), "read", "write"),
        ("GET", "/api/v2/suggestions".into(), "read", "write"),
        ("GET", "/api/v1/announcements".into(), "read", "write"),
        ("GET", "/api/v1/preferences".into(), "read:accounts", "read:statuses"),
        ("GET", "/api/v1/markers?timeline[]=home".into(), "read:statuses", "write:statuses"),
        ("POST", "/api/v1/markers?home[last_read_id]=1".into(), "write:statuses", "read:statuses"),
        ("GET", "/.well-known/webfinger?resource=acct:bob".into(), "push", ""),
        ("POST", "/api/v1/statuses".into(), "write:statuses", "read"),
        ("DELETE", "/api/v1/statuses/1".into(), "write:statuses", "read:statuses"),
    ];
    let http = Client::new();
    let send = |method: &str, path: &str, token: Option<&str>| {
        let url = format!("{}{path}", server.base);
        let mut req = http.request(method.parse().unwrap(), url);
        if method == "POST" && path == "/api/v1/statuses" {
            req = req.form(&[("status", "scoped")]);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or(Value::Null))
    };
    // Every route that takes a token is in the table above: the routes are read from the
    // router's source, so a new endpoint without a row here fails this test.
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../roost-web/src/api/mod.rs")).unwrap();
    let open_routes = [
        "/api/v1/apps",
        "/oauth/authorize",
        "/.well-known/oauth-authorization-server",
        "/oauth/token",
        "/oauth/revoke",
        "/api/v1/instance",
        "/api/v2/instance",
        "/.well-known/nodeinfo",
        "/nodeinfo/2.0",
        "/.well-known/host-meta",
        "/api/v1/custom_emojis",
        "/avatars/original/missing.png",
        "/headers/original/missing.png",
        "/healthz",
        "/health",
        "/readyz",
        "/metrics",
        "/api/v1/streaming/health",
    ];
    let matches = |pattern: &str, path: &str| {
        let path = path.split('?').next().unwrap();
        let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
        p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| a.starts_with('{') || a == b)
    };
    for piece in source.split(".route(").skip(1) {
        let rest = piece.trim_start().strip_prefix('"').unwrap();
        let pattern = &rest[..rest.find('"').unwrap()];
        // Live streams are checked in streaming.rs (a granted request would stay open).
        if open_routes.contains(&pattern) || pattern.starts_with("/api/v1/streaming") {
            continue;
        }
        assert!(endpoints.iter().any(|(_, path, _, _)| matches(pattern, path)), "{pattern} is missing from this table");
    }

    for (method, path, granted, not_granted) in &endpoints {
        let (status, body) = send(method, path, None);
        assert_eq!(status, 401, "{method} {path} without a token: {body}");
        assert!(body["error"].is_string());
        let (status, _) = send(method, path, Some(&token_with(granted)));
        assert!(status != 401 && status != 403, "{method} {path} with {granted}: {status}");
        if !not_granted.is_empty() {
            let (status, body) = send(method, path, Some(&token_with(not_granted)));
            assert_eq!(status, 403, "{method} {path} with {not_granted}: {body}");
            let (status, _) = send(method, path, Some(&push_only));
            assert_eq!(status, 403, "{method} {path} with push only");
        }
    }
}
