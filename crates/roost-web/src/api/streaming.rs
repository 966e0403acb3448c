//! Mastodon's streaming API: a multiplexed WebSocket at `/api/v1/streaming`, and one
//! server-sent-events endpoint per stream. What each connection hears is decided in
//! [`crate::streaming`].

use std::time::Duration;

use axum::extract::ws::{rejection::WebSocketUpgradeRejection, CloseFrame, Message as WsMessage, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::header::SEC_WEBSOCKET_PROTOCOL;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::params::Input;
use crate::sse::server_sent_events;
use crate::streaming::{Ended, Inbox, Message, Session, Stream, HEARTBEAT};
use crate::AppState;

/// Longest a client may take to accept one WebSocket frame before it is given up on.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest message a client may send (subscription requests are tiny).
const MAX_CLIENT_MESSAGE: usize = 4096;
/// Bytes read from a client socket at a time.
const READ_BUFFER: usize = 4096;

#[derive(Deserialize, Default)]
pub struct StreamParams {
    stream: Option<String>,
    tag: Option<String>,
    list: Option<String>,
    only_media: Option<String>,
}

pub async fn health() -> &'static str {
    "OK"
}

fn open(state: &AppState, user: &User) -> ApiResult<(Session, Inbox)> {
    Session::open(state, user.id(), user.token_hash, user.token.scopes.clone())
}

/// `GET /api/v1/streaming`: upgrades to a WebSocket. A plain GET answers 404, which tells
/// clients probing for a separate streaming host to use this one.
pub async fn websocket(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Result<User, ApiError>,
    Input(p): Input<StreamParams>,
) -> ApiResult<Response> {
    let Ok(ws) = ws else { return Err(ApiError::NotFound) };
    let user = user?;
    let first = match &p.stream {
        Some(name) => Some(Stream::parse(name, p.tag.as_deref(), p.list.as_deref()).map_err(bad_stream)?),
        None => None,
    };
    let (mut session, inbox) = open(&state, &user)?;
    if let Some(stream) = first {
        session.subscribe(stream)?;
    }
    // A client that sent its token as the subprotocol expects it echoed back.
    // Clients only send small subscription messages: a small read buffer (the default is
    // 128 KiB per connection) keeps thousands of open streams cheap.
    let mut ws = ws.max_message_size(MAX_CLIENT_MESSAGE).read_buffer_size(READ_BUFFER);
    if let Some(protocol) = headers.get(SEC_WEBSOCKET_PROTOCOL).and_then(|v| v.to_str().ok()) {
        if let Some(first) = protocol.split(',').map(str::trim).find(|p| !p.is_empty()) {
            ws = ws.protocols([first.to_string()]);
        }
    }
    Ok(ws.on_upgrade(move |socket| serve_websocket(socket, session, inbox)).into_response())
}

fn bad_stream(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_string())
}

async fn serve_websocket(mut socket: WebSocket, mut session: Session, mut inbox: Inbox) {
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.tick().await;
    let close = loop {
        tokio::select! {
            delivery = inbox.recv() => {
                let Some(delivery) = delivery else {
                    break Some((1013, "Too slow: events were piling up; reconnect and catch up"));
                };
                let messages = match session.render(&delivery) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "rendering a streamed event failed");
                        continue;
                    }
                };
                let mut failed = false;
                for m in messages {
                    if !send(&mut socket, event_json(&m)).await {
                        failed = true;
                        break;
                    }
                }
                if failed {
                    break None;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Text(text))) => {
                    if let Some(reply) = handle_client_message(&mut session, text.as_str()) {
                        if !send(&mut socket, reply).await {
                            break None;
                        }
                    }
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break None,
                // Pings are answered by the WebSocket layer; pongs and binary frames mean nothing.
                Some(Ok(_)) => {}
            },
            _ = beat.tick() => {
                match session.still_valid() {
                    Ok(Ok(())) => {}
                    Ok(Err(Ended::Revoked)) => break Some((1008, "The access token was revoked")),
                    Ok(Err(Ended::TooSlow)) | Err(_) => break Some((1011, "Internal error")),
                }
                if !send_frame(&mut socket, WsMessage::Ping(Vec::new().into())).await {
                    break None;
                }
            }
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame { code, reason: reason.into() };
        let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(WsMessage::Close(Some(frame)))).await;
    }
}

/// A subscription request from the client, as Mastodon's streaming server reads them.
#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    stream: String,
    tag: Option<String>,
    list: Option<String>,
}

/// Applies a `subscribe`/`unsubscribe` message; returns an error message for the client.
fn handle_client_message(session: &mut Session, text: &str) -> Option<String> {
    let error = |message: &str| Some(json!({ "error": message, "status": 400 }).to_string());
    let Ok(m) = serde_json::from_str::<ClientMessage>(text) else {
        return error("Invalid message: expected {\"type\":\"subscribe\"|\"unsubscribe\",\"stream\":...}");
    };
    let stream = match Stream::parse(&m.stream, m.tag.as_deref(), m.list.as_deref()) {
        Ok(s) => s,
        Err(e) => return error(e),
    };
    match m.kind.as_str() {
        "subscribe" => match session.subscribe(stream) {
            Ok(()) => None,
            Err(e) => Some(json!({ "error": e.to_string(), "status": e.status().as_u16() }).to_string()),
        },
        "unsubscribe" => {
            session.unsubscribe(&stream);
            None
        }
        _ => error("Unknown message type: expected subscribe or unsubscribe"),
    }
}

fn event_json(m: &Message) -> String {
    // Events without a payload (`filters_changed`) carry none, as on Mastodon.
    if m.payload.is_empty() {
        return json!({ "stream": m.stream, "event": m.event }).to_string();
    }
    json!({ "stream": m.stream, "event": m.event, "payload": m.payload }).to_string()
}

async fn send(socket: &mut WebSocket, text: String) -> bool {
    send_frame(socket, WsMessage::Text(text.into())).await
}

async fn send_frame(socket: &mut WebSocket, frame: WsMessage) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, socket.send(frame)).await, Ok(Ok(())))
}

/// `GET /api/v1/streaming/<stream>`: one stream as server-sent events.
pub async fn server_sent(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
    Input(p): Input<StreamParams>,
) -> ApiResult<Response> {
    let path = uri.path().trim_start_matches("/api/v1/streaming/").trim_end_matches('/');
    let media = p.only_media.as_deref().is_some_and(|v| matches!(v, "true" | "1"));
    let name = match (path, media) {
        ("user", _) => "user",
        ("user/notification", _) => "user:notification",
        ("public", false) => "public",
        ("public", true) => "public:media",
        ("public/local", false) => "public:local",
        ("public/local", true) => "public:local:media",
        ("public/remote", false) => "public:remote",
        ("public/remote", true) => "public:remote:media",
        ("hashtag", _) => "hashtag",
        ("hashtag/local", _) => "hashtag:local",
        ("list", _) => "list",
        ("direct", _) => "direct",
        _ => return Err(ApiError::BadRequest("Unknown channel requested".into())),
    };
    let stream = Stream::parse(name, p.tag.as_deref(), p.list.as_deref()).map_err(bad_stream)?;
    let (session, inbox) = open(&state, &user)?;
    server_sent_events(session, inbox, stream)
}
