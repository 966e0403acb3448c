//! A write's response: the body and the log index it was applied at.

use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

/// The response header naming the log index a write was applied at. A client that sends it
/// back as `X-Roost-Min-Index` reads its own writes on any node.
pub const INDEX_HEADER: HeaderName = HeaderName::from_static("x-roost-index");
pub const MIN_INDEX_HEADER: HeaderName = HeaderName::from_static("x-roost-min-index");

/// A write's response: the body plus the log index header.
pub struct Written<T>(pub T, pub u64);

impl<T: IntoResponse> IntoResponse for Written<T> {
    fn into_response(self) -> Response {
        let mut resp = self.0.into_response();
        resp.headers_mut().insert(INDEX_HEADER, HeaderValue::from(self.1));
        resp
    }
}
