//! Bad input gets a clear error with the right status, and writes nothing.

use serde_json::json;

use roost_testkit::{Api, Server};

fn applied(api: &Api) -> u64 {
    api.get("/api/roost/v1/node").json["applied_index"].as_u64().unwrap()
}

#[test]
fn bad_requests_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let bob = server.user("bob");
    let post = alice.status("hello");
    let secret = alice.status_with(&[("status", "@alice note to self"), ("visibility", "direct")]);
    let before = applied(&alice);

    let big = "x".repeat(2 * 1024 * 1024);
    let r = alice.post_form("/api/v1/statuses", &[("status", &big)]);
    assert_eq!(r.status, 413, "{:?}", r.json);
    assert!(r.json["error"].is_string());
    let r = alice.post_raw("/api/v1/statuses", "application/x-www-form-urlencoded", b"status=%FF%FEabc".to_vec());
    assert_eq!(r.status, 400);
    assert!(r.json["error"].as_str().unwrap().contains("UTF-8"));
    let r = alice.post_raw("/api/v1/statuses", "application/json", b"{\"status\": \"\xff\"}".to_vec());
    assert_eq!(r.status, 400);
    assert_eq!(alice.post_raw("/api/v1/statuses", "application/json", b"{not json".to_vec()).status, 400);
    assert_eq!(alice.post_raw("/api/v1/statuses", "application/json", b"[1,2]".to_vec()).status, 400);
    assert_eq!(alice.post_raw("/api/v1/statuses", "text/plain", b"status=hi".to_vec()).status, 415);
    assert_eq!(alice.post_json("/api/v1/statuses", &json!({"status": "hi", "sensitive": "maybe"})).status, 400);
    assert_eq!(alice.post_json("/api/v1/statuses", &json!({"status": ""})).status, 422);
    assert_eq!(alice.post_json("/api/v1/statuses", &json!({"status": "x".repeat(501)})).status, 422);
    assert_eq!(alice.post_json("/api/v1/statuses", &json!({"status": "hi", "in_reply_to_id": "999"})).status, 404);
    assert_eq!(alice.post_json("/api/v1/statuses", &json!({"status": "hi", "in_reply_to_id": "abc"})).status, 400);
    assert_eq!(alice.post_json("/api/v1/statuses", &json!({"status": "hi", "media_ids": ["1"]})).status, 422);

    for path in
        ["/api/v1/statuses/999", "/api/v1/statuses/999/context", "/api/v1/notifications/999", "/api/v1/accounts/999"]
    {
        assert_eq!(alice.get(path).status, 404, "{path}");
    }
    for path in [
        "/api/v1/statuses/999/favourite",
        "/api/v1/statuses/999/reblog",
        "/api/v1/accounts/999/follow",
        "/api/v1/accounts/999/block",
    ] {
        assert_eq!(alice.post(path).status, 404, "{path}");
    }
    assert_eq!(alice.delete("/api/v1/statuses/999").status, 404);
    assert_eq!(alice.get("/api/v1/no/such/endpoint").status, 404);

    // Self-actions and other people's resources.
    assert_eq!(alice.post(&format!("/api/v1/accounts/{}/follow", alice.id)).status, 422);
    assert_eq!(alice.post(&format!("/api/v1/accounts/{}/block", alice.id)).status, 422);
    assert_eq!(bob.delete(&format!("/api/v1/statuses/{post}")).status, 403);
    assert_eq!(bob.delete(&format!("/api/v1/statuses/{secret}")).status, 404);
    assert_eq!(bob.post(&format!("/api/v1/statuses/{secret}/bookmark")).status, 404);

    // OAuth mistakes.
    let anon = server.anon();
    assert_eq!(anon.post_form("/api/v1/apps", &[("client_name", "x")]).status, 422, "redirect_uris is required");
    assert_eq!(anon.post_form("/api/v1/apps", &[("client_name", "x"), ("redirect_uris", "not a uri")]).status, 422);
    assert_eq!(
        anon.post_form(
            "/api/v1/apps",
            &[("client_name", "x"), ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"), ("scopes", "root")]
        )
        .status,
        422
    );
    let (id, secret_key) = server.app();
    let r =
        anon.post_form("/oauth/token", &[("grant_type", "magic"), ("client_id", &id), ("client_secret", &secret_key)]);
    assert_eq!((r.status, r.json["error"].as_str()), (400, Some("unsupported_grant_type")));
    let r = anon.post_form(
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret_key),
            ("scope", "admin:write"),
        ],
    );
    assert_eq!((r.status, r.json["error"].as_str()), (400, Some("invalid_scope")));

    assert_eq!(applied(&alice), before, "no bad request reached the log");
    assert_eq!(alice.get("/api/v1/accounts/verify_credentials").json["statuses_count"], 2);
}

