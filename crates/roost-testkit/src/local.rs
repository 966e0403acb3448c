//! A node in this process: a real single-node raft log in a temporary directory with the
//! service over it, the way `roost serve` builds them, for tests of the use cases themselves
//! (and of any adapter that runs in process).

use std::time::Duration;

use roost_raft::Node;
use roost_service::accounts::{create_account, NewAccount};
use roost_service::hooks::Hooks;
use roost_service::{timer, Actor, ActorExt, Service, ServiceConfig, Via};
use roost_types::{Id, Role};

use crate::PASSWORD;

/// The settings `roost serve` uses by default.
pub fn default_config() -> ServiceConfig {
    ServiceConfig {
        public_url: "http://roost.test".into(),
        max_post_chars: 500,
        max_post_bytes: 500 * 16,
        scheduled_min_secs: 300,
        app_registrations_per_hour: 0,
        // `Local::with` keeps the blobs in its own directory.
        media: roost_service::media::MediaConfig::in_dir("blobs"),
    }
}

/// A running node and its service. Dropping it stops the node's timer and removes its data.
pub struct Local {
    pub service: Service,
    timer: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Local {
    /// A fresh node with the default settings and no hooks.
    pub async fn start() -> Local {
        Local::with(default_config(), Hooks::default()).await
    }

    /// A fresh node with these settings (its blobs in its own directory) and hooks.
    pub async fn with(mut config: ServiceConfig, hooks: Hooks) -> Local {
        let dir = tempfile::tempdir().unwrap();
        config.media.dir = dir.path().join("blobs");
        let node = Node::start(dir.path()).await.unwrap();
        node.wait_ready(Duration::from_secs(30)).await.unwrap();
        let service = Service::with_hooks(node, config, hooks);
        timer::activate_protocol(&service, service.node().speaks()).await.unwrap();
        let timer = tokio::spawn(timer::run(service.clone()));
        Local { service, timer, _dir: dir }
    }

    /// Creates an account (the first is the owner, as on a real instance) with the kit's
    /// password, by the operator; the member as they act through an app.
    pub async fn member(&self, username: &str) -> Actor {
        self.member_with(username, None).await
    }

    /// [`Local::member`] with a role.
    pub async fn member_with(&self, username: &str, role: Option<Role>) -> Actor {
        let new =
            NewAccount { username: username.into(), password: PASSWORD.into(), role, display_name: None, email: None };
        let (id, _, _) = create_account(&self.service, &Actor::operator(), new).await.unwrap();
        app(id)
    }
}

/// `account` acting through the kit's app.
pub fn app(account: Id) -> Actor {
    Actor::member(account, Via::App { client_id: "roost-testkit".into() })
}

impl Drop for Local {
    fn drop(&mut self) {
        self.timer.abort();
    }
}
