//! Mastodon pagination: `limit`, `max_id`, `since_id`, `min_id` in, a `Link` header out.

use axum::http::header::{CONTENT_TYPE, LINK};
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use roost_core::query::Page;
use roost_types::Id;
use serde::{Deserialize, Serialize};

use crate::entities::StatusJson;
use crate::params::de;
use crate::WebConfig;

/// Default page size.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page size for timelines.
pub const MAX_LIMIT: usize = 40;

#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    #[serde(default, deserialize_with = "de::id_opt")]
    pub max_id: Option<Id>,
    #[serde(default, deserialize_with = "de::id_opt")]
    pub since_id: Option<Id>,
    #[serde(default, deserialize_with = "de::id_opt")]
    pub min_id: Option<Id>,
    #[serde(default, deserialize_with = "de::usize_opt")]
    pub limit: Option<usize>,
}

impl PageParams {
    /// The page, with `limit` defaulted and capped at `max`.
    pub fn page(&self, max: usize) -> Page {
        Page {
            max_id: self.max_id,
            since_id: self.since_id,
            min_id: self.min_id,
            limit: self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, max),
        }
    }
}

/// A JSON list with its `Link` header.
pub struct Paged<T>(pub Vec<T>, pub Option<HeaderValue>);

impl<T: Serialize> IntoResponse for Paged<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => json_page(body, self.1),
            Err(e) => crate::ApiError::Internal(e.to_string()).into_response(),
        }
    }
}

/// A page of posts with its `Link` header. Posts arrive as JSON text already.
pub struct StatusPage(pub Vec<StatusJson>, pub Option<HeaderValue>);

impl IntoResponse for StatusPage {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(2 + self.0.iter().map(|s| s.as_str().len() + 1).sum::<usize>());
        body.push(b'[');
        for (i, status) in self.0.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(status.as_str().as_bytes());
        }
        body.push(b']');
        json_page(body, self.1)
    }
}

fn json_page(body: Vec<u8>, link: Option<HeaderValue>) -> Response {
    let mut resp = ([(CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(link) = link {
        resp.headers_mut().insert(LINK, link);
    }
    resp
}

/// The `Link` header for a page of items, newest first, whose paging IDs `key` gives: `next`
/// continues with older items, `prev` with newer ones. Other query parameters of the request
/// are kept. An empty page has no links.
pub fn link_header<T>(cfg: &WebConfig, uri: &Uri, items: &[T], key: impl Fn(&T) -> Id) -> Option<HeaderValue> {
    let (newest, oldest) = (key(items.first()?), key(items.last()?));
    let kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| {
            let key = p.split('=').next().unwrap_or("");
            !p.is_empty() && !matches!(key, "max_id" | "min_id" | "since_id")
        })
        .collect();
    let url = |param: &str, id: Id| {
        let mut q = kept.clone();
        let extra = format!("{param}={id}");
        q.push(&extra);
        format!("{}{}?{}", cfg.public_url, uri.path(), q.join("&"))
    };
    let value = format!("<{}>; rel=\"next\", <{}>; rel=\"prev\"", url("max_id", oldest), url("min_id", newest));
    HeaderValue::from_str(&value).ok()
}
