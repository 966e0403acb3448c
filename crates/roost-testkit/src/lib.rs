//! Roost's test kit: what every test of a way into Roost starts from, so that a new adapter's
//! tests begin with one line.
//!
//! - [`Local`]: a real node in this process with the service over it (`Local::start().await`),
//!   for the use cases' own tests and in-process adapters; [`Local::member`] makes members.
//! - [`Server`]: the real `roost` binary started on port 0 in a temporary directory
//!   (`Server::start(dir)`), killed, restarted; [`Server::user`] makes a member and signs in.
//! - [`Api`]: a blocking HTTP client signed in as one member, with server-sent events and
//!   WebSocket streams ([`Events`]); [`Browser`]: a browser without JavaScript for the web app.
//!
//! Test code: it panics on anything unexpected, with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod browser;
mod local;
mod server;
mod stream;

pub use api::{multipart_body, Api, Resp};
pub use browser::{hidden, Browser};
pub use local::{app, default_config, Local};
/// Image files made on the spot (photos with EXIF and GPS, animations, bombs).
pub use roost_media::samples;
pub use server::{admin_create_user, roost_bin, Server};
pub use stream::{Events, StreamEvent};

/// The password of every member the kit makes.
pub const PASSWORD: &str = "correct horse battery";

/// An ISO 8601 time `secs` from now, as clients send them (`scheduled_at`).
pub fn iso_in(secs: i64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::seconds(secs);
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
