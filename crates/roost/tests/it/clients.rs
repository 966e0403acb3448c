//! Real Mastodon client libraries against a real server: Mastodon.py (Python), masto.js and
//! megalodon (Node), each run against a fresh `roost serve` with alice, bob, carol, dave and
//! erin created.
//! The suites live in `clients/`; `clients/setup` installs the libraries at pinned versions
//! (from PyPI and npm) the first time, under a lock since the tests run in parallel.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use roost_testkit::{Server, PASSWORD};

/// A bound on one client suite, so that a hang fails instead of stalling CI.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// The `clients/` directory, with its libraries installed.
fn clients_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients").canonicalize().unwrap();
    let lock = dir.join(".setup.lock");
    let out = Command::new("flock")
        .arg(&lock)
        .arg(dir.join("setup"))
        .arg("--if-needed")
        .output()
        .expect("running clients/setup (needs flock, python3 with venv, node and npm)");
    assert!(
        out.status.success(),
        "clients/setup failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Runs one suite against a fresh server; fails with its output unless it passes.
fn run_suite(program: &Path, args: &[&str], cwd: &Path) {
    run_suite_with(program, args, cwd, &[], |_| Vec::new());
}

/// Runs a suite with extra environment, some of it (`prepare`) made from the started server.
fn run_suite_with(
    program: &Path,
    args: &[&str],
    cwd: &Path,
    env: &[(&str, &str)],
    prepare: impl FnOnce(&Server) -> Vec<(&'static str, String)>,
) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        server.create_user(name);
    }
    let prepared = prepare(&server);
    let out_path = dir.path().join("suite.out");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env("ROOST_URL", &server.base)
        .env("ROOST_PASSWORD", PASSWORD)
        .envs(env.iter().copied())
        .envs(prepared.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > SUITE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    match status {
        Some(s) if s.success() => println!("{output}"),
        Some(s) => panic!("{} {args:?} failed ({s}):\n{output}\n--- server log:\n{}", program.display(), server.log()),
        None => panic!("{} {args:?} ran past {SUITE_TIMEOUT:?}:\n{output}", program.display()),
    }
}

#[test]
fn mastodon_py() {
    let dir = clients_dir().join("python");
    run_suite(&dir.join(".venv/bin/python"), &["-m", "unittest", "-v", "test_mastodon_py"], &dir);
}

/// masto 8 needs a global WebSocket, which Node 20 has behind a flag (Node 22 by default).
#[test]
fn masto_js() {
    let dir = clients_dir().join("js");
    run_suite(Path::new("node"), &["--experimental-websocket", "--test", "masto.test.mjs"], &dir);
}

/// The web app in Debian's Chromium (playwright-core), with and without JavaScript, checked by
/// axe-core; screenshots of each page at phone and desktop widths, light and dark, are left in
/// `target/screenshots`. One of the invites the suite signs up with comes from
/// `roost admin invite`, the other from the admin page.
#[test]
fn web_app_in_a_browser() {
    let dir = clients_dir().join("js");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&artifacts).unwrap();
    run_suite_with(
        Path::new("node"),
        &["--test", "--test-concurrency=1", "browser.test.mjs"],
        &dir,
        &[("ROOST_ARTIFACTS", artifacts.to_str().unwrap())],
        |server| {
            let (ok, out, err) = server.admin_invite(&["--max-uses", "2", "--expires", "1d"]);
            assert!(ok, "roost admin invite failed: {err}");
            let link = out.trim().to_string();
            assert!(link.starts_with(&format!("{}/invite/", server.base)), "{link}");
            vec![("ROOST_INVITE", link)]
        },
    );
}

/// A browser app on an origin of its own (as Elk and Phanpy are) uses the API, its token
/// endpoint and the streaming API through CORS, in Debian's Chromium.
#[test]
fn browser_app_on_another_origin() {
    let dir = clients_dir().join("js");
    run_suite(Path::new("node"), &["--test", "cors.test.mjs"], &dir);
}

#[test]
fn megalodon() {
    let dir = clients_dir().join("js");
    run_suite(Path::new("node"), &["--test", "megalodon.test.mjs"], &dir);
}
