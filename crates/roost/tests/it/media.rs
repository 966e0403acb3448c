//! Pictures end to end: uploads through the Mastodon API, files made by Roost (upright, without
//! metadata, of the type Roost determined), alt text and focus, posts and edits that carry
//! them, and who may fetch a file.

use serde_json::Value;

use roost_testkit::{samples, Api, Server};

fn upload_ok(api: &Api, bytes: &[u8], fields: &[(&str, &str)]) -> Value {
    let r = api.upload(bytes, fields);
    assert_eq!(r.status, 200, "{:?}", r.json);
    r.json
}

/// A file through a link, as an app or a browser loads it: no token.
fn fetch(server: &Server, url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    server.anon().get_bytes(url)
}

#[test]
fn a_photo_is_stored_upright_without_its_metadata_and_attached_to_a_post() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let bob = server.user("bob");
    bob.post(&format!("/api/v1/accounts/{}/follow", alice.id));

    let photo = samples::jpeg_with_exif(640, 320);
    let m = upload_ok(&alice, &photo, &[("description", "A harbour at dusk"), ("focus", "0.5,-0.25")]);
    assert_eq!(m["type"], "image");
    assert_eq!(m["description"], "A harbour at dusk");
    assert_eq!(m["meta"]["original"]["width"], 320, "turned by its EXIF orientation: {m}");
    assert_eq!(m["meta"]["original"]["height"], 640);
    assert_eq!(m["meta"]["focus"]["x"], 0.5);
    assert_eq!(m["meta"]["focus"]["y"], -0.25);
    assert!(m["blurhash"].as_str().unwrap().len() >= 6);
    let id = m["id"].as_str().unwrap();
    assert_eq!(alice.get(&format!("/api/v1/media/{id}")).json["id"], id);

    let (status, headers, body) = fetch(&server, m["url"].as_str().unwrap());
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(!body.windows(samples::GPS_MARK.len()).any(|w| w == samples::GPS_MARK), "GPS data was served");
    assert!(!body.windows(4).any(|w| w == b"Exif"));
    let decoded = image::load_from_memory(&body).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 640));
    let (status, _, preview) = fetch(&server, m["preview_url"].as_str().unwrap());
    assert_eq!(status, 200);
    assert!(image::load_from_memory(&preview).unwrap().width() <= 320);

    // Alt text can change before posting; the post carries the picture, and the follower's
    // copy of it has links of its own.
    let r = alice.put_form(&format!("/api/v1/media/{id}"), &[("description", "The harbour, at dusk")]);
    assert_eq!(r.status, 200, "{:?}", r.json);
    let post = alice.post_form("/api/v1/statuses", &[("status", ""), ("media_ids[]", id)]);
    assert_eq!(post.status, 200, "a post of only a picture: {:?}", post.json);
    let post_id = post.json["id"].as_str().unwrap();
    assert_eq!(post.json["media_attachments"][0]["id"], id);
    assert_eq!(post.json["media_attachments"][0]["description"], "The harbour, at dusk");
    let seen = bob.get(&format!("/api/v1/statuses/{post_id}"));
    let bobs_url = seen.json["media_attachments"][0]["url"].as_str().unwrap().to_string();
    assert_ne!(bobs_url, post.json["media_attachments"][0]["url"].as_str().unwrap());
    assert_eq!(fetch(&server, &bobs_url).0, 200);
    let home = bob.get("/api/v1/timelines/home");
    assert_eq!(home.json[0]["media_attachments"][0]["id"], id);

    // ...and after posting; the post shows the new text.
    alice.put_form(&format!("/api/v1/media/{id}"), &[("description", "Boats in the harbour")]);
    let seen = bob.get(&format!("/api/v1/statuses/{post_id}"));
    assert_eq!(seen.json["media_attachments"][0]["description"], "Boats in the harbour");

    // A picture belongs to one post.
    let again = alice.post_form("/api/v1/statuses", &[("status", "again"), ("media_ids[]", id)]);
    assert_eq!(again.status, 422, "{:?}", again.json);

    // Deleting the post makes its files unreachable.
    assert_eq!(alice.delete(&format!("/api/v1/statuses/{post_id}")).status, 200);
    assert_eq!(fetch(&server, &bobs_url).0, 404);
    assert_eq!(alice.get(&format!("/api/v1/media/{id}")).status, 404);
}

