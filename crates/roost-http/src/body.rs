//! Request bodies bounded in time.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

/// The error a body that did not arrive in time ends with; the HTTP layer answers it with 408.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body did not arrive within {} seconds", .0.as_secs())]
pub struct BodyTimeout(pub Duration);

/// A request body that fails with [`BodyTimeout`] unless it has arrived in full by a deadline
/// set when its head arrived.
pub struct TimedBody {
    inner: Incoming,
    timeout: Duration,
    deadline: Instant,
    /// Armed the first time the body has to be waited for (most requests have none, or one
    /// that is already in the buffer).
    sleep: Option<Pin<Box<Sleep>>>,
}

impl TimedBody {
    pub fn new(inner: Incoming, timeout: Duration) -> TimedBody {
        TimedBody { inner, timeout, deadline: Instant::now() + timeout, sleep: None }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|r| r.map_err(Into::into))),
            Poll::Pending => {
                let deadline = this.deadline;
                let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
