//! The Roost server as a library: configuration, start-up and shutdown, and the operator's
//! local admin channel. `main.rs` only parses flags and calls [`run`] or [`admin`].

pub mod admin;
pub mod config;
mod replicas;

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use roost_raft::Node;
use roost_web::{AppState, WebConfig};
use tokio::net::TcpListener;

pub use config::Config;

/// How long start-up waits for the node to become able to accept writes.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the member-facing certificate files are checked for a renewal.
const CERT_CHECK: Duration = Duration::from_secs(10);

/// Runs a Roost node until `shutdown` completes: opens the data directory, starts raft, serves
/// HTTP on `listener` and the admin channel on the data directory's socket.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config::prepare_data_dir(&config.data_dir)?;
    // Shared by the HTTP servers: the member-facing one and, in a cluster, the peers' one.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = move || {
        let mut rx = stopped.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let (node, cluster) = match config.cluster_listen {
        None => {
            let node = Node::start_single(&config.data_dir, config.tuning)
                .await
                .with_context(|| format!("starting the node in {}", config.data_dir.display()))?;
            node.wait_ready(READY_TIMEOUT).await.context("waiting for the node to become ready")?;
            (node, None)
        }
        Some(addr) => {
            let (node, task, secret) = start_cluster_member(&config, addr, until_stopped()).await?;
            (node, Some((task, secret)))
        }
    };

    let addr = listener.local_addr()?;
    // HTTPS without a reverse proxy: the certificate files are re-read when they change.
    let member_tls = match &config.tls_files {
        Some((cert, key)) => {
            let files = roost_http::tls::CertFiles::open(cert, key).map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
            tokio::spawn(files.clone().watch(CERT_CHECK));
            Some(files.server_config().map_err(|e| anyhow::anyhow!("TLS: {e}"))?)
        }
        None => None,
    };
    let scheme = if member_tls.is_some() { "https" } else { "http" };
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}"));
    let state = AppState::new(
        node.clone(),
        WebConfig {
            public_url: public_url.trim_end_matches('/').to_string(),
            title: config.title.clone(),
            max_post_chars: config.max_post_chars,
            max_post_bytes: config.max_post_bytes,
            scheduled_min_secs: config.scheduled_min_secs,
            max_body_bytes: config.max_body_bytes,
            rate_limit: config.rate_limit,
            trusted_proxies: config.trusted_proxies.clone(),
            app_registrations_per_hour: config.app_registrations_per_hour,
            media: config.media.clone(),
        },
    );

    if let Some((_, peering)) = &cluster {
        let replicas = replicas::ClusterBlobs { node: node.clone(), peering: peering.clone() };
        roost_service::media::set_replicas(state.service(), std::sync::Arc::new(replicas));
    }

    // A single node speaks for the whole cluster: it turns on its own protocol at once. A
    // cluster's leader does so once every member reports that it speaks it.
    match &cluster {
        None => roost_service::timer::activate_protocol(state.service(), node.speaks())
            .await
            .map_err(|e| anyhow::anyhow!("activating protocol {}: {e}", node.speaks()))?,
        Some((_, peering)) => {
            tokio::spawn(activate_when_all_speak(state.service().clone(), peering.clone()));
        }
    }
    let timer = tokio::spawn(roost_service::timer::run(state.service().clone()));

    let admin = admin::serve(&config.data_dir, state.service().clone()).await?;

    let view = node.read()?;
    if !roost_core::query::has_accounts(&view)? {
        tracing::info!(
            "no accounts yet: create the owner with `roost admin create-user NAME --password-stdin --data-dir {}`",
            config.data_dir.display()
        );
    }
    drop(view);

    tracing::info!(%addr, data_dir = %config.data_dir.display(), "roost is serving");
    // A line on stdout that scripts and tests can wait for.
    println!("roost listening on {scheme}://{addr}");

    let app = roost_web::app(state);
    let limits = roost_http::Limits { tls: member_tls, ..http_limits(&config) };
    roost_http::serve(listener, app, limits, until_stopped()).await.context("serving HTTP")?;

    tracing::info!("shutting down");
    admin.stop();
    timer.abort();
    if let Some((task, _)) = cluster {
        task.abort();
    }
    node.shutdown().await;
    Ok(())
}

