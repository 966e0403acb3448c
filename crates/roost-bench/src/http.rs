//! The HTTP benchmark: a real `roost serve` on loopback, loaded and measured through its API.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};
use roost::admin::{self, AdminRequest, AdminResponse};

use crate::dataset::{self, Authors};
use crate::stats::{self, Latencies};

pub(crate) const PASSWORD: &str = "benchmark password";

#[derive(clap::Args)]
pub struct Options {
    /// Accounts in the dataset.
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Posts in the dataset.
    #[arg(long, default_value_t = 1_000_000)]
    posts: usize,
    /// Mean number of accounts each account follows.
    #[arg(long, default_value_t = 40.0)]
    mean_follows: f64,
    /// Seconds each measured phase runs.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent clients while loading and posting.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Concurrent clients while reading home timelines [default: --concurrency].
    #[arg(long)]
    read_concurrency: Option<usize>,
    /// The `roost` binary [default: next to this one].
    #[arg(long)]
    roost: Option<PathBuf>,
    /// Data directory for the server [default: a temp dir, removed afterwards].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `roost serve` on a new data directory (removed with the returned guard), for benchmarks
/// that make their own dataset: (guard, data directory, server).
pub(crate) fn fresh_server(roost: Option<&std::path::Path>) -> anyhow::Result<(tempfile::TempDir, PathBuf, Server)> {
    let bin = roost_binary(roost)?;
    let tmp = tempfile::tempdir()?;
    let data_dir = tmp.path().join("data");
    let server = start_server(&bin, &data_dir)?;
    Ok((tmp, data_dir, server))
}

/// The `roost` binary to measure: the one given, or the one built beside this benchmark.
pub(crate) fn roost_binary(given: Option<&std::path::Path>) -> anyhow::Result<PathBuf> {
    match given {
        Some(b) => Ok(b.to_path_buf()),
        None => Ok(std::env::current_exe()?.with_file_name("roost")),
    }
}

/// The benchmark's server configuration, kept in the data directory: rate limits off, since
/// loading the dataset posts far faster than any member would.
const BENCH_CONFIG: &str = "bench.toml";

pub(crate) fn start_server(bin: &PathBuf, data_dir: &std::path::Path) -> anyhow::Result<Server> {
    start_server_with(bin, data_dir, &["--listen", "127.0.0.1:0"], &[], "")
}

/// Starts `roost serve` on `data_dir` with the benchmark's configuration (plus `extra_config`
/// lines), extra flags and environment; returns once it listens.
pub(crate) fn start_server_with(
    bin: &PathBuf,
    data_dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    extra_config: &str,
) -> anyhow::Result<Server> {
    if !data_dir.exists() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
        // As `roost serve` would make it: the admin socket inside must be the operator's alone.
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let config = data_dir.join(BENCH_CONFIG);
    std::fs::write(&config, format!("rate_limit_authenticated = 0\nrate_limit_unauthenticated = 0\n{extra_config}"))
        .with_context(|| format!("writing {}", config.display()))?;
    let mut child = Command::new(bin)
        .args(["serve", "--data-dir", &data_dir.to_string_lossy()])
        .args(["--config", &config.to_string_lossy()])
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", std::env::var("ROOST_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("server stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("roost listening on ") {
                    break url.to_string();
                }
            }
            _ => anyhow::bail!("the server exited before listening"),
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(Server { child, url })
}

/// Creates accounts `{prefix}0` … `{prefix}{n-1}` through the admin socket (with display names
/// if asked); returns their IDs in order.
pub(crate) async fn create_accounts(
    data_dir: &std::path::Path,
    n: usize,
    prefix: &'static str,
    display_names: bool,
) -> anyhow::Result<Arc<Vec<String>>> {
    let ids = Arc::new(Mutex::new(vec![String::new(); n]));
    let (dd, ids2) = (data_dir.to_path_buf(), ids.clone());
    let (_, failed) = drive(4, n, None, move |i| {
        let (dd, ids) = (dd.clone(), ids2.clone());
        async move {
            let req = AdminRequest::CreateUser {
                username: format!("{prefix}{i}"),
                password: PASSWORD.into(),
                role: None,
                display_name: display_names.then(|| format!("Bench {i}")),
                email: None,
            };
            match tokio::task::spawn_blocking(move || admin::request(&dd, &req)).await?? {
                AdminResponse::UserCreated { id, .. } => {
                    ids.lock().map_err(|_| anyhow::anyhow!("lock"))?[i] = id;
                    Ok(())
                }
                AdminResponse::Error { message } => anyhow::bail!(message),
                other => anyhow::bail!("unexpected answer {other:?}"),
            }
        }
    })
    .await;
    anyhow::ensure!(failed == 0, "{failed} accounts failed");
    let ids = ids.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    Ok(Arc::new(ids))
}

