//! Holding under abuse: what an attacker with an account, or with none, tries, and what must
//! still hold for everyone else.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use roost_testkit::Server;

/// Starts a server with extra configuration lines.
fn server_with(dir: &std::path::Path, config: &str) -> Server {
    let path = dir.join("roost.toml");
    std::fs::write(&path, config).unwrap();
    Server::start_with(dir, &["--config", path.to_str().unwrap()], &[])
}

/// A client whose connections come from another loopback address than the test's others.
fn client_from(local: [u8; 4]) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .local_address(std::net::IpAddr::from(local))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[test]
fn slow_clients_do_not_take_the_node_down() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(
        dir.path(),
        "request_header_timeout_secs = 2\nrequest_body_timeout_secs = 2\nmax_connections_per_ip = 64\nrate_limit_unauthenticated = 0\n",
    );
    let addr = server.base.trim_start_matches("http://").to_string();
    // Hundreds of connections that never finish their request head, and some whose body never
    // arrives.
    let mut stalled: Vec<TcpStream> = (0..300)
        .map(|i| {
            let mut s = TcpStream::connect(&addr).unwrap();
            let _ = if i % 3 == 0 {
                s.write_all(b"POST /api/v1/apps HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nclient_name=")
            } else {
                s.write_all(b"GET /api/v1/instance HTTP/1.1\r\nHost: x\r\n")
            };
            s
        })
        .collect();
    // Someone else is served promptly meanwhile.
    let other = client_from([127, 0, 0, 2]);
    let r = other.get(format!("{}/api/v1/instance", server.base)).send().unwrap();
    assert_eq!(r.status(), 200);
    // The stalled connections are closed: at once beyond the per-address cap, the others once
    // the header timeout passes (the bodies once the body timeout does).
    let started = Instant::now();
    for s in &mut stalled {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut buf = [0u8; 1024];
        loop {
            match std::io::Read::read(s, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    assert!(started.elapsed() < Duration::from_secs(60), "stalled connections were held");
    // And the stalled address is served again.
    assert_eq!(server.anon().get("/api/v1/instance").status, 200);
}

/// Every file and directory under `dir` whose mode lets others in, with that mode.
fn open_to_others(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            out.push((p.clone(), mode));
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out
}

#[test]
fn data_files_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // A data directory made by hand, open to everyone, as an operator might have.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("roost.toml");
    std::fs::write(&config, "snapshot_every = 10\n").unwrap();
    let mut server = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    let alice = server.user("alice");
    for i in 0..40 {
        alice.status(&format!("post {i}"));
    }
    // A snapshot was taken (every 10 entries).
    let snapshots = data.join("snapshots");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&snapshots).map_or(0, |d| d.count()) == 0 {
        assert!(std::time::Instant::now() < deadline, "no snapshot was taken");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(open_to_others(&data), vec![], "everything is 0600 or 0700");
    assert_eq!(server.interrupt().code(), Some(0));

    // Loosened behind its back (a copy with a careless umask): tightened at the next start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("state.redb"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&snapshots, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    assert_eq!(open_to_others(&data), vec![]);
    assert!(server.log().contains("restricting it to its owner"), "the operator is told");
    drop(server);

    // A restore from a copy that lost its modes writes a private directory.
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for f in ["state.redb", "log.redb"] {
        std::fs::copy(data.join(f), copy.join(f)).unwrap();
        std::fs::set_permissions(copy.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let restored = dir.path().join("restored");
    let out = std::process::Command::new(roost_testkit::roost_bin())
        .args(["restore", "--from", copy.to_str().unwrap(), "--data-dir", restored.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(open_to_others(&restored), vec![]);
}

#[test]
fn forms_go_back_only_to_this_site_and_every_response_says_nosniff() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let bob = server.user("bob");
    let post = bob.status("a post to like");
    let mut browser = roost_testkit::Browser::new(&server);
    server.create_user("mia");
    assert_eq!(browser.sign_in("mia", roost_testkit::PASSWORD), 303);
    let csrf = roost_testkit::hidden(&browser.get("/").1, "csrf");
    let like = |b: &mut roost_testkit::Browser, back: &str| {
        let (status, _, headers) =
            b.post(&format!("/web/statuses/{post}/favourite"), &[("csrf", csrf.as_str()), ("back", back)]);
        assert_eq!(status, 303);
        headers["location"].to_str().unwrap().to_string()
    };
    for evil in
        ["/\t/evil.example/", "//evil.example/", "/\\evil.example/", "/\n/evil.example", "https://evil.example/"]
    {
        assert_eq!(like(&mut browser, evil), "/", "{evil:?}");
    }
    assert_eq!(like(&mut browser, "/tags/café"), "/tags/caf%C3%A9", "non-ASCII paths come back whole");
    assert_eq!(like(&mut browser, &format!("/@bob/{post}")), format!("/@bob/{post}"));

    // Profiles saved through the web app are cleaned as the API cleans them.
    let csrf = roost_testkit::hidden(&browser.get("/settings").1, "csrf");
    let form = [("csrf", csrf.as_str()), ("display_name", "Mia\u{0}\u{7} M"), ("note", "line\u{0}one\r\nline two")];
    assert_eq!(browser.post("/settings/profile", &form).0, 303);
    let mia = roost_testkit::Api { token: server.token("mia", roost_testkit::PASSWORD), ..bob.clone() };
    let me = mia.get("/api/v1/accounts/verify_credentials");
    assert_eq!(me.json["display_name"], "Mia M");
    assert_eq!(me.json["source"]["note"], "lineone\nline two");

    for r in [
        server.anon().get("/api/v1/instance"),
        server.anon().get("/api/v1/timelines/public"),
        bob.get("/api/v1/timelines/home"),
        server.anon().get("/no/such/page"),
    ] {
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
    }
    let (_, _, headers) = browser.get("/");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[test]
fn a_stranger_cannot_hold_requests_with_a_far_future_index() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let http = reqwest::blocking::Client::new();
    let started = Instant::now();
    let r =
        http.get(format!("{}/api/v1/instance", server.base)).header("x-roost-min-index", "999999999").send().unwrap();
    assert_eq!(r.status(), 200);
    let stranger = started.elapsed();
    // A member who names an index the node has not reached waits for it (up to five seconds),
    // then hears that it is not there yet.
    let started = Instant::now();
    let r = http
        .get(format!("{}/api/v1/timelines/home", server.base))
        .bearer_auth(alice.token.as_ref().unwrap())
        .header("x-roost-min-index", "999999999")
        .send()
        .unwrap();
    assert_eq!(r.status(), 503);
    let member = started.elapsed();
    assert!(member > stranger * 4, "the stranger was not held: {stranger:?} against {member:?}");
}

#[test]
fn there_is_one_owner_and_moderators_act_only_on_lower_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    // Three first accounts at once on an empty instance: one owner.
    let data_dir = server.data_dir.clone();
    let made: Vec<(bool, String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = ["first", "second", "third"]
            .iter()
            .map(|name| s.spawn(|| roost_testkit::admin_create_user(&data_dir, name, roost_testkit::PASSWORD, &[])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(made.iter().all(|(ok, _, _)| *ok), "{made:?}");
    let owners = made.iter().filter(|(_, _, err)| err.contains("(owner)")).count();
    assert_eq!(owners, 1, "{made:?}");
    let (ok, _, err) = server.admin_create_user("usurper", roost_testkit::PASSWORD, &["--role", "owner"]);
    assert!(!ok && err.contains("owner already"), "{err}");

    let (ok, _, _) = server.admin_create_user("admin", roost_testkit::PASSWORD, &["--role", "admin"]);
    assert!(ok);
    let (ok, _, _) = server.admin_create_user("moderator", roost_testkit::PASSWORD, &["--role", "moderator"]);
    assert!(ok);
    let api = |name: &str| roost_testkit::Api { token: server.token(name, roost_testkit::PASSWORD), ..server.anon() };
    let owner_name = ["first", "second", "third"]
        .into_iter()
        .zip(&made)
        .find(|(_, (_, _, err))| err.contains("(owner)"))
        .map(|(n, _)| n)
        .unwrap();
    let (owner, admin, moderator) = (api(owner_name), api("admin"), api("moderator"));
    let member = server.user("member");
    let by_owner = owner.status("the owner's");
    let by_admin = admin.status("the admin's");
    let by_member = member.status("a member's");
    for post in [&by_owner, &by_admin] {
        assert_eq!(moderator.delete(&format!("/api/v1/statuses/{post}")).status, 403, "{post}");
    }
    assert_eq!(admin.delete(&format!("/api/v1/statuses/{by_owner}")).status, 403);
    assert_eq!(moderator.delete(&format!("/api/v1/statuses/{by_member}")).status, 200);
    assert_eq!(owner.delete(&format!("/api/v1/statuses/{by_admin}")).status, 200);
}

/// The heaviest post the default limits accept: a link of the longest size allowed, made of
/// characters that HTML escaping makes five times longer, then graphemes of many code points
/// each, up to 500 characters as Mastodon counts them and 8,000 bytes.
fn heaviest_post() -> String {
    let link_base = "https://a.example/?";
    let link = format!("{link_base}{}", "&".repeat(2048 - link_base.len()));
    let grapheme = format!("&{}", "\u{301}".repeat(5)); // 11 bytes, one character
    let room = 500 - 23 - 1;
    let mut text = format!("{link} ");
    for _ in 0..room {
        if text.len() + grapheme.len() > 8000 {
            break;
        }
        text.push_str(&grapheme);
    }
    text
}

#[test]
fn the_largest_allowed_posts_keep_a_home_page_small() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(dir.path(), "rate_limit_authenticated = 0\n");
    let alice = server.user("alice");
    let heavy = heaviest_post();
    assert!(heavy.len() > 7000, "{}", heavy.len());
    for _ in 0..40 {
        alice.status(&heavy);
    }
    // One byte more, one link byte more, or a megabyte link: refused.
    let r = alice.post_form("/api/v1/statuses", &[("status", &format!("{heavy}&"))]);
    assert_eq!(r.status, 422, "{:?}", r.json);
    let long_link = format!("see https://a.example/{}", "x".repeat(2100));
    let r = alice.post_form("/api/v1/statuses", &[("status", &long_link)]);
    assert_eq!(r.status, 422);
    assert!(r.json["error"].as_str().unwrap().contains("link"), "{:?}", r.json);
    let huge = format!("https://a.example/{}", "x".repeat(1 << 19));
    assert_eq!(alice.post_form("/api/v1/statuses", &[("status", &huge)]).status, 422);
    // Other stored strings are bounded in bytes too, not only in characters.
    let zalgo_option = format!("a{}", "\u{301}".repeat(200));
    let r = alice.post_form(
        "/api/v1/statuses",
        &[
            ("status", "poll"),
            ("poll[options][]", &zalgo_option),
            ("poll[options][]", "b"),
            ("poll[expires_in]", "600"),
        ],
    );
    assert_eq!(r.status, 422, "{:?}", r.json);

    const STATED: usize = 1536 * 1024;
    let api = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/timelines/home?limit=40", server.base))
        .bearer_auth(alice.token.as_ref().unwrap())
        .send()
        .unwrap()
        .bytes()
        .unwrap()
        .len();
    let mut browser = roost_testkit::Browser::new(&server);
    assert_eq!(browser.sign_in("alice", roost_testkit::PASSWORD), 303);
    let (status, page, _) = browser.get("/");
    assert_eq!(status, 200);
    eprintln!("home of 40 heaviest posts: API {api} bytes, web page {} bytes", page.len());
    assert!(api < STATED, "the API's home page is {api} bytes");
    assert!(page.len() < STATED, "the web app's home page is {} bytes", page.len());
}

#[test]
fn a_suspension_hides_the_member_until_it_is_lifted() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server.create_user("owner");
    let (ok, _, _) = server.admin_create_user("moderator", roost_testkit::PASSWORD, &["--role", "moderator"]);
    assert!(ok);
    let moderator = roost_testkit::Api { token: server.token("moderator", roost_testkit::PASSWORD), ..server.anon() };
    let troll = server.user("troll");
    let member = server.user("member");
    member.post(&format!("/api/v1/accounts/{}/follow", troll.id));
    let post = troll.status("something awful @member");
    let seen = |who: &roost_testkit::Api| {
        (
            who.get(&format!("/api/v1/statuses/{post}")).status,
            who.get(&format!("/api/v1/accounts/{}", troll.id)).status,
            who.get("/api/v1/timelines/home").ids().contains(&post),
            who.get("/api/v1/notifications").json.as_array().unwrap().len(),
        )
    };
    assert_eq!(seen(&member), (200, 200, true, 1));

    let mut staff = roost_testkit::Browser::new(&server);
    assert_eq!(staff.sign_in("moderator", roost_testkit::PASSWORD), 303);
    let csrf = roost_testkit::hidden(&staff.get("/admin").1, "csrf");
    assert_eq!(staff.post("/admin/suspend", &[("csrf", csrf.as_str()), ("id", troll.id.as_str())]).0, 303);
    assert_eq!(seen(&member), (404, 404, false, 0), "gone for members: posts, profile, notifications");
    let (status, account, ..) = seen(&moderator);
    assert_eq!((status, account), (200, 200), "moderators still see it");
    assert_eq!(moderator.get(&format!("/api/v1/accounts/{}", troll.id)).json["suspended"], true, "marked");
    let (_, page, _) = staff.get(&format!("/@troll/{post}"));
    assert!(page.contains("suspended"), "marked in the web app too");

    assert_eq!(staff.post("/admin/unsuspend", &[("csrf", csrf.as_str()), ("id", troll.id.as_str())]).0, 303);
    assert_eq!(seen(&member), (200, 200, true, 1), "lifting it brings everything back");
    assert!(member.get(&format!("/api/v1/accounts/{}", troll.id)).json.get("suspended").is_none());
}

#[test]
fn tokens_are_bounded_per_app_and_per_account() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(dir.path(), "rate_limit_unauthenticated = 0\nrate_limit_authenticated = 0\n");
    server.create_user("alice");
    let (id, secret) = server.app();
    let grant = |kind: &str| {
        let mut form = vec![("grant_type", kind), ("client_id", id.as_str()), ("client_secret", secret.as_str())];
        if kind == "password" {
            form.extend([("username", "alice"), ("password", roost_testkit::PASSWORD)]);
        }
        let r = server.anon().post_form("/oauth/token", &form);
        assert_eq!(r.status, 200, "{:?}", r.json);
        r.json["access_token"].as_str().unwrap().to_string()
    };
    let valid = |token: &str| {
        roost_testkit::Api { token: Some(token.to_string()), ..server.anon() }
            .get("/api/v1/apps/verify_credentials")
            .status
            == 200
    };
    // An app's own tokens: only the newest ten stay valid.
    let own: Vec<String> = (0..15).map(|_| grant("client_credentials")).collect();
    assert_eq!(own.iter().filter(|t| valid(t)).count(), 10);
    assert!(!valid(&own[0]) && valid(&own[14]));
    // A member's: a hundred at most, the least recently used going first.
    let first = grant("password");
    let rest: Vec<String> = (0..105).map(|_| grant("password")).collect();
    assert!(!valid(&first));
    assert_eq!(rest.iter().filter(|t| valid(t)).count(), 100);
    let alice = roost_testkit::Api { token: rest.last().cloned(), ..server.anon() };
    let sessions = alice.get("/api/v1/accounts/verify_credentials");
    assert_eq!(sessions.status, 200);
}

/// A self-signed certificate for 127.0.0.1 and its key, PEM.
fn certificate() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

#[test]
fn members_are_served_https_with_certificates_renewed_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate();
    let (cert_file, key_file) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let server = server_with(
        dir.path(),
        &format!(
            "tls_cert_file = {:?}\ntls_key_file = {:?}\n",
            cert_file.to_str().unwrap(),
            key_file.to_str().unwrap()
        ),
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let trusting = |pem: &str| {
        reqwest::blocking::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let r = trusting(&cert).get(format!("{}/api/v1/instance", server.base)).send().unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().unwrap();
    assert!(v["uri"].as_str().is_some());
    // Plain HTTP on the same port is not served.
    let plain =
        reqwest::blocking::Client::new().get(server.base.replace("https://", "http://") + "/api/v1/instance").send();
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    // A renewed certificate replaces the files: it is served without a restart.
    let (renewed, renewed_key) = certificate();
    std::fs::write(&key_file, &renewed_key).unwrap();
    std::fs::write(&cert_file, &renewed).unwrap();
    let started = Instant::now();
    loop {
        if trusting(&renewed).get(format!("{}/api/v1/instance", server.base)).send().is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the renewed certificate was never served");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(trusting(&cert).get(format!("{}/api/v1/instance", server.base)).send().is_err(), "the old one is gone");
}

#[test]
fn one_address_registers_a_bounded_number_of_apps() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(dir.path(), "app_registrations_per_hour = 5\n");
    let register = |client: &reqwest::blocking::Client| {
        client
            .post(format!("{}/api/v1/apps", server.base))
            .form(&[("client_name", "app"), ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob")])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let here = client_from([127, 0, 0, 1]);
    for _ in 0..5 {
        assert_eq!(register(&here), 200);
    }
    assert_eq!(register(&here), 429, "the sixth in the hour waits");
    assert_eq!(register(&client_from([127, 0, 0, 2])), 200, "another address is not held back");
}