#[test]
fn hostile_files_are_refused_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");

    let bomb = alice.upload(&samples::png_bomb(12_000), &[]);
    assert_eq!(bomb.status, 422, "{:?}", bomb.json);
    assert!(bomb.json["error"].as_str().unwrap().contains("12000×12000"), "{:?}", bomb.json);
    let whole = samples::jpeg(400, 300);
    let truncated = alice.upload(&whole[..whole.len() / 2], &[]);
    assert_eq!(truncated.status, 422, "{:?}", truncated.json);
    let script = alice.upload(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", &[]);
    assert_eq!(script.status, 422, "{:?}", script.json);
    let empty = alice.multipart("POST", "/api/v2/media", &[("description", "no file")], None);
    assert_eq!(empty.status, 422, "{:?}", empty.json);
    let long = "x".repeat(1_501);
    let described = alice.upload(&whole, &[("description", &long)]);
    assert_eq!(described.status, 422, "{:?}", described.json);
    let focus = alice.upload(&whole, &[("focus", "2,0")]);
    assert_eq!(focus.status, 422, "{:?}", focus.json);
    let too_big = alice.upload(&vec![0u8; 17 * 1024 * 1024], &[]);
    assert_eq!(too_big.status, 413);

    // A PNG sent as `picture.jpg` with type image/jpeg is what its bytes say: kept as PNG,
    // with its transparency.
    let png = upload_ok(&alice, &samples::transparent_png(64, 64), &[]);
    let (_, headers, _) = fetch(&server, png["url"].as_str().unwrap());
    assert_eq!(headers["content-type"], "image/png");
    // A 1×1 image and every other accepted format.
    for bytes in [samples::jpeg(1, 1), samples::webp(50, 40), samples::animated_gif(20, 20, 3)] {
        let m = upload_ok(&alice, &bytes, &[]);
        let (status, _, body) = fetch(&server, m["url"].as_str().unwrap());
        assert_eq!(status, 200);
        assert!(image::load_from_memory(&body).is_ok());
    }
    let gif = upload_ok(&alice, &samples::animated_gif(20, 20, 3), &[]);
    let (_, headers, _) = fetch(&server, gif["url"].as_str().unwrap());
    assert_eq!(headers["content-type"], "image/gif", "animations stay animated");

    // At most four per post, and only one's own.
    let ids: Vec<String> =
        (0..5).map(|_| upload_ok(&alice, &samples::jpeg(8, 8), &[])["id"].as_str().unwrap().to_string()).collect();
    let form: Vec<(&str, &str)> =
        std::iter::once(("status", "five")).chain(ids.iter().map(|i| ("media_ids[]", i.as_str()))).collect();
    assert_eq!(alice.post_form("/api/v1/statuses", &form).status, 422);
    let bob = server.user("bob");
    let theirs = bob.post_form("/api/v1/statuses", &[("status", "not mine"), ("media_ids[]", &ids[0])]);
    assert_eq!(theirs.status, 422);
    assert_eq!(bob.get(&format!("/api/v1/media/{}", ids[0])).status, 404);
    assert_eq!(bob.put_form(&format!("/api/v1/media/{}", ids[0]), &[("description", "mine now")]).status, 404);
    assert_eq!(server.anon().upload(&samples::jpeg(8, 8), &[]).status, 401);
}

