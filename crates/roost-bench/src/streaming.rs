//! The streaming benchmark: many WebSocket connections subscribed to `user`, all following one
//! account; each of its posts must reach every connection. Reports the delivery delay (from
//! the moment the post was sent to the moment each connection received it) and the server's
//! memory per connection.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use crate::http::{check, create_accounts, drive, sign_in_all};
use crate::stats::{self, Latencies};

#[derive(clap::Args)]
pub struct Options {
    /// Open streaming connections (each a different follower).
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Posts by the followed account.
    #[arg(long, default_value_t = 50)]
    posts: usize,
    /// Milliseconds between posts.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
    /// The `roost` binary [default: next to this one].
    #[arg(long)]
    roost: Option<PathBuf>,
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let (_tmp, data_dir, server) = crate::http::fresh_server(o.roost.as_deref())?;
    let base = server.url.clone();
    let pid = server.child.id();
    let http = reqwest::Client::new();
    let n = o.connections;
    eprintln!("server {base} (pid {pid})");

    // The author (account 0) and its followers, with a token each.
    let t = Instant::now();
    create_accounts(&data_dir, n + 1, "s", false).await?;
    let tokens = sign_in_all(&http, &base, n + 1, "s").await?;
    eprintln!("{} accounts signed in after {:.1}s", n + 1, t.elapsed().as_secs_f64());
    let author: serde_json::Value =
        check(http.get(format!("{base}/api/v1/accounts/verify_credentials")).bearer_auth(&tokens[0]).send().await?)
            .await?
            .json()
            .await?;
    let author_id = author["id"].as_str().context("author id")?.to_string();
    let (h, b, tk) = (http.clone(), base.clone(), tokens.clone());
    let (_, failed) = drive(8, n, None, move |i| {
        let (h, b, tk, a) = (h.clone(), b.clone(), tk.clone(), author_id.clone());
        async move {
            check(h.post(format!("{b}/api/v1/accounts/{a}/follow")).bearer_auth(&tk[i + 1]).send().await?).await?;
            Ok(())
        }
    })
    .await;
    anyhow::ensure!(failed == 0, "{failed} follows failed");

    // Memory before the connections, once the allocator has settled after signing everyone in
    // (it returns freed memory lazily, as it allocates again: serve some requests first).
    let settle = || async {
        for _ in 0..200 {
            check(http.get(format!("{base}/api/v1/timelines/home")).bearer_auth(&tokens[0]).send().await?).await?;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        anyhow::Ok(stats::rss_kib(pid))
    };
    let rss_before = settle().await?;

    // The connections, each recording when each post reached it.
    let received: Arc<Mutex<Vec<(String, Instant)>>> = Arc::new(Mutex::new(Vec::with_capacity(n * o.posts)));
    let ws_base = base.replacen("http://", "ws://", 1);
    let t = Instant::now();
    let mut readers = Vec::with_capacity(n);
    for i in 0..n {
        let url = format!("{ws_base}/api/v1/streaming?stream=user&access_token={}", tokens[i + 1]);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.with_context(|| format!("connection {i}"))?;
        let received = received.clone();
        readers.push(tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(text) = msg else { continue };
                let at = Instant::now();
                let Ok(v) = serde_json::from_str::<serde_json::Value>(text.as_str()) else { continue };
                if v["event"] != "update" {
                    continue;
                }
                let Some(payload) = v["payload"].as_str() else { continue };
                let Ok(status) = serde_json::from_str::<serde_json::Value>(payload) else { continue };
                if let Some(id) = status["id"].as_str() {
                    if let Ok(mut r) = received.lock() {
                        r.push((id.to_string(), at));
                    }
                }
            }
        }));
    }
    eprintln!("{n} connections in {:.1}s", t.elapsed().as_secs_f64());
    let rss_with = settle().await?;

    // The posts, one every interval; each is timed from the moment it is sent.
    let mut sent: HashMap<String, Instant> = HashMap::new();
    for k in 0..o.posts {
        let t0 = Instant::now();
        let v: serde_json::Value = check(
            http.post(format!("{base}/api/v1/statuses"))
                .bearer_auth(&tokens[0])
                .form(&[("status", format!("streamed post {k}"))])
                .send()
                .await?,
        )
        .await?
        .json()
        .await?;
        sent.insert(v["id"].as_str().context("post id")?.to_string(), t0);
        tokio::time::sleep(Duration::from_millis(o.interval_ms)).await;
    }
    let expected = n * o.posts;
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.lock().map_err(|_| anyhow::anyhow!("lock"))?.len() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = received.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    let mut delays = Latencies::default();
    for (id, at) in &got {
        if let Some(t0) = sent.get(id) {
            delays.record(at.saturating_duration_since(*t0));
        }
    }
    for r in readers {
        r.abort();
    }

    println!("## roost-bench streaming\n");
    println!("- machine: {}", stats::machine());
    println!(
        "- {n} WebSocket connections subscribed to `user`, all following one account; {} posts, one every {} ms\n",
        o.posts, o.interval_ms
    );
    println!("| deliveries | missing | p50 (ms) | p99 (ms) | max (ms) |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {:.1} | {:.1} | {:.1} |",
        delays.len(),
        expected.saturating_sub(delays.len()),
        delays.percentile_ms(50.0),
        delays.percentile_ms(99.0),
        delays.percentile_ms(100.0)
    );
    let (rss_end, peak) = stats::rss_mib(pid);
    println!(
        "\n- server memory: {:.1} KiB per connection (RSS {rss_before} KiB before the connections, {rss_with} KiB with them); peak {peak} MiB, {rss_end} MiB at the end",
        rss_with.saturating_sub(rss_before) as f64 / n as f64,
    );
    Ok(())
}
