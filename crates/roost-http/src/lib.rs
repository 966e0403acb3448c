//! The loop that serves Roost's HTTP listeners (the members' API and web app, and the peers'
//! cluster protocol): it accepts connections, bounds what each may hold, and hands requests to
//! a tower service (an axum router).
//!
//! # Invariants
//! - Every connection is bounded in time: its request head must arrive within
//!   [`Limits::header_timeout`] (which also ends idle keep-alive connections), its body within
//!   [`Limits::body_timeout`], and a write that makes no progress for
//!   [`Limits::write_timeout`] ends it. A client that stops talking is dropped, never waited
//!   on forever.
//! - At most [`Limits::max_connections`] connections are open, and at most
//!   [`Limits::max_connections_per_ip`] from one address (trusted proxies excepted); beyond,
//!   a new connection is closed at once, before anything is read from it.
//! - Each request carries the peer's address as `axum::extract::ConnectInfo<SocketAddr>`.
//!
//! # Boundaries
//! Knows hyper and tokio; nothing of Roost's routes or state.

mod body;
mod io;
pub mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

pub use body::{BodyTimeout, TimedBody};

/// What one listener allows its connections.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time for a request's head (request line and headers) to arrive, counted from when the
    /// server starts waiting for it: on a keep-alive connection, that is also how long it may
    /// sit idle between requests.
    pub header_timeout: Duration,
    /// Time for a request's whole body to arrive, from its head.
    pub body_timeout: Duration,
    /// Time a response write may wait on a client that does not read.
    pub write_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// Addresses the per-address cap does not apply to (reverse proxies in front of Roost, whose
    /// connections carry many clients).
    pub exempt: Vec<IpAddr>,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// How long a graceful shutdown waits for requests in flight (live streams never finish by
    /// themselves) before closing what is left.
    pub shutdown_grace: Duration,
    /// Serve TLS with this configuration (its certificate resolver may reload certificates);
    /// `None`: plain HTTP. The handshake must finish within [`Limits::header_timeout`].
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Whether the client proved who it is with a certificate the TLS configuration's client
/// verifier accepted (for mutual TLS between Roost's nodes); inserted into every request of a
/// TLS connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCertified(pub bool);

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_connections: 8192,
            max_connections_per_ip: 256,
            exempt: Vec::new(),
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(5),
            tls: None,
        }
    }
}

/// Open connections, in all and per address.
struct Counts {
    limits: Limits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
    /// Connections closed on arrival because a cap was reached (for the log and the metrics).
    refused: std::sync::atomic::AtomicU64,
}

/// A connection's place under the caps; gives it back when dropped.
struct Slot {
    counts: Arc<Counts>,
    ip: IpAddr,
}

impl Counts {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, HashMap<IpAddr, usize>)> {
        // The counters are updated whole under the lock, so a poisoned one is still consistent.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Slot> {
        // An IPv6 host usually holds a whole /64: its addresses count together.
        let ip = match peer {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() && !self.limits.exempt.contains(&peer) => {
                IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1)))
            }
            _ => peer,
        };
        let mut open = self.lock();
        let per_ip = open.1.get(&ip).copied().unwrap_or(0);
        let exempt = self.limits.exempt.contains(&ip);
        if open.0 >= self.limits.max_connections || (!exempt && per_ip >= self.limits.max_connections_per_ip) {
            drop(open);
            let n = self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Every thousandth, so that a flood does not flood the log too.
            if n.is_multiple_of(1000) {
                tracing::warn!(%ip, refused = n + 1, "connection limit reached: closing new connections");
            }
            return None;
        }
        open.0 += 1;
        *open.1.entry(ip).or_insert(0) += 1;
        Some(Slot { counts: self.clone(), ip })
    }

    fn open(&self) -> usize {
        self.lock().0
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.counts.lock();
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.ip);
            }
        }
    }
}

/// The per-request service a connection runs: the peer's address is inserted, the body is
/// bounded in time.
#[derive(Clone)]
struct PerConnection<S> {
    inner: S,
    peer: SocketAddr,
    body_timeout: Duration,
    certified: Option<ClientCertified>,
}

impl<S, B> hyper::service::Service<hyper::Request<Incoming>> for PerConnection<S>
where
    S: tower_service::Service<hyper::Request<TimedBody>, Response = hyper::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = hyper::Response<B>;
    type Error = Infallible;
    type Future = S::Future;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        let mut req = req.map(|b| TimedBody::new(b, self.body_timeout));
        req.extensions_mut().insert(ConnectInfo(self.peer));
        if let Some(c) = self.certified {
            req.extensions_mut().insert(c);
        }
        // Axum's routers are always ready: `call` on a clone needs no `poll_ready` first.
        let mut inner = self.inner.clone();
        inner.call(req)
    }
}

/// Serves `service` on `listener` within `limits` until `shutdown` completes, then stops
/// accepting, lets requests in flight finish (up to [`Limits::shutdown_grace`]) and returns.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()>
where
    S: tower_service::Service<hyper::Request<TimedBody>, Response = hyper::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let counts = Arc::new(Counts {
        limits: limits.clone(),
        open: Mutex::new((0, HashMap::new())),
        refused: std::sync::atomic::AtomicU64::new(0),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(100);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or a connection reset before it was accepted: wait
                    // a moment rather than spin.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = counts.admit(peer.ip()) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = io::WriteTimeout::new(stream, limits.write_timeout);
        let (service, builder, stopping) = (service.clone(), builder.clone(), stopping.clone());
        let (tls, handshake_timeout, body_timeout) = (limits.tls.clone(), limits.header_timeout, limits.body_timeout);
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => {
                    let service = PerConnection { inner: service, peer, body_timeout, certified: None };
                    run_connection(&builder, TokioIo::new(io), service, stopping, peer).await;
                }
                Some(config) => {
                    // The handshake is bounded like a request head: a client that stalls in it
                    // is dropped.
                    let accepted =
                        tokio::time::timeout(handshake_timeout, tokio_rustls::TlsAcceptor::from(config).accept(io))
                            .await;
                    let stream = match accepted {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => return tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                    };
                    let certified =
                        ClientCertified(stream.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty()));
                    let service = PerConnection { inner: service, peer, body_timeout, certified: Some(certified) };
                    run_connection(&builder, TokioIo::new(stream), service, stopping, peer).await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let deadline = tokio::time::Instant::now() + limits.shutdown_grace;
    while counts.open() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if counts.open() > 0 {
        tracing::info!(open = counts.open(), "closing connections still open at shutdown");
    }
    Ok(())
}

/// Serves one connection until it ends, or until shutdown asks it to finish its requests.
async fn run_connection<I, S, B>(
    builder: &hyper::server::conn::http1::Builder,
    io: I,
    service: PerConnection<S>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
    peer: SocketAddr,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: tower_service::Service<hyper::Request<TimedBody>, Response = hyper::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = async { let _ = stopping.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "connection ended: {e}");
    }
}

/// Raises this process's limit on open files to its hard limit (or `want`, if lower), so that
/// the connection caps, not the operating system, decide how many clients are served. Returns
/// the limit in force afterwards.
pub fn raise_open_files(want: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let current = getrlimit(Resource::Nofile);
    let soft = current.current.unwrap_or(u64::MAX);
    let hard = current.maximum.unwrap_or(u64::MAX);
    let target = want.min(hard);
    if soft >= target {
        return soft;
    }
    match setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: current.maximum }) {
        Ok(()) => target,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit from {soft} to {target}: {e}");
            soft
        }
    }
}

#[cfg(test)]
mod tests;
