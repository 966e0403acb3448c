//! Starting real `roost` processes on port 0 in temporary directories, and talking to them
//! over real HTTP. Shared by the integration and crash test binaries.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub const PASSWORD: &str = "correct horse battery";
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub fn roost_bin() -> &'static str {
    env!("CARGO_BIN_EXE_roost")
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

/// A response: status, parsed JSON (Null if none) and headers.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub json: Value,
    pub headers: HeaderMap,
}

impl Resp {
    pub fn ids(&self) -> Vec<String> {
        self.json
            .as_array()
            .map(|a| a.iter().map(|v| v["id"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    /// The URL of a `Link` relation (`next` or `prev`).
    pub fn link(&self, rel: &str) -> Option<String> {
        let link = self.headers.get("link")?.to_str().ok()?;
        link.split(", ").find(|p| p.ends_with(&format!("rel=\"{rel}\""))).map(|p| {
            let start = p.find('<').unwrap() + 1;
            let end = p.find('>').unwrap();
            p[start..end].to_string()
        })
    }
}

/// A client signed in as one user (or anonymous).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    pub http: Client,
    pub id: String,
}

impl Api {
    fn send(&self, req: reqwest::blocking::RequestBuilder) -> Resp {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { status, json, headers }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path)))
    }

    pub fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.http.post(self.url(path)).form(form))
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Resp {
        self.send(self.http.post(self.url(path)).json(body))
    }

    pub fn post(&self, path: &str) -> Resp {
        self.send(self.http.post(self.url(path)))
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        self.send(self.http.post(self.url(path)).header("content-type", content_type).body(body))
    }

    pub fn patch_form(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.http.patch(self.url(path)).form(form))
    }

    pub fn put_form(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.http.put(self.url(path)).form(form))
    }

    /// Any method with a JSON body.
    pub fn send_json(&self, method: &str, path: &str, body: &Value) -> Resp {
        self.send(self.http.request(method.parse().unwrap(), self.url(path)).json(body))
    }

    /// Any method with a body of the given type.
    pub fn send_raw(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        let req = self.http.request(method.parse().unwrap(), self.url(path));
        self.send(req.header("content-type", content_type).body(body))
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.send(self.http.delete(self.url(path)))
    }

    pub fn post_with_headers(&self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Resp {
        let mut req = self.http.post(self.url(path)).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req)
    }

    /// Posts a status; returns its id (panics unless 200).
    pub fn status(&self, text: &str) -> String {
        self.status_with(&[("status", text)])
    }

    pub fn status_with(&self, form: &[(&str, &str)]) -> String {
        let r = self.post_form("/api/v1/statuses", form);
        assert_eq!(r.status, 200, "posting {form:?}: {:?}", r.json);
        r.json["id"].as_str().unwrap().to_string()
    }

    /// Follows every page of a paginated list through its `Link: next` headers.
    pub fn all_pages(&self, first: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut next = Some(first.to_string());
        let mut pages = 0;
        while let Some(url) = next {
            let r = self.get(&url);
            assert_eq!(r.status, 200, "{url}: {:?}", r.json);
            if r.ids().is_empty() {
                break;
            }
            ids.extend(r.ids());
            next = r.link("next");
            pages += 1;
            assert!(pages < 1000, "pagination does not end");
        }
        ids
    }
}

/// One event of a live stream, as a client receives it.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    /// The stream it came on (WebSocket only; server-sent events have one stream each).
    pub stream: Vec<String>,
    pub event: String,
    pub payload: String,
}

impl StreamEvent {
    /// The payload parsed as JSON (an entity), or `Null` for a `delete` ID.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.payload).unwrap_or(Value::Null)
    }
}

/// A live stream read by a background thread.
pub struct Events {
    rx: mpsc::Receiver<StreamEvent>,
    /// For a WebSocket: frames to send to the server.
    tx: Option<mpsc::Sender<String>>,
}

/// How long a test waits for an event it expects.
const EVENT_WAIT: Duration = Duration::from_secs(20);

impl Events {
    /// The next event; panics if none comes within a generous bound.
    pub fn next(&self) -> StreamEvent {
        self.rx.recv_timeout(EVENT_WAIT).expect("no event arrived on the stream")
    }