#[test]
fn only_those_who_may_see_the_post_may_open_its_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let follower = server.user("follower");
    let stranger = server.user("stranger");
    let blocked = server.user("blocked");
    for f in [&follower, &blocked] {
        f.post(&format!("/api/v1/accounts/{}/follow", alice.id));
    }
    let m = upload_ok(&alice, &samples::jpeg(64, 48), &[]);
    let id = m["id"].as_str().unwrap();
    // Before it is posted, only its owner can open it.
    assert_eq!(fetch(&server, m["url"].as_str().unwrap()).0, 200);
    let post = alice
        .post_form("/api/v1/statuses", &[("status", "team photo"), ("visibility", "private"), ("media_ids[]", id)]);
    assert_eq!(post.status, 200, "{:?}", post.json);
    let post_id = post.json["id"].as_str().unwrap();

    let url_for = |api: &Api| -> String {
        let r = api.get(&format!("/api/v1/statuses/{post_id}"));
        assert_eq!(r.status, 200);
        r.json["media_attachments"][0]["url"].as_str().unwrap().to_string()
    };
    let followers_url = url_for(&follower);
    let blocked_url = url_for(&blocked);
    assert_eq!(fetch(&server, &followers_url).0, 200);
    assert_eq!(stranger.get(&format!("/api/v1/statuses/{post_id}")).status, 404);
    assert_eq!(stranger.get(&format!("/api/v1/media/{id}")).status, 404);
    // A link made for someone else, re-addressed to oneself, is not a link.
    let stranger_id = &stranger.id;
    let forged = followers_url.replace(&format!("v={}", follower.id), &format!("v={stranger_id}"));
    assert_ne!(forged, followers_url);
    assert_eq!(fetch(&server, &forged).0, 404);
    let unsigned = followers_url.split('?').next().unwrap().to_string();
    assert_eq!(fetch(&server, &unsigned).0, 404);

    // Blocked after it got its link: the link stops working at once.
    assert_eq!(fetch(&server, &blocked_url).0, 200);
    alice.post(&format!("/api/v1/accounts/{}/block", blocked.id));
    assert_eq!(fetch(&server, &blocked_url).0, 404);
    // An unfollow does the same for a followers-only post.
    follower.post(&format!("/api/v1/accounts/{}/unfollow", alice.id));
    assert_eq!(fetch(&server, &followers_url).0, 404);
}

#[test]
fn edits_change_pictures_and_keep_the_old_ones_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    let first = upload_ok(&alice, &samples::jpeg(30, 20), &[("description", "first")]);
    let second = upload_ok(&alice, &samples::jpeg(20, 30), &[("description", "second")]);
    let (a, b) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());
    let post = alice.post_form("/api/v1/statuses", &[("status", "one picture"), ("media_ids[]", a)]);
    let post_id = post.json["id"].as_str().unwrap();
    let edited = alice.put_form(
        &format!("/api/v1/statuses/{post_id}"),
        &[("status", "two pictures"), ("media_ids[]", b), ("media_ids[]", a)],
    );
    assert_eq!(edited.status, 200, "{:?}", edited.json);
    let ids: Vec<&str> =
        edited.json["media_attachments"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [b, a]);
    let history = alice.get(&format!("/api/v1/statuses/{post_id}/history"));
    assert_eq!(history.json[0]["media_attachments"].as_array().unwrap().len(), 1);
    assert_eq!(history.json[1]["media_attachments"].as_array().unwrap().len(), 2);
    // An edit that sends no pictures removes them (Mastodon's apps resend them every time).
    let bare = alice.put_form(&format!("/api/v1/statuses/{post_id}"), &[("status", "no pictures")]);
    assert_eq!(bare.json["media_attachments"].as_array().unwrap().len(), 0);
    // What the first version showed is still there to see.
    let url = history.json[0]["media_attachments"][0]["url"].as_str().unwrap();
    assert_eq!(fetch(&server, url).0, 200);
}

#[test]
fn the_v2_api_answers_202_while_processing_and_the_client_polls() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("media.toml");
    std::fs::write(&config, "media_processing_wait_ms = 0\n").unwrap();
    let server = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    let alice = server.user("alice");
    let r = alice.upload(&samples::jpeg(800, 600), &[("description", "later")]);
    assert_eq!(r.status, 202, "{:?}", r.json);
    assert!(r.json["url"].is_null());
    let id = r.json["id"].as_str().unwrap();
    let mut polls = 0;
    let done = loop {
        let g = alice.get(&format!("/api/v1/media/{id}"));
        match g.status {
            200 => break g.json,
            206 => {
                polls += 1;
                assert!(polls < 500, "still processing after 10 s");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => panic!("GET media: {other} {:?}", g.json),
        }
    };
    assert_eq!(done["description"], "later");
    assert_eq!(fetch(&server, done["url"].as_str().unwrap()).0, 200);
    // v1 always answers once processed.
    let v1 = alice.multipart("POST", "/api/v1/media", &[], Some(("file", "x.png", &samples::jpeg(10, 10))));
    assert_eq!(v1.status, 200, "{:?}", v1.json);
    assert!(v1.json["url"].is_string());
}

