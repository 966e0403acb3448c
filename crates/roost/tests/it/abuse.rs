//! Holding under abuse: what an attacker with an account, or with none, tries, and what must
//! still hold for everyone else.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::Server;

/// Starts a server with extra configuration lines.
fn server_with(dir: &std::path::Path, config: &str) -> Server {
    let path = dir.join("roost.toml");
    std::fs::write(&path, config).unwrap();
    Server::start_with(dir, &["--config", path.to_str().unwrap()], &[])
}

/// A client whose connections come from another loopback address than the test's others.
fn client_from(local: [u8; 4]) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .local_address(std::net::IpAddr::from(local))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[test]
fn slow_clients_do_not_take_the_node_down() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(
        dir.path(),
        "request_header_timeout_secs = 2\nrequest_body_timeout_secs = 2\nmax_connections_per_ip = 64\nrate_limit_unauthenticated = 0\n",
    );
    let addr = server.base.trim_start_matches("http://").to_string();
    // Hundreds of connections that never finish their request head, and some whose body never
    // arrives.
    let mut stalled: Vec<TcpStream> = (0..300)
        .map(|i| {
            let mut s = TcpStream::connect(&addr).unwrap();
            let _ = if i % 3 == 0 {
                s.write_all(b"POST /api/v1/apps HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nclient_name=")
            } else {
                s.write_all(b"GET /api/v1/instance HTTP/1.1\r\nHost: x\r\n")
            };
            s
        })
        .collect();
    // Someone else is served promptly meanwhile.
    let other = client_from([127, 0, 0, 2]);
    let r = other.get(format!("{}/api/v1/instance", server.base)).send().unwrap();
    assert_eq!(r.status(), 200);
    // The stalled connections are closed: at once beyond the per-address cap, the others once
    // the header timeout passes (the bodies once the body timeout does).
    let started = Instant::now();
    for s in &mut stalled {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut buf = [0u8; 1024];
        loop {
            match std::io::Read::read(s, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    assert!(started.elapsed() < Duration::from_secs(60), "stalled connections were held");
    // And the stalled address is served again.
    assert_eq!(server.anon().get("/api/v1/instance").status, 200);
}
