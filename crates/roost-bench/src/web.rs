//! The web app's home page under load: members signed in through the sign-in form (as a browser
//! would), then concurrent clients fetching `/` (20 posts) for random members, measuring the
//! time to the first byte and to the last; and the page weight (HTML + CSS + JS) of one home.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};

use crate::http::{check, drive, start_server, PASSWORD};
use crate::stats::{self, Latencies};

#[derive(clap::Args)]
pub struct Options {
    /// A data directory left by `roost-bench http --data-dir D` (accounts b0, b1, …).
    #[arg(long)]
    data_dir: PathBuf,
    /// Members signed in through the form, whose homes are read.
    #[arg(long, default_value_t = 200)]
    members: usize,
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent clients for each phase (several values measure several phases).
    #[arg(long, value_delimiter = ',', default_value = "16,32")]
    concurrency: Vec<usize>,
    /// The `roost` binary [default: next to this one].
    #[arg(long)]
    roost: Option<PathBuf>,
}

/// A cookie's `name=value` from a response's `Set-Cookie` headers.
fn cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// Signs a member in through the web form; returns the session cookie (`name=value`).
pub(crate) async fn sign_in(h: &reqwest::Client, base: &str, username: &str) -> anyhow::Result<String> {
    let form = check(h.get(format!("{base}/auth/sign_in")).send().await?).await?;
    let sign_in_cookie = cookie(&form, "roost_sign_in").context("no sign-in cookie")?;
    let page = form.text().await?;
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).context("no CSRF field")? + marker.len();
    let csrf = &page[start..start + page[start..].find('"').context("bad CSRF field")?];
    let resp = h
        .post(format!("{base}/auth/sign_in"))
        .header(reqwest::header::COOKIE, sign_in_cookie)
        .form(&[("csrf", csrf), ("username", username), ("password", PASSWORD)])
        .send()
        .await?;
    anyhow::ensure!(resp.status() == reqwest::StatusCode::SEE_OTHER, "sign-in answered {}", resp.status());
    cookie(&resp, "roost_session").context("no session cookie")
}

/// The `/assets/…` paths a page links to.
pub(crate) fn assets(page: &str) -> Vec<String> {
    page.split("\"/assets/").skip(1).filter_map(|s| s.split('"').next()).map(|s| format!("/assets/{s}")).collect()
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let bin = crate::http::roost_binary(o.roost.as_deref())?;
    let server = start_server(&bin, &o.data_dir)?;
    let base = server.url.clone();
    let h = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;

    let t = Instant::now();
    let sessions = Arc::new(Mutex::new(vec![String::new(); o.members]));
    let (hh, b, s) = (h.clone(), base.clone(), sessions.clone());
    let (_, failed) = drive(4, o.members, None, move |i| {
        let (h, b, s) = (hh.clone(), b.clone(), s.clone());
        async move {
            let c = sign_in(&h, &b, &format!("b{i}")).await?;
            s.lock().map_err(|_| anyhow::anyhow!("lock"))?[i] = c;
            Ok(())
        }
    })
    .await;
    anyhow::ensure!(failed == 0, "{failed} sign-ins failed");
    let sessions: Arc<Vec<String>> = Arc::new(sessions.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone());
    eprintln!("{} members signed in through the form in {:.1}s", o.members, t.elapsed().as_secs_f64());

    // Page weight: the home of the member with the fullest page, and what it links to.
    let mut heaviest = (0usize, 0usize, String::new());
    for (i, c) in sessions.iter().enumerate().take(20) {
        let page = check(h.get(format!("{base}/")).header(reqwest::header::COOKIE, c).send().await?).await?;
        let html = page.text().await?;
        let posts = html.matches("<article").count();
        if posts > heaviest.0 || heaviest.2.is_empty() {
            heaviest = (posts, i, html);
        }
    }
    let (posts, _, html) = heaviest;
    let mut weight = vec![("HTML (home, 20 posts)".to_string(), html.len())];
    for a in assets(&html) {
        let body = check(h.get(format!("{base}{a}")).send().await?).await?.bytes().await?;
        weight.push((a, body.len()));
    }
    let total: usize = weight.iter().map(|(_, n)| n).sum();

    println!("## roost-bench web\n");
    println!("- machine: {}", stats::machine());
    println!(
        "- dataset in {}; {} members signed in through the form; {} s per phase; fsync on\n",
        o.data_dir.display(),
        o.members,
        o.seconds
    );
    println!("| clients | pages | failed | pages/s | TTFB p50 (ms) | TTFB p99 (ms) | full page p99 (ms) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &clients in &o.concurrency {
        let deadline = Some(Instant::now() + Duration::from_secs(o.seconds));
        let ttfb = Arc::new(Mutex::new(Latencies::default()));
        let (hh, b, s, tt) = (h.clone(), base.clone(), sessions.clone(), ttfb.clone());
        let t = Instant::now();
        let (mut full, failed) = drive(clients, usize::MAX, deadline, move |k| {
            let (h, b, s, tt) = (hh.clone(), b.clone(), s.clone(), tt.clone());
            async move {
                let member = rand::rngs::StdRng::seed_from_u64(k as u64).gen_range(0..s.len());
                let started = Instant::now();
                // `send` returns once the status line and headers are in: the first byte.
                let resp = h.get(format!("{b}/")).header(reqwest::header::COOKIE, &s[member]).send().await?;
                let first = started.elapsed();
                check(resp).await?.bytes().await?;
                tt.lock().map_err(|_| anyhow::anyhow!("lock"))?.record(first);
                Ok(())
            }
        })
        .await;
        let secs = t.elapsed().as_secs_f64();
        let mut ttfb = std::mem::take(&mut *ttfb.lock().map_err(|_| anyhow::anyhow!("lock"))?);
        println!(
            "| {clients} | {} | {failed} | {:.0} | {:.2} | {:.2} | {:.2} |",
            full.len(),
            full.len() as f64 / secs,
            ttfb.percentile_ms(50.0),
            ttfb.percentile_ms(99.0),
            full.percentile_ms(99.0)
        );
    }
    println!("\nPage weight of a home page with {posts} posts (uncompressed, before avatars):\n");
    println!("| part | bytes |");
    println!("|---|---:|");
    for (part, n) in &weight {
        println!("| {part} | {n} |");
    }
    println!("| **total** | **{total}** ({:.1} KB) |", total as f64 / 1000.0);
    let (rss, peak) = stats::rss_mib(server.child.id());
    println!("\n- server memory: RSS {rss} MiB (peak {peak} MiB)");
    Ok(())
}
