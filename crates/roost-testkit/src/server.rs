//! Real `roost` processes: started on port 0 in a temporary directory, stopped, killed, and
//! given members through the admin CLI and tokens through the OAuth password grant.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::blocking::Client;

use crate::{Api, PASSWORD};

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `roost` binary: `ROOST_BIN` if set, else the one cargo built beside the running test
/// (integration tests run from `target/<profile>/deps`, binaries live one folder up).
pub fn roost_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("ROOST_BIN") {
            return PathBuf::from(bin);
        }
        let exe = std::env::current_exe().unwrap();
        let mut dir = exe.parent().unwrap();
        if dir.ends_with("deps") {
            dir = dir.parent().unwrap();
        }
        let bin = dir.join("roost");
        assert!(bin.exists(), "no roost binary at {}: build it (cargo build -p roost) or set ROOST_BIN", bin.display());
        bin
    })
}

/// A running server process.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    /// For a cluster member: its node ID and cluster address, as it printed them.
    pub cluster: Option<(String, String)>,
    pub data_dir: PathBuf,
    log: PathBuf,
    http: Client,
    app: std::cell::OnceCell<(String, String)>,
}

impl Server {
    /// Starts a server with a fresh data directory inside `root`.
    pub fn start(root: &Path) -> Server {
        Server::start_with(root, &[], &[])
    }

    /// Starts a server without rate limits, for tests that load it harder than a member would.
    pub fn start_unlimited(root: &Path) -> Server {
        let config = root.join("unlimited.toml");
        std::fs::write(&config, "rate_limit_authenticated = 0\nrate_limit_unauthenticated = 0\n").unwrap();
        Server::start_with(root, &["--config", config.to_str().unwrap()], &[])
    }

    /// Starts a server on `root/data` with extra flags and environment.
    pub fn start_with(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_wrapped(root, &[], args, env)
    }

    /// Like [`Server::start_with`], run through `wrapper` (such as `ip netns exec NS`).
    pub fn start_wrapped(root: &Path, wrapper: &[&str], args: &[&str], env: &[(&str, &str)]) -> Server {
        let data_dir = env
            .iter()
            .find(|(k, _)| *k == "ROOST_DATA_DIR")
            .map(|(_, v)| PathBuf::from(v))
            .unwrap_or_else(|| root.join("data"));
        let log = root.join("server.log");
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(roost_bin());
                c
            }
            None => Command::new(roost_bin()),
        };
        cmd.arg("serve");
        if !args.contains(&"--data-dir") && !env.iter().any(|(k, _)| *k == "ROOST_DATA_DIR") {
            cmd.args(["--data-dir", data_dir.to_str().unwrap()]);
        }
        if !args.contains(&"--listen") && !env.iter().any(|(k, _)| *k == "ROOST_LISTEN") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(args).envs(env.iter().copied()).stdout(Stdio::piped()).stderr(log_file);
        let mut child = cmd.spawn().expect("spawning roost");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("roost listening on ") {
                    let _ = tx.send((true, url.to_string()));
                } else if let Some(node) = line.strip_prefix("roost cluster node ") {
                    let _ = tx.send((false, node.to_string()));
                }
            }
        });
        let mut cluster = None;
        let base = loop {
            match rx.recv_timeout(START_TIMEOUT) {
                Ok((true, url)) => break url,
                Ok((false, node)) => {
                    let (id, addr) = node.split_once(" on ").unwrap();
                    cluster = Some((id.to_string(), addr.to_string()));
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("roost did not start; log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
                }
            }
        };
        Server {
            child: Some(child),
            base,
            cluster,
            data_dir,
            log,
            http: Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
            app: std::cell::OnceCell::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends a signal (`STOP`, `CONT`, `TERM`…) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.pid().to_string();
        assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success());
    }

    /// Waits for the process to exit by itself; its status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        self.child.take().unwrap().wait().unwrap()
    }

    /// kill -9.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Ctrl-C, then waits for the exit status.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().unwrap();
        let ok = Command::new("kill").args(["-INT", &c.id().to_string()]).status().unwrap();
        assert!(ok.success());
        c.wait().unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `roost admin create-user`; returns (exit success, stdout, stderr).
    pub fn admin_create_user(&self, username: &str, password: &str, extra: &[&str]) -> (bool, String, String) {
        admin_create_user(&self.data_dir, username, password, extra)
    }

    /// Creates an account through the admin CLI; returns its id.
    pub fn create_user(&self, username: &str) -> String {
        let (ok, out, err) = self.admin_create_user(username, PASSWORD, &[]);
        assert!(ok, "create-user {username} failed: {err}");
        out.trim().to_string()
    }

    /// Runs `roost admin invite` with `args`: (success, stdout, stderr).
    pub fn admin_invite(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(roost_bin())
            .args(["admin", "invite", "--data-dir", self.data_dir.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    /// The (client_id, client_secret) of an app registered for the tests.
    pub fn app(&self) -> (String, String) {
        self.app
            .get_or_init(|| {
                let r = self.anon().post_form(
                    "/api/v1/apps",
                    &[
                        ("client_name", "roost tests"),
                        ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
                        ("scopes", "read write follow push"),
                    ],
                );
                assert_eq!(r.status, 200, "{:?}", r.json);
                (r.json["client_id"].as_str().unwrap().into(), r.json["client_secret"].as_str().unwrap().into())
            })
            .clone()
    }

    pub fn token(&self, username: &str, password: &str) -> Option<String> {
        self.token_scoped(username, password, "read write follow")
    }

    /// A password-grant token limited to `scope`.
    pub fn token_scoped(&self, username: &str, password: &str, scope: &str) -> Option<String> {
        let (id, secret) = self.app();
        let r = self.anon().post_form(
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("username", username),
                ("password", password),
                ("scope", scope),
            ],
        );
        (r.status == 200).then(|| r.json["access_token"].as_str().unwrap().to_string())
    }

    /// Creates a user and signs in.
    pub fn user(&self, username: &str) -> Api {
        let id = self.create_user(username);
        let token = self.token(username, PASSWORD).expect("sign-in");
        Api { base: self.base.clone(), token: Some(token), http: self.http.clone(), id }
    }

    /// A client without a token.
    pub fn anon(&self) -> Api {
        Api { base: self.base.clone(), token: None, http: self.http.clone(), id: String::new() }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn admin_create_user(data_dir: &Path, username: &str, password: &str, extra: &[&str]) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(roost_bin())
        .args(["admin", "create-user", username, "--password-stdin", "--data-dir", data_dir.to_str().unwrap()])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}
