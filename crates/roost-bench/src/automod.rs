//! Posting with automod rules enforced: a fresh server, members posting as fast as
//! `--concurrency` clients go, with no rule and with three simple rules deployed in enforce
//! mode, alternating for `--rounds` rounds (so that the machine's drift and the database's
//! growth weigh on both alike), each phase `--seconds` long; then the same at a steady `--rate`
//! of posts per second, well below saturation, where the latency the rules add shows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};

use crate::http::{check, create_accounts, drive, sign_in_all, PASSWORD};
use crate::stats::{self, Latencies};

#[derive(clap::Args)]
pub struct Options {
    /// Members posting.
    #[arg(long, default_value_t = 200)]
    accounts: usize,
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent posting clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Posts per second in the steady phases.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Rounds of alternating phases (without rules, with rules).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The `roost` binary [default: next to this one].
    #[arg(long)]
    roost: Option<std::path::PathBuf>,
}

/// Three rules of the kind admins write first.
const RULES: [(&str, &str); 3] = [
    (
        "No card numbers",
        r#"function judge(post) {
  if (/\b(?:\d[ -]?){13,16}\b/.test(post.text)) return { verdict: "reject", reason: "it looks like it holds a card number" };
  return null;
}"#,
    ),
    (
        "No leaked keys",
        r#"function judge(post) {
  const key = /\b(?:AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{36}|sk_live_[A-Za-z0-9]{24,})\b/;
  return key.test(post.text) ? { verdict: "reject", reason: "it looks like it holds a secret key" } : null;
}"#,
    ),
    (
        "No shouting",
        r#"function judge(post) {
  const letters = post.text.replace(/[^A-Za-z]/g, "");
  if (letters.length > 20 && letters === letters.toUpperCase()) return { verdict: "reject", reason: "no shouting" };
  return null;
}"#,
    ),
];

/// A token for the owner (`owner0`) that may use the admin endpoints.
async fn admin_token(h: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let app: serde_json::Value = check(
        h.post(format!("{base}/api/v1/apps"))
            .form(&[
                ("client_name", "roost-bench"),
                ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
                ("scopes", "read write admin:read admin:write"),
            ])
            .send()
            .await?,
    )
    .await?
    .json()
    .await?;
    let token: serde_json::Value = check(
        h.post(format!("{base}/oauth/token"))
            .form(&[
                ("grant_type", "password"),
                ("client_id", app["client_id"].as_str().context("client_id")?),
                ("client_secret", app["client_secret"].as_str().context("client_secret")?),
                ("username", "owner0"),
                ("password", PASSWORD),
                ("scope", "read write admin:read admin:write"),
            ])
            .send()
            .await?,
    )
    .await?
    .json()
    .await?;
    Ok(token["access_token"].as_str().context("access_token")?.to_string())
}

/// Posts for `seconds` on `concurrency` clients; returns (posts per second, latencies, failures).
async fn post_for(
    h: &reqwest::Client,
    base: &str,
    tokens: &Arc<Vec<String>>,
    o: &Options,
    phase: u64,
) -> (f64, Latencies, usize) {
    let (hh, b, tk) = (h.clone(), base.to_string(), tokens.clone());
    let t = Instant::now();
    let (lat, failed) =
        drive(o.concurrency, usize::MAX, Some(Instant::now() + Duration::from_secs(o.seconds)), move |k| {
            let (h, b, tk) = (hh.clone(), b.clone(), tk.clone());
            async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(phase << 32 | k as u64);
                let author = rng.gen_range(0..tk.len());
                let text = crate::dataset::post_text(&mut rng, k);
                check(
                    h.post(format!("{b}/api/v1/statuses"))
                        .bearer_auth(&tk[author])
                        .form(&[("status", text)])
                        .send()
                        .await?,
                )
                .await?;
                Ok(())
            }
        })
        .await;
    (lat.len() as f64 / t.elapsed().as_secs_f64(), lat, failed)
}