#[test]
fn avatars_and_headers_are_set_replaced_and_removed_and_every_member_has_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server.create_user("owner");
    let alice = server.user("alice");
    let bob = server.user("bob");

    // Without one, a member has a generated avatar (a real picture, not a broken link).
    let me = bob.get(&format!("/api/v1/accounts/{}", alice.id)).json;
    let (status, headers, body) = fetch(&server, me["avatar"].as_str().unwrap());
    assert_eq!(status, 200, "{me}");
    assert_eq!(headers["content-type"], "image/png");
    let default = image::load_from_memory(&body).unwrap();
    assert_eq!(default.width(), default.height());
    let bobs = bob.get("/api/v1/accounts/verify_credentials").json;
    assert_ne!(bobs["avatar"], me["avatar"], "each member's default differs");
    assert_eq!(fetch(&server, me["header"].as_str().unwrap()).0, 200);

    // A wide photo becomes a square avatar; a square one a 3:1 header.
    let r = alice.multipart(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        &[("display_name", "Alice A.")],
        Some(("avatar", "me.jpg", &samples::jpeg(1200, 600))),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["display_name"], "Alice A.");
    let avatar = r.json["avatar"].as_str().unwrap().to_string();
    assert_ne!(avatar, me["avatar"].as_str().unwrap());
    assert_eq!(r.json["avatar_static"], avatar.as_str());
    let (status, headers, body) = fetch(&server, &avatar);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/jpeg");
    let a = image::load_from_memory(&body).unwrap();
    assert_eq!((a.width(), a.height()), (400, 400));
    let r = alice.multipart(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        &[],
        Some(("header", "banner.png", &samples::transparent_png(900, 900))),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let header = r.json["header"].as_str().unwrap().to_string();
    let h = image::load_from_memory(&fetch(&server, &header).2).unwrap();
    assert_eq!((h.width(), h.height()), (900, 300));

    // Others see the same pictures, in every entity that carries the account.
    let post = alice.status("with a face");
    let seen = bob.get(&format!("/api/v1/statuses/{post}"));
    assert_eq!(seen.json["account"]["avatar"], avatar.as_str());
    assert_eq!(bob.get(&format!("/api/v1/accounts/{}", alice.id)).json["header"], header.as_str());

    // A bad file changes nothing, not even the rest of the form.
    let r = alice.multipart(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        &[("display_name", "Mallory")],
        Some(("avatar", "me.jpg", b"not a picture at all")),
    );
    assert_eq!(r.status, 422, "{:?}", r.json);
    let now = alice.get("/api/v1/accounts/verify_credentials").json;
    assert_eq!(now["display_name"], "Alice A.");
    assert_eq!(now["avatar"], avatar.as_str());
    let r = alice.patch_form("/api/v1/accounts/update_credentials", &[("avatar", "https://example.com/me.png")]);
    assert_eq!(r.status, 422, "an address is not a file: {:?}", r.json);

    // Replacing one retires the old file; removing one brings the default back.
    let r = alice.multipart(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        &[],
        Some(("avatar", "me2.webp", &samples::webp(300, 500))),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let second = r.json["avatar"].as_str().unwrap().to_string();
    assert_ne!(second, avatar);
    assert_eq!(fetch(&server, &avatar).0, 404, "the replaced avatar is gone");
    assert_eq!(fetch(&server, &second).0, 200);
    let r = alice.delete("/api/v1/profile/avatar");
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["avatar"], me["avatar"], "back to the generated one");
    assert_eq!(fetch(&server, &second).0, 404);
    let r = alice.delete("/api/v1/profile/header");
    assert_eq!(r.status, 200);
    assert_ne!(r.json["header"], header.as_str());
    assert_eq!(alice.delete("/api/v1/profile/avatar").status, 200, "removing none is no error");
    assert_eq!(alice.delete("/api/v1/profile/nose").status, 404);

    // A suspended member's pictures are no longer served.
    let r = alice.multipart(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        &[],
        Some(("avatar", "me.jpg", &samples::jpeg(64, 64))),
    );
    let third = r.json["avatar"].as_str().unwrap().to_string();
    assert_eq!(fetch(&server, &third).0, 200);
    let (id, _) = third.split("/media/").nth(1).unwrap().split_once('/').unwrap();
    let r = alice.post_form("/api/v1/statuses", &[("status", "my face"), ("media_ids[]", id)]);
    assert_eq!(r.status, 422, "an avatar is not a post's picture: {:?}", r.json);
    let mut owner = roost_testkit::Browser::new(&server);
    assert_eq!(owner.sign_in("owner", roost_testkit::PASSWORD), 303);
    let csrf = roost_testkit::hidden(&owner.get("/admin").1, "csrf");
    assert_eq!(owner.post("/admin/suspend", &[("csrf", csrf.as_str()), ("id", alice.id.as_str())]).0, 303);
    assert_eq!(fetch(&server, &third).0, 404);
}