/// Registers one app and signs accounts `{prefix}0` … `{prefix}{n-1}` in with the password
/// grant; returns their tokens in order.
pub(crate) async fn sign_in_all(
    http: &reqwest::Client,
    base: &str,
    n: usize,
    prefix: &'static str,
) -> anyhow::Result<Arc<Vec<String>>> {
    let app: serde_json::Value = check(
        http.post(format!("{base}/api/v1/apps"))
            .form(&[
                ("client_name", "roost-bench"),
                ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
                ("scopes", "read write follow"),
            ])
            .send()
            .await?,
    )
    .await?
    .json()
    .await?;
    let client_id = app["client_id"].as_str().context("client_id")?.to_string();
    let client_secret = app["client_secret"].as_str().context("client_secret")?.to_string();
    let tokens = Arc::new(Mutex::new(vec![String::new(); n]));
    let (h, b, tk) = (http.clone(), base.to_string(), tokens.clone());
    let (_, failed) = drive(4, n, None, move |i| {
        let (h, b, tk, cid, cs) = (h.clone(), b.clone(), tk.clone(), client_id.clone(), client_secret.clone());
        async move {
            let resp = h
                .post(format!("{b}/oauth/token"))
                .form(&[
                    ("grant_type", "password"),
                    ("client_id", &cid),
                    ("client_secret", &cs),
                    ("username", &format!("{prefix}{i}")),
                    ("password", PASSWORD),
                    ("scope", "read write follow"),
                ])
                .send()
                .await?;
            let v: serde_json::Value = check(resp).await?.json().await?;
            tk.lock().map_err(|_| anyhow::anyhow!("lock"))?[i] =
                v["access_token"].as_str().context("token")?.to_string();
            Ok(())
        }
    })
    .await;
    anyhow::ensure!(failed == 0, "{failed} sign-ins failed");
    let tokens = tokens.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    Ok(Arc::new(tokens))
}

/// Runs `op(i)` for i in 0..total (or until `deadline`) on `concurrency` tasks; returns the
/// latencies of the successful operations and the number of failures.
pub(crate) async fn drive<F, Fut>(
    concurrency: usize,
    total: usize,
    deadline: Option<Instant>,
    op: F,
) -> (Latencies, usize)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(Latencies::default()));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (op, next, failures, results) = (op.clone(), next.clone(), failures.clone(), results.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Latencies::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let t = Instant::now();
                match op(i).await {
                    Ok(()) => mine.record(t.elapsed()),
                    Err(e) => {
                        if failures.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("operation failed: {e:#}");
                        }
                    }
                }
            }
            if let Ok(mut r) = results.lock() {
                r.merge(mine);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let lat = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    (lat, failures.load(Ordering::Relaxed))
}

/// Posts the `k`-th post of a run: author and text drawn from a generator seeded by (seed, k),
/// so that a rerun posts the same things.
async fn post_as_random_author(
    h: &reqwest::Client,
    base: &str,
    tokens: &[String],
    authors: &Authors,
    seed: u64,
    k: usize,
) -> anyhow::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let author = authors.sample(&mut rng);
    let text = dataset::post_text(&mut rng, k);
    let req = h.post(format!("{base}/api/v1/statuses")).bearer_auth(&tokens[author]).form(&[("status", text)]);
    check(req.send().await?).await?;
    Ok(())
}