/// The member-facing listener's limits, with the connection cap brought within the open-file
/// limit (raised as far as the system allows first).
fn http_limits(config: &Config) -> roost_http::Limits {
    let mut limits = config.http.clone();
    // Each connection is a file; so is each WebSocket once upgraded (those leave the connection
    // caps for the streaming hub's own), and the stores, snapshots and peers need some too.
    const RESERVED_FILES: u64 = 512;
    let streams = roost_web::streaming::MAX_CONNECTIONS as u64;
    let wanted = limits.max_connections as u64 + streams + RESERVED_FILES;
    let files = roost_http::raise_open_files(wanted);
    if files < wanted {
        // Half of what is left for plain connections, half for live streams.
        let fits = (files.saturating_sub(RESERVED_FILES) / 2).max(16) as usize;
        tracing::warn!(
            open_files = files,
            max_connections = limits.max_connections,
            "the open-file limit is too low for max_connections: serving at most {fits} connections"
        );
        limits.max_connections = fits;
        limits.max_connections_per_ip = limits.max_connections_per_ip.min(fits);
    }
    limits
}

/// Starts this node as a member of a cluster: its identity, the peers' listener, raft with the
/// HTTP transport; then, on a first start with `join`, asks a member to add it and waits until
/// it has caught up and votes.
async fn start_cluster_member(
    config: &Config,
    addr: std::net::SocketAddr,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(Node, tokio::task::JoinHandle<()>, roost_cluster::Peering)> {
    let secret = std::env::var(roost_cluster::SECRET_ENV).ok();
    let was_member = config.data_dir.join(roost_cluster::NODE_ID_FILE).exists();
    let identity = roost_cluster::Identity::load_or_create(&config.data_dir, config.join.is_some(), secret)
        .context("the node's cluster identity")?;
    let tls = cluster_tls(config, &identity, was_member).await?;
    let peering = roost_cluster::Peering::new(&identity.secret, tls.as_ref())?;
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen for peers on {addr}"))?;
    let addr = listener.local_addr()?.to_string();
    let options = roost_raft::ClusterOptions {
        id: identity.node_id,
        addr: addr.clone(),
        network: roost_cluster::Transport::new(&peering),
        forwarder: std::sync::Arc::new(roost_cluster::HttpForwarder::new(&peering)),
        bootstrap: config.join.is_none(),
        tuning: config.tuning,
    };
    let node = Node::start_clustered(&config.data_dir, options)
        .await
        .with_context(|| format!("starting the node in {}", config.data_dir.display()))?;
    // Peers send snapshot chunks and batches of entries: bodies may take longer than a member's.
    // Peers keep connections open between requests longer than members do: longer than their
    // clients' pools keep them idle, so that a write is not sent on a connection being closed.
    let limits = roost_http::Limits {
        header_timeout: Duration::from_secs(60),
        body_timeout: Duration::from_secs(120),
        write_timeout: Duration::from_secs(120),
        max_connections: 1024,
        tls: tls.as_ref().map(roost_cluster::ClusterTls::server_config).transpose()?,
        ..roost_http::Limits::default()
    };
    let blobs = roost_service::media::Blobs::new(&config.media.dir);
    let peers = roost_cluster::router(node.clone(), &identity.secret, &peering, tls, blobs);
    let task = tokio::spawn(async move {
        if let Err(e) = roost_http::serve(listener, peers, limits, stopped).await {
            tracing::error!("serving peers: {e}");
        }
    });
    tracing::info!(node = identity.node_id, %addr, "listening for peers");
    println!("roost cluster node {} on {addr}", identity.node_id);
    let member = node.status().members.iter().any(|(id, _, _)| *id == identity.node_id);
    if let (Some(url), false) = (&config.join, member) {
        tracing::info!(%url, "joining the cluster: catching up as a learner, then voting");
        let mut attempt = 0;
        loop {
            match roost_cluster::join(&peering, url, identity.node_id, &addr, node.speaks()).await {
                Ok(_) => break,
                Err(roost_cluster::Error::Unauthorized) => anyhow::bail!(roost_cluster::Error::Unauthorized),
                Err(e @ roost_cluster::Error::Refused(_)) if e.to_string().contains("protocol") => {
                    anyhow::bail!("could not join the cluster through {url}: {e}")
                }
                Err(e) if attempt < 30 => {
                    attempt += 1;
                    tracing::warn!("joining through {url}: {e}; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => anyhow::bail!("could not join the cluster through {url}: {e}"),
            }
        }
    }
    // A member restarting while most of its cluster is down still serves reads; writes wait
    // for a leader.
    if let Err(e) = node.wait_leader(Duration::from_secs(10)).await {
        tracing::warn!("no leader yet ({e}); serving reads, writes wait for one");
    }
    Ok((node, task, peering))
}

/// This node's TLS material for talking to its peers: kept in the data directory; made with a
/// new cluster authority by the node that forms a cluster; fetched from a member by a node that
/// joins. `None` with `cluster_plaintext` (said loudly, at every start).
async fn cluster_tls(
    config: &Config,
    identity: &roost_cluster::Identity,
    was_member: bool,
) -> anyhow::Result<Option<roost_cluster::ClusterTls>> {
    if config.cluster_plaintext {
        tracing::warn!(
            "cluster_plaintext is set: posts, direct messages and password hashes cross the network between nodes \
             unencrypted, guarded by the cluster secret alone. Use it only on a network nobody else can read."
        );
        return Ok(None);
    }
    if let Some(tls) = roost_cluster::ClusterTls::load(&config.data_dir)? {
        return Ok(Some(tls));
    }
    let tls = match &config.join {
        Some(url) => {
            tracing::info!(%url, "fetching this node's certificate from a member of the cluster");
            let mut attempt = 0;
            loop {
                match roost_cluster::fetch_certificate(url, &identity.secret, identity.node_id).await {
                    Ok(tls) => break tls,
                    // A member that cannot prove the secret, or refuses ours: no use trying again.
                    Err(e @ (roost_cluster::Error::Refused(_) | roost_cluster::Error::Unauthorized)) => {
                        return Err(anyhow::anyhow!(e).context(format!("getting a node certificate through {url}")))
                    }
                    // The member may be starting up still.
                    Err(e) if attempt < 30 => {
                        attempt += 1;
                        tracing::warn!("getting a node certificate through {url}: {e}; trying again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => {
                        return Err(anyhow::anyhow!(e).context(format!("getting a node certificate through {url}")))
                    }
                }
            }
        }
        None if !was_member => roost_cluster::ClusterTls::create(identity.node_id)?,
        None => anyhow::bail!(
            "this node was a cluster member before its peers talked TLS, and has no cluster certificate: \
             set cluster_plaintext = true on every node to go on as before, or form the cluster anew (see docs/operations.md)"
        ),
    };
    tls.save(&config.data_dir)?;
    Ok(Some(tls))
}

/// On the leader, activates the newest protocol every member speaks, whenever that rises (a
/// rolling upgrade finished).
async fn activate_when_all_speak(service: roost_service::Service, peering: roost_cluster::Peering) {
    loop {
        let node = service.node();
        if node.is_leader() && node.active_protocol().unwrap_or(1) < node.speaks() {
            let before = node.status().members;
            if let Some(lowest) = roost_cluster::members_protocol(node, &peering).await {
                // Only if nobody joined while the members were asked (the join checks again).
                if node.status().members == before {
                    if let Err(e) = roost_service::timer::activate_protocol(&service, lowest).await {
                        tracing::warn!("activating protocol {lowest}: {e}");
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