#[test]
fn repeated_wrong_passwords_slow_the_guesser_without_locking_the_member_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server.user("target");
    server.user("bystander");
    let (id, secret) = server.app();
    // Two clients on two loopback addresses: the guesser and the member.
    let from = |last: u8| {
        reqwest::blocking::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, last])).build().unwrap()
    };
    let (guesser, member) = (from(1), from(2));
    let attempt = |client: &reqwest::blocking::Client, user: &str, password: &str| {
        let r = client
            .post(format!("{}/oauth/token", server.base))
            .form(&[
                ("grant_type", "password"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
                ("username", user),
                ("password", password),
            ])
            .send()
            .unwrap();
        let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        (r.status().as_u16(), retry)
    };
    for _ in 0..3 {
        assert_eq!(attempt(&guesser, "target", "guess").0, 400);
    }
    let (status, retry) = attempt(&guesser, "target", "guess");
    assert_eq!(status, 429, "the guesser waits");
    assert!(retry.is_some_and(|s| s >= 1), "and is told how long: {retry:?}");
    assert_eq!(attempt(&member, "TARGET", roost_testkit::PASSWORD).0, 200, "the member is not locked out");
    assert_eq!(attempt(&guesser, "bystander", roost_testkit::PASSWORD).0, 200, "other logins are unaffected");
    // The wait doubles with each failure after it.
    std::thread::sleep(std::time::Duration::from_secs(retry.unwrap()));
    assert_eq!(attempt(&guesser, "target", "guess").0, 400, "after the wait, one more try");
    let (status, retry) = attempt(&guesser, "target", "guess");
    assert_eq!((status, retry), (429, Some(2)));

    // The web app's change-password form is throttled the same way.
    let mut browser = roost_testkit::Browser::new(&server);
    assert_eq!(browser.sign_in("bystander", roost_testkit::PASSWORD), 303);
    let csrf = roost_testkit::hidden(&browser.get("/settings").1, "csrf");
    let change = |b: &mut roost_testkit::Browser, current: &str| {
        let form = [("csrf", csrf.as_str()), ("current_password", current), ("new_password", "a new long password")];
        b.post("/settings/password", &form).0
    };
    for _ in 0..3 {
        assert_eq!(change(&mut browser, "wrong"), 422);
    }
    assert_eq!(change(&mut browser, "wrong"), 429);
    assert_eq!(change(&mut browser, roost_testkit::PASSWORD), 429, "a stolen session cannot keep guessing");
}

#[test]
fn rate_limits_count_per_account_and_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roost.toml");
    std::fs::write(
        &config,
        "rate_limit_authenticated = 6\nrate_limit_unauthenticated = 40\nrate_limit_period_secs = 3600\n",
    )
    .unwrap();
    let server = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let first = alice.get("/api/v1/accounts/verify_credentials");
    assert_eq!(first.headers["x-ratelimit-limit"], "6");
    assert_eq!(first.headers["x-ratelimit-remaining"], "5");
    let reset = first.headers["x-ratelimit-reset"].to_str().unwrap().to_string();
    assert!(reset.ends_with('Z') && reset.contains('T'), "an ISO 8601 time: {reset}");
    for left in (0..5).rev() {
        let r = alice.get("/api/v1/timelines/home");
        assert_eq!((r.status, r.headers["x-ratelimit-remaining"].to_str().unwrap()), (200, left.to_string().as_str()));
    }
    let refused = alice.get("/api/v1/timelines/home");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json["error"], "Too many requests");
    assert_eq!(refused.headers["x-ratelimit-remaining"], "0");
    assert_eq!(bob.get("/api/v1/timelines/home").status, 200, "another account has its own count");
    let anon = server.anon();
    let r = anon.get("/api/v1/instance");
    assert_eq!(r.headers["x-ratelimit-limit"], "40", "without a token: counted by address");
    assert_eq!(
        server.anon().http.get(format!("{}/healthz", server.base)).send().unwrap().headers().get("x-ratelimit-limit"),
        None
    );
}

#[test]
fn behind_a_trusted_proxy_each_client_address_has_its_own_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roost.toml");
    std::fs::write(&config, "rate_limit_unauthenticated = 2\ntrusted_proxies = [\"127.0.0.1\"]\n").unwrap();
    let server = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    let get = |forwarded: &str| {
        server
            .anon()
            .http
            .get(format!("{}/api/v1/instance", server.base))
            .header("x-forwarded-for", forwarded)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!((get("203.0.113.1"), get("203.0.113.1"), get("203.0.113.1")), (200, 200, 429));
    assert_eq!(get("203.0.113.2"), 200, "another client behind the same proxy");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "trusted_proxies = [\"not an address\"]\n").unwrap();
    let out = std::process::Command::new(roost_testkit::roost_bin())
        .args(["serve", "--config", bad.to_str().unwrap(), "--data-dir", dir.path().join("d2").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an IP address"));
}
