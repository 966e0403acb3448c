//! The limits hold against real sockets on 127.0.0.1 (and 127.0.0.2, another "client").
//! Timeouts are short so that the tests are quick; the bounds the tests wait for are generous.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use axum::Router;

use super::*;

fn limits() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        write_timeout: Duration::from_millis(500),
        max_connections: 1000,
        max_connections_per_ip: 20,
        exempt: Vec::new(),
        max_header_bytes: 16 * 1024,
        shutdown_grace: Duration::from_millis(500),
        tls: None,
    }
}

fn app() -> Router {
    Router::new()
        .route("/", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }))
        .route(
            "/echo",
            post(|body: Body| async move {
                match axum::body::to_bytes(body, 1 << 20).await {
                    Ok(b) => (axum::http::StatusCode::OK, b.len().to_string()),
                    Err(e) => (axum::http::StatusCode::REQUEST_TIMEOUT, e.to_string()),
                }
            }),
        )
        .route("/big", get(|| async { vec![b'x'; 64 << 20] }))
}

/// Starts the server on its own runtime thread; its address.
fn start(limits: Limits) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            serve(listener, app(), limits, std::future::pending()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// Connects from a given loopback address.
fn connect_from(local: &str, to: SocketAddr) -> TcpStream {
    let socket = socket_for(local);
    socket.connect(&to.into()).unwrap();
    socket.into()
}

fn socket_for(local: &str) -> socket2::Socket {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&format!("{local}:0").parse::<SocketAddr>().unwrap().into()).unwrap();
    socket
}

fn get_from(local: &str, to: SocketAddr, path: &str) -> String {
    let mut s = connect_from(local, to);
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Waits until the server closes the stream (a read returns 0 or fails); how long it took.
fn wait_closed(s: &mut TcpStream) -> Duration {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return start.elapsed(),
            Ok(_) => {}
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the server never closed the connection");
    }
}

#[test]
fn stalled_clients_are_closed_and_others_are_served_meanwhile() {
    let addr = start(limits());
    // Hundreds of connections that never finish their request head, all from one address.
    let mut stalled: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = connect_from("127.0.0.1", addr);
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n");
            s
        })
        .collect();
    // Another client is served at once.
    let answer = get_from("127.0.0.2", addr, "/");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("127.0.0.2"), "the handler sees the client's address: {answer}");
    // Past the per-address cap, connections were closed as they came; the rest are closed once
    // the header timeout passes.
    for s in &mut stalled {
        wait_closed(s);
    }
    let answer = get_from("127.0.0.1", addr, "/");
    assert!(answer.starts_with("HTTP/1.1 200"), "the address is served again once its stalled sockets are gone");
}

#[test]
fn idle_keep_alive_connections_end() {
    let addr = start(limits());
    let mut s = connect_from("127.0.0.1", addr);
    write!(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 1024];
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Kept alive, then idle: closed by the header timeout.
    wait_closed(&mut s);
}

#[test]
fn a_body_that_never_arrives_times_out() {
    let addr = start(limits());
    let mut s = connect_from("127.0.0.1", addr);
    write!(s, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b").unwrap();
    let mut out = String::new();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(out.contains("did not arrive"), "{out}");
    // A body that does arrive is read whole.
    let mut s = connect_from("127.0.0.1", addr);
    write!(s, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200") && out.ends_with('5'), "{out}");
}

#[test]
fn a_client_that_stops_reading_is_dropped() {
    let addr = start(limits());
    let socket = socket_for("127.0.0.1");
    // A small receive window, so that the server's writes stall quickly.
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut s: TcpStream = socket.into();
    write!(s, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    // Reading now gets what was buffered, then the end: far less than the 64 MiB body.
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(got < 32 << 20, "read {got} bytes: the stalled write was not given up");
}

#[test]
fn the_total_cap_holds_for_every_address() {
    // A long header timeout, so that "closed on arrival" and "closed by the timeout" differ by
    // seconds, whatever the machine's load.
    let addr = start(Limits {
        max_connections: 10,
        max_connections_per_ip: 10,
        header_timeout: Duration::from_secs(10),
        ..limits()
    });
    let _held: Vec<TcpStream> = (0..10).map(|_| connect_from("127.0.0.1", addr)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut refused = connect_from("127.0.0.3", addr);
    let waited = wait_closed(&mut refused);
    assert!(waited < Duration::from_secs(5), "closed on arrival, not after the header timeout: {waited:?}");
}

#[test]
fn exempt_addresses_are_not_capped_per_address() {
    let addr = start(Limits { max_connections_per_ip: 2, exempt: vec!["127.0.0.1".parse().unwrap()], ..limits() });
    let _held: Vec<TcpStream> = (0..5).map(|_| connect_from("127.0.0.1", addr)).collect();
    assert!(get_from("127.0.0.1", addr, "/").starts_with("HTTP/1.1 200"));
}

#[test]
fn open_files_can_be_raised() {
    let now = raise_open_files(4096);
    assert!(now >= 1024, "{now}");
}
