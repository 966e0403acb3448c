//! Posting with automod rules enforced: a fresh server, members posting as fast as
//! `--concurrency` clients go, first with no rule, then with three simple rules deployed in
//! enforce mode, then with none again (so that a drift of the machine shows), each phase
//! `--seconds` long.

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
    let row = |name: &str, (rate, mut lat, failed): (f64, Latencies, usize)| {
        println!(
            "| {name} | {} | {failed} | {rate:.0} | {:.2} | {:.2} |",
            lat.len(),
            lat.percentile_ms(50.0),
            lat.percentile_ms(99.0)
        );
        (rate, lat.percentile_ms(99.0))
    };
    let before = row("no rules", post_for(&h, &base, &tokens, &o, 1).await);
    let mut ids = Vec::new();
    for (name, source) in RULES {
        let made: serde_json::Value = check(
            h.post(format!("{base}/api/roost/v1/extensions"))
                .bearer_auth(&admin)
                .json(&serde_json::json!({"name": name, "kind": "automod", "source": source}))
                .send()
                .await?,
        )
        .await?
        .json()
        .await?;
        let id = made["id"].as_str().context("extension id")?.to_string();
        check(
            h.post(format!("{base}/api/roost/v1/extensions/{id}/deploy"))
                .bearer_auth(&admin)
                .json(&serde_json::json!({"version": 1, "mode": "enforce"}))
                .send()
                .await?,
        )
        .await?;
        ids.push(id);
    }
    let with = row("three rules enforced", post_for(&h, &base, &tokens, &o, 2).await);
    for id in &ids {
        check(h.post(format!("{base}/api/roost/v1/extensions/{id}/disable")).bearer_auth(&admin).send().await?).await?;
    }
    let after = row("no rules again", post_for(&h, &base, &tokens, &o, 3).await);
    let without = (before.0 + after.0) / 2.0;
    println!(
        "\n- throughput with the rules / without (mean of the two phases without): **{:.2}**; p99 with the rules {:.2} ms against {:.2} and {:.2} ms without",
        with.0 / without.max(f64::EPSILON),
        with.1,
        before.1,
        after.1
    );
    let (rss, peak) = stats::rss_mib(server.child.id());
    println!("- server memory: RSS {rss} MiB (peak {peak} MiB)");
    Ok(())
}