/// Posts at a steady `o.rate` per second for `o.seconds`, each from its own task, timed from
/// when it is sent; returns (posts per second, latencies, failures).
async fn post_steadily(
    h: &reqwest::Client,
    base: &str,
    tokens: &Arc<Vec<String>>,
    o: &Options,
    phase: u64,
) -> (f64, Latencies, usize) {
    let lat = Arc::new(std::sync::Mutex::new(Latencies::default()));
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(o.rate.max(1))));
    let end = Instant::now() + Duration::from_secs(o.seconds);
    let t = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(phase << 32);
    let mut tasks = Vec::new();
    let mut k = 0usize;
    while Instant::now() < end {
        tick.tick().await;
        k += 1;
        let (h, b, lat, failed) = (h.clone(), base.to_string(), lat.clone(), failed.clone());
        let token = tokens[rng.gen_range(0..tokens.len())].clone();
        let text = crate::dataset::post_text(&mut rng, k);
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let sent = h.post(format!("{b}/api/v1/statuses")).bearer_auth(&token).form(&[("status", text)]).send();
            match async { check(sent.await?).await }.await {
                Ok(_) => lat.lock().unwrap_or_else(|e| e.into_inner()).record(started.elapsed()),
                Err(_) => {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let rate = k as f64 / t.elapsed().as_secs_f64();
    let lat = std::mem::take(&mut *lat.lock().unwrap_or_else(|e| e.into_inner()));
    (rate, lat, failed.load(std::sync::atomic::Ordering::Relaxed))
}

/// Makes the three rules and deploys them in enforce mode; returns their IDs.
async fn deploy_rules(h: &reqwest::Client, base: &str, admin: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for (name, source) in RULES {
        let made: serde_json::Value = check(
            h.post(format!("{base}/api/roost/v1/extensions"))
                .bearer_auth(admin)
                .json(&serde_json::json!({"name": name, "kind": "automod", "source": source}))
                .send()
                .await?,
        )
        .await?
        .json()
        .await?;
        let id = made["id"].as_str().context("extension id")?.to_string();
        redeploy(h, base, admin, &id).await?;
        ids.push(id);
    }
    Ok(ids)
}

async fn redeploy(h: &reqwest::Client, base: &str, admin: &str, id: &str) -> anyhow::Result<()> {
    check(
        h.post(format!("{base}/api/roost/v1/extensions/{id}/deploy"))
            .bearer_auth(admin)
            .json(&serde_json::json!({"version": 1, "mode": "enforce"}))
            .send()
            .await?,
    )
    .await?;
    Ok(())
}

async fn disable_all(h: &reqwest::Client, base: &str, admin: &str, ids: &[String]) -> anyhow::Result<()> {
    for id in ids {
        check(h.post(format!("{base}/api/roost/v1/extensions/{id}/disable")).bearer_auth(admin).send().await?).await?;
    }
    Ok(())
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let (_tmp, data_dir, server) = crate::http::fresh_server(o.roost.as_deref())?;
    let base = server.url.clone();
    let h = reqwest::Client::builder().pool_max_idle_per_host(o.concurrency * 2).build()?;
    // The first account is the instance's owner: made alone, before the members.
    create_accounts(&data_dir, 1, "owner", false).await?;
    create_accounts(&data_dir, o.accounts, "a", false).await?;
    let tokens = sign_in_all(&h, &base, o.accounts, "a").await?;
    let admin = admin_token(&h, &base).await?;

    println!("## roost-bench automod\n");
    println!("- machine: {}", stats::machine());
    println!("- {} members posting on {} clients, {} s per phase; fsync on\n", o.accounts, o.concurrency, o.seconds);
    println!("| phase | posts | failed | posts/s | p50 (ms) | p99 (ms) |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |name: &str, rate: f64, lat: &mut Latencies, failed: usize| {
        println!(
            "| {name} | {} | {failed} | {rate:.0} | {:.2} | {:.2} |",
            lat.len(),
            lat.percentile_ms(50.0),
            lat.percentile_ms(99.0)
        );
    };
    // Phases alternate, so that the machine's drift (and the database's growth) weighs on
    // both sides alike.
    let ids = deploy_rules(&h, &base, &admin).await?;
    disable_all(&h, &base, &admin, &ids).await?;
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for round in 0..o.rounds as u64 {
        let (rate, mut lat, failed) = post_for(&h, &base, &tokens, &o, 10 * round + 1).await;
        row("no rules", rate, &mut lat, failed);
        without.push(rate);
        for id in &ids {
            redeploy(&h, &base, &admin, id).await?;
        }
        let (rate, mut lat, failed) = post_for(&h, &base, &tokens, &o, 10 * round + 2).await;
        row("three rules enforced", rate, &mut lat, failed);
        with.push(rate);
        disable_all(&h, &base, &admin, &ids).await?;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "\n- throughput with the rules / without (means over {} alternating rounds): **{:.2}**",
        o.rounds,
        mean(&with) / mean(&without).max(f64::EPSILON)
    );

    println!(
        "\n| steady phase ({} posts/s, {} s each) | posts | failed | posts/s | p50 (ms) | p99 (ms) |",
        o.rate, o.seconds
    );
    println!("|---|---:|---:|---:|---:|---:|");
    // No rule, one rule (the bar's "a simple automod rule"), three rules. Each round's p99 is
    // kept, and the median of the rounds reported: one stall of this shared machine (a
    // hundred milliseconds, now and then) would otherwise decide the p99 of all rounds merged.
    let mut p99s: [Vec<f64>; 3] = Default::default();
    let mut p50s: [Vec<f64>; 3] = Default::default();
    for round in 0..o.rounds as u64 {
        for (k, rules) in [0usize, 1, 3].into_iter().enumerate() {
            for id in &ids[..rules] {
                redeploy(&h, &base, &admin, id).await?;
            }
            let (rate, mut lat, failed) = post_steadily(&h, &base, &tokens, &o, 10 * round + 4 + k as u64).await;
            let name = match rules {
                0 => "no rules",
                1 => "one rule enforced",
                _ => "three rules enforced",
            };
            row(name, rate, &mut lat, failed);
            p50s[k].push(lat.percentile_ms(50.0));
            p99s[k].push(lat.percentile_ms(99.0));
            disable_all(&h, &base, &admin, &ids[..rules]).await?;
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let [m50, m99]: [Vec<f64>; 2] = [p50s.iter_mut().map(&median).collect(), p99s.iter_mut().map(&median).collect()];
    println!(
        "\n- at a steady rate, medians of the rounds: p50 {:.2} ms without rules, {:.2} with one, {:.2} with three; p99 {:.2}, {:.2} (**{:+.2} ms** for one rule), {:.2} ({:+.2} ms for three)",
        m50[0], m50[1], m50[2], m99[0], m99[1], m99[1] - m99[0], m99[2], m99[2] - m99[0],
    );
    let (rss, peak) = stats::rss_mib(server.child.id());
    println!("- server memory: RSS {rss} MiB (peak {peak} MiB)");
    Ok(())
}
