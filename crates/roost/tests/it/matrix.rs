//! The authorization matrix: every route the routers declare (read from their source, so a new
//! route is covered without anyone remembering to) × every kind of caller (signed out, a member,
//! a follower, someone the author blocks, a moderator, an admin, the owner) × posts of every
//! visibility and the author's private things. Signed-out callers get 401 (or the sign-in page);
//! what a caller may not see answers 404, never 403 or 200; and no body, whatever its status,
//! carries anything the caller may not see.

use std::collections::BTreeMap;

use serde_json::Value;

use roost_testkit::{Api, Server, PASSWORD};

/// Text that marks each thing in every body it could leak into.
const PUBLIC: &str = "MARK-public-f3a1";
const UNLISTED: &str = "MARK-unlisted-9c2e";
const PRIVATE: &str = "MARK-private-7b44";
const DIRECT: &str = "MARK-direct-0d18";
const POLL: &str = "MARK-poll-55aa";
const LIST: &str = "MARK-list-e6e6";
const FILTER: &str = "MARK-filter-a0a0";
const SCHEDULED: &str = "MARK-scheduled-c3c3";
const BIO: &str = "MARK-bio-4242";

/// Who calls, and what they may see of the author's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Member,
    Follower,
    Blocked,
    Moderator,
    Admin,
    Owner,
}

impl Caller {
    const ALL: [Caller; 7] = [
        Caller::Anonymous,
        Caller::Member,
        Caller::Follower,
        Caller::Blocked,
        Caller::Moderator,
        Caller::Admin,
        Caller::Owner,
    ];

    /// The marks this caller may see.
    fn may_see(self, mark: &str) -> bool {
        match self {
            Caller::Anonymous | Caller::Blocked => false,
            Caller::Follower => [PUBLIC, UNLISTED, PRIVATE, POLL, BIO].contains(&mark),
            _ => [PUBLIC, UNLISTED, BIO].contains(&mark),
        }
    }
}