pub(crate) async fn check(resp: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        Ok(resp)
    } else {
        anyhow::bail!("HTTP {status}: {}", resp.text().await.unwrap_or_default())
    }
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let bin = crate::http::roost_binary(o.roost.as_deref())?;
    let tmp = tempfile::tempdir()?;
    let data_dir = o.data_dir.clone().unwrap_or_else(|| tmp.path().join("data"));
    let server = start_server(&bin, &data_dir)?;
    let base = server.url.clone();
    let pid = server.child.id();
    let http = reqwest::Client::builder().pool_max_idle_per_host(o.concurrency * 2).build()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(o.seed);
    let n = o.accounts;
    eprintln!("server {base} (pid {pid}), data in {}", data_dir.display());

    // Accounts, through the admin socket (argon2 makes this the slow part of loading), and a
    // token for each.
    let t = Instant::now();
    let ids = create_accounts(&data_dir, n, "b", true).await?;
    eprintln!("{n} accounts in {:.1}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let tokens = sign_in_all(&http, &base, n, "b").await?;
    eprintln!("{n} sign-ins in {:.1}s", t.elapsed().as_secs_f64());
    // Kept beside the data so that other tools (wrk, a profiler) can replay reads later.
    std::fs::write(data_dir.join("bench-tokens.txt"), tokens.join("\n"))?;
    // The follow graph.
    let graph = dataset::follow_graph(n, o.mean_follows, &mut rng);
    let pairs: Arc<Vec<(usize, usize)>> =
        Arc::new(graph.iter().enumerate().flat_map(|(i, ts)| ts.iter().map(move |&t| (i, t))).collect());
    let max_followers = {
        let mut counts = vec![0usize; n];
        for &(_, t) in pairs.iter() {
            counts[t] += 1;
        }
        counts.into_iter().max().unwrap_or(0)
    };
    let t = Instant::now();
    let (h, b, tk, id2, p2) = (http.clone(), base.clone(), tokens.clone(), ids.clone(), pairs.clone());
    let (_, failed) = drive(o.concurrency, pairs.len(), None, move |k| {
        let (h, b, tk, ids, pairs) = (h.clone(), b.clone(), tk.clone(), id2.clone(), p2.clone());
        async move {
            let (i, target) = pairs[k];
            check(h.post(format!("{b}/api/v1/accounts/{}/follow", ids[target])).bearer_auth(&tk[i]).send().await?)
                .await?;
            Ok(())
        }
    })
    .await;
    eprintln!(
        "{} follows ({failed} failed) in {:.1}s; the most followed account has {max_followers} followers",
        pairs.len(),
        t.elapsed().as_secs_f64()
    );

    // The posts.
    let authors = Arc::new(Authors::new(n, &mut rng));
    let t = Instant::now();
    let (h, b, tk, au) = (http.clone(), base.clone(), tokens.clone(), authors.clone());
    let seed = o.seed;
    let (mut load_lat, failed) = drive(o.concurrency, o.posts, None, move |k| {
        let (h, b, tk, au) = (h.clone(), b.clone(), tk.clone(), au.clone());
        async move {
            post_as_random_author(&h, &b, &tk, &au, seed, k).await?;
            if k > 0 && k % 100_000 == 0 {
                eprintln!("  {k} posts");
            }
            Ok(())
        }
    })
    .await;
    let load_secs = t.elapsed().as_secs_f64();
    eprintln!("{} posts ({failed} failed) in {load_secs:.1}s", o.posts);

    // Measured phase 1: create-status.
    let deadline = Some(Instant::now() + Duration::from_secs(o.seconds));
    let (h, b, tk, au) = (http.clone(), base.clone(), tokens.clone(), authors.clone());
    let t = Instant::now();
    let (mut create, create_failed) = drive(o.concurrency, usize::MAX, deadline, move |k| {
        let (h, b, tk, au) = (h.clone(), b.clone(), tk.clone(), au.clone());
        async move { post_as_random_author(&h, &b, &tk, &au, seed.wrapping_add(1), k).await }
    })
    .await;
    let create_secs = t.elapsed().as_secs_f64();

    // Measured phase 2: home timelines of 20 posts, for random readers.
    let deadline = Some(Instant::now() + Duration::from_secs(o.seconds));
    let (h, b, tk) = (http.clone(), base.clone(), tokens.clone());
    let posts_seen = Arc::new(AtomicUsize::new(0));
    let sampled_pages = Arc::new(AtomicUsize::new(0));
    let (ps, sp) = (posts_seen.clone(), sampled_pages.clone());
    let t = Instant::now();
    let readers = o.read_concurrency.unwrap_or(o.concurrency);
    let (mut home, home_failed) = drive(readers, usize::MAX, deadline, move |k| {
        let (h, b, tk, ps, sampled) = (h.clone(), b.clone(), tk.clone(), ps.clone(), sp.clone());
        async move {
            let reader = rand::rngs::StdRng::seed_from_u64(k as u64).gen_range(0..tk.len());
            let resp =
                check(h.get(format!("{b}/api/v1/timelines/home?limit=20")).bearer_auth(&tk[reader]).send().await?)
                    .await?;
            let body = resp.bytes().await?;
            // Parse one response in a hundred to count posts: parsing every 40 KB page would
            // make the client, which shares the machine, the bottleneck.
            if k % 100 == 0 {
                let v: serde_json::Value = serde_json::from_slice(&body)?;
                ps.fetch_add(v.as_array().map(Vec::len).unwrap_or(0), Ordering::Relaxed);
                sampled.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }
    })
    .await;
    let home_secs = t.elapsed().as_secs_f64();
    let (rss, peak) = stats::rss_mib(pid);
    let db_mib: u64 = ["log.redb", "state.redb"]
        .iter()
        .map(|f| std::fs::metadata(data_dir.join(f)).map(|m| m.len() / 1024 / 1024).unwrap_or(0))
        .sum();

    println!("## roost-bench http");
    println!();
    println!("- machine: {}", stats::machine());
    println!(
        "- dataset: {n} accounts, {} follows (mean {:.1}, most followed {max_followers}), {} posts; seed {}",
        pairs.len(),
        pairs.len() as f64 / n as f64,
        o.posts,
        o.seed
    );
    println!(
        "- {} concurrent clients posting, {readers} reading, on the same machine; {} s per phase; fsync on",
        o.concurrency, o.seconds
    );
    println!();
    println!("| operation | requests | failed | throughput (/s) | p50 (ms) | p99 (ms) |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| create-status while loading | {} | {failed} | {:.0} | {:.2} | {:.2} |",
        load_lat.len(),
        load_lat.len() as f64 / load_secs,
        load_lat.percentile_ms(50.0),
        load_lat.percentile_ms(99.0)
    );
    println!(
        "| create-status | {} | {create_failed} | {:.0} | {:.2} | {:.2} |",
        create.len(),
        create.len() as f64 / create_secs,
        create.percentile_ms(50.0),
        create.percentile_ms(99.0)
    );
    println!(
        "| home timeline (limit 20; mean {:.1} posts returned) | {} | {home_failed} | {:.0} | {:.2} | {:.2} |",
        posts_seen.load(Ordering::Relaxed) as f64 / sampled_pages.load(Ordering::Relaxed).max(1) as f64,
        home.len(),
        home.len() as f64 / home_secs,
        home.percentile_ms(50.0),
        home.percentile_ms(99.0)
    );
    println!();
    println!("- server memory after the run: RSS {rss} MiB (peak {peak} MiB); database files {db_mib} MiB");
    drop(server);
    Ok(())
}

#[derive(clap::Args)]
pub struct ReplayOptions {
    /// A data directory left by `roost-bench http --data-dir D` (it holds bench-tokens.txt).
    #[arg(long)]
    data_dir: PathBuf,
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent clients for each phase (several values measure several phases).
    #[arg(long, value_delimiter = ',', default_value = "16,32,64")]
    concurrency: Vec<usize>,
    /// The `roost` binary [default: next to this one].
    #[arg(long)]
    roost: Option<PathBuf>,
}

/// Measures home-timeline reads and posting again on a dataset built earlier.
pub async fn replay(o: ReplayOptions) -> anyhow::Result<()> {
    let bin = crate::http::roost_binary(o.roost.as_deref())?;
    let tokens: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(o.data_dir.join("bench-tokens.txt"))
            .context("reading bench-tokens.txt: build the dataset first with `roost-bench http --data-dir`")?
            .lines()
            .map(str::to_string)
            .collect(),
    );
    let server = start_server(&bin, &o.data_dir)?;
    let base = server.url.clone();
    let http = reqwest::Client::builder().build()?;
    println!("## roost-bench replay\n");
    println!("- machine: {}", stats::machine());
    println!(
        "- dataset in {} ({} accounts); {} s per phase; fsync on\n",
        o.data_dir.display(),
        tokens.len(),
        o.seconds
    );
    println!("| operation | clients | requests | failed | throughput (/s) | p50 (ms) | p99 (ms) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for &clients in &o.concurrency {
        for post in [false, true] {
            let deadline = Some(Instant::now() + Duration::from_secs(o.seconds));
            let (h, b, tk) = (http.clone(), base.clone(), tokens.clone());
            let t = Instant::now();
            let (mut lat, failed) = drive(clients, usize::MAX, deadline, move |k| {
                let (h, b, tk) = (h.clone(), b.clone(), tk.clone());
                async move {
                    let user = rand::rngs::StdRng::seed_from_u64(k as u64).gen_range(0..tk.len());
                    let req = if post {
                        h.post(format!("{b}/api/v1/statuses")).form(&[("status", format!("replayed post {k}"))])
                    } else {
                        h.get(format!("{b}/api/v1/timelines/home?limit=20"))
                    };
                    let resp = check(req.bearer_auth(&tk[user]).send().await?).await?;
                    resp.bytes().await?;
                    Ok(())
                }
            })
            .await;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "| {} | {clients} | {} | {failed} | {:.0} | {:.2} | {:.2} |",
                if post { "create-status" } else { "home timeline (limit 20)" },
                lat.len(),
                lat.len() as f64 / secs,
                lat.percentile_ms(50.0),
                lat.percentile_ms(99.0)
            );
        }
    }
    let (rss, peak) = stats::rss_mib(server.child.id());
    println!("\n- server memory: RSS {rss} MiB (peak {peak} MiB)");
    Ok(())
}