#[test]
fn the_web_app_shows_faces_and_sets_a_members_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let alice = server.user("alice");
    alice.status("hello from the web");
    let mut web = roost_testkit::Browser::new(&server);
    assert_eq!(web.sign_in("alice", roost_testkit::PASSWORD), 303);

    // Every post carries its author's face: the generated one first.
    let avatar_src = |page: &str| {
        let at = page.find("class=\"avatar\"").expect("an avatar in the page");
        let tag = &page[page[..at].rfind('<').unwrap()..at + page[at..].find('>').unwrap()];
        let src = tag.split("src=\"").nth(1).unwrap();
        src[..src.find('"').unwrap()].replace("&amp;", "&")
    };
    let (status, home, _) = web.get("/");
    assert_eq!(status, 200);
    let generated = avatar_src(&home);
    assert!(generated.starts_with("/avatars/default/"), "{generated}");
    assert_eq!(fetch(&server, &format!("{}{generated}", server.base)).0, 200);

    // The settings page takes a new avatar as a plain file upload (no JavaScript).
    let (_, settings, _) = web.get("/settings");
    assert!(settings.contains("enctype=\"multipart/form-data\""));
    let csrf = roost_testkit::hidden(&settings, "csrf");
    let photo = samples::jpeg(800, 400);
    let (status, _, headers) =
        web.post_multipart("/settings/pictures", &[("csrf", &csrf)], Some(("avatar", "me.jpg", &photo)));
    assert_eq!(status, 303, "{headers:?}");
    let (_, home, _) = web.get("/");
    let own = avatar_src(&home);
    assert!(own.starts_with("/media/"), "{own}");
    let (status, _, body) = fetch(&server, &format!("{}{own}", server.base));
    assert_eq!(status, 200);
    assert_eq!(image::load_from_memory(&body).unwrap().width(), 400);
    let (_, profile, _) = web.get("/@alice");
    assert_eq!(avatar_src(&profile), own);
    // The owner sees what each member's pictures take.
    let (_, admin, _) = web.get("/admin");
    assert!(admin.contains("<td>1 · "), "one picture, alice's avatar: {admin}");

    // A file that is not a picture is refused on the page, with the reason.
    let (status, page, _) =
        web.post_multipart("/settings/pictures", &[("csrf", &csrf)], Some(("avatar", "me.jpg", b"plain text")));
    assert_eq!(status, 422);
    assert!(page.contains("not an image"), "{page}");

    // Removing it brings the generated one back.
    let (status, _, _) = web.post_multipart("/settings/pictures", &[("csrf", &csrf), ("remove_avatar", "true")], None);
    assert_eq!(status, 303);
    assert_eq!(avatar_src(&web.get("/").1), generated);
}

