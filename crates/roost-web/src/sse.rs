//! One stream of a live session as a server-sent-events response: what the API's per-stream
//! endpoints and the web app's live timeline both serve.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};

use crate::error::ApiResult;
use crate::streaming::{Inbox, Message, Session, Stream, HEARTBEAT};

/// One stream of a session as a server-sent-events response (the API's and the web app's).
pub fn server_sent_events(mut session: Session, inbox: Inbox, stream: Stream) -> ApiResult<Response> {
    session.subscribe(stream)?;
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.reset(); // the first heartbeat after one interval, not at once
    let feed = Feed { session, inbox, beat, pending: VecDeque::new(), done: false };
    let events = futures_util::stream::unfold(feed, next_sse);
    let mut response = Sse::new(events).into_response();
    // Proxies must pass events through as they come.
    response.headers_mut().insert("x-accel-buffering", axum::http::HeaderValue::from_static("no"));
    Ok(response)
}

/// The state of one server-sent-events response.
struct Feed {
    session: Session,
    inbox: Inbox,
    beat: tokio::time::Interval,
    pending: VecDeque<Message>,
    done: bool,
}

async fn next_sse(mut f: Feed) -> Option<(Result<SseEvent, Infallible>, Feed)> {
    loop {
        if let Some(m) = f.pending.pop_front() {
            // EventSource drops events without data; Mastodon sends `undefined` for none.
            let data = if m.payload.is_empty() { "undefined".to_string() } else { m.payload };
            let event = SseEvent::default().event(m.event).data(data);
            return Some((Ok(event), f));
        }
        if f.done {
            return None;
        }
        tokio::select! {
            delivery = f.inbox.recv() => match delivery {
                Some(d) => match f.session.render(&d) {
                    Ok(messages) => f.pending.extend(messages),
                    Err(e) => tracing::warn!(error = %e, "rendering a streamed event failed"),
                },
                // Dropped for falling behind: end the response; the client reconnects.
                None => f.done = true,
            },
            _ = f.beat.tick() => match f.session.still_valid() {
                Ok(Ok(())) => return Some((Ok(SseEvent::default().comment("thump")), f)),
                _ => f.done = true,
            },
        }
    }
}
