//! Live streams as a client reads them: server-sent events and the WebSocket, each read by a
//! background thread into a channel the test waits on.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::Value;

use crate::Api;

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
