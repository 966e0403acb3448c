//! Roost's service layer: every use case once, for every way in (the Mastodon API, the web app,
//! the admin socket, and what comes next: agents, extensions, verification tools).
//!
//! A use case takes the [`Service`] handle, the [`Actor`] who asks (an account and the way in:
//! an OAuth app, a web session, the admin socket, an agent, an extension) and a typed request;
//! it runs every rule in order — bound and clean the input, check what the actor may see and
//! do, the hook for the kind of write ([`hooks`]), the execute-once work (the clock, random
//! tokens, password hashing) — then proposes one command to the log, or reads, and returns a
//! domain record or an [`Error`].
//!
//! # Invariants
//! - Knows no HTTP, no JSON wire shapes and no HTML: adapters parse their input into typed
//!   requests and render the records this crate returns.
//! - Every write goes through [`write::propose`], which records who asked (from protocol 3 on)
//!   and dry-runs the command first so that one the state machine would refuse never reaches
//!   the log.
//! - One choke point per kind of write: posts are created and edited only through
//!   [`statuses::create`] and [`statuses::edit`], accounts only through [`accounts`], and every
//!   moderation command passes [`hooks::Hook::before_moderation`] in `propose`.
//!
//! # Boundaries
//! Depends on `roost-core` (rules that need the state, queries) and `roost-raft` (proposing,
//! reading); never on an adapter, an HTTP crate or the storage engine.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod error;
pub mod extensions;
pub mod feeds;
pub mod filters;
pub mod hooks;
pub mod inbox;
pub mod lists;
pub mod markers;
pub mod media;
pub mod oauth;
pub mod passwords;
pub mod profile;
pub mod reports;
pub mod sessions;
pub mod sign_in;
pub mod social;
pub mod statuses;
pub mod tags;
pub mod timer;
pub mod tokens;
mod window;
pub mod write;

use std::sync::Arc;

pub use error::{Error, Result};
pub use roost_raft::{Applied, Node, ReadView};
pub use roost_types::{Actor, Via};
pub use write::now_ms;

/// The OAuth client ID of the web app's sessions (a built-in app, made at start): posts made
/// on the web name it as their application.
pub const WEB_CLIENT_ID: &str = "roost-web";

/// The settings the use cases need.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The instance's external URL, without a trailing slash (`https://social.example.org`).
    pub public_url: String,
    /// Longest post, in characters as Mastodon counts them.
    pub max_post_chars: usize,
    /// Largest post (text and content warning), in bytes.
    pub max_post_bytes: usize,
    /// How far ahead a post must be scheduled, at least (Mastodon: five minutes).
    pub scheduled_min_secs: i64,
    /// Apps one client network may register per hour (0: no limit).
    pub app_registrations_per_hour: u32,
    /// Pictures: where blobs live, upload limits, quotas.
    pub media: media::MediaConfig,
}

/// The service handle every use case takes; cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    node: Node,
    config: ServiceConfig,
    sign_ins: sign_in::SignInGuard,
    password_work: passwords::PasswordWork,
    touching: tokens::Touching,
    app_registrations: oauth::AppRegistrations,
    hooks: hooks::Hooks,
    media: media::MediaWork,
    extensions: extensions::ExtWork,
}

impl Service {
    pub fn new(node: Node, config: ServiceConfig) -> Service {
        Service::with_hooks(node, config, hooks::Hooks::default())
    }

    /// A service whose writes pass through `hooks` (see [`hooks`]).
    pub fn with_hooks(node: Node, config: ServiceConfig, hooks: hooks::Hooks) -> Service {
        let app_registrations = oauth::AppRegistrations::new(config.app_registrations_per_hour);
        let media = media::MediaWork::new(&config.media);
        Service {
            inner: Arc::new(Inner {
                node,
                config,
                sign_ins: sign_in::SignInGuard::default(),
                password_work: passwords::PasswordWork::default(),
                touching: tokens::Touching::default(),
                app_registrations,
                hooks,
                media,
                extensions: extensions::ExtWork::default(),
            }),
        }
    }

    pub fn node(&self) -> &Node {
        &self.inner.node
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    /// A read snapshot of the local state.
    pub fn read(&self) -> Result<ReadView> {
        Ok(self.inner.node.read()?)
    }

    pub fn sign_ins(&self) -> &sign_in::SignInGuard {
        &self.inner.sign_ins
    }

    pub(crate) fn password_work(&self) -> &passwords::PasswordWork {
        &self.inner.password_work
    }

    pub(crate) fn touching(&self) -> &tokens::Touching {
        &self.inner.touching
    }

    pub(crate) fn app_registrations(&self) -> &oauth::AppRegistrations {
        &self.inner.app_registrations
    }

    pub(crate) fn hooks(&self) -> &hooks::Hooks {
        &self.inner.hooks
    }

    pub(crate) fn media_work(&self) -> &media::MediaWork {
        &self.inner.media
    }

    pub(crate) fn ext_work(&self) -> &extensions::ExtWork {
        &self.inner.extensions
    }
}

/// Ways to name an actor.
pub trait ActorExt {
    /// A signed-in member, through `via`.
    fn member(account: roost_types::Id, via: Via) -> Actor;
    /// Nobody signed in yet (a sign-up, an app registering), through `via`.
    fn anonymous(via: Via) -> Actor;
    /// The operator, through the admin socket.
    fn operator() -> Actor;
    /// The node's own housekeeping.
    fn node() -> Actor;
    /// The application a post made by this actor names: the OAuth client, or the web app.
    fn application(&self) -> Option<String>;
}

impl ActorExt for Actor {
    fn member(account: roost_types::Id, via: Via) -> Actor {
        Actor { account: Some(account), via }
    }

    fn anonymous(via: Via) -> Actor {
        Actor { account: None, via }
    }

    fn operator() -> Actor {
        Actor { account: None, via: Via::AdminSocket }
    }

    fn node() -> Actor {
        Actor { account: None, via: Via::Node }
    }

    fn application(&self) -> Option<String> {
        match &self.via {
            Via::Web => Some(WEB_CLIENT_ID.to_string()),
            via => via.client_id().map(str::to_string),
        }
    }
}
