//! Fault injection: kill -9 the server while it acknowledges posts, restart it, and find every
//! acknowledged post. Repeated for a bounded number of rounds on the same data directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roost_testkit::{Server, PASSWORD};

const ROUNDS: usize = 8;
const WRITERS: usize = 6;

#[test]
fn kill_9_never_loses_an_acknowledged_post() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_unlimited(dir.path());
    let alice = server.user("alice");
    let token = alice.token.clone().unwrap();
    let mut acknowledged: Vec<String> = Vec::new();

    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(Mutex::new(Vec::new()));
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let mut api = server.anon();
            api.token = Some(token.clone());
            let (stop, acks) = (stop.clone(), acks.clone());
            writers.push(std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 10_000 {
                    n += 1;
                    let req =
                        api.http.post(format!("{}/api/v1/statuses", api.base)).bearer_auth(api.token.as_ref().unwrap());
                    let Ok(resp) = req.form(&[("status", format!("round {round} writer {w} post {n}"))]).send() else {
                        break;
                    };
                    if resp.status().as_u16() != 200 {
                        break;
                    }
                    let Ok(v) = resp.json::<serde_json::Value>() else { break };
                    acks.lock().unwrap().push(v["id"].as_str().unwrap().to_string());
                }
            }));
        }
        // Let writes flow, then kill at a moment that varies from round to round.
        std::thread::sleep(Duration::from_millis(300 + 97 * round as u64 % 400));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        let round_acks = acks.lock().unwrap().clone();
        assert!(!round_acks.is_empty(), "round {round}: some posts were acknowledged before the kill");
        acknowledged.extend(round_acks);

        server = Server::start_unlimited(dir.path());
        let mut api = server.anon();
        api.token = Some(token.clone());
        for id in &acknowledged {
            let r = api.get(&format!("/api/v1/statuses/{id}"));
            assert_eq!(r.status, 200, "round {round}: acknowledged post {id} was lost");
        }
        let count = api.get("/api/v1/accounts/verify_credentials").json["statuses_count"].as_u64().unwrap();
        assert!(
            count >= acknowledged.len() as u64,
            "round {round}: {count} posts < {} acknowledged",
            acknowledged.len()
        );
    }
    // Sign-in still works after all of that.
    assert!(server.token("alice", PASSWORD).is_some());
}