/// The route patterns and their methods a router declares in `file` (relative to roost-web/src).
fn routes(file: &str) -> Vec<(String, Vec<&'static str>)> {
    let source = std::fs::read_to_string(format!("{}/../roost-web/src/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut out = Vec::new();
    for piece in source.split(".route(").skip(1) {
        let rest = piece.trim_start().strip_prefix('"').unwrap();
        let pattern = rest[..rest.find('"').unwrap()].to_string();
        // The route's expression, up to the next route.
        let expr = &rest[..rest.find(".route(").unwrap_or(rest.len())];
        let methods: Vec<&'static str> =
            [("get(", "GET"), ("post(", "POST"), ("put(", "PUT"), ("patch(", "PATCH"), ("delete(", "DELETE")]
                .into_iter()
                .filter(|(call, _)| expr.contains(call))
                .map(|(_, m)| m)
                .collect();
        out.push((pattern, methods));
    }
    out
}

/// Everything the author owns, by kind, for filling route parameters.
struct Things {
    posts: BTreeMap<&'static str, String>,
    author: String,
    list: String,
    filter: String,
    keyword: String,
    filter_status: String,
    notification: String,
    conversation: String,
    scheduled: String,
}

/// The concrete paths of a route pattern, each with the marks it is about (for expecting 404).
fn paths(pattern: &str, t: &Things) -> Vec<(String, Vec<&'static str>)> {
    let with = |id: &str, marks: Vec<&'static str>| vec![(pattern.replacen("{id}", id, 1), marks)];
    if pattern.contains("{hashtag}") || pattern.contains("{name}") || pattern.contains("{tag}") {
        return vec![(
            pattern.replace("{hashtag}", "matrix").replace("{name}", "matrix").replace("{tag}", "matrix"),
            vec![],
        )];
    }
    if !pattern.contains('{') {
        return vec![(pattern.to_string(), vec![])];
    }
    match pattern {
        p if p.starts_with("/api/v1/statuses/{id}") || p.starts_with("/web/statuses/{id}") => {
            t.posts.iter().map(|(mark, id)| (pattern.replacen("{id}", id, 1), vec![*mark])).collect()
        }
        "/api/v1/polls/{id}" | "/api/v1/polls/{id}/votes" => with(&t.posts[POLL], vec![POLL]),
        p if p.starts_with("/api/v1/accounts/{id}") || p.starts_with("/web/accounts/{id}") => with(&t.author, vec![]),
        p if p.starts_with("/api/v1/lists/{id}")
            || p == "/api/v1/timelines/list/{id}"
            || p.starts_with("/lists/{id}") =>
        {
            with(&t.list, vec![LIST])
        }
        "/api/v2/filters/keywords/{id}" => with(&t.keyword, vec![FILTER]),
        "/api/v2/filters/statuses/{id}" => with(&t.filter_status, vec![FILTER]),
        p if p.starts_with("/api/v2/filters/{id}") => with(&t.filter, vec![FILTER]),
        p if p.starts_with("/api/v1/notifications/{id}") => with(&t.notification, vec![DIRECT]),
        p if p.starts_with("/api/v1/conversations/{id}") => with(&t.conversation, vec![DIRECT]),
        p if p.starts_with("/api/v1/scheduled_statuses/{id}") => with(&t.scheduled, vec![SCHEDULED]),
        p if p.starts_with("/api/v1/follow_requests/{id}") => with(&t.author, vec![]),
        "/{username}" => vec![("/@author".into(), vec![])],
        "/{username}/{id}" => {
            let mut v: Vec<(String, Vec<&'static str>)> =
                t.posts.iter().map(|(mark, id)| (format!("/@author/{id}"), vec![*mark])).collect();
            v.extend(
                ["followers", "following", "likes", "with_replies"].map(|tab| (format!("/@author/{tab}"), vec![])),
            );
            v
        }
        _ => vec![],
    }
}

/// Routes that are open without a sign-in (instance metadata, OAuth, assets, health).
fn open(path: &str) -> bool {
    [
        "/api/v1/apps",
        "/oauth/",
        "/.well-known/",
        "/api/v1/instance",
        "/api/v2/instance",
        "/nodeinfo/",
        "/api/v1/custom_emojis",
        "/avatars/",
        "/headers/",
        "/healthz",
        "/health",
        "/readyz",
        "/metrics",
        "/api/v1/streaming/health",
        "/assets/",
        "/auth/",
        "/invite/",
    ]
    .iter()
    .any(|p| path == p.trim_end_matches('/') || path.starts_with(p))
}

#[test]
fn no_route_shows_anyone_what_they_may_not_see() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_unlimited(dir.path());
    let owner = server.user("owner");
    let (ok, _, _) = server.admin_create_user("admin", PASSWORD, &["--role", "admin"]);
    assert!(ok);
    let (ok, _, _) = server.admin_create_user("moderator", PASSWORD, &["--role", "moderator"]);
    assert!(ok);
    let signed_in = |name: &str| Api { token: server.token(name, PASSWORD), id: String::new(), ..server.anon() };
    let (admin, moderator) = (signed_in("admin"), signed_in("moderator"));
    let author = server.user("author");
    let member = server.user("member");
    let follower = server.user("follower");
    let blocked = server.user("blocked");
    let friend = server.user("friend");
    follower.post(&format!("/api/v1/accounts/{}/follow", author.id));
    blocked.post(&format!("/api/v1/accounts/{}/follow", author.id));
    author.post(&format!("/api/v1/accounts/{}/block", blocked.id));
    author.patch_form("/api/v1/accounts/update_credentials", &[("note", BIO)]);

    let mut posts = BTreeMap::new();
    for (mark, visibility) in [(PUBLIC, "public"), (UNLISTED, "unlisted"), (PRIVATE, "private"), (DIRECT, "direct")] {
        let text = format!("{mark} #matrix @friend");
        posts.insert(mark, author.status_with(&[("status", &text), ("visibility", visibility)]));
    }
    let poll = author.status_with(&[
        ("status", &format!("{POLL} #matrix")),
        ("visibility", "private"),
        ("poll[options][]", "a"),
        ("poll[options][]", "b"),
        ("poll[expires_in]", "3600"),
    ]);
    posts.insert(POLL, poll);
    let list = author.post_form("/api/v1/lists", &[("title", LIST)]).json["id"].as_str().unwrap().to_string();
    author.post_form(&format!("/api/v1/lists/{list}/accounts"), &[("account_ids[]", &friend.id)]);
    let filter = author.post_form(
        "/api/v2/filters",
        &[("title", FILTER), ("context[]", "home"), ("keywords_attributes[][keyword]", FILTER)],
    );
    assert_eq!(filter.status, 200, "{:?}", filter.json);
    let filter_id = filter.json["id"].as_str().unwrap().to_string();
    let keyword = filter.json["keywords"][0]["id"].as_str().unwrap().to_string();
    let filter_status =
        author.post_form(&format!("/api/v2/filters/{filter_id}/statuses"), &[("status_id", &posts[PUBLIC])]);
    let scheduled = author
        .post_form("/api/v1/statuses", &[("status", SCHEDULED), ("scheduled_at", &roost_testkit::iso_in(86_400))]);
    friend.status_with(&[("status", &format!("@author {DIRECT} back")), ("visibility", "direct")]);
    let notification = author.get("/api/v1/notifications").json[0]["id"].as_str().unwrap().to_string();
    let conversation = author.get("/api/v1/conversations").json[0]["id"].as_str().unwrap().to_string();
    author.post(&format!("/api/v1/statuses/{}/bookmark", posts[PRIVATE]));
    author.post_form("/api/v1/markers", &[("home[last_read_id]", &posts[PRIVATE])]);
    let things = Things {
        posts,
        author: author.id.clone(),
        list,
        filter: filter_id,
        keyword,
        filter_status: filter_status.json["id"].as_str().unwrap().to_string(),
        notification,
        conversation,
        scheduled: scheduled.json["id"].as_str().unwrap().to_string(),
    };

    let api_of = |c: Caller| -> Api {
        match c {
            Caller::Anonymous => server.anon(),
            Caller::Member => member.clone(),
            Caller::Follower => follower.clone(),
            Caller::Blocked => blocked.clone(),
            Caller::Moderator => moderator.clone(),
            Caller::Admin => admin.clone(),
            Caller::Owner => owner.clone(),
        }
    };
    let names = |c: Caller| match c {
        Caller::Member => "member",
        Caller::Follower => "follower",
        Caller::Blocked => "blocked",
        Caller::Moderator => "moderator",
        Caller::Admin => "admin",
        Caller::Owner => "owner",
        Caller::Anonymous => "",
    };
    let marks = [PUBLIC, UNLISTED, PRIVATE, DIRECT, POLL, LIST, FILTER, SCHEDULED, BIO];
    let mut checked = 0usize;
    let mut problems = Vec::new();

    // The client API: every GET route; writes are covered below and by the scope test.
    for (pattern, methods) in routes("api/mod.rs") {
        if !methods.contains(&"GET")
            || pattern.starts_with("/api/v1/streaming") && pattern != "/api/v1/streaming/health"
        {
            continue;
        }
        for (path, about) in paths(&pattern, &things) {
            for caller in Caller::ALL {
                let r = api_of(caller).get(&path);
                checked += 1;
                let body = r.json.to_string();
                if caller == Caller::Anonymous && !open(&path) && r.status != 401 {
                    problems.push(format!("{path} signed out: {} (want 401)", r.status));
                }
                for mark in marks {
                    if body.contains(mark) && !caller.may_see(mark) {
                        problems.push(format!("{path} shows {mark} to {caller:?} ({})", r.status));
                    }
                }
                let hidden = about.iter().any(|m| !caller.may_see(m));
                if caller != Caller::Anonymous && hidden && r.status != 404 {
                    problems.push(format!("{path} for {caller:?}: {} (want 404)", r.status));
                }
                if caller != Caller::Anonymous && r.status == 403 && about.iter().any(|m| !caller.may_see(m)) {
                    problems.push(format!("{path} for {caller:?}: 403 tells it exists"));
                }
            }
        }
    }

    // The web app: every page, through each caller's session (signed out: the sign-in page).
    let mut browsers: BTreeMap<&str, roost_testkit::Browser> = BTreeMap::new();
    for caller in Caller::ALL {
        let mut b = roost_testkit::Browser::new(&server);
        if caller != Caller::Anonymous {
            assert_eq!(b.sign_in(names(caller), PASSWORD), 303, "{caller:?}");
        }
        browsers.insert(names(caller), b);
    }
    for (pattern, methods) in routes("web/mod.rs") {
        if !methods.contains(&"GET")
            || pattern == "/web/live"
            || pattern.starts_with("/assets")
            || pattern.starts_with("/invite")
        {
            continue;
        }
        for (path, about) in paths(&pattern, &things) {
            for caller in Caller::ALL {
                let b = browsers.get_mut(names(caller)).unwrap();
                let (status, page, headers) = b.get(&path);
                checked += 1;
                if caller == Caller::Anonymous && !open(&path) {
                    let to_sign_in = status == 303 && headers.get("location").is_some_and(|l| l == "/auth/sign_in");
                    if !to_sign_in {
                        problems.push(format!("web {path} signed out: {status} (want the sign-in page)"));
                    }
                }
                for mark in marks {
                    if page.contains(mark) && !caller.may_see(mark) {
                        problems.push(format!("web {path} shows {mark} to {caller:?} ({status})"));
                    }
                }
                let hidden = about.iter().any(|m| !caller.may_see(m));
                if caller != Caller::Anonymous && hidden && status != 404 {
                    problems.push(format!("web {path} for {caller:?}: {status} (want 404)"));
                }
            }
        }
    }

    // Writes on what a caller may not see: not found, and nothing changes.
    let before = author.get(&format!("/api/v1/statuses/{}", things.posts[PRIVATE])).json.clone();
    for caller in [Caller::Member, Caller::Blocked, Caller::Moderator, Caller::Admin, Caller::Owner] {
        for mark in [PRIVATE, DIRECT] {
            let id = &things.posts[mark];
            for action in ["favourite", "reblog", "bookmark", "pin"] {
                let r = api_of(caller).post(&format!("/api/v1/statuses/{id}/{action}"));
                checked += 1;
                if r.status != 404 {
                    problems.push(format!("POST {action} of {mark} by {caller:?}: {}", r.status));
                }
            }
            let r = api_of(caller).post_form("/api/v1/statuses", &[("status", "re"), ("in_reply_to_id", id)]);
            if r.status != 404 {
                problems.push(format!("a reply to {mark} by {caller:?}: {}", r.status));
            }
        }
        for (path, method) in [
            (format!("/api/v1/lists/{}", things.list), "DELETE"),
            (format!("/api/v2/filters/{}", things.filter), "DELETE"),
            (format!("/api/v1/scheduled_statuses/{}", things.scheduled), "DELETE"),
            (format!("/api/v1/conversations/{}", things.conversation), "DELETE"),
            (format!("/api/v1/notifications/{}/dismiss", things.notification), "POST"),
        ] {
            let r = api_of(caller).send_json(method, &path, &Value::Null);
            checked += 1;
            if r.status != 404 {
                problems.push(format!("{method} {path} by {caller:?}: {}", r.status));
            }
        }
    }
    let after = author.get(&format!("/api/v1/statuses/{}", things.posts[PRIVATE])).json.clone();
    assert_eq!(before["favourites_count"], after["favourites_count"]);
    assert_eq!(author.get("/api/v1/lists").json.as_array().unwrap().len(), 1, "the list is still there");
    assert_eq!(author.get("/api/v1/scheduled_statuses").ids().len(), 1);

    eprintln!("authorization matrix: {checked} checks");
    assert!(checked > 500, "the matrix ran ({checked} checks)");
    assert!(problems.is_empty(), "{} problems in {checked} checks:\n{}", problems.len(), problems.join("\n"));
}
