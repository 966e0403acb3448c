//! The Roost server as a library: configuration, start-up and shutdown, and the operator's
//! local admin channel. `main.rs` only parses flags and calls [`run`] or [`admin`].

pub mod admin;
pub mod config;

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use roost_raft::Node;
use roost_web::{AppState, WebConfig};
use tokio::net::TcpListener;

pub use config::Config;

/// How long start-up waits for the node to become able to accept writes.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a Roost node until `shutdown` completes: opens the data directory, starts raft, serves
/// HTTP on `listener` and the admin channel on the data directory's socket.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config::prepare_data_dir(&config.data_dir)?;
    let node = Node::start(&config.data_dir)
        .await
        .with_context(|| format!("starting the node in {}", config.data_dir.display()))?;
    node.wait_ready(READY_TIMEOUT).await.context("waiting for the node to become ready")?;

    let addr = listener.local_addr()?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let state = AppState::new(
        node.clone(),
        WebConfig {
            public_url: public_url.trim_end_matches('/').to_string(),
            title: config.title.clone(),
            max_post_chars: config.max_post_chars,
            max_body_bytes: config.max_body_bytes,
            rate_limit: config.rate_limit,
            trusted_proxies: config.trusted_proxies.clone(),
        },
    );

    let admin = admin::serve(&config.data_dir, state.clone()).await?;

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
    println!("roost listening on http://{addr}");

    let app = roost_web::app(state);
    let app =
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<std::net::SocketAddr>(app);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.context("serving HTTP")?;

    tracing::info!("shutting down");
    admin.stop();
    node.shutdown().await;
    Ok(())
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