    /// The next event, or `None` if the stream ended (or nothing came for a while).
    pub fn try_next(&self, within: Duration) -> Option<StreamEvent> {
        self.rx.recv_timeout(within).ok()
    }

    /// Sends a text frame (WebSocket only).
    pub fn send(&self, text: &str) {
        self.tx.as_ref().expect("a WebSocket").send(text.to_string()).unwrap();
    }
}

impl Api {
    /// Opens a server-sent-events stream (`/api/v1/streaming/...`) and reads it in the
    /// background. Panics unless the server answers 200.
    pub fn sse(&self, path: &str) -> Events {
        let (status, events) = self.try_sse(path);
        assert_eq!(status, 200, "opening {path}");
        events
    }

    /// Like [`Api::sse`], returning the status instead of insisting on 200.
    pub fn try_sse(&self, path: &str) -> (u16, Events) {
        let client = Client::builder().timeout(None).build().unwrap();
        let mut req = client.get(self.url(path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().expect("streaming request");
        let status = resp.status().as_u16();
        let (tx, rx) = mpsc::channel();
        if status == 200 {
            std::thread::spawn(move || {
                let (mut event, mut data) = (String::new(), String::new());
                for line in BufReader::new(resp).lines() {
                    let Ok(line) = line else { return };
                    if let Some(e) = line.strip_prefix("event:") {
                        event = e.trim().to_string();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data = d.strip_prefix(' ').unwrap_or(d).to_string();
                    } else if line.is_empty() && !event.is_empty() {
                        let e = StreamEvent {
                            stream: Vec::new(),
                            event: std::mem::take(&mut event),
                            payload: std::mem::take(&mut data),
                        };
                        if tx.send(e).is_err() {
                            return;
                        }
                    }
                }
            });
        }
        (status, Events { rx, tx: None })
    }

    /// Opens the WebSocket at `/api/v1/streaming?query`, with the token in the query string
    /// (or, with `protocol_token`, as `Sec-WebSocket-Protocol`). Returns the stream and the
    /// handshake response's `Sec-WebSocket-Protocol`, or the HTTP status of a refusal.
    pub fn websocket(&self, query: &str, protocol_token: bool) -> Result<(Events, Option<String>), u16> {
        use tungstenite::client::IntoClientRequest;
        let ws_base = self.base.replacen("http://", "ws://", 1);
        let mut url = format!("{ws_base}/api/v1/streaming?{query}");
        if let (Some(t), false) = (&self.token, protocol_token) {
            url.push_str(&format!("&access_token={t}"));
        }
        let mut req = url.into_client_request().unwrap();
        if let (Some(t), true) = (&self.token, protocol_token) {
            req.headers_mut().insert("sec-websocket-protocol", t.parse().unwrap());
        }
        let (mut socket, resp) = match tungstenite::connect(req) {
            Ok(ok) => ok,
            Err(tungstenite::Error::Http(resp)) => return Err(resp.status().as_u16()),
            Err(e) => panic!("websocket: {e}"),
        };
        let protocol = resp.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap().to_string());
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = socket.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        }
        let (tx, rx) = mpsc::channel();
        let (out_tx, out_rx) = mpsc::channel::<String>();
        std::thread::spawn(move || loop {
            while let Ok(text) = out_rx.try_recv() {
                if socket.send(tungstenite::Message::text(text)).is_err() {
                    return;
                }
            }
            match socket.read() {
                Ok(tungstenite::Message::Text(text)) => {
                    let v: Value = serde_json::from_str(text.as_str()).unwrap();
                    let e = StreamEvent {
                        stream: v["stream"]
                            .as_array()
                            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                            .unwrap_or_default(),
                        event: v["event"]
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("error:{}", v["status"])),
                        payload: v["payload"].as_str().or(v["error"].as_str()).unwrap_or_default().to_string(),
                    };
                    if tx.send(e).is_err() {
                        return;
                    }
                }
                Ok(tungstenite::Message::Close(frame)) => {
                    let reason = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_default();
                    let _ = tx.send(StreamEvent { stream: Vec::new(), event: "close".into(), payload: reason });
                    return;
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        });
        Ok((Events { rx, tx: Some(out_tx) }, protocol))
    }
}

/// An ISO 8601 time `secs` from now, as clients send them (`scheduled_at`).
pub fn iso_in(secs: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let ms = now + secs * 1000;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // The civil date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, min, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}
