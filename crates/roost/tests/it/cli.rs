//! The `roost` command itself: configuration, the admin channel, shutdown and restart.

use std::process::Command;

use roost_testkit::{admin_create_user, roost_bin, Server, PASSWORD};

#[test]
fn unknown_config_keys_and_bad_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roost.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlisten_adress = \"typo\"\n").unwrap();
    let out = Command::new(roost_bin()).args(["serve", "--config", config.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field") && err.contains("listen_adress"), "{err}");

    let out = Command::new(roost_bin()).args(["serve", "--listen", "not-an-address"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOST:PORT"));
}

#[test]
fn admin_without_a_running_server_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = admin_create_user(dir.path(), "alice", PASSWORD, &[]);
    assert!(!ok);
    assert!(out.is_empty());
    assert!(err.contains("no Roost server is running") && err.contains("roost serve"), "{err}");
    let out = Command::new(roost_bin())
        .args(["admin", "create-user", "alice", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));
}

#[test]
fn env_config_clean_shutdown_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-env");
    let mut server = Server::start_with(
        dir.path(),
        &[],
        &[("ROOST_DATA_DIR", data.to_str().unwrap()), ("ROOST_LISTEN", "127.0.0.1:0")],
    );
    assert!(data.join("state.redb").exists(), "the data dir came from ROOST_DATA_DIR");
    assert!(server.log().contains("create the owner"), "an empty instance says how to begin:\n{}", server.log());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("admin.sock")).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the admin socket is for its owner only");

    // A second server on the same data dir refuses to start.
    let out = Command::new(roost_bin())
        .args(["serve", "--data-dir", data.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).to_lowercase().contains("database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let alice = server.user("alice");
    let post = alice.status("survives restarts");
    let node_before = alice.get("/api/roost/v1/node?digest=true").json;

    let status = server.interrupt();
    assert!(status.success(), "Ctrl-C exits cleanly: {status:?}");
    assert!(!data.join("admin.sock").exists(), "the socket is removed on shutdown");
    let (ok, _, err) = admin_create_user(&data, "bob", PASSWORD, &[]);
    assert!(!ok && err.contains("no Roost server is running"), "{err}");

    let log_so_far = server.log().len();
    let server = Server::start_with(dir.path(), &["--data-dir", data.to_str().unwrap()], &[]);
    let mut alice2 = server.anon();
    alice2.token = alice.token.clone();
    assert_eq!(alice2.get(&format!("/api/v1/statuses/{post}")).json["content"], "<p>survives restarts</p>");
    let node_after = alice2.get("/api/roost/v1/node?digest=true").json;
    assert_eq!(node_before["state_digest"], node_after["state_digest"], "the state is exactly as it was");
    assert!(node_after["chain"]["index"].as_u64() >= node_before["chain"]["index"].as_u64());
    assert!(!server.log()[log_so_far..].contains("create the owner"));
}