#[test]
fn a_restore_brings_the_pictures_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let alice = server.user("alice");
    let m = upload_ok(&alice, &samples::jpeg(1280, 800), &[("description", "kept")]);
    let post = alice
        .post_form("/api/v1/statuses", &[("status", "with a picture"), ("media_ids[]", m["id"].as_str().unwrap())]);
    assert_eq!(post.status, 200, "{:?}", post.json);
    let post_id = post.json["id"].as_str().unwrap().to_string();
    assert_eq!(server.interrupt().code(), Some(0));

    // The backup as docs/operations.md says: the whole data directory, modes kept.
    let copy = dir.path().join("copy");
    let data = server.data_dir.clone();
    assert!(std::process::Command::new("cp").arg("-a").arg(&data).arg(&copy).status().unwrap().success());
    let again = dir.path().join("again");
    let out = std::process::Command::new(roost_testkit::roost_bin())
        .args(["restore", "--from", copy.to_str().unwrap(), "--data-dir", again.join("data").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 picture files"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let restored = Server::start(&again);
    let alice = roost_testkit::Api { token: restored.token("alice", roost_testkit::PASSWORD), ..restored.anon() };
    let seen = alice.get(&format!("/api/v1/statuses/{post_id}"));
    assert_eq!(seen.status, 200, "{:?}", seen.json);
    let url = seen.json["media_attachments"][0]["url"].as_str().unwrap();
    let (status, _, body) = fetch(&restored, url);
    assert_eq!(status, 200);
    assert_eq!(image::load_from_memory(&body).unwrap().width(), 1280);
}

#[test]
fn a_scheduled_post_holds_its_pictures_until_it_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roost.toml");
    std::fs::write(&config, "scheduled_status_min_secs = 2\n").unwrap();
    let server = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    bob.post(&format!("/api/v1/accounts/{}/follow", alice.id));
    let photo = upload_ok(&alice, &samples::jpeg(64, 48), &[("description", "The team at the offsite")]);
    let spare = upload_ok(&alice, &samples::jpeg(32, 32), &[]);
    let (photo_id, spare_id) = (photo["id"].as_str().unwrap(), spare["id"].as_str().unwrap());

    let r = alice.post_form(
        "/api/v1/statuses",
        &[
            ("status", "Our offsite, tomorrow morning"),
            ("media_ids[]", photo_id),
            ("scheduled_at", &roost_testkit::iso_in(4)),
        ],
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let scheduled = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(r.json["params"]["media_ids"], serde_json::json!([photo_id]));
    assert_eq!(r.json["media_attachments"][0]["id"], photo_id);
    assert_eq!(r.json["media_attachments"][0]["description"], "The team at the offsite");
    let listed = alice.get("/api/v1/scheduled_statuses");
    assert_eq!(listed.json[0]["media_attachments"][0]["id"], photo_id);
    // Its author can look at the picture before it goes out; nobody else can name it.
    let url = listed.json[0]["media_attachments"][0]["preview_url"].as_str().unwrap();
    assert_eq!(fetch(&server, url).0, 200);
    // Held for the scheduled post: no other post may take it meanwhile.
    let taken = alice.post_form("/api/v1/statuses", &[("status", "sneaky"), ("media_ids[]", photo_id)]);
    assert_eq!(taken.status, 422, "{:?}", taken.json);

    // A cancelled one gives its pictures back for another post.
    let r = alice.post_form(
        "/api/v1/statuses",
        &[("status", "maybe later"), ("media_ids[]", spare_id), ("scheduled_at", &roost_testkit::iso_in(60))],
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let cancelled = r.json["id"].as_str().unwrap();
    assert_eq!(alice.delete(&format!("/api/v1/scheduled_statuses/{cancelled}")).status, 200);
    let reused = alice.post_form("/api/v1/statuses", &[("status", "now instead"), ("media_ids[]", spare_id)]);
    assert_eq!(reused.status, 200, "{:?}", reused.json);

    // At its time it is published with the picture, which its followers can open.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let published = loop {
        let home = bob.get("/api/v1/timelines/home");
        if let Some(s) =
            home.json.as_array().unwrap().iter().find(|s| s["content"].as_str().unwrap().contains("offsite"))
        {
            break s.clone();
        }
        assert!(std::time::Instant::now() < deadline, "the scheduled post never came out");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(published["media_attachments"][0]["id"], photo_id);
    assert_eq!(published["media_attachments"][0]["description"], "The team at the offsite");
    let url = published["media_attachments"][0]["url"].as_str().unwrap();
    assert_eq!(fetch(&server, url).0, 200);
    assert_eq!(alice.get(&format!("/api/v1/scheduled_statuses/{scheduled}")).status, 404);
}
